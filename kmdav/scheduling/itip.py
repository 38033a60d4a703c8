"""iTIP (RFC 5546) facts and messages from stored iCalendar bodies (pure).

A *scheduling object resource* (RFC 6638 3.1) is a calendar object with an
ORGANIZER.  Everything here works on the text line by line (see
:mod:`kmdav.scheduling.lines`): reading who organises and who attends, and
making the copies the server delivers (METHOD:REQUEST/REPLY/CANCEL, the
attendee's calendar copy, STATUS:CANCELLED) while every line scheduling
does not own stays as the client wrote it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kmdav.scheduling.lines import Line, Property, name_of, render, split

_ORGANIZER = re.compile("ORGANIZER", re.IGNORECASE)


def may_schedule(text: str) -> bool:
    """Whether ``text`` mentions an ORGANIZER at all: a scan without a copy,
    so objects that are no scheduling objects cost next to nothing."""
    return _ORGANIZER.search(text) is not None


#: Components that carry scheduling properties (not VALARM, VTIMEZONE, ...).
SCHEDULED = frozenset({"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"})
#: Parameters the server keeps to itself; not delivered (RFC 6638 3.2.9, 7.3).
SERVER_PARAMS = ("SCHEDULE-STATUS", "SCHEDULE-FORCE-SEND")
PARTSTATS = frozenset(
    {"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED", "COMPLETED", "IN-PROCESS"}
)


def normalize(address: str) -> str:
    """A calendar user address for comparison: ``mailto:`` addresses ignore case."""
    value = address.strip()
    if value.lower().startswith("mailto:"):
        return "mailto:" + value[7:].strip().lower()
    return value


def email_of(address: str) -> str | None:
    value = normalize(address)
    return value[7:] if value.startswith("mailto:") else None


@dataclass(frozen=True)
class Participant:
    address: str
    partstat: str = "NEEDS-ACTION"
    name: str = ""
    #: SCHEDULE-AGENT (RFC 6638 7.1): SERVER (default), CLIENT or NONE.
    agent: str = "SERVER"


@dataclass(frozen=True)
class Scheduling:
    uid: str
    component: str
    method: str
    organizer: str
    organizer_name: str
    attendees: tuple[Participant, ...]
    sequence: int
    summary: str
    dtstart: str

    def attendee(self, address: str) -> Participant | None:
        wanted = normalize(address)
        return next((a for a in self.attendees if a.address == wanted), None)


def _components(lines: list[Line]) -> list[tuple[int, str]]:
    """(index, innermost component) for every line."""
    stack: list[str] = []
    out: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        name = name_of(line.text)
        if name == "BEGIN":
            stack.append(line.text.partition(":")[2].strip().upper())
            out.append((index, stack[-1]))
        elif name == "END":
            out.append((index, stack[-1] if stack else ""))
            if stack:
                stack.pop()
        else:
            out.append((index, stack[-1] if stack else ""))
    return out


def read(text: str) -> Scheduling | None:  # noqa: PLR0912 - one pass over the lines
    """The scheduling facts of ``text``; ``None`` without an ORGANIZER."""
    lines = split(text)
    uid = component = method = organizer = organizer_name = summary = dtstart = ""
    sequence = 0
    attendees: dict[str, Participant] = {}
    first_component_done = False
    for index, where in _components(lines):
        line = lines[index].text
        name = name_of(line)
        if where == "VCALENDAR" and name == "METHOD":
            method = line.partition(":")[2].strip().upper()
            continue
        if where not in SCHEDULED:
            continue
        if name == "BEGIN" and not component:
            component = where
        if name == "END" and where == component:
            first_component_done = True
        prop = Property.parse(line)
        if name == "ATTENDEE":
            address = normalize(prop.value)
            if address not in attendees:
                attendees[address] = Participant(
                    address,
                    (prop.param("PARTSTAT") or "NEEDS-ACTION").upper(),
                    prop.param("CN") or "",
                    (prop.param("SCHEDULE-AGENT") or "SERVER").upper(),
                )
        if first_component_done:
            continue  # overrides add attendees; the rest comes from the master
        if name == "ORGANIZER" and not organizer:
            organizer = normalize(prop.value)
            organizer_name = prop.param("CN") or ""
        elif name == "UID" and not uid:
            uid = prop.value.strip()
        elif name == "SEQUENCE":
            try:
                sequence = int(prop.value.strip())
            except ValueError:
                sequence = 0
        elif name == "SUMMARY" and not summary:
            summary = prop.value
        elif name == "DTSTART" and not dtstart:
            dtstart = prop.value
    if not organizer:
        return None
    return Scheduling(
        uid=uid,
        component=component,
        method=method,
        organizer=organizer,
        organizer_name=organizer_name,
        attendees=tuple(attendees.values()),
        sequence=sequence,
        summary=summary,
        dtstart=dtstart,
    )


def _strip_server_params(lines: list[Line]) -> None:
    for line in lines:
        if name_of(line.text) in ("ATTENDEE", "ORGANIZER"):
            prop = Property.parse(line.text)
            if any(prop.param(key) is not None for key in SERVER_PARAMS):
                for key in SERVER_PARAMS:
                    prop.set_param(key, None)
                line.text, line.raw = prop.render(), None


def _set_method(lines: list[Line], method: str | None) -> list[Line]:
    kept = [
        lines[index]
        for index, where in _components(lines)
        if not (where == "VCALENDAR" and name_of(lines[index].text) == "METHOD")
    ]
    if method is not None:
        at = next(
            (i + 1 for i, line in enumerate(kept) if name_of(line.text) == "VERSION"),
            1,
        )
        kept.insert(at, Line(f"METHOD:{method}"))
    return kept


def message(text: str, method: str) -> str:
    """The iTIP message ``method`` made of a stored object (RFC 5546 3.2)."""
    lines = split(text)
    _strip_server_params(lines)
    return render(_set_method(lines, method))


def calendar_copy(text: str) -> str:
    """What an attendee's calendar stores: no METHOD (RFC 4791 4.1), no
    server-only parameters."""
    lines = split(text)
    _strip_server_params(lines)
    return render(_set_method(lines, None))


def set_attendee_params(text: str, address: str, **params: str | None) -> str | None:
    """``text`` with the parameters of ``address``'s ATTENDEE lines set
    (``None`` removes one); ``None`` when that attendee is not in it."""
    wanted = normalize(address)
    lines = split(text)
    found = False
    for index, where in _components(lines):
        line = lines[index]
        if where in SCHEDULED and name_of(line.text) == "ATTENDEE":
            prop = Property.parse(line.text)
            if normalize(prop.value) != wanted:
                continue
            found = True
            for key, value in params.items():
                prop.set_param(key.replace("_", "-"), value)
            rendered = prop.render()
            if rendered != line.text:
                line.text, line.raw = rendered, None
    return render(lines) if found else None


def cancelled(text: str) -> str:
    """``text`` with STATUS:CANCELLED in every scheduled component
    (RFC 5546 3.2.5: what a CANCEL does to the attendee's copy)."""
    lines = split(text)
    out: list[Line] = []
    has_status = False
    for index, where in _components(lines):
        line = lines[index]
        name = name_of(line.text)
        if where in SCHEDULED and name == "BEGIN":
            has_status = False
        if where in SCHEDULED and name == "STATUS":
            has_status = True
            if line.text.partition(":")[2].strip().upper() != "CANCELLED":
                line = Line("STATUS:CANCELLED")
        if where in SCHEDULED and name == "END" and not has_status:
            out.append(Line("STATUS:CANCELLED"))
        out.append(line)
    return render(out)


def reply(text: str, address: str) -> str:
    """A METHOD:REPLY from an attendee's copy: only that attendee's lines
    (RFC 5546 3.2.3)."""
    wanted = normalize(address)
    lines = split(text)
    _strip_server_params(lines)
    kept = [
        line
        for line in lines
        if name_of(line.text) != "ATTENDEE" or normalize(Property.parse(line.text).value) == wanted
    ]
    return render(_set_method(kept, "REPLY"))


#: Parameters of ATTENDEE lines that replies and the server change without
#: changing what was scheduled (RFC 6638 3.2.10).
_ANSWER_PARAMS = ("PARTSTAT", "RSVP", *SERVER_PARAMS)


def schedule_tag(text: str) -> str | None:
    """The Schedule-Tag of a scheduling object resource (RFC 6638 3.2.10).

    A digest of the body without the attendees' answers, the server's
    SCHEDULE-STATUS and DTSTAMP: accepting or declining (by the attendee,
    or a reply reaching the organizer's copy) keeps the tag, any other
    change moves it.  ``None`` without an ORGANIZER.
    """
    if not may_schedule(text):
        return None
    digest = hashlib.sha256()
    organized = False
    for line in split(text):
        name = name_of(line.text)
        if name == "DTSTAMP":
            continue
        if name == "ORGANIZER":
            organized = True
        if name == "ATTENDEE":
            prop = Property.parse(line.text)
            for key in _ANSWER_PARAMS:
                prop.set_param(key, None)
            digest.update(prop.render().encode("utf-8"))
        else:
            digest.update(line.text.encode("utf-8"))
        digest.update(b"\n")
    return f'"{digest.hexdigest()[:32]}"' if organized else None
