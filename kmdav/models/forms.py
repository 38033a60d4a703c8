"""Website contact forms, the consent texts they showed, the consent given,
and the UIDs of contacts merged into others."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kmdav.models.base import Base, BigId, UTCDateTime, utcnow


class ContactForm(Base):
    """A form built in the UI and published at ``/f/<public_id>``.

    ``fields`` lists what the form asks, in order: ``{"key": "email",
    "required": true}``, where a key is a standard field (``given_name``,
    ``email``, ...) or ``custom:<own field key>``.
    """

    __tablename__ = "contact_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The unguessable part of the public address (``secrets.token_urlsafe``).
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The language the public page speaks (labels of standard fields, buttons).
    language: Mapped[str] = mapped_column(String(8), default="en")
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    thank_you_text: Mapped[str] = mapped_column(Text, default="")
    #: http(s) address the browser goes to after a submission; empty: the thank-you text.
    redirect_url: Mapped[str] = mapped_column(String(2000), default="")
    #: Notify the assigned users by e-mail (the outbox job).
    notify_email: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Users told about each submission (ids of ``users``; deleted users are skipped).
    notify_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when the form is deleted: the address answers 404, consent records keep their text.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsentText(Base):
    """One version of a form's consent wording; never changed once written.

    A new version is written whenever the consent text or the privacy
    notice changes, so a consent record always names the exact words the
    person agreed to.
    """

    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("form_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("contact_forms.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    consent_text: Mapped[str] = mapped_column(Text)
    privacy_url: Mapped[str] = mapped_column(String(2000), default="")
    privacy_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(Base):
    """Consent given through a form: which text version, when, from which
    page and which client address, for which contact."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    consent_text_id: Mapped[int] = mapped_column(
        ForeignKey("consent_texts.id", ondelete="RESTRICT"), index=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("contact_forms.id", ondelete="RESTRICT"))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The page the form was sent from (the ``page`` field or the Referer).
    page_url: Mapped[str] = mapped_column(String(2000), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class ContactUidAlias(Base):
    """A contact merged into another: links by the old UID (``X-KMDAV-CONTACT``
    in calendar objects, bookmarks) resolve to the survivor."""

    __tablename__ = "contact_uid_aliases"

    old_uid: Mapped[str] = mapped_column(String(500), primary_key=True)
    survivor_uid: Mapped[str] = mapped_column(String(500), index=True)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    merged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
