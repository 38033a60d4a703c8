"""Cheap facts about vCard/iCalendar text without a full parse.

vobject's parser slows down with the square of the line count; a 5 MB photo
card takes seconds.  What the storage needs to know about a body it already
had parsed by Radicale (is it one object, with which UID?) a line scan
answers in milliseconds.
"""

from __future__ import annotations

import re

_FOLD = re.compile(r"\r?\n[ \t]")
_OBJECTS = frozenset({"VCARD", "VCALENDAR"})
_UID_HOLDERS = frozenset({"VCARD", "VEVENT", "VTODO", "VJOURNAL"})


_ESCAPE = re.compile(r"\\([\\,;nN])")


def _unescape(value: str) -> str:
    """TEXT value escapes (RFC 5545 3.3.11, RFC 6350 3.4)."""
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _name_and_value(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    # Drop parameters and an item-group prefix (``item1.UID`` is unusual but legal).
    bare = name.split(";", 1)[0].rsplit(".", 1)[-1]
    return bare.upper(), value


def single_object_uid(text: str) -> str | None:
    """The UID of the one vCard or VCALENDAR in ``text``.

    ``None`` when the text holds several objects, none, components with
    differing UIDs, or no UID at all.
    """
    stack: list[str] = []
    objects = 0
    uids: set[str] = set()
    for line in _FOLD.sub("", text).splitlines():
        if not line.strip():
            continue
        name, value = _name_and_value(line)
        if name == "BEGIN":
            component = value.strip().upper()
            if not stack:
                if component not in _OBJECTS:
                    return None
                objects += 1
            stack.append(component)
        elif name == "END":
            if not stack:
                return None
            stack.pop()
        elif name == "UID" and stack and stack[-1] in _UID_HOLDERS:
            uids.add(_unescape(value.strip()))
    if objects != 1 or stack or len(uids) != 1:
        return None
    return uids.pop()
