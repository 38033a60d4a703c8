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

import re
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
#: A line that opens or closes a component (after line endings became CRLF).
_BOUNDARY = re.compile(r"\n(BEGIN|END):[ \t]*([A-Za-z0-9-]+)[ \t]*\r(?=\n)", re.I)
_NEWLINE = re.compile(r"\r?\n")
_BLANK_LINES = re.compile(r"(?:\r\n)+")
_FOLDED = re.compile(r"\r?\n[ \t]")
#: The TZID property line of a VTIMEZONE: its value up to the line end.
_TZID = re.compile(r"^TZID(?:;[^:\r\n]*)?:([^\r\n]*)", re.M | re.I)


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
        self._seen_zones: set[str] = set()
        self._components: list[str] = []
        self.count = 0

    def add(self, body: str) -> None:
        """Take the wanted components (and time zones) of one stored object.

        Only the BEGIN/END lines are looked at (a regular expression finds
        them); the text between is sliced out whole.
        """
        if body.count("\n") != body.count("\r\n"):
            body = _NEWLINE.sub("\r\n", body)
        # Every boundary line then sits between "\n" and "\r\n": the pattern
        # can start with a literal, which the regex engine finds fast.
        body = "\n" + body + ("" if body.endswith("\n") else "\r\n")
        depth = 0
        kind = ""
        start = 0
        for boundary in _BOUNDARY.finditer(body):
            if boundary.group(1)[0] in "Bb":
                depth += 1
                if depth == 2:
                    kind, start = boundary.group(2).upper(), boundary.start() + 1
            else:
                depth -= 1
                if depth == 1 and kind:
                    self._keep(kind, body[start : boundary.end()] + "\n")
                    kind = ""

    def _keep(self, kind: str, text: str) -> None:
        if "\r\n\r\n" in text:  # blank lines are no content lines (RFC 5545 3.1)
            text = _BLANK_LINES.sub("\r\n", text)
        if kind == "VTIMEZONE":
            if text in self._seen_zones:  # the usual case: the same zone again
                return
            self._seen_zones.add(text)
            tzid = _tzid(text)
            if tzid and tzid not in self._timezones:
                self._timezones[tzid] = text
        elif kind in self._wanted:
            self._components.append(text)
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


def _tzid(text: str) -> str:
    """The TZID of a VTIMEZONE (its own: STANDARD and DAYLIGHT carry none)."""
    found = _TZID.search(_FOLDED.sub("", text))
    return found.group(1).strip() if found else ""


def calendar_timezone_id(vtimezone_text: str) -> str:
    """The TZID inside a ``calendar-timezone`` property (a VCALENDAR holding
    one VTIMEZONE), or ``""``."""
    return _tzid(vtimezone_text)


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
