"""The calendar's views as data: which days a view shows, what lies on each.

Pure code: the page asks :func:`span` for the window to read, then
:func:`days` puts the occurrences on the local days they touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

VIEWS = ("month", "week", "day", "agenda")
#: Days the agenda lists from the chosen date on.
AGENDA_DAYS = 30


@dataclass
class Day:
    day: date
    in_month: bool = True
    entries: list[Any] = field(default_factory=list)


def span(view: str, anchor: date) -> tuple[date, int]:
    """(first day, number of days) a view shows around ``anchor``; weeks start on Monday."""
    if view == "day":
        return anchor, 1
    if view == "week":
        return anchor - timedelta(days=anchor.weekday()), 7
    if view == "agenda":
        return anchor, AGENDA_DAYS
    first = anchor.replace(day=1)
    start = first - timedelta(days=first.weekday())
    next_month = (first + timedelta(days=32)).replace(day=1)
    end = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return start, (end - start).days


def step(view: str, anchor: date, forward: bool) -> date:
    """The anchor of the previous or next page of a view."""
    sign = 1 if forward else -1
    if view == "day":
        return anchor + timedelta(days=sign)
    if view == "week":
        return anchor + timedelta(days=7 * sign)
    if view == "agenda":
        return anchor + timedelta(days=AGENDA_DAYS * sign)
    first = anchor.replace(day=1)
    if forward:
        return (first + timedelta(days=32)).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def days(first: date, count: int, entries: Sequence[Any], *, month: int | None = None) -> list[Day]:
    """The days from ``first`` with the entries (``.occurrence`` with local
    ``start``/``end``) that touch each; a multi-day entry is on every day."""
    result = [
        Day(first + timedelta(days=i), month is None or (first + timedelta(days=i)).month == month)
        for i in range(count)
    ]
    for entry in entries:
        occurrence = entry.occurrence
        start: datetime = occurrence.start
        end: datetime = occurrence.end
        last = end - timedelta(microseconds=1) if end > start else end
        index = max((start.date() - first).days, 0)
        stop = min((last.date() - first).days, count - 1)
        for position in range(index, stop + 1):
            result[position].entries.append(entry)
    return result


def weeks(all_days: Sequence[Day]) -> list[list[Day]]:
    return [list(all_days[i : i + 7]) for i in range(0, len(all_days), 7)]
