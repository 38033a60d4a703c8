"""Who sees and changes which contacts.

A viewer sees the contacts of the company address book and of every address
book they may read (their own, and those shared with them directly or
through a group).  Writing needs write access to the book: the owner, a
read-write share, or for the company book the contacts "edit" permission.

Default permissions of the contacts module (the base every user has): every
user may view, create and edit contacts; delete and export need the grant
(a user or group grant, ``kmdav.accounts.permissions``); admins hold all.
The same rule reaches CardDAV: the company book is writable for users who
may edit contacts, and a DELETE there needs the delete permission
(``plugins/rights.py``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts.permissions import has_permission
from kmdav.dav import access
from kmdav.errors import PermissionDeniedError
from kmdav.i18n import N_
from kmdav.models import CollectionShare, DavCollection, User

MODULE = "contacts"
#: What every user may do with contacts without a grant.
DEFAULT_ACTIONS = frozenset({"view", "create", "edit"})
DEFAULT_COMPANY_BOOK = "company/contacts"


def may(session: Session, user: User, action: str) -> bool:
    if user.is_admin or action in DEFAULT_ACTIONS:
        return True
    return has_permission(session, user, MODULE, action)


_REFUSALS = {
    "delete": N_("you may not delete contacts (ask an administrator for the permission)"),
    "export": N_("you may not export contacts (ask an administrator for the permission)"),
}


def require(session: Session, user: User, action: str) -> None:
    if not may(session, user, action):
        raise PermissionDeniedError(
            _REFUSALS.get(action, N_("you may not change contacts (ask an administrator)"))
        )


def company_book_id(session: Session, path: str = DEFAULT_COMPANY_BOOK) -> int | None:
    found: int | None = session.scalar(select(DavCollection.id).where(DavCollection.path == path))
    return found


def books(
    session: Session, user: User, company_book: str = DEFAULT_COMPANY_BOOK
) -> dict[int, bool]:
    """Address books the user reads, by id, with whether they may write there."""
    result: dict[int, bool] = {}
    company = company_book_id(session, company_book)
    if company is not None:
        result[company] = may(session, user, "edit")
    for book_id in session.scalars(
        select(DavCollection.id).where(
            DavCollection.owner_id == user.id, DavCollection.tag == "VADDRESSBOOK"
        )
    ):
        result[book_id] = True
    rows = session.execute(
        select(DavCollection.id, CollectionShare.access)
        .join(CollectionShare, CollectionShare.collection_id == DavCollection.id)
        .where(DavCollection.tag == "VADDRESSBOOK", access.shares_reaching(session, user.id))
    )
    for book_id, level in rows:
        result[book_id] = result.get(book_id, False) or level == access.WRITE
    return result


def dav_company_letters(session: Session, username: str, *, deleting: bool) -> str:
    """Radicale's letters on the company book for ``username``."""
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or not user.is_active:
        return ""
    if not may(session, user, "edit"):
        return "r"
    if deleting and not may(session, user, "delete"):
        return "r"
    return "rw"


def writable_books(
    session: Session, user: User, company_book: str = DEFAULT_COMPANY_BOOK
) -> list[tuple[int, str]]:
    """(id, name) of the address books the user may add contacts to, the
    company book first, then by path."""
    ids = [book_id for book_id, writable in books(session, user, company_book).items() if writable]
    if not ids:
        return []
    rows = session.execute(
        select(DavCollection.id, DavCollection.path, DavCollection.props).where(
            DavCollection.id.in_(ids)
        )
    ).all()
    ordered = sorted(rows, key=lambda row: (row.path != company_book, row.path))
    return [(row.id, str((row.props or {}).get("D:displayname") or row.path)) for row in ordered]
