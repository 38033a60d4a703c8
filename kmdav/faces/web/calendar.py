"""``/web/calendar``: month, week, day and agenda views; create, edit, move
and delete appointments (calendar seat).

Times are shown in the viewer's zone (``users.time_zone``, else
``web.default_time_zone``).  Which calendars show is a GET form of
checkboxes (``?cal=<id>``), so links keep the choice and no script is
needed.  Every write goes through :mod:`kmdav.calendar.service` with the
ETag the form was rendered from; a stale one answers 409 with both
versions side by side.  ``calendar.js`` only adds drag-and-drop moving on
top of the "Move" form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import Route

from kmdav.calendar import events, views
from kmdav.calendar import service as calendars
from kmdav.calendar.events import KEEP, Changes
from kmdav.calendar.values import When, tzid_of, zone
from kmdav.dav.access import CALENDAR_SEAT
from kmdav.errors import ValidationError
from kmdav.faces.web._web import PREFIX, Call, FormErrors, NavEntry, action, page, redirect
from kmdav.i18n import N_

PATH = PREFIX + "/calendar"
NAV = (NavEntry(PATH, N_("Calendar"), module=CALENDAR_SEAT),)
NOTICES = {
    "created": N_("The appointment was saved. Devices see it at their next sync."),
    "changed": N_("The appointment was changed. Devices see it at their next sync."),
    "deleted": N_("The appointment was deleted."),
    "zone": N_("Your time zone was saved."),
    "answered": N_("Your answer was sent to the organizer."),
}
REPEATS = ("", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "custom")
#: The e-mail reminder choices (X-KMDAV-EMAIL-REMINDER), "" for none.
REMINDERS: dict[str, timedelta] = {
    "PT5M": timedelta(minutes=5),
    "PT15M": timedelta(minutes=15),
    "PT30M": timedelta(minutes=30),
    "PT1H": timedelta(hours=1),
    "P1D": timedelta(days=1),
}


def viewer_zone(call: Call) -> ZoneInfo:
    name = calendars.time_zone_of(
        call.session, call.viewer.id, call.web.settings.web.default_time_zone
    )
    try:
        return zone(name)
    except ValidationError:
        return ZoneInfo("UTC")


def _day(text: str, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _chosen_ids(call: Call, available: list[calendars.CalendarInfo]) -> list[int]:
    """The ``cal`` boxes of the toggle form; all calendars before it was sent."""
    params = call.request.query_params
    if "shown" not in params:
        return [c.id for c in available]
    wanted = set()
    for value in params.getlist("cal"):
        try:
            wanted.add(int(value))
        except ValueError:
            continue
    return [c.id for c in available if c.id in wanted]


def _link(view: str, day: date, ids: list[int] | None) -> str:
    query: list[tuple[str, str]] = [("view", view), ("date", day.isoformat())]
    if ids is not None:
        query += [("shown", "1"), *(("cal", str(i)) for i in ids)]
    return PATH + "?" + urlencode(query)


@page(module=CALENDAR_SEAT)
def calendar_page(call: Call) -> Response:
    tz = viewer_zone(call)
    params = call.request.query_params
    view = params.get("view", "week")
    if view not in views.VIEWS:
        view = "week"
    today = datetime.now(tz).date()
    anchor = _day(params.get("date", ""), today)
    available = [c for c in calendars.calendars(call.session, call.viewer.id) if c.holds_events]
    chosen = _chosen_ids(call, available)
    first, count = views.span(view, anchor)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(first + timedelta(days=count), time(), tz)
    window = calendars.occurrences(
        call.session, call.viewer.id, start, end, tz, calendar_ids=chosen
    )
    all_days = views.days(
        first, count, window.entries, month=anchor.month if view == "month" else None
    )
    keep_ids = chosen if "shown" in params else None
    return call.render(
        "calendar.html",
        view=view,
        anchor=anchor,
        today=today,
        days=all_days,
        weeks=views.weeks(all_days) if view == "month" else [],
        agenda=[d for d in all_days if d.entries],
        calendars=available,
        chosen=set(chosen),
        truncated=window.truncated,
        unreadable=window.unreadable,
        time_zone=tz.key,
        links={
            "prev": _link(view, views.step(view, anchor, False), keep_ids),
            "next": _link(view, views.step(view, anchor, True), keep_ids),
            "today": _link(view, today, keep_ids),
            **{name: _link(name, anchor, keep_ids) for name in views.VIEWS},
        },
        entry_link=_entry_link,
        notice=call.notice(NOTICES),
    )


def _entry_link(entry: calendars.Entry) -> str:
    base = f"{PATH}/{entry.calendar.id}/{quote(entry.href, safe='')}/edit"
    return base + (f"?rid={quote(entry.occurrence.rid)}" if entry.occurrence.rid else "")


# -- the form ---------------------------------------------------------------------------


@dataclass
class FormValues:
    """What the event form shows (strings, as typed)."""

    calendar: str = ""
    summary: str = ""
    location: str = ""
    description: str = ""
    all_day: bool = False
    start_date: str = ""
    start_time: str = "09:00"
    end_date: str = ""
    end_time: str = "10:00"
    time_zone: str = ""
    repeat: str = ""
    until: str = ""
    count: str = ""
    rrule: str = ""
    status: str = ""
    customer: str = ""
    participants: str = ""
    reminder: str = ""
    etag: str = ""
    rid: str = ""
    scope: str = "this"


def _date_text(value: When | None, tz: ZoneInfo) -> tuple[str, str]:
    if value is None:
        return "", ""
    if not isinstance(value, datetime):
        return value.isoformat(), ""
    local = value.astimezone(tz) if value.tzinfo is not None and not _zoned(value) else value
    return local.date().isoformat(), local.strftime("%H:%M")


def _zoned(value: datetime) -> bool:
    return value.tzinfo is not None and tzid_of(value) is not None


def _values_of(call: Call, details: calendars.EventDetails, tz: ZoneInfo) -> FormValues:
    start_date, start_time = _date_text(details.start, tz)
    end_value = details.end
    all_day = details.start is not None and not isinstance(details.start, datetime)
    if all_day and isinstance(end_value, date) and not isinstance(end_value, datetime):
        end_value = end_value - timedelta(days=1)  # the form shows the last day
    end_date, end_time = _date_text(end_value, tz)
    zone_name = tz.key
    if isinstance(details.start, datetime) and _zoned(details.start):
        zone_name = tzid_of(details.start) or tz.key
    names = calendars.contacts_by_uid(
        call.session,
        call.viewer.id,
        [details.customer],
        company_book=call.web.settings.dav.company_addressbook,
    )
    customer = names.get(details.customer)
    return FormValues(
        calendar=str(details.calendar.id),
        summary=details.summary,
        location=details.location,
        description=details.description,
        all_day=all_day,
        start_date=start_date,
        start_time=start_time or "09:00",
        end_date=end_date,
        end_time=end_time or "10:00",
        time_zone=zone_name,
        repeat="custom" if details.rrule else "",
        rrule=details.rrule,
        status=details.status,
        customer=(
            f"{customer.name} <{customer.email}>"
            if customer and customer.email
            else (customer.name if customer else "")
        ),
        participants="\n".join(
            f"{a.name} <{a.email}>" if a.name else a.email for a in details.attendees
        ),
        reminder=details.email_reminder,
        etag=details.etag,
        rid=details.rid,
    )


def _form_values(call: Call) -> FormValues:
    values = FormValues(all_day=call.checked("all_day"))
    for name in FormValues.__dataclass_fields__:
        if name != "all_day":
            setattr(values, name, call.field(name))
    return values


def _parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError("enter a date as YYYY-MM-DD", field=field) from None


def _parse_time(text: str, field: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError("enter a time as HH:MM", field=field) from None


def _times(values: FormValues, tz_default: str) -> tuple[When, When]:
    start_day = _parse_date(values.start_date, "start_date")
    end_day = _parse_date(values.end_date, "end_date") if values.end_date else start_day
    if values.all_day:
        if end_day < start_day:
            raise ValidationError("the end lies before the start", field="end_date")
        return start_day, end_day + timedelta(days=1)
    tz = zone(values.time_zone or tz_default, field="time_zone")
    start = datetime.combine(start_day, _parse_time(values.start_time, "start_time"), tz)
    end_clock = _parse_time(values.end_time, "end_time") if values.end_time else None
    end = (
        datetime.combine(end_day, end_clock, tz)
        if end_clock is not None
        else start + timedelta(hours=1)
    )
    if end < start:
        raise ValidationError("the end lies before the start", field="end_time")
    return start, end


def _rule(values: FormValues, start: When) -> str:
    if values.repeat not in REPEATS:
        raise ValidationError("choose how the appointment repeats", field="repeat")
    if not values.repeat:
        return ""
    if values.repeat == "custom":
        return events.check_rrule(values.rrule, start)
    parts = {"FREQ": values.repeat}
    if values.until and values.count:
        raise ValidationError("give an end date or a number of times, not both", field="count")
    if values.until:
        last = _parse_date(values.until, "until")
        parts["UNTIL"] = (
            last.strftime("%Y%m%d")
            if not isinstance(start, datetime)
            else (
                datetime.combine(last, time(23, 59, 59), start.tzinfo)
                .astimezone(ZoneInfo("UTC"))
                .strftime("%Y%m%dT%H%M%SZ")
            )
        )
    if values.count:
        try:
            count = int(values.count)
        except ValueError:
            raise ValidationError("enter a whole number", field="count") from None
        if not 1 <= count <= 1000:
            raise ValidationError("between 1 and 1000 times", field="count")
        parts["COUNT"] = str(count)
    return events.check_rrule(events.join_rrule(parts), start)


def _changes(call: Call, values: FormValues, *, series: bool) -> Changes:
    tz_default = viewer_zone(call).key
    if not values.summary:
        raise ValidationError("enter a title", field="summary")
    if values.status and values.status not in events.EVENT_STATUSES:
        raise ValidationError("choose a status from the list", field="status")
    start, end = _times(values, tz_default)
    book = call.web.settings.dav.company_addressbook
    customer = calendars.resolve_contact(
        call.session, call.viewer.id, _picked(values.customer), field="customer", company_book=book
    )
    uids, people = calendars.resolve_participants(
        call.session, call.viewer.id, _picked_list(values.participants), company_book=book
    )
    return Changes(
        summary=values.summary,
        location=values.location,
        description=values.description,
        start=start,
        end=end,
        rrule=_rule(values, start) if series else KEEP,
        status=values.status,
        customer=customer.uid if customer is not None else "",
        contacts=tuple(uids),
        attendees=tuple(people),
    )


def _reminder(values: FormValues, current: str = "") -> timedelta | events.Keep | None:
    """The chosen lead time; a value a device set that the list does not
    offer stays as it is when the form sends it back unchanged."""
    if not values.reminder:
        return None
    lead = REMINDERS.get(values.reminder)
    if lead is not None:
        return lead
    if current and values.reminder == current:
        return KEEP
    raise ValidationError("choose a reminder from the list", field="reminder")


def _picked(text: str) -> str:
    """``Name <mail>`` as the form shows a contact -> the e-mail to look up."""
    text = text.strip()
    if text.endswith(">") and "<" in text:
        return text[text.rindex("<") + 1 : -1].strip()
    return text


def _picked_list(text: str) -> str:
    return "\n".join(_picked(line) for line in text.replace(",", "\n").splitlines())


def _form_page(
    call: Call,
    values: FormValues,
    *,
    details: calendars.EventDetails | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    writable = [
        c
        for c in calendars.calendars(call.session, call.viewer.id)
        if c.holds_events and c.writable
    ]
    return call.render(
        "calendar_event.html",
        status,
        values=values,
        details=details,
        calendars=writable,
        errors=errors or {},
        repeats=REPEATS,
        reminders=["", *REMINDERS],
        answers=calendars.ANSWERS,
        statuses=events.EVENT_STATUSES,
        action_path=(
            f"{PATH}/{details.calendar.id}/{quote(details.href, safe='')}"
            if details is not None
            else PATH + "/new"
        ),
        back=PATH
        + (
            "?" + urlencode({"view": "week", "date": values.start_date})
            if values.start_date
            else ""
        ),
    )


@page(module=CALENDAR_SEAT)
def new_form(call: Call) -> Response:
    tz = viewer_zone(call)
    day = _day(call.request.query_params.get("date", ""), datetime.now(tz).date())
    hour = call.request.query_params.get("time", "09:00")
    values = FormValues(start_date=day.isoformat(), end_date=day.isoformat(), time_zone=tz.key)
    try:
        clock = time.fromisoformat(hour)
        values.start_time = clock.strftime("%H:%M")
        values.end_time = (datetime.combine(day, clock) + timedelta(hours=1)).strftime("%H:%M")
    except ValueError:
        pass
    return _form_page(call, values)


def _invalid_new(call: Call, errors: FormErrors) -> Response:
    return _form_page(call, _form_values(call), errors=errors, status=400)


@action(module=CALENDAR_SEAT, invalid=_invalid_new)
def create(call: Call) -> Response:
    values = _form_values(call)
    try:
        calendar_id = int(values.calendar)
    except ValueError:
        raise ValidationError("choose a calendar", field="calendar") from None
    changes = _changes(call, values, series=True)
    lead = _reminder(values)
    calendars.create(
        call.session,
        call.viewer.id,
        calendar_id,
        "VEVENT",
        changes,
        reminder=lead if not isinstance(lead, events.Keep) else None,
    )
    return redirect(_after(values, "created"))


def _after(values: FormValues, notice: str) -> str:
    query = {"view": "week", "notice": notice}
    if values.start_date:
        query["date"] = values.start_date
    return PATH + "?" + urlencode(query)


def _target(call: Call) -> tuple[int, str]:
    calendar_id: int = call.request.path_params["calendar_id"]
    href: str = call.request.path_params["href"]
    return calendar_id, href


@page(module=CALENDAR_SEAT)
def edit_form(call: Call) -> Response:
    calendar_id, href = _target(call)
    rid = call.request.query_params.get("rid", "")
    details = calendars.event_details(call.session, call.viewer.id, calendar_id, href, rid)
    return _form_page(call, _values_of(call, details, viewer_zone(call)), details=details)


def _invalid_edit(call: Call, errors: FormErrors) -> Response:
    calendar_id, href = _target(call)
    values = _form_values(call)
    details = calendars.event_details(call.session, call.viewer.id, calendar_id, href, values.rid)
    return _form_page(call, values, details=details, errors=errors, status=400)


def _scope(values: FormValues, details: calendars.EventDetails) -> calendars.Scope:
    if not details.recurring or not values.rid:
        return "all"
    for scope in calendars.SCOPES:
        if scope == values.scope:
            return scope
    raise ValidationError("choose which occurrences to change", field="scope")


def _conflict(
    call: Call, values: FormValues, error: calendars.StaleError, details: calendars.EventDetails
) -> Response:
    current = None
    if error.current is not None:
        current = calendars.event_details(
            call.session, call.viewer.id, details.calendar.id, details.href, values.rid
        )
    return call.render(
        "calendar_conflict.html",
        409,
        yours=values,
        current=current,
        current_values=_values_of(call, current, viewer_zone(call)) if current else None,
        message=call.gettext(error.message),
        edit_link=f"{PATH}/{details.calendar.id}/{quote(details.href, safe='')}/edit"
        + (f"?rid={quote(values.rid)}" if values.rid else ""),
        back=PATH,
    )


@action(module=CALENDAR_SEAT, invalid=_invalid_edit)
def update(call: Call) -> Response:
    calendar_id, href = _target(call)
    values = _form_values(call)
    details = calendars.event_details(call.session, call.viewer.id, calendar_id, href, values.rid)
    scope = _scope(values, details)
    changes = _changes(call, values, series=scope != "this")
    try:
        target = int(values.calendar) if values.calendar else None
    except ValueError:
        raise ValidationError("choose a calendar", field="calendar") from None
    try:
        calendars.update_event(
            call.session,
            call.viewer.id,
            calendar_id,
            href,
            values.etag,
            changes,
            scope=scope,
            rid=values.rid,
            target_calendar_id=target if scope == "all" else None,
            reminder=_reminder(values, details.email_reminder) if scope != "this" else KEEP,
        )
    except calendars.StaleError as error:
        return _conflict(call, values, error, details)
    return redirect(_after(values, "changed"))


@action(module=CALENDAR_SEAT, invalid=_invalid_edit)
def move(call: Call) -> Response:
    """A new start (same length): the "Move" form, or a drop in the week view."""
    calendar_id, href = _target(call)
    values = _form_values(call)
    details = calendars.event_details(call.session, call.viewer.id, calendar_id, href, values.rid)
    scope = _scope(values, details)
    day = _parse_date(values.start_date, "start_date")
    new_start: When = day
    if isinstance(details.start, datetime):
        clock = (
            _parse_time(values.start_time, "start_time")
            if values.start_time
            else details.start.time()
        )
        tz = details.start.tzinfo if _zoned(details.start) else viewer_zone(call)
        new_start = datetime.combine(day, clock, tz)
        if details.start.tzinfo is None:
            new_start = new_start.replace(tzinfo=None)
    try:
        calendars.move(
            call.session,
            call.viewer.id,
            calendar_id,
            href,
            values.etag,
            new_start,
            scope=scope,
            rid=values.rid,
        )
    except calendars.StaleError as error:
        return _conflict(call, values, error, details)
    if call.from_htmx:
        return Response(status_code=204, headers={"hx-refresh": "true"})
    return redirect(_after(FormValues(start_date=day.isoformat()), "changed"))


@action(module=CALENDAR_SEAT, invalid=_invalid_edit)
def remove(call: Call) -> Response:
    calendar_id, href = _target(call)
    values = _form_values(call)
    details = calendars.event_details(call.session, call.viewer.id, calendar_id, href, values.rid)
    try:
        calendars.delete(
            call.session,
            call.viewer.id,
            calendar_id,
            href,
            values.etag,
            scope=_scope(values, details),
            rid=values.rid,
        )
    except calendars.StaleError as error:
        return _conflict(call, values, error, details)
    return redirect(_after(FormValues(start_date=values.start_date), "deleted"))


@action(module=CALENDAR_SEAT, invalid=_invalid_edit)
def answer(call: Call) -> Response:
    """An invited user accepts, tentatively accepts or declines; the REPLY
    goes to the organizer through the scheduling of the write path."""
    calendar_id, href = _target(call)
    values = _form_values(call)
    details = calendars.event_details(call.session, call.viewer.id, calendar_id, href)
    try:
        calendars.answer(
            call.session, call.viewer.id, calendar_id, href, values.etag, call.field("partstat")
        )
    except calendars.StaleError as error:
        return _conflict(call, values, error, details)
    start = details.start.date() if isinstance(details.start, datetime) else details.start
    return redirect(_after(FormValues(start_date=start.isoformat() if start else ""), "answered"))


# -- contacts picker and time zone ----------------------------------------------------------


@page(module=CALENDAR_SEAT)
def contact_choices(call: Call) -> Response:
    """Contacts matching ``q``: a fragment for htmx, else a small page."""
    query = call.request.query_params.get("q", "")
    found = calendars.find_contacts(
        call.session,
        call.viewer.id,
        query,
        company_book=call.web.settings.dav.company_addressbook,
    )
    return call.render("_contact_choices.html", choices=found, query=query, fragment=call.from_htmx)


def _invalid_zone(call: Call, errors: FormErrors) -> Response:
    from kmdav.faces.web._web import error_page

    return error_page(call.request, call.web, 400, next(iter(errors.values())), call.viewer)


@action(invalid=_invalid_zone)
def set_zone(call: Call) -> Response:
    calendars.set_time_zone(call.session, call.viewer.id, call.field("time_zone"))
    back = call.field("next")
    if not back.startswith(PREFIX + "/") or back.startswith("//"):
        back = PATH
    separator = "&" if "?" in back else "?"
    return redirect(back + separator + "notice=zone")


def time_zone_context(call: Call) -> dict[str, Any]:
    """For the account page's time zone field."""
    return {
        "time_zone": calendars.time_zone_of(call.session, call.viewer.id, ""),
        "default_time_zone": call.web.settings.web.default_time_zone,
    }


routes = [
    Route("/calendar", calendar_page, methods=["GET"], name="web_calendar"),
    Route("/calendar/new", new_form, methods=["GET"]),
    Route("/calendar/new", create, methods=["POST"]),
    Route("/calendar/contacts", contact_choices, methods=["GET"]),
    Route("/calendar/time-zone", set_zone, methods=["POST"]),
    Route("/calendar/{calendar_id:int}/{href}/edit", edit_form, methods=["GET"]),
    Route("/calendar/{calendar_id:int}/{href}", update, methods=["POST"]),
    Route("/calendar/{calendar_id:int}/{href}/move", move, methods=["POST"]),
    Route("/calendar/{calendar_id:int}/{href}/delete", remove, methods=["POST"]),
    Route("/calendar/{calendar_id:int}/{href}/answer", answer, methods=["POST"]),
]
