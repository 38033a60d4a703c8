"""Build and patch VEVENT/VTODO objects: only what kmdav manages changes.

kmdav manages SUMMARY, LOCATION, DESCRIPTION, DTSTART, DTEND/DURATION,
RRULE, EXDATE, STATUS, DUE, PRIORITY, PERCENT-COMPLETE, COMPLETED,
RELATED-TO, X-KMDAV-CONTACT and ATTENDEE, and keeps DTSTAMP, LAST-MODIFIED
and SEQUENCE current when it changes something.  Every other line of the
stored object -- VALARM, VTIMEZONE, unknown X- properties, other
components -- keeps its bytes (see :mod:`kmdav.calendar.icstext`).

Series operations work on the components of one resource:
:func:`override` writes one changed occurrence (a component with
RECURRENCE-ID), :func:`exclude` drops one occurrence (EXDATE),
:func:`split` ends a series before an occurrence and returns the rest as a
new object with a new UID.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar

from kmdav.calendar import icstext
from kmdav.calendar.icstext import Component, Prop, content_line, escape_text, unescape_text
from kmdav.calendar.recurrence import build_rule
from kmdav.calendar.values import When, format_value, parse_value, same, shift, tzid_of
from kmdav.errors import ValidationError

PRODID = "-//kmdav//web calendar//EN"
#: At most this many occurrences of one series in any six weeks (a month
#: view): rules that repeat more often are refused at the form.
MAX_OCCURRENCES_PER_VIEW = 200
#: The property naming the contact (vCard UID) an object is about.
CONTACT_PROP = "X-KMDAV-CONTACT"
#: Its parameter marking the customer (participants' links go without).
ROLE_PARAM = "X-KMDAV-ROLE"
EVENT_STATUSES = ("TENTATIVE", "CONFIRMED", "CANCELLED")
TASK_STATUSES = ("NEEDS-ACTION", "IN-PROCESS", "COMPLETED", "CANCELLED")
UNBOUNDED_FREQS = ("SECONDLY", "MINUTELY", "HOURLY")


class Keep(enum.Enum):
    """Leave the property as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    #: The answer (PARTSTAT) as stored; shown, never written from a form.
    partstat: str = ""


@dataclass(frozen=True)
class Changes:
    """What a web form sets; ``KEEP`` leaves a property alone, ``None`` or
    an empty value removes it."""

    summary: str | Keep = KEEP
    location: str | Keep = KEEP
    description: str | Keep = KEEP
    start: When | Keep | None = KEEP
    end: When | Keep | None = KEEP
    rrule: str | Keep = KEEP
    status: str | Keep = KEEP
    due: When | Keep | None = KEEP
    priority: int | Keep = KEEP
    percent_complete: int | Keep = KEEP
    completed: datetime | Keep | None = KEEP
    related_to: str | Keep = KEEP
    #: The contact the entry is about (vCard UID), and linked participants.
    customer: str | Keep = KEEP
    contacts: tuple[str, ...] | Keep = KEEP
    attendees: tuple[Attendee, ...] | Keep = KEEP
    #: Who organizes it: set as ORGANIZER when the entry has attendees and
    #: no organizer yet (an existing ORGANIZER is never replaced).
    organizer: Attendee | Keep = KEEP

    def touches_time(self) -> bool:
        return self.start is not KEEP or self.end is not KEEP or self.rrule is not KEEP


# -- reading ---------------------------------------------------------------------


def parse(text: str) -> Component:
    try:
        return icstext.parse(text)
    except ValueError as error:
        raise ValidationError("the stored object cannot be read: %(why)s", why=str(error)) from None


def objects(calendar: Component) -> list[Component]:
    return [c for c in calendar.components() if c.name in ("VEVENT", "VTODO", "VJOURNAL")]


def master_of(calendar: Component) -> Component:
    found = [c for c in objects(calendar) if c.prop("RECURRENCE-ID") is None]
    if not found:
        raise ValidationError("the object has no main component")
    return found[0]


def time_value(component: Component, name: str) -> When | None:
    prop = component.prop(name)
    return parse_value(prop.value, prop.params) if prop is not None else None


def text_value(component: Component, name: str) -> str:
    return unescape_text(component.value(name))


def rid_key(value: When) -> tuple[str, Any]:
    """A comparable identity of a RECURRENCE-ID / occurrence start."""
    if not isinstance(value, datetime):
        return ("d", value)
    if value.tzinfo is None:
        return ("f", value)
    return ("u", value.astimezone(UTC))


def overrides(calendar: Component) -> list[Component]:
    return [c for c in objects(calendar) if c.prop("RECURRENCE-ID") is not None]


def find_override(calendar: Component, rid: When) -> Component | None:
    key = rid_key(rid)
    for component in overrides(calendar):
        value = time_value(component, "RECURRENCE-ID")
        if value is not None and rid_key(value) == key:
            return component
    return None


def duration_of(component: Component) -> timedelta | None:
    start = time_value(component, "DTSTART")
    end = time_value(component, "DTEND")
    if start is not None and end is not None:
        return difference(start, end)
    raw = component.value("DURATION")
    if raw:
        try:
            parsed = icalendar.vDuration.from_ical(raw.strip())  # type: ignore[no-untyped-call]
        except ValueError:
            return None
        return parsed if isinstance(parsed, timedelta) else None
    return None


def difference(start: When, end: When) -> timedelta:
    if isinstance(start, datetime) and isinstance(end, datetime):
        if (start.tzinfo is None) != (end.tzinfo is None):
            return end.replace(tzinfo=None) - start.replace(tzinfo=None)
        return end - start
    if isinstance(start, datetime) or isinstance(end, datetime):
        return timedelta(days=(_date(end) - _date(start)).days)
    return end - start


def _date(value: When) -> date:
    return value.date() if isinstance(value, datetime) else value


# -- validation ------------------------------------------------------------------


def check_times(start: When | None, end: When | None, *, end_field: str = "end") -> None:
    if start is None or end is None:
        return
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise ValidationError("start and end must both be dates or both times", field=end_field)
    if difference(start, end) < timedelta(0):
        raise ValidationError("the end lies before the start", field=end_field)


def check_rrule(rule: str, start: When) -> str:
    """The normalised RRULE value, or a clear error: unreadable, repeating
    more than :data:`MAX_OCCURRENCES_PER_VIEW` times in six weeks, or never."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        return ""
    parts = {k.upper(): v for k, _, v in (p.partition("=") for p in text.split(";") if p)}
    if parts.get("FREQ", "").upper() in UNBOUNDED_FREQS:
        raise ValidationError(
            "a series may repeat at most daily (FREQ=%(freq)s repeats without bound in a view)",
            field="rrule",
            freq=parts["FREQ"].upper(),
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValidationError("a rule has COUNT or UNTIL, not both", field="rrule")
    try:
        parsed = build_rule(text, start)
    except (ValueError, TypeError):
        raise ValidationError(
            "the repeat rule %(rule)r cannot be read", field="rrule", rule=text
        ) from None
    first = start if isinstance(start, datetime) else datetime.combine(start, datetime.min.time())
    window = first + timedelta(days=42)
    count = 0
    for occurrence in parsed:
        if occurrence >= window:
            break
        count += 1
        if count > MAX_OCCURRENCES_PER_VIEW:
            raise ValidationError(
                "the series repeats more than %(cap)s times in six weeks",
                field="rrule",
                cap=MAX_OCCURRENCES_PER_VIEW,
            )
    if count == 0 and next(iter(parsed), None) is None:
        raise ValidationError("the repeat rule gives no occurrence at all", field="rrule")
    return text


def rrule_parts(rule: str) -> dict[str, str]:
    return {k.upper(): v for k, _, v in (p.partition("=") for p in rule.split(";") if p)}


def join_rrule(parts: dict[str, str]) -> str:
    order = ["FREQ", *sorted(k for k in parts if k != "FREQ")]
    return ";".join(f"{k}={parts[k]}" for k in order if k in parts)


# -- writing ---------------------------------------------------------------------


def _time_line(name: str, value: When) -> str:
    text, params = format_value(value)
    return content_line(name, text, params)


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _apply(component: Component, changes: Changes, newline: str) -> bool:
    """Patch ``component``'s managed properties; True when anything changed."""
    changed = False

    def put(name: str, lines: list[str]) -> None:
        nonlocal changed
        changed = icstext.set_props(component, name, lines, newline) or changed

    for name, value in (
        ("SUMMARY", changes.summary),
        ("LOCATION", changes.location),
        ("DESCRIPTION", changes.description),
    ):
        if isinstance(value, str) and text_value(component, name) != value:
            put(name, [content_line(name, escape_text(value))] if value else [])
    if not isinstance(changes.start, Keep) and not same(
        time_value(component, "DTSTART"), changes.start
    ):
        put("DTSTART", [_time_line("DTSTART", changes.start)] if changes.start else [])
    if not isinstance(changes.end, Keep):
        _apply_end(component, changes.end, put)
    _apply_rest(component, changes, put)
    return changed


def _apply_rest(component: Component, changes: Changes, put: Any) -> None:
    """The rule, status, task fields and links of :func:`_apply`."""
    if isinstance(changes.rrule, str) and component.value("RRULE") != changes.rrule:
        put("RRULE", [content_line("RRULE", changes.rrule)] if changes.rrule else [])
    if isinstance(changes.status, str) and component.value("STATUS").upper() != changes.status:
        put("STATUS", [content_line("STATUS", changes.status)] if changes.status else [])
    if not isinstance(changes.due, Keep) and not same(time_value(component, "DUE"), changes.due):
        put("DUE", [_time_line("DUE", changes.due)] if changes.due else [])
    for name, number in (
        ("PRIORITY", changes.priority),
        ("PERCENT-COMPLETE", changes.percent_complete),
    ):
        if isinstance(number, int) and as_int(component.value(name)) != number:
            put(name, [content_line(name, str(number))] if number else [])
    if not isinstance(changes.completed, Keep) and not same(
        time_value(component, "COMPLETED"), changes.completed
    ):
        completed = changes.completed
        put("COMPLETED", [_time_line("COMPLETED", completed.astimezone(UTC))] if completed else [])
    if isinstance(changes.related_to, str):
        _apply_parent(component, changes.related_to, put)
    if isinstance(changes.contacts, tuple) or isinstance(changes.customer, str):
        lines = contact_lines(component, changes)
        if lines != [p.content for p in component.props(CONTACT_PROP)]:
            put(CONTACT_PROP, lines)
    if isinstance(changes.attendees, tuple):
        _apply_attendees(component, changes.attendees, put)
    organizer = changes.organizer
    if (
        isinstance(organizer, Attendee)
        and component.prop("ORGANIZER") is None
        and component.props("ATTENDEE")
    ):
        params = {"CN": organizer.name} if organizer.name else {}
        put("ORGANIZER", [content_line("ORGANIZER", f"mailto:{organizer.email}", params)])


def customer_of(component: Component) -> str:
    for prop in component.props(CONTACT_PROP):
        if prop.params.get(ROLE_PARAM, "").lower() == "customer":
            return prop.value
    return ""


def linked_contacts(component: Component) -> tuple[str, ...]:
    """Participants' contact UIDs (the customer is apart)."""
    return tuple(
        p.value
        for p in component.props(CONTACT_PROP)
        if p.params.get(ROLE_PARAM, "").lower() != "customer"
    )


def contact_lines(component: Component, changes: Changes) -> list[str]:
    customer = changes.customer if isinstance(changes.customer, str) else customer_of(component)
    others = changes.contacts if isinstance(changes.contacts, tuple) else linked_contacts(component)
    lines = [content_line(CONTACT_PROP, customer, {ROLE_PARAM: "customer"})] if customer else []
    return lines + [content_line(CONTACT_PROP, uid) for uid in others if uid != customer]


def as_int(text: str) -> int:
    try:
        return int(text.strip() or 0)
    except ValueError:
        return -1


def _apply_end(component: Component, end: When | None, put: Any) -> None:
    """DTEND, or DURATION when the object uses one (a phone's choice stays)."""
    if component.prop("DURATION") is not None and end is not None:
        start = time_value(component, "DTSTART")
        if start is not None:
            wanted = difference(start, end)
            if duration_of(component) != wanted:
                put("DURATION", [content_line("DURATION", _duration_text(wanted))])
            return
    if not same(time_value(component, "DTEND"), end):
        put("DTEND", [_time_line("DTEND", end)] if end is not None else [])
    if end is not None and component.prop("DURATION") is not None:
        put("DURATION", [])


def _duration_text(delta: timedelta) -> str:
    text = icalendar.vDuration(delta).to_ical()  # type: ignore[no-untyped-call]
    return text.decode() if isinstance(text, bytes) else str(text)


def _apply_parent(component: Component, parent: str, put: Any) -> None:
    """RELATED-TO with RELTYPE PARENT (the default); siblings and children
    other clients wrote stay."""
    others = [
        p.content
        for p in component.props("RELATED-TO")
        if p.params.get("RELTYPE", "PARENT").upper() != "PARENT"
    ]
    current = [
        p.value
        for p in component.props("RELATED-TO")
        if p.params.get("RELTYPE", "PARENT").upper() == "PARENT"
    ]
    if current == ([parent] if parent else []):
        return
    put("RELATED-TO", [*([content_line("RELATED-TO", parent)] if parent else []), *others])


def _address(value: str) -> str:
    return value[7:].lower() if value.lower().startswith("mailto:") else value.lower()


def _apply_attendees(component: Component, wanted: Sequence[Attendee], put: Any) -> None:
    """Kept attendees keep their lines (PARTSTAT and all); new ones are added
    as NEEDS-ACTION, dropped ones removed."""
    existing = {_address(p.value): p.content for p in component.props("ATTENDEE")}
    lines = []
    for person in wanted:
        line = existing.get(person.email.lower())
        if line is None:
            params = {"CN": person.name} if person.name else {}
            params |= {"PARTSTAT": "NEEDS-ACTION", "ROLE": "REQ-PARTICIPANT"}
            line = content_line("ATTENDEE", f"mailto:{person.email}", params)
        lines.append(line)
    if lines != [p.content for p in component.props("ATTENDEE")]:
        put("ATTENDEE", lines)


def _bookkeeping(component: Component, now: datetime, newline: str, *, bump: bool) -> None:
    stamp = _stamp(now)
    icstext.set_props(component, "DTSTAMP", [f"DTSTAMP:{stamp}"], newline)
    icstext.set_props(component, "LAST-MODIFIED", [f"LAST-MODIFIED:{stamp}"], newline)
    if bump:
        sequence = max(as_int(component.value("SEQUENCE")), 0) + 1
        icstext.set_props(component, "SEQUENCE", [f"SEQUENCE:{sequence}"], newline)


def _tzids(values: Iterable[When | Keep | None]) -> set[str]:
    found = set()
    for value in values:
        if isinstance(value, datetime):
            tzid = tzid_of(value)
            if tzid:
                found.add(tzid)
    return found


def ensure_timezones(calendar: Component, tzids: Iterable[str], newline: str) -> None:
    """Add a VTIMEZONE for each TZID the object does not define yet (before
    the first event or task; existing VTIMEZONEs stay as they are)."""
    have = {c.value("TZID") for c in calendar.components("VTIMEZONE")}
    for tzid in sorted(set(tzids) - have):
        ical = icalendar.Timezone.from_tzid(tzid).to_ical().decode()
        block = icstext.parse(ical.replace("\r\n", "\n").replace("\n", newline))
        position = next(
            (i for i, c in enumerate(calendar.children) if isinstance(c, Component)),
            len(calendar.children),
        )
        calendar.children.insert(position, block)


def _new_component(name: str, uid: str, now: datetime, newline: str) -> Component:
    stamp = _stamp(now)
    component = Component(name, f"BEGIN:{name}{newline}", f"END:{name}{newline}")
    lines = (content_line("UID", uid), f"DTSTAMP:{stamp}", f"CREATED:{stamp}")
    for line in (*lines, f"LAST-MODIFIED:{stamp}"):
        component.children.append(icstext.make_prop(line, newline))
    return component


def build(component_name: str, uid: str, changes: Changes, now: datetime) -> str:
    """A new VCALENDAR holding one VEVENT or VTODO with ``changes`` set."""
    newline = "\r\n"
    calendar = Component("VCALENDAR", f"BEGIN:VCALENDAR{newline}", f"END:VCALENDAR{newline}")
    calendar.children = [
        icstext.make_prop("VERSION:2.0", newline),
        icstext.make_prop(f"PRODID:{PRODID}", newline),
    ]
    component = _new_component(component_name, uid, now, newline)
    _apply(component, changes, newline)
    calendar.children.append(component)
    ensure_timezones(calendar, _tzids(_time_changes(changes)), newline)
    return calendar.text()


def _time_changes(changes: Changes) -> list[When | Keep | None]:
    return [changes.start, changes.end, changes.due]


def patch(text: str, changes: Changes, now: datetime, *, rid: When | None = None) -> str:
    """``text`` with ``changes`` applied to its main component (or to the
    override of occurrence ``rid``).  Unchanged input gives ``text`` back."""
    calendar = parse(text)
    newline = icstext.newline_of(text)
    component = master_of(calendar) if rid is None else find_override(calendar, rid)
    if component is None:
        raise ValidationError("this occurrence has no own entry yet")
    if not _apply(component, changes, newline):
        return text
    _bookkeeping(component, now, newline, bump=changes.touches_time())
    ensure_timezones(calendar, _tzids(_time_changes(changes)), newline)
    return calendar.text()


def move_series(text: str, changes: Changes, now: datetime) -> str:
    """Change the whole series; when its start moves, EXDATEs and the
    RECURRENCE-IDs of its overrides move along so they stay attached."""
    calendar = parse(text)
    master = master_of(calendar)
    old_start = time_value(master, "DTSTART")
    new_start = changes.start
    if (
        isinstance(new_start, date)
        and old_start is not None
        and isinstance(new_start, datetime) == isinstance(old_start, datetime)
        and not same(old_start, new_start)
    ):
        delta = difference(old_start, new_start)
        newline = icstext.newline_of(text)
        _shift_exdates(master, delta, newline, new_start)
        for component in overrides(calendar):
            _shift_rid(component, delta, newline, new_start)
        text = calendar.text()
    return patch(text, changes, now)


def _retype(value: When, like: When) -> When:
    """``value`` written like ``like`` (same zone), as RFC 5545 asks of
    EXDATE and RECURRENCE-ID relative to DTSTART."""
    if isinstance(value, datetime) and isinstance(like, datetime) and like.tzinfo is not None:
        return value.astimezone(like.tzinfo) if value.tzinfo else value.replace(tzinfo=like.tzinfo)
    return value


def _shift_exdates(master: Component, delta: timedelta, newline: str, start: When) -> None:
    values = exdates(master)
    if values:
        moved = [_retype(shift(v, delta), start) for v in values]
        icstext.set_props(master, "EXDATE", [_time_line("EXDATE", v) for v in moved], newline)


def _shift_rid(component: Component, delta: timedelta, newline: str, start: When) -> None:
    rid = time_value(component, "RECURRENCE-ID")
    if rid is not None:
        moved = _retype(shift(rid, delta), start)
        icstext.set_props(component, "RECURRENCE-ID", [_time_line("RECURRENCE-ID", moved)], newline)


def exdates(component: Component) -> list[When]:
    """Every EXDATE value (several per line, several lines, DATE and DATE-TIME mixed)."""
    found: list[When] = []
    for prop in component.props("EXDATE"):
        for part in prop.value.split(","):
            value = parse_value(part, prop.params)
            if value is not None:
                found.append(value)
    return found


def occurrence_value(master: Component, rid: When) -> When:
    """``rid`` in the form of the series' DTSTART (date, floating, zoned)."""
    start = time_value(master, "DTSTART")
    if start is None:
        return rid
    if not isinstance(start, datetime):
        return rid.date() if isinstance(rid, datetime) else rid
    if not isinstance(rid, datetime):
        return datetime.combine(rid, start.time(), start.tzinfo)
    if start.tzinfo is None:
        return rid.replace(tzinfo=None)
    return rid.astimezone(start.tzinfo) if rid.tzinfo else rid.replace(tzinfo=start.tzinfo)


def override(text: str, rid: When, changes: Changes, now: datetime) -> str:
    """Change one occurrence: patch its override, or write a new one (a copy
    of the main component without its rules, with RECURRENCE-ID)."""
    calendar = parse(text)
    master = master_of(calendar)
    rid = occurrence_value(master, rid)
    if find_override(calendar, rid) is not None:
        return patch(text, changes, now, rid=rid)
    newline = icstext.newline_of(text)
    copy = icstext.parse(master.text())
    copy.children = [
        c
        for c in copy.children
        if not (isinstance(c, Prop) and c.name in ("RRULE", "RDATE", "EXDATE", "EXRULE"))
    ]
    duration = duration_of(master)
    start_changes = changes
    if changes.start is KEEP:
        start_changes = with_changes(changes, start=rid)
    if changes.end is KEEP and duration is not None and copy.prop("DURATION") is None:
        start = start_changes.start
        assert isinstance(start, date)
        start_changes = with_changes(start_changes, end=shift(start, duration))
    icstext.set_props(copy, "RECURRENCE-ID", [_time_line("RECURRENCE-ID", rid)], newline)
    _apply(copy, start_changes, newline)
    _bookkeeping(copy, now, newline, bump=False)
    position = calendar.children.index(master) + 1
    calendar.children.insert(position, copy)
    ensure_timezones(calendar, _tzids(_time_changes(changes)), newline)
    return calendar.text()


def with_changes(changes: Changes, **values: Any) -> Changes:
    current = {f.name: getattr(changes, f.name) for f in fields(changes)}
    return Changes(**(current | values))


def exclude(text: str, rid: When, now: datetime) -> str:
    """Drop one occurrence: an EXDATE on the series, and its override goes."""
    calendar = parse(text)
    master = master_of(calendar)
    newline = icstext.newline_of(text)
    rid = occurrence_value(master, rid)
    existing = find_override(calendar, rid)
    if existing is not None:
        calendar.children.remove(existing)
    key = rid_key(rid)
    if all(rid_key(v) != key for v in exdates(master)):
        master.children.insert(
            _after_last(master, ("EXDATE", "RRULE", "RDATE", "DTSTART")),
            icstext.make_prop(_time_line("EXDATE", rid), newline),
        )
    _bookkeeping(master, now, newline, bump=True)
    return calendar.text()


def _after_last(component: Component, names: Sequence[str]) -> int:
    for name in names:
        props = component.props(name)
        if props:
            return component.children.index(props[-1]) + 1
    return len(component.children)


def _before(value: When, rid: When) -> bool:
    return _sort_key(value) < _sort_key(rid)


def _sort_key(value: When) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), UTC)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _until(rid: When) -> str:
    """UNTIL just before occurrence ``rid`` (RFC 5545: UTC for zoned series)."""
    if not isinstance(rid, datetime):
        return (rid - timedelta(days=1)).strftime("%Y%m%d")
    last = rid - timedelta(seconds=1)
    if last.tzinfo is None:
        return last.strftime("%Y%m%dT%H%M%S")
    return last.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def occurrences_before(master: Component, rid: When) -> int:
    """How many occurrences of the series come before ``rid``."""
    start = time_value(master, "DTSTART")
    rule = master.value("RRULE")
    if start is None or not rule:
        return 0
    parsed = build_rule(rule, start)
    limit = rid if isinstance(rid, datetime) else datetime.combine(rid, datetime.min.time())
    count = 0
    for value in parsed:
        if value >= limit:
            break
        count += 1
    return count


def end_series(text: str, rid: When, now: datetime) -> str:
    """The series without the occurrence ``rid`` and all after it."""
    calendar = parse(text)
    master = master_of(calendar)
    rid = occurrence_value(master, rid)
    newline = icstext.newline_of(text)
    parts = rrule_parts(master.value("RRULE"))
    parts.pop("COUNT", None)
    parts["UNTIL"] = _until(rid)
    icstext.set_props(master, "RRULE", [content_line("RRULE", join_rrule(parts))], newline)
    kept = [v for v in exdates(master) if _before(v, rid)]
    if len(kept) != len(exdates(master)):
        icstext.set_props(master, "EXDATE", [_time_line("EXDATE", v) for v in kept], newline)
    for component in overrides(calendar):
        value = time_value(component, "RECURRENCE-ID")
        if value is not None and not _before(value, rid):
            calendar.children.remove(component)
    _bookkeeping(master, now, newline, bump=True)
    return calendar.text()


def split(text: str, rid: When, new_uid: str, changes: Changes, now: datetime) -> tuple[str, str]:
    """ "This and following": (the old series ended before ``rid``, a new
    object with ``new_uid`` from ``rid`` on with ``changes``).  EXDATEs and
    overrides from ``rid`` on move to the new object (shifted with the
    start when it moves); a COUNT is shared out between the two."""
    calendar = parse(text)
    master = master_of(calendar)
    rid = occurrence_value(master, rid)
    newline = icstext.newline_of(text)
    if changes.rrule == master.value("RRULE"):
        # the form sent the series' rule unchanged: the share-out below stands
        changes = with_changes(changes, rrule=KEEP)
    head = end_series(text, rid, now)
    tail = icstext.parse(calendar.text())
    tail_master = master_of(tail)
    parts = rrule_parts(master.value("RRULE"))
    if "COUNT" in parts:
        remaining = int(parts["COUNT"]) - occurrences_before(master, rid)
        parts["COUNT"] = str(max(remaining, 1))
    duration = duration_of(master) or timedelta(0)
    new_start = changes.start if isinstance(changes.start, date) else rid
    delta = difference(rid, new_start) if isinstance(new_start, date) else timedelta(0)
    later_exdates = [
        _retype(shift(v, delta), new_start) for v in exdates(master) if not _before(v, rid)
    ]
    icstext.set_props(tail_master, "UID", [content_line("UID", new_uid)], newline)
    icstext.set_props(tail_master, "RRULE", [content_line("RRULE", join_rrule(parts))], newline)
    icstext.set_props(
        tail_master, "EXDATE", [_time_line("EXDATE", v) for v in later_exdates], newline
    )
    icstext.set_props(tail_master, "SEQUENCE", [], newline)
    icstext.set_props(tail_master, "CREATED", [f"CREATED:{_stamp(now)}"], newline)
    for component in overrides(tail):
        value = time_value(component, "RECURRENCE-ID")
        if value is None or _before(value, rid):
            tail.children.remove(component)
            continue
        icstext.set_props(component, "UID", [content_line("UID", new_uid)], newline)
        _shift_rid(component, delta, newline, new_start)
    tail_changes = changes
    if changes.start is KEEP:
        tail_changes = with_changes(tail_changes, start=rid)
    if changes.end is KEEP and tail_master.prop("DURATION") is None:
        start = tail_changes.start
        assert isinstance(start, date)
        tail_changes = with_changes(tail_changes, end=shift(start, duration))
    _apply(tail_master, tail_changes, newline)
    _bookkeeping(tail_master, now, newline, bump=False)
    ensure_timezones(tail, _tzids(_time_changes(changes)), newline)
    return head, tail.text()
