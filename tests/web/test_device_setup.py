"""/web/devices: the DAVx5 QR code and the Apple configuration profile."""

from __future__ import annotations

import plistlib
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from kmdav.faces.web._device_setup import qr_svg
from tests.web.conftest import WebClient, WebServer, without_htmx

pytestmark = pytest.mark.live

PAYLOAD_TYPES = ["com.apple.carddav.account", "com.apple.caldav.account"]


def _accounts(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The two account payloads by kind ("CardDAV", "CalDAV")."""
    content = profile["PayloadContent"]
    assert [payload["PayloadType"] for payload in content] == PAYLOAD_TYPES
    return {"CardDAV": content[0], "CalDAV": content[1]}


def _check_profile(
    server: WebServer, response: httpx.Response, name: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-apple-aspen-config"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["cache-control"] == "no-store"
    profile = plistlib.loads(response.content)
    assert profile["PayloadType"] == "Configuration"
    location = urlsplit(server.url)
    accounts = _accounts(profile)
    for kind, payload in accounts.items():
        assert payload[f"{kind}HostName"] == location.hostname
        assert payload[f"{kind}Port"] == location.port
        assert payload[f"{kind}UseSSL"] is False  # the test server speaks plain HTTP
        assert payload[f"{kind}PrincipalURL"] == f"{server.url}/dav/{name}/"
        assert payload[f"{kind}Username"] == name
        assert payload["PayloadIdentifier"].startswith(profile["PayloadIdentifier"] + ".")
        assert name in payload["PayloadIdentifier"]
    uuids = [profile["PayloadUUID"]] + [p["PayloadUUID"] for p in accounts.values()]
    assert len(set(uuids)) == 3
    return profile, accounts


def test_devices_page_shows_a_davx5_qr_code_without_a_password(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, password = user
    page = client.get("/web/devices")
    expected = f"caldav://{name}@{urlsplit(web_server.url).netloc}/dav/"
    assert f'<code id="davx5-uri">{expected}</code>' in page.text
    # Regenerated from the expected text, the SVG is the one on the page.
    svg = qr_svg(expected, "QR code for DAVx5")
    assert svg.startswith("<svg")
    assert 'class="qr"' in svg
    assert svg in page.text
    assert password not in page.text
    assert "<script" not in without_htmx(page.text)


def test_a_user_name_with_an_at_sign_is_escaped_in_the_qr_link(
    web_server: WebServer, admin: WebClient
) -> None:
    name = f"mail@{urlsplit(web_server.url).hostname}-x"
    admin.create_user(name, "at-sign-password-1")
    client = WebClient(web_server)
    assert client.login(name, "at-sign-password-1").status_code == 303
    page = client.get("/web/devices")
    assert f"caldav://{name.replace('@', '%40')}@" in page.text
    client.close()


def test_profile_without_a_password_lets_the_device_ask(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, _ = user
    first, accounts = _check_profile(web_server, client.get("/web/devices/profile"), name)
    for kind, payload in accounts.items():
        assert f"{kind}Password" not in payload
    second, _ = _check_profile(web_server, client.get("/web/devices/profile"), name)
    # The same identifier replaces an installed profile; the UUIDs are new each time.
    assert second["PayloadIdentifier"] == first["PayloadIdentifier"]
    assert second["PayloadUUID"] != first["PayloadUUID"]
    count = web_server.query(
        "SELECT count(*) FROM app_passwords JOIN users ON users.id = app_passwords.user_id "
        "WHERE users.username = :name",
        name=name,
    )
    assert count[0][0] == 0


def test_profile_with_a_new_app_password_syncs(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, account_password = user
    response = client.post("/web/devices/profile", {"profile_name": "Anna's iPhone"})
    _, accounts = _check_profile(web_server, response, name)
    password = accounts["CardDAV"]["CardDAVPassword"]
    assert accounts["CalDAV"]["CalDAVPassword"] == password
    assert password != account_password
    assert "Anna's iPhone" in accounts["CalDAV"]["CalDAVAccountDescription"]

    home = f"{web_server.url}/dav/{name}/"
    propfind = httpx.request("PROPFIND", home, headers={"Depth": "0"}, auth=(name, password))
    assert propfind.status_code == 207

    listing = client.get("/web/devices")
    assert "Anna&#39;s iPhone" in listing.text
    assert password not in listing.text
    audit = web_server.query(
        "SELECT action, source, remote_addr, details FROM audit_log "
        "WHERE object_id = :name AND action LIKE 'app_password.%' ORDER BY id",
        name=name,
    )
    assert [tuple(row)[:3] for row in audit] == [("app_password.create", "web", "127.0.0.1")]
    assert "apple-profile" in str(audit[0].details)


@pytest.mark.parametrize("device_name", ["", "x" * 101])
def test_invalid_profile_device_name_shows_the_form_again(
    web_server: WebServer, user: tuple[WebClient, str, str], device_name: str
) -> None:
    client, name, _ = user
    response = client.post("/web/devices/profile", {"profile_name": device_name})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="e-profile_name"' in response.text
    assert 'id="e-name"' not in response.text
    count = web_server.query(
        "SELECT count(*) FROM app_passwords JOIN users ON users.id = app_passwords.user_id "
        "WHERE users.username = :name",
        name=name,
    )
    assert count[0][0] == 0


def test_profile_needs_a_login(web_server: WebServer, anonymous: WebClient) -> None:
    response = anonymous.get("/web/devices/profile")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/web/login")
