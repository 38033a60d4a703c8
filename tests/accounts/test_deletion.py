"""kmdav.accounts.deletion: the rules that guard deleting a user."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import deletion
from kmdav.accounts import service as accounts
from kmdav.dav import feeds
from kmdav.errors import LastAdminError, PermissionDeniedError, ValidationError
from kmdav.models import CalendarFeed, DavCollection, User


def _user(session: Session, *, is_admin: bool = False) -> User:
    name = f"del-{secrets.token_hex(3)}"
    return accounts.create_user(session, name, "delete-password-1", is_admin=is_admin)


def _actor(user: User | None = None) -> audit.Actor:
    if user is None:
        return audit.SYSTEM
    return audit.Actor(user.username, "web", user.id, "127.0.0.1")


def test_the_last_active_admin_cannot_be_deleted(session: Session) -> None:
    for other in session.scalars(select(User).where(User.is_admin.is_(True))):
        other.is_active = False
    only = _user(session, is_admin=True)
    with pytest.raises(LastAdminError, match="at least one active administrator"):
        deletion.delete_user(session, only.id, only.username, actor=_actor())
    deputy = _user(session, is_admin=True)
    deletion.delete_user(session, only.id, only.username, actor=_actor(deputy))
    assert session.get(User, only.id) is None


def test_nobody_deletes_themselves(session: Session) -> None:
    chief = _user(session, is_admin=True)
    _user(session, is_admin=True)
    with pytest.raises(PermissionDeniedError, match="your own account"):
        deletion.delete_user(session, chief.id, chief.username, actor=_actor(chief))


def test_the_typed_name_must_match(session: Session) -> None:
    target = _user(session)
    with pytest.raises(ValidationError) as refused:
        deletion.delete_user(session, target.id, target.username.upper(), actor=_actor())
    assert refused.value.field == "confirm"
    assert session.get(User, target.id) is not None


def test_the_home_and_its_collections_go(session: Session) -> None:
    target, other = _user(session), _user(session)
    summary = deletion.deletion_summary(session, target.id)
    assert (summary.collections, summary.items) == (3, 0)
    deletion.delete_user(session, target.id, target.username, actor=_actor())

    def owned(user_id: int) -> int:
        query = select(func.count(DavCollection.id)).where(DavCollection.owner_id == user_id)
        return int(session.scalar(query) or 0)

    assert owned(target.id) == 0
    assert owned(other.id) == 6  # the home, three collections, inbox and outbox stay


def test_the_summary_counts_the_subscription_links(session: Session) -> None:
    target = accounts.create_user(
        session, f"del-{secrets.token_hex(3)}", "delete-password-1", modules=("calendar",)
    )
    calendar = session.scalar(
        select(DavCollection.id).where(DavCollection.path == f"{target.username}/calendar")
    )
    feeds.create_feed(session, target.id, calendar, "Outlook")
    revoked = feeds.create_feed(session, target.id, calendar, "old phone")
    feeds.revoke_feed(session, revoked.id, user_id=target.id)
    assert deletion.deletion_summary(session, target.id).subscription_links == 1
    deletion.delete_user(session, target.id, target.username, actor=_actor())
    assert (
        session.scalar(select(func.count(CalendarFeed.id)).where(CalendarFeed.user_id == target.id))
        == 0
    )
