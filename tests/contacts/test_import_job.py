"""The import job through the real runner: batches, duplicates, retry, cancel,
failure and undo leave exactly what they promise (committed database)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vobject
from sqlalchemy import delete, select

from kmdav import audit, jobs
from kmdav.accounts import service as accounts
from kmdav.contacts import fields, importjob, imports
from kmdav.dav import projection, repository
from kmdav.dav import service as dav
from kmdav.db import Database
from kmdav.jobs.runner import RetryLater, run_job
from kmdav.models import (
    Contact,
    ContactAddress,
    ContactEmail,
    ContactEvent,
    ContactImport,
    ContactImportRow,
    ContactPhone,
    CustomFieldValue,
    DavChange,
    DavCollection,
    DavItem,
    Job,
    User,
)
from kmdav.settings import Settings

#: The tests commit; their addresses stay apart from every other test's.
DOMAIN = f"imp-{secrets.token_hex(3)}.example"
HEADER = "Vorname;Nachname;Firma;E-Mail;Geburtstag;Kundennummer\r\n"


@pytest.fixture
def owner(database: Database) -> tuple[int, int]:
    """A fresh user and their own address book: (user id, book id)."""
    name = "imp-" + secrets.token_hex(4)
    with database.transaction() as session:
        user = accounts.create_user(session, name, name + "-password")
        book = session.scalars(
            select(DavCollection).where(
                DavCollection.owner_id == user.id, DavCollection.tag == "VADDRESSBOOK"
            )
        ).first()
        assert book is not None
        return user.id, book.id


@pytest.fixture
def own_field(database: Database) -> Iterator[str]:
    key = "IMP" + secrets.token_hex(3).upper()
    actor = audit.Actor(name="test", source="test")
    with database.transaction() as session:
        fields.create_field(session, actor, key=key, label="Kundennummer", field_type="number")
    yield key
    with database.transaction() as session:
        fields.delete_field(session, actor, key)


def _upload(
    database: Database,
    settings: Settings,
    owner: tuple[int, int],
    data: bytes,
    filename: str = "kunden.csv",
    **options: Any,
) -> int:
    data = data.replace(b"@example.com", b"@" + DOMAIN.encode())
    folder = imports.upload_folder(settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("upload-" + secrets.token_hex(8))
    path.write_bytes(data)
    with database.transaction() as session:
        user = session.get(User, owner[0])
        assert user is not None
        imported = imports.register_upload(
            session, user, path=path, filename=filename, size=len(data)
        )
        imports.configure(
            session,
            user,
            imported,
            columns=options.pop("columns", imported.mapping),
            collection_id=owner[1],
            duplicate_mode=options.pop("duplicate_mode", "skip"),
            match_on=options.pop("match_on", "email"),
        )
        return imported.id


def _start(database: Database, owner: tuple[int, int], import_id: int) -> int:
    with database.transaction() as session:
        user = session.get(User, owner[0])
        assert user is not None
        imported = imports.get_import(session, import_id, user)
        return imports.start(session, user, imported).id


def _run(database: Database, settings: Settings, job_id: int) -> str | None:
    return run_job(database, settings, job_id)


def _import(
    database: Database,
    settings: Settings,
    owner: tuple[int, int],
    data: bytes,
    filename: str = "kunden.csv",
    **options: Any,
) -> ContactImport:
    import_id = _upload(database, settings, owner, data, filename, **options)
    job_id = _start(database, owner, import_id)
    assert _run(database, settings, job_id) == "done", _job(database, job_id).error
    return _state(database, import_id)


def _state(database: Database, import_id: int) -> ContactImport:
    with database.transaction("read") as session:
        found = session.get(ContactImport, import_id)
        assert found is not None
        return found


def _job(database: Database, job_id: int) -> Job:
    with database.transaction("read") as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _cards(database: Database, book_id: int) -> dict[str, str]:
    """Body by FN of every card in the book."""
    with database.transaction("read") as session:
        bodies = session.scalars(select(DavItem.body).where(DavItem.collection_id == book_id))
        return {vobject.readOne(b).fn.value: b for b in bodies}


def _rows(n: int, start: int = 0) -> str:
    return "".join(
        f"Vorname{i};Nachname{i};Firma {i % 7};person{i}@example.com;1.2.1980;{i}\r\n"
        for i in range(start, start + n)
    )


def test_a_csv_import_creates_contacts_rejects_bad_rows_and_reports_them(
    database: Database, job_settings: Settings, owner: tuple[int, int], own_field: str
) -> None:
    data = (
        HEADER
        + "Anna;Berg;ACME;anna@example.com;31.12.1980;42\r\n"
        + "Ben;;;not-an-address;;\r\n"
        + ";;;;;\r\n"
        + 'Carla;"Dorn\r\nzweizeilig";;carla@example.com;30.02.1990;x\r\n'
        + "Dora;Ernst;;dora@example.com;;7\r\n"
    ).encode("cp1252")
    imported = _import(database, job_settings, owner, data)
    assert imported.status == "done"
    assert {k: v for k, v in imported.counts.items() if v} == {"created": 2, "rejected": 2}
    cards = _cards(database, owner[1])
    assert set(cards) == {"Anna Berg", "Dora Ernst"}
    anna = vobject.readOne(cards["Anna Berg"])
    assert anna.bday.value == "1980-12-31"
    assert anna.contents[f"x-kmdav-{own_field.lower()}"][0].value == "42"
    with database.transaction("read") as session:
        rejected = list(imports.rejected_rows(session, imported.id))
        assert [r.row_number for r in rejected] == [3, 5]
        text = "".join(imports.rejected_csv(session, imported, lambda m: m))
        contacts = session.scalars(select(Contact).where(Contact.collection_id == owner[1])).all()
        assert {c.owner_id for c in contacts} == {owner[0]}
        events = session.scalars(
            select(ContactEvent.ref).where(ContactEvent.contact_id.in_([c.id for c in contacts]))
        ).all()
        assert events == [f"import:{imported.id}"] * 2
    assert text.startswith("\ufeffRow;Reasons;Vorname;")
    assert "3;'not-an-address' is not an e-mail address" in text
    assert "'30.02.1990' is not a date" in text
    assert "Kundennummer: 'x' is not a number" in text
    assert '"Dorn\r\nzweizeilig"' in text
    # The upload is gone once the import has ended.
    assert list(imports.upload_folder(job_settings.data_dir).iterdir()) == []


def test_imported_contacts_reach_the_change_log(
    database: Database, job_settings: Settings, owner: tuple[int, int]
) -> None:
    with database.transaction("read") as session:
        before = repository.current_revision(session, owner[1])
    _import(database, job_settings, owner, (HEADER + _rows(3)).encode())
    with database.transaction("read") as session:
        changes = repository.changes_since(session, owner[1], before)
        hrefs = set(session.scalars(select(DavItem.href).where(DavItem.collection_id == owner[1])))
    assert {href for href, _ in changes} == hrefs
    assert len(hrefs) == 3


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("skip", {"skipped": 2, "created": 1}),
        ("update", {"updated": 2, "created": 1}),
        ("create", {"created": 3}),
    ],
)
def test_duplicates_by_email(
    database: Database,
    job_settings: Settings,
    owner: tuple[int, int],
    mode: str,
    expected: dict[str, int],
) -> None:
    _import(database, job_settings, owner, (HEADER + "Anna;Berg;;ANNA@example.com;;\r\n").encode())
    data = (
        HEADER
        + "Anna;Berg-Neu;Neue Firma;anna@example.com;1.1.1990;\r\n"
        + "Zoe;Zed;;zoe@example.com;;\r\n"
        + "Zoe;Zweite;;zoe@example.com;;\r\n"  # matches the row before it
    ).encode()
    imported = _import(database, job_settings, owner, data, duplicate_mode=mode)
    assert {k: v for k, v in imported.counts.items() if v} == expected
    cards = _cards(database, owner[1])
    if mode == "update":
        assert set(cards) == {"Anna Berg-Neu", "Zoe Zweite"}
        anna = vobject.readOne(cards["Anna Berg-Neu"])
        assert anna.org.value == ["Neue Firma"]
        assert anna.email.value == f"ANNA@{DOMAIN}"  # the address was already there
    elif mode == "skip":
        assert set(cards) == {"Anna Berg", "Zoe Zed"}
    else:
        assert len(cards) == 4


def test_duplicates_by_name_and_company(
    database: Database, job_settings: Settings, owner: tuple[int, int]
) -> None:
    _import(database, job_settings, owner, (HEADER + "Anna;Berg;ACME;;;\r\n").encode())
    data = (HEADER + "Anna;Berg;ACME;a@example.com;;\r\nAnna;Berg;Other;;;\r\n").encode()
    imported = _import(
        database, job_settings, owner, data, duplicate_mode="skip", match_on="name_company"
    )
    assert {k: v for k, v in imported.counts.items() if v} == {"skipped": 1, "created": 1}


def test_a_retry_resumes_after_the_last_batch_and_never_imports_twice(
    database: Database,
    job_settings: Settings,
    owner: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importjob, "BATCH", 4)
    original = importjob.BatchWriter.write
    calls = {"n": 0}

    def crash_in_third_batch(self: importjob.BatchWriter, entries: Any) -> None:
        calls["n"] += 1
        original(self, entries)
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(importjob.BatchWriter, "write", crash_in_third_batch)
    import_id = _upload(database, job_settings, owner, (HEADER + _rows(10)).encode())
    job_id = _start(database, owner, import_id)
    with pytest.raises(RetryLater):
        _run(database, job_settings, job_id)
    job = _job(database, job_id)
    assert (job.status, job.done, job.total) == ("queued", 8, 10)
    assert len(_cards(database, owner[1])) == 8  # two batches committed, the third rolled back
    # Enqueueing again is the same job; the retry resumes at row 9.
    assert _start(database, owner, import_id) == job_id
    assert _run(database, job_settings, job_id) == "done"
    imported = _state(database, import_id)
    assert imported.counts["created"] == 10
    assert len(_cards(database, owner[1])) == 10


def test_a_failed_import_leaves_nothing_behind(
    database: Database,
    job_settings: Settings,
    owner: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fails in the third batch on every attempt: the committed batches are
    deleted again through the write path (devices see the deletions)."""
    _import(database, job_settings, owner, (HEADER + "Old;Contact;;old@example.com;;\r\n").encode())
    before = _cards(database, owner[1])
    monkeypatch.setattr(importjob, "BATCH", 3)
    original = importjob.BatchWriter.write

    def fail_late(self: importjob.BatchWriter, entries: Any) -> None:
        original(self, entries)
        if entries[0].index >= 6:
            raise RuntimeError("broken third batch")

    monkeypatch.setattr(importjob.BatchWriter, "write", fail_late)
    data = HEADER + "Old;Contact;Neu GmbH;old@example.com;;\r\n" + _rows(8)
    import_id = _upload(database, job_settings, owner, data.encode(), duplicate_mode="update")
    job_id = _start(database, owner, import_id)
    with database.transaction("read") as session:
        revision = repository.current_revision(session, owner[1])
    for _ in range(importjob.MAX_ATTEMPTS - 1):
        with pytest.raises(RetryLater):
            _run(database, job_settings, job_id)
    assert _run(database, job_settings, job_id) == "failed"
    job = _job(database, job_id)
    assert "broken third batch" in job.error
    assert "taken back" in job.error
    assert _cards(database, owner[1]) == before  # the updated card has its old body again
    imported = _state(database, import_id)
    assert imported.status == "failed"
    with database.transaction("read") as session:
        deleted = session.scalars(
            select(DavChange.href).where(
                DavChange.collection_id == owner[1],
                DavChange.revision > revision,
                DavChange.deleted.is_(True),
            )
        ).all()
        outcomes = set(
            session.scalars(
                select(ContactImportRow.outcome).where(ContactImportRow.import_id == import_id)
            )
        )
    assert len(deleted) == 5  # rows 3-7 were created and then deleted
    assert outcomes == {"reverted"}


def test_a_cancelled_import_leaves_nothing_behind(
    database: Database,
    job_settings: Settings,
    owner: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importjob, "BATCH", 3)
    original = importjob.RowReader.entries
    state: dict[str, int] = {}

    def cancel_before_third_batch(self: importjob.RowReader, *args: Any, **kw: Any) -> Any:
        for entry in original(self, *args, **kw):
            if entry.index == 6:  # two batches are committed: someone presses "Cancel"
                with database.transaction() as session:
                    jobs.cancel(session, state["job"], user_id=owner[0], is_admin=False)
            yield entry

    monkeypatch.setattr(importjob.RowReader, "entries", cancel_before_third_batch)
    import_id = _upload(database, job_settings, owner, (HEADER + _rows(9)).encode())
    state["job"] = _start(database, owner, import_id)
    assert _run(database, job_settings, state["job"]) == "cancelled"
    assert _cards(database, owner[1]) == {}
    assert _state(database, import_id).status == "cancelled"
    # The third batch was rolled back with its checkpoint; the first two taken back.
    assert _state(database, import_id).counts["reverted"] == 6


def test_undo_takes_back_a_finished_import_but_keeps_later_edits(
    database: Database, job_settings: Settings, owner: tuple[int, int]
) -> None:
    _import(database, job_settings, owner, (HEADER + "Anna;Berg;;anna@example.com;;\r\n").encode())
    original = _cards(database, owner[1])["Anna Berg"]
    imported = _import(
        database,
        job_settings,
        owner,
        (HEADER + "Anna;Berg;ACME;anna@example.com;;\r\n" + _rows(3)).encode(),
        duplicate_mode="update",
    )
    # A phone edits one imported card afterwards.
    with database.transaction() as session:
        book = session.get(DavCollection, owner[1])
        assert book is not None
        href, body = session.execute(
            select(DavItem.href, DavItem.body).where(
                DavItem.collection_id == owner[1], DavItem.body.like("%Vorname1%")
            )
        ).one()
        edited = (
            body.replace("TITLE", "X-EDITED:yes\r\nTITLE")
            if "TITLE" in body
            else body.replace("END:VCARD", "NOTE:changed on the phone\r\nEND:VCARD")
        )
        dav.store_item(
            session,
            book,
            href,
            dav.DavObject(edited, vobject.readOne(body).uid.value, "VCARD", 0, 0),
        )
    with database.transaction() as session:
        user = session.get(User, owner[0])
        assert user is not None
        found = imports.get_import(session, imported.id, user)
        undo_id = imports.start_undo(session, user, found).id
    assert _run(database, job_settings, undo_id) == "done"
    cards = _cards(database, owner[1])
    assert set(cards) == {"Anna Berg", "Vorname1 Nachname1"}
    assert cards["Anna Berg"] == original  # byte for byte
    state = _state(database, imported.id)
    assert state.status == "undone"
    assert (state.counts["reverted"], state.counts["kept"]) == (3, 1)


def test_a_vcf_import_stores_cards_as_received(
    database: Database, job_settings: Settings, owner: tuple[int, int]
) -> None:
    first = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:vcf-1-" + secrets.token_hex(3) + "\r\nFN:Vau Eins\r\n"
        "N:Eins;Vau;;;\r\nitem1.X-ABLabel:_$!<Other>!$_\r\nitem1.EMAIL:v1@vcf.invalid\r\n"
        "PHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\nX-UNKNOWN;P=1:keep me\r\nEND:VCARD\r\n"
    )
    no_uid = "BEGIN:VCARD\nVERSION:3.0\nFN:Ohne UID\nN:UID;Ohne;;;\nEND:VCARD\n"
    broken = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN;broken\r\nEND:VCARD\r\n"
    imported = _import(database, job_settings, owner, (first + no_uid + broken).encode(), "a.vcf")
    assert {k: v for k, v in imported.counts.items() if v} == {"created": 2, "rejected": 1}
    cards = _cards(database, owner[1])
    assert cards["Vau Eins"] == first
    assert cards["Ohne UID"].startswith("BEGIN:VCARD\nVERSION:3.0\nUID:")
    assert cards["Ohne UID"].endswith("FN:Ohne UID\nN:UID;Ohne;;;\nEND:VCARD\n")
    # The same file again: the UIDs match, so the cards are skipped.
    again = _import(database, job_settings, owner, first.encode(), "a.vcf")
    assert again.counts["skipped"] == 1


def test_an_xlsx_import(
    database: Database, job_settings: Settings, owner: tuple[int, int], tmp_path: Path
) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["First name", "Last name", "Email", "Birthday", "Mobile"])
    sheet.append(["Xena", "Excel", "x@example.com", datetime(1970, 5, 6), "+43 660 123"])
    path = tmp_path / "sheet.xlsx"
    workbook.save(path)
    imported = _import(database, job_settings, owner, path.read_bytes(), "sheet.xlsx")
    assert imported.counts["created"] == 1
    card = vobject.readOne(_cards(database, owner[1])["Xena Excel"])
    assert card.bday.value == "1970-05-06"
    assert card.tel.value == "+43 660 123"


def _projection(database: Database, book_id: int) -> list[tuple[Any, ...]]:
    """Every projection row of the book's contacts (without ids and times)."""
    with database.transaction("read") as session:
        found = []
        for contact in session.scalars(
            select(Contact).where(Contact.collection_id == book_id).order_by(Contact.item_id)
        ):
            values = {
                k: v
                for k, v in vars(contact).items()
                if k not in {"_sa_instance_state", "id", "updated_at", "owner_id"}
            }
            lists = [
                sorted(
                    tuple(r)[1:]
                    for r in session.execute(
                        select(*model.__table__.c).where(model.contact_id == contact.id)
                    )
                )
                for model in (ContactEmail, ContactPhone, ContactAddress, CustomFieldValue)
            ]
            found.append((sorted(values.items()), lists))
        return found


def test_the_batch_projection_equals_the_put_projection(
    database: Database, job_settings: Settings, owner: tuple[int, int], own_field: str
) -> None:
    data = (
        HEADER.replace("\r\n", ";Mobil;Ort;Schlagworte;Notiz\r\n")
        + "Anna;Berg;ACME;anna@example.com;31.12.1980;42;+43 660 1;Wien;VIP, Kunde;Zeile\r\n"
        + ";;Firma Zwei;info@example.com;;;;Graz;;\r\n"
    )
    _import(database, job_settings, owner, data.encode())
    imported = _projection(database, owner[1])
    with database.transaction() as session:
        book = session.get(DavCollection, owner[1])
        assert book is not None
        for item_id, body, uid in session.execute(
            select(DavItem.id, DavItem.body, DavItem.uid).where(DavItem.collection_id == owner[1])
        ):
            # What a PUT of the same body projects, in place of the import's rows.
            session.execute(delete(Contact).where(Contact.item_id == item_id))
            projection.project(
                session, book, item_id, dav.DavObject(body, uid, "VCARD", 0, 0), new=True
            )
    put = _projection(database, owner[1])
    assert put == imported
    assert len(put) == 2
