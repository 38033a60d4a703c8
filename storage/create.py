"""Creating, replacing, moving and deleting collections and items."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager as ContextManager
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from radicale import pathutils
from sqlalchemy.orm import Session

from kmdav.accounts import service as accounts
from kmdav.dav import repository, service
from kmdav.scheduling import boxes, implicit

from .errors import ProtectedError, translated
from .rows import CollectionRow
from .upload import dav_object

if TYPE_CHECKING:
    from .base import Collection

_SAFE_HREF = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")


def href_for(uid: str, component: str) -> str:
    suffix = ".vcf" if component in service.CARD_COMPONENTS else ".ics"
    base = uid if _SAFE_HREF.fullmatch(uid) else sha256(uid.encode()).hexdigest()[:40]
    return base + suffix


class StorageCreateMixin:
    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    def collection_at(self, session: Session, path: str) -> Collection | None:
        raise NotImplementedError

    def make_collection(self, path: str, row: CollectionRow | None, alias: bool) -> Collection:
        raise NotImplementedError

    def create_collection(
        self,
        href: str,
        items: Iterable[Any] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[Collection, dict[str, Any], list[str]]:
        path = pathutils.strip_path(href)
        depth = len(path.split("/")) if path else 0
        if depth == 0:
            raise ProtectedError("the root cannot be replaced")
        if depth > 2:
            raise ProtectedError("collections live directly in a home: /<user>/<collection>/")
        if boxes.box_kind(path):
            raise ProtectedError("the schedule inbox and outbox are made by the server")
        with translated(), self.session() as session:
            existing = self.collection_at(session, path)
            if existing is not None and existing.is_alias:
                raise ProtectedError("a shared collection cannot be replaced")
            owner = accounts.get_user(session, path.split("/", 1)[0])
            objects = None
            if items is not None:
                objects = [
                    (href_for(i.uid, i.component_name or i.name), dav_object(i, i.serialize()))
                    for i in items
                ]
            collection, replaced, new_hrefs = service.create_collection(
                session,
                path,
                owner_id=owner.id if owner is not None else None,
                props=dict(props) if props is not None else None,
                items=objects,
            )
            created = self.make_collection(path, CollectionRow.of(collection), False)
            old = {href: created.make_item(stored) for href, stored in replaced.items()}
        return created, old, new_hrefs

    def move(self, item: Any, to_collection: Any, to_href: str) -> None:
        source = item.collection
        with translated(), self.session() as session:
            source_row = repository.get_collection(session, source.real_path)
            target_row = repository.get_collection(session, to_collection.real_path)
            if source_row is None or target_row is None:
                raise ValueError("the collection is gone")
            service.move_item(session, source_row, item.href, target_row, to_href)


class CollectionDeleteMixin:
    _row: CollectionRow | None
    _is_alias: bool

    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    def delete(self, href: str | None = None) -> None:
        if self._row is None:
            raise ProtectedError("the root cannot be deleted")
        with translated(), self.session() as session:
            collection = repository.collection_by_id(session, self._row.id)
            if collection is None:
                raise ValueError("the collection is gone")
            if href is not None:
                old = service.delete_item(session, collection, href)
                implicit.after_delete(session, collection, collection.owner_id, old)
            elif boxes.box_kind(collection.path):
                raise ProtectedError("the schedule inbox and outbox cannot be deleted")
            elif self._is_alias:
                raise ProtectedError("only the owner can delete a shared collection")
            else:
                implicit.before_collection_delete(session, collection)
                service.delete_collection(session, collection)
