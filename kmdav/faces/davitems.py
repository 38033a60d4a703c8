"""The per-item responses of large listings, written straight as XML text.

A Depth 1 PROPFIND of 10,000 cards and the 100 multigets of an initial
sync answer one ``<D:response>`` per card.  Radicale builds each as a small
ElementTree (response, href, propstat, prop, the properties, status) and
the serializer walks it again: about half of such a request.  For the
shapes clients use to list and fetch a collection, this module writes each
item's response as text once, into a :class:`davspeed.Written` element that
``davspeed.serialize`` copies as it is:

- PROPFIND of an item for nothing but ``getetag``, ``getcontenttype``,
  ``getlastmodified`` and ``resourcetype`` (how DAVx5, Thunderbird, Apple
  clients and the benchmark list a collection);
- ``addressbook-multiget`` and ``calendar-multiget`` for nothing but
  ``getetag``, ``getcontenttype`` and the address or calendar data, with no
  filter, no expansion and no share (how they fetch what changed);
- ``sync-collection`` for nothing but ``getetag`` and ``getcontenttype``,
  without ``DAV:limit`` (a client's full or incremental sync).

Everything else, including every collection, goes Radicale's way.  The text
is what ElementTree writes for the tree Radicale builds for the same item;
``tests/dav/test_davitems.py`` compares the bytes of both for random
requests.  Hrefs are resolved, and missing ones answered, by Radicale's own
``retrieve_items``.  Each written response can rebuild Radicale's tree, for
the rare answer that goes to ElementTree after all (debug logging).
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from functools import lru_cache, partial, wraps
from http import client
from typing import Any
from urllib.parse import quote, unquote, urlparse

from radicale import pathutils, storage, xmlutils
from radicale.app import propfind as radicale_propfind
from radicale.app import report as radicale_report

from kmdav.faces import davspeed

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"
CR = "{urn:ietf:params:xml:ns:carddav}"
GETETAG = D + "getetag"
GETCONTENTTYPE = D + "getcontenttype"
GETLASTMODIFIED = D + "getlastmodified"
RESOURCETYPE = D + "resourcetype"
CALENDAR_DATA = C + "calendar-data"
ADDRESS_DATA = CR + "address-data"
#: Item properties a PROPFIND may ask for and still be written here.
PROPFIND_PROPS = frozenset({GETETAG, GETCONTENTTYPE, GETLASTMODIFIED, RESOURCETYPE})
#: Properties a multiget may ask for and still be written here.
MULTIGET_PROPS = frozenset({GETETAG, GETCONTENTTYPE, CALENDAR_DATA, ADDRESS_DATA})
#: Properties a sync-collection report may ask for and still be written here.
SYNC_PROPS = frozenset({GETETAG, GETCONTENTTYPE})
SYNC_COLLECTION = D + "sync-collection"
#: The multiget report for each kind of collection.
MULTIGETS = {C + "calendar-multiget": "VCALENDAR", CR + "addressbook-multiget": "VADDRESSBOOK"}
_OK = xmlutils.make_response(200)
#: Every line ``line.upper() == "BEGIN:VEVENT"`` holds this (no other
#: character upper-cases to one of these letters): a cheap test before
#: Radicale's own line count.
_MAYBE_VEVENT = re.compile("[Vv][Ee][Vv][Ee][Nn][Tt]")

PropfindFn = Callable[..., ET.Element]
ReportFn = Callable[..., tuple[int, ET.Element]]


class _Shape:
    """The fixed text of the responses for one list of property tags: a
    ``<D:response>`` with the href and one 200 propstat of the properties."""

    def __init__(self, tags: tuple[str, ...]) -> None:
        self.namespaces: dict[str, str] = {}
        self.names = [self._name(tag) for tag in tags]
        response, href, propstat, prop, status = (
            self._name(D + local) for local in ("response", "href", "propstat", "prop", "status")
        )
        self.head = f"<{response}><{href}>"
        self.middle = f"</{href}><{propstat}><{prop}>"
        self.tail = f"</{prop}><{status}>{_OK}</{status}></{propstat}></{response}>"

    def _name(self, tag: str) -> str:
        qualified, uri, prefix = davspeed.qualify(tag)
        if uri is not None:
            self.namespaces[uri] = prefix
        return qualified

    def xml(self, href: str, texts: Iterable[str | None]) -> str:
        escape = davspeed.escape_text
        parts = [self.head, escape(href), self.middle]
        for name, text in zip(self.names, texts, strict=True):
            parts.append(f"<{name}>{escape(text)}</{name}>" if text else f"<{name} />")
        parts.append(self.tail)
        return "".join(parts)


@lru_cache(maxsize=64)
def _shape(tags: tuple[str, ...]) -> _Shape:
    return _Shape(tags)


@lru_cache(maxsize=256)
def _collection_href(base_prefix: str, collection_path: str) -> str:
    return base_prefix + pathutils.unstrip_path(collection_path, True)


def _item_href(base_prefix: str, item: Any) -> str:
    """The href Radicale's builders give an item of a collection."""
    name = item.href
    if not pathutils.is_safe_path_component(name):  # Radicale's own assertions fail
        return xmlutils.make_href(
            base_prefix, pathutils.unstrip_path(posixpath.join(item.collection.path, name))
        )
    return quote(_collection_href(base_prefix, item.collection.path) + name)


def written_propfind_response(original: PropfindFn) -> PropfindFn:
    """Radicale's per-resource PROPFIND builder, writing the common item
    responses as text."""

    @wraps(original)  # keeps the other wrappers' marks: install runs once per app
    def response(
        app: Any, base_prefix: str, path: str, item: Any, props: Any, *args: Any, **kwargs: Any
    ) -> ET.Element:
        if (
            isinstance(item, storage.BaseCollection)
            or not props
            or len(args) != 2  # user and encoding; the rest comes by keyword
            or kwargs.get("propname")
            or kwargs.get("allprop")
            or kwargs.get("shares")
            or not PROPFIND_PROPS.issuperset(props)
        ):
            return original(app, base_prefix, path, item, props, *args, **kwargs)
        encoding = args[1]
        found: list[str | None] = []
        for tag in props:
            if tag == GETETAG:
                found.append(item.etag)
            elif tag == GETLASTMODIFIED:
                found.append(item.last_modified)
            elif tag == GETCONTENTTYPE:
                found.append(xmlutils.get_content_type(item, encoding))
            else:  # resourcetype: empty for an item
                found.append(None)
        shape = _shape(tuple(props))
        xml = shape.xml(_item_href(base_prefix, item), found)
        rebuild = partial(original, app, base_prefix, path, item, props, *args, **kwargs)
        return davspeed.written(D + "response", xml, shape.namespaces, rebuild)

    response.kmdav_written = True  # type: ignore[attr-defined]
    return response


#: An href ``urlparse`` gives back whole as its path: absolute, no network
#: location, no parameters, query or fragment, nothing it strips.
_PLAIN_PATH = re.compile(r"/(?!/)[^;?#\t\r\n]*")


def href_path(text: str) -> str:
    """``urlparse(text).path``, without parsing the common plain path."""
    if _PLAIN_PATH.fullmatch(text):
        return text
    return urlparse(text).path


def _sync_hrefs(root: ET.Element, collection: Any, multistatus: ET.Element) -> list[str] | None:
    """The paths of what changed since the request's token, with the new
    token added to ``multistatus`` as Radicale adds it; None for a token
    the collection refuses (Radicale answers and logs that itself)."""
    element = root.find(D + "sync-token")
    old = element.text.strip() if element is not None and element.text else ""
    try:
        token, names = collection.sync(old)
    except ValueError:
        return None
    ET.SubElement(multistatus, D + "sync-token").text = token
    return [pathutils.unstrip_path(posixpath.join(collection.path, name)) for name in names]


def _multiget_hrefs(base_prefix: str, root: ET.Element) -> set[str] | None:
    """The request's hrefs as Radicale reads them, or None when one of them
    needs Radicale's own handling (no text, outside the DAV prefix)."""
    hrefs = set()
    for element in root.findall(D + "href"):
        if element.text is None:
            return None
        path = pathutils.sanitize_path(unquote(href_path(element.text)))
        if not (path + "/").startswith(base_prefix + "/"):
            return None
        hrefs.add(path[len(base_prefix) :])
    return hrefs


def _report_tags(root: ET.Element | None, collection: Any) -> list[str] | None:
    """The properties a multiget or sync-collection asks for, when its
    items can be written here; else None."""
    if root is None:
        return None
    if root.tag == SYNC_COLLECTION:
        if collection.tag not in ("VADDRESSBOOK", "VCALENDAR"):
            return None
        allowed = SYNC_PROPS
    elif MULTIGETS.get(root.tag) == collection.tag:
        allowed = MULTIGET_PROPS
    else:
        return None
    prop = root.find(D + "prop")
    tags = [element.tag for element in prop] if prop is not None else []
    if (
        not tags
        or not allowed.issuperset(tags)
        or root.find(D + "limit") is not None  # davreports' wrapper and Radicale's path
        or root.find(C + "filter") is not None
        or root.find(CR + "filter") is not None
        or root.find(".//" + C + "expand") is not None
    ):
        return None
    return tags


def _written_report(
    base_prefix: str,
    path: str,
    root: ET.Element | None,
    collection: Any,
    encoding: str,
    unlock_storage_fn: Callable[[], None],
    max_occurrence: int,
) -> tuple[int, ET.Element] | None:
    """A multiget or sync-collection answered with written responses, or
    None for Radicale."""
    tags = _report_tags(root, collection)
    if root is None or tags is None:
        return None
    multistatus = ET.Element(D + "multistatus")
    hrefs: Iterable[str] | None
    if root.tag == SYNC_COLLECTION:
        hrefs = _sync_hrefs(root, collection, multistatus)
    else:
        hrefs = _multiget_hrefs(base_prefix, root)
    if hrefs is None:
        return None
    # Radicale's resolution of the hrefs: 404 responses for missing,
    # deleted and invalid ones go into the multistatus first, in its order.
    retrieved = list(
        radicale_report.retrieve_items(base_prefix, path, collection, hrefs, [], multistatus, None)
    )
    unlock_storage_fn()
    items = [item for item, _matched in retrieved]
    _append_items(multistatus, items, tags, base_prefix, encoding, max_occurrence)
    return client.MULTI_STATUS, multistatus


def _append_items(
    multistatus: ET.Element,
    items: list[Any],
    tags: list[str],
    base_prefix: str,
    encoding: str,
    max_occurrence: int,
) -> None:
    """A written response per item, with the values Radicale's REPORT
    builder gives ``tags``."""
    shape = _shape(tuple(tags))
    vevents = 0
    for item in items:
        found: list[str | None] = []
        for tag in tags:
            if tag == GETCONTENTTYPE:
                found.append(xmlutils.get_content_type(item, encoding))
                continue
            text = item.serialize()
            if tag == GETETAG:
                found.append(item.etag)
            else:
                found.append(text)
                if text and _MAYBE_VEVENT.search(text):
                    vevents += sum(
                        1 for line in text.splitlines() if line.upper() == "BEGIN:VEVENT"
                    )
            # Radicale's guard against answers with too many events.
            if max_occurrence and vevents > max_occurrence:
                raise ValueError(f"REPORT occurrences limit of {max_occurrence} hit")
        href = _item_href(base_prefix, item)
        rebuild = partial(_rebuild_item, href, tags, found)
        multistatus.append(
            davspeed.written(D + "response", shape.xml(href, found), shape.namespaces, rebuild)
        )


def _rebuild_item(href: str, tags: list[str], found: list[str | None]) -> ET.Element:
    """The tree Radicale's ``xml_item_response`` builds for a found item."""
    response = ET.Element(D + "response")
    ET.SubElement(response, D + "href").text = href
    propstat = ET.SubElement(response, D + "propstat")
    prop = ET.SubElement(propstat, D + "prop")
    for tag, text in zip(tags, found, strict=True):
        ET.SubElement(prop, tag).text = text
    ET.SubElement(propstat, D + "status").text = _OK
    return response


def written_report(original: ReportFn) -> ReportFn:
    """Radicale's REPORT builder, writing the items of a plain multiget or
    sync-collection as text."""

    @wraps(original)
    def xml_report(
        base_prefix: str,
        path: str,
        xml_request: ET.Element | None,
        collection: Any,
        encoding: str,
        unlock_storage_fn: Callable[[], None],
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, ET.Element]:
        max_occurrence = args[0] if args else kwargs.get("max_occurrence", 0)
        share = args[3] if len(args) > 3 else kwargs.get("share")
        head = (base_prefix, path, xml_request, collection, encoding, unlock_storage_fn)
        if share is None:
            answer = _written_report(*head, max_occurrence)
            if answer is not None:
                return answer
        return original(*head, *args, **kwargs)

    xml_report.kmdav_written = True  # type: ignore[attr-defined]
    return xml_report


def install() -> None:
    """Wrap Radicale's PROPFIND and REPORT builders (once per process)."""
    if not getattr(radicale_propfind.xml_propfind_response, "kmdav_written", False):
        radicale_propfind.xml_propfind_response = written_propfind_response(
            radicale_propfind.xml_propfind_response
        )
    if not getattr(radicale_report.xml_report, "kmdav_written", False):
        radicale_report.xml_report = written_report(radicale_report.xml_report)
