"""Importing an external attendee's e-mailed iMIP REPLY (RFC 6047, RFC 5546 3.2.3).

People outside kmdav answer an invitation from their own mail program,
which mails back a METHOD:REPLY.  The organizer hands that file to kmdav;
the attendee's PARTSTAT in the organizer's copy changes through the one
write path, so the organizer's devices see the answer at their next sync.
Anything that is not a usable reply is refused and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.errors import ValidationError
from kmdav.models import User
from kmdav.scheduling import boxes, implicit, itip

#: A reply file is small; a large paste is a mistake, not a reply.
MAX_REPLY = 64 * 1024


@dataclass(frozen=True)
class ImportedReply:
    uid: str
    summary: str
    attendee: str
    partstat: str


def import_reply(session: Session, organizer: User, text: str, actor: audit.Actor) -> ImportedReply:
    """Apply the REPLY in ``text`` to ``organizer``'s copy of the event."""
    if not text.strip():
        raise ValidationError("Paste the reply (.ics) from the e-mail.", field="reply")
    if len(text) > MAX_REPLY:
        raise ValidationError("This is too large for a reply.", field="reply")
    if "BEGIN:VCALENDAR" not in text.upper():
        raise ValidationError("This is not an iCalendar file.", field="reply")
    facts = itip.read(text)
    if facts is None or facts.method != "REPLY":
        raise ValidationError("This is not a reply to an invitation (METHOD:REPLY).", field="reply")
    if len(facts.attendees) != 1:
        raise ValidationError("A reply names exactly one attendee.", field="reply")
    answer = facts.attendees[0]
    if answer.partstat not in itip.PARTSTATS:
        raise ValidationError(
            "The reply has an unknown answer %(partstat)r.", field="reply", partstat=answer.partstat
        )
    found = boxes.find_copy(session, organizer, facts.uid)
    stored = itip.read(found[1].body) if found is not None else None
    if stored is None or stored.organizer not in boxes.addresses(organizer):
        raise ValidationError(
            "None of your appointments has the UID %(uid)r.", field="reply", uid=facts.uid
        )
    invited = stored.attendee(answer.address)
    if invited is None:
        raise ValidationError(
            "%(address)s was not invited to this appointment.",
            field="reply",
            address=itip.email_of(answer.address) or answer.address,
        )
    implicit.apply_reply(session, organizer, facts.uid, answer.address, answer.partstat)
    audit.record(
        session,
        actor,
        "calendar.reply_import",
        "calendar_object",
        facts.uid,
        {"attendee": answer.address, "partstat": answer.partstat},
    )
    return ImportedReply(facts.uid, stored.summary, answer.address, answer.partstat)
