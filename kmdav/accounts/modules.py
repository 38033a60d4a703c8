"""Module seats: which licensed modules a user may use.

Every user has the contacts base; it is implied and never stored.  Every
other module is a seat in ``user_modules``, assigned by an administrator
and billed per user and month (:mod:`kmdav.accounts.licence`).

Tasks and projects are two seats, not one: the price example of issue #4
(10 users on the base, 2 with newsletter, 5 with projects and 5 with tasks
cost 270 EUR) only holds for every overlap of those users when each is
billed on its own.

Services flush and audit; the caller's transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.errors import ValidationError
from kmdav.i18n import N_
from kmdav.models import User, UserModule

#: The module every user has.
BASE_MODULE = "contacts"

#: Every module by key, with the label people read, in menu order.
MODULES: dict[str, str] = {
    BASE_MODULE: N_("Contacts"),
    "calendar": N_("Calendar"),
    "tasks": N_("Tasks"),
    "projects": N_("Projects"),
    "time": N_("Time recording"),
    "sales": N_("Sales opportunities"),
    "newsletter": N_("Newsletter"),
    "sms": N_("SMS"),
    "billing": N_("Billing"),
    "products": N_("Products & warehouse"),
    "documents": N_("Documents"),
}

#: The modules that are seats (everything but the base).
SEAT_MODULES: tuple[str, ...] = tuple(key for key in MODULES if key != BASE_MODULE)

#: What the create-user form offers ticked and ``kmdav user add`` assigns:
#: the modules a phone syncs besides contacts (calendars and task lists).
DEFAULT_SEATS: tuple[str, ...] = ("calendar", "tasks")


def label(module: str) -> str:
    return MODULES.get(module, module)


def validate_modules(modules: Iterable[str]) -> frozenset[str]:
    """The seat modules named in ``modules`` (the base is implied and
    dropped); an unknown key is refused."""
    wanted = {module.strip() for module in modules if module.strip()}
    unknown = sorted(wanted - set(MODULES))
    if unknown:
        raise ValidationError(
            "unknown module(s): %(modules)s", field="modules", modules=", ".join(unknown)
        )
    return frozenset(wanted - {BASE_MODULE})


def seats_of(session: Session, user_id: int) -> frozenset[str]:
    """The seat modules of a user (without the implied base)."""
    return frozenset(
        session.scalars(select(UserModule.module).where(UserModule.user_id == user_id))
    )


def modules_of(session: Session, user_id: int) -> frozenset[str]:
    """Every module the user may use: the base plus their seats."""
    return seats_of(session, user_id) | {BASE_MODULE}


def has_module(session: Session, user: User, module: str) -> bool:
    if module == BASE_MODULE:
        return True
    if module not in MODULES:
        raise ValueError(f"unknown module {module!r}")
    return session.get(UserModule, (user.id, module)) is not None


def assign_seat(
    session: Session, user: User, module: str, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    set_seats(session, user, seats_of(session, user.id) | validate_modules([module]), actor=actor)


def remove_seat(
    session: Session, user: User, module: str, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    set_seats(session, user, seats_of(session, user.id) - validate_modules([module]), actor=actor)


def set_seats(
    session: Session, user: User, modules: Iterable[str], *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Give the user exactly these seats; each change is audited."""
    wanted = validate_modules(modules)
    held = seats_of(session, user.id)
    for module in sorted(wanted - held):
        session.add(UserModule(user_id=user.id, module=module))
    for module in sorted(held - wanted):
        row = session.get(UserModule, (user.id, module))
        if row is not None:
            session.delete(row)
    if wanted == held:
        return
    session.flush()
    for module in sorted(wanted - held):
        audit.record(session, actor, "seat.assign", "user", user.username, {"module": module})
    for module in sorted(held - wanted):
        audit.record(session, actor, "seat.remove", "user", user.username, {"module": module})


def seat_holders(session: Session, *, active_only: bool = True) -> dict[str, list[User]]:
    """For every seat module, the users holding it (by user name)."""
    query = select(UserModule.module, User).join(User, User.id == UserModule.user_id)
    if active_only:
        query = query.where(User.is_active.is_(True))
    holders: dict[str, list[User]] = {module: [] for module in SEAT_MODULES}
    for module, user in session.execute(query.order_by(User.username)):
        holders.setdefault(module, []).append(user)
    return holders
