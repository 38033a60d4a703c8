"""The CRM projection of vCards, and own-field ("custom field") definitions.

Every row here is derived from a ``dav_items`` body in the same transaction
that stored it; the body stays the authority.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kmdav.models.base import Base, BigId, UTCDateTime, utcnow


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("dav_items.id", ondelete="CASCADE"), unique=True
    )
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("dav_collections.id", ondelete="CASCADE"), index=True
    )
    #: vCard 4 KIND: individual, org, group (vCard 3 ``X-ADDRESSBOOKSERVER-KIND`` too).
    kind: Mapped[str] = mapped_column(String(16), default="individual")
    formatted_name: Mapped[str] = mapped_column(String(500), default="", index=True)
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="", index=True)
    organization: Mapped[str] = mapped_column(String(500), default="", index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    #: As written in the card: vCard allows partial dates such as ``--0415``.
    birthday: Mapped[str] = mapped_column(String(40), default="")
    categories: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    has_photo: Mapped[bool] = mapped_column(Boolean, default=False)
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: ``X-KMDAV-COMPANY-UID``: the UID of the company card a person belongs to.
    company_uid: Mapped[str] = mapped_column(String(255), default="", index=True)
    #: CRM data outside the card: the responsible user (never synced).
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    #: What full-text search reads from the card (names, company, e-mail,
    #: phone, city, note, own fields); kept by the projection.
    search_text: Mapped[str] = mapped_column(Text, default="")
    #: The CRM notes' text, kept by :mod:`kmdav.contacts.crm`.
    notes_text: Mapped[str] = mapped_column(Text, default="")


class ContactNote(Base):
    """A dated note on a contact written in the CRM (not part of the card)."""

    __tablename__ = "contact_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    author_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class ContactEvent(Base):
    """One entry of a contact's activity timeline; any module may append."""

    __tablename__ = "contact_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    #: created, updated, note, phone_update, ... (modules add their own).
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    #: What the entry points at, e.g. ``event:<uid>`` or ``invoice:17``.
    ref: Mapped[str] = mapped_column(String(255), default="")


class ContactEmail(Base):
    __tablename__ = "contact_emails"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(320), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")


class ContactPhone(Base):
    __tablename__ = "contact_phones"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(100), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")


class ContactAddress(Base):
    __tablename__ = "contact_addresses"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    street: Mapped[str] = mapped_column(String(500), default="")
    locality: Mapped[str] = mapped_column(String(200), default="", index=True)
    region: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(200), default="")


class CustomFieldDefinition(Base):
    """An admin-defined field; travels in vCards as ``X-KMDAV-<KEY>``."""

    __tablename__ = "custom_field_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    #: text, number, date, select, checkbox
    field_type: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: person, company or both
    applies_to: Mapped[str] = mapped_column(String(16), default="both")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomFieldValue(Base):
    """A contact's value for an own field, as text; ``valid`` flags bad input
    that came from a phone (kept, never dropped)."""

    __tablename__ = "custom_field_values"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    field_id: Mapped[int] = mapped_column(
        ForeignKey("custom_field_definitions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    value: Mapped[str] = mapped_column(Text)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
