"""``POST /web/language``: the language switcher in every page's header.

Works logged in or not.  A logged-in user's choice is stored in
``users.locale`` (through the accounts service, audited); every browser
also keeps it in the ``kmdav_lang`` cookie, so the login page speaks it
after logging out.  Then back to the page the form was on.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kmdav import audit
from kmdav.accounts import service as accounts
from kmdav.faces.web._web import (
    checked_session,
    client_address,
    csrf_refused,
    error_page,
    form_endpoint,
    load_viewer,
    redirect,
    remember_language,
    web_of,
)
from kmdav.faces.web.auth import safe_next
from kmdav.i18n import N_, supported


def _choose_language(request: Request, form: FormData) -> Response:
    web = web_of(request)
    stored = checked_session(request, web, form)
    if stored is None:
        return csrf_refused(request, web)
    language = supported(form.get("language"))
    if language is None:
        return error_page(request, web, 400, N_("choose one of the languages offered"))
    with web.database.transaction() as session:
        viewer = load_viewer(session, stored)
        if viewer is not None:
            actor = audit.Actor(viewer.username, "web", viewer.id, client_address(request))
            accounts.set_locale(session, viewer.username, language, actor=actor)
    response = redirect(safe_next(form.get("next")))
    remember_language(request, response, language)
    return response


routes = [
    Route("/language", form_endpoint(_choose_language, "choose_language"), methods=["POST"]),
]
