"""The one write path for DAV data.

A vCard PUT from a phone and a contact saved in the web UI both end here:
the body is stored as given, the collection's revision moves, a change-log
row is appended and the CRM projection is rebuilt, all in the caller's
transaction.  Functions flush; they never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from hashlib import sha256
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from kmdav.dav import projection, repository
from kmdav.dav.items import CollectionRef, StoredItem
from kmdav.dav.vcard import CardFields
from kmdav.errors import NotFoundError, UidConflictError, ValidationError
from kmdav.models import CalendarObject, Contact, DavCollection, utcnow

CALENDAR_COMPONENTS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
CARD_COMPONENTS = frozenset({"VCARD", "VLIST"})

#: The time-range record of a calendar body (text, component) -> bytes or
#: None, for ``dav_items.time_ranges``.  Registered by the DAV storage
#: (``kmdav.storage``: Radicale's walk, which this layer does not import);
#: while none is registered, rows get NULL and are walked on first use.
time_range_recorder: Callable[[str, str], bytes | None] | None = None

#: Collection properties that define what a collection is; RFC 4918 9.2 and
#: RFC 4791 5.2.3 make them protected, so PROPPATCH may not change them.
PROTECTED_PROPS = frozenset({"tag", "C:supported-calendar-component-set"})


@dataclass(frozen=True)
class DavObject:
    """A calendar object or vCard ready to store.

    ``component`` is VEVENT/VTODO/VJOURNAL for calendar objects (the first
    real component) and VCARD/VLIST for address objects; ``dtstart`` and
    ``dtend`` span all occurrences as Unix seconds.  ``parsed`` is the
    vobject tree of ``text`` when the caller has it, which saves a parse.
    ``time_ranges`` is the time-range record of ``text`` when the caller
    (the DAV storage, which has Radicale's walk) computed it; it is stored
    with the body and replaced with it.
    """

    text: str
    uid: str
    component: str
    dtstart: int
    dtend: int
    parsed: Any = None
    time_ranges: bytes | None = None


def compute_etag(text: str) -> str:
    """A strong ETag: the SHA-256 of the stored body (stable across restarts)."""
    return f'"{sha256(text.encode("utf-8")).hexdigest()}"'


def _check_component(collection: CollectionRef, obj: DavObject) -> None:
    if collection.tag == "VADDRESSBOOK" and obj.component not in CARD_COMPONENTS:
        raise ValidationError("an address book holds only vCards")
    if collection.tag == "VCALENDAR":
        if obj.component not in CALENDAR_COMPONENTS:
            raise ValidationError("a calendar holds only VEVENT, VTODO or VJOURNAL objects")
        allowed = collection.props.get("C:supported-calendar-component-set")
        if allowed and obj.component not in allowed.split(","):
            raise ValidationError(
                f"this calendar accepts {allowed} only, not {obj.component} "
                "(RFC 4791 5.3.2.1 supported-calendar-component)"
            )
    if not collection.tag:
        raise ValidationError("items can only be stored in an address book or a calendar")


def _time_ranges(obj: DavObject) -> bytes | None:
    if obj.time_ranges is not None or obj.component not in CALENDAR_COMPONENTS:
        return obj.time_ranges
    recorder = time_range_recorder
    return recorder(obj.text, obj.component) if recorder is not None else None


def store_item(
    session: Session, collection: CollectionRef, href: str, obj: DavObject
) -> tuple[StoredItem, StoredItem | None]:
    """Create or replace ``href``; returns (new, previous).

    ``collection`` may be the ORM row or a snapshot read in the caller's
    transaction (the DAV storage passes its snapshot and saves a query).

    A PUT of the very same body changes nothing: no new revision, so polling
    clients see no phantom change.
    """
    _check_component(collection, obj)
    if not obj.uid:
        raise ValidationError("the object has no UID")
    item_id = previous = None
    for found_id, found in repository.items_at_href_or_uid(session, collection.id, href, obj.uid):
        if found.href == href:
            item_id, previous = found_id, found
        else:  # RFC 4791 5.3.2.1 / RFC 6352 6.3.2.1: one UID per collection
            raise UidConflictError(obj.uid, found.href)
    etag = compute_etag(obj.text)
    if previous is not None and previous.etag == etag:
        unchanged = replace(previous, text=obj.text)
        return unchanged, unchanged
    revision = repository.bump_revision(session, collection)
    stored = StoredItem(
        href=href,
        uid=obj.uid,
        etag=etag,
        text=obj.text,
        component=obj.component,
        dtstart=obj.dtstart,
        dtend=obj.dtend,
        modified_at=utcnow(),
        time_ranges=_time_ranges(obj),
    )
    item_id = repository.write_item(session, collection.id, item_id, stored, revision)
    repository.add_change(session, collection.id, revision, href, deleted=False)
    projection.project(session, collection, item_id, obj, new=previous is None)
    return stored, previous


def store_new_items(
    session: Session,
    collection: CollectionRef,
    entries: Sequence[tuple[str, DavObject]],
    cards: Sequence[tuple[CardFields, list[tuple[int, str, bool]] | None]] | None = None,
) -> list[tuple[StoredItem, int]]:
    """Create several new items in one go: what ``store_item`` does for each
    (a revision and a change-log row per item, the projection), with one
    revision bump and one statement each for items and changes.

    Every href and UID must be free (ValidationError / UidConflictError:
    nothing is written).  ``cards``: the CRM fields of each vCard and the
    (field id, value, valid) of its own fields (None: read from the body)
    when the caller has them (an import builds the cards itself), which
    saves a parse per card and projects the batch in one statement per
    table.  Returns (snapshot, item id) in order.
    """
    if not entries:
        return []
    hrefs = [href for href, _ in entries]
    uids = [obj.uid for _, obj in entries]
    for _, obj in entries:
        _check_component(collection, obj)
        if not obj.uid:
            raise ValidationError("the object has no UID")
    if len(set(hrefs)) < len(hrefs) or len(set(uids)) < len(uids):
        raise ValidationError("a batch of new items repeats an href or a UID")
    for href, uid in repository.taken_hrefs_or_uids(session, collection.id, hrefs, uids):
        if href in hrefs:
            raise ValidationError(f"{href!r} already exists")
        raise UidConflictError(uid, href)
    last = repository.bump_revision_by(session, collection, len(entries))
    now = utcnow()
    stored = [
        (
            StoredItem(
                href=href,
                uid=obj.uid,
                etag=compute_etag(obj.text),
                text=obj.text,
                component=obj.component,
                dtstart=obj.dtstart,
                dtend=obj.dtend,
                modified_at=now,
                time_ranges=_time_ranges(obj),
            ),
            last - len(entries) + 1 + index,
        )
        for index, (href, obj) in enumerate(entries)
    ]
    ids = repository.insert_items(session, collection.id, stored)
    repository.add_changes(session, collection.id, [(rev, item.href) for item, rev in stored])
    if cards is not None:
        known = [
            projection.KnownCard(item_id, fields, obj.text, own)
            for (_, obj), item_id, (fields, own) in zip(entries, ids, cards, strict=True)
        ]
        projection.project_new_cards(session, collection, known)
    else:
        for (_, obj), item_id in zip(entries, ids, strict=True):
            projection.project(session, collection, item_id, obj, new=True)
    return [(item, item_id) for (item, _), item_id in zip(stored, ids, strict=True)]


def delete_item(session: Session, collection: DavCollection, href: str) -> StoredItem:
    row = repository.get_item(session, collection.id, href)
    if row is None:
        raise NotFoundError(f"no item {href!r} in {collection.path!r}")
    snapshot = StoredItem.of(row)
    repository.delete_item_row(session, row)
    revision = repository.bump_revision(session, collection)
    repository.add_change(session, collection.id, revision, href, deleted=True)
    return snapshot


def move_item(
    session: Session,
    source: DavCollection,
    href: str,
    target: DavCollection,
    target_href: str,
) -> None:
    """Move (or rename) an item; an item at the target href is replaced."""
    row = repository.get_item(session, source.id, href)
    if row is None:
        raise NotFoundError(f"no item {href!r} in {source.path!r}")
    if source.id == target.id and href == target_href:
        return
    if target.tag != source.tag:
        raise ValidationError("items can only move between collections of the same kind")
    holder = repository.href_for_uid(session, target.id, row.uid)
    if holder is not None and holder != target_href and target.id != source.id:
        raise UidConflictError(row.uid, holder)
    if repository.get_item(session, target.id, target_href) is not None:
        delete_item(session, target, target_href)
    removed_at = repository.bump_revision(session, source)
    repository.add_change(session, source.id, removed_at, href, deleted=True)
    added_at = repository.bump_revision(session, target)
    row.collection_id = target.id
    row.href = target_href
    row.revision = added_at
    row.modified_at = utcnow()
    session.flush()
    repository.add_change(session, target.id, added_at, target_href, deleted=False)
    if source.id != target.id:
        for model in (Contact, CalendarObject):
            session.execute(
                update(model)
                .where(model.item_id == row.id)
                .values(collection_id=target.id)
                .execution_options(synchronize_session=False)
            )


def create_collection(
    session: Session,
    path: str,
    *,
    owner_id: int | None,
    props: dict[str, str] | None,
    items: list[tuple[str, DavObject]] | None = None,
) -> tuple[DavCollection, dict[str, StoredItem], list[str]]:
    """Create ``path``, or replace it when ``props`` or ``items`` are given.

    Returns the collection, the replaced items by href and the new hrefs,
    as Radicale's ``create_collection`` contract asks.
    """
    collection = repository.get_collection(session, path)
    if collection is not None and props is None and items is None:
        return collection, {}, []
    meta = dict(props or {})
    tag = meta.get("tag", "")
    _validate_props(meta)
    replaced: dict[str, StoredItem] = {}
    if collection is None:
        collection = repository.create_collection(
            session, path, owner_id=owner_id, tag=tag, props=meta
        )
    else:
        for old in repository.item_snapshots(session, collection.id, with_body=False):
            replaced[old.href] = delete_item(session, collection, old.href)
        collection.tag = tag
        collection.props = meta
        repository.touch(session, collection)
        session.flush()
    new_hrefs: list[str] = []
    for href, obj in items or []:
        store_item(session, collection, href, obj)
        new_hrefs.append(href)
    return collection, replaced, new_hrefs


def set_props(session: Session, collection: DavCollection, props: dict[str, str]) -> None:
    """Replace the collection's properties (PROPPATCH hands over the merged set).

    Changing a protected property fails as a whole and changes nothing.
    """
    current = dict(collection.props or {})
    for key in PROTECTED_PROPS:
        if (props.get(key) or "") != (current.get(key) or ""):
            name = "resourcetype" if key == "tag" else key.split(":", 1)[-1]
            raise ValidationError(f"the property {name} is protected and cannot be changed")
    _validate_props(props)
    collection.props = dict(props)
    repository.touch(session, collection)
    session.flush()


def _validate_props(props: dict[str, str]) -> None:
    color = props.get("ICAL:calendar-color")
    if color is not None and len(color) > 32:
        raise ValidationError("calendar-color is too long")
    for key, value in props.items():
        if len(key) > 200 or (value is not None and len(value) > 10_000):
            raise ValidationError(f"the property {key[:50]} is too large")


def delete_collection(session: Session, collection: DavCollection) -> None:
    """Delete a collection and everything below it in set-based statements."""
    ids = [collection.id, *repository.descendant_ids(session, collection.path)]
    repository.delete_collections(session, ids)
