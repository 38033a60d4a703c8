"""Recording audit entries: who did what, from where, through which face."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
