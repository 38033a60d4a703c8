"""htmx in a real browser (Debian's chromium driven by Playwright).

A new app password appears right below the form that made it, and a
refused name next to its field, without a page load.  Revoking an app
password swaps just its row (and drops a password shown
once, as the plain form's page load does), without a page load and
without any Content-Security-Policy complaint; with JavaScript off the same
button still works as a plain form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.web.conftest import CHROMIUM, WebClient, WebServer, open_page

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make system-packages)"
    ),
]


@contextmanager
def _devices_page(
    browser: Browser,
    server: WebServer,
    user: tuple[WebClient, str, str],
    console: Callable[[ConsoleMessage], None] | None = None,
    **options: Any,
) -> Iterator[Page]:
    """The user's devices page in a new browser, just after making "Old phone"
    (``console`` hears the browser's console from the first page on)."""
    _, name, password = user
    with open_page(browser, **options) as page:
        if console is not None:
            page.on("console", console)
        page.goto(server.url + "/web/login")
        page.get_by_label("User name or e-mail").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
        page.goto(server.url + "/web/devices")
        page.get_by_label("Device name").fill("Old phone")
        page.get_by_role("button", name="Create app password").click()
        expect(page.get_by_test_id("new-app-password")).to_be_visible()
        yield page


def test_revoke_swaps_the_row_in_place(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    complaints: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        # Browsers ask for /favicon.ico on their own; there is none yet.
        if message.type in {"error", "warning"} and "favicon" not in message.location["url"]:
            complaints.append(f"{message.text} ({message.location['url']})")

    with _devices_page(browser, web_server, user, listen) as page:
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


def test_revoke_works_without_javascript(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    with _devices_page(browser, web_server, user, java_script_enabled=False) as page:
        page.get_by_role("button", name="Revoke Old phone").click()
        expect(page).to_have_url(web_server.url + "/web/devices?notice=revoked")
        expect(page.locator("p.notice").first).to_contain_text("can no longer sync")
        expect(page.get_by_role("row", name="Old phone")).to_contain_text("revoked")


def test_new_password_appears_below_the_form(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    with _devices_page(browser, web_server, user) as page:
        page.reload()  # the first password came with a whole page; start afresh
        page.evaluate("window.kmdavStillHere = true")
        form_section = page.locator("#new-device")

        form_section.get_by_role("button", name="Create app password").click()
        expect(form_section.locator("#e-name")).to_be_visible()  # a 400, swapped in

        form_section.get_by_label("Device name").fill("New tablet")
        form_section.get_by_role("button", name="Create app password").click()
        secret = form_section.get_by_test_id("new-app-password")
        expect(secret).to_be_visible()
        assert len(secret.inner_text().strip()) == 32
        expect(
            form_section.get_by_role("heading", name="App password for “New tablet”")
        ).to_be_focused()
        expect(page.get_by_role("row", name="New tablet")).to_be_visible()  # the list, too
        expect(form_section.get_by_label("Device name")).to_have_value("")
        assert page.evaluate("window.kmdavStillHere") is True


def test_ended_login_leads_to_the_login_page(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    with _devices_page(browser, web_server, user) as page:
        page.context.clear_cookies()  # the session ends (as after a password change)
        page.get_by_role("button", name="Revoke Old phone").click()
        # The stale token is refused (403 with HX-Refresh) and the reloaded
        # page sends the browser to the login: no error swapped into the table.
        expect(page).to_have_url(web_server.url + "/web/login?next=/web/devices")
        expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
