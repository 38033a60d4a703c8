"""``/web/devices``: connect phones and programs over CardDAV/CalDAV.

Shows the server address and the user name (also as a QR code for
DAVx5), and manages the user's per-device app passwords.  A new password
appears once, in the answer to the form that made it; only its argon2 hash
is stored.  ``/web/devices/profile`` hands out an Apple configuration
profile: by GET without a password (the device asks for one), by POST with
a new app password made for it (the only way a password leaves the server
inside a file; audited as such).

The forms work without script; htmx (``HX-Request``) makes two of them
lighter, through the same CSRF check and service calls: revoking answers
with just that device's row, and a new app password is shown right below
the form that made it (htmx picks that section out of the page).
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import service as accounts
from kmdav.accounts.service import NewAppPassword
from kmdav.faces.web._device_setup import (
    PROFILE_MEDIA_TYPE,
    Server,
    apple_profile,
    davx5_uri,
    profile_filename,
    qr_svg,
)
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.faces.web.dashboard import dav_url
from kmdav.i18n import N_

PATH = PREFIX + "/devices"
NOTICES = {"revoked": N_("The app password is revoked; that device can no longer sync.")}


def _devices_page(
    call: Call,
    *,
    errors: FormErrors | None = None,
    created: NewAppPassword | None = None,
    status: int = 200,
) -> Response:
    errors = errors or {}
    server = Server.of(call.request)
    davx5 = davx5_uri(server, call.viewer.username)
    return call.render(
        "devices.html",
        status,
        dav_url=dav_url(call.request),
        username=call.viewer.username,
        davx5_uri=davx5,
        # segno writes the SVG itself; the only text in it is our own title.
        davx5_qr=Markup(qr_svg(davx5, call.gettext("QR code for DAVx5"))),  # noqa: S704
        devices=accounts.list_app_passwords(call.session, call.viewer.username),
        created=created,
        # htmx swaps only the form's section: the new password goes there.
        created_inline=call.from_htmx,
        errors=errors,
        name=call.field("name") if "name" in errors else "",
        profile_name=call.field("profile_name") if "profile_name" in errors else "",
        notice=_notice(call, call.request.query_params.get("notice", "")),
    )


def _notice(call: Call, key: str) -> str:
    return call.gettext(NOTICES[key]) if key in NOTICES else ""


@page()
def devices(call: Call) -> Response:
    return _devices_page(call)


def _invalid(call: Call, errors: FormErrors) -> Response:
    return _devices_page(call, errors=errors, status=400)


@action(invalid=_invalid)
def create_device(call: Call) -> Response:
    created = accounts.create_app_password(
        call.session, call.viewer.username, call.field("name"), actor=call.actor
    )
    return _devices_page(call, created=created)


@action()
def revoke_device(call: Call) -> Response:
    device_id: int = call.request.path_params["device_id"]
    accounts.revoke_app_password(call.session, call.viewer.username, device_id, actor=call.actor)
    if call.from_htmx:
        (device,) = (
            row
            for row in accounts.list_app_passwords(call.session, call.viewer.username)
            if row.id == device_id
        )
        return call.render("_device_row.html", device=device, row_notice=_notice(call, "revoked"))
    return redirect(PATH + "?notice=revoked")


def _profile_response(call: Call, body: bytes) -> Response:
    name = profile_filename(Server.of(call.request), call.viewer.username)
    return Response(
        body,
        media_type=PROFILE_MEDIA_TYPE,
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


@page()
def profile_without_password(call: Call) -> Response:
    body = apple_profile(Server.of(call.request), call.viewer.username)
    return _profile_response(call, body)


def _invalid_profile(call: Call, errors: FormErrors) -> Response:
    # The service names the field "name"; on this page that is the profile form's.
    moved = {("profile_name" if key == "name" else key): value for key, value in errors.items()}
    return _devices_page(call, errors=moved, status=400)


@action(invalid=_invalid_profile)
def profile_with_password(call: Call) -> Response:
    created = accounts.create_app_password(
        call.session,
        call.viewer.username,
        call.field("profile_name"),
        actor=call.actor,
        via="apple-profile",
    )
    body = apple_profile(
        Server.of(call.request),
        call.viewer.username,
        password=created.password,
        description=f"kmdav {call.viewer.username} ({created.name})",
    )
    return _profile_response(call, body)


routes = [
    Route("/devices", devices, methods=["GET"], name="web_devices"),
    Route("/devices", create_device, methods=["POST"]),
    Route("/devices/{device_id:int}/revoke", revoke_device, methods=["POST"]),
    Route("/devices/profile", profile_without_password, methods=["GET"]),
    Route("/devices/profile", profile_with_password, methods=["POST"]),
]
