"""``/web/account``: the logged-in user's own account.

- Change the password (the current one is asked for).  Every other session
  of the user ends, since sessions carry a fingerprint of the password
  hash; this browser gets a fresh session and stays logged in.
- Switch the TOTP second factor on (secret and QR code, confirmed with a
  code before it counts; then ten recovery codes, shown once), make new
  recovery codes, switch it off (password and a current code).
- E-mail reminders: appointments that ask for one (X-KMDAV-EMAIL-REMINDER)
  are also reminded by e-mail when this setting is on.
- ``/web/account/new-password``: after an administrator reset the
  password, the only page the user can open until they choose their own.
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import second_factor, totp
from kmdav.accounts import service as accounts
from kmdav.faces.web._device_setup import qr_svg
from kmdav.faces.web._web import NEW_PASSWORD_PATH, PREFIX, Call, FormErrors, action, page, redirect
from kmdav.faces.web.calendar import time_zone_context
from kmdav.i18n import N_
from kmdav.models import User
from kmdav.scheduling import reminders

PATH = PREFIX + "/account"
NOTICES = {
    "password": N_("Your password was changed. Other browsers are logged out."),
    "totp-off": N_("Two-factor login is off."),
    "reminders-on": N_("E-mail reminders are on."),
    "reminders-off": N_("E-mail reminders are off."),
}
#: The disable form shares the page with the password form: its own field names.
_DISABLE_FIELDS = {"password": "off_password", "code": "off_code"}


def _account_page(
    call: Call,
    *,
    errors: FormErrors | None = None,
    recovery_codes: list[str] | None = None,
    status: int = 200,
) -> Response:
    user = accounts.require_user_by_id(call.session, call.viewer.id)
    enabled = second_factor.is_enabled(user)
    enrolment = None
    if not enabled and user.totp_secret is not None:
        uri = totp.provisioning_uri(user.totp_secret, user.username)
        enrolment = {
            "secret": user.totp_secret,
            "uri": uri,
            # segno writes the SVG itself; the only text in it is our own title.
            "qr": Markup(qr_svg(uri, call.gettext("QR code for your authenticator app"))),  # noqa: S704
        }
    return call.render(
        "account.html",
        status,
        user=user,
        totp_enabled=enabled,
        enrolment=enrolment,
        recovery_codes=recovery_codes,
        recovery_codes_left=second_factor.unused_recovery_codes(call.session, user.id),
        errors=errors or {},
        notice=call.notice(NOTICES),
        **time_zone_context(call),
    )


@page()
def account(call: Call) -> Response:
    return _account_page(call)


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _account_page(call, errors=errors, status=400)


def _stay_logged_in(call: Call, user: User, response: Response) -> Response:
    """This browser keeps its login under the new credentials' fingerprint."""
    call.web.sessions.write(call.request, response, call.state.logged_in(user))
    return response


@action(invalid=_invalid)
def change_password(call: Call) -> Response:
    user = accounts.change_own_password(
        call.session,
        call.viewer.id,
        call.field("password", strip=False),
        call.field("password_repeat", strip=False),
        current_password=call.field("current_password", strip=False),
        actor=call.actor,
    )
    return _stay_logged_in(call, user, redirect(PATH + "?notice=password"))


@action(invalid=_invalid)
def email_reminders(call: Call) -> Response:
    user = accounts.require_user_by_id(call.session, call.viewer.id)
    enabled = call.checked("email_reminders")
    reminders.set_email_reminders(call.session, user, enabled, call.actor)
    return redirect(PATH + ("?notice=reminders-on" if enabled else "?notice=reminders-off"))


@action(invalid=_invalid)
def start_totp(call: Call) -> Response:
    second_factor.start_enrolment(call.session, call.viewer.id)
    return redirect(PATH + "#totp")


@action(invalid=_invalid)
def confirm_totp(call: Call) -> Response:
    codes = second_factor.confirm_enrolment(
        call.session, call.viewer.id, call.field("code"), actor=call.actor
    )
    # Other sessions end (they were opened without the second factor);
    # this one continues under the new fingerprint.
    user = call.session.get(User, call.viewer.id)
    assert user is not None
    call.state = call.state.logged_in(user)
    return _account_page(call, recovery_codes=codes)


def _invalid_disable(call: Call, errors: FormErrors) -> Response:
    moved = {_DISABLE_FIELDS.get(key, key): value for key, value in errors.items()}
    return _account_page(call, errors=moved, status=400)


@action(invalid=_invalid_disable)
def disable_totp(call: Call) -> Response:
    second_factor.disable(
        call.session,
        call.viewer.id,
        call.field("off_password", strip=False),
        call.field("off_code"),
        actor=call.actor,
    )
    user = call.session.get(User, call.viewer.id)
    assert user is not None
    return _stay_logged_in(call, user, redirect(PATH + "?notice=totp-off"))


@action(invalid=_invalid)
def regenerate_codes(call: Call) -> Response:
    codes = second_factor.regenerate_recovery_codes(call.session, call.viewer.id, actor=call.actor)
    return _account_page(call, recovery_codes=codes)


# -- the forced change after an administrator's reset ------------------------------


def _new_password_page(
    call: Call, *, errors: FormErrors | None = None, status: int = 200
) -> Response:
    if not call.viewer.must_change_password:
        return redirect(PATH)
    return call.render("account_new_password.html", status, errors=errors or {})


@page()
def new_password_form(call: Call) -> Response:
    return _new_password_page(call)


def _invalid_new_password(call: Call, errors: FormErrors) -> Response:
    return _new_password_page(call, errors=errors, status=400)


@action(invalid=_invalid_new_password)
def choose_new_password(call: Call) -> Response:
    if not call.viewer.must_change_password:
        return redirect(PATH)
    user = accounts.change_own_password(
        call.session,
        call.viewer.id,
        call.field("password", strip=False),
        call.field("password_repeat", strip=False),
        current_password=None,
        actor=call.actor,
    )
    return _stay_logged_in(call, user, redirect(PREFIX + "/"))


routes = [
    Route("/account", account, methods=["GET"], name="web_account"),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/reminders", email_reminders, methods=["POST"]),
    Route("/account/totp/setup", start_totp, methods=["POST"]),
    Route("/account/totp/confirm", confirm_totp, methods=["POST"]),
    Route("/account/totp/disable", disable_totp, methods=["POST"]),
    Route("/account/recovery-codes", regenerate_codes, methods=["POST"]),
    Route(NEW_PASSWORD_PATH.removeprefix(PREFIX), new_password_form, methods=["GET"]),
    Route(NEW_PASSWORD_PATH.removeprefix(PREFIX), choose_new_password, methods=["POST"]),
]
