"""Our expansion against the independent ``recurring-ical-events``, and the
stored time range against Radicale's own ``find_time_range``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
from radicale.item import find_time_range

from kmdav.calendar import recurrence, timerange
from tests.calendar import samples

VIENNA = ZoneInfo("Europe/Vienna")
NEW_YORK = ZoneInfo("America/New_York")
WINDOWS = [
    (datetime(2026, 10, 1, tzinfo=VIENNA), datetime(2026, 12, 1, tzinfo=VIENNA)),
    (datetime(2027, 3, 1, tzinfo=VIENNA), datetime(2027, 4, 10, tzinfo=VIENNA)),
    (datetime(2025, 3, 1, tzinfo=VIENNA), datetime(2028, 4, 1, tzinfo=VIENNA)),
    (datetime(2026, 10, 25, tzinfo=VIENNA), datetime(2026, 10, 26, tzinfo=VIENNA)),
]


def _local(value: date | datetime, viewer: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), viewer)
    return value.replace(tzinfo=viewer) if value.tzinfo is None else value.astimezone(viewer)


def reference(text: str, start: datetime, end: datetime, viewer: ZoneInfo) -> set[tuple]:
    """(summary, local start, local end) by recurring-ical-events.  Floating and
    all-day values are the viewer's wall clock, so the window is asked in it."""
    calendar = icalendar.Calendar.from_ical(text)
    lo = start.astimezone(viewer).replace(tzinfo=None) - timedelta(days=2)
    hi = end.astimezone(viewer).replace(tzinfo=None) + timedelta(days=2)
    found = set()
    for component in recurring_ical_events.of(calendar).between(lo, hi):
        first = component["DTSTART"].dt
        last = component["DTEND"].dt if "DTEND" in component else None
        if last is None:
            duration = component.get("DURATION")
            last = first + duration.dt if duration is not None else first
        local_start, local_end = _local(first, viewer), _local(last, viewer)
        occurrence = recurrence.Occurrence(
            "", "", "", local_start, local_end, False, "", False, False
        )
        if recurrence.overlaps(occurrence, start, end):
            found.add((str(component["SUMMARY"]), local_start, local_end))
    return found


def ours(text: str, start: datetime, end: datetime, viewer: ZoneInfo) -> set[tuple]:
    expansion = recurrence.expand(text, start, end, viewer)
    assert not expansion.unreadable
    return {(o.summary, o.start, o.end) for o in expansion.occurrences}


@pytest.mark.parametrize("name", sorted(samples.ALL))
@pytest.mark.parametrize("viewer", [VIENNA, NEW_YORK], ids=["vienna", "new-york"])
@pytest.mark.parametrize("window", WINDOWS, ids=["autumn", "spring", "years", "dst-day"])
def test_expansion_matches_recurring_ical_events(
    name: str, viewer: ZoneInfo, window: tuple[datetime, datetime]
) -> None:
    text = samples.ALL[name]
    assert ours(text, *window, viewer) == reference(text, *window, viewer)


def test_dst_keeps_the_wall_clock_time() -> None:
    found = recurrence.expand(
        samples.WEEKLY_DST,
        datetime(2026, 10, 1, tzinfo=VIENNA),
        datetime(2026, 12, 1, tzinfo=VIENNA),
        VIENNA,
    ).occurrences
    plain = sorted(o.start for o in found if not o.is_override)
    assert [s.hour for s in plain] == [9] * len(plain)
    assert {s.utcoffset() for s in plain} == {timedelta(hours=2), timedelta(hours=1)}
    assert datetime(2026, 10, 20, 9, tzinfo=VIENNA) not in plain  # EXDATE
    moved = [o for o in found if o.is_override]
    assert [(o.start, o.rid) for o in moved] == [
        (datetime(2026, 10, 28, 14, tzinfo=VIENNA), "20261027T080000Z")
    ]


def test_floating_and_all_day_follow_the_viewer() -> None:
    window = (datetime(2026, 10, 20, tzinfo=NEW_YORK), datetime(2026, 10, 21, tzinfo=NEW_YORK))
    (standup,) = recurrence.expand(samples.FLOATING, *window, NEW_YORK).occurrences
    assert standup.start == datetime(2026, 10, 20, 8, 30, tzinfo=NEW_YORK)
    fair = recurrence.expand(
        samples.ALL_DAY,
        datetime(2027, 3, 1, tzinfo=VIENNA),
        datetime(2027, 4, 1, tzinfo=VIENNA),
        VIENNA,
    ).occurrences
    assert [(o.start.date(), o.end.date(), o.all_day, o.days) for o in fair] == [
        (date(2027, 3, 10), date(2027, 3, 13), True, 3)
    ]


def test_endless_minutely_rule_is_bounded() -> None:
    text = samples.wrap(
        samples.event("spam", "SUMMARY:Ping", "DTSTART:20200101T000000Z", "RRULE:FREQ=MINUTELY"),
        timezone=False,
    )
    expansion = recurrence.expand(
        text, datetime(2026, 1, 1, tzinfo=VIENNA), datetime(2026, 2, 1, tzinfo=VIENNA), VIENNA
    )
    assert expansion.truncated == ["spam"]
    assert len(expansion.occurrences) <= recurrence.MAX_PER_SERIES + 1


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_time_range_is_radicales(name: str) -> None:
    parsed = vobject.readOne(samples.ALL[name])
    assert timerange.time_range(parsed, "VEVENT") == find_time_range(parsed, "VEVENT")


@pytest.mark.parametrize(
    "lines",
    [
        ("DUE:20261130T170000Z",),
        ("DTSTART:20261120T080000Z", "DUE;VALUE=DATE:20261130"),
        ("DTSTART:20261120T080000Z", "DURATION:P2D"),
        ("COMPLETED:20261121T080000Z", "CREATED:20261101T080000Z"),
        ("DTSTART:20261120T080000Z", "DUE:20261121T080000Z", "RRULE:FREQ=WEEKLY;COUNT=3"),
        (),
    ],
)
def test_todo_time_range_is_radicales(lines: tuple[str, ...]) -> None:
    body = "BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:x\r\n"
    body += "".join(line + "\r\n" for line in lines) + "END:VTODO\r\n"
    parsed = vobject.readOne(samples.wrap(body, timezone=False))
    assert timerange.time_range(parsed, "VTODO") == find_time_range(parsed, "VTODO")
