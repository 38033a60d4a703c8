"""The line scan agrees with a full parse on which UID a body carries."""

from __future__ import annotations

import pytest
import vobject
from hypothesis import given
from hypothesis import strategies as st

from kmdav.dav.bodies import single_object_uid
from tests.dav.cards import (
    ALL_DAY,
    ANDROID_CARD,
    GROUP_CARD_V4,
    IOS_CARD,
    RECURRING_WITH_OVERRIDE,
    TODO_WITH_PARENT,
    card,
    photo_card,
)


@pytest.mark.parametrize(
    ("text", "uid"),
    [
        (IOS_CARD, "ios-anna"),
        (ANDROID_CARD, "android-1"),
        (GROUP_CARD_V4, "group-1"),
        (photo_card("big", 20_000), "big"),
        (RECURRING_WITH_OVERRIDE, "series-1"),
        (ALL_DAY, "allday-1"),
        (TODO_WITH_PARENT, "todo-child"),
    ],
)
def test_uid_of_one_object(text: str, uid: str) -> None:
    assert single_object_uid(text) == uid


@pytest.mark.parametrize(
    "text",
    [
        card("a") + card("b"),  # two objects
        card("a").replace("UID:a\r\n", ""),  # no UID
        RECURRING_WITH_OVERRIDE.replace("RECURRENCE-ID", "X-R").replace(
            "UID:series-1\r\nDTSTAMP:20261101T000000Z\r\nX-R", "UID:other\r\nDTSTAMP:x\r\nX-R"
        ),
        "BEGIN:VCARD\r\nUID:x\r\n",  # unterminated
        "BEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\n",  # not wrapped in VCALENDAR
        "",
    ],
)
def test_not_exactly_one_uid(text: str) -> None:
    assert single_object_uid(text) is None


@given(
    uid=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]),
        min_size=1,
        max_size=80,
    )
    .map(str.strip)
    .filter(bool),
    name=st.text(min_size=1, max_size=40).filter(
        lambda s: s.strip() and "\r" not in s and "\n" not in s
    ),
)
def test_scan_agrees_with_vobject(uid: str, name: str) -> None:
    text = vobject.vCard()
    text.add("uid").value = uid
    text.add("fn").value = name
    serialized = text.serialize()
    assert single_object_uid(serialized) == vobject.readOne(serialized).uid.value
