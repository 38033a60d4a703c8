"""Migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from kmdav import migrate
from kmdav.db import make_engine
from kmdav.models import Base
from tests.databases import throwaway_database


def test_schema_matches_models(engine: Engine) -> None:
    """The same comparison `alembic check` makes: no differences."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": migrate.include_name}
        )
        assert compare_metadata(context, Base.metadata) == []
    assert migrate.is_current(engine)


def test_downgrade_to_nothing_and_up_again(backend: str, tmp_path: Path) -> None:
    with throwaway_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            cfg = migrate.alembic_config()
            with engine.begin() as connection:
                cfg.attributes["connection"] = connection
                command.downgrade(cfg, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            migrate.upgrade(engine)
            assert "dav_items" in inspect(engine).get_table_names()
        finally:
            engine.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 2,
    }
