"""An import file's rows, checked, and the contacts they duplicate.

- :class:`RowReader` streams a file's rows (or cards) as :class:`Entry`
  objects: the row's cells, its draft (``mapping.read_row``) or its card
  (parsed by vobject, a UID added when it has none), and every reason it
  cannot be imported;
- :func:`merged`: what "update" makes of a contact and a row;
- :class:`Matcher`: the contacts of the import's book a row duplicates,
  looked up for a whole batch in one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import vobject
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kmdav.contacts import tabular
from kmdav.contacts.cards import ContactDraft
from kmdav.contacts.mapping import OwnField, Problem, read_row
from kmdav.dav import repository
from kmdav.dav.bodies import single_object_uid
from kmdav.dav.vcard import CardFields
from kmdav.i18n import N_
from kmdav.models import Contact, ContactEmail, ContactImport, DavItem

# -- reading the file ------------------------------------------------------------------


@dataclass
class Entry:
    """One data row (or card) of the file, read and checked."""

    index: int
    number: int
    cells: list[str]
    empty: bool = False
    record: ContactDraft | None = None
    card: str = ""
    #: The UID a .vcf card carries (matched against the address book).
    uid: str = ""
    #: The UID a row's new card gets.
    new_uid: str = ""
    parsed: Any = None
    draft: ContactDraft | None = None
    problems: list[Problem] = field(default_factory=list)


def _with_uid(card: str) -> tuple[str, str]:
    """A card without UID gets one after its VERSION line (the only line
    the import adds: the store needs a UID, RFC 6350 6.7.6)."""
    uid = single_object_uid(card)
    if uid:
        return card, uid
    uid = str(uuid.uuid4())
    newline = "\r\n" if "\r\n" in card else "\n"
    lines = card.splitlines(keepends=True)
    at = next((i + 1 for i, line in enumerate(lines) if line.upper().startswith("VERSION:")), 1)
    lines.insert(at, f"UID:{uid}{newline}")
    return "".join(lines), uid


class RowReader:
    """The import's rows as :class:`Entry` objects, streamed."""

    def __init__(self, imported: ContactImport, own: Sequence[OwnField]) -> None:
        self.format = imported.format
        self.mapping = list(imported.mapping)
        self.own = {own_field.key: own_field for own_field in own}

    def entries(self, path: Path, shape: tabular.FileShape, start: int = 0) -> Iterator[Entry]:
        if shape.format == "vcf":
            for index, card in enumerate(tabular.vcard_texts(path, shape)):
                if index >= start:
                    yield self._card(index, card)
            return
        rows = tabular.table_rows(path, shape)
        next(rows, None)  # the header
        for index, cells in enumerate(rows):
            if index < start:
                continue
            if not any(cells):
                yield Entry(index, index + 2, cells, empty=True)
                continue
            record, problems = read_row(cells, self.mapping, self.own)
            yield Entry(index, index + 2, cells, record=record, problems=problems)

    @staticmethod
    def _card(index: int, card: str) -> Entry:
        entry = Entry(index, index + 1, [card])
        try:
            entry.card, entry.uid = _with_uid(card)
            entry.parsed = vobject.readOne(entry.card)
            if entry.parsed.name != "VCARD":
                raise ValueError("not a VCARD")
        except Exception as error:  # vobject raises many kinds for a broken card
            entry.problems.append(
                Problem(N_("The card cannot be read: %(reason)s"), {"reason": str(error)[:200]})
            )
        return entry


def merged(current: ContactDraft, row: ContactDraft) -> ContactDraft:
    """``current`` with what the row brings: its non-empty values replace,
    new e-mail addresses and phone numbers are added, tags are joined."""

    def new_values(old: Sequence[Any], new: Sequence[Any]) -> tuple[Any, ...]:
        known = {v.value.casefold() for v in old}
        return (*old, *(v for v in new if v.value.casefold() not in known))

    return replace(
        current,
        given_name=row.given_name or current.given_name,
        family_name=row.family_name or current.family_name,
        company=row.company or current.company,
        title=row.title or current.title,
        emails=new_values(current.emails, row.emails),
        phones=new_values(current.phones, row.phones),
        addresses=row.addresses or current.addresses,
        birthday=row.birthday or current.birthday,
        note=row.note or current.note,
        tags=tuple(dict.fromkeys((*current.tags, *row.tags))),
        custom={**current.custom, **row.custom},
    )


# -- matching ---------------------------------------------------------------------------


def _in_book(collection_id: int) -> Any:
    # "+ 0" keeps SQLite (which has no statistics) from starting at the
    # book's index and reading every contact of the book for each batch;
    # the lower() expression indexes (0007's for names, 0008's for e-mail
    # addresses) serve instead.
    return Contact.collection_id + 0 == collection_id


def _name_key(name: str) -> str:
    return " ".join(name.split()).lower()


@dataclass
class Matcher:
    """Finds the contact a row duplicates, in the import's address book.

    E-mail: any of the row's addresses equals one of the contact's (any
    case).  Name + company: the same full name, and the same company when
    the row names one (what ``contacts.service.find_matches`` does, asked
    for a whole batch in one query).  Cards from a .vcf match by UID first.
    """

    collection_id: int
    rule: str
    #: Match key -> href, for the batch (from the database) and for rows
    #: this import wrote already.
    by_key: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    by_uid: dict[str, str] = field(default_factory=dict)

    def keys(self, fields_: CardFields) -> list[str]:
        if self.rule == "email":
            return [e.value.lower() for e in fields_.emails]
        return [_name_key(fields_.formatted_name)] if fields_.formatted_name else []

    def load(self, session: Session, batch: Sequence[tuple[Entry, CardFields]]) -> None:
        """Look up every key of a batch in one query (and the cards' UIDs)."""
        self.by_key.clear()
        self.by_name.clear()
        self.by_uid.clear()
        keys = sorted({key for _, f in batch for key in self.keys(f)})
        for start in range(0, len(keys), repository.IN_CHUNK):
            chunk = keys[start : start + repository.IN_CHUNK]
            if self.rule == "email":
                query = (
                    select(func.lower(ContactEmail.value), DavItem.href)
                    .join(Contact, Contact.id == ContactEmail.contact_id)
                    .join(DavItem, DavItem.id == Contact.item_id)
                    .where(
                        _in_book(self.collection_id),
                        func.lower(ContactEmail.value).in_(chunk),
                    )
                    .order_by(Contact.id.desc())
                )
                # Descending, so the oldest contact's href is written last and wins.
                self.by_key.update((row[0], row[1]) for row in session.execute(query))
            else:
                query = (
                    select(
                        func.lower(Contact.formatted_name),
                        func.lower(Contact.organization),
                        DavItem.href,
                    )
                    .join(DavItem, DavItem.id == Contact.item_id)
                    .where(
                        _in_book(self.collection_id),
                        func.lower(Contact.formatted_name).in_(chunk),
                    )
                    .order_by(Contact.id)
                )
                for name, organization, href in session.execute(query):
                    self.by_name.setdefault(name, []).append((organization or "", href))
        uids = [entry.uid for entry, _ in batch if entry.uid]
        for start in range(0, len(uids), repository.IN_CHUNK):
            query = select(DavItem.uid, DavItem.href).where(
                DavItem.collection_id == self.collection_id,
                DavItem.uid.in_(uids[start : start + repository.IN_CHUNK]),
            )
            self.by_uid.update((row[0], row[1]) for row in session.execute(query))

    def find(self, entry: Entry, fields_: CardFields) -> str | None:
        if entry.uid and entry.uid in self.by_uid:
            return self.by_uid[entry.uid]
        if self.rule == "email":
            return next((self.by_key[k] for k in self.keys(fields_) if k in self.by_key), None)
        company = fields_.organization.lower()
        for key in self.keys(fields_):
            for organization, href in self.by_name.get(key, []):
                if not company or organization == company:
                    return href
        return None

    def remember(self, entry: Entry, fields_: CardFields, href: str) -> None:
        """A card this batch wrote: later rows of the batch match it too."""
        if entry.uid:
            self.by_uid[entry.uid] = href
        for key in self.keys(fields_):
            if self.rule == "email":
                self.by_key.setdefault(key, href)
            else:
                self.by_name.setdefault(key, []).append((fields_.organization.lower(), href))
