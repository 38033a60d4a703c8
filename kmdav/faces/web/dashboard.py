"""The dashboard at ``/web/``: where a user lands after logging in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kmdav.accounts import service as accounts
from kmdav.faces.web._web import Call, page


def dav_url(request: Request) -> str:
    """The address devices sync with (scheme and host as the browser sees them)."""
    return f"{request.url.scheme}://{request.url.netloc}/dav/"


@page()
def dashboard(call: Call) -> Response:
    devices = accounts.list_app_passwords(call.session, call.viewer.username)
    users = accounts.list_users(call.session) if call.viewer.is_admin else []
    return call.render(
        "dashboard.html",
        dav_url=dav_url(call.request),
        active_devices=sum(1 for device in devices if device.revoked_at is None),
        user_count=len(users),
        active_user_count=sum(1 for user in users if user.is_active),
    )


routes = [Route("/", dashboard, methods=["GET"], name="web_dashboard")]
