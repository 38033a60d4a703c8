"""iCalendar content lines, edited one property at a time (pure, no I/O).

Scheduling changes a few parameters (PARTSTAT, SCHEDULE-STATUS) and lines
(METHOD, STATUS) of bodies that clients wrote.  Re-serialising the whole
object through a parser would refold lines, reorder parameters and drop
what the parser does not keep; editing the lines keeps every other byte.
Lines are unfolded for reading (RFC 5545 3.1) and only a line that changes
is folded again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets.
_FOLD_AT = 75


@dataclass
class Line:
    """A logical line and the bytes it came as (``None`` once edited)."""

    text: str
    raw: str | None = None

    def render(self) -> str:
        return self.raw if self.raw is not None else fold(self.text) + "\r\n"


_PHYSICAL = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|$)")


def split(text: str) -> list[Line]:
    """``text`` as logical lines that remember their original folding."""
    lines: list[Line] = []
    for physical in _PHYSICAL.findall(text):
        if not physical:
            continue
        if physical[:1] in (" ", "\t") and lines:
            previous = lines[-1]
            previous.text += physical[1:].rstrip("\r\n")
            previous.raw = (previous.raw or "") + physical
            continue
        content = physical.rstrip("\r\n")
        if content.strip():
            lines.append(Line(content, physical if physical.endswith(("\n", "\r")) else None))
    return lines


def render(lines: list[Line]) -> str:
    return "".join(line.render() for line in lines)


def fold(line: str) -> str:
    """One logical line folded at 75 octets without splitting a character."""
    out: list[str] = []
    current = ""
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = _FOLD_AT if not out else _FOLD_AT - 1
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


@dataclass
class Property:
    """One content line: ``NAME;PARAM=value;...:value``."""

    name: str
    params: list[tuple[str, str]]
    value: str

    @classmethod
    def parse(cls, line: str) -> Property:
        head_end = _unquoted_index(line, ":")
        head, value = (line, "") if head_end < 0 else (line[:head_end], line[head_end + 1 :])
        parts = _split_unquoted(head, ";")
        params: list[tuple[str, str]] = []
        for part in parts[1:]:
            key, _, raw = part.partition("=")
            params.append((key.upper(), raw))
        return cls(parts[0].upper(), params, value)

    def param(self, key: str) -> str | None:
        for name, raw in self.params:
            if name == key.upper():
                return raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
        return None

    def set_param(self, key: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a parameter, keeping the others' order."""
        key = key.upper()
        rendered = None if value is None else _quote(value)
        kept: list[tuple[str, str]] = []
        placed = False
        for name, raw in self.params:
            if name == key:
                if rendered is not None and not placed:
                    kept.append((name, rendered))
                    placed = True
                continue
            kept.append((name, raw))
        if rendered is not None and not placed:
            kept.append((key, rendered))
        self.params = kept

    def render(self) -> str:
        params = "".join(f";{name}={raw}" for name, raw in self.params)
        return f"{self.name}{params}:{self.value}"


def _quote(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ":;,") else value


def _unquoted_index(text: str, char: str) -> int:
    quoted = False
    for index, current in enumerate(text):
        if current == '"':
            quoted = not quoted
        elif current == char and not quoted:
            return index
    return -1


def _split_unquoted(text: str, char: str) -> list[str]:
    parts: list[str] = []
    quoted = False
    start = 0
    for index, current in enumerate(text):
        if current == '"':
            quoted = not quoted
        elif current == char and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def name_of(line: str) -> str:
    """The property name of a line (without parameters), upper case."""
    end = len(line)
    for sep in (";", ":"):
        found = line.find(sep)
        if 0 <= found < end:
            end = found
    return line[:end].upper()


def set_first_property(text: str, component: str, name: str, value: str | None) -> str:
    """``text`` with ``name:value`` in the first ``component`` (replacing the
    property where it was, else added before the component's first
    subcomponent or its END, RFC 5545 3.6: properties come first; ``None``
    removes it).  Only that line changes."""
    out: list[Line] = []
    depth = 0
    state = "before"  # before -> inside -> done
    for line in split(text):
        kind = name_of(line.text)
        if state == "before":
            if kind == "BEGIN" and line.text.partition(":")[2].strip().upper() == component:
                state, depth = "inside", 1
            out.append(line)
            continue
        if state == "inside":
            if depth == 1 and kind == name:
                if value is not None:
                    out.append(Line(f"{name}:{value}"))
                state = "done"
                continue
            if depth == 1 and kind in ("BEGIN", "END"):
                if value is not None:
                    out.append(Line(f"{name}:{value}"))
                state = "done"
            elif kind == "BEGIN":
                depth += 1
            elif kind == "END":
                depth -= 1
        out.append(line)
    return render(out)
