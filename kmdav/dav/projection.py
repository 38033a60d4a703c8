"""Keeps the CRM tables in step with stored DAV bodies (same transaction).

The projection never rejects an object: a card or event the mapping cannot
read fully still gets its row with what could be read, and the stored body
stays the authority.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING

import vobject
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kmdav.dav import ical, vcard
from kmdav.models import (
    CalendarObject,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    CustomFieldDefinition,
    CustomFieldValue,
    DavCollection,
    DavItem,
    utcnow,
)

if TYPE_CHECKING:
    from kmdav.dav.service import DavObject

logger = logging.getLogger(__name__)


def project(session: Session, collection: DavCollection, row: DavItem, obj: DavObject) -> None:
    parsed = obj.parsed
    try:
        if parsed is None:
            parsed = vobject.readOne(obj.text)
        if collection.tag == "VADDRESSBOOK":
            _project_card(session, collection, row, vcard.card_fields(parsed))
        elif collection.tag == "VCALENDAR":
            fields = ical.calendar_fields(parsed, obj.component, (obj.dtstart, obj.dtend))
            _project_calendar(session, collection, row, fields)
    except Exception:  # the stored body stays authoritative; log and move on
        logger.warning("could not project %s/%s", collection.path, row.href, exc_info=True)


def _project_card(
    session: Session, collection: DavCollection, row: DavItem, fields: vcard.CardFields
) -> None:
    contact = session.scalars(select(Contact).where(Contact.item_id == row.id)).one_or_none()
    if contact is None:
        contact = Contact(item_id=row.id, collection_id=collection.id)
        session.add(contact)
    contact.collection_id = collection.id
    contact.kind = fields.kind
    contact.formatted_name = fields.formatted_name[:500]
    contact.given_name = fields.given_name[:200]
    contact.family_name = fields.family_name[:200]
    contact.organization = fields.organization[:500]
    contact.title = fields.title[:200]
    contact.birthday = fields.birthday[:40]
    contact.categories = ",".join(fields.categories)
    contact.note = fields.note
    contact.has_photo = fields.has_photo
    contact.members = list(fields.members)
    contact.updated_at = utcnow()
    session.flush()
    for model in (ContactEmail, ContactPhone, ContactAddress, CustomFieldValue):
        session.execute(delete(model).where(model.contact_id == contact.id))
    session.add_all(
        ContactEmail(contact_id=contact.id, position=i, value=e.value[:320], label=e.label[:100])
        for i, e in enumerate(fields.emails)
    )
    session.add_all(
        ContactPhone(contact_id=contact.id, position=i, value=p.value[:100], label=p.label[:100])
        for i, p in enumerate(fields.phones)
    )
    session.add_all(
        ContactAddress(contact_id=contact.id, position=i, **asdict(a))
        for i, a in enumerate(fields.addresses)
    )
    if fields.custom:
        definitions = session.scalars(
            select(CustomFieldDefinition).where(CustomFieldDefinition.key.in_(list(fields.custom)))
        )
        session.add_all(
            CustomFieldValue(
                contact_id=contact.id, field_id=d.id, value=fields.custom[d.key], valid=True
            )
            for d in definitions
        )
    session.flush()


def _project_calendar(
    session: Session, collection: DavCollection, row: DavItem, fields: ical.CalendarFields
) -> None:
    obj = session.scalars(
        select(CalendarObject).where(CalendarObject.item_id == row.id)
    ).one_or_none()
    if obj is None:
        obj = CalendarObject(item_id=row.id, collection_id=collection.id)
        session.add(obj)
    values = asdict(fields)
    values["attendees"] = [asdict(a) for a in fields.attendees]
    values["related_to"] = list(fields.related_to)
    values["categories"] = ",".join(fields.categories)
    for key, value in values.items():
        setattr(obj, key, value)
    obj.collection_id = collection.id
    obj.uid = row.uid
    session.flush()
