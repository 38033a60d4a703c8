"""The web calendar schedules like a CalDAV client: invitations from the
web land in the other user's calendar (seen through the ``caldav``
library), an answer given on the web reaches the organizer's copy, a
deletion cancels, the schedule boxes are no calendars on the pages, the
e-mail reminder travels through a phone's GET/PUT, and two users inviting
each other at once never fail (the PostgreSQL deadlock)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import caldav
import httpx
import icalendar
import pytest
from sqlalchemy import create_engine, text

from tests.databases import throwaway_database
from tests.live import live_server, run_cli
from tests.smtp import SmtpServer, smtp_server
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live


def _person(admin: WebClient, server: WebServer) -> tuple[WebClient, str, str]:
    name = unique("sch")
    password = f"{name}-password-1"
    admin.create_user(name, password, email=f"{name}@example.com")
    client = WebClient(server)
    assert client.login(name, password).status_code == 303
    return client, name, password


@pytest.fixture
def pair(admin: WebClient, web_server: WebServer) -> Iterator[list[tuple[WebClient, str, str]]]:
    made = [_person(admin, web_server), _person(admin, web_server)]
    yield made
    for client, _, _ in made:
        client.close()


def _calendar_id(server: WebServer, path: str) -> int:
    (row,) = server.query("SELECT id FROM dav_collections WHERE path = :p", p=path)
    return int(row[0])


def _form(calendar_id: int, **values: str) -> dict[str, str]:
    form = {
        "calendar": str(calendar_id),
        "summary": "Planning",
        "start_date": "2026-12-01",
        "start_time": "10:00",
        "end_date": "2026-12-01",
        "end_time": "11:00",
        "time_zone": "Europe/Vienna",
    }
    return form | values


def _phone(server: WebServer, name: str, password: str) -> caldav.DAVClient:
    return caldav.DAVClient(url=server.url + "/dav/", username=name, password=password)


def _events(server: WebServer, name: str, password: str) -> list[str]:
    with _phone(server, name, password) as phone:
        calendar = phone.calendar(url=f"{server.url}/dav/{name}/calendar/")
        return [re.sub(r"\r?\n[ \t]", "", str(e.data)) for e in calendar.events()]


def _edit_link(page: str) -> str:
    match = re.search(r'href="(/web/calendar/\d+/[^"]+/edit[^"]*)"', page)
    assert match, page
    return match.group(1).replace("&amp;", "&")


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1).replace("&#34;", '"').replace("&quot;", '"')


def test_schedule_boxes_are_no_calendars_on_the_pages(
    pair: list[tuple[WebClient, str, str]], web_server: WebServer
) -> None:
    (web, name, _), _ = pair
    for page in ("/web/calendar", "/web/tasks", "/web/calendar/new"):
        text = web.get(page).text
        assert "Inbox" not in text, page
        assert "Outbox" not in text, page
    inbox = _calendar_id(web_server, f"{name}/inbox")
    refused = web.post("/web/calendar/new", _form(inbox))
    assert refused.status_code in (400, 403, 404)
    assert not web_server.query(
        "SELECT 1 FROM dav_items i JOIN dav_collections c ON c.id = i.collection_id "
        "WHERE c.path = :p",
        p=f"{name}/inbox",
    )


def test_web_invitation_answer_and_cancellation(
    pair: list[tuple[WebClient, str, str]], web_server: WebServer
) -> None:
    (alice, a_name, a_pw), (bob, b_name, b_pw) = pair
    made = alice.post(
        "/web/calendar/new",
        _form(_calendar_id(web_server, f"{a_name}/calendar"), participants=f"{b_name}@example.com"),
    )
    assert made.status_code == 303, made.text
    (organizer_copy,) = _events(web_server, a_name, a_pw)
    assert f"ORGANIZER;CN={a_name}:mailto:{a_name}@example.com" in organizer_copy
    assert "SCHEDULE-STATUS=1.2" in organizer_copy
    # Bob's phone sees the invitation in his calendar
    (invited,) = _events(web_server, b_name, b_pw)
    assert "SUMMARY:Planning" in invited
    assert f"mailto:{a_name}@example.com" in invited
    # Bob answers on the web
    page = bob.get(_edit_link(bob.get("/web/calendar?view=week&date=2026-12-01").text)).text
    assert "invited you" in page
    action = re.search(r'action="(/web/calendar/\d+/[^"]+/answer)"', page)
    assert action, page
    answered = bob.post(action.group(1), {"etag": _hidden(page, "etag"), "partstat": "ACCEPTED"})
    assert answered.status_code == 303, answered.text
    (organizer_copy,) = _events(web_server, a_name, a_pw)
    attendee = next(line for line in organizer_copy.splitlines() if f"{b_name}@example.com" in line)
    assert "PARTSTAT=ACCEPTED" in attendee
    # Alice sees the answer and deletes the appointment: Bob's copy is cancelled
    page = alice.get(_edit_link(alice.get("/web/calendar?view=week&date=2026-12-01").text)).text
    assert "accepted" in page
    delete = re.search(r'action="(/web/calendar/\d+/[^"]+/delete)"', page)
    assert delete, page
    gone = alice.post(delete.group(1), {"etag": _hidden(page, "etag"), "start_date": "2026-12-01"})
    assert gone.status_code == 303, gone.text
    assert _events(web_server, a_name, a_pw) == []
    (cancelled,) = _events(web_server, b_name, b_pw)
    assert "STATUS:CANCELLED" in cancelled


def test_moving_on_the_web_updates_the_invitation(
    pair: list[tuple[WebClient, str, str]], web_server: WebServer
) -> None:
    (alice, a_name, _), (_, b_name, b_pw) = pair
    alice.post(
        "/web/calendar/new",
        _form(_calendar_id(web_server, f"{a_name}/calendar"), participants=f"{b_name}@example.com"),
    )
    page = alice.get(_edit_link(alice.get("/web/calendar?view=week&date=2026-12-01").text)).text
    action = re.search(r'action="(/web/calendar/\d+/[^"]+/move)"', page)
    assert action, page
    moved = alice.post(
        action.group(1),
        {"etag": _hidden(page, "etag"), "start_date": "2026-12-03", "start_time": "14:00"},
    )
    assert moved.status_code == 303, moved.text
    (invited,) = _events(web_server, b_name, b_pw)
    assert "DTSTART;TZID=Europe/Vienna:20261203T140000" in invited


def test_email_reminder_round_trips_through_a_phone(
    pair: list[tuple[WebClient, str, str]], web_server: WebServer
) -> None:
    (web, name, password), _ = pair
    calendar_id = _calendar_id(web_server, f"{name}/calendar")
    bad = web.post("/web/calendar/new", _form(calendar_id, reminder="PT7M"))
    assert bad.status_code == 400
    made = web.post("/web/calendar/new", _form(calendar_id, reminder="PT15M"))
    assert made.status_code == 303, made.text
    with _phone(web_server, name, password) as phone:
        (stored,) = phone.calendar(url=f"{web_server.url}/dav/{name}/calendar/").events()
        assert "X-KMDAV-EMAIL-REMINDER:PT15M" in str(stored.data)
        stored.icalendar_component["SUMMARY"] = "Planning (phone)"
        stored.save()
    link = _edit_link(web.get("/web/calendar?view=week&date=2026-12-01").text)
    page = web.get(link).text
    assert '<option value="PT15M" selected>' in page
    assert "Planning (phone)" in page
    changed = web.post(
        link.split("/edit")[0],
        _form(calendar_id, summary="Planning (phone)", reminder="P1D", etag=_hidden(page, "etag")),
    )
    assert changed.status_code == 303, changed.text
    (body,) = _events(web_server, name, password)
    assert "X-KMDAV-EMAIL-REMINDER:P1D" in body
    page = web.get(link).text
    cleared = web.post(
        link.split("/edit")[0],
        _form(calendar_id, summary="Planning (phone)", reminder="", etag=_hidden(page, "etag")),
    )
    assert cleared.status_code == 303, cleared.text
    (body,) = _events(web_server, name, password)
    assert "X-KMDAV-EMAIL-REMINDER" not in body


def _invitation(uid: str, organizer: str, attendee: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
            f"UID:{uid}", "DTSTAMP:20270101T000000Z", "DTSTART:20270105T090000Z",
            "DTEND:20270105T100000Z", f"SUMMARY:{uid}",
            f"ORGANIZER:mailto:{organizer}@example.com",
            f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}@example.com",
            f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}@example.com",
            "END:VEVENT", "END:VCALENDAR", "",
        ]
    )  # fmt: skip


def test_crossing_invitations_never_fail(
    pair: list[tuple[WebClient, str, str]], web_server: WebServer
) -> None:
    """Two users invite each other at the same moment, again and again
    (PUT and DELETE over CalDAV, plus web edits): on PostgreSQL the
    deliveries used to lock the two calendars in opposite orders."""
    (alice, a_name, a_pw), (_, b_name, b_pw) = pair
    rounds = 12
    statuses: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def phone(me: str, password: str, other: str) -> None:
        try:
            with httpx.Client(auth=(me, password), timeout=60) as http:
                start.wait()
                for n in range(rounds):
                    url = f"{web_server.url}/dav/{me}/calendar/x-{me}-{n}.ics"
                    body = _invitation(f"x-{me}-{n}", me, other)
                    put = http.put(url, content=body, headers={"Content-Type": "text/calendar"})
                    statuses.append(put.status_code)
                    if n % 3 == 2:
                        statuses.append(http.delete(url).status_code)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=phone, args=(a_name, a_pw, b_name)),
        threading.Thread(target=phone, args=(b_name, b_pw, a_name)),
    ]
    for thread in threads:
        thread.start()
    start.wait()
    web_statuses = []
    calendar_id = _calendar_id(web_server, f"{a_name}/calendar")
    for n in range(4):  # the web writes too, inviting Bob
        answer = alice.post(
            "/web/calendar/new",
            _form(calendar_id, summary=f"web {n}", participants=f"{b_name}@example.com"),
        )
        web_statuses.append(answer.status_code)
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(statuses) == 2 * (rounds + rounds // 3)
    assert set(statuses) <= {200, 201, 204}, statuses
    assert set(web_statuses) == {303}, web_statuses
    # every surviving invitation arrived on the other side
    a_events = _events(web_server, a_name, a_pw)
    b_events = _events(web_server, b_name, b_pw)
    kept = [n for n in range(rounds) if n % 3 != 2]
    for n in kept:
        assert any(f"UID:x-{b_name}-{n}" in e for e in a_events)
        assert any(f"UID:x-{a_name}-{n}" in e for e in b_events)


VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:;{name};;;\r\n"
    "EMAIL;TYPE=WORK:{email}\r\nEND:VCARD\r\n"
)


def _phone_event(uid: str, summary: str, line: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//phone//EN", "BEGIN:VEVENT",
            f"UID:{uid}", "DTSTAMP:20260101T000000Z", "DTSTART:20261110T090000Z",
            "DTEND:20261110T100000Z", f"SUMMARY:{summary}", line,
            "END:VEVENT", "END:VCALENDAR", "",
        ]
    )  # fmt: skip


def test_contact_page_lists_appointments_by_link_alias_and_email(
    pair: list[tuple[WebClient, str, str]], web_server: WebServer
) -> None:
    (web, name, password), _ = pair
    dav = f"{web_server.url}/dav/{name}/"
    with httpx.Client(auth=(name, password), timeout=30) as http:
        card = VCARD.format(uid="card-keep", name="Berta Keller", email="berta@keller.example")
        put = http.put(
            dav + "contacts/card-keep.vcf", content=card, headers={"Content-Type": "text/vcard"}
        )
        assert put.status_code == 201
        for uid, summary, line in (
            ("ev-mail", "Called by mail address", "ATTENDEE:mailto:BERTA@keller.example"),
            ("ev-merged", "Linked to the merged card", "X-KMDAV-CONTACT:card-gone"),
            ("ev-other", "Someone else", "X-KMDAV-CONTACT:card-other"),
        ):
            put = http.put(
                dav + f"calendar/{uid}.ics",
                content=_phone_event(uid, summary, line),
                headers={"Content-Type": "text/calendar"},
            )
            assert put.status_code == 201
    made = web.post(
        "/web/calendar/new",
        _form(
            _calendar_id(web_server, f"{name}/calendar"),
            summary="Visit on the web",
            start_date="2027-01-20",
            end_date="2027-01-20",
            customer="Berta Keller",
        ),
    )
    assert made.status_code == 303, made.text
    # a merge left card-gone -> card-keep behind (set up directly in the database)
    engine = create_engine(web_server.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO contact_uid_aliases (old_uid, survivor_uid, merged_at) "
                    "VALUES ('card-gone', 'card-keep', CURRENT_TIMESTAMP)"
                )
            )
    finally:
        engine.dispose()
    ((contact_id,),) = web_server.query(
        "SELECT c.id FROM contacts c JOIN dav_items i ON i.id = c.item_id WHERE i.uid = :u",
        u="card-keep",
    )
    page = web.get(f"/web/contacts/{contact_id}")
    assert page.status_code == 200, page.text
    upcoming, past = page.text.split("Past", 1)[0], page.text.split("Past", 1)[1]
    assert "Appointments and tasks" in upcoming
    assert "Visit on the web" in upcoming
    assert "Called by mail address" in past
    assert "Linked to the merged card" in past
    assert "Someone else" not in page.text


@pytest.fixture(scope="module")
def mailing(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WebServer, SmtpServer]]:
    workdir = tmp_path_factory.mktemp("webimip")
    with smtp_server(workdir) as smtp, throwaway_database(backend, workdir) as url:
        env = {
            "KMDAV_MAIL__HOST": "127.0.0.1",
            "KMDAV_MAIL__PORT": str(smtp.port),
            "KMDAV_MAIL__SECURITY": "none",
            "KMDAV_MAIL__FROM_ADDRESS": "crm@example.com",
            "KMDAV_JOBS__RUN_IN_SERVER": "true",
        }
        with live_server(workdir / "data", url, extra_env=env) as server:
            run_cli(
                "user", "add", "olga", "--password", "olga-password-1", "--email",
                "olga@example.org", "--data-dir", str(server.data_dir), env=server.env,
            )  # fmt: skip
            yield WebServer(server, url), smtp


def test_external_attendee_gets_an_imip_mail_from_the_web(
    mailing: tuple[WebServer, SmtpServer],
) -> None:
    server, smtp = mailing
    web = WebClient(server)
    try:
        assert web.login("olga", "olga-password-1").status_code == 303
        made = web.post(
            "/web/calendar/new",
            _form(
                _calendar_id(server, "olga/calendar"),
                summary="Offer talk",
                participants="guest@example.net",
            ),
        )
        assert made.status_code == 303, made.text
    finally:
        web.close()
    deadline = time.monotonic() + 60
    while not smtp.received:
        assert time.monotonic() < deadline, "no iMIP mail arrived"
        time.sleep(0.2)
    (received,) = smtp.received
    message = received.message
    assert message["To"].endswith("guest@example.net") or "guest@example.net" in message["To"]
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Offer talk"
    assert str(event["ORGANIZER"]).lower() == "mailto:olga@example.org"
