"""Security probes of the web face: CSRF, admin-only routes, HTML escaping."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from kmdav.faces.web import (
    account,
    admin_audit,
    admin_fields,
    admin_group_detail,
    admin_groups,
    admin_licence,
    admin_mail,
    admin_user_detail,
    admin_users,
    auth,
    contacts,
    contacts_import,
    devices,
    duplicates,
    forms,
    jobs,
    language,
    replies,
    sharing,
)
from tests.web.conftest import ADMIN, WebClient, WebServer, unique, without_htmx

pytestmark = pytest.mark.live

SCRIPT = "<script>alert(1)</script>"
#: The CSRF check comes before any lookup, so a job that does not exist will do.
NO_JOB = 987654
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _state(server: WebServer) -> list[tuple[object, ...]]:
    """Everything a web form could change."""
    users = server.query(
        "SELECT username, email, display_name, is_admin, is_active, password_hash, "
        "locale, must_change_password, totp_secret, totp_enabled_at, totp_last_step, "
        "email_reminders "
        "FROM users ORDER BY id"
    )
    devices = server.query("SELECT id, name, revoked_at FROM app_passwords ORDER BY id")
    groups = server.query("SELECT id, name, parent_id, description FROM groups ORDER BY id")
    members = server.query(
        "SELECT group_id, user_id FROM group_memberships ORDER BY group_id, user_id"
    )
    shares = server.query(
        "SELECT collection_id, user_id, group_id, access FROM collection_shares ORDER BY id"
    )
    codes = server.query("SELECT id, code_hash, used_at FROM recovery_codes ORDER BY id")
    collections = server.query("SELECT id, path FROM dav_collections ORDER BY id")
    seats = server.query("SELECT user_id, module FROM user_modules ORDER BY user_id, module")
    grants = server.query("SELECT user_id, group_id, module, action FROM permissions ORDER BY id")
    mails = server.query("SELECT id, kind, key, status FROM jobs ORDER BY id")
    feeds = server.query(
        "SELECT id, collection_id, user_id, name, token_hash, revoked_at FROM calendar_feeds "
        "ORDER BY id"
    )
    contact_forms = server.query("SELECT id, name, deleted_at FROM contact_forms ORDER BY id")
    contact_rows = server.query(
        "SELECT id, item_id, owner_id, formatted_name, notes_text FROM contacts ORDER BY id"
    )
    field_rows = server.query(
        "SELECT key, label, required, position FROM custom_field_definitions ORDER BY id"
    )
    items = server.query("SELECT id, etag FROM dav_items ORDER BY id")
    tables = (
        contact_forms,
        contact_rows,
        field_rows,
        items,
        users,
        devices,
        groups,
        members,
        shares,
        codes,
        collections,
        seats,
        grants,
        mails,
        feeds,
    )
    return [tuple(row) for rows in tables for row in rows]


#: Routes of the admin area, from the modules that declare them.
ADMIN_ROUTES = [
    *admin_users.routes,
    *admin_user_detail.routes,
    *admin_groups.routes,
    *admin_group_detail.routes,
    *admin_licence.routes,
    *admin_audit.routes,
    *admin_mail.routes,
    *admin_fields.routes,
]
#: An own-field key no field has (the CSRF and admin checks come first).
NO_FIELD = "NOKEY"

#: Every module of the web face that declares routes.
WEB_MODULES = (
    auth,
    language,
    devices,
    account,
    sharing,
    jobs,
    contacts_import,
    contacts,
    forms,
    duplicates,
    replies,
)


def _post_paths(**ids: int) -> set[str]:
    """Every path of the web face that takes a form, ids filled in."""
    paths = set()
    for route in [*ADMIN_ROUTES, *(route for module in WEB_MODULES for route in module.routes)]:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            path = "/web" + route.path
            for name, value in ids.items():
                path = path.replace("{" + name + ":int}", str(value))
            paths.add(path.replace("{key}", NO_FIELD))
    return paths


def _admin_forms(
    target_id: int, target: str, group_id: int, member: str
) -> dict[str, dict[str, object]]:
    """A filled-in form for every admin POST route."""
    return {
        "/web/admin/fields": {"key": "PLANTED", "label": "Planted", "field_type": "text"},
        f"/web/admin/fields/{NO_FIELD}/edit": {"label": "x"},
        f"/web/admin/fields/{NO_FIELD}/move": {"direction": "up"},
        f"/web/admin/fields/{NO_FIELD}/delete": {},
        "/web/admin/users": {"username": unique("sneaky"), "password": "sneaky-pass-1"},
        f"/web/admin/users/{target_id}": {"display_name": "taken over", "email": ""},
        f"/web/admin/users/{target_id}/active": {"active": "0"},
        f"/web/admin/users/{target_id}/admin": {"admin": "1"},
        f"/web/admin/users/{target_id}/password": {
            "password": "taken-over-1",
            "password_repeat": "taken-over-1",
        },
        f"/web/admin/users/{target_id}/modules": {"modules": ["billing", "sms"]},
        f"/web/admin/users/{target_id}/permissions": {"grant": ["contacts:administer"]},
        f"/web/admin/users/{target_id}/totp/reset": {},
        f"/web/admin/users/{target_id}/delete": {"confirm": target},
        "/web/admin/groups": {"name": unique("sneaky"), "parent": ""},
        f"/web/admin/groups/{group_id}/members": {"username": member},
        f"/web/admin/groups/{group_id}/members/{target_id}/remove": {},
        f"/web/admin/groups/{group_id}/delete": {},
        f"/web/admin/groups/{group_id}/permissions": {"grant": ["billing:delete"]},
        "/web/admin/mail/test": {"to": "someone@example.com", "send_id": unique("send")},
    }


def _group_with_member(admin: WebClient, server: WebServer, member_id: int) -> int:
    """A fresh group (made through the web face) with one member."""
    name = unique("group")
    assert admin.post("/web/admin/groups", {"name": name, "parent": ""}).status_code == 303
    group_id = int(server.query("SELECT id FROM groups WHERE name = :n", n=name)[0][0])
    member = server.query("SELECT username FROM users WHERE id = :id", id=member_id)[0][0]
    added = admin.post(f"/web/admin/groups/{group_id}/members", {"username": member})
    assert added.status_code == 303
    return group_id


def _shared_calendar(admin: WebClient, server: WebServer, username: str) -> tuple[int, int]:
    """The admin's calendar, shared with ``username`` through the sharing page:
    (collection id, share id)."""
    calendar_id = int(
        server.query("SELECT id FROM dav_collections WHERE path = 'admin/calendar'")[0][0]
    )
    form = {"user": username, "group": "", "access": "read"}
    assert admin.post(f"/web/sharing/{calendar_id}/shares", form).status_code == 303
    share_id = server.query(
        "SELECT collection_shares.id FROM collection_shares JOIN users "
        "ON users.id = collection_shares.user_id WHERE users.username = :name",
        name=username,
    )[0][0]
    return calendar_id, int(share_id)


def _feed(admin: WebClient, server: WebServer, calendar_id: int) -> int:
    """A subscription link to the admin's calendar, made on the sharing page."""
    made = admin.post("/web/sharing/feeds", {"calendar": str(calendar_id), "name": unique("feed")})
    assert made.status_code == 200
    return int(server.query("SELECT max(id) FROM calendar_feeds")[0][0])


def _contact_form(admin: WebClient) -> int:
    """A website contact form, made in the builder."""
    made = admin.post(
        "/web/forms",
        {
            "name": unique("form"),
            "ask": ["email"],
            "required": ["email"],
            "consent_text": "I agree.",
            "privacy_url": "https://example.com/privacy",
        },
    )
    assert made.status_code == 303, made.text
    return int(made.headers["location"].split("/")[-1].split("?")[0])


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["missing", "empty", "wrong"])
def test_forms_without_the_csrf_token_are_403_and_change_nothing(
    web_server: WebServer, admin: WebClient, token: str | None
) -> None:
    victim = unique("victim")
    admin.create_user(victim, "victim-password-1")
    victim_id = web_server.user_row(victim).id
    device = admin.post("/web/devices", {"name": "laptop"})
    assert device.status_code == 200
    device_id = re.findall(r"/web/devices/(\d+)/revoke", device.text)[-1]
    group_id = _group_with_member(admin, web_server, victim_id)
    calendar_id, share_id = _shared_calendar(admin, web_server, victim)
    feed_id = _feed(admin, web_server, calendar_id)
    contact_form_id = _contact_form(admin)
    made = admin.post("/web/contacts/new", {"kind": "person", "given_name": unique("probe")})
    contact_id = int(made.headers["location"].rsplit("/", 1)[1].split("?")[0])
    forms = {
        "/web/contacts/new": {"kind": "person", "given_name": "planted"},
        f"/web/contacts/{contact_id}/edit": {"kind": "person", "given_name": "changed"},
        f"/web/contacts/{contact_id}/notes": {"note": "planted note"},
        f"/web/contacts/{contact_id}/owner": {"owner": ""},
        f"/web/contacts/{contact_id}/delete": {},
        **_admin_forms(victim_id, victim, group_id, ADMIN[0]),
        "/web/devices": {"name": "planted device"},
        "/web/devices/profile": {"profile_name": "planted profile"},
        f"/web/devices/{device_id}/revoke": {},
        f"/web/sharing/{calendar_id}/shares": {
            "user": "",
            "group": str(group_id),
            "access": "read",
        },
        f"/web/sharing/shares/{share_id}/access": {"access": "write"},
        f"/web/sharing/shares/{share_id}/remove": {},
        "/web/sharing/feeds": {"calendar": str(calendar_id), "name": "planted link"},
        f"/web/sharing/feeds/{feed_id}/revoke": {},
        f"/web/jobs/{NO_JOB}/cancel": {},
        "/web/contacts/import": {"file": "planted.csv"},
        f"/web/contacts/import/{NO_JOB}": {"step": "start", "column-0": "email"},
        f"/web/contacts/import/{NO_JOB}/undo": {},
        "/web/language": {"language": "de", "next": "/web/"},
        "/web/account/password": {
            "current_password": ADMIN[1],
            "password": "taken-over-1",
            "password_repeat": "taken-over-1",
        },
        "/web/account/new-password": {
            "password": "taken-over-1",
            "password_repeat": "taken-over-1",
        },
        "/web/account/totp/setup": {},
        "/web/account/reminders": {"email_reminders": "on"},
        "/web/calendar/replies": {"reply": "BEGIN:VCALENDAR"},
        "/web/calendar/replies/file": {"file": "reply.ics"},
        "/web/account/totp/confirm": {"code": "123456"},
        "/web/account/totp/disable": {"off_password": ADMIN[1], "off_code": "123456"},
        "/web/account/recovery-codes": {},
        "/web/login/code": {"code": "123456"},
        "/web/logout": {},
        "/web/login": {"login": ADMIN[0], "password": ADMIN[1]},
        "/web/forms": {"name": "planted form"},
        f"/web/forms/{contact_form_id}": {"name": "renamed form"},
        f"/web/forms/{contact_form_id}/delete": {},
        "/web/contacts/merge": {"ids": ["1", "2"], "survivor": "1"},
        "/web/contacts/duplicates/scan": {},
    }
    # Every form of the web face is probed, including ones added later.
    assert set(forms) == _post_paths(
        user_id=victim_id,
        group_id=group_id,
        device_id=int(device_id),
        collection_id=calendar_id,
        share_id=share_id,
        feed_id=feed_id,
        job_id=NO_JOB,
        form_id=contact_form_id,
        contact_id=contact_id,
        import_id=NO_JOB,
    )
    before = _state(web_server)
    for path, data in forms.items():
        form: dict[str, object] = dict(data) if token is None else {"csrf_token": token, **data}
        response = admin.post(path, form, csrf=False)
        assert response.status_code == 403, path
        assert "did not come from this site" in response.text
    assert _state(web_server) == before
    assert admin.logged_in()  # logout without a token did not log out


def test_a_token_of_another_session_does_not_count(web_server: WebServer, admin: WebClient) -> None:
    other = WebClient(web_server)
    foreign = other.token()
    name = unique("foreign")
    response = admin.post(
        "/web/admin/users",
        {"csrf_token": foreign, "username": name, "password": "foreign-pass-1"},
        csrf=False,
    )
    assert response.status_code == 403
    assert web_server.user_row(name) is None
    other.close()


def _admin_requests(user_id: int, group_id: int) -> list[tuple[str, str]]:
    """Every (method, path) the admin area answers, read from its routes."""
    requests = []
    for route in ADMIN_ROUTES:
        assert isinstance(route, Route)
        path = "/web" + route.path.replace("{user_id:int}", str(user_id))
        path = path.replace("{group_id:int}", str(group_id)).replace("{key}", NO_FIELD)
        assert "{" not in path, path
        requests += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return requests


def test_non_admins_get_403_on_every_admin_route(
    web_server: WebServer, admin: WebClient, user: tuple[WebClient, str, str]
) -> None:
    client, name, _ = user
    target = unique("target")
    admin.create_user(target, "target-password-1")
    target_id = web_server.user_row(target).id
    group_id = _group_with_member(admin, web_server, target_id)
    requests = _admin_requests(target_id, group_id)
    assert len(requests) >= 20
    assert ("GET", "/web/admin/audit") in requests
    forms = _admin_forms(target_id, target, group_id, name)
    own_promotion = f"/web/admin/users/{web_server.user_row(name).id}/admin"
    before = _state(web_server)
    for method, path in requests:
        response = client.get(path) if method == "GET" else client.post(path, forms[path])
        assert response.status_code == 403, (method, path)
        assert "Only administrators" in response.text
    assert client.post(own_promotion, {"admin": "1"}).status_code == 403
    assert _state(web_server) == before
    # The navigation does not offer what the user may not open.
    assert "/web/admin/users" not in client.get("/web/").text
    assert "/web/admin/groups" not in client.get("/web/").text
    assert "/web/admin/licence" not in client.get("/web/").text
    assert "/web/admin/audit" not in client.get("/web/").text
    assert "/web/admin/mail" not in client.get("/web/").text


def test_script_in_names_is_escaped_everywhere(web_server: WebServer, admin: WebClient) -> None:
    name = unique("xss")
    admin.create_user(name, "xss-password-1", display_name=SCRIPT)
    client, stranger = WebClient(web_server), WebClient(web_server)
    assert client.login(name, "xss-password-1").status_code == 303
    created = client.post("/web/devices", {"name": SCRIPT})
    assert created.status_code == 200
    own_calendar = web_server.query(
        "SELECT id FROM dav_collections WHERE path = :path", path=f"{name}/calendar"
    )[0][0]
    feed = client.post("/web/sharing/feeds", {"calendar": str(own_calendar), "name": SCRIPT})
    assert feed.status_code == 200
    group = {"name": SCRIPT + unique(""), "parent": "", "description": SCRIPT}
    assert admin.post("/web/admin/groups", group).status_code == 303
    pages = {
        "devices, just created": created,
        "devices": client.get("/web/devices"),
        "dashboard": client.get("/web/"),
        "logout": client.get("/web/logout"),
        "account": client.get("/web/account"),
        "admin audit log": admin.get("/web/admin/audit"),
        "admin users": admin.get("/web/admin/users"),
        "admin groups": admin.get("/web/admin/groups"),
        "sharing, groups to pick": client.get("/web/sharing"),
        "sharing, a new subscription link": feed,
        "group form error": admin.post("/web/admin/groups", group),
        "admin password": admin.get(f"/web/admin/users/{web_server.user_row(name).id}/password"),
        "admin user page": admin.get(f"/web/admin/users/{web_server.user_row(name).id}"),
        "admin group page": admin.get(
            "/web/admin/groups/"
            + str(web_server.query("SELECT id FROM groups WHERE name = :n", n=group["name"])[0][0])
        ),
        "licence": admin.get("/web/admin/licence"),
        "device name error": client.post("/web/devices", {"name": SCRIPT * 10}),
        "user form error": admin.post(
            "/web/admin/users", {"username": SCRIPT, "password": "short", "display_name": SCRIPT}
        ),
        "login form": stranger.login(SCRIPT, "whatever-1"),
    }
    for label, page in pages.items():
        assert "<script" not in without_htmx(page.text), label
        assert "&lt;script&gt;" in page.text or label in {"admin password", "licence"}, label
    client.close()
    stranger.close()
