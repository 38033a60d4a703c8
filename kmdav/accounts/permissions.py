"""Permissions: module x action, granted to users and to groups.

A group's grants reach the members of the group and of all its subgroups.
Administrators hold every permission.  A permission on a module the user
has no seat for is not effective (:mod:`kmdav.accounts.modules`).

Services flush and audit; the caller's transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts.modules import BASE_MODULE, MODULES, modules_of
from kmdav.errors import ValidationError
from kmdav.i18n import N_
from kmdav.models import Group, GroupMembership, Permission, User

#: What a permission allows inside a module, in the order the grids show.
ACTIONS: dict[str, str] = {
    "view": N_("View"),
    "create": N_("Create"),
    "edit": N_("Edit"),
    "delete": N_("Delete"),
    "export": N_("Export"),
    "administer": N_("Administer"),
}

Grant = tuple[str, str]  # (module, action)


def validate_grants(grants: Iterable[Grant]) -> frozenset[Grant]:
    result = frozenset(grants)
    for module, action in result:
        if module not in MODULES or action not in ACTIONS:
            raise ValidationError(
                "unknown permission %(module)s:%(action)s",
                field="permissions",
                module=module,
                action=action,
            )
    return result


def parse_grant(value: str) -> Grant:
    """``"module:action"`` (a grid checkbox) -> (module, action)."""
    module, _, action = value.partition(":")
    (grant,) = validate_grants([(module, action)])
    return grant


# -- grants -------------------------------------------------------------------


def grants_of_user(session: Session, user: User) -> frozenset[Grant]:
    return _grants(session, user, None)


def grants_of_group(session: Session, group: Group) -> frozenset[Grant]:
    return _grants(session, None, group)


def grant(
    session: Session,
    module: str,
    action: str,
    *,
    user: User | None = None,
    group: Group | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> None:
    """Grant (module, action) to one user or one group (audited)."""
    _change(session, (module, action), True, user, group, actor)


def revoke(
    session: Session,
    module: str,
    action: str,
    *,
    user: User | None = None,
    group: Group | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> None:
    """Take (module, action) from one user or one group (audited)."""
    _change(session, (module, action), False, user, group, actor)


def _change(
    session: Session,
    key: Grant,
    granted: bool,
    user: User | None,
    group: Group | None,
    actor: audit.Actor,
) -> None:
    current, changed = _grants(session, user, group), validate_grants([key])
    _replace(session, user, group, current | changed if granted else current - changed, actor)


def set_user_grants(
    session: Session, user: User, grants: Iterable[Grant], *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Give the user exactly these direct grants (a grid's state)."""
    _replace(session, user, None, validate_grants(grants), actor)


def set_group_grants(
    session: Session, group: Group, grants: Iterable[Grant], *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Give the group exactly these grants (a grid's state)."""
    _replace(session, None, group, validate_grants(grants), actor)


@dataclass(frozen=True)
class _Subject:
    """Who a grant belongs to: exactly one user or one group."""

    user_id: int | None
    group_id: int | None
    object_type: str
    object_id: str

    @classmethod
    def of(cls, user: User | None, group: Group | None) -> _Subject:
        if user is not None and group is None:
            return cls(user.id, None, "user", user.username)
        if group is not None and user is None:
            return cls(None, group.id, "group", group.name)
        raise ValueError("grant to exactly one user or one group")

    def rows(self) -> Select[Any]:
        if self.user_id is not None:
            return select(Permission).where(Permission.user_id == self.user_id)
        return select(Permission).where(Permission.group_id == self.group_id)


def _grants(session: Session, user: User | None, group: Group | None) -> frozenset[Grant]:
    rows = session.scalars(_Subject.of(user, group).rows())
    return frozenset((row.module, row.action) for row in rows)


def _replace(
    session: Session,
    user: User | None,
    group: Group | None,
    wanted: frozenset[Grant],
    actor: audit.Actor,
) -> None:
    subject = _Subject.of(user, group)
    rows = {(row.module, row.action): row for row in session.scalars(subject.rows())}
    added, removed = sorted(wanted - set(rows)), sorted(set(rows) - wanted)
    if not added and not removed:
        return
    for module, action in added:
        session.add(
            Permission(
                user_id=subject.user_id, group_id=subject.group_id, module=module, action=action
            )
        )
    for key in removed:
        session.delete(rows[key])
    session.flush()
    for verb, changed in (("permission.grant", added), ("permission.revoke", removed)):
        for module, action in changed:
            audit.record(
                session,
                actor,
                verb,
                subject.object_type,
                subject.object_id,
                {"module": module, "action": action},
            )


# -- effective permissions -----------------------------------------------------


@dataclass(frozen=True)
class EffectivePermission:
    """One (module, action) for one user: granted or not, and why.

    ``reasons`` names every source: ``"administrator"``, ``"direct"``, or a
    group path ``"Sales > Vienna"`` from the group holding the grant down to
    the group the user is a member of.  ``seat`` tells whether the user has
    the module; without it nothing is effective.
    """

    module: str
    action: str
    reasons: tuple[str, ...]
    seat: bool

    @property
    def granted(self) -> bool:
        return bool(self.reasons) and self.seat

    @property
    def status(self) -> str:
        if not self.reasons:
            return "not granted"
        return "granted" if self.seat else "no seat"


ADMINISTRATOR = N_("administrator")
DIRECT = N_("direct")
PATH_SEPARATOR = " > "


def effective_permissions(session: Session, user: User) -> list[EffectivePermission]:
    """Every (module, action), in grid order, with its reasons."""
    reasons: dict[Grant, list[str]] = {}
    if user.is_admin:
        for module in MODULES:
            for action in ACTIONS:
                reasons.setdefault((module, action), []).append(ADMINISTRATOR)
    for key in sorted(grants_of_user(session, user)):
        reasons.setdefault(key, []).append(DIRECT)
    for key, path in _group_grants_reaching(session, user.id):
        reasons.setdefault(key, []).append(PATH_SEPARATOR.join(path))
    seats = modules_of(session, user.id)
    return [
        EffectivePermission(
            module=module,
            action=action,
            reasons=tuple(dict.fromkeys(reasons.get((module, action), []))),
            seat=module == BASE_MODULE or module in seats,
        )
        for module in MODULES
        for action in ACTIONS
    ]


def has_permission(session: Session, user: User, module: str, action: str) -> bool:
    for permission in effective_permissions(session, user):
        if (permission.module, permission.action) == (module, action):
            return permission.granted
    raise ValueError(f"unknown permission {module}:{action}")


def _group_grants_reaching(session: Session, user_id: int) -> list[tuple[Grant, tuple[str, ...]]]:
    """(grant, group path) for each group grant that reaches the user: the
    path runs from the granting group down to a group the user is in."""
    direct = list(
        session.scalars(select(GroupMembership.group_id).where(GroupMembership.user_id == user_id))
    )
    if not direct:
        return []
    groups = {group.id: group for group in session.scalars(select(Group))}
    granted: dict[int, list[Grant]] = {}
    for group_id, module, action in session.execute(
        select(Permission.group_id, Permission.module, Permission.action).where(
            Permission.group_id.is_not(None)
        )
    ):
        if group_id is not None:
            granted.setdefault(group_id, []).append((module, action))
    result: list[tuple[Grant, tuple[str, ...]]] = []
    for member_of in direct:
        chain: list[str] = []  # names from the member group up, reversed below
        current: int | None = member_of
        seen: set[int] = set()
        while current is not None and current not in seen and current in groups:
            seen.add(current)
            chain.append(groups[current].name)
            for key in granted.get(current, []):
                result.append((key, tuple(reversed(chain))))
            current = groups[current].parent_id
    return sorted(result)
