"""Schema upgrades through Alembic, callable from the CLI, the server and tests."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

#: Search structures the migrations make outside the models (SQLite FTS5 and
#: its shadow tables, PostgreSQL's expression index): not compared.
UNMODELLED_PREFIXES = ("contacts_fts", "ix_contacts_fulltext")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: leave the search structures alone."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("kmdav") / "migrations"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Bring the schema to ``target``; a no-op when it is there already.

    On PostgreSQL an advisory lock makes concurrent starters wait for the
    first one instead of racing to create the same tables.
    """
    cfg = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, target)


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
