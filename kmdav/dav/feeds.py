"""Read-only ICS subscription feeds: a secret link per calendar and person.

Outlook, Google Calendar and other programs without CalDAV subscribe to
``/ics/<token>.ics``.  The token is 32 random bytes (``token_urlsafe``, 43
characters, 256 bits); only its SHA-256 is stored and it is shown once,
when the link is made, like an app password.  Looking a link up by the
hash of what the client sent is safe against timing: an index compares
digests, and nobody can steer a digest towards a stored one.  A fast hash
is enough because the token is random: there is no dictionary to try.

A link reads the calendar *as its creator*: it answers only while it is not
revoked, the creator is active, holds the calendar seat and still owns the
calendar or has it shared with them (directly or through a group).  So
removing a share, disabling a user or taking their calendar seat silences
their links at the next fetch; deleting the user or the calendar deletes
them.  Feeds exist for calendars only, not task lists: the programs that
subscribe to ICS show events, and the feed holds only VEVENTs (with their
VTIMEZONEs); VTODO and VJOURNAL stay on CalDAV.

Services flush and audit; the caller commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from kmdav import audit
from kmdav.accounts.modules import seats_of
from kmdav.dav import access
from kmdav.dav.feedbody import FORMAT_VERSION, FeedBuilder, FeedHeader, calendar_timezone_id
from kmdav.dav.sharing import display_name
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import CalendarFeed, CollectionShare, DavCollection, DavItem, User, utcnow
from kmdav.scheduling.boxes import not_a_box

#: Random bytes in a token (RFC 4086 asks for at least 128 bits for secrets).
TOKEN_BYTES = 32
#: Where a feed is served; the ``/ics`` face and the pages that show links share it.
FEED_PATH = "/ics/{token}.ics"
NAME_LENGTH = 100
#: ``last_fetched_at`` is written at most this often per link: a fetch is
#: otherwise a pure read, and subscribers poll.
FETCH_RESOLUTION = timedelta(minutes=5)
#: Stored bodies read per round trip while a feed is built.
_BATCH = 500


@dataclass(frozen=True)
class FeedCalendar:
    """A calendar its reader may make a link for (own or shared in)."""

    id: int
    path: str
    display_name: str
    owner: str
    own: bool


@dataclass(frozen=True)
class NewFeed:
    """A link just made; ``token`` is shown once and never stored."""

    id: int
    name: str
    calendar: str
    token: str
    created_at: datetime

    @property
    def path(self) -> str:
        return feed_path(self.token)


@dataclass(frozen=True)
class FeedEntry:
    """One of a user's links as their list shows it.  ``working`` is false
    when the link no longer answers although it is not revoked (the
    calendar is no longer shared with them, or the seat is gone)."""

    id: int
    name: str
    calendar: str
    owner: str
    created_at: datetime
    last_fetched_at: datetime | None
    revoked_at: datetime | None
    working: bool


@dataclass(frozen=True)
class FeedTarget:
    """What a valid token leads to: enough to answer 304 without reading
    a single body."""

    feed_id: int
    collection_id: int
    header: FeedHeader
    etag: str
    last_fetched_at: datetime | None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return sha256(token.encode("utf-8")).hexdigest()


def feed_path(token: str) -> str:
    return FEED_PATH.format(token=token)


def _is_calendar(collection: DavCollection) -> bool:
    return (
        collection.tag == "VCALENDAR"
        and access.seat_for_collection(collection.tag, collection.props) == access.CALENDAR_SEAT
    )


def readable_calendars(session: Session, user_id: int) -> list[FeedCalendar]:
    """The calendars ``user_id`` may make a link for: own first, then those
    shared with them; none without the calendar seat or when inactive."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or access.CALENDAR_SEAT not in seats_of(session, user_id):
        return []
    shared = select(CollectionShare.collection_id).where(access.shares_reaching(session, user_id))
    owner = aliased(User)
    rows = session.execute(
        select(DavCollection, owner.username)
        .join(owner, owner.id == DavCollection.owner_id)
        .where(
            DavCollection.tag == "VCALENDAR",
            not_a_box(),
            or_(DavCollection.owner_id == user_id, DavCollection.id.in_(shared)),
        )
        .order_by(DavCollection.path)
    ).all()
    calendars = [
        FeedCalendar(
            id=collection.id,
            path=collection.path,
            display_name=display_name(collection),
            owner=owner_name,
            own=collection.owner_id == user_id,
        )
        for collection, owner_name in rows
        if _is_calendar(collection)
    ]
    return sorted(calendars, key=lambda calendar: not calendar.own)


def create_feed(
    session: Session,
    user_id: int,
    collection_id: int | None,
    name: str,
    *,
    actor: audit.Actor = audit.SYSTEM,
) -> NewFeed:
    """A new link to one of the calendars ``user_id`` may read."""
    chosen = next((c for c in readable_calendars(session, user_id) if c.id == collection_id), None)
    if chosen is None:
        raise ValidationError("choose one of your calendars from the list", field="calendar")
    label = name.strip()
    if not label or len(label) > NAME_LENGTH:
        raise ValidationError("name the link in 1 to 100 characters", field="name")
    token = new_token()
    feed = CalendarFeed(
        collection_id=chosen.id, user_id=user_id, name=label, token_hash=hash_token(token)
    )
    session.add(feed)
    session.flush()
    details = {"feed": feed.id, "name": label}
    audit.record(session, actor, "calendar_feed.create", "collection", chosen.path, details)
    return NewFeed(feed.id, label, chosen.display_name, token, feed.created_at)


def list_feeds(session: Session, user_id: int) -> list[FeedEntry]:
    """``user_id``'s links, oldest first, revoked ones included."""
    readable = {calendar.id for calendar in readable_calendars(session, user_id)}
    owner = aliased(User)
    rows = session.execute(
        select(CalendarFeed, DavCollection, owner.username)
        .join(DavCollection, DavCollection.id == CalendarFeed.collection_id)
        .outerjoin(owner, owner.id == DavCollection.owner_id)
        .where(CalendarFeed.user_id == user_id)
        .order_by(CalendarFeed.created_at, CalendarFeed.id)
    ).all()
    return [
        FeedEntry(
            id=feed.id,
            name=feed.name,
            calendar=display_name(collection),
            owner=owner_name or "",
            created_at=feed.created_at,
            last_fetched_at=feed.last_fetched_at,
            revoked_at=feed.revoked_at,
            working=feed.revoked_at is None and collection.id in readable,
        )
        for feed, collection, owner_name in rows
    ]


def revoke_feed(
    session: Session, feed_id: int, *, user_id: int, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Revoke one of ``user_id``'s links; its URL answers 404 from now on."""
    row = session.execute(
        select(CalendarFeed, DavCollection.path)
        .join(DavCollection, DavCollection.id == CalendarFeed.collection_id)
        .where(CalendarFeed.id == feed_id, CalendarFeed.user_id == user_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError("no such subscription link of yours")
    feed, path = row
    if feed.revoked_at is None:
        feed.revoked_at = utcnow()
        session.flush()
        details = {"feed": feed.id, "name": feed.name}
        audit.record(session, actor, "calendar_feed.revoke", "collection", path, details)


# -- serving a feed ------------------------------------------------------------------


def resolve(session: Session, token: str) -> FeedTarget | None:
    """The calendar behind ``token`` while the link may answer, else ``None``
    (unknown, revoked, or its creator may no longer read the calendar)."""
    row = session.execute(
        select(CalendarFeed, DavCollection, User)
        .join(DavCollection, DavCollection.id == CalendarFeed.collection_id)
        .join(User, User.id == CalendarFeed.user_id)
        .where(CalendarFeed.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    feed, collection, user = row
    if feed.revoked_at is not None or not user.is_active or not _is_calendar(collection):
        return None
    if access.CALENDAR_SEAT not in seats_of(session, user.id):
        return None
    if not access.reads_collection(session, user.id, collection):
        return None
    header = FeedHeader(
        name=display_name(collection),
        description=str(collection.props.get("C:calendar-description") or ""),
        timezone=calendar_timezone_id(str(collection.props.get("C:calendar-timezone") or "")),
    )
    return FeedTarget(
        feed_id=feed.id,
        collection_id=collection.id,
        header=header,
        etag=_etag(collection, header),
        last_fetched_at=feed.last_fetched_at,
    )


def _etag(collection: DavCollection, header: FeedHeader) -> str:
    """Changes with every item change (the revision), a re-created
    collection (the sync key), the calendar's name, description or time
    zone (in the feed's header) and the feed format."""
    described = "\x00".join((FORMAT_VERSION, header.name, header.description, header.timezone))
    digest = sha256(described.encode("utf-8")).hexdigest()[:12]
    return f'"{collection.sync_key}-{collection.revision}-{digest}"'


def feed_body(session: Session, target: FeedTarget) -> bytes:
    """The feed: every VEVENT object of the calendar, in href order."""
    builder = FeedBuilder(("VEVENT",))
    bodies = session.scalars(
        select(DavItem.body)
        .where(DavItem.collection_id == target.collection_id, DavItem.component == "VEVENT")
        .order_by(DavItem.href)
        .execution_options(yield_per=_BATCH)
    )
    for body in bodies:
        builder.add(body)
    return builder.render(target.header)


def fetch_worth_noting(target: FeedTarget, now: datetime | None = None) -> bool:
    """Is the stored "last fetched" older than :data:`FETCH_RESOLUTION`?"""
    last = target.last_fetched_at
    return last is None or (now or utcnow()) - last >= FETCH_RESOLUTION


def note_fetch(session: Session, feed_id: int, now: datetime | None = None) -> None:
    """Record a fetch; a conditional UPDATE, so concurrent fetches write once."""
    moment = now or utcnow()
    session.execute(
        update(CalendarFeed)
        .where(
            CalendarFeed.id == feed_id,
            or_(
                CalendarFeed.last_fetched_at.is_(None),
                CalendarFeed.last_fetched_at <= moment - FETCH_RESOLUTION,
            ),
        )
        .values(last_fetched_at=moment)
        .execution_options(synchronize_session=False)
    )
