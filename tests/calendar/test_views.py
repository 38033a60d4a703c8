"""Which days a view shows, and the contact page's include."""

from __future__ import annotations

from datetime import UTC, date, datetime

from kmdav.calendar import views
from kmdav.calendar.service import Appointment
from kmdav.faces.web import make_templates


def test_spans() -> None:
    assert views.span("day", date(2026, 11, 25)) == (date(2026, 11, 25), 1)
    assert views.span("week", date(2026, 11, 25)) == (date(2026, 11, 23), 7)
    first, count = views.span("month", date(2026, 11, 25))
    assert (first, count) == (date(2026, 10, 26), 42)
    assert views.step("month", date(2026, 1, 31), True) == date(2026, 2, 1)
    assert views.step("month", date(2026, 3, 31), False) == date(2026, 2, 1)


def test_contact_appointments_include_renders() -> None:
    upcoming = [
        Appointment(
            "Calendar",
            7,
            "a b.ics",
            "VEVENT",
            "Visit",
            datetime(2026, 12, 1, 9, tzinfo=UTC),
            True,
            "",
        )
    ]
    past = [Appointment("Tasks", 8, "t.ics", "VTODO", "Send offer", None, False, "COMPLETED")]
    html = (
        make_templates()
        .get_template("_contact_appointments.html")
        .render(past=past, upcoming=upcoming)
    )
    assert 'href="/web/calendar/7/a%20b.ics/edit"' in html
    assert 'href="/web/tasks/8/t.ics/edit"' in html
    assert "2026-12-01 09:00 UTC" in html
    assert "repeats" in html
