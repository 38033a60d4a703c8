"""enqueue is idempotent by natural key; visibility, cancel and recovery."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from kmdav import jobs
from kmdav.accounts import service as accounts
from kmdav.db import Database
from kmdav.errors import NotFoundError, ValidationError
from kmdav.jobs import service
from kmdav.models import Job, utcnow
from tests.jobs.conftest import new_key


def test_same_key_is_the_same_job(session: Session) -> None:
    key = new_key()
    first = jobs.enqueue(session, "test.items", key, {"count": 1})
    again = jobs.enqueue(session, "test.items", key, {"count": 99})
    assert again.id == first.id
    assert again.payload == {"count": 1}
    other_kind = jobs.enqueue(session, "test.fail", key)
    assert other_kind.id != first.id
    assert first.status == "queued"
    assert (first.done, first.total, first.attempts) == (0, None, 0)


def test_unknown_kind_and_bad_key_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown job kind"):
        jobs.enqueue(session, "no.such.kind", "x")
    with pytest.raises(ValueError, match="key"):
        jobs.enqueue(session, "test.items", "")


def test_concurrent_enqueue_makes_one_job(database: Database) -> None:
    """Two transactions enqueue the same key at once: one row, both see it."""
    key = new_key()
    first_enqueued = threading.Event()
    ids: dict[str, int] = {}

    def first() -> None:
        with database.transaction() as session:
            ids["first"] = jobs.enqueue(session, "test.items", key, {"count": 1}).id
            first_enqueued.set()
            time.sleep(0.5)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_enqueued.wait(10)
    with database.transaction() as session:
        ids["second"] = jobs.enqueue(session, "test.items", key, {"count": 1}).id
    thread.join()
    assert ids["first"] == ids["second"]


def test_dispatch_happens_after_commit_only(database: Database) -> None:
    handed: list[int] = []
    service.install_dispatcher(handed.extend)
    try:
        with database.transaction() as session:
            job = jobs.enqueue(session, "test.items", new_key(), {"count": 1})
            assert handed == []
        assert handed == [job.id]
        session = database.sessions()
        jobs.enqueue(session, "test.items", new_key(), {"count": 1})
        session.rollback()  # the request failed
        session.close()
        assert handed == [job.id]
        with database.transaction() as session:
            jobs.enqueue(session, "test.items", new_key(), {"count": 1})
        assert len(handed) == 2
    finally:
        service.install_dispatcher(None)


def test_only_owner_and_admins_see_a_job(session: Session) -> None:
    owner = accounts.create_user(session, new_key(), "owner-password-1")
    other = accounts.create_user(session, new_key(), "other-password-1")
    job = jobs.enqueue(session, "test.items", new_key(), {"count": 1}, created_by=owner.id)
    assert jobs.job_for(session, job.id, user_id=owner.id, is_admin=False) is job
    assert jobs.job_for(session, job.id, user_id=other.id, is_admin=True) is job
    with pytest.raises(NotFoundError):
        jobs.job_for(session, job.id, user_id=other.id, is_admin=False)
    with pytest.raises(NotFoundError):
        jobs.cancel(session, job.id, user_id=other.id, is_admin=False)


def test_cancel(session: Session) -> None:
    job = jobs.enqueue(session, "test.items", new_key(), {"count": 1})
    jobs.cancel(session, job.id, user_id=0, is_admin=True)
    assert job.status == "cancelled"
    assert job.finished_at is not None
    with pytest.raises(ValidationError, match="already ended"):
        jobs.cancel(session, job.id, user_id=0, is_admin=True)
    running = jobs.enqueue(session, "test.items", new_key(), {"count": 1})
    running.status = "running"
    jobs.cancel(session, running.id, user_id=0, is_admin=True)
    assert running.status == "running"
    assert running.cancel_requested


def test_describe_reports_progress(session: Session) -> None:
    job = jobs.enqueue(session, "test.items", new_key(), {"count": 4})
    assert jobs.describe(job)["percent"] is None
    job.done, job.total = 1, 4
    view = jobs.describe(job)
    assert (view["status"], view["done"], view["total"], view["percent"]) == ("queued", 1, 4, 25)
    assert view["finished"] is False


def test_recover_requeues_lost_and_forgotten_jobs(session: Session) -> None:
    now = utcnow()
    lost = jobs.enqueue(session, "test.items", new_key(), {"count": 3})
    lost.status, lost.attempts, lost.lease_until = "running", 1, now - timedelta(seconds=1)
    alive = jobs.enqueue(session, "test.items", new_key(), {"count": 3})
    alive.status, alive.attempts, alive.lease_until = "running", 1, now + timedelta(seconds=60)
    forgotten = jobs.enqueue(session, "test.items", new_key(), {"count": 3})
    forgotten.dispatched_at = now - timedelta(seconds=120)
    fresh = jobs.enqueue(session, "test.items", new_key(), {"count": 3})
    exhausted = jobs.enqueue(session, "test.items", new_key(), {"count": 3})
    exhausted.status, exhausted.attempts = "running", 3
    exhausted.lease_until = now - timedelta(seconds=1)
    session.flush()

    ids = service.recover(session, lease_seconds=60, now=now)

    assert set(ids) & {lost.id, forgotten.id, alive.id, fresh.id, exhausted.id} == {
        lost.id,
        forgotten.id,
    }
    assert lost.status == "queued"
    assert alive.status == "running"
    assert exhausted.status == "failed"
    assert session.get(Job, forgotten.id) is forgotten
    assert forgotten.dispatched_at == now
