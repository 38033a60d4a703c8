"""Sharing address books and calendars with users and groups.

Only the owner of a collection shares it (the company address book has no
owner: every user reads it and administrators write it, see
:mod:`kmdav.dav.access`).  Every change is flushed and audited here; the
caller's transaction commits, and the DAV rights plugin reads shares per
request, so a change reaches devices at their next request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from kmdav import audit
from kmdav.accounts.groups import get_group
from kmdav.accounts.service import get_user
from kmdav.dav import access, repository
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import CollectionShare, DavCollection, Group, User
from kmdav.scheduling.boxes import box_kind

ADDRESS_BOOK = "addressbook"
CALENDAR = "calendar"
TASK_LIST = "tasks"

#: Colours as CalDAV/CardDAV clients write them: ``#rrggbb`` or ``#rrggbbaa``.
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?")


@dataclass(frozen=True)
class ShareEntry:
    """One share of a collection: with a user or a group, at a level."""

    id: int
    subject: str
    is_group: bool
    access: str


@dataclass(frozen=True)
class OwnCollection:
    """An address book, calendar or task list of its owner, with its shares."""

    id: int
    path: str
    display_name: str
    kind: str
    colour: str
    shares: tuple[ShareEntry, ...]


@dataclass(frozen=True)
class SharedCollection:
    """A collection someone else shared with a user, as that user sees it.

    ``via`` names where the share comes from (``""`` for the user directly,
    else a group's name); ``alias`` is its name in the user's home.
    """

    path: str
    alias: str
    display_name: str
    kind: str
    colour: str
    owner: str
    access: str
    via: tuple[str, ...]


def collection_kind(collection: DavCollection) -> str:
    if collection.tag == "VADDRESSBOOK":
        return ADDRESS_BOOK
    components = str(collection.props.get("C:supported-calendar-component-set", ""))
    if "VTODO" in components and "VEVENT" not in components:
        return TASK_LIST
    return CALENDAR


def collection_colour(collection: DavCollection) -> str:
    """The collection's colour as ``#rrggbb``, or ``""`` when it has none
    (anything else a client stored there is ignored)."""
    value = collection.props.get("ICAL:calendar-color") or collection.props.get(
        "INF:addressbook-color"
    )
    match = _COLOUR.fullmatch(str(value or "").strip())
    return match.group(0)[:7] if match else ""


def display_name(collection: DavCollection) -> str:
    name = str(collection.props.get("D:displayname", "")).strip()
    return name or collection.path.rsplit("/", 1)[-1]


def _validate_level(level: str) -> str:
    if level not in (access.READ, access.WRITE):
        raise ValidationError("access is 'read' or 'write'", field="access")
    return level


def share_collection(
    session: Session,
    path: str,
    *,
    user: str | None = None,
    group: str | None = None,
    level: str = access.READ,
    actor: audit.Actor = audit.SYSTEM,
) -> CollectionShare:
    """Share ``path`` with one user or one group (and its subgroups).

    Sharing again with the same user or group changes the level.
    """
    if (user is None) == (group is None):
        raise ValidationError("share with exactly one user or one group", field="user")
    _validate_level(level)
    collection = repository.get_collection(session, path)
    if collection is None or not collection.tag:
        raise NotFoundError("no address book or calendar at %(path)r", path=path)
    user_id = group_id = None
    if user is not None:
        target = get_user(session, user)
        if target is None:
            raise ValidationError("there is no user named %(name)r", field="user", name=user)
        if target.id == collection.owner_id:
            raise ValidationError("a collection is not shared with its owner", field="user")
        user_id = target.id
    if group is not None:
        found = get_group(session, group)
        if found is None:
            raise ValidationError("there is no group named %(name)r", field="group", name=group)
        group_id = found.id
    share = session.scalars(
        select(CollectionShare).where(
            CollectionShare.collection_id == collection.id,
            CollectionShare.user_id == user_id if user_id else CollectionShare.group_id == group_id,
        )
    ).one_or_none()
    if share is None:
        share = CollectionShare(
            collection_id=collection.id, user_id=user_id, group_id=group_id, access=level
        )
        session.add(share)
    share.access = level
    session.flush()
    audit.record(
        session,
        actor,
        "collection.share",
        "collection",
        path,
        {"user": user, "group": group, "access": level},
    )
    return share


def require_own_collection(session: Session, collection_id: int, owner_id: int) -> DavCollection:
    """The address book or calendar ``collection_id`` when ``owner_id`` owns
    it; anything else is "not found" (others' collections stay unnamed)."""
    collection = repository.collection_by_id(session, collection_id)
    if collection is None or not collection.tag or collection.owner_id != owner_id:
        raise NotFoundError("no such address book or calendar of yours")
    return collection


def _own_share(
    session: Session, share_id: int, owner_id: int
) -> tuple[CollectionShare, DavCollection]:
    row = session.execute(
        select(CollectionShare, DavCollection)
        .join(DavCollection, DavCollection.id == CollectionShare.collection_id)
        .where(CollectionShare.id == share_id, DavCollection.owner_id == owner_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError("no such share of yours")
    return row[0], row[1]


def _subject(session: Session, share: CollectionShare) -> dict[str, str | None]:
    if share.user_id is not None:
        user = session.get(User, share.user_id)
        return {"user": user.username if user else None, "group": None}
    group = session.get(Group, share.group_id)
    return {"user": None, "group": group.name if group else None}


def change_share_access(
    session: Session,
    share_id: int,
    level: str,
    *,
    owner_id: int,
    actor: audit.Actor = audit.SYSTEM,
) -> CollectionShare:
    """Set the level of one of ``owner_id``'s shares."""
    _validate_level(level)
    share, collection = _own_share(session, share_id, owner_id)
    if share.access != level:
        share.access = level
        session.flush()
        audit.record(
            session,
            actor,
            "collection.share_access",
            "collection",
            collection.path,
            {**_subject(session, share), "access": level},
        )
    return share


def remove_share(
    session: Session, share_id: int, *, owner_id: int, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Stop one of ``owner_id``'s shares; the alias leaves the sharees' homes."""
    share, collection = _own_share(session, share_id, owner_id)
    subject = _subject(session, share)
    session.delete(share)
    session.flush()
    audit.record(session, actor, "collection.unshare", "collection", collection.path, subject)


def own_collections(session: Session, owner_id: int) -> list[OwnCollection]:
    """``owner_id``'s address books, calendars and task lists with their
    shares (groups first, then users, each by name)."""
    collections = list(
        session.scalars(
            select(DavCollection)
            .where(DavCollection.owner_id == owner_id, DavCollection.tag != "")
            .order_by(DavCollection.path)
        )
    )
    # The schedule inbox is the server's (RFC 6638), not something to share.
    collections = [c for c in collections if not box_kind(c.path)]
    shares: dict[int, list[ShareEntry]] = {collection.id: [] for collection in collections}
    if collections:
        rows = session.execute(
            select(CollectionShare.id, CollectionShare.collection_id, CollectionShare.access)
            .add_columns(User.username, Group.name)
            .outerjoin(User, User.id == CollectionShare.user_id)
            .outerjoin(Group, Group.id == CollectionShare.group_id)
            .where(CollectionShare.collection_id.in_(shares))
        ).all()
        for share_id, collection_id, level, username, group_name in rows:
            is_group = group_name is not None
            subject = group_name if is_group else username
            shares[collection_id].append(ShareEntry(share_id, subject, is_group, level))
    return [
        OwnCollection(
            id=collection.id,
            path=collection.path,
            display_name=display_name(collection),
            kind=collection_kind(collection),
            colour=collection_colour(collection),
            shares=tuple(
                sorted(shares[collection.id], key=lambda s: (not s.is_group, s.subject.casefold()))
            ),
        )
        for collection in collections
    ]


def shared_with(session: Session, user_id: int) -> list[SharedCollection]:
    """What others shared with ``user_id``, directly or through a group or
    any of its parent groups; the higher level wins, as on devices."""
    owner = aliased(User)
    rows = session.execute(
        select(DavCollection, owner.username, CollectionShare.access, Group.name)
        .join(CollectionShare, CollectionShare.collection_id == DavCollection.id)
        .join(owner, owner.id == DavCollection.owner_id)
        .outerjoin(Group, Group.id == CollectionShare.group_id)
        .where(access.shares_reaching(session, user_id), DavCollection.owner_id != user_id)
        .order_by(DavCollection.path)
    ).all()
    merged: dict[str, SharedCollection] = {}
    for collection, owner_name, level, group_name in rows:
        via = group_name or ""
        known = merged.get(collection.path)
        if known is not None:
            best = access.WRITE if access.WRITE in (known.access, level) else access.READ
            merged[collection.path] = replace(known, access=best, via=(*known.via, via))
            continue
        merged[collection.path] = SharedCollection(
            path=collection.path,
            alias=access.alias_name(collection.path),
            display_name=display_name(collection),
            kind=collection_kind(collection),
            colour=collection_colour(collection),
            owner=owner_name,
            access=level,
            via=(via,),
        )
    return list(merged.values())
