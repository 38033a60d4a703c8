"""Implicit scheduling (RFC 6638 3.2): what a PUT or DELETE of a scheduling
object resource does for the other calendar users.

The DAV storage calls :func:`after_store` and :func:`after_delete` in the
same transaction as the triggering write; every delivery goes through
:func:`kmdav.dav.service.store_item` (revision, change log, projection), so
attendees' devices see invitations at their next sync and a failed request
delivers nothing.  Deliveries call ``store_item`` directly, never these
hooks, so one write never schedules twice.

- The **organizer's** copy (its ORGANIZER is one of the owner's addresses):
  each attendee who is a kmdav user gets the object in their default
  calendar (or where they already keep it) and a METHOD:REQUEST in their
  inbox; others get an iMIP mail.  The outcome is recorded as
  SCHEDULE-STATUS on the organizer's ATTENDEE line (RFC 6638 7.3: 1.2
  delivered, 1.1 sent by mail, 3.7 unknown user, 5.3 no calendar for it).
  An attendee removed, or the whole object deleted, gets a CANCEL.
- An **attendee's** copy whose PARTSTAT changed (accept, decline) sends a
  REPLY: the organizer's copy gets the new PARTSTAT and the organizer's
  inbox the message; an external organizer gets an iMIP REPLY.  Deleting
  an attendee's copy declines (RFC 6638 3.2.2.3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.dav import repository, service
from kmdav.dav.items import CollectionRef, StoredItem
from kmdav.models import DavCollection, DavItem, User
from kmdav.scheduling import boxes, imip, itip

logger = logging.getLogger(__name__)

DELIVERED = "1.2"
SENT = "1.1"
UNKNOWN_USER = "3.7"
NO_CALENDAR = "5.3"


@dataclass(frozen=True)
class Outcome:
    """The organizer's object as finally stored, and what happened per attendee."""

    item: StoredItem
    statuses: dict[str, str]


def _store(
    session: Session, collection: CollectionRef, href: str, text: str, like: StoredItem
) -> StoredItem:
    # The lock a DAV write to that collection holds, so a delivery cannot
    # slip between another request's If-Match check and its write
    # (PostgreSQL breaks the rare deadlock of two crossing deliveries).
    repository.lock_collection(session, collection.path)
    obj = service.DavObject(
        text=text, uid=like.uid, component=like.component, dtstart=like.dtstart, dtend=like.dtend
    )
    return service.store_item(session, collection, href, obj)[0]


def _owner(session: Session, collection: CollectionRef, owner_id: int | None) -> User | None:
    if owner_id is None or boxes.box_kind(collection.path):
        return None
    user = session.get(User, owner_id)
    return user if user is not None and user.is_active else None


def after_store(
    session: Session,
    collection: CollectionRef,
    owner_id: int | None,
    new: StoredItem,
    previous: StoredItem | None,
    previous_text: str | None,
) -> StoredItem:
    """Schedule after ``new`` was stored over ``previous`` (whose body,
    read before the write, is ``previous_text``); returns the item as
    finally stored."""
    if new.text is None or (previous is not None and previous.etag == new.etag):
        return new
    if not previous_text and not itip.may_schedule(new.text):
        return new  # the common case: no ORGANIZER, nothing to schedule
    facts = itip.read(new.text)
    old = itip.read(previous_text) if previous is not None and previous_text else None
    if facts is None and old is None:
        return new
    owner = _owner(session, collection, owner_id)
    if owner is None:
        return new
    mine = set(boxes.addresses(owner))
    if facts is not None and facts.organizer in mine:
        kept_old = old if old is not None and old.organizer in mine else None
        return organize(session, collection, owner, new, facts, kept_old).item
    if facts is not None:
        me = next((a for a in facts.attendees if a.address in mine), None)
        if me is not None:
            before = old.attendee(me.address) if old is not None else None
            if before is None or before.partstat != me.partstat:
                _reply(session, owner, facts, new.text, me.address, me.partstat)
    return new


def needs_previous(text: str) -> bool:
    """Whether a PUT of ``text`` may schedule, so the replaced body is worth
    reading first (a cheap scan; most objects have no ORGANIZER)."""
    return itip.may_schedule(text)


def after_delete(
    session: Session, collection: CollectionRef, owner_id: int | None, old: StoredItem
) -> None:
    """Cancel (organizer) or decline (attendee) after ``old`` was deleted."""
    facts = itip.read(old.text) if old.text else None
    owner = _owner(session, collection, owner_id)
    if facts is None or owner is None or old.text is None:
        return
    mine = set(boxes.addresses(owner))
    if facts.organizer in mine:
        for attendee in facts.attendees:
            if attendee.address not in mine and attendee.agent == "SERVER":
                _cancel(session, owner, facts, old, attendee)
        return
    me = next((a for a in facts.attendees if a.address in mine), None)
    if me is not None and me.partstat != "DECLINED":
        declined = itip.set_attendee_params(old.text, me.address, PARTSTAT="DECLINED")
        _reply(session, owner, facts, declined or old.text, me.address, "DECLINED")


def before_collection_delete(session: Session, collection: DavCollection) -> None:
    """A calendar about to be deleted as a whole: every scheduling object
    in it is cancelled or declined, as if deleted one by one."""
    if collection.tag != "VCALENDAR":
        return
    query = select(DavItem).where(
        DavItem.collection_id == collection.id, DavItem.body.contains("ORGANIZER")
    )
    for item in list(session.scalars(query)):
        after_delete(session, collection, collection.owner_id, StoredItem.of(item))


def organize(
    session: Session,
    collection: CollectionRef,
    organizer: User,
    new: StoredItem,
    facts: itip.Scheduling,
    old: itip.Scheduling | None,
) -> Outcome:
    """Deliver the organizer's object to every attendee; cancel removed ones."""
    assert new.text is not None
    mine = set(boxes.addresses(organizer))
    text = new.text
    statuses: dict[str, str] = {}
    rescheduled = old is not None and old.dtstart != facts.dtstart
    for attendee in facts.attendees:
        if attendee.address in mine or attendee.agent != "SERVER":
            continue
        user = boxes.user_for_address(session, attendee.address)
        if user is not None:
            status, partstat = _deliver(session, user, attendee, text, new, rescheduled)
            if partstat is not None:
                text = itip.set_attendee_params(text, attendee.address, PARTSTAT=partstat) or text
        elif itip.email_of(attendee.address):
            imip.queue(
                session,
                method="REQUEST",
                message_text=itip.message(text, "REQUEST"),
                facts=facts,
                recipient=attendee.address,
                sender_name=organizer.display_name or organizer.username,
                recipient_name=attendee.name,
            )
            status = SENT
        else:
            status = UNKNOWN_USER
        statuses[attendee.address] = status
        text = itip.set_attendee_params(text, attendee.address, SCHEDULE_STATUS=status) or text
    if old is not None:
        current = {a.address for a in facts.attendees}
        for gone in old.attendees:
            if gone.address not in current and gone.address not in mine:
                _cancel(session, organizer, old, new, gone)
    stored = new if text == new.text else _store(session, collection, new.href, text, new)
    return Outcome(stored, statuses)


def _deliver(
    session: Session,
    user: User,
    attendee: itip.Participant,
    organizer_text: str,
    like: StoredItem,
    rescheduled: bool,
) -> tuple[str, str | None]:
    """Put the organizer's object into ``user``'s calendar and inbox.

    Returns the SCHEDULE-STATUS and, when the attendee had already answered
    and the time did not move, the PARTSTAT kept from their copy (the
    organizer cannot answer for them, RFC 6638 3.2.2.1).
    """
    existing = boxes.find_copy(session, user, like.uid)
    kept: str | None = None
    copy_text = itip.calendar_copy(organizer_text)
    if existing is not None:
        collection, item = existing
        before = itip.read(item.body)
        answered = before.attendee(attendee.address) if before is not None else None
        if answered is not None and answered.partstat != attendee.partstat and not rescheduled:
            kept = answered.partstat
            copy_text = (
                itip.set_attendee_params(copy_text, attendee.address, PARTSTAT=kept) or copy_text
            )
        href = item.href
    else:
        target = boxes.default_calendar(session, user, like.component)
        if target is None:
            return NO_CALENDAR, None
        collection = target
        href = boxes.free_href(session, collection, like.href, like.uid)
    _store(session, collection, href, copy_text, like)
    _to_inbox(session, user, itip.message(organizer_text, "REQUEST"), like)
    return DELIVERED, kept


def _to_inbox(session: Session, user: User, message: str, like: StoredItem) -> None:
    inbox = boxes.ensure_boxes(session, user).inbox
    _store(session, inbox, boxes.message_href(like.uid), message, like)


def _cancel(
    session: Session,
    organizer: User,
    facts: itip.Scheduling,
    like: StoredItem,
    attendee: itip.Participant,
) -> None:
    """Tell ``attendee`` the object is cancelled (RFC 5546 3.2.5)."""
    assert like.text is not None
    message = itip.message(itip.cancelled(like.text), "CANCEL")
    user = boxes.user_for_address(session, attendee.address)
    if user is None:
        imip.queue(
            session,
            method="CANCEL",
            message_text=message,
            facts=facts,
            recipient=attendee.address,
            sender_name=organizer.display_name or organizer.username,
            recipient_name=attendee.name,
        )
        return
    existing = boxes.find_copy(session, user, like.uid)
    if existing is not None:
        collection, item = existing
        _store(session, collection, item.href, itip.cancelled(item.body), StoredItem.of(item))
    _to_inbox(session, user, message, like)


def _reply(
    session: Session,
    attendee_user: User,
    facts: itip.Scheduling,
    attendee_text: str,
    address: str,
    partstat: str,
) -> None:
    """Carry the attendee's answer to the organizer (RFC 5546 3.2.3)."""
    message = itip.reply(attendee_text, address)
    organizer = boxes.user_for_address(session, facts.organizer)
    if organizer is None:
        imip.queue(
            session,
            method="REPLY",
            message_text=message,
            facts=facts,
            recipient=facts.organizer,
            sender_name=attendee_user.display_name or attendee_user.username,
            recipient_name=facts.organizer_name,
        )
        return
    apply_reply(session, organizer, facts.uid, address, partstat)
    found = boxes.find_copy(session, organizer, facts.uid)
    if found is not None:
        _to_inbox(session, organizer, message, StoredItem.of(found[1]))


def apply_reply(
    session: Session, organizer: User, uid: str, address: str, partstat: str
) -> StoredItem | None:
    """Set ``address``'s PARTSTAT in the organizer's copy; ``None`` when the
    organizer has no such object or did not invite that address."""
    found = boxes.find_copy(session, organizer, uid)
    if found is None:
        return None
    collection, item = found
    facts = itip.read(item.body)
    if facts is None or facts.organizer not in boxes.addresses(organizer):
        return None
    updated = itip.set_attendee_params(item.body, address, PARTSTAT=partstat)
    if updated is None:
        return None
    return _store(session, collection, item.href, updated, StoredItem.of(item))
