"""htmx in a real browser (Debian's chromium driven by Playwright).

Revoking an app password swaps just its row (and drops a password shown
once, as the plain form's page load does), without a page load and
without any Content-Security-Policy complaint; with JavaScript off the same
button still works as a plain form.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.web.conftest import CHROMIUM, WebClient, WebServer

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make system-packages)"
    ),
]


def _log_in_and_make_a_device(page: Page, server: WebServer, name: str, password: str) -> None:
    page.goto(server.url + "/web/login")
    page.get_by_label("User name or e-mail").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
    page.goto(server.url + "/web/devices")
    page.get_by_label("Device name").fill("Old phone")
    page.get_by_role("button", name="Create app password").click()
    expect(page.get_by_test_id("new-app-password")).to_be_visible()


def test_revoke_swaps_the_row_in_place(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    _, name, password = user
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    complaints: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        # Browsers ask for /favicon.ico on their own; there is none yet.
        if message.type in {"error", "warning"} and "favicon" not in message.location["url"]:
            complaints.append(f"{message.text} ({message.location['url']})")

    page.on("console", listen)
    try:
        _log_in_and_make_a_device(page, web_server, name, password)
        assert page.evaluate("typeof htmx") == "object"
        # A mark that a page load would wipe out.
        page.evaluate("window.kmdavStillHere = true")
        row = page.get_by_role("row", name="Old phone")
        row.get_by_role("button", name="Revoke Old phone").click()

        expect(row.get_by_text("revoked", exact=False)).to_be_visible()
        expect(row.get_by_role("button")).to_have_count(0)
        expect(page.locator("#devices-status")).to_contain_text("can no longer sync")
        assert page.evaluate("window.kmdavStillHere") is True
        assert page.url == web_server.url + "/web/devices"
        # The password shown once leaves the page, as after the plain form.
        expect(page.get_by_test_id("new-app-password")).to_have_count(0)
        assert not [text for text in complaints if "Content Security Policy" in text]
        assert not complaints, complaints
    finally:
        context.close()


def test_revoke_works_without_javascript(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    _, name, password = user
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _log_in_and_make_a_device(page, web_server, name, password)
        page.get_by_role("button", name="Revoke Old phone").click()
        expect(page).to_have_url(web_server.url + "/web/devices?notice=revoked")
        expect(page.locator("p.notice").first).to_contain_text("can no longer sync")
        expect(page.get_by_role("row", name="Old phone")).to_contain_text("revoked")
    finally:
        context.close()
