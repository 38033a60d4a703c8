"""One VCALENDAR out of many stored calendar objects, without a parse.

A subscription feed (``/ics/<token>.ics``) is the whole calendar in one
iCalendar stream.  Every stored object is a VCALENDAR of its own; merging
them means keeping their components and dropping their calendar-level
properties.  A line scan does that: component text is copied as stored,
folding, parameters, X- properties, overrides (RECURRENCE-ID) and EXDATEs
included.  The only changes are line endings (always CRLF, RFC 5545 3.1)
and VTIMEZONE components kept once per TZID (RFC 5545 3.6.5: a TZID is
unique within one iCalendar object; the first definition wins).

Pure code: no I/O, no database.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

CRLF = "\r\n"
PRODID = "-//kmdav//calendar feed//EN"
#: How often a subscriber should look again (RFC 7986 5.7; Outlook reads
#: X-PUBLISHED-TTL).  Caches may still answer within ``max-age``.
REFRESH_INTERVAL = "PT1H"
#: Changes whenever the feed's text format changes, so ETags change with it.
FORMAT_VERSION = "1"
#: RFC 5545 3.1: lines longer than 75 octets are folded.
_FOLD_OCTETS = 75


@dataclass(frozen=True)
class FeedHeader:
    """What the feed says about the calendar itself.

    ``timezone`` is the calendar's own time zone (the TZID of its
    ``calendar-timezone`` property, RFC 4791 5.2.2), or ``""``.
    """

    name: str
    description: str = ""
    timezone: str = ""


class FeedBuilder:
    """Collects the components of stored calendar objects; :meth:`render`
    writes them as one VCALENDAR.

    ``components`` are the component names kept besides VTIMEZONE (VEVENT
    for a calendar feed); anything else (VTODO, VJOURNAL, VALARM-only
    oddities at the top level) is left out.
    """

    def __init__(self, components: Iterable[str] = ("VEVENT",)) -> None:
        self._wanted = frozenset(name.upper() for name in components)
        self._timezones: dict[str, str] = {}
        self._components: list[str] = []
        self.count = 0

    def add(self, body: str) -> None:
        """Take the wanted components (and time zones) of one stored object."""
        depth = 0
        kind = ""
        current: list[str] | None = None
        for raw in body.split("\n"):
            line = raw[:-1] if raw.endswith("\r") else raw
            if not line:
                continue
            if line[0] in " \t":  # a folded continuation of the line before
                if current is not None:
                    current.append(line)
                continue
            head = line[:6].upper()
            if head == "BEGIN:":
                depth += 1
                if depth == 2:
                    kind = line[6:].strip().upper()
                    current = [line]
                    continue
            elif head[:4] == "END:":
                depth -= 1
                if depth == 1 and current is not None:
                    current.append(line)
                    self._keep(kind, current)
                    current = None
                    continue
            if current is not None:
                current.append(line)

    def _keep(self, kind: str, lines: list[str]) -> None:
        if kind == "VTIMEZONE":
            tzid = _tzid(lines)
            if tzid and tzid not in self._timezones:
                self._timezones[tzid] = CRLF.join(lines) + CRLF
        elif kind in self._wanted:
            self._components.append(CRLF.join(lines) + CRLF)
            self.count += 1

    @property
    def timezone_ids(self) -> list[str]:
        return list(self._timezones)

    def chunks(self, header: FeedHeader) -> Iterable[str]:
        """The feed as pieces of text: header, time zones, components, end."""
        yield _header(header, self._default_timezone(header))
        yield from self._timezones.values()
        yield from self._components
        yield "END:VCALENDAR" + CRLF

    def render(self, header: FeedHeader) -> bytes:
        return "".join(self.chunks(header)).encode("utf-8")

    def _default_timezone(self, header: FeedHeader) -> str:
        """X-WR-TIMEZONE where it is sensible: the calendar's own zone, else
        the one zone every timed event uses; only IANA names (clients look
        the value up in their zone database)."""
        if is_iana_zone(header.timezone):
            return header.timezone
        if len(self._timezones) == 1:
            (only,) = self._timezones
            if is_iana_zone(only):
                return only
        return ""


def _unfolded(lines: list[str], start: int) -> str:
    parts = [lines[start]]
    for line in lines[start + 1 :]:
        if not line or line[0] not in " \t":
            break
        parts.append(line[1:])
    return "".join(parts)


def _tzid(lines: list[str]) -> str:
    """The TZID of a VTIMEZONE given as its lines (only its own, not a
    sub-component's: STANDARD and DAYLIGHT carry none)."""
    for index, line in enumerate(lines):
        upper = line[:5].upper()
        if upper in ("TZID:", "TZID;"):
            return _unfolded(lines, index).partition(":")[2].strip()
    return ""


def calendar_timezone_id(vtimezone_text: str) -> str:
    """The TZID inside a ``calendar-timezone`` property (a VCALENDAR holding
    one VTIMEZONE), or ``""``."""
    lines = [raw.rstrip("\r") for raw in vtimezone_text.split("\n")]
    return _tzid(lines)


@lru_cache(maxsize=256)
def is_iana_zone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line
    breaks escaped; other control characters dropped (3.1: not allowed)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(char for char in value if char in "\n\t" or ord(char) >= 0x20)
    value = value.replace("\x7f", "")
    for plain, escaped in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        value = value.replace(plain, escaped)
    return value


def fold(line: str) -> str:
    """``line`` folded at 75 octets, never inside a UTF-8 sequence, with CRLF."""
    if len(line.encode("utf-8")) <= _FOLD_OCTETS:
        return line + CRLF
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, _FOLD_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, _FOLD_OCTETS - 1  # the space takes one
        current.append(char)
        size += octets
    parts.append("".join(current))
    return (CRLF + " ").join(parts) + CRLF


def _header(header: FeedHeader, timezone: str) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{escape_text(header.name)}",
        f"X-WR-CALNAME:{escape_text(header.name)}",
    ]
    if header.description:
        lines += [
            f"DESCRIPTION:{escape_text(header.description)}",
            f"X-WR-CALDESC:{escape_text(header.description)}",
        ]
    if timezone:
        lines.append(f"X-WR-TIMEZONE:{timezone}")
    lines += [
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH_INTERVAL}",
        f"X-PUBLISHED-TTL:{REFRESH_INTERVAL}",
    ]
    return "".join(fold(line) for line in lines)
