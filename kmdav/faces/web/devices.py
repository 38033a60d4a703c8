"""``/web/devices``: connect phones and programs over CardDAV/CalDAV.

Shows the server address and the user name, and manages the user's
per-device app passwords.  A new password appears once, in the answer to
the form that made it; only its argon2 hash is stored.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import service as accounts
from kmdav.accounts.service import NewAppPassword
from kmdav.faces.web._web import PREFIX, Call, FormErrors, action, page, redirect
from kmdav.faces.web.dashboard import dav_url

PATH = PREFIX + "/devices"
NOTICES = {"revoked": "The app password is revoked; that device can no longer sync."}


def _devices_page(
    call: Call,
    *,
    errors: FormErrors | None = None,
    created: NewAppPassword | None = None,
    status: int = 200,
) -> Response:
    return call.render(
        "devices.html",
        status,
        dav_url=dav_url(call.request),
        username=call.viewer.username,
        devices=accounts.list_app_passwords(call.session, call.viewer.username),
        created=created,
        errors=errors or {},
        name=call.field("name") if errors else "",
        notice=NOTICES.get(call.request.query_params.get("notice", "")),
    )


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
    return redirect(PATH + "?notice=revoked")


routes = [
    Route("/devices", devices, methods=["GET"], name="web_devices"),
    Route("/devices", create_device, methods=["POST"]),
    Route("/devices/{device_id:int}/revoke", revoke_device, methods=["POST"]),
]
