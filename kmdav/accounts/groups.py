"""User groups with nested subgroups, and memberships."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts.service import require_user
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import Group, GroupMembership


def get_group(session: Session, name: str) -> Group | None:
    return session.scalars(select(Group).where(Group.name == name)).one_or_none()


def require_group(session: Session, name: str) -> Group:
    group = get_group(session, name)
    if group is None:
        raise NotFoundError(f"no group named {name!r}")
    return group


def create_group(
    session: Session,
    name: str,
    *,
    parent: str | None = None,
    description: str = "",
    actor: audit.Actor = audit.SYSTEM,
) -> Group:
    label = name.strip()
    if not label or len(label) > 100:
        raise ValidationError("group names have 1 to 100 characters", field="name")
    if get_group(session, label) is not None:
        raise ValidationError(f"a group named {label!r} already exists", field="name")
    parent_group = require_group(session, parent) if parent else None
    group = Group(
        name=label,
        description=description.strip(),
        parent_id=parent_group.id if parent_group else None,
    )
    session.add(group)
    session.flush()
    audit.record(session, actor, "group.create", "group", label, {"parent": parent})
    return group


def add_member(
    session: Session, group_name: str, username: str, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    group = require_group(session, group_name)
    user = require_user(session, username)
    if session.get(GroupMembership, (user.id, group.id)) is None:
        session.add(GroupMembership(user_id=user.id, group_id=group.id))
        session.flush()
        audit.record(session, actor, "group.add_member", "group", group_name, {"user": username})
