"""Exports on a rolled-back session: CSV, XLSX and vCard content, filters,
selection, own fields, and that an export imports again."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.accounts import service as accounts
from kmdav.contacts import exports, fields, mapping, search, service
from kmdav.contacts.cards import COMPANY, ContactDraft
from kmdav.dav import provisioning
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.errors import PermissionDeniedError
from kmdav.models import Contact, DavItem, User

BOOK = "company/contacts"
ACTOR = audit.Actor(name="admin", source="test")


@pytest.fixture
def boss(session: Session) -> User:
    provisioning.ensure_company_addressbook(session, BOOK)
    user = accounts.create_user(session, "exporter", "exporter-password-1")
    user.is_admin = True
    session.flush()
    return user


def _contacts(session: Session, boss: User) -> dict[str, int]:
    fields.create_field(session, ACTOR, key="KDNR", label="Kundennummer", field_type="text")
    made = {}
    for draft in (
        ContactDraft(
            given_name="Zora",
            family_name="Zeller",
            company="Zeller; Söhne",
            title="Chefin",
            emails=(
                LabeledValue("zora@example.com", "work"),
                LabeledValue("z@home.example", "home"),
            ),
            phones=(LabeledValue("+43 1 2", "work"), LabeledValue("+43 660 3", "cell")),
            addresses=(PostalAddress("work", "Gasse 1", "Wien", "", "1010", "AT"),),
            birthday="1980-12-31",
            note="Zeile 1\nZeile 2",
            tags=("VIP", "Kunde"),
            custom={"KDNR": "K-1"},
        ),
        ContactDraft(kind=COMPANY, company="Acme Export GmbH", tags=("Lieferant",)),
    ):
        made[draft.display_name] = service.create_contact(session, actor=boss, draft=draft)
    return made


def _csv(session: Session, boss: User, **query: object) -> list[list[str]]:
    definitions = fields.definitions(session)
    ids = exports.contact_ids(
        session,
        boss,
        definitions,
        query=search.ContactQuery(**query) if query else None,  # type: ignore[arg-type]
    )
    text = "".join(exports.csv_chunks(session, ids, definitions, lambda m: m))
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_csv_has_every_field_and_own_fields(session: Session, boss: User) -> None:
    _contacts(session, boss)
    rows = _csv(session, boss)
    assert rows[0][:6] == [
        "Person or company",
        "First name",
        "Last name",
        "Company",
        "Position",
        "E-mail",
    ]
    assert rows[0][-1] == "Kundennummer"
    by_name = {row[1] or row[3]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    zora = by_name["Zora"]
    assert zora["Company"] == "Zeller; Söhne"
    assert zora["E-mail"] == "zora@example.com"
    assert zora["E-mail (private)"] == "z@home.example"
    assert (zora["Phone"], zora["Mobile"]) == ("+43 1 2", "+43 660 3")
    assert (zora["Street"], zora["Postal code"], zora["City"]) == ("Gasse 1", "1010", "Wien")
    assert zora["Note"] == "Zeile 1\nZeile 2"  # without the own-field block
    assert zora["Tags"] == "VIP, Kunde"
    assert zora["Kundennummer"] == "K-1"
    assert by_name["Acme Export GmbH"]["Person or company"] == "Company"


def test_filters_are_the_list_pages(session: Session, boss: User) -> None:
    _contacts(session, boss)
    assert [row[2] for row in _csv(session, boss, q="zell")[1:]] == ["Zeller"]
    assert [row[3] for row in _csv(session, boss, tag="Lieferant")[1:]] == ["Acme Export GmbH"]
    assert len(_csv(session, boss, kind="person")) == 2


def test_a_selection_and_vcards_as_stored(session: Session, boss: User) -> None:
    made = _contacts(session, boss)
    definitions = fields.definitions(session)
    ids = exports.contact_ids(session, boss, definitions, selection=[made["Zora Zeller"]])
    assert ids == [made["Zora Zeller"]]
    text = "".join(exports.vcf_chunks(session, ids))
    body = (
        session.query(DavItem.body)
        .join(Contact, Contact.item_id == DavItem.id)
        .filter(Contact.id == made["Zora Zeller"])
        .scalar()
    )
    assert text == body


def test_xlsx(session: Session, boss: User) -> None:
    _contacts(session, boss)
    definitions = fields.definitions(session)
    ids = exports.contact_ids(session, boss, definitions)
    buffer = io.BytesIO()
    exports.write_xlsx(session, ids, definitions, lambda m: m, buffer)
    sheet = load_workbook(io.BytesIO(buffer.getvalue()), read_only=True).worksheets[0]
    rows = [[c or "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][1] == "First name"
    assert rows[2][1:3] == ["Zora", "Zeller"] or rows[1][1:3] == ["Zora", "Zeller"]


def test_the_export_header_is_what_the_import_recognises(session: Session, boss: User) -> None:
    definitions = fields.definitions(session)
    own = [mapping.OwnField(d.key, d.label) for d in definitions]
    suggested = mapping.suggest(exports.header(definitions, lambda m: m), own)
    assert "" not in suggested
    assert len(set(suggested)) == len(suggested)


def test_export_needs_the_permission(session: Session, boss: User) -> None:
    plain = accounts.create_user(session, "plain-exporter", "plain-password-1")
    with pytest.raises(PermissionDeniedError):
        exports.contact_ids(session, plain, [])
