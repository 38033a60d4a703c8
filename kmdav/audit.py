"""Recording audit entries: who did what, from where, through which face."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kmdav.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (or the system), through which face, from where."""

    name: str
    source: str
    user_id: int | None = None
    remote_addr: str = ""


SYSTEM = Actor(name="system", source="system")
CLI = Actor(name="cli", source="cli")


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id,
            actor_name=actor.name,
            source=actor.source,
            remote_addr=actor.remote_addr,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
        )
    )


# -- reading ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show; every part is optional.  ``until`` is exclusive."""

    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    """One page of entries, newest first, and whether more lie either side."""

    entries: list[AuditEntry]
    newer: bool
    older: bool


def actions(session: Session) -> list[str]:
    """Every action that occurs in the log, for a filter's choices."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def read_page(
    session: Session,
    wanted: AuditFilter,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    size: int = 50,
) -> AuditPage:
    """Entries matching ``wanted``, newest first, paged by id (keyset): the
    page older than ``before_id`` or newer than ``after_id`` (else the newest)."""
    query = select(AuditEntry)
    if wanted.actor:
        query = query.where(func.lower(AuditEntry.actor_name) == wanted.actor.casefold())
    if wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEntry.at < wanted.until)
    if after_id is not None:
        rows = list(
            session.scalars(
                query.where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(size + 1)
            )
        )
        newer = len(rows) > size
        return AuditPage(list(reversed(rows[:size])), newer=newer, older=True)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(size + 1)))
    return AuditPage(rows[:size], newer=before_id is not None, older=len(rows) > size)
