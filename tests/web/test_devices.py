"""/web/devices on a live server: app passwords made, shown once, used, revoked."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import WebClient, WebServer

pytestmark = pytest.mark.live

PROPFIND = {"Depth": "0"}


def _new_password(page: str) -> str:
    match = re.search(r'data-testid="new-app-password">([^<]+)<', page)
    assert match, "no new app password on the page"
    return match.group(1)


def test_devices_page_shows_server_and_user(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, _ = user
    page = client.get("/web/devices")
    assert page.status_code == 200
    assert f'<code id="dav-url">{web_server.url}/dav/</code>' in page.text
    assert f'<code id="dav-username">{name}</code>' in page.text
    assert "No app passwords yet." in page.text


def test_app_password_is_shown_once_and_syncs_until_revoked(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, _ = user
    created = client.post("/web/devices", {"name": "Anna's phone"})
    assert created.status_code == 200
    password = _new_password(created.text)
    assert created.headers["cache-control"] == "no-store"
    listing = client.get("/web/devices")
    assert password not in listing.text
    assert "Anna&#39;s phone" in listing.text
    assert "never" in listing.text  # not used yet

    home = f"{web_server.url}/dav/{name}/"
    assert (
        httpx.request("PROPFIND", home, headers=PROPFIND, auth=(name, password)).status_code == 207
    )
    assert "never" not in client.get("/web/devices").text  # last used is now known

    (device_id,) = re.findall(r'action="/web/devices/(\d+)/revoke"', listing.text)
    revoked = client.post(f"/web/devices/{device_id}/revoke", {})
    assert revoked.status_code == 303
    page = client.get(revoked.headers["location"])
    assert "can no longer sync" in page.text
    assert "revoked" in page.text
    assert f"/web/devices/{device_id}/revoke" not in page.text
    assert (
        httpx.request("PROPFIND", home, headers=PROPFIND, auth=(name, password)).status_code == 401
    )

    audit = web_server.query(
        "SELECT action, source, remote_addr FROM audit_log "
        "WHERE object_id = :name AND action LIKE 'app_password.%' ORDER BY id",
        name=name,
    )
    assert [tuple(row) for row in audit] == [
        ("app_password.create", "web", "127.0.0.1"),
        ("app_password.revoke", "web", "127.0.0.1"),
    ]


@pytest.mark.parametrize("device_name", ["", "   ", "x" * 101])
def test_invalid_device_names_save_nothing(
    web_server: WebServer, user: tuple[WebClient, str, str], device_name: str
) -> None:
    client, name, _ = user
    response = client.post("/web/devices", {"name": device_name})
    assert response.status_code == 400
    assert 'id="e-name"' in response.text
    assert "data-testid" not in response.text
    rows = web_server.query(
        "SELECT count(*) FROM app_passwords JOIN users ON users.id = app_passwords.user_id "
        "WHERE users.username = :name",
        name=name,
    )
    assert rows[0][0] == 0


def test_nobody_revokes_another_users_device(
    web_server: WebServer, admin: WebClient, user: tuple[WebClient, str, str]
) -> None:
    client, _, _ = user
    mine = admin.post("/web/devices", {"name": "admin laptop"})
    device_id = re.findall(r"/web/devices/(\d+)/revoke", mine.text)[-1]
    assert client.post(f"/web/devices/{device_id}/revoke", {}).status_code == 404
    rows = web_server.query(
        "SELECT revoked_at FROM app_passwords WHERE id = :id", id=int(device_id)
    )
    assert rows[0][0] is None
