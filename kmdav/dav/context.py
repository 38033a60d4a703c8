"""Per-request state, one per worker thread.

Radicale handles a request synchronously on one thread, from the WSGI call
to the response, so a thread-local carries the request's transaction and
the raw PUT body from the WSGI wrapper to ``upload``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from kmdav.db import Database


class RequestState(threading.local):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        #: The transaction opened by ``acquire_lock``.
        self.session: Session | None = None
        #: (request path, body text) of a PUT, so upload can store it verbatim.
        self.put_body: tuple[str, str] | None = None
        #: DAV:limit/DAV:nresults of a sync-collection REPORT (RFC 6578 3.7).
        self.sync_limit: int | None = None
        #: Set by ``sync`` when it cut the result at ``sync_limit``.
        self.sync_truncated: bool = False
        #: Per-request caches (aliases by home, rights by path, ...).
        self.cache: dict[Any, Any] = {}


state = RequestState()


@contextmanager
def session_scope(database: Database) -> Iterator[Session]:
    """The request's transaction when one is open, else a short read one."""
    if state.session is not None:
        yield state.session
        return
    with database.transaction("read") as session:
        yield session
