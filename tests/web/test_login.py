"""Logging in and out of /web/ on a live server: sessions, throttle, audit."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import ADMIN, WebClient, WebServer, unique

pytestmark = pytest.mark.live


def test_dashboard_sends_anonymous_visitors_to_login(anonymous: WebClient) -> None:
    response = anonymous.get("/web/")
    assert response.status_code == 303
    assert response.headers["location"] == "/web/login?next=/web/"
    assert anonymous.get("/web/devices").headers["location"] == "/web/login?next=/web/devices"
    assert anonymous.get("/web/login").status_code == 200


def test_login_by_name_or_email_then_logout(web_server: WebServer, admin: WebClient) -> None:
    name = unique("login")
    admin.create_user(name, "login-password-1", email=f"{name}@Example.org")
    for login in (name, f"{name}@example.ORG"):
        client = WebClient(web_server)
        response = client.login(login, "login-password-1")
        assert response.status_code == 303
        assert response.headers["location"] == "/web/"
        page = client.get("/web/")
        assert page.status_code == 200
        assert name in page.text
        logout = client.post("/web/logout", {})
        assert logout.status_code == 303
        assert logout.headers["location"] == "/web/login"
        assert not client.logged_in()
        client.close()


def test_session_cookie_flags(anonymous: WebClient) -> None:
    response = anonymous.login(*ADMIN)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kmdav_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "max-age", "path"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "path=/web" in cookie.lower()
    assert "secure" not in attributes  # plain http on loopback


def test_secure_cookie_when_the_proxy_says_https(web_server: WebServer) -> None:
    # 127.0.0.1 is a trusted proxy by default: its X-Forwarded-Proto counts.
    with httpx.Client(
        base_url=web_server.url, headers={"X-Forwarded-Proto": "https"}, timeout=30
    ) as http:
        cookie = http.get("/web/login").headers["set-cookie"]
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_security_headers(anonymous: WebClient) -> None:
    response = anonymous.get("/web/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_wrong_password_is_a_form_error(web_server: WebServer, anonymous: WebClient) -> None:
    name = unique("wrong")
    response = anonymous.login(name, "not-the-password")
    assert response.status_code == 400
    assert "The user name, e-mail address or password is wrong." in response.text
    assert f'value="{name}"' in response.text  # the login name stays in the form
    assert not anonymous.logged_in()
    rows = web_server.query(
        "SELECT source, remote_addr FROM audit_log WHERE action = 'web.login_failed' "
        "AND actor_name = :name",
        name=name,
    )
    assert [tuple(row) for row in rows] == [("web", "127.0.0.1")]


def test_empty_fields_are_errors_next_to_them(anonymous: WebClient) -> None:
    response = anonymous.login("", "")
    assert response.status_code == 400
    assert 'id="e-login"' in response.text
    assert 'id="e-password"' in response.text


def test_failed_logins_are_throttled(web_server: WebServer, admin: WebClient) -> None:
    name = unique("throttled")
    admin.create_user(name, "right-password-1")
    client = WebClient(web_server)
    for _ in range(5):
        assert client.login(name, "wrong-password").status_code == 400
    # Past the allowance even the right password is refused, with a message.
    response = client.login(name, "right-password-1")
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert not client.logged_in()
    # Other users (or the same user from elsewhere) are not locked out.
    assert client.login(*ADMIN).status_code == 303
    client.close()


def test_app_passwords_do_not_open_the_web(web_server: WebServer, user: tuple) -> None:
    client, name, _ = user
    page = client.post("/web/devices", {"name": "phone"})
    password = page.text.split('data-testid="new-app-password">')[1].split("<")[0]
    other = WebClient(web_server)
    assert other.login(name, password).status_code == 400
    assert not other.logged_in()
    other.close()


def test_successful_login_is_audited(web_server: WebServer, user: tuple) -> None:
    _, name, _ = user
    rows = web_server.query(
        "SELECT source, remote_addr FROM audit_log WHERE action = 'web.login' "
        "AND actor_name = :name",
        name=name,
    )
    assert [tuple(row) for row in rows] == [("web", "127.0.0.1")]


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/dav/", "/web\\x"])
def test_login_never_redirects_off_the_web_face(anonymous: WebClient, target: str) -> None:
    response = anonymous.post(
        "/web/login", {"login": ADMIN[0], "password": ADMIN[1], "next": target}
    )
    assert response.headers["location"] == "/web/"


def test_login_returns_to_the_page_asked_for(anonymous: WebClient) -> None:
    response = anonymous.post(
        "/web/login", {"login": ADMIN[0], "password": ADMIN[1], "next": "/web/devices"}
    )
    assert response.headers["location"] == "/web/devices"


def test_forged_cookie_is_no_session(web_server: WebServer, admin: WebClient) -> None:
    cookie = admin.http.cookies["kmdav_session"]
    payload, stamp, signature = cookie.split(".")
    forged = ".".join([payload, stamp, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with httpx.Client(base_url=web_server.url, cookies={"kmdav_session": forged}) as http:
        assert http.get("/web/").status_code == 303


def test_password_change_and_disabling_end_sessions(
    web_server: WebServer, admin: WebClient
) -> None:
    name = unique("ended")
    admin.create_user(name, "first-password-1")
    row = web_server.user_row(name)
    session = WebClient(web_server)
    assert session.login(name, "first-password-1").status_code == 303
    assert session.logged_in()
    reset = admin.post(
        f"/web/admin/users/{row.id}/password",
        {"password": "second-password-2", "password_repeat": "second-password-2"},
    )
    assert reset.status_code == 303
    assert not session.logged_in()
    assert session.login(name, "first-password-1").status_code == 400
    assert session.login(name, "second-password-2").status_code == 303
    assert admin.post(f"/web/admin/users/{row.id}/active", {"active": "0"}).status_code == 303
    assert not session.logged_in()
    assert session.login(name, "second-password-2").status_code == 400
    session.close()
