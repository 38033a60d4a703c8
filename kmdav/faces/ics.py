"""The feed face: ``/ics/<token>.ics``, read-only calendar subscriptions.

For Outlook, Google Calendar and any program that subscribes to a URL
instead of speaking CalDAV.  No login: the secret token in the path is the
credential (:mod:`kmdav.dav.feeds`).  Anything that does not lead to a
readable calendar -- an unknown, malformed or revoked token, a creator who
lost access -- is the same plain 404, so the answer tells nothing about
which links exist.

One read transaction per request.  The ETag comes from the collection's
sync key and revision, so ``If-None-Match`` is answered with 304 before a
single stored body is read (RFC 9110 13.1.2); HEAD gets the headers alone.
Clients that accept gzip (Outlook, Google and most others) get the feed
gzip-coded, about a tenth of the size, under its own ETag.
Noting "last fetched" is a small write done after the answer has gone out,
at most every few minutes per link.

Tokens must not reach the logs: uvicorn's access log gets a filter that
blanks them.
"""

from __future__ import annotations

import gzip
import logging
import re
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from kmdav.dav import feeds
from kmdav.db import Database

logger = logging.getLogger(__name__)

PREFIX = "/ics"
MEDIA_TYPE = "text/calendar; charset=utf-8"
CACHE_CONTROL = "private, max-age=300"
#: What ``secrets.token_urlsafe`` makes, with room; anything else is not looked up.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")
_FEED_IN_PATH = re.compile(r"/ics/[^/?#\s\"]+")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
#: Sent with every answer: no indexing of secret URLs, no sniffing.
_COMMON_HEADERS = {"x-robots-tag": "noindex, nofollow", "x-content-type-options": "nosniff"}


class RedactFeedTokens(logging.Filter):
    """Blanks ``/ics/<token>`` in log records (uvicorn's access log names
    every path it served)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _FEED_IN_PATH.sub("/ics/[token]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "/ics/" in record.msg:
            record.msg = _FEED_IN_PATH.sub("/ics/[token]", record.msg)
        return True


def _install_redaction() -> None:
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(known, RedactFeedTokens) for known in access_log.filters):
        access_log.addFilter(RedactFeedTokens())


def etag_matches(header: str | None, *etags: str) -> bool:
    """``If-None-Match`` against our ETags with the weak comparison RFC 9110
    13.1.2 prescribes for it (``W/`` does not matter); ``*`` matches."""
    if not header:
        return False
    wanted = {etag.removeprefix("W/") for etag in etags}
    candidates = (part.strip() for part in header.split(","))
    return any(tag == "*" or tag.removeprefix("W/") in wanted for tag in candidates)


def accepts_gzip(header: str | None) -> bool:
    """Does ``Accept-Encoding`` name gzip with a weight above 0 (RFC 9110 12.5.3)?"""
    for part in (header or "").split(","):
        coding, *params = part.split(";")
        if coding.strip().lower() not in ("gzip", "x-gzip"):
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        return weight > 0
    return False


def gzip_etag(etag: str) -> str:
    """The ETag of the gzip-coded representation: another representation,
    another strong validator (RFC 9110 8.8.3.3)."""
    return etag[:-1] + '-gzip"'


def content_disposition(name: str) -> str:
    """``inline`` with an ASCII file name and the real one (RFC 6266 4.3)."""
    ascii_name = _UNSAFE_FILENAME.sub("-", name).strip("-.")[:60] or "calendar"
    encoded = quote(name + ".ics", safe="")
    return f"inline; filename=\"{ascii_name}.ics\"; filename*=UTF-8''{encoded}"


def _not_found(request: Request | None = None) -> Response:
    return PlainTextResponse(
        "Not found\n", status_code=404, headers={**_COMMON_HEADERS, "cache-control": "no-store"}
    )


def ics_routes(database: Database) -> list[BaseRoute]:
    _install_redaction()

    def note_fetch(feed_id: int) -> None:
        try:
            with database.transaction() as session:
                feeds.note_fetch(session, feed_id)
        except Exception:  # bookkeeping only: the feed was served already
            logger.warning("ics: could not note the fetch of feed %s", feed_id, exc_info=True)

    def feed(request: Request) -> Response:
        token: str = request.path_params["token"]
        if not _TOKEN.fullmatch(token):
            return _not_found()
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        body: bytes | None = None
        with database.transaction("read") as session:
            target = feeds.resolve(session, token)
            if target is None:
                return _not_found()
            etag = gzip_etag(target.etag) if gzipped else target.etag
            headers = {
                **_COMMON_HEADERS,
                "etag": etag,
                "vary": "Accept-Encoding",
                "cache-control": CACHE_CONTROL,
            }
            # A client may hold either representation's ETag: both are current.
            unchanged = etag_matches(
                request.headers.get("if-none-match"), target.etag, gzip_etag(target.etag)
            )
            if not unchanged and request.method != "HEAD":
                body = feeds.feed_body(session, target)
        if unchanged:
            response = Response(status_code=304, headers=headers)
        else:
            headers["content-disposition"] = content_disposition(target.header.name)
            if gzipped:
                headers["content-encoding"] = "gzip"
            if body is None:  # HEAD: no body read, so no length known either
                response = Response(b"", media_type=MEDIA_TYPE, headers=headers)
                del response.headers["content-length"]
            else:
                if gzipped:  # outside the transaction; mtime=0 keeps it byte-stable
                    body = gzip.compress(body, compresslevel=5, mtime=0)
                response = Response(body, media_type=MEDIA_TYPE, headers=headers)
        if feeds.fetch_worth_noting(target):
            response.background = BackgroundTask(note_fetch, target.feed_id)
        return response

    return [
        Mount(
            PREFIX,
            routes=[
                Route("/{token}.ics", feed, methods=["GET"]),
                # Every other path below /ics gets the very same 404.
                Route("/{rest:path}", _not_found),
            ],
        )
    ]
