"""Deleting a user, and what goes with them.

The rule (also on the confirmation page and in the docs): deleting a user
deletes their personal DAV collections (address books, calendars, task
lists) with every item in them, their app passwords, group memberships,
module seats, permissions, recovery codes, the shares they granted and
received, and the calendar subscription links they made or that lead to
their calendars.  The company address book and other users' collections stay.
Audit entries keep the user's name (``audit_log.actor_name`` is text).

Collections go through :func:`kmdav.dav.service.delete_collection`, the one
write path, which also removes their change log; the rest goes with the
user row through the foreign keys' ``ON DELETE CASCADE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts.service import ensure_another_admin, require_user_by_id
from kmdav.dav import service as dav
from kmdav.errors import PermissionDeniedError, ValidationError
from kmdav.models import (
    AppPassword,
    CalendarFeed,
    CollectionShare,
    DavCollection,
    DavItem,
    User,
)
from kmdav.scheduling.boxes import not_a_box


@dataclass(frozen=True)
class DeletionSummary:
    """What deleting one user takes away."""

    collections: int
    items: int
    shared_with_users: int
    shared_with_groups: int
    shares_received: int
    app_passwords: int
    #: Active subscription links they made, or that lead to their calendars.
    subscription_links: int = 0


def _owned_collection_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(
            select(DavCollection.id).where(
                # The schedule inbox goes with the home; it is not counted.
                DavCollection.owner_id == user.id,
                DavCollection.tag != "",
                not_a_box(),
            )
        )
    )


def deletion_summary(session: Session, user_id: int) -> DeletionSummary:
    user = require_user_by_id(session, user_id)
    owned = _owned_collection_ids(session, user)
    items = session.scalar(select(func.count(DavItem.id)).where(DavItem.collection_id.in_(owned)))
    granted = select(CollectionShare).where(CollectionShare.collection_id.in_(owned)).subquery()
    users = session.scalar(select(func.count(func.distinct(granted.c.user_id))))
    groups = session.scalar(select(func.count(func.distinct(granted.c.group_id))))
    received = session.scalar(
        select(func.count(CollectionShare.id)).where(CollectionShare.user_id == user.id)
    )
    devices = session.scalar(
        select(func.count(AppPassword.id)).where(
            AppPassword.user_id == user.id, AppPassword.revoked_at.is_(None)
        )
    )
    links = session.scalar(
        select(func.count(CalendarFeed.id)).where(
            CalendarFeed.revoked_at.is_(None),
            or_(CalendarFeed.user_id == user.id, CalendarFeed.collection_id.in_(owned)),
        )
    )
    return DeletionSummary(
        collections=len(owned),
        items=int(items or 0),
        shared_with_users=int(users or 0),
        shared_with_groups=int(groups or 0),
        shares_received=int(received or 0),
        app_passwords=int(devices or 0),
        subscription_links=int(links or 0),
    )


def delete_user(
    session: Session, user_id: int, confirmation: str, *, actor: audit.Actor
) -> DeletionSummary:
    """Delete the user and everything listed in the module docstring.

    ``confirmation`` must be the user name, typed by the person deleting.
    Nobody deletes themselves, and the last active administrator stays.
    """
    user = require_user_by_id(session, user_id)
    if actor.user_id == user.id:
        raise PermissionDeniedError("you cannot delete your own account; ask another administrator")
    if confirmation.strip() != user.username:
        raise ValidationError("type the user name exactly to confirm", field="confirm")
    if user.is_admin and user.is_active:
        ensure_another_admin(session, user)
    summary = deletion_summary(session, user_id)
    owned = session.scalars(
        select(DavCollection)
        .where(DavCollection.owner_id == user.id)
        .order_by(func.length(DavCollection.path))
    ).all()
    deleted: set[str] = set()
    for collection in owned:
        # A home's deletion already took the collections below it.
        if any(collection.path.startswith(path + "/") for path in deleted):
            continue
        dav.delete_collection(session, collection)
        deleted.add(collection.path)
    for collection in owned:
        # Their rows are gone (set-based deletes); the session must not flush them.
        session.expunge(collection)
    session.delete(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.delete",
        "user",
        user.username,
        {
            "collections": summary.collections,
            "items": summary.items,
            "shared_with_users": summary.shared_with_users,
            "shared_with_groups": summary.shared_with_groups,
        },
    )
    return summary
