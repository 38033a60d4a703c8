"""DAV logins: kmdav users with their password or a per-device app password.

Clients send Basic credentials on every request; argon2 on each would cap a
worker at a few dozen requests per second.  A verified login is cached for a
short while and re-checked with one indexed query per request, so revoking an
app password or disabling a user takes effect at the device's next request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from radicale import auth as radicale_auth
from radicale import config as radicale_config

from kmdav.accounts import service as accounts
from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.dav import access
from kmdav.dav.context import session_scope, state
from kmdav.db import Database

#: How often "last used" of an app password is written on cached logins.
TOUCH_INTERVAL = 60.0


@dataclass
class _Cached:
    login: accounts.Login
    groups: set[str]
    expires: float
    touched: float


class Auth(radicale_auth.BaseAuth):
    def __init__(
        self,
        configuration: radicale_config.Configuration,
        database: Database,
        throttle: LoginThrottle,
        cache_seconds: float,
    ) -> None:
        super().__init__(configuration)
        self.database = database
        self.throttle = throttle
        self.cache_seconds = cache_seconds
        self._salt = secrets.token_bytes(16)
        self._cache: dict[tuple[str, bytes], _Cached] = {}
        self._cache_lock = threading.Lock()

    def _sleep_for_constant_exec_time(self, time_ns_begin: int) -> None:
        # Radicale pads failures to the slowest failure ever seen in the
        # process; argon2 against a dummy hash already makes our failures
        # cost the same as successes, so no padding (and no stalled worker).
        return

    def _login_ext_with_groups(
        self, login: str, password: str, context: radicale_auth.AuthContext
    ) -> tuple[str, set[str]]:
        address = context.remote_addr or ""
        if not login or not password:
            return "", set()
        key = (login, hashlib.sha256(self._salt + password.encode()).digest())
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(key)
        with session_scope(self.database) as session:
            if cached is not None and cached.expires > now:
                modules = accounts.login_seats(session, cached.login)
                if modules is not None:
                    # The rights plugin reads them on this request (``dav_seats``).
                    state.cache[access.KNOWN_SEATS, cached.login.username] = (
                        cached.login.user_id,
                        modules,
                    )
                    if cached.login.app_password_id is not None and (
                        now - cached.touched > TOUCH_INTERVAL
                    ):
                        cached.touched = now
                        self._touch(cached.login.app_password_id)
                    return cached.login.username, cached.groups
                with self._cache_lock:
                    self._cache.pop(key, None)
            verified = accounts.authenticate(session, login, password)
            if verified is None:
                self.throttle.failed(login, address)
                return "", set()
            groups = access.group_names(
                session, access.effective_group_ids(session, verified.user_id)
            )
        self.throttle.succeeded(login, address)
        if verified.app_password_id is not None:
            self._touch(verified.app_password_id)
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = _Cached(verified, groups, now + self.cache_seconds, now)
        return verified.username, groups

    def _touch(self, app_password_id: int) -> None:
        with self.database.transaction() as session:
            accounts.record_app_password_use(session, app_password_id)
