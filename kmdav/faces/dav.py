"""The CalDAV/CardDAV face: Radicale mounted under ``/dav/``.

Radicale's configuration is generated from kmdav's settings; its storage,
auth and rights are kmdav's plugins, handed the process's database through
factories (Radicale builds each plugin twice per application).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from radicale import config as radicale_config
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route

from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.db import Database
from kmdav.faces import davitems, davreports, davschedule, davspeed
from kmdav.faces.davguard import DavGuard
from kmdav.faces.wsgibridge import BufferedWSGI
from kmdav.settings import Settings

MOUNT = "/dav"
#: Threads serving DAV requests per process (each holds one DB connection).
DAV_THREADS = 16


class PluginFactory:
    """Builds a plugin for Radicale; named so Radicale's log lines say which."""

    def __init__(self, name: str, build: Callable[[Any], Any]) -> None:
        self.name = name
        self.build = build

    def __call__(self, configuration: Any) -> Any:
        return self.build(configuration)

    def __repr__(self) -> str:
        return self.name


def radicale_configuration(settings: Settings, database: Database) -> Any:
    storage_module = importlib.import_module("kmdav.storage")
    plugins = importlib.import_module("kmdav.plugins")
    dav = settings.dav
    throttle = LoginThrottle(dav.login_failures_allowed, dav.login_failure_window_seconds)
    configuration = radicale_config.load([])
    configuration.update(
        {
            "auth": {
                "type": PluginFactory(
                    "kmdav.plugins.Auth",
                    lambda conf: plugins.Auth(conf, database, throttle, dav.auth_cache_seconds),
                ),
                "delay": "0",
            },
            "rights": {
                "type": PluginFactory(
                    "kmdav.plugins.Rights",
                    lambda conf: plugins.Rights(conf, database, dav.company_addressbook),
                )
            },
            "storage": {
                "type": PluginFactory(
                    "kmdav.storage.Storage",
                    lambda conf: storage_module.Storage(conf, database, dav.company_addressbook),
                ),
                "predefined_collections": "",
            },
            "web": {"type": "none"},
            "server": {"max_content_length": str(dav.max_content_length)},
            "logging": {"mask_passwords": "True"},
        },
        "kmdav",
        privileged=True,
    )
    return configuration, throttle


def dav_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    davreports.install()
    davspeed.install()
    # Before davschedule: its PROPFIND wrapper goes around this one.
    davitems.install()
    davschedule.install()
    configuration, throttle = radicale_configuration(settings, database)
    application = davschedule.SchedulingApplication(configuration)
    guarded = DavGuard(application, settings.dav.max_content_length, throttle)

    def well_known(request: Request) -> RedirectResponse:
        # RFC 6764 5: the context path of the DAV service.
        return RedirectResponse(MOUNT + "/", status_code=301)

    return [
        Route("/.well-known/carddav", well_known, methods=["GET", "PROPFIND", "HEAD", "OPTIONS"]),
        Route("/.well-known/caldav", well_known, methods=["GET", "PROPFIND", "HEAD", "OPTIONS"]),
        Mount(
            MOUNT,
            app=BufferedWSGI(
                guarded, max_body=settings.dav.max_content_length, threads=DAV_THREADS
            ),
        ),
    ]
