"""Small DAV request helpers over httpx for the live-server tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

D = "{DAV:}"


def client(server_url: str, user: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=server_url, auth=(user, password), timeout=30)


def sync_report(token: str = "", limit: int | None = None) -> str:
    limit_xml = f"<d:limit><d:nresults>{limit}</d:nresults></d:limit>" if limit else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
        f"<d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>{limit_xml}"
        "<d:prop><d:getetag/></d:prop></d:sync-collection>"
    )


def sync(
    http: httpx.Client, url: str, token: str = "", limit: int | None = None
) -> tuple[str, dict[str, str], httpx.Response]:
    """(new token, {href: status line}, response) of a sync-collection REPORT."""
    response = http.request(
        "REPORT",
        url,
        content=sync_report(token, limit),
        headers={"Content-Type": "application/xml", "Depth": "1"},
    )
    assert response.status_code == 207, response.text
    root = ET.fromstring(response.content)
    statuses: dict[str, str] = {}
    for entry in root.findall(f"{D}response"):
        href = entry.findtext(f"{D}href") or ""
        status = entry.findtext(f"{D}status") or entry.findtext(f"{D}propstat/{D}status") or ""
        statuses[href] = status
    return root.findtext(f"{D}sync-token") or "", statuses, response
