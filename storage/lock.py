"""``acquire_lock``: one database transaction per DAV request.

Readers ("r") run in a deferred/read transaction and never wait for a
writer (SQLite WAL, PostgreSQL MVCC).  A writer ("w") on SQLite starts with
``BEGIN IMMEDIATE``, which serialises writers; on PostgreSQL it takes a
transaction-scoped advisory lock on each collection the request touches, so
Radicale's If-Match check and the write that follows are atomic across
processes and hosts, while writers to other collections proceed.  A write
that may touch other users' collections (scheduling, MOVE) takes the
scheduling lock before any collection lock (see ``_may_touch_others``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from kmdav.dav import repository
from kmdav.dav.context import request_read_session, session_scope, state
from kmdav.scheduling import itip

if TYPE_CHECKING:
    from kmdav.db import Database


class StorageLockMixin:
    database: Database

    @contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        if state.session is not None:  # already inside this request's transaction
            yield
            return
        if mode != "w" and state.in_request:
            # The request's read snapshot serves the read lock and lives on
            # for the answer Radicale builds after unlocking (see
            # ``request_read_session``): one snapshot, one connection.
            state.session = request_read_session(self.database)
            try:
                yield
            finally:
                state.session = None
            return
        # A writer must see the newest state: drop the read snapshot first.
        state.close_read_session()
        with self.database.transaction("write" if mode == "w" else "read") as session:
            state.session = session
            try:
                if mode == "w" and session.get_bind().dialect.name == "postgresql":
                    self._lock_collections(
                        session,
                        kwargs.get("path"),
                        kwargs.get("to_path"),
                        many=_may_touch_others(
                            str(kwargs.get("request", "")), str(kwargs.get("path") or "")
                        ),
                    )
                yield
            finally:
                state.session = None
                state.cache.clear()

    def _lock_collections(self, session: Session, *paths: Any, many: bool) -> None:
        keys = {self._lock_key(session, p) for p in paths if p}
        repository.lock_collections(session, keys, many=many)

    def _lock_key(self, session: Session, path: str) -> str:
        parts = [p for p in path.strip("/").split("/") if p][:2]
        return self.real_collection_path("/".join(parts))  # type: ignore[attr-defined,no-any-return]

    def session(self) -> AbstractContextManager[Session]:
        """The request's transaction, or a short read transaction outside it.

        Radicale builds PROPFIND and REPORT answers after releasing the lock
        and may still ask a collection for its items then.
        """
        return session_scope(self.database)


def _may_touch_others(request: str, path: str) -> bool:
    """Whether a write may go on to lock collections other than its own:
    implicit scheduling on PUT (a body with ORGANIZER, or one we cannot
    scan) and DELETE (the deleted object may be a meeting), and MOVE.  Such
    a write takes the scheduling lock first (``repository.lock_scheduling``),
    so two of them never wait on each other's collections (the deadlock of
    two users inviting each other at once on PostgreSQL)."""
    if request == "PUT":
        stash = state.put_body
        return stash is None or itip.may_schedule(stash[1])
    if request == "DELETE":
        return not path.endswith(".vcf")  # a card never schedules
    return request == "MOVE"
