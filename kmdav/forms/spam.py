"""Spam defence of public forms, without cookies or a captcha.

- A *time token*: the form page carries a signed timestamp (itsdangerous,
  the server's secret, its own salt) naming the form.  A submission sooner
  than ``min_fill_seconds`` after the page was served is refused (bots fill
  at once), one older than ``max_age_seconds`` too (the visitor reloads).
  An embed snippet pasted into another site carries a *snippet* token,
  valid much longer and without the minimum time (static HTML cannot carry
  a fresh time); the snippet's small script swaps it for a fresh page token
  when the embedding page loads, so visitors with script get the full check.
- A *honeypot*: a field people never see (``hidden``) that bots fill in.
- A rate limit per client address, in memory per process (like the login
  throttle): with N processes an address gets at most N times the allowance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.errors import ValidationError
from kmdav.settings import FormsSettings

#: The field people never see; a value in it marks the sender as a bot.
HONEYPOT_FIELD = "website"
TOKEN_FIELD = "_t"  # noqa: S105 (a form field name, not a secret)
_SALT = "kmdav.forms.token"
PAGE, SNIPPET = "page", "snippet"


class TooFast(ValidationError):
    """Sent sooner than the minimum fill time after the page was served."""


@dataclass(frozen=True)
class TokenCheck:
    """An accepted token: page or snippet, and its age in seconds."""

    kind: str
    age: float


class TimeTokens:
    def __init__(self, secret: str, settings: FormsSettings) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.settings = settings

    def issue(self, public_id: str, kind: str = PAGE) -> str:
        return self._serializer.dumps({"f": public_id, "k": kind})

    def check(self, public_id: str, token: str, *, now: float | None = None) -> TokenCheck:
        """The token's kind and age; :class:`ValidationError` (field ``_t``)
        when it is forged, for another form, too old or too fresh."""
        expired = ValidationError(
            "This form has expired. Please check your entries and send it again.",
            field=TOKEN_FIELD,
        )
        unverified = ValidationError(
            "This form could not be verified. Please reload the page and send it again.",
            field=TOKEN_FIELD,
        )
        try:
            payload, signed_at = self._serializer.loads(token, return_timestamp=True)
        except BadSignature:
            raise unverified from None
        if not isinstance(payload, dict) or payload.get("f") != public_id:
            raise unverified
        kind = SNIPPET if payload.get("k") == SNIPPET else PAGE
        age = (now if now is not None else time.time()) - signed_at.timestamp()
        limit = (
            self.settings.snippet_max_age_seconds
            if kind == SNIPPET
            else self.settings.max_age_seconds
        )
        if age > limit:
            raise expired
        if kind == PAGE and age < self.settings.min_fill_seconds:
            raise TooFast(
                "This form was sent too quickly. Please wait a few seconds and send it again.",
                field=TOKEN_FIELD,
            )
        return TokenCheck(kind, age)


class SubmissionLimit:
    """Submissions per client address in a sliding window (every attempt counts)."""

    def __init__(self, settings: FormsSettings) -> None:
        self._counts = LoginThrottle(settings.submissions_allowed, settings.window_seconds)

    def retry_after(self, address: str) -> int:
        """Seconds until this address may send again; 0: now."""
        return self._counts.retry_after("", address)

    def count(self, address: str) -> None:
        self._counts.failed("", address)
