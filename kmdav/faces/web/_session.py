"""Signed session cookies and the CSRF token they carry.

The browser keeps the whole session: a small JSON document signed with the
server's secret key (itsdangerous) and stamped with the time it was issued,
so it expires without server-side state and any kmdav process behind a load
balancer can read it.  Every visitor gets one (logged in or not) because the
login form needs a CSRF token too.

A login session also carries a *fingerprint* of the user's password hash
(and of when two-factor login was switched on):
changing the password, or disabling the user, ends every session of that
user at its next request.  The fingerprint is a digest, never the hash.

Between the password and the second factor (TOTP) a session is *pending*:
it names the user whose password was right, the fingerprint, where to go
afterwards and when the password was checked, but logs nobody in.  A
pending state older than :data:`PENDING_SECONDS` counts for nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from kmdav.models import User

COOKIE_NAME = "kmdav_session"
CSRF_FIELD = "csrf_token"
#: How long the second step of a login waits for its code.
PENDING_SECONDS = 300


@dataclass(frozen=True)
class PendingLogin:
    """A password that was right, waiting for the second factor."""

    user_id: int
    fingerprint: str
    since: int
    next_url: str

    def expired(self, now: float | None = None) -> bool:
        age = (time.time() if now is None else now) - self.since
        return not 0 <= age <= PENDING_SECONDS


@dataclass(frozen=True)
class WebSession:
    """What the cookie holds: a CSRF token and, once logged in, who."""

    csrf: str
    user_id: int | None = None
    fingerprint: str = ""
    pending: PendingLogin | None = None

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32))

    def logged_in(self, user: User) -> WebSession:
        # A new CSRF token at login: a token seen before the login (e.g. planted
        # by someone else on a shared machine) is worth nothing afterwards.
        return WebSession(
            csrf=secrets.token_urlsafe(32),
            user_id=user.id,
            fingerprint=credentials_fingerprint(user),
        )

    def awaiting_second_factor(self, user: User, next_url: str) -> WebSession:
        """Not logged in yet: the password was right, a code must follow."""
        pending = PendingLogin(user.id, credentials_fingerprint(user), int(time.time()), next_url)
        return WebSession(csrf=secrets.token_urlsafe(32), pending=pending)

    def without_pending(self) -> WebSession:
        return replace(self, pending=None)

    def csrf_matches(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(self.csrf, token)


def credentials_fingerprint(user: User) -> str:
    """A digest of what a login rests on: the password hash, and when
    two-factor login was switched on (switching it on or off ends the
    user's other sessions, as a new password does)."""
    since = user.totp_enabled_at.isoformat() if user.totp_enabled_at is not None else ""
    return hashlib.sha256(f"{user.password_hash}|{since}".encode()).hexdigest()[:24]


class SessionCodec:
    """Reads and writes the session cookie."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self.max_age = max_age_seconds
        self._serializer = URLSafeTimedSerializer(secret, salt="kmdav.web.session")

    def read(self, request: Request) -> WebSession | None:
        """The request's session; ``None`` when absent, forged or expired."""
        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        user_id = data.get("uid")
        return WebSession(
            csrf=data["csrf"],
            user_id=user_id if isinstance(user_id, int) else None,
            fingerprint=str(data.get("fp", "")),
            pending=_read_pending(data.get("pending")),
        )

    def write(self, request: Request, response: Response, session: WebSession) -> None:
        payload: dict[str, object] = {
            "csrf": session.csrf,
            "uid": session.user_id,
            "fp": session.fingerprint,
        }
        if session.pending is not None:
            pending = session.pending
            payload["pending"] = [
                pending.user_id,
                pending.fingerprint,
                pending.since,
                pending.next_url,
            ]
        response.set_cookie(
            COOKIE_NAME,
            self._serializer.dumps(payload),
            max_age=self.max_age,
            path="/web",
            httponly=True,
            samesite="lax",
            # uvicorn turns a trusted proxy's X-Forwarded-Proto into the scheme.
            secure=request.url.scheme == "https",
        )


def _read_pending(value: object) -> PendingLogin | None:
    if not isinstance(value, list) or len(value) != 4:
        return None
    user_id, fingerprint, since, next_url = value
    if not (
        isinstance(user_id, int)
        and isinstance(fingerprint, str)
        and isinstance(since, int)
        and isinstance(next_url, str)
    ):
        return None
    return PendingLogin(user_id, fingerprint, since, next_url)
