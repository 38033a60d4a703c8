"""Enqueue, look up, cancel and recover jobs (the job table's one writer
besides the runner).

``enqueue`` writes the job row in the caller's transaction; only after
that transaction commits is the job handed to the queue (an ``after_commit``
hook), so a worker never looks for a row that is not there yet, and a
rolled-back request leaves no job behind.  A job whose hand-over was lost
(the process died right after the commit, the queue was unreachable) is
handed over again by :func:`recover`, which the consumer runs at start and
every minute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kmdav.errors import NotFoundError, ValidationError
from kmdav.jobs.kinds import find_kind
from kmdav.models import Job, utcnow

logger = logging.getLogger(__name__)

Dispatcher = Callable[[Sequence[int]], None]

_PENDING = "kmdav.jobs.pending"
_dispatcher: Dispatcher | None = None


def install_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Set how this process hands committed jobs to the queue (None: it does not;
    the consumer's recovery picks them up)."""
    global _dispatcher  # noqa: PLW0603 - one queue per process, set by its entry point
    _dispatcher = dispatcher


def enqueue(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any] | None = None,
    *,
    created_by: int | None = None,
) -> Job:
    """The job for (``kind``, ``key``): a new one, or the one that exists.

    Idempotent by natural key: enqueueing the same key again (a retried
    request, a double click, a second worker) returns the existing job in
    whatever state it is, and the work is never done twice.
    """
    if find_kind(kind) is None:
        raise ValueError(f"unknown job kind {kind!r}")
    if not key or len(key) > 200:
        raise ValueError("a job key is 1 to 200 characters")
    existing = _by_key(session, kind, key)
    if existing is not None:
        return existing
    job = Job(
        kind=kind,
        key=key,
        status="queued",
        payload=payload or {},
        result={},
        done=0,
        message="",
        error="",
        attempts=0,
        created_by=created_by,
        dispatched_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # Another transaction enqueued the same key first (PostgreSQL waits
        # for it to commit before reporting the conflict); the savepoint's
        # rollback took our row out of the session again.
        found = _by_key(session, kind, key)
        if found is None:  # pragma: no cover - the conflict means it exists
            raise
        return found
    dispatch_after_commit(session, [job.id])
    return job


def _by_key(session: Session, kind: str, key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.kind == kind, Job.key == key)).one_or_none()


def dispatch_after_commit(session: Session, job_ids: Sequence[int]) -> None:
    """Hand ``job_ids`` to the queue once ``session``'s transaction commits."""
    # The hooks stay on the session (it lives for one transaction anyway);
    # listeners cannot be removed while SQLAlchemy runs them.
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
    session.info.setdefault(_PENDING, []).extend(job_ids)


def _after_commit(session: Session) -> None:
    pending: list[int] = session.info.pop(_PENDING, None) or []
    if pending and _dispatcher is not None:
        try:
            _dispatcher(pending)
        except Exception:
            # The rows are committed: recovery hands them over later.
            logger.exception("jobs: could not hand jobs %s to the queue", pending)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# -- reading -----------------------------------------------------------------------


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError("no job %(id)d", id=job_id)
    return job


def job_for(session: Session, job_id: int, *, user_id: int, is_admin: bool) -> Job:
    """The job when this user may see it (who started it, or an admin).

    Someone else's job answers as missing, so ids reveal nothing.
    """
    job = session.get(Job, job_id)
    if job is None or not (is_admin or job.created_by == user_id):
        raise NotFoundError("There is no such job.")
    return job


def describe(job: Job) -> dict[str, Any]:
    """The job as the UI sees it (JSON-ready)."""
    percent = None
    if job.total:
        percent = min(100, round(100 * job.done / job.total))
    elif job.status == "done":
        percent = 100

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "finished": job.finished,
        "done": job.done,
        "total": job.total,
        "percent": percent,
        "message": job.message,
        "error": job.error,
        "result": job.result,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": stamp(job.created_at),
        "started_at": stamp(job.started_at),
        "finished_at": stamp(job.finished_at),
    }


# -- changing ----------------------------------------------------------------------


def cancel(session: Session, job_id: int, *, user_id: int, is_admin: bool) -> Job:
    """Cancel a job: a queued one never starts; a running one stops at its
    next checkpoint (what that checkpoint's transaction wrote is rolled back)."""
    job = job_for(session, job_id, user_id=user_id, is_admin=is_admin)
    _lock(session, job)
    if job.finished:
        raise ValidationError("The job has already ended (%(status)s).", status=job.status)
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        job.message = "Cancelled before it started."
    else:
        job.cancel_requested = True
        job.message = "Cancelling..."
    session.flush()
    return job


def _lock(session: Session, job: Job) -> None:
    # Row lock on PostgreSQL against a worker changing the same job; SQLite's
    # write transaction is already exclusive.
    session.flush()
    session.refresh(job, with_for_update=True)


def recover(session: Session, *, lease_seconds: int, now: datetime | None = None) -> list[int]:
    """Put lost jobs back in line; the ids to hand to the queue after commit.

    - a running job whose lease ran out lost its worker (the process was
      killed): it is queued again and resumes from its last checkpoint, or
      fails when it has used up its attempts;
    - a queued job handed over longer than a lease ago may have lost its
      queue message: it is handed over again (a duplicate message is
      harmless, since only one run can claim the job).
    """
    now = now or utcnow()
    stale = now - timedelta(seconds=lease_seconds)
    lost = session.scalars(
        select(Job).where(Job.status == "running", Job.lease_until < now).with_for_update()
    ).all()
    for job in lost:
        kind = find_kind(job.kind)
        if kind is not None and job.attempts >= kind.max_attempts:
            job.status = "failed"
            job.finished_at = now
            job.error = job.error or "The worker running this job stopped; no attempts left."
            continue
        job.status = "queued"
        job.message = "Resuming after the worker stopped."
        job.lease_until = None
        job.dispatched_at = None
        logger.warning("jobs: job %s (%s) lost its worker; queued again", job.id, job.kind)
    waiting = session.scalars(
        select(Job)
        .where(
            Job.status == "queued",
            (Job.dispatched_at.is_(None)) | (Job.dispatched_at < stale),
        )
        .with_for_update()
    ).all()
    for job in waiting:
        job.dispatched_at = now
    session.flush()
    return [job.id for job in waiting]
