"""The web calendar and task lists on the DAV store.

Reads: the calendars a user sees (own, shared with them, shared with one of
their groups -- "team" calendars), occurrences in a window (candidates from
the indexed projection columns, only those expanded), task lists, contacts
to link, and a contact's appointments.

Writes go through :func:`kmdav.dav.service.store_item` / ``delete_item``
like a CalDAV PUT: the stored body is patched (:mod:`kmdav.calendar.events`),
the revision moves, devices see the change at their next sync.  Every
write names the ETag the form was rendered from; when the object changed
meanwhile, :class:`StaleError` carries both versions and nothing is stored.

Services flush; the caller commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal, Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from kmdav.accounts.service import visible_users
from kmdav.calendar import events, recurrence, timerange
from kmdav.calendar.events import KEEP, Attendee, Changes
from kmdav.calendar.icstext import Component
from kmdav.calendar.values import When, as_local
from kmdav.dav import access, repository
from kmdav.dav import service as dav
from kmdav.dav.sharing import display_name
from kmdav.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from kmdav.i18n import N_
from kmdav.models import (
    CalendarObject,
    CollectionShare,
    Contact,
    ContactEmail,
    ContactUidAlias,
    DavCollection,
    DavItem,
    User,
    utcnow,
)
from kmdav.scheduling import boxes, implicit, itip, reminders
from kmdav.scheduling.boxes import not_a_box

#: All-day and floating values are stored as if UTC: look this far around a
#: window so every zone's wall clock is covered (UTC-12 .. UTC+14).
ZONE_MARGIN = timedelta(hours=14)
Scope = Literal["all", "this", "following"]
SCOPES: tuple[Scope, ...] = ("this", "following", "all")
TASK_FILTERS = ("all", "mine", "overdue", "week")
#: Contacts offered per search.
CONTACT_CHOICES = 20


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


class StaleError(ConflictError):
    """The object changed since the form was rendered (or is gone).

    ``current`` is the stored body now (``None`` when deleted); the page
    shows it next to what the user sent, and nothing was stored."""

    def __init__(self, current: str | None) -> None:
        super().__init__(
            N_(
                "This entry was changed meanwhile (on another device or by someone else). "
                "Nothing was saved."
            )
        )
        self.current = current


@dataclass(frozen=True)
class CalendarInfo:
    id: int
    path: str
    name: str
    colour: str
    owner: str
    own: bool
    writable: bool
    #: "calendar" (events) or "tasks" (a task list: VTODO only)
    kind: str
    #: Shared through a group (a team calendar).
    team: bool = False

    @property
    def holds_events(self) -> bool:
        return self.kind == "calendar"


@dataclass(frozen=True)
class Entry:
    """One occurrence in a view, with where it lives."""

    calendar: CalendarInfo
    href: str
    occurrence: recurrence.Occurrence
    etag: str = ""


@dataclass
class Window:
    entries: list[Entry] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EventDetails:
    """An event (or one occurrence of a series) as the edit form shows it."""

    calendar: CalendarInfo
    href: str
    etag: str
    uid: str
    summary: str
    location: str
    description: str
    start: When | None
    end: When | None
    rrule: str
    status: str
    customer: str
    contacts: tuple[str, ...]
    attendees: tuple[Attendee, ...]
    recurring: bool
    rid: str = ""
    text: str = ""
    #: The ORGANIZER's address ("" without one).
    organizer: str = ""
    #: The calendar owner's answer when they are invited by someone else
    #: ("" when they organize it or are not invited): they may answer.
    my_partstat: str = ""
    #: X-KMDAV-EMAIL-REMINDER (RFC 5545 duration) of the main event.
    email_reminder: str = ""


@dataclass(frozen=True)
class ContactChoice:
    uid: str
    name: str
    email: str


@dataclass(frozen=True)
class TaskRow:
    calendar: CalendarInfo
    href: str
    etag: str
    uid: str
    summary: str
    description: str
    due: datetime | None
    due_all_day: bool
    status: str
    priority: int
    percent: int
    completed: datetime | None
    assignees: tuple[str, ...]
    parent: str
    contacts: tuple[str, ...]
    overdue: bool
    depth: int = 0

    @property
    def done(self) -> bool:
        return self.status == "COMPLETED"


@dataclass(frozen=True)
class Appointment:
    """A contact's appointment or task, for their timeline."""

    calendar: str
    calendar_id: int
    href: str
    component: str
    summary: str
    when: datetime | None
    recurring: bool
    status: str


# -- calendars ---------------------------------------------------------------------


def _kind(collection: DavCollection) -> str:
    need = access.seat_for_collection(collection.tag, collection.props or {})
    return "tasks" if need == access.TASKS_SEAT else "calendar"


def _accepts(collection: DavCollection, component: str) -> bool:
    allowed = str((collection.props or {}).get(access.COMPONENT_SET, "")).upper()
    return not allowed or component in allowed.split(",")


def calendars(session: Session, user_id: int) -> list[CalendarInfo]:
    """Own calendars and task lists first, then those shared in (by name)."""
    own = session.scalars(
        select(DavCollection)
        .where(DavCollection.owner_id == user_id, DavCollection.tag == "VCALENDAR", not_a_box())
        .order_by(DavCollection.path)
    ).all()
    me = session.get(User, user_id)
    username = me.username if me is not None else ""
    found = [
        CalendarInfo(
            c.id,
            c.path,
            display_name(c),
            _colour(c),
            username,
            True,
            True,
            _kind(c),
        )
        for c in own
    ]
    shared = session.execute(
        select(DavCollection, User.username, CollectionShare.access, CollectionShare.group_id)
        .join(CollectionShare, CollectionShare.collection_id == DavCollection.id)
        .join(User, User.id == DavCollection.owner_id)
        .where(
            access.shares_reaching(session, user_id),
            DavCollection.tag == "VCALENDAR",
            DavCollection.owner_id != user_id,
            not_a_box(),
            User.is_active,
        )
        .order_by(DavCollection.path)
    ).all()
    best: dict[int, CalendarInfo] = {}
    for collection, owner, level, group_id in shared:
        info = CalendarInfo(
            collection.id,
            collection.path,
            display_name(collection),
            _colour(collection),
            owner,
            False,
            level == access.WRITE,
            _kind(collection),
            team=group_id is not None,
        )
        known = best.get(collection.id)
        if known is None or (info.writable and not known.writable):
            best[collection.id] = info
    return found + sorted(best.values(), key=lambda c: (c.owner, c.name))


_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")


def _colour(collection: DavCollection) -> str:
    """ICAL:calendar-color as #RRGGBB (clients add an alpha byte); "" when
    it is missing or not a colour (it goes into the page's markup)."""
    raw = str((collection.props or {}).get("ICAL:calendar-color", "")).strip()
    return raw[:7] if _COLOUR.match(raw) else ""


def calendar_for(
    session: Session, user_id: int, calendar_id: int, *, write: bool = False
) -> CalendarInfo:
    for info in calendars(session, user_id):
        if info.id == calendar_id:
            if write and not info.writable:
                raise PermissionDeniedError("You may only read this calendar.")
            return info
    raise NotFoundError("no such calendar")


def _collection(session: Session, info: CalendarInfo) -> DavCollection:
    found = repository.collection_by_id(session, info.id)
    if found is None:
        raise NotFoundError("no such calendar")
    return found


# -- reading a window ----------------------------------------------------------------


def occurrences(
    session: Session,
    user_id: int,
    start: datetime,
    end: datetime,
    viewer: tzinfo,
    *,
    calendar_ids: Iterable[int] | None = None,
) -> Window:
    """Every event occurrence overlapping [start, end) in the chosen calendars.

    Candidates come from ``calendar_objects`` (start_utc, end_utc,
    recurrence_end); single events are built from those columns, only
    series and objects with overrides are parsed and expanded."""
    visible = {c.id: c for c in calendars(session, user_id) if c.holds_events}
    chosen = [i for i in (visible if calendar_ids is None else calendar_ids) if i in visible]
    result = Window()
    if not chosen:
        return result
    lo = start.astimezone(UTC) - ZONE_MARGIN
    hi = end.astimezone(UTC) + ZONE_MARGIN
    rows = session.execute(
        select(
            CalendarObject.collection_id,
            CalendarObject.item_id,
            CalendarObject.uid,
            CalendarObject.summary,
            CalendarObject.location,
            CalendarObject.start_utc,
            CalendarObject.end_utc,
            CalendarObject.all_day,
            CalendarObject.floating,
            CalendarObject.is_recurring,
            CalendarObject.override_count,
            CalendarObject.status,
            DavItem.href,
            DavItem.etag,
        )
        .join(DavItem, DavItem.id == CalendarObject.item_id)
        .where(
            CalendarObject.collection_id.in_(chosen),
            CalendarObject.component == "VEVENT",
            CalendarObject.start_utc < hi,
            or_(
                and_(
                    CalendarObject.is_recurring,
                    or_(
                        CalendarObject.recurrence_end.is_(None), CalendarObject.recurrence_end > lo
                    ),
                ),
                and_(CalendarObject.override_count > 0),
                CalendarObject.end_utc >= lo,
            ),
        )
    ).all()
    expand_ids: dict[int, tuple[int, str, str]] = {}
    for row in rows:
        info = visible[row.collection_id]
        if row.is_recurring or row.override_count:
            expand_ids[row.item_id] = (row.collection_id, row.href, row.etag)
            continue
        if row.start_utc is None or row.end_utc is None:
            continue
        found = recurrence.single(
            row.uid,
            row.summary,
            row.location,
            row.start_utc,
            row.end_utc,
            all_day=row.all_day,
            floating=row.floating,
            viewer=viewer,
            status=row.status,
        )
        if recurrence.overlaps(found, start, end):
            result.entries.append(Entry(info, row.href, found, row.etag))
    missing: list[int] = []
    for item_id, (collection_id, href, etag) in expand_ids.items():
        specs = recurrence.SPECS.get(etag, "VEVENT")
        if specs is None:
            missing.append(item_id)
        else:
            _add_expanded(result, visible[collection_id], href, etag, specs, start, end, viewer)
    for offset in range(0, len(missing), repository.IN_CHUNK):
        chunk = missing[offset : offset + repository.IN_CHUNK]
        for item_id, body in session.execute(
            select(DavItem.id, DavItem.body).where(DavItem.id.in_(chunk))
        ):
            collection_id, href, etag = expand_ids[item_id]
            try:
                specs = recurrence.SPECS.parse(etag, body, "VEVENT")
            except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
                result.unreadable.append(href)
                continue
            _add_expanded(result, visible[collection_id], href, etag, specs, start, end, viewer)
    result.entries.sort(key=lambda e: (e.occurrence.start, not e.occurrence.all_day))
    return result


def _add_expanded(
    result: Window,
    info: CalendarInfo,
    href: str,
    etag: str,
    specs: recurrence.Specs,
    start: datetime,
    end: datetime,
    viewer: tzinfo,
) -> None:
    expansion = recurrence.expand_specs(specs, start, end, viewer, recurrence.Expansion())
    result.truncated += expansion.truncated
    result.unreadable += expansion.unreadable
    result.entries += [Entry(info, href, o, etag) for o in expansion.occurrences]


def _item(session: Session, info: CalendarInfo, href: str) -> DavItem:
    row = repository.get_item(session, info.id, href)
    if row is None:
        raise NotFoundError("no such entry")
    return row


def event_details(
    session: Session, user_id: int, calendar_id: int, href: str, rid: str = ""
) -> EventDetails:
    """The event (or occurrence ``rid`` of a series) for the edit form."""
    info = calendar_for(session, user_id, calendar_id)
    row = _item(session, info, href)
    calendar = events.parse(row.body)
    master = events.master_of(calendar)
    component = master
    start = events.time_value(master, "DTSTART")
    end = events.time_value(master, "DTEND")
    duration = events.duration_of(master)
    if end is None and start is not None and duration is not None:
        end = _plus(start, duration)
    if rid:
        occurrence = _rid(rid)
        found = events.find_override(calendar, events.occurrence_value(master, occurrence))
        if found is not None:
            component = found
            start = events.time_value(found, "DTSTART")
            end = events.time_value(found, "DTEND")
            found_duration = events.duration_of(found)
            if end is None and start is not None and found_duration is not None:
                end = _plus(start, found_duration)
        else:
            start = events.occurrence_value(master, occurrence)
            end = _plus(start, duration) if duration is not None else None
    return EventDetails(
        calendar=info,
        href=href,
        etag=row.etag,
        uid=row.uid,
        summary=events.text_value(component, "SUMMARY"),
        location=events.text_value(component, "LOCATION"),
        description=events.text_value(component, "DESCRIPTION"),
        start=start,
        end=end,
        rrule=master.value("RRULE"),
        status=component.value("STATUS").upper(),
        customer=events.customer_of(component),
        contacts=events.linked_contacts(component),
        attendees=tuple(
            Attendee(
                _address(p.value), p.params.get("CN", ""), p.params.get("PARTSTAT", "").upper()
            )
            for p in component.props("ATTENDEE")
        ),
        recurring=bool(master.value("RRULE") or master.props("RDATE")),
        rid=rid,
        text=row.body,
        organizer=_address(master.value("ORGANIZER")) if master.value("ORGANIZER") else "",
        my_partstat=_my_partstat(session, info, row.body),
        email_reminder=master.value(reminders.PROPERTY).strip().upper(),
    )


def _my_partstat(session: Session, info: CalendarInfo, body: str) -> str:
    facts = itip.read(body) if itip.may_schedule(body) else None
    owner = session.get(User, _owner_id(session, info))
    if facts is None or owner is None:
        return ""
    mine = set(boxes.addresses(owner))
    if facts.organizer in mine:
        return ""
    me = next((a for a in facts.attendees if a.address in mine), None)
    return (me.partstat or "NEEDS-ACTION") if me is not None else ""


def _owner_id(session: Session, info: CalendarInfo) -> int | None:
    return _collection(session, info).owner_id


#: The answers an invited user can give from the web (RFC 5545 PARTSTAT).
ANSWERS = ("ACCEPTED", "TENTATIVE", "DECLINED")


def answer(
    session: Session, user_id: int, calendar_id: int, href: str, etag: str, partstat: str
) -> None:
    """The calendar owner answers an invitation: their PARTSTAT changes in
    their copy, and storing it sends the REPLY to the organizer (as a
    CalDAV client's PUT of the attendee's copy would)."""
    if partstat not in ANSWERS:
        raise ValidationError("choose accept, maybe or decline", field="partstat")
    info = calendar_for(session, user_id, calendar_id, write=True)
    row = _current(session, info, href, etag)
    facts = itip.read(row.body)
    owner = session.get(User, _owner_id(session, info))
    mine = set(boxes.addresses(owner)) if owner is not None else set()
    me = (
        next((a for a in facts.attendees if a.address in mine), None)
        if facts is not None and facts.organizer not in mine
        else None
    )
    if me is None:
        raise ValidationError("you are not invited to this appointment", field="partstat")
    text = itip.set_attendee_params(row.body, me.address, PARTSTAT=partstat)
    if text is not None and text != row.body:
        _store(session, info, href, text)


def _plus(value: When, delta: timedelta) -> When:
    if isinstance(value, datetime):
        return value + delta
    return value + timedelta(days=max(delta.days, 1))


def _address(value: str) -> str:
    return value[7:] if value.lower().startswith("mailto:") else value


def _rid(text: str) -> When:
    try:
        return recurrence.parse_rid(text)
    except ValueError:
        raise ValidationError("unknown occurrence %(rid)r", rid=text) from None


# -- writing -------------------------------------------------------------------------


def dav_object(text: str) -> dav.DavObject:
    """What the write path needs, computed like a CalDAV PUT computes it."""
    parsed = timerange.parse(text)
    component = next(
        (name for name in ("VEVENT", "VTODO", "VJOURNAL") if name.lower() in parsed.contents),
        "",
    )
    start, end = timerange.time_range(parsed, component)
    uid = str(parsed.contents[component.lower()][0].uid.value) if component else ""
    return dav.DavObject(text, uid, component, start, end, parsed)


def _lock(session: Session, info: CalendarInfo) -> DavCollection:
    """The collection to write, locked like a DAV write to it.  A web write
    may schedule (deliveries to other users' calendars) or move between
    calendars, so it takes the scheduling lock before any collection lock
    (``repository.lock_collections``): no deadlock with DAV writes or
    other web writes on PostgreSQL."""
    collection = _collection(session, info)
    repository.lock_collections(session, [collection.path], many=True)
    return collection


def _store(session: Session, info: CalendarInfo, href: str, text: str) -> None:
    """Store like a CalDAV PUT, including its implicit scheduling (RFC 6638
    3.2: invitations, updates, cancellations, replies) in this transaction."""
    collection = _lock(session, info)
    previous = (
        repository.item_body(session, collection.id, href) if itip.may_schedule(text) else None
    )
    new, old = dav.store_item(session, collection, href, dav_object(text))
    implicit.after_store(session, collection, collection.owner_id, new, old, previous)


def _delete(session: Session, info: CalendarInfo, href: str, *, schedule: bool = True) -> None:
    """Delete like a CalDAV DELETE: the organizer's deletion cancels, an
    attendee's declines (not when the object just moved to another
    calendar: ``schedule=False``)."""
    collection = _lock(session, info)
    old = dav.delete_item(session, collection, href)
    if schedule:
        implicit.after_delete(session, collection, collection.owner_id, old)


def _with_organizer(session: Session, info: CalendarInfo, changes: Changes) -> Changes:
    """An entry with attendees is organized by the calendar's owner (whose
    addresses the scheduling recognises); without an e-mail address the
    owner cannot organize and nothing is scheduled."""
    collection = _collection(session, info)
    owner = session.get(User, collection.owner_id) if collection.owner_id else None
    if owner is None or not owner.email:
        return changes
    return events.with_changes(
        changes, organizer=Attendee(owner.email, owner.display_name or owner.username)
    )


def _current(session: Session, info: CalendarInfo, href: str, etag: str) -> DavItem:
    """The stored object, provided it is still the version the form showed."""
    row = repository.get_item(session, info.id, href)
    if row is None:
        raise StaleError(None)
    if row.etag != etag:
        raise StaleError(row.body)
    return row


def new_uid() -> str:
    return f"{uuid.uuid4()}@kmdav"


def create(
    session: Session,
    user_id: int,
    calendar_id: int,
    component: str,
    changes: Changes,
    now: datetime | None = None,
    *,
    reminder: timedelta | None = None,
) -> str:
    """A new event or task; returns its href.  ``reminder``: the e-mail
    reminder's lead time (X-KMDAV-EMAIL-REMINDER), none when ``None``."""
    info = calendar_for(session, user_id, calendar_id, write=True)
    if not _accepts(_collection(session, info), component):
        raise ValidationError("this calendar does not hold entries of this kind", field="calendar")
    _check(changes)
    uid = new_uid()
    href = f"{uid.split('@', 1)[0]}.ics"
    changes = _with_organizer(session, info, changes)
    text = events.build(component, uid, changes, now or utcnow())
    if reminder is not None and component == "VEVENT":
        text = reminders.with_email_reminder(text, reminder)
    _store(session, info, href, text)
    return href


def _check(changes: Changes, series_start: When | None = None) -> None:
    start = changes.start if isinstance(changes.start, date) else series_start
    end = changes.end if isinstance(changes.end, date) else None
    events.check_times(start, end)
    if isinstance(changes.rrule, str) and changes.rrule and start is not None:
        events.check_rrule(changes.rrule, start)


def update_event(
    session: Session,
    user_id: int,
    calendar_id: int,
    href: str,
    etag: str,
    changes: Changes,
    *,
    scope: Scope = "all",
    rid: str = "",
    target_calendar_id: int | None = None,
    now: datetime | None = None,
    reminder: timedelta | events.Keep | None = KEEP,
) -> tuple[int, str]:
    """Edit an event; for a series ``scope`` says which occurrences.
    ``reminder`` sets (or with ``None`` removes) the e-mail reminder of the
    series or single event; an occurrence's override keeps the series'.

    ``this``: an override for occurrence ``rid``; ``following``: the series
    is split at ``rid``; ``all``: the main component (overrides and EXDATEs
    move along with its start).  ``target_calendar_id`` moves the (whole)
    object to another calendar.  Returns (calendar id, href) of the result."""
    now = now or utcnow()
    info = calendar_for(session, user_id, calendar_id, write=True)
    row = _current(session, info, href, etag)
    master = events.master_of(events.parse(row.body))
    series_start = events.time_value(master, "DTSTART")
    _check(changes, series_start)
    changes = _with_organizer(session, info, changes)
    if scope != "all" and not rid:
        raise ValidationError("choose the occurrence to change")
    if scope == "this":
        text = events.override(row.body, _rid(rid), changes, now)
        _store(session, info, href, text)
        return info.id, href
    if scope == "following" and _rid_after_first(master, _rid(rid)):
        uid = new_uid()
        head, tail = events.split(row.body, _rid(rid), uid, changes, now)
        _store(session, info, href, head)
        new_href = f"{uid.split('@', 1)[0]}.ics"
        _store(session, info, new_href, tail)
        return info.id, new_href
    if rid and isinstance(changes.start, date):
        changes = _from_occurrence(master, _rid(rid), changes)
    text = events.move_series(row.body, changes, now)
    if not isinstance(reminder, events.Keep):
        text = reminders.with_email_reminder(text, reminder)
    if target_calendar_id is not None and target_calendar_id != info.id:
        target = calendar_for(session, user_id, target_calendar_id, write=True)
        if not _accepts(_collection(session, target), "VEVENT"):
            raise ValidationError(
                "this calendar does not hold entries of this kind", field="calendar"
            )
        if repository.href_for_uid(session, target.id, row.uid) is not None:
            raise ValidationError("the other calendar already holds this entry", field="calendar")
        _delete(session, info, href, schedule=False)
        _store(session, target, href, text)
        return target.id, href
    _store(session, info, href, text)
    return info.id, href


def _from_occurrence(master: Component, rid: When, changes: Changes) -> Changes:
    """A whole-series edit made on the form of one occurrence: the series
    moves by as much as that occurrence was moved (not to its date)."""
    series_start = events.time_value(master, "DTSTART")
    occurrence = events.occurrence_value(master, rid)
    start, end = changes.start, changes.end
    if (
        series_start is None
        or not isinstance(start, date)
        or isinstance(start, datetime) != isinstance(series_start, datetime)
    ):
        return changes
    delta = events.difference(occurrence, start)
    new_start = _plus_signed(series_start, delta)
    if isinstance(start, datetime) and isinstance(new_start, datetime) and start.tzinfo:
        new_start = new_start.astimezone(start.tzinfo) if new_start.tzinfo else new_start
    new_end: When | events.Keep | None = end
    if isinstance(end, date):
        new_end = _plus_signed(new_start, events.difference(start, end))
    return events.with_changes(changes, start=new_start, end=new_end)


def _rid_after_first(master: Component, rid: When) -> bool:
    start = events.time_value(master, "DTSTART")
    if start is None:
        return False
    value = events.occurrence_value(master, rid)
    return events.rid_key(value) != events.rid_key(start)


def move(
    session: Session,
    user_id: int,
    calendar_id: int,
    href: str,
    etag: str,
    new_start: When,
    *,
    scope: Scope = "all",
    rid: str = "",
    now: datetime | None = None,
) -> tuple[int, str]:
    """Move an event (or one occurrence) to ``new_start``, keeping its length."""
    details = event_details(session, user_id, calendar_id, href, rid if scope != "all" else "")
    if details.etag != etag:
        raise StaleError(details.text)
    start = details.start
    if start is None:
        raise ValidationError("the entry has no start")
    duration = events.difference(start, details.end) if details.end is not None else None
    if scope == "all" and rid and details.recurring:
        # dragging one occurrence of the whole series: move the series by as much
        delta = events.difference(_rid(rid), new_start)
        new_start = _plus_signed(start, delta)
    changes = Changes(
        start=new_start,
        end=_plus(new_start, duration) if duration is not None else KEEP,
    )
    return update_event(
        session, user_id, calendar_id, href, etag, changes, scope=scope, rid=rid, now=now
    )


def _plus_signed(value: When, delta: timedelta) -> When:
    if isinstance(value, datetime):
        return value + delta
    return value + timedelta(days=delta.days)


def delete(
    session: Session,
    user_id: int,
    calendar_id: int,
    href: str,
    etag: str,
    *,
    scope: Scope = "all",
    rid: str = "",
    now: datetime | None = None,
) -> None:
    """Delete an event or task; one occurrence (EXDATE) or the rest of a series."""
    now = now or utcnow()
    info = calendar_for(session, user_id, calendar_id, write=True)
    row = _current(session, info, href, etag)
    if scope == "this" and rid:
        _store(session, info, href, events.exclude(row.body, _rid(rid), now))
        return
    if scope == "following" and rid:
        master = events.master_of(events.parse(row.body))
        if _rid_after_first(master, _rid(rid)):
            _store(session, info, href, events.end_series(row.body, _rid(rid), now))
            return
    _delete(session, info, href)


# -- tasks -----------------------------------------------------------------------------


_CONTACT_LINE = re.compile(r"^X-KMDAV-CONTACT(?:;[^:]*)?:(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


def _contacts_in(body: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(1).strip() for m in _CONTACT_LINE.finditer(body)))


_RELATED_LINE = re.compile(r"^RELATED-TO((?:;[^:]*)?):(.+?)\r?$", re.MULTILINE | re.IGNORECASE)
_RELTYPE = re.compile(r";RELTYPE=\"?([A-Za-z-]+)", re.IGNORECASE)


def _parent_in(body: str) -> str:
    """The first RELATED-TO whose RELTYPE is PARENT (the default): clients
    also write CHILD and SIBLING links, which do not make a parent."""
    unfolded = re.sub(r"\r?\n[ \t]", "", body)
    for match in _RELATED_LINE.finditer(unfolded):
        kind = _RELTYPE.search(match.group(1))
        if kind is None or kind.group(1).upper() == "PARENT":
            return match.group(2).strip()
    return ""


def tasks(
    session: Session,
    user_id: int,
    viewer: tzinfo,
    *,
    filter: str = "all",
    show_done: bool = True,
    calendar_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> list[TaskRow]:
    """Tasks of the lists the user sees, sub-tasks below their parents.

    ``mine``: assigned to the user (ATTENDEE with their e-mail), or with no
    assignee in a list of their own; ``overdue``: open and due before now;
    ``week``: open and due before the end of this week (Sunday)."""
    now = now or utcnow()
    lists = {c.id: c for c in calendars(session, user_id)}
    chosen = [i for i in (lists if calendar_ids is None else calendar_ids) if i in lists]
    if not chosen:
        return []
    me = session.get(User, user_id)
    my_email = (me.email or "").lower() if me is not None else ""
    rows = session.execute(
        select(CalendarObject, DavItem.href, DavItem.etag, DavItem.body)
        .join(DavItem, DavItem.id == CalendarObject.item_id)
        .where(CalendarObject.collection_id.in_(chosen), CalendarObject.component == "VTODO")
    ).all()
    local_now = now.astimezone(viewer)
    week_end = datetime.combine(
        local_now.date() + timedelta(days=7 - local_now.weekday()), datetime.min.time(), viewer
    )
    found: list[TaskRow] = []
    for obj, href, etag, body in rows:
        info = lists[obj.collection_id]
        status = obj.status or ("COMPLETED" if obj.completed_utc else "NEEDS-ACTION")
        due = None
        due_all_day = False
        if obj.due_utc is not None:
            due_all_day = "DUE;VALUE=DATE" in body.upper()
            floating = due_all_day or _floating_due(body)
            due = (
                obj.due_utc.replace(tzinfo=None).replace(tzinfo=viewer)
                if floating
                else obj.due_utc.astimezone(viewer)
            )
        open_ = status not in ("COMPLETED", "CANCELLED")
        overdue = (
            open_
            and due is not None
            and (due.date() < local_now.date() if due_all_day else due < local_now)
        )
        assignees = tuple(str(a.get("address", "")).lower() for a in obj.attendees or [])
        row = TaskRow(
            calendar=info,
            href=href,
            etag=etag,
            uid=obj.uid,
            summary=obj.summary,
            description=obj.description,
            due=due,
            due_all_day=due_all_day,
            status=status,
            priority=obj.priority,
            percent=obj.percent_complete,
            completed=obj.completed_utc,
            assignees=assignees,
            parent=_parent_in(body) if obj.related_to else "",
            contacts=_contacts_in(body),
            overdue=overdue,
        )
        if filter == "mine" and not (
            (my_email and my_email in assignees) or (not assignees and info.own)
        ):
            continue
        if filter == "overdue" and not overdue:
            continue
        if filter == "week" and not (open_ and due is not None and due < week_end):
            continue
        if not show_done and not open_:
            continue
        found.append(row)
    return _as_tree(found)


def _floating_due(body: str) -> bool:
    match = re.search(r"^DUE(;[^:]*)?:([0-9T]+)(Z?)\r?$", body, re.MULTILINE | re.IGNORECASE)
    return bool(match and not match.group(3) and "TZID" not in (match.group(1) or "").upper())


def _task_order(row: TaskRow) -> tuple[Any, ...]:
    far = datetime.max.replace(tzinfo=UTC)
    return (row.done, row.due or far, row.priority or 10, row.summary.lower())


def _as_tree(rows: Sequence[TaskRow]) -> list[TaskRow]:
    """Parents followed by their sub-tasks (RELATED-TO), sorted by due date."""
    by_uid = {r.uid: r for r in rows}
    children: dict[str, list[TaskRow]] = {}
    roots = []
    for row in rows:
        if row.parent and row.parent in by_uid and row.parent != row.uid:
            children.setdefault(row.parent, []).append(row)
        else:
            roots.append(row)
    ordered: list[TaskRow] = []
    seen: set[str] = set()

    def walk(row: TaskRow, depth: int) -> None:
        if row.uid in seen:
            return
        seen.add(row.uid)
        ordered.append(TaskRow(**{**row.__dict__, "depth": depth}))
        for child in sorted(children.get(row.uid, []), key=_task_order):
            walk(child, depth + 1)

    for root in sorted(roots, key=_task_order):
        walk(root, 0)
    for row in rows:  # cycles: show what the walk could not reach
        if row.uid not in seen:
            walk(row, 0)
    return ordered


def task_details(session: Session, user_id: int, calendar_id: int, href: str) -> dict[str, Any]:
    """The task's managed fields for the edit form."""
    info = calendar_for(session, user_id, calendar_id)
    row = _item(session, info, href)
    master = events.master_of(events.parse(row.body))
    parents = [
        p.value
        for p in master.props("RELATED-TO")
        if p.params.get("RELTYPE", "PARENT").upper() == "PARENT"
    ]
    return {
        "calendar": info,
        "href": href,
        "etag": row.etag,
        "uid": row.uid,
        "summary": events.text_value(master, "SUMMARY"),
        "description": events.text_value(master, "DESCRIPTION"),
        "due": events.time_value(master, "DUE"),
        "status": master.value("STATUS").upper() or "NEEDS-ACTION",
        "priority": events.as_int(master.value("PRIORITY")),
        "percent": events.as_int(master.value("PERCENT-COMPLETE")),
        "parent": parents[0] if parents else "",
        "customer": events.customer_of(master),
        "contacts": events.linked_contacts(master),
        "assignees": tuple(_address(p.value) for p in master.props("ATTENDEE")),
        "text": row.body,
    }


def update_task(
    session: Session,
    user_id: int,
    calendar_id: int,
    href: str,
    etag: str,
    changes: Changes,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    info = calendar_for(session, user_id, calendar_id, write=True)
    row = _current(session, info, href, etag)
    _store(session, info, href, events.patch(row.body, changes, now))


def completion(done: bool, now: datetime) -> Changes:
    """What completing (or reopening) a task changes."""
    if done:
        return Changes(status="COMPLETED", percent_complete=100, completed=now)
    return Changes(status="NEEDS-ACTION", percent_complete=0, completed=None)


def set_done(
    session: Session,
    user_id: int,
    calendar_id: int,
    href: str,
    etag: str,
    done: bool,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    update_task(session, user_id, calendar_id, href, etag, completion(done, now), now)


# -- contacts ------------------------------------------------------------------------


def _readable_books(session: Session, user_id: int, company_book: str) -> list[int]:
    shared = select(CollectionShare.collection_id).where(access.shares_reaching(session, user_id))
    return list(
        session.scalars(
            select(DavCollection.id).where(
                DavCollection.tag == "VADDRESSBOOK",
                or_(
                    DavCollection.owner_id == user_id,
                    DavCollection.id.in_(shared),
                    DavCollection.path == company_book,
                ),
            )
        )
    )


def find_contacts(
    session: Session, user_id: int, query: str, *, company_book: str = "company/contacts"
) -> list[ContactChoice]:
    """Contacts the user may read whose name or e-mail contains ``query``."""
    text = query.strip().lower()
    if not text:
        return []
    books = _readable_books(session, user_id, company_book)
    if not books:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = session.execute(
        select(DavItem.uid, Contact.formatted_name, ContactEmail.value)
        .join(DavItem, DavItem.id == Contact.item_id)
        .outerjoin(
            ContactEmail, and_(ContactEmail.contact_id == Contact.id, ContactEmail.position == 0)
        )
        .where(
            Contact.collection_id.in_(books),
            or_(
                Contact.formatted_name.ilike(pattern, escape="\\"),
                Contact.id.in_(
                    select(ContactEmail.contact_id).where(
                        ContactEmail.value.ilike(pattern, escape="\\")
                    )
                ),
            ),
        )
        .order_by(Contact.formatted_name)
        .limit(CONTACT_CHOICES)
    ).all()
    return [ContactChoice(uid, name or email or uid, email or "") for uid, name, email in rows]


def contacts_by_uid(
    session: Session, user_id: int, uids: Iterable[str], *, company_book: str = "company/contacts"
) -> dict[str, ContactChoice]:
    wanted = list(dict.fromkeys(u for u in uids if u))
    if not wanted:
        return {}
    books = _readable_books(session, user_id, company_book)
    rows = session.execute(
        select(DavItem.uid, Contact.formatted_name, ContactEmail.value)
        .join(DavItem, DavItem.id == Contact.item_id)
        .outerjoin(
            ContactEmail, and_(ContactEmail.contact_id == Contact.id, ContactEmail.position == 0)
        )
        .where(Contact.collection_id.in_(books or [-1]), DavItem.uid.in_(wanted))
    ).all()
    return {uid: ContactChoice(uid, name or email or uid, email or "") for uid, name, email in rows}


def resolve_contact(
    session: Session, user_id: int, text: str, *, field: str, company_book: str = "company/contacts"
) -> ContactChoice | None:
    """The one contact ``text`` names (a name or an e-mail, or ``uid:<UID>``
    from the picker); a clear error when none or several match."""
    wanted = text.strip()
    if not wanted:
        return None
    if wanted.startswith("uid:"):
        found = contacts_by_uid(session, user_id, [wanted[4:]], company_book=company_book)
        if not found:
            raise ValidationError("no contact %(name)r", field=field, name=wanted[4:])
        return next(iter(found.values()))
    matches = find_contacts(session, user_id, wanted, company_book=company_book)
    exact = [m for m in matches if wanted.lower() in (m.name.lower(), m.email.lower())]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValidationError("no contact matches %(name)r", field=field, name=wanted)
    raise ValidationError(
        "several contacts match %(name)r: %(names)s",
        field=field,
        name=wanted,
        names=", ".join(m.name for m in matches[:5]),
    )


_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def resolve_participants(
    session: Session,
    user_id: int,
    text: str,
    *,
    field: str = "participants",
    company_book: str = "company/contacts",
) -> tuple[list[str], list[Attendee]]:
    """(contact UIDs, attendees) from a list of names or e-mail addresses,
    one per line or comma-separated.  A plain e-mail address of nobody in
    the contacts is an attendee without a contact link."""
    uids: list[str] = []
    people: list[Attendee] = []
    for part in re.split(r"[\n,;]+", text):
        wanted = part.strip()
        if not wanted:
            continue
        try:
            contact = resolve_contact(
                session, user_id, wanted, field=field, company_book=company_book
            )
        except ValidationError:
            colleague = None if _EMAIL.match(wanted) else _colleague(session, user_id, wanted)
            if colleague is None and not _EMAIL.match(wanted):
                raise
            if colleague is not None:
                people.append(colleague)
                continue
            contact = None
        if contact is None:
            people.append(Attendee(wanted))
            continue
        if not contact.email:
            raise ValidationError(
                "the contact %(name)s has no e-mail address to invite",
                field=field,
                name=contact.name,
            )
        uids.append(contact.uid)
        people.append(Attendee(contact.email, contact.name))
    return uids, people


def _colleague(session: Session, user_id: int, wanted: str) -> Attendee | None:
    """A kmdav user the viewer may see (``accounts.visible_users``), named
    by user name or display name, as an attendee with their e-mail (the
    scheduling delivers to their calendar)."""
    me = session.get(User, user_id)
    if me is None:
        return None
    folded = wanted.casefold()
    for user in visible_users(session, me.username, wanted):
        names = {user.username.casefold(), (user.display_name or "").casefold()}
        if folded in names and user.email:
            return Attendee(user.email, user.display_name or user.username)
    return None


def appointments_for_contact(
    session: Session,
    viewer: int | _HasId,
    contact_uid: str,
    now: datetime | None = None,
    *,
    emails: Iterable[str] = (),
) -> tuple[list[Appointment], list[Appointment]]:
    """(past, upcoming) events and tasks linked to the contact in the
    calendars ``viewer`` may read: its vCard UID in X-KMDAV-CONTACT (also
    the UIDs of contacts merged into it, ``contact_uid_aliases``), or one
    of ``emails`` (the contact's addresses) as an ATTENDEE.  Past newest
    first, upcoming soonest first.  A series is upcoming while it has
    occurrences left, with its next one as the date."""
    user_id = viewer if isinstance(viewer, int) else viewer.id
    now = now or utcnow()
    infos = {c.id: c for c in calendars(session, user_id)}
    if not infos or not contact_uid:
        return [], []
    uids = {contact_uid, *_merged_into(session, contact_uid)}
    addresses = {e.strip().lower() for e in emails if e and e.strip()}
    wanted = [
        and_(
            DavItem.body.ilike("%X-KMDAV-CONTACT%", escape="\\"),
            DavItem.body.like(_needle(uid), escape="\\"),
        )
        for uid in sorted(uids)
    ] + [DavItem.body.ilike(_needle(address), escape="\\") for address in sorted(addresses)]
    rows = session.execute(
        select(CalendarObject, DavItem.href, DavItem.body)
        .join(DavItem, DavItem.id == CalendarObject.item_id)
        .where(CalendarObject.collection_id.in_(list(infos)), or_(*wanted))
    ).all()
    past: list[Appointment] = []
    upcoming: list[Appointment] = []
    for obj, href, body in rows:
        if not uids.intersection(_contacts_in(body)) and not addresses.intersection(
            _attendees_in(body)
        ):
            continue
        when = obj.start_utc if obj.component == "VEVENT" else (obj.due_utc or obj.start_utc)
        is_upcoming = when is not None and when >= now
        if obj.is_recurring and (obj.recurrence_end is None or obj.recurrence_end >= now):
            nxt = recurrence.expand(body, now, now + timedelta(days=3660), UTC)
            starts = sorted(o.start for o in nxt.occurrences)
            if starts:
                when, is_upcoming = starts[0], True
        if obj.component == "VTODO":
            is_upcoming = obj.status not in ("COMPLETED", "CANCELLED")
        entry = Appointment(
            calendar=infos[obj.collection_id].name,
            calendar_id=obj.collection_id,
            href=href,
            component=obj.component,
            summary=obj.summary,
            when=when,
            recurring=obj.is_recurring,
            status=obj.status,
        )
        (upcoming if is_upcoming else past).append(entry)
    far = datetime.max.replace(tzinfo=UTC)
    upcoming.sort(key=lambda a: a.when or far)
    past.sort(key=lambda a: a.when or datetime.min.replace(tzinfo=UTC), reverse=True)
    return past, upcoming


def _needle(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _merged_into(session: Session, uid: str) -> list[str]:
    """UIDs of contacts merged into ``uid`` (their links now mean it; a
    later merge re-points older aliases, so one step reaches them all)."""
    return list(
        session.scalars(select(ContactUidAlias.old_uid).where(ContactUidAlias.survivor_uid == uid))
    )


_ATTENDEE_LINE = re.compile(r"^ATTENDEE(?:;[^:]*)?:mailto:(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


def _attendees_in(body: str) -> set[str]:
    unfolded = re.sub(r"\r?\n[ \t]", "", body)
    return {m.group(1).strip().lower() for m in _ATTENDEE_LINE.finditer(unfolded)}


# -- the user's time zone ---------------------------------------------------------------


def time_zone_of(session: Session, user_id: int, default: str) -> str:
    user = session.get(User, user_id)
    chosen = user.time_zone if user is not None else None
    return chosen or default


def set_time_zone(session: Session, user_id: int, tzid: str) -> None:
    """Store the user's zone ("" goes back to the installation's default)."""
    from kmdav.calendar.values import zone

    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("no such user")
    if tzid:
        zone(tzid)
    user.time_zone = tzid or None
    session.flush()


def local_day_bounds(day: date, viewer: tzinfo, days: int = 1) -> tuple[datetime, datetime]:
    """[start, end) of ``days`` local days from ``day`` in ``viewer``'s zone."""
    start = as_local(day, viewer)
    end = as_local(day + timedelta(days=days), viewer)
    return start, end


__all__ = [
    "KEEP",
    "SCOPES",
    "TASK_FILTERS",
    "Appointment",
    "CalendarInfo",
    "ContactChoice",
    "EventDetails",
    "StaleError",
    "TaskRow",
    "appointments_for_contact",
]
