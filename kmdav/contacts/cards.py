"""Contacts as vCards: build, read and patch (pure, no I/O).

``build_card`` writes a new vCard 3.0 (what iOS and DAVx5 handle best).
``patch_card`` changes only the properties kmdav manages and leaves every
other line of the stored body byte for byte as it was (PHOTO with its
folding, iOS ``itemN.`` groups with their ``X-ABLabel``, ``X-ANDROID-CUSTOM``,
unknown ``X-`` properties, the order).  A managed property is rewritten only
when its meaning changes, so an unchanged contact saved from the web yields
the same bytes (and the same ETag).

Managed: FN, N (family and given name; prefix/suffix kept), ORG (its first
component; departments kept), TITLE, EMAIL, TEL, ADR (street, locality,
region, code, country; PO box and extended kept), BDAY, NOTE, CATEGORIES,
the company markers (``X-ABShowAs:COMPANY`` and ``X-ADDRESSBOOKSERVER-KIND``
in vCard 3, ``KIND`` in vCard 4), ``X-KMDAV-COMPANY-UID`` (a person's
company), ``X-KMDAV-<KEY>`` of every defined own field, and the visible form
of own fields: ``itemN.X-ABDATE`` + ``itemN.X-ABLabel:<label>`` for date
fields, a marked block at the end of NOTE for the others.

Own fields on the way back (``read_draft``): when ``X-KMDAV-<KEY>`` and the
visible form disagree, the form that changed against the CRM's previous
value wins (the ``previous`` values); when both changed, ``X-KMDAV-<KEY>``
(the authoritative copy) wins; with no previous value it wins too.  A
missing ``X-KMDAV-<KEY>`` (a client that dropped unknown properties) leaves
the visible form in charge.  A card without the visible form (no date item,
no block in NOTE) is read from ``X-KMDAV-<KEY>`` alone; with the block there,
a field's missing line means it was cleared on the phone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from kmdav.contacts import _lines
from kmdav.contacts._lines import Prop
from kmdav.contacts.fieldtypes import FieldDef, normalise, visible_text
from kmdav.dav.vcard import CUSTOM_PREFIX, LabeledValue, PostalAddress
from kmdav.errors import ValidationError

__all__ = [
    "COMPANY_UID",
    "NOTE_MARKER",
    "ContactDraft",
    "build_card",
    "patch_card",
    "read_draft",
]

PERSON = "person"
COMPANY = "company"
#: A person's company, by the company card's UID (survives a phone round trip).
COMPANY_UID = CUSTOM_PREFIX + "COMPANY-UID"
#: The line that opens the own-field block at the end of NOTE.
NOTE_MARKER = "--- kmdav fields ---"
PRODID = "-//kmdav//kmdav CRM//EN"

#: Labels written as TYPE parameters; any other label goes into an
#: ``itemN.X-ABLabel`` (iOS and DAVx5 show it as written).
TYPE_LABELS = frozenset(
    {
        "home",
        "work",
        "cell",
        "fax",
        "pager",
        "video",
        "text",
        "textphone",
        "msg",
        "iphone",
        "main",
        "other",
        "car",
        "isdn",
    }
)
_NOT_LABELS = frozenset({"pref", "internet", "voice"})
_ITEM_GROUP = re.compile(r"^item(\d+)$", re.IGNORECASE)
_BASIC_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@dataclass(frozen=True)
class ContactDraft:
    """What the CRM edits of a contact; see the module docstring."""

    kind: str = PERSON
    given_name: str = ""
    family_name: str = ""
    #: A person's employer, or a company's own name (ORG, and FN of a company).
    company: str = ""
    title: str = ""
    emails: tuple[LabeledValue, ...] = ()
    phones: tuple[LabeledValue, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    #: ``YYYY-MM-DD`` or "" (a partial date from a phone is kept as written).
    birthday: str = ""
    #: The free note, without the own-field block.
    note: str = ""
    tags: tuple[str, ...] = ()
    #: Own-field key -> value text.
    custom: Mapping[str, str] = field(default_factory=dict)
    #: UID of the company card a person belongs to ("" for none).
    company_uid: str = ""

    @property
    def display_name(self) -> str:
        if self.kind == COMPANY:
            return self.company
        name = " ".join(part for part in (self.given_name, self.family_name) if part)
        return name or self.company


# -- reading ------------------------------------------------------------------


@dataclass
class _Parsed:
    """A card split into properties with what the patcher needs to find."""

    props: list[Prop]
    version: str
    labels: dict[str, str]
    x_values: dict[str, str]
    visible_dates: dict[str, str]

    def first(self, key: str) -> Prop | None:
        return next((p for p in self.props if p.key == key), None)

    def all(self, key: str) -> list[Prop]:
        return [p for p in self.props if p.key == key]

    def label_of(self, prop: Prop) -> str:
        if prop.group and prop.group.lower() in self.labels:
            return self.labels[prop.group.lower()]
        types = [t.lower() for t in prop.param_values("TYPE")]
        return ",".join(t for t in types if t and t not in _NOT_LABELS)

    def date_item(self, label: str) -> Prop | None:
        for prop in self.props:
            group = prop.group.lower()
            if (
                prop.key == "X-ABDATE"
                and group
                and self.labels.get(group, "").casefold() == (label.casefold())
            ):
                return prop
        return None


def _parse(text: str) -> _Parsed:
    props = _lines.split_props(text)
    labels = {
        p.group.lower(): _lines.unescape(p.value) for p in props if p.key == "X-ABLABEL" and p.group
    }
    x_values: dict[str, str] = {}
    for p in props:
        if p.key.startswith(CUSTOM_PREFIX) and p.key not in x_values:
            x_values[p.key] = _lines.unescape(p.value)
    version = next((p.value.strip() for p in props if p.key == "VERSION"), "3.0")
    parsed = _Parsed(props, version, labels, x_values, {})
    return parsed


def _split_note(note: str) -> tuple[str, dict[str, str] | None]:
    """(free note, visible own-field values by label casefolded); ``None``
    when the note has no own-field block."""
    lines = note.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].strip() == NOTE_MARKER:
            values: dict[str, str] = {}
            for line in lines[index + 1 :]:
                label, sep, value = line.partition(":")
                if sep:
                    values.setdefault(label.strip().casefold(), value.strip())
            return "\n".join(lines[:index]).rstrip(), values
    return note, None


def _is_type_label(label: str) -> bool:
    return all(part in TYPE_LABELS for part in label.split(","))


def _date(value: str) -> str:
    value = value.strip()
    match = _BASIC_DATE.match(value)
    return f"{match[1]}-{match[2]}-{match[3]}" if match else value


def _canon(field_def: FieldDef, raw: str) -> str:
    try:
        return normalise(field_def, raw)
    except ValidationError:
        return raw.strip()


def _resolve(
    field_def: FieldDef, x: str | None, visible: str | None, previous: Mapping[str, str] | None
) -> str:
    """The value of one own field from its two forms (see the module docstring)."""
    if x is None:
        return visible or ""
    if visible is None:  # no visible form at all: nothing to compare
        return x
    x_canon = _canon(field_def, x)
    shown = visible_text(field_def, x_canon)
    seen = visible_text(field_def, _canon(field_def, visible))
    if shown == seen or previous is None:
        return x
    before = previous.get(field_def.key, "")
    if x_canon != before:
        return x
    if seen != visible_text(field_def, before):
        return visible
    return x


def read_draft(
    text: str,
    *,
    fields: Sequence[FieldDef],
    previous: Mapping[str, str] | None = None,
) -> tuple[ContactDraft, dict[str, str]]:
    """The CRM's view of a card, and the invalid own-field values (as written).

    ``previous``: the own-field values the CRM held before this body (decides
    which form of an own field changed; see the module docstring).
    """
    card = _parse(text)
    kind = _kind(card)
    given = family = ""
    n = card.first("N")
    if n is not None:
        parts = [*_lines.split_escaped(n.value, ";"), "", ""]
        family, given = _lines.unescape(parts[0]).strip(), _lines.unescape(parts[1]).strip()
    org = card.first("ORG")
    company = _lines.unescape(_lines.split_escaped(org.value, ";")[0]).strip() if org else ""
    if kind == COMPANY and not company:
        fn = card.first("FN")
        company = _lines.unescape(fn.value).strip() if fn else ""
    note_prop = card.first("NOTE")
    note, visible = _split_note(_lines.unescape(note_prop.value) if note_prop else "")
    tags: list[str] = []
    for prop in card.all("CATEGORIES"):
        for part in _lines.split_escaped(prop.value, ","):
            tag = _lines.unescape(part).strip()
            if tag and tag not in tags:
                tags.append(tag)
    custom: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for field_def in fields:
        if field_def.field_type == "date":
            item = card.date_item(field_def.label)
            shown = _date(item.value) if item is not None else None
        else:
            # With the block there, a missing line means "cleared on the phone".
            shown = None if visible is None else visible.get(field_def.label.casefold(), "")
        raw = _resolve(field_def, card.x_values.get(CUSTOM_PREFIX + field_def.key), shown, previous)
        if not raw.strip():
            continue
        try:
            value = normalise(field_def, raw)
        except ValidationError:
            invalid[field_def.key] = raw
            custom[field_def.key] = raw
            continue
        if value:
            custom[field_def.key] = value
    draft = ContactDraft(
        kind=kind,
        given_name=given,
        family_name=family,
        company=company,
        title=_single(card, "TITLE"),
        emails=tuple(
            LabeledValue(_lines.unescape(p.value).strip(), card.label_of(p))
            for p in card.all("EMAIL")
            if p.value.strip()
        ),
        phones=tuple(
            LabeledValue(p.value.strip(), card.label_of(p))
            for p in card.all("TEL")
            if p.value.strip()
        ),
        addresses=tuple(_address(card, p) for p in card.all("ADR")),
        birthday=_date(_single(card, "BDAY")),
        note=note,
        tags=tuple(tags),
        custom=custom,
        company_uid=card.x_values.get(COMPANY_UID, "").strip(),
    )
    return draft, invalid


def _single(card: _Parsed, key: str) -> str:
    prop = card.first(key)
    return _lines.unescape(prop.value).strip() if prop is not None else ""


def _kind(card: _Parsed) -> str:
    for key in ("KIND", "X-ADDRESSBOOKSERVER-KIND"):
        prop = card.first(key)
        if prop is not None and prop.value.strip().lower() == "org":
            return COMPANY
    show_as = card.first("X-ABSHOWAS")
    if show_as is not None and show_as.value.strip().upper() == "COMPANY":
        return COMPANY
    return PERSON


def _adr_parts(prop: Prop) -> list[str]:
    parts = [_lines.unescape(p) for p in _lines.split_escaped(prop.value, ";")]
    return (parts + [""] * 7)[:7]


def _address(card: _Parsed, prop: Prop) -> PostalAddress:
    parts = [p.strip() for p in _adr_parts(prop)]
    return PostalAddress(
        label=card.label_of(prop),
        street=parts[2],
        locality=parts[3],
        region=parts[4],
        postal_code=parts[5],
        country=parts[6],
    )


# -- writing ------------------------------------------------------------------


def _note_text(draft: ContactDraft, fields: Sequence[FieldDef]) -> str:
    """NOTE as written: the free note, then the own-field block."""
    lines = [
        f"{f.label}: {visible_text(f, draft.custom[f.key])}"
        for f in fields
        if f.field_type != "date" and draft.custom.get(f.key, "").strip()
    ]
    text = draft.note.rstrip()
    if lines:
        text = (text + "\n\n" if text else "") + "\n".join([NOTE_MARKER, *lines])
    return text


def _skeleton(uid: str) -> str:
    """The empty card a new contact starts from (``build_card`` patches it)."""
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"PRODID:{PRODID}\r\n{_lines.fold('UID:' + uid, chr(13) + chr(10))}END:VCARD\r\n"
    )


def build_card(draft: ContactDraft, *, uid: str, fields: Sequence[FieldDef]) -> str:
    """A new vCard 3.0 for ``draft`` (CRLF line endings, folded at 75 octets).

    The bytes are exactly those of ``patch_card`` applied to the empty
    skeleton (a property test holds the two together), written in one pass:
    the patcher looks properties up by scanning the card, which made building
    a card with many properties quadratic and the import slow.
    """
    if not uid or any(c in uid for c in "\r\n"):
        raise ValidationError("a card needs a UID on one line", field="uid")
    date_labels = [f.label.casefold() for f in fields if f.field_type == "date"]
    if len(set(date_labels)) != len(date_labels):
        # Two date fields under one label share an item: leave that to the patcher.
        return patch_card(_skeleton(uid), draft, fields=fields)
    return _Builder(uid).card(draft, fields)


class _Builder:
    """Writes the properties of a new card in the order the patcher would."""

    newline = "\r\n"

    def __init__(self, uid: str) -> None:
        self.out = [
            "BEGIN:VCARD\r\nVERSION:3.0\r\n",
            f"PRODID:{PRODID}\r\n",
            _lines.fold("UID:" + uid, self.newline),
        ]
        self.groups = 0

    def add(
        self, name: str, value: str, params: Sequence[tuple[str, str]] = (), group: str = ""
    ) -> None:
        full = f"{group}.{name}" if group else name
        self.out.append(_lines.fold(_lines.content_line(full, value, list(params)), self.newline))

    def group(self) -> str:
        self.groups += 1
        return f"item{self.groups}"

    def labeled(self, key: str, value: str, label: str) -> None:
        internet = [("TYPE", "INTERNET")] if key == "EMAIL" else []
        if label and not _is_type_label(label):
            group = self.group()
            self.add(key, value, internet, group)
            self.add("X-ABLabel", _lines.escape(label), (), group)
            return
        types = ["INTERNET"] if key == "EMAIL" else []
        types += [t.upper() for t in label.split(",")] if label else []
        self.add(key, value, [("TYPE", ",".join(types))] if types else [])

    def note(self, draft: ContactDraft, fields: Sequence[FieldDef]) -> None:
        text = _note_text(draft, fields)
        if text:
            self.add("NOTE", _lines.escape(text))

    def card(self, draft: ContactDraft, fields: Sequence[FieldDef]) -> str:
        self.add("N", _lines.structured([draft.family_name, draft.given_name, "", "", ""]))
        if draft.company:
            self.add("ORG", _lines.escape(draft.company))
        self.add("FN", _lines.escape(draft.display_name or "-"))
        if draft.title:
            self.add("TITLE", _lines.escape(draft.title))
        for email in draft.emails:
            self.labeled("EMAIL", _lines.escape(email.value), email.label)
        for phone in draft.phones:
            self.labeled("TEL", phone.value, phone.label)
        for adr in draft.addresses:
            value = _lines.structured(
                ["", "", adr.street, adr.locality, adr.region, adr.postal_code, adr.country]
            )
            self.labeled("ADR", value, adr.label)
        if draft.birthday:
            self.add("BDAY", draft.birthday)
        self.note(draft, fields)
        if draft.tags:
            self.add("CATEGORIES", _lines.text_list(tuple(draft.tags)))
        if draft.kind == COMPANY:
            self.add("X-ABShowAs", "COMPANY")
            self.add("X-ADDRESSBOOKSERVER-KIND", "org")
        if draft.kind == PERSON and draft.company_uid:
            self.add(COMPANY_UID, _lines.escape(draft.company_uid))
        for field_def in fields:
            value = draft.custom.get(field_def.key, "").strip()
            if value:
                self.add(CUSTOM_PREFIX + field_def.key, _lines.escape(value))
                if field_def.field_type == "date":
                    group = self.group()
                    self.add("X-ABDATE", value, (), group)
                    self.add("X-ABLabel", _lines.escape(field_def.label), (), group)
        self.out.append("END:VCARD\r\n")
        return "".join(self.out)


def patch_card(text: str, draft: ContactDraft, *, fields: Sequence[FieldDef]) -> str:
    """``text`` with the managed properties set to ``draft``; nothing else moves."""
    old, _ = read_draft(text, fields=fields)
    patcher = _Patcher(_parse(text), _lines.line_ending(text))
    patcher.names(old, draft)
    patcher.scalar("TITLE", old.title, draft.title)
    patcher.listed("EMAIL", old.emails, draft.emails)
    patcher.listed("TEL", old.phones, draft.phones)
    patcher.addresses(old.addresses, draft.addresses)
    patcher.scalar("BDAY", old.birthday, draft.birthday, raw=True)
    patcher.note(draft, fields)
    patcher.tags(old.tags, draft.tags)
    patcher.kind(old.kind, draft.kind)
    patcher.x_value(COMPANY_UID, draft.company_uid if draft.kind == PERSON else "")
    for field_def in fields:
        value = draft.custom.get(field_def.key, "").strip()
        patcher.x_value(CUSTOM_PREFIX + field_def.key, value)
        if field_def.field_type == "date":
            patcher.date_item(field_def.label, value)
    return "".join(p.raw for p in patcher.card.props)


class _Patcher:
    def __init__(self, card: _Parsed, newline: str) -> None:
        self.card = card
        self.newline = newline
        self.v4 = card.version.startswith("4")

    # -- primitives

    def make(
        self, name: str, value: str, params: Sequence[tuple[str, str]] = (), group: str = ""
    ) -> Prop:
        full = f"{group}.{name}" if group else name
        return Prop(
            raw=_lines.fold(_lines.content_line(full, value, list(params)), self.newline),
            group=group,
            name=name,
            params=list(params),
            value=value,
        )

    def index(self, prop: Prop) -> int:
        return next(i for i, p in enumerate(self.card.props) if p is prop)

    def rewrite(
        self, prop: Prop, value: str, params: Sequence[tuple[str, str]] | None = None
    ) -> Prop:
        new = self.make(prop.name, value, prop.params if params is None else params, prop.group)
        self.card.props[self.index(prop)] = new
        return new

    def insert(self, prop: Prop, after: Prop | None = None) -> None:
        props = self.card.props
        if after is not None:
            props.insert(self.index(after) + 1, prop)
            return
        end = max((i for i, p in enumerate(props) if p.key == "END"), default=len(props))
        props.insert(end, prop)

    def remove(self, prop: Prop) -> None:
        del self.card.props[self.index(prop)]
        group = prop.group.lower()
        if group and not any(
            p.group.lower() == group and p.key != "X-ABLABEL" for p in self.card.props
        ):
            self.card.props[:] = [
                p
                for p in self.card.props
                if not (p.group.lower() == group and p.key == "X-ABLABEL")
            ]
            self.card.labels.pop(group, None)

    def set_single(self, key: str, value: str) -> None:
        """Rewrite the first ``key`` property's value (params kept), add it,
        or (with ``value`` "") remove every ``key`` property."""
        props = self.card.all(key)
        if not value:
            for prop in props:
                self.remove(prop)
        elif props:
            self.rewrite(props[0], value)
        else:
            self.insert(self.make(key, value))

    def new_group(self) -> str:
        numbers = [
            int(m[1]) for p in self.card.props if p.group and (m := _ITEM_GROUP.match(p.group))
        ]
        return f"item{max(numbers, default=0) + 1}"

    # -- managed properties

    def names(self, old: ContactDraft, new: ContactDraft) -> None:
        name_changed = (old.given_name, old.family_name) != (new.given_name, new.family_name)
        # vCard 3 requires N (RFC 2426 3.1.2); vCard 4 only gets it for a name.
        if name_changed or (self.card.first("N") is None and not self.v4):
            n = self.card.first("N")
            if n is None:
                self.insert(
                    self.make("N", _lines.structured([new.family_name, new.given_name, "", "", ""]))
                )
            else:
                parts = (_lines.split_escaped(n.value, ";") + [""] * 5)[:5]
                parts[0], parts[1] = _lines.escape(new.family_name), _lines.escape(new.given_name)
                self.rewrite(n, ";".join(parts))
        if old.company != new.company:
            org = self.card.first("ORG")
            if not new.company:
                for prop in self.card.all("ORG"):
                    self.remove(prop)
            elif org is None:
                self.insert(self.make("ORG", _lines.escape(new.company)))
            else:
                parts = _lines.split_escaped(org.value, ";")
                parts[0] = _lines.escape(new.company)
                self.rewrite(org, ";".join(parts))
        fn = self.card.first("FN")
        if fn is None or name_changed or old.company != new.company or old.kind != new.kind:
            self.set_single("FN", _lines.escape(new.display_name or old.display_name or "-"))

    def scalar(self, key: str, old: str, new: str, *, raw: bool = False) -> None:
        if old != new:
            self.set_single(key, new if raw else _lines.escape(new))

    def _label_params(
        self, key: str, label: str, keep: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        params = [(k, v) for k, v in keep if k != "TYPE"]
        kept_types = [
            t for k, v in keep if k == "TYPE" for t in v.split(",") if t.lower() in _NOT_LABELS
        ]
        if key == "EMAIL" and not self.v4 and not keep:
            kept_types.insert(0, "INTERNET")
        types = kept_types + ([t.upper() for t in label.split(",")] if label else [])
        if types:
            params.insert(0, ("TYPE", ",".join(types)))
        return params

    def _add_labeled(self, key: str, value: str, label: str, after: Prop | None) -> Prop:
        if label and not _is_type_label(label):
            group = self.new_group()
            prop = self.make(key, value, self._label_params(key, ""), group)
            self.insert(prop, after)
            label_prop = self.make("X-ABLabel", _lines.escape(label), (), group)
            self.insert(label_prop, prop)
            self.card.labels[group.lower()] = label
            return label_prop
        prop = self.make(key, value, self._label_params(key, label))
        self.insert(prop, after)
        return prop

    def _relabel(self, prop: Prop, label: str) -> None:
        group = prop.group.lower()
        if group and group in self.card.labels:
            for other in list(self.card.props):
                if other.key == "X-ABLABEL" and other.group.lower() == group:
                    self.rewrite(other, _lines.escape(label))
            self.card.labels[group] = label
        elif label and not _is_type_label(label):
            new_group = self.new_group()
            params = self._label_params(prop.key, "", prop.params)
            current = self.make(prop.name, prop.value, params, new_group)
            self.card.props[self.index(prop)] = current
            self.insert(self.make("X-ABLabel", _lines.escape(label), (), new_group), current)
            self.card.labels[new_group.lower()] = label
        else:
            self.rewrite(prop, prop.value, self._label_params(prop.key, label, prop.params))

    def listed(self, key: str, old: Sequence[LabeledValue], new: Sequence[LabeledValue]) -> None:
        if tuple(old) == tuple(new):
            return
        props = [p for p in self.card.all(key) if p.value.strip()]
        for index, found in enumerate(props):
            prop = found
            if index >= len(new):
                self.remove(prop)
                continue
            if old[index].value != new[index].value:
                value = _lines.escape(new[index].value) if key == "EMAIL" else new[index].value
                prop = self.rewrite(prop, value)
            if old[index].label != new[index].label:
                self._relabel(prop, new[index].label)
        last: Prop | None = self._last_of(key)
        for entry in new[len(props) :]:
            value = _lines.escape(entry.value) if key == "EMAIL" else entry.value
            last = self._add_labeled(key, value, entry.label, last)

    def _last_of(self, key: str) -> Prop | None:
        found = self.card.all(key)
        if not found:
            return None
        last = found[-1]
        group = last.group.lower()
        if group:  # after the group's label, so the group stays together
            members = [p for p in self.card.props if p.group.lower() == group]
            return members[-1]
        return last

    def addresses(self, old: Sequence[PostalAddress], new: Sequence[PostalAddress]) -> None:
        if tuple(old) == tuple(new):
            return
        props = self.card.all("ADR")
        for index, found in enumerate(props):
            prop = found
            if index >= len(new):
                self.remove(prop)
                continue
            want = new[index]
            if replace(old[index], label="") != replace(want, label=""):
                parts = _adr_parts(prop)
                parts[2:7] = [
                    want.street,
                    want.locality,
                    want.region,
                    want.postal_code,
                    want.country,
                ]
                prop = self.rewrite(prop, _lines.structured(parts))
            if old[index].label != want.label:
                self._relabel(prop, want.label)
        last = self._last_of("ADR")
        for want in new[len(props) :]:
            value = _lines.structured(
                ["", "", want.street, want.locality, want.region, want.postal_code, want.country]
            )
            last = self._add_labeled("ADR", value, want.label, last)

    def note(self, draft: ContactDraft, fields: Sequence[FieldDef]) -> None:
        text = _note_text(draft, fields)
        current = self.card.first("NOTE")
        if (_lines.unescape(current.value) if current is not None else "") != text:
            self.set_single("NOTE", _lines.escape(text))

    def tags(self, old: Sequence[str], new: Sequence[str]) -> None:
        if tuple(old) == tuple(new):
            return
        existing = self.card.all("CATEGORIES")
        if existing and new:
            self.rewrite(existing[0], _lines.text_list(tuple(new)))
            existing = existing[1:]
        elif new:
            self.insert(self.make("CATEGORIES", _lines.text_list(tuple(new))))
        for prop in existing:
            self.remove(prop)

    def kind(self, old: str, new: str) -> None:
        if old == new:
            return
        for key in ("KIND", "X-ADDRESSBOOKSERVER-KIND", "X-ABSHOWAS"):
            for prop in self.card.all(key):
                self.remove(prop)
        if new == COMPANY:
            if self.v4:
                self.insert(self.make("KIND", "org"))
            else:
                self.insert(self.make("X-ABShowAs", "COMPANY"))
                self.insert(self.make("X-ADDRESSBOOKSERVER-KIND", "org"))

    def x_value(self, key: str, value: str) -> None:
        if self.card.x_values.get(key, "") != value:
            self.set_single(key, _lines.escape(value))
            self.card.x_values[key] = value

    def date_item(self, label: str, value: str) -> None:
        item = self.card.date_item(label)
        if item is None:
            if value:
                group = self.new_group()
                prop = self.make("X-ABDATE", value, (), group)
                self.insert(prop)
                self.insert(self.make("X-ABLabel", _lines.escape(label), (), group), prop)
                self.card.labels[group.lower()] = label
        elif not value:
            self.remove(item)
        elif _date(item.value) != value:
            self.rewrite(item, value)
