"""Module seats: the catalogue, assigning and removing, has_module."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import modules
from kmdav.accounts import service as accounts
from kmdav.errors import ValidationError
from kmdav.models import AuditEntry, User, UserModule


def _user(session: Session, **kwargs: object) -> User:
    name = f"seat-{secrets.token_hex(3)}"
    return accounts.create_user(session, name, "seat-password-1", **kwargs)


def test_the_catalogue() -> None:
    assert list(modules.MODULES) == [
        "contacts",
        "calendar",
        "tasks",
        "projects",
        "time",
        "sales",
        "newsletter",
        "sms",
        "billing",
        "products",
        "documents",
    ]
    assert "contacts" not in modules.SEAT_MODULES
    assert all(modules.MODULES[key] for key in modules.MODULES)


def test_a_new_user_has_the_base_and_what_was_asked(session: Session) -> None:
    plain = _user(session)
    assert modules.seats_of(session, plain.id) == frozenset()
    assert modules.has_module(session, plain, "contacts")
    assert not modules.has_module(session, plain, "calendar")
    seated = _user(session, modules=["calendar", "contacts", "newsletter"])
    assert modules.seats_of(session, seated.id) == {"calendar", "newsletter"}
    # The base is implied, never stored.
    stored = session.scalars(select(UserModule.module).where(UserModule.user_id == seated.id))
    assert "contacts" not in set(stored)
    with pytest.raises(ValidationError, match="unknown module"):
        _user(session, modules=["teleport"])


def test_assign_and_remove_are_audited(session: Session) -> None:
    user = _user(session)
    actor = audit.Actor(name="boss", source="web", user_id=None, remote_addr="192.0.2.1")
    modules.assign_seat(session, user, "sms", actor=actor)
    modules.assign_seat(session, user, "sms", actor=actor)  # no change, no entry
    assert modules.has_module(session, user, "sms")
    modules.remove_seat(session, user, "sms", actor=actor)
    assert not modules.has_module(session, user, "sms")
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.object_id == user.username).order_by(AuditEntry.id)
    ).all()
    seat_entries = [
        (entry.action, entry.details, entry.actor_name, entry.remote_addr)
        for entry in entries
        if entry.action.startswith("seat.")
    ]
    assert seat_entries == [
        ("seat.assign", {"module": "sms"}, "boss", "192.0.2.1"),
        ("seat.remove", {"module": "sms"}, "boss", "192.0.2.1"),
    ]
    with pytest.raises(ValueError, match="unknown module"):
        modules.has_module(session, user, "teleport")


def test_set_seats_replaces_the_whole_set(session: Session) -> None:
    user = _user(session, modules=["calendar", "tasks"])
    modules.set_seats(session, user, ["tasks", "billing"])
    assert modules.seats_of(session, user.id) == {"tasks", "billing"}
    assert modules.modules_of(session, user.id) == {"contacts", "tasks", "billing"}
