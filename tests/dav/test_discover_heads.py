"""A request's read snapshot looks up the collections its path names once.

Radicale asks for the principal and then for the collection of a GET, a
poll or a listing; the storage fetches both in one query and the snapshot
remembers them.  A write transaction in the same request looks up afresh.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from kmdav.dav import repository
from kmdav.dav.context import state


@pytest.fixture
def request_state() -> Iterator[None]:
    state.begin_request()
    try:
        yield
    finally:
        state.end_request()


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    for name in ("collection_head", "collection_heads"):
        original = getattr(repository, name)

        def counting(session: Any, paths: Any, _original: Any = original, _name: str = name) -> Any:
            calls.append(_name)
            return _original(session, paths)

        monkeypatch.setattr(repository, name, counting)
    return calls


def _book(storage: Any) -> tuple[str, str]:
    user = "u" + secrets.token_hex(4)
    with storage.acquire_lock("w", user):
        storage.create_collection(f"/{user}/")
        storage.create_collection(f"/{user}/book/", props={"tag": "VADDRESSBOOK"})
    return user, f"{user}/book"


def test_principal_and_collection_in_one_query(
    kmdav_storage: Any, request_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, book = _book(kmdav_storage)
    state.set_request_path(f"/{book}/card.vcf", "GET")
    calls = _counted(monkeypatch)
    with kmdav_storage.acquire_lock("r", user):
        principal = next(iter(kmdav_storage.discover(f"/{user}/", depth="1")))
    with kmdav_storage.acquire_lock("r", user):
        collection = next(iter(kmdav_storage.discover(f"/{book}/")))
        missing = list(kmdav_storage.discover(f"/{user}/other/"))
    assert (principal.path, collection.path, collection.tag) == (user, book, "VADDRESSBOOK")
    assert missing == []
    # One query for both named paths, one more for the path the request did not name.
    assert calls == ["collection_heads", "collection_heads"]


def test_a_write_in_the_same_request_sees_the_newest_collection(
    kmdav_storage: Any, request_state: None
) -> None:
    user, book = _book(kmdav_storage)
    state.set_request_path(f"/{book}/", "PROPFIND")
    with kmdav_storage.acquire_lock("r", user):
        before = next(iter(kmdav_storage.discover(f"/{book}/"))).get_meta("D:displayname")
    # Another client renames the book after this request's snapshot read it.
    with kmdav_storage.database.transaction() as session:
        row = repository.get_collection(session, book)
        assert row is not None
        row.props = {**row.props, "D:displayname": "Renamed"}
    with kmdav_storage.acquire_lock("w", user):
        during = next(iter(kmdav_storage.discover(f"/{book}/"))).get_meta("D:displayname")
    assert (before, during) == (None, "Renamed")


@pytest.mark.parametrize(
    ("path", "method", "named"),
    [
        ("/", "PROPFIND", ()),
        ("/alice/", "PROPFIND", ("alice",)),
        ("/alice/book/", "REPORT", ("alice", "alice/book")),
        ("/alice/book/x.vcf", "GET", ("alice", "alice/book")),
        ("alice//book///x", "GET", ("alice", "alice/book")),
        # Looked up in the write transaction: the snapshot needs the principal only.
        ("/alice/book/x.vcf", "PUT", ("alice",)),
        ("/alice/book/x.vcf", "DELETE", ("alice",)),
        ("/alice/book/", "PROPPATCH", ("alice",)),
    ],
)
def test_request_path_names_principal_and_collection(
    request_state: None, path: str, method: str, named: tuple[str, ...]
) -> None:
    state.set_request_path(path, method)
    assert state.request_collections == named
