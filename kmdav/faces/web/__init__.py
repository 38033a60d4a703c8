"""The web face: server-rendered pages under ``/web/``.

One module per area (``auth``, ``dashboard``, ``devices``, ``account``,
``sharing``, ``jobs``, ``admin_users``, ``admin_user_detail``,
``admin_groups``, ``admin_group_detail``, ``admin_licence``, ``admin_audit``,
``admin_mail``); ``_web`` holds what they share, ``_session`` the signed
session cookie.  Pages call services; they never write tables themselves.
"""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files

import jinja2
from starlette.routing import BaseRoute, Mount, Router
from starlette.staticfiles import StaticFiles

from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.db import Database
from kmdav.faces.web import (
    account,
    admin_audit,
    admin_group_detail,
    admin_groups,
    admin_licence,
    admin_mail,
    admin_user_detail,
    admin_users,
    auth,
    dashboard,
    devices,
    jobs,
    sharing,
)
from kmdav.faces.web._session import SessionCodec
from kmdav.faces.web._web import NAVIGATION, PREFIX, Web, WebApp
from kmdav.settings import Settings


def when(value: datetime | None, empty: str = "never") -> str:
    """A timestamp for people: minutes are precise enough, always in UTC."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else empty


def make_templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("kmdav.webui") / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    # Text in templates is marked with ``_()`` / ``{% trans %}``; until a
    # request picks a language the marked text renders as written (English).
    environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    environment.filters["when"] = when
    return environment


def web_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    web = Web(
        database=database,
        sessions=SessionCodec(settings.resolved_secret(), settings.web.session_seconds),
        throttle=LoginThrottle(
            settings.web.login_failures_allowed, settings.web.login_failure_window_seconds
        ),
        templates=make_templates(),
        settings=settings,
        # Modules add their entries here, declared next to their routes.
        navigation=NAVIGATION,
    )
    static = StaticFiles(directory=str(files("kmdav.webui") / "static"))
    router = Router(
        routes=[
            *dashboard.routes,
            *auth.routes,
            *devices.routes,
            *sharing.routes,
            *admin_users.routes,
            *admin_user_detail.routes,
            *admin_groups.routes,
            *account.routes,
            *admin_audit.routes,
            *admin_mail.routes,
            *jobs.routes,
            *admin_group_detail.routes,
            *admin_licence.routes,
            Mount("/static", app=static, name="web_static"),
        ]
    )
    return [Mount(PREFIX, app=WebApp(router, web))]
