"""/web/admin/audit on a live server: newest first, filters, pages, bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kmdav import audit
from kmdav.db import Database
from tests.web.conftest import WebClient, WebServer, field_error, unique

pytestmark = pytest.mark.live

PATH = "/web/admin/audit"


def _record(server: WebServer, actor: str, count: int, details: dict[str, object]) -> None:
    database = Database(server.database_url)
    database.open()
    try:
        with database.transaction() as session:
            who = audit.Actor(actor, "dav", None, "192.0.2.7")
            for number in range(count):
                audit.record(session, who, "test.event", "item", f"n{number}", details)
    finally:
        database.close()


def _ids(page: httpx.Response) -> list[int]:
    return [int(value) for value in re.findall(r'<tr data-id="(\d+)">', page.text)]


def _link(page: httpx.Response, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', page.text)
    return match[1].replace("&amp;", "&") if match else None


def test_the_audit_log_is_in_the_admin_navigation(admin: WebClient) -> None:
    assert 'href="/web/admin/audit"' in admin.get("/web/").text


def test_entries_newest_first_filtered_and_paged(web_server: WebServer, admin: WebClient) -> None:
    actor = unique("bulk")
    _record(web_server, actor, 55, {"n": 1})
    first = admin.get(PATH, params={"actor": actor.upper()})
    assert first.status_code == 200
    ids = _ids(first)
    assert len(ids) == 50
    assert ids == sorted(ids, reverse=True)
    assert "192.0.2.7" in first.text
    assert ">dav<" in first.text
    assert _link(first, "prev") is None
    older_url = _link(first, "next")
    assert older_url is not None
    second = admin.get(older_url)
    rest = _ids(second)
    assert len(rest) == 5
    assert max(rest) < min(ids)
    assert _link(second, "next") is None
    newer_url = _link(second, "prev")
    assert newer_url is not None
    assert _ids(admin.get(newer_url)) == ids
    # Filters combine, and the action list offers what the log holds.
    assert '<option value="test.event"' in first.text
    only = admin.get(PATH, params={"actor": actor, "action": "web.login"})
    assert _ids(only) == []
    assert "No entries match." in only.text
    today = datetime.now(UTC).date()
    dated = {"actor": actor, "from": str(today - timedelta(days=1)), "to": str(today)}
    assert len(_ids(admin.get(PATH, params=dated))) == 50
    past = {"actor": actor, "to": str(today - timedelta(days=1))}
    assert _ids(admin.get(PATH, params=past)) == []


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-13-01"}, "from", "YYYY-MM-DD"),
        ({"to": "yesterday"}, "to", "YYYY-MM-DD"),
        ({"from": "2026-11-20", "to": "2026-11-01"}, "to", "before the start"),
        ({"action": "no.such.action"}, "action", "from the list"),
        ({"actor": "x" * 65}, "actor", "at most 64"),
    ],
)
def test_bad_filters_are_errors_next_to_their_fields(
    admin: WebClient, params: dict[str, str], field: str, message: str
) -> None:
    page = admin.get(PATH, params=params)
    assert page.status_code == 400
    assert message in field_error(page.text, field)


@pytest.mark.parametrize("cursor", [{"before": "abc"}, {"after": "-1"}, {"before": "9" * 40}])
def test_broken_page_links_are_errors(admin: WebClient, cursor: dict[str, str]) -> None:
    page = admin.get(PATH, params=cursor)
    assert page.status_code == 400
    assert "page link is broken" in page.text


def test_details_are_shown_escaped(web_server: WebServer, admin: WebClient) -> None:
    actor = unique("html")
    _record(web_server, actor, 1, {"device": "<script>alert(1)</script>", "count": 3})
    page = admin.get(PATH, params={"actor": actor})
    assert "<script>alert" not in page.text
    assert "device: &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "count: 3" in page.text
