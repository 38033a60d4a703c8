"""The time-range record is stored with the body (``dav_items.time_ranges``).

A PUT through the storage plugin walks the tree Radicale parsed and keeps
the record in the row; another Storage (a restart, another worker) with an
empty cache answers a calendar-query from it without parsing a body, and a
PUT of a changed body replaces it.
"""

from __future__ import annotations

import importlib
import secrets
from typing import Any

import pytest
import vobject
from kmdav.storage import get as storage_get
from kmdav.storage import timerange
from sqlalchemy import Engine, select, update

from kmdav.models import DavItem
from tests.calendar.samples import VTIMEZONE_VIENNA
from tests.dav.conftest import _configuration, prepared_item
from tests.dav.test_timerange_differential import _filter

WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
{tz}BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Vienna:20260105T090000
DTEND;TZID=Europe/Vienna:20260105T100000
RRULE:{rule}
EXDATE;TZID=Europe/Vienna:20261207T090000
SUMMARY:{uid}
END:VEVENT
END:VCALENDAR
"""


def _body(uid: str, rule: str) -> str:
    return WEEKLY.format(tz=VTIMEZONE_VIENNA, uid=uid, rule=rule).replace("\n", "\r\n")


def _fresh_storage(kmdav_database: Any) -> Any:
    module = importlib.import_module("kmdav.storage")
    return module.Storage(_configuration(), kmdav_database, "company/contacts")


def _upload(storage: Any, path: str, bodies: dict[str, str]) -> None:
    home = path.split("/", maxsplit=1)[0]
    with storage.acquire_lock("w", home):
        storage.create_collection(f"/{home}/")
        if not list(storage.discover(f"/{path}/")):
            storage.create_collection(f"/{path}/", props={"tag": "VCALENDAR"})
        (collection,) = storage.discover(f"/{path}/")
        for href, text in bodies.items():
            collection.upload(href, prepared_item(path, text))


def _stored(engine: Engine, uid: str) -> bytes | None:
    with engine.connect() as connection:
        found: bytes | None = connection.execute(
            select(DavItem.time_ranges).where(DavItem.uid == uid)
        ).scalar_one()
    return found


def _claimed_without_parsing(
    storage: Any, path: str, start: str, end: str, monkeypatch: pytest.MonkeyPatch
) -> set[str]:
    """The hrefs a fresh process answers for the window; every candidate
    must be decided from the stored record (parsing a body fails)."""

    def no_parse(_item: Any) -> Any:
        raise AssertionError("a body was parsed")

    timerange.RECORDS = timerange.RecordCache()
    with monkeypatch.context() as patched:
        patched.setattr(storage_get.Item, "vobject_item", property(no_parse))
        patched.setattr(timerange, "record", no_parse)
        (collection,) = storage.discover(f"/{path}/")
        answered = list(collection.get_filtered([_filter("VEVENT", start, end)]))
    assert all(matched for _item, matched in answered)
    return {item.href for item, _matched in answered}


def test_the_stored_record_survives_a_restart(
    kmdav_database: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "u" + secrets.token_hex(4) + "/cal"
    _upload(
        _fresh_storage(kmdav_database),
        path,
        {"series.ics": _body("restarted", "FREQ=WEEKLY;COUNT=150")},
    )
    stored = _stored(engine, "restarted")
    assert stored is not None
    parsed = vobject.readOne(_body("restarted", "FREQ=WEEKLY;COUNT=150"))
    assert stored == timerange.stored_record(parsed, "VEVENT")

    restarted = _fresh_storage(kmdav_database)
    window = ("20261130T000000Z", "20261206T000000Z")
    assert _claimed_without_parsing(restarted, path, *window, monkeypatch) == {"series.ics"}
    # the EXDATE week: the series is a candidate and decided "no" from the record
    excluded = ("20261207T000000Z", "20261208T000000Z")
    assert _claimed_without_parsing(restarted, path, *excluded, monkeypatch) == set()


def test_long_series_are_not_walked_inside_the_put(kmdav_database: Any, engine: Engine) -> None:
    """An endless rule, or more ranges than a PUT may spend on, leave NULL:
    the first query of each process walks them (as for rows from before 0012)."""
    path = "u" + secrets.token_hex(4) + "/cal"
    over = timerange.STORED_MAX_RANGES + 1
    _upload(
        _fresh_storage(kmdav_database),
        path,
        {
            "endless.ics": _body("endless", "FREQ=WEEKLY"),
            "long.ics": _body("long", f"FREQ=DAILY;COUNT={over}"),
            "short.ics": _body("short", "FREQ=DAILY;COUNT=20"),
        },
    )
    assert _stored(engine, "endless") is None
    assert _stored(engine, "long") is None
    assert _stored(engine, "short") is not None


def test_a_changed_body_replaces_the_record(
    kmdav_database: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "u" + secrets.token_hex(4) + "/cal"
    storage = _fresh_storage(kmdav_database)
    _upload(storage, path, {"series.ics": _body("series", "FREQ=WEEKLY;COUNT=100")})
    before = _stored(engine, "series")
    _upload(storage, path, {"series.ics": _body("series", "FREQ=WEEKLY;UNTIL=20261201T000000Z")})
    after = _stored(engine, "series")
    assert before is not None
    assert after is not None
    assert after != before
    shortened = timerange.Record.from_bytes(after)
    assert shortened is not None
    assert shortened.complete
    assert len(shortened) < 60

    window = ("20261214T000000Z", "20261221T000000Z")
    # the new record is read: the series ended before the window
    assert (
        _claimed_without_parsing(_fresh_storage(kmdav_database), path, *window, monkeypatch)
        == set()
    )


def test_rows_without_a_record_are_walked(
    kmdav_database: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bodies stored before migration 0012 (or by the web UI) have none."""
    path = "u" + secrets.token_hex(4) + "/cal"
    _upload(_fresh_storage(kmdav_database), path, {"old.ics": _body("old", "FREQ=WEEKLY")})
    with engine.begin() as connection:
        connection.execute(update(DavItem).where(DavItem.uid == "old").values(time_ranges=None))
    timerange.RECORDS = timerange.RecordCache()
    walked: list[str] = []
    walk = timerange.record

    def counted(parsed: Any, component: str) -> timerange.Record | None:
        walked.append(component)
        return walk(parsed, component)

    monkeypatch.setattr(timerange, "record", counted)
    (collection,) = _fresh_storage(kmdav_database).discover(f"/{path}/")
    filters = [_filter("VEVENT", "20261130T000000Z", "20261206T000000Z")]
    answered = list(collection.get_filtered(filters))
    assert [(item.href, matched) for item, matched in answered] == [("old.ics", True)]
    assert walked == ["VEVENT"]


def test_the_stored_form_round_trips() -> None:
    record = timerange.Record([(-5, 20, False), (2**62, 2**62 + 1, True)], complete=False)
    back = timerange.Record.from_bytes(record.to_bytes())
    assert back is not None
    assert list(back.starts) == [-5, 2**62]
    assert list(back.ends) == [20, 2**62 + 1]
    assert back.overrides == b"\x00\x01"
    assert back.complete is False
    assert timerange.Record.from_bytes(b"\x01" + b"\x00" * 16) is None  # not 17 bytes a range
    assert timerange.Record.from_bytes(b"") is None


def test_a_web_write_stores_the_record_too(session: Any) -> None:
    """Bodies stored without Radicale's tree (web UI, scheduling, imports)
    get the record from the recorder the storage registers."""
    from kmdav.dav import repository, service

    assert service.time_range_recorder is timerange.body_record
    text = _body("web", "FREQ=WEEKLY")
    collection = repository.create_collection(
        session, "u" + secrets.token_hex(4) + "-cal", owner_id=None, tag="VCALENDAR", props={}
    )
    obj = service.DavObject(text, "web", "VEVENT", 0, 1)
    service.store_item(session, collection, "web.ics", obj)
    row = repository.get_item(session, collection.id, "web.ics")
    assert row is not None
    assert row.time_ranges == timerange.stored_record(timerange.parse_body(text), "VEVENT")
