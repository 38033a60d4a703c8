"""Keeps the CRM tables in step with stored DAV bodies (same transaction).

The projection never rejects an object: a card or event the mapping cannot
read fully still gets its row with what could be read, and the stored body
stays the authority.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import vobject
from sqlalchemy import Connection, delete, insert, select, update
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
    utcnow,
)

if TYPE_CHECKING:
    from kmdav.dav.service import DavObject

logger = logging.getLogger(__name__)


def project(
    session: Session, collection: DavCollection, item_id: int, obj: DavObject, *, new: bool
) -> None:
    """Rebuild the projection rows of ``row``; ``new`` says no rows exist yet.

    Written with set-based statements (this runs on every PUT); ORM objects of
    these tables loaded earlier in the same session are not refreshed.
    """
    parsed = obj.parsed
    try:
        if parsed is None:
            parsed = vobject.readOne(obj.text)
        if collection.tag == "VADDRESSBOOK":
            _project_card(session.connection(), collection, item_id, vcard.card_fields(parsed), new)
        elif collection.tag == "VCALENDAR":
            fields = ical.calendar_fields(parsed, obj.component, (obj.dtstart, obj.dtend))
            _project_calendar(session.connection(), collection, item_id, obj.uid, fields, new)
    except Exception:  # the stored body stays authoritative; log and move on
        logger.warning("could not project item %s of %s", item_id, collection.path, exc_info=True)


def _project_card(
    connection: Connection,
    collection: DavCollection,
    item_id: int,
    fields: vcard.CardFields,
    new: bool,
) -> None:
    values = {
        "collection_id": collection.id,
        "kind": fields.kind,
        "formatted_name": fields.formatted_name[:500],
        "given_name": fields.given_name[:200],
        "family_name": fields.family_name[:200],
        "organization": fields.organization[:500],
        "title": fields.title[:200],
        "birthday": fields.birthday[:40],
        "categories": ",".join(fields.categories),
        "note": fields.note,
        "has_photo": fields.has_photo,
        "members": list(fields.members),
        "updated_at": utcnow(),
    }
    contact_id = (
        None if new else connection.scalar(select(Contact.id).where(Contact.item_id == item_id))
    )
    if contact_id is None:
        contact_id = connection.execute(
            insert(Contact).values(item_id=item_id, **values).returning(Contact.id)
        ).scalar_one()
    else:
        connection.execute(update(Contact).where(Contact.id == contact_id).values(**values))
        for model in (ContactEmail, ContactPhone, ContactAddress, CustomFieldValue):
            connection.execute(delete(model).where(model.contact_id == contact_id))
    lists: tuple[tuple[type[Any], list[dict[str, Any]]], ...] = (
        (ContactEmail, [{"value": e.value[:320], "label": e.label[:100]} for e in fields.emails]),
        (ContactPhone, [{"value": p.value[:100], "label": p.label[:100]} for p in fields.phones]),
        (ContactAddress, [asdict(a) for a in fields.addresses]),
    )
    for model, rows in lists:
        if rows:
            connection.execute(
                insert(model),
                [{"contact_id": contact_id, "position": i, **row} for i, row in enumerate(rows)],
            )
    if fields.custom:
        definitions = connection.execute(
            select(CustomFieldDefinition.id, CustomFieldDefinition.key).where(
                CustomFieldDefinition.key.in_(list(fields.custom))
            )
        ).all()
        rows = [
            {
                "contact_id": contact_id,
                "field_id": field_id,
                "value": fields.custom[key],
                "valid": True,
            }
            for field_id, key in definitions
        ]
        if rows:
            connection.execute(insert(CustomFieldValue), rows)


def _project_calendar(
    connection: Connection,
    collection: DavCollection,
    item_id: int,
    uid: str,
    fields: ical.CalendarFields,
    new: bool,
) -> None:
    values = asdict(fields)
    values["attendees"] = [asdict(a) for a in fields.attendees]
    values["related_to"] = list(fields.related_to)
    values["categories"] = ",".join(fields.categories)
    values["collection_id"] = collection.id
    values["uid"] = uid
    existing = (
        None
        if new
        else connection.scalar(select(CalendarObject.id).where(CalendarObject.item_id == item_id))
    )
    if existing is None:
        connection.execute(insert(CalendarObject).values(item_id=item_id, **values))
    else:
        connection.execute(
            update(CalendarObject).where(CalendarObject.id == existing).values(**values)
        )
