"""In a real browser: a weekly series made on /web/calendar reaches the
phone (the caldav library); the phone moves one occurrence and the week
view shows the override; the phone completes a task and /web/tasks shows
it done.  Screenshots of the pages land in ``test-artifacts/``."""

from __future__ import annotations

from datetime import UTC, datetime

import caldav
import icalendar
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import CHROMIUM, WebClient, WebServer, open_page, screenshots, unique

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


def _log_in(page: Page, server: WebServer, name: str, password: str) -> None:
    page.goto(server.url + "/web/login")
    page.get_by_label("User name or e-mail").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def test_series_override_and_task_between_browser_and_phone(
    web_server: WebServer, admin: WebClient, browser: Browser
) -> None:
    name = unique("erika")
    password = f"{name}-password-1"
    admin.create_user(name, password, email=f"{name}@example.com")
    with open_page(browser, viewport={"width": 1280, "height": 900}) as page:
        _log_in(page, web_server, name, password)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Calendar")
        page.get_by_role("link", name="New appointment").first.click()
        page.get_by_label("Title").fill("Sales meeting")
        page.get_by_label("Start date").fill("2026-11-02")
        page.get_by_label("Start time").fill("09:00")
        page.get_by_label("End date").fill("2026-11-02")
        page.get_by_label("End time").fill("10:00")
        page.get_by_label("Time zone").fill("Europe/Vienna")
        page.get_by_label("Repeats", exact=True).select_option("WEEKLY")
        page.get_by_label("or this many times").fill("4")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("The appointment was saved")
        expect(page.locator(".cal-entry", has_text="Sales meeting")).to_have_count(1)
        screenshots(page, "calendar-week")

        # The phone sees the series and moves the third occurrence.
        with caldav.DAVClient(
            url=web_server.url + "/dav/", username=name, password=password
        ) as phone:
            calendar = phone.calendar(url=f"{web_server.url}/dav/{name}/calendar/")
            (series,) = calendar.events()
            master = series.icalendar_component
            assert str(master["SUMMARY"]) == "Sales meeting"
            assert master["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=4"
            moved = icalendar.Event()
            moved.add("UID", str(master["UID"]))
            moved.add("DTSTAMP", datetime.now(UTC))
            moved.add("SUMMARY", "Sales meeting (customer site)")
            moved.add("RECURRENCE-ID", datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
            moved.add("DTSTART", datetime(2026, 11, 17, 13, 0, tzinfo=UTC))
            moved.add("DTEND", datetime(2026, 11, 17, 15, 0, tzinfo=UTC))
            series.icalendar_instance.add_component(moved)
            series.save()

        page.goto(web_server.url + "/web/calendar?view=week&date=2026-11-16")
        monday = page.locator('[data-day="2026-11-16"]')
        tuesday = page.locator('[data-day="2026-11-17"]')
        expect(monday.locator(".cal-entry")).to_have_count(0)
        expect(tuesday.locator(".cal-entry")).to_contain_text("Sales meeting (customer site)")
        expect(tuesday.locator(".cal-entry")).to_contain_text("14:00–16:00")
        expect(tuesday.locator(".cal-entry")).to_contain_text("changed")
        page.goto(web_server.url + "/web/calendar?view=month&date=2026-11-16")
        expect(page.locator(".cal-entry", has_text="Sales meeting")).to_have_count(4)
        screenshots(page, "calendar-month")

        # A task made on the phone, completed on the phone, shows done on the web.
        with caldav.DAVClient(
            url=web_server.url + "/dav/", username=name, password=password
        ) as phone:
            tasks = phone.calendar(url=f"{web_server.url}/dav/{name}/tasks/")
            todo = icalendar.Todo()
            todo.add("UID", f"call-{name}")
            todo.add("DTSTAMP", datetime.now(UTC))
            todo.add("SUMMARY", "Call the customer")
            todo.add("DUE", datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
            tasks.save_todo(todo.to_ical().decode())
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
        row = page.locator("tr.task", has_text="Call the customer")
        expect(row).not_to_have_class("task depth-0 done")
        with caldav.DAVClient(
            url=web_server.url + "/dav/", username=name, password=password
        ) as phone:
            tasks = phone.calendar(url=f"{web_server.url}/dav/{name}/tasks/")
            tasks.get_todo_by_uid(f"call-{name}").complete()
        page.reload()
        expect(row.locator(".task-status")).to_have_text("done")
        expect(row.get_by_role("button", name="Reopen Call the customer")).to_be_visible()
        screenshots(page, "tasks")

        # calendar.js: dragging the first meeting onto Wednesday moves that occurrence.
        page.goto(web_server.url + "/web/calendar?view=week&date=2026-11-02")
        monday = page.locator('[data-day="2026-11-02"]')
        wednesday = page.locator('[data-day="2026-11-04"]')
        with page.expect_navigation():
            monday.locator(".cal-entry a").drag_to(wednesday)
        expect(wednesday.locator(".cal-entry")).to_contain_text("09:00–10:00")
        expect(monday.locator(".cal-entry")).to_have_count(0)
