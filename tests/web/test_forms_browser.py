"""The contact form in chromium: built in the UI, its snippet pasted into a
static page on another port (another origin), filled in and sent there;
the contact and the consent then show in the CRM.  The iframe variant
renders inside a foreign page."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import ADMIN, WebServer, open_page, screenshots, unique

pytestmark = pytest.mark.live

CONSENT = "I agree that my details are stored to answer my request."


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def website(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static website on 127.0.0.1 (another port: another origin)."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def log_in(page: Page, server: WebServer) -> None:
    page.goto(server.url + "/web/login")
    page.get_by_label("User name or e-mail").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(server.url + "/web/")


def test_build_embed_and_send_a_contact_form(
    browser: Browser, web_server: WebServer, website: tuple[Path, str]
) -> None:
    folder, site = website
    name = unique("Callback")
    with open_page(browser) as admin:
        log_in(admin, web_server)
        admin.goto(web_server.url + "/web/forms")
        admin.get_by_role("link", name="New form").click()
        admin.get_by_label("Name", exact=True).fill(name)
        admin.get_by_label("Ask for Phone").check()
        admin.get_by_label("Ask for Company").check()
        admin.get_by_label("Consent text (next to the checkbox people must tick)").fill(CONSENT)
        admin.get_by_label("Link to the privacy policy").fill("https://example.com/privacy")
        admin.get_by_role("button", name="Create form").click()
        expect(admin.get_by_role("status")).to_contain_text("The form was created")
        snippet = admin.get_by_label("HTML form (paste into a page of your website)").input_value()
        iframe = admin.get_by_label("Frame (iframe)").input_value()
        screenshots(admin, "forms-builder")
        form_page = admin.url

    (folder / "contact.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Our shop</title></head>"
        f"<body><h1>Write to us</h1>{snippet}</body></html>",
        encoding="utf-8",
    )
    (folder / "framed.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Framed</title></head>"
        f"<body><h1>Framed form</h1>{iframe}</body></html>",
        encoding="utf-8",
    )
    email = f"{unique('lena')}@example.org"
    with open_page(browser) as visitor:
        visitor.goto(f"{site}/contact.html")
        visitor.get_by_label("First name").fill("Lena")
        visitor.get_by_label("Last name").fill("Auer")
        visitor.get_by_label("E-mail *").fill(email)
        visitor.get_by_label("Phone").fill("+43 664 5550101")
        visitor.get_by_label("Company").fill("Auer Bau")
        visitor.get_by_label("Message").fill("Bitte um Rückruf.")
        visitor.get_by_label(CONSENT).check()
        # The embed script swapped in a fresh time token; a person needs a moment.
        visitor.wait_for_timeout(3500)
        visitor.get_by_role("button", name="Send").click()
        expect(visitor.get_by_role("status")).to_contain_text("Thank you")
        assert visitor.url.startswith(web_server.url + "/f/")

    [row] = web_server.query(
        "SELECT r.page_url, c.formatted_name, c.organization FROM consent_records r "
        "JOIN contacts c ON c.id = r.contact_id JOIN contact_emails e ON e.contact_id = c.id "
        "WHERE e.value = :e",
        e=email,
    )
    assert row == (f"{site}/contact.html", "Lena Auer", "Auer Bau")

    [(contact,)] = web_server.query(
        "SELECT contact_id FROM contact_emails WHERE value = :e", e=email
    )
    with open_page(browser) as admin:
        log_in(admin, web_server)
        admin.goto(f"{web_server.url}/web/contacts/{contact}")
        expect(admin.get_by_role("heading", name="Lena Auer")).to_be_visible()
        activity = admin.locator("#timeline")
        expect(activity).to_contain_text("Message: Bitte um Rückruf.")
        admin.goto(form_page)
        consents = admin.get_by_role("region", name="Consent given")
        expect(consents.get_by_role("link", name="Lena Auer")).to_be_visible()
        expect(consents).to_contain_text(f"{site}/contact.html")

    with open_page(browser) as reader:
        reader.goto(f"{site}/framed.html")
        frame = reader.frame_locator("iframe")
        expect(frame.get_by_role("heading", name=name)).to_be_visible()
        expect(frame.get_by_label(CONSENT)).to_be_visible()
        screenshots(reader, "forms-iframe")
