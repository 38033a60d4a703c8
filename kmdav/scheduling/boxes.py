"""Calendar users, their addresses, schedule inbox/outbox and default calendar.

RFC 6638 2.1-2.4: every principal has a schedule inbox (where the server
leaves the iTIP messages it delivered), a schedule outbox (the target of
free-busy POSTs) and calendar user addresses.  A kmdav user's addresses are
``mailto:`` of their e-mail and their principal URL.  The boxes are plain
DAV collections at ``<user>/inbox`` (a calendar collection, so clients can
list, read and delete its messages) and ``<user>/outbox`` (untagged, no
items); the DAV face gives them their RFC 6638 resource types.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from kmdav.dav import repository
from kmdav.models import DavCollection, DavItem, User
from kmdav.scheduling.itip import email_of, normalize

#: Where the DAV face is mounted; principal URLs are ``/dav/<user>/``.
DAV_ROOT = "/dav"
INBOX = "inbox"
OUTBOX = "outbox"
BOXES = (INBOX, OUTBOX)
_SAFE_HREF = re.compile(r"^[A-Za-z0-9_.@-]{1,200}\.ics$")


def box_kind(path: str) -> str | None:
    """``inbox``/``outbox`` when ``path`` (no slashes around) is a user's box."""
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) == 2 and parts[1] in BOXES else None


def not_a_box() -> ColumnElement[bool]:
    """SQL condition leaving the schedule boxes out of calendar listings
    (the inbox is a calendar collection to DAV clients, not a calendar)."""
    return DavCollection.path.not_like(f"%/{INBOX}") & DavCollection.path.not_like(f"%/{OUTBOX}")


def principal_url(username: str) -> str:
    return f"{DAV_ROOT}/{username}/"


def addresses(user: User) -> list[str]:
    """The user's calendar user addresses, the preferred one first."""
    out = [f"mailto:{user.email.lower()}"] if user.email else []
    return [*out, principal_url(user.username)]


def user_for_address(session: Session, address: str) -> User | None:
    """The active kmdav user an address names (e-mail or principal URL)."""
    email = email_of(address)
    if email is not None:
        user = session.scalars(select(User).where(func.lower(User.email) == email)).first()
    else:
        path = unquote(urlsplit(normalize(address)).path).rstrip("/")
        prefix = DAV_ROOT + "/"
        if not path.startswith(prefix) or "/" in path[len(prefix) :]:
            return None
        user = session.scalars(select(User).where(User.username == path[len(prefix) :])).first()
    return user if user is not None and user.is_active else None


@dataclass(frozen=True)
class Boxes:
    inbox: DavCollection
    outbox: DavCollection


def ensure_boxes(session: Session, user: User) -> Boxes:
    """The user's inbox and outbox, created when missing."""
    found: dict[str, DavCollection] = {}
    for name in BOXES:
        path = f"{user.username}/{name}"
        collection = repository.get_collection(session, path)
        if collection is None:
            tag = "VCALENDAR" if name == INBOX else ""
            props = {"D:displayname": "Inbox" if name == INBOX else "Outbox"}
            collection = repository.create_collection(
                session, path, owner_id=user.id, tag=tag, props=props
            )
        found[name] = collection
    return Boxes(found[INBOX], found[OUTBOX])


def _accepts(collection: DavCollection, component: str) -> bool:
    if collection.tag != "VCALENDAR" or box_kind(collection.path):
        return False
    allowed = (collection.props or {}).get("C:supported-calendar-component-set")
    return not allowed or component in allowed.split(",")


def own_calendars(session: Session, user: User) -> list[DavCollection]:
    """The user's own calendar collections (not the boxes), by path."""
    query = (
        select(DavCollection)
        .where(DavCollection.owner_id == user.id, DavCollection.tag == "VCALENDAR", not_a_box())
        .order_by(DavCollection.path)
    )
    return list(session.scalars(query))


def default_calendar(
    session: Session, user: User, component: str = "VEVENT"
) -> DavCollection | None:
    """Where invitations land (RFC 6638 9.2 schedule-default-calendar-URL):
    ``<user>/calendar`` when it takes ``component``, else the first own
    calendar that does."""
    calendars = [c for c in own_calendars(session, user) if _accepts(c, component)]
    preferred = f"{user.username}/calendar"
    return next((c for c in calendars if c.path == preferred), calendars[0] if calendars else None)


def find_copy(session: Session, user: User, uid: str) -> tuple[DavCollection, DavItem] | None:
    """The user's calendar object with ``uid`` in any own calendar (not the inbox)."""
    query = (
        select(DavCollection, DavItem)
        .join(DavItem, DavItem.collection_id == DavCollection.id)
        .where(DavCollection.owner_id == user.id, DavItem.uid == uid)
        .order_by(DavCollection.path)
    )
    for collection, item in session.execute(query).all():
        if not box_kind(collection.path) and collection.tag == "VCALENDAR":
            return collection, item
    return None


def free_href(session: Session, collection: DavCollection, preferred: str, uid: str) -> str:
    """``preferred`` when it is a plain name not taken by another UID, else one
    derived from the UID."""
    if _SAFE_HREF.fullmatch(preferred):
        holder = repository.get_item(session, collection.id, preferred)
        if holder is None or holder.uid == uid:
            return preferred
    return message_href(uid)


def message_href(uid: str) -> str:
    """The inbox keeps the newest message per UID under one name."""
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:40] + ".ics"
