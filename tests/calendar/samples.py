"""iCalendar objects the calendar tests share: series with the hard parts."""

from __future__ import annotations

VTIMEZONE_VIENNA = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Vienna\r\n"
    "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
)


def wrap(*components: str, timezone: bool = True) -> str:
    body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//phone//EN\r\n"
    if timezone:
        body += VTIMEZONE_VIENNA
    return body + "".join(components) + "END:VCALENDAR\r\n"


def event(uid: str, *lines: str) -> str:
    return (
        "BEGIN:VEVENT\r\n"
        + f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        + "".join(line + "\r\n" for line in lines)
        + "END:VEVENT\r\n"
    )


#: A weekly meeting in Vienna across the DST end (25 Oct 2026), one
#: occurrence moved, one dropped; with an alarm and phone X- props.
WEEKLY_DST = wrap(
    event(
        "weekly-dst",
        "SUMMARY:Jour fixe",
        "DTSTART;TZID=Europe/Vienna:20261006T090000",
        "DTEND;TZID=Europe/Vienna:20261006T100000",
        "RRULE:FREQ=WEEKLY;COUNT=8",
        "EXDATE;TZID=Europe/Vienna:20261020T090000",
        "X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Jo;1;;;;;;;;;;;;;",
        "X-MOZ-GENERATION:3",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM",
    ),
    event(
        "weekly-dst",
        "SUMMARY:Jour fixe (moved)",
        "RECURRENCE-ID;TZID=Europe/Vienna:20261027T090000",
        "DTSTART;TZID=Europe/Vienna:20261028T140000",
        "DTEND;TZID=Europe/Vienna:20261028T150000",
    ),
)

#: All-day, yearly, three days long, one year excluded.
ALL_DAY = wrap(
    event(
        "all-day",
        "SUMMARY:Trade fair",
        "DTSTART;VALUE=DATE:20250310",
        "DTEND;VALUE=DATE:20250313",
        "RRULE:FREQ=YEARLY",
        "EXDATE;VALUE=DATE:20260310",
    ),
    timezone=False,
)

#: Floating daily stand-up (the same wall-clock time in every zone), with RDATEs
#: and a mixed EXDATE list (a DATE and a DATE-TIME).
FLOATING = wrap(
    event(
        "floating",
        "SUMMARY:Stand-up",
        "DTSTART:20261020T083000",
        "DURATION:PT15M",
        "RRULE:FREQ=DAILY;UNTIL=20261110T083000",
        "RDATE:20261115T120000",
        "EXDATE:20261022T083000",
        "EXDATE;VALUE=DATE:20261027",
    ),
    timezone=False,
)

#: A zoned series ending with a UTC UNTIL, across the spring DST change.
SPRING = wrap(
    event(
        "spring",
        "SUMMARY:Evening class",
        "DTSTART;TZID=Europe/Vienna:20270322T190000",
        "DTEND;TZID=Europe/Vienna:20270322T203000",
        "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20270405T170000Z",
    ),
)

#: Multi-day single event in UTC, and an endless monthly series.
MULTI_DAY = wrap(
    event(
        "multi-day",
        "SUMMARY:Offsite",
        "DTSTART:20261029T150000Z",
        "DTEND:20261031T110000Z",
    ),
    timezone=False,
)
ENDLESS = wrap(
    event(
        "endless",
        "SUMMARY:Monthly review",
        "DTSTART;TZID=Europe/Vienna:20250115T160000",
        "DTEND;TZID=Europe/Vienna:20250115T170000",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
    ),
)

ALL = {
    "weekly-dst": WEEKLY_DST,
    "all-day": ALL_DAY,
    "floating": FLOATING,
    "spring": SPRING,
    "multi-day": MULTI_DAY,
    "endless": ENDLESS,
}
