"""Per-request state, one per worker thread.

Radicale handles a request synchronously on one thread, from the WSGI call
to the response, so a thread-local carries the request's transaction and
the raw PUT body from the WSGI wrapper to ``upload``.

Reads outside Radicale's lock (login, rights, building a PROPFIND answer)
share one read transaction per request instead of opening one each; it is
closed when the lock opens the request's own transaction and at the end of
the request, so a thread holds at most one connection at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from kmdav.dav.bodies import single_object_uid

if TYPE_CHECKING:
    from kmdav.db import Database


#: Requests whose collection Radicale looks up under the write lock, in the
#: write transaction (which looks up afresh): their read snapshot needs only
#: the principal of the path, not its collection as well.
WRITING_METHODS = frozenset({"PUT", "DELETE", "MOVE", "COPY", "PROPPATCH", "MKCOL", "MKCALENDAR"})


class RequestState(threading.local):
    def __init__(self) -> None:
        self.read_session: Session | None = None
        self.reset()

    def begin_request(self) -> None:
        self.reset()
        self.in_request = True

    def end_request(self) -> None:
        self.reset()

    def close_read_session(self) -> None:
        if self.read_session is not None:
            self.read_session.close()
            self.read_session = None

    def reset(self) -> None:
        self.close_read_session()
        #: True between the WSGI guard's start and end of a DAV request.
        self.in_request = False
        #: The HTTP method of the DAV request (rights differ for MKCALENDAR).
        self.method: str = ""
        #: The collection paths the request's path names: its first segment
        #: (the principal) and its first two (a collection), e.g. ``admin``
        #: and ``admin/contacts`` for a GET of ``/admin/contacts/x.vcf``;
        #: only the principal for ``WRITING_METHODS``.
        self.request_collections: tuple[str, ...] = ()
        #: The logged-in DAV user (set by the rights plugin; for timelines).
        self.user: str = ""
        #: The transaction opened by ``acquire_lock``.
        self.session: Session | None = None
        #: (request path, body text) of a PUT, so upload can store it verbatim.
        self.put_body: tuple[str, str] | None = None
        #: The UID of ``put_body`` when it is one object (``received_uid``).
        self._put_uid: str | None = None
        self._put_uid_known = False
        #: The XML body's tree, parsed once by the WSGI guard's check.
        self.xml_request: Any = None
        #: DAV:limit/DAV:nresults of a sync-collection REPORT (RFC 6578 3.7).
        self.sync_limit: int | None = None
        #: Set by ``sync`` when it cut the result at ``sync_limit``.
        self.sync_truncated: bool = False
        #: The Schedule-Tag of what a PUT stored (RFC 6638 3.2.10), if any.
        self.schedule_tag: str | None = None
        #: Per-request caches (aliases by home, rights by path, ...).
        self.cache: dict[Any, Any] = {}

    def set_request_path(self, path: str, method: str) -> None:
        parts = [part for part in path.split("/") if part][:2]
        if method in WRITING_METHODS:
            parts = parts[:1]
        self.request_collections = tuple("/".join(parts[:n]) for n in range(1, len(parts) + 1))

    def received_uid(self) -> str | None:
        """The UID of the PUT body when it is one vCard or VCALENDAR
        (``kmdav.dav.bodies.single_object_uid``), scanned once per request."""
        if self.put_body is None:
            return None
        if not self._put_uid_known:
            self._put_uid = single_object_uid(self.put_body[1])
            self._put_uid_known = True
        return self._put_uid


state = RequestState()

#: ``Session.info`` key of the collection heads a request's read snapshot
#: has looked up (``storage.discover``); write transactions have none.
HEADS_MEMO = "kmdav.heads"


@contextmanager
def session_scope(database: Database) -> Iterator[Session]:
    """The lock's transaction when one is open, else the request's shared read
    transaction, else (outside a request) a short read transaction."""
    if state.session is not None:
        yield state.session
        return
    if state.in_request:
        yield request_read_session(database)
        return
    with database.transaction("read") as session:
        yield session


def request_read_session(database: Database) -> Session:
    """The request's read transaction, opened on first use.

    A snapshot for the rest of the request: SQLite's deferred read
    transaction is one already; on PostgreSQL it runs at REPEATABLE READ, so
    an answer Radicale builds after its lock pairs ETags and bodies of one
    state (a reader there never waits and never fails on a conflict).
    """
    if state.read_session is None:
        session = database.sessions()
        session.info[HEADS_MEMO] = {}
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={"kmdav_tx": "read"})
        else:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        state.read_session = session
    return state.read_session
