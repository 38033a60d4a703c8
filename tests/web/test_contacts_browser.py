"""Own fields in a real browser (Debian's chromium driven by Playwright).

The admin defines two own fields on /web/admin/fields, creates a person
with them through the contact form; the raw CardDAV GET shows the fields as
``X-KMDAV-<KEY>`` and in their visible form (an ``X-ABDATE`` with its
``X-ABLabel``, a line in the NOTE block).  A "phone" changes both over
CardDAV and the contact page shows the new values.  Screenshots land in
``test-artifacts/``.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import ADMIN, CHROMIUM, WIDTHS, WebServer, screenshots

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make system-packages)"
    ),
]


def test_admin_defines_own_fields_fills_them_and_a_phone_changes_them(
    web_server: WebServer, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    try:
        page.goto(web_server.url + "/web/login")
        page.get_by_label("User name or e-mail").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Log in").click()

        # The admin defines "Kundennummer" (text) and "Kunde seit" (date).
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Contact fields"
        ).click()
        for label, key, kind in (("Kundennummer", "KNR", "Text"), ("Kunde seit", "SINCE", "Date")):
            form = page.locator("form", has=page.get_by_role("button", name="Create field"))
            form.get_by_label("Label (shown to people and on phones)").fill(label)
            form.get_by_label(re.compile(r"^Key \(")).fill(key)
            form.get_by_label("Type").select_option(label=kind)
            form.get_by_role("button", name="Create field").click()
            expect(page.get_by_role("status")).to_have_text("The field was created.")
        expect(page.locator("#field-defs li")).to_have_count(2)
        screenshots(page, "contact-fields")

        # ... and fills them for a new person.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
        page.get_by_role("link", name="New person").click()
        page.get_by_label("Given name").fill("Erika")
        page.get_by_label("Family name").fill("Mustermann")
        page.get_by_label("E-mail 1", exact=True).fill("erika@example.org")
        page.get_by_label("Kundennummer").fill("K-1001")
        page.get_by_label("Kunde seit").fill("2021-05-17")
        screenshots(page, "contact-new")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("The contact was created.")
        expect(page.locator('dd[data-key="KNR"]')).to_contain_text("K-1001")
        contact_id = re.search(r"/web/contacts/(\d+)", page.url)
        assert contact_id

        # The phone's view: a raw CardDAV GET of the card.
        href = web_server.query(
            "SELECT dav_items.href FROM contacts JOIN dav_items ON dav_items.id = contacts.item_id "
            "WHERE contacts.id = :id",
            id=int(contact_id.group(1)),
        )[0][0]
        url = f"{web_server.url}/dav/admin/company-contacts/{href}"
        with httpx.Client(auth=ADMIN, timeout=30) as phone:
            got = phone.get(url)
            body = got.text
            assert "X-KMDAV-KNR:K-1001\r\n" in body
            assert "X-KMDAV-SINCE:2021-05-17\r\n" in body
            assert re.search(
                r"(item\d+)\.X-ABDATE:2021-05-17\r\n\1\.X-ABLabel:Kunde seit\r\n", body
            )
            assert "--- kmdav fields ---\\nKundennummer: K-1001" in body.replace("\r\n ", "")

            # The phone changes the number in the note and the date in its label item.
            changed = body.replace("Kundennummer: K-1001", "Kundennummer: K-2002").replace(
                "X-ABDATE:2021-05-17", "X-ABDATE:2022-06-18"
            )
            put = phone.put(
                url,
                content=changed.encode(),
                headers={"Content-Type": "text/vcard", "If-Match": got.headers["etag"]},
            )
            assert put.status_code == 204

        page.reload()
        expect(page.locator('dd[data-key="KNR"]')).to_contain_text("K-2002")
        expect(page.locator('dd[data-key="SINCE"]')).to_contain_text("2022-06-18")
        screenshots(page, "contact-detail")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
        page.get_by_label("Search (name, company, e-mail, phone, city, notes, own fields)").fill(
            "K-2002"
        )
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("#contacts tbody tr")).to_have_count(1)
        screenshots(page, "contacts")
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        context.close()
