"""The duplicate finder as a background job with stored results.

Finding candidates reads the whole projection of the address books (about
ten seconds at 100,000 contacts), too long for a page view.  The duplicates
page therefore shows the result of the last *scan*: a job of kind
:data:`SCAN_KIND` that runs :func:`kmdav.contacts.duplicates.find_candidates`
with progress and keeps the candidates in the job's ``result``.  The page
offers "Search again"; merging does not need a new scan, because stored
pairs whose contacts are gone (merged, deleted, moved) are dropped when
shown (:func:`stored_candidates`).

A scan belongs to one set of address books (the books the user may change):
its key is ``books=<ids>@<time>``, so every new scan is a new job and the
newest one for the same books is the one shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.contacts.duplicates import Candidate, find_candidates
from kmdav.jobs import enqueue
from kmdav.jobs.kinds import job_kind
from kmdav.jobs.runner import JobContext
from kmdav.models import Contact, Job, User, utcnow

SCAN_KIND = "contacts.duplicates"
#: The steps a scan reports as progress (find_candidates' own phases).
STEPS = 3


def _prefix(book_ids: Sequence[int]) -> str:
    return "books=" + ",".join(str(i) for i in sorted(set(book_ids))) + "@"


def start_scan(session: Session, user: User, book_ids: Sequence[int]) -> Job:
    """A new scan of these address books (queued; runs in the background)."""
    key = _prefix(book_ids) + utcnow().isoformat()
    payload = {"books": sorted(set(book_ids))}
    return enqueue(session, SCAN_KIND, key[:200], payload, created_by=user.id)


def latest_scans(session: Session, book_ids: Sequence[int]) -> tuple[Job | None, Job | None]:
    """(the newest scan of these books in any state, the newest finished one)."""
    jobs = session.scalars(
        select(Job)
        .where(Job.kind == SCAN_KIND, Job.key.startswith(_prefix(book_ids), autoescape=True))
        .order_by(Job.id.desc())
        .limit(20)
    ).all()
    newest = jobs[0] if jobs else None
    done = next((job for job in jobs if job.status == "done"), None)
    return newest, done


def stored_candidates(session: Session, job: Job) -> list[Candidate]:
    """The scan's candidates whose two contacts still exist in the scanned books."""
    rows: list[list[Any]] = list(job.result.get("candidates", []))
    books = list(job.payload.get("books", []))
    ids = {int(row[0]) for row in rows} | {int(row[1]) for row in rows}
    alive: set[int] = set()
    listed = sorted(ids)
    for start in range(0, len(listed), 500):
        alive.update(
            session.scalars(
                select(Contact.id).where(
                    Contact.id.in_(listed[start : start + 500]), Contact.collection_id.in_(books)
                )
            )
        )
    return [
        Candidate(int(a), int(b), set(reasons), float(score))
        for a, b, reasons, score in rows
        if int(a) in alive and int(b) in alive
    ]


@job_kind(SCAN_KIND, max_attempts=2, retry_delay=5)
def run_scan(ctx: JobContext) -> dict[str, Any]:
    books = [int(book) for book in ctx.payload.get("books", [])]
    ctx.report(done=0, total=STEPS, message="e-mail addresses")

    def progress(step: int, message: str) -> None:
        ctx.report(done=step, total=STEPS, message=message)

    with ctx.database.transaction("read") as session:
        candidates = find_candidates(session, books, progress=progress)
    return {
        "candidates": [[c.first, c.second, sorted(c.reasons), c.score] for c in candidates],
        "found": len(candidates),
    }
