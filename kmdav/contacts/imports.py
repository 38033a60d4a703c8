"""The import assistant: an uploaded file, its mapping, preview and start.

Steps (each a service call the web face makes, in the caller's transaction):

1. :func:`register_upload`: the file is already in ``<data dir>/imports/``
   (streamed there by the web face); its format, encoding and delimiter
   are detected, the header row read and a mapping suggested.
2. :func:`configure`: mapping, target address book, duplicate handling
   (match on e-mail, or name + company; then skip, update or create).
3. :func:`preview`: the first rows as they would be imported, with every
   reason a row would be rejected.
4. :func:`start`: queues the job (:mod:`kmdav.contacts.importjob`) under
   the natural key ``import:<id>``; starting twice is one job.
5. :func:`start_undo` after the end: another job takes the import back.

Only who uploaded a file (and administrators) see its import.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kmdav.contacts import access, fields, importrows, mapping, tabular
from kmdav.contacts.cards import ContactDraft
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.errors import NotFoundError, ValidationError
from kmdav.i18n import N_
from kmdav.jobs import enqueue
from kmdav.models import ContactImport, ContactImportRow, DavCollection, Job, User, utcnow

logger = logging.getLogger(__name__)

#: Below the data dir: uploaded files until their import has ended.
UPLOAD_FOLDER = "imports"
IMPORT_KIND = "contacts.import"
UNDO_KIND = "contacts.import_undo"
PREVIEW_ROWS = 10
DUPLICATE_MODES = {
    "skip": N_("Skip the row"),
    "update": N_("Update the existing contact"),
    "create": N_("Create another contact"),
}
MATCH_RULES = {
    "email": N_("Same e-mail address"),
    "name_company": N_("Same name and company"),
}
#: Uploads never started are removed after this long.
STALE_AFTER = timedelta(days=1)


def upload_folder(data_dir: Path) -> Path:
    return data_dir / UPLOAD_FOLDER


def file_of(data_dir: Path, imported: ContactImport) -> Path:
    return upload_folder(data_dir) / imported.stored_name


# -- own fields -----------------------------------------------------------------


def _own_field(definition: FieldDef) -> mapping.OwnField:
    def normalise(raw: str) -> str:
        text = raw.strip()
        if definition.field_type == "date" and text and "." in text:
            text = mapping.parse_date(text)  # a German date is fine here too
        return fields.normalise(definition, text)

    return mapping.OwnField(definition.key, definition.label, normalise)


def own_fields(definitions: Sequence[FieldDef]) -> list[mapping.OwnField]:
    return [_own_field(definition) for definition in definitions]


# -- the import row ------------------------------------------------------------------


def register_upload(
    session: Session,
    user: User,
    *,
    path: Path,
    filename: str,
    size: int,
) -> ContactImport:
    """Record an uploaded file (already at ``path``, in the upload folder).

    A file that cannot be read raises ValidationError (the caller removes it).
    """
    access.require(session, user, "create")
    shape = tabular.shape_of(path, filename)
    headers: list[str] = []
    if shape.format != "vcf":
        first = next(iter(tabular.table_rows(path, shape)), None)
        if not first or not any(first):
            raise ValidationError(
                "The file has no header row. The first row names the columns.", field="file"
            )
        headers = first
    elif tabular.count_records(path, shape) == 0:
        raise ValidationError("The file holds no vCard.", field="file")
    suggested = mapping.suggest(headers, own_fields(fields.definitions(session)))
    books = writable_books(session, user)
    imported = ContactImport(
        created_by=user.id,
        filename=filename[:255] or "upload",
        stored_name=path.name,
        size=size,
        format=shape.format,
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        headers=headers,
        mapping=suggested,
        duplicate_mode="skip",
        match_on="email",
        collection_id=books[0][0] if books else None,
        status="uploaded",
        counts={},
    )
    session.add(imported)
    session.flush()
    return imported


def get_import(session: Session, import_id: int, user: User) -> ContactImport:
    """The import when ``user`` made it (or is an admin); others get 404."""
    found = session.get(ContactImport, import_id)
    if found is None or not (user.is_admin or found.created_by == user.id):
        raise NotFoundError("There is no such import.")
    return found


def recent_imports(session: Session, user: User, limit: int = 20) -> list[ContactImport]:
    query = select(ContactImport).order_by(ContactImport.id.desc()).limit(limit)
    if not user.is_admin:
        query = query.where(ContactImport.created_by == user.id)
    return list(session.scalars(query))


def writable_books(session: Session, user: User) -> list[tuple[int, str]]:
    """(id, name) of the address books ``user`` may import into, the company's first."""
    allowed = [book_id for book_id, writable in access.books(session, user).items() if writable]
    if not allowed:
        return []
    rows = session.execute(
        select(DavCollection.id, DavCollection.path, DavCollection.props).where(
            DavCollection.id.in_(allowed)
        )
    ).all()
    order = {book_id: index for index, book_id in enumerate(allowed)}
    named = [
        (row.id, (row.props or {}).get("D:displayname") or row.path)
        for row in sorted(rows, key=lambda row: order[row.id])
    ]
    return named


def configure(
    session: Session,
    user: User,
    imported: ContactImport,
    *,
    columns: Sequence[str],
    collection_id: int | None,
    duplicate_mode: str,
    match_on: str,
) -> None:
    """Set what the import does; ValidationError names the field that is wrong."""
    _still_open(imported)
    definitions = fields.definitions(session)
    if imported.format != "vcf":
        if len(columns) != len(imported.headers):
            raise ValidationError("Map every column of the file (or skip it).", field="mapping")
        imported.mapping = mapping.check_mapping(list(columns), own_fields(definitions))
    if collection_id not in {book_id for book_id, _ in writable_books(session, user)}:
        raise ValidationError("Choose an address book you may write to.", field="collection")
    if duplicate_mode not in DUPLICATE_MODES:
        raise ValidationError("Choose what happens to duplicates.", field="duplicate_mode")
    if match_on not in MATCH_RULES:
        raise ValidationError("Choose how duplicates are recognised.", field="match_on")
    imported.collection_id = collection_id
    imported.duplicate_mode = duplicate_mode
    imported.match_on = match_on
    session.flush()


def _still_open(imported: ContactImport) -> None:
    if imported.status != "uploaded":
        raise ValidationError("This import has already started; upload the file again.")


def _register_kinds() -> None:
    # The job kinds live in importjob, which needs this module first.
    from kmdav.contacts import importjob  # noqa: F401


def start(session: Session, user: User, imported: ContactImport) -> Job:
    """Queue the import (once: the job's key is the import)."""
    if imported.status == "uploaded":
        if imported.collection_id is None:
            raise ValidationError("Choose an address book you may write to.", field="collection")
        imported.status = "queued"
    job = _queue(session, user, IMPORT_KIND, f"import:{imported.id}", imported)
    imported.job_id = job.id
    session.flush()
    return job


def _queue(session: Session, user: User, kind: str, key: str, imported: ContactImport) -> Job:
    _register_kinds()
    return enqueue(session, kind, key, {"import_id": imported.id}, created_by=user.id)


def start_undo(session: Session, user: User, imported: ContactImport) -> Job:
    """Queue taking the whole import back (once)."""
    if imported.status not in {"done", "failed", "cancelled", "undoing"}:
        raise ValidationError("Only an import that has ended can be undone.")
    if imported.status != "undoing" and not has_written(session, imported.id):
        raise ValidationError("This import left nothing to undo.")
    imported.status = "undoing"
    job = _queue(session, user, UNDO_KIND, f"undo:{imported.id}", imported)
    imported.undo_job_id = job.id
    session.flush()
    return job


def has_written(session: Session, import_id: int) -> bool:
    found = session.scalar(
        select(ContactImportRow.row_number)
        .where(
            ContactImportRow.import_id == import_id,
            ContactImportRow.outcome.in_(("created", "updated")),
        )
        .limit(1)
    )
    return found is not None


def sweep_stale_uploads(session: Session, data_dir: Path) -> int:
    """Remove uploads that were never started (older than a day) with their rows."""
    cutoff = utcnow() - STALE_AFTER
    stale = session.scalars(
        select(ContactImport).where(
            ContactImport.status == "uploaded", ContactImport.created_at < cutoff
        )
    ).all()
    for imported in stale:
        file_of(data_dir, imported).unlink(missing_ok=True)
    if stale:
        session.execute(delete(ContactImport).where(ContactImport.id.in_([i.id for i in stale])))
    return len(stale)


# -- preview ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: list[str]
    record: ContactDraft | None
    problems: list[mapping.Problem]


def preview(
    session: Session, data_dir: Path, imported: ContactImport, limit: int = PREVIEW_ROWS
) -> list[PreviewRow]:
    """The first rows (or cards) as the import would read them."""
    shape = tabular.FileShape(imported.format, imported.encoding, imported.delimiter)
    reader = importrows.RowReader(imported, own_fields(fields.definitions(session)))
    shown: list[PreviewRow] = []
    for entry in reader.entries(file_of(data_dir, imported), shape):
        if entry.empty:
            continue
        shown.append(PreviewRow(entry.number, entry.cells, entry.record, entry.problems))
        if len(shown) >= limit:
            break
    return shown


# -- the report ----------------------------------------------------------------------


def rejected_rows(session: Session, import_id: int) -> Iterator[ContactImportRow]:
    query = (
        select(ContactImportRow)
        .where(ContactImportRow.import_id == import_id, ContactImportRow.outcome == "rejected")
        .order_by(ContactImportRow.row_number)
        .execution_options(yield_per=500)
    )
    for row in session.scalars(query):
        yield row
        session.expunge(row)


def problems_text(problems: Sequence[dict[str, Any]], gettext: Any) -> str:
    return "; ".join(
        mapping.Problem(p["message"], p.get("params") or {}, p.get("column", "")).text(gettext)
        for p in problems
    )


def rejected_csv(session: Session, imported: ContactImport, gettext: Any) -> Iterator[str]:
    """The rejected rows as CSV (UTF-8 with BOM, ``;`` like Excel in German
    speaking countries): row number, reasons, then the row as it was."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    header = [gettext("Row"), gettext("Reasons")]
    header += list(imported.headers) if imported.format != "vcf" else [gettext("Card")]
    writer.writerow(header)
    yield "\ufeff" + buffer.getvalue()
    for row in rejected_rows(session, imported.id):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([row.row_number, problems_text(row.problems, gettext), *row.cells])
        yield buffer.getvalue()
