"""The pure iTIP helpers: reading scheduling facts, editing lines losslessly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmdav.dav.expand import expand_todos
from kmdav.errors import ValidationError
from kmdav.scheduling import freebusy, itip, lines
from kmdav.scheduling.reminders import with_email_reminder

ORGANIZED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
    "UID:u1\r\nDTSTART:20270101T100000Z\r\nSEQUENCE:3\r\nSUMMARY:Plan\r\n"
    "ORGANIZER;CN=Ann:MAILTO:Ann@Example.org\r\n"
    'ATTENDEE;CN="Doe, Bob";PARTSTAT=ACCEPTED;SCHEDULE-STATUS=1.2:mailto:bob@exa\r\n'
    " mple.org\r\n"
    "ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:carl@example.org\r\n"
    "X-ANDROID-CUSTOM:keep;this;line\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_facts_of_a_scheduling_object() -> None:
    facts = itip.read(ORGANIZED)
    assert facts is not None
    assert (facts.uid, facts.organizer, facts.sequence) == ("u1", "mailto:ann@example.org", 3)
    bob = facts.attendee("MAILTO:BOB@example.org")
    assert bob is not None
    assert (bob.partstat, bob.name) == ("ACCEPTED", "Doe, Bob")
    carl = facts.attendee("mailto:carl@example.org")
    assert carl is not None
    assert carl.agent == "CLIENT"
    assert itip.read(ORGANIZED.replace("ORGANIZER;CN=Ann:MAILTO:Ann@Example.org\r\n", "")) is None


def test_messages_strip_server_parameters_and_keep_other_lines() -> None:
    request = itip.message(ORGANIZED, "REQUEST")
    assert "METHOD:REQUEST\r\n" in request
    assert "SCHEDULE-STATUS" not in request
    assert "X-ANDROID-CUSTOM:keep;this;line\r\n" in request
    assert "TRIGGER:-PT5M\r\n" in request
    copy = itip.calendar_copy(request)
    assert "METHOD" not in copy
    reply = itip.reply(ORGANIZED, "mailto:bob@example.org")
    assert "carl@" not in reply
    assert "METHOD:REPLY" in reply


def test_setting_a_parameter_changes_only_that_line() -> None:
    changed = itip.set_attendee_params(ORGANIZED, "mailto:carl@example.org", PARTSTAT="DECLINED")
    assert changed is not None
    before, after = ORGANIZED.split("\r\n"), changed.split("\r\n")
    assert [b for b, a in zip(before, after, strict=True) if a != b] == [
        "ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:carl@example.org"
    ]
    assert "PARTSTAT=DECLINED" in changed
    assert itip.set_attendee_params(ORGANIZED, "mailto:nobody@example.org", PARTSTAT="X") is None


def test_cancelled_sets_status_in_the_event_only() -> None:
    cancelled = itip.cancelled(ORGANIZED)
    assert cancelled.count("STATUS:CANCELLED") == 1
    assert cancelled.index("STATUS:CANCELLED") < cancelled.index("END:VEVENT")


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), min_size=1)))
def test_lines_render_what_they_read(raw: list[str]) -> None:
    text = "".join(f"{line}\r\n" for line in raw if line.strip() and line[0] not in " \t")
    assert lines.render(lines.split(text)) == text


def test_folding_keeps_characters_whole() -> None:
    folded = lines.fold("SUMMARY:" + "ä" * 80)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert lines.split(folded + "\r\n")[0].text == "SUMMARY:" + "ä" * 80


def test_the_email_reminder_property_round_trips() -> None:
    with_reminder = with_email_reminder(ORGANIZED, timedelta(minutes=30))
    assert "X-KMDAV-EMAIL-REMINDER:PT30M\r\nBEGIN:VALARM" in with_reminder
    assert with_email_reminder(with_reminder, None) == ORGANIZED
    with pytest.raises(ValidationError):
        with_email_reminder(ORGANIZED, timedelta(days=30))


def test_recurring_tasks_expand_into_instances() -> None:
    todo = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:t\r\n"
        "DTSTAMP:20270101T000000Z\r\nDTSTART:20270112T120000Z\r\nDUE:20270112T130000Z\r\n"
        "RRULE:FREQ=MONTHLY\r\nSUMMARY:Report\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    february = expand_todos(
        todo, datetime(2027, 2, 12, tzinfo=UTC), datetime(2027, 2, 13, tzinfo=UTC)
    )
    assert february is not None
    assert "RECURRENCE-ID:20270212T120000Z" in february
    assert "RRULE" not in february
    assert (
        expand_todos(todo, datetime(2027, 2, 13, tzinfo=UTC), datetime(2027, 2, 14, tzinfo=UTC))
        is None
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nonsense", "not iCalendar"),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n",
            "METHOD:REQUEST",
        ),
        (
            "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nORGANIZER:mailto:a@b.c\r\n"
            "DTSTART:20270102T000000Z\r\nDTEND:20270101T000000Z\r\nATTENDEE:mailto:b@b.c\r\n"
            "END:VFREEBUSY\r\nEND:VCALENDAR\r\n",
            "after DTSTART",
        ),
        (
            "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nORGANIZER:mailto:a@b.c\r\n"
            "DTSTART:20270101T000000Z\r\nDTEND:20290101T000000Z\r\nATTENDEE:mailto:b@b.c\r\n"
            "END:VFREEBUSY\r\nEND:VCALENDAR\r\n",
            "366 days",
        ),
    ],
)
def test_bad_free_busy_requests_are_refused(body: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        freebusy.parse_request(body)
