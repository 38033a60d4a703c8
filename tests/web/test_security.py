"""Security probes of the web face: CSRF, admin-only routes, HTML escaping."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from kmdav.faces.web import admin_groups, admin_users
from tests.web.conftest import ADMIN, WebClient, WebServer, unique, without_htmx

pytestmark = pytest.mark.live

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _state(server: WebServer) -> list[tuple[object, ...]]:
    """Everything a web form could change."""
    users = server.query(
        "SELECT username, email, display_name, is_admin, is_active, password_hash "
        "FROM users ORDER BY id"
    )
    devices = server.query("SELECT id, name, revoked_at FROM app_passwords ORDER BY id")
    groups = server.query("SELECT id, name, parent_id, description FROM groups ORDER BY id")
    members = server.query(
        "SELECT group_id, user_id FROM group_memberships ORDER BY group_id, user_id"
    )
    return [tuple(row) for rows in (users, devices, groups, members) for row in rows]


def _group_with_member(admin: WebClient, server: WebServer, member_id: int) -> int:
    """A fresh group (made through the web face) with one member."""
    name = unique("group")
    assert admin.post("/web/admin/groups", {"name": name, "parent": ""}).status_code == 303
    group_id = int(server.query("SELECT id FROM groups WHERE name = :n", n=name)[0][0])
    member = server.query("SELECT username FROM users WHERE id = :id", id=member_id)[0][0]
    added = admin.post(f"/web/admin/groups/{group_id}/members", {"username": member})
    assert added.status_code == 303
    return group_id


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
    forms = {
        "/web/admin/users": {"username": unique("intruder"), "password": "intruder-pass-1"},
        f"/web/admin/users/{victim_id}/active": {"active": "0"},
        f"/web/admin/users/{victim_id}/admin": {"admin": "1"},
        f"/web/admin/users/{victim_id}/password": {
            "password": "taken-over-1",
            "password_repeat": "taken-over-1",
        },
        "/web/admin/groups": {"name": unique("planted"), "parent": ""},
        f"/web/admin/groups/{group_id}/members": {"username": ADMIN[0]},
        f"/web/admin/groups/{group_id}/members/{victim_id}/remove": {},
        f"/web/admin/groups/{group_id}/delete": {},
        "/web/devices": {"name": "planted device"},
        "/web/devices/profile": {"profile_name": "planted profile"},
        f"/web/devices/{device_id}/revoke": {},
        "/web/logout": {},
        "/web/login": {"login": ADMIN[0], "password": ADMIN[1]},
    }
    before = _state(web_server)
    for path, data in forms.items():
        form = dict(data) if token is None else {"csrf_token": token, **data}
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
    for route in [*admin_users.routes, *admin_groups.routes]:
        assert isinstance(route, Route)
        path = "/web" + route.path.replace("{user_id:int}", str(user_id))
        path = path.replace("{group_id:int}", str(group_id))
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
    assert len(requests) >= 11
    forms = {
        "/web/admin/users": {"username": unique("sneaky"), "password": "sneaky-pass-1"},
        f"/web/admin/users/{target_id}/active": {"active": "0"},
        f"/web/admin/users/{target_id}/admin": {"admin": "1"},
        f"/web/admin/users/{target_id}/password": {
            "password": "taken-over-1",
            "password_repeat": "taken-over-1",
        },
        "/web/admin/groups": {"name": unique("sneaky"), "parent": ""},
        f"/web/admin/groups/{group_id}/members": {"username": name},
        f"/web/admin/groups/{group_id}/members/{target_id}/remove": {},
        f"/web/admin/groups/{group_id}/delete": {},
    }
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


def test_script_in_names_is_escaped_everywhere(web_server: WebServer, admin: WebClient) -> None:
    name = unique("xss")
    admin.create_user(name, "xss-password-1", display_name=SCRIPT)
    client, stranger = WebClient(web_server), WebClient(web_server)
    assert client.login(name, "xss-password-1").status_code == 303
    created = client.post("/web/devices", {"name": SCRIPT})
    assert created.status_code == 200
    group = {"name": SCRIPT + unique(""), "parent": "", "description": SCRIPT}
    assert admin.post("/web/admin/groups", group).status_code == 303
    pages = {
        "devices, just created": created,
        "devices": client.get("/web/devices"),
        "dashboard": client.get("/web/"),
        "logout": client.get("/web/logout"),
        "admin users": admin.get("/web/admin/users"),
        "admin groups": admin.get("/web/admin/groups"),
        "group form error": admin.post("/web/admin/groups", group),
        "admin password": admin.get(f"/web/admin/users/{web_server.user_row(name).id}/password"),
        "device name error": client.post("/web/devices", {"name": SCRIPT * 10}),
        "user form error": admin.post(
            "/web/admin/users", {"username": SCRIPT, "password": "short", "display_name": SCRIPT}
        ),
        "login form": stranger.login(SCRIPT, "whatever-1"),
    }
    for label, page in pages.items():
        assert "<script" not in without_htmx(page.text), label
        assert "&lt;script&gt;" in page.text or label == "admin password", label
    client.close()
    stranger.close()
