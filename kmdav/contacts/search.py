"""The contact list: filters, sort, pages and full-text search.

Full text runs on the ``search_text`` (card: names, company, e-mail, phone,
address, note, own fields) and ``notes_text`` (CRM notes) columns: SQLite
through the FTS5 table ``contacts_fts`` (migration 0007, triggers keep it in
step), PostgreSQL through the GIN index on their ``simple`` tsvector.  Every
word typed must match the start of a word (``hub`` finds Huber).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, text
from sqlalchemy.orm import Session

from kmdav.contacts import access
from kmdav.contacts.fieldtypes import FieldDef
from kmdav.contacts.words import query_terms
from kmdav.errors import ValidationError
from kmdav.models import (
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    CustomFieldDefinition,
    CustomFieldValue,
    DavItem,
    User,
)

SORTS = ("name", "-name", "company", "-company", "updated", "-updated")
#: From this many matches on, SQLite walks the order's expression index
#: (``ix_contacts_sort_*``, migration 0007, covering book and kind) and stops
#: after the page, instead of sorting every match (reading each match's row).
WALK_INDEX_FROM = 1000
PER_PAGE = 50


@dataclass(frozen=True)
class ContactQuery:
    q: str = ""
    tag: str = ""
    company: str = ""
    owner_id: int | None = None
    kind: str = ""
    #: Own-field filters: key -> wanted value (text fields: contains).
    own: dict[str, str] = field(default_factory=dict)
    sort: str = "name"
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class ContactRow:
    id: int
    kind: str
    name: str
    company: str
    email: str
    phone: str
    city: str
    tags: tuple[str, ...]
    owner: str
    own: dict[str, str]
    invalid: frozenset[str]


@dataclass(frozen=True)
class ContactPage:
    rows: list[ContactRow]
    total: int
    page: int
    pages: int


def _fulltext(
    session: Session,
    words: Sequence[str],
    contact_id: ColumnElement[int],
    whole: Sequence[str] = (),
) -> ColumnElement[bool]:
    """Every one of ``words`` starts a word of the contact's text, and every
    one of ``whole`` is a word of it."""
    if session.get_bind().dialect.name == "sqlite":
        match = " AND ".join([*(f'"{word}"*' for word in words), *(f'"{w}"' for w in whole)])
        ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("contacts_fts"))
            .where(text("contacts_fts MATCH :fts_query").bindparams(fts_query=match))
        )
        return contact_id.in_(ids)
    tsquery = " & ".join([*(f"{word}:*" for word in words), *whole])
    # Literally the expression of ix_contacts_fulltext (a bound ' ' would not match it).
    document = func.to_tsvector(
        literal_column("'simple'"),
        Contact.search_text.op("||")(literal_column("' '")).op("||")(Contact.notes_text),
    )
    return document.op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery))


def matching_ids(
    session: Session,
    query: ContactQuery,
    book_ids: Sequence[int],
    defs: Sequence[FieldDef],
    *,
    walk: bool = False,
) -> Select[int]:
    """The ids of the matching contacts.  ``walk``: written so that SQLite
    cannot use an index for the filters (``+ 0``, ``|| ''``) and walks the
    order's index instead, stopping after the page."""
    contact_id: ColumnElement[int] = Contact.id.expression
    collection: ColumnElement[int] = Contact.collection_id.expression
    kind: ColumnElement[str] = Contact.kind.expression
    if walk:
        contact_id, collection, kind = contact_id + 0, collection + 0, kind.concat("")
    statement = select(Contact.id).where(collection.in_(book_ids))
    statement = statement.where(kind.in_(("individual", "org")))
    words = query_terms(query.q)
    if words:
        # A tag's words are words of ``search_text`` too: matching them in the
        # full-text index narrows the rows the tag test below has to read
        # (a note word with a tag filter read every row with the note word).
        tag_words = query_terms(query.tag) if query.tag else []
        statement = statement.where(_fulltext(session, words, contact_id, tag_words))
    if query.tag:
        padded = "," + Contact.categories + ","
        statement = statement.where(func.lower(padded).contains(f",{query.tag.lower()},"))
    if query.company:
        statement = statement.where(func.lower(Contact.organization) == query.company.lower())
    if query.owner_id is not None:
        statement = statement.where(Contact.owner_id == query.owner_id)
    if query.kind in ("person", "company"):
        statement = statement.where(
            Contact.kind == ("org" if query.kind == "company" else "individual")
        )
    by_key = {d.key: d for d in defs}
    for key, wanted in query.own.items():
        definition = by_key.get(key)
        if definition is None or not wanted.strip():
            continue
        if definition.field_type == "text":
            condition = func.lower(CustomFieldValue.value).contains(wanted.strip().lower())
        else:
            condition = CustomFieldValue.value == wanted.strip()
        statement = statement.where(
            contact_id.in_(
                select(CustomFieldValue.contact_id)
                .join(CustomFieldDefinition, CustomFieldDefinition.id == CustomFieldValue.field_id)
                .where(CustomFieldDefinition.key == key, condition)
            )
        )
    return statement


def _first(model: type[ContactEmail] | type[ContactPhone], column: str) -> ColumnElement[str]:
    value: ColumnElement[str] = (
        select(getattr(model, column))
        .where(and_(model.contact_id == Contact.id, model.position == 0))
        .scalar_subquery()
    )
    return value


def search(
    session: Session,
    viewer: User,
    query: ContactQuery,
    defs: Sequence[FieldDef],
    *,
    company_book: str = access.DEFAULT_COMPANY_BOOK,
) -> ContactPage:
    """One page of the contacts ``viewer`` sees that match ``query``."""
    if query.sort not in SORTS:
        raise ValidationError("unknown sort order %(sort)r", field="sort", sort=query.sort)
    if query.page < 1:
        raise ValidationError("there is no page %(page)s", field="page", page=query.page)
    book_ids = list(access.books(session, viewer, company_book))
    if not book_ids:
        return ContactPage([], 0, 1, 1)
    filtered = matching_ids(session, query, book_ids, defs)
    total = session.scalar(select(func.count()).select_from(filtered.subquery())) or 0
    pages = max(1, math.ceil(total / query.per_page))
    name = func.lower(Contact.formatted_name)
    order = {
        "name": (name.asc(), Contact.id),
        "-name": (name.desc(), Contact.id),
        "company": (func.lower(Contact.organization).asc(), name, Contact.id),
        "-company": (func.lower(Contact.organization).desc(), name, Contact.id),
        "updated": (Contact.updated_at.asc(), Contact.id),
        "-updated": (Contact.updated_at.desc(), Contact.id),
    }[query.sort]
    # The page's ids first: the sort then carries ids and keys only, and the
    # columns below (first e-mail, phone, city, owner) are read for 50 rows.
    if total >= WALK_INDEX_FROM and session.get_bind().dialect.name == "sqlite":
        filtered = matching_ids(session, query, book_ids, defs, walk=True)
    ids_query = (
        filtered.order_by(*order).offset((query.page - 1) * query.per_page).limit(query.per_page)
    )
    page_ids = list(session.scalars(ids_query))
    if not page_ids:
        return ContactPage([], total, query.page, pages)
    city = (
        select(ContactAddress.locality)
        .where(ContactAddress.contact_id == Contact.id, ContactAddress.position == 0)
        .scalar_subquery()
    )
    found = {
        row[0]: row
        for row in session.execute(
            select(
                Contact.id,
                Contact.kind,
                Contact.formatted_name,
                Contact.organization,
                _first(ContactEmail, "value"),
                _first(ContactPhone, "value"),
                city,
                Contact.categories,
                User.username,
            )
            .outerjoin(User, User.id == Contact.owner_id)
            .where(Contact.id.in_(page_ids))
        )
    }
    rows = [found[i] for i in page_ids if i in found]
    ids = [row[0] for row in rows]
    own: dict[int, dict[str, str]] = {i: {} for i in ids}
    invalid: dict[int, set[str]] = {i: set() for i in ids}
    if ids and defs:
        for contact_id, key, value, valid in session.execute(
            select(
                CustomFieldValue.contact_id,
                CustomFieldDefinition.key,
                CustomFieldValue.value,
                CustomFieldValue.valid,
            )
            .join(CustomFieldDefinition, CustomFieldDefinition.id == CustomFieldValue.field_id)
            .where(CustomFieldValue.contact_id.in_(ids))
        ):
            own[contact_id][key] = value
            if not valid:
                invalid[contact_id].add(key)
    result = [
        ContactRow(
            id=row[0],
            kind="company" if row[1] == "org" else "person",
            name=row[2] or row[3] or "-",
            company=row[3] or "",
            email=row[4] or "",
            phone=row[5] or "",
            city=row[6] or "",
            tags=tuple(t for t in (row[7] or "").split(",") if t),
            owner=row[8] or "",
            own=own[row[0]],
            invalid=frozenset(invalid[row[0]]),
        )
        for row in rows
    ]
    return ContactPage(result, total, query.page, pages)


def tags_in_use(session: Session, book_ids: Sequence[int]) -> list[str]:
    """Every tag of the visible contacts, for the filter's choices."""
    found: set[str] = set()
    for value in session.scalars(
        select(Contact.categories)
        .where(Contact.collection_id.in_(book_ids), Contact.categories != "")
        .distinct()
    ):
        found.update(t for t in value.split(",") if t)
    return sorted(found, key=str.lower)


def db_lower(session: Session, value: str) -> str:
    """``value`` as the database's ``lower()`` writes it: SQLite's lowers
    ASCII letters only, PostgreSQL's every letter."""
    if session.get_bind().dialect.name == "sqlite":
        return "".join(c.lower() if c.isascii() else c for c in value)
    return value.lower()


#: Suggestions for a company name (the linked-company field, the list's filter).
SUGGESTIONS = 20


def company_suggestions(
    session: Session, book_ids: Sequence[int], typed: str, *, limit: int = SUGGESTIONS
) -> list[tuple[str, str]]:
    """(uid, name) of the first company cards whose name starts with ``typed``
    (no case), by name: a range on ``lower(organization)``, so SQLite walks
    ``ix_contacts_sort_company`` and stops after ``limit``."""
    prefix = db_lower(session, typed.strip())
    name = func.lower(Contact.organization)
    statement = (
        select(DavItem.uid, Contact.organization)
        .join(DavItem, DavItem.id == Contact.item_id)
        .where(Contact.collection_id.in_(book_ids), Contact.kind == "org")
    )
    if prefix:
        statement = statement.where(name >= prefix, name < prefix + "\U0010ffff")
    return [
        (uid, org)
        for uid, org in session.execute(statement.order_by(name, Contact.id).limit(limit))
    ]


def companies_named(session: Session, book_ids: Sequence[int], typed: str) -> list[tuple[str, str]]:
    """(uid, name) of the company cards named exactly ``typed`` (no case)."""
    return [
        (uid, org)
        for uid, org in session.execute(
            select(DavItem.uid, Contact.organization)
            .join(DavItem, DavItem.id == Contact.item_id)
            .where(
                Contact.collection_id.in_(book_ids),
                Contact.kind == "org",
                func.lower(Contact.organization) == db_lower(session, typed.strip()),
            )
            .order_by(Contact.id)
            .limit(SUGGESTIONS)
        )
    ]


def company_name(session: Session, book_ids: Sequence[int], uid: str) -> str:
    """The name of the visible company card ``uid`` ("" when not visible)."""
    found = session.scalar(
        select(Contact.organization)
        .join(DavItem, DavItem.id == Contact.item_id)
        .where(Contact.collection_id.in_(book_ids), Contact.kind == "org", DavItem.uid == uid)
        .limit(1)
    )
    return found or ""
