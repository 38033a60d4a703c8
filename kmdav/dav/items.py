"""Item snapshots that cross layers (repository -> service -> storage)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kmdav.models import DavItem


@dataclass(frozen=True)
class StoredItem:
    """A snapshot of an item row, safe to use after the transaction ends."""

    href: str
    uid: str
    etag: str
    #: ``None`` when only the head was read (listings that need no body).
    text: str | None
    component: str
    dtstart: int
    dtend: int
    modified_at: datetime
    #: The time-range record to store with the body (``storage/timerange.py``);
    #: written, never read into snapshots (``repository.item_time_ranges``).
    time_ranges: bytes | None = None

    @classmethod
    def of(cls, row: DavItem) -> StoredItem:
        return cls(
            href=row.href,
            uid=row.uid,
            etag=row.etag,
            text=row.body,
            component=row.component,
            dtstart=row.dtstart,
            dtend=row.dtend,
            modified_at=row.modified_at,
        )


class CollectionRef(Protocol):
    """What the write path needs of a collection: an ORM row or a snapshot."""

    @property
    def id(self) -> int: ...

    @property
    def path(self) -> str: ...

    @property
    def tag(self) -> str: ...

    @property
    def props(self) -> Mapping[str, Any]: ...
