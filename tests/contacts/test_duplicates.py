"""Duplicate finding and merging on a rolled-back session."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import service as accounts
from kmdav.contacts import crm, duplicates, service
from kmdav.contacts.cards import COMPANY, ContactDraft
from kmdav.dav import provisioning, repository
from kmdav.dav import service as dav
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.errors import PermissionDeniedError
from kmdav.forms import builder
from kmdav.forms.builder import FieldChoice, FormSpec
from kmdav.models import (
    ConsentRecord,
    Contact,
    ContactEvent,
    ContactNote,
    ContactUidAlias,
    DavChange,
    DavItem,
    User,
)

BOOK = "company/contacts"
ACTOR = audit.Actor(name="test", source="test")


@pytest.fixture
def boss(session: Session) -> User:
    provisioning.ensure_company_addressbook(session, BOOK)
    user = accounts.create_user(session, "boss", "boss-password-1", is_admin=True)
    session.flush()
    return user


def add(session: Session, user: User, **values: object) -> int:
    return service.create_contact(session, actor=user, draft=ContactDraft(**values))  # type: ignore[arg-type]


def book_id(session: Session) -> int:
    book = repository.get_collection(session, BOOK)
    assert book is not None
    return book.id


def pairs(session: Session) -> dict[tuple[int, int], set[str]]:
    return {
        (c.first, c.second): c.reasons
        for c in duplicates.find_candidates(session, [book_id(session)])
    }


def key(a: int, b: int) -> tuple[int, int]:
    return (min(a, b), max(a, b))


def test_candidates_by_e_mail_phone_and_similar_name(session: Session, boss: User) -> None:
    by_mail = add(session, boss, family_name="Gruber", emails=(LabeledValue("X@Example.com"),))
    by_mail2 = add(session, boss, family_name="Kern", emails=(LabeledValue("x@example.com"),))
    phone1 = add(session, boss, family_name="Wolf", phones=(LabeledValue("+43 660 1234567"),))
    phone2 = add(session, boss, family_name="Lang", phones=(LabeledValue("0660/123 45 67"),))
    typo1 = add(session, boss, given_name="Johann", family_name="Schmidt")
    typo2 = add(session, boss, given_name="Johan", family_name="Schmidt")
    accent1 = add(session, boss, given_name="Jürgen", family_name="Müller")
    accent2 = add(session, boss, given_name="Jurgen", family_name="Muller")
    namesake1 = add(session, boss, given_name="Maria", family_name="Huber", company="Alpha GmbH")
    namesake2 = add(session, boss, given_name="Maria", family_name="Huber", company="Zeta Bau AG")
    firm1 = add(session, boss, kind=COMPANY, company="Beispiel Handels GmbH")
    firm2 = add(session, boss, kind=COMPANY, company="Beispiel Handels GesmbH")
    add(session, boss, given_name="Otto", family_name="Neumann")
    found = pairs(session)
    assert found[key(by_mail, by_mail2)] == {duplicates.EMAIL}
    assert found[key(phone1, phone2)] == {duplicates.PHONE}
    assert found[key(typo1, typo2)] == {duplicates.NAME}
    assert found[key(accent1, accent2)] == {duplicates.NAME}
    assert found[key(firm1, firm2)] == {duplicates.NAME}
    assert key(namesake1, namesake2) not in found  # one name, two companies
    assert len(found) == 5


def test_keys_and_folding() -> None:
    assert duplicates.phone_key("+43 (660) 123-4567") == duplicates.phone_key("00436601234567")
    assert duplicates.phone_key("123") == ""
    assert duplicates.fold("  Jörg-Straße ") == "jorg strasse"
    assert duplicates.company_key("Muster GmbH & Co. KG") == "muster"


def test_a_huge_block_is_compared_on_exact_names_only(session: Session, boss: User) -> None:
    same = [
        add(session, boss, given_name="Anna", family_name="Maier")
        for _ in range(duplicates.MAX_BLOCK + 1)
    ]
    near = add(session, boss, given_name="Anna", family_name="Maierl")
    found = pairs(session)
    assert key(same[0], same[1]) in found
    assert not any(near in pair for pair in found)  # a typo, but in a block too big to compare


def _raw_card(session: Session, uid: str) -> int:
    """A card a phone wrote, with things kmdav does not manage."""
    book = repository.get_collection(session, BOOK)
    assert book is not None
    body = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17//EN\r\n"
        f"UID:{uid}\r\nFN:Anna Berger\r\nN:Berger;Anna;;;\r\n"
        "EMAIL;TYPE=INTERNET:anna@example.com\r\n"
        "item1.URL:https://anna.example\r\nitem1.X-ABLabel:Blog\r\n"
        "X-UNKNOWN-THING:keep me\r\nNOTE:short\r\nEND:VCARD\r\n"
    )
    dav.store_item(session, book, f"{uid}.vcf", dav.DavObject(body, uid, "VCARD", 0, 0))
    contact_id = session.scalar(
        select(Contact.id).join(DavItem, DavItem.id == Contact.item_id).where(DavItem.uid == uid)
    )
    assert contact_id is not None
    return contact_id


def test_merge_keeps_all_data_moves_references_and_syncs_as_one_card(
    session: Session, boss: User
) -> None:
    survivor_id = _raw_card(session, "phone-anna")
    other_id = add(
        session,
        boss,
        given_name="Anna",
        family_name="Berger",
        emails=(LabeledValue("ANNA@example.com"), LabeledValue("a.berger@work.example")),
        phones=(LabeledValue("+43 1 234567"),),
        addresses=(PostalAddress(street="Ring 1", locality="Wien", postal_code="1010"),),
        note="a much longer note about Anna",
        tags=("vip",),
    )
    company_id = add(session, boss, kind=COMPANY, company="Berger Design")
    company_twin_id = add(session, boss, kind=COMPANY, company="Berger Design GmbH")
    company_twin = service.get_contact(session, boss, company_twin_id)
    colleague_id = add(session, boss, family_name="Kollege", company_uid=company_twin.uid)
    crm.add_note(session, ACTOR, boss, other_id, "called on Monday")
    form = builder.create_form(
        session,
        actor=ACTOR,
        spec=FormSpec(
            name="f",
            fields=(FieldChoice("email", True),),
            consent_text="ok",
            privacy_text="p",
        ),
    )
    consent = builder.current_consent(session, form.id)
    assert consent is not None
    session.add(ConsentRecord(contact_id=other_id, consent_text_id=consent.id, form_id=form.id))
    session.flush()
    other = service.get_contact(session, boss, other_id)
    session.add(ContactUidAlias(old_uid="older-uid", survivor_uid=other.uid))
    session.flush()

    views = duplicates.merge_views(session, boss, [survivor_id, other_id], company_book=BOOK)
    draft = duplicates.default_draft(views)
    assert [e.value for e in draft.emails] == ["anna@example.com", "a.berger@work.example"]
    assert draft.note == "a much longer note about Anna"
    book = book_id(session)
    revision = repository.current_revision(session, book)
    duplicates.merge(
        session,
        user=boss,
        survivor_id=survivor_id,
        other_ids=[other_id],
        draft=draft,
        etags={v.id: v.etag for v in views},
    )
    merged = service.get_contact(session, boss, survivor_id)
    body = repository.item_body(session, book, merged.href)
    assert body is not None
    assert "X-UNKNOWN-THING:keep me" in body
    assert "item1.URL:https://anna.example\r\nitem1.X-ABLabel:Blog" in body
    assert "PRODID:-//Apple Inc.//iPhone OS 17//EN" in body
    assert {e.value for e in merged.draft.emails} == {"anna@example.com", "a.berger@work.example"}
    assert merged.draft.phones[0].value == "+43 1 234567"
    assert merged.draft.addresses[0].locality == "Wien"
    assert merged.draft.tags == ("vip",)
    assert session.scalar(select(Contact.id).where(Contact.id == other_id)) is None
    assert [
        n.text
        for n in session.scalars(select(ContactNote).where(ContactNote.contact_id == survivor_id))
    ] == ["called on Monday"]
    assert session.scalar(select(ConsentRecord.contact_id)) == survivor_id
    kinds = session.scalars(
        select(ContactEvent.kind).where(ContactEvent.contact_id == survivor_id)
    ).all()
    assert "merged" in kinds
    assert duplicates.resolve_uid(session, other.uid) == merged.uid
    assert duplicates.resolve_uid(session, "older-uid") == merged.uid  # chains follow
    # The change log: one card updated, the other deleted, nothing else.
    changes = session.execute(
        select(DavChange.href, DavChange.deleted)
        .where(DavChange.collection_id == book, DavChange.revision > revision)
        .order_by(DavChange.revision)
    ).all()
    assert changes == [(merged.href, False), (other.href, True)]

    # Merging companies moves their persons to the survivor.
    company_views = duplicates.merge_views(
        session, boss, [company_id, company_twin_id], company_book=BOOK
    )
    result = duplicates.merge(
        session,
        user=boss,
        survivor_id=company_id,
        other_ids=[company_twin_id],
        draft=duplicates.default_draft(company_views),
        etags={v.id: v.etag for v in company_views},
    )
    assert result.relinked_persons == 1
    company = service.get_contact(session, boss, company_id)
    assert service.get_contact(session, boss, colleague_id).draft.company_uid == company.uid


def test_merging_needs_the_delete_permission_and_one_book(session: Session, boss: User) -> None:
    plain = accounts.create_user(session, "plain", "plain-password-1")
    a = add(session, boss, family_name="Eins")
    b = add(session, boss, family_name="Zwei")
    with pytest.raises(PermissionDeniedError):
        duplicates.merge_views(session, plain, [a, b], company_book=BOOK)
