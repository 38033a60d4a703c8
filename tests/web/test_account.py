"""/web/account on a live server: own password, and the forced change after a reset."""

from __future__ import annotations

import pytest

from tests.web.conftest import WebClient, WebServer, field_error, unique

pytestmark = pytest.mark.live

PATH = "/web/account/password"
NEW_PASSWORD = "/web/account/new-password"


def test_the_header_links_to_the_account_page(user: tuple[WebClient, str, str]) -> None:
    client, name, _ = user
    assert 'href="/web/account"' in client.get("/web/").text
    page = client.get("/web/account")
    assert page.status_code == 200
    assert name in page.text
    assert "Change your password" in page.text


def test_anonymous_visitors_are_sent_to_login(anonymous: WebClient) -> None:
    assert anonymous.get("/web/account").headers["location"] == "/web/login?next=/web/account"


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {
                "current_password": "not-it-at-all",
                "password": "n3w-password",
                "password_repeat": "n3w-password",
            },
            "current_password",
            "current password is wrong",
        ),
        (
            {"current_password": "{current}", "password": "short", "password_repeat": "short"},
            "password",
            "at least 8",
        ),
        (
            {
                "current_password": "{current}",
                "password": "n3w-password",
                "password_repeat": "other-pass-1",
            },
            "password_repeat",
            "differ",
        ),
        (
            {
                "current_password": "{current}",
                "password": "{current}",
                "password_repeat": "{current}",
            },
            "password",
            "different from the current",
        ),
    ],
)
def test_invalid_password_changes_change_nothing(
    web_server: WebServer,
    user: tuple[WebClient, str, str],
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    client, name, password = user
    before = web_server.user_row(name).password_hash
    filled = {key: value.replace("{current}", password) for key, value in form.items()}
    response = client.post(PATH, filled)
    assert response.status_code == 400
    assert message in field_error(response.text, field)
    assert password not in response.text
    assert web_server.user_row(name).password_hash == before
    assert client.logged_in()


def test_changing_the_password_keeps_this_browser_and_ends_the_others(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, password = user
    other = WebClient(web_server)
    assert other.login(name, password).status_code == 303
    changed = client.post(
        PATH,
        {"current_password": password, "password": "brand-new-1", "password_repeat": "brand-new-1"},
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/web/account?notice=password"
    assert "Other browsers are logged out" in client.get(changed.headers["location"]).text
    assert client.logged_in()
    assert not other.logged_in()
    assert other.login(name, password).status_code == 400
    assert other.login(name, "brand-new-1").status_code == 303
    rows = web_server.query(
        "SELECT actor_name, source FROM audit_log WHERE action = 'user.password_change' "
        "AND object_id = :name",
        name=name,
    )
    assert [tuple(row) for row in rows] == [(name, "web")]
    other.close()


def _reset_by_admin(web_server: WebServer, admin: WebClient, prefix: str) -> tuple[str, int]:
    """A new user whose password an admin then set to ``given-password-1``."""
    name = unique(prefix)
    admin.create_user(name, "first-password-1")
    user_id = web_server.user_row(name).id
    reset = admin.post(
        f"/web/admin/users/{user_id}/password",
        {"password": "given-password-1", "password_repeat": "given-password-1"},
    )
    assert reset.status_code == 303
    return name, user_id


def test_after_an_admin_reset_the_user_must_choose_a_new_password(
    web_server: WebServer, admin: WebClient
) -> None:
    name, user_id = _reset_by_admin(web_server, admin, "forced")
    flag = "SELECT must_change_password FROM users WHERE id = :id"
    assert web_server.query(flag, id=user_id)[0][0]

    client = WebClient(web_server)
    assert client.login(name, "given-password-1").status_code == 303
    # Every page, and every form, leads to the new-password page first.
    for path in ("/web/", "/web/devices", "/web/account"):
        assert client.get(path).headers["location"] == NEW_PASSWORD, path
    planted = client.post("/web/devices", {"name": "sneaked in"})
    assert planted.headers["location"] == NEW_PASSWORD
    assert web_server.query("SELECT count(*) FROM app_passwords WHERE user_id = :id", id=user_id)[
        0
    ] == (0,)
    page = client.get(NEW_PASSWORD)
    assert page.status_code == 200
    assert "Choose a new password" in page.text
    same = client.post(
        NEW_PASSWORD, {"password": "given-password-1", "password_repeat": "given-password-1"}
    )
    assert "different from the current" in field_error(same.text, "password")
    mismatch = client.post(NEW_PASSWORD, {"password": "own-password-1", "password_repeat": "x"})
    assert "differ" in field_error(mismatch.text, "password_repeat")
    chosen = client.post(
        NEW_PASSWORD, {"password": "own-password-1", "password_repeat": "own-password-1"}
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/web/"
    assert client.get("/web/").status_code == 200  # still logged in, free to go on
    assert client.get(NEW_PASSWORD).headers["location"] == "/web/account"
    assert not web_server.query(flag, id=user_id)[0][0]
    again = WebClient(web_server)
    assert again.login(name, "given-password-1").status_code == 400
    assert again.login(name, "own-password-1").status_code == 303
    assert again.get("/web/").status_code == 200
    client.close()
    again.close()


def test_logging_out_works_while_a_new_password_is_due(
    web_server: WebServer, admin: WebClient
) -> None:
    name, _ = _reset_by_admin(web_server, admin, "due")
    client = WebClient(web_server)
    assert client.login(name, "given-password-1").status_code == 303
    assert client.post("/web/logout", {}).headers["location"] == "/web/login"
    assert client.get("/web/").headers["location"] == "/web/login?next=/web/"
    client.close()
