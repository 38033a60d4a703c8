"""vCard content lines as text: unfold, split, escape, fold (pure, no I/O).

The patcher works on the stored body property by property, so every line it
does not manage keeps its exact bytes (folding, parameter case, order).  A
:class:`Prop` is one property: the raw text of its physical lines (with their
line endings) and the parsed parts of its unfolded content line.

RFC 6350 3.2 (and RFC 2425 5.8.1 for vCard 3): a line that starts with a
space or a tab continues the previous one.  RFC 6350 3.4: text values escape
backslash, comma, semicolon and newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Where a long line is folded (octets, without the line ending).
FOLD_AT = 75


@dataclass
class Prop:
    """One property of a card: ``raw`` is exactly what the body holds."""

    raw: str
    group: str = ""
    name: str = ""
    #: (NAME upper-case, value as written) in order; a bare vCard 2.1 type
    #: such as ``;WORK`` has the name ``TYPE``.
    params: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    #: The upper-case property name (without the group).
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.name.upper()

    def param_values(self, name: str) -> list[str]:
        wanted = name.upper()
        values: list[str] = []
        for key, value in self.params:
            if key == wanted:
                values.extend(part.strip('"') for part in value.split(",") if part)
        return values


def line_ending(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


#: A physical line with its ending; only CR, LF and CRLF end lines in a vCard
#: (``str.splitlines`` would also split at U+2028, NEL, form feed, ...).
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")


def physical_lines(text: str) -> list[str]:
    return _PHYSICAL_LINE.findall(text)


def split_props(text: str) -> list[Prop]:
    """The card's properties in order; each keeps its folded raw text."""
    props: list[Prop] = []
    for line in physical_lines(text):
        if line[:1] in (" ", "\t") and props:
            props[-1].raw += line
        else:
            props.append(Prop(raw=line))
    for prop in props:
        _parse(prop)
    return props


def unfold(raw: str) -> str:
    lines = [line.rstrip("\r\n") for line in physical_lines(raw)]
    return lines[0] + "".join(line[1:] for line in lines[1:]) if lines else ""


def _parse(prop: Prop) -> None:
    line = unfold(prop.raw)
    quoted = False
    colon = -1
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            colon = index
            break
    head, prop.value = (line, "") if colon < 0 else (line[:colon], line[colon + 1 :])
    parts = _split_unquoted(head, ";")
    name = parts[0]
    if "." in name:
        prop.group, _, name = name.rpartition(".")
    prop.name = name
    prop.key = name.upper()
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        prop.params.append((key.upper(), value) if eq else ("TYPE", key))


def _split_unquoted(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# -- values -------------------------------------------------------------------


def split_escaped(value: str, separator: str) -> list[str]:
    """Split at ``separator`` not preceded by a backslash; parts stay escaped."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            out.append("\n" if char in "nN" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


def escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
    )


def structured(values: list[str]) -> str:
    """A structured value (N, ADR, ORG): components escaped, joined by ``;``."""
    return ";".join(escape(value) for value in values)


def text_list(values: list[str] | tuple[str, ...]) -> str:
    """A list value (CATEGORIES): items escaped, joined by ``,``."""
    return ",".join(escape(value) for value in values)


# -- writing ------------------------------------------------------------------


def content_line(name: str, value: str, params: list[tuple[str, str]] | None = None) -> str:
    """``name;P=V:value`` unfolded; ``name`` may carry a group (``item1.X-ABDATE``)."""
    head = name + "".join(f";{key}={val}" for key, val in params or [])
    return f"{head}:{value}"


def fold(line: str, newline: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 sequence; ends with ``newline``."""
    encoded = line.encode("utf-8")
    if len(encoded) <= FOLD_AT:
        return line + newline
    pieces: list[str] = []
    current = ""
    size = 0
    limit = FOLD_AT
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, FOLD_AT - 1
        current += char
        size += width
    pieces.append(current)
    return (newline + " ").join(pieces) + newline
