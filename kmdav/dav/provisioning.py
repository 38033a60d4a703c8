"""Homes and default collections for users, and the shared company book."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kmdav.dav import repository
from kmdav.models import DavCollection, User

COMPANY_HOME = "company"

#: (name, tag, props) of what every new user finds on their devices.
DEFAULT_COLLECTIONS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("contacts", "VADDRESSBOOK", {"D:displayname": "Contacts"}),
    (
        "calendar",
        "VCALENDAR",
        {"D:displayname": "Calendar", "C:supported-calendar-component-set": "VEVENT"},
    ),
    (
        "tasks",
        "VCALENDAR",
        {"D:displayname": "Tasks", "C:supported-calendar-component-set": "VTODO"},
    ),
    # RFC 6638 schedule inbox and outbox (see kmdav.scheduling.boxes).
    ("inbox", "VCALENDAR", {"D:displayname": "Inbox"}),
    ("outbox", "", {"D:displayname": "Outbox"}),
)


def provision_home(session: Session, user: User) -> DavCollection:
    """Create the user's principal collection and default collections once."""
    home = repository.get_collection(session, user.username)
    if home is None:
        home = repository.create_collection(session, user.username, owner_id=user.id)
    for name, tag, props in DEFAULT_COLLECTIONS:
        path = f"{user.username}/{name}"
        if repository.get_collection(session, path) is None:
            repository.create_collection(session, path, owner_id=user.id, tag=tag, props=props)
    return home


def ensure_company_addressbook(session: Session, path: str) -> DavCollection:
    """The address book every user with the contacts module may read."""
    home_path = path.split("/", 1)[0]
    if repository.get_collection(session, home_path) is None:
        repository.create_collection(session, home_path, owner_id=None)
    book = repository.get_collection(session, path)
    if book is None:
        book = repository.create_collection(
            session,
            path,
            owner_id=None,
            tag="VADDRESSBOOK",
            props={"D:displayname": "Company contacts"},
        )
    return book
