"""RFC 6578 sync tokens over the per-collection change log.

A token names the collection's random ``sync_key`` and a revision:
``urn:kmdav:sync:<key>:<revision>``.  A token of another collection (or of
a deleted and re-created one) has another key and is refused, as is a
revision from the future; Radicale answers both with ``valid-sync-token``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager as ContextManager

from sqlalchemy.orm import Session

from kmdav.dav import repository
from kmdav.dav.context import state

from .rows import CollectionRow

TOKEN_PREFIX = "urn:kmdav:sync:"  # noqa: S105 - a URI scheme, not a secret


def make_token(row: CollectionRow, revision: int) -> str:
    return f"{TOKEN_PREFIX}{row.sync_key}:{revision}"


def parse_token(row: CollectionRow, token: str) -> int:
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError("not a sync token of this server")
    key, _, revision = token[len(TOKEN_PREFIX) :].partition(":")
    if key != row.sync_key or not revision.isdigit():
        raise ValueError("the sync token belongs to another collection")
    return int(revision)


class CollectionSyncMixin:
    _row: CollectionRow | None

    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        row = self._row
        if row is None or not row.tag:
            raise ValueError("only address books and calendars can be synchronised")
        limit = state.sync_limit
        since = parse_token(row, old_token) if old_token else None
        with self.session() as session:
            if state.method == "REPORT" and state.read_session is not None:
                # A REPORT reads in one snapshot (``request_read_session``),
                # the collection's row included: its revision is current.
                current = row.revision
            else:
                current = repository.current_revision(session, row.id)
            if since is not None and since > current:
                raise ValueError("the sync token is from the future")
            if since is None and limit is None:
                # PROPFIND asks for the token only; the hrefs stay unread.
                return make_token(row, current), self._all_hrefs()
            if since is None:
                changes = repository.item_revisions(session, row.id, limit=limit)
            else:
                changes = repository.changes_since(session, row.id, since, limit=limit)
        truncated = limit is not None and len(changes) > limit
        if truncated:
            changes = changes[:limit]
            token = make_token(row, changes[-1][1] if changes else since or 0)
        else:
            newest = max((rev for _, rev in changes), default=current)
            token = make_token(row, max(current, newest))
        state.sync_truncated = truncated
        return token, [href for href, _ in changes]

    def _all_hrefs(self) -> Iterator[str]:
        assert self._row is not None
        with self.session() as session:
            hrefs = [href for href, _ in repository.item_revisions(session, self._row.id)]
        yield from hrefs
