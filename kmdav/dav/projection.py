"""Keeps the CRM tables in step with stored DAV bodies (same transaction).

The projection never rejects an object: a card or event the mapping cannot
read fully still gets its row with what could be read, and the stored body
stays the authority.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any

import vobject
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from kmdav.contacts import cards
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.contacts.words import index_text
from kmdav.dav import ical, vcard
from kmdav.dav.context import state
from kmdav.dav.items import CollectionRef
from kmdav.fastsql import Prepared, PreparedWrite
from kmdav.models import (
    CalendarObject,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactEvent,
    ContactPhone,
    CustomFieldDefinition,
    CustomFieldValue,
    utcnow,
)

if TYPE_CHECKING:
    from kmdav.dav.service import DavObject

logger = logging.getLogger(__name__)

# Built once: this runs on every PUT (see kmdav.dav.repository).
_CONTACT_OF_ITEM = select(Contact.id).where(Contact.item_id == bindparam("item"))
_INSERT_CONTACT = insert(Contact).returning(Contact.id)
_UPDATE_CONTACT = update(Contact).where(Contact.id == bindparam("contact_pk"))
_CONTACT_LISTS = (ContactEmail, ContactPhone, ContactAddress)
_OWN_LISTS = (*_CONTACT_LISTS, CustomFieldValue)
_CLEAR_LIST = {
    model: delete(model).where(model.contact_id == bindparam("contact")) for model in _OWN_LISTS
}
_INSERT_ROWS = {model: insert(model) for model in _OWN_LISTS}
_DEFINITIONS = select(
    CustomFieldDefinition.id,
    CustomFieldDefinition.key,
    CustomFieldDefinition.label,
    CustomFieldDefinition.field_type,
    CustomFieldDefinition.options,
)
_OWN_VALUES = (
    select(CustomFieldDefinition.key, CustomFieldValue.value)
    .join(CustomFieldValue, CustomFieldValue.field_id == CustomFieldDefinition.id)
    .where(CustomFieldValue.contact_id == bindparam("contact"))
)
_CONTACT_OF_ITEM_FAST = Prepared(_CONTACT_OF_ITEM)
_DEFINITIONS_FAST = Prepared(_DEFINITIONS)
_OWN_VALUES_FAST = Prepared(_OWN_VALUES)
COMPANY_UID_KEY = "COMPANY-UID"
_INSERT_EVENT = insert(ContactEvent)
_CALENDAR_OBJECT_OF_ITEM = select(CalendarObject.id).where(
    CalendarObject.item_id == bindparam("item")
)
_INSERT_CALENDAR_OBJECT = insert(CalendarObject)
_UPDATE_CALENDAR_OBJECT = update(CalendarObject).where(CalendarObject.id == bindparam("object_pk"))
_INSERT_CONTACT_FAST = PreparedWrite(_INSERT_CONTACT)
_UPDATE_CONTACT_FAST = PreparedWrite(_UPDATE_CONTACT)
_CLEAR_LIST_FAST = {model: PreparedWrite(statement) for model, statement in _CLEAR_LIST.items()}
_INSERT_ROWS_FAST = {model: PreparedWrite(statement) for model, statement in _INSERT_ROWS.items()}
_INSERT_EVENT_FAST = PreparedWrite(_INSERT_EVENT)
_CALENDAR_OBJECT_OF_ITEM_FAST = Prepared(_CALENDAR_OBJECT_OF_ITEM)
_INSERT_CALENDAR_OBJECT_FAST = PreparedWrite(_INSERT_CALENDAR_OBJECT)
_UPDATE_CALENDAR_OBJECT_FAST = PreparedWrite(_UPDATE_CALENDAR_OBJECT)


def project(
    session: Session, collection: CollectionRef, item_id: int, obj: DavObject, *, new: bool
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
            _project_card(
                session.connection(), collection, item_id, vcard.card_fields(parsed), new, obj.text
            )
        elif collection.tag == "VCALENDAR":
            fields = ical.calendar_fields(parsed, obj.component, (obj.dtstart, obj.dtend))
            _project_calendar(session.connection(), collection, item_id, obj.uid, fields, new)
    except Exception:  # the stored body stays authoritative; log and move on
        logger.warning("could not project item %s of %s", item_id, collection.path, exc_info=True)


@dataclass(frozen=True)
class KnownCard:
    """A new card whose CRM fields the caller read already (a batch import)."""

    item_id: int
    fields: vcard.CardFields
    text: str
    #: (field id, value, valid) of its own fields; None: read from ``text``.
    own: list[tuple[int, str, bool]] | None = None


_INSERT_NEW_CONTACTS = insert(Contact)
_CONTACTS_OF_ITEMS = select(Contact.item_id, Contact.id).where(
    Contact.item_id.in_(bindparam("items", expanding=True))
)


def project_new_cards(
    session: Session, collection: CollectionRef, known: Sequence[KnownCard]
) -> None:
    """The projection of several new cards in one statement per table (what
    :func:`project` does per card; see ``service.store_new_items``)."""
    if not known:
        return
    connection = session.connection()
    owns = [
        card.own if card.own is not None else own_field_values(connection, None, card.text)
        for card in known
    ]
    # Ids read back by item: RETURNING in parameter order would make
    # SQLAlchemy insert row by row on SQLite.
    connection.execute(
        _INSERT_NEW_CONTACTS,
        [
            {
                "item_id": card.item_id,
                **_contact_values(collection, card.fields),
                "search_text": search_text(card.fields, [v for _, v, _ in own]),
            }
            for card, own in zip(known, owns, strict=True)
        ],
    )
    item_ids = [card.item_id for card in known]
    by_item: dict[int, int] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        by_item.update(
            (int(item), int(contact))
            for item, contact in connection.execute(_CONTACTS_OF_ITEMS, {"items": chunk})
        )
    contact_ids = [by_item[item_id] for item_id in item_ids]
    rows: dict[type[Any], list[dict[str, Any]]] = {model: [] for model in _OWN_LISTS}
    for card, own, contact_id in zip(known, owns, contact_ids, strict=True):
        for model, values in _list_rows(card.fields):
            rows[model] += [
                {"contact_id": contact_id, "position": i, **row} for i, row in enumerate(values)
            ]
        rows[CustomFieldValue] += [
            {"contact_id": contact_id, "field_id": field_id, "value": value, "valid": valid}
            for field_id, value, valid in own
        ]
    for model, values in rows.items():
        if values:
            connection.execute(_INSERT_ROWS[model], values)


def _contact_values(collection: CollectionRef, fields: vcard.CardFields) -> dict[str, Any]:
    return {
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
        "company_uid": fields.custom.get(COMPANY_UID_KEY, "")[:255],
    }


def _list_rows(
    fields: vcard.CardFields,
) -> tuple[tuple[type[Any], list[dict[str, Any]]], ...]:
    return (
        (ContactEmail, [{"value": e.value[:320], "label": e.label[:100]} for e in fields.emails]),
        (ContactPhone, [{"value": p.value[:100], "label": p.label[:100]} for p in fields.phones]),
        (ContactAddress, [_address_row(a) for a in fields.addresses]),
    )


_ADDRESS_FIELDS = tuple(f.name for f in dataclass_fields(vcard.PostalAddress))


def _address_row(address: vcard.PostalAddress) -> dict[str, Any]:
    """``asdict`` without its deep copy (every field is a string)."""
    return {name: getattr(address, name) for name in _ADDRESS_FIELDS}


def _project_card(
    connection: Connection,
    collection: CollectionRef,
    item_id: int,
    fields: vcard.CardFields,
    new: bool,
    text: str,
) -> None:
    values = _contact_values(collection, fields)
    contact_id = None if new else _CONTACT_OF_ITEM_FAST.scalar(connection, {"item": item_id})
    existed = contact_id is not None
    # Own fields are read against the values held before, so before the write.
    own = own_field_values(connection, contact_id, text)
    values["search_text"] = search_text(fields, [value for _, value, _ in own])
    if contact_id is None:
        contact_id = _INSERT_CONTACT_FAST.execute(connection, {"item_id": item_id, **values})[0][0]
    else:
        _UPDATE_CONTACT_FAST.execute(connection, {"contact_pk": contact_id, **values})
        for model in _OWN_LISTS:
            _CLEAR_LIST_FAST[model].execute(connection, {"contact": contact_id})
    for model, rows in _list_rows(fields):
        if rows:
            _INSERT_ROWS_FAST[model].execute_many(
                connection,
                [{"contact_id": contact_id, "position": i, **row} for i, row in enumerate(rows)],
            )
    if state.in_request and state.method == "PUT":
        # A device wrote the card: the contact's timeline says so.
        _INSERT_EVENT_FAST.execute(
            connection,
            {
                "contact_id": contact_id,
                "kind": "device_update" if existed else "device_create",
                "at": utcnow(),
                "actor_name": state.user[:200],
                "text": "",
                "ref": "",
            },
        )
    if own:
        _INSERT_ROWS_FAST[CustomFieldValue].execute_many(
            connection,
            [
                {"contact_id": contact_id, "field_id": field_id, "value": value, "valid": valid}
                for field_id, value, valid in own
            ],
        )


def own_field_values(
    connection: Connection, contact_id: int | None, text: str
) -> list[tuple[int, str, bool]]:
    """(field id, value, valid) of the card's own fields, both forms read
    against the values held before (see :mod:`kmdav.contacts.cards`)."""
    definitions = _DEFINITIONS_FAST.rows(connection)
    if not definitions:
        return []
    ids = {key: ident for ident, key, *_ in definitions}
    defs = [
        FieldDef(key=key, label=label, field_type=field_type, options=tuple(options or ()))
        for _, key, label, field_type, options in definitions
    ]
    previous = (
        None
        if contact_id is None
        else dict(_OWN_VALUES_FAST.rows(connection, {"contact": contact_id}))
    )
    draft, invalid = cards.read_draft(text, fields=defs, previous=previous or None)
    return [(ids[key], value, key not in invalid) for key, value in draft.custom.items()]


def search_text(fields: vcard.CardFields, own_values: list[str]) -> str:
    """What full-text search finds a contact by (the card's part)."""
    parts = [
        fields.formatted_name,
        fields.given_name,
        fields.family_name,
        fields.organization,
        fields.title,
        " ".join(fields.categories),
        *(e.value for e in fields.emails),
        *(p.value for p in fields.phones),
        *(f"{a.street} {a.postal_code} {a.locality} {a.country}" for a in fields.addresses),
        fields.note,
        *own_values,
    ]
    return index_text(*parts)


def _project_calendar(
    connection: Connection,
    collection: CollectionRef,
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
    existing = None if new else _CALENDAR_OBJECT_OF_ITEM_FAST.scalar(connection, {"item": item_id})
    if existing is None:
        _INSERT_CALENDAR_OBJECT_FAST.execute(connection, {"item_id": item_id, **values})
    else:
        _UPDATE_CALENDAR_OBJECT_FAST.execute(connection, {"object_pk": existing, **values})
