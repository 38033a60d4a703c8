"""iCalendar -> CRM fields for appointments, tasks and journals: pure mapping.

Times are stored in UTC.  All-day dates and floating times have no zone; we
read them as UTC and flag them, so a viewer can place them in its own zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

#: Radicale's "no end" bound (year 9999) marks series without an end.
OPEN_END = 253402300800 - 1


@dataclass(frozen=True)
class Attendee:
    address: str
    name: str = ""
    partstat: str = ""
    role: str = ""


@dataclass(frozen=True)
class CalendarFields:
    component: str
    summary: str = ""
    location: str = ""
    description: str = ""
    start_utc: datetime | None = None
    end_utc: datetime | None = None
    all_day: bool = False
    floating: bool = False
    is_recurring: bool = False
    recurrence_end: datetime | None = None
    override_count: int = 0
    status: str = ""
    due_utc: datetime | None = None
    completed_utc: datetime | None = None
    priority: int = 0
    percent_complete: int = 0
    organizer: str = ""
    attendees: tuple[Attendee, ...] = ()
    related_to: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def _first(component: Any, name: str) -> Any:
    props = component.contents.get(name)
    return props[0] if props else None


def _text(component: Any, name: str) -> str:
    prop = _first(component, name)
    if prop is None or prop.value is None:
        return ""
    value = prop.value
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value).strip()


def _int(component: Any, name: str) -> int:
    try:
        return int(_text(component, name) or 0)
    except ValueError:
        return 0


def to_utc(value: Any) -> tuple[datetime | None, bool, bool]:
    """(UTC datetime, is_all_day, is_floating) of a DATE or DATE-TIME value."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC), False, True
        return value.astimezone(UTC), False, False
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC), True, True
    return None, False, False


def _address(value: str) -> str:
    return value[7:] if value.lower().startswith("mailto:") else value


def calendar_fields(
    calendar: Any, component_name: str, time_range: tuple[int, int]
) -> CalendarFields:
    """Project a parsed VCALENDAR onto the CRM's appointment/task fields."""
    components = list(calendar.contents.get(component_name.lower(), []))
    if not components:
        return CalendarFields(component=component_name)
    masters = [c for c in components if "recurrence-id" not in c.contents]
    master = masters[0] if masters else components[0]
    start = end = due = completed = None
    all_day = floating = False
    dtstart = _first(master, "dtstart")
    if dtstart is not None:
        start, all_day, floating = to_utc(dtstart.value)
    dtend = _first(master, "dtend")
    duration = _first(master, "duration")
    if dtend is not None:
        end = to_utc(dtend.value)[0]
    elif start is not None and duration is not None and isinstance(duration.value, timedelta):
        end = start + duration.value
    elif start is not None and all_day:
        end = start + timedelta(days=1)
    elif start is not None and component_name == "VEVENT":
        end = start
    if _first(master, "due") is not None:
        due = to_utc(master.due.value)[0]
    if _first(master, "completed") is not None:
        completed = to_utc(master.completed.value)[0]
    recurring = "rrule" in master.contents or "rdate" in master.contents
    recurrence_end = None
    if recurring and time_range[1] < OPEN_END:
        recurrence_end = datetime.fromtimestamp(time_range[1], UTC)
    organizer = _first(master, "organizer")
    attendees = tuple(
        Attendee(
            address=_address(str(prop.value)),
            name=prop.params.get("CN", [""])[0],
            partstat=prop.params.get("PARTSTAT", [""])[0],
            role=prop.params.get("ROLE", [""])[0],
        )
        for prop in master.contents.get("attendee", [])
    )
    categories: list[str] = []
    for prop in master.contents.get("categories", []):
        values = prop.value if isinstance(prop.value, list) else [prop.value]
        categories.extend(str(v) for v in values if v)
    return CalendarFields(
        component=component_name,
        summary=_text(master, "summary"),
        location=_text(master, "location"),
        description=_text(master, "description"),
        start_utc=start,
        end_utc=end,
        all_day=all_day,
        floating=floating,
        is_recurring=recurring,
        recurrence_end=recurrence_end,
        override_count=len(components) - len(masters),
        status=_text(master, "status").upper(),
        due_utc=due,
        completed_utc=completed,
        priority=_int(master, "priority"),
        percent_complete=_int(master, "percent-complete"),
        organizer=_address(str(organizer.value)) if organizer is not None else "",
        attendees=attendees,
        related_to=tuple(str(p.value) for p in master.contents.get("related-to", [])),
        categories=tuple(categories),
    )
