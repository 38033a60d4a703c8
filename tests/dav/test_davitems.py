"""Item responses written as text are, byte for byte, Radicale's own.

Radicale's application runs here on its own file storage (the written
responses do not depend on kmdav's), once with kmdav's builders and once
with Radicale's; the two answers must be the same bytes for every request.
"""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest
import radicale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from radicale import config as radicale_config

from kmdav.faces import davitems, davspeed

BOOK = "/alice/book/"
CALENDAR = "/alice/calendar/"
CARDS = {
    "card-1.vcf": "Ann & <Bob>",
    "zoë card.vcf": "Zoë 😀",
    "a%20b.vcf": "quotes \" and ' and ]]>",
}
EVENTS = {"event-1.ics": 1, "two events.ics": 2}


def _card(uid: str, name: str) -> str:
    return f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n"


def _calendar(uid: str, count: int) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20270101T000000Z\r\n"
        + (f"RECURRENCE-ID:2027010{index}T090000Z\r\n" if index else "RRULE:FREQ=DAILY\r\n")
        + f"DTSTART:2027010{index + 1}T090000Z\r\nSUMMARY:Meet & greet {index}\r\nEND:VEVENT\r\n"
        for index in range(count)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n"


class Radicale:
    """Radicale's application on its file storage, called as WSGI."""

    def __init__(self, folder: Path) -> None:
        davspeed.install()
        davitems.install()
        configuration = radicale_config.load([])
        configuration.update(
            {
                "auth": {"type": "remote_user", "delay": "0"},
                "rights": {"type": "authenticated"},
                "storage": {"filesystem_folder": str(folder)},
                "web": {"type": "none"},
                "server": {"delay_on_error": "0"},
            },
            "test",
        )
        self.app = radicale.Application(configuration)

    def __call__(
        self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
    ) -> tuple[str, bytes]:
        data = body.encode()
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "/dav",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_USER": "alice",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
        }
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        answer: dict[str, Any] = {}

        def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
            answer["status"] = status

        body_out = b"".join(self.app(environ, start_response))
        return answer["status"], body_out


@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory) -> Radicale:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    mkcol = (
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="{ns}"><D:set><D:prop>'
        "<D:resourcetype><D:collection/><C:{kind}/></D:resourcetype>"
        "</D:prop></D:set></D:mkcol>"
    )
    carddav = "urn:ietf:params:xml:ns:carddav"
    caldav = "urn:ietf:params:xml:ns:caldav"
    assert server("MKCOL", BOOK, mkcol.format(ns=carddav, kind="addressbook"))[0].startswith("201")
    assert server("MKCOL", CALENDAR, mkcol.format(ns=caldav, kind="calendar"))[0].startswith("201")
    for index, (name, full_name) in enumerate(CARDS.items()):
        status, _ = server("PUT", BOOK + name, _card(f"c{index}", full_name))
        assert status.startswith("201"), status
    for name, count in EVENTS.items():
        status, _ = server("PUT", CALENDAR + name, _calendar(name, count))
        assert status.startswith("201"), status
    return server


def both_ways(dav: Radicale, *request: Any) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    """The answer with kmdav's written responses, and Radicale's own."""
    written = dav(*request)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(davitems, "PROPFIND_PROPS", frozenset())
        patch.setattr(davitems, "_written_report", lambda *args: None)
        radicales = dav(*request)
    return written, radicales


D_PROPS = ["D:getetag", "D:getcontenttype", "D:getlastmodified", "D:resourcetype"]
OTHER_PROPS = ["D:displayname", "D:getcontentlength", "D:owner", "C:calendar-data"]


def _propfind(props: list[str]) -> str:
    listed = "".join(f"<{prop}/>" for prop in props)
    return (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
        f'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>{listed}</D:prop></D:propfind>'
    )


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.sampled_from(D_PROPS + OTHER_PROPS), min_size=1, max_size=5),
    st.sampled_from([BOOK, CALENDAR, BOOK + "card-1.vcf", CALENDAR + "two events.ics"]),
    st.sampled_from(["0", "1"]),
)
def test_propfind_answers_are_radicale_s(
    dav: Radicale, props: list[str], path: str, depth: str
) -> None:
    written, radicales = both_ways(
        dav, "PROPFIND", path, _propfind(props), {"Depth": depth, "Content-Type": "text/xml"}
    )
    assert written == radicales
    assert written[0].startswith("207")


def test_a_listing_is_written(dav: Radicale) -> None:
    """The common listing does take the written path (the test above would
    pass if it never did)."""
    seen = []
    original = davspeed.written

    def spy(*args: Any) -> Any:
        seen.append(args[1])
        return original(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(davspeed, "written", spy)
        status, body = dav(
            "PROPFIND", BOOK, _propfind(["D:getetag", "D:getcontenttype"]), {"Depth": "1"}
        )
    assert status.startswith("207")
    assert len(seen) == len(CARDS)
    assert all(xml in body.decode() for xml in seen)


HREFS = st.sampled_from(
    [
        *(f"/dav{BOOK}{name}" for name in CARDS),
        *(f"/dav{CALENDAR}{name}" for name in EVENTS),
        f"/dav{BOOK}zo%C3%AB%20card.vcf",
        f"/dav{BOOK}a%2520b.vcf",
        f"/dav{BOOK}missing.vcf",
        f"/dav{BOOK}card-1.vcf?x=1",
        f"/dav{BOOK}card-1.vcf;param",
        f"/dav{BOOK}card-1.vcf#top",
        f"/dav{BOOK}./card-1.vcf",
        f"/dav{BOOK}../book/card-1.vcf",
        f"/dav{BOOK}",
        f"/dav{BOOK}nested/card.vcf",
        f"//dav{BOOK}card-1.vcf",
        f"http://example.com/dav{BOOK}card-1.vcf",
        f" /dav{BOOK}card-1.vcf",
        f"/dav{BOOK}card-\t1.vcf",
        "/elsewhere/card-1.vcf",
        "",
    ]
)
REPORT_PROPS = [
    "D:getetag",
    "D:getcontenttype",
    "CR:address-data",
    "C:calendar-data",
    "D:getlastmodified",
]


def _multiget(report: str, props: list[str], hrefs: list[str]) -> str:
    listed = "".join(f"<{prop}/>" for prop in props)
    refs = "".join(f"<D:href>{href}</D:href>" for href in hrefs)
    return (
        '<?xml version="1.0"?>'
        f'<R:{report} xmlns:D="DAV:" xmlns:R="urn:ietf:params:xml:ns:'
        f'{"carddav" if report.startswith("address") else "caldav"}" '
        'xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop>{listed}</D:prop>{refs}</R:{report}>"
    )


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["addressbook-multiget", "calendar-multiget"]),
    st.sampled_from([BOOK, CALENDAR]),
    st.lists(st.sampled_from(REPORT_PROPS), max_size=4),
    st.lists(HREFS, max_size=6),
)
def test_multiget_answers_are_radicale_s(
    dav: Radicale, report: str, path: str, props: list[str], hrefs: list[str]
) -> None:
    written, radicales = both_ways(
        dav,
        "REPORT",
        path,
        _multiget(report, props, hrefs),
        {"Depth": "0", "Content-Type": "text/xml"},
    )
    assert written == radicales


def test_a_multiget_is_written(dav: Radicale) -> None:
    hrefs = [quote(f"/dav{BOOK}{name}") for name in CARDS] + [f"/dav{BOOK}missing.vcf"]
    body = _multiget("addressbook-multiget", ["D:getetag", "CR:address-data"], hrefs)
    calls = []
    original = davitems._written_report

    def spy(*args: Any) -> Any:
        answer = original(*args)
        calls.append(answer)
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(davitems, "_written_report", spy)
        status, answer = dav("REPORT", BOOK, body, {"Depth": "0"})
    assert status.startswith("207")
    assert len(calls) == 1
    assert calls[0] is not None
    root = ET.fromstring(answer)
    data = root.findall(".//{urn:ietf:params:xml:ns:carddav}address-data")
    assert sorted(element.text or "" for element in data) == sorted(
        _card(f"c{index}", name).replace("\r\n", "\n") for index, name in enumerate(CARDS.values())
    )
    statuses = [element.text for element in root.iter("{DAV:}status")]
    assert statuses.count("HTTP/1.1 404 Not Found") == 1


def _sync(token: str | None, props: list[str], limit: int | None = None) -> str:
    listed = "".join(f"<{prop}/>" for prop in props)
    token_xml = "" if token is None else f"<D:sync-token>{token}</D:sync-token>"
    limit_xml = f"<D:limit><D:nresults>{limit}</D:nresults></D:limit>" if limit else ""
    return (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
        f"{token_xml}<D:sync-level>1</D:sync-level>{limit_xml}"
        f"<D:prop>{listed}</D:prop></D:sync-collection>"
    )


def _token(answer: bytes) -> str:
    return ET.fromstring(answer).findtext("{DAV:}sync-token") or ""


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([BOOK, CALENDAR]),
    st.sampled_from([None, "", "bogus", "http://radicale.org/ns/sync/0"]),
    st.lists(st.sampled_from(["D:getetag", "D:getcontenttype", "D:getlastmodified"]), max_size=3),
    st.sampled_from([None, 1]),
)
def test_sync_collection_answers_are_radicale_s(
    dav: Radicale, path: str, token: str | None, props: list[str], limit: int | None
) -> None:
    written, radicales = both_ways(
        dav, "REPORT", path, _sync(token, props, limit), {"Depth": "1", "Content-Type": "text/xml"}
    )
    assert written == radicales


def test_incremental_sync_with_changes_and_deletions(dav: Radicale) -> None:
    """Changed items are written; deleted ones come back as 404, as Radicale
    reports them."""
    book = "/alice/changes/"
    mkcol = (
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
        "<D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
        "</D:prop></D:set></D:mkcol>"
    )
    assert dav("MKCOL", book, mkcol)[0].startswith("201")
    for index in range(3):
        assert (
            dav("PUT", f"{book}c{index}.vcf", _card(f"x{index}", f"Card {index}"))[0][:3] == "201"
        )
    props = ["D:getetag", "D:getcontenttype"]
    status, answer = dav("REPORT", book, _sync("", props), {"Depth": "1"})
    assert status.startswith("207")
    token = _token(answer)
    assert dav("PUT", f"{book}c0.vcf", _card("x0", "Renamed & <new>"))[0][:3] == "204"
    assert dav("DELETE", f"{book}c1.vcf")[0][:3] == "200"
    assert dav("PUT", f"{book}c3.vcf", _card("x3", "Card 3"))[0][:3] == "201"
    calls = []
    original = davitems._written_report

    def spy(*args: Any) -> Any:
        calls.append(original(*args))
        return calls[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(davitems, "_written_report", spy)
        written = dav("REPORT", book, _sync(token, props), {"Depth": "1"})
    assert len(calls) == 1
    assert calls[0] is not None
    assert written == both_ways(dav, "REPORT", book, _sync(token, props), {"Depth": "1"})[1]
    root = ET.fromstring(written[1])
    statuses = {
        element.findtext("{DAV:}href"): element.findtext(".//{DAV:}status")
        for element in root.findall("{DAV:}response")
    }
    assert statuses == {
        "/dav/alice/changes/c0.vcf": "HTTP/1.1 200 OK",
        "/dav/alice/changes/c1.vcf": "HTTP/1.1 404 Not Found",
        "/dav/alice/changes/c3.vcf": "HTTP/1.1 200 OK",
    }


def test_too_many_events_are_refused_both_ways(
    dav: Radicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Radicale counts the VEVENTs a multiget returns against
    # max_expand_occurrence and answers 400 past it; so does the written path.
    monkeypatch.setitem(dav.app.configuration._values["reporting"], "max_expand_occurrence", 2)
    hrefs = [f"/dav{CALENDAR}{name}" for name in EVENTS]
    body = _multiget("calendar-multiget", ["C:calendar-data"], hrefs)
    written, radicales = both_ways(dav, "REPORT", CALENDAR, body, {"Depth": "0"})
    assert written[0].startswith("400")
    assert written == radicales


def test_written_responses_rebuild_for_element_tree(dav: Radicale) -> None:
    """With Radicale's debug logging on, answers go to ElementTree: the
    written responses are rebuilt as Radicale's elements first."""
    body = _multiget(
        "addressbook-multiget", ["D:getetag", "CR:address-data"], [f"/dav{BOOK}card-1.vcf"]
    )
    fast = dav("REPORT", BOOK, body, {"Depth": "0"})
    logger = davspeed.radicale_logger
    level = logger.level
    logger.setLevel("DEBUG")
    try:
        slow = dav("REPORT", BOOK, body, {"Depth": "0"})
    finally:
        logger.setLevel(level)
    assert fast == slow


@given(st.text(alphabet="/;?#\t\r\n :%a.é", max_size=12))
def test_href_path_is_urlparse_s(text: str) -> None:
    assert davitems.href_path(text) == urlparse(text).path


def test_pretty_request_text_is_radicale_s() -> None:
    # Radicale pretty-prints each request into its log line through
    # xmlutils.ET.tostring, which davspeed serves.
    from radicale import xmlutils

    root = ET.fromstring(_multiget("addressbook-multiget", ["D:getetag"], ["/a", "/b &amp; c"]))
    assert xmlutils.ET.tostring(root, "unicode") == ET.tostring(root, "unicode")
    assert xmlutils.ET.tostring(root) == ET.tostring(root)
