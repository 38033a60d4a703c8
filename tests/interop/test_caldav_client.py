"""The ``caldav`` client library (and plain httpx for CardDAV) against a live kmdav."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import caldav
import httpx
import pytest
from caldav.lib.error import NotFoundError

from tests.interop.conftest import DavUser

pytestmark = pytest.mark.live

CALDAV_NS = "urn:ietf:params:xml:ns:caldav"


@pytest.fixture(scope="module")
def client(dav_user: DavUser) -> Iterator[caldav.DAVClient]:
    with caldav.DAVClient(
        url=dav_user.server.dav, username=dav_user.name, password=dav_user.password
    ) as dav_client:
        yield dav_client


@pytest.fixture(scope="module")
def calendar(client: caldav.DAVClient, dav_user: DavUser) -> caldav.Calendar:
    return client.calendar(url=dav_user.calendar)


@pytest.fixture(scope="module")
def tasks(client: caldav.DAVClient, dav_user: DavUser) -> caldav.Calendar:
    return client.calendar(url=dav_user.tasks)


@pytest.fixture(scope="module")
def http(dav_user: DavUser) -> Iterator[httpx.Client]:
    with httpx.Client(auth=dav_user.auth, timeout=30) as http_client:
        yield http_client


def vevent(uid: str, start: str, end: str, summary: str = "Meeting", extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART{start}\r\nDTEND{end}\r\nSUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def report_hrefs(http: httpx.Client, url: str, start: str, end: str) -> set[str]:
    """A raw calendar-query with a time range: what the server itself selects
    (the caldav library post-filters, which would hide an over-broad answer)."""
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV_NS}">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
    response = http.request(
        "REPORT",
        url,
        content=body,
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
    )
    assert response.status_code == 207, response.text
    tree = ET.fromstring(response.content)
    return {
        href.text.rsplit("/", 1)[-1]
        for href in tree.iter("{DAV:}href")
        if href.text and not href.text.endswith("/")
    }


def put_calendar_object(http: httpx.Client, url: str, body: str) -> int:
    response = http.put(
        url,
        content=body,
        headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
    )
    return response.status_code


def uids(objects: list[caldav.CalendarObjectResource]) -> set[str]:
    return {str(o.icalendar_component["UID"]) for o in objects}


# -- discovery ---------------------------------------------------------------------


def test_principal_and_calendar_home_discovery(client: caldav.DAVClient, dav_user: DavUser) -> None:
    principal = client.principal()
    assert str(principal.url) == dav_user.home
    assert str(principal.calendar_home_set.url) == dav_user.home
    calendars = {str(c.url): c.get_display_name() for c in principal.get_calendars()}
    assert calendars == {dav_user.calendar: "Calendar", dav_user.tasks: "Tasks"}


def test_well_known_redirects_to_the_dav_root(dav_user: DavUser) -> None:
    for service in ("caldav", "carddav"):
        response = httpx.request(
            "PROPFIND", f"{dav_user.server.url}/.well-known/{service}", headers={"Depth": "0"}
        )
        assert response.status_code == 301
        assert urljoin(str(response.url), response.headers["Location"]) == dav_user.server.dav


def test_discovery_from_the_server_root_through_well_known(dav_user: DavUser) -> None:
    with caldav.DAVClient(
        url=dav_user.server.url + "/.well-known/caldav",
        username=dav_user.name,
        password=dav_user.password,
    ) as dav_client:
        assert str(dav_client.principal().url) == dav_user.home


def test_make_and_delete_a_calendar(client: caldav.DAVClient, dav_user: DavUser) -> None:
    principal = client.principal()
    made = principal.make_calendar(
        name="Project X", cal_id="project-x", supported_calendar_component_set=["VEVENT"]
    )
    assert str(made.url) == dav_user.home + "project-x/"
    assert made.get_display_name() == "Project X"
    made.add_event(vevent("px-1", ":20250301T090000Z", ":20250301T100000Z"))
    assert uids(made.get_events()) == {"px-1"}
    made.delete()
    assert dav_user.home + "project-x/" not in {str(c.url) for c in principal.get_calendars()}


# -- events ------------------------------------------------------------------------


def test_create_edit_delete_event(calendar: caldav.Calendar, http: httpx.Client) -> None:
    event = calendar.add_event(
        vevent("crud-1", ":20250310T090000Z", ":20250310T100000Z", "First title")
    )
    stored = calendar.get_event_by_uid("crud-1")
    assert str(stored.icalendar_component["SUMMARY"]) == "First title"

    stored.icalendar_component["SUMMARY"] = "Second title"
    stored.save()
    again = calendar.get_event_by_uid("crud-1")
    assert str(again.icalendar_component["SUMMARY"]) == "Second title"
    assert http.get(str(event.url)).text.count("SUMMARY:Second title") == 1

    again.delete()
    with pytest.raises(NotFoundError):
        calendar.get_event_by_uid("crud-1")
    assert http.get(str(event.url)).status_code == 404


RECURRING = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//kmdav tests//EN\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Custom/Office Time\r\n"
    "BEGIN:STANDARD\r\n"
    "DTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "TZNAME:OST\r\n"
    "END:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "DTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\n"
    "TZNAME:ODT\r\n"
    "END:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:weekly-standup\r\n"
    "DTSTAMP:20250101T000000Z\r\n"
    "DTSTART;TZID=Custom/Office Time:20250106T090000\r\n"
    "DTEND;TZID=Custom/Office Time:20250106T093000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=6\r\n"
    "EXDATE;TZID=Custom/Office Time:20250120T090000\r\n"
    "SUMMARY:Stand-up\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:weekly-standup\r\n"
    "DTSTAMP:20250101T000000Z\r\n"
    "RECURRENCE-ID;TZID=Custom/Office Time:20250127T090000\r\n"
    "DTSTART;TZID=Custom/Office Time:20250128T140000\r\n"
    "DTEND;TZID=Custom/Office Time:20250128T143000\r\n"
    "SUMMARY:Stand-up (moved)\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_recurring_event_with_override_and_exdate_in_a_custom_timezone(
    calendar: caldav.Calendar, http: httpx.Client
) -> None:
    # PUT by hand: the caldav library re-serialises what it saves.
    url = f"{calendar.url}weekly-standup.ics"
    assert put_calendar_object(http, url, RECURRING) == 201
    # Lossless: the body comes back byte for byte.
    assert http.get(url).content == RECURRING.encode()
    event = calendar.get_event_by_uid("weekly-standup")
    assert len(event.icalendar_instance.walk("VEVENT")) == 2

    occurrences = calendar.search(
        event=True,
        start=datetime(2025, 1, 1),
        end=datetime(2025, 3, 1),
        expand=True,
        server_expand=True,
    )
    starts = sorted(
        o.icalendar_component["DTSTART"].dt.astimezone(UTC).replace(tzinfo=None)
        for o in occurrences
        if str(o.icalendar_component["UID"]) == "weekly-standup"
    )
    # 09:00 at UTC+1 in January/February; Jan 20 excluded, Jan 27 moved to Jan 28 14:00.
    assert starts == [
        datetime(2025, 1, 6, 8),
        datetime(2025, 1, 13, 8),
        datetime(2025, 1, 28, 13),
        datetime(2025, 2, 3, 8),
        datetime(2025, 2, 10, 8),
    ]

    href = str(event.url).rsplit("/", 1)[-1]
    # The excluded week matches nothing; the moved occurrence matches its new day only.
    assert href not in report_hrefs(http, str(calendar.url), "20250120T000000Z", "20250121T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250127T000000Z", "20250128T000000Z")
    assert href in report_hrefs(http, str(calendar.url), "20250128T000000Z", "20250129T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250301T000000Z", "20250401T000000Z")


def test_all_day_event(calendar: caldav.Calendar, http: httpx.Client) -> None:
    event = calendar.add_event(
        vevent("all-day-1", ";VALUE=DATE:20250415", ";VALUE=DATE:20250416", "Holiday")
    )
    stored = calendar.get_event_by_uid("all-day-1")
    assert stored.icalendar_component["DTSTART"].dt == date(2025, 4, 15)
    found = calendar.search(
        event=True, start=datetime(2025, 4, 15, 10), end=datetime(2025, 4, 15, 11)
    )
    assert "all-day-1" in uids(found)
    href = str(event.url).rsplit("/", 1)[-1]
    # RFC 4791 9.9: an all-day event is floating; the server's time zone is UTC here.
    assert href in report_hrefs(http, str(calendar.url), "20250415T000000Z", "20250415T010000Z")
    assert href in report_hrefs(http, str(calendar.url), "20250415T230000Z", "20250416T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250416T000000Z", "20250417T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250414T000000Z", "20250415T000000Z")


def test_floating_event_in_a_time_range_search(
    calendar: caldav.Calendar, http: httpx.Client
) -> None:
    event = calendar.add_event(
        vevent("floating-1", ":20250520T150000", ":20250520T160000", "Floating")
    )
    found = calendar.search(event=True, start=datetime(2025, 5, 20), end=datetime(2025, 5, 21))
    assert "floating-1" in uids(found)
    href = str(event.url).rsplit("/", 1)[-1]
    assert href in report_hrefs(http, str(calendar.url), "20250520T143000Z", "20250520T153000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250520T170000Z", "20250520T180000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250521T000000Z", "20250522T000000Z")


def test_exdate_list_mixing_date_and_date_time(
    calendar: caldav.Calendar, http: httpx.Client
) -> None:
    # Valid iCalendar (each EXDATE property has one value type), which stock
    # Radicale refuses because it compares DATE with DATE-TIME values.
    body = vevent(
        "mixed-exdate",
        ":20250602T100000Z",
        ":20250602T110000Z",
        "Daily",
        "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;VALUE=DATE:20250603\r\nEXDATE:20250604T100000Z\r\n",
    )
    url = f"{calendar.url}mixed-exdate.ics"
    assert put_calendar_object(http, url, body) == 201
    assert http.get(url).content == body.encode()
    event = calendar.get_event_by_uid("mixed-exdate")
    found = calendar.search(event=True, start=datetime(2025, 6, 1), end=datetime(2025, 6, 30))
    assert "mixed-exdate" in uids(found)
    href = str(event.url).rsplit("/", 1)[-1]
    assert href in report_hrefs(http, str(calendar.url), "20250602T000000Z", "20250603T000000Z")
    assert href in report_hrefs(http, str(calendar.url), "20250605T000000Z", "20250606T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250603T000000Z", "20250604T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250604T000000Z", "20250605T000000Z")
    assert href not in report_hrefs(http, str(calendar.url), "20250607T000000Z", "20250610T000000Z")


# -- todos -------------------------------------------------------------------------


def vtodo(uid: str, summary: str, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav tests//EN\r\n"
        f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"SUMMARY:{summary}\r\nSTATUS:NEEDS-ACTION\r\n{extra}END:VTODO\r\nEND:VCALENDAR\r\n"
    )


def test_todos_with_related_to(tasks: caldav.Calendar) -> None:
    tasks.add_todo(vtodo("launch", "Launch the product", "DUE:20250701T170000Z\r\n"))
    tasks.add_todo(vtodo("launch-docs", "Write the docs", "RELATED-TO;RELTYPE=PARENT:launch\r\n"))
    tasks.add_todo(vtodo("launch-site", "Build the site", "RELATED-TO:launch\r\n"))

    child = tasks.get_todo_by_uid("launch-docs")
    parents = child.get_relatives(reltypes={"PARENT"})
    assert {str(p.icalendar_component["UID"]) for p in parents["PARENT"]} == {"launch"}

    child.complete()
    open_uids = uids(tasks.get_todos())
    assert {"launch", "launch-site"} <= open_uids
    assert "launch-docs" not in open_uids
    assert "launch-docs" in uids(tasks.get_todos(include_completed=True))
    reloaded = tasks.get_todo_by_uid("launch-docs")
    assert str(reloaded.icalendar_component["STATUS"]) == "COMPLETED"
    assert str(reloaded.icalendar_component["RELATED-TO"]) == "launch"


def test_a_task_list_refuses_events(tasks: caldav.Calendar, http: httpx.Client) -> None:
    response = http.put(
        f"{tasks.url}not-a-task.ics",
        content=vevent("not-a-task", ":20250101T100000Z", ":20250101T110000Z"),
        headers={"Content-Type": "text/calendar"},
    )
    assert response.status_code in (400, 403, 409)
    assert http.get(f"{tasks.url}not-a-task.ics").status_code == 404


# -- sync tokens -------------------------------------------------------------------


def test_sync_tokens(client: caldav.DAVClient, dav_user: DavUser) -> None:
    principal = client.principal()
    synced = principal.make_calendar(name="Sync", cal_id="sync-test")
    try:
        for n in range(3):
            synced.add_event(
                vevent(f"sync-{n}", f":2025070{n + 1}T090000Z", f":2025070{n + 1}T100000Z")
            )
        initial = synced.get_objects_by_sync_token(load_objects=True)
        assert uids(list(initial)) == {"sync-0", "sync-1", "sync-2"}
        token = initial.sync_token
        assert token

        unchanged = synced.objects_by_sync_token(sync_token=token)
        assert list(unchanged) == []
        assert unchanged.sync_token == token

        edited = synced.get_event_by_uid("sync-1")
        edited.icalendar_component["SUMMARY"] = "Edited"
        edited.save()
        synced.get_event_by_uid("sync-2").delete()
        synced.add_event(vevent("sync-3", ":20250710T090000Z", ":20250710T100000Z"))

        changes = synced.get_objects_by_sync_token(sync_token=token, load_objects=False)
        changed_hrefs = {str(o.url).rsplit("/", 1)[-1] for o in changes}
        assert changed_hrefs == {"sync-1.ics", "sync-2.ics", "sync-3.ics"}
        assert changes.sync_token != token

        # The collection object keeps a local mirror in step with the server.
        mirror = synced.get_objects_by_sync_token(load_objects=True)
        synced.get_event_by_uid("sync-0").delete()
        updated, deleted = mirror.sync()
        assert {str(o.url).rsplit("/", 1)[-1] for o in deleted} == {"sync-0.ics"}
        assert list(updated) == []
        assert uids(list(mirror)) == {"sync-1", "sync-3"}

        # A token of another collection is refused (RFC 6578 3.2 valid-sync-token).
        other = client.calendar(url=dav_user.calendar)
        foreign = other.get_objects_by_sync_token().sync_token
        with httpx.Client(auth=dav_user.auth) as http:
            response = http.request(
                "REPORT",
                str(synced.url),
                headers={"Content-Type": "application/xml"},
                content=(
                    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
                    f"<D:sync-token>{foreign}</D:sync-token><D:sync-level>1</D:sync-level>"
                    "<D:prop><D:getetag/></D:prop></D:sync-collection>"
                ),
            )
        assert response.status_code == 403
        assert b"valid-sync-token" in response.content
    finally:
        synced.delete()


# -- CardDAV with plain HTTP -------------------------------------------------------

VCARD = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "UID:ada-lovelace\r\n"
    "FN:Ada Lovelace\r\n"
    "N:Lovelace;Ada;;;\r\n"
    "ORG:Analytical Engines Ltd.\r\n"
    "item1.EMAIL;TYPE=INTERNET:ada@example.org\r\n"
    "item1.X-ABLabel:Work\r\n"
    "X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Countess;1;;;;;;;;;;;;;\r\n"
    "END:VCARD\r\n"
)


def test_vcard_put_get_with_conditional_requests(http: httpx.Client, dav_user: DavUser) -> None:
    url = dav_user.contacts + "ada-lovelace.vcf"
    headers = {"Content-Type": "text/vcard; charset=utf-8"}

    created = http.put(url, content=VCARD, headers={**headers, "If-None-Match": "*"})
    assert created.status_code == 201
    etag = created.headers["ETag"]

    again = http.put(url, content=VCARD, headers={**headers, "If-None-Match": "*"})
    assert again.status_code == 412

    fetched = http.get(url)
    assert fetched.status_code == 200
    assert fetched.content == VCARD.encode()
    assert fetched.headers["ETag"] == etag
    assert fetched.headers["Content-Type"].startswith("text/vcard")

    edited_card = VCARD.replace("FN:Ada Lovelace", "FN:Ada King")
    edited = http.put(url, content=edited_card, headers={**headers, "If-Match": etag})
    assert edited.status_code in (200, 201, 204)
    new_etag = edited.headers["ETag"]
    assert new_etag != etag
    assert http.get(url).content == edited_card.encode()

    stale = http.put(url, content=VCARD, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert http.get(url).content == edited_card.encode()

    assert http.delete(url, headers={"If-Match": etag}).status_code == 412
    assert http.get(url).status_code == 200
    assert http.delete(url, headers={"If-Match": new_etag}).status_code in (200, 204)
    assert http.get(url).status_code == 404


def test_duplicate_uid_in_an_address_book_is_refused(http: httpx.Client, dav_user: DavUser) -> None:
    card = VCARD.replace("ada-lovelace", "grace-hopper")
    first = http.put(dav_user.contacts + "grace.vcf", content=card, headers={"If-None-Match": "*"})
    assert first.status_code == 201
    second = http.put(dav_user.contacts + "grace-2.vcf", content=card)
    assert second.status_code == 409
    assert b"no-uid-conflict" in second.content
    assert http.get(dav_user.contacts + "grace-2.vcf").status_code == 404
    assert http.delete(dav_user.contacts + "grace.vcf").status_code in (200, 204)


def test_company_book_plain_user_edits_but_may_not_delete(
    http: httpx.Client, dav_user: DavUser
) -> None:
    # Every user may create and edit contacts; deleting needs the grant
    # (kmdav.contacts.access).
    url = dav_user.home + "company-contacts/"
    listing = http.request("PROPFIND", url, headers={"Depth": "0"})
    assert listing.status_code == 207
    made = http.put(url + "x.vcf", content=VCARD.replace("ada-lovelace", "company-x"))
    assert made.status_code == 201
    assert http.delete(url + "x.vcf").status_code == 403


def test_caldav_client_sees_a_time_shifted_day(calendar: caldav.Calendar) -> None:
    # A range given as aware datetimes in another zone selects by instant.
    calendar.add_event(vevent("tz-shift", ":20250801T230000Z", ":20250801T233000Z", "Late"))
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2025, 8, 2, 0, 0, tzinfo=berlin)
    found = calendar.search(event=True, start=start, end=start + timedelta(hours=2))
    assert "tz-shift" in uids(found)


def test_non_ascii_href_round_trips(http: httpx.Client, dav_user: DavUser) -> None:
    # PEP 3333 hands the path to WSGI as latin-1; stored it must be UTF-8.
    card = VCARD.replace("ada-lovelace", "cafe-owner").replace("Ada Lovelace", "Zoë Café")
    url = dav_user.contacts + "caf%C3%A9-%E2%82%AC.vcf"
    assert http.put(url, content=card.encode(), headers={"If-None-Match": "*"}).status_code == 201
    assert http.get(url).content == card.encode()
    listing = http.request("PROPFIND", dav_user.contacts, headers={"Depth": "1"})
    hrefs = {h.text for h in ET.fromstring(listing.content).iter("{DAV:}href")}
    assert f"{httpx.URL(dav_user.contacts).path}caf%C3%A9-%E2%82%AC.vcf" in hrefs
    assert http.delete(url).status_code in (200, 204)
