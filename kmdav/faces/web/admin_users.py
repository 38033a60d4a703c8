"""``/web/admin/users``: administrators manage user accounts.

List, create, disable/enable, grant/take administrator rights, reset a
user's password (they must choose their own at the next web login), switch
off a user's two-factor login (a lost phone), and delete a user after a
confirmation page that lists what goes with them.  The service keeps the
rule that at least one active administrator always remains; its refusal
shows as a form error.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import deletion, modules, second_factor
from kmdav.accounts import service as accounts
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.i18n import N_
from kmdav.models import User

PATH = PREFIX + "/admin/users"
NOTICES = {
    "created": N_("The user was created."),
    "enabled": N_("The user can log in again."),
    "disabled": N_("The user is disabled: no more web logins, and devices stop syncing."),
    "promoted": N_("The user is now an administrator."),
    "demoted": N_("The user is no longer an administrator."),
    "password": N_(
        "The password was changed. Tell the user the new one in person; "
        "they choose their own at the next login."
    ),
    "totp-reset": N_("Two-factor login is off for that user; they can set it up again."),
    "totp-unchanged": N_("That user had no two-factor login."),
    "deleted": N_("The user and their personal data are deleted."),
}


def _users_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    errors = errors or {}
    creating = bool(errors) and call.request.url.path == PATH
    return call.render(
        "admin_users.html",
        status,
        users=accounts.list_users(call.session),
        errors=errors,
        # The create form keeps what was typed, never the password.
        values={
            "username": call.field("username") if creating else "",
            "email": call.field("email") if creating else "",
            "display_name": call.field("display_name") if creating else "",
            "is_admin": call.checked("is_admin") if creating else False,
            # A new user's form offers the seats phones sync ticked.
            "modules": set(call.values("modules")) if creating else set(modules.DEFAULT_SEATS),
        },
        seat_modules=modules.SEAT_MODULES,
        module_labels=modules.MODULES,
        notice=call.notice(NOTICES),
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _users_page(call, errors=errors, status=400)


@page(admin=True)
def users(call: Call) -> Response:
    return _users_page(call)


@action(admin=True, invalid=_invalid)
def create_user(call: Call) -> Response:
    accounts.create_user(
        call.session,
        call.field("username"),
        call.field("password", strip=False),
        is_admin=call.checked("is_admin"),
        email=call.field("email") or None,
        display_name=call.field("display_name"),
        modules=call.values("modules"),
        actor=call.actor,
    )
    return redirect(PATH + "?notice=created")


def _target(call: Call) -> User:
    user_id: int = call.request.path_params["user_id"]
    return accounts.require_user_by_id(call.session, user_id)


@action(admin=True, invalid=_invalid)
def set_active(call: Call) -> Response:
    active = call.field("active") == "1"
    accounts.set_active(call.session, _target(call).username, active, actor=call.actor)
    return redirect(PATH + "?notice=" + ("enabled" if active else "disabled"))


@action(admin=True, invalid=_invalid)
def set_admin(call: Call) -> Response:
    grant = call.field("admin") == "1"
    accounts.set_admin(call.session, _target(call).username, grant, actor=call.actor)
    return redirect(PATH + "?notice=" + ("promoted" if grant else "demoted"))


def _password_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    return call.render("admin_password.html", status, user=_target(call), errors=errors or {})


@page(admin=True)
def password_form(call: Call) -> Response:
    return _password_page(call)


def _invalid_password(call: Call, errors: FormErrors) -> Response:
    return _password_page(call, errors=errors, status=400)


@action(admin=True, invalid=_invalid_password)
def reset_password(call: Call) -> Response:
    user = _target(call)
    password = call.field("password", strip=False)
    accounts.validate_new_password(password, call.field("password_repeat", strip=False))
    accounts.set_password(call.session, user.username, password, actor=call.actor, must_change=True)
    return redirect(PATH + "?notice=password")


@action(admin=True, invalid=_invalid)
def reset_totp(call: Call) -> Response:
    changed = second_factor.reset_by_admin(call.session, _target(call).id, actor=call.actor)
    return redirect(PATH + "?notice=" + ("totp-reset" if changed else "totp-unchanged"))


def _delete_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    user = _target(call)
    return call.render(
        "admin_user_delete.html",
        status,
        user=user,
        summary=deletion.deletion_summary(call.session, user.id),
        is_self=user.id == call.viewer.id,
        errors=errors or {},
    )


@page(admin=True)
def delete_form(call: Call) -> Response:
    return _delete_page(call)


def _invalid_delete(call: Call, errors: FormErrors) -> Response:
    return _delete_page(call, errors=errors, status=400)


@action(admin=True, invalid=_invalid_delete)
def delete_user(call: Call) -> Response:
    deletion.delete_user(call.session, _target(call).id, call.field("confirm"), actor=call.actor)
    return redirect(PATH + "?notice=deleted")


routes = [
    Route("/admin/users", users, methods=["GET"], name="web_admin_users"),
    Route("/admin/users", create_user, methods=["POST"]),
    Route("/admin/users/{user_id:int}/active", set_active, methods=["POST"]),
    Route("/admin/users/{user_id:int}/admin", set_admin, methods=["POST"]),
    Route("/admin/users/{user_id:int}/password", password_form, methods=["GET"]),
    Route("/admin/users/{user_id:int}/password", reset_password, methods=["POST"]),
    Route("/admin/users/{user_id:int}/totp/reset", reset_totp, methods=["POST"]),
    Route("/admin/users/{user_id:int}/delete", delete_form, methods=["GET"]),
    Route("/admin/users/{user_id:int}/delete", delete_user, methods=["POST"]),
]
