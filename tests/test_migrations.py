"""Migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from kmdav import migrate
from kmdav.dav import service
from kmdav.db import make_engine
from kmdav.errors import ConfigError
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


def test_item_bodies_move_last_and_nothing_is_lost(tmp_path: Path) -> None:
    """0013 on SQLite: the body becomes the last column of ``dav_items``
    (columns after a long body are read through its overflow pages), every
    row keeps its body, and the contacts projected from the items survive
    (rebuilding the table would have cascaded to them)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "\r\n ".join(["QUJD" * 18] * 3000)
    cards = [
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u{i}\r\nFN:Card {i}\r\n{extra}END:VCARD\r\n"
        for i, extra in enumerate(["", photo + "\r\n"])
    ]
    try:
        migrate.upgrade(engine, "0012")
        with Session(engine) as session, session.begin():
            book, _, _ = service.create_collection(
                session, "u/book", owner_id=None, props={"tag": "VADDRESSBOOK"}
            )
            for index, text_ in enumerate(cards):
                obj = service.DavObject(text_, f"u{index}", "VCARD", 0, 0)
                service.store_item(session, book, f"{index}.vcf", obj)
        before = _query(engine, _ITEM_ROWS)
        contacts = _query(engine, "SELECT item_id, formatted_name FROM contacts ORDER BY id")
        migrate.upgrade(engine)
        columns = [row[1] for row in _query(engine, "PRAGMA table_info(dav_items)")]
        assert columns[-1] == "body"
        assert columns.count("body") == 1
        assert _query(engine, _ITEM_ROWS) == before
        assert [row[-1] for row in before] == cards
        assert _query(engine, "SELECT item_id, formatted_name FROM contacts ORDER BY id") == (
            contacts
        )
        assert [name for _, name in contacts] == ["Card 0", "Card 1"]
    finally:
        engine.dispose()


_ITEM_ROWS = (
    "SELECT id, collection_id, href, uid, etag, component, dtstart, dtend, revision,"
    " modified_at, time_ranges, body FROM dav_items ORDER BY id"
)


def _query(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


def test_too_old_sqlite_is_refused_with_both_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RETURNING and DROP COLUMN need SQLite 3.35: an older library gets a
    message naming both versions before anything is opened or written."""
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    path = tmp_path / "old.sqlite3"
    with pytest.raises(ConfigError, match=r"SQLite 3\.35\.0 or newer; .* uses SQLite 3\.34\.1"):
        make_engine(f"sqlite:///{path}")
    assert not path.exists()
    monkeypatch.undo()
    make_engine(f"sqlite:///{path}").dispose()


def test_sqlite_pool_hands_out_the_connection_returned_last(tmp_path: Path) -> None:
    """Requests one after another reuse one connection and its page cache."""
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}")
    try:
        first, second = engine.connect(), engine.connect()
        first_raw = first.connection.driver_connection
        second_raw = second.connection.driver_connection
        first.close()
        second.close()
        with engine.connect() as again:
            assert again.connection.driver_connection is second_raw
        assert first_raw is not second_raw
    finally:
        engine.dispose()
