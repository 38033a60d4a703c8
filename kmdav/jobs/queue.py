"""The huey wiring: where the queue lives and who consumes it.

- :func:`make_huey`: a ``SqliteHuey`` in ``<data dir>/jobs.sqlite3`` by
  default, a ``RedisHuey`` when ``[jobs] redis_url`` is set.  Queue messages
  only carry a job id; the job table is the truth.
- :class:`JobQueue`: registers the one huey task (``kmdav.run_job``) and the
  minute-by-minute recovery, and hands committed jobs to huey.
- :class:`EmbeddedConsumer`: the consumer inside ``kmdav serve``.  Every
  uvicorn worker process starts one, but it only consumes while it holds an
  exclusive lock on ``<data dir>/jobs.lock``; the others wait for the lock,
  so one host runs one consumer whatever ``--workers`` says, and another
  worker takes over when the holder dies.
- :func:`run_worker`: the consumer of ``kmdav worker`` (main thread, signals).
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.exceptions import RetryTask

from kmdav.db import Database
from kmdav.jobs import runner, service
from kmdav.settings import Settings

logger = logging.getLogger(__name__)

QUEUE_FILE_NAME = "jobs.sqlite3"
LOCK_FILE_NAME = "jobs.lock"
QUEUE_NAME = "kmdav"
#: Modules that register job kinds; imported wherever jobs run.
JOB_MODULES = ("kmdav.outbox", "kmdav.contacts.importjob", "kmdav.contacts.duplicatescan")


def load_job_kinds() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)


def make_huey(settings: Settings, name: str = QUEUE_NAME) -> Huey:
    # Results are off: the job table holds what a job reports back.
    if settings.jobs.redis_url:
        return RedisHuey(name, url=settings.jobs.redis_url, results=False)
    path = (settings.data_dir / QUEUE_FILE_NAME).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(path), results=False, fsync=True)


class JobQueue:
    """One process's handle on the queue: hands jobs over and (in a
    consumer) runs them."""

    def __init__(self, settings: Settings, database: Database, name: str = QUEUE_NAME) -> None:
        load_job_kinds()
        self.settings = settings
        self.database = database
        self.huey = make_huey(settings, name)

        def run(job_id: int) -> None:
            try:
                runner.run_job(database, settings, job_id)
            except runner.RetryLater as retry:
                raise RetryTask(delay=retry.delay) from retry

        def recover_every_minute() -> None:
            self.recover()

        def email_reminders_every_minute() -> None:
            self.queue_reminders()

        self._run = self.huey.task(name="kmdav.run_job")(run)
        self.huey.periodic_task(crontab(), name="kmdav.recover_jobs")(recover_every_minute)
        self.huey.periodic_task(crontab(), name="kmdav.email_reminders")(
            email_reminders_every_minute
        )

    def dispatch(self, job_ids: Sequence[int]) -> None:
        for job_id in job_ids:
            self._run(job_id)

    def install(self) -> None:
        """Make this queue the one ``jobs.service.enqueue`` hands jobs to."""
        service.install_dispatcher(self.dispatch)

    def recover(self) -> list[int]:
        """Re-queue lost jobs (see :func:`kmdav.jobs.service.recover`)."""
        with self.database.transaction() as session:
            ids = service.recover(session, lease_seconds=self.settings.jobs.lease_seconds)
        if ids:
            logger.info("jobs: handing %d waiting job(s) to the queue", len(ids))
            self.dispatch(ids)
        return ids

    def queue_reminders(self) -> int:
        """Queue the e-mail reminders that are due (see
        :mod:`kmdav.scheduling.reminders`); each is a ``mail.send`` job."""
        # Imported here: the scheduling services import the job machinery.
        from kmdav.scheduling import reminders

        with self.database.transaction() as session:
            return reminders.scan(session)

    def consumer(self, **options: Any) -> Consumer:
        return _Consumer(
            self.huey,
            workers=self.settings.jobs.workers,
            worker_type="thread",
            periodic=True,
            # Stop waiting for a running job after this; it resumes later.
            shutdown_timeout=10,
            # Poll an idle SQLite queue at least once a second (Redis blocks).
            max_delay=1.0,
            graceful_signal="TERM",
            **options,
        )

    def close(self) -> None:
        try:
            self.huey.storage.close()
        except Exception:  # closing is best effort
            logger.debug("jobs: closing the queue storage failed", exc_info=True)


class _Consumer(Consumer):  # type: ignore[misc]  # huey is untyped
    """huey's consumer without signal handlers when it runs in a server."""

    in_server = False

    def _set_signal_handlers(self) -> None:
        if not self.in_server:
            super()._set_signal_handlers()


class EmbeddedConsumer:
    """The consumer inside ``kmdav serve``: a thread that consumes while it
    holds the host's job lock (see the module docstring)."""

    LOCK_RETRY_SECONDS = 5.0

    def __init__(self, queue: JobQueue, lock_path: Path) -> None:
        self.queue = queue
        self.lock_path = lock_path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.consuming = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kmdav-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not self._stop.is_set():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self._stop.wait(self.LOCK_RETRY_SECONDS)
                    continue
                try:
                    self._consume()
                except Exception:
                    # E.g. Redis is unreachable: try again rather than never.
                    logger.exception("jobs: the consumer failed; retrying")
                    self._stop.wait(self.LOCK_RETRY_SECONDS)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _consume(self) -> None:
        consumer = self.queue.consumer()
        consumer.in_server = True
        consumer.start()
        self.consuming.set()
        logger.info("jobs: consumer started in process %s", os.getpid())
        try:
            self.queue.recover()
        except Exception:
            logger.exception("jobs: recovery at start failed")
        try:
            self._stop.wait()
        finally:
            consumer.stop(graceful=True)
            self.consuming.clear()
            logger.info("jobs: consumer stopped")


def run_worker(settings: Settings, database: Database) -> None:
    """``kmdav worker``: consume until SIGTERM/SIGINT (both wait for running jobs)."""
    queue = JobQueue(settings, database)
    queue.install()
    try:
        queue.recover()
        queue.consumer().run()
    finally:
        queue.close()
