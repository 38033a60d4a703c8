"""Contacts: create, change, delete and read, through the one DAV write path.

Every write builds or patches the card (:mod:`kmdav.contacts.cards`) and
hands it to :func:`kmdav.dav.service.store_item` / ``delete_item``, so the
collection's revision moves, the change log grows, the projection follows
and phones see the change at their next sync.

Validation here is the web's: at least a name, e-mail and phone syntax, own
fields normalised, required own fields filled.  A phone's card is never
rejected: it is stored as sent and the projection flags what it cannot use
(an invalid own-field value stays in the card, flagged in the UI).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.contacts import access, crm, fields
from kmdav.contacts.cards import COMPANY, PERSON, ContactDraft, build_card, patch_card, read_draft
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.dav import provisioning
from kmdav.dav import service as dav
from kmdav.dav.vcard import LabeledValue
from kmdav.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from kmdav.i18n import N_
from kmdav.models import (
    Contact,
    ContactEmail,
    CustomFieldDefinition,
    CustomFieldValue,
    DavCollection,
    DavItem,
    User,
)

__all__ = [
    "ContactConflictError",
    "ContactView",
    "create_contact",
    "delete_contact",
    "find_matches",
    "get_contact",
    "update_contact",
    "validate_draft",
]

_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
_PHONE_EXTRA = re.compile(r"^(tel:)?\+?[0-9 ()./\-]{3,40}((;|x|ext\.?)\s*[0-9]{1,8})?$", re.I)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_TEXT = 500


class ContactConflictError(ConflictError):
    """The contact changed since the form was rendered (a stale ETag)."""

    def __init__(self, current: ContactDraft, etag: str, invalid: dict[str, str]) -> None:
        super().__init__("the contact was changed meanwhile")
        self.current = current
        self.etag = etag
        self.invalid = invalid


@dataclass(frozen=True)
class ContactView:
    """One contact as the web shows it."""

    id: int
    collection_id: int
    href: str
    uid: str
    etag: str
    draft: ContactDraft
    #: Own-field values that do not fit their field, as written.
    invalid: dict[str, str]
    projection: Contact
    owner_id: int | None
    owner_name: str
    writable: bool
    #: (id, name) of the person's company, when its card is visible.
    company: tuple[int, str] | None
    #: (id, name) of a company's persons.
    persons: list[tuple[int, str]]
    notes: list[crm.Note]
    events: list[crm.Event]
    #: What the person consented to through website forms, newest first.
    consents: list[crm.Consent]


def _actor(user: User, via: audit.Actor | None) -> audit.Actor:
    return via or audit.Actor(name=user.username, source="web", user_id=user.id)


# -- validation ---------------------------------------------------------------


def validate_draft(
    draft: ContactDraft,
    defs: Sequence[FieldDef],
    *,
    require_fields: bool = True,
    keep_invalid: dict[str, str] | None = None,
) -> ContactDraft:
    """The draft cleaned up, or ValidationError naming the field.

    ``keep_invalid``: own-field values that came from a phone and are kept as
    written when the form sends them back unchanged.
    """
    if draft.kind not in (PERSON, COMPANY):
        raise ValidationError("a contact is a person or a company", field="kind")
    given, family, company = (
        draft.given_name.strip(),
        draft.family_name.strip(),
        draft.company.strip(),
    )
    if draft.kind == PERSON and not (given or family):
        raise ValidationError("a person needs a given or a family name", field="given_name")
    if draft.kind == COMPANY and not company:
        raise ValidationError("a company needs its name", field="company")
    for name, value in (
        ("given_name", given),
        ("family_name", family),
        ("company", company),
        ("title", draft.title),
    ):
        if len(value) > MAX_TEXT or "\n" in value or "\r" in value:
            raise ValidationError("this field takes one line of text", field=name)
    emails = tuple(_clean(draft.emails, _EMAIL, "emails", N_("%(value)r is not an e-mail address")))
    phones = tuple(
        _clean(draft.phones, _PHONE_EXTRA, "phones", N_("%(value)r is not a phone number"))
    )
    birthday = draft.birthday.strip()
    if birthday and not _ISO_DATE.match(birthday):
        raise ValidationError(
            "%(value)r is not a date (YYYY-MM-DD)", field="birthday", value=birthday
        )
    if birthday:
        fields.normalise(FieldDef("BIRTHDAY", "Birthday", "date"), birthday)
    custom: dict[str, str] = {}
    kept = keep_invalid or {}
    for field_def in defs:
        raw = draft.custom.get(field_def.key, "")
        if kept.get(field_def.key) is not None and raw == kept[field_def.key]:
            custom[field_def.key] = raw
            continue
        value = fields.normalise(field_def, raw) if field_def.applies(draft.kind) else ""
        missing = not value or (field_def.field_type == "checkbox" and value == "0")
        if require_fields and field_def.required and field_def.applies(draft.kind) and missing:
            raise ValidationError(
                "%(label)s is required", field=field_def.key, label=field_def.label
            )
        if value:
            custom[field_def.key] = value
    tags = tuple(dict.fromkeys(t.strip() for t in draft.tags if t.strip()))
    return replace(
        draft,
        given_name=given,
        family_name=family,
        company=company,
        title=draft.title.strip(),
        emails=emails,
        phones=phones,
        birthday=birthday,
        note=draft.note.replace("\r\n", "\n").strip(),
        tags=tags,
        custom=custom,
        company_uid=draft.company_uid.strip() if draft.kind == PERSON else "",
    )


def _clean(
    values: Sequence[LabeledValue], pattern: re.Pattern[str], field: str, message: str
) -> list[LabeledValue]:
    result: list[LabeledValue] = []
    for entry in values:
        value, label = entry.value.strip(), entry.label.strip()
        if not value:
            continue
        if not pattern.match(value):
            raise ValidationError(message, field=field, value=value)
        if len(label) > 100 or any(c in label for c in "\r\n"):
            raise ValidationError("a label takes one short line", field=field)
        result.append(LabeledValue(value, label.lower() if label.isascii() else label))
    return result


# -- reading ------------------------------------------------------------------


def _located(session: Session, contact_id: int) -> tuple[Contact, DavItem, DavCollection]:
    row = session.execute(
        select(Contact, DavItem, DavCollection)
        .join(DavItem, DavItem.id == Contact.item_id)
        .join(DavCollection, DavCollection.id == Contact.collection_id)
        .where(Contact.id == contact_id)
    ).first()
    if row is None:
        raise NotFoundError("there is no contact %(id)s", id=contact_id)
    return row[0], row[1], row[2]


def _visible(
    session: Session, user: User, contact_id: int, company_book: str
) -> tuple[Contact, DavItem, DavCollection, bool]:
    contact, item, collection = _located(session, contact_id)
    books = access.books(session, user, company_book)
    if collection.id not in books:
        raise NotFoundError("there is no contact %(id)s", id=contact_id)
    return contact, item, collection, books[collection.id]


def stored_values(session: Session, contact_id: int) -> tuple[dict[str, str], dict[str, str]]:
    """The own-field values the projection resolved for a contact, by key,
    and those of them that do not fit their field."""
    values: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for key, value, valid in session.execute(
        select(CustomFieldDefinition.key, CustomFieldValue.value, CustomFieldValue.valid)
        .join(CustomFieldValue, CustomFieldValue.field_id == CustomFieldDefinition.id)
        .where(CustomFieldValue.contact_id == contact_id)
    ):
        values[key] = value
        if not valid:
            invalid[key] = value
    return values, invalid


def _draft_of(
    session: Session, contact_id: int, body: str, defs: Sequence[FieldDef]
) -> tuple[ContactDraft, dict[str, str]]:
    """The card as the CRM sees it: its own fields as the projection resolved
    them when the card was stored (which of the two forms changed is only
    known at that moment, against the values before)."""
    draft, _ = read_draft(body, fields=defs)
    values, invalid = stored_values(session, contact_id)
    return replace(draft, custom=values), invalid


def get_contact(
    session: Session,
    viewer: User,
    contact_id: int,
    *,
    company_book: str = access.DEFAULT_COMPANY_BOOK,
) -> ContactView:
    contact, item, _, writable = _visible(session, viewer, contact_id, company_book)
    defs = fields.definitions(session)
    draft, invalid = _draft_of(session, contact_id, item.body, defs)
    books = list(access.books(session, viewer, company_book))
    company = None
    if draft.company_uid:
        found = session.execute(
            select(Contact.id, Contact.organization, Contact.formatted_name)
            .join(DavItem, DavItem.id == Contact.item_id)
            .where(DavItem.uid == draft.company_uid, Contact.collection_id.in_(books))
            .limit(1)
        ).first()
        if found is not None:
            company = (found[0], found[1] or found[2])
    persons: list[tuple[int, str]] = []
    if draft.kind == COMPANY:
        persons = [
            (row[0], row[1])
            for row in session.execute(
                select(Contact.id, Contact.formatted_name)
                .where(Contact.company_uid == item.uid, Contact.collection_id.in_(books))
                .order_by(Contact.family_name, Contact.given_name)
            )
        ]
    owner_name = ""
    if contact.owner_id is not None:
        owner_name = session.scalar(select(User.username).where(User.id == contact.owner_id)) or ""
    return ContactView(
        id=contact.id,
        collection_id=contact.collection_id,
        href=item.href,
        uid=item.uid,
        etag=item.etag,
        draft=draft,
        invalid=invalid,
        projection=contact,
        owner_id=contact.owner_id,
        owner_name=owner_name,
        writable=writable,
        company=company,
        persons=persons,
        notes=crm.notes(session, contact_id),
        events=crm.events(session, contact_id),
        consents=crm.consents(session, contact_id),
    )


def find_matches(
    session: Session,
    *,
    email: str = "",
    name: str = "",
    company: str = "",
    collection_ids: Sequence[int] | None = None,
) -> list[int]:
    """Contacts that look like the same one: the same e-mail address (any
    case), or the same full name (and the same company when one is given)."""
    found: list[int] = []
    if email.strip():
        query = (
            select(ContactEmail.contact_id)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(func.lower(ContactEmail.value) == email.strip().lower())
        )
        if collection_ids is not None:
            query = query.where(Contact.collection_id.in_(collection_ids))
        found.extend(session.scalars(query.distinct()))
    if name.strip():
        wanted = " ".join(name.split()).lower()
        query = select(Contact.id).where(func.lower(Contact.formatted_name) == wanted)
        if company.strip():
            query = query.where(func.lower(Contact.organization) == company.strip().lower())
        if collection_ids is not None:
            query = query.where(Contact.collection_id.in_(collection_ids))
        found.extend(i for i in session.scalars(query) if i not in found)
    return sorted(set(found))


# -- writing ------------------------------------------------------------------


def _contact_of_item(session: Session, item_id: int) -> int:
    contact_id = session.scalar(select(Contact.id).where(Contact.item_id == item_id))
    if contact_id is None:  # the projection logs and skips what it cannot read
        raise ValidationError("the card could not be stored as a contact")
    return contact_id


def create_contact(
    session: Session,
    *,
    actor: User,
    draft: ContactDraft,
    collection_id: int | None = None,
    owner_id: int | None = None,
    company_book: str = access.DEFAULT_COMPANY_BOOK,
    via: audit.Actor | None = None,
    require_fields: bool = True,
    event_text: str = "",
    defs: Sequence[FieldDef] | None = None,
) -> int:
    """Store a new contact; returns its id.  Default book: the company's.

    ``defs``: the own-field definitions when the caller has them (an import
    storing many contacts reads them once); ``event_text`` goes into the
    timeline's "created" entry (e.g. "imported from contacts.csv").
    """
    access.require(session, actor, "create")
    if collection_id is None:
        collection = provisioning.ensure_company_addressbook(session, company_book)
    else:
        found = session.get(DavCollection, collection_id)
        if found is None or found.tag != "VADDRESSBOOK":
            raise ValidationError("there is no such address book", field="collection")
        collection = found
    if not access.books(session, actor, company_book).get(collection.id, False):
        raise PermissionDeniedError("you may not write to this address book")
    defs = fields.definitions(session) if defs is None else defs
    clean = validate_draft(draft, defs, require_fields=require_fields)
    uid = str(uuid.uuid4())
    text = build_card(clean, uid=uid, fields=defs)
    stored, _ = dav.store_item(
        session, collection, f"{uid}.vcf", dav.DavObject(text, uid, "VCARD", 0, 0)
    )
    item_id = session.scalar(
        select(DavItem.id).where(
            DavItem.collection_id == collection.id, DavItem.href == stored.href
        )
    )
    assert item_id is not None
    contact_id = _contact_of_item(session, item_id)
    session.execute(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(owner_id=owner_id if owner_id is not None else actor.id)
    )
    crm.add_event(session, contact_id, "created", text=event_text, actor=actor)
    audit.record(
        session,
        _actor(actor, via),
        "contact.create",
        "contact",
        str(contact_id),
        {"name": clean.display_name, "collection": collection.path},
    )
    return contact_id


def update_contact(
    session: Session,
    *,
    actor: User,
    contact_id: int,
    draft: ContactDraft,
    etag: str,
    company_book: str = access.DEFAULT_COMPANY_BOOK,
    via: audit.Actor | None = None,
    require_fields: bool = True,
    defs: Sequence[FieldDef] | None = None,
) -> None:
    """Patch the stored card with ``draft``; ``etag`` is what the form was
    rendered from.  A stale ETag raises :class:`ContactConflictError`."""
    access.require(session, actor, "edit")
    contact, item, collection, writable = _visible(session, actor, contact_id, company_book)
    if contact.kind not in ("individual", "org"):
        # A contact group (KIND:group, X-ADDRESSBOOKSERVER-KIND:group) is edited on devices.
        raise ValidationError("a contact group is edited on the devices, not here")
    defs = fields.definitions(session) if defs is None else defs
    current, invalid = _draft_of(session, contact_id, item.body, defs)
    if etag != item.etag:
        raise ContactConflictError(current, item.etag, invalid)
    if not writable:
        raise PermissionDeniedError("you may not write to this address book")
    clean = validate_draft(draft, defs, require_fields=require_fields, keep_invalid=invalid)
    text = patch_card(item.body, clean, fields=defs)
    if text == item.body:
        return
    dav.store_item(
        session, collection, item.href, dav.DavObject(text, item.uid, item.component, 0, 0)
    )
    crm.add_event(session, contact_id, "updated", actor=actor)
    audit.record(
        session,
        _actor(actor, via),
        "contact.update",
        "contact",
        str(contact_id),
        {"name": clean.display_name},
    )


def delete_contact(
    session: Session,
    *,
    actor: User,
    contact_id: int,
    etag: str | None = None,
    company_book: str = access.DEFAULT_COMPANY_BOOK,
    via: audit.Actor | None = None,
) -> None:
    access.require(session, actor, "delete")
    contact, item, collection, writable = _visible(session, actor, contact_id, company_book)
    if etag is not None and etag != item.etag:
        defs = fields.definitions(session)
        current, invalid = _draft_of(session, contact_id, item.body, defs)
        raise ContactConflictError(current, item.etag, invalid)
    if not writable:
        raise PermissionDeniedError("you may not write to this address book")
    name = contact.formatted_name
    dav.delete_item(session, collection, item.href)
    audit.record(
        session, _actor(actor, via), "contact.delete", "contact", str(contact_id), {"name": name}
    )
