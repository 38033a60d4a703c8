"""User groups with nested subgroups, and memberships.

Services flush and audit; the caller's transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts.service import require_user
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import Group, GroupMembership, User


def get_group(session: Session, name: str) -> Group | None:
    return session.scalars(select(Group).where(Group.name == name)).one_or_none()


def require_group(session: Session, name: str) -> Group:
    group = get_group(session, name)
    if group is None:
        raise NotFoundError("no group named %(name)r", name=name)
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
        raise ValidationError("a group named %(name)r already exists", field="name", name=label)
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


def require_group_by_id(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFoundError("no group with id %(id)d", id=group_id)
    return group


def remove_member(
    session: Session, group_name: str, username: str, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    group = require_group(session, group_name)
    user = require_user(session, username)
    membership = session.get(GroupMembership, (user.id, group.id))
    if membership is not None:
        session.delete(membership)
        session.flush()
        audit.record(session, actor, "group.remove_member", "group", group_name, {"user": username})


def delete_group(session: Session, name: str, *, actor: audit.Actor = audit.SYSTEM) -> None:
    """Delete a group that has neither subgroups nor members.  Its shares
    and permissions go with it."""
    group = require_group(session, name)
    subgroups = list(
        session.scalars(select(Group.name).where(Group.parent_id == group.id).order_by(Group.name))
    )
    if subgroups:
        raise ValidationError(
            "%(name)r has subgroups (%(subgroups)s); delete those first",
            field="group",
            name=name,
            subgroups=", ".join(subgroups),
        )
    members = session.scalar(
        select(func.count())
        .select_from(GroupMembership)
        .where(GroupMembership.group_id == group.id)
    )
    if members:
        raise ValidationError(
            "%(name)r still has %(count)d member(s); remove them first",
            field="group",
            name=name,
            count=members,
        )
    session.delete(group)
    session.flush()
    audit.record(session, actor, "group.delete", "group", name)


@dataclass
class GroupNode:
    """One group in the tree, with its members (user id, user name) and its
    subgroups."""

    id: int
    name: str
    description: str
    depth: int
    members: list[tuple[int, str]] = field(default_factory=list)
    children: list[GroupNode] = field(default_factory=list)


def group_tree(session: Session) -> list[GroupNode]:
    """The root groups, each with its subgroups below it; siblings by name."""
    rows = session.scalars(select(Group)).all()
    members: dict[int, list[tuple[int, str]]] = {}
    for group_id, user_id, username in session.execute(
        select(GroupMembership.group_id, User.id, User.username)
        .join(User, User.id == GroupMembership.user_id)
        .order_by(User.username)
    ):
        members.setdefault(group_id, []).append((user_id, username))
    by_parent: dict[int | None, list[Group]] = {}
    for group in rows:
        by_parent.setdefault(group.parent_id, []).append(group)

    def build(parent_id: int | None, depth: int) -> list[GroupNode]:
        children = sorted(by_parent.get(parent_id, []), key=lambda g: (g.name.casefold(), g.name))
        return [
            GroupNode(
                id=group.id,
                name=group.name,
                description=group.description,
                depth=depth,
                members=members.get(group.id, []),
                children=build(group.id, depth + 1),
            )
            for group in children
        ]

    return build(None, 0)


def flatten(tree: list[GroupNode]) -> list[GroupNode]:
    """The tree in reading order: each group, then its subgroups."""
    result: list[GroupNode] = []
    for node in tree:
        result.append(node)
        result.extend(flatten(node.children))
    return result


def group_path(session: Session, group: Group) -> list[str]:
    """The names from the root group down to ``group``."""
    parents = {
        row.id: (row.name, row.parent_id)
        for row in session.execute(select(Group.id, Group.name, Group.parent_id))
    }
    names: list[str] = []
    current: int | None = group.id
    while current is not None and current in parents and len(names) <= len(parents):
        name, current = parents[current]
        names.append(name)
    return names[::-1]
