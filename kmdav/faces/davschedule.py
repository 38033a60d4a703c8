"""RFC 6638 (CalDAV scheduling) on top of Radicale 3.9, which has none.

Three small hooks, no copy of Radicale's code:

- :class:`SchedulingApplication` subclasses Radicale's ``Application``:
  ``OPTIONS`` adds ``calendar-auto-schedule`` to the DAV header (RFC 6638
  2), and ``POST`` to a schedule outbox answers a VFREEBUSY REQUEST (RFC
  6638 5) from :mod:`kmdav.scheduling.freebusy`; every other POST goes to
  Radicale as before.  Radicale has authenticated the user by then.
- :func:`install` wraps ``radicale.app.propfind.xml_propfind_response``
  (the per-resource builder of PROPFIND answers): a principal gets
  ``schedule-inbox-URL``, ``schedule-outbox-URL``,
  ``calendar-user-address-set`` (``mailto:`` and the principal URL) and
  ``calendar-user-type``; the boxes get their resource types, the inbox
  ``schedule-default-calendar-URL``, and both their scheduling privileges.
- Implicit scheduling on PUT and DELETE lives in the storage
  (:mod:`kmdav.scheduling.implicit`, called from ``storage/``), inside the
  request's transaction.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from radicale import httputils, pathutils, storage, types
from radicale.app import Application
from radicale.app import propfind as radicale_propfind

from kmdav.accounts import service as accounts
from kmdav.dav.context import session_scope, state
from kmdav.errors import PermissionDeniedError, ValidationError
from kmdav.models import User
from kmdav.scheduling import boxes, freebusy, itip

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"
AUTO_SCHEDULE = "calendar-auto-schedule"
_PRINCIPAL_PROPS = (
    C + "schedule-inbox-URL",
    C + "schedule-outbox-URL",
    C + "calendar-user-address-set",
    C + "calendar-user-type",
)
_INBOX_PROPS = (C + "schedule-default-calendar-URL",)
PropfindFn = Callable[..., ET.Element]


def _plain(status: int, message: str) -> types.WSGIResponse:
    return status, {"Content-Type": "text/plain"}, message + "\n", None


class SchedulingApplication(Application):
    """Radicale's application with the RFC 6638 entry points."""

    def do_GET(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> types.WSGIResponse:
        status, headers, answer, xml = super().do_GET(
            environ, base_prefix, path, user, user_groups, request_info
        )
        calendar = str(dict(headers).get("Content-Type", "")).startswith("text/calendar")
        if status == 200 and calendar and isinstance(answer, str) and not path.endswith("/"):
            tag = itip.schedule_tag(answer)
            if tag is not None:  # RFC 6638 3.3: on GET of a scheduling object
                headers = {**dict(headers), "Schedule-Tag": tag}
        return status, headers, answer, xml

    def do_PUT(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> types.WSGIResponse:
        refused = self._schedule_tag_mismatch(environ, path, user)
        if refused is not None:
            return refused
        status, headers, answer, xml = super().do_PUT(
            environ, base_prefix, path, user, user_groups, request_info
        )
        if status in (200, 201, 204) and state.schedule_tag:
            headers = {**dict(headers), "Schedule-Tag": state.schedule_tag}
        return status, headers, answer, xml

    def do_DELETE(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> types.WSGIResponse:
        refused = self._schedule_tag_mismatch(environ, path, user)
        if refused is not None:
            return refused
        return super().do_DELETE(environ, base_prefix, path, user, user_groups, request_info)

    def _schedule_tag_mismatch(
        self, environ: types.WSGIEnviron, path: str, user: str
    ) -> types.WSGIResponse | None:
        """412 when If-Schedule-Tag-Match (RFC 6638 8.3) names another tag.

        Checked in its own read before Radicale's write; a change landing
        between the two is not caught (If-Match, checked inside the write,
        is the strict precondition).
        """
        wanted = environ.get("HTTP_IF_SCHEDULE_TAG_MATCH")
        if wanted is None or not user:
            return None
        with self._storage.acquire_lock("r", user):
            item = next(iter(self._storage.discover(path)), None)
            text = (
                None
                if item is None or isinstance(item, storage.BaseCollection)
                else item.serialize()
            )
        current = itip.schedule_tag(text) if text is not None else None
        if current is None or current != wanted.strip():
            return httputils.PRECONDITION_FAILED
        return None

    def do_OPTIONS(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> types.WSGIResponse:
        status, headers, answer, xml = super().do_OPTIONS(
            environ, base_prefix, path, user, user_groups, request_info
        )
        headers = dict(headers)
        headers["DAV"] = f"{headers.get('DAV', httputils.DAV_HEADERS)}, {AUTO_SCHEDULE}"
        return status, headers, answer, xml

    def do_POST(
        self,
        environ: types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> types.WSGIResponse:
        stripped = pathutils.strip_path(path)
        if boxes.box_kind(stripped) != boxes.OUTBOX:
            return super().do_POST(environ, base_prefix, path, user, user_groups, request_info)
        if not user or stripped.split("/", 1)[0] != user:
            return httputils.NOT_ALLOWED  # 401 without login, else 403
        return self._free_busy(environ, user, request_info)

    def _free_busy(
        self, environ: types.WSGIEnviron, user: str, request_info: dict[str, Any]
    ) -> types.WSGIResponse:
        content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if content_type != "text/calendar":
            return _plain(415, "POST to a schedule outbox takes text/calendar")
        raw = httputils.read_raw_request_body(self.configuration, environ)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _plain(400, "the body is not UTF-8")
        database = self._storage.database  # type: ignore[attr-defined]
        try:
            with self._storage.acquire_lock("r", user), session_scope(database) as session:
                asker = accounts.require_user(session, user)
                request = freebusy.parse_request(text)
                answers = freebusy.answer(session, asker, request)
        except PermissionDeniedError as error:
            return _plain(403, str(error))
        except ValidationError as error:
            return _plain(400, str(error))
        return (
            200,
            {"Content-Type": f"application/xml; charset={self._encoding}"},
            self._xml_response(schedule_response(answers), request_info),
            None,
        )


def schedule_response(answers: list[freebusy.RecipientAnswer]) -> ET.Element:
    """CALDAV:schedule-response (RFC 6638 10.2)."""
    root = ET.Element(C + "schedule-response")
    for answer in answers:
        response = ET.SubElement(root, C + "response")
        recipient = ET.SubElement(response, C + "recipient")
        ET.SubElement(recipient, D + "href").text = answer.recipient
        ET.SubElement(response, C + "request-status").text = answer.status
        if answer.calendar is not None:
            ET.SubElement(response, C + "calendar-data").text = answer.calendar
    return root


def _href(parent: ET.Element, value: str) -> None:
    ET.SubElement(parent, D + "href").text = value


def _propstats(response: ET.Element) -> tuple[ET.Element, ET.Element | None]:
    """The 200 prop element (made when missing) and the 404 one, if any."""
    found = missing = None
    for propstat in response.findall(D + "propstat"):
        status = propstat.findtext(D + "status") or ""
        prop = propstat.find(D + "prop")
        if prop is None:
            continue
        if " 200 " in status:
            found = prop
        elif " 404 " in status:
            missing = prop
    if found is None:
        propstat = ET.Element(D + "propstat")
        found = ET.SubElement(propstat, D + "prop")
        ET.SubElement(propstat, D + "status").text = "HTTP/1.1 200 OK"
        response.insert(1, propstat)
    return found, missing


def _fill(
    response: ET.Element, values: dict[str, Callable[[ET.Element], None]], replace: set[str]
) -> None:
    """Answer the asked-for ``values`` Radicale left as 404 (or answered
    differently, ``replace``) in the 200 propstat."""
    found, missing = _propstats(response)
    for tag, fill in values.items():
        element = None
        if missing is not None and (element := missing.find(tag)) is not None:
            missing.remove(element)
        elif tag in replace and (element := found.find(tag)) is not None:
            found.remove(element)
        else:
            continue
        new = ET.SubElement(found, tag)
        fill(new)
    if missing is not None and len(missing) == 0:
        for propstat in response.findall(D + "propstat"):
            if propstat.find(D + "prop") is missing:
                response.remove(propstat)


def _principal(response: ET.Element, user: User, base_prefix: str) -> None:
    home = f"{base_prefix}/{user.username}/"

    def addresses(element: ET.Element) -> None:
        for address in boxes.addresses(user):
            _href(element, quote(address) if address.startswith("/") else address)

    def user_type(element: ET.Element) -> None:
        element.text = "INDIVIDUAL"

    _fill(
        response,
        {
            C + "schedule-inbox-URL": lambda e: _href(e, quote(home + boxes.INBOX + "/")),
            C + "schedule-outbox-URL": lambda e: _href(e, quote(home + boxes.OUTBOX + "/")),
            C + "calendar-user-address-set": addresses,
            C + "calendar-user-type": user_type,
        },
        replace={C + "calendar-user-address-set"},
    )


def _box(response: ET.Element, kind: str, default_calendar: str | None, base_prefix: str) -> None:
    found, _ = _propstats(response)
    resourcetype = found.find(D + "resourcetype")
    if resourcetype is not None:
        for child in list(resourcetype):
            if child.tag == C + "calendar":
                resourcetype.remove(child)
        ET.SubElement(resourcetype, C + f"schedule-{kind}")
    privileges = found.find(D + "current-user-privilege-set")
    if privileges is not None:
        name = "schedule-deliver" if kind == boxes.INBOX else "schedule-send"
        ET.SubElement(ET.SubElement(privileges, D + "privilege"), C + name)
    if kind == boxes.INBOX and default_calendar is not None:
        target = quote(f"{base_prefix}/{default_calendar}/")
        _fill(response, {C + "schedule-default-calendar-URL": lambda e: _href(e, target)}, set())


def scheduling_propfind_response(original: PropfindFn) -> PropfindFn:
    @wraps(original)  # keeps the other wrappers' marks: install runs once per app
    def response(
        app: Any,
        base_prefix: str,
        path: str,
        item: Any,
        props: Any,
        *args: Any,
        **kwargs: Any,
    ) -> ET.Element:
        answer = original(app, base_prefix, path, item, props, *args, **kwargs)
        if not isinstance(item, storage.BaseCollection):
            tag = itip.schedule_tag(item.serialize()) if C + "schedule-tag" in props else None
            if tag is not None:
                _fill(answer, {C + "schedule-tag": lambda e: setattr(e, "text", tag)}, set())
            return answer
        if not item.path or getattr(item, "is_alias", False):
            return answer
        kind = boxes.box_kind(item.path)
        if "/" in item.path and kind is None:
            return answer
        database = item._storage.database  # type: ignore[attr-defined]
        with session_scope(database) as session:
            user = accounts.get_user(session, item.path.split("/", 1)[0])
            if user is None:
                return answer
            if kind is None:
                _principal(answer, user, base_prefix)
            else:
                calendar = boxes.default_calendar(session, user) if kind == boxes.INBOX else None
                _box(answer, kind, calendar.path if calendar else None, base_prefix)
        return answer

    response.kmdav_scheduling = True  # type: ignore[attr-defined]
    return response


def install() -> None:
    """Wrap Radicale's PROPFIND builder once per process."""
    current = radicale_propfind.xml_propfind_response
    if not getattr(current, "kmdav_scheduling", False):
        radicale_propfind.xml_propfind_response = scheduling_propfind_response(current)
