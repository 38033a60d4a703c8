"""iMIP (RFC 6047): iTIP messages by e-mail to people who are not kmdav users.

Each message is a ``mail.send`` job (:mod:`kmdav.outbox`) whose natural key
is object x recipient x SEQUENCE x method: saving the same version of an
event again, a retried request or a second worker sends nothing twice,
while a new SEQUENCE (a real change, RFC 5546 2.1.4) or a cancellation
sends again.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from kmdav.models import Job
from kmdav.outbox import queue_mail
from kmdav.scheduling import itip

_SUBJECTS = {
    "REQUEST": "Invitation: %s",
    "CANCEL": "Cancelled: %s",
    "REPLY": "Reply: %s",
}
_INTROS = {
    "REQUEST": "%s invites you.",
    "CANCEL": "%s has cancelled this appointment.",
    "REPLY": "%s has answered your invitation.",
}


def _one_line(text: str) -> str:
    plain = text.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";")
    return " ".join(plain.split())[:150]


def _when(value: str) -> str:
    """A DTSTART value for people: ``2027-05-20 08:00 UTC`` or ``2027-05-20``."""
    raw = value.strip()
    if len(raw) == 8 and raw.isdigit():
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    if len(raw) >= 15 and raw[8] == "T" and raw[:8].isdigit():
        zone = " UTC" if raw.endswith("Z") else ""
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:8]} {raw[9:11]}:{raw[11:13]}{zone}"
    return raw


def job_key(uid: str, recipient: str, sequence: int, method: str) -> str:
    digest = hashlib.sha256(f"{uid}\x00{itip.normalize(recipient)}".encode()).hexdigest()[:32]
    return f"imip:{digest}:{sequence}:{method}"


def queue(
    session: Session,
    *,
    method: str,
    message_text: str,
    facts: itip.Scheduling,
    recipient: str,
    sender_name: str,
    recipient_name: str = "",
) -> Job | None:
    """Queue the iMIP mail ``method`` to ``recipient`` (a ``mailto:`` address)."""
    email = itip.email_of(recipient)
    if email is None:
        return None
    summary = _one_line(facts.summary) or "(no title)"
    lines = [
        _INTROS[method] % (sender_name or "kmdav"),
        "",
        f"Title: {summary}",
        f"Start: {_when(facts.dtstart)}",
        f"Organizer: {itip.email_of(facts.organizer) or facts.organizer}",
        "",
        "The attached calendar entry can be opened with any calendar program.",
    ]
    return queue_mail(
        session,
        purpose=job_key(facts.uid, recipient, facts.sequence, method),
        to=email,
        to_name=_one_line(recipient_name),
        subject=_SUBJECTS[method] % summary,
        body="\n".join(lines) + "\n",
        calendar=(message_text, method),
    )
