"""Who gets in and what they see: passwords, app passwords, throttling,
ownership, shares with nested groups, the company address book."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kmdav.accounts import groups, permissions
from kmdav.accounts import service as accounts
from kmdav.dav import sharing
from tests.databases import throwaway_database
from tests.dav.cards import card, event
from tests.dav.http import client
from tests.live import live_server

pytestmark = pytest.mark.live

VCARD = {"Content-Type": "text/vcard"}
ICAL = {"Content-Type": "text/calendar"}


def _propfind(http: httpx.Client, url: str, depth: str = "1") -> httpx.Response:
    return http.request("PROPFIND", url, headers={"Depth": depth})


def test_wrong_password_is_refused(dav_server: Any) -> None:
    with client(dav_server.url, "bob", "not-bobs-password") as http:
        assert _propfind(http, "/dav/bob/").status_code == 401


def test_app_password_works_until_revoked(dav_server: Any, server_db: Any) -> None:
    with server_db.transaction() as session:
        device = accounts.create_app_password(session, "bob", "Bob's phone")
    with client(dav_server.url, "bob", device.password) as http:
        assert _propfind(http, "/dav/bob/").status_code == 207
        with server_db.transaction() as session:
            accounts.revoke_app_password(session, "bob", device.id)
            rows = accounts.list_app_passwords(session, "bob")
            assert rows[-1].last_used_at is not None
        assert _propfind(http, "/dav/bob/").status_code == 401
    with client(dav_server.url, "bob", "bob-password-1") as http:
        assert _propfind(http, "/dav/bob/").status_code == 207


def test_disabled_user_is_refused_at_once(dav_server: Any, server_db: Any) -> None:
    with server_db.transaction() as session:
        accounts.create_user(session, "dora", "dora-password-1")
    with client(dav_server.url, "dora", "dora-password-1") as http:
        assert _propfind(http, "/dav/dora/").status_code == 207
        with server_db.transaction() as session:
            accounts.set_active(session, "dora", False)
        assert _propfind(http, "/dav/dora/").status_code == 401


def test_others_collections_are_invisible(dav_server: Any) -> None:
    with client(dav_server.url, "admin", "admin-password-1") as admin:
        admin.put(
            "/dav/admin/contacts/secret.vcf", content=card("secret", "Secret Person"), headers=VCARD
        )
    with client(dav_server.url, "bob", "bob-password-1") as bob:
        for method, url in (
            ("GET", "/dav/admin/contacts/secret.vcf"),
            ("PROPFIND", "/dav/admin/"),
            ("PROPFIND", "/dav/admin/contacts/"),
            ("PUT", "/dav/admin/contacts/x.vcf"),
            ("DELETE", "/dav/admin/contacts/secret.vcf"),
        ):
            response = bob.request(
                method,
                url,
                content=card("x") if method == "PUT" else None,
                headers={"Depth": "1", **VCARD},
            )
            assert response.status_code in (403, 404), (method, url)
            assert "Secret Person" not in response.text
        root = _propfind(bob, "/dav/")
        assert "/dav/admin/" not in root.text
        assert "/dav/carol/" not in root.text


def test_company_book_readable_and_editable_by_all_deletable_with_the_grant(
    dav_server: Any, server_db: Any
) -> None:
    with client(dav_server.url, "admin", "admin-password-1") as admin:
        created = admin.put(
            "/dav/admin/company-contacts/acme.vcf", content=card("acme", "Acme Corp"), headers=VCARD
        )
        assert created.status_code == 201
    with client(dav_server.url, "bob", "bob-password-1") as bob:
        assert "/dav/bob/company-contacts/" in _propfind(bob, "/dav/bob/").text
        assert "Acme Corp" in bob.get("/dav/bob/company-contacts/acme.vcf").text
        # Every user may create and edit contacts (kmdav.contacts.access) ...
        made = bob.put("/dav/bob/company-contacts/mine.vcf", content=card("mine"), headers=VCARD)
        assert made.status_code == 201
        # ... but deleting needs the contacts delete permission.
        assert bob.delete("/dav/bob/company-contacts/mine.vcf").status_code == 403
        with server_db.transaction() as session:
            bob_user = accounts.get_user(session, "bob")
            permissions.grant(session, "contacts", "delete", user=bob_user)
        assert bob.delete("/dav/bob/company-contacts/mine.vcf").status_code in (200, 204)


def test_calendar_shared_with_a_parent_group_reaches_subgroup_members(
    dav_server: Any, server_db: Any
) -> None:
    with server_db.transaction() as session:
        groups.create_group(session, "staff")
        groups.create_group(session, "sales", parent="staff")
        groups.add_member(session, "sales", "carol")
        sharing.share_collection(session, "admin/calendar", group="staff", level="read")
        sharing.share_collection(session, "admin/tasks", user="bob", level="write")
    with client(dav_server.url, "admin", "admin-password-1") as admin:
        admin.put("/dav/admin/calendar/kickoff.ics", content=event("kickoff"), headers=ICAL)
    with client(dav_server.url, "carol", "carol-password-1") as carol:
        listing = _propfind(carol, "/dav/carol/")
        assert "/dav/carol/admin-calendar/" in listing.text
        assert "/dav/carol/admin-tasks/" not in listing.text
        assert "Meeting" in carol.get("/dav/carol/admin-calendar/kickoff.ics").text
        refused = carol.put(
            "/dav/carol/admin-calendar/mine.ics", content=event("mine"), headers=ICAL
        )
        assert refused.status_code == 403
    with client(dav_server.url, "bob", "bob-password-1") as bob:
        assert "/dav/bob/admin-calendar/" not in _propfind(bob, "/dav/bob/").text
        todo = (
            event("shared-task")
            .replace("VEVENT", "VTODO")
            .replace("DTEND:20261201T110000Z\r\n", "")
        )
        assert bob.put("/dav/bob/admin-tasks/t.ics", content=todo, headers=ICAL).status_code == 201
    with client(dav_server.url, "admin", "admin-password-1") as admin:
        assert admin.get("/dav/admin/tasks/t.ics").status_code == 200


def test_failed_logins_are_throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMDAV_DAV__LOGIN_FAILURES_ALLOWED", "3")
    monkeypatch.setenv("KMDAV_DAV__MAX_CONTENT_LENGTH", "50000")
    with throwaway_database("sqlite", tmp_path) as url, live_server(tmp_path / "d", url) as server:
        with client(server.url, "admin", "wrong-password") as wrong:
            for _ in range(3):
                assert _propfind(wrong, "/dav/admin/").status_code == 401
            blocked = _propfind(wrong, "/dav/admin/")
        assert blocked.status_code == 429
        assert "too many failed logins" in blocked.text
        assert int(blocked.headers["retry-after"]) > 0
        with client(server.url, "admin", "admin-password-1") as right:
            assert _propfind(right, "/dav/admin/").status_code == 429
        # The size limit answers before any login is tried.
        with client(server.url, "someone", "whatever-1") as other:
            big = other.put("/dav/admin/contacts/big.vcf", content="x" * 60_000, headers=VCARD)
        assert big.status_code == 413
        assert "larger than the limit of 50000 bytes" in big.text
        # Chunked, with no Content-Length to judge by: read up to the limit, then 413.
        with client(server.url, "someone", "whatever-1") as other:
            chunked = other.put(
                "/dav/admin/contacts/big.vcf",
                content=(b"x" * 10_000 for _ in range(6)),
                headers=VCARD,
            )
        assert chunked.status_code == 413
        assert "larger than the limit of 50000 bytes" in chunked.text


def _principals(server: Any, user: str, password: str, name: str | None = None) -> set[str]:
    search = (
        f"<d:property-search><d:prop><d:displayname/></d:prop><d:match>{name}</d:match>"
        "</d:property-search>"
        if name
        else ""
    )
    body = (
        '<?xml version="1.0"?><d:principal-property-search xmlns:d="DAV:" '
        f'xmlns:c="urn:ietf:params:xml:ns:caldav">{search}<d:prop><d:displayname/>'
        "<c:calendar-home-set/></d:prop></d:principal-property-search>"
    )
    with client(server.url, user, password) as http:
        response = http.request(
            "REPORT",
            "/dav/",
            content=body,
            headers={"Content-Type": "application/xml", "Depth": "0"},
        )
    assert response.status_code == 207, response.text
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.content)
    return {r.findtext("{DAV:}href") or "" for r in root.findall("{DAV:}response")}


def test_principal_search_shows_only_visible_users(dav_server: Any, server_db: Any) -> None:
    with server_db.transaction() as session:
        if groups.get_group(session, "support") is None:
            groups.create_group(session, "support")
        groups.add_member(session, "support", "bob")
        groups.add_member(session, "support", "carol")
    everyone = _principals(dav_server, "admin", "admin-password-1")
    assert {"/dav/admin/", "/dav/bob/", "/dav/carol/"} <= everyone
    assert _principals(dav_server, "bob", "bob-password-1") == {"/dav/bob/", "/dav/carol/"}
    assert _principals(dav_server, "bob", "bob-password-1", "caro") == {"/dav/carol/"}
    assert _principals(dav_server, "bob", "bob-password-1", "admin") == set()


def test_caldav_library_finds_principals(dav_server: Any) -> None:
    import caldav

    with caldav.DAVClient(
        url=dav_server.url + "/dav/", username="admin", password="admin-password-1"
    ) as dav:
        names = {str(p.url) for p in dav.search_principals(name="admin")}
    assert any(url.endswith("/dav/admin/") for url in names)
