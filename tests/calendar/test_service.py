"""kmdav.calendar.service on a rolled-back session: writes through the DAV
write path, stale ETags, overrides, splits, tasks and contact links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts import service as accounts
from kmdav.calendar import events, recurrence
from kmdav.calendar import service as cal
from kmdav.calendar.events import Changes
from kmdav.dav import repository, service, sharing
from kmdav.errors import PermissionDeniedError, ValidationError
from kmdav.models import DavChange, DavCollection, User
from tests.calendar import samples

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


def _collection(session: Session, path: str) -> DavCollection:
    found = repository.get_collection(session, path)
    assert found is not None
    return found


def _weekly(session: Session, user: User) -> tuple[int, str]:
    calendar = _collection(session, f"{user.username}/calendar")
    href = cal.create(
        session,
        user.id,
        calendar.id,
        "VEVENT",
        Changes(
            summary="Weekly",
            start=datetime(2026, 10, 6, 9, tzinfo=VIENNA),
            end=datetime(2026, 10, 6, 10, tzinfo=VIENNA),
            rrule="FREQ=WEEKLY;COUNT=8",
        ),
        NOW,
    )
    return calendar.id, href


def _week(session: Session, user: User, day: datetime) -> list[cal.Entry]:
    return cal.occurrences(session, user.id, day, day + timedelta(days=7), VIENNA).entries


def test_create_goes_through_the_write_path(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    item = repository.get_item(session, calendar_id, href)
    assert item is not None
    assert item.revision == 1
    changes = session.scalars(select(DavChange).where(DavChange.collection_id == calendar_id)).all()
    assert [(c.href, c.deleted) for c in changes] == [(href, False)]
    entries = _week(session, alice, datetime(2026, 10, 26, tzinfo=VIENNA))
    assert [(e.occurrence.summary, e.occurrence.start.hour) for e in entries] == [("Weekly", 9)]


def test_stale_etag_is_a_conflict_with_the_current_version(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    item = repository.get_item(session, calendar_id, href)
    assert item is not None
    old_etag = item.etag
    cal.update_event(session, alice.id, calendar_id, href, old_etag, Changes(summary="First"))
    current = repository.get_item(session, calendar_id, href)
    assert current is not None
    with pytest.raises(cal.StaleError) as caught:
        cal.update_event(session, alice.id, calendar_id, href, old_etag, Changes(summary="Second"))
    assert caught.value.current == current.body
    assert "SUMMARY:First" in current.body
    after = repository.get_item(session, calendar_id, href)
    assert after is not None
    assert after.etag == current.etag


def test_only_this_occurrence_makes_an_override(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    cal.update_event(
        session,
        alice.id,
        calendar_id,
        href,
        etag,
        Changes(
            summary="Moved",
            start=datetime(2026, 10, 28, 15, tzinfo=VIENNA),
            end=datetime(2026, 10, 28, 16, tzinfo=VIENNA),
        ),
        scope="this",
        rid="20261027T080000Z",
    )
    body = repository.get_item(session, calendar_id, href).body  # type: ignore[union-attr]
    assert body.count("BEGIN:VEVENT") == 2
    assert "RECURRENCE-ID;TZID=Europe/Vienna:20261027T090000" in body
    entries = _week(session, alice, datetime(2026, 10, 26, tzinfo=VIENNA))
    assert [
        (e.occurrence.summary, e.occurrence.start.day, e.occurrence.is_override) for e in entries
    ] == [("Moved", 28, True)]


def test_this_and_following_splits_the_series(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    _, new_href = cal.update_event(
        session,
        alice.id,
        calendar_id,
        href,
        etag,
        Changes(summary="Later"),
        scope="following",
        rid="20261103T080000Z",
    )
    assert new_href != href
    window = cal.occurrences(
        session,
        alice.id,
        datetime(2026, 10, 1, tzinfo=VIENNA),
        datetime(2027, 1, 1, tzinfo=VIENNA),
        VIENNA,
    )
    titles = [(e.occurrence.start.date().isoformat(), e.occurrence.summary) for e in window.entries]
    assert titles == [
        ("2026-10-06", "Weekly"),
        ("2026-10-13", "Weekly"),
        ("2026-10-20", "Weekly"),
        ("2026-10-27", "Weekly"),
        ("2026-11-03", "Later"),
        ("2026-11-10", "Later"),
        ("2026-11-17", "Later"),
        ("2026-11-24", "Later"),
    ]
    old = repository.get_item(session, calendar_id, href)
    new = repository.get_item(session, calendar_id, new_href)
    assert old is not None
    assert new is not None
    assert old.uid != new.uid


def test_delete_one_occurrence_is_an_exdate(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    cal.delete(session, alice.id, calendar_id, href, etag, scope="this", rid="20261013T070000Z")
    body = repository.get_item(session, calendar_id, href).body  # type: ignore[union-attr]
    assert "EXDATE;TZID=Europe/Vienna:20261013T090000" in body
    assert _week(session, alice, datetime(2026, 10, 12, tzinfo=VIENNA)) == []


def test_move_keeps_the_length_and_moves_between_calendars(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    cal.move(session, alice.id, calendar_id, href, etag, datetime(2026, 10, 7, 14, tzinfo=VIENNA))
    (first,) = _week(session, alice, datetime(2026, 10, 5, tzinfo=VIENNA))
    assert (first.occurrence.start.day, first.occurrence.start.hour, first.occurrence.end.hour) == (
        7,
        14,
        15,
    )
    other = repository.create_collection(
        session,
        "alice/work",
        owner_id=alice.id,
        tag="VCALENDAR",
        props={"D:displayname": "Work", "C:supported-calendar-component-set": "VEVENT"},
    )
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    target, _ = cal.update_event(
        session, alice.id, calendar_id, href, etag, Changes(), target_calendar_id=other.id
    )
    assert target == other.id
    assert repository.get_item(session, calendar_id, href) is None
    assert repository.get_item(session, other.id, href) is not None


def test_bad_input_stores_nothing(session: Session) -> None:
    alice = _user(session, "alice")
    calendar = _collection(session, "alice/calendar")
    for changes in (
        Changes(
            summary="x",
            start=datetime(2026, 1, 2, tzinfo=UTC),
            end=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        Changes(summary="x", start=datetime(2026, 1, 2, tzinfo=UTC), rrule="FREQ=MINUTELY"),
    ):
        with pytest.raises(ValidationError):
            cal.create(session, alice.id, calendar.id, "VEVENT", changes)
    assert calendar.revision == 0
    with pytest.raises(ValidationError, match="unknown time zone"):
        cal.set_time_zone(session, alice.id, "Mars/Olympus")


def test_read_only_share_refuses_writes(session: Session) -> None:
    alice, bob = _user(session, "alice"), _user(session, "bob")
    calendar_id, href = _weekly(session, alice)
    sharing.share_collection(session, "alice/calendar", user="bob", level="read")
    infos = {c.id: c for c in cal.calendars(session, bob.id)}
    assert infos[calendar_id].writable is False
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    with pytest.raises(PermissionDeniedError):
        cal.update_event(session, bob.id, calendar_id, href, etag, Changes(summary="no"))
    assert _week(session, bob, datetime(2026, 10, 5, tzinfo=VIENNA))


def test_phone_body_keeps_its_alarm_through_a_web_edit(session: Session) -> None:
    alice = _user(session, "alice")
    calendar = _collection(session, "alice/calendar")
    service.store_item(session, calendar, "phone.ics", cal.dav_object(samples.WEEKLY_DST))
    item = repository.get_item(session, calendar.id, "phone.ics")
    assert item is not None
    cal.update_event(
        session, alice.id, calendar.id, "phone.ics", item.etag, Changes(location="Room 4")
    )
    body = repository.get_item(session, calendar.id, "phone.ics").body  # type: ignore[union-attr]
    assert (
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
        in body
    )
    assert samples.VTIMEZONE_VIENNA in body
    assert "X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Jo;1;;;;;;;;;;;;;\r\n" in body


def test_tasks_filters_subtasks_and_completion(session: Session) -> None:
    alice = _user(session, "alice")
    tasks = _collection(session, "alice/tasks")
    parent = cal.create(
        session,
        alice.id,
        tasks.id,
        "VTODO",
        Changes(summary="Offer", due=datetime(2026, 11, 20, 12, tzinfo=VIENNA)),
        NOW,
    )
    parent_uid = repository.get_item(session, tasks.id, parent).uid  # type: ignore[union-attr]
    child = cal.create(
        session,
        alice.id,
        tasks.id,
        "VTODO",
        Changes(
            summary="Prices",
            related_to=parent_uid,
            due=datetime(2026, 11, 26, 12, tzinfo=VIENNA),
            attendees=(events.Attendee("alice@example.com", "Alice"),),
        ),
        NOW,
    )
    rows = cal.tasks(session, alice.id, VIENNA, now=NOW)
    assert [(r.summary, r.depth) for r in rows] == [("Offer", 0), ("Prices", 1)]
    assert [r.summary for r in cal.tasks(session, alice.id, VIENNA, filter="overdue", now=NOW)] == [
        "Offer"
    ]
    assert [r.summary for r in cal.tasks(session, alice.id, VIENNA, filter="week", now=NOW)] == [
        "Offer",
        "Prices",
    ]
    etag = repository.get_item(session, tasks.id, child).etag  # type: ignore[union-attr]
    cal.set_done(session, alice.id, tasks.id, child, etag, True, NOW)
    body = repository.get_item(session, tasks.id, child).body  # type: ignore[union-attr]
    assert "STATUS:COMPLETED" in body
    assert "PERCENT-COMPLETE:100" in body
    assert "COMPLETED:20261123T120000Z" in body
    done = {r.summary: r.done for r in cal.tasks(session, alice.id, VIENNA, now=NOW)}
    assert done == {"Offer": False, "Prices": True}


def test_appointments_for_contact(session: Session) -> None:
    alice = _user(session, "alice")
    calendar = _collection(session, "alice/calendar")
    for summary, day in (
        ("Visit", datetime(2026, 11, 2, 9, tzinfo=VIENNA)),
        ("Follow-up", datetime(2026, 12, 2, 9, tzinfo=VIENNA)),
    ):
        cal.create(
            session,
            alice.id,
            calendar.id,
            "VEVENT",
            Changes(summary=summary, start=day, end=day + timedelta(hours=1), customer="card-acme"),
            NOW,
        )
    cal.create(
        session,
        alice.id,
        calendar.id,
        "VEVENT",
        Changes(summary="Other", start=NOW, end=NOW + timedelta(hours=1), customer="card-other"),
        NOW,
    )
    past, upcoming = cal.appointments_for_contact(session, alice.id, "card-acme", now=NOW)
    assert [a.summary for a in past] == ["Visit"]
    assert [a.summary for a in upcoming] == ["Follow-up"]
    assert recurrence.rid_text(NOW) == "20261123T120000Z"


def test_all_occurrences_edited_from_one_occurrence_shift_the_series(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    # the form of the 27 Oct occurrence, moved by an hour, saved for all occurrences
    cal.update_event(
        session,
        alice.id,
        calendar_id,
        href,
        etag,
        Changes(
            summary="Weekly",
            start=datetime(2026, 10, 27, 10, tzinfo=VIENNA),
            end=datetime(2026, 10, 27, 11, tzinfo=VIENNA),
            rrule="FREQ=WEEKLY;COUNT=8",
        ),
        scope="all",
        rid="20261027T080000Z",
    )
    body = repository.get_item(session, calendar_id, href).body  # type: ignore[union-attr]
    assert "DTSTART;TZID=Europe/Vienna:20261006T100000" in body
    assert "DTEND;TZID=Europe/Vienna:20261006T110000" in body


def test_following_with_the_form_rule_shares_out_the_count(session: Session) -> None:
    alice = _user(session, "alice")
    calendar_id, href = _weekly(session, alice)
    etag = repository.get_item(session, calendar_id, href).etag  # type: ignore[union-attr]
    _, new_href = cal.update_event(
        session,
        alice.id,
        calendar_id,
        href,
        etag,
        Changes(summary="Later", rrule="FREQ=WEEKLY;COUNT=8"),
        scope="following",
        rid="20261103T080000Z",
    )
    tail = repository.get_item(session, calendar_id, new_href).body  # type: ignore[union-attr]
    assert "RRULE:FREQ=WEEKLY;COUNT=4" in tail
