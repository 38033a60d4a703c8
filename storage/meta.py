"""Collection properties, the ctag and last-modified."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager as ContextManager
from email.utils import format_datetime
from hashlib import sha256
from typing import Any

from sqlalchemy.orm import Session

from kmdav.dav import repository, service

from .errors import ProtectedError, translated
from .rows import CollectionRow


class CollectionMetaMixin:
    _row: CollectionRow | None
    _is_alias: bool

    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    @property
    def tag(self) -> str:
        return self._row.tag if self._row is not None else ""

    def get_meta(self, key: str | None = None) -> Any:
        props: Mapping[str, str] = self._row.props if self._row is not None else {}
        if key is None:
            return dict(props)
        return props.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        if self._row is None:
            raise ProtectedError("the root has no properties to change")
        if self._is_alias:
            raise ProtectedError("only the owner can change a shared collection's properties")
        with translated(), self.session() as session:
            collection = repository.collection_by_id(session, self._row.id)
            if collection is None:
                raise ValueError("the collection is gone")
            service.set_props(session, collection, dict(props))

    @property
    def etag(self) -> str:
        """The ctag: changes with every revision and every property change."""
        row = self._row
        if row is None:
            return '"root"'
        digest = sha256(
            f"{row.sync_key}:{row.revision}:{json.dumps(row.props, sort_keys=True)}".encode()
        )
        return f'"{digest.hexdigest()}"'

    @property
    def last_modified(self) -> str:
        if self._row is None:
            return "Thu, 01 Jan 1970 00:00:00 GMT"
        return format_datetime(self._row.modified_at, usegmt=True)
