"""htmx without a browser: the script is served from the npm install, the
page configures it without inline code, and the revoke fragment works."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import HTMX_SCRIPT, WebClient, WebServer

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
HTMX = {"HX-Request": "true"}


def _pinned_version() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version: str = lock["packages"]["node_modules/htmx.org"]["version"]
    return version


def test_htmx_is_served_as_javascript(anonymous: WebClient) -> None:
    script = anonymous.get("/web/static/vendor/htmx.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    assert f'version:"{_pinned_version()}"' in script.text


def test_pages_load_htmx_without_inline_code(anonymous: WebClient) -> None:
    page = anonymous.get("/web/login")
    assert HTMX_SCRIPT in page.text
    assert len(re.findall(r"<script\b", page.text)) == 1  # that file, nothing inline
    assert "<style" not in page.text
    assert " style=" not in page.text
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page.text)
    assert match
    config = json.loads(match.group(1))
    assert config["includeIndicatorStyles"] is False  # htmx would inject a <style>
    assert config["allowEval"] is False
    assert config["historyCacheSize"] == 0  # no page copies (they may hold a password)
    assert {"code": "400", "swap": True} in config["responseHandling"]  # form errors
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe" not in csp


def _new_device(client: WebClient, name: str) -> str:
    page = client.post("/web/devices", {"name": name})
    assert page.status_code == 200
    (device_id,) = re.findall(r'<tr id="device-(\d+)"', page.text)
    return device_id


def test_revoke_answers_htmx_with_the_row(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, _, _ = user
    device_id = _new_device(client, "tablet")
    answer = client.http.post(
        f"/web/devices/{device_id}/revoke", data={"csrf_token": client.token()}, headers=HTMX
    )
    assert answer.status_code == 200
    assert answer.text.startswith(f'<tr id="device-{device_id}">')
    assert "<html" not in answer.text
    assert ">revoked " in answer.text
    assert "/revoke" not in answer.text  # nothing left to revoke
    assert 'id="devices-status" hx-swap-oob="innerHTML"' in answer.text
    assert "can no longer sync" in answer.text
    rows = web_server.query("SELECT revoked_at FROM app_passwords WHERE id = :id", id=device_id)
    assert rows[0][0] is not None


def test_revoke_without_htmx_still_redirects(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, _, _ = user
    device_id = _new_device(client, "desktop")
    answer = client.post(f"/web/devices/{device_id}/revoke", {})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/devices?notice=revoked"


def test_htmx_revoke_still_needs_the_csrf_token(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, _, _ = user
    device_id = _new_device(client, "watch")
    refused = client.http.post(f"/web/devices/{device_id}/revoke", data={}, headers=HTMX)
    assert refused.status_code == 403
    assert refused.headers["hx-refresh"] == "true"  # the page's token is stale: reload it
    forged = httpx.post(
        f"{web_server.url}/web/devices/{device_id}/revoke",
        data={"csrf_token": "forged"},
        headers=HTMX,
    )
    assert forged.status_code == 403
    rows = web_server.query("SELECT revoked_at FROM app_passwords WHERE id = :id", id=device_id)
    assert rows[0][0] is None


def test_new_password_goes_below_the_form_for_htmx(user: tuple[WebClient, str, str]) -> None:
    client, _, _ = user
    plain = client.post("/web/devices", {"name": "laptop"})
    assert plain.text.index('data-testid="new-app-password"') < plain.text.index('id="new-device"')
    swapped = client.http.post(
        "/web/devices", data={"csrf_token": client.token(), "name": "phone"}, headers=HTMX
    )
    assert swapped.status_code == 200
    form_section = swapped.text.index('id="new-device"')
    list_section = swapped.text.index('id="device-list"')
    assert form_section < swapped.text.index('data-testid="new-app-password"') < list_section
    assert swapped.text.count('data-testid="new-app-password"') == 1

    refused = client.http.post(
        "/web/devices", data={"csrf_token": client.token(), "name": ""}, headers=HTMX
    )
    assert refused.status_code == 400
    assert 'id="e-name"' in refused.text


def test_htmx_request_after_the_login_ended_navigates_to_the_login(
    web_server: WebServer, user: tuple[WebClient, str, str], anonymous: WebClient
) -> None:
    client, _, _ = user
    device_id = _new_device(client, "kiosk")
    # A visitor's session has a valid token but no login.
    answer = anonymous.http.post(
        f"/web/devices/{device_id}/revoke",
        data={"csrf_token": anonymous.token()},
        headers={**HTMX, "HX-Current-URL": f"{web_server.url}/web/devices"},
    )
    assert answer.status_code == 200
    assert answer.headers["hx-redirect"] == "/web/login?next=/web/devices"
    assert answer.text == ""
    plain = anonymous.post(f"/web/devices/{device_id}/revoke", {})
    assert plain.status_code == 303
