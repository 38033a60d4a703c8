"""The web calendar and tasks against a live kmdav, with the ``caldav``
library as "the phone": web edits reach the phone, phone edits reach the
web, stale forms conflict, bad input stores nothing, and calendar-query
time ranges agree with an independent expansion (recurring-ical-events)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import caldav
import httpx
import icalendar
import pytest
import recurring_ical_events

from tests.calendar import samples
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live
CALDAV_NS = "urn:ietf:params:xml:ns:caldav"


@pytest.fixture
def user(admin: WebClient, web_server: WebServer) -> Iterator[tuple[WebClient, str, str]]:
    name = unique("cal")
    password = f"{name}-password-1"
    admin.create_user(name, password, email=f"{name}@example.com")
    client = WebClient(web_server)
    assert client.login(name, password).status_code == 303
    yield client, name, password
    client.close()


def _phone(server: WebServer, name: str, password: str) -> caldav.DAVClient:
    return caldav.DAVClient(url=server.url + "/dav/", username=name, password=password)


def _calendar_id(server: WebServer, path: str) -> int:
    (row,) = server.query("SELECT id FROM dav_collections WHERE path = :p", p=path)
    return int(row[0])


def _revision(server: WebServer, path: str) -> int:
    (row,) = server.query("SELECT revision FROM dav_collections WHERE path = :p", p=path)
    return int(row[0])


def _event_form(calendar_id: int, **values: str) -> dict[str, str]:
    form = {
        "calendar": str(calendar_id),
        "summary": "Team meeting",
        "start_date": "2026-11-02",
        "start_time": "09:00",
        "end_date": "2026-11-02",
        "end_time": "10:00",
        "time_zone": "Europe/Vienna",
        "repeat": "WEEKLY",
        "count": "6",
    }
    return form | values


def test_web_series_reaches_the_phone_and_back(
    user: tuple[WebClient, str, str], web_server: WebServer
) -> None:
    web, name, password = user
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    response = web.post("/web/calendar/new", _event_form(calendar_id))
    assert response.status_code == 303, response.text
    with _phone(web_server, name, password) as phone:
        calendar = phone.calendar(url=f"{web_server.url}/dav/{name}/calendar/")
        (stored,) = calendar.events()
        component = stored.icalendar_component
        assert str(component["SUMMARY"]) == "Team meeting"
        assert component["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=6"
        assert component["DTSTART"].params["TZID"] == "Europe/Vienna"
        # the phone renames the series
        component["SUMMARY"] = "Team meeting (phone)"
        stored.save()
    week = web.get("/web/calendar?view=week&date=2026-11-09")
    assert week.status_code == 200
    assert "Team meeting (phone)" in week.text
    assert "09:00–10:00" in week.text


def _edit_link(page: str) -> str:
    match = re.search(r'href="(/web/calendar/\d+/[^"]+/edit[^"]*)"', page)
    assert match, page
    return match.group(1).replace("&amp;", "&")


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1).replace("&#34;", '"').replace("&quot;", '"')


def test_stale_form_conflicts_and_shows_both_versions(
    user: tuple[WebClient, str, str], web_server: WebServer
) -> None:
    web, name, password = user
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    web.post("/web/calendar/new", _event_form(calendar_id, repeat="", count=""))
    link = _edit_link(web.get("/web/calendar?view=week&date=2026-11-02").text)
    form_page = web.get(link).text
    etag = _hidden(form_page, "etag")
    with _phone(web_server, name, password) as phone:
        (stored,) = phone.calendar(url=f"{web_server.url}/dav/{name}/calendar/").events()
        stored.icalendar_component["SUMMARY"] = "Changed on the phone"
        stored.save()
    before = _revision(web_server, f"{name}/calendar")
    action = link.split("/edit")[0]
    answer = web.post(
        action,
        _event_form(calendar_id, repeat="", count="", summary="Changed on the web", etag=etag),
    )
    assert answer.status_code == 409
    assert "Changed on the web" in answer.text
    assert "Changed on the phone" in answer.text
    assert _revision(web_server, f"{name}/calendar") == before


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"end_time": "08:00"}, "end_time", "the end lies before the start"),
        ({"start_date": "2026-13-40"}, "start_date", "enter a date as YYYY-MM-DD"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone"),
        ({"repeat": "custom", "rrule": "FREQ=MINUTELY"}, "rrule", "at most daily"),
        (
            {"repeat": "custom", "rrule": "FREQ=DAILY;BYHOUR=1,2,3,4,5,6,7,8,9,10"},
            "rrule",
            "repeats more than",
        ),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    user: tuple[WebClient, str, str],
    web_server: WebServer,
    values: dict[str, str],
    field: str,
    message: str,
) -> None:
    web, name, _ = user
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    answer = web.post("/web/calendar/new", _event_form(calendar_id, **values))
    assert answer.status_code == 400
    error = re.search(rf'id="e-{field}">([^<]*)<', answer.text)
    assert error, answer.text
    assert message in error.group(1).replace("&#39;", "'")
    assert _revision(web_server, f"{name}/calendar") == 0


def test_tasks_sync_both_ways(user: tuple[WebClient, str, str], web_server: WebServer) -> None:
    web, name, password = user
    list_id = _calendar_id(web_server, f"{name}/tasks")
    answer = web.post(
        "/web/tasks",
        {
            "calendar": str(list_id),
            "summary": "Send offer",
            "due_date": "2026-11-20",
            "priority": "1",
            "status": "NEEDS-ACTION",
            "percent": "0",
            "assignee": name,
        },
    )
    assert answer.status_code == 303, answer.text
    with _phone(web_server, name, password) as phone:
        tasks = phone.calendar(url=f"{web_server.url}/dav/{name}/tasks/")
        (todo,) = tasks.todos()
        component = todo.icalendar_component
        assert str(component["SUMMARY"]) == "Send offer"
        assert str(component["ATTENDEE"]) == f"mailto:{name}@example.com"
        assert component["DUE"].to_ical() == b"20261120"
        sub = icalendar.Todo()
        sub.add("UID", f"sub-{name}")
        sub.add("SUMMARY", "Ask for prices")
        sub.add("RELATED-TO", str(component["UID"]))
        sub.add("DTSTAMP", datetime.now(UTC))
        tasks.save_todo(sub.to_ical().decode())
        # the library notes the child on the parent too: fetch it afresh
        tasks.get_todo_by_uid(str(component["UID"])).complete()
    page = web.get("/web/tasks").text
    assert re.search(r'class="task depth-0 done[^"]*" data-uid="[^"]+">.*?Send offer', page, re.S)
    assert "Ask for prices" in page
    assert 'class="task depth-1' in page
    mine = web.get("/web/tasks?filter=mine&done=0").text
    assert "Send offer" not in mine
    assert "Ask for prices" in mine
    # reopen from the list
    row = re.search(
        r'<form method="post" action="(/web/tasks/\d+/[^"]+/done)">(.*?)</form>', page, re.S
    )
    assert row
    etag = re.search(r'name="etag" value="([^"]*)"', row.group(2)).group(1).replace("&#34;", '"')
    done_field = re.search(r'name="done" value="(\d)"', row.group(2)).group(1)
    answer = web.post(row.group(1), {"etag": etag, "done": done_field})
    assert answer.status_code == 303
    with _phone(web_server, name, password) as phone:
        statuses = {
            str(t.icalendar_component["SUMMARY"]): str(t.icalendar_component.get("STATUS", ""))
            for t in phone.calendar(url=f"{web_server.url}/dav/{name}/tasks/").todos(
                include_completed=True
            )
        }
    assert statuses["Send offer"] == "NEEDS-ACTION"


def test_calendar_seat_is_needed(admin: WebClient, web_server: WebServer) -> None:
    name = unique("noseat")
    admin.create_user(name, f"{name}-password-1", modules=["tasks"])
    client = WebClient(web_server)
    try:
        client.login(name, f"{name}-password-1")
        assert client.get("/web/calendar").status_code == 403
        assert client.get("/web/tasks").status_code == 200
    finally:
        client.close()


# -- calendar-query against an independent expansion ------------------------------------

WINDOWS = [
    ("20261001T000000Z", "20261201T000000Z"),
    ("20261024T220000Z", "20261026T230000Z"),  # the DST change in Vienna
    ("20261027T000000Z", "20261028T000000Z"),
    ("20261029T000000Z", "20261030T000000Z"),
    ("20270301T000000Z", "20270401T000000Z"),
    ("20270402T000000Z", "20270405T000000Z"),
    ("20300115T150000Z", "20300115T160000Z"),
    ("20261110T070000Z", "20261110T080000Z"),
]


def _report(http: httpx.Client, url: str, start: str, end: str) -> set[str]:
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV_NS}">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
    response = http.request(
        "REPORT", url, content=body, headers={"Depth": "1", "Content-Type": "application/xml"}
    )
    assert response.status_code == 207, response.text
    return {
        h.text.rsplit("/", 1)[-1][: -len(".ics")]
        for h in ET.fromstring(response.content).iter("{DAV:}href")
        if h.text and h.text.endswith(".ics")
    }


def _expected(start: str, end: str) -> set[str]:
    """Samples with an occurrence in the window by recurring-ical-events;
    floating and all-day values count as UTC (RFC 4791 9.9 leaves their zone
    to the server, and kmdav, like Radicale, reads them as UTC)."""
    lo = datetime.strptime(start, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    hi = datetime.strptime(end, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    found = set()
    for name, text in samples.ALL.items():
        calendar = icalendar.Calendar.from_ical(text)
        for component in recurring_ical_events.of(calendar).between(
            lo - timedelta(days=3), hi + timedelta(days=3)
        ):
            first = _utc(component["DTSTART"].dt)
            last = (
                _utc(component["DTEND"].dt)
                if "DTEND" in component
                else first + (component["DURATION"].dt if "DURATION" in component else timedelta(0))
            )
            if first < hi and (last > lo or (last == first and first >= lo)):
                found.add(name)
    return found


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)  # type: ignore[attr-defined]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_time_range_queries_match_an_independent_expansion(
    user: tuple[WebClient, str, str], web_server: WebServer
) -> None:
    _, name, password = user
    url = f"{web_server.url}/dav/{name}/calendar/"
    with httpx.Client(auth=(name, password), timeout=30) as http:
        for sample, text in samples.ALL.items():
            put = http.put(
                url + f"{sample}.ics", content=text, headers={"Content-Type": "text/calendar"}
            )
            assert put.status_code == 201, put.text
        for start, end in WINDOWS:
            assert _report(http, url, start, end) == _expected(start, end), (start, end)


def test_views_toggles_and_time_zone(
    user: tuple[WebClient, str, str], web_server: WebServer
) -> None:
    web, name, _ = user
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    web.post("/web/calendar/new", _event_form(calendar_id, repeat="", count="", summary="Kick-off"))
    for view in ("month", "week", "day", "agenda"):
        page = web.get(f"/web/calendar?view={view}&date=2026-11-02")
        assert page.status_code == 200
        assert "Kick-off" in page.text, view
    hidden = web.get("/web/calendar?view=week&date=2026-11-02&shown=1")
    assert "Kick-off" not in hidden.text
    # another zone moves the wall-clock times
    refused = web.post(
        "/web/calendar/time-zone", {"time_zone": "Mars/Olympus", "next": "/web/account"}
    )
    assert refused.status_code == 400
    assert "unknown time zone" in refused.text
    saved = web.post(
        "/web/calendar/time-zone", {"time_zone": "America/New_York", "next": "/web/account"}
    )
    assert saved.status_code == 303
    assert 'value="America/New_York"' in web.get("/web/account").text
    week = web.get("/web/calendar?view=week&date=2026-11-02").text
    assert "Times in America/New_York" in week
    assert "03:00–04:00" in week  # 09:00 in Vienna
    german = web.post("/web/language", {"language": "de", "next": "/web/calendar"})
    assert german.status_code == 303
    assert "Woche" in web.get("/web/calendar?view=week&date=2026-11-02").text


VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:;{name};;;\r\n"
    "EMAIL;TYPE=WORK:{email}\r\nEND:VCARD\r\n"
)


def test_customer_and_participants_link_contacts(
    user: tuple[WebClient, str, str], web_server: WebServer
) -> None:
    web, name, password = user
    book = f"{web_server.url}/dav/{name}/contacts/"
    with httpx.Client(auth=(name, password), timeout=30) as http:
        for uid, person, email in (
            ("card-acme", "Acme Ltd", "office@acme.example"),
            ("card-anna", "Anna Berger", "anna@acme.example"),
        ):
            body = VCARD.format(uid=uid, name=person, email=email)
            put = http.put(
                book + f"{uid}.vcf", content=body, headers={"Content-Type": "text/vcard"}
            )
            assert put.status_code == 201
    found = web.get("/web/calendar/contacts?q=acme").text
    assert "Acme Ltd &lt;office@acme.example&gt;" in found
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    unknown = web.post(
        "/web/calendar/new",
        _event_form(calendar_id, repeat="", count="", customer="Nobody Known"),
    )
    assert unknown.status_code == 400
    assert "no contact matches" in unknown.text
    several = web.post(
        "/web/calendar/new", _event_form(calendar_id, repeat="", count="", customer="acme")
    )
    assert several.status_code == 400
    assert "several contacts match" in several.text
    made = web.post(
        "/web/calendar/new",
        _event_form(
            calendar_id,
            repeat="",
            count="",
            customer="Acme Ltd <office@acme.example>",
            participants="Anna Berger\nguest@example.org",
        ),
    )
    assert made.status_code == 303, made.text
    with _phone(web_server, name, password) as phone:
        (stored,) = phone.calendar(url=f"{web_server.url}/dav/{name}/calendar/").events()
        body = re.sub(r"\r?\n ", "", stored.data)
    assert "X-KMDAV-CONTACT;X-KMDAV-ROLE=customer:card-acme" in body
    assert "X-KMDAV-CONTACT:card-anna" in body
    assert "mailto:anna@acme.example" in body
    assert "mailto:guest@example.org" in body
    edit = web.get(_edit_link(web.get("/web/calendar?view=week&date=2026-11-02").text)).text
    assert "Acme Ltd &lt;office@acme.example&gt;" in edit


def test_move_and_delete_one_occurrence_from_the_web(
    user: tuple[WebClient, str, str], web_server: WebServer
) -> None:
    web, name, password = user
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    web.post("/web/calendar/new", _event_form(calendar_id, count="3"))
    week = web.get("/web/calendar?view=week&date=2026-11-09").text
    link = _edit_link(week)
    assert "rid=20261109T080000Z" in link
    form = web.get(link).text
    etag = _hidden(form, "etag")
    action = link.split("/edit")[0]
    moved = web.post(
        action + "/move",
        {
            "etag": etag,
            "rid": "20261109T080000Z",
            "scope": "this",
            "start_date": "2026-11-11",
            "start_time": "15:30",
        },
    )
    assert moved.status_code == 303, moved.text
    week = web.get("/web/calendar?view=week&date=2026-11-09").text
    assert "15:30–16:30" in week
    etag = _hidden(
        web.get(_edit_link(web.get("/web/calendar?view=week&date=2026-11-16").text)).text, "etag"
    )
    deleted = web.post(
        action + "/delete", {"etag": etag, "rid": "20261116T080000Z", "scope": "this"}
    )
    assert deleted.status_code == 303, deleted.text
    assert "Team meeting" not in web.get("/web/calendar?view=week&date=2026-11-16").text
    with _phone(web_server, name, password) as phone:
        (stored,) = phone.calendar(url=f"{web_server.url}/dav/{name}/calendar/").events()
        body = re.sub(r"\r?\n ", "", stored.data)
    assert "EXDATE;TZID=Europe/Vienna:20261116T090000" in body
    assert "RECURRENCE-ID;TZID=Europe/Vienna:20261109T090000" in body
