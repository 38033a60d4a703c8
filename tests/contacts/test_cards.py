"""kmdav.contacts.cards: build, read and patch real clients' cards.

The rule under test: a patch changes only the properties kmdav manages; every
other line keeps its exact bytes (folding, parameter case, groups, order).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import vobject
from hypothesis import given
from hypothesis import strategies as st

from kmdav.contacts import _lines
from kmdav.contacts.cards import (
    NOTE_MARKER,
    ContactDraft,
    _skeleton,
    build_card,
    patch_card,
    read_draft,
)
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.dav.vcard import LabeledValue, PostalAddress
from tests.dav.cards import ANDROID_CARD, IOS_CARD, photo_card

FIELDS = (
    FieldDef("KNR", "Kundennummer", "number"),
    FieldDef("SINCE", "Kunde seit", "date"),
    FieldDef("VIP", "VIP", "checkbox"),
    FieldDef("SEGMENT", "Segment", "select", options=("A", "B")),
    FieldDef("REMARK", "Bemerkung", "text"),
)

#: An iOS card edited on the phone (a photo folded at 75 octets, groups with
#: Apple labels, an own date field in iOS's form, a company link, an unknown prop).
IOS_FULL = (
    IOS_CARD.replace("UID:ios-anna\r\n", "").replace("END:VCARD\r\n", "")
    + "item5.X-ABRELATEDNAMES:Max\r\nitem5.X-ABLabel:_$!<Brother>!$_\r\n"
    + "X-SOCIALPROFILE;type=twitter:x-apple:anna\r\n"
    + photo_card("ios-anna", 1024).split("N:Person;Photo;;;\r\n", 1)[1].replace("END:VCARD\r\n", "")
    + "UID:ios-anna\r\nEND:VCARD\r\n"
)

VCARD4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:v4-1\r\nKIND:org\r\nFN:Ökotech GmbH\r\n"
    "ORG:Ökotech GmbH;Vertrieb\r\nEMAIL;TYPE=work;PREF=1:office@oekotech.example\r\n"
    'TEL;VALUE=uri;TYPE="voice,work":tel:+43-1-5550\r\n'
    'ADR;TYPE=work;LABEL="Ring 1\\n1010 Wien":;;Ring 1;Wien;;1010;Österreich\r\n'
    'X-UNKNOWN;X-PARAM="a:b;c":stays\r\nEND:VCARD\r\n'
)

CARDS = {"ios": IOS_FULL, "android": ANDROID_CARD, "vcard4": VCARD4}


def _unmanaged(text: str) -> list[str]:
    managed = {
        "FN", "N", "ORG", "TITLE", "EMAIL", "TEL", "ADR", "BDAY", "NOTE", "CATEGORIES",
        "X-ABLABEL", "X-ABDATE", "KIND", "X-ADDRESSBOOKSERVER-KIND", "X-ABSHOWAS",
    }  # fmt: skip
    return [
        p.raw
        for p in _lines.split_props(text)
        if p.key not in managed and not p.key.startswith("X-KMDAV-")
    ]


@pytest.mark.parametrize("name", CARDS)
def test_saving_unchanged_gives_the_same_bytes(name: str) -> None:
    text = CARDS[name]
    draft, _ = read_draft(text, fields=FIELDS)
    assert patch_card(text, draft, fields=FIELDS) == text


@pytest.mark.parametrize("name", CARDS)
def test_a_change_leaves_unmanaged_lines_byte_for_byte(name: str) -> None:
    text = CARDS[name]
    draft, _ = read_draft(text, fields=FIELDS)
    changed = replace(
        draft,
        given_name="Zoë",
        title="Geschäftsführerin",
        emails=(*draft.emails, LabeledValue("neu@example.com", "Büro 2")),
        phones=draft.phones[1:],
        note="Ruft gern zurück; bitte vormittags,\nnicht am Freitag.",
        tags=("Kunde", "Wien"),
        custom={"KNR": "4711", "SINCE": "2021-03-04", "VIP": "1", "REMARK": "ä, ö; ü"},
    )
    patched = patch_card(text, changed, fields=FIELDS)
    assert _unmanaged(patched) == _unmanaged(text)
    again, invalid = read_draft(patched, fields=FIELDS)
    assert invalid == {}
    assert again.custom == changed.custom
    assert again.note == changed.note
    assert again.tags == changed.tags
    assert again.emails[-1] == LabeledValue("neu@example.com", "Büro 2")
    vobject.readOne(patched)  # still a card vobject reads
    assert all(len(line.encode()) <= 75 for line in patched.split("\r\n"))


def test_ios_groups_keep_their_labels_and_the_photo_its_folding() -> None:
    draft, _ = read_draft(IOS_FULL, fields=FIELDS)
    assert draft.emails == (LabeledValue("anna@huber.example", "Büro"),)
    assert draft.phones == (LabeledValue("+43 1 234567", "_$!<Mobile>!$_"),)
    assert draft.company == "Huber GmbH"
    patched = patch_card(
        IOS_FULL,
        replace(draft, phones=(LabeledValue("+43 1 999", "_$!<Mobile>!$_"),), company="Huber AG"),
        fields=FIELDS,
    )
    assert "item2.TEL:+43 1 999\r\nitem2.X-ABLabel:_$!<Mobile>!$_\r\n" in patched
    assert "ORG:Huber AG;Vertrieb\r\n" in patched  # the department stays
    photo = next(p.raw for p in _lines.split_props(IOS_FULL) if p.key == "PHOTO")
    assert photo in patched


def test_build_writes_both_forms_of_own_fields_and_a_company() -> None:
    draft = ContactDraft(
        kind="company",
        company="Müller & Söhne",
        addresses=(PostalAddress("work", "Gasse 2", "Graz", "", "8010", "AT"),),
        custom={"KNR": "12", "SINCE": "2019-12-31", "SEGMENT": "B"},
    )
    text = build_card(draft, uid="c-1", fields=FIELDS)
    assert "X-ABShowAs:COMPANY\r\n" in text
    assert "X-ADDRESSBOOKSERVER-KIND:org\r\n" in text
    assert "FN:Müller & Söhne\r\n" in text
    assert "X-KMDAV-KNR:12\r\n" in text
    assert "item1.X-ABDATE:2019-12-31\r\nitem1.X-ABLabel:Kunde seit\r\n" in text
    note = _lines.unescape(next(p for p in _lines.split_props(text) if p.key == "NOTE").value)
    assert note == f"{NOTE_MARKER}\nKundennummer: 12\nSegment: B"
    parsed = vobject.readOne(text)
    assert parsed.fn.value == "Müller & Söhne"
    assert read_draft(text, fields=FIELDS)[0] == replace(draft, custom=draft.custom)


def test_phone_edits_of_either_form_come_back() -> None:
    text = build_card(
        ContactDraft(given_name="A", custom={"KNR": "1", "SINCE": "2020-01-01"}),
        uid="u",
        fields=FIELDS,
    )
    before = {"KNR": "1", "SINCE": "2020-01-01"}
    visible = text.replace("Kundennummer: 1", "Kundennummer: 2").replace(
        "X-ABDATE:2020-01-01", "X-ABDATE:2020-02-02"
    )
    assert read_draft(visible, fields=FIELDS, previous=before)[0].custom == {
        "KNR": "2",
        "SINCE": "2020-02-02",
    }
    machine = text.replace("X-KMDAV-KNR:1", "X-KMDAV-KNR:3")
    assert read_draft(machine, fields=FIELDS, previous=before)[0].custom["KNR"] == "3"
    both = visible.replace("X-KMDAV-KNR:1", "X-KMDAV-KNR:5")  # both changed: X-KMDAV wins
    assert read_draft(both, fields=FIELDS, previous=before)[0].custom["KNR"] == "5"
    cleared = text.replace("\\nKundennummer: 1", "")  # the line removed on the phone
    assert "KNR" not in read_draft(cleared, fields=FIELDS, previous=before)[0].custom
    dropped = text.replace("X-KMDAV-KNR:1\r\n", "")  # a client that drops unknown props
    assert read_draft(dropped, fields=FIELDS, previous=before)[0].custom["KNR"] == "1"


def test_invalid_values_are_kept_as_written_and_flagged() -> None:
    text = build_card(ContactDraft(given_name="A"), uid="u", fields=FIELDS)
    text = text.replace(
        "END:VCARD",
        "X-KMDAV-SINCE:31.12.2020\r\nX-KMDAV-SEGMENT:Z\r\nX-KMDAV-KNR:12,5\r\nEND:VCARD",
    )
    draft, invalid = read_draft(text, fields=FIELDS)
    assert invalid == {"SINCE": "31.12.2020", "SEGMENT": "Z"}
    assert draft.custom == {"SINCE": "31.12.2020", "SEGMENT": "Z", "KNR": "12.5"}
    # Patching with them unchanged keeps the lines as the phone wrote them.
    assert "X-KMDAV-SINCE:31.12.2020\r\n" in patch_card(text, draft, fields=FIELDS)


def test_removing_a_grouped_value_removes_its_label() -> None:
    draft, _ = read_draft(IOS_CARD, fields=())
    patched = patch_card(IOS_CARD, replace(draft, emails=()), fields=())
    assert "item1." not in patched
    assert "item2.TEL" in patched


text_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"),
    max_size=60,
)


notes = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=200
)


@given(note=notes, remark=text_values, given_name=text_values)
def test_any_text_survives_a_round_trip(note: str, remark: str, given_name: str) -> None:
    draft = ContactDraft(
        given_name=given_name.strip() or "x",
        note=note.replace("\r", "").strip(),
        custom={"REMARK": remark.strip()} if remark.strip() else {},
    )
    text = build_card(draft, uid="h", fields=FIELDS)
    back, _ = read_draft(text, fields=FIELDS)
    assert back.given_name == draft.given_name
    assert back.custom == draft.custom
    assert back.note == draft.note or NOTE_MARKER in draft.note


labels = st.sampled_from(["", "work", "home", "cell", "work,pref", "Büro", "Privat; zwei"])
labeled = st.builds(LabeledValue, text_values, labels)
addresses = st.builds(
    PostalAddress,
    label=labels,
    street=text_values,
    locality=text_values,
    region=text_values,
    postal_code=text_values,
    country=text_values,
)
custom_values = st.fixed_dictionaries(
    {},
    optional={
        "KNR": st.sampled_from(["1", "42", " 7 "]),
        "SINCE": st.sampled_from(["2020-01-01", "1999-12-31"]),
        "VIP": st.sampled_from(["1", "0"]),
        "SEGMENT": st.sampled_from(["A", "B"]),
        "REMARK": text_values,
    },
)
drafts = st.builds(
    ContactDraft,
    kind=st.sampled_from(["person", "company"]),
    given_name=text_values,
    family_name=text_values,
    company=text_values,
    title=text_values,
    emails=st.lists(labeled, max_size=3).map(tuple),
    phones=st.lists(labeled, max_size=3).map(tuple),
    addresses=st.lists(addresses, max_size=2).map(tuple),
    birthday=st.sampled_from(["", "1980-02-29", "--0412"]),
    note=notes,
    tags=st.lists(text_values, max_size=3).map(tuple),
    custom=custom_values,
    company_uid=st.sampled_from(["", "company-1"]),
)


@given(draft=drafts, uid=st.sampled_from(["u", "urn:uuid:" + "a" * 80]))
def test_building_a_card_equals_patching_the_empty_card(draft: ContactDraft, uid: str) -> None:
    """The one-pass builder writes exactly the bytes the patcher would."""
    assert build_card(draft, uid=uid, fields=FIELDS) == patch_card(
        _skeleton(uid), draft, fields=FIELDS
    )
