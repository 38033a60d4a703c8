"""Duplicates on a live server: cards written over CardDAV, found on the
duplicates page, merged through the merge page; the phone's next
sync-collection sees one card changed and the other deleted."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.dav.http import client, sync
from tests.web.conftest import ADMIN, WebClient, WebServer, unique

pytestmark = pytest.mark.live

BOOK = "/dav/admin/company-contacts/"  # the company book, as devices see it


def card(uid: str, given: str, family: str, email: str, extra: str = "") -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:{given} {family}\r\nN:{family};{given};;;\r\n"
        f"EMAIL;TYPE=INTERNET:{email}\r\n{extra}END:VCARD\r\n"
    )


def contact_id(server: WebServer, uid: str) -> int:
    rows = server.query(
        "SELECT c.id FROM contacts c JOIN dav_items i ON i.id = c.item_id WHERE i.uid = :u", u=uid
    )
    return int(rows[0][0])


def scan_duplicates(admin: WebClient, timeout: float = 60) -> httpx.Response:
    """Start a search for duplicates and wait for its job; the page afterwards."""
    started = admin.post("/web/contacts/duplicates/scan", {})
    assert started.status_code == 303, started.text
    deadline = time.monotonic() + timeout
    while True:
        listing = admin.get("/web/contacts/duplicates")
        assert listing.status_code == 200
        if 'data-job-finished="no"' not in listing.text and "Last search:" in listing.text:
            return listing
        assert time.monotonic() < deadline, listing.text
        time.sleep(0.2)


def test_a_merge_reaches_the_phone_as_one_update_and_one_delete(
    web_server: WebServer, admin: WebClient
) -> None:
    phone = client(web_server.url, *ADMIN)
    email = f"{unique('eva')}@example.com"
    first, second = unique("eva-a"), unique("eva-b")
    for uid, body in (
        (first, card(first, "Eva", "Lindner", email, "X-PHONE-ONLY:keep\r\nTEL:+43 1 111111\r\n")),
        (second, card(second, "Eva", "Lindner", email.upper(), "TEL:+43 2 222222\r\n")),
    ):
        put = phone.put(f"{BOOK}{uid}.vcf", content=body, headers={"content-type": "text/vcard"})
        assert put.status_code == 201, put.text
    token, _, _ = sync(phone, BOOK)
    a, b = contact_id(web_server, first), contact_id(web_server, second)

    listing = scan_duplicates(admin)
    assert f"/web/contacts/merge?ids={min(a, b)}&amp;ids={max(a, b)}" in listing.text

    merge_page = admin.get(f"/web/contacts/merge?ids={a}&ids={b}")
    assert merge_page.status_code == 200
    etags = dict(re.findall(r'name="etag-(\d+)" value="([^"]+)"', merge_page.text))
    kept = re.findall(r'name="(emails|phones)" value="([^"]+)" checked', merge_page.text)
    form = {
        "ids": [str(a), str(b)],
        "survivor": str(a),
        **{f"etag-{k}": v.replace("&#34;", '"') for k, v in etags.items()},
        "emails": [v for n, v in kept if n == "emails"],
        "phones": [v for n, v in kept if n == "phones"],
    }
    stale = admin.post("/web/contacts/merge", {**form, f"etag-{b}": '"stale"'})
    assert stale.status_code == 400
    assert "changed meanwhile" in stale.text
    assert len(web_server.query("SELECT id FROM contacts WHERE id IN (:a, :b)", a=a, b=b)) == 2

    merged = admin.post("/web/contacts/merge", form)
    assert merged.status_code == 303, merged.text

    # The stored result leaves the merged pair out without a new search.
    assert f"ids={min(a, b)}&amp;ids={max(a, b)}" not in admin.get("/web/contacts/duplicates").text

    _, changes, _ = sync(phone, BOOK, token)
    assert changes == {
        f"{BOOK}{first}.vcf": "HTTP/1.1 200 OK",
        f"{BOOK}{second}.vcf": "HTTP/1.1 404 Not Found",
    }
    body = phone.get(f"{BOOK}{first}.vcf").text
    assert "X-PHONE-ONLY:keep" in body
    assert "+43 1 111111" in body
    assert "+43 2 222222" in body
    aliases = web_server.query(
        "SELECT survivor_uid FROM contact_uid_aliases WHERE old_uid = :u", u=second
    )
    assert aliases == [(first,)]
    phone.close()


def test_users_without_the_delete_permission_cannot_merge(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client_, _, _ = user
    assert client_.get("/web/contacts/duplicates").status_code == 200
    assert client_.get("/web/contacts/merge?ids=1&ids=2").status_code == 403
