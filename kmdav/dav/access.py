"""Who may see which collection: ownership, shares, the company book.

Shared collections show up inside the sharee's own home under an alias
name (``<owner>-<name>``, e.g. ``bob/alice-calendar``), because CardDAV and
CalDAV clients look for collections only below the user's home set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kmdav.fastsql import Prepared
from kmdav.models import CollectionShare, DavCollection, Group, GroupMembership, User, UserModule

READ = "read"
WRITE = "write"


@dataclass(frozen=True)
class Alias:
    """A collection visible under another user's home."""

    name: str
    real_path: str
    access: str


#: Joins owner and collection name in an alias; every alias name contains it.
ALIAS_SEPARATOR = "-"


def alias_name(real_path: str) -> str:
    return real_path.replace("/", ALIAS_SEPARATOR)


def effective_group_ids(session: Session, user_id: int) -> set[int]:
    """The user's groups and all their ancestors (a parent's shares reach
    the members of its subgroups)."""
    direct = set(
        session.scalars(select(GroupMembership.group_id).where(GroupMembership.user_id == user_id))
    )
    if not direct:
        return set()
    parents: dict[int, int | None] = dict(session.execute(select(Group.id, Group.parent_id)).all())
    result: set[int] = set()
    for group_id in direct:
        current: int | None = group_id
        while current is not None and current not in result:
            result.add(current)
            current = parents.get(current)
    return result


def group_names(session: Session, group_ids: set[int]) -> set[str]:
    if not group_ids:
        return set()
    return set(session.scalars(select(Group.name).where(Group.id.in_(group_ids))))


def shares_reaching(session: Session, user_id: int) -> ColumnElement[bool]:
    """The condition on ``collection_shares`` rows that reach ``user_id``:
    shared with them directly, or with one of their groups or its parents."""
    groups = effective_group_ids(session, user_id)
    direct = CollectionShare.user_id == user_id
    return or_(direct, CollectionShare.group_id.in_(groups)) if groups else direct


def aliases_for(session: Session, username: str, company_book: str) -> dict[str, Alias]:
    """Every collection shared into ``username``'s home, by alias name."""
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or not user.is_active:
        return {}
    aliases: dict[str, Alias] = {}
    if session.scalar(select(DavCollection.id).where(DavCollection.path == company_book)):
        access = WRITE if user.is_admin else READ
        aliases[alias_name(company_book)] = Alias(alias_name(company_book), company_book, access)
    rows = session.execute(
        select(DavCollection.path, DavCollection.owner_id, CollectionShare.access)
        .join(CollectionShare, CollectionShare.collection_id == DavCollection.id)
        .where(shares_reaching(session, user.id))
    ).all()
    for path, owner_id, access in rows:
        if owner_id == user.id:
            continue
        name = alias_name(path)
        known = aliases.get(name)
        if known is None or (known.access == READ and access == WRITE):
            aliases[name] = Alias(name, path, access)
    return aliases


def reads_collection(session: Session, user_id: int, collection: DavCollection) -> bool:
    """May ``user_id`` read ``collection``: their own, or shared with them
    directly or through one of their groups (or a parent group), at any level.

    Only ownership and shares: the company book (read by everyone) and the
    module seats are checked where they matter.
    """
    if collection.owner_id == user_id:
        return True
    found = session.scalar(
        select(CollectionShare.id)
        .where(CollectionShare.collection_id == collection.id, shares_reaching(session, user_id))
        .limit(1)
    )
    return found is not None


# -- module seats -------------------------------------------------------------

CALENDAR_SEAT = "calendar"
TASKS_SEAT = "tasks"
COMPONENT_SET = "C:supported-calendar-component-set"


def seat_for_collection(tag: str, props: dict[str, Any]) -> str | None:
    """The module seat a collection needs: a task list (only VTODO) the
    tasks seat, any other calendar the calendar seat, an address book none
    (contacts is every user's base)."""
    if tag != "VCALENDAR":
        return None
    components = {part.strip().upper() for part in str(props.get(COMPONENT_SET, "")).split(",")}
    return TASKS_SEAT if components - {""} == {"VTODO"} else CALENDAR_SEAT


@dataclass
class DavSeats:
    """One request's view of a user's seats; the seat each collection needs
    is read once per collection (the user's own calendars in one query)."""

    modules: frozenset[str]
    needs: dict[str, str | None] = field(default_factory=dict)

    @property
    def has_all(self) -> bool:
        return {CALENDAR_SEAT, TASKS_SEAT} <= self.modules

    @property
    def may_make_calendars(self) -> bool:
        """MKCALENDAR makes a calendar or a task list: either seat will do."""
        return bool({CALENDAR_SEAT, TASKS_SEAT} & self.modules)

    def allows(self, session: Session, path: str) -> bool:
        """May the user reach the collection at ``path`` (a real path)?"""
        if self.has_all:
            return True
        if path not in self.needs:
            row = session.execute(
                select(DavCollection.tag, DavCollection.props).where(DavCollection.path == path)
            ).first()
            # Not there yet (being made): nothing to hide.
            self.needs[path] = seat_for_collection(row.tag, row.props) if row else None
        need = self.needs[path]
        return need is None or need in self.modules


#: Every DAV request reads the user's seats: built once, run on the connection.
_SEATS_OF_USER = (
    select(User.id, UserModule.module)
    .outerjoin(UserModule, UserModule.user_id == User.id)
    .where(User.username == bindparam("username"))
)
_OWN_CALENDARS = select(DavCollection.path, DavCollection.tag, DavCollection.props).where(
    DavCollection.owner_id == bindparam("uid"), DavCollection.tag == "VCALENDAR"
)
_SEATS_OF_USER_FAST = Prepared(_SEATS_OF_USER)
_OWN_CALENDARS_FAST = Prepared(_OWN_CALENDARS)


#: Request-cache key of (user id, seats) the login re-check read on the way
#: (``kmdav.accounts.service.login_seats``), so ``dav_seats`` need not.
KNOWN_SEATS = "known-seats"


def dav_seats(
    session: Session, username: str, known: tuple[int, frozenset[str]] | None = None
) -> DavSeats:
    """The user's seats (``known``: user id and seats read in this request
    already); with calendar or tasks missing, also the seat each of the
    user's own calendars needs."""
    connection = session.connection()
    user_id: int | None
    if known is not None:
        user_id, modules = known
    else:
        rows = _SEATS_OF_USER_FAST.rows(connection, {"username": username})
        user_id = rows[0][0] if rows else None
        modules = frozenset(module for _, module in rows if module is not None)
    seats = DavSeats(modules)
    if user_id is not None and not seats.has_all:
        for path, tag, props in _OWN_CALENDARS_FAST.rows(connection, {"uid": user_id}):
            seats.needs[path] = seat_for_collection(tag, props)
    return seats
