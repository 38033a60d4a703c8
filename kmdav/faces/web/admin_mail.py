"""``/web/admin/mail``: the outgoing mail settings and a test e-mail.

Shows what ``[mail]`` says (never the password) and sends a test message
through a ``mail.send`` job; the answer leads to the job's page, which shows
"sent" or the mail server's refusal.  The form carries a random id that is
the job's natural key, so sending the same form twice sends one message.
"""

from __future__ import annotations

import secrets

from starlette.responses import Response
from starlette.routing import Route

from kmdav import outbox
from kmdav.errors import ValidationError
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.models import User

PATH = PREFIX + "/admin/mail"
TEST_SUBJECT = "kmdav test e-mail \N{EN DASH} it works"
TEST_BODY = """Hello,

this is a test e-mail from kmdav, sent by {user} from the mail settings page.
If you can read it, kmdav can send e-mail through {host}:{port} ({security}).

-- kmdav
"""


def _mail_page(call: Call, errors: FormErrors | None = None, status: int = 200) -> Response:
    mail = call.web.settings.mail
    user = call.session.get(User, call.viewer.id)
    recipient = call.field("to") if errors else (user.email if user and user.email else "")
    return call.render(
        "admin_mail.html",
        status,
        mail={
            "host": mail.host,
            "port": mail.port,
            "security": mail.security,
            "username": mail.username,
            "password_set": bool(mail.password.get_secret_value()),
            "from_address": mail.from_address,
            "timeout": mail.timeout,
            "ca_file": str(mail.ca_file) if mail.ca_file else "",
        },
        errors=errors or {},
        values={"to": recipient},
        send_id=secrets.token_urlsafe(16),
    )


@page(admin=True)
def mail_page(call: Call) -> Response:
    return _mail_page(call)


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _mail_page(call, errors, status=400)


@action(admin=True, invalid=_invalid)
def send_test_mail(call: Call) -> Response:
    send_id = call.field("send_id")
    if not 16 <= len(send_id) <= 64 or not send_id.replace("-", "").replace("_", "").isalnum():
        raise ValidationError("The form is incomplete; reload the page.", field="")
    mail = call.web.settings.mail
    job = outbox.queue_mail(
        call.session,
        purpose=f"admin-test:{send_id}",
        to=call.field("to"),
        subject=TEST_SUBJECT,
        body=TEST_BODY.format(
            user=call.viewer.username, host=mail.host, port=mail.port, security=mail.security
        ),
        created_by=call.viewer.id,
    )
    return redirect(f"{PREFIX}/jobs/{job.id}/view")


routes = [
    Route("/admin/mail", mail_page, methods=["GET"], name="web_admin_mail"),
    Route("/admin/mail/test", send_test_mail, methods=["POST"], name="web_admin_mail_test"),
]
