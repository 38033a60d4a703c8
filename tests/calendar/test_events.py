"""Patching stored objects: only what kmdav manages changes, byte for byte."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from kmdav.calendar import events, icstext, recurrence
from kmdav.calendar.events import Attendee, Changes
from kmdav.errors import ValidationError
from tests.calendar import samples

VIENNA = ZoneInfo("Europe/Vienna")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEPT = (
    samples.VTIMEZONE_VIENNA,
    "X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Jo;1;;;;;;;;;;;;;\r\n",
    "X-MOZ-GENERATION:3\r\n",
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n",
)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_parse_and_join_give_the_same_bytes() -> None:
    odd = samples.WEEKLY_DST.replace("SUMMARY:Jour fixe\r\n", "SUMMARY:Jour\r\n  fixe\r\n", 1)
    assert icstext.parse(odd).text() == odd


def test_patch_changes_only_managed_lines() -> None:
    changed = events.patch(
        samples.WEEKLY_DST, Changes(summary="Jour fixe, new; room", location="B 1.12"), NOW
    )
    for block in KEPT:
        assert block in changed
    before, after = set(_lines(samples.WEEKLY_DST)), set(_lines(changed))
    assert before - after == {"SUMMARY:Jour fixe\r\n"}  # the override keeps its DTSTAMP
    assert after - before == {
        "SUMMARY:Jour fixe\\, new\\; room\r\n",
        "LOCATION:B 1.12\r\n",
        "DTSTAMP:20261123T120000Z\r\n",
        "LAST-MODIFIED:20261123T120000Z\r\n",
    }
    # the override (second VEVENT) is untouched: its own DTSTAMP stays
    assert changed.count("DTSTAMP:20260101T000000Z") == 1


def test_unchanged_values_keep_the_body() -> None:
    same = Changes(
        summary="Jour fixe",
        start=datetime(2026, 10, 6, 9, tzinfo=VIENNA),
        end=datetime(2026, 10, 6, 10, tzinfo=VIENNA),
        rrule="FREQ=WEEKLY;COUNT=8",
    )
    assert events.patch(samples.WEEKLY_DST, same, NOW) == samples.WEEKLY_DST


def test_new_zone_gets_a_vtimezone_and_the_old_one_stays() -> None:
    changed = events.patch(
        samples.WEEKLY_DST,
        Changes(
            start=datetime(2026, 10, 6, 9, tzinfo=ZoneInfo("America/New_York")),
            end=datetime(2026, 10, 6, 10, tzinfo=ZoneInfo("America/New_York")),
        ),
        NOW,
    )
    assert samples.VTIMEZONE_VIENNA in changed
    assert "TZID:America/New_York" in changed
    assert "DTSTART;TZID=America/New_York:20261006T090000\r\n" in changed
    assert "SEQUENCE:1\r\n" in changed


def test_duration_stays_a_duration() -> None:
    changed = events.patch(
        samples.FLOATING,
        Changes(start=datetime(2026, 10, 20, 9, 0), end=datetime(2026, 10, 20, 9, 30)),
        NOW,
    )
    assert "DURATION:PT30M\r\n" in changed
    assert "DTEND" not in changed


def test_attendees_keep_their_partstat() -> None:
    body = samples.WEEKLY_DST.replace(
        "X-MOZ-GENERATION:3\r\n",
        "X-MOZ-GENERATION:3\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n",
    )
    changed = events.patch(
        body,
        Changes(
            attendees=(Attendee("bob@example.com", "Bob"), Attendee("carol@example.com", "Carol")),
            contacts=("card-carol",),
            customer="card-acme",
        ),
        NOW,
    )
    assert "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n" in changed
    assert "mailto:carol@example.com" in changed.replace("\r\n ", "")
    assert "X-KMDAV-CONTACT;X-KMDAV-ROLE=customer:card-acme\r\n" in changed
    assert "X-KMDAV-CONTACT:card-carol\r\n" in changed
    master = events.master_of(icstext.parse(changed))
    assert events.customer_of(master) == "card-acme"
    assert events.linked_contacts(master) == ("card-carol",)


def test_override_of_one_occurrence() -> None:
    rid = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)  # 09:00 Vienna
    changed = events.override(samples.WEEKLY_DST, rid, Changes(summary="Jour fixe (short)"), NOW)
    assert "RECURRENCE-ID;TZID=Europe/Vienna:20261103T090000\r\n" in changed
    for block in KEPT:
        assert block in changed
    window = (datetime(2026, 11, 2, tzinfo=VIENNA), datetime(2026, 11, 4, tzinfo=VIENNA))
    (found,) = recurrence.expand(changed, *window, VIENNA).occurrences
    assert (found.summary, found.start, found.is_override) == (
        "Jour fixe (short)",
        datetime(2026, 11, 3, 9, tzinfo=VIENNA),
        True,
    )


def test_exclude_adds_an_exdate_and_drops_the_override() -> None:
    rid = datetime(2026, 10, 27, 8, 0, tzinfo=UTC)
    changed = events.exclude(samples.WEEKLY_DST, rid, NOW)
    assert "RECURRENCE-ID" not in changed
    assert "EXDATE;TZID=Europe/Vienna:20261027T090000\r\n" in changed
    window = (datetime(2026, 10, 26, tzinfo=VIENNA), datetime(2026, 10, 30, tzinfo=VIENNA))
    assert recurrence.expand(changed, *window, VIENNA).occurrences == []


def test_split_this_and_following() -> None:
    rid = datetime(2026, 10, 27, 8, 0, tzinfo=UTC)
    head, tail = events.split(
        samples.WEEKLY_DST,
        rid,
        "new-uid",
        Changes(
            summary="Jour fixe at ten",
            start=datetime(2026, 10, 27, 10, tzinfo=VIENNA),
            end=datetime(2026, 10, 27, 11, tzinfo=VIENNA),
        ),
        NOW,
    )
    assert "RRULE:FREQ=WEEKLY;UNTIL=20261027T075959Z\r\n" in head
    assert "RECURRENCE-ID" not in head  # the override after the split moved along
    assert "UID:new-uid\r\n" in tail
    assert "UID:weekly-dst" not in tail
    # COUNT=8 from 6 Oct: 3 before the split, 5 from it on
    assert "RRULE:FREQ=WEEKLY;COUNT=5\r\n" in tail
    # the moved override's RECURRENCE-ID follows the new start (10:00)
    assert "RECURRENCE-ID;TZID=Europe/Vienna:20261027T100000\r\n" in tail
    window = (datetime(2026, 10, 1, tzinfo=VIENNA), datetime(2026, 12, 31, tzinfo=VIENNA))
    old = recurrence.expand(head, *window, VIENNA).occurrences
    new = recurrence.expand(tail, *window, VIENNA).occurrences
    assert [o.start.day for o in old] == [6, 13]  # 20 Oct was excluded
    assert sorted((o.start.month, o.start.day, o.start.hour) for o in new) == [
        (10, 28, 14),  # the override kept its moved time
        (11, 3, 10),
        (11, 10, 10),
        (11, 17, 10),
        (11, 24, 10),
    ]


def test_all_day_build() -> None:
    text = events.build(
        "VEVENT",
        "day-uid",
        Changes(summary="Holiday", start=date(2026, 12, 24), end=date(2026, 12, 27)),
        NOW,
    )
    assert "DTSTART;VALUE=DATE:20261224\r\n" in text
    assert "DTEND;VALUE=DATE:20261227\r\n" in text
    assert "VTIMEZONE" not in text


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=MINUTELY", "at most daily"),
        ("FREQ=HOURLY;COUNT=3", "at most daily"),
        ("FREQ=WEEKLY;BYDAY=XX", "cannot be read"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "not both"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
    ],
)
def test_bad_rules_are_refused(rule: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        events.check_rrule(rule, datetime(2026, 1, 1, 9, tzinfo=VIENNA))
    assert message in str(caught.value)


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValidationError, match="before the start"):
        events.check_times(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
