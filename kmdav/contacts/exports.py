"""Exports of a contact list or a selection: CSV, XLSX and vCard (streamed).

Which contacts: the list page's filters (``kmdav.contacts.search``, the
same query the list runs, ordered by name) or a selection of ids, always
limited to the address books the viewer reads.  Then the contacts are read
in chunks of :data:`CHUNK` and written out as they come:

- CSV (UTF-8 with BOM, ``;``, CRLF, as Excel in German-speaking countries
  opens it) and XLSX (openpyxl's write-only mode, rows streamed into a
  temporary file) with one column per CRM field and per own field; the
  header names are the ones the import recognises, so an export can be
  imported again;
- vCard: the stored bodies, exactly as phones have them, one after another.

The contact's fields come from its stored card (``cards.read_draft``), the
same view the detail page shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kmdav.contacts import access, search
from kmdav.contacts.cards import COMPANY, ContactDraft, read_draft
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.i18n import N_
from kmdav.models import (
    Contact,
    CustomFieldDefinition,
    CustomFieldValue,
    DavItem,
    User,
)

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "vcf": ("text/vcard; charset=utf-8", "vcf"),
}
#: Contacts read per query.
CHUNK = 500
#: The most ids a selection names in one request.
MAX_SELECTION = 10_000
#: Column headers (English msgids; translated, they are still what the
#: import recognises, see kmdav.contacts.mapping).
COLUMNS = (
    N_("Person or company"),
    N_("First name"),
    N_("Last name"),
    N_("Company"),
    N_("Position"),
    N_("E-mail"),
    N_("E-mail (private)"),
    N_("Phone"),
    N_("Phone (private)"),
    N_("Mobile"),
    N_("Fax"),
    N_("Street"),
    N_("Postal code"),
    N_("City"),
    N_("Region"),
    N_("Country"),
    N_("Birthday"),
    N_("Tags"),
    N_("Note"),
)
KIND_WORDS = {COMPANY: N_("Company"), "person": N_("Person")}
Gettext = Callable[[str], str]


def contact_ids(
    session: Session,
    viewer: User,
    definitions: Sequence[FieldDef],
    *,
    query: search.ContactQuery | None = None,
    selection: Sequence[int] = (),
    company_book: str = access.DEFAULT_COMPANY_BOOK,
) -> list[int]:
    """The ids to export, in the list's name order: the list's filters, or
    the selection (of what the viewer may see)."""
    access.require(session, viewer, "export")
    book_ids = list(access.books(session, viewer, company_book))
    if not book_ids:
        return []
    statement = search.matching_ids(  # the list page's own filter (one query, not a second)
        session, query or search.ContactQuery(), book_ids, definitions
    )
    if selection:
        statement = statement.where(Contact.id.in_(list(selection)[:MAX_SELECTION]))
    ordered = statement.order_by(func.lower(Contact.formatted_name), Contact.id)
    return list(session.scalars(ordered))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _bodies(session: Session, chunk: Sequence[int]) -> dict[int, str]:
    """The stored cards of some contacts, by contact id."""
    return dict(
        session.execute(
            select(Contact.id, DavItem.body)
            .join(DavItem, DavItem.id == Contact.item_id)
            .where(Contact.id.in_(chunk))
        ).all()
    )


def _drafts(
    session: Session, ids: Sequence[int], definitions: Sequence[FieldDef]
) -> Iterator[ContactDraft]:
    for chunk in _chunks(ids):
        bodies = _bodies(session, chunk)
        stored: dict[int, dict[str, str]] = {}
        for contact_id, key, value in session.execute(
            select(CustomFieldValue.contact_id, CustomFieldDefinition.key, CustomFieldValue.value)
            .join(CustomFieldDefinition, CustomFieldDefinition.id == CustomFieldValue.field_id)
            .where(CustomFieldValue.contact_id.in_(chunk))
        ):
            stored.setdefault(contact_id, {})[key] = value
        for contact_id in chunk:
            body = bodies.get(contact_id)
            if body is not None:  # deleted since the ids were read
                draft, _ = read_draft(
                    body, fields=definitions, previous=stored.get(contact_id) or None
                )
                yield draft


def header(definitions: Sequence[FieldDef], gettext: Gettext) -> list[str]:
    return [gettext(column) for column in COLUMNS] + [d.label for d in definitions]


def _labelled(values: Sequence[object], *labels: str, other: bool = False) -> str:
    """The values with one of ``labels`` (``other``: those with none of the
    known labels), joined by ", "."""
    known = {"work", "home", "cell", "fax"}
    chosen = [
        getattr(v, "value", "")
        for v in values
        if getattr(v, "label", "") in labels or (other and getattr(v, "label", "") not in known)
    ]
    return ", ".join(str(v) for v in chosen if v)


def row(draft: ContactDraft, definitions: Sequence[FieldDef], gettext: Gettext) -> list[str]:
    address = draft.addresses[0] if draft.addresses else None
    return [
        gettext(KIND_WORDS[COMPANY if draft.kind == COMPANY else "person"]),
        draft.given_name,
        draft.family_name,
        draft.company,
        draft.title,
        _labelled(draft.emails, "work", other=True),
        _labelled(draft.emails, "home"),
        _labelled(draft.phones, "work", other=True),
        _labelled(draft.phones, "home"),
        _labelled(draft.phones, "cell"),
        _labelled(draft.phones, "fax"),
        address.street if address else "",
        address.postal_code if address else "",
        address.locality if address else "",
        address.region if address else "",
        address.country if address else "",
        draft.birthday,
        ", ".join(draft.tags),
        draft.note,
        *(draft.custom.get(d.key, "") for d in definitions),
    ]


def csv_chunks(
    session: Session, ids: Sequence[int], definitions: Sequence[FieldDef], gettext: Gettext
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header(definitions, gettext))
    for count, draft in enumerate(_drafts(session, ids, definitions), 1):
        writer.writerow(row(draft, definitions, gettext))
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def vcf_chunks(session: Session, ids: Sequence[int]) -> Iterator[str]:
    """The stored cards as they are, one after another."""
    for chunk in _chunks(ids):
        bodies = _bodies(session, chunk)
        parts = []
        for contact_id in chunk:
            body = bodies.get(contact_id)
            if body is not None:
                parts.append(body if body.endswith("\n") else body + "\r\n")
        yield "".join(parts)


def write_xlsx(
    session: Session,
    ids: Sequence[int],
    definitions: Sequence[FieldDef],
    gettext: Gettext,
    target: IO[bytes],
) -> None:
    """An XLSX workbook into ``target``; rows go to openpyxl's write-only
    sheet one at a time (it keeps them in a temporary file, not in memory)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(gettext("Contacts"))
    sheet.append(header(definitions, gettext))
    for draft in _drafts(session, ids, definitions):
        sheet.append(row(draft, definitions, gettext))
    workbook.save(target)
