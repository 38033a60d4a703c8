"""``/web/calendar/replies``: import an external attendee's e-mailed answer.

People outside kmdav get invitations by e-mail (iMIP) and answer from their
own mail program with a small ``.ics`` (METHOD:REPLY).  The organizer
uploads that file (``/calendar/replies/file``) or pastes its text; either
way :func:`kmdav.scheduling.replies.import_reply` checks it and updates that
attendee's answer in the organizer's appointment.  An uploaded file is read
and removed at once; nothing of it stays on disk.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts.service import require_user_by_id
from kmdav.errors import ValidationError
from kmdav.faces.web._upload import upload_action, uploaded
from kmdav.faces.web._web import PREFIX, Call, FormErrors, Web, action, page, redirect
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


def _upload_folder(web: Web) -> Path:
    return web.settings.data_dir / "uploads" / "replies"


def _reply_text(path: Path) -> str:
    """The uploaded file as text; the file is removed whatever it holds."""
    try:
        with path.open("rb") as file:
            data = file.read(replies.MAX_REPLY + 1)
    finally:
        path.unlink(missing_ok=True)
    if len(data) > replies.MAX_REPLY:
        raise ValidationError("This is too large for a reply.", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("This is not an iCalendar file.", field="file") from None


@upload_action(_upload_folder, module="calendar", invalid=_invalid)
def import_reply_file(call: Call) -> Response:
    text = _reply_text(uploaded(call).path)
    user = require_user_by_id(call.session, call.viewer.id)
    try:
        replies.import_reply(call.session, user, text, call.actor)
    except ValidationError as error:  # shown next to the file field, not the text box
        raise ValidationError(error.message, field="file", **error.params) from None
    return redirect(PATH + "?notice=imported")


routes = [
    Route("/calendar/replies", replies_page, methods=["GET"], name="web_calendar_replies"),
    Route("/calendar/replies", import_reply, methods=["POST"], name="web_calendar_replies_import"),
    Route("/calendar/replies/file", import_reply_file, methods=["POST"]),
]
