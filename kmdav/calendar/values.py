"""iCalendar DATE / DATE-TIME values <-> Python, and time zone checks.

A value is a ``date`` (all day), a naive ``datetime`` (floating: the same
wall-clock time wherever the reader is) or an aware ``datetime`` whose
``tzinfo`` is a :class:`zoneinfo.ZoneInfo` (written with ``TZID``) or UTC
(written with ``Z``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kmdav.errors import ValidationError

#: Where a user has chosen no time zone and the settings name none.
DEFAULT_TIME_ZONE = "Europe/Vienna"

When = date | datetime


def zone(tzid: str, *, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone ``tzid``; a clear error for ids nobody knows."""
    name = tzid.strip()
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValidationError("unknown time zone %(tzid)r", field=field, tzid=tzid)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError("unknown time zone %(tzid)r", field=field, tzid=tzid) from None


def tzid_of(value: datetime) -> str | None:
    """The TZID to write for an aware value; None for UTC (written with Z)."""
    tz = value.tzinfo
    if tz is None or tz is UTC:
        return None
    key = getattr(tz, "key", None)
    if key in (None, "UTC", "Etc/UTC"):
        return None
    return str(key)


def format_value(value: When) -> tuple[str, dict[str, str]]:
    """(text, params) of a DATE or DATE-TIME value."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d"), {"VALUE": "DATE"}
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S"), {}
    tzid = tzid_of(value)
    if tzid is None:
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"), {}
    return value.strftime("%Y%m%dT%H%M%S"), {"TZID": tzid}


def parse_value(text: str, params: dict[str, str]) -> When | None:
    """A stored DATE/DATE-TIME back into Python; None when it cannot be read
    (an unknown TZID among them: the caller then treats it as changed)."""
    raw = text.strip()
    try:
        if params.get("VALUE", "").upper() == "DATE" or len(raw) == 8:
            return datetime.strptime(raw, "%Y%m%d").date()
        if raw.endswith(("Z", "z")):
            return datetime.strptime(raw[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        parsed = datetime.strptime(raw, "%Y%m%dT%H%M%S")
    except ValueError:
        return None
    tzid = params.get("TZID")
    if not tzid:
        return parsed
    try:
        return parsed.replace(tzinfo=ZoneInfo(tzid))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def same(a: When | None, b: When | None) -> bool:
    """Equal as iCalendar values: same kind, same instant (or wall time)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, datetime) != isinstance(b, datetime):
        return False
    if isinstance(a, datetime) and isinstance(b, datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return False
        return a == b and tzid_of(a) == tzid_of(b)
    return a == b


def as_local(value: When, viewer: tzinfo) -> datetime:
    """Where ``value`` falls for a viewer in ``viewer``'s zone (all-day and
    floating values are the viewer's wall-clock time)."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), viewer)
    if value.tzinfo is None:
        return value.replace(tzinfo=viewer)
    return value.astimezone(viewer)


def shift(value: When, delta: timedelta) -> When:
    """``value`` moved by ``delta`` (whole days for dates), wall-clock."""
    if isinstance(value, datetime):
        return value + delta
    return value + timedelta(days=delta.days)
