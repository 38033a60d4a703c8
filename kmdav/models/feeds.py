"""Read-only ICS subscription feeds of calendars, reached by a secret link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kmdav.models.base import Base, UTCDateTime, utcnow


class CalendarFeed(Base):
    """One subscription link to a calendar, made by one user.

    Only the SHA-256 of the link's token is stored (hex, unique): the token
    itself is shown once when the feed is made.  A feed answers only while
    it is not revoked and its creator may still read the calendar; deleting
    the calendar or the user deletes the feed with them.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("dav_collections.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
