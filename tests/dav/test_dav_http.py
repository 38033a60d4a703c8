"""CardDAV/CalDAV over HTTP against a live kmdav: lossless bodies, the CRM
projection, sync, conditional requests and bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kmdav.models import CalendarObject, Contact, ContactAddress, ContactEmail, DavItem
from tests.dav.cards import (
    ALL_DAY,
    ANDROID_CARD,
    GROUP_CARD_V4,
    IOS_CARD,
    RECURRING_WITH_OVERRIDE,
    TODO_WITH_PARENT,
    card,
    event,
    photo_card,
)
from tests.dav.http import client, sync

pytestmark = pytest.mark.live

VCARD = {"Content-Type": "text/vcard; charset=utf-8"}
ICAL = {"Content-Type": "text/calendar; charset=utf-8"}
XML = {"Content-Type": "application/xml; charset=utf-8"}


@pytest.fixture(scope="module")
def admin(dav_server: Any) -> Any:
    with client(dav_server.url, "admin", "admin-password-1") as http:
        yield http


def _put(http: httpx.Client, url: str, body: str, headers: dict[str, str]) -> httpx.Response:
    return http.put(url, content=body.encode(), headers=headers)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ios", IOS_CARD),
        ("android", ANDROID_CARD),
        ("group4", GROUP_CARD_V4),
        ("photo", photo_card("photo-1", 300_000)),
        ("unicode", card("uni-1", "Ōta Yū", "NOTE:Grüße aus Köln – 東京\r\n")),
    ],
)
def test_vcards_come_back_byte_for_byte(admin: httpx.Client, name: str, body: str) -> None:
    url = f"/dav/admin/contacts/{name}.vcf"
    created = _put(admin, url, body, VCARD)
    assert created.status_code == 201, created.text
    fetched = admin.get(url)
    assert fetched.status_code == 200
    assert fetched.content == body.encode()
    assert fetched.headers["etag"] == created.headers["etag"]


@pytest.mark.parametrize(
    ("collection", "name", "body"),
    [
        ("calendar", "series", RECURRING_WITH_OVERRIDE),
        ("calendar", "allday", ALL_DAY),
        ("tasks", "todo", TODO_WITH_PARENT),
    ],
)
def test_calendar_objects_come_back_byte_for_byte(
    admin: httpx.Client, collection: str, name: str, body: str
) -> None:
    url = f"/dav/admin/{collection}/{name}.ics"
    assert _put(admin, url, body, ICAL).status_code == 201
    assert admin.get(url).content == body.encode()


def test_card_projection(admin: httpx.Client, server_db: Any) -> None:
    anna_card = IOS_CARD.replace("UID:ios-anna", "UID:proj-anna")
    group_card = GROUP_CARD_V4.replace("UID:group-1", "UID:proj-group")
    assert _put(admin, "/dav/admin/contacts/anna.vcf", anna_card, VCARD).status_code == 201
    assert _put(admin, "/dav/admin/contacts/vorstand.vcf", group_card, VCARD).status_code == 201
    with server_db.transaction("read") as session:
        anna = session.scalars(
            select(Contact)
            .join(DavItem, DavItem.id == Contact.item_id)
            .where(DavItem.uid == "proj-anna")
        ).one()
        assert (anna.formatted_name, anna.given_name, anna.family_name) == (
            "Anna Huber",
            "Anna",
            "Huber",
        )
        assert anna.organization == "Huber GmbH, Vertrieb"
        email = session.scalars(
            select(ContactEmail).where(ContactEmail.contact_id == anna.id)
        ).one()
        assert (email.value, email.label) == ("anna@huber.example", "Büro")
        address = session.scalars(
            select(ContactAddress).where(ContactAddress.contact_id == anna.id)
        ).one()
        assert (address.street, address.locality, address.postal_code) == (
            "Hauptstraße 1",
            "Wien",
            "1010",
        )
        group = session.scalars(
            select(Contact)
            .join(DavItem, DavItem.id == Contact.item_id)
            .where(DavItem.uid == "proj-group")
        ).one()
        assert group.kind == "group"
        assert group.members == ["urn:uuid:ios-anna", "urn:uuid:android-1"]


def test_calendar_projection(admin: httpx.Client, server_db: Any) -> None:
    for url, body in (
        (
            "/dav/admin/calendar/p-series.ics",
            RECURRING_WITH_OVERRIDE.replace("series-1", "p-series"),
        ),
        ("/dav/admin/calendar/p-allday.ics", ALL_DAY.replace("allday-1", "p-allday")),
        ("/dav/admin/tasks/p-todo.ics", TODO_WITH_PARENT.replace("todo-child", "p-todo")),
    ):
        assert _put(admin, url, body, ICAL).status_code == 201
    with server_db.transaction("read") as session:
        rows = {o.uid: o for o in session.scalars(select(CalendarObject))}
    series = rows["p-series"]
    assert series.is_recurring
    assert series.override_count == 1
    assert series.start_utc == datetime(
        2026, 11, 2, 8, 0, tzinfo=UTC
    )  # Vienna is UTC+1 in November
    assert series.summary == "Weekly sync"
    assert series.recurrence_end is not None
    allday = rows["p-allday"]
    assert allday.all_day
    assert allday.start_utc == datetime(2026, 12, 24, tzinfo=UTC)
    todo = rows["p-todo"]
    assert todo.component == "VTODO"
    assert (todo.priority, todo.status, todo.percent_complete) == (1, "NEEDS-ACTION", 20)
    assert todo.due_utc == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert todo.related_to == ["todo-parent"]


def test_same_body_again_changes_nothing(admin: httpx.Client) -> None:
    url = "/dav/admin/contacts/noop.vcf"
    body = card("noop")
    first = _put(admin, url, body, VCARD)
    token, _, _ = sync(admin, "/dav/admin/contacts/")
    again = _put(admin, url, body, VCARD)
    assert again.status_code == 204
    assert again.headers["etag"] == first.headers["etag"]
    new_token, changes, _ = sync(admin, "/dav/admin/contacts/", token)
    assert new_token == token
    assert changes == {}


def test_duplicate_uid_is_refused(admin: httpx.Client) -> None:
    assert _put(admin, "/dav/admin/contacts/dup-a.vcf", card("dup"), VCARD).status_code == 201
    clash = _put(admin, "/dav/admin/contacts/dup-b.vcf", card("dup", "Other Name"), VCARD)
    assert clash.status_code == 409
    assert "no-uid-conflict" in clash.text
    assert admin.get("/dav/admin/contacts/dup-b.vcf").status_code == 404


def test_conditional_requests(admin: httpx.Client) -> None:
    url = "/dav/admin/contacts/cond.vcf"
    etag = _put(admin, url, card("cond"), VCARD).headers["etag"]
    assert _put(admin, url, card("cond"), {**VCARD, "If-None-Match": "*"}).status_code == 412
    changed = _put(admin, url, card("cond", "New Name"), {**VCARD, "If-Match": etag})
    assert changed.status_code == 204
    stale = _put(admin, url, card("cond", "Stale Write"), {**VCARD, "If-Match": etag})
    assert stale.status_code == 412
    assert "New Name" in admin.get(url).text
    assert admin.delete(url, headers={"If-Match": etag}).status_code == 412
    assert admin.delete(url, headers={"If-Match": changed.headers["etag"]}).status_code == 200
    assert admin.get(url).status_code == 404


def test_sync_collection_reports_changes_and_deletions(admin: httpx.Client) -> None:
    book = "/dav/admin/contacts/"
    token, _, _ = sync(admin, book)
    _put(admin, book + "s1.vcf", card("s1"), VCARD)
    _put(admin, book + "s2.vcf", card("s2"), VCARD)
    admin.delete(book + "s1.vcf")
    new_token, changes, _ = sync(admin, book, token)
    assert changes[book + "s2.vcf"].endswith("200 OK")
    assert changes[book + "s1.vcf"].endswith("404 Not Found")
    assert set(changes) == {book + "s1.vcf", book + "s2.vcf"}
    assert sync(admin, book, new_token)[1] == {}


@pytest.mark.parametrize(
    "token",
    ["urn:kmdav:sync:0000:1", "http://radicale.org/ns/sync/abc", "urn:kmdav:sync:{key}:999999"],
)
def test_unknown_or_foreign_tokens(admin: httpx.Client, token: str) -> None:
    current, _, _ = sync(admin, "/dav/admin/contacts/")
    key = current.split(":")[3]
    response = admin.request(
        "REPORT",
        "/dav/admin/contacts/",
        headers=XML,
        content=__import__("tests.dav.http", fromlist=["sync_report"]).sync_report(
            token.replace("{key}", key)
        ),
    )
    assert response.status_code == 403
    assert "valid-sync-token" in response.text


def test_token_of_another_collection_is_refused(admin: httpx.Client) -> None:
    calendar_token, _, _ = sync(admin, "/dav/admin/calendar/")
    from tests.dav.http import sync_report

    response = admin.request(
        "REPORT", "/dav/admin/contacts/", headers=XML, content=sync_report(calendar_token)
    )
    assert response.status_code == 403
    assert "valid-sync-token" in response.text


def test_sync_limit_pages_with_507(admin: httpx.Client) -> None:
    admin.request(
        "MKCOL",
        "/dav/admin/paged/",
        headers=XML,
        content=(
            '<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
            "<d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>"
            "</d:prop></d:set></d:mkcol>"
        ),
    )
    for n in range(5):
        assert _put(admin, f"/dav/admin/paged/p{n}.vcf", card(f"p{n}"), VCARD).status_code == 201
    seen: set[str] = set()
    token = ""
    for _ in range(10):
        token, changes, _ = sync(admin, "/dav/admin/paged/", token, limit=2)
        truncated = changes.pop("/dav/admin/paged/", None)
        seen |= set(changes)
        assert len(changes) <= 2
        if truncated is None:
            break
        assert truncated.endswith("507 Insufficient Storage")
    assert seen == {f"/dav/admin/paged/p{n}.vcf" for n in range(5)}


def test_calendar_query_time_ranges(admin: httpx.Client) -> None:
    cal = "/dav/admin/calendar/"
    floating = event("q-float", "20270310T100000", "20270310T110000", "Floating")
    mixed_exdate = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:q-mixed\r\n"
        "DTSTAMP:20261101T000000Z\r\nDTSTART:20270301T090000Z\r\nDTEND:20270301T100000Z\r\n"
        "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;VALUE=DATE:20270302\r\nEXDATE:20270303T090000Z\r\n"
        "SUMMARY:Mixed exdates\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    allday = ALL_DAY.replace("allday-1", "q-allday").replace("2026122", "2027031")
    for name, body in (
        ("q-float", floating),
        ("q-mixed", mixed_exdate),
        ("q-allday", allday),
        ("q-far", event("q-far", "20280101T100000Z", "20280101T110000Z")),
    ):
        response = _put(admin, f"{cal}{name}.ics", body, ICAL)
        assert response.status_code == 201, (name, response.text)
    query = (
        '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" '
        'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop>'
        '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
        '<c:time-range start="20270301T000000Z" end="20270320T000000Z"/>'
        "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
    )
    response = admin.request("REPORT", cal, content=query, headers={**XML, "Depth": "1"})
    assert response.status_code == 207
    assert all(f"{name}.ics" in response.text for name in ("q-float", "q-mixed", "q-allday"))
    assert "q-far.ics" not in response.text


def test_addressbook_query_by_email(admin: httpx.Client) -> None:
    _put(admin, "/dav/admin/contacts/findme.vcf", card("findme", "Find Me"), VCARD)
    query = (
        '<?xml version="1.0"?><c:addressbook-query xmlns:d="DAV:" '
        'xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop>'
        '<c:filter><c:prop-filter name="EMAIL"><c:text-match match-type="contains">'
        "findme@example</c:text-match></c:prop-filter></c:filter></c:addressbook-query>"
    )
    response = admin.request(
        "REPORT", "/dav/admin/contacts/", content=query, headers={**XML, "Depth": "1"}
    )
    assert response.status_code == 207
    assert "findme.vcf" in response.text
    assert "noop.vcf" not in response.text


def test_proppatch_of_resourcetype_fails_as_a_whole(admin: httpx.Client) -> None:
    body = (
        '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
        'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
        "<d:displayname>Hijacked</d:displayname>"
        "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>"
        "</d:prop></d:set></d:propertyupdate>"
    )
    response = admin.request("PROPPATCH", "/dav/admin/contacts/", content=body, headers=XML)
    assert response.status_code == 403
    listing = admin.request("PROPFIND", "/dav/admin/contacts/", headers={"Depth": "0"})
    assert "addressbook" in listing.text
    assert "Hijacked" not in listing.text


def test_proppatch_displayname_moves_ctag(admin: httpx.Client) -> None:
    def ctag() -> str:
        text = admin.request("PROPFIND", "/dav/admin/calendar/", headers={"Depth": "0"}).text
        return text.split("getctag>")[1]

    before = ctag()
    body = (
        '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
        "<d:displayname>Team calendar</d:displayname></d:prop></d:set></d:propertyupdate>"
    )
    assert (
        admin.request("PROPPATCH", "/dav/admin/calendar/", content=body, headers=XML).status_code
        == 207
    )
    assert ctag() != before


def test_well_known_redirects(dav_server: Any) -> None:
    for name in ("carddav", "caldav"):
        response = httpx.get(f"{dav_server.url}/.well-known/{name}", follow_redirects=False)
        assert response.status_code == 301
        assert response.headers["location"].endswith("/dav/")


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:broken\r\n", VCARD, 400, ""),
        (card("ct"), {"Content-Type": "image/png"}, 415, "text/vcard"),
        (event("wrong-kind"), ICAL, 400, ""),
    ],
)
def test_bad_bodies_store_nothing(
    admin: httpx.Client, body: str, headers: dict[str, str], status: int, message: str
) -> None:
    token, _, _ = sync(admin, "/dav/admin/contacts/")
    response = _put(admin, "/dav/admin/contacts/bad.vcf", body, headers)
    assert response.status_code == status, response.text
    assert message in response.text
    assert admin.get("/dav/admin/contacts/bad.vcf").status_code == 404
    assert sync(admin, "/dav/admin/contacts/", token)[1] == {}


def test_a_chunked_put_is_stored_as_sent(admin: httpx.Client) -> None:
    # No Content-Length: the bridge reads the body chunk by chunk.
    body = photo_card("chunked-1", 40_000).encode()
    parts = (body[i : i + 7_000] for i in range(0, len(body), 7_000))
    created = admin.put("/dav/admin/contacts/chunked.vcf", content=parts, headers=VCARD)
    assert created.status_code == 201, created.text
    assert admin.get("/dav/admin/contacts/chunked.vcf").content == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><d:propfind xmlns:d="DAV:">'
            "<d:prop><d:displayname/></d:prop></d:propfind>",
            "DOCTYPE",
        ),
        (
            '<?xml version="1.0"?><d:propfind xmlns:d="DAV:">'
            + "<d:prop>" * 200
            + "</d:prop>" * 200
            + "</d:propfind>",
            "nested",
        ),
        ("<d:propfind xmlns:d='DAV:'><unclosed></d:propfind>", "well-formed"),
    ],
)
def test_hostile_xml_is_refused(admin: httpx.Client, body: str, message: str) -> None:
    response = admin.request(
        "PROPFIND", "/dav/admin/contacts/", content=body, headers={**XML, "Depth": "0"}
    )
    assert response.status_code == 400
    assert message in response.text


def test_path_tricks_are_refused(dav_server: Any) -> None:
    raw = f"{dav_server.url}/dav/admin/contacts/%2e%2e/%2e%2e/bob/contacts/"
    response = httpx.request("PROPFIND", raw, auth=("admin", "admin-password-1"))
    assert response.status_code == 400


def test_log_lines_carry_request_id_user_and_path(admin: httpx.Client, dav_server: Any) -> None:
    admin.put(
        "/dav/admin/contacts/logged.vcf",
        content=b"BEGIN:VCARD\r\nFN:broken",
        headers={**VCARD, "X-Request-ID": "req-7f3a9c"},
    )
    log = (dav_server.data_dir / "server.log").read_text(errors="replace")
    lines = [line for line in log.splitlines() if "req-7f3a9c" in line]
    assert lines, log[-2000:]
    assert all("req-7f3a9c admin PUT /dav/admin/contacts/logged.vcf" in line for line in lines)
    assert "admin-password-1" not in log


def test_radicale_web_pages_stay_off(dav_server: Any) -> None:
    for path in ("/dav/", "/dav/.web", "/dav/.web/index.html"):
        response = httpx.get(dav_server.url + path, follow_redirects=False)
        assert response.status_code == 302, path
        assert response.headers["location"] == "/"
    assert "Radicale" not in httpx.get(dav_server.url + "/dav/", follow_redirects=True).text
