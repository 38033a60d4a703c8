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
  next to its field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

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
from kmdav.errors import KmdavError, NotFoundError, ValidationError
from kmdav.faces.web._session import CSRF_FIELD, SessionCodec, WebSession, password_fingerprint
from kmdav.models import User
from kmdav.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "/web"
SCOPE_KEY = "kmdav.web"
#: After an admin reset, the one page a user may see until they choose a password.
NEW_PASSWORD_PATH = PREFIX + "/account/new-password"
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
    NavEntry("/web/", "Dashboard"),
    NavEntry("/web/devices", "Devices"),
    NavEntry("/web/sharing", "Sharing"),
    NavEntry("/web/admin/users", "Users", admin_only=True),
    NavEntry("/web/admin/groups", "Groups", admin_only=True),
    NavEntry("/web/admin/licence", "Licence", admin_only=True),
    NavEntry("/web/admin/audit", "Audit log", admin_only=True),
    NavEntry("/web/admin/mail", "Mail", admin_only=True),
)


@dataclass
class Web:
    database: Database
    sessions: SessionCodec
    throttle: LoginThrottle
    templates: jinja2.Environment
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

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, self.web, template, self.state, self.viewer, status, **context)


def web_of(request: Request) -> Web:
    web: Web = request.scope[SCOPE_KEY]
    return web


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


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
    nav = [
        {
            "href": entry.href,
            "label": entry.label,
            "current": path == entry.href or path.startswith(entry.href + "/"),
        }
        for entry in web.navigation
        if viewer is not None and entry.shown_to(viewer)
    ]
    page = web.templates.get_template(template).render(
        viewer=viewer, csrf_field=CSRF_FIELD, csrf_token=state.csrf, nav=nav, **context
    )
    response = HTMLResponse(page, status_code=status)
    # Pages may show a password once; nothing of the web face is cached.
    response.headers["cache-control"] = "no-store"
    if web.sessions.read(request) != state:
        web.sessions.write(request, response, state)
    return response


def error_page(
    request: Request, web: Web, status: int, message: str, viewer: Viewer | None = None
) -> HTMLResponse:
    state = web.sessions.read(request) or WebSession.anonymous()
    return render(request, web, "error.html", state, viewer, status, code=status, message=message)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def redirect_to_login(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return redirect(f"{PREFIX}/login?next={quote(target, safe='/')}")


def load_viewer(session: Session, state: WebSession | None) -> Viewer | None:
    """The user a session belongs to, while that login is still valid."""
    if state is None or state.user_id is None:
        return None
    user = session.get(User, state.user_id)
    if (
        user is None
        or not user.is_active
        or password_fingerprint(user.password_hash) != state.fingerprint
    ):
        return None
    return Viewer(
        user.id,
        user.username,
        user.display_name or user.username,
        user.is_admin,
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
        return error_page(request, web, 403, "Only administrators may do this.", viewer)
    if module is not None and module not in viewer.modules:
        message = (
            f"Your account has no seat for the {seats.label(module)} module. "
            "An administrator can assign you one."
        )
        return error_page(request, web, 403, message, viewer)
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
                return error_page(request, web, 404, str(error))

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
                return error_page(request, web, 404, str(error))
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
        return error_page(request, web, 400, str(error))
    with web.database.transaction("read") as session:
        viewer = _admit(request, web, session, stored, admin=False)
        if isinstance(viewer, Response):
            return viewer
        return invalid(Call(request, web, session, stored, viewer, form), form_errors(error))


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
    return error_page(
        request,
        web,
        403,
        "This form has expired or did not come from this site. Go back, reload the page "
        "and try again.",
    )


def form_errors(error: KmdavError) -> FormErrors:
    if isinstance(error, ValidationError) and error.field:
        return {error.field: str(error)}
    return {"": str(error)}
