"""``/web/calendar/replies``: import an external attendee's e-mailed answer.

People outside kmdav get invitations by e-mail (iMIP) and answer from their
own mail program with a small ``.ics`` (METHOD:REPLY).  The organizer
pastes it here (the form takes text, so it works without script and needs
no upload); :func:`kmdav.scheduling.replies.import_reply` checks it and
updates that attendee's answer in the organizer's appointment.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts.service import require_user_by_id
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.i18n import N_
from kmdav.scheduling import replies

PATH = PREFIX + "/calendar/replies"
NOTICES = {"imported": N_("The answer is recorded in your appointment.")}


def _replies_page(
    call: Call,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    return call.render(
        "calendar_replies.html",
        status,
        errors=errors or {},
        reply=call.field("reply", strip=False) if errors else "",
        notice=call.notice(NOTICES) or "",
    )


@page(module="calendar")
def replies_page(call: Call) -> Response:
    return _replies_page(call)


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _replies_page(call, errors=errors, status=400)


@action(module="calendar", invalid=_invalid)
def import_reply(call: Call) -> Response:
    user = require_user_by_id(call.session, call.viewer.id)
    replies.import_reply(call.session, user, call.field("reply", strip=False), call.actor)
    return redirect(PATH + "?notice=imported")


routes = [
    Route("/calendar/replies", replies_page, methods=["GET"], name="web_calendar_replies"),
    Route("/calendar/replies", import_reply, methods=["POST"], name="web_calendar_replies_import"),
]
