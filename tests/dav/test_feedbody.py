"""kmdav.dav.feedbody: many stored objects into one VCALENDAR, text kept."""

from __future__ import annotations

import icalendar

from kmdav.dav.feedbody import FeedBuilder, FeedHeader, calendar_timezone_id, escape_text, fold
from tests.dav.cards import ALL_DAY, RECURRING_WITH_OVERRIDE, TODO_WITH_PARENT, event

#: A client's object with things a re-serialiser would lose or change.
QUIRKY = (
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Quirky//EN\nX-WR-CALNAME:Theirs\n"
    "BEGIN:VTIMEZONE\nTZID:Europe/Vienna\nBEGIN:STANDARD\nDTSTART:19701025T030000\n"
    "TZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n"
    "BEGIN:VEVENT\nUID:quirky-1\nDTSTAMP:20261101T000000Z\n"
    "DTSTART;TZID=Europe/Vienna:20261203T090000\nDURATION:PT1H\n"
    "SUMMARY:A summary that is long enough to be folded by the client that wrote i\n"
    ' t here\nX-CLIENT-THING;X-PARAM="a;b":keep me\\, exactly\n'
    "BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:Soon\nTRIGGER:-PT10M\nEND:VALARM\n"
    "END:VEVENT\nEND:VCALENDAR\n"
)


def _build(*bodies: str, header: FeedHeader | None = None) -> str:
    builder = FeedBuilder()
    for body in bodies:
        builder.add(body)
    return builder.render(header or FeedHeader(name="Team")).decode("utf-8")


def test_components_are_copied_as_stored_with_crlf() -> None:
    text = _build(QUIRKY)
    assert "\r\n" in text
    assert "\n" not in text.replace("\r\n", "")
    for line in QUIRKY.split("\n")[4:-2]:  # everything between the calendar's lines
        assert line + "\r\n" in text
    assert "X-WR-CALNAME:Theirs" not in text  # the object's calendar properties go
    assert "PRODID:-//Quirky//EN" not in text
    parsed = icalendar.Calendar.from_ical(text)
    (vevent,) = parsed.walk("VEVENT")
    assert vevent["X-CLIENT-THING"].to_ical() == b"keep me\\, exactly"
    assert vevent["X-CLIENT-THING"].params["X-PARAM"] == "a;b"
    assert len(vevent.walk("VALARM")) == 1


def test_time_zones_once_per_tzid_events_all_and_todos_left_out() -> None:
    other_vienna = RECURRING_WITH_OVERRIDE.replace("UID:series-1", "UID:series-2")
    text = _build(RECURRING_WITH_OVERRIDE, other_vienna, ALL_DAY, TODO_WITH_PARENT)
    parsed = icalendar.Calendar.from_ical(text)
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["Custom/Vienna"]
    events = [(str(e["UID"]), "RECURRENCE-ID" in e) for e in parsed.walk("VEVENT")]
    assert events == [
        ("series-1", False),
        ("series-1", True),
        ("series-2", False),
        ("series-2", True),
        ("allday-1", False),
    ]
    assert parsed.walk("VTODO") == []
    assert "EXDATE;TZID=Custom/Vienna:20261116T090000\r\n" in text
    # Time zones come before the events that use them.
    assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")


def test_header_names_the_calendar_and_its_zone() -> None:
    header = FeedHeader(name="Büro, Wien; 2. Stock", description="line 1\nline 2")
    text = _build(event("a"), header=header)
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert text.endswith("END:VCALENDAR\r\n")
    parsed = icalendar.Calendar.from_ical(text)
    # TEXT escapes (RFC 5545 3.3.11); icalendar leaves X- values as sent.
    assert "X-WR-CALNAME:Büro\\, Wien\\; 2. Stock\r\n" in text
    assert parsed["DESCRIPTION"] == "line 1\nline 2"
    assert "X-WR-TIMEZONE" not in parsed  # no zone known
    # The calendar's own zone wins; otherwise the one zone all events use.
    assert "X-WR-TIMEZONE:Europe/Berlin\r\n" in _build(
        QUIRKY, header=FeedHeader(name="x", timezone="Europe/Berlin")
    )
    assert "X-WR-TIMEZONE:Europe/Vienna\r\n" in _build(QUIRKY)
    # Not an IANA name: clients could not look it up.
    assert "X-WR-TIMEZONE" not in _build(RECURRING_WITH_OVERRIDE)
    assert "X-WR-TIMEZONE" not in _build(event("b"), header=FeedHeader("x", timezone="Mars/Base"))


def test_text_escaping_and_folding_by_octets() -> None:
    assert escape_text("a\\b;c,d\r\ne\x07") == "a\\\\b\\;c\\,d\\ne"
    line = "X-WR-CALNAME:" + "ä" * 80
    folded = fold(line)
    pieces = folded.removesuffix("\r\n").split("\r\n")
    assert all(len(piece.encode("utf-8")) <= 75 for piece in pieces)
    assert "".join(piece.removeprefix(" ") for piece in pieces) == line


def test_calendar_timezone_property() -> None:
    vtimezone = QUIRKY[QUIRKY.index("BEGIN:VTIMEZONE") : QUIRKY.index("BEGIN:VEVENT")]
    wrapped = "BEGIN:VCALENDAR\r\n" + vtimezone.replace("\n", "\r\n") + "END:VCALENDAR\r\n"
    assert calendar_timezone_id(wrapped) == "Europe/Vienna"
    assert calendar_timezone_id("") == ""


def test_an_empty_calendar_is_still_a_calendar() -> None:
    parsed = icalendar.Calendar.from_ical(_build())
    assert parsed["VERSION"] == "2.0"
    assert parsed.walk("VEVENT") == []


def test_a_folded_tzid_and_lf_line_endings() -> None:
    long_zone = "X-Very/" + "Long" * 20
    folded = fold(f"TZID:{long_zone}").replace("\r\n", "\n")
    body = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTIMEZONE\n" + folded + "BEGIN:STANDARD\n"
        "DTSTART:19700101T000000\nTZOFFSETFROM:+0000\nTZOFFSETTO:+0000\nEND:STANDARD\n"
        "END:VTIMEZONE\nbegin:vevent\nUID:lower\n\nDTSTART:20261201T100000Z\nend:vevent\n"
        "END:VCALENDAR"
    )
    builder = FeedBuilder()
    builder.add(body)
    assert builder.timezone_ids == [long_zone]
    text = builder.render(FeedHeader(name="x")).decode()
    assert "begin:vevent\r\nUID:lower\r\nDTSTART:20261201T100000Z\r\nend:vevent\r\n" in text
    assert "\n" not in text.replace("\r\n", "")
