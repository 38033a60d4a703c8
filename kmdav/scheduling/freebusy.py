"""Free-busy answers for a VFREEBUSY REQUEST posted to a schedule outbox
(RFC 6638 5, RFC 5546 3.3.2).

Busy time comes from the user's own calendars (never the inbox): the
stored time range narrows the rows in SQL, recurring objects are expanded
in the asked window only, and what does not block time is left out:
TRANSP:TRANSPARENT, STATUS:CANCELLED, and events the user declined.
Only users the asker may see (:func:`kmdav.accounts.service.visible_users`)
are answered; anyone else gets "3.8 no authority", which looks the same for
an unknown address as for a hidden one.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav.accounts.service import visible_users
from kmdav.calendar import recurrence
from kmdav.errors import PermissionDeniedError, ValidationError
from kmdav.models import DavCollection, DavItem, User
from kmdav.scheduling import boxes, itip

logger = logging.getLogger(__name__)

#: Longest window one query may ask for; expansion cost grows with it.
MAX_WINDOW = timedelta(days=366)
SUCCESS = "2.0;Success"
NO_AUTHORITY = "3.8;No authority"


@dataclass(frozen=True)
class FreeBusyRequest:
    organizer: str
    attendees: tuple[str, ...]
    start: datetime
    end: datetime
    uid: str


@dataclass(frozen=True)
class RecipientAnswer:
    recipient: str
    status: str
    calendar: str | None


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise ValidationError("DTSTART and DTEND must be dates or date-times")


def parse_request(text: str) -> FreeBusyRequest:
    """The VFREEBUSY REQUEST in ``text``, or :class:`ValidationError`."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as error:
        raise ValidationError("the body is not iCalendar: %(error)s", error=str(error)) from error
    if str(calendar.get("METHOD", "")).upper() != "REQUEST":
        raise ValidationError("a free-busy request needs METHOD:REQUEST")
    components = calendar.walk("VFREEBUSY")
    if len(components) != 1:
        raise ValidationError("a free-busy request holds exactly one VFREEBUSY")
    busy = components[0]
    if "DTSTART" not in busy or "DTEND" not in busy or "ORGANIZER" not in busy:
        raise ValidationError("VFREEBUSY needs DTSTART, DTEND and ORGANIZER")
    start, end = _utc(busy.decoded("DTSTART")), _utc(busy.decoded("DTEND"))
    if end <= start:
        raise ValidationError("DTEND must be after DTSTART")
    if end - start > MAX_WINDOW:
        raise ValidationError("a free-busy request may span at most 366 days")
    raw = busy.get("ATTENDEE", [])
    attendees = tuple(itip.normalize(str(a)) for a in (raw if isinstance(raw, list) else [raw]))
    if not attendees:
        raise ValidationError("a free-busy request names at least one ATTENDEE")
    return FreeBusyRequest(
        organizer=itip.normalize(str(busy["ORGANIZER"])),
        attendees=attendees,
        start=start,
        end=end,
        uid=str(busy.get("UID", "")) or str(uuid.uuid4()),
    )


def busy_periods(
    session: Session, user: User, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    """(start, end, FBTYPE) of what blocks ``user``'s time in [start, end)."""
    mine = set(boxes.addresses(user))
    query = (
        select(DavItem.body)
        .join(DavCollection, DavCollection.id == DavItem.collection_id)
        .where(
            DavCollection.owner_id == user.id,
            DavCollection.tag == "VCALENDAR",
            DavItem.component == "VEVENT",
            DavItem.dtstart < int(end.timestamp()),
            DavItem.dtend > int(start.timestamp()),
            boxes.not_a_box(),
        )
    )
    periods: list[tuple[datetime, datetime, str]] = []
    for body in session.scalars(query):
        try:
            found = recurrence.instances(body, start, end)
        except Exception:  # one unreadable object must not hide the others
            logger.warning("free-busy: skipped an object that does not expand", exc_info=True)
            continue
        for instance in found:
            event = instance.component
            if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            status = str(event.get("STATUS", "")).upper()
            if status == "CANCELLED" or _declined(event, mine):
                continue
            begin, finish = instance.occurrence.start, instance.occurrence.end
            kind = "BUSY-TENTATIVE" if status == "TENTATIVE" else "BUSY"
            periods.append((max(begin, start), min(finish, end), kind))
    return sorted(periods)


def _declined(event: Any, mine: set[str]) -> bool:
    raw = event.get("ATTENDEE", [])
    for attendee in raw if isinstance(raw, list) else [raw]:
        if itip.normalize(str(attendee)) in mine:
            return str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
    return False


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def reply_text(
    request: FreeBusyRequest, attendee: str, busy: list[tuple[datetime, datetime, str]]
) -> str:
    """The VFREEBUSY METHOD:REPLY for one attendee (RFC 5546 3.3.3)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//kmdav//scheduling//EN",
        "METHOD:REPLY",
        "BEGIN:VFREEBUSY",
        f"UID:{request.uid}",
        f"DTSTAMP:{_stamp(datetime.now(UTC))}",
        f"DTSTART:{_stamp(request.start)}",
        f"DTEND:{_stamp(request.end)}",
        f"ORGANIZER:{request.organizer}",
        f"ATTENDEE:{attendee}",
    ]
    for begin, finish, kind in busy:
        if finish > begin:
            lines.append(f"FREEBUSY;FBTYPE={kind}:{_stamp(begin)}/{_stamp(finish)}")
    lines += ["END:VFREEBUSY", "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def answer(session: Session, asker: User, request: FreeBusyRequest) -> list[RecipientAnswer]:
    """Free-busy of every attendee the asker may see; "no authority" for others."""
    if request.organizer not in boxes.addresses(asker):
        # RFC 6638 6.1.3: the organizer must be the authenticated user.
        raise PermissionDeniedError("the ORGANIZER of a free-busy request must be the one who asks")
    visible = {user.id for user in visible_users(session, asker.username)}
    answers = []
    for attendee in request.attendees:
        user = boxes.user_for_address(session, attendee)
        if user is None or user.id not in visible:
            answers.append(RecipientAnswer(attendee, NO_AUTHORITY, None))
            continue
        busy = busy_periods(session, user, request.start, request.end)
        answers.append(RecipientAnswer(attendee, SUCCESS, reply_text(request, attendee, busy)))
    return answers
