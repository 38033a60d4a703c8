"""``acquire_lock``: one database transaction per DAV request.

Readers ("r") run in a deferred/read transaction and never wait for a
writer (SQLite WAL, PostgreSQL MVCC).  A writer ("w") on SQLite starts with
``BEGIN IMMEDIATE``, which serialises writers; on PostgreSQL it takes a
transaction-scoped advisory lock on each collection the request touches, so
Radicale's If-Match check and the write that follows are atomic across
processes and hosts, while writers to other collections proceed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from kmdav.dav.context import session_scope, state

if TYPE_CHECKING:
    from kmdav.db import Database


class StorageLockMixin:
    database: Database

    @contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        if state.session is not None:  # already inside this request's transaction
            yield
            return
        state.close_read_session()
        if mode != "w" and state.in_request:
            with self._read_snapshot():
                yield
            return
        with self.database.transaction("write" if mode == "w" else "read") as session:
            state.session = session
            try:
                if mode == "w" and session.get_bind().dialect.name == "postgresql":
                    self._lock_collections(session, kwargs.get("path"), kwargs.get("to_path"), user)
                yield
            finally:
                state.session = None
                state.cache.clear()

    @contextmanager
    def _read_snapshot(self) -> Iterator[None]:
        """A read lock whose transaction lives on as the request's read session.

        Radicale builds PROPFIND and REPORT answers after releasing the lock,
        and item bodies load lazily then (``getcontentlength``, address-data
        of a query).  Reading them in a new transaction paired the ETags of one
        state with the bodies of a later one, and a card deleted in between
        made the whole listing fail with 500.  Keeping the lock's snapshot to
        the end of the request (``end_request`` closes it) answers from one
        state: SQLite's deferred read transaction is a snapshot already, on
        PostgreSQL it takes REPEATABLE READ (a reader never waits or fails).
        """
        session = self.database.sessions()
        try:
            if session.get_bind().dialect.name == "sqlite":
                session.connection(execution_options={"kmdav_tx": "read"})
            else:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            state.session = session
            try:
                yield
            finally:
                state.session = None
                state.cache.clear()
        except BaseException:
            session.close()
            raise
        state.read_session = session

    def _lock_collections(self, session: Session, *paths: Any) -> None:
        keys = sorted({self._lock_key(session, p) for p in paths if p})
        for key in keys:
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})

    def _lock_key(self, session: Session, path: str) -> str:
        parts = [p for p in path.strip("/").split("/") if p][:2]
        return self.real_collection_path("/".join(parts))  # type: ignore[attr-defined,no-any-return]

    def session(self) -> AbstractContextManager[Session]:
        """The request's transaction, or a short read transaction outside it.

        Radicale builds PROPFIND and REPORT answers after releasing the lock
        and may still ask a collection for its items then.
        """
        return session_scope(self.database)
