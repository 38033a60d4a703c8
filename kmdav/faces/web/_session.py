"""Signed session cookies and the CSRF token they carry.

The browser keeps the whole session: a small JSON document signed with the
server's secret key (itsdangerous) and stamped with the time it was issued,
so it expires without server-side state and any kmdav process behind a load
balancer can read it.  Every visitor gets one (logged in or not) because the
login form needs a CSRF token too.

A login session also carries a *fingerprint* of the user's password hash:
changing the password, or disabling the user, ends every session of that
user at its next request.  The fingerprint is a digest, never the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME = "kmdav_session"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class WebSession:
    """What the cookie holds: a CSRF token and, once logged in, who."""

    csrf: str
    user_id: int | None = None
    fingerprint: str = ""

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32))

    def logged_in(self, user_id: int, password_hash: str) -> WebSession:
        # A new CSRF token at login: a token seen before the login (e.g. planted
        # by someone else on a shared machine) is worth nothing afterwards.
        return WebSession(
            csrf=secrets.token_urlsafe(32),
            user_id=user_id,
            fingerprint=password_fingerprint(password_hash),
        )

    def csrf_matches(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(self.csrf, token)


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


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
        )

    def write(self, request: Request, response: Response, session: WebSession) -> None:
        payload = {"csrf": session.csrf, "uid": session.user_id, "fp": session.fingerprint}
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
