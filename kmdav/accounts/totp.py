"""Time-based one-time passwords (RFC 6238) for the web login's second factor.

Pure code, no I/O: 30-second steps, 6 digits, HMAC-SHA-1 -- the parameters
every authenticator app understands without being told.  A code is the
HOTP value (RFC 4226 section 5.3) of the number of steps since the Unix
epoch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
#: RFC 6238 section 5.2: accept one step either side for clock drift.
DRIFT_STEPS = 1
#: 160 bits, the HMAC-SHA-1 block RFC 4226 section 4 recommends (R6).
SECRET_BYTES = 20
ISSUER = "kmdav"


def new_secret() -> str:
    """A random shared secret in base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    """The code for one time step (RFC 4226 section 5.3, dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step off), else ``None``.

    The caller refuses a step it has already accepted, so one code cannot be
    used twice (RFC 6238 section 5.2).
    """
    typed = code.replace(" ", "")
    if len(typed) != DIGITS or not typed.isdigit():
        return None
    here = current_step(now)
    for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), typed):
            return step
    return None


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from a QR code
    (the de-facto format of Google Authenticator's "Key Uri Format")."""
    label = quote(f"{ISSUER}:{account}", safe=":@")
    query = urlencode(
        {
            "secret": secret,
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        }
    )
    return f"otpauth://totp/{label}?{query}"
