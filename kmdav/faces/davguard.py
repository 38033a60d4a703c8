"""WSGI wrapper in front of Radicale: request hygiene and per-request state.

Everything a DAV request must pass before Radicale sees it lives here:
size limit, XML hardening, path tricks, content types, login throttling,
and the raw PUT body that the storage stores verbatim.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any

from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.dav.context import state
from kmdav.log import request_context

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "REPORT", "MKCOL", "MKCALENDAR"})
#: POST carries a free-busy request to a schedule outbox (RFC 6638 5).
BODY_METHODS = XML_METHODS | {"PUT", "POST"}
MAX_XML_DEPTH = 48
PUT_TYPES = frozenset(
    {"text/calendar", "text/vcard", "text/x-vcard", "text/directory", "application/octet-stream"}
)
#: Headers that make Radicale strip its mount prefix a second time (uvicorn
#: has already applied what it trusts of them to the scope).
_PROXY_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_SCRIPT_NAME",
    "HTTP_X_REMOTE_ADDR",
)
_BAD_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


class EarlyAnswer(Exception):
    """An answer given before Radicale sees the request (mostly a refusal)."""

    def __init__(self, status: str, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or []


class _NoDoctypeBuilder(ET.TreeBuilder):
    """Builds the tree; a DOCTYPE (and with it any entity declaration,
    which lives only in a DTD) stops the parse at its start."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise EarlyAnswer("400 Bad Request", "XML with a DOCTYPE is not accepted")


def parse_xml(body: str | bytes) -> ET.Element:
    """The request body's tree, refusing DTDs and entity declarations (billion
    laughs, external entities) and nesting deeper than ``MAX_XML_DEPTH``."""
    # The builder refuses a DTD at its start: no entity is ever declared.
    parser = ET.XMLParser(target=_NoDoctypeBuilder())  # noqa: S314
    try:
        parser.feed(body)
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        raise EarlyAnswer(
            "400 Bad Request", f"the request body is not well-formed XML: {exc}"
        ) from exc
    # Nesting is measured on the built tree (expat builds it without
    # recursion, and the body is bounded by ``dav.max_content_length``).
    level = [root]
    for _ in range(MAX_XML_DEPTH):
        level = [child for element in level for child in element]
        if not level:
            return root
    raise EarlyAnswer("400 Bad Request", f"XML nested deeper than {MAX_XML_DEPTH} levels")


def _utf8_text(environ: dict[str, Any], body: bytes) -> str | None:
    """The body as Radicale would decode it, when that is plain UTF-8."""
    content_type = environ.get("CONTENT_TYPE", "")
    if "charset=" in content_type:
        charset = content_type.split("charset=")[1].split(";")[0].strip().lower()
        if charset not in {"utf-8", "utf8"}:
            return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _basic_user(environ: dict[str, Any]) -> str | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise EarlyAnswer("400 Bad Request", "malformed Basic credentials") from exc
    user, sep, _ = decoded.partition(":")
    if not sep:
        raise EarlyAnswer("400 Bad Request", "malformed Basic credentials")
    return user


class DavGuard:
    def __init__(self, app: WSGIApp, max_body: int, throttle: LoginThrottle) -> None:
        self.app = app
        self.max_body = max_body
        self.throttle = throttle

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        state.begin_request()
        state.method = str(environ.get("REQUEST_METHOD", "")).upper()
        token = request_context.set(self._log_context(environ))
        try:
            self._prepare(environ)
            return list(self.app(environ, start_response))
        except EarlyAnswer as exc:
            body = (str(exc) + "\n").encode()
            start_response(
                exc.status,
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    *exc.headers,
                ],
            )
            return [body]
        finally:
            state.end_request()
            request_context.reset(token)

    @staticmethod
    def _log_context(environ: dict[str, Any]) -> str:
        """``<request id> <user> <METHOD> <path>`` for every log line of the request.

        The user is the login name the client sent (not yet verified); the
        request id is the proxy's X-Request-ID when there is one.
        """
        request_id = environ.get("HTTP_X_REQUEST_ID", "")[:36] or secrets.token_hex(4)
        try:
            user = _basic_user(environ) or "-"
        except EarlyAnswer:
            user = "?"
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        return f"{request_id} {user} {environ.get('REQUEST_METHOD', '-')} {path}"

    def _prepare(self, environ: dict[str, Any]) -> None:
        for header in _PROXY_HEADERS:
            environ.pop(header, None)
        path = self._utf8_path(environ)
        if "\x00" in path or "\\" in path or _BAD_SEGMENT.search(path):
            raise EarlyAnswer(
                "400 Bad Request", "the path contains '.', '..', '\\' or NUL segments"
            )
        method = environ.get("REQUEST_METHOD", "").upper()
        state.set_request_path(path, method)
        if method in {"GET", "HEAD"} and (path in {"", "/"} or path.startswith("/.web")):
            # Radicale's own web pages stay off: people land on kmdav's front page.
            raise EarlyAnswer("302 Found", "kmdav's pages are at /", [("Location", "/")])
        self._throttle(environ)
        if method not in BODY_METHODS:
            return
        body = self._read_body(environ)
        content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if method == "PUT":
            if content_type and content_type not in PUT_TYPES:
                raise EarlyAnswer(
                    "415 Unsupported Media Type",
                    f"PUT takes text/calendar or text/vcard, not {content_type}",
                )
            try:
                state.put_body = (path, body.decode("utf-8"))
            except UnicodeDecodeError:
                state.put_body = None  # Radicale decodes other charsets itself
        elif method in XML_METHODS and body.strip():
            text = _utf8_text(environ, body)
            tree = parse_xml(body if text is None else text)
            if text is not None:
                # Radicale would decode and parse the same text again.
                state.xml_request = tree

    @staticmethod
    def _utf8_path(environ: dict[str, Any]) -> str:
        """PATH_INFO as text, the way Radicale's own server passes it.

        PEP 3333 hands the path over as bytes decoded as latin-1 (a2wsgi does
        so); Radicale expects the decoded UTF-8 text, or ``café.vcf`` would be
        stored and listed as ``cafÃ©.vcf``.
        """
        raw = environ.get("PATH_INFO", "")
        try:
            path: str = raw.encode("latin-1").decode("utf-8")
        except UnicodeError as exc:
            raise EarlyAnswer("400 Bad Request", "the path is not valid UTF-8") from exc
        environ["PATH_INFO"] = path
        return path

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        length_header = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if length_header:
            try:
                length = int(length_header)
            except ValueError as exc:
                raise EarlyAnswer("400 Bad Request", "invalid Content-Length") from exc
            if length > self.max_body:
                raise EarlyAnswer(
                    "413 Content Too Large",
                    f"the request body is larger than the limit of {self.max_body} bytes",
                )
            body: bytes = stream.read(length) if length > 0 else b""
        else:  # chunked: read at most one byte past the limit
            body = stream.read(self.max_body + 1)
            if len(body) > self.max_body:
                raise EarlyAnswer(
                    "413 Content Too Large",
                    f"the request body is larger than the limit of {self.max_body} bytes",
                )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    def _throttle(self, environ: dict[str, Any]) -> None:
        user = _basic_user(environ)
        if user is None:
            return
        address = environ.get("REMOTE_ADDR", "")
        wait = self.throttle.retry_after(user, address)
        if wait:
            logger.warning("login of %r from %s throttled for %d s", user, address, wait)
            raise EarlyAnswer(
                "429 Too Many Requests",
                f"too many failed logins for {user!r} from this address; "
                f"try again in {wait} seconds",
                [("Retry-After", str(wait))],
            )
