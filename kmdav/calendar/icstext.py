"""iCalendar as text lines: parse into components, patch single properties.

A web edit must leave everything it does not manage exactly as a phone
wrote it (VALARM, VTIMEZONE, X- properties, parameter spelling, folding).
So kmdav never re-serialises a stored object: the body is split into
components of *raw* lines (a logical line keeps its folds and line ending),
a patch replaces, removes or adds only the property lines it manages, and
the body is written back by joining the raw text.  A property whose value
does not change keeps its bytes.

Pure code, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

#: RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets.
FOLD_OCTETS = 75


@dataclass
class Prop:
    """One property as stored: ``raw`` holds its folded lines and endings."""

    raw: str
    name: str
    params: dict[str, str]
    value: str

    @property
    def content(self) -> str:
        """The unfolded content line without its ending."""
        return unfold(self.raw)


@dataclass
class Component:
    name: str
    begin: str
    end: str
    children: list[Prop | Component] = field(default_factory=list)

    def props(self, name: str) -> list[Prop]:
        upper = name.upper()
        return [c for c in self.children if isinstance(c, Prop) and c.name == upper]

    def prop(self, name: str) -> Prop | None:
        found = self.props(name)
        return found[0] if found else None

    def value(self, name: str) -> str:
        found = self.prop(name)
        return found.value if found is not None else ""

    def components(self, name: str | None = None) -> list[Component]:
        return [
            c
            for c in self.children
            if isinstance(c, Component) and (name is None or c.name == name.upper())
        ]

    def text(self) -> str:
        return self.begin + "".join(_raw(c) for c in self.children) + self.end


def _raw(node: Prop | Component) -> str:
    return node.raw if isinstance(node, Prop) else node.text()


def unfold(raw: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", raw).rstrip("\r\n")


def _split_params(head: str) -> tuple[str, dict[str, str]]:
    """``NAME;A=b;C="d;e"`` -> ("NAME", {"A": "b", "C": "d;e"})."""
    parts: list[str] = []
    current = ""
    quoted = False
    for char in head:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        params[key.upper()] = value.strip('"')
    return parts[0].upper(), params


def split_line(content: str) -> tuple[str, dict[str, str], str]:
    """(NAME, params, value) of an unfolded content line."""
    quoted = False
    for index, char in enumerate(content):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            name, params = _split_params(content[:index])
            return name, params, content[index + 1 :]
    name, params = _split_params(content)
    return name, params, ""


def _logical_lines(text: str) -> Iterator[str]:
    current = ""
    for line in text.splitlines(keepends=True):
        if line[:1] in (" ", "\t") and current:
            current += line
            continue
        if current:
            yield current
        current = line
    if current:
        yield current


def parse(text: str) -> Component:
    """The outermost component of ``text`` (a VCALENDAR); raises ValueError."""
    stack: list[Component] = []
    root: Component | None = None
    for raw in _logical_lines(text):
        content = unfold(raw)
        if not content.strip():
            if stack:  # keep stray blank lines where they were
                stack[-1].children.append(Prop(raw, "", {}, ""))
            continue
        name, params, value = split_line(content)
        if name == "BEGIN":
            component = Component(value.strip().upper(), raw, "")
            if stack:
                stack[-1].children.append(component)
            elif root is not None:
                raise ValueError("more than one object in the body")
            else:
                root = component
            stack.append(component)
        elif name == "END":
            if not stack or stack[-1].name != value.strip().upper():
                raise ValueError("unbalanced BEGIN/END")
            stack.pop().end = raw
        elif stack:
            stack[-1].children.append(Prop(raw, name, params, value))
        else:
            raise ValueError("a property outside any component")
    if root is None or stack:
        raise ValueError("no complete VCALENDAR")
    return root


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def fold(content: str, newline: str = "\r\n") -> str:
    """A content line folded at 75 octets (never inside a UTF-8 sequence)."""
    out: list[str] = []
    line = ""
    size = 0
    for char in content:
        width = len(char.encode("utf-8"))
        limit = FOLD_OCTETS if not out else FOLD_OCTETS - 1
        if size + width > limit:
            out.append(line)
            line = ""
            size = 0
        line += char
        size += width
    out.append(line)
    return (newline + " ").join(out) + newline


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def unescape_text(value: str) -> str:
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def quote_param(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ':;,"') else value


def content_line(name: str, value: str, params: dict[str, str] | None = None) -> str:
    head = name + "".join(f";{k}={quote_param(v)}" for k, v in (params or {}).items())
    return f"{head}:{value}"


def make_prop(line: str, newline: str) -> Prop:
    name, params, value = split_line(line)
    return Prop(fold(line, newline), name, params, value)


def set_props(component: Component, name: str, lines: list[str], newline: str) -> bool:
    """Make the ``name`` properties of ``component`` be ``lines`` (content lines).

    Properties whose content line is already among ``lines`` keep their raw
    bytes; the new set takes the place of the first old one (or goes before
    the first sub-component, such as a VALARM).  True when anything changed.
    """
    upper = name.upper()
    old = component.props(upper)
    if [p.content for p in old] == lines:
        return False
    keep = {p.content: p for p in old}
    new_nodes: list[Prop | Component] = [
        keep.pop(line) if line in keep else make_prop(line, newline) for line in lines
    ]
    if old:
        position = component.children.index(old[0])
    else:
        subs = [i for i, c in enumerate(component.children) if isinstance(c, Component)]
        position = subs[0] if subs else len(component.children)
    component.children = [
        c for c in component.children if not (isinstance(c, Prop) and c.name == upper)
    ]
    # The first old property had no other old one before it: ``position`` stands.
    component.children[position:position] = new_nodes
    return True


def remove_props(component: Component, name: str) -> bool:
    return set_props(component, name, [], "\r\n")
