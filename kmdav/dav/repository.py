"""Queries and row writes for DAV collections, items and the change log.

Only :mod:`kmdav.dav.service` and :mod:`kmdav.dav.provisioning` call the
writing functions here; everything else reads.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from kmdav.dav.items import CollectionRef, StoredItem
from kmdav.errors import NotFoundError
from kmdav.fastsql import IN_LIST_MAX, Prepared, PreparedIn, PreparedWrite
from kmdav.models import DavChange, DavCollection, DavItem, utcnow

#: Item hrefs per SQL ``IN`` list: well under SQLite's variable limit.
IN_CHUNK = IN_LIST_MAX


# Statements that run on every DAV request are built once, here, with bound
# parameters, and executed on the session's connection: SQLAlchemy then skips
# building the statement and its cache key, and the ORM's per-row machinery.
# A lookup costs ~20 us instead of ~170 us through ``session.scalars(select(
# Model))``; a GET or a sync poll makes five of them.

_COLLECTION_COLUMNS = (
    DavCollection.id,
    DavCollection.path,
    DavCollection.owner_id,
    DavCollection.tag,
    DavCollection.revision,
    DavCollection.sync_key,
    DavCollection.modified_at,
    DavCollection.props,
)
_COLLECTION_AT = select(*_COLLECTION_COLUMNS).where(DavCollection.path == bindparam("path"))
_REVISION_OF = select(DavCollection.revision).where(DavCollection.id == bindparam("cid"))
_COLLECTION_AT_FAST = Prepared(_COLLECTION_AT)
_REVISION_OF_FAST = Prepared(_REVISION_OF)


def _like_prefix(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


# -- collections ---------------------------------------------------------------


def get_collection(session: Session, path: str) -> DavCollection | None:
    return session.scalars(select(DavCollection).where(DavCollection.path == path)).one_or_none()


def collection_head(session: Session, path: str) -> tuple[Any, ...] | None:
    """The collection at ``path`` as a plain row (id, path, owner_id, tag,
    revision, sync_key, modified_at, props), without an ORM object."""
    return _COLLECTION_AT_FAST.first(session.connection(), {"path": path})


_COLLECTIONS_AT = PreparedIn(
    lambda paths: select(*_COLLECTION_COLUMNS).where(DavCollection.path.in_(paths))
)


def collection_heads(session: Session, paths: Iterable[str]) -> dict[str, tuple[Any, ...]]:
    """``collection_head`` of several paths in one query, by path (paths
    with no collection are left out)."""
    rows = _COLLECTIONS_AT.rows(session.connection(), {}, list(paths))
    return {row[1]: tuple(row) for row in rows}


def collection_by_id(session: Session, collection_id: int) -> DavCollection | None:
    """By primary key: free when the request already loaded it."""
    return session.get(DavCollection, collection_id)


def child_collections(session: Session, path: str) -> list[DavCollection]:
    """Direct children of ``path`` (``""`` is the root)."""
    query = select(DavCollection).order_by(DavCollection.path)
    if path:
        pattern = _like_prefix(path)
        query = query.where(
            DavCollection.path.like(pattern, escape="\\"),
            DavCollection.path.not_like(pattern + "/%", escape="\\"),
        )
    else:
        query = query.where(DavCollection.path != "", DavCollection.path.not_like("%/%"))
    return list(session.scalars(query))


def descendant_ids(session: Session, path: str) -> list[int]:
    return list(
        session.scalars(
            select(DavCollection.id).where(DavCollection.path.like(_like_prefix(path), escape="\\"))
        )
    )


def create_collection(
    session: Session,
    path: str,
    *,
    owner_id: int | None,
    tag: str = "",
    props: dict[str, Any] | None = None,
) -> DavCollection:
    meta = dict(props or {})
    if tag:
        meta["tag"] = tag
    collection = DavCollection(
        path=path,
        owner_id=owner_id,
        tag=tag,
        props=meta,
        revision=0,
        sync_key=secrets.token_hex(8),
    )
    session.add(collection)
    session.flush()
    return collection


_BUMP_REVISION_BY = (
    update(DavCollection)
    .where(DavCollection.id == bindparam("cid"))
    .values(revision=DavCollection.revision + bindparam("count"), modified_at=bindparam("now"))
    .returning(DavCollection.revision)
)
_BUMP_REVISION_BY_FAST = PreparedWrite(_BUMP_REVISION_BY)


def lock_collection(session: Session, path: str) -> None:
    """On PostgreSQL, the transaction-scoped advisory lock of the collection
    at ``path``, which every DAV write to it holds (see storage/lock.py);
    nothing on SQLite, where a writer holds the whole database."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": path})


#: The first key of the scheduling lock (two-key advisory locks live apart
#: from the one-key locks of collection paths).
_SCHEDULING_LOCK = 0x6B6D6476  # "kmdv"


def lock_scheduling(session: Session) -> None:
    """On PostgreSQL, the transaction-scoped lock every write that may touch
    more than one collection (scheduling deliveries, MOVE, web writes) takes
    *before* any collection lock, so two such writes never hold collection
    locks at once and cannot wait on each other in a cycle; a write to a
    single collection takes only that collection's lock.  Nothing on SQLite,
    where a writer holds the whole database."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k, 0)"), {"k": _SCHEDULING_LOCK})


def lock_collections(session: Session, paths: Iterable[str], *, many: bool = False) -> None:
    """The scheduling lock when ``many`` (or several paths), then the
    collections' locks in one fixed order (sorted paths)."""
    keys = sorted(set(paths))
    if many or len(keys) > 1:
        lock_scheduling(session)
    for key in keys:
        lock_collection(session, key)


def bump_revision(session: Session, collection: CollectionRef) -> int:
    """Take the next revision number of ``collection``.

    The UPDATE row-locks the collection on PostgreSQL until commit, so two
    writers to one collection queue instead of both taking revision R+1.
    """
    return bump_revision_by(session, collection, 1)


def bump_revision_by(session: Session, collection: CollectionRef, count: int) -> int:
    """Take the next ``count`` revisions at once (a batch of writes); returns
    the last."""
    returned = _BUMP_REVISION_BY_FAST.execute(
        session.connection(), {"cid": collection.id, "count": count, "now": utcnow()}
    )
    if not returned:
        raise NotFoundError(f"the collection {collection.path!r} is gone")
    last = int(returned[0][0])
    if isinstance(collection, DavCollection):
        # Keep a loaded ORM object current without marking it dirty: a plain
        # assignment would make the next flush write the revision again.
        set_committed_value(collection, "revision", last)
    return last


def touch(session: Session, collection: DavCollection) -> None:
    session.execute(
        update(DavCollection)
        .where(DavCollection.id == collection.id)
        .values(modified_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# -- items -----------------------------------------------------------------------


_HEAD = (
    DavItem.href,
    DavItem.uid,
    DavItem.etag,
    DavItem.component,
    DavItem.dtstart,
    DavItem.dtend,
    DavItem.modified_at,
)


def _head(values: Any) -> StoredItem:
    href, uid, etag, component, dtstart, dtend, modified_at = values
    return StoredItem(href, uid, etag, None, component, dtstart, dtend, modified_at)


def _snapshots(session: Session, query: Any, with_body: bool) -> list[StoredItem]:
    """Rows as snapshots without ORM objects: listings of 10,000 cards spend
    most of their time building ORM instances otherwise."""
    rows = session.connection().execute(query)
    if with_body:
        return _built(rows)
    return [
        StoredItem(href, uid, etag, None, component, dtstart, dtend, modified_at)
        for href, uid, etag, component, dtstart, dtend, modified_at in rows
    ]


def _built(rows: Iterable[Any]) -> list[StoredItem]:
    """Snapshots with bodies from rows of ``_HEAD`` + body."""
    return [
        StoredItem(href, uid, etag, body, component, dtstart, dtend, modified_at)
        for href, uid, etag, component, dtstart, dtend, modified_at, body in rows
    ]


def _item_query(collection_id: Any, with_body: bool) -> Any:
    columns = (*_HEAD, DavItem.body) if with_body else _HEAD
    return select(*columns).where(DavItem.collection_id == collection_id)


_ITEMS_AT = PreparedIn(
    lambda hrefs: _item_query(bindparam("cid"), True).where(DavItem.href.in_(hrefs))
)
_ITEM_AT = _item_query(bindparam("cid"), True).where(DavItem.href == bindparam("href"))
_BODIES_AT = PreparedIn(
    lambda hrefs: select(DavItem.href, DavItem.body).where(
        DavItem.collection_id == bindparam("cid"), DavItem.href.in_(hrefs)
    )
)
_BODY_AT = select(DavItem.body).where(
    DavItem.collection_id == bindparam("cid"), DavItem.href == bindparam("href")
)
_HREF_OF_UID = select(DavItem.href).where(
    DavItem.collection_id == bindparam("cid"), DavItem.uid == bindparam("uid")
)
_BODY_AT_FAST = Prepared(_BODY_AT)
_HREF_OF_UID_FAST = Prepared(_HREF_OF_UID)
_AT_HREF_OR_UID = select(DavItem.id, *_HEAD).where(
    DavItem.collection_id == bindparam("cid"),
    (DavItem.href == bindparam("href")) | (DavItem.uid == bindparam("uid")),
)
_AT_HREF_OR_UID_FAST = Prepared(_AT_HREF_OR_UID)
_INSERT_ITEM = insert(DavItem).returning(DavItem.id)
_UPDATE_ITEM = update(DavItem).where(DavItem.id == bindparam("item_pk"))
_INSERT_CHANGE = insert(DavChange)
_INSERT_ITEM_FAST = PreparedWrite(_INSERT_ITEM)
_UPDATE_ITEM_FAST = PreparedWrite(_UPDATE_ITEM)
_INSERT_CHANGE_FAST = PreparedWrite(_INSERT_CHANGE)


def item_snapshots(
    session: Session, collection_id: int, *, with_body: bool = True
) -> list[StoredItem]:
    query = _item_query(collection_id, with_body).order_by(DavItem.href)
    return _snapshots(session, query, with_body)


def item_snapshots_at(
    session: Session, collection_id: int, hrefs: Iterable[str]
) -> list[StoredItem]:
    wanted = list(dict.fromkeys(hrefs))
    return _built(_ITEMS_AT.rows(session.connection(), {"cid": collection_id}, wanted))


def item_snapshots_in_range(
    session: Session, collection_id: int, component: str | None, start: int, end: int
) -> list[StoredItem]:
    """Items whose time range overlaps [start, end) (RFC 4791 9.9)."""
    query = _item_query(collection_id, True).where(DavItem.dtstart < end, DavItem.dtend > start)
    if component is not None:
        query = query.where(DavItem.component == component)
    return _snapshots(session, query.order_by(DavItem.href), True)


_TIME_RANGES_AT = PreparedIn(
    lambda hrefs: select(DavItem.href, DavItem.etag, DavItem.time_ranges).where(
        DavItem.collection_id == bindparam("cid"), DavItem.href.in_(hrefs)
    )
)


def item_time_ranges(
    session: Session, collection_id: int, hrefs: Sequence[str]
) -> dict[str, tuple[str, bytes | None]]:
    """(ETag, stored time-range record) of the items at ``hrefs``; read only
    for the records a process does not hold yet (a long series' record is
    tens of KB)."""
    rows = _TIME_RANGES_AT.rows(session.connection(), {"cid": collection_id}, hrefs)
    return {href: (etag, ranges) for href, etag, ranges in rows}


def get_item(session: Session, collection_id: int, href: str) -> DavItem | None:
    return session.scalars(
        select(DavItem).where(DavItem.collection_id == collection_id, DavItem.href == href)
    ).one_or_none()


def items_at_href_or_uid(
    session: Session, collection_id: int, href: str, uid: str
) -> list[tuple[int, StoredItem]]:
    """(id, head) of the item at ``href`` and of any item carrying ``uid``,
    in one query; the heads carry no body."""
    rows = _AT_HREF_OR_UID_FAST.rows(
        session.connection(), {"cid": collection_id, "href": href, "uid": uid}
    )
    return [(row[0], _head(row[1:])) for row in rows]


def item_bodies(session: Session, collection_id: int, hrefs: Iterable[str]) -> dict[str, str]:
    rows = _BODIES_AT.rows(session.connection(), {"cid": collection_id}, list(hrefs))
    return dict(rows)


def item_body(session: Session, collection_id: int, href: str) -> str | None:
    body: str | None = _BODY_AT_FAST.scalar(
        session.connection(), {"cid": collection_id, "href": href}
    )
    return body


def href_for_uid(session: Session, collection_id: int, uid: str) -> str | None:
    found: str | None = _HREF_OF_UID_FAST.scalar(
        session.connection(), {"cid": collection_id, "uid": uid}
    )
    return found


def _item_values(stored: StoredItem, revision: int) -> dict[str, Any]:
    return {
        "uid": stored.uid,
        "etag": stored.etag,
        "body": stored.text,
        "component": stored.component,
        "dtstart": stored.dtstart,
        "dtend": stored.dtend,
        "time_ranges": stored.time_ranges,
        "revision": revision,
        "modified_at": stored.modified_at,
    }


def write_item(
    session: Session,
    collection_id: int,
    item_id: int | None,
    stored: StoredItem,
    revision: int,
) -> int:
    """Insert or overwrite an item row in one statement; returns its id.

    Core statements on the session's connection: this runs on every PUT and
    the ORM unit of work would triple its cost.  A loaded ORM row of the item
    is expired so the session does not serve stale values.
    """
    values = _item_values(stored, revision)
    connection = session.connection()
    if item_id is None:
        values.update(collection_id=collection_id, href=stored.href)
        return int(_INSERT_ITEM_FAST.execute(connection, values)[0][0])
    _UPDATE_ITEM_FAST.execute(connection, {"item_pk": item_id, **values})
    loaded = session.identity_map.get(identity_key(DavItem, item_id))
    if loaded is not None:
        session.expire(loaded)
    return item_id


_INSERT_ITEMS = insert(DavItem)
_IDS_AT = select(DavItem.href, DavItem.id).where(
    DavItem.collection_id == bindparam("cid"), DavItem.href.in_(bindparam("hrefs", expanding=True))
)
_HREFS_TAKEN = PreparedIn(
    lambda keys: select(DavItem.href, DavItem.uid).where(
        DavItem.collection_id == bindparam("cid"), DavItem.href.in_(keys)
    )
)
_UIDS_TAKEN = PreparedIn(
    lambda keys: select(DavItem.href, DavItem.uid).where(
        DavItem.collection_id == bindparam("cid"), DavItem.uid.in_(keys)
    )
)


def taken_hrefs_or_uids(
    session: Session, collection_id: int, hrefs: Sequence[str], uids: Sequence[str]
) -> list[tuple[str, str]]:
    """(href, uid) of items that hold one of ``hrefs`` or ``uids``.

    Two queries, each on its unique index: with ``href IN ... OR uid IN ...``
    SQLite reads every item of the collection.
    """
    connection = session.connection()
    params = {"cid": collection_id}
    rows = _HREFS_TAKEN.rows(connection, params, hrefs) + _UIDS_TAKEN.rows(connection, params, uids)
    return [(href, uid) for href, uid in rows]


def insert_items(
    session: Session, collection_id: int, items: Sequence[tuple[StoredItem, int]]
) -> list[int]:
    """Insert new item rows (snapshot, revision) in one statement; their ids in order.

    The ids are read back by href: RETURNING in parameter order makes
    SQLAlchemy insert row by row on SQLite, ten times slower.
    """
    rows = [
        {"collection_id": collection_id, "href": stored.href, **_item_values(stored, revision)}
        for stored, revision in items
    ]
    connection = session.connection()
    connection.execute(_INSERT_ITEMS, rows)
    hrefs = [stored.href for stored, _ in items]
    ids: dict[str, int] = {}
    for start in range(0, len(hrefs), IN_CHUNK):
        params = {"cid": collection_id, "hrefs": hrefs[start : start + IN_CHUNK]}
        ids.update((href, int(item_id)) for href, item_id in connection.execute(_IDS_AT, params))
    return [ids[href] for href in hrefs]


def add_changes(session: Session, collection_id: int, changes: Sequence[tuple[int, str]]) -> None:
    """Append (revision, href) rows of created or changed items in one statement."""
    session.connection().execute(
        _INSERT_CHANGE,
        [
            {"collection_id": collection_id, "revision": rev, "href": href, "deleted": False}
            for rev, href in changes
        ],
    )


def delete_item_row(session: Session, item: DavItem) -> None:
    session.execute(delete(DavItem).where(DavItem.id == item.id))


def add_change(
    session: Session, collection_id: int, revision: int, href: str, *, deleted: bool
) -> None:
    _INSERT_CHANGE_FAST.execute(
        session.connection(),
        {"collection_id": collection_id, "revision": revision, "href": href, "deleted": deleted},
    )


def current_revision(session: Session, collection_id: int) -> int:
    return int(_REVISION_OF_FAST.scalar(session.connection(), {"cid": collection_id}) or 0)


_CHANGES_SINCE = (
    select(DavChange.href, func.max(DavChange.revision).label("rev"))
    .where(DavChange.collection_id == bindparam("cid"), DavChange.revision > bindparam("since"))
    .group_by(DavChange.href)
    .order_by("rev")
)
_CHANGES_SINCE_LIMITED = _CHANGES_SINCE.limit(bindparam("most"))
_CHANGES_SINCE_FAST = {False: Prepared(_CHANGES_SINCE), True: Prepared(_CHANGES_SINCE_LIMITED)}


def changes_since(
    session: Session, collection_id: int, revision: int, *, limit: int | None = None
) -> list[tuple[str, int]]:
    """(href, newest revision) of every href touched after ``revision``,
    oldest first; at most ``limit + 1`` rows so callers can tell truncation."""
    params: dict[str, Any] = {"cid": collection_id, "since": revision}
    if limit is not None:
        params["most"] = limit + 1
    query = _CHANGES_SINCE_FAST[limit is not None]
    return [(href, int(rev)) for href, rev in query.rows(session.connection(), params)]


def item_revisions(
    session: Session, collection_id: int, *, limit: int | None = None
) -> list[tuple[str, int]]:
    """(href, revision) of the items present, oldest change first."""
    query = (
        select(DavItem.href, DavItem.revision)
        .where(DavItem.collection_id == collection_id)
        .order_by(DavItem.revision)
    )
    if limit is not None:
        query = query.limit(limit + 1)
    return [(href, int(rev)) for href, rev in session.connection().execute(query)]


def delete_collections(session: Session, ids: Sequence[int]) -> None:
    """Remove collections with their items and change log in set-based statements.

    Deleting a 10,000-card book must not load 10,000 rows into memory.
    """
    if not ids:
        return
    session.execute(delete(DavChange).where(DavChange.collection_id.in_(ids)))
    session.execute(delete(DavItem).where(DavItem.collection_id.in_(ids)))
    session.execute(delete(DavCollection).where(DavCollection.id.in_(ids)))
