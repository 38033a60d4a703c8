"""/web/admin/users on a live server: create, validate, disable, promote, reset."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import ADMIN, WebClient, WebServer, unique

pytestmark = pytest.mark.live


def _field_error(page: str, field: str) -> str:
    match = re.search(rf'id="e-{field}">([^<]*)<', page)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_admin_creates_a_user_who_can_log_in(web_server: WebServer, admin: WebClient) -> None:
    name = unique("new")
    response = admin.create_user(
        name, "new-password-1", email=f"{name}@example.org", display_name="Erika Muster"
    )
    assert response.headers["location"] == "/web/admin/users?notice=created"
    listing = admin.get(response.headers["location"])
    assert "The user was created." in listing.text
    assert name in listing.text
    assert "Erika Muster" in listing.text
    row = web_server.user_row(name)
    assert (row.is_admin, row.is_active, row.display_name) == (False, True, "Erika Muster")
    audit = web_server.query(
        "SELECT actor_name, source, remote_addr FROM audit_log "
        "WHERE action = 'user.create' AND object_id = :name",
        name=name,
    )
    assert [tuple(entry) for entry in audit] == [("admin", "web", "127.0.0.1")]
    client = WebClient(web_server)
    assert client.login(name, "new-password-1").status_code == 303
    client.close()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"username": "bad name", "password": "long-enough-1"}, "username", "user names are"),
        ({"username": "dav", "password": "long-enough-1"}, "username", "reserved"),
        ({"username": "{name}", "password": "short"}, "password", "at least 8"),
        (
            {"username": "{name}", "password": "long-enough-1", "email": "no-at-sign"},
            "email",
            "e-mail address",
        ),
        ({"username": "admin", "password": "long-enough-1"}, "username", "already exists"),
    ],
)
def test_invalid_user_forms_save_nothing(
    web_server: WebServer, admin: WebClient, fields: dict[str, str], field: str, message: str
) -> None:
    name = unique("invalid")
    form = {key: value.replace("{name}", name) for key, value in fields.items()}
    count = web_server.query("SELECT count(*) FROM users")[0][0]
    response = admin.post("/web/admin/users", {"display_name": "Kept Value", **form})
    assert response.status_code == 400
    assert message in _field_error(response.text, field)
    assert 'value="Kept Value"' in response.text  # what was typed stays
    assert form["password"] not in response.text  # passwords never come back
    assert web_server.query("SELECT count(*) FROM users")[0][0] == count


def test_disable_and_enable(web_server: WebServer, admin: WebClient) -> None:
    name = unique("toggle")
    admin.create_user(name, "toggle-password-1")
    user_id = web_server.user_row(name).id
    assert admin.post(f"/web/admin/users/{user_id}/active", {"active": "0"}).status_code == 303
    assert not web_server.user_row(name).is_active
    client = WebClient(web_server)
    assert client.login(name, "toggle-password-1").status_code == 400
    assert admin.post(f"/web/admin/users/{user_id}/active", {"active": "1"}).status_code == 303
    assert client.login(name, "toggle-password-1").status_code == 303
    client.close()


def test_the_last_active_admin_remains(web_server: WebServer, admin: WebClient) -> None:
    admin_id = web_server.user_row("admin").id
    for path, data in (("active", {"active": "0"}), ("admin", {"admin": "0"})):
        response = admin.post(f"/web/admin/users/{admin_id}/{path}", data)
        assert response.status_code == 400
        assert "at least one active administrator must remain" in response.text
        row = web_server.user_row("admin")
        assert (row.is_admin, row.is_active) == (True, True)
    # With a second admin, the first may step down, and the second may not.
    deputy = unique("deputy")
    admin.create_user(deputy, "deputy-password-1", is_admin="on")
    deputy_row = web_server.user_row(deputy)
    assert deputy_row.is_admin
    assert admin.post(f"/web/admin/users/{admin_id}/admin", {"admin": "0"}).status_code == 303
    assert not web_server.user_row("admin").is_admin
    second = WebClient(web_server)
    assert second.login(deputy, "deputy-password-1").status_code == 303
    refused = second.post(f"/web/admin/users/{deputy_row.id}/admin", {"admin": "0"})
    assert refused.status_code == 400
    assert second.post(f"/web/admin/users/{admin_id}/admin", {"admin": "1"}).status_code == 303
    assert web_server.user_row("admin").is_admin
    second.close()


def test_admin_resets_a_password(web_server: WebServer, admin: WebClient) -> None:
    name = unique("reset")
    admin.create_user(name, "old-password-1")
    row = web_server.user_row(name)
    path = f"/web/admin/users/{row.id}/password"
    assert name in admin.get(path).text
    mismatch = admin.post(path, {"password": "new-password-1", "password_repeat": "other-pass-1"})
    assert mismatch.status_code == 400
    assert "differ" in _field_error(mismatch.text, "password_repeat")
    short = admin.post(path, {"password": "short", "password_repeat": "short"})
    assert "at least 8" in _field_error(short.text, "password")
    assert web_server.user_row(name).password_hash == row.password_hash
    done = admin.post(path, {"password": "new-password-1", "password_repeat": "new-password-1"})
    assert done.status_code == 303
    client = WebClient(web_server)
    assert client.login(name, "old-password-1").status_code == 400
    assert client.login(name, "new-password-1").status_code == 303
    client.close()


def test_unknown_user_is_404(admin: WebClient) -> None:
    assert admin.get("/web/admin/users/999999/password").status_code == 404
    assert admin.post("/web/admin/users/999999/active", {"active": "0"}).status_code == 404


def test_admin_login_still_works(anonymous: WebClient) -> None:
    assert anonymous.login(*ADMIN).status_code == 303
