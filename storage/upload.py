"""Storing items through kmdav's one write path, keeping the body as sent."""

from __future__ import annotations

from contextlib import AbstractContextManager as ContextManager
from typing import TYPE_CHECKING, Any

from radicale import pathutils
from sqlalchemy.orm import Session

from kmdav.dav import repository, service
from kmdav.dav.context import state
from kmdav.scheduling import boxes, implicit, itip

from . import timerange
from .errors import ProtectedError, translated
from .rows import CollectionRow

if TYPE_CHECKING:
    from .get import Item


def dav_object(item: Any, text: str) -> service.DavObject:
    """What the write path stores: ``text`` (the client's bytes or
    Radicale's serialisation of ``item``), with the time-range record of
    the tree Radicale parsed (``timerange.stored_record``)."""
    start, end = item.time_range
    component = item.component_name or item.name
    parsed = item.vobject_item
    return service.DavObject(
        text=text,
        uid=item.uid,
        component=component,
        dtstart=start,
        dtend=end,
        parsed=parsed,
        time_ranges=timerange.stored_record(parsed, component),
    )


class CollectionUploadMixin:
    _row: CollectionRow | None

    @property
    def path(self) -> str:
        raise NotImplementedError

    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    def upload(self, href: str, item: Any) -> tuple[Item, Item | None]:
        if self._row is None:
            raise ValueError("nothing can be stored at the root")
        if boxes.box_kind(self._row.path):
            # RFC 6638 2.1/2.2: only the server delivers into a schedule
            # inbox; the outbox takes free-busy POSTs, never objects.
            raise ProtectedError("the schedule inbox and outbox take no PUT")
        text = self._received_text(href, item) or item.serialize()
        with translated(), self.session() as session:
            replaced = None
            calendar = self._row.tag == "VCALENDAR"
            if calendar and implicit.needs_previous(text):
                replaced = repository.item_body(session, self._row.id, href)
            # The snapshot was read in this request's write transaction.
            new, old = service.store_item(session, self._row, href, dav_object(item, text))
            # Implicit scheduling (RFC 6638 3.2) in the same transaction.
            if calendar:
                new = implicit.after_store(
                    session, self._row, self._row.owner_id, new, old, replaced
                )
        state.schedule_tag = itip.schedule_tag(new.text) if calendar and new.text else None
        make_item = self.make_item  # type: ignore[attr-defined]
        return make_item(new), (make_item(old) if old is not None else None)

    def _received_text(self, href: str, item: Any) -> str | None:
        """The PUT body exactly as the client sent it, when it is this item.

        Radicale re-serialises what it parsed (refolding lines, reordering
        properties, escaping semicolons in X-ANDROID-CUSTOM); we keep the
        client's bytes whenever the body is one object with the same UID.
        """
        stash = state.put_body
        if stash is None:
            return None
        request_path, text = stash
        target = pathutils.strip_path(pathutils.sanitize_path(request_path))
        if target != f"{self.path}/{href}":
            return None
        # A line scan, not a second parse: Radicale has just parsed this body.
        return text if state.received_uid() == item.uid else None
