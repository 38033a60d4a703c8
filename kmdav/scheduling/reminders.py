"""E-mail reminders for appointments, for users who want them.

Devices keep showing VALARMs as they always did (the stored body is
untouched).  On top of that an appointment can ask for an e-mail reminder
with ``X-KMDAV-EMAIL-REMINDER:<duration before the start>`` (RFC 5545
duration, e.g. ``PT15M``); an X- property travels through every client
unchanged.  The owner of the calendar gets the mail when their account
setting (``users.email_reminders``) is on and they have an e-mail address.

:func:`scan` runs every minute (a huey periodic task of the consumer): it
expands recurring appointments in a bounded window and queues one
``mail.send`` job per due occurrence.  The job's natural key is event UID x
occurrence start x user, so a second scan, a second worker or a restart
never sends a reminder twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from kmdav import audit
from kmdav.calendar import recurrence
from kmdav.errors import ValidationError
from kmdav.models import DavCollection, DavItem, Job, User
from kmdav.outbox import KIND, queue_mail
from kmdav.scheduling import boxes, lines

logger = logging.getLogger(__name__)

PROPERTY = "X-KMDAV-EMAIL-REMINDER"
#: The longest lead time a reminder may ask for; bounds the scan window.
MAX_LEAD = timedelta(days=7)
#: How far back a scan still sends reminders it missed (server was down).
CATCH_UP = timedelta(hours=1)


@dataclass(frozen=True)
class DueReminder:
    user: User
    uid: str
    summary: str
    start: datetime
    send_at: datetime


def set_email_reminders(session: Session, user: User, enabled: bool, actor: audit.Actor) -> None:
    """Switch the user's e-mail reminders on or off."""
    if user.email_reminders != enabled:
        user.email_reminders = enabled
        session.flush()
        audit.record(
            session, actor, "user.email_reminders", "user", user.username, {"enabled": enabled}
        )


def with_email_reminder(text: str, lead: timedelta | None) -> str:
    """``text`` with the e-mail reminder of its first event set to ``lead``
    before the start (``None`` removes it); every other line stays as is.
    For forms that offer the per-appointment switch."""
    if lead is not None and not timedelta(0) <= lead <= MAX_LEAD:
        raise ValidationError("An e-mail reminder is at most 7 days before the start.")
    value = None if lead is None else _duration(lead)
    return lines.set_first_property(text, "VEVENT", PROPERTY, value)


def _duration(lead: timedelta) -> str:
    """RFC 5545 3.3.6 duration text of a non-negative timedelta."""
    seconds = int(lead.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time_part = "".join(
        f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n
    )
    out = "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "")
    return out if out != "P" else "PT0S"


def _lead(component: Any) -> timedelta | None:
    raw = component.get(PROPERTY)
    if raw is None:
        return None
    try:
        lead = icalendar.vDuration.from_ical(str(raw).strip())  # type: ignore[no-untyped-call]
    except ValueError:
        return None
    if not isinstance(lead, timedelta) or lead < timedelta(0) or lead > MAX_LEAD:
        return None
    return lead


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    assert isinstance(value, date)
    return datetime.combine(value, time(), tzinfo=UTC)


def due_reminders(session: Session, now: datetime) -> list[DueReminder]:
    """Occurrences whose reminder time lies in (now - CATCH_UP, now]."""
    window_start, window_end = now - CATCH_UP, now + MAX_LEAD
    query = (
        select(User, DavItem.body)
        .join(DavCollection, DavCollection.owner_id == User.id)
        .join(DavItem, DavItem.collection_id == DavCollection.id)
        .where(
            User.email_reminders.is_(True),
            User.is_active.is_(True),
            User.email.is_not(None),
            DavCollection.tag == "VCALENDAR",
            boxes.not_a_box(),
            DavItem.component == "VEVENT",
            DavItem.body.contains(PROPERTY),
            DavItem.dtstart < int(window_end.timestamp()),
            DavItem.dtend > int(window_start.timestamp()),
        )
    )
    due: list[DueReminder] = []
    for user, body in session.execute(query).all():
        try:
            found = recurrence.instances(body, window_start, window_end)
        except Exception:  # one unreadable object must not stop the others
            logger.warning("reminders: skipped an object that does not expand", exc_info=True)
            continue
        for instance in found:
            event = instance.component
            lead = _lead(event)
            if lead is None or str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            start = instance.occurrence.start
            send_at = start - lead
            if window_start < send_at <= now:
                summary = str(event.get("SUMMARY", "")) or "(no title)"
                due.append(DueReminder(user, str(event.get("UID", "")), summary, start, send_at))
    return due


def job_key(reminder: DueReminder) -> str:
    digest = hashlib.sha256(reminder.uid.encode("utf-8")).hexdigest()[:32]
    stamp = reminder.start.strftime("%Y%m%dT%H%M%SZ")
    return f"reminder:{digest}:{stamp}:{reminder.user.id}"


def scan(session: Session, now: datetime | None = None) -> int:
    """Queue the reminders that are due; returns how many were new."""
    moment = now or datetime.now(UTC)
    queued = 0
    for reminder in due_reminders(session, moment):
        assert reminder.user.email is not None
        key = job_key(reminder)
        if session.scalar(select(Job.id).where(Job.kind == KIND, Job.key == key)) is not None:
            continue  # queued by an earlier scan: one reminder per occurrence
        summary = " ".join(reminder.summary.split())[:150]
        when = reminder.start.strftime("%Y-%m-%d %H:%M UTC")
        job = queue_mail(
            session,
            purpose=key,
            to=reminder.user.email,
            to_name=reminder.user.display_name,
            subject=f"Reminder: {summary} at {when}",
            body=f"Reminder from kmdav:\n\n{summary}\nStarts: {when}\n",
            created_by=reminder.user.id,
        )
        queued += 1
        logger.info("reminders: queued job %s for %s", job.id, reminder.user.username)
    return queued
