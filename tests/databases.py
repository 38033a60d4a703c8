"""Throwaway databases for tests: SQLite files always, PostgreSQL when configured.

``KMDAV_TEST_DATABASE_URL`` names a PostgreSQL database the tests may use as
a base: every test database is created next to it (``<base>_<suffix>``) and
dropped afterwards, so parallel workers never share state.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "KMDAV_TEST_DATABASE_URL"


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def _pg_base_url() -> str:
    url = os.environ[PG_ENV]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def throwaway_database(backend: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database; remove it afterwards."""
    if backend == "sqlite":
        path = workdir / f"test-{secrets.token_hex(4)}.sqlite3"
        yield f"sqlite:///{path}"
        return
    base = make_url(_pg_base_url())
    name = f"{base.database}_{secrets.token_hex(5)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
