"""kmdav.contacts.service on a rolled-back session: the write path, conflicts, access."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import service as accounts
from kmdav.contacts import crm, fields, service
from kmdav.contacts.cards import ContactDraft
from kmdav.dav import provisioning, repository
from kmdav.dav import service as dav
from kmdav.dav.vcard import LabeledValue
from kmdav.errors import PermissionDeniedError, ValidationError
from kmdav.models import Contact, CustomFieldValue, DavItem, User

BOOK = "company/contacts"
ADMIN = audit.Actor(name="admin", source="test")


def _user(session: Session, name: str, *, admin: bool = False) -> User:
    user = accounts.create_user(session, name, f"{name}-password-1")
    user.is_admin = admin
    session.flush()
    return user


@pytest.fixture
def alice(session: Session) -> User:
    provisioning.ensure_company_addressbook(session, BOOK)
    return _user(session, "alice")


def _body(session: Session, contact_id: int) -> str:
    contact = session.get(Contact, contact_id)
    assert contact is not None
    book = repository.collection_by_id(session, contact.collection_id)
    assert book is not None
    item = session.execute(select(DavItem.href).where(DavItem.id == contact.item_id)).scalar_one()
    body = repository.item_body(session, book.id, item)
    assert body is not None
    return body


def test_create_update_conflict_and_revision(session: Session, alice: User) -> None:
    fields.create_field(session, ADMIN, key="knr", label="Kundennummer", field_type="number")
    book = repository.get_collection(session, BOOK)
    assert book is not None
    before = repository.current_revision(session, book.id)
    contact_id = service.create_contact(
        session,
        actor=alice,
        draft=ContactDraft(
            given_name="Anna",
            family_name="Huber",
            emails=(LabeledValue("anna@example.com", "work"),),
            custom={"KNR": "12 345"},
        ),
    )
    assert repository.current_revision(session, book.id) == before + 1
    view = service.get_contact(session, alice, contact_id)
    assert view.draft.custom == {"KNR": "12345"}
    assert view.owner_name == "alice"
    assert "X-KMDAV-KNR:12345" in _body(session, contact_id)
    assert "Kundennummer: 12345" in _body(session, contact_id)
    service.update_contact(
        session,
        actor=alice,
        contact_id=contact_id,
        draft=ContactDraft(**{**view.draft.__dict__, "family_name": "Maier"}),
        etag=view.etag,
    )
    assert repository.current_revision(session, book.id) == before + 2
    with pytest.raises(service.ContactConflictError) as caught:
        service.update_contact(
            session, actor=alice, contact_id=contact_id, draft=view.draft, etag=view.etag
        )
    assert caught.value.current.family_name == "Maier"
    assert [e.kind for e in crm.events(session, contact_id)] == ["updated", "created"]
    assert service.find_matches(session, email="ANNA@example.com") == [contact_id]
    assert service.find_matches(session, name="Anna  Maier") == [contact_id]


def test_validation_and_delete_permission(session: Session, alice: User) -> None:
    with pytest.raises(ValidationError):
        service.create_contact(session, actor=alice, draft=ContactDraft())
    with pytest.raises(ValidationError):
        service.create_contact(
            session,
            actor=alice,
            draft=ContactDraft(given_name="X", emails=(LabeledValue("not-mail"),)),
        )
    contact_id = service.create_contact(session, actor=alice, draft=ContactDraft(given_name="X"))
    with pytest.raises(PermissionDeniedError):
        service.delete_contact(session, actor=alice, contact_id=contact_id)
    admin = _user(session, "root", admin=True)
    service.delete_contact(session, actor=admin, contact_id=contact_id)
    assert session.get(Contact, contact_id) is None


def test_invalid_value_from_a_phone_is_kept_and_flagged(session: Session, alice: User) -> None:
    fields.create_field(session, ADMIN, key="SINCE", label="Kunde seit", field_type="date")
    book = repository.get_collection(session, BOOK)
    assert book is not None
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p1\r\nFN:Ben\r\nN:;Ben;;;\r\n"
        "X-KMDAV-SINCE:next tuesday\r\nEND:VCARD\r\n"
    )
    dav.store_item(session, book, "p1.vcf", dav.DavObject(card, "p1", "VCARD", 0, 0))
    contact_id = session.scalar(select(Contact.id).where(Contact.formatted_name == "Ben"))
    assert contact_id is not None
    valid = session.scalar(
        select(CustomFieldValue.valid).where(CustomFieldValue.contact_id == contact_id)
    )
    assert valid is False
    view = service.get_contact(session, alice, contact_id)
    assert view.invalid == {"SINCE": "next tuesday"}
    # Saving the form unchanged keeps the phone's value as written.
    service.update_contact(
        session,
        actor=alice,
        contact_id=contact_id,
        draft=ContactDraft(**{**view.draft.__dict__, "title": "Boss"}),
        etag=view.etag,
    )
    assert "X-KMDAV-SINCE:next tuesday" in _body(session, contact_id)


def test_own_field_changes_from_web_and_phone_reach_the_projection(
    session: Session, alice: User
) -> None:
    fields.create_field(session, ADMIN, key="KNR", label="Kundennummer", field_type="number")
    contact_id = service.create_contact(
        session, actor=alice, draft=ContactDraft(given_name="Al", custom={"KNR": "1"})
    )
    view = service.get_contact(session, alice, contact_id)
    service.update_contact(
        session,
        actor=alice,
        contact_id=contact_id,
        draft=ContactDraft(**{**view.draft.__dict__, "custom": {"KNR": "2"}}),
        etag=view.etag,
    )
    assert service.stored_values(session, contact_id)[0] == {"KNR": "2"}
    body = _body(session, contact_id)
    book = repository.get_collection(session, BOOK)
    assert book is not None
    view = service.get_contact(session, alice, contact_id)
    phone = body.replace("Kundennummer: 2", "Kundennummer: 3")
    dav.store_item(session, book, view.href, dav.DavObject(phone, view.uid, "VCARD", 0, 0))
    assert service.stored_values(session, contact_id)[0] == {"KNR": "3"}


def test_groups_are_not_edited_here(session: Session, alice: User) -> None:
    book = repository.get_collection(session, BOOK)
    assert book is not None
    card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g1\r\nKIND:group\r\nFN:Board\r\nEND:VCARD\r\n"
    dav.store_item(session, book, "g1.vcf", dav.DavObject(card, "g1", "VCARD", 0, 0))
    contact_id = session.scalar(select(Contact.id).where(Contact.formatted_name == "Board"))
    assert contact_id is not None
    view = service.get_contact(session, alice, contact_id)
    with pytest.raises(ValidationError):
        service.update_contact(
            session, actor=alice, contact_id=contact_id, draft=view.draft, etag=view.etag
        )
