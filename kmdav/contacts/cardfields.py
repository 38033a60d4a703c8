"""The CRM fields of a card kmdav built itself, read without vobject (pure).

``kmdav.dav.vcard.card_fields`` reads any card through vobject's parse,
which costs ~0.5 ms a card: most of an import's time.  A card that
:func:`kmdav.contacts.cards.build_card` has just written is plain vCard 3.0,
so :func:`card_fields_of` reads it with the line splitter the card code
uses.  It gives the same :class:`~kmdav.dav.vcard.CardFields` as the
vobject route (``tests/contacts/test_import_cards.py`` compares both over
many drafts); cards from elsewhere (a .vcf import, a phone) keep going
through vobject.
"""

from __future__ import annotations

from kmdav.contacts._lines import Prop, split_escaped, split_props, unescape
from kmdav.dav.vcard import CUSTOM_PREFIX, CardFields, LabeledValue, PostalAddress

_NOT_LABELS = frozenset({"pref", "internet", "voice"})
_KINDS = frozenset({"individual", "org", "group", "location"})


def _list_text(value: str, separator: str) -> str:
    """A component that may be a list (vobject joins its parts with ",")."""
    parts = (unescape(part) for part in split_escaped(value, separator))
    return ",".join(part.strip() for part in parts if part)


def _components(value: str) -> list[str]:
    return [_list_text(part, ",") for part in split_escaped(value, ";")]


def _label(prop: Prop, labels: dict[str, str]) -> str:
    group = prop.group.lower()
    if group and group in labels:
        return labels[group]
    types = [t.lower() for t in prop.param_values("TYPE") if t]
    return ",".join(t for t in types if t not in _NOT_LABELS)


def _kind(first: dict[str, Prop]) -> str:
    for key in ("KIND", "X-ADDRESSBOOKSERVER-KIND"):
        if key in first:
            value = unescape(first[key].value).strip().lower()
            if value in _KINDS:
                return value
    show_as = first.get("X-ABSHOWAS")
    if show_as is not None and unescape(show_as.value).strip().upper() == "COMPANY":
        return "org"
    return "individual"


def card_fields_of(text: str) -> CardFields:
    """What the projection stores of a card built by ``cards.build_card``."""
    props = [prop for prop in split_props(text) if prop.key not in {"BEGIN", "END"}]
    first: dict[str, Prop] = {}
    for prop in props:
        first.setdefault(prop.key, prop)
    labels = {
        prop.group.lower(): unescape(prop.value).strip()
        for prop in props
        if prop.key == "X-ABLABEL" and prop.group
    }

    def single(key: str) -> str:
        prop = first.get(key)
        return unescape(prop.value).strip() if prop is not None else ""

    given = family = ""
    if "N" in first:
        parts = [*_components(first["N"].value), "", ""]
        family, given = parts[0], parts[1]
    organization = ""
    if "ORG" in first:
        org = [unescape(part) for part in split_escaped(first["ORG"].value, ";")]
        organization = ",".join(part.strip() for part in org if part).replace(",", ", ")
    emails: list[LabeledValue] = []
    phones: list[LabeledValue] = []
    addresses: list[PostalAddress] = []
    categories: list[str] = []
    members: list[str] = []
    custom: dict[str, str] = {}
    for prop in props:
        key = prop.key
        if key in {"EMAIL", "TEL"}:
            value = unescape(prop.value).strip()
            if value:
                (emails if key == "EMAIL" else phones).append(
                    LabeledValue(value, _label(prop, labels))
                )
        elif key == "ADR":
            adr = [*_components(prop.value), "", "", "", "", "", "", ""]
            addresses.append(
                PostalAddress(_label(prop, labels), adr[2], adr[3], adr[4], adr[5], adr[6])
            )
        elif key == "CATEGORIES":
            categories.extend(
                tag.strip() for tag in map(unescape, split_escaped(prop.value, ",")) if tag.strip()
            )
        elif key in {"MEMBER", "X-ADDRESSBOOKSERVER-MEMBER"}:
            members.append(unescape(prop.value).strip())
        elif key.startswith(CUSTOM_PREFIX) and key[len(CUSTOM_PREFIX) :] not in custom:
            custom[key[len(CUSTOM_PREFIX) :]] = unescape(prop.value).strip()
    return CardFields(
        kind=_kind(first),
        formatted_name=single("FN"),
        given_name=given,
        family_name=family,
        organization=organization,
        title=single("TITLE"),
        birthday=single("BDAY"),
        categories=tuple(categories),
        note=single("NOTE"),
        has_photo="PHOTO" in first,
        emails=tuple(emails),
        phones=tuple(phones),
        addresses=tuple(addresses),
        members=tuple(m for m in members if m),
        custom=custom,
    )
