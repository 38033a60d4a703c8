"""Running jobs: exactly once, resumable after a crash, cancellable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kmdav import jobs
from kmdav.db import Database
from kmdav.jobs.runner import RetryLater, run_job
from kmdav.models import Job, utcnow
from kmdav.settings import Settings
from tests.jobs.conftest import CRASH_AT, count_items, items_written, new_key


def _enqueue(database: Database, kind: str, key: str, **payload: object) -> int:
    with database.transaction() as session:
        return jobs.enqueue(session, kind, key, dict(payload)).id


def _job(database: Database, job_id: int) -> Job:
    with database.transaction("read") as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_job_runs_once(database: Database, job_settings: Settings) -> None:
    key = new_key()
    job_id = _enqueue(database, "test.items", key, count=3)
    assert run_job(database, job_settings, job_id) == "done"
    # A duplicate message, a second worker, a retry: nothing happens again.
    assert run_job(database, job_settings, job_id) is None
    with database.transaction() as session:
        assert jobs.enqueue(session, "test.items", key, {"count": 3}).id == job_id
    assert run_job(database, job_settings, job_id) is None
    job = _job(database, job_id)
    assert (job.status, job.done, job.total, job.attempts) == ("done", 3, 3, 1)
    assert job.result == {"items": 3}
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.lease_until is None
    assert items_written(database, key) == [f"{key}:0", f"{key}:1", f"{key}:2"]


def test_a_crashed_job_resumes_without_duplicates(
    database: Database, job_settings: Settings
) -> None:
    key = new_key()
    CRASH_AT[key] = 2
    job_id = _enqueue(database, "test.items", key, count=5)
    with pytest.raises(RetryLater):
        run_job(database, job_settings, job_id)
    job = _job(database, job_id)
    assert (job.status, job.done, job.attempts) == ("queued", 2, 1)
    assert "crash in item 2" in job.error
    # The half-done item 2 was rolled back with its checkpoint.
    assert count_items(database, key) == 2

    assert run_job(database, job_settings, job_id) == "done"
    job = _job(database, job_id)
    assert (job.status, job.done, job.attempts, job.error) == ("done", 5, 2, "")
    assert items_written(database, key) == [f"{key}:{i}" for i in range(5)]


def test_a_killed_worker_is_taken_over_after_its_lease(
    database: Database, job_settings: Settings
) -> None:
    """The process died mid-job: status running, lease still valid -> nobody
    else runs it; once the lease has run out, the job resumes."""
    key = new_key()
    job_id = _enqueue(database, "test.items", key, count=4)
    with database.transaction() as session:  # what the dead worker left behind
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.attempts, job.done, job.total = "running", 1, 2, 4
        job.lease_until = utcnow() + timedelta(seconds=30)
    assert run_job(database, job_settings, job_id) is None
    with database.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.lease_until = utcnow() - timedelta(seconds=1)
    assert run_job(database, job_settings, job_id) == "done"
    assert items_written(database, key) == [f"{key}:2", f"{key}:3"]
    assert _job(database, job_id).attempts == 2


def test_a_run_that_lost_its_lease_writes_nothing(
    database: Database, job_settings: Settings
) -> None:
    key = new_key()
    job_id = _enqueue(database, "test.overtaken", key)
    assert run_job(database, job_settings, job_id) is None
    assert count_items(database, key) == 0  # its work was rolled back with the checkpoint
    job = _job(database, job_id)
    assert (job.status, job.attempts, job.done) == ("running", 2, 0)  # the new owner's


def test_failures_retry_then_fail(database: Database, job_settings: Settings) -> None:
    job_id = _enqueue(database, "test.fail", new_key())
    with pytest.raises(RetryLater) as retry:
        run_job(database, job_settings, job_id)
    assert retry.value.delay == 0.1
    assert run_job(database, job_settings, job_id) == "failed"
    job = _job(database, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 2, "attempt 2 broke")
    assert run_job(database, job_settings, job_id) is None


def test_job_failed_is_not_retried(database: Database, job_settings: Settings) -> None:
    job_id = _enqueue(database, "test.fail", new_key(), permanent=True)
    assert run_job(database, job_settings, job_id) == "failed"
    job = _job(database, job_id)
    assert (job.attempts, job.error) == (1, "cannot ever work")


def test_cancelled_before_start_never_runs(database: Database, job_settings: Settings) -> None:
    key = new_key()
    job_id = _enqueue(database, "test.items", key, count=2)
    with database.transaction() as session:
        jobs.cancel(session, job_id, user_id=0, is_admin=True)
    assert run_job(database, job_settings, job_id) is None
    assert _job(database, job_id).status == "cancelled"
    assert count_items(database, key) == 0


def test_cancel_while_running_stops_at_the_next_checkpoint(
    database: Database, job_settings: Settings
) -> None:
    key = new_key()
    CRASH_AT[key] = 1
    job_id = _enqueue(database, "test.items", key, count=4)
    with pytest.raises(RetryLater):
        run_job(database, job_settings, job_id)
    with database.transaction() as session:  # it is running again, elsewhere
        job = session.get(Job, job_id)
        assert job is not None
        job.status = "running"
        job.lease_until = utcnow() - timedelta(seconds=1)
        jobs.cancel(session, job_id, user_id=0, is_admin=True)
    assert run_job(database, job_settings, job_id) is None
    job = _job(database, job_id)
    assert job.status == "cancelled"
    assert count_items(database, key) == 1
