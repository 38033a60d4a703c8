"""Subscription links on a live server: made on the sharing page, fetched
like Outlook or Google would, with ETag/304, revocation and lost access."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import httpx
import icalendar
import pytest

from kmdav.accounts.modules import DEFAULT_SEATS
from tests.dav.cards import RECURRING_WITH_OVERRIDE, TODO_WITH_PARENT, event
from tests.web.conftest import WebClient, WebServer, field_error, unique
from tests.web.test_sharing import _collection_id

pytestmark = pytest.mark.live

PAGE = "/web/sharing"
PASSWORD = "feed-password-1"
_NEW_URL = re.compile(r'id="new-feed-url"[^>]*value="([^"]+)"')


@dataclass
class Person:
    web: WebClient
    name: str


PersonMaker = Callable[..., Person]


@pytest.fixture
def person(web_server: WebServer, admin: WebClient) -> Iterator[PersonMaker]:
    """Makes a fresh user with ``seats`` (by default calendar and tasks), logged in."""
    made: list[WebClient] = []

    def make(role: str, seats: Sequence[str] = DEFAULT_SEATS) -> Person:
        name = unique(role)
        admin.create_user(name, PASSWORD, modules=seats)
        client = WebClient(web_server)
        made.append(client)
        assert client.login(name, PASSWORD).status_code == 303
        return Person(client, name)

    yield make
    for client in made:
        client.close()


def _put(server: WebServer, user: str, path: str, body: str) -> None:
    response = httpx.put(
        f"{server.url}/dav/{path}",
        content=body,
        headers={"Content-Type": "text/calendar"},
        auth=(user, PASSWORD),
        timeout=30,
    )
    assert response.status_code in (201, 204), response.text


def _make_link(person: Person, calendar_id: int, name: str) -> tuple[str, int]:
    """Through the form: (the URL shown once, the feed's id)."""
    answer = person.web.post(PAGE + "/feeds", {"calendar": str(calendar_id), "name": name})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    match = _NEW_URL.search(answer.text)
    assert match, answer.text
    feed_ids = re.findall(r'id="feed-(\d+)"', answer.text)
    return html.unescape(match.group(1)), int(feed_ids[-1])


def _fetch(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=60)


def test_a_link_made_on_the_sharing_page_serves_the_calendar_with_etags(
    web_server: WebServer, person: PersonMaker
) -> None:
    owner = person("owner")
    calendar = f"{owner.name}/calendar"
    _put(web_server, owner.name, f"{calendar}/series.ics", RECURRING_WITH_OVERRIDE)
    _put(web_server, owner.name, f"{calendar}/kickoff.ics", event("kickoff", summary="Kick-off"))
    _put(web_server, owner.name, f"{owner.name}/tasks/todo.ics", TODO_WITH_PARENT)

    url, feed_id = _make_link(owner, _collection_id(web_server, calendar), "Outlook at work")
    assert re.fullmatch(re.escape(web_server.url) + r"/ics/[A-Za-z0-9_-]{43}\.ics", url)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    stored = web_server.query("SELECT token_hash FROM calendar_feeds WHERE id = :id", id=feed_id)
    assert token not in str(stored)
    page = owner.web.get(PAGE)
    assert token not in page.text  # shown once, in the answer to the form
    assert "Outlook at work" in page.text

    feed = _fetch(url)
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert feed.headers["cache-control"] == "private, max-age=300"
    assert feed.headers["content-disposition"].startswith('inline; filename="Calendar.ics"')
    parsed = icalendar.Calendar.from_ical(feed.content)
    assert str(parsed["X-WR-CALNAME"]) == "Calendar"
    events = {(str(e["SUMMARY"]), "RECURRENCE-ID" in e) for e in parsed.walk("VEVENT")}
    assert events == {("Weekly sync", False), ("Weekly sync (moved)", True), ("Kick-off", False)}
    (master,) = [e for e in parsed.walk("VEVENT") if "RRULE" in e]
    assert master["EXDATE"].dts[0].dt.day == 16
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == ["Custom/Vienna"]
    assert parsed.walk("VTODO") == []  # the task list is not part of a calendar's feed

    etag = feed.headers["etag"]
    # httpx asks for gzip, as Outlook and Google do: a smaller body, its own ETag.
    assert feed.headers["content-encoding"] == "gzip"
    assert feed.headers["vary"] == "Accept-Encoding"
    assert int(feed.headers["content-length"]) < len(feed.content)
    plain = _fetch(url, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == feed.content
    assert plain.headers["etag"] != etag
    assert _fetch(url, **{"If-None-Match": plain.headers["etag"]}).status_code == 304
    unchanged = _fetch(url, **{"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert unchanged.headers["cache-control"] == "private, max-age=300"
    assert _fetch(url, **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    head = httpx.head(url, timeout=30)
    assert head.status_code == 200
    assert head.headers["etag"] == etag
    assert head.content == b""

    _put(web_server, owner.name, f"{calendar}/later.ics", event("later", summary="Later"))
    changed = _fetch(url, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert b"SUMMARY:Later" in changed.content

    # "Last fetched" is noted after the answer went out.
    for _ in range(50):
        noted = web_server.query(
            "SELECT last_fetched_at FROM calendar_feeds WHERE id = :id", id=feed_id
        )
        if noted[0][0] is not None:
            break
        time.sleep(0.1)
    assert noted[0][0] is not None
    row = re.search(rf'<tr id="feed-{feed_id}">.*?</tr>', owner.web.get(PAGE).text, re.S)
    assert row
    assert "never" not in row.group(0)

    revoked = owner.web.post(f"{PAGE}/feeds/{feed_id}/revoke", {})
    assert revoked.status_code == 303
    assert "The subscription link is revoked." in owner.web.get(revoked.headers["location"]).text
    gone = _fetch(url)
    assert gone.status_code == 404
    assert b"BEGIN:VCALENDAR" not in gone.content
    assert _fetch(url, **{"If-None-Match": etag}).status_code == 404
    audit = web_server.query(
        "SELECT action, object_id FROM audit_log WHERE action LIKE 'calendar_feed.%' "
        "AND actor_name = :name ORDER BY id",
        name=owner.name,
    )
    assert [tuple(row) for row in audit] == [
        ("calendar_feed.create", calendar),
        ("calendar_feed.revoke", calendar),
    ]


def test_a_sharees_link_stops_when_the_share_is_removed(
    web_server: WebServer, person: PersonMaker
) -> None:
    owner, other = person("owner"), person("other")
    calendar = f"{owner.name}/calendar"
    calendar_id = _collection_id(web_server, calendar)
    _put(web_server, owner.name, f"{calendar}/board.ics", event("board", summary="Board"))
    shared = owner.web.post(
        f"{PAGE}/{calendar_id}/shares", {"user": other.name, "group": "", "access": "read"}
    )
    assert shared.status_code == 303
    offered = other.web.get(PAGE).text
    assert f"Calendar (from {owner.name})" in offered

    url, _ = _make_link(other, calendar_id, "Google")
    assert b"SUMMARY:Board" in _fetch(url).content

    share_id = web_server.query(
        "SELECT id FROM collection_shares WHERE collection_id = :id", id=calendar_id
    )[0][0]
    assert owner.web.post(f"{PAGE}/shares/{share_id}/remove", {}).status_code == 303
    assert _fetch(url).status_code == 404
    assert "paused: no access to the calendar" in other.web.get(PAGE).text


def test_unknown_and_malformed_tokens_are_the_same_404(web_server: WebServer) -> None:
    answers = [
        _fetch(f"{web_server.url}/ics/{candidate}")
        for candidate in (
            "A" * 43 + ".ics",  # well-formed, unknown
            "short.ics",
            "%2E%2E%2Fetc%2Fpasswd.ics",
            "A" * 43,  # no .ics
        )
    ]
    assert [answer.status_code for answer in answers] == [404] * 4
    assert answers[0].content == answers[1].content == answers[2].content


def test_the_form_refuses_bad_input_next_to_its_field(
    web_server: WebServer, person: PersonMaker
) -> None:
    owner, other = person("owner"), person("other")
    own_id = _collection_id(web_server, f"{owner.name}/calendar")
    blank = owner.web.post(PAGE + "/feeds", {"calendar": str(own_id), "name": "  "})
    assert blank.status_code == 400
    assert field_error(blank.text, "name") == "name the link in 1 to 100 characters"
    foreign_id = _collection_id(web_server, f"{other.name}/calendar")
    for value in (str(foreign_id), "", "abc"):
        refused = owner.web.post(PAGE + "/feeds", {"calendar": value, "name": "Sneaky"})
        assert refused.status_code == 400
        assert "choose one of your calendars" in field_error(refused.text, "calendar")
    assert web_server.query(
        "SELECT count(*) FROM calendar_feeds JOIN users ON users.id = calendar_feeds.user_id "
        "WHERE users.username = :name",
        name=owner.name,
    ) == [(0,)]


def test_links_need_the_calendar_seat(web_server: WebServer, person: PersonMaker) -> None:
    seatless = person("noseat", seats=["tasks"])
    assert 'id="feeds"' not in seatless.web.get(PAGE).text
    calendar_id = _collection_id(web_server, f"{seatless.name}/calendar")
    refused = seatless.web.post(PAGE + "/feeds", {"calendar": str(calendar_id), "name": "x"})
    assert refused.status_code == 403
    assert "no seat for the Calendar module" in refused.text


def test_the_page_speaks_german(web_server: WebServer, person: PersonMaker) -> None:
    owner = person("owner")
    assert owner.web.post("/web/language", {"language": "de", "next": PAGE}).status_code == 303
    page = owner.web.get(PAGE).text
    assert "Abonnement-Links (ICS)" in page
    calendar_id = _collection_id(web_server, f"{owner.name}/calendar")
    blank = owner.web.post(PAGE + "/feeds", {"calendar": str(calendar_id), "name": ""})
    assert "1 bis 100 Zeichen" in field_error(blank.text, "name")
