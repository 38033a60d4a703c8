"""Random PUT/DELETE/MOVE sequences against kmdav's storage, checked against
a model: sync(old token) names exactly the hrefs touched since that token,
and every item reads back byte for byte."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.dav.cards import card
from tests.dav.conftest import prepared_item

HREFS = [f"{n}.vcf" for n in range(6)]
NAMES = ["Doe Jane", "Roe Rick", "Müller Jörg", "Ōta Yū"]


def _collection(storage: Any, path: str) -> Any:
    return next(iter(storage.discover(f"/{path}/")))


def test_sync_matches_model(kmdav_storage: Any) -> None:
    storage = kmdav_storage

    class SyncMachine(RuleBasedStateMachine):
        @initialize()
        def make_book(self) -> None:
            user = "sm" + secrets.token_hex(5)
            self.book = f"{user}/book"
            with storage.acquire_lock("w"):
                storage.create_collection(f"/{user}/")
                storage.create_collection(f"/{self.book}/", props={"tag": "VADDRESSBOOK"})
            self.items: dict[str, tuple[str, str]] = {}  # href -> (uid, text)
            with storage.acquire_lock("r"):
                self.token, _ = _collection(storage, self.book).sync()
            self.touched: set[str] = set()

        @rule(href=st.sampled_from(HREFS), name=st.sampled_from(NAMES))
        def put(self, href: str, name: str) -> None:
            uid = self.items[href][0] if href in self.items else "uid-" + href
            text = card(uid, name)
            if any(u == uid for h, (u, _) in self.items.items() if h != href):
                return  # the same UID under another href is refused; covered elsewhere
            with storage.acquire_lock("w"):
                _collection(storage, self.book).upload(href, prepared_item(self.book, text))
            previous = self.items.get(href)
            stored = prepared_item(self.book, text).serialize()
            if previous is None or previous[1] != stored:
                self.touched.add(href)
            self.items[href] = (uid, stored)

        @precondition(lambda self: bool(self.items))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            href = data.draw(st.sampled_from(sorted(self.items)))
            with storage.acquire_lock("w"):
                _collection(storage, self.book).delete(href)
            del self.items[href]
            self.touched.add(href)

        @precondition(lambda self: bool(self.items))
        @rule(data=st.data(), destination=st.sampled_from(HREFS))
        def move(self, data: st.DataObject, destination: str) -> None:
            href = data.draw(st.sampled_from(sorted(self.items)))
            if href == destination:
                return
            with storage.acquire_lock("w"):
                (item,) = list(storage.discover(f"/{self.book}/{href}"))
                storage.move(item, _collection(storage, self.book), destination)
            self.items[destination] = self.items.pop(href)
            self.touched |= {href, destination}

        @rule()
        def sync(self) -> None:
            with storage.acquire_lock("r"):
                token, changed = _collection(storage, self.book).sync(self.token)
                changed = set(changed)
            assert changed == self.touched
            self.token = token
            self.touched = set()

        @invariant()
        def bodies_read_back(self) -> None:
            with storage.acquire_lock("r"):
                collection = _collection(storage, self.book)
                stored = {i.href: i.serialize() for i in collection.get_all()}
            assert stored == {href: text for href, (_, text) in self.items.items()}

    SyncMachine.TestCase.settings = settings(
        max_examples=20,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    SyncMachine.TestCase().runTest()


pytestmark = pytest.mark.slow
