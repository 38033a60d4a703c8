"""Permissions: grants to users and groups, inheritance down the group tree,
effective permissions with their reasons, and seats."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts import groups, modules, permissions
from kmdav.accounts import service as accounts
from kmdav.errors import ValidationError
from kmdav.models import AuditEntry, User


def _tag() -> str:
    return secrets.token_hex(3)


def _user(session: Session, *seats: str, admin: bool = False) -> User:
    name = f"perm-{_tag()}"
    return accounts.create_user(session, name, "perm-password-1", modules=seats, is_admin=admin)


def _effective(
    session: Session, user: User
) -> dict[tuple[str, str], permissions.EffectivePermission]:
    return {(e.module, e.action): e for e in permissions.effective_permissions(session, user)}


def test_a_group_grant_reaches_members_of_all_its_subgroups(session: Session) -> None:
    tag = _tag()
    sales, vienna, inner = f"Sales {tag}", f"Vienna {tag}", f"Inner {tag}"
    groups.create_group(session, sales)
    groups.create_group(session, vienna, parent=sales)
    groups.create_group(session, inner, parent=vienna)
    deep = _user(session, "sales")
    middle = _user(session, "sales")
    outsider = _user(session, "sales")
    groups.add_member(session, inner, deep.username)
    groups.add_member(session, vienna, middle.username)
    permissions.grant(session, "sales", "view", group=groups.require_group(session, sales))

    deep_view = _effective(session, deep)[("sales", "view")]
    assert deep_view.granted
    assert deep_view.reasons == (f"{sales} > {vienna} > {inner}",)
    assert _effective(session, middle)[("sales", "view")].reasons == (f"{sales} > {vienna}",)
    assert not _effective(session, outsider)[("sales", "view")].granted
    assert permissions.has_permission(session, deep, "sales", "view")
    assert not permissions.has_permission(session, deep, "sales", "edit")


def test_a_grant_on_a_subgroup_does_not_reach_its_parent(session: Session) -> None:
    tag = _tag()
    parent, child = f"P {tag}", f"C {tag}"
    groups.create_group(session, parent)
    groups.create_group(session, child, parent=parent)
    member = _user(session)
    groups.add_member(session, parent, member.username)
    permissions.grant(session, "contacts", "export", group=groups.require_group(session, child))
    assert not permissions.has_permission(session, member, "contacts", "export")


def test_every_reason_is_listed(session: Session) -> None:
    tag = _tag()
    team = f"Team {tag}"
    groups.create_group(session, team)
    user = _user(session, "billing")
    groups.add_member(session, team, user.username)
    permissions.grant(session, "billing", "edit", user=user)
    permissions.grant(session, "billing", "edit", group=groups.require_group(session, team))
    assert _effective(session, user)[("billing", "edit")].reasons == ("direct", team)


def test_without_a_seat_a_permission_is_not_effective(session: Session) -> None:
    user = _user(session)  # contacts only
    permissions.grant(session, "newsletter", "create", user=user)
    permissions.grant(session, "contacts", "delete", user=user)
    entries = _effective(session, user)
    newsletter = entries[("newsletter", "create")]
    assert (newsletter.granted, newsletter.status, newsletter.reasons) == (
        False,
        "no seat",
        ("direct",),
    )
    assert entries[("contacts", "delete")].status == "granted"  # the base needs no seat
    assert entries[("contacts", "view")].status == "not granted"
    modules.assign_seat(session, user, "newsletter")
    assert permissions.has_permission(session, user, "newsletter", "create")


def test_administrators_have_everything_they_have_seats_for(session: Session) -> None:
    boss = _user(session, *modules.SEAT_MODULES, admin=True)
    entries = permissions.effective_permissions(session, boss)
    assert len(entries) == len(modules.MODULES) * len(permissions.ACTIONS)
    assert all(entry.granted and entry.reasons == ("administrator",) for entry in entries)


def test_grant_and_revoke_are_audited_and_idempotent(session: Session) -> None:
    tag = _tag()
    group = groups.create_group(session, f"Audit {tag}")
    permissions.grant(session, "calendar", "view", group=group)
    permissions.grant(session, "calendar", "view", group=group)
    assert permissions.grants_of_group(session, group) == {("calendar", "view")}
    permissions.set_group_grants(session, group, [("calendar", "edit"), ("tasks", "view")])
    assert permissions.grants_of_group(session, group) == {("calendar", "edit"), ("tasks", "view")}
    permissions.revoke(session, "tasks", "view", group=group)
    actions = [
        (entry.action, entry.details["module"], entry.details["action"])
        for entry in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id == group.name, AuditEntry.action.like("permission.%"))
            .order_by(AuditEntry.id)
        )
    ]
    assert actions == [
        ("permission.grant", "calendar", "view"),
        ("permission.grant", "calendar", "edit"),
        ("permission.grant", "tasks", "view"),
        ("permission.revoke", "calendar", "view"),
        ("permission.revoke", "tasks", "view"),
    ]


def test_unknown_permissions_are_refused(session: Session) -> None:
    user = _user(session)
    with pytest.raises(ValidationError, match="unknown permission"):
        permissions.grant(session, "contacts", "fly", user=user)
    with pytest.raises(ValidationError, match="unknown permission"):
        permissions.parse_grant("teleport:view")
    assert permissions.parse_grant("sms:export") == ("sms", "export")
    with pytest.raises(ValueError, match="exactly one"):
        permissions.grant(session, "contacts", "view")
