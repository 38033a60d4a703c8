"""The ``Storage`` and ``Collection`` classes Radicale loads, composed of the
per-concern mixins."""

from __future__ import annotations

from contextlib import AbstractContextManager as ContextManager

from radicale import config as radicale_config
from radicale import storage as radicale_storage
from sqlalchemy.orm import Session

from kmdav.db import Database

from .create import CollectionDeleteMixin, StorageCreateMixin
from .discover import StorageDiscoverMixin
from .get import CollectionGetMixin
from .lock import StorageLockMixin
from .meta import CollectionMetaMixin
from .rows import CollectionRow
from .sync import CollectionSyncMixin
from .upload import CollectionUploadMixin


class Collection(
    CollectionGetMixin,
    CollectionUploadMixin,
    CollectionSyncMixin,
    CollectionMetaMixin,
    CollectionDeleteMixin,
    radicale_storage.BaseCollection,
):
    """A collection as seen at ``path``; an alias shows a shared collection
    inside another user's home and writes go to the real one."""

    def __init__(
        self, storage: Storage, path: str, row: CollectionRow | None, is_alias: bool
    ) -> None:
        self._storage = storage
        self._path = path
        self._row = row
        self._is_alias = is_alias

    @property
    def path(self) -> str:
        return self._path

    @property
    def real_path(self) -> str:
        return self._row.path if self._row is not None else ""

    @property
    def is_alias(self) -> bool:
        return self._is_alias

    def session(self) -> ContextManager[Session]:
        return self._storage.session()


class Storage(
    StorageLockMixin,
    StorageDiscoverMixin,
    StorageCreateMixin,
    radicale_storage.BaseStorage,
):
    """kmdav's SQL storage.  Radicale loads it through a factory that hands
    over the process's :class:`~kmdav.db.Database`."""

    # Paths and user names may use any script; we store them as text.
    _supports_unicode = True
    _is_collision_free = True

    def __init__(
        self, configuration: radicale_config.Configuration, database: Database, company_book: str
    ) -> None:
        super().__init__(configuration)
        self.database = database
        self.company_book = company_book

    def make_collection(self, path: str, row: CollectionRow | None, alias: bool) -> Collection:
        return Collection(self, path, row, alias)

    def verify(self) -> bool:
        return True
