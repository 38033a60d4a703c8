"""Job kinds for the tests, and a committed database (the runner commits)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from kmdav import audit
from kmdav.db import Database
from kmdav.jobs import JobContext, JobFailed, job_kind
from kmdav.models import AuditEntry, Job, utcnow
from kmdav.settings import JobsSettings, Settings
from tests.conftest import TEST_SECRET

#: The item a "test.items" job crashes in, on its first attempt, by key.
CRASH_AT: dict[str, int] = {}


@job_kind("test.items", max_attempts=3, retry_delay=0.1)
def write_items(ctx: JobContext) -> dict[str, Any]:
    """Writes one audit row per item, one transaction per item with its checkpoint."""
    count = int(ctx.payload["count"])
    for index in range(ctx.done, count):
        with ctx.transaction() as session:
            audit.record(session, audit.SYSTEM, "test.item", object_id=f"{ctx.key}:{index}")
            if CRASH_AT.get(ctx.key) == index and ctx.attempt == 1:
                raise RuntimeError(f"crash in item {index}")
            ctx.checkpoint(session, done=index + 1, total=count, message=f"item {index}")
    return {"items": count}


@job_kind("test.overtaken")
def overtaken(ctx: JobContext) -> None:
    """Goes past its lease: another run claims the job before this one's checkpoint."""
    with ctx.transaction() as session:
        job = session.get(Job, ctx.job_id)
        assert job is not None
        job.attempts += 1
        job.lease_until = utcnow() + timedelta(seconds=60)
    with ctx.transaction() as session:
        audit.record(session, audit.SYSTEM, "test.item", object_id=f"{ctx.key}:late")
        ctx.checkpoint(session, done=1)


@job_kind("test.fail", max_attempts=2, retry_delay=0.1)
def fail_always(ctx: JobContext) -> None:
    if ctx.payload.get("permanent"):
        raise JobFailed("cannot ever work")
    raise RuntimeError(f"attempt {ctx.attempt} broke")


def items_written(database: Database, key: str) -> list[str]:
    with database.transaction("read") as session:
        return list(
            session.scalars(
                select(AuditEntry.object_id)
                .where(AuditEntry.action == "test.item", AuditEntry.object_id.like(f"{key}:%"))
                .order_by(AuditEntry.id)
            )
        )


def count_items(database: Database, key: str) -> int:
    with database.transaction("read") as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.object_id.like(f"{key}:%"))
            )
            or 0
        )


def new_key() -> str:
    return "k-" + secrets.token_hex(6)


@pytest.fixture
def database(engine: Engine, database_url: str) -> Iterator[Database]:
    """The migrated test database, for code that commits (keys keep tests apart)."""
    db = Database(database_url)
    db.open()
    yield db
    db.close()


@pytest.fixture
def job_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=TEST_SECRET,
        jobs=JobsSettings(lease_seconds=30),
    )
