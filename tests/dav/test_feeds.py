"""kmdav.dav.feeds on a rolled-back session: links, who they answer for, bodies."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
from kmdav.storage.upload import dav_object
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts import groups, modules
from kmdav.accounts import service as accounts
from kmdav.dav import feeds, repository, service, sharing
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import AuditEntry, CalendarFeed, DavCollection, User, utcnow
from tests.dav.cards import RECURRING_WITH_OVERRIDE, TODO_WITH_PARENT, event
from tests.dav.conftest import prepared_item


def _user(session: Session, name: str, seats: tuple[str, ...] = ("calendar", "tasks")) -> User:
    return accounts.create_user(session, name, f"{name}-password-1", modules=seats)


def _calendar(session: Session, path: str) -> DavCollection:
    collection = repository.get_collection(session, path)
    assert collection is not None
    return collection


def _put(session: Session, path: str, href: str, text: str) -> None:
    service.store_item(
        session, _calendar(session, path), href, dav_object(prepared_item(path, text), text)
    )


def test_a_new_link_stores_only_the_hash_and_is_audited(session: Session) -> None:
    alice = _user(session, "alice")
    calendar = _calendar(session, "alice/calendar")
    created = feeds.create_feed(session, alice.id, calendar.id, "  Outlook  ")
    assert created.name == "Outlook"
    assert created.calendar == "Calendar"
    assert len(created.token) >= 43  # 32 random bytes
    assert created.path == f"/ics/{created.token}.ics"
    row = session.get(CalendarFeed, created.id)
    assert row is not None
    assert row.token_hash == feeds.hash_token(created.token) != created.token
    stored = session.execute(select(CalendarFeed.name, CalendarFeed.token_hash)).all()
    assert created.token not in repr(stored)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "calendar_feed.create")
    ).one()
    assert entry.object_id == "alice/calendar"
    assert entry.details == {"feed": created.id, "name": "Outlook"}
    assert created.token not in str(entry.details)
    other = feeds.create_feed(session, alice.id, calendar.id, "Google")
    assert other.token != created.token  # several links per calendar, each its own


def test_bad_input_is_refused_next_to_its_field(session: Session) -> None:
    alice = _user(session, "alice")
    _user(session, "bob")
    calendar = _calendar(session, "alice/calendar")
    with pytest.raises(ValidationError) as blank:
        feeds.create_feed(session, alice.id, calendar.id, "   ")
    assert blank.value.field == "name"
    with pytest.raises(ValidationError):
        feeds.create_feed(session, alice.id, calendar.id, "x" * 101)
    for not_mine in (
        _calendar(session, "bob/calendar").id,  # not shared with her
        _calendar(session, "alice/tasks").id,  # a task list
        _calendar(session, "alice/contacts").id,  # an address book
        None,
        987654,
    ):
        with pytest.raises(ValidationError) as refused:
            feeds.create_feed(session, alice.id, not_mine, "Outlook")
        assert refused.value.field == "calendar"
    assert session.scalars(select(CalendarFeed)).all() == []


def test_readable_calendars_own_and_shared_and_only_with_the_seat(session: Session) -> None:
    alice, carol = _user(session, "alice"), _user(session, "carol")
    groups.create_group(session, "staff")
    groups.create_group(session, "sales", parent="staff")
    groups.add_member(session, "sales", "carol")
    sharing.share_collection(session, "alice/calendar", group="staff")
    sharing.share_collection(session, "alice/tasks", user="carol")
    listed = [(c.path, c.own, c.owner) for c in feeds.readable_calendars(session, carol.id)]
    assert listed == [("carol/calendar", True, "carol"), ("alice/calendar", False, "alice")]
    # A link through a parent group's share answers until she leaves the subgroup.
    link = feeds.create_feed(session, carol.id, _calendar(session, "alice/calendar").id, "x")
    assert feeds.resolve(session, link.token) is not None
    groups.remove_member(session, "sales", "carol")
    assert feeds.resolve(session, link.token) is None
    groups.add_member(session, "sales", "carol")
    modules.remove_seat(session, carol, "calendar")
    assert feeds.readable_calendars(session, carol.id) == []
    assert [c.path for c in feeds.readable_calendars(session, alice.id)] == ["alice/calendar"]


def test_resolve_answers_only_while_the_creator_may_read(session: Session) -> None:
    alice, bob = _user(session, "alice"), _user(session, "bob")
    share = sharing.share_collection(session, "alice/calendar", user="bob")
    calendar = _calendar(session, "alice/calendar")
    link = feeds.create_feed(session, bob.id, calendar.id, "Google")
    own = feeds.create_feed(session, alice.id, calendar.id, "Outlook")
    target = feeds.resolve(session, link.token)
    assert target is not None
    assert target.collection_id == calendar.id
    assert feeds.resolve(session, "not-a-token-of-anyone-here-at-all") is None

    sharing.remove_share(session, share.id, owner_id=alice.id)
    assert feeds.resolve(session, link.token) is None
    assert feeds.resolve(session, own.token) is not None
    assert [e.working for e in feeds.list_feeds(session, bob.id)] == [False]

    sharing.share_collection(session, "alice/calendar", user="bob")
    assert feeds.resolve(session, link.token) is not None
    modules.remove_seat(session, bob, "calendar")
    assert feeds.resolve(session, link.token) is None
    modules.assign_seat(session, bob, "calendar")
    accounts.set_active(session, "bob", False)
    assert feeds.resolve(session, link.token) is None
    accounts.set_active(session, "bob", True)
    assert feeds.resolve(session, link.token) is not None

    # Deleting the creator deletes the link (ON DELETE CASCADE).
    session.delete(bob)
    session.flush()
    session.expire_all()
    assert feeds.resolve(session, link.token) is None
    assert session.get(CalendarFeed, link.id) is None


def test_revoke_is_for_the_creator_only_and_final(session: Session) -> None:
    alice, bob = _user(session, "alice"), _user(session, "bob")
    link = feeds.create_feed(session, alice.id, _calendar(session, "alice/calendar").id, "Phone")
    with pytest.raises(NotFoundError):
        feeds.revoke_feed(session, link.id, user_id=bob.id)
    assert feeds.resolve(session, link.token) is not None
    feeds.revoke_feed(session, link.id, user_id=alice.id)
    feeds.revoke_feed(session, link.id, user_id=alice.id)  # again: nothing more happens
    assert feeds.resolve(session, link.token) is None
    (entry,) = feeds.list_feeds(session, alice.id)
    assert entry.revoked_at is not None
    assert not entry.working
    revocations = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "calendar_feed.revoke")
    ).all()
    assert len(revocations) == 1


def test_deleting_the_calendar_deletes_its_links(session: Session) -> None:
    alice = _user(session, "alice")
    calendar = _calendar(session, "alice/calendar")
    link = feeds.create_feed(session, alice.id, calendar.id, "Phone")
    service.delete_collection(session, calendar)
    session.expire_all()
    assert feeds.resolve(session, link.token) is None
    assert session.get(CalendarFeed, link.id) is None


def test_etag_moves_with_items_and_name_and_the_body_has_every_event(session: Session) -> None:
    alice = _user(session, "alice")
    calendar = _calendar(session, "alice/calendar")
    link = feeds.create_feed(session, alice.id, calendar.id, "Outlook")
    first = feeds.resolve(session, link.token)
    assert first is not None
    assert first.etag.startswith(f'"{calendar.sync_key}-{calendar.revision}-')
    _put(session, "alice/calendar", "series.ics", RECURRING_WITH_OVERRIDE)
    _put(session, "alice/calendar", "one.ics", event("one", summary="One"))
    second = feeds.resolve(session, link.token)
    assert second is not None
    assert second.etag != first.etag
    service.set_props(session, calendar, {**calendar.props, "D:displayname": "Team"})
    third = feeds.resolve(session, link.token)
    assert third is not None
    assert third.etag != second.etag
    assert feeds.resolve(session, link.token) == third  # stable while nothing changes

    parsed = icalendar.Calendar.from_ical(feeds.feed_body(session, third))
    assert parsed["X-WR-CALNAME"] == "Team"
    summaries = sorted(str(e["SUMMARY"]) for e in parsed.walk("VEVENT"))
    assert summaries == ["One", "Weekly sync", "Weekly sync (moved)"]


def test_a_mixed_calendar_feeds_events_but_not_tasks(session: Session) -> None:
    alice = _user(session, "alice")
    mixed = repository.create_collection(
        session,
        "alice/mixed",
        owner_id=alice.id,
        tag="VCALENDAR",
        props={"D:displayname": "Mixed", "C:supported-calendar-component-set": "VEVENT,VTODO"},
    )
    _put(session, "alice/mixed", "task.ics", TODO_WITH_PARENT)
    _put(session, "alice/mixed", "meeting.ics", event("meeting"))
    link = feeds.create_feed(session, alice.id, mixed.id, "Outlook")
    target = feeds.resolve(session, link.token)
    assert target is not None
    parsed = icalendar.Calendar.from_ical(feeds.feed_body(session, target))
    assert [str(e["UID"]) for e in parsed.walk("VEVENT")] == ["meeting"]
    assert parsed.walk("VTODO") == []


def test_fetches_are_noted_at_most_every_few_minutes(session: Session) -> None:
    alice = _user(session, "alice")
    link = feeds.create_feed(session, alice.id, _calendar(session, "alice/calendar").id, "x")
    target = feeds.resolve(session, link.token)
    assert target is not None
    assert feeds.fetch_worth_noting(target)
    now = utcnow()
    feeds.note_fetch(session, link.id, now)
    session.expire_all()
    noted = feeds.resolve(session, link.token)
    assert noted is not None
    assert noted.last_fetched_at is not None
    assert not feeds.fetch_worth_noting(noted, now + timedelta(minutes=1))
    feeds.note_fetch(session, link.id, now + timedelta(minutes=1))  # too soon: unchanged
    session.expire_all()
    row = session.get(CalendarFeed, link.id)
    assert row is not None
    assert row.last_fetched_at == noted.last_fetched_at
    assert feeds.fetch_worth_noting(noted, now + feeds.FETCH_RESOLUTION)
