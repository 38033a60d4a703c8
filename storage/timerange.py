"""Exact time-range answers for calendar-query without re-parsing.

A calendar-query with one ``time-range`` on VEVENT, VTODO or VJOURNAL is
what phones send for every visible week.  The indexed columns hold one
rough range per item (first start to last end), so every recurring series
that began before the window is a candidate; Radicale would re-parse and
expand each one with vobject (milliseconds apiece) on every query.

Instead, the first time an item body (by ETag: the hash of the body) is
asked for, Radicale's own :func:`radicale.item.filter.visit_time_ranges`
walks it once and every range it visits is recorded, in order, as
integer microseconds.  A later query replays the record with the very
test Radicale's ``time_range_match`` applies (overlap, or stop at the first
non-override range after the window), so the answer is Radicale's by
construction, floating and all-day values included (Radicale reads them as
UTC).  A record is bounded (:data:`HORIZON`, :data:`MAX_RANGES`); a query
that reaches past a bounded record, and any body Radicale's walk fails on,
is left to Radicale (``None``).  The cache keeps at most 2,000,000 ranges
(~34 MB) per process.

The record is also kept in the database (``dav_items.time_ranges``, see
:func:`Record.to_bytes`): a PUT through the DAV storage walks the tree
Radicale has just parsed and stores the record with the body, so a query
after a restart, or in another worker, reads it instead of parsing.
Other writers (web UI, scheduling) get it through
:func:`body_record`, which this package registers in the write path.
Rows without one (stored before migration 0012, or by a process that
never loaded this package) are walked on first use as before.
"""

from __future__ import annotations

import sys
import threading
import xml.etree.ElementTree as ET
from array import array
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from radicale import item as radicale_item
from radicale import xmlutils
from radicale.item import filter as radicale_filter

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Ranges starting after this are not recorded (infinite rules stop here).
HORIZON = datetime(2200, 1, 1, tzinfo=UTC)
#: Ranges recorded per body at most.
MAX_RANGES = 5_000
#: Ranges a record kept in the database may hold.  The walk runs inside the
#: PUT (about 50 us a range), so a long series is not recorded there: its
#: row keeps NULL and the first query of each process walks it, as for rows
#: stored before revision 0012.
STORED_MAX_RANGES = 400

COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
TIME_RANGE = xmlutils.make_clark("C:time-range")
COMP_FILTER = xmlutils.make_clark("C:comp-filter")


def micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


class Record:
    """The ranges one body's walk visits, in order: start and end in
    microseconds and whether the range is an override's (compact arrays:
    a long series costs 17 bytes a range)."""

    __slots__ = ("complete", "ends", "overrides", "starts")

    def __init__(self, ranges: list[tuple[int, int, bool]], complete: bool) -> None:
        self.starts = array("q", (r[0] for r in ranges))
        self.ends = array("q", (r[1] for r in ranges))
        self.overrides = bytes(r[2] for r in ranges)
        self.complete = complete

    def __len__(self) -> int:
        return len(self.starts)

    def to_bytes(self) -> bytes:
        """The stored form: a flag byte (1: complete), then the starts and
        the ends as little-endian 64-bit integers, then one byte per range
        for the override flags."""
        starts, ends = array("q", self.starts), array("q", self.ends)
        if sys.byteorder == "big":
            starts.byteswap()
            ends.byteswap()
        flag = b"\x01" if self.complete else b"\x00"
        return flag + starts.tobytes() + ends.tobytes() + self.overrides

    @classmethod
    def from_bytes(cls, data: bytes) -> Record | None:
        """The record :meth:`to_bytes` wrote; None for anything else."""
        count, rest = divmod(len(data) - 1, 17)
        if rest or count < 0 or data[0] not in (0, 1):
            return None
        found = cls([], complete=data[0] == 1)
        found.starts.frombytes(data[1 : 1 + 8 * count])
        found.ends.frombytes(data[1 + 8 * count : 1 + 16 * count])
        if sys.byteorder == "big":
            found.starts.byteswap()
            found.ends.byteswap()
        found.overrides = bytes(data[1 + 16 * count :])
        return found

    def matches(self, start: int, end: int) -> bool | None:
        """Radicale's ``time_range_match`` for [start, end); None when the
        record stops before the answer is known."""
        for range_start, range_end, override in zip(
            self.starts, self.ends, self.overrides, strict=True
        ):
            if start < range_end and range_start < end:
                return True
            if end < range_start and not override:
                return False
        return False if self.complete else None


def record(vobject_item: Any, component: str, limit: int = MAX_RANGES) -> Record | None:
    """Walk ``vobject_item`` as Radicale does, recording at most ``limit``
    ranges; None when the walk fails."""
    ranges: list[tuple[int, int, bool]] = []
    complete = True

    def visit(range_start: datetime, range_end: datetime, override: bool) -> bool:
        nonlocal complete
        ranges.append((micros(range_start), micros(range_end), override))
        if len(ranges) >= limit or (range_start > HORIZON and not override):
            complete = False
            return True
        return False

    try:
        radicale_filter.visit_time_ranges(vobject_item, component, visit, lambda _start: False)
    except Exception:
        return None
    return Record(ranges, complete)


def parse_body(text: str) -> Any:
    """A stored body parsed as Radicale reads it, with the clean-ups of PUT.

    The EXDATE/RDATE of DATE type next to a DATE-TIME DTSTART become
    DATE-TIME on the tree, not in the stored text: without them dateutil
    fails to compare the EXDATEs and a time-range REPORT answers 500.
    """
    (parsed,) = radicale_item.read_components(text)
    if parsed.name == "VCALENDAR":
        radicale_item.check_and_sanitize_items(
            [parsed], max_vevent_rrule_occurrence=0, tag="VCALENDAR"
        )
    return parsed


def body_record(text: str, component: str) -> bytes | None:
    """The stored record of a body written without Radicale's tree at hand
    (web UI, scheduling): registered as the write path's
    ``kmdav.dav.service.time_range_recorder`` by this package."""
    if component not in COMPONENTS:
        return None
    try:
        parsed = parse_body(text)
    except Exception:
        return None
    return stored_record(parsed, component)


def _without_end(vobject_item: Any, component: str) -> bool:
    """Whether a component of the body repeats without COUNT or UNTIL."""
    for sub in getattr(vobject_item, "getChildren", lambda: [])():
        if getattr(sub, "name", "") != component:
            continue
        for rule in sub.contents.get("rrule", []):
            text = str(rule.value).upper()
            if "COUNT=" not in text and "UNTIL=" not in text:
                return True
    return False


def stored_record(vobject_item: Any, component: str) -> bytes | None:
    """The record of a body being stored, in its stored form; None when
    ``component`` is no calendar component, Radicale's walk fails, or the
    series is too long to walk inside a PUT (endless, or more than
    :data:`STORED_MAX_RANGES` ranges): such rows are walked lazily."""
    if component not in COMPONENTS or _without_end(vobject_item, component):
        return None
    found = record(vobject_item, component, STORED_MAX_RANGES)
    return None if found is None or not found.complete else found.to_bytes()


class RecordCache:
    """Records by (ETag, component), least recently used out first once
    more than ``budget`` ranges are kept."""

    def __init__(self, budget: int = 2_000_000) -> None:
        self.budget = budget
        self.kept = 0
        self._entries: OrderedDict[tuple[str, str], Record | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, etag: str, component: str) -> tuple[bool, Record | None]:
        with self._lock:
            key = (etag, component)
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def holds(self, etag: str, component: str) -> bool:
        with self._lock:
            return (etag, component) in self._entries

    def put(self, etag: str, component: str, found: Record | None) -> None:
        with self._lock:
            key = (etag, component)
            if key in self._entries:
                old = self._entries.pop(key)
                self.kept -= 1 + (len(old) if old is not None else 0)
            self._entries[key] = found
            self.kept += 1 + (len(found) if found is not None else 0)
            while self.kept > self.budget and len(self._entries) > 1:
                _key, dropped = self._entries.popitem(last=False)
                self.kept -= 1 + (len(dropped) if dropped is not None else 0)


#: One per process.
RECORDS = RecordCache()


def single_time_range(filters: list[ET.Element]) -> tuple[str, int, int] | None:
    """(component, start, end) in microseconds when ``filters`` is exactly
    VCALENDAR > VEVENT|VTODO|VJOURNAL > time-range with a start or an end
    (the one shape answered here); None otherwise."""
    flat = [child for element in filters for child in element]  # children of C:filter
    if len(flat) != 1:
        return None
    (top,) = flat
    if top.tag != COMP_FILTER or top.get("name", "").upper() != "VCALENDAR" or len(top) != 1:
        return None
    (comp,) = top
    name = comp.get("name", "").upper()
    if comp.tag != COMP_FILTER or name not in COMPONENTS or len(comp) != 1:
        return None
    (time_range,) = comp
    if time_range.tag != TIME_RANGE or not (time_range.get("start") or time_range.get("end")):
        return None
    start, end = radicale_filter.parse_time_range(time_range)
    return name, micros(start), micros(end)


def decide(
    etag: str,
    component: str,
    stored: bytes | None,
    vobject_item: Any,
    start: int,
    end: int,
) -> bool | None:
    """Whether the item matches the time range exactly as Radicale would
    answer; None: let Radicale test it.  ``stored`` is the record kept in
    the database for this body and ``component`` (None: walk the body)."""
    known, found = RECORDS.get(etag, component)
    if not known:
        found = Record.from_bytes(stored) if stored is not None else None
        if found is None:
            try:
                parsed = vobject_item()
            except Exception:
                parsed = None
            found = None if parsed is None else record(parsed, component)
        RECORDS.put(etag, component, found)
    return None if found is None else found.matches(start, end)
