"""The machinery every page of the web face shares.

- :class:`Web` holds what the pages need (database, session codec, login
  throttle, templates) and travels in the ASGI scope, set by :class:`WebApp`.
- :func:`page` wraps a ``GET`` handler: read transaction, login required,
  optionally admins only or holders of a module seat only (``module=``).
- :func:`action` wraps a ``POST`` handler: parses the form, checks the CSRF
  token *before anything else*, runs the handler in one write transaction
  in a worker thread (the data layer is synchronous), and translates domain
  errors -- this is the one place where the web face does that: a
  :class:`~kmdav.errors.ValidationError` rolls the transaction back and the
  handler's ``invalid`` callback renders the form again with the message
  next to its field.  Messages are English msgids; they are translated into
  the reader's language where they are rendered (:func:`error_text`).
- Each request speaks one language (:func:`language_of`): a logged-in
  user's ``users.locale``; for visitors the ``kmdav_lang`` cookie set by the
  language switcher, else their ``Accept-Language``.  Each language has its
  own Jinja2 environment with its translations installed, so pages rendered
  at once in the threadpool never share a current language.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kmdav import audit
from kmdav.accounts import modules as seats
from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.db import Database
from kmdav.errors import KmdavError, NotFoundError, PermissionDeniedError, ValidationError
from kmdav.faces.web._session import CSRF_FIELD, SessionCodec, WebSession, credentials_fingerprint
from kmdav.i18n import LANGUAGES, N_, negotiate, supported
from kmdav.models import User
from kmdav.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "/web"
SCOPE_KEY = "kmdav.web"
#: After an admin reset, the one page a user may see until they choose a password.
NEW_PASSWORD_PATH = PREFIX + "/account/new-password"
#: A visitor's chosen language (logged-in users keep theirs in ``users.locale``).
LANGUAGE_COOKIE = "kmdav_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
#: Field errors of a form: field name -> message; "" holds form-wide errors.
FormErrors = dict[str, str]

#: No script may run that the server did not send as a file, no framing.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass(frozen=True)
class NavEntry:
    """One link of the main navigation, shown to admins only (``admin_only``)
    or to holders of a module seat only (``module``).  A module's entries are
    declared next to its routes and handed to :func:`kmdav.faces.web.web_routes`."""

    href: str
    label: str
    admin_only: bool = False
    module: str | None = None

    def shown_to(self, viewer: Viewer) -> bool:
        if self.admin_only and not viewer.is_admin:
            return False
        return self.module is None or self.module in viewer.modules


#: The entries every installation has, before those of the modules.
NAVIGATION: tuple[NavEntry, ...] = (
    NavEntry("/web/", N_("Dashboard")),
    NavEntry("/web/devices", N_("Devices")),
    NavEntry("/web/sharing", N_("Sharing")),
    NavEntry("/web/admin/users", N_("Users"), admin_only=True),
    NavEntry("/web/admin/groups", N_("Groups"), admin_only=True),
    NavEntry("/web/admin/licence", N_("Licence"), admin_only=True),
    NavEntry("/web/admin/audit", N_("Audit log"), admin_only=True),
    NavEntry("/web/admin/mail", N_("Mail"), admin_only=True),
)


@dataclass
class Web:
    database: Database
    sessions: SessionCodec
    throttle: LoginThrottle
    #: One environment per language, its translations installed (read-only after start).
    templates: Mapping[str, jinja2.Environment]
    translations: Mapping[str, gettext.NullTranslations]
    settings: Settings
    navigation: Sequence[NavEntry] = NAVIGATION


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of this request, with the modules they may use
    (the contacts base and their seats)."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    locale: str = "en"
    must_change_password: bool = False
    modules: frozenset[str] = frozenset({seats.BASE_MODULE})


@dataclass
class Call:
    """One request being handled: where from, by whom, in which transaction."""

    request: Request
    web: Web
    session: Session
    state: WebSession
    viewer: Viewer
    form: FormData | None = None
    new_state: bool = field(default=False)

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(
            name=self.viewer.username,
            source="web",
            user_id=self.viewer.id,
            remote_addr=client_address(self.request),
        )

    def field(self, name: str, *, strip: bool = True) -> str:
        value = self.form.get(name) if self.form is not None else None
        if not isinstance(value, str):
            return ""
        return value.strip() if strip else value

    def checked(self, name: str) -> bool:
        return self.field(name) in {"on", "1", "true", "yes"}

    def values(self, name: str) -> list[str]:
        """Every value sent under ``name`` (a group of checkboxes)."""
        if self.form is None:
            return []
        return [value.strip() for value in self.form.getlist(name) if isinstance(value, str)]

    @property
    def language(self) -> str:
        return language_of(self.request, self.viewer)

    def gettext(self, message: str) -> str:
        """``message`` (an English msgid) in this request's language."""
        return self.web.translations[self.language].gettext(message)

    def notice(self, notices: Mapping[str, str]) -> str | None:
        """The notice the ``?notice=`` key names (``notices`` maps keys to
        English msgids marked with ``N_``), in this request's language."""
        key = self.request.query_params.get("notice", "")
        return self.gettext(notices[key]) if key in notices else None

    @property
    def from_htmx(self) -> bool:
        """Sent by htmx, which swaps a fragment; other requests get whole pages."""
        return is_htmx(self.request)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, self.web, template, self.state, self.viewer, status, **context)


def web_of(request: Request) -> Web:
    web: Web = request.scope[SCOPE_KEY]
    return web


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def visitor_language(request: Request) -> str:
    """The language of someone not logged in: the switcher's cookie, else
    what the browser asks for."""
    return supported(request.cookies.get(LANGUAGE_COOKIE)) or negotiate(
        request.headers.get("accept-language")
    )


def language_of(request: Request, viewer: Viewer | None) -> str:
    if viewer is not None and supported(viewer.locale):
        return viewer.locale
    return visitor_language(request)


def translations_of(
    request: Request, web: Web, viewer: Viewer | None = None
) -> gettext.NullTranslations:
    return web.translations[language_of(request, viewer)]


def remember_language(request: Request, response: Response, language: str) -> None:
    """Keep ``language`` for this browser (also after logging out)."""
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def error_text(error: KmdavError | str, translations: gettext.NullTranslations) -> str:
    """A domain error (or a marked English message) in the reader's language."""
    if isinstance(error, str):
        return translations.gettext(error) if error else error
    if not error.message:
        return str(error)
    text = translations.gettext(error.message)
    return text % error.params if error.params else text


class WebApp:
    """ASGI wrapper of the web face: hands the pages their :class:`Web` and
    adds the security headers to every response."""

    def __init__(self, app: ASGIApp, web: Web) -> None:
        self.app = app
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SCOPE_KEY] = self.web

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [item for item in SECURITY_HEADERS if item[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- rendering ----------------------------------------------------------------


def render(
    request: Request,
    web: Web,
    template: str,
    state: WebSession,
    viewer: Viewer | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    path = request.url.path
    language = language_of(request, viewer)
    translations = web.translations[language]
    nav = [
        {
            "href": entry.href,
            "label": translations.gettext(entry.label),
            "current": path == entry.href or path.startswith(entry.href + "/"),
        }
        for entry in web.navigation
        if viewer is not None and entry.shown_to(viewer)
    ]
    # Where the language switcher returns to: this page (a form's answer
    # returns to the form's address, which every form here also serves by GET).
    here = path + ("?" + request.url.query if request.url.query and request.method == "GET" else "")
    page = (
        web.templates[language]
        .get_template(template)
        .render(
            viewer=viewer,
            csrf_field=CSRF_FIELD,
            csrf_token=state.csrf,
            nav=nav,
            lang=language,
            languages=LANGUAGES,
            here=here,
            **context,
        )
    )
    response = HTMLResponse(page, status_code=status)
    # Pages may show a password once; nothing of the web face is cached.
    response.headers["cache-control"] = "no-store"
    if web.sessions.read(request) != state:
        web.sessions.write(request, response, state)
    return response


def error_page(
    request: Request,
    web: Web,
    status: int,
    message: KmdavError | str,
    viewer: Viewer | None = None,
) -> HTMLResponse:
    """An error page; ``message`` is a domain error or a marked English text."""
    state = web.sessions.read(request) or WebSession.anonymous()
    text = error_text(message, translations_of(request, web, viewer))
    return render(request, web, "error.html", state, viewer, status, code=status, message=text)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def redirect_to_login(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if is_htmx(request):
        # htmx would follow a 303 and swap the login page into a fragment of
        # this one; HX-Redirect makes the browser go there instead, and back
        # to the page it was on (login checks that ``next`` stays in /web).
        current = urlsplit(request.headers.get("hx-current-url", ""))
        if current.path:
            target = current.path + ("?" + current.query if current.query else "")
        url = f"{PREFIX}/login?next={quote(target, safe='/')}"
        return Response(status_code=200, headers={"hx-redirect": url})
    return redirect(f"{PREFIX}/login?next={quote(target, safe='/')}")


def load_viewer(session: Session, state: WebSession | None) -> Viewer | None:
    """The user a session belongs to, while that login is still valid."""
    if state is None or state.user_id is None:
        return None
    user = session.get(User, state.user_id)
    if user is None or not user.is_active or credentials_fingerprint(user) != state.fingerprint:
        return None
    return Viewer(
        user.id,
        user.username,
        user.display_name or user.username,
        user.is_admin,
        user.locale,
        user.must_change_password,
        seats.modules_of(session, user.id),
    )


# -- handler wrappers -----------------------------------------------------------

Handler = Callable[[Call], Response]
InvalidHandler = Callable[[Call, FormErrors], Response]


def _admit(
    request: Request,
    web: Web,
    session: Session,
    stored: WebSession | None,
    admin: bool,
    module: str | None = None,
) -> Viewer | Response:
    """The viewer when they may proceed; else the answer: login, the forced
    password change, or 403."""
    viewer = load_viewer(session, stored)
    if viewer is None:
        return redirect_to_login(request)
    if viewer.must_change_password and request.url.path != NEW_PASSWORD_PATH:
        return redirect(NEW_PASSWORD_PATH)
    if admin and not viewer.is_admin:
        return error_page(request, web, 403, N_("Only administrators may do this."), viewer)
    if module is not None and module not in viewer.modules:
        missing = PermissionDeniedError(
            "Your account has no seat for the %(module)s module. "
            "An administrator can assign you one.",
            module=translations_of(request, web, viewer).gettext(seats.label(module)),
        )
        return error_page(request, web, 403, missing, viewer)
    return viewer


def _known_module(module: str | None) -> str | None:
    if module is not None and module not in seats.MODULES:
        raise ValueError(f"unknown module {module!r}")
    return module


def page(
    *, admin: bool = False, module: str | None = None
) -> Callable[[Handler], Callable[[Request], Response]]:
    """A GET page for logged-in users (``admin``: administrators only;
    ``module``: holders of that module's seat only, else 403)."""
    _known_module(module)

    def wrap(handler: Handler) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            web = web_of(request)
            stored = web.sessions.read(request)
            try:
                with web.database.transaction("read") as session:
                    viewer = _admit(request, web, session, stored, admin, module)
                    if isinstance(viewer, Response):
                        return viewer
                    assert stored is not None  # a viewer comes from a session
                    return handler(Call(request, web, session, stored, viewer))
            except NotFoundError as error:
                return error_page(request, web, 404, error)

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def action(
    *,
    admin: bool = False,
    module: str | None = None,
    invalid: InvalidHandler | None = None,
    max_fields: int = 50,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A POST form handler for logged-in users; see the module docstring.
    ``module`` as in :func:`page`; ``max_fields`` caps the form's fields."""
    _known_module(module)

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        def run(request: Request, form: FormData) -> Response:
            web = web_of(request)
            stored = checked_session(request, web, form)
            if stored is None:
                return csrf_refused(request, web)
            try:
                with web.database.transaction() as session:
                    viewer = _admit(request, web, session, stored, admin, module)
                    if isinstance(viewer, Response):
                        return viewer
                    return handler(Call(request, web, session, stored, viewer, form))
            except NotFoundError as error:
                return error_page(request, web, 404, error)
            except KmdavError as error:
                # The write transaction is rolled back: nothing of it stays.
                return _refused(request, web, stored, form, error, invalid)

        return form_endpoint(run, handler.__name__, max_fields)

    return wrap


def _refused(
    request: Request,
    web: Web,
    stored: WebSession,
    form: FormData,
    error: KmdavError,
    invalid: InvalidHandler | None,
) -> Response:
    """The form again with the error next to its field (or a plain error page)."""
    if invalid is None:
        return error_page(request, web, 400, error)
    with web.database.transaction("read") as session:
        viewer = _admit(request, web, session, stored, admin=False)
        if isinstance(viewer, Response):
            return viewer
        errors = form_errors(error, translations_of(request, web, viewer))
        return invalid(Call(request, web, session, stored, viewer, form), errors)


def form_endpoint(
    run: Callable[[Request, FormData], Response], name: str, max_fields: int = 50
) -> Callable[[Request], Awaitable[Response]]:
    """An async endpoint that parses a url-encoded form (no uploads) and
    hands it to ``run`` in a worker thread."""

    async def endpoint(request: Request) -> Response:
        async with request.form(
            max_files=0, max_fields=max_fields, max_part_size=64 * 1024
        ) as form:
            return await run_in_threadpool(run, request, form)

    endpoint.__name__ = name
    return endpoint


def checked_session(request: Request, web: Web, form: Mapping[str, Any]) -> WebSession | None:
    """The session when the form carries its CSRF token, else ``None``."""
    stored = web.sessions.read(request)
    if stored is None or not stored.csrf_matches(form.get(CSRF_FIELD)):
        return None
    return stored


def csrf_refused(request: Request, web: Web) -> HTMLResponse:
    logger.warning("web: refused a form without a valid CSRF token: %s", request.url.path)
    response = error_page(
        request,
        web,
        403,
        N_(
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again."
        ),
    )
    if is_htmx(request):
        # htmx swaps no 403; the page's token is stale, so load it afresh.
        response.headers["hx-refresh"] = "true"
    return response


def form_errors(error: KmdavError, translations: gettext.NullTranslations) -> FormErrors:
    """The error next to its field ("" for the whole form), translated."""
    text = error_text(error, translations)
    if isinstance(error, ValidationError) and error.field:
        return {error.field: text}
    return {"": text}
