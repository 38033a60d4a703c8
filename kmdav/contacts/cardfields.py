"""The CRM fields of a card kmdav builds itself, without parsing it (pure).

``kmdav.dav.vcard.card_fields`` reads any card through vobject's parse,
which costs ~0.5 ms a card: most of an import's time.  A card that
:func:`kmdav.contacts.cards.build_card` makes from a checked draft holds
nothing but the draft, so :func:`fields_of_draft` says what the projection
would read from it straight from the draft.  It gives the same
:class:`~kmdav.dav.vcard.CardFields` as the vobject route
(``tests/contacts/test_import_cards.py`` compares both over many drafts);
cards from elsewhere (a .vcf import, a phone) keep going through vobject.
:func:`card_fields_of` does the same from the built text with the card
code's line splitter (slower; kept for cards already built).
"""

from __future__ import annotations

from collections.abc import Sequence

from kmdav.contacts._lines import Prop, split_escaped, split_props, unescape
from kmdav.contacts.cards import COMPANY, COMPANY_UID, NOTE_MARKER, ContactDraft
from kmdav.contacts.fieldtypes import FieldDef, visible_text
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


def _note(draft: ContactDraft, definitions: Sequence[FieldDef]) -> str:
    """NOTE as ``build_card`` writes it: the free note, then the block of
    own fields people can read on their phone."""
    lines = [
        f"{f.label}: {visible_text(f, draft.custom[f.key])}"
        for f in definitions
        if f.field_type != "date" and draft.custom.get(f.key, "").strip()
    ]
    text = draft.note.rstrip()
    if lines:
        text = (text + "\n\n" if text else "") + "\n".join([NOTE_MARKER, *lines])
    return text.strip()


def fields_of_draft(draft: ContactDraft, definitions: Sequence[FieldDef]) -> CardFields:
    """What the projection reads from ``build_card(draft, ...)``, for a draft
    that ``contacts.service.validate_draft`` has checked."""
    custom = {
        f.key: draft.custom[f.key].strip()
        for f in definitions
        if draft.custom.get(f.key, "").strip()
    }
    if draft.kind != COMPANY and draft.company_uid:
        custom[COMPANY_UID[len(CUSTOM_PREFIX) :]] = draft.company_uid
    company = draft.company.strip()
    return CardFields(
        kind="org" if draft.kind == COMPANY else "individual",
        formatted_name=(draft.display_name or "-").strip(),
        given_name=draft.given_name.strip(),
        family_name=draft.family_name.strip(),
        organization=company.replace(",", ", "),
        title=draft.title.strip(),
        birthday=draft.birthday.strip(),
        categories=tuple(tag.strip() for tag in draft.tags if tag.strip()),
        note=_note(draft, definitions),
        emails=tuple(LabeledValue(e.value.strip(), e.label) for e in draft.emails),
        phones=tuple(LabeledValue(p.value.strip(), p.label) for p in draft.phones),
        addresses=tuple(
            PostalAddress(
                a.label,
                a.street.strip(),
                a.locality.strip(),
                a.region.strip(),
                a.postal_code.strip(),
                a.country.strip(),
            )
            for a in draft.addresses
        ),
        custom=custom,
    )
