"""One contract, two storages: Radicale's multifilesystem and kmdav's SQL.

Each case drives the storage plugin API the way Radicale's request handlers
do, so a behaviour kmdav changes by accident shows up as a difference from
the reference implementation.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.dav.cards import ALL_DAY, card, event
from tests.dav.conftest import prepared_item


def _home(storage: Any) -> str:
    user = "u" + secrets.token_hex(4)
    with storage.acquire_lock("w", user):
        storage.create_collection(f"/{user}/")
    return user


def _make(storage: Any, path: str, tag: str, **props: str) -> Any:
    with storage.acquire_lock("w"):
        storage.create_collection(f"/{path}/", props={"tag": tag, **props})
    return _get(storage, path)


def _get(storage: Any, path: str) -> Any:
    found = list(storage.discover(f"/{path}/"))
    return found[0] if found else None


def _put(storage: Any, path: str, href: str, text: str) -> Any:
    with storage.acquire_lock("w"):
        collection = _get(storage, path)
        item, _old = collection.upload(href, prepared_item(path, text))
    return item


def test_root_exists_and_lists_principals(storage: Any) -> None:
    user = _home(storage)
    with storage.acquire_lock("r"):
        root, *children = list(storage.discover("/", depth="1"))
        assert root.path == ""
        assert user in {c.path for c in children}


def test_address_book_round_trip(storage: Any) -> None:
    user = _home(storage)
    book = f"{user}/book"
    _make(storage, book, "VADDRESSBOOK", **{"D:displayname": "Kunden"})
    text = card("c1", "Doe Jane")
    created = _put(storage, book, "c1.vcf", text)
    with storage.acquire_lock("r"):
        collection = _get(storage, book)
        assert collection.tag == "VADDRESSBOOK"
        assert collection.get_meta("D:displayname") == "Kunden"
        ((href, item),) = list(collection.get_multi(["c1.vcf"]))
        assert href == "c1.vcf"
        assert item.serialize() == created.serialize()
        assert "FN:Doe Jane" in item.serialize()
        assert item.etag == created.etag
        assert item.uid == "c1"
        assert collection.has_uid("c1")
        assert not collection.has_uid("c2")
        assert [i.href for i in collection.get_all()] == ["c1.vcf"]
        listing = list(storage.discover(f"/{book}/", depth="1"))
        assert [getattr(i, "href", None) for i in listing[1:]] == ["c1.vcf"]


def test_replace_returns_the_old_item(storage: Any) -> None:
    user = _home(storage)
    book = f"{user}/book"
    _make(storage, book, "VADDRESSBOOK")
    first = _put(storage, book, "c1.vcf", card("c1", "Doe Jane"))
    with storage.acquire_lock("w"):
        new, old = _get(storage, book).upload("c1.vcf", prepared_item(book, card("c1", "Doe J")))
    assert old is not None
    assert old.etag == first.etag
    assert new.etag != first.etag


def test_missing_items_come_back_as_none(storage: Any) -> None:
    user = _home(storage)
    book = f"{user}/book"
    _make(storage, book, "VADDRESSBOOK")
    _put(storage, book, "c1.vcf", card("c1"))
    with storage.acquire_lock("w"):
        _get(storage, book).delete("c1.vcf")
    with storage.acquire_lock("r"):
        assert list(_get(storage, book).get_multi(["c1.vcf", "nope.vcf"])) == [
            ("c1.vcf", None),
            ("nope.vcf", None),
        ]


def test_sync_reports_changes_since_a_token(storage: Any) -> None:
    user = _home(storage)
    book = f"{user}/book"
    _make(storage, book, "VADDRESSBOOK")
    _put(storage, book, "a.vcf", card("a"))
    _put(storage, book, "b.vcf", card("b"))
    with storage.acquire_lock("r"):
        token, hrefs = _get(storage, book).sync()
        assert sorted(hrefs) == ["a.vcf", "b.vcf"]
    _put(storage, book, "c.vcf", card("c"))
    with storage.acquire_lock("w"):
        _get(storage, book).delete("a.vcf")
    with storage.acquire_lock("r"):
        new_token, changed = _get(storage, book).sync(token)
        assert sorted(changed) == ["a.vcf", "c.vcf"]
        assert new_token != token
        again, nothing = _get(storage, book).sync(new_token)
        assert list(nothing) == []
        assert again == new_token
        with pytest.raises(ValueError):
            _get(storage, book).sync("http://example.com/not-a-token")


def test_properties_round_trip(storage: Any) -> None:
    user = _home(storage)
    cal = f"{user}/cal"
    collection = _make(
        storage, cal, "VCALENDAR", **{"C:supported-calendar-component-set": "VEVENT"}
    )
    meta = dict(collection.get_meta())
    meta["D:displayname"] = "Team"
    meta["ICAL:calendar-color"] = "#ff0000"
    with storage.acquire_lock("w"):
        _get(storage, cal).set_meta(meta)
    with storage.acquire_lock("r"):
        stored = _get(storage, cal).get_meta()
    assert stored["D:displayname"] == "Team"
    assert stored["ICAL:calendar-color"] == "#ff0000"
    assert stored["tag"] == "VCALENDAR"


def test_time_range_filter(storage: Any) -> None:
    from xml.etree import ElementTree as ET

    user = _home(storage)
    cal = f"{user}/cal"
    _make(storage, cal, "VCALENDAR")
    _put(storage, cal, "early.ics", event("early", "20260101T100000Z", "20260101T110000Z"))
    _put(storage, cal, "late.ics", event("late", "20261201T100000Z", "20261201T110000Z"))
    _put(storage, cal, "allday.ics", ALL_DAY)
    query = ET.fromstring(
        '<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR">'
        '<C:comp-filter name="VEVENT"><C:time-range start="20261101T000000Z" '
        'end="20261231T000000Z"/></C:comp-filter></C:comp-filter></C:filter>'
    )
    with storage.acquire_lock("r"):
        found = {item.href for item, _ in _get(storage, cal).get_filtered([query])}
    assert {"late.ics", "allday.ics"} <= found
    assert "early.ics" not in found


def test_move_between_collections(storage: Any) -> None:
    user = _home(storage)
    one, two = f"{user}/one", f"{user}/two"
    _make(storage, one, "VADDRESSBOOK")
    _make(storage, two, "VADDRESSBOOK")
    _put(storage, one, "c1.vcf", card("c1"))
    with storage.acquire_lock("r"):
        token_one, _ = _get(storage, one).sync()
    with storage.acquire_lock("w"):
        (item,) = list(storage.discover(f"/{one}/c1.vcf"))
        storage.move(item, _get(storage, two), "moved.vcf")
    with storage.acquire_lock("r"):
        assert [i.href for i in _get(storage, two).get_all()] == ["moved.vcf"]
        assert list(_get(storage, one).get_all()) == []
        _, changed = _get(storage, one).sync(token_one)
        assert list(changed) == ["c1.vcf"]


def test_delete_collection(storage: Any) -> None:
    user = _home(storage)
    book = f"{user}/book"
    _make(storage, book, "VADDRESSBOOK")
    for n in range(5):
        _put(storage, book, f"{n}.vcf", card(f"c{n}"))
    with storage.acquire_lock("w"):
        _get(storage, book).delete()
    with storage.acquire_lock("r"):
        assert _get(storage, book) is None
