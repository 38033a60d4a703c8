"""The huey wiring: SQLite queue in the data dir, Redis, one consumer per host."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmdav import jobs
from kmdav.db import Database
from kmdav.jobs import queue as job_queue
from kmdav.jobs import service
from kmdav.models import Job
from kmdav.settings import JobsSettings, Settings
from tests.jobs.conftest import CRASH_AT, items_written, new_key

REDIS_URL = "redis://127.0.0.1:6379/0"


def _wait_for(database: Database, job_id: int, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with database.transaction("read") as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.finished:
                return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def running_queue(
    request: pytest.FixtureRequest, database: Database, job_settings: Settings
) -> Iterator[job_queue.JobQueue]:
    """A queue with its embedded consumer; ``redis`` in the test's params selects Redis."""
    settings = job_settings
    if getattr(request, "param", "") == "redis":
        redis = pytest.importorskip("redis")
        try:
            redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
        except redis.RedisError:
            pytest.skip(f"no Redis at {REDIS_URL}")
        settings = settings.model_copy(update={"jobs": JobsSettings(redis_url=REDIS_URL)})
    # A queue name of its own: parallel test runs share the Redis server.
    queue = job_queue.JobQueue(settings, database, name="kmdav-test-" + secrets.token_hex(4))
    queue.install()
    consumer = job_queue.EmbeddedConsumer(queue, settings.data_dir / job_queue.LOCK_FILE_NAME)
    consumer.start()
    assert consumer.consuming.wait(10)
    try:
        yield queue
    finally:
        consumer.stop()
        service.install_dispatcher(None)
        queue.huey.flush()
        queue.close()


@pytest.mark.parametrize("running_queue", ["sqlite", "redis"], indirect=True)
def test_enqueued_jobs_run_in_the_consumer(
    running_queue: job_queue.JobQueue, database: Database
) -> None:
    key = new_key()
    CRASH_AT[key] = 1  # the first attempt fails; huey brings the retry
    with database.transaction() as session:
        job_id = jobs.enqueue(session, "test.items", key, {"count": 3}).id
    job = _wait_for(database, job_id)
    assert (job.status, job.done, job.attempts) == ("done", 3, 2)
    assert items_written(database, key) == [f"{key}:0", f"{key}:1", f"{key}:2"]


def test_sqlite_queue_lives_in_the_data_dir(tmp_path: Path, job_settings: Settings) -> None:
    huey = job_queue.make_huey(job_settings)
    try:
        huey.enqueue  # noqa: B018 - the storage exists once the object does
        assert (tmp_path / job_queue.QUEUE_FILE_NAME).is_file()
    finally:
        huey.storage.close()


def test_one_consumer_per_host(database: Database, job_settings: Settings) -> None:
    """Two server processes on one host: only the lock holder consumes; the
    other takes over when the holder stops."""
    queue = job_queue.JobQueue(job_settings, database, name="kmdav-test-" + secrets.token_hex(4))
    lock = job_settings.data_dir / job_queue.LOCK_FILE_NAME
    first = job_queue.EmbeddedConsumer(queue, lock)
    second = job_queue.EmbeddedConsumer(queue, lock)
    second.LOCK_RETRY_SECONDS = 0.1
    first.start()
    assert first.consuming.wait(10)
    second.start()
    try:
        time.sleep(0.5)
        assert not second.consuming.is_set()
        first.stop()
        assert second.consuming.wait(10)
    finally:
        first.stop()
        second.stop()
        queue.close()


def test_lost_messages_are_recovered(database: Database, job_settings: Settings) -> None:
    """A job committed while nobody handed it to the queue still runs: the
    consumer's recovery at start hands it over."""
    with database.transaction() as session:
        job = jobs.enqueue(session, "test.items", new_key(), {"count": 1})
        job.dispatched_at = None  # as if the process died right after commit
        job_id = job.id
    queue = job_queue.JobQueue(job_settings, database, name="kmdav-test-" + secrets.token_hex(4))
    consumer = job_queue.EmbeddedConsumer(queue, job_settings.data_dir / "jobs.lock")
    consumer.start()
    try:
        assert _wait_for(database, job_id).status == "done"
    finally:
        consumer.stop()
        queue.close()
