"""The web face: server-rendered pages under ``/web/``.

One module per area (``auth``, ``language``, ``dashboard``, ``devices``,
``account``, ``sharing``, ``jobs``, ``admin_users``, ``admin_user_detail``,
``admin_groups``, ``admin_group_detail``, ``admin_licence``, ``admin_audit``,
``admin_mail``, ``contacts``, ``contacts_import``, ``contacts_export``,
``admin_fields``, ``forms``, ``duplicates``, ``calendar``, ``tasks``,
``replies``); ``_web`` holds what they share, ``_session`` the signed session
cookie.  Pages call services; they never write tables themselves.
"""

from __future__ import annotations

import gettext
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
    admin_fields,
    admin_group_detail,
    admin_groups,
    admin_licence,
    admin_mail,
    admin_user_detail,
    admin_users,
    auth,
    calendar,
    contacts,
    contacts_export,
    contacts_import,
    dashboard,
    devices,
    duplicates,
    forms,
    jobs,
    language,
    replies,
    sharing,
    tasks,
)
from kmdav.faces.web._session import SessionCodec
from kmdav.faces.web._web import NAVIGATION, PREFIX, Web, WebApp, visitor_language
from kmdav.i18n import N_, load_all
from kmdav.settings import Settings

__all__ = ["localized_templates", "make_templates", "visitor_language", "web_routes"]

NEVER = N_("never")


def when(value: datetime | None, empty: str = NEVER) -> str:
    """A timestamp for people: minutes are precise enough, always in UTC."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else empty


def make_templates(translations: gettext.NullTranslations | None = None) -> jinja2.Environment:
    """The templates speaking one language (English without ``translations``).

    Text in templates is marked with ``_()`` / ``{% trans %}``.  The
    translations are installed on the environment, never swapped per
    request: each language has its own environment, so concurrent renders
    in the threadpool cannot see each other's language.
    """
    translations = translations or gettext.NullTranslations()
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("kmdav.webui") / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        translations, newstyle=True
    )
    never = translations.gettext(NEVER)
    environment.filters["when"] = lambda value, empty=never: when(value, empty)
    return environment


def localized_templates() -> tuple[
    dict[str, jinja2.Environment], dict[str, gettext.NullTranslations]
]:
    """One template environment per language, and the translations behind them."""
    translations = load_all()
    return {code: make_templates(t) for code, t in translations.items()}, translations


def web_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    templates, translations = localized_templates()
    web = Web(
        database=database,
        sessions=SessionCodec(settings.resolved_secret(), settings.web.session_seconds),
        throttle=LoginThrottle(
            settings.web.login_failures_allowed, settings.web.login_failure_window_seconds
        ),
        templates=templates,
        translations=translations,
        settings=settings,
        # Modules add their entries here, declared next to their routes.
        navigation=(
            NAVIGATION[0],
            *contacts.NAVIGATION,
            *contacts_import.NAVIGATION,
            *calendar.NAV,
            *tasks.NAV,
            *NAVIGATION[1:],
            *admin_fields.NAVIGATION,
            *duplicates.NAV,
            *forms.NAV,
        ),
    )
    static = StaticFiles(directory=str(files("kmdav.webui") / "static"))
    router = Router(
        routes=[
            *dashboard.routes,
            *auth.routes,
            *language.routes,
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
            *contacts_import.routes,
            *contacts_export.routes,
            *forms.routes,
            # Before the contact pages: /contacts/duplicates and /contacts/merge.
            *duplicates.routes,
            *contacts.routes,
            *admin_fields.routes,
            # Before the calendar's /calendar/{id}/... pages.
            *replies.routes,
            *calendar.routes,
            *tasks.routes,
            Mount("/static", app=static, name="web_static"),
        ]
    )
    return [Mount(PREFIX, app=WebApp(router, web))]
