"""Expanding recurring VTODOs for calendar-query with ``C:expand`` (pure).

RFC 4791 9.6.5: with ``expand`` the server answers every instance in the
asked range as its own component with a RECURRENCE-ID and no recurrence
rules, times in UTC.  Radicale 3.9 does this for VEVENT only and, for any
other component, returns the master unfiltered (it takes the time range
out of the filter to apply it after expansion).  This module does the
VTODO half; :mod:`kmdav.faces.davreports` applies it to Radicale's answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import icalendar

from kmdav.calendar import recurrence

_RULES = ("RRULE", "RDATE", "EXDATE")


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def expand_todos(text: str, start: datetime, end: datetime) -> str | None:
    """The instances of the VTODOs in ``text`` that fall in [start, end) as
    one VCALENDAR, or ``None`` when none does (the object is not a match).
    The expansion is the calendar's own (:func:`kmdav.calendar.recurrence.instances`)."""
    calendar = icalendar.Calendar.from_ical(text)
    if not calendar.walk("VTODO"):
        return None
    found = recurrence.instances(text, start, end, component="VTODO")
    if not found:
        return None
    out = icalendar.Calendar()
    for key, value in calendar.property_items(recursive=False):
        if key not in ("BEGIN", "END"):
            out.add(key, value)
    for instance in found:
        out.add_component(_instance(instance))
    return str(out.to_ical().decode("utf-8"))


def _instance(instance: recurrence.Instance) -> icalendar.Todo:
    """One task instance: its component's properties with the occurrence's
    times (UTC), RECURRENCE-ID for a series, no rules."""
    source, occurrence = instance.component, instance.occurrence
    todo = icalendar.Todo()
    for key, value in source.property_items(recursive=False):
        if key in ("BEGIN", "END", "RECURRENCE-ID") or key in _RULES:
            continue
        todo.add(key, value)
    times: dict[str, Any] = {}
    if "DTSTART" in source:
        times["DTSTART"] = occurrence.start
        if "DUE" in source:
            times["DUE"] = occurrence.end
    elif "DUE" in source:
        times["DUE"] = occurrence.start
    for key, value in times.items():
        todo.pop(key)
        todo.add(key, value.date() if occurrence.all_day else value)
    for key in ("DTEND", "COMPLETED"):
        if key in todo and isinstance(todo.decoded(key), datetime):
            value = _utc(todo.decoded(key))
            todo.pop(key)
            todo.add(key, value)
    if occurrence.recurring and occurrence.rid:
        rid = recurrence.parse_rid(occurrence.rid)
        todo.add("RECURRENCE-ID", _utc(rid))
    for alarm in source.subcomponents:
        todo.add_component(alarm)
    return todo
