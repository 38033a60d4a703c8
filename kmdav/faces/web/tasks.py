"""``/web/tasks``: the task lists the user's devices sync (tasks seat).

Tasks are VTODOs; a sub-task names its parent with RELATED-TO.  The
assignee is an ATTENDEE (what phones and Thunderbird keep: DAVx5 with
jtx Board or tasks.org, Thunderbird and iOS Reminders all preserve it),
so "mine" means an ATTENDEE with the user's e-mail, or no assignee in a
list of their own.  Filters: all, mine, overdue, due this week.  A
checkbox form completes or reopens a task from the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from kmdav.calendar import events
from kmdav.calendar import service as calendars
from kmdav.calendar.events import Attendee, Changes
from kmdav.calendar.values import When, tzid_of, zone
from kmdav.dav.access import TASKS_SEAT
from kmdav.errors import ValidationError
from kmdav.faces.web._web import PREFIX, Call, FormErrors, NavEntry, action, page, redirect
from kmdav.faces.web.calendar import viewer_zone
from kmdav.i18n import N_
from kmdav.models import User

PATH = PREFIX + "/tasks"
NAV = (NavEntry(PATH, N_("Tasks"), module=TASKS_SEAT),)
NOTICES = {
    "created": N_("The task was saved. Devices see it at their next sync."),
    "changed": N_("The task was changed. Devices see it at their next sync."),
    "done": N_("The task is done."),
    "reopened": N_("The task is open again."),
    "deleted": N_("The task was deleted."),
}


def _lists(call: Call) -> list[calendars.CalendarInfo]:
    return [c for c in calendars.calendars(call.session, call.viewer.id) if c.kind == "tasks"]


@dataclass
class TaskValues:
    calendar: str = ""
    summary: str = ""
    description: str = ""
    due_date: str = ""
    due_time: str = ""
    time_zone: str = ""
    priority: str = "0"
    status: str = "NEEDS-ACTION"
    percent: str = "0"
    parent: str = ""
    assignee: str = ""
    customer: str = ""
    etag: str = ""


def _form_values(call: Call) -> TaskValues:
    return TaskValues(**{name: call.field(name) for name in TaskValues.__dataclass_fields__})


def _filter(call: Call) -> str:
    value = call.request.query_params.get("filter", "all")
    return value if value in calendars.TASK_FILTERS else "all"


def _tasks_page(
    call: Call,
    *,
    values: TaskValues | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    tz = viewer_zone(call)
    chosen = _filter(call)
    show_done = call.request.query_params.get("done", "1") != "0"
    rows = calendars.tasks(call.session, call.viewer.id, tz, filter=chosen, show_done=show_done)
    book = call.web.settings.dav.company_addressbook
    names = calendars.contacts_by_uid(
        call.session, call.viewer.id, [u for r in rows for u in r.contacts], company_book=book
    )
    lists = _lists(call)
    return call.render(
        "tasks.html",
        status,
        tasks=rows,
        contact_names={uid: c.name for uid, c in names.items()},
        lists=[c for c in lists if c.writable],
        filter=chosen,
        filters=calendars.TASK_FILTERS,
        show_done=show_done,
        values=values or TaskValues(time_zone=tz.key),
        errors=errors or {},
        parents=[r for r in rows if not r.done],
        statuses=events.TASK_STATUSES,
        time_zone=tz.key,
        link=_task_link,
        notice=call.notice(NOTICES),
        here_query=urlencode({"filter": chosen, "done": "1" if show_done else "0"}),
    )


def _task_link(row: calendars.TaskRow) -> str:
    return f"{PATH}/{row.calendar.id}/{quote(row.href, safe='')}/edit"


@page(module=TASKS_SEAT)
def tasks_page(call: Call) -> Response:
    return _tasks_page(call)


def _due(values: TaskValues, default_zone: str) -> When | None:
    if not values.due_date:
        if values.due_time:
            raise ValidationError("enter a due date for the time", field="due_date")
        return None
    try:
        day = date.fromisoformat(values.due_date)
    except ValueError:
        raise ValidationError("enter a date as YYYY-MM-DD", field="due_date") from None
    if not values.due_time:
        return day
    try:
        clock = time.fromisoformat(values.due_time)
    except ValueError:
        raise ValidationError("enter a time as HH:MM", field="due_time") from None
    return datetime.combine(day, clock, zone(values.time_zone or default_zone, field="time_zone"))


def _number(text: str, field: str, low: int, high: int) -> int:
    try:
        value = int(text or 0)
    except ValueError:
        raise ValidationError("enter a whole number", field=field) from None
    if not low <= value <= high:
        raise ValidationError(
            "enter a number from %(low)s to %(high)s", field=field, low=low, high=high
        )
    return value


def _assignee(call: Call, text: str) -> tuple[Attendee, ...]:
    """A kmdav user (by user name or e-mail), else a contact, else an e-mail address."""
    wanted = text.strip()
    if not wanted:
        return ()
    if wanted.endswith(">") and "<" in wanted:
        wanted = wanted[wanted.rindex("<") + 1 : -1].strip()
    user = call.session.scalars(
        select(User).where((User.username == wanted) | (User.email == wanted))
    ).first()
    if user is not None:
        if not user.email:
            raise ValidationError(
                "the user %(name)s has no e-mail address to assign tasks to",
                field="assignee",
                name=user.username,
            )
        return (Attendee(user.email, user.display_name or user.username),)
    _, people = calendars.resolve_participants(
        call.session,
        call.viewer.id,
        wanted,
        field="assignee",
        company_book=call.web.settings.dav.company_addressbook,
    )
    return tuple(people[:1])


def _changes(call: Call, values: TaskValues) -> Changes:
    if not values.summary:
        raise ValidationError("enter a title", field="summary")
    if values.status not in events.TASK_STATUSES:
        raise ValidationError("choose a status from the list", field="status")
    percent = _number(values.percent, "percent", 0, 100)
    done = values.status == "COMPLETED"
    customer = calendars.resolve_contact(
        call.session,
        call.viewer.id,
        values.customer.rsplit("<", 1)[-1].rstrip(">").strip() if values.customer else "",
        field="customer",
        company_book=call.web.settings.dav.company_addressbook,
    )
    return Changes(
        summary=values.summary,
        description=values.description,
        due=_due(values, viewer_zone(call).key),
        priority=_number(values.priority, "priority", 0, 9),
        status=values.status,
        percent_complete=100 if done else percent,
        completed=datetime.now().astimezone() if done else None,
        related_to=values.parent,
        customer=customer.uid if customer is not None else "",
        attendees=_assignee(call, values.assignee),
    )


def _invalid_new(call: Call, errors: FormErrors) -> Response:
    return _tasks_page(call, values=_form_values(call), errors=errors, status=400)


@action(module=TASKS_SEAT, invalid=_invalid_new)
def create(call: Call) -> Response:
    values = _form_values(call)
    try:
        list_id = int(values.calendar)
    except ValueError:
        raise ValidationError("choose a task list", field="calendar") from None
    calendars.create(call.session, call.viewer.id, list_id, "VTODO", _changes(call, values))
    return redirect(PATH + "?notice=created")


def _target(call: Call) -> tuple[int, str]:
    list_id: int = call.request.path_params["calendar_id"]
    href: str = call.request.path_params["href"]
    return list_id, href


def _values_of(call: Call, details: dict[str, Any]) -> TaskValues:
    due = details["due"]
    tz = viewer_zone(call)
    due_date = due_time = ""
    zone_name = tz.key
    if isinstance(due, datetime):
        local = due if due.tzinfo is None or tzid_of(due) else due.astimezone(tz)
        due_date, due_time = local.date().isoformat(), local.strftime("%H:%M")
        zone_name = tzid_of(due) or tz.key
    elif isinstance(due, date):
        due_date = due.isoformat()
    names = calendars.contacts_by_uid(
        call.session,
        call.viewer.id,
        [details["customer"]],
        company_book=call.web.settings.dav.company_addressbook,
    )
    customer = names.get(details["customer"])
    return TaskValues(
        calendar=str(details["calendar"].id),
        summary=details["summary"],
        description=details["description"],
        due_date=due_date,
        due_time=due_time,
        time_zone=zone_name,
        priority=str(details["priority"]),
        status=details["status"],
        percent=str(details["percent"]),
        parent=details["parent"],
        assignee=details["assignees"][0] if details["assignees"] else "",
        customer=(f"{customer.name} <{customer.email}>" if customer and customer.email else ""),
        etag=details["etag"],
    )


def _edit_page(
    call: Call, values: TaskValues, *, errors: FormErrors | None = None, status: int = 200
) -> Response:
    list_id, href = _target(call)
    details = calendars.task_details(call.session, call.viewer.id, list_id, href)
    others = [
        r
        for r in calendars.tasks(call.session, call.viewer.id, viewer_zone(call))
        if r.uid != details["uid"] and not r.done
    ]
    return call.render(
        "task_edit.html",
        status,
        values=values,
        details=details,
        parents=others,
        statuses=events.TASK_STATUSES,
        errors=errors or {},
        action_path=f"{PATH}/{list_id}/{quote(href, safe='')}",
    )


@page(module=TASKS_SEAT)
def edit_form(call: Call) -> Response:
    list_id, href = _target(call)
    details = calendars.task_details(call.session, call.viewer.id, list_id, href)
    return _edit_page(call, _values_of(call, details))


def _invalid_edit(call: Call, errors: FormErrors) -> Response:
    return _edit_page(call, _form_values(call), errors=errors, status=400)


def _conflict(call: Call, error: calendars.StaleError) -> Response:
    return call.render(
        "task_conflict.html",
        409,
        message=call.gettext(error.message),
        yours=_form_values(call),
        current=error.current,
        back=PATH,
    )


@action(module=TASKS_SEAT, invalid=_invalid_edit)
def update(call: Call) -> Response:
    list_id, href = _target(call)
    values = _form_values(call)
    details = calendars.task_details(call.session, call.viewer.id, list_id, href)
    changes = _changes(call, values)
    if values.status == "COMPLETED" and details["status"] == "COMPLETED":
        changes = events.with_changes(changes, completed=events.KEEP)
    try:
        calendars.update_task(call.session, call.viewer.id, list_id, href, values.etag, changes)
    except calendars.StaleError as error:
        return _conflict(call, error)
    return redirect(PATH + "?notice=changed")


def _back(call: Call, notice: str) -> str:
    query = call.field("back_query")
    return PATH + "?" + (query + "&" if query else "") + "notice=" + notice


@action(module=TASKS_SEAT, invalid=_invalid_new)
def toggle_done(call: Call) -> Response:
    list_id, href = _target(call)
    done = call.field("done") == "1"
    try:
        calendars.set_done(call.session, call.viewer.id, list_id, href, call.field("etag"), done)
    except calendars.StaleError as error:
        return _conflict(call, error)
    return redirect(_back(call, "done" if done else "reopened"))


@action(module=TASKS_SEAT, invalid=_invalid_edit)
def remove(call: Call) -> Response:
    list_id, href = _target(call)
    try:
        calendars.delete(call.session, call.viewer.id, list_id, href, call.field("etag"))
    except calendars.StaleError as error:
        return _conflict(call, error)
    return redirect(PATH + "?notice=deleted")


routes = [
    Route("/tasks", tasks_page, methods=["GET"], name="web_tasks"),
    Route("/tasks", create, methods=["POST"]),
    Route("/tasks/{calendar_id:int}/{href}/edit", edit_form, methods=["GET"]),
    Route("/tasks/{calendar_id:int}/{href}", update, methods=["POST"]),
    Route("/tasks/{calendar_id:int}/{href}/done", toggle_done, methods=["POST"]),
    Route("/tasks/{calendar_id:int}/{href}/delete", remove, methods=["POST"]),
]
