"""Sending e-mail as a job (kind ``mail.send``), so that it is sent once.

The natural key is the message's *purpose* (``"admin-test:<form id>"``,
later ``"newsletter:<issue>:<recipient>"``): queueing the same purpose again
returns the job that exists.  Within the job, the attempt is recorded
before the message goes to the server: an attempt interrupted right there
(the process was killed) cannot tell whether the server took the message,
so the job fails with that explanation instead of risking a second copy.
A refusal the server states is known not to have delivered anything; a
transient one (no connection, 4xx) is retried, a permanent one fails the
job with the server's answer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from kmdav.errors import ConfigError, MailError, ValidationError
from kmdav.i18n import N_
from kmdav.jobs import JobContext, JobFailed, enqueue, job_kind
from kmdav.mail import build_message, check_address, send, sender
from kmdav.models import Job

KIND = "mail.send"
#: The headers a caller fills in, which must each stay on one line.
_ONE_LINE = {
    "subject": N_("The subject must be one line."),
    "to_name": N_("The to name must be one line."),
}


def queue_mail(
    session: Session,
    *,
    purpose: str,
    to: str,
    subject: str,
    body: str,
    to_name: str = "",
    created_by: int | None = None,
    calendar: tuple[str, str] | None = None,
) -> Job:
    """The job that sends this message once (an existing one for ``purpose``)."""
    for field, value in (("subject", subject), ("to_name", to_name)):
        if "\r" in value or "\n" in value:
            # A line break in a header would end it (header injection).
            raise ValidationError(_ONE_LINE[field], field=field)
    payload: dict[str, Any] = {
        "to": check_address(to),
        "to_name": to_name,
        "subject": subject,
        "body": body,
    }
    if calendar is not None:  # (iCalendar text, iTIP method) for iMIP
        payload["calendar"] = list(calendar)
    return enqueue(session, KIND, purpose, payload, created_by=created_by)


@job_kind(KIND, max_attempts=3, retry_delay=30)
def send_queued_mail(ctx: JobContext) -> dict[str, Any] | None:
    if ctx.result.get("sent"):
        return None  # an earlier attempt sent it and recorded that
    if ctx.result.get("sending"):
        raise JobFailed(
            "An earlier attempt stopped while handing the message to the mail server. "
            "It is not sent again, so that it cannot arrive twice: check whether it arrived."
        )
    settings = ctx.settings.mail
    payload = ctx.payload
    try:
        domain = sender(settings).domain
        token = hashlib.sha256(ctx.key.encode()).hexdigest()[:16]
        message = build_message(
            settings,
            to=payload["to"],
            to_name=payload.get("to_name", ""),
            subject=payload["subject"],
            body=payload["body"],
            calendar=tuple(payload["calendar"]) if payload.get("calendar") else None,
            # Stable across attempts: receivers can spot a duplicate.
            message_id=f"<kmdav.{ctx.job_id}.{token}@{domain}>",
        )
    except (ConfigError, ValidationError) as error:
        raise JobFailed(str(error)) from error
    message_id = str(message["Message-ID"])
    ctx.report(
        total=1,
        message=f"Sending to {payload['to']}...",
        result={"sending": True, "message_id": message_id},
    )
    try:
        send(settings, message)
    except MailError as error:
        # The server answered (or never took the connection): nothing was sent.
        ctx.report(result={"sending": False}, cancellable=False)
        if error.permanent:
            raise JobFailed(str(error)) from error
        raise
    ctx.report(
        done=1,
        message=f"Sent to {payload['to']}.",
        result={"sending": False, "sent": True},
        cancellable=False,
    )
    return {"to": payload["to"]}
