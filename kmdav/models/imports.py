"""Contact imports: one row per uploaded file, one per imported row.

``contact_import_rows`` is the import's ledger and its natural key: a row
number is written once per import (primary key), in the same transaction
as the card it created or changed, so a retried job never imports a row
twice, and undo (or the clean-up after a failure) knows exactly which cards
to remove and which bodies to put back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kmdav.models.base import Base, BigId, UTCDateTime, utcnow

#: uploaded -> queued -> running -> done | failed | cancelled; done -> undoing -> undone.
IMPORT_STATUSES = (
    "uploaded",
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "undoing",
    "undone",
)
#: What happened to a row.  ``reverted``: created or updated, then taken back.
ROW_OUTCOMES = ("created", "updated", "skipped", "rejected", "reverted")


class ContactImport(Base):
    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The name the browser sent (shown only); the file lives in the data dir
    #: as ``imports/<stored_name>`` until the import has ended.
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    #: csv, xlsx or vcf; how a CSV is read.
    format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8")
    delimiter: Mapped[str] = mapped_column(String(4), default=",")
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: A target per column ("" skips it), see kmdav.contacts.mapping.
    mapping: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: What a row that matches an existing contact does: skip, update or create.
    duplicate_mode: Mapped[str] = mapped_column(String(8), default="skip")
    #: email, or name_company.
    match_on: Mapped[str] = mapped_column(String(16), default="email")
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("dav_collections.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    undo_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    #: Counts by outcome (created, updated, skipped, rejected, reverted, kept).
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ContactImportRow(Base):
    __tablename__ = "contact_import_rows"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("contact_imports.id", ondelete="CASCADE"), primary_key=True
    )
    #: The row as a spreadsheet numbers it (the header is row 1), or the
    #: card's position in a .vcf file.
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(10))
    #: The card the row created or updated (in the import's collection).
    href: Mapped[str] = mapped_column(String(512), default="")
    #: ETag the import left, so undo can leave cards edited since alone.
    etag: Mapped[str] = mapped_column(String(80), default="")
    #: The body before an update (undo puts it back).
    previous_body: Mapped[str | None] = mapped_column(Text)
    #: Why a row was rejected: [{"message", "params", "column"}].
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: The row's cells as read (rejected rows only: the download of them).
    cells: Mapped[list[str]] = mapped_column(JSON, default=list)
