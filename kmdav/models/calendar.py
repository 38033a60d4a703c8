"""The CRM projection of iCalendar objects: appointments, tasks, journals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kmdav.models.base import Base, BigId, UTCDateTime


class CalendarObject(Base):
    """The master component of one calendar object resource.

    ``start_utc``/``end_utc`` are the first occurrence; ``recurrence_end``
    is the end of the last occurrence, ``None`` when the series has no end.
    """

    __tablename__ = "calendar_objects"
    __table_args__ = (Index("ix_calendar_objects_span", "collection_id", "start_utc"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("dav_items.id", ondelete="CASCADE"), unique=True
    )
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collections.id", ondelete="CASCADE"))
    component: Mapped[str] = mapped_column(String(16))
    uid: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    start_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    floating: Mapped[bool] = mapped_column(Boolean, default=False)
    is_recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    recurrence_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    override_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="")
    due_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    percent_complete: Mapped[int] = mapped_column(Integer, default=0)
    organizer: Mapped[str] = mapped_column(String(320), default="")
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    related_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[str] = mapped_column(Text, default="")
