"""Account operations: the only code that writes users and app passwords.

Functions take an open session and flush; the caller's transaction commits.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import modules as seats
from kmdav.accounts.passwords import (
    DUMMY_HASH,
    generate_password,
    hash_password,
    verify_password,
)
from kmdav.dav import provisioning
from kmdav.dav.access import effective_group_ids
from kmdav.errors import LastAdminError, NotFoundError, ValidationError
from kmdav.fastsql import Prepared
from kmdav.i18n import LANGUAGES
from kmdav.models import AppPassword, GroupMembership, User, UserModule, utcnow

#: Letters (any script), digits and . _ - @; must start with a letter or digit.
#: The name is the user's DAV home path, so no slashes and no dot-only names.
_USERNAME = re.compile(r"^[^\W_][\w.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8
#: Names that are DAV paths of their own or would confuse people.
RESERVED_USERNAMES = frozenset({"company", "dav", "web", "api", "admin-root", "well-known"})
APP_PASSWORD_LOOKUP_LENGTH = 8


@dataclass(frozen=True)
class NewAppPassword:
    """An app password just created; ``password`` is shown once and never stored."""

    id: int
    name: str
    password: str
    created_at: datetime


def validate_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.fullmatch(name):
        raise ValidationError(
            "user names are 1-64 letters, digits, '.', '_', '-' or '@' and start "
            "with a letter or digit",
            field="username",
        )
    if name.casefold() in RESERVED_USERNAMES:
        raise ValidationError("the user name %(name)r is reserved", field="username", name=name)
    return name


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "passwords need at least %(count)d characters",
            field="password",
            count=MIN_PASSWORD_LENGTH,
        )
    if password != password.strip():
        raise ValidationError("passwords must not start or end with spaces", field="password")
    return password


def validate_email(email: str | None) -> str | None:
    """The trimmed address, ``None`` for none; a plain shape check only
    (an ``@``, a dotted domain, no spaces or brackets): delivery proves the rest."""
    if email is None or not email.strip():
        return None
    address = email.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or len(address) > 320:
        raise ValidationError("enter an e-mail address like name@example.com", field="email")
    if any(char.isspace() or char in '<>()[]\\,;:"' for char in address):
        raise ValidationError(
            'e-mail addresses contain no spaces and none of < > ( ) [ ] , ; : \\ "',
            field="email",
        )
    return address


def get_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def require_user(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise NotFoundError("no user named %(name)r", name=username)
    return user


def require_user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("no such user")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    is_admin: bool = False,
    email: str | None = None,
    display_name: str = "",
    modules: Iterable[str] = (),
    actor: audit.Actor = audit.SYSTEM,
) -> User:
    """Create a user with a default address book, calendar and task list.

    ``modules`` are the user's seats besides the contacts base (none unless
    named: the calendar and task list stay hidden from devices without them).
    """
    name = validate_username(username)
    display_name = _validate_display_name(display_name)
    validate_password(password)
    wanted = seats.validate_modules(modules)
    if get_user(session, name) is not None:
        raise ValidationError("a user named %(name)r already exists", field="username", name=name)
    email = validate_email(email)
    _ensure_email_free(session, email)
    user = User(
        username=name,
        email=email,
        display_name=display_name.strip() or name,
        password_hash=hash_password(password),
        is_admin=is_admin,
        is_active=True,
    )
    session.add(user)
    session.flush()
    provisioning.provision_home(session, user)
    audit.record(session, actor, "user.create", "user", name, {"admin": is_admin, "email": email})
    seats.set_seats(session, user, wanted, actor=actor)
    return user


def _validate_display_name(display_name: str) -> str:
    if len(display_name.strip()) > 200:
        raise ValidationError("display names have at most 200 characters", field="display_name")
    return display_name.strip()


def _ensure_email_free(session: Session, email: str | None, user_id: int | None = None) -> None:
    """Addresses are unique regardless of case (they are login names too)."""
    if email is None:
        return
    query = select(User.id).where(func.lower(User.email) == email.casefold())
    if user_id is not None:
        query = query.where(User.id != user_id)
    if session.scalar(query) is not None:
        raise ValidationError("the e-mail address %(email)r is in use", field="email", email=email)


def update_profile(
    session: Session,
    username: str,
    *,
    display_name: str,
    email: str | None,
    actor: audit.Actor = audit.SYSTEM,
) -> None:
    """Change display name and e-mail address (empty: the user name / none)."""
    user = require_user(session, username)
    name = _validate_display_name(display_name) or user.username
    address = validate_email(email)
    _ensure_email_free(session, address, user.id)
    changed = {
        key: value
        for key, value, old in (
            ("display_name", name, user.display_name),
            ("email", address, user.email),
        )
        if value != old
    }
    if not changed:
        return
    user.display_name = name
    user.email = address
    session.flush()
    audit.record(session, actor, "user.update", "user", username, changed)


def set_password(
    session: Session,
    username: str,
    password: str,
    *,
    actor: audit.Actor = audit.SYSTEM,
    must_change: bool = False,
) -> None:
    """Set a user's password; ``must_change`` (an admin's reset) makes the
    user choose their own at the next web login."""
    user = require_user(session, username)
    validate_password(password)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    session.flush()
    details = {"must_change": True} if must_change else None
    audit.record(session, actor, "user.password", "user", username, details)


def validate_new_password(password: str, repeated: str) -> None:
    """A new password typed twice: long enough, and the same both times."""
    validate_password(password)
    if password != repeated:
        raise ValidationError("the two passwords differ", field="password_repeat")


def change_own_password(
    session: Session,
    user_id: int,
    new_password: str,
    repeated: str,
    *,
    current_password: str | None,
    actor: audit.Actor,
) -> User:
    """A user replaces their own password.  ``current_password`` is asked
    for unless the user was just made to choose a new one after a reset
    (``None``: they typed the reset password a moment ago to log in)."""
    user = require_user_by_id(session, user_id)
    if current_password is not None and not verify_password(user.password_hash, current_password):
        raise ValidationError("the current password is wrong", field="current_password")
    validate_new_password(new_password, repeated)
    if verify_password(user.password_hash, new_password):
        raise ValidationError("choose a password different from the current one", field="password")
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    session.flush()
    audit.record(session, actor, "user.password_change", "user", user.username)
    return user


def set_locale(
    session: Session, username: str, locale: str, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """The language the web face speaks to the user (one of ``kmdav.i18n.LANGUAGES``)."""
    user = require_user(session, username)
    if locale not in LANGUAGES:
        raise ValidationError("choose one of the languages offered", field="locale")
    if user.locale == locale:
        return
    user.locale = locale
    session.flush()
    audit.record(session, actor, "user.locale", "user", username, {"locale": locale})


def set_active(
    session: Session, username: str, active: bool, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    user = require_user(session, username)
    if not active and user.is_admin:
        ensure_another_admin(session, user)
    user.is_active = active
    session.flush()
    audit.record(session, actor, "user.enable" if active else "user.disable", "user", username)


def set_admin(
    session: Session, username: str, is_admin: bool, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Grant or take administrator rights; the last active admin keeps them."""
    user = require_user(session, username)
    if user.is_admin == is_admin:
        return
    if not is_admin and user.is_active:
        ensure_another_admin(session, user)
    user.is_admin = is_admin
    session.flush()
    audit.record(session, actor, "user.promote" if is_admin else "user.demote", "user", username)


def ensure_another_admin(session: Session, user: User) -> None:
    others = session.scalar(
        select(func.count(User.id)).where(
            User.is_admin.is_(True), User.is_active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise LastAdminError("at least one active administrator must remain")


# -- authentication -----------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """A verified login: which user, through which credential.

    ``fingerprint`` changes when that credential stops being valid (the
    password changed, the app password was revoked, the user disabled), so
    a cache can re-check a login with one cheap query instead of argon2.
    """

    user_id: int
    username: str
    app_password_id: int | None
    fingerprint: str


def authenticate(session: Session, username: str, password: str) -> Login | None:
    """The login if the user is active and the password or an unrevoked app
    password matches.

    Costs one argon2 verification in every outcome but a bad app-password
    prefix, so response times do not tell which user names exist.
    """
    user = get_user(session, username)
    if user is None or not user.is_active:
        verify_password(DUMMY_HASH, password)
        return None
    if len(password) == APP_PASSWORD_LOOKUP_LENGTH + 24:
        candidate = session.scalars(
            select(AppPassword).where(
                AppPassword.user_id == user.id,
                AppPassword.lookup == password[:APP_PASSWORD_LOOKUP_LENGTH],
                AppPassword.revoked_at.is_(None),
            )
        ).first()
        if candidate is not None and verify_password(candidate.password_hash, password):
            return Login(user.id, user.username, candidate.id, candidate.password_hash)
    if verify_password(user.password_hash, password):
        return Login(user.id, user.username, None, user.password_hash)
    return None


def authenticate_person(session: Session, identifier: str, password: str) -> User | None:
    """The active user whose user name or e-mail address is ``identifier``
    and whose own password is ``password`` (app passwords are for devices
    only and never open the web).  Notes the time of the login.

    One argon2 verification in every outcome, like :func:`authenticate`.
    """
    name = identifier.strip()
    user = get_user(session, name)
    if user is None and "@" in name:
        user = session.scalars(
            select(User).where(func.lower(User.email) == name.casefold())
        ).first()
    if user is None or not user.is_active:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    session.flush()
    return user


def record_app_password_use(session: Session, app_password_id: int) -> None:
    """Note that a device just used its app password (shown on the devices page)."""
    row = session.get(AppPassword, app_password_id)
    if row is not None:
        row.last_used_at = utcnow()
        session.flush()


# Run on every DAV request of a cached login: built once, no ORM objects.
# The user's module seats come along (one row per seat): the rights plugin
# needs them on the same request, so the re-check costs no extra query.
_USER_CREDENTIAL = (
    select(User.username, User.is_active, User.password_hash, UserModule.module)
    .outerjoin(UserModule, UserModule.user_id == User.id)
    .where(User.id == bindparam("uid"))
)
_APP_PASSWORD_CREDENTIAL = select(AppPassword.revoked_at, AppPassword.password_hash).where(
    AppPassword.id == bindparam("aid")
)
_USER_CREDENTIAL_FAST = Prepared(_USER_CREDENTIAL)
_APP_PASSWORD_CREDENTIAL_FAST = Prepared(_APP_PASSWORD_CREDENTIAL)


def login_seats(session: Session, login: Login) -> frozenset[str] | None:
    """The user's module seats while the credential behind ``login`` is
    unchanged and usable; ``None`` once it is not (changed password, revoked
    app password, disabled or renamed user)."""
    connection = session.connection()
    rows = _USER_CREDENTIAL_FAST.rows(connection, {"uid": login.user_id})
    if not rows:
        return None
    username, is_active, password_hash, _ = rows[0]
    if not is_active or username != login.username:
        return None
    if login.app_password_id is None:
        valid = password_hash == login.fingerprint
    else:
        row = _APP_PASSWORD_CREDENTIAL_FAST.first(connection, {"aid": login.app_password_id})
        valid = row is not None and row[0] is None and row[1] == login.fingerprint
    return frozenset(module for *_, module in rows if module is not None) if valid else None


def create_app_password(
    session: Session,
    username: str,
    name: str,
    *,
    actor: audit.Actor = audit.SYSTEM,
    via: str | None = None,
) -> NewAppPassword:
    """A new app password for one device; ``via`` tells the audit log how it
    was handed out when that was not on screen (e.g. inside a profile)."""
    user = require_user(session, username)
    label = name.strip()
    if not label or len(label) > 100:
        raise ValidationError("name the device in 1 to 100 characters", field="name")
    lookup = secrets.token_hex(APP_PASSWORD_LOOKUP_LENGTH // 2)
    password = lookup + generate_password(24)
    row = AppPassword(
        user_id=user.id, name=label, lookup=lookup, password_hash=hash_password(password)
    )
    session.add(row)
    session.flush()
    details: dict[str, str] = {"device": label}
    if via is not None:
        details["via"] = via
    audit.record(session, actor, "app_password.create", "user", username, details)
    return NewAppPassword(id=row.id, name=label, password=password, created_at=row.created_at)


def list_app_passwords(session: Session, username: str) -> list[AppPassword]:
    user = require_user(session, username)
    return list(
        session.scalars(
            select(AppPassword)
            .where(AppPassword.user_id == user.id)
            .order_by(AppPassword.created_at)
        )
    )


def revoke_app_password(
    session: Session, username: str, app_password_id: int, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    user = require_user(session, username)
    row = session.get(AppPassword, app_password_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError("no such app password")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor, "app_password.revoke", "user", username, {"device": row.name})


def visible_users(session: Session, username: str, name: str | None = None) -> list[User]:
    """The active users ``username`` may find in a principal search.

    Administrators see everybody; others see themselves and the members of
    their groups (with all parent groups), enough to invite colleagues
    without listing the whole company to everyone.  ``name`` matches user
    name, display name or e-mail, case-insensitively.
    """
    me = get_user(session, username)
    if me is None or not me.is_active:
        return []
    query = select(User).where(User.is_active.is_(True))
    if not me.is_admin:
        groups = effective_group_ids(session, me.id)
        members = select(GroupMembership.user_id).where(GroupMembership.group_id.in_(groups))
        query = query.where((User.id == me.id) | User.id.in_(members))
    if name:
        pattern = f"%{name.casefold()}%"
        query = query.where(
            func.lower(User.username).like(pattern)
            | func.lower(User.display_name).like(pattern)
            | func.lower(func.coalesce(User.email, "")).like(pattern)
        )
    return list(session.scalars(query.order_by(User.username).limit(200)))
