"""kmdav.fastsql.Prepared reads exactly what SQLAlchemy reads, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kmdav.fastsql import IN_LIST_MAX, Prepared, PreparedIn, PreparedWrite
from kmdav.models import Contact, ContactPhone, DavCollection, DavItem, User, UserModule


def _collection(session: Session, path: str, props: dict[str, object]) -> DavCollection:
    row = DavCollection(
        path=path,
        tag="VCALENDAR",
        props=props,
        sync_key="k" + path.replace("/", "-"),
        modified_at=datetime(2026, 3, 29, 1, 30, 5, 123456, tzinfo=UTC),
    )
    session.add(row)
    session.flush()
    return row


def test_rows_match_sqlalchemy_for_json_datetime_and_literals(session: Session) -> None:
    _collection(session, "fs/a", {"D:displayname": "Ä calendar", "C:order": 3, "x": [1, None]})
    _collection(session, "fs/b", {})
    statement = (
        select(
            DavCollection.path,
            DavCollection.props,
            DavCollection.modified_at,
            DavCollection.revision,
        )
        # A literal (an anonymous bound value) next to a named parameter.
        .where(DavCollection.tag == "VCALENDAR", DavCollection.path.like(bindparam("prefix")))
        .order_by(DavCollection.path)
    )
    connection = session.connection()
    expected = [tuple(row) for row in connection.execute(statement, {"prefix": "fs/%"})]
    found = Prepared(statement).rows(connection, {"prefix": "fs/%"})
    assert found == expected
    assert found[0][1] == {"D:displayname": "Ä calendar", "C:order": 3, "x": [1, None]}
    assert found[0][2] == datetime(2026, 3, 29, 1, 30, 5, 123456, tzinfo=UTC)


def test_sees_the_transaction_and_converts_parameters(session: Session) -> None:
    _collection(session, "fs/c", {})  # flushed, not committed: only this transaction sees it
    connection = session.connection()
    count = Prepared(
        select(func.count())
        .select_from(DavCollection)
        .where(DavCollection.path == bindparam("path"))
    )
    assert count.scalar(connection, {"path": "fs/c"}) == 1
    assert count.scalar(connection, {"path": "fs/none"}) == 0
    # A datetime parameter passes through the column type's bind processor.
    newer = Prepared(
        select(DavCollection.path).where(DavCollection.modified_at >= bindparam("since"))
    )
    stamp = datetime(2026, 3, 29, 1, 30, 5, 123456, tzinfo=UTC)
    assert ("fs/c",) in newer.rows(connection, {"since": stamp})
    assert ("fs/c",) not in newer.rows(connection, {"since": stamp.replace(microsecond=123457)})


def test_outer_join_rows_and_nulls(session: Session) -> None:
    user = User(username="fastsql", email="f@example.org", password_hash="h", is_active=True)
    session.add(user)
    session.flush()
    session.add(UserModule(user_id=user.id, module="calendar"))
    session.flush()
    statement = (
        select(User.username, User.is_active, UserModule.module)
        .outerjoin(UserModule, UserModule.user_id == User.id)
        .where(User.id == bindparam("uid"))
    )
    connection = session.connection()
    assert Prepared(statement).rows(connection, {"uid": user.id}) == [
        tuple(r) for r in connection.execute(statement, {"uid": user.id})
    ]
    assert Prepared(statement).rows(connection, {"uid": -1}) == []


def test_expanding_parameters_are_refused(session: Session) -> None:
    statement = select(DavItem.href).where(DavItem.href.in_(bindparam("hrefs", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        Prepared(statement).rows(session.connection(), {"hrefs": ["a"]})


def test_in_lists_of_any_length_read_what_sqlalchemy_reads(session: Session) -> None:
    collection = _collection(session, "fs/in", {})
    item = {"collection_id": collection.id, "etag": '"e"', "body": "B", "component": "VCARD"}
    item |= {"dtstart": 0, "dtend": 1, "revision": 1}
    count = IN_LIST_MAX + 20
    session.execute(
        insert(DavItem),
        [{**item, "href": f"{index}.vcf", "uid": f"u{index}"} for index in range(count)],
    )
    connection = session.connection()
    by_href = PreparedIn(
        lambda hrefs: select(DavItem.href, DavItem.uid).where(
            DavItem.collection_id == bindparam("cid"), DavItem.href.in_(hrefs)
        )
    )
    expanding = select(DavItem.href, DavItem.uid).where(
        DavItem.collection_id == bindparam("cid"),
        DavItem.href.in_(bindparam("hrefs", expanding=True)),
    )
    # Empty, one, a padded size, a repeat, a missing href, and more than
    # one chunk (the rest of the second chunk padded too).
    for wanted in (
        [],
        ["3.vcf"],
        ["1.vcf", "2.vcf", "3.vcf"],
        ["5.vcf", "5.vcf", "none.vcf"],
        [f"{index}.vcf" for index in range(count)],
    ):
        found = by_href.rows(connection, {"cid": collection.id}, wanted)
        expected = connection.execute(expanding, {"cid": collection.id, "hrefs": wanted})
        assert sorted(found) == sorted(tuple(row) for row in expected)
    assert (
        len(by_href.rows(connection, {"cid": collection.id}, [f"{i}.vcf" for i in range(count)]))
        == count
    )


def test_writes_fill_defaults_and_return_rows(session: Session) -> None:
    collection = _collection(session, "fs/w", {})
    connection = session.connection()
    item = {"collection_id": collection.id, "href": "w.vcf", "uid": "w", "etag": '"w"'}
    item |= {"body": "B", "component": "VCARD", "dtstart": 0, "dtend": 1, "revision": 1}
    (item_id,) = PreparedWrite(insert(DavItem).returning(DavItem.id)).execute(
        connection, {**item, "time_ranges": b"\x00\xff"}
    )[0]
    assert (
        connection.execute(
            select(DavItem.time_ranges, DavItem.modified_at).where(DavItem.id == item_id)
        ).one()[0]
        == b"\x00\xff"
    )
    add = PreparedWrite(insert(Contact).returning(Contact.id))
    # members (JSON), updated_at (a callable default) and the string
    # defaults are not given: filled as SQLAlchemy would fill them.
    (contact_id,) = add.execute(
        connection,
        {
            "item_id": item_id,
            "collection_id": collection.id,
            "formatted_name": "Zoë",
            "has_photo": True,
        },
    )[0]
    row = connection.execute(
        select(
            Contact.kind, Contact.members, Contact.note, Contact.has_photo, Contact.updated_at
        ).where(Contact.id == contact_id)
    ).one()
    assert row[:4] == ("individual", [], "", True)
    assert abs((row.updated_at - datetime.now(UTC)).total_seconds()) < 60
    rename = PreparedWrite(update(Contact).where(Contact.id == bindparam("cid")))
    rename.execute(connection, {"cid": contact_id, "members": ["urn:uuid:1"], "note": "N"})
    phones = PreparedWrite(insert(ContactPhone))
    phones.execute_many(
        connection,
        [{"contact_id": contact_id, "position": i, "value": v} for i, v in enumerate("12")],
    )
    assert connection.execute(
        select(Contact.members, Contact.note).where(Contact.id == contact_id)
    ).one() == (["urn:uuid:1"], "N")
    assert connection.execute(
        select(ContactPhone.value, ContactPhone.label)
        .order_by(ContactPhone.position)
        .where(ContactPhone.contact_id == contact_id)
    ).all() == [("1", ""), ("2", "")]
    clear = PreparedWrite(delete(ContactPhone).where(ContactPhone.contact_id == bindparam("c")))
    clear.execute(connection, {"c": contact_id})
    assert (
        connection.execute(
            select(func.count()).where(ContactPhone.contact_id == contact_id)
        ).scalar()
        == 0
    )
