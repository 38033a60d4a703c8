"""REPORTs Radicale lacks, added around its report builder.

- ``DAV:limit`` on sync-collection (RFC 6578 3.6/3.7): the storage cuts the
  change list; here the 507 response for the request-URI is added.
- ``C:expand`` on a calendar-query for VTODOs (RFC 4791 9.6.5), which
  Radicale expands for VEVENT only: see :mod:`kmdav.dav.expand`.
- ``DAV:principal-property-search`` and ``principal-search-property-set``
  (RFC 3744 9.4/9.5), which Radicale answers with an empty result: clients
  use them to find colleagues to invite.  Results are limited to the users
  the caller may see (:func:`kmdav.accounts.service.visible_users`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import quote

from radicale.app import report as radicale_report

from kmdav.accounts import service as accounts
from kmdav.dav import expand
from kmdav.dav.context import session_scope, state
from kmdav.models import User

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"
CR = "{urn:ietf:params:xml:ns:carddav}"
ReportFn = Callable[..., tuple[int, ET.Element]]
_STAMP = "%Y%m%dT%H%M%SZ"


def _principal_props(user: User, base_prefix: str) -> dict[str, Callable[[ET.Element], None]]:
    home = quote(f"{base_prefix}/{user.username}/")

    def home_href(element: ET.Element) -> None:
        ET.SubElement(element, D + "href").text = home

    def text(value: str) -> Callable[[ET.Element], None]:
        def fill(element: ET.Element) -> None:
            element.text = value

        return fill

    def principal_type(element: ET.Element) -> None:
        ET.SubElement(element, D + "principal")

    def addresses(element: ET.Element) -> None:
        if user.email:
            ET.SubElement(element, D + "href").text = f"mailto:{user.email}"
        ET.SubElement(element, D + "href").text = home

    return {
        D + "displayname": text(user.display_name or user.username),
        D + "principal-URL": home_href,
        C + "calendar-home-set": home_href,
        CR + "addressbook-home-set": home_href,
        C + "calendar-user-address-set": addresses,
        D + "resourcetype": principal_type,
    }


def _principal_search(
    base_prefix: str, request: ET.Element, user: str, database: Any
) -> ET.Element:
    name = None
    for search in request.findall(D + "property-search"):
        match = search.find(D + "match")
        if match is not None and (match.text or "").strip():
            name = (match.text or "").strip()
    wanted = [p.tag for p in request.find(D + "prop") or []]
    # The caldav library (3.x) puts the wanted properties next to an empty
    # DAV:prop instead of inside it; read them there too.
    structural = {D + "property-search", D + "prop", D + "apply-to-principal-collection-set"}
    wanted += [child.tag for child in request if child.tag not in structural]
    multistatus = ET.Element(D + "multistatus")
    with session_scope(database) as session:
        users = accounts.visible_users(session, user, name)
        for found in users:
            props = _principal_props(found, base_prefix)
            response = ET.SubElement(multistatus, D + "response")
            ET.SubElement(response, D + "href").text = quote(f"{base_prefix}/{found.username}/")
            known = ET.SubElement(response, D + "propstat")
            known_prop = ET.SubElement(known, D + "prop")
            missing_prop = None
            for tag in wanted:
                if tag in props:
                    props[tag](ET.SubElement(known_prop, tag))
                else:
                    if missing_prop is None:
                        missing = ET.SubElement(response, D + "propstat")
                        missing_prop = ET.SubElement(missing, D + "prop")
                        ET.SubElement(missing, D + "status").text = "HTTP/1.1 404 Not Found"
                    ET.SubElement(missing_prop, tag)
            ET.SubElement(known, D + "status").text = "HTTP/1.1 200 OK"
    return multistatus


def _search_property_set() -> ET.Element:
    root = ET.Element(D + "principal-search-property-set")
    searchable = ET.SubElement(root, D + "principal-search-property")
    ET.SubElement(ET.SubElement(searchable, D + "prop"), D + "displayname")
    ET.SubElement(searchable, D + "description").text = "Name, user name or e-mail address"
    return root


def _add_limit_response(answer: ET.Element, base_prefix: str, path: str) -> None:
    response = ET.SubElement(answer, D + "response")
    ET.SubElement(response, D + "href").text = quote(base_prefix + path)
    ET.SubElement(response, D + "status").text = "HTTP/1.1 507 Insufficient Storage"
    error = ET.SubElement(response, D + "error")
    ET.SubElement(error, D + "number-of-matches-within-limits")


def _todo_expansion(request: ET.Element) -> tuple[datetime, datetime] | None:
    """The range to expand VTODO instances in, when ``request`` is a
    calendar-query with ``C:expand`` on VTODO (time-range filter, else the
    expand range)."""
    if request.tag != C + "calendar-query":
        return None
    expand = request.find(f".//{C}expand")
    todo = next(
        (f for f in request.iter(C + "comp-filter") if f.get("name", "").upper() == "VTODO"),
        None,
    )
    if expand is None or todo is None:
        return None
    limits = todo.find(C + "time-range")
    source = limits if limits is not None else expand
    try:
        start = datetime.strptime(source.get("start") or "", _STAMP).replace(tzinfo=UTC)
        end = datetime.strptime(source.get("end") or "99991231T000000Z", _STAMP)
    except ValueError as exc:
        raise ValueError("expand and time-range take UTC times like 20270101T000000Z") from exc
    return start, end.replace(tzinfo=UTC)


def _expand_todo_answer(answer: ET.Element, start: datetime, end: datetime) -> None:
    for response in list(answer.findall(D + "response")):
        data = response.find(f"{D}propstat/{D}prop/{C}calendar-data")
        if data is None or not data.text or "BEGIN:VTODO" not in data.text.upper():
            continue
        expanded = expand.expand_todos(data.text, start, end)
        if expanded is None:
            answer.remove(response)
        else:
            data.text = expanded


def extended_report(original: ReportFn) -> ReportFn:
    @wraps(original)  # keeps the other wrappers' marks: install runs once per app
    def xml_report(
        base_prefix: str, path: str, xml_request: ET.Element | None, *args: Any, **kwargs: Any
    ) -> tuple[int, ET.Element]:
        if xml_request is not None and xml_request.tag == D + "principal-property-search":
            collection: Any = args[0] if args else kwargs["collection"]
            user = args[4] if len(args) > 4 else kwargs.get("user", "")
            database = collection._storage.database
            return 207, _principal_search(base_prefix, xml_request, user, database)
        if xml_request is not None and xml_request.tag == D + "principal-search-property-set":
            return 200, _search_property_set()
        is_sync = xml_request is not None and xml_request.tag == D + "sync-collection"
        if is_sync and xml_request is not None:
            nresults = xml_request.find(f"{D}limit/{D}nresults")
            if nresults is not None:
                try:
                    state.sync_limit = max(1, int((nresults.text or "").strip()))
                except ValueError as exc:
                    raise ValueError("DAV:nresults must be a number") from exc
        todo_range = _todo_expansion(xml_request) if xml_request is not None else None
        try:
            status, answer = original(base_prefix, path, xml_request, *args, **kwargs)
            if is_sync and state.sync_truncated:
                _add_limit_response(answer, base_prefix, path)
            if todo_range is not None and status == 207:
                _expand_todo_answer(answer, *todo_range)
            return status, answer
        finally:
            state.sync_limit = None
            state.sync_truncated = False

    xml_report.kmdav_extended = True  # type: ignore[attr-defined]
    return xml_report


def install() -> None:
    """Put the extended builder in place of Radicale's (once per process)."""
    if not getattr(radicale_report.xml_report, "kmdav_extended", False):
        radicale_report.xml_report = extended_report(radicale_report.xml_report)
