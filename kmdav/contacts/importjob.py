"""The import and undo jobs (kinds ``contacts.import``, ``contacts.import_undo``).

**Batches and the ledger.**  The file is read as a stream; every
:data:`BATCH` rows one transaction writes the new cards (through
``dav.service.store_new_items``: revision, change log and projection per
card, as a PUT would), the updated ones (``store_item``), one
``contact_import_rows`` row per file row (its natural key
``(import, row number)``) and the job's checkpoint (rows done, counts).
Work and checkpoint commit together, so a retried or resumed job starts
after the last committed batch and never imports a row twice; writing the
same row number twice would violate the ledger's primary key.

**All or nothing.**  Batches keep the database's write lock short (other
users and phones keep writing while a 100,000-row import runs) and make
progress visible.  So a failed or cancelled import is *compensated*: the
ledger says what was written, and :func:`take_back` deletes every created
card and puts back every updated body, newest first, through the same DAV
write path (the collection's revision moves and phones see the deletions
at their next sync).  Cancelling stops at the next batch (that batch is
rolled back with its checkpoint), then takes back the committed ones.  A
job that fails for good does the same before it records the failure; an
attempt with retries left keeps its batches and resumes.  Undo after a
finished import is the same :func:`take_back` as a job of its own; it
leaves cards that were changed after the import (their ETag differs) and
counts them as ``kept``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.contacts import fields, imports, tabular
from kmdav.contacts.cardfields import fields_of_draft
from kmdav.contacts.cards import build_card, patch_card, read_draft
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.contacts.importrows import Entry, Matcher, RowReader, merged
from kmdav.contacts.mapping import Problem
from kmdav.contacts.service import validate_draft
from kmdav.dav import repository
from kmdav.dav import service as dav
from kmdav.dav.bodies import single_object_uid
from kmdav.dav.vcard import CardFields, card_fields
from kmdav.db import SQLITE_MMAP_BYTES
from kmdav.errors import KmdavError, ValidationError
from kmdav.i18n import N_
from kmdav.jobs import JobCancelled, JobContext, JobFailed, job_kind
from kmdav.jobs.runner import LeaseLost
from kmdav.models import (
    Contact,
    ContactEvent,
    ContactImport,
    ContactImportRow,
    DavCollection,
    User,
    utcnow,
)

logger = logging.getLogger(__name__)

#: Rows per transaction (and per checkpoint).
BATCH = 500
MAX_ATTEMPTS = 3
OUTCOMES = ("created", "updated", "skipped", "rejected")
_LEDGER_INSERT = insert(ContactImportRow)


# -- writing one batch ------------------------------------------------------------------


@dataclass
class Settings:
    """What every batch needs, read once per attempt."""

    import_id: int
    user: User
    collection: DavCollection
    definitions: list[FieldDef]
    field_ids: dict[str, int]
    duplicate_mode: str
    event_text: str


class BatchWriter:
    """Writes one batch of entries in the caller's transaction."""

    def __init__(self, session: Session, settings: Settings, matcher: Matcher) -> None:
        self.session = session
        self.settings = settings
        self.matcher = matcher
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.ledger: list[dict[str, Any]] = []
        self._new: list[tuple[Entry, dav.DavObject, CardFields]] = []
        self._pending: set[str] = set()

    def write(self, entries: Sequence[Entry]) -> None:
        prepared = [(entry, self._prepare(entry)) for entry in entries if not entry.empty]
        usable = [(entry, f) for entry, f in prepared if f is not None]
        self.matcher.load(self.session, usable)
        for entry, card in usable:
            self._place(entry, card)
        for entry, _ in prepared:
            if entry.problems:
                self._record(entry, "rejected")
        self._create_pending()
        if self.ledger:
            self.session.connection().execute(_LEDGER_INSERT, self.ledger)

    def _prepare(self, entry: Entry) -> CardFields | None:
        """The card's fields, or None when the row is rejected."""
        if entry.problems:
            return None
        if entry.record is None:  # a .vcf card, stored as received
            return card_fields(entry.parsed)
        try:
            clean = validate_draft(entry.record, self.settings.definitions)
        except ValidationError as error:
            entry.problems.append(Problem.of(error))
            return None
        entry.new_uid = str(uuid.uuid4())
        entry.card = build_card(clean, uid=entry.new_uid, fields=self.settings.definitions)
        entry.draft = clean
        return fields_of_draft(clean, self.settings.definitions)

    def _place(self, entry: Entry, card: CardFields) -> None:
        match = self.matcher.find(entry, card)
        mode = self.settings.duplicate_mode
        if match is not None and mode == "skip":
            self._record(entry, "skipped", href=match)
        elif match is not None and mode == "update":
            if match in self._pending:
                self._create_pending()
            self._update(entry, match)
        elif entry.uid and entry.uid in self.matcher.by_uid:
            entry.problems.append(
                Problem(N_("A card with this UID is already in the address book."))
            )
            self._record(entry, "rejected")
        else:
            uid = entry.uid or entry.new_uid
            href = f"{uid}.vcf"
            self._new.append((entry, dav.DavObject(entry.card, uid, "VCARD", 0, 0), card))
            self._pending.add(href)
            self.matcher.remember(entry, card, href)

    def _create_pending(self) -> None:
        if not self._new:
            return
        written = dav.store_new_items(
            self.session,
            self.settings.collection,
            [(f"{obj.uid}.vcf", obj) for _, obj, _ in self._new],
            [(card, self._own(entry)) for entry, _, card in self._new],
        )
        item_ids = [item_id for _, item_id in written]
        contacts = dict(
            self.session.execute(
                select(Contact.item_id, Contact.id).where(Contact.item_id.in_(item_ids))
            ).all()
        )
        self.session.execute(
            update(Contact)
            .where(Contact.item_id.in_(item_ids))
            .values(owner_id=self.settings.user.id)
            .execution_options(synchronize_session=False)
        )
        now = utcnow()
        self.session.connection().execute(
            insert(ContactEvent),
            [
                {
                    "contact_id": contacts[item_id],
                    "kind": "created",
                    "at": now,
                    "actor_id": self.settings.user.id,
                    "actor_name": self.settings.user.username,
                    "text": self.settings.event_text,
                    "ref": f"import:{self.settings.import_id}",
                }
                for item_id in item_ids
                if item_id in contacts
            ],
        )
        for (entry, _, _), (stored, _) in zip(self._new, written, strict=True):
            self._record(entry, "created", href=stored.href, etag=stored.etag)
        self._new.clear()
        self._pending.clear()

    def _own(self, entry: Entry) -> list[tuple[int, str, bool]] | None:
        """The own-field rows of a row's card: its checked values (a .vcf
        card's are read from the card by the projection)."""
        if entry.draft is None:
            return None
        ids = self.settings.field_ids
        return [(ids[key], value, True) for key, value in entry.draft.custom.items()]

    def _update(self, entry: Entry, href: str) -> None:
        collection = self.settings.collection
        body = repository.item_body(self.session, collection.id, href)
        if body is None:  # pragma: no cover - the match was read in this transaction
            raise ValidationError("the contact to update is gone")
        if entry.draft is not None:
            current, _ = read_draft(body, fields=self.settings.definitions)
            try:
                clean = validate_draft(
                    merged(current, entry.draft), self.settings.definitions, require_fields=False
                )
            except ValidationError as error:
                entry.problems.append(Problem.of(error))
                self._record(entry, "rejected")
                return
            text = patch_card(body, clean, fields=self.settings.definitions)
            uid = single_object_uid(body) or ""
            obj = dav.DavObject(text, uid, "VCARD", 0, 0)
        else:
            obj = dav.DavObject(entry.card, entry.uid, "VCARD", 0, 0, parsed=entry.parsed)
        stored, _ = dav.store_item(self.session, collection, href, obj)
        self._record(entry, "updated", href=href, etag=stored.etag, previous=body)

    def _record(
        self, entry: Entry, outcome: str, *, href: str = "", etag: str = "", previous: str = ""
    ) -> None:
        self.counts[outcome] += 1
        rejected = outcome == "rejected"
        self.ledger.append(
            {
                "import_id": self.settings.import_id,
                "row_number": entry.number,
                "outcome": outcome,
                "href": href,
                "etag": etag,
                "previous_body": previous or None,
                "problems": [
                    {"message": p.message, "params": dict(p.params), "column": p.column}
                    for p in entry.problems
                ]
                if rejected
                else [],
                "cells": entry.cells if rejected else [],
            }
        )


# -- the jobs ---------------------------------------------------------------------------


def _load(session: Session, import_id: int) -> ContactImport:
    imported = session.get(ContactImport, import_id)
    if imported is None:
        raise JobFailed("The import no longer exists.")
    return imported


def _settings(session: Session, imported: ContactImport) -> Settings:
    user = session.get(User, imported.created_by) if imported.created_by else None
    collection = (
        session.get(DavCollection, imported.collection_id) if imported.collection_id else None
    )
    if user is None or not user.is_active:
        raise JobFailed("The user who started the import is no longer active.")
    if collection is None:
        raise JobFailed("The address book of the import no longer exists.")
    return Settings(
        import_id=imported.id,
        user=user,
        collection=collection,
        definitions=fields.definitions(session),
        field_ids=fields.field_ids(session),
        duplicate_mode=imported.duplicate_mode,
        event_text=f"Imported from {imported.filename}",
    )


def _add(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    return {key: counts.get(key, 0) + more.get(key, 0) for key in {*counts, *more}}


def _finish(ctx: JobContext, import_id: int, status: str, counts: dict[str, int]) -> None:
    with ctx.transaction() as session:
        imported = _load(session, import_id)
        imported.status = status
        imported.counts = counts
        imported.finished_at = utcnow()
        user = session.get(User, imported.created_by) if imported.created_by else None
        actor = audit.Actor(user.username, "job", user.id) if user is not None else audit.SYSTEM
        audit.record(
            session,
            actor,
            f"contacts.import_{status}",
            "contact_import",
            str(import_id),
            {"file": imported.filename, **counts},
        )
        path = imports.file_of(ctx.settings.data_dir, imported)
        ctx.checkpoint(session, result={"counts": counts}, cancellable=False)
    path.unlink(missing_ok=True)


@contextmanager
def _unmapped(session: Session) -> Iterator[None]:
    """SQLite reads the database through a memory map (``kmdav.db``), whose
    pages count in the process's RSS; a 100,000-row import touches most of a
    300 MB file.  Its batches read through SQLite's own small page cache
    instead, so the worker's memory stays flat whatever the file's size."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")


def _import_batches(ctx: JobContext, import_id: int) -> dict[str, int]:
    with ctx.transaction() as session:
        imported = _load(session, import_id)
        settings = _settings(session, imported)
        own = imports.own_fields(settings.definitions)
        reader = RowReader(imported, own)
        shape = tabular.FileShape(imported.format, imported.encoding, imported.delimiter)
        path = imports.file_of(ctx.settings.data_dir, imported)
        if not path.exists():
            raise JobFailed("The uploaded file is gone.")
        imported.status = "running"
        total = ctx.total if ctx.total is not None else tabular.count_records(path, shape)
        counts: dict[str, int] = dict(ctx.result.get("counts") or {})
        ctx.checkpoint(session, total=total, message=f"{ctx.done} of {total} rows")
        matcher = Matcher(settings.collection.id, imported.match_on)
        user_id, collection_id = settings.user.id, settings.collection.id
    entries = reader.entries(path, shape, start=ctx.done)
    while batch := list(islice(entries, BATCH)):
        with ctx.transaction() as session, _unmapped(session):
            user, collection = session.get(User, user_id), session.get(DavCollection, collection_id)
            if user is None or collection is None:
                raise JobFailed("The user or the address book of the import is gone.")
            settings = replace(settings, user=user, collection=collection)
            writer = BatchWriter(session, settings, matcher)
            writer.write(batch)
            counts = _add(counts, writer.counts)
            done = batch[-1].index + 1
            ctx.checkpoint(
                session,
                done=done,
                message=f"{done} of {total} rows",
                result={"counts": counts},
            )
    return counts


@job_kind(imports.IMPORT_KIND, max_attempts=MAX_ATTEMPTS, retry_delay=5)
def run_import(ctx: JobContext) -> dict[str, Any]:
    import_id = int(ctx.payload["import_id"])
    if ctx.result.get("taking_back"):  # an earlier attempt stopped while taking back
        return _give_up(ctx, import_id, str(ctx.result["taking_back"]), None)
    try:
        counts = _import_batches(ctx, import_id)
    except (LeaseLost, KeyboardInterrupt):
        raise
    except JobCancelled:
        _give_up(ctx, import_id, "cancelled", None)
        raise
    except JobFailed as error:
        _give_up(ctx, import_id, "failed", error)
    except Exception as error:
        if ctx.attempt < MAX_ATTEMPTS:
            raise  # the runner queues another attempt; it resumes after the last batch
        logger.exception("contacts import %s failed for good", import_id)
        _give_up(ctx, import_id, "failed", error)
    _finish(ctx, import_id, "done", counts)
    return {"counts": counts}


def _give_up(
    ctx: JobContext, import_id: int, status: str, error: BaseException | None
) -> dict[str, Any]:
    """Take back what the import wrote, record ``status``; a failure raises
    :class:`JobFailed` (the job fails with the reason) after the clean-up."""
    ctx.report(result={"taking_back": status}, cancellable=False)
    counts = dict(ctx.result.get("counts") or {})
    counts.update(take_back(ctx, import_id, keep_edited=False))
    _finish(ctx, import_id, status, counts)
    if status == "failed":
        reason = "the import stopped"
        if isinstance(error, KmdavError) and error.message:
            reason = str(error)
        elif error is not None:
            reason = str(error) or type(error).__name__
        raise JobFailed(
            f"{reason} -- nothing was imported: what the import had written was taken back."
        )
    return {"counts": counts}


def take_back(ctx: JobContext, import_id: int, *, keep_edited: bool) -> dict[str, int]:
    """Delete the created cards and restore the updated bodies of an import,
    newest first, in batches through the DAV write path.  With
    ``keep_edited``, cards changed since the import are left (``kept``)."""
    reverted = kept = 0
    with ctx.transaction() as session:
        total = session.scalar(
            select(func.count())
            .select_from(ContactImportRow)
            .where(
                ContactImportRow.import_id == import_id,
                ContactImportRow.outcome.in_(("created", "updated")),
            )
        )
    while True:
        with ctx.transaction() as session, _unmapped(session):
            imported = _load(session, import_id)
            collection = session.get(DavCollection, imported.collection_id or 0)
            rows = session.scalars(
                select(ContactImportRow)
                .where(
                    ContactImportRow.import_id == import_id,
                    ContactImportRow.outcome.in_(("created", "updated")),
                )
                .order_by(ContactImportRow.row_number.desc())
                .limit(BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                if collection is None:
                    row.outcome = "reverted"
                    continue
                head = repository.get_item(session, collection.id, row.href)
                if head is not None and keep_edited and head.etag != row.etag:
                    row.outcome = "kept"
                    kept += 1
                    continue
                if head is not None and row.outcome == "created":
                    dav.delete_item(session, collection, row.href)
                elif head is not None and row.previous_body is not None:
                    body = row.previous_body
                    uid = single_object_uid(body) or head.uid
                    dav.store_item(
                        session, collection, row.href, dav.DavObject(body, uid, "VCARD", 0, 0)
                    )
                row.outcome = "reverted"
                reverted += 1
            session.flush()
            ctx.checkpoint(
                session,
                message=f"Taking back: {reverted + kept} of {total}",
                cancellable=False,
            )
    return {"reverted": reverted, "kept": kept}


@job_kind(imports.UNDO_KIND, max_attempts=MAX_ATTEMPTS, retry_delay=5)
def run_undo(ctx: JobContext) -> dict[str, Any]:
    """Undo a whole import (not cancellable: it runs to the end)."""
    import_id = int(ctx.payload["import_id"])
    with ctx.transaction() as session:
        imported = _load(session, import_id)
        counts = dict(imported.counts or {})
        ctx.checkpoint(session, message="Undoing the import...", cancellable=False)
    undone = take_back(ctx, import_id, keep_edited=True)
    counts["reverted"] = counts.get("reverted", 0) + undone["reverted"]
    counts["kept"] = counts.get("kept", 0) + undone["kept"]
    _finish(ctx, import_id, "undone", counts)
    return {"counts": counts}
