"""Deleting a user on a live server: what the page promises is what goes."""

from __future__ import annotations

import re

import httpx
import pytest

from kmdav.dav import sharing
from kmdav.db import Database
from tests.dav.cards import card, event
from tests.web.conftest import ADMIN, WebClient, WebServer, field_error, unique

pytestmark = pytest.mark.live

PASSWORD = "leaving-password-1"


def _count(server: WebServer, sql: str, **params: object) -> int:
    return int(server.query(sql, **params)[0][0])


def _put(server: WebServer, user: str, path: str, body: str, content_type: str) -> None:
    response = httpx.put(
        f"{server.url}/dav/{user}/{path}",
        content=body.encode(),
        headers={"Content-Type": content_type},
        auth=(user, PASSWORD),
    )
    assert response.status_code == 201, response.text


def _propfind(server: WebServer, user: str, path: str) -> httpx.Response:
    url = f"{server.url}/dav/{user}/{path}"
    return httpx.request("PROPFIND", url, headers={"Depth": "1"}, auth=(user, PASSWORD))


def _share(server: WebServer, path: str, **subject: str) -> None:
    database = Database(server.database_url)
    database.open()
    try:
        with database.transaction() as session:
            sharing.share_collection(session, path, level="read", **subject)
    finally:
        database.close()


def test_deleting_a_user_takes_exactly_what_the_page_lists(
    web_server: WebServer, admin: WebClient
) -> None:
    leaving, staying = unique("leaving"), unique("staying")
    admin.create_user(leaving, PASSWORD)
    admin.create_user(staying, PASSWORD)
    leaving_id = web_server.user_row(leaving).id
    staying_id = web_server.user_row(staying).id
    group = unique("team")
    assert admin.post("/web/admin/groups", {"name": group, "parent": ""}).status_code == 303
    group_id = _count(web_server, "SELECT id FROM groups WHERE name = :n", n=group)
    members = f"/web/admin/groups/{group_id}/members"
    assert admin.post(members, {"username": leaving}).status_code == 303

    vcard, ical = "text/vcard; charset=utf-8", "text/calendar; charset=utf-8"
    _put(web_server, leaving, "contacts/a.vcf", card(unique("a")), vcard)
    _put(web_server, leaving, "contacts/b.vcf", card(unique("b")), vcard)
    _put(web_server, leaving, "calendar/e.ics", event(unique("e")), ical)
    _put(web_server, staying, "contacts/s.vcf", card(unique("s")), vcard)
    _share(web_server, f"{leaving}/calendar", user=staying)
    _share(web_server, f"{leaving}/contacts", group=group)
    _share(web_server, f"{staying}/calendar", user=leaving)
    session = WebClient(web_server)
    assert session.login(leaving, PASSWORD).status_code == 303
    assert session.post("/web/devices", {"name": "phone"}).status_code == 200
    calendar_id = _count(
        web_server, "SELECT id FROM dav_collections WHERE path = :p", p=f"{leaving}/calendar"
    )
    link = {"calendar": str(calendar_id), "name": "Outlook"}
    assert session.post("/web/sharing/feeds", link).status_code == 200

    page = admin.get(f"/web/admin/users/{leaving_id}/delete")
    assert page.status_code == 200
    counts = dict(re.findall(r'data-testid="([a-z-]+)">(\d+)<', page.text))
    assert counts == {
        "collections": "3",
        "items": "3",
        "shared-users": "1",
        "shared-groups": "1",
        "subscription-links": "1",
    }
    assert "disable the user instead" in page.text
    assert "company address book and other users' collections stay" in page.text

    wrong = admin.post(f"/web/admin/users/{leaving_id}/delete", {"confirm": staying})
    assert wrong.status_code == 400
    assert "type the user name exactly" in field_error(wrong.text, "confirm")
    assert web_server.user_row(leaving) is not None

    deleted = admin.post(f"/web/admin/users/{leaving_id}/delete", {"confirm": leaving})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/web/admin/users?notice=deleted"
    assert leaving not in admin.get(deleted.headers["location"]).text
    assert web_server.user_row(leaving) is None
    like = {"p": f"{leaving}/%", "home": leaving}
    assert (
        _count(web_server, "SELECT count(*) FROM dav_collections WHERE path = :home", **like) == 0
    )
    assert (
        _count(web_server, "SELECT count(*) FROM dav_collections WHERE path LIKE :p", **like) == 0
    )
    for table in ("app_passwords", "group_memberships", "collection_shares", "recovery_codes"):
        rows = _count(
            web_server, f"SELECT count(*) FROM {table} WHERE user_id = :id", id=leaving_id
        )
        assert rows == 0, table
    orphans = "SELECT count(*) FROM {} WHERE collection_id NOT IN (SELECT id FROM dav_collections)"
    for table in ("dav_items", "dav_changes", "collection_shares", "contacts"):
        assert _count(web_server, orphans.format(table)) == 0, table
    assert _count(web_server, "SELECT count(*) FROM groups WHERE id = :id", id=group_id) == 1
    # The other user keeps everything, the company book stays.
    kept = "SELECT count(*) FROM dav_collections WHERE owner_id = :id"
    assert (
        _count(web_server, kept, id=staying_id) == 6
    )  # home, three collections, schedule inbox and outbox
    assert _count(web_server, "SELECT count(*) FROM dav_collections WHERE path = 'company'") == 1
    listing = _propfind(web_server, staying, "contacts/")
    assert listing.status_code == 207
    assert "s.vcf" in listing.text
    # The audit trail still names the user.
    logins = "SELECT count(*) FROM audit_log WHERE actor_name = :n AND action = 'web.login'"
    assert _count(web_server, logins, n=leaving) == 1
    entry = web_server.query(
        "SELECT actor_name, source FROM audit_log WHERE action = 'user.delete' AND object_id = :n",
        n=leaving,
    )
    assert [tuple(row) for row in entry] == [("admin", "web")]
    # Their session and their devices are locked out.
    assert not session.logged_in()
    refused = _propfind(web_server, leaving, "")
    assert refused.status_code == 401
    session.close()


def test_an_admin_cannot_delete_themselves(web_server: WebServer, admin: WebClient) -> None:
    admin_id = web_server.user_row(ADMIN[0]).id
    page = admin.get(f"/web/admin/users/{admin_id}/delete")
    assert "cannot delete your own account" in page.text
    refused = admin.post(f"/web/admin/users/{admin_id}/delete", {"confirm": ADMIN[0]})
    assert refused.status_code == 400
    assert "cannot delete your own account" in refused.text
    assert web_server.user_row(ADMIN[0]) is not None


def test_the_users_list_links_to_deletion(web_server: WebServer, admin: WebClient) -> None:
    name = unique("listed")
    admin.create_user(name, PASSWORD)
    user_id = web_server.user_row(name).id
    assert f'href="/web/admin/users/{user_id}/delete"' in admin.get("/web/admin/users").text


def test_unknown_users_are_404(admin: WebClient) -> None:
    assert admin.get("/web/admin/users/999999/delete").status_code == 404
    assert admin.post("/web/admin/users/999999/delete", {"confirm": "x"}).status_code == 404
    assert admin.post("/web/admin/users/999999/totp/reset", {}).status_code == 404
