"""The optional TOTP second factor of the web login, and its recovery codes.

Only the web login asks for it: DAV logins with the account password or an
app password are unaffected (app passwords are how devices get in).

Enrolment is two steps: :func:`start_enrolment` stores a new secret that is
not yet a factor; :func:`confirm_enrolment` checks a code computed from it,
switches the factor on and hands out ten recovery codes, shown once.

Functions take an open session and flush; the caller's transaction commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import totp
from kmdav.accounts.passwords import verify_password
from kmdav.accounts.service import require_user_by_id
from kmdav.errors import ValidationError
from kmdav.models import RecoveryCode, User, utcnow

RECOVERY_CODE_COUNT = 10
#: No look-alikes (0/o, 1/l/i): people copy these from paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4

TOTP = "totp"
RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True)
class SecondFactor:
    """A second factor that was just accepted: which kind, and for a
    recovery code how many unused ones remain."""

    kind: str
    recovery_codes_left: int = 0


def is_enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and user.totp_secret is not None


def start_enrolment(session: Session, user_id: int) -> str:
    """A new secret for the user's authenticator app; not a factor until confirmed."""
    user = require_user_by_id(session, user_id)
    if is_enabled(user):
        raise ValidationError("two-factor login is already on")
    user.totp_secret = totp.new_secret()
    user.totp_last_step = None
    session.flush()
    return user.totp_secret


def confirm_enrolment(
    session: Session, user_id: int, code: str, *, actor: audit.Actor = audit.SYSTEM
) -> list[str]:
    """Switch the factor on once ``code`` matches the pending secret; the
    new recovery codes are returned to be shown once."""
    user = require_user_by_id(session, user_id)
    if is_enabled(user):
        raise ValidationError("two-factor login is already on")
    if user.totp_secret is None:
        raise ValidationError("start the set-up again", field="code")
    if not _accept_totp(session, user, code):
        raise ValidationError(
            "that code does not match; check the phone's clock and type the newest code",
            field="code",
        )
    user.totp_enabled_at = utcnow()
    session.flush()
    codes = _replace_recovery_codes(session, user)
    audit.record(session, actor, "totp.enable", "user", user.username)
    return codes


def disable(
    session: Session, user_id: int, password: str, code: str, *, actor: audit.Actor = audit.SYSTEM
) -> None:
    """Switch the factor off; asks for the account password and a current code."""
    user = require_user_by_id(session, user_id)
    if not is_enabled(user):
        raise ValidationError("two-factor login is not on")
    if not verify_password(user.password_hash, password):
        raise ValidationError("the password is wrong", field="password")
    if not _accept_totp(session, user, code):
        raise ValidationError("that code does not match", field="code")
    _clear(session, user)
    audit.record(session, actor, "totp.disable", "user", user.username)


def reset_by_admin(session: Session, user_id: int, *, actor: audit.Actor) -> bool:
    """Switch the factor off for a user who lost their phone; ``False``
    when it was not on (nothing to do, nothing audited)."""
    user = require_user_by_id(session, user_id)
    if user.totp_secret is None and user.totp_enabled_at is None:
        return False
    _clear(session, user)
    audit.record(session, actor, "totp.reset", "user", user.username)
    return True


def regenerate_recovery_codes(
    session: Session, user_id: int, *, actor: audit.Actor = audit.SYSTEM
) -> list[str]:
    """Ten fresh codes; every older code stops working."""
    user = require_user_by_id(session, user_id)
    if not is_enabled(user):
        raise ValidationError("two-factor login is not on")
    codes = _replace_recovery_codes(session, user)
    audit.record(session, actor, "totp.recovery_codes_regenerated", "user", user.username)
    return codes


def unused_recovery_codes(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def verify(session: Session, user_id: int, code: str) -> SecondFactor | None:
    """The factor ``code`` proves: a TOTP code not used before, or an unused
    recovery code (which is then spent); ``None`` when it proves nothing."""
    user = require_user_by_id(session, user_id)
    if not is_enabled(user):
        return None
    if _accept_totp(session, user, code):
        return SecondFactor(TOTP)
    if _spend_recovery_code(session, user, code):
        return SecondFactor(RECOVERY_CODE, unused_recovery_codes(session, user.id))
    return None


# -- internals ------------------------------------------------------------------


def _accept_totp(session: Session, user: User, code: str) -> bool:
    """True when ``code`` is valid now and its step is newer than the last
    one accepted.  The conditional UPDATE is the replay guard: of two
    requests racing with one code, on any number of processes, one wins."""
    assert user.totp_secret is not None
    step = totp.matching_step(user.totp_secret, code)
    if step is None:
        return False
    won = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    accepted: bool = won.rowcount == 1  # type: ignore[attr-defined]
    if accepted:
        user.totp_last_step = step
    return accepted


def _clear(session: Session, user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()


def _normalise(code: str) -> str:
    return "".join(char for char in code.lower() if char.isalnum())


def _recovery_hash(code: str) -> str:
    # SHA-256 rather than argon2: each code has about 59 bits of randomness
    # (12 characters from 31), so no dictionary helps and a stolen table
    # cannot be searched in useful time; a fast hash also lets a login find
    # the matching row with one indexed lookup instead of ten argon2 runs.
    return hashlib.sha256(_normalise(code).encode("ascii", "ignore")).hexdigest()


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LENGTH))
        for _ in range(_RECOVERY_GROUPS)
    )
    return "-".join(groups)


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(code)) for code in codes)
    session.flush()
    return codes


def _spend_recovery_code(session: Session, user: User, code: str) -> bool:
    typed = _normalise(code)
    if len(typed) != _RECOVERY_GROUPS * _RECOVERY_GROUP_LENGTH:
        return False
    spent = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(typed),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    used: bool = spent.rowcount == 1  # type: ignore[attr-defined]
    return used
