"""CRM data kept beside the card: owner, notes, the activity timeline, and
the consent given through website forms (read here, written by
:mod:`kmdav.forms`).

None of it travels to phones.  Other modules append timeline entries with
:func:`add_event` (a kind of their own, a text and a reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.contacts.words import index_text
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import (
    ConsentRecord,
    ConsentText,
    Contact,
    ContactEvent,
    ContactForm,
    ContactNote,
    User,
    utcnow,
)

MAX_NOTE = 20_000


@dataclass(frozen=True)
class Note:
    id: int
    author: str
    created_at: datetime
    text: str


@dataclass(frozen=True)
class Event:
    kind: str
    at: datetime
    actor: str
    text: str
    ref: str


def add_event(
    session: Session,
    contact_id: int,
    kind: str,
    *,
    text: str = "",
    ref: str = "",
    actor: User | None = None,
    actor_name: str = "",
    at: datetime | None = None,
) -> None:
    """Append one timeline entry (``kind`` up to 40 characters)."""
    session.add(
        ContactEvent(
            contact_id=contact_id,
            kind=kind[:40],
            at=at or utcnow(),
            actor_id=actor.id if actor is not None else None,
            actor_name=actor.username if actor is not None else actor_name,
            text=text,
            ref=ref[:255],
        )
    )
    session.flush()


def events(session: Session, contact_id: int, limit: int = 100) -> list[Event]:
    rows = session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id)
        .order_by(ContactEvent.at.desc(), ContactEvent.id.desc())
        .limit(limit)
    )
    return [Event(r.kind, r.at, r.actor_name, r.text, r.ref) for r in rows]


def notes(session: Session, contact_id: int) -> list[Note]:
    rows = session.scalars(
        select(ContactNote)
        .where(ContactNote.contact_id == contact_id)
        .order_by(ContactNote.created_at.desc(), ContactNote.id.desc())
    )
    return [Note(r.id, r.author_name, r.created_at, r.text) for r in rows]


def _refresh_notes_text(session: Session, contact_id: int) -> None:
    texts = session.scalars(select(ContactNote.text).where(ContactNote.contact_id == contact_id))
    session.execute(
        update(Contact).where(Contact.id == contact_id).values(notes_text=index_text(*texts))
    )


def add_note(session: Session, actor: audit.Actor, user: User, contact_id: int, text: str) -> int:
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise ValidationError("a note is 1 to 20,000 characters", field="note")
    if session.get(Contact, contact_id) is None:
        raise NotFoundError("there is no contact %(id)s", id=contact_id)
    note = ContactNote(
        contact_id=contact_id, author_id=user.id, author_name=user.username, text=text
    )
    session.add(note)
    session.flush()
    _refresh_notes_text(session, contact_id)
    add_event(session, contact_id, "note", text=text[:200], actor=user)
    audit.record(session, actor, "contact.note", "contact", str(contact_id), {"note": note.id})
    return note.id


def set_owner(session: Session, actor: audit.Actor, contact_id: int, owner_id: int | None) -> None:
    if owner_id is not None and session.get(User, owner_id) is None:
        raise ValidationError("there is no user %(id)s", field="owner", id=owner_id)
    session.execute(update(Contact).where(Contact.id == contact_id).values(owner_id=owner_id))
    audit.record(session, actor, "contact.owner", "contact", str(contact_id), {"owner": owner_id})


@dataclass(frozen=True)
class Consent:
    """One consent a contact gave through a website form: the exact text
    version shown, when, and from which page (GDPR art. 7(1): the controller
    must be able to show what the person consented to)."""

    form_id: int
    form_name: str
    version: int
    consent_text: str
    privacy_url: str
    given_at: datetime
    page_url: str


def consents(session: Session, contact_id: int) -> list[Consent]:
    rows = session.execute(
        select(
            ContactForm.id,
            ContactForm.name,
            ConsentText.version,
            ConsentText.consent_text,
            ConsentText.privacy_url,
            ConsentRecord.given_at,
            ConsentRecord.page_url,
        )
        .join(ConsentText, ConsentText.id == ConsentRecord.consent_text_id)
        .join(ContactForm, ContactForm.id == ConsentRecord.form_id)
        .where(ConsentRecord.contact_id == contact_id)
        .order_by(ConsentRecord.given_at.desc(), ConsentRecord.id.desc())
    )
    return [Consent(*row) for row in rows]
