"""vCards and iCalendar objects for tests, including real-client quirks."""

from __future__ import annotations

import base64


def card(uid: str, name: str = "Jane Doe", extra: str = "") -> str:
    family, _, given = name.partition(" ")
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:{name}\r\nN:{given};{family};;;\r\n"
        f"EMAIL;TYPE=INTERNET:{uid}@example.com\r\n{extra}END:VCARD\r\n"
    )


def event(
    uid: str,
    start: str = "20261201T100000Z",
    end: str = "20261201T110000Z",
    summary: str = "Meeting",
    extra: str = "",
) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 6350 3.2)."""
    parts = [line[:75]]
    rest = line[75:]
    while rest:
        parts.append(" " + rest[:74])
        rest = rest[74:]
    return "\r\n".join(parts) + "\r\n"


IOS_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n"
    "N:Huber;Anna;;;\r\nFN:Anna Huber\r\nORG:Huber GmbH;Vertrieb\r\n"
    "item1.EMAIL;type=INTERNET;type=pref:anna@huber.example\r\nitem1.X-ABLabel:Büro\r\n"
    "item2.TEL:+43 1 234567\r\nitem2.X-ABLabel:_$!<Mobile>!$_\r\n"
    "item3.ADR;type=HOME:;;Hauptstraße 1;Wien;;1010;Österreich\r\n"
    "item3.X-ABADR:at\r\nitem4.X-ABDATE;type=pref:2020-05-01\r\n"
    "item4.X-ABLabel:_$!<Anniversary>!$_\r\nUID:ios-anna\r\nEND:VCARD\r\n"
)

ANDROID_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:android-1\r\nFN:Ben Bauer\r\nN:Bauer;Ben;;;\r\n"
    "X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Benni;1;;;;;;;;;;;;;\r\n"
    "X-ANDROID-CUSTOM:vnd.android.cursor.item/relation;Clara;14;;;;;;;;;;;;;\r\n"
    "TEL;TYPE=CELL:+49 170 1234567\r\nEND:VCARD\r\n"
)

GROUP_CARD_V4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:group-1\r\nKIND:group\r\nFN:Vorstand\r\n"
    "MEMBER:urn:uuid:ios-anna\r\nMEMBER:urn:uuid:android-1\r\nEND:VCARD\r\n"
)


def photo_card(uid: str, size: int) -> str:
    photo = base64.b64encode(bytes(range(256)) * (size // 256)).decode()
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:Photo Person\r\nN:Person;Photo;;;\r\n"
        + fold(f"PHOTO;ENCODING=b;TYPE=JPEG:{photo}")
        + "END:VCARD\r\n"
    )


RECURRING_WITH_OVERRIDE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
    "BEGIN:VTIMEZONE\r\nTZID:Custom/Vienna\r\n"
    "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Custom/Vienna:20261102T090000\r\nDTEND;TZID=Custom/Vienna:20261102T100000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE;TZID=Custom/Vienna:20261116T090000\r\n"
    "SUMMARY:Weekly sync\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID;TZID=Custom/Vienna:20261109T090000\r\n"
    "DTSTART;TZID=Custom/Vienna:20261109T140000\r\nDTEND;TZID=Custom/Vienna:20261109T150000\r\n"
    "SUMMARY:Weekly sync (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

ALL_DAY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
    "BEGIN:VEVENT\r\nUID:allday-1\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261227\r\nSUMMARY:Holidays\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)

TODO_WITH_PARENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
    "BEGIN:VTODO\r\nUID:todo-child\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Call back\r\n"
    "DUE:20261205T170000Z\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\nPERCENT-COMPLETE:20\r\n"
    "RELATED-TO;RELTYPE=PARENT:todo-parent\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)
