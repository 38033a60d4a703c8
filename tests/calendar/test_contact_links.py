"""A contact's appointments: linked by its UID, by the UID of a contact
merged into it, or by one of its e-mail addresses as an attendee; and the
web calendar's writes schedule (an invitation reaches the other user)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from kmdav.accounts import groups
from kmdav.accounts import service as accounts
from kmdav.calendar import service as cal
from kmdav.calendar.events import Attendee, Changes
from kmdav.dav import repository
from kmdav.errors import ValidationError
from kmdav.models import ContactUidAlias, DavCollection, User
from kmdav.scheduling import boxes

VIENNA = ZoneInfo("Europe/Vienna")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _user(session: Session, name: str) -> User:
    return accounts.create_user(
        session,
        name,
        f"{name}-password-1",
        modules=("calendar", "tasks"),
        email=f"{name}@example.com",
    )


def _calendar(session: Session, path: str) -> DavCollection:
    found = repository.get_collection(session, path)
    assert found is not None
    return found


def _event(session: Session, user: User, summary: str, day: datetime, **links: object) -> str:
    return cal.create(
        session,
        user.id,
        _calendar(session, f"{user.username}/calendar").id,
        "VEVENT",
        Changes(summary=summary, start=day, end=day + timedelta(hours=1), **links),  # type: ignore[arg-type]
        NOW,
    )


def test_merged_uids_and_attendee_emails_count(session: Session) -> None:
    alice = _user(session, "alice")
    _event(session, alice, "Old link", datetime(2026, 11, 2, 9, tzinfo=VIENNA), customer="card-old")
    _event(
        session,
        alice,
        "By e-mail",
        datetime(2026, 12, 2, 9, tzinfo=VIENNA),
        attendees=(Attendee("Anna@Acme.example", "Anna"),),
    )
    _event(session, alice, "Direct", datetime(2026, 12, 3, 9, tzinfo=VIENNA), customer="card-new")
    _event(
        session,
        alice,
        "Someone else",
        datetime(2026, 12, 4, 9, tzinfo=VIENNA),
        customer="card-other",
        attendees=(Attendee("anna@acme.example.org"),),
    )
    session.add(ContactUidAlias(old_uid="card-old", survivor_uid="card-new"))
    session.flush()
    past, upcoming = cal.appointments_for_contact(
        session, alice.id, "card-new", now=NOW, emails=["anna@acme.example"]
    )
    assert [a.summary for a in past] == ["Old link"]
    assert [a.summary for a in upcoming] == ["By e-mail", "Direct"]
    # the alias points one way: the merged-away UID does not see the survivor's
    old_past, old_upcoming = cal.appointments_for_contact(session, alice.id, "card-old", now=NOW)
    assert [a.summary for a in old_past] == ["Old link"]
    assert old_upcoming == []


def test_boxes_are_not_calendars_and_web_writes_schedule(session: Session) -> None:
    alice, bob = _user(session, "alice"), _user(session, "bob")
    boxes.ensure_boxes(session, alice)
    boxes.ensure_boxes(session, bob)
    paths = {c.path for c in cal.calendars(session, alice.id)}
    assert "alice/inbox" not in paths
    assert "alice/outbox" not in paths
    href = _event(
        session,
        alice,
        "Meeting",
        datetime(2026, 12, 1, 10, tzinfo=VIENNA),
        attendees=(Attendee("bob@example.com", "Bob"),),
    )
    own = repository.get_item(session, _calendar(session, "alice/calendar").id, href)
    assert own is not None
    body = re.sub(r"\r\n[ \t]", "", own.body)
    assert "ORGANIZER;CN=alice:mailto:alice@example.com" in body
    assert "SCHEDULE-STATUS=1.2" in body
    copy = boxes.find_copy(session, bob, own.uid)
    assert copy is not None
    bob_calendar, bob_item = copy
    assert bob_calendar.path == "bob/calendar"
    details = cal.event_details(session, bob.id, bob_calendar.id, bob_item.href)
    assert details.my_partstat == "NEEDS-ACTION"
    cal.answer(session, bob.id, bob_calendar.id, bob_item.href, bob_item.etag, "DECLINED")
    own = repository.get_item(session, _calendar(session, "alice/calendar").id, href)
    assert own is not None
    assert "PARTSTAT=DECLINED" in re.sub(r"\r\n[ \t]", "", own.body)
    mine = cal.event_details(session, alice.id, _calendar(session, "alice/calendar").id, href)
    assert mine.my_partstat == ""
    assert [a.partstat for a in mine.attendees] == ["DECLINED"]


def test_colleagues_are_participants_by_user_name(session: Session) -> None:
    alice, bob = _user(session, "alice"), _user(session, "bob")
    _user(session, "carl")  # in no group with alice: she cannot find him
    groups.create_group(session, "team")
    groups.add_member(session, "team", "alice")
    groups.add_member(session, "team", "bob")
    uids, people = cal.resolve_participants(session, alice.id, "BOB\nguest@example.net")
    assert uids == []
    assert [p.email for p in people] == [bob.email, "guest@example.net"]
    with pytest.raises(ValidationError):
        cal.resolve_participants(session, alice.id, "carl")
