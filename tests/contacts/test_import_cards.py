"""The import's own reading of built cards equals the vobject route."""

from __future__ import annotations

import vobject
from hypothesis import event, given, settings
from hypothesis import strategies as st

from kmdav.contacts.cardfields import card_fields_of, fields_of_draft
from kmdav.contacts.cards import COMPANY, PERSON, ContactDraft, build_card
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.contacts.service import validate_draft
from kmdav.dav.vcard import LabeledValue, PostalAddress, card_fields
from kmdav.errors import ValidationError

FIELDS = [
    FieldDef("KDNR", "Kundennummer", "number"),
    FieldDef("SINCE", "Kunde seit", "date"),
    FieldDef("NOTES2", "Hinweis", "text"),
    FieldDef("LEVEL", "Stufe", "select", options=("A", "B, C")),
    FieldDef("VIP", "VIP", "checkbox"),
]
_TEXT = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from(',;\\:\n"äöü€'),
    max_size=90,
).map(str.strip)
_LINE = _TEXT.map(lambda t: t.replace("\n", " ").strip())
_LABEL = st.sampled_from(["", "work", "home", "cell", "fax", "Büro"])


def _same(draft: ContactDraft) -> bool:
    """Both readings agree; True when the draft also passed validation."""
    text = build_card(draft, uid="u-1", fields=FIELDS)
    read = card_fields(vobject.readOne(text))
    assert card_fields_of(text) == read, text
    try:
        clean = validate_draft(draft, FIELDS)
    except ValidationError:
        return False
    built = card_fields(vobject.readOne(build_card(clean, uid="u-2", fields=FIELDS)))
    assert fields_of_draft(clean, FIELDS) == built
    return True


def test_a_full_person_and_a_company() -> None:
    assert _same(
        ContactDraft(
            given_name="Jürgen",
            family_name="Groß, jun.",
            company="Müller; Söhne GmbH",
            title="CEO",
            emails=(LabeledValue("j@example.com", "work"), LabeledValue("p@example.org", "home")),
            phones=(LabeledValue("+43 660 1", "cell"), LabeledValue("+43 1 2", "Büro")),
            addresses=(PostalAddress("work", "Hauptstraße 1", "Wien", "W", "1010", "AT"),),
            birthday="1980-12-31",
            note="Zeile 1\nZeile 2, mit; allem\\",
            tags=("VIP", "Kunde, alt"),
            custom={
                "KDNR": "12345",
                "SINCE": "2020-01-01",
                "NOTES2": "a, b; c",
                "LEVEL": "B, C",
                "VIP": "1",
            },
        )
    )
    assert _same(
        ContactDraft(kind=COMPANY, company="ACME", emails=(LabeledValue("a@acme.example"),))
    )


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from([PERSON, COMPANY]),
    given_name=_LINE,
    family_name=_LINE,
    company=_LINE,
    title=_LINE,
    note=_TEXT,
    tags=st.lists(_LINE, max_size=3),
    emails=st.lists(st.tuples(st.emails(), _LABEL), max_size=2),
    phones=st.lists(
        st.tuples(st.from_regex(r"\+?[0-9 ]{3,15}", fullmatch=True), _LABEL), max_size=2
    ),
    street=_LINE,
    city=_LINE,
    own_text=_TEXT,
)
def test_any_draft(
    kind: str,
    given_name: str,
    family_name: str,
    company: str,
    title: str,
    note: str,
    tags: list[str],
    emails: list[tuple[str, str]],
    phones: list[tuple[str, str]],
    street: str,
    city: str,
    own_text: str,
) -> None:
    if kind == PERSON and not (given_name or family_name):
        given_name = "X"
    if kind == COMPANY and not company:
        company = "Y"
    checked = _same(
        ContactDraft(
            kind=kind,
            given_name=given_name,
            family_name=family_name,
            company=company,
            title=title,
            note=note,
            tags=tuple(t for t in tags if t),
            emails=tuple(LabeledValue(v, lb) for v, lb in emails),
            phones=tuple(LabeledValue(v.strip(), lb) for v, lb in phones if v.strip()),
            addresses=(PostalAddress("work", street, city, "", "1010", "AT"),) if street else (),
            custom={"NOTES2": own_text} if own_text else {},
        )
    )
    event("validated" if checked else "refused by validate_draft")
