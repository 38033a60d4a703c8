"""addressbook-query (RFC 6352 10.5) narrowed with the contact projection.

``candidate_hrefs`` turns the common filters (text matches on FN, N, EMAIL,
TEL, ORG, NICKNAME, UID) into one indexed SQL query that returns a superset
of the matching cards; Radicale then tests each candidate exactly.  Any
filter it does not understand returns ``None``: "test every card".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from kmdav.models import Contact, ContactEmail, ContactPhone, DavItem

CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
MATCH_TYPES = frozenset({"contains", "equals", "starts-with", "ends-with"})


def _contains(column: Any, needle: str) -> ColumnElement[bool]:
    escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


_COLUMNS: dict[str, tuple[Any, ...]] = {
    "FN": (Contact.formatted_name,),
    "N": (Contact.family_name, Contact.given_name),
    "ORG": (Contact.organization,),
    "UID": (DavItem.uid,),
}


def _condition(name: str, needle: str) -> ColumnElement[bool] | None:
    if name in _COLUMNS:
        return or_(*(_contains(column, needle) for column in _COLUMNS[name]))
    if name == "EMAIL":
        return Contact.id.in_(
            select(ContactEmail.contact_id).where(_contains(ContactEmail.value, needle))
        )
    if name == "TEL":
        return Contact.id.in_(
            select(ContactPhone.contact_id).where(_contains(ContactPhone.value, needle))
        )
    return None


def _prop_condition(prop_filter: ET.Element) -> ColumnElement[bool] | None:
    name = prop_filter.get("name", "").upper()
    children = list(prop_filter)
    if len(children) != 1 or children[0].tag != CARDDAV + "text-match":
        return None
    match = children[0]
    needle = (match.text or "").strip()
    if match.get("negate-condition", "no") != "no" or not needle:
        return None
    # SQL lower() folds ASCII only (SQLite); and ORG/N are stored joined,
    # so separators cannot match reliably: let Radicale test such queries.
    if not needle.isascii() or any(c in needle for c in ";,"):
        return None
    if match.get("match-type", "contains") not in MATCH_TYPES:
        return None
    return _condition(name, needle)


def candidate_hrefs(
    session: Session, collection_id: int, filters: Sequence[ET.Element]
) -> list[str] | None:
    if len(filters) != 1:
        return None
    (root,) = filters
    prop_filters = list(root)
    if not prop_filters or any(p.tag != CARDDAV + "prop-filter" for p in prop_filters):
        return None
    conditions: list[ColumnElement[bool]] = []
    for prop_filter in prop_filters:
        if prop_filter.get("test", "anyof") != "anyof":
            return None
        condition = _prop_condition(prop_filter)
        if condition is None:
            return None
        conditions.append(condition)
    combined = (
        and_(true(), *conditions) if root.get("test") == "allof" else or_(false(), *conditions)
    )
    query = (
        select(DavItem.href)
        .join(Contact, Contact.item_id == DavItem.id)
        .where(DavItem.collection_id == collection_id, combined)
    )
    return list(session.scalars(query))
