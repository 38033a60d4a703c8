"""Alembic environment: runs on the connection kmdav hands over.

``kmdav.migrate`` passes an open connection in ``config.attributes``; the
``alembic`` command line (for ``alembic check``/``revision``) falls back to
the database of the current kmdav settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kmdav.migrate import include_name
from kmdav.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from kmdav.db import make_engine
    from kmdav.settings import load_settings

    engine = make_engine(load_settings().effective_database_url)
    try:
        with engine.connect() as fresh:
            _run(fresh)
            fresh.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("kmdav migrations run online only")
run_online()
