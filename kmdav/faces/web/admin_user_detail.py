"""``/web/admin/users/{id}``: one user's profile, module seats and permissions.

Three forms, each saved on its own: display name and e-mail, the module
seats (checkboxes), the user's direct permissions (a module x action grid).
Below them the effective permissions with the reason for each: direct, a
group path, administrator; or "no seat" when the module is not assigned.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import modules, permissions
from kmdav.accounts import service as accounts
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.i18n import N_
from kmdav.models import User

PATH = PREFIX + "/admin/users/{id}"
NOTICES = {
    "profile": N_("The profile was saved."),
    "modules": N_("The module seats were saved."),
    "permissions": N_("The permissions were saved."),
}
#: The grid's checkboxes plus the CSRF token, with room to spare.
GRID_FIELDS = len(modules.MODULES) * len(permissions.ACTIONS) + 10


def _target(call: Call) -> User:
    user_id: int = call.request.path_params["user_id"]
    return accounts.require_user_by_id(call.session, user_id)


def _path(user: User, notice: str = "") -> str:
    return PATH.format(id=user.id) + (f"?notice={notice}" if notice else "")


def _detail_page(call: Call, *, errors: FormErrors | None = None, status: int = 200) -> Response:
    user = _target(call)
    errors = errors or {}
    editing = bool(errors) and call.request.url.path == _path(user)
    effective = permissions.effective_permissions(call.session, user)
    return call.render(
        "admin_user.html",
        status,
        user=user,
        errors=errors,
        values={
            "display_name": call.field("display_name") if editing else user.display_name,
            "email": call.field("email") if editing else (user.email or ""),
        },
        modules=modules.MODULES,
        seat_modules=modules.SEAT_MODULES,
        seats=modules.seats_of(call.session, user.id),
        actions=permissions.ACTIONS,
        direct={
            f"{module}:{act}" for module, act in permissions.grants_of_user(call.session, user)
        },
        effective={(entry.module, entry.action): entry for entry in effective},
        notice=call.notice(NOTICES),
    )


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _detail_page(call, errors=errors, status=400)


@page(admin=True)
def user_page(call: Call) -> Response:
    return _detail_page(call)


@action(admin=True, invalid=_invalid)
def save_profile(call: Call) -> Response:
    user = _target(call)
    accounts.update_profile(
        call.session,
        user.username,
        display_name=call.field("display_name"),
        email=call.field("email") or None,
        actor=call.actor,
    )
    return redirect(_path(user, "profile"))


@action(admin=True, invalid=_invalid)
def save_modules(call: Call) -> Response:
    user = _target(call)
    modules.set_seats(call.session, user, call.values("modules"), actor=call.actor)
    return redirect(_path(user, "modules"))


@action(admin=True, invalid=_invalid, max_fields=GRID_FIELDS)
def save_permissions(call: Call) -> Response:
    user = _target(call)
    grants = [permissions.parse_grant(value) for value in call.values("grant")]
    permissions.set_user_grants(call.session, user, grants, actor=call.actor)
    return redirect(_path(user, "permissions"))


routes = [
    Route("/admin/users/{user_id:int}", user_page, methods=["GET"], name="web_admin_user"),
    Route("/admin/users/{user_id:int}", save_profile, methods=["POST"]),
    Route("/admin/users/{user_id:int}/modules", save_modules, methods=["POST"]),
    Route("/admin/users/{user_id:int}/permissions", save_permissions, methods=["POST"]),
]
