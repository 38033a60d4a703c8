"""Logging in and out of the web face.

Login takes a user name or an e-mail address and the account password (app
passwords open DAV only).  Failures count per (login name, client address)
in the process's :class:`~kmdav.accounts.ratelimit.LoginThrottle`; past the
allowance the form refuses further tries, right or wrong, until the window
has passed.  Both outcomes are audited.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kmdav import audit
from kmdav.accounts import service as accounts
from kmdav.faces.web._session import WebSession
from kmdav.faces.web._web import (
    PREFIX,
    FormErrors,
    Web,
    checked_session,
    client_address,
    csrf_refused,
    form_endpoint,
    load_viewer,
    redirect,
    remember_language,
    render,
    translations_of,
    web_of,
)
from kmdav.i18n import supported

HOME = PREFIX + "/"


def safe_next(value: object) -> str:
    """Where to go after login: only a path inside the web face (no open redirect)."""
    if (
        isinstance(value, str)
        and (value == PREFIX or value.startswith(PREFIX + "/"))
        and "//" not in value
        and "\\" not in value
        and not any(ord(char) < 32 for char in value)
    ):
        return value
    return HOME


def login_form(request: Request) -> Response:
    web = web_of(request)
    stored = web.sessions.read(request)
    with web.database.transaction("read") as session:
        if load_viewer(session, stored) is not None:
            return redirect(safe_next(request.query_params.get("next")))
    return _login_page(
        request, web, stored or WebSession.anonymous(), next_url=request.query_params.get("next")
    )


def _login_page(
    request: Request,
    web: Web,
    state: WebSession,
    *,
    next_url: object = None,
    login: str = "",
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        web,
        "login.html",
        state,
        None,
        status,
        login=login,
        next=safe_next(next_url),
        errors=errors or {},
    )


def _login(request: Request, form: FormData) -> Response:
    web = web_of(request)
    stored = checked_session(request, web, form)
    if stored is None:
        return csrf_refused(request, web)
    login = form.get("login")
    password = form.get("password")
    login = login.strip() if isinstance(login, str) else ""
    password = password if isinstance(password, str) else ""
    next_url = form.get("next")
    translations = translations_of(request, web)
    _ = translations.gettext

    errors: FormErrors = {}
    if not login:
        errors["login"] = _("Enter your user name or e-mail address.")
    elif len(login) > 320:
        errors["login"] = _("That is longer than any user name or e-mail address.")
    if not password:
        errors["password"] = _("Enter your password.")
    if errors:
        return _login_page(
            request, web, stored, next_url=next_url, login=login, errors=errors, status=400
        )

    address = client_address(request)
    wait = web.throttle.retry_after(login, address)
    if wait:
        errors[""] = translations.ngettext(
            "Too many failed logins. Wait %(seconds)d second, then try again.",
            "Too many failed logins. Wait %(seconds)d seconds, then try again.",
            wait,
        ) % {"seconds": wait}
        return _login_page(
            request, web, stored, next_url=next_url, login=login, errors=errors, status=429
        )

    with web.database.transaction() as session:
        user = accounts.authenticate_person(session, login, password)
        if user is None:
            who = audit.Actor(name=login[:64], source="web", remote_addr=address)
            audit.record(session, who, "web.login_failed")
            new_state = None
            locale = ""
        else:
            who = audit.Actor(user.username, "web", user.id, address)
            audit.record(session, who, "web.login", "user", user.username)
            new_state = stored.logged_in(user.id, user.password_hash)
            locale = user.locale

    if new_state is None:
        web.throttle.failed(login, address)
        errors[""] = _("The user name, e-mail address or password is wrong.")
        return _login_page(
            request, web, stored, next_url=next_url, login=login, errors=errors, status=400
        )
    web.throttle.succeeded(login, address)
    response = redirect(safe_next(next_url))
    web.sessions.write(request, response, new_state)
    # The login page speaks the user's language next time too.
    if supported(locale):
        remember_language(request, response, locale)
    return response


def logout_form(request: Request) -> Response:
    web = web_of(request)
    stored = web.sessions.read(request)
    with web.database.transaction("read") as session:
        viewer = load_viewer(session, stored)
    if stored is None or viewer is None:
        return redirect(PREFIX + "/login")
    return render(request, web, "logout.html", stored, viewer)


def _logout(request: Request, form: FormData) -> Response:
    web = web_of(request)
    stored = checked_session(request, web, form)
    if stored is None:
        return csrf_refused(request, web)
    with web.database.transaction() as session:
        viewer = load_viewer(session, stored)
        if viewer is not None:
            who = audit.Actor(viewer.username, "web", viewer.id, client_address(request))
            audit.record(session, who, "web.logout", "user", viewer.username)
    response = redirect(PREFIX + "/login")
    web.sessions.write(request, response, WebSession.anonymous())
    return response


routes = [
    Route("/login", login_form, methods=["GET"], name="web_login"),
    Route("/login", form_endpoint(_login, "login"), methods=["POST"]),
    Route("/logout", logout_form, methods=["GET"], name="web_logout"),
    Route("/logout", form_endpoint(_logout, "logout"), methods=["POST"]),
]
