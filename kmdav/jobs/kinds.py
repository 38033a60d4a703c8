"""Job kinds: what a job of each kind does, registered by the module that owns it.

A kind is a function taking a :class:`~kmdav.jobs.runner.JobContext`::

    @job_kind("mail.send", max_attempts=3, retry_delay=30)
    def send_mail(ctx: JobContext) -> dict[str, Any] | None:
        ...

The function must be safe to run again after a crash: whatever it writes
goes through ``ctx.transaction()`` together with a ``ctx.checkpoint()``
that records how far it got, so the next attempt resumes there.  What it
returns is stored as the job's result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmdav.errors import KmdavError

if TYPE_CHECKING:
    from kmdav.jobs.runner import JobContext

JobHandler = Callable[["JobContext"], "dict[str, Any] | None"]


class JobFailed(KmdavError):
    """The job cannot succeed; raise it from a handler to fail without retries."""


class JobCancelled(KmdavError):
    """Someone cancelled the job; raised by ``checkpoint`` to stop the handler."""


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: JobHandler
    #: Runs of the handler before the job counts as failed.
    max_attempts: int = 3
    #: Seconds between a failed attempt and the next one.
    retry_delay: float = 10.0


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str, *, max_attempts: int = 3, retry_delay: float = 10.0
) -> Callable[[JobHandler], JobHandler]:
    """Register the decorated function as the handler of jobs of kind ``name``."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(handler: JobHandler) -> JobHandler:
        known = _KINDS.get(name)
        if known is not None and known.handler is not handler:
            raise ValueError(f"job kind {name!r} is registered twice")
        _KINDS[name] = JobKind(name, handler, max_attempts, retry_delay)
        return handler

    return register


def find_kind(name: str) -> JobKind | None:
    return _KINDS.get(name)


def registered_kinds() -> list[str]:
    return sorted(_KINDS)
