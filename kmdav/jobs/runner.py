"""Running one job: claim it, call its kind's handler, record the outcome.

Independent of the queue library: the huey task in :mod:`kmdav.jobs.queue`
only calls :func:`run_job` with a job id.  Every step is its own committed
transaction on the job row, so whatever happens to the process, the row
says how far the job got:

1. *claim*: only a queued job (or a running one whose lease ran out) is
   taken; a finished, cancelled or live-running job makes the call a no-op.
   This is what makes duplicate queue messages and second workers harmless.
2. the handler runs; ``ctx.checkpoint`` writes progress (and the handler's
   resume point in ``result``) in the same transaction as the work itself.
3. *finish*: done, failed, cancelled, or queued again for another attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from kmdav.db import Database
from kmdav.jobs.kinds import JobCancelled, JobFailed, JobKind, find_kind
from kmdav.models import Job, utcnow
from kmdav.settings import Settings

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another run took the job over (this one went past its lease): stop
    without writing anything more."""


class RetryLater(Exception):
    """The attempt failed and another one is due after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay} s")
        self.delay = delay


@dataclass
class JobContext:
    """What a handler gets: the job's data and its way to report progress."""

    database: Database
    settings: Settings
    job_id: int
    kind: str
    key: str
    payload: dict[str, Any]
    #: 1 on the first run; more when a failed or interrupted run is repeated.
    attempt: int
    #: Progress and result as the last committed checkpoint left them: the
    #: place to resume from.
    done: int = 0
    total: int | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction for a piece of the job's work (committed at the end)."""
        with self.database.transaction() as session:
            yield session

    def checkpoint(
        self,
        session: Session,
        *,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        result: dict[str, Any] | None = None,
        cancellable: bool = True,
    ) -> None:
        """Record progress in ``session`` -- the transaction that holds the
        work it describes, so both commit or neither does.

        Raises :class:`JobCancelled` when the job was cancelled; the work of
        this transaction is then rolled back with it (``cancellable=False``
        records a step that has happened outside the database, such as a
        sent message, even then).  Renews the lease, so a
        long job must call it more often than every ``[jobs] lease_seconds``.
        """
        job = session.get(Job, self.job_id, with_for_update=True, populate_existing=True)
        if job is None:
            raise JobFailed("the job record disappeared")
        if job.status != "running" or job.attempts != self.attempt:
            # Taken over after this run's lease ran out: its work in this
            # transaction is rolled back, so the two runs never both write.
            raise LeaseLost(f"job {self.job_id} is now run by attempt {job.attempts}")
        if job.cancel_requested and cancellable:
            raise JobCancelled("cancelled")
        if done is not None:
            job.done = done
        if total is not None:
            job.total = total
        if message is not None:
            job.message = message[:500]
        if result is not None:
            job.result = {**job.result, **result}
        job.lease_until = utcnow() + timedelta(seconds=self.settings.jobs.lease_seconds)
        session.flush()
        self.done, self.total, self.result = job.done, job.total, dict(job.result)

    def report(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        result: dict[str, Any] | None = None,
        cancellable: bool = True,
    ) -> None:
        """A checkpoint in a transaction of its own (progress only, no work)."""
        with self.transaction() as session:
            self.checkpoint(
                session,
                done=done,
                total=total,
                message=message,
                result=result,
                cancellable=cancellable,
            )


def run_job(database: Database, settings: Settings, job_id: int) -> str | None:
    """Run job ``job_id`` if it is due; its status afterwards (None: not run).

    Raises :class:`RetryLater` when the attempt failed and the kind allows
    another one.
    """
    context = _claim(database, settings, job_id)
    if context is None:
        return None
    kind = find_kind(context.kind)
    if kind is None:
        return _finish(
            database, job_id, context.attempt, "failed", error=f"unknown job kind {context.kind!r}"
        )
    logger.info("jobs: running job %s (%s, attempt %s)", job_id, kind.name, context.attempt)
    status, details = _attempt(kind, context)
    if status is None:
        return None
    recorded = _finish(database, job_id, context.attempt, status, **details)
    if recorded == "queued":
        raise RetryLater(kind.retry_delay)
    return recorded


def _attempt(kind: JobKind, context: JobContext) -> tuple[str | None, dict[str, Any]]:
    """Run the handler once: the status to record and its details (None: the
    run lost its lease and records nothing)."""
    try:
        returned = kind.handler(context)
    except LeaseLost as lost:
        logger.warning("jobs: stopped a run that lost its lease: %s", lost)
        return None, {}
    except JobCancelled:
        return "cancelled", {"message": "Cancelled."}
    except JobFailed as error:
        logger.warning("jobs: job %s (%s) failed: %s", context.job_id, kind.name, error)
        return "failed", {"error": str(error)}
    except Exception as error:
        logger.exception("jobs: job %s (%s) raised", context.job_id, kind.name)
        retry = context.attempt < kind.max_attempts
        return ("queued" if retry else "failed"), {"error": str(error) or type(error).__name__}
    return "done", {"result": returned or {}}


def _claim(database: Database, settings: Settings, job_id: int) -> JobContext | None:
    now = utcnow()
    with database.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            logger.warning("jobs: job %s does not exist; message dropped", job_id)
            return None
        lease_lost = job.status == "running" and (job.lease_until is None or job.lease_until < now)
        if job.status != "queued" and not lease_lost:
            return None  # done, failed, cancelled, or running elsewhere
        if job.cancel_requested:
            job.status, job.finished_at, job.message = "cancelled", now, "Cancelled."
            return None
        job.status = "running"
        job.attempts += 1
        job.started_at = job.started_at or now
        job.lease_until = now + timedelta(seconds=settings.jobs.lease_seconds)
        session.flush()
        return JobContext(
            database=database,
            settings=settings,
            job_id=job.id,
            kind=job.kind,
            key=job.key,
            payload=dict(job.payload),
            attempt=job.attempts,
            done=job.done,
            total=job.total,
            result=dict(job.result),
        )


def _finish(
    database: Database,
    job_id: int,
    attempt: int,
    status: str,
    *,
    error: str = "",
    message: str | None = None,
    result: dict[str, Any] | None = None,
) -> str | None:
    """Record how attempt ``attempt`` ended; None when another run owns the job now."""
    with database.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status != "running" or job.attempts != attempt:
            logger.warning("jobs: job %s changed hands; attempt %s ends quietly", job_id, attempt)
            return None
        job.status = status
        job.lease_until = None
        job.error = error
        if message is not None:
            job.message = message
        if result:
            job.result = {**job.result, **result}
        if status == "queued":
            # The queue brings the retry; recovery re-sends it if it is lost.
            job.dispatched_at = utcnow()
        else:
            job.finished_at = utcnow()
            if status == "done" and job.total is not None:
                job.done = job.total
    return status
