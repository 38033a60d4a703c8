"""A tiny DAV client for live-server tests: PUT/GET/DELETE/PROPFIND and sync-collection.

Plain httpx with Basic auth; multistatus answers are parsed with xml.etree.
One ``DavClient`` per thread gives each thread its own connection.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import unquote

import httpx

ADMIN = ("admin", "admin-password-1")
VCARD = "text/vcard; charset=utf-8"
TOKEN_RE = re.compile(r"^urn:kmdav:sync:(?P<key>[^:]+):(?P<revision>\d+)$")

_SYNC_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:sync-collection xmlns:D="DAV:">'
    "<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
    "<D:prop><D:getetag/></D:prop></D:sync-collection>"
)
_PROPFIND = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:propfind xmlns:D="DAV:"><D:prop>{props}</D:prop></D:propfind>'
)


def token_parts(token: str) -> tuple[str, int]:
    """(sync key, revision) of a kmdav sync token."""
    match = TOKEN_RE.match(token)
    assert match is not None, f"not a kmdav sync token: {token!r}"
    return match["key"], int(match["revision"])


@dataclass(frozen=True)
class SyncResult:
    token: str
    #: href (path, percent-decoded) -> HTTP status of its response (200, or 404 when deleted)
    changes: dict[str, int]

    @property
    def revision(self) -> int:
        return token_parts(self.token)[1]

    @property
    def present(self) -> set[str]:
        return {href for href, status in self.changes.items() if status != 404}

    @property
    def deleted(self) -> set[str]:
        return {href for href, status in self.changes.items() if status == 404}


def _status_code(line: str | None) -> int:
    # "HTTP/1.1 404 Not Found"
    assert line, "a response without a status"
    return int(line.split()[1])


def parse_multistatus(text: str) -> tuple[str | None, dict[str, int]]:
    """(sync-token, {href: status}) of a multistatus; a propstat counts as its first status."""
    root = ET.fromstring(text)
    ns = {"D": "DAV:"}
    token = root.findtext("D:sync-token", namespaces=ns)
    answers: dict[str, int] = {}
    for response in root.findall("D:response", ns):
        href = unquote(response.findtext("D:href", default="", namespaces=ns))
        status = response.findtext("D:status", namespaces=ns)
        if status is None:
            status = response.findtext("D:propstat/D:status", namespaces=ns)
        answers[href] = _status_code(status)
    return token, answers


def parse_props(text: str) -> dict[str, dict[str, str]]:
    """{href: {property local name: text}} of the 200 propstats of a multistatus."""
    root = ET.fromstring(text)
    ns = {"D": "DAV:"}
    found: dict[str, dict[str, str]] = {}
    for response in root.findall("D:response", ns):
        href = unquote(response.findtext("D:href", default="", namespaces=ns))
        props = found.setdefault(href, {})
        for propstat in response.findall("D:propstat", ns):
            if _status_code(propstat.findtext("D:status", namespaces=ns)) != 200:
                continue
            container = propstat.find("D:prop", ns)
            for prop in list(container) if container is not None else []:
                props[prop.tag.rpartition("}")[2]] = prop.text or ""
    return found


class DavClient:
    """Requests against ``base`` (the server's root URL, e.g. http://127.0.0.1:8000)."""

    def __init__(self, base: str, auth: tuple[str, str] = ADMIN, timeout: float = 60) -> None:
        self.base = base.rstrip("/")
        self.http = httpx.Client(auth=auth, timeout=timeout)

    def __enter__(self) -> DavClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return self.base + path

    def put(
        self,
        path: str,
        body: str,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = VCARD,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if if_match is not None:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = "*"
        return self.http.put(self.url(path), content=body.encode("utf-8"), headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(self.url(path))

    def delete(self, path: str, *, if_match: str | None = None) -> httpx.Response:
        headers = {"If-Match": if_match} if if_match is not None else {}
        return self.http.delete(self.url(path), headers=headers)

    def propfind(self, path: str, depth: str = "1", props: str = "D:getetag") -> httpx.Response:
        """PROPFIND for ``props`` (space-separated DAV: names)."""
        wanted = "".join(f"<{name}/>" for name in props.split())
        return self.http.request(
            "PROPFIND",
            self.url(path),
            content=_PROPFIND.format(props=wanted),
            headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
        )

    def sync(self, collection: str, token: str = "") -> SyncResult:
        """A sync-collection REPORT from ``token`` ("" is the initial sync)."""
        response = self.http.request(
            "REPORT",
            self.url(collection),
            content=_SYNC_BODY.format(token=token),
            headers={"Depth": "0", "Content-Type": "application/xml; charset=utf-8"},
        )
        assert response.status_code == 207, (response.status_code, response.text[:500])
        new_token, changes = parse_multistatus(response.text)
        assert new_token, f"no sync-token in {response.text[:500]}"
        return SyncResult(token=new_token, changes=changes)
