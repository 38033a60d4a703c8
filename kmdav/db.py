"""Engines, sessions and transactions.

SQLite is the embedded default: WAL so readers never wait for the writer,
foreign keys on, a busy timeout instead of instant ``database is locked``
errors, and ``synchronous=FULL`` so a commit that returned survives a power
loss.  The stdlib driver's own transaction handling is switched off and we
emit ``BEGIN`` ourselves: a write transaction starts with ``BEGIN IMMEDIATE``
so two writers queue on the busy timeout instead of deadlocking when both try
to upgrade a read lock.

PostgreSQL runs through psycopg 3 at READ COMMITTED; write paths that must be
serialised lock the row they depend on (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from kmdav.errors import ConfigError

TxMode = Literal["read", "write"]

#: ``RETURNING`` (every DAV write) and ``ALTER TABLE ... DROP COLUMN``
#: (migration 0013) arrived in SQLite 3.35 (2021).
SQLITE_MIN_VERSION = (3, 35, 0)
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: SQLite: hand out the connection returned last.  A request uses one
#: connection at a time (the read snapshot is closed before the write
#: opens), so requests one after another keep using one connection, its
#: page cache and its memory map.  In first-in-first-out order each checkout
#: got the connection idle longest, whose page cache the writes since had
#: made stale and whose map had to fault the changed pages in again: a card
#: PUT over HTTP took 2.5 ms of server CPU (0.6 ms of it in the kernel)
#: instead of 2.2 ms (0.4 ms), 297 against 327 PUT/s.  (On PostgreSQL the
#: order made no difference measurable here.)
POOL_LIFO = True
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
SQLITE_CACHE_KIB = 8 * 1024


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine for ``url`` with kmdav's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=20,
        max_overflow=30,
    )


def check_sqlite_version() -> None:
    """Refuse an SQLite library too old for kmdav's statements, with a
    message that says which one Python has, instead of a syntax error on
    the first write."""
    version = sqlite3.sqlite_version_info
    if version < SQLITE_MIN_VERSION:
        wanted = ".".join(map(str, SQLITE_MIN_VERSION))
        found = ".".join(map(str, version))
        raise ConfigError(
            f"kmdav needs SQLite {wanted} or newer; this Python uses SQLite {found}. "
            "Use a Python built with a newer SQLite, or PostgreSQL (KMDAV_DATABASE_URL)."
        )


def _make_sqlite_engine(url: str, *, echo: bool) -> Engine:
    check_sqlite_version()
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_use_lifo=POOL_LIFO,
        pool_size=20,
        max_overflow=30,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the driver (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=FULL")
            # Reads through memory-mapped pages (shared by all connections via
            # the OS page cache) and a larger private cache for index pages:
            # a 10,000-card book then no longer slows every lookup.
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("kmdav_tx", "write")
        if mode == "write":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # A deferred BEGIN takes no lock and cannot fail on a busy
            # database: the driver's cursor spares SQLAlchemy's execution
            # machinery on every DAV read (see ``kmdav.fastsql``).
            connection.connection.driver_connection.execute("BEGIN")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session], mode: TxMode = "write") -> Iterator[Session]:
    """One session in one transaction: committed on success, rolled back on error.

    ``mode="read"`` starts a deferred transaction on SQLite so readers never
    queue behind a writer; on PostgreSQL the mode only documents intent.
    """
    session = factory()
    try:
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={"kmdav_tx": mode})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect().execution_options(kmdav_tx="read") as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not healthy"
        return False
    return True


def redacted(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """The process's engine and session factory, opened by the app's lifespan.

    Created before the engine exists so that the faces mounted at start-up
    (the DAV storage plugin among them) can hold on to it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def open(self) -> None:
        if self._engine is None:
            self._engine = make_engine(self.url)
            self._sessions = make_sessionmaker(self._engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._sessions = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the database is not open (the app's lifespan opens it)")
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            raise RuntimeError("the database is not open (the app's lifespan opens it)")
        return self._sessions

    def transaction(self, mode: TxMode = "write") -> AbstractContextManager[Session]:
        return transaction(self.sessions, mode)
