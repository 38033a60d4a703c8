"""Reading items: by href, all, and filtered reads pushed into SQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager as ContextManager
from datetime import datetime
from email.utils import format_datetime
from typing import Any, cast

from radicale import item as radicale_item
from radicale import storage as radicale_storage
from radicale.item import filter as radicale_filter
from sqlalchemy.orm import Session

from kmdav.dav import repository
from kmdav.dav.cardfilter import candidate_hrefs
from kmdav.dav.items import StoredItem
from kmdav.dav.service import CALENDAR_COMPONENTS

from . import timerange
from .rows import CollectionRow

#: vCards have no time; Radicale gives them the widest range.
NO_RANGE = (radicale_filter.TIMESTAMP_MIN, radicale_filter.TIMESTAMP_MAX)


class Item(radicale_item.Item):
    """An item whose body is read and parsed only when Radicale needs it.

    Listings carry heads only (href, ETag, UID, time range); the body is
    fetched on first ``serialize()``.  The stored text is the body as the
    client sent it, so it is parsed with the same clean-ups Radicale applies
    to an incoming PUT.
    """

    #: When the item was stored, formatted as an HTTP date on first use: a
    #: listing of 10,000 cards rarely asks for ``getlastmodified``.
    _modified_at: datetime | None = None
    _last_modified: str | None = None

    @property
    def last_modified(self) -> str | None:
        if self._last_modified is None and self._modified_at is not None:
            self._last_modified = format_datetime(self._modified_at, usegmt=True)
        return self._last_modified

    @last_modified.setter
    def last_modified(self, value: str | None) -> None:
        self._last_modified = value

    def serialize(self) -> str:
        if self._text is None:
            loader = getattr(self.collection, "load_body", None)
            text = loader(self.href) if loader is not None else None
            if text is None:
                raise RuntimeError(f"item {self.href!r} is gone")
            self._text = text
        return self._text

    @property
    def vobject_item(self) -> Any:
        if self._vobject_item is None:
            try:
                self._vobject_item = timerange.parse_body(self.serialize())
            except Exception as exc:
                raise RuntimeError(f"cannot parse item {self.href!r}: {exc}") from exc
        return self._vobject_item


def _inside(item: Item, start: int, end: int) -> bool:
    """The item starts inside the window (or has no extent beyond it): it
    matches a simple time-range filter without a look at its body."""
    istart, iend = item.time_range
    return start <= istart or iend <= end


class CollectionGetMixin:
    _row: CollectionRow | None
    _with_bodies: bool = False
    _bodiless: dict[str, Item] = {}  # noqa: RUF012 - replaced per instance, never mutated

    def session(self) -> ContextManager[Session]:
        raise NotImplementedError

    def make_item(self, stored: StoredItem) -> Item:
        calendar = stored.component in CALENDAR_COMPONENTS
        item = Item(
            collection=cast("radicale_storage.BaseCollection", self),
            href=stored.href,
            text=stored.text if stored.text is not None else "",
            etag=stored.etag,
            uid=stored.uid,
            name="VCALENDAR" if calendar else stored.component,
            component_name=stored.component if calendar else "",
            time_range=(stored.dtstart, stored.dtend),
        )
        item._text = stored.text  # None: read on first serialize()
        item._modified_at = stored.modified_at
        return item

    def get(self, href: str) -> Item | None:
        if self._row is None:
            return None
        with self.session() as session:
            found = repository.item_snapshots_at(session, self._row.id, [href])
        return self.make_item(found[0]) if found else None

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, Item | None]]:
        wanted = list(hrefs)  # Radicale's generator has side effects: drain it first
        if self._row is None:
            yield from ((href, None) for href in wanted)
            return
        with self.session() as session:
            found = {
                stored.href: self.make_item(stored)
                for stored in repository.item_snapshots_at(session, self._row.id, wanted)
            }
        for href in dict.fromkeys(wanted):
            yield href, found.get(href)

    def get_all(self) -> Iterator[Item]:
        if self._row is None or not self._row.tag:
            return
        bodies = self._with_bodies
        with self.session() as session:
            items = [
                self.make_item(stored)
                for stored in repository.item_snapshots(session, self._row.id, with_body=bodies)
            ]
        if not bodies:
            # Should Radicale want one body of this listing (getcontentlength,
            # allprop), it will want them all: load_body reads them together.
            self._bodiless = {item.href: item for item in items if item.href}
        yield from items

    def serialize(self, *args: Any, **kwargs: Any) -> str:
        # The whole collection as one file (GET on a collection): read the
        # bodies in one query instead of one query per item.
        self._with_bodies = True
        try:
            result: str = super().serialize(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._with_bodies = False
        return result

    def load_body(self, href: str) -> str | None:
        if self._row is None:
            return None
        pending = self._bodiless
        with self.session() as session:
            if href not in pending:
                return repository.item_body(session, self._row.id, href)
            bodies = repository.item_bodies(session, self._row.id, list(pending))
        for other, item in pending.items():
            if item._text is None and other in bodies:
                item._text = bodies[other]
        self._bodiless = {}
        return bodies.get(href)

    def has_uid(self, uid: str) -> bool:
        if self._row is None:
            return False
        with self.session() as session:
            return repository.href_for_uid(session, self._row.id, uid) is not None

    def get_filtered(self, filters: Iterable[ET.Element]) -> Iterator[tuple[Item, bool]]:
        """Candidates from indexed columns; Radicale re-tests what we do not
        claim to have matched fully."""
        row = self._row
        if row is None or not row.tag:
            return
        filters = list(filters)
        if row.tag == "VADDRESSBOOK":
            yield from self._filtered_cards(row, filters)
            return
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, row.tag)
        exact = timerange.single_time_range(filters) if simple else None
        with self.session() as session:
            snapshots = repository.item_snapshots_in_range(session, row.id, tag, start, end)
            items = [self.make_item(stored) for stored in snapshots]
            ranges = self._stored_records(session, row, items, exact, simple, start, end)
        for item in items:
            if simple and _inside(item, start, end):
                yield item, True
            elif exact is None:
                yield item, False
            else:
                # a series (or a long item) that began before the window
                component, window_start, window_end = exact
                found = timerange.decide(
                    item.etag,
                    component,
                    ranges.get(item.href or ""),
                    lambda item=item: item.vobject_item,
                    window_start,
                    window_end,
                )
                if found is None:
                    yield item, False
                elif found:
                    yield item, True

    @staticmethod
    def _stored_records(
        session: Session,
        row: CollectionRow,
        items: list[Item],
        exact: tuple[str, int, int] | None,
        simple: bool,
        start: int,
        end: int,
    ) -> dict[str, bytes]:
        """The stored time-range records (``dav_items.time_ranges``) of the
        candidates ``get_filtered`` will decide from a record and this
        process does not hold yet, by href; only those of the item's own
        component and its current body (ETag)."""
        if exact is None:
            return {}
        component = exact[0]
        wanted = {
            item.href: item.etag
            for item in items
            if item.href
            and item.component_name == component
            and not (simple and _inside(item, start, end))
            and not timerange.RECORDS.holds(item.etag, component)
        }
        if not wanted:
            return {}
        found = repository.item_time_ranges(session, row.id, list(wanted))
        return {
            href: ranges
            for href, (etag, ranges) in found.items()
            if ranges is not None and wanted.get(href) == etag
        }

    def _filtered_cards(
        self, row: CollectionRow, filters: list[ET.Element]
    ) -> Iterator[tuple[Item, bool]]:
        with self.session() as session:
            hrefs = candidate_hrefs(session, row.id, filters)
            if hrefs is None:
                snapshots = repository.item_snapshots(session, row.id)
            else:
                snapshots = repository.item_snapshots_at(session, row.id, hrefs)
            items = [self.make_item(stored) for stored in snapshots]
        for item in items:
            yield item, False
