"""vCard -> CRM fields: pure mapping, no I/O.

Reads vCard 3.0 and 4.0 as vobject parses them; anything unexpected in a
property is skipped rather than fatal, because the stored card (the
authority) is kept as received whatever the projection makes of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUSTOM_PREFIX = "X-KMDAV-"


@dataclass(frozen=True)
class LabeledValue:
    value: str
    label: str = ""


@dataclass(frozen=True)
class PostalAddress:
    label: str = ""
    street: str = ""
    locality: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class CardFields:
    kind: str = "individual"
    formatted_name: str = ""
    given_name: str = ""
    family_name: str = ""
    organization: str = ""
    title: str = ""
    birthday: str = ""
    categories: tuple[str, ...] = ()
    note: str = ""
    has_photo: bool = False
    emails: tuple[LabeledValue, ...] = ()
    phones: tuple[LabeledValue, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    members: tuple[str, ...] = ()
    #: X-KMDAV-<KEY> values by upper-case key.
    custom: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(_text(part) for part in value if part)
    return str(value).strip()


def _label(prop: Any, labels: dict[str, str]) -> str:
    group = getattr(prop, "group", None)
    if group and group.lower() in labels:
        return labels[group.lower()]
    types = prop.params.get("TYPE", [])
    names = [t.lower() for t in types if t and t.lower() not in {"pref", "internet", "voice"}]
    return ",".join(names)


def _kind(card: Any) -> str:
    for name in ("kind", "x-addressbookserver-kind"):
        props = card.contents.get(name)
        if props:
            value = _text(props[0].value).lower()
            if value in {"individual", "org", "group", "location"}:
                return value
    if card.name == "VLIST":
        return "group"
    # iOS marks a company card with X-ABShowAs:COMPANY (vCard 3 has no KIND).
    show_as = card.contents.get("x-abshowas")
    if show_as and _text(show_as[0].value).upper() == "COMPANY":
        return "org"
    return "individual"


def card_fields(card: Any) -> CardFields:
    """Project a parsed vCard onto the CRM's contact fields."""
    contents: dict[str, list[Any]] = card.contents
    labels = {
        prop.group.lower(): _text(prop.value)
        for prop in contents.get("x-ablabel", [])
        if getattr(prop, "group", None)
    }
    given = family = ""
    if contents.get("n"):
        name = contents["n"][0].value
        given = _text(getattr(name, "given", ""))
        family = _text(getattr(name, "family", ""))
    organization = ""
    if contents.get("org"):
        organization = _text(contents["org"][0].value).replace(",", ", ")
    emails = tuple(
        LabeledValue(_text(p.value), _label(p, labels))
        for p in contents.get("email", [])
        if _text(p.value)
    )
    phones = tuple(
        LabeledValue(_text(p.value), _label(p, labels))
        for p in contents.get("tel", [])
        if _text(p.value)
    )
    addresses = []
    for prop in contents.get("adr", []):
        adr = prop.value
        addresses.append(
            PostalAddress(
                label=_label(prop, labels),
                street=_text(getattr(adr, "street", "")),
                locality=_text(getattr(adr, "city", "")),
                region=_text(getattr(adr, "region", "")),
                postal_code=_text(getattr(adr, "code", "")),
                country=_text(getattr(adr, "country", "")),
            )
        )
    categories: list[str] = []
    for prop in contents.get("categories", []):
        value = prop.value
        categories.extend(
            _text(v) for v in (value if isinstance(value, list) else [value]) if _text(v)
        )
    members = [_text(p.value) for p in contents.get("member", [])]
    members += [_text(p.value) for p in contents.get("x-addressbookserver-member", [])]
    custom: dict[str, str] = {}
    for key, props in contents.items():
        if key.upper().startswith(CUSTOM_PREFIX) and props:
            custom[key.upper()[len(CUSTOM_PREFIX) :]] = _text(props[0].value)
    return CardFields(
        kind=_kind(card),
        formatted_name=_text(contents["fn"][0].value) if contents.get("fn") else "",
        given_name=given,
        family_name=family,
        organization=organization,
        title=_text(contents["title"][0].value) if contents.get("title") else "",
        birthday=_text(contents["bday"][0].value) if contents.get("bday") else "",
        categories=tuple(categories),
        note=_text(contents["note"][0].value) if contents.get("note") else "",
        has_photo=bool(contents.get("photo")),
        emails=emails,
        phones=phones,
        addresses=tuple(addresses),
        members=tuple(m for m in members if m),
        custom=custom,
    )
