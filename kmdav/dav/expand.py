"""Expanding recurring VTODOs for calendar-query with ``C:expand`` (pure).

RFC 4791 9.6.5: with ``expand`` the server answers every instance in the
asked range as its own component with a RECURRENCE-ID and no recurrence
rules, times in UTC.  Radicale 3.9 does this for VEVENT only and, for any
other component, returns the master unfiltered (it takes the time range
out of the filter to apply it after expansion).  This module does the
VTODO half; :mod:`kmdav.faces.davreports` applies it to Radicale's answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import icalendar
import recurring_ical_events

_RULES = ("RRULE", "RDATE", "EXDATE")
_TIMES = ("DTSTART", "DUE", "DTEND", "COMPLETED")


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def expand_todos(text: str, start: datetime, end: datetime) -> str | None:
    """The instances of the VTODOs in ``text`` that fall in [start, end) as
    one VCALENDAR, or ``None`` when none does (the object is not a match)."""
    calendar = icalendar.Calendar.from_ical(text)
    masters = calendar.walk("VTODO")
    if not masters:
        return None
    recurring = any("RRULE" in todo or "RDATE" in todo for todo in masters)
    instances = recurring_ical_events.of(calendar, components=["VTODO"]).between(start, end)
    if not instances:
        return None
    out = icalendar.Calendar()
    for key, value in calendar.property_items(recursive=False):
        if key not in ("BEGIN", "END"):
            out.add(key, value)
    for instance in instances:
        todo = icalendar.Todo()
        for key, value in instance.property_items(recursive=False):
            if key in ("BEGIN", "END") or key in _RULES or key == "RECURRENCE-ID":
                continue
            todo.add(key, value)
        for key in _TIMES:
            if key in instance and isinstance(instance.decoded(key), datetime):
                todo.pop(key)
                todo.add(key, _utc(instance.decoded(key)))
        if recurring and "DTSTART" in instance:
            begin = instance.decoded("DTSTART")
            todo.add("RECURRENCE-ID", _utc(begin) if not _is_date(begin) else begin)
        for alarm in instance.subcomponents:
            todo.add_component(alarm)
        out.add_component(todo)
    return str(out.to_ical().decode("utf-8"))


def _is_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)
