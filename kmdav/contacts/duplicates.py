"""Duplicate contacts: find candidates and merge them into one card.

**Finding** works on the projection (``contacts``, ``contact_emails``,
``contact_phones``), never pair by pair over the whole book: every contact
gets a few *blocking keys* and only contacts sharing a key are compared.

- the same e-mail address (without case);
- the same phone number: its digits, of which the last nine (so
  ``+43 660 1234567``, ``0043 660 1234567`` and ``0660/1234567`` meet);
- a similar name: the keys of a person are the family name with the
  initial of the given name, the family name also with any one letter left
  out (a *deletion neighbourhood*: two names one typo apart share a key,
  unrelated names rarely do, so the blocks stay small however big the
  book), and the family name with the first two letters of the given name
  (a typo further on in the given name); companies by their name without
  legal form (GmbH, AG, Ltd, ...) and its one-letter deletions.  Within a block the whole
  names are compared with a similarity ratio (cheap upper bounds first).
  Company-aware: two persons of the same name at two clearly different
  companies are not proposed.

Only contacts of the same address book are paired.  A block larger than
:data:`MAX_BLOCK` (a very common name) is compared only on its exact
normalised names, so the cost stays linear in the number of contacts.

**Merging** (:func:`merge`) patches the surviving card with the values the
user chose and deletes the others, both through the contacts service and
so the one DAV write path: a device's next sync shows one card changed and
the others deleted.  References move to the survivor first (consent
records, timeline events and notes, persons linked to a merged company),
and each merged UID is recorded in ``contact_uid_aliases`` so links by UID
(``X-KMDAV-CONTACT`` in calendar objects) resolve (:func:`resolve_uid`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.contacts import access, crm, service
from kmdav.contacts.cards import COMPANY, ContactDraft
from kmdav.contacts.service import ContactView
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.errors import NotFoundError, PermissionDeniedError, ValidationError
from kmdav.models import (
    ConsentRecord,
    Contact,
    ContactEmail,
    ContactEvent,
    ContactNote,
    ContactPhone,
    ContactUidAlias,
    User,
)

#: Blocks larger than this are compared on exact names only.
MAX_BLOCK = 200
#: Two names at least this similar (0..1) are proposed.
NAME_THRESHOLD = 0.88
#: Two companies less similar than this make two persons different people.
COMPANY_DIFFERENT = 0.6
PHONE_DIGITS = 9
#: Letters of a name that make its blocking keys.
MAX_KEY = 16
_LEGAL_FORMS = re.compile(
    r"\b(gmbh|ag|kg|og|ohg|gesmbh|e\.?\s?u|ug|se|ltd|limited|inc|llc|co|corp|plc|sa|sarl|bv|nv)\b\.?"
)
_NOT_LETTERS = re.compile(r"[^a-z0-9]+")

EMAIL, PHONE, NAME = "email", "phone", "name"


@dataclass
class Candidate:
    """Two contacts that may be one; ``reasons`` say why, ``score`` how sure (0..1)."""

    first: int
    second: int
    reasons: set[str] = field(default_factory=set)
    score: float = 0.0


@dataclass(frozen=True)
class _Person:
    id: int
    collection_id: int
    kind: str
    name: str
    given: str
    family: str
    company: str


def fold(text: str) -> str:
    """Lower case, accents and punctuation gone, words single-spaced."""
    text = text.replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_LETTERS.sub(" ", plain).split())


def company_key(name: str) -> str:
    return " ".join(_LEGAL_FORMS.sub(" ", fold(name)).split())


def phone_key(value: str) -> str:
    """The last nine digits of a number; "" for numbers too short to tell apart."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits[-PHONE_DIGITS:] if len(digits) >= 7 else ""


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0


def _people(session: Session, collection_ids: Sequence[int]) -> list[_Person]:
    rows = session.execute(
        select(
            Contact.id,
            Contact.collection_id,
            Contact.kind,
            Contact.formatted_name,
            Contact.given_name,
            Contact.family_name,
            Contact.organization,
        ).where(Contact.collection_id.in_(collection_ids))
    )
    people = []
    for id_, collection_id, kind, formatted, given, family, org in rows:
        given_f, family_f = fold(given), fold(family)
        if kind == "org":
            name = company_key(org or formatted)
        else:
            name = " ".join(p for p in (given_f, family_f) if p) or fold(formatted)
        people.append(_Person(id_, collection_id, kind, name, given_f, family_f, company_key(org)))
    return people


def _deletions(word: str) -> set[str]:
    """The word and every form of it with one letter left out: two words
    within one typo (a letter missing, extra or changed) share one of these."""
    word = word[:MAX_KEY]
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _name_keys(person: _Person) -> set[str]:
    """The blocking keys of a name, each prefixed with the address book."""
    book = f"{person.collection_id}|"
    if person.kind == "org" or not person.family:
        if not person.name:
            return set()
        return {book + "n" + person.kind + ":" + key for key in _deletions(person.name)}
    # A typo in the family name (the given name's initial equal), or further
    # on in the given name (the family name and two first letters equal).
    prefix = book + "f" + person.given[:1] + ":"
    keys = {prefix + key for key in _deletions(person.family)}
    keys.add(book + "g" + person.given[:2] + ":" + person.family)
    return keys


class _Pairs:
    def __init__(self) -> None:
        self.found: dict[tuple[int, int], Candidate] = {}

    def add(self, a: int, b: int, reason: str, score: float) -> None:
        key = (a, b) if a < b else (b, a)
        candidate = self.found.get(key)
        if candidate is None:
            candidate = self.found[key] = Candidate(*key)
        candidate.reasons.add(reason)
        candidate.score = max(candidate.score, score)

    def add_groups(self, groups: Iterable[list[int]], reason: str, score: float) -> None:
        for ids in groups:
            unique = sorted(set(ids))
            for i, a in enumerate(unique[:MAX_BLOCK]):
                for b in unique[i + 1 : MAX_BLOCK]:
                    self.add(a, b, reason, score)


def _same_value_groups(rows: Iterable[tuple[int, int, str]]) -> list[list[int]]:
    """Contact ids sharing a key within one collection (rows: id, collection, key)."""
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for contact_id, collection_id, key in rows:
        if key:
            groups[(collection_id, key)].append(contact_id)
    return [ids for ids in groups.values() if len(set(ids)) > 1]


def _similar_names(people: list[_Person], pairs: _Pairs) -> None:
    # Most keys belong to one contact: lists are made only for shared keys.
    first: dict[str, _Person] = {}
    blocks: dict[str, list[_Person]] = {}
    for person in people:
        for key in _name_keys(person):
            holder = first.setdefault(key, person)
            if holder is not person:
                members = blocks.get(key)
                if members is None:
                    blocks[key] = [holder, person]
                else:
                    members.append(person)
    compared: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) > MAX_BLOCK:
            exact: dict[str, list[int]] = defaultdict(list)
            for person in members:
                exact[f"{person.kind}:{person.name}:{person.company}"].append(person.id)
            pairs.add_groups((ids for ids in exact.values() if len(ids) > 1), NAME, 1.0)
            continue
        _compare_block(members, pairs, compared)


def _compare_block(members: list[_Person], pairs: _Pairs, compared: set[tuple[int, int]]) -> None:
    """Propose the pairs of one block whose names are similar enough."""
    for i, a in enumerate(members):
        # One matcher per contact and block, made when first needed:
        # difflib analyses its second sequence once.
        matcher: SequenceMatcher[str] | None = None
        for b in members[i + 1 :]:
            pair = (a.id, b.id) if a.id < b.id else (b.id, a.id)
            if a.kind != b.kind or a.id == b.id or pair in compared:
                continue
            compared.add(pair)
            if not _close_in_length(a.name, b.name):
                continue
            if matcher is None:
                matcher = SequenceMatcher(None, autojunk=False)
                matcher.set_seq2(a.name)
            score = _similar(matcher, b.name)
            if score < NAME_THRESHOLD:
                continue
            if (
                a.kind != "org"
                and a.company
                and b.company
                and similarity(a.company, b.company) < COMPANY_DIFFERENT
            ):
                continue  # namesakes at two companies
            pairs.add(a.id, b.id, NAME, score)


def _close_in_length(a: str, b: str) -> bool:
    """Could ``a`` and ``b`` reach the threshold at all (an upper bound of the ratio)?"""
    return bool(a and b) and 2 * min(len(a), len(b)) / (len(a) + len(b)) >= NAME_THRESHOLD


def _similar(matcher: SequenceMatcher[str], b: str) -> float:
    """The ratio of ``b`` to the name ``matcher`` holds; the cheap upper
    bound (the letters regardless of order) rules most pairs out first."""
    matcher.set_seq1(b)
    if matcher.quick_ratio() < NAME_THRESHOLD:
        return 0.0
    return matcher.ratio()


def find_candidates(
    session: Session,
    collection_ids: Sequence[int],
    *,
    limit: int = 500,
    progress: Callable[[int, str], None] | None = None,
) -> list[Candidate]:
    """Likely duplicates in these address books, the surest first.

    ``progress(step, what)`` hears of each of the three steps as it starts
    (steps done so far, what comes next), for the background scan
    (:mod:`kmdav.contacts.duplicatescan`)."""
    if not collection_ids:
        return []
    pairs = _Pairs()
    email_rows = session.execute(
        select(ContactEmail.contact_id, Contact.collection_id, func.lower(ContactEmail.value))
        .join(Contact, Contact.id == ContactEmail.contact_id)
        .where(Contact.collection_id.in_(collection_ids))
    )
    pairs.add_groups(_same_value_groups((a, b, c.strip()) for a, b, c in email_rows), EMAIL, 1.0)
    if progress is not None:
        progress(1, "phone numbers")
    phone_rows = session.execute(
        select(ContactPhone.contact_id, Contact.collection_id, ContactPhone.value)
        .join(Contact, Contact.id == ContactPhone.contact_id)
        .where(Contact.collection_id.in_(collection_ids))
    )
    pairs.add_groups(_same_value_groups((a, b, phone_key(c)) for a, b, c in phone_rows), PHONE, 0.9)
    if progress is not None:
        progress(2, "names")
    _similar_names(_people(session, collection_ids), pairs)
    ranked = sorted(
        pairs.found.values(), key=lambda c: (-len(c.reasons), -c.score, c.first, c.second)
    )
    return ranked[:limit]


def resolve_uid(session: Session, uid: str) -> str:
    """The UID a link should follow: a merged contact's survivor, else ``uid``."""
    survivor = session.scalar(
        select(ContactUidAlias.survivor_uid).where(ContactUidAlias.old_uid == uid)
    )
    return survivor or uid


# -- merging ------------------------------------------------------------------

_Item = TypeVar("_Item", LabeledValue, PostalAddress)
#: Single-valued fields the user picks from one of the contacts.
SINGLE_FIELDS = ("kind", "given_name", "family_name", "company", "title", "birthday", "note")


def item_key(item: LabeledValue | PostalAddress) -> str:
    """What makes two e-mails, phones or addresses the same (no case,
    spaces or punctuation; phones by their digits)."""
    if isinstance(item, PostalAddress):
        return "|".join(fold(part) for part in (item.street, item.postal_code, item.locality))
    digits = "".join(ch for ch in item.value if ch.isdigit())
    if "@" not in item.value and len(digits) >= 7:
        return phone_key(item.value)
    return item.value.strip().casefold()


def union(*lists: tuple[_Item, ...]) -> tuple[_Item, ...]:
    """The items of all lists, in order, each value once."""
    seen: set[str] = set()
    result: list[_Item] = []
    for items in lists:
        for item in items:
            key = item_key(item)
            if key not in seen:
                seen.add(key)
                result.append(item)
    return tuple(result)


def merge_views(
    session: Session, user: User, contact_ids: Sequence[int], *, company_book: str
) -> list[ContactView]:
    """The contacts to merge, in the order given (the first survives by
    default); all in one address book the user may write, and the user
    may delete contacts."""
    ids = list(dict.fromkeys(contact_ids))
    if len(ids) < 2:
        raise ValidationError("choose at least two contacts to merge", field="ids")
    if not access.may(session, user, "delete"):
        raise PermissionDeniedError(
            "you may not %(action)s contacts (ask an administrator for the permission)",
            action="delete",
        )
    views = [service.get_contact(session, user, i, company_book=company_book) for i in ids]
    if len({view.collection_id for view in views}) > 1:
        raise ValidationError("only contacts of one address book can be merged", field="ids")
    if not all(view.writable for view in views):
        raise PermissionDeniedError("you may not write to this address book")
    return views


def default_draft(views: Sequence[ContactView]) -> ContactDraft:
    """The suggestion: the survivor's (first) values, gaps filled from the
    others; every e-mail, phone, address and tag; the longest note; own
    fields where the survivor has none."""
    drafts = [view.draft for view in views]
    first = drafts[0]
    picked = {
        name: next((getattr(d, name) for d in drafts if getattr(d, name)), getattr(first, name))
        for name in SINGLE_FIELDS
        if name != "note"
    }
    custom: dict[str, str] = {}
    for draft in reversed(drafts):
        custom.update({k: v for k, v in draft.custom.items() if v})
    custom.update({k: v for k, v in first.custom.items() if v})
    return replace(
        first,
        **picked,
        note=max((d.note for d in drafts), key=len),
        emails=union(*(d.emails for d in drafts)),
        phones=union(*(d.phones for d in drafts)),
        addresses=union(*(d.addresses for d in drafts)),
        tags=tuple(dict.fromkeys(tag for d in drafts for tag in d.tags)),
        custom=custom,
        company_uid=next((d.company_uid for d in drafts if d.company_uid), ""),
    )


@dataclass(frozen=True)
class Merged:
    survivor_id: int
    deleted_ids: tuple[int, ...]
    relinked_persons: int


def merge(
    session: Session,
    *,
    user: User,
    survivor_id: int,
    other_ids: Sequence[int],
    draft: ContactDraft,
    etags: dict[int, str],
    company_book: str = access.DEFAULT_COMPANY_BOOK,
    via: audit.Actor | None = None,
) -> Merged:
    """Merge ``other_ids`` into ``survivor_id`` (see the module docstring).

    ``etags`` are the versions the user chose from; a contact changed since
    raises :class:`~kmdav.contacts.service.ContactConflictError` and the
    caller's transaction rolls everything back.
    """
    views = merge_views(session, user, [survivor_id, *other_ids], company_book=company_book)
    survivor, others = views[0], views[1:]
    for view in views:
        if view.id not in etags:
            raise ValidationError("the merge form is incomplete; open it again", field="ids")
    actor = via or audit.Actor(name=user.username, source="web", user_id=user.id)
    service.update_contact(
        session,
        actor=user,
        contact_id=survivor.id,
        draft=replace(
            draft,
            company_uid="" if draft.company_uid in {o.uid for o in others} else draft.company_uid,
        ),
        etag=etags[survivor.id],
        company_book=company_book,
        via=actor,
        require_fields=False,
    )
    other_ids_ = [o.id for o in others]
    for model in (ContactNote, ContactEvent, ConsentRecord):
        session.execute(
            update(model).where(model.contact_id.in_(other_ids_)).values(contact_id=survivor.id)
        )
    relinked = _relink_persons(session, user, others, survivor, company_book, actor)
    old_uids = [o.uid for o in others]
    session.execute(
        update(ContactUidAlias)
        .where(ContactUidAlias.survivor_uid.in_(old_uids))
        .values(survivor_uid=survivor.uid)
    )
    for uid in old_uids:
        if uid == survivor.uid:
            continue
        existing = session.get(ContactUidAlias, uid)
        if existing is None:
            session.add(ContactUidAlias(old_uid=uid, survivor_uid=survivor.uid, merged_by=user.id))
        else:
            existing.survivor_uid = survivor.uid
    session.flush()
    for other in others:
        service.delete_contact(
            session,
            actor=user,
            contact_id=other.id,
            etag=etags[other.id],
            company_book=company_book,
            via=actor,
        )
    names = ", ".join(o.draft.display_name or o.uid for o in others)
    crm.add_event(session, survivor.id, "merged", text=names, actor=user)
    audit.record(
        session,
        actor,
        "contact.merge",
        "contact",
        str(survivor.id),
        {"merged": other_ids_, "merged_uids": old_uids, "relinked_persons": relinked},
    )
    return Merged(survivor.id, tuple(other_ids_), relinked)


def _relink_persons(
    session: Session,
    user: User,
    others: Sequence[ContactView],
    survivor: ContactView,
    company_book: str,
    actor: audit.Actor,
) -> int:
    """Persons pointing at a merged company now point at the survivor
    (their cards are patched; ones the user cannot write keep the old UID,
    which the alias resolves)."""
    company_uids = [o.uid for o in others if o.draft.kind == COMPANY]
    if not company_uids:
        return 0
    count = 0
    person_ids = session.scalars(
        select(Contact.id).where(
            Contact.company_uid.in_(company_uids),
            Contact.id.notin_([survivor.id, *(o.id for o in others)]),
        )
    ).all()
    for person_id in person_ids:
        try:
            person = service.get_contact(session, user, person_id, company_book=company_book)
        except NotFoundError:
            continue
        if not person.writable:
            continue
        service.update_contact(
            session,
            actor=user,
            contact_id=person_id,
            draft=replace(person.draft, company_uid=survivor.uid),
            etag=person.etag,
            company_book=company_book,
            via=actor,
            require_fields=False,
        )
        count += 1
    return count
