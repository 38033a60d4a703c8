"""The time range a stored calendar object spans, as the DAV face computes it.

A CalDAV PUT stores ``dav_items.dtstart/dtend`` from Radicale's
``find_time_range`` (RFC 4791 9.9, dates and floating times read as UTC,
an endless series up to Radicale's maximum), and calendar-query trusts
those columns.  Objects the web writes must carry the same numbers, so this
is the same walk over the same vobject rule sets for VEVENT and VTODO (the
components the web writes); the tests compare it with Radicale's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import vobject

#: Radicale's bounds: ``datetime.min``/``max`` in UTC as Unix seconds.
TIMESTAMP_MIN = math.floor(datetime.min.replace(tzinfo=UTC).timestamp())
TIMESTAMP_MAX = math.ceil(datetime.max.replace(tzinfo=UTC).timestamp())
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def _utc(value: date) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class _Span:
    def __init__(self) -> None:
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.open = False

    def add(self, start: datetime, end: datetime) -> None:
        if self.start is None or start < self.start:
            self.start = start
        if self.end is None or end > self.end:
            self.end = end


def _children(components: list[Any]) -> list[tuple[Any, list[Any]]]:
    """(component, RECURRENCE-IDs to skip): overrides first, the main last."""
    result: list[tuple[Any, list[Any]]] = []
    rids = []
    main = None
    for component in components:
        rid = getattr(component, "recurrence_id", None)
        if rid is not None and rid.value:
            rids.append(rid.value)
            result.append((component, []))
        else:
            main = component
    if main is None and len(rids) == 1:
        main = result[-1][0]
    if main is not None:
        result.append((main, rids))
    return result


def _starts(component: Any, skip: list[Any], span: _Span) -> Iterable[date] | None:
    """The occurrence starts, or None when the series never ends (the span
    then runs to the maximum from its first start)."""
    rules = component.contents.get("rrule", [])
    endless = any(
        ";UNTIL=" not in r.value.upper() and ";COUNT=" not in r.value.upper() for r in rules
    )
    if endless:
        for start in component.getrruleset(addRDate=True):
            if start in skip:
                continue
            first = _utc(start)
            if span.start is None or first < span.start:
                span.start = first
            break
        span.open = True
        return None
    return [s for s in component.getrruleset(addRDate=True) if s not in skip]


def _event(component: Any, skip: list[Any], span: _Span) -> bool:  # noqa: PLR0912 (RFC 4791 9.9's table, line by line)
    start_value = component.dtstart.value
    starts: Iterable[date] | None
    if component.rruleset:
        starts = _starts(component, skip, span)
        if starts is None:
            return True
    else:
        starts = (start_value,)
    dtend = getattr(component, "dtend", None)
    length: float | None = None
    if dtend is not None:
        end_value = dtend.value
        base = start_value
        if isinstance(base, datetime) and isinstance(end_value, datetime):
            if base.tzinfo is None and end_value.tzinfo is not None:
                base = base.replace(tzinfo=end_value.astimezone().tzinfo)
            elif base.tzinfo is not None and end_value.tzinfo is None:
                end_value = end_value.replace(tzinfo=base.astimezone().tzinfo)
        length = (end_value - base).total_seconds()
    duration = getattr(component, "duration", None)
    duration_value = duration.value if duration is not None else None
    for start in starts:
        is_time = isinstance(start, datetime)
        first = _utc(start)
        if dtend is not None and length is not None:
            span.add(first, first + timedelta(seconds=length))
        elif duration_value is not None:
            if duration_value.total_seconds() > 0:
                span.add(first, first + duration_value)
            else:
                span.add(first, first + SECOND)
        elif is_time:
            span.add(first, first + SECOND)
        else:
            span.add(first, first + DAY)
    return False


def _todo(component: Any, skip: list[Any], span: _Span) -> bool:  # noqa: PLR0912 (RFC 4791 9.9's table, line by line)
    def value(name: str) -> datetime | None:
        prop = getattr(component, name, None)
        return _utc(prop.value) if prop is not None else None

    dtstart, due, completed, created = (
        value(n) for n in ("dtstart", "due", "completed", "created")
    )
    duration_prop = getattr(component, "duration", None)
    duration = duration_prop.value if duration_prop is not None else None
    length = (due - dtstart).total_seconds() if dtstart is not None and due is not None else 0.0
    references: Iterable[date]
    if component.rruleset:
        found = _starts(component, skip, span)
        if found is None:
            return True
        references = found
    else:
        reference = dtstart or due or completed or created
        if reference is None:
            span.add(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
            references = ()
        else:
            references = (reference,)
    for raw in references:
        ref = _utc(raw)
        if dtstart is not None and duration is not None:
            span.add(ref, ref + duration + SECOND)
            span.add(ref + duration - SECOND, ref + duration + SECOND)
        elif dtstart is not None and due is not None:
            end = ref + timedelta(seconds=length)
            span.add(ref, end)
            span.add(ref, ref + SECOND)
            span.add(end - SECOND, end)
            span.add(end - SECOND, ref + SECOND)
        elif dtstart is not None:
            span.add(ref, ref + SECOND)
        elif due is not None:
            span.add(ref - SECOND, ref)
        elif completed is not None and created is not None:
            span.add(min(created, completed) - SECOND, max(created, completed) + SECOND)
        elif completed is not None:
            span.add(ref - SECOND, ref + SECOND)
        elif created is not None:
            span.add(ref, datetime.max.replace(tzinfo=UTC))
    return False


def time_range(parsed: Any, component: str) -> tuple[int, int]:
    """(start, end) as Unix seconds of the parsed VCALENDAR's ``component``s."""
    span = _Span()
    visit = _event if component == "VEVENT" else _todo
    for child, skip in _children(list(parsed.contents.get(component.lower(), []))):
        if visit(child, skip, span):
            break
    start = span.start or datetime.min.replace(tzinfo=UTC)
    end = datetime.max.replace(tzinfo=UTC) if span.open or span.end is None else span.end
    return math.floor(start.timestamp()), math.ceil(end.timestamp())


def parse(text: str) -> Any:
    return vobject.readOne(text)
