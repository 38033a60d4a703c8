"""One story in a real browser (Debian's chromium driven by Playwright).

The admin creates Erika with module seats (checked on her page and the
licence overview); Erika makes an app password on the devices page;
the caldav library syncs with it, and is refused once Erika revokes it.
Then the admin shares a calendar with the parent group of Erika's group on
the sharing page, and Erika's CalDAV client finds it, reads the admin's
event and is refused a write (the share is read-only). Erika opens her
account page; the admin reads the audit log.
Screenshots of the main pages at phone and desktop widths land in
``test-artifacts/`` (look at them when the layout changes).
"""

from __future__ import annotations

import caldav
import httpx
import pytest
from caldav.lib.error import AuthorizationError, DAVError
from playwright.sync_api import Browser, Page, expect

from tests.dav.cards import event
from tests.web.conftest import ADMIN, CHROMIUM, WIDTHS, WebServer, screenshots

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make system-packages)"
    ),
]


def dav_status(server: WebServer, user: str, password: str) -> int:
    return httpx.request(
        "PROPFIND", f"{server.url}/dav/{user}/", headers={"Depth": "0"}, auth=(user, password)
    ).status_code


def test_admin_creates_erika_who_connects_and_disconnects_a_device(
    web_server: WebServer, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # The admin logs in (the dashboard sends them to the login form first).
        page.goto(web_server.url + "/web/")
        expect(page).to_have_url(web_server.url + "/web/login?next=/web/")
        screenshots(page, "login")
        page.get_by_label("User name or e-mail").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, admin")

        # ... creates Erika ...
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
        form = page.locator("form", has=page.get_by_role("button", name="Create user"))
        form.get_by_label("User name").fill("erika")
        form.get_by_label("E-mail (optional)").fill("erika@example.org")
        form.get_by_label("Display name (optional)").fill("Erika Mustermann")
        form.get_by_label("Password").fill("erika-password-1")
        # Her seats: calendar and tasks are offered ticked; she also gets the newsletter.
        expect(form.get_by_label("Calendar")).to_be_checked()
        expect(form.get_by_label("Tasks")).to_be_checked()
        form.get_by_label("Newsletter").check()
        form.get_by_role("button", name="Create user").click()
        expect(page.get_by_role("status")).to_have_text("The user was created.")
        expect(page.get_by_role("cell", name="erika Erika Mustermann")).to_be_visible()
        screenshots(page, "users")

        # Her page lists the seats; the licence overview bills them.
        page.get_by_role("link", name="erika", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("erika")
        expect(page.get_by_label("Newsletter", exact=True)).to_be_checked()
        expect(page.get_by_label("Billing", exact=True)).not_to_be_checked()
        # A direct grant shows in her effective permissions, with its reason.
        page.get_by_label("Newsletter: Export").check()
        page.get_by_role("button", name="Save permissions").click()
        expect(page.locator("#eff-newsletter-export")).to_contain_text("granted")
        expect(page.locator("#eff-newsletter-export")).to_contain_text("direct")
        expect(page.locator("#eff-billing-export")).not_to_contain_text("granted")
        screenshots(page, "user")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Licence").click()
        expect(page.locator("#licence-newsletter")).to_contain_text("erika")
        expect(page.locator("#licence-billing")).not_to_contain_text("erika")
        # admin: base + all ten modules; erika: base + three seats.
        expect(page.locator("#licence-total")).to_contain_text("160")
        screenshots(page, "licence")

        # ... builds a small group tree with Erika in the subgroup ...
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
        form = page.locator("form", has=page.get_by_role("button", name="Create group"))
        form.get_by_label("Group name").fill("Staff")
        form.get_by_role("button", name="Create group").click()
        expect(page.get_by_role("status")).to_have_text("The group was created.")
        form.get_by_label("Group name").fill("Sales")
        form.get_by_label("Parent group (optional)").select_option(label="Staff")
        form.get_by_role("button", name="Create group").click()
        page.get_by_label("Add a member to Sales").fill("erika")
        page.get_by_label("Add a member to Sales").press("Enter")
        expect(page.get_by_role("status")).to_have_text("The member was added.")
        staff = page.locator("li.group", has=page.get_by_role("heading", name="Staff", exact=True))
        expect(staff.get_by_role("list", name="Members of Sales")).to_have_text("erika Remove")
        screenshots(page, "groups")

        # ... and logs out.
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(web_server.url + "/web/login")

        # Erika logs in with the keyboard alone: skip link first, then the form.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.get_by_label("User name or e-mail").focus()
        page.keyboard.type("erika@example.org")
        page.keyboard.press("Tab")
        page.keyboard.type("erika-password-1")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Erika Mustermann")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Users")).to_have_count(0)  # not an admin

        # She makes an app password for her phone and reads it off the page.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
        expect(page.locator("#dav-url")).to_have_text(web_server.url + "/dav/")
        expect(page.locator("#dav-username")).to_have_text("erika")
        page.get_by_label("Device name").fill("Erika's phone")
        page.get_by_role("button", name="Create app password").click()
        secret = page.get_by_test_id("new-app-password").inner_text().strip()
        assert len(secret) == 32
        screenshots(page, "devices")

        # A real CalDAV client syncs with it.
        with caldav.DAVClient(
            url=web_server.url + "/dav/", username="erika", password=secret
        ) as client:
            names = {calendar.get_display_name() for calendar in client.principal().get_calendars()}
        assert names == {"Calendar", "Tasks"}

        # She revokes it in the browser; the client is refused from then on.
        page.get_by_role("button", name="Revoke Erika's phone").click()
        expect(page.get_by_role("status")).to_contain_text("can no longer sync")
        expect(page.get_by_role("cell", name="revoked")).to_be_visible()
        with (
            caldav.DAVClient(
                url=web_server.url + "/dav/", username="erika", password=secret
            ) as client,
            pytest.raises(AuthorizationError),
        ):
            client.principal().get_calendars()
        assert dav_status(web_server, "erika", secret) == 401

        # A new app password for her laptop, then she logs out.
        page.get_by_label("Device name").fill("Erika's laptop")
        page.get_by_role("button", name="Create app password").click()
        laptop = page.get_by_test_id("new-app-password").inner_text().strip()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(web_server.url + "/web/login")

        share_a_calendar_with_staff(page, web_server)
        erika_reads_the_shared_calendar(web_server, laptop)

        # Erika's sharing page names what she got, from whom, through which group.
        page.get_by_role("button", name="Log out").click()
        log_in(page, "erika", "erika-password-1")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Sharing").click()
        shared = page.get_by_role("region", name="Shared with me").get_by_role("row").nth(1)
        expect(shared).to_contain_text("admin")
        expect(shared).to_contain_text("group Staff")
        expect(shared.get_by_role("cell", name="admin-calendar")).to_be_visible()
        screenshots(page, "sharing-shared-with-me")

        # Her own account page (her name in the header leads there).
        page.get_by_role("link", name="Erika Mustermann").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
        expect(page.get_by_role("heading", name="Two-factor login")).to_be_visible()
        screenshots(page, "account")

        # The admin reads what happened in the audit log.
        page.get_by_role("button", name="Log out").click()
        log_in(page, *ADMIN)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
        expect(page.get_by_role("cell", name="collection.share", exact=True).first).to_be_visible()
        expect(page.get_by_role("cell", name="app_password.revoke").first).to_be_visible()
        screenshots(page, "audit")
    finally:
        context.close()


def log_in(page: Page, login: str, password: str) -> None:
    page.get_by_label("User name or e-mail").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def share_a_calendar_with_staff(page: Page, server: WebServer) -> None:
    """The admin puts an event into their calendar and, in the browser,
    shares that calendar read-only with Staff (Erika is in its subgroup)."""
    with caldav.DAVClient(url=server.url + "/dav/", username=ADMIN[0], password=ADMIN[1]) as dav:
        calendar = dav.calendar(url=server.url + "/dav/admin/calendar/")
        calendar.add_event(event("sales-kickoff", summary="Sales kick-off"))
    log_in(page, *ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sharing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sharing")
    card = page.get_by_role("article", name="Calendar", exact=True)
    expect(card.get_by_text("Not shared.")).to_be_visible()
    card.get_by_text("Share with a user or a group").click()
    card.get_by_label("or with a group").select_option(label="Staff")
    expect(card.get_by_label("Access")).to_have_value("read")
    card.get_by_role("button", name="Share Calendar").click()
    expect(page.get_by_role("status")).to_contain_text("Devices see it at their next sync")
    shares = card.get_by_role("list", name="Shared with: Calendar")
    expect(shares).to_contain_text("group Staff")
    expect(shares.get_by_label("Access of group Staff to Calendar")).to_have_value("read")
    screenshots(page, "sharing")


def erika_reads_the_shared_calendar(server: WebServer, password: str) -> None:
    """Erika's CalDAV client finds the shared calendar next to her own, reads
    the admin's event, and may not write there."""
    shared_url = server.url + "/dav/erika/admin-calendar/"
    with caldav.DAVClient(url=server.url + "/dav/", username="erika", password=password) as dav:
        calendars = {str(calendar.url): calendar for calendar in dav.principal().get_calendars()}
        assert shared_url in calendars, sorted(calendars)
        shared = calendars[shared_url]
        assert shared.get_display_name() == "Calendar"
        kickoff = shared.get_event_by_uid("sales-kickoff")
        assert "Sales kick-off" in str(kickoff.data)
        with pytest.raises(DAVError):
            shared.add_event(event("erikas-own", summary="Erika was here"))
    refused = httpx.put(
        shared_url + "direct.ics",
        content=event("direct"),
        headers={"Content-Type": "text/calendar"},
        auth=("erika", password),
    )
    assert refused.status_code == 403
    with caldav.DAVClient(url=server.url + "/dav/", username=ADMIN[0], password=ADMIN[1]) as dav:
        own = dav.calendar(url=server.url + "/dav/admin/calendar/")
        assert [item.icalendar_component["uid"] for item in own.get_events()] == ["sales-kickoff"]
