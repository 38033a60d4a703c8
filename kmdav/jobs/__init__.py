"""Background jobs: idempotent units of work that survive restarts.

- :mod:`kmdav.jobs.kinds`: ``@job_kind`` registers what a kind of job does;
- :mod:`kmdav.jobs.service`: ``enqueue`` (by natural key), look up, cancel;
- :mod:`kmdav.jobs.runner`: claims and runs one job, records the outcome;
- :mod:`kmdav.jobs.queue`: the huey wiring (queue, consumers).
"""

from kmdav.jobs.kinds import JobCancelled, JobFailed, job_kind
from kmdav.jobs.runner import JobContext
from kmdav.jobs.service import cancel, describe, enqueue, job_for

__all__ = [
    "JobCancelled",
    "JobContext",
    "JobFailed",
    "cancel",
    "describe",
    "enqueue",
    "job_for",
    "job_kind",
]
