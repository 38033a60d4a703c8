"""Logging in and out of the web face.

Login takes a user name or an e-mail address and the account password (app
passwords open DAV only).  Failures count per (login name, client address)
in the process's :class:`~kmdav.accounts.ratelimit.LoginThrottle`; past the
allowance the form refuses further tries, right or wrong, until the window
has passed.  Both outcomes are audited.

A user with the TOTP second factor on is not logged in by the password:
the session becomes *pending* (see ``_session``) and ``/web/login/code``
asks for a code from the authenticator app or a recovery code.  Wrong codes
count in the same throttle (by user name), and a right password does not
clear that count, so retyping the password buys no extra guesses.
"""

from __future__ import annotations

import gettext

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kmdav import audit
from kmdav.accounts import second_factor
from kmdav.accounts import service as accounts
from kmdav.faces.web._session import WebSession, credentials_fingerprint
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
from kmdav.i18n import N_, supported
from kmdav.models import User

HOME = PREFIX + "/"
CODE_PATH = PREFIX + "/login/code"
NOTICES = {"expired": N_("The login took too long. Log in again.")}


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
        request,
        web,
        stored or WebSession.anonymous(),
        next_url=request.query_params.get("next"),
        notice=translations_of(request, web).gettext(
            NOTICES.get(request.query_params.get("notice", ""), "")
        ),
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
    notice: str | None = None,
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
        notice=notice,
    )


def _wait_message(translations: gettext.NullTranslations, wait: int) -> str:
    """Why the login is refused for now, and for how long."""
    return translations.ngettext(
        "Too many failed logins. Wait %(seconds)d second, then try again.",
        "Too many failed logins. Wait %(seconds)d seconds, then try again.",
        wait,
    ) % {"seconds": wait}


def _missing_fields(
    login: str, password: str, translations: gettext.NullTranslations
) -> FormErrors:
    _ = translations.gettext
    errors: FormErrors = {}
    if not login:
        errors["login"] = _("Enter your user name or e-mail address.")
    elif len(login) > 320:
        errors["login"] = _("That is longer than any user name or e-mail address.")
    if not password:
        errors["password"] = _("Enter your password.")
    return errors


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

    errors = _missing_fields(login, password, translations)
    if errors:
        return _login_page(
            request, web, stored, next_url=next_url, login=login, errors=errors, status=400
        )

    address = client_address(request)
    wait = web.throttle.retry_after(login, address)
    pending = False
    new_state: WebSession | None = None
    locale = ""
    if not wait:
        with web.database.transaction() as session:
            user = accounts.authenticate_person(session, login, password)
            if user is not None:
                locale = user.locale
            if user is None:
                who = audit.Actor(name=login[:64], source="web", remote_addr=address)
                audit.record(session, who, "web.login_failed")
            elif second_factor.is_enabled(user):
                # Wrong codes count against the user name (see the docstring).
                wait = web.throttle.retry_after(user.username, address)
                pending = True
                new_state = stored.awaiting_second_factor(user, safe_next(next_url))
            else:
                who = audit.Actor(user.username, "web", user.id, address)
                audit.record(session, who, "web.login", "user", user.username)
                new_state = stored.logged_in(user)

    if wait:
        errors[""] = _wait_message(translations, wait)
        return _login_page(
            request, web, stored, next_url=next_url, login=login, errors=errors, status=429
        )
    if new_state is None:
        web.throttle.failed(login, address)
        errors[""] = _("The user name, e-mail address or password is wrong.")
        return _login_page(
            request, web, stored, next_url=next_url, login=login, errors=errors, status=400
        )
    if not pending:
        web.throttle.succeeded(login, address)
    response = redirect(CODE_PATH if pending else safe_next(next_url))
    web.sessions.write(request, response, new_state)
    # The login page speaks the user's language next time too.
    if not pending and supported(locale):
        remember_language(request, response, locale)
    return response


# -- the second step: a TOTP or recovery code -----------------------------------


def _pending_user(session: Session, stored: WebSession | None) -> User | None:
    """The user a pending session waits for, while it is fresh and the
    password it proved is still the user's."""
    if stored is None or stored.pending is None or stored.pending.expired():
        return None
    user = session.get(User, stored.pending.user_id)
    if (
        user is None
        or not user.is_active
        or not second_factor.is_enabled(user)
        or credentials_fingerprint(user) != stored.pending.fingerprint
    ):
        return None
    return user


def _code_page(
    request: Request,
    web: Web,
    state: WebSession,
    *,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(request, web, "login_code.html", state, None, status, errors=errors or {})


def code_form(request: Request) -> Response:
    web = web_of(request)
    stored = web.sessions.read(request)
    with web.database.transaction("read") as session:
        if _pending_user(session, stored) is None:
            return redirect(PREFIX + "/login")
    assert stored is not None
    return _code_page(request, web, stored)


def _code(request: Request, form: FormData) -> Response:
    web = web_of(request)
    stored = checked_session(request, web, form)
    if stored is None:
        return csrf_refused(request, web)
    code = form.get("code")
    code = code.strip() if isinstance(code, str) else ""
    address = client_address(request)
    translations = translations_of(request, web)
    _ = translations.gettext
    with web.database.transaction() as session:
        user = _pending_user(session, stored)
        if user is None or stored.pending is None:
            expired = redirect(PREFIX + "/login?notice=expired")
            web.sessions.write(request, expired, stored.without_pending())
            return expired
        username, next_url, locale = user.username, stored.pending.next_url, user.locale
        wait = web.throttle.retry_after(username, address)
        if wait:
            errors = {"": _wait_message(translations, wait)}
            return _code_page(request, web, stored, errors=errors, status=429)
        if not code:
            errors = {"code": _("Enter the code.")}
            return _code_page(request, web, stored, errors=errors, status=400)
        proof = second_factor.verify(session, user.id, code[:64])
        who = audit.Actor(username, "web", user.id, address)
        if proof is None:
            audit.record(session, who, "web.login_failed", "user", username, {"step": "code"})
        else:
            details: dict[str, object] = {"second_factor": proof.kind}
            if proof.kind == second_factor.RECOVERY_CODE:
                details["recovery_codes_left"] = proof.recovery_codes_left
                audit.record(session, who, "web.login_recovery_code", "user", username, details)
            audit.record(session, who, "web.login", "user", username, details)
            new_state = stored.without_pending().logged_in(user)
    if proof is None:
        web.throttle.failed(username, address)
        message = _("That code is wrong or was used already.")
        return _code_page(request, web, stored, errors={"code": message}, status=400)
    web.throttle.succeeded(username, address)
    response = redirect(next_url)
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
    Route("/login/code", code_form, methods=["GET"], name="web_login_code"),
    Route("/login/code", form_endpoint(_code, "login_code"), methods=["POST"]),
    Route("/logout", logout_form, methods=["GET"], name="web_logout"),
    Route("/logout", form_endpoint(_logout, "logout"), methods=["POST"]),
]
