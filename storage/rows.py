"""Snapshots of rows that stay valid after the request's transaction ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kmdav.models import DavCollection


@dataclass(frozen=True)
class CollectionRow:
    id: int
    path: str
    owner_id: int | None
    tag: str
    revision: int
    sync_key: str
    modified_at: datetime
    props: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_head(cls, head: Any) -> CollectionRow:
        """From :func:`kmdav.dav.repository.collection_head`'s plain row."""
        ident, path, owner_id, tag, revision, sync_key, modified_at, props = head
        return cls(ident, path, owner_id, tag, revision, sync_key, modified_at, dict(props or {}))

    @classmethod
    def of(cls, row: DavCollection) -> CollectionRow:
        return cls(
            id=row.id,
            path=row.path,
            owner_id=row.owner_id,
            tag=row.tag,
            revision=row.revision,
            sync_key=row.sync_key,
            modified_at=row.modified_at,
            props=dict(row.props or {}),
        )
