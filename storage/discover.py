"""Resolving sanitised paths to collections, shared aliases and items."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import TYPE_CHECKING, Any

from radicale import pathutils
from sqlalchemy.orm import Session

from kmdav.dav import access, repository
from kmdav.dav.context import HEADS_MEMO, state

from .rows import CollectionRow

if TYPE_CHECKING:
    from .base import Collection


class StorageDiscoverMixin:
    company_book: str

    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    def make_collection(self, path: str, row: CollectionRow | None, alias: bool) -> Collection:
        raise NotImplementedError

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], ContextManager[None]] | None = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature
    ) -> Iterator[Any]:
        # A lazy generator: most callers only take the first element.
        stripped = pathutils.strip_path(path)
        with self.session() as session:
            collection = self.collection_at(session, stripped)
        if collection is not None:
            yield collection
            if depth == "0":
                return
            if collection.tag:
                yield from collection.get_all()
            with self.session() as session:
                children = self._children(session, stripped)
            yield from children
            return
        parent_path, _, href = stripped.rpartition("/")
        if not href:
            return
        with self.session() as session:
            parent = self.collection_at(session, parent_path)
        if parent is None or not parent.tag:
            return
        item = parent.get(href)
        if item is not None:
            yield item

    def collection_at(self, session: Session, path: str) -> Collection | None:
        """The collection visible at ``path``: the root, a real one or an alias."""
        if not path:
            return self.make_collection("", None, False)
        if path.count("/") > 1:
            return None  # collections live at most at <home>/<name>
        row = self._head(session, path)
        if row is not None:
            return self.make_collection(path, CollectionRow.of_head(row), False)
        alias = self._alias(session, path)
        if alias is None:
            return None
        real = self._head(session, alias.real_path)
        if real is None:
            return None
        return self.make_collection(path, CollectionRow.of_head(real), True)

    def _head(self, session: Session, path: str) -> tuple[Any, ...] | None:
        """``repository.collection_head``; in a request's read snapshot, the
        first look-up also fetches the other collections the request's path
        names (``state.request_collections``) in the same query and the
        snapshot remembers them: Radicale looks up the principal and then
        the collection of a GET, a poll or a listing, two round trips to
        PostgreSQL otherwise.  A snapshot does not change, so what it
        remembers stays true; write transactions look up afresh."""
        memo: dict[str, tuple[Any, ...] | None] | None = session.info.get(HEADS_MEMO)
        if memo is None:
            return repository.collection_head(session, path)
        if path not in memo:
            wanted = {path, *state.request_collections}
            found = repository.collection_heads(session, wanted)
            memo.update((each, found.get(each)) for each in wanted)
        return memo[path]

    def real_collection_path(self, path: str) -> str:
        with self.session() as session:
            if repository.collection_head(session, path) is not None:
                return path
            alias = self._alias(session, path)
        return alias.real_path if alias is not None else path

    def _alias(self, session: Session, path: str) -> access.Alias | None:
        home, _, name = path.partition("/")
        if not name or "/" in name:
            return None
        return self.aliases(session, home).get(name)

    def aliases(self, session: Session, home: str) -> dict[str, access.Alias]:
        key = ("aliases", home)
        if key not in state.cache:
            state.cache[key] = access.aliases_for(session, home, self.company_book)
        result: dict[str, access.Alias] = state.cache[key]
        return result

    def _children(self, session: Session, path: str) -> list[Collection]:
        rows = repository.child_collections(session, path)
        children = [self.make_collection(r.path, CollectionRow.of(r), False) for r in rows]
        if path and "/" not in path:
            taken = {c.path for c in children}
            for alias in self.aliases(session, path).values():
                alias_path = f"{path}/{alias.name}"
                real = repository.collection_head(session, alias.real_path)
                if real is not None and alias_path not in taken:
                    children.append(
                        self.make_collection(alias_path, CollectionRow.of_head(real), True)
                    )
        return children
