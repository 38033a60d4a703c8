"""The language switcher in a real browser (Debian's chromium), with
screenshots of German pages at phone and desktop widths in ``test-artifacts/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import CHROMIUM, WebClient, WebServer, open_page, screenshots

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make system-packages)"
    ),
]


def test_switch_to_german_with_the_keyboard_then_log_in(
    web_server: WebServer, browser: Browser, user: tuple[WebClient, str, str]
) -> None:
    _, name, password = user
    with open_page(browser, locale="en-US") as page:
        page.goto(web_server.url + "/web/login")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_label("Language").select_option("de")
        page.get_by_label("Language").press("Tab")
        page.keyboard.press("Enter")  # the switcher's button
        expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        screenshots(page, "login-de")

        page.get_by_label("Benutzername oder E-Mail").fill(name)
        page.get_by_label("Passwort").fill(password)
        page.get_by_role("button", name="Anmelden").click()
        # The user's own language (English) wins once logged in ...
        expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
        # ... until they switch: then it is theirs.
        page.get_by_label("Language").select_option("de")
        page.get_by_role("button", name="Switch").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Hallo")
        page.get_by_role("navigation", name="Hauptnavigation").get_by_role(
            "link", name="Geräte"
        ).click()
        page.get_by_label("Name des Geräts").fill("Tablet")
        page.get_by_role("button", name="App-Passwort erstellen").click()
        expect(page.get_by_role("heading", name="App-Passwort für „Tablet“")).to_be_visible()
        screenshots(page, "devices-de")
