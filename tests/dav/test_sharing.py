"""kmdav.dav.sharing on a rolled-back session: listings, levels, ownership."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts import groups
from kmdav.accounts import service as accounts
from kmdav.dav import repository, sharing
from kmdav.errors import NotFoundError, ValidationError
from kmdav.models import AuditEntry, User


def _user(session: Session, name: str) -> User:
    return accounts.create_user(session, name, f"{name}-password-1")


def test_own_collections_name_kind_colour_and_shares(session: Session) -> None:
    alice, _ = _user(session, "alice"), _user(session, "bob")
    groups.create_group(session, "zeta")
    groups.create_group(session, "Alpha")
    calendar = repository.get_collection(session, "alice/calendar")
    assert calendar is not None
    calendar.props = {**calendar.props, "ICAL:calendar-color": "#3366CCFF"}
    book = repository.get_collection(session, "alice/contacts")
    assert book is not None
    book.props = {"INF:addressbook-color": "red; background: url(x)"}
    sharing.share_collection(session, "alice/calendar", user="bob")
    sharing.share_collection(session, "alice/calendar", group="zeta", level="write")
    sharing.share_collection(session, "alice/calendar", group="Alpha")

    listed = {item.path: item for item in sharing.own_collections(session, alice.id)}
    assert list(listed) == ["alice/calendar", "alice/contacts", "alice/tasks"]
    assert [(c.display_name, c.kind) for c in listed.values()] == [
        ("Calendar", sharing.CALENDAR),
        ("contacts", sharing.ADDRESS_BOOK),  # no display name left: the path's last part
        ("Tasks", sharing.TASK_LIST),
    ]
    assert listed["alice/calendar"].colour == "#3366CC"
    assert listed["alice/contacts"].colour == ""  # not a colour: ignored
    shares = [(s.subject, s.is_group, s.access) for s in listed["alice/calendar"].shares]
    assert shares == [("Alpha", True, "read"), ("zeta", True, "write"), ("bob", False, "read")]
    assert listed["alice/tasks"].shares == ()


def test_shared_with_merges_direct_and_inherited_shares_and_keeps_the_higher_level(
    session: Session,
) -> None:
    _user(session, "alice")
    carol = _user(session, "carol")
    groups.create_group(session, "staff")
    groups.create_group(session, "sales", parent="staff")
    groups.add_member(session, "sales", "carol")
    sharing.share_collection(session, "alice/calendar", user="carol", level="read")
    sharing.share_collection(session, "alice/calendar", group="staff", level="write")
    sharing.share_collection(session, "alice/contacts", group="sales")
    sharing.share_collection(session, "carol/tasks", group="staff")  # her own: not listed

    shared = sharing.shared_with(session, carol.id)
    assert [(s.path, s.alias, s.owner, s.access) for s in shared] == [
        ("alice/calendar", "alice-calendar", "alice", "write"),
        ("alice/contacts", "alice-contacts", "alice", "read"),
    ]
    assert sorted(shared[0].via) == ["", "staff"]
    assert shared[1].via == ("sales",)


def test_changes_refuse_what_the_caller_does_not_own(session: Session) -> None:
    alice, bob = _user(session, "alice"), _user(session, "bob")
    share = sharing.share_collection(session, "alice/calendar", user="bob")
    calendar = repository.get_collection(session, "alice/calendar")
    assert calendar is not None
    with pytest.raises(NotFoundError):
        sharing.require_own_collection(session, calendar.id, bob.id)
    with pytest.raises(NotFoundError):
        sharing.change_share_access(session, share.id, "write", owner_id=bob.id)
    with pytest.raises(NotFoundError):
        sharing.remove_share(session, share.id, owner_id=bob.id)
    with pytest.raises(ValidationError) as invalid:
        sharing.change_share_access(session, share.id, "owner", owner_id=alice.id)
    assert invalid.value.field == "access"
    assert share.access == "read"

    sharing.change_share_access(session, share.id, "write", owner_id=alice.id)
    sharing.change_share_access(session, share.id, "write", owner_id=alice.id)  # no change
    sharing.remove_share(session, share.id, owner_id=alice.id)
    assert sharing.own_collections(session, alice.id)[0].shares == ()
    actions = [
        (entry.action, entry.details)
        for entry in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id == "alice/calendar")
            .order_by(AuditEntry.id)
        )
    ]
    assert actions == [
        ("collection.share", {"user": "bob", "group": None, "access": "read"}),
        ("collection.share_access", {"user": "bob", "group": None, "access": "write"}),
        ("collection.unshare", {"user": "bob", "group": None}),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user": "nobody"}, "user"),
        ({"user": "alice"}, "user"),
        ({"group": "nobody"}, "group"),
        ({"user": "bob", "level": "all"}, "access"),
        ({}, "user"),
        ({"user": "bob", "group": "staff"}, "user"),
    ],
)
def test_invalid_shares_name_their_field(
    session: Session, kwargs: dict[str, str], field: str
) -> None:
    _user(session, "alice")
    _user(session, "bob")
    with pytest.raises(ValidationError) as invalid:
        sharing.share_collection(session, "alice/calendar", **kwargs)  # type: ignore[arg-type]
    assert invalid.value.field == field
