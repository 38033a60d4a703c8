"""Occurrences of events and tasks in a window, in the viewer's time zone.

Our own expansion on ``icalendar`` (which reads TZIDs, also custom
VTIMEZONEs) and ``dateutil.rrule``: the tests compare it with the
independent ``recurring-ical-events`` package.  Rules:

- zoned times repeat at the same wall-clock time in their zone (so a 09:00
  meeting in Vienna stays at 09:00 across DST), then are shown in the
  viewer's zone; floating times and all-day dates are the viewer's own
  wall-clock time;
- EXDATE removes occurrences (a DATE removes the occurrence on that day,
  also from a DATE-TIME series); RDATE adds (also PERIODs);
- a component with RECURRENCE-ID replaces the occurrence it names, wherever
  it moved it;
- the duration is DTEND - DTSTART (wall-clock), else DURATION, else one
  day for dates and none for times.

Expansion is bounded: at most :data:`MAX_STEPS` rule steps per series and
:data:`MAX_PER_SERIES` occurrences of one series per window; a series that
hits a bound is reported (``truncated``) so the page can say so.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from dateutil.rrule import rrule, rrulestr

#: Rule steps walked per series and window (from DTSTART on).
MAX_STEPS = 100_000
#: Occurrences of one series shown in one window.
MAX_PER_SERIES = 1_000


@dataclass(frozen=True)
class Occurrence:
    uid: str
    summary: str
    location: str
    #: In the viewer's zone; all-day occurrences start at local midnight.
    start: datetime
    end: datetime
    all_day: bool
    #: The occurrence's RECURRENCE-ID as iCalendar text (``""`` for single events).
    rid: str
    recurring: bool
    is_override: bool
    status: str = ""

    @property
    def days(self) -> int:
        """Calendar days the occurrence touches (at least one)."""
        last = self.end - timedelta(microseconds=1) if self.end > self.start else self.end
        return (last.date() - self.start.date()).days + 1


@dataclass
class Expansion:
    occurrences: list[Occurrence] = field(default_factory=list)
    #: UIDs of series that hit a bound (not every occurrence is shown).
    truncated: list[str] = field(default_factory=list)
    #: UIDs of objects that could not be read at all.
    unreadable: list[str] = field(default_factory=list)


def rid_text(value: date | datetime) -> str:
    """A RECURRENCE-ID as iCalendar text: UTC for zoned times."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_rid(text: str) -> date | datetime:
    """The inverse of :func:`rid_text`; ValueError when it is none."""
    raw = text.strip()
    if len(raw) == 8:
        return datetime.strptime(raw, "%Y%m%d").date()
    if raw.endswith("Z"):
        return datetime.strptime(raw[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return datetime.strptime(raw, "%Y%m%dT%H%M%S")


def _key(value: date | datetime) -> tuple[str, Any]:
    if not isinstance(value, datetime):
        return ("d", value)
    if value.tzinfo is None:
        return ("f", value)
    return ("u", value.astimezone(UTC))


def _local(value: date | datetime, viewer: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), viewer)
    if value.tzinfo is None:
        return value.replace(tzinfo=viewer)
    return value.astimezone(viewer)


def _naive(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


def _dt(component: Any, name: str) -> date | datetime | None:
    prop = component.get(name)
    if prop is None:
        return None
    value = prop.dt
    return value if isinstance(value, date) else None


def _duration(component: Any, start: date | datetime) -> timedelta:
    end = _dt(component, "DTEND") or _dt(component, "DUE")
    if end is not None:
        if isinstance(start, datetime) and isinstance(end, datetime):
            if (start.tzinfo is None) != (end.tzinfo is None):
                return end.replace(tzinfo=None) - start.replace(tzinfo=None)
            if start.tzinfo is not None and end.tzinfo is not None:
                end = end.astimezone(start.tzinfo)
            return end - start
        return _naive(end) - _naive(start)
    duration = component.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return duration.dt
    return timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)


def _values(component: Any, name: str) -> Iterator[Any]:
    props = component.get(name)
    if props is None:
        return
    for prop in props if isinstance(props, list) else [props]:
        for item in prop.dts:
            yield item.dt


def _like(value: date | datetime, start: date | datetime) -> date | datetime:
    """An RDATE/EXDATE in the form of DTSTART (for matching and expansion)."""
    if not isinstance(start, datetime):
        return value.date() if isinstance(value, datetime) else value
    if not isinstance(value, datetime):
        return datetime.combine(value, start.time(), start.tzinfo)
    if start.tzinfo is None:
        return value.replace(tzinfo=None)
    return value if value.tzinfo is not None else value.replace(tzinfo=start.tzinfo)


class _Window:
    """[start, end) in UTC, with the viewer's zone for floating values."""

    def __init__(self, start: datetime, end: datetime, viewer: tzinfo) -> None:
        self.start = start
        self.end = end
        self.viewer = viewer

    def bounds_like(self, first: date | datetime, duration: timedelta) -> tuple[datetime, datetime]:
        """The range of *starts* that may overlap, in the form of ``first``."""
        lo = self.start - max(duration, timedelta(0)) - timedelta(days=1)
        hi = self.end + timedelta(days=1)
        if isinstance(first, datetime) and first.tzinfo is not None:
            return lo, hi
        # floating / dates: the viewer's wall clock
        return (
            lo.astimezone(self.viewer).replace(tzinfo=None),
            hi.astimezone(self.viewer).replace(tzinfo=None),
        )

    def overlaps(self, start: datetime, end: datetime) -> bool:
        if end <= start:
            return self.start <= start < self.end
        return start < self.end and end > self.start


@lru_cache(maxsize=4096)
def build_rule(text: str, first: date | datetime) -> rrule:
    """A dateutil rule from an RRULE value, its UNTIL brought into the form
    of DTSTART (dateutil wants both zoned or both floating); ValueError
    when it cannot be read.  Cached: a rule object (dateutil's ``cache=False``)
    only hands out fresh iterators, so threads may share it."""
    parts = [p for p in text.split(";") if p]
    rest = [p for p in parts if not p.upper().startswith("UNTIL=")]
    dtstart = first if isinstance(first, datetime) else _naive(first)
    parsed = rrulestr(";".join(rest), dtstart=dtstart)
    if not isinstance(parsed, rrule):
        raise ValueError("not a single rule")
    until_text = next((p[6:] for p in parts if p.upper().startswith("UNTIL=")), "")
    if not until_text:
        return parsed
    value = _until_value(until_text)
    if isinstance(first, datetime) and first.tzinfo is not None:
        if not isinstance(value, datetime):
            value = datetime.combine(value, time.max, first.tzinfo)
        elif value.tzinfo is None:
            value = value.replace(tzinfo=first.tzinfo)
    elif isinstance(value, datetime):
        if value.tzinfo is not None:
            # a floating or all-day series with a UTC UNTIL: compare wall times
            value = value.astimezone(UTC).replace(tzinfo=None)
        if not isinstance(first, datetime):
            value = datetime.combine(value.date(), time.max)
    else:
        value = datetime.combine(value, time.max)
    return parsed.replace(until=value)


def _until_value(text: str) -> date | datetime:
    raw = text.strip()
    if len(raw) == 8:
        return datetime.strptime(raw, "%Y%m%d").date()
    if raw.upper().endswith("Z"):
        return datetime.strptime(raw[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return datetime.strptime(raw, "%Y%m%dT%H%M%S")


@dataclass(frozen=True)
class _Spec:
    """What expansion needs of one component, read once per body (cached)."""

    uid: str
    summary: str
    location: str
    status: str
    #: DTSTART (or DUE for a task without one)
    start: date | datetime | None
    duration: timedelta
    rid: date | datetime | None
    rules: tuple[str, ...]
    rdates: tuple[date | datetime, ...]
    exdates: tuple[date | datetime, ...]

    @property
    def recurring(self) -> bool:
        return bool(self.rules or self.rdates)


def _spec(component: Any) -> _Spec:
    start = _dt(component, "DTSTART") or _dt(component, "DUE")
    rules = component.get("RRULE")
    rid = component.get("RECURRENCE-ID")
    return _Spec(
        uid=str(component.get("UID", "")),
        summary=str(component.get("SUMMARY", "")),
        location=str(component.get("LOCATION", "")),
        status=str(component.get("STATUS", "")).upper(),
        start=start,
        duration=_duration(component, start) if start is not None else timedelta(0),
        rid=rid.dt if rid is not None else None,
        rules=tuple(
            r.to_ical().decode()
            for r in (rules if isinstance(rules, list) else [rules] if rules is not None else [])
        ),
        rdates=tuple(v[0] if isinstance(v, tuple) else v for v in _values(component, "RDATE")),
        exdates=tuple(_values(component, "EXDATE")),
    )


_VTIMEZONE = re.compile(r"BEGIN:VTIMEZONE\r?\n.*?END:VTIMEZONE\r?\n", re.DOTALL)
_TZID = re.compile(r';TZID=("?)([^;:"]+)\1[;:]')


@lru_cache(maxsize=512)
def _known_zone(tzid: str) -> bool:
    try:
        ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


Specs = tuple[tuple[_Spec, ...], ...]


def _specs(text: str, component: str) -> Specs:
    """The components of ``text`` grouped by UID.  When every TZID is an
    IANA zone, the VTIMEZONEs are not parsed (the zone database answers,
    RFC 7809)."""
    tzids = {m.group(2) for m in _TZID.finditer(text)}
    if all(_known_zone(t) for t in tzids):
        text = _VTIMEZONE.sub("", text)
    calendar = icalendar.Calendar.from_ical(text)
    by_uid: dict[str, list[_Spec]] = {}
    for found in calendar.walk(component):
        spec = _spec(found)
        by_uid.setdefault(spec.uid, []).append(spec)
    return tuple(tuple(group) for group in by_uid.values())


def _starts(
    master: _Spec, first: date | datetime, window: _Window
) -> tuple[list[date | datetime], bool]:
    """Starts of the series that may overlap the window; True when bounded."""
    lo, hi = window.bounds_like(first, master.duration)
    found: list[date | datetime] = []
    truncated = False
    for text in master.rules:
        for steps, value in enumerate(build_rule(text, first), start=1):
            if value >= hi:
                break
            if steps > MAX_STEPS or len(found) > MAX_PER_SERIES:
                truncated = True
                break
            if value >= lo:
                found.append(value if isinstance(first, datetime) else value.date())
    seen = {_key(v) for v in found}
    if _key(first) not in seen:  # DTSTART is always the first occurrence
        seen.add(_key(first))
        found.append(first)
    for value in master.rdates:
        start = _like(value, first)
        if _key(start) not in seen:
            seen.add(_key(start))
            found.append(start)
    return found, truncated


def _excluded(master: _Spec, first: date | datetime) -> tuple[set[Any], set[date]]:
    keys: set[Any] = set()
    days: set[date] = set()
    for value in master.exdates:
        if not isinstance(value, datetime):
            days.add(value)
        keys.add(_key(_like(value, first)))
    return keys, days


def _is_excluded(value: date | datetime, keys: set[Any], days: set[date]) -> bool:
    if _key(value) in keys:
        return True
    day = value.date() if isinstance(value, datetime) else value
    return day in days


def _occurrence(
    spec: _Spec,
    start: date | datetime,
    duration: timedelta,
    window: _Window,
    *,
    rid: str,
    recurring: bool,
    is_override: bool,
) -> Occurrence | None:
    if isinstance(start, datetime):
        end_value: date | datetime = start + duration
    else:
        end_value = start + timedelta(days=duration.days)
    local_start = _local(start, window.viewer)
    local_end = _local(end_value, window.viewer)
    if not window.overlaps(local_start.astimezone(UTC), local_end.astimezone(UTC)):
        return None
    return Occurrence(
        uid=spec.uid,
        summary=spec.summary,
        location=spec.location,
        start=local_start,
        end=local_end,
        all_day=not isinstance(start, datetime),
        rid=rid,
        recurring=recurring,
        is_override=is_override,
        status=spec.status,
    )


def expand_components(components: Sequence[_Spec], window: _Window, expansion: Expansion) -> None:
    """Add the occurrences of one resource's components (one UID) in ``window``."""
    masters = [c for c in components if c.rid is None]
    moved = {_key(c.rid): c for c in components if c.rid is not None}
    master = masters[0] if masters else None
    if master is not None and master.start is not None:
        first = master.start
        recurring = master.recurring
        starts, truncated = _starts(master, first, window)
        if truncated:
            expansion.truncated.append(master.uid)
        keys, days = _excluded(master, first)
        for start in starts:
            if _key(start) in moved or (recurring and _is_excluded(start, keys, days)):
                continue
            found = _occurrence(
                master,
                start,
                master.duration,
                window,
                rid=rid_text(start) if recurring else "",
                recurring=recurring,
                is_override=False,
            )
            if found is not None:
                expansion.occurrences.append(found)
    for spec in moved.values():
        assert spec.rid is not None
        start = spec.start or spec.rid
        found = _occurrence(
            spec,
            start,
            spec.duration,
            window,
            rid=rid_text(spec.rid),
            recurring=True,
            is_override=True,
        )
        if found is not None:
            expansion.occurrences.append(found)


class SpecCache:
    """Parsed bodies by ETag (an ETag is the hash of the body), least
    recently used out first: a week view shows the same series week after
    week, and the page then needs neither the body nor a parse."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], Specs] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, etag: str, component: str) -> Specs | None:
        with self._lock:
            found = self._entries.get((etag, component))
            if found is not None:
                self._entries.move_to_end((etag, component))
            return found

    def parse(self, etag: str, text: str, component: str) -> Specs:
        specs = _specs(text, component)
        with self._lock:
            self._entries[(etag, component)] = specs
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return specs


#: One per process.
SPECS = SpecCache()


def expand_specs(
    specs: Specs,
    start: datetime,
    end: datetime,
    viewer: tzinfo,
    expansion: Expansion,
) -> Expansion:
    window = _Window(start.astimezone(UTC), end.astimezone(UTC), viewer)
    for components in specs:
        try:
            expand_components(components, window, expansion)
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            expansion.unreadable.append(components[0].uid)
    return expansion


def expand(
    text: str,
    start: datetime,
    end: datetime,
    viewer: tzinfo,
    *,
    component: str = "VEVENT",
    expansion: Expansion | None = None,
) -> Expansion:
    """The occurrences of ``component`` in the object ``text`` that overlap
    [start, end) (aware datetimes), in ``viewer``'s zone."""
    result = expansion if expansion is not None else Expansion()
    try:
        specs = _specs(text, component)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        result.unreadable.append(text.split("UID:", 1)[-1].split("\n", 1)[0].strip())
        return result
    return expand_specs(specs, start, end, viewer, result)


def single(
    uid: str,
    summary: str,
    location: str,
    start: datetime,
    end: datetime,
    *,
    all_day: bool,
    floating: bool,
    viewer: tzinfo,
    status: str = "",
) -> Occurrence:
    """An occurrence of a non-recurring event from projection columns (stored
    in UTC; all-day and floating values were read as UTC wall-clock)."""
    if all_day or floating:
        local_start = start.replace(tzinfo=None).replace(tzinfo=viewer)
        local_end = end.replace(tzinfo=None).replace(tzinfo=viewer)
    else:
        local_start = start.astimezone(viewer)
        local_end = end.astimezone(viewer)
    return Occurrence(
        uid=uid,
        summary=summary,
        location=location,
        start=local_start,
        end=local_end,
        all_day=all_day,
        rid="",
        recurring=False,
        is_override=False,
        status=status,
    )


def overlaps(occurrence: Occurrence, start: datetime, end: datetime) -> bool:
    return _Window(start.astimezone(UTC), end.astimezone(UTC), UTC).overlaps(
        occurrence.start.astimezone(UTC), occurrence.end.astimezone(UTC)
    )


# -- occurrences with their components (kmdav.scheduling, kmdav.dav.expand) ----------


@dataclass(frozen=True)
class Instance:
    """One occurrence (times in UTC; floating and all-day values as UTC wall
    clock) and the iCalendar component it comes from: the override for a
    moved occurrence, else the main component."""

    occurrence: Occurrence
    component: icalendar.cal.Component


def instances(
    text: str, start: datetime, end: datetime, *, component: str = "VEVENT"
) -> list[Instance]:
    """The occurrences of ``component`` in ``text`` overlapping [start, end),
    soonest first, each with its source component, for code that reads
    more of it than :class:`Occurrence` holds (TRANSP, ATTENDEE, X-
    properties).  The same expansion the calendar pages use, on one parse
    of the body; raises ``ValueError`` when the object cannot be read."""
    if all(_known_zone(m.group(2)) for m in _TZID.finditer(text)):
        text = _VTIMEZONE.sub("", text)  # the zone database answers (RFC 7809)
    masters: dict[str, icalendar.cal.Component] = {}
    moved: dict[tuple[str, str], icalendar.cal.Component] = {}
    by_uid: dict[str, list[_Spec]] = {}
    for found in icalendar.Calendar.from_ical(text).walk(component):
        spec = _spec(found)
        by_uid.setdefault(spec.uid, []).append(spec)
        if spec.rid is None:
            masters.setdefault(spec.uid, found)
        else:
            moved[(spec.uid, rid_text(spec.rid))] = found
    expansion = expand_specs(
        tuple(tuple(group) for group in by_uid.values()), start, end, UTC, Expansion()
    )
    if expansion.unreadable:
        raise ValueError("the object cannot be expanded")
    result = []
    for occurrence in sorted(expansion.occurrences, key=lambda o: o.start):
        source = (
            moved.get((occurrence.uid, occurrence.rid))
            if occurrence.is_override
            else masters.get(occurrence.uid)
        )
        if source is not None:
            result.append(Instance(occurrence, source))
    return result
