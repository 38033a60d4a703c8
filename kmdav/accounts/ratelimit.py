"""Failed-login throttling per (user name, client address).

In memory, per process: each worker keeps its own counts, so with N
workers an attacker gets at most N times the allowance, still far too few
tries to guess a password.  Successful logins clear the count.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    def __init__(self, allowed: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.allowed = allowed
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, user: str, address: str) -> int:
        """Seconds until the next try is allowed; 0 when it is allowed now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent((user.casefold(), address), now)
            if len(times) < self.allowed:
                return 0
            return max(1, int(times[0] + self.window - now + 1))

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        key = (user.casefold(), address)
        with self._lock:
            if len(self._failures) >= self.max_keys and key not in self._failures:
                # Bounded memory: forget the oldest entry first.
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user.casefold(), address), None)
