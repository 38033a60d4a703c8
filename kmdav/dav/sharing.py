"""Sharing address books and calendars with users and groups."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts.groups import require_group
from kmdav.accounts.service import require_user
from kmdav.dav import access, repository
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import CollectionShare


def share_collection(
    session: Session,
    path: str,
    *,
    user: str | None = None,
    group: str | None = None,
    level: str = access.READ,
    actor: audit.Actor = audit.SYSTEM,
) -> CollectionShare:
    """Share ``path`` with one user or one group (and its subgroups)."""
    if (user is None) == (group is None):
        raise ValidationError("share with exactly one user or one group")
    if level not in (access.READ, access.WRITE):
        raise ValidationError("access is 'read' or 'write'", field="access")
    collection = repository.get_collection(session, path)
    if collection is None or not collection.tag:
        raise NotFoundError(f"no address book or calendar at {path!r}")
    user_id = group_id = None
    if user is not None:
        target = require_user(session, user)
        if target.id == collection.owner_id:
            raise ValidationError("a collection is not shared with its owner")
        user_id = target.id
    if group is not None:
        group_id = require_group(session, group).id
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
