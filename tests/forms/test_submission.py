"""The pure parts of a submission: field checks, the draft, the overlay."""

from __future__ import annotations

from kmdav.contacts.cards import ContactDraft
from kmdav.contacts.fields import FieldDef
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.forms.submission import check, draft_of, overlay
from kmdav.models import ContactForm

SIZE = FieldDef(key="SIZE", label="Size", field_type="select", options=("S", "M"))


def form(*fields: tuple[str, bool]) -> ContactForm:
    return ContactForm(name="f", fields=[{"key": k, "required": r} for k, r in fields])


def test_every_field_gets_its_own_message() -> None:
    asked = form(("email", True), ("phone", False), ("birthday", False), ("custom:SIZE", True))
    values, errors = check(
        asked,
        [SIZE],
        {"email": "nope", "phone": "call me", "birthday": "2999-01-01", "custom:SIZE": "XL"},
        consent=False,
    )
    assert {key: e.message for key, e in errors.items()} == {
        "email": "Please enter a valid e-mail address.",
        "phone": "Please enter a valid phone number.",
        "birthday": "Please enter a real birthday.",
        "custom:SIZE": "%(label)s: %(value)r is not one of the options",
        "consent": "Please agree to the consent text to send the form.",
    }
    assert values == {}


def test_clean_values_and_only_what_was_asked() -> None:
    asked = form(("email", True), ("given_name", False), ("custom:SIZE", False))
    values, errors = check(
        asked,
        [SIZE],
        {
            "email": " Anna@Example.COM ",
            "given_name": "An\x00na  Maria",
            "custom:SIZE": "s",
            "family_name": "not asked",
        },
        consent=True,
    )
    assert errors == {}
    assert values == {"email": "anna@example.com", "given_name": "Anna Maria", "custom:SIZE": "S"}


def test_a_card_without_a_name_takes_the_address() -> None:
    draft = draft_of({"email": "anna@example.com", "company": "Acme"})
    assert draft.family_name == "anna@example.com"
    assert draft.company == "Acme"
    assert draft.addresses == ()


def test_the_overlay_replaces_single_values_and_adds_to_lists() -> None:
    existing = ContactDraft(
        given_name="Anna",
        family_name="Berger",
        title="CEO",
        emails=(LabeledValue("anna@example.com", "work"),),
        phones=(LabeledValue("+43 660 1234567"),),
        addresses=(PostalAddress(street="Ring 1", locality="Wien"),),
        note="keep me",
        tags=("vip",),
        custom={"SIZE": "M"},
    )
    sent = draft_of(
        {
            "family_name": "Berger-Huber",
            "email": "ANNA@example.com",
            "phone": "0660/1234567",
            "street": "Gasse 2",
            "locality": "Graz",
        }
    )
    merged = overlay(existing, sent)
    assert merged.given_name == "Anna"
    assert merged.family_name == "Berger-Huber"
    assert merged.title == "CEO"
    assert merged.emails == existing.emails  # the same address, any case
    assert merged.phones == existing.phones  # the same number, written otherwise
    assert [a.locality for a in merged.addresses] == ["Wien", "Graz"]
    assert merged.note == "keep me"
    assert merged.tags == ("vip",)
    assert merged.custom == {"SIZE": "M"}
