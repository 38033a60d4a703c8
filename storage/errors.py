"""The one place where kmdav's domain errors become what Radicale understands.

Radicale maps a ``ValueError`` from a storage call to 400, and one whose
message carries ``[Errno 13]`` to 403 (and ``[Errno 28]`` to 507).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from kmdav.errors import KmdavError, PermissionDeniedError, ValidationError


class ProtectedError(ValueError):
    """Refused outright: Radicale answers 403 Forbidden."""

    def __init__(self, message: str) -> None:
        super().__init__(f"[Errno {errno.EACCES}] {message}")


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except PermissionDeniedError as exc:
        raise ProtectedError(str(exc)) from exc
    except ValidationError as exc:
        if "protected" in str(exc):
            raise ProtectedError(str(exc)) from exc
        raise ValueError(str(exc)) from exc
    except KmdavError as exc:
        raise ValueError(str(exc)) from exc
