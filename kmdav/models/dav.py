"""DAV collections, their items and the per-collection change log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kmdav.models.base import Base, BigId, UTCDateTime, utcnow


class DavCollection(Base):
    """A principal home, address book, calendar or plain collection.

    ``path`` is Radicale's sanitised path without slashes at either end
    (``""`` is the root, ``alice`` a principal, ``alice/contacts`` a book).
    ``revision`` is the number of the newest change-log row; ``sync_key`` is
    random per collection so a token from a deleted and re-created collection
    of the same path is recognised as foreign.
    """

    __tablename__ = "dav_collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(String(16), default="")
    props: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    sync_key: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DavItem(Base):
    """One vCard or iCalendar object, stored exactly as received.

    ``dtstart``/``dtend`` are the item's time range as Unix seconds (the
    whole span of a recurring series), which calendar-query pushes into SQL.
    ``time_ranges`` is the compact record of every range Radicale's
    time-range walk visits in the body (``storage/timerange.py``), written
    with the body; NULL when it was not computed (bodies stored before
    migration 0012, web and scheduling writes) or the walk failed.
    """

    __tablename__ = "dav_items"
    __table_args__ = (
        UniqueConstraint("collection_id", "href"),
        UniqueConstraint("collection_id", "uid"),
        Index("ix_dav_items_time_range", "collection_id", "component", "dtstart", "dtend"),
        Index("ix_dav_items_revision", "collection_id", "revision"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collections.id", ondelete="CASCADE"))
    href: Mapped[str] = mapped_column(String(512))
    uid: Mapped[str] = mapped_column(String(512))
    etag: Mapped[str] = mapped_column(String(80))
    component: Mapped[str] = mapped_column(String(16))
    dtstart: Mapped[int] = mapped_column(BigInteger)
    dtend: Mapped[int] = mapped_column(BigInteger)
    time_ranges: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    revision: Mapped[int] = mapped_column(BigInteger)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Last: SQLite reads a column after a long body through its overflow
    #: pages (migration 0013), so listings that skip the body stay cheap.
    body: Mapped[str] = mapped_column(Text)


class DavChange(Base):
    """One row per create, update or delete: the sync-collection change log.

    RFC 6578: a client holding revision R asks for rows with revision > R.
    """

    __tablename__ = "dav_changes"
    __table_args__ = (UniqueConstraint("collection_id", "revision"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collections.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(BigInteger)
    href: Mapped[str] = mapped_column(String(512))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class CollectionShare(Base):
    """An address book or calendar shared with a user or a (nested) group.

    ``access`` is ``read`` or ``write``; a group share reaches the members
    of the group and of all its subgroups.
    """

    __tablename__ = "collection_shares"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="exactly_one_subject"),
        CheckConstraint("access IN ('read', 'write')", name="access_kind"),
        UniqueConstraint("collection_id", "user_id"),
        UniqueConstraint("collection_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("dav_collections.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True
    )
    access: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
