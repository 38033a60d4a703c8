"""RFC 6638 scheduling between kmdav users through the ``caldav`` library.

Alice organises, Bob (in her group) attends; Dave is in no group with
Alice, so she may not see his free-busy.  Everything goes over HTTP to a
live server; the database is only used to put people into a group.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import caldav
import httpx
import icalendar
import pytest

from kmdav.accounts import groups
from kmdav.db import Database
from tests.interop.conftest import DavUser
from tests.live import LiveServer, run_cli

pytestmark = [pytest.mark.live]


def _add(server: LiveServer, name: str) -> DavUser:
    run_cli(
        "user", "add", name, "--password", f"{name}-password-1", "--email",
        f"{name}@example.org", "--data-dir", str(server.data_dir), env=server.env,
    )  # fmt: skip
    return DavUser(server, name, f"{name}-password-1")


@pytest.fixture(scope="module")
def people(kmdav_server: LiveServer) -> dict[str, DavUser]:
    found = {name: _add(kmdav_server, name) for name in ("alice", "bob", "dave")}
    database = Database(kmdav_server.env["KMDAV_DATABASE_URL"])
    database.open()
    try:
        with database.transaction("write") as session:
            groups.create_group(session, "team")
            groups.add_member(session, "team", "alice")
            groups.add_member(session, "team", "bob")
    finally:
        database.close()
    return found


@pytest.fixture
def clients(people: dict[str, DavUser]) -> Iterator[dict[str, caldav.DAVClient]]:
    made = {
        name: caldav.DAVClient(url=user.server.dav, username=user.name, password=user.password)
        for name, user in people.items()
    }
    yield made
    for client in made.values():
        client.close()


def _event(uid: str, start: str, *, attendees: tuple[str, ...], extra: str = "") -> str:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
        f"UID:{uid}", "DTSTAMP:20270101T000000Z", f"DTSTART:{start}",
        f"DTEND:{start[:9]}{int(start[9:11]) + 1:02d}0000Z", "SEQUENCE:0",
        f"SUMMARY:Meeting {uid}", "ORGANIZER;CN=Alice:mailto:alice@example.org",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org",
        *(f"ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:{a}" for a in attendees),
        *([extra] if extra else []), "END:VEVENT", "END:VCALENDAR", "",
    ]  # fmt: skip
    return "\r\n".join(lines)


def _attendee(component: icalendar.Component, address: str) -> icalendar.vCalAddress:
    raw = component.get("ATTENDEE", [])
    for attendee in raw if isinstance(raw, list) else [raw]:
        if str(attendee).lower() == address:
            return attendee
    raise AssertionError(f"{address} is not an attendee")


def _copy(client: caldav.DAVClient, name: str, uid: str) -> caldav.Event:
    calendar = client.calendar(url=f"{client.url}{name}/calendar/")
    return calendar.event_by_uid(uid)


def test_principal_advertises_scheduling(clients: dict[str, caldav.DAVClient]) -> None:
    alice = clients["alice"]
    assert alice.supports_scheduling()
    principal = alice.principal()
    assert principal.calendar_user_address_set() == [
        "mailto:alice@example.org",
        "/dav/alice/",
    ]
    assert str(principal.schedule_inbox().url).endswith("/dav/alice/inbox/")
    assert str(principal.schedule_outbox().url).endswith("/dav/alice/outbox/")
    # The boxes are not calendars: clients list only the real ones.
    names = {str(c.url).rstrip("/").rsplit("/", 1)[-1] for c in principal.get_calendars()}
    assert not names & {"inbox", "outbox"}
    answer = httpx.request(
        "PROPFIND",
        f"{alice.url}alice/inbox/",
        auth=("alice", "alice-password-1"),
        headers={"Depth": "0"},
        content=(
            '<?xml version="1.0"?><propfind xmlns="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><resourcetype/>'
            "<C:schedule-default-calendar-URL/></prop></propfind>"
        ),
    )
    assert answer.status_code == 207
    assert "schedule-inbox" in answer.text
    assert "/dav/alice/calendar/" in answer.text
    outbox = httpx.request(
        "PROPFIND",
        f"{alice.url}alice/outbox/",
        auth=("alice", "alice-password-1"),
        headers={"Depth": "0"},
        content='<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>',
    )
    assert outbox.status_code == 207
    assert "schedule-outbox" in outbox.text
    put = httpx.put(
        f"{alice.url}alice/outbox/x.ics",
        auth=("alice", "alice-password-1"),
        headers={"Content-Type": "text/calendar"},
        content=_event("sched-outbox-put", "20270312T100000Z", attendees=()),
    )
    # Radicale reads a PUT below an untagged collection as a new collection
    # there, which kmdav refuses: 400, and nothing is stored.
    assert put.status_code == 400


def test_invite_accept_decline_cancel(clients: dict[str, caldav.DAVClient]) -> None:
    alice, bob = clients["alice"], clients["bob"]
    uid = "sched-invite-1"
    organizer_calendar = alice.calendar(url=f"{alice.url}alice/calendar/")
    organizer_calendar.add_event(
        _event(uid, "20270310T100000Z", attendees=("mailto:bob@example.org",))
    )

    # Delivered into Bob's calendar and inbox; Alice's copy says so.
    copy = _copy(bob, "bob", uid)
    assert (
        _attendee(copy.icalendar_component, "mailto:bob@example.org").params["PARTSTAT"]
        == "NEEDS-ACTION"
    )
    inbox = bob.principal().schedule_inbox()
    messages = [m for m in inbox.get_items() if m.icalendar_component.get("UID") == uid]
    assert len(messages) == 1
    assert messages[0].icalendar_instance.get("METHOD") == "REQUEST"
    organizer_copy = organizer_calendar.event_by_uid(uid)
    bob_line = _attendee(organizer_copy.icalendar_component, "mailto:bob@example.org")
    assert bob_line.params["SCHEDULE-STATUS"] == "1.2"

    # Bob accepts on his phone: Alice's copy shows it, her inbox has the REPLY.
    copy.change_attendee_status(attendee="mailto:bob@example.org", partstat="ACCEPTED")
    copy.save(increase_seqno=False)
    organizer_copy = organizer_calendar.event_by_uid(uid)
    assert (
        _attendee(organizer_copy.icalendar_component, "mailto:bob@example.org").params["PARTSTAT"]
        == "ACCEPTED"
    )
    replies = [
        m for m in alice.principal().schedule_inbox().get_items()
        if m.icalendar_component.get("UID") == uid
    ]  # fmt: skip
    assert [r.icalendar_instance.get("METHOD") for r in replies] == ["REPLY"]

    # Alice renames the meeting: Bob's copy follows and keeps his answer.
    organizer_copy.icalendar_component["SUMMARY"] = "Renamed meeting"
    organizer_copy.save()
    copy = _copy(bob, "bob", uid)
    assert str(copy.icalendar_component["SUMMARY"]) == "Renamed meeting"
    assert (
        _attendee(copy.icalendar_component, "mailto:bob@example.org").params["PARTSTAT"]
        == "ACCEPTED"
    )

    # Bob declines after all.
    copy.change_attendee_status(attendee="mailto:bob@example.org", partstat="DECLINED")
    copy.save(increase_seqno=False)
    organizer_copy = organizer_calendar.event_by_uid(uid)
    assert (
        _attendee(organizer_copy.icalendar_component, "mailto:bob@example.org").params["PARTSTAT"]
        == "DECLINED"
    )

    # Alice deletes the meeting: Bob's copy is cancelled, his inbox has the CANCEL.
    organizer_copy.delete()
    copy = _copy(bob, "bob", uid)
    assert str(copy.icalendar_component["STATUS"]) == "CANCELLED"
    messages = [m for m in inbox.get_items() if m.icalendar_component.get("UID") == uid]
    assert [m.icalendar_instance.get("METHOD") for m in messages] == ["CANCEL"]


def test_removing_an_attendee_cancels_for_them(clients: dict[str, caldav.DAVClient]) -> None:
    alice, bob = clients["alice"], clients["bob"]
    uid = "sched-remove-1"
    calendar = alice.calendar(url=f"{alice.url}alice/calendar/")
    calendar.add_event(_event(uid, "20270311T100000Z", attendees=("mailto:bob@example.org",)))
    event = calendar.event_by_uid(uid)
    component = event.icalendar_component
    component["ATTENDEE"] = [_attendee(component, "mailto:alice@example.org")]
    event.save()
    assert str(_copy(bob, "bob", uid).icalendar_component["STATUS"]) == "CANCELLED"


def test_the_inbox_takes_no_puts(clients: dict[str, caldav.DAVClient]) -> None:
    answer = httpx.put(
        f"{clients['bob'].url}bob/inbox/x.ics",
        auth=("bob", "bob-password-1"),
        headers={"Content-Type": "text/calendar"},
        content=_event("sched-inbox-put", "20270312T100000Z", attendees=()),
    )
    assert answer.status_code == 403


def test_free_busy_respects_transp_and_visibility(clients: dict[str, caldav.DAVClient]) -> None:
    alice, bob = clients["alice"], clients["bob"]
    bob_calendar = bob.calendar(url=f"{bob.url}bob/calendar/")
    bob_calendar.add_event(_event("fb-busy", "20270405T090000Z", attendees=()))
    bob_calendar.add_event(
        _event("fb-free", "20270405T140000Z", attendees=(), extra="TRANSP:TRANSPARENT")
    )
    bob_calendar.add_event(
        _event("fb-cancelled", "20270405T160000Z", attendees=(), extra="STATUS:CANCELLED")
    )
    start, end = datetime(2027, 4, 5, tzinfo=UTC), datetime(2027, 4, 6, tzinfo=UTC)
    principal = alice.principal()
    answers = principal.freebusy_request(
        start, end, ["mailto:bob@example.org", "mailto:dave@example.org"]
    )
    assert answers["errors"] == {"mailto:dave@example.org": "3.8;No authority"}
    assert set(answers) == {"errors", "mailto:bob@example.org"}
    data = answers["mailto:bob@example.org"].data
    busy = icalendar.Calendar.from_ical(data).walk("VFREEBUSY")[0]
    periods = busy.get("FREEBUSY")
    periods = periods if isinstance(periods, list) else [periods]
    assert [p.to_ical().decode() for p in periods] == ["20270405T090000Z/20270405T100000Z"]


def test_free_busy_refuses_someone_elses_outbox(clients: dict[str, caldav.DAVClient]) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n"
        "BEGIN:VFREEBUSY\r\nUID:x\r\nDTSTAMP:20270101T000000Z\r\n"
        "DTSTART:20270405T000000Z\r\nDTEND:20270406T000000Z\r\n"
        "ORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:bob@example.org\r\n"
        "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
    url = str(clients["alice"].url)
    headers = {"Content-Type": "text/calendar"}
    other = httpx.post(
        f"{url}bob/outbox/", auth=("alice", "alice-password-1"), headers=headers, content=body
    )
    assert other.status_code == 403
    forged = httpx.post(
        f"{url}dave/outbox/", auth=("dave", "dave-password-1"), headers=headers, content=body
    )
    assert forged.status_code == 403  # ORGANIZER is not Dave
    broken = httpx.post(
        f"{url}alice/outbox/",
        auth=("alice", "alice-password-1"),
        headers=headers,
        content="not a calendar",
    )
    assert broken.status_code == 400


def test_schedule_tag_survives_answers_and_guards_writes(
    clients: dict[str, caldav.DAVClient],
) -> None:
    alice, bob = clients["alice"], clients["bob"]
    uid = "sched-tag-1"
    calendar = alice.calendar(url=f"{alice.url}alice/calendar/")
    calendar.add_event(_event(uid, "20270315T100000Z", attendees=("mailto:bob@example.org",)))
    url = f"{bob.url}bob/calendar/{uid}.ics"
    auth = ("bob", "bob-password-1")
    before = httpx.get(url, auth=auth)
    tag = before.headers["Schedule-Tag"]
    assert tag.startswith('"')
    accepted = before.text.replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED")
    headers = {"Content-Type": "text/calendar"}
    stale = httpx.put(
        url, auth=auth, content=accepted, headers={**headers, "If-Schedule-Tag-Match": '"0"'}
    )
    assert stale.status_code == 412
    saved = httpx.put(
        url, auth=auth, content=accepted, headers={**headers, "If-Schedule-Tag-Match": tag}
    )
    assert saved.status_code in (201, 204)
    assert httpx.get(url, auth=auth).headers["Schedule-Tag"] == tag  # an answer keeps the tag
    organizer = calendar.event_by_uid(uid)
    organizer.icalendar_component["SUMMARY"] = "Moved on"
    organizer.save()
    assert (
        httpx.get(url, auth=auth).headers["Schedule-Tag"] != tag
    )  # the organizer's change moves it


def test_deleting_a_whole_calendar_cancels_its_meetings(
    clients: dict[str, caldav.DAVClient],
) -> None:
    alice, bob = clients["alice"], clients["bob"]
    uid = "sched-calendar-gone"
    projects = alice.principal().make_calendar(name="Projects", cal_id="projects")
    projects.add_event(_event(uid, "20270316T100000Z", attendees=("mailto:bob@example.org",)))
    assert str(_copy(bob, "bob", uid).icalendar_component.get("STATUS", "")) != "CANCELLED"
    projects.delete()
    assert str(_copy(bob, "bob", uid).icalendar_component["STATUS"]) == "CANCELLED"
