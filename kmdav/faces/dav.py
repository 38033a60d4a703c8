"""The CalDAV/CardDAV face: Radicale mounted under ``/dav/``.

Radicale's configuration is generated from kmdav's settings; its storage,
auth and rights are kmdav's plugins, handed the process's database through
factories (Radicale builds each plugin twice per application).
"""

from __future__ import annotations

import importlib
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from a2wsgi import WSGIMiddleware
from radicale import config as radicale_config
from radicale.app import Application
from radicale.app import report as radicale_report
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route

from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.dav.context import state
from kmdav.db import Database
from kmdav.faces.davguard import DavGuard
from kmdav.settings import Settings

MOUNT = "/dav"
DAV_NS = "{DAV:}"
#: Threads serving DAV requests per process (each holds one DB connection).
DAV_THREADS = 16


def radicale_configuration(settings: Settings, database: Database) -> Any:
    storage_module = importlib.import_module("kmdav.storage")
    plugins = importlib.import_module("kmdav.plugins")
    dav = settings.dav
    throttle = LoginThrottle(dav.login_failures_allowed, dav.login_failure_window_seconds)
    configuration = radicale_config.load([])
    configuration.update(
        {
            "auth": {
                "type": lambda conf: plugins.Auth(conf, database, throttle, dav.auth_cache_seconds),
                "delay": "0",
            },
            "rights": {
                "type": lambda conf: plugins.Rights(conf, database, dav.company_addressbook)
            },
            "storage": {
                "type": lambda conf: storage_module.Storage(
                    conf, database, dav.company_addressbook
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


def _report_honouring_limit(original: Any) -> Any:
    """Wrap Radicale's REPORT builder to honour DAV:limit on sync-collection.

    RFC 6578 3.6: a truncated result carries a DAV:response for the
    request-URI with status 507 and the number-of-matches-within-limits
    error; the token then continues where the result stopped.
    """

    def xml_report(
        base_prefix: str, path: str, xml_request: ET.Element | None, *args: Any, **kwargs: Any
    ) -> tuple[int, ET.Element]:
        is_sync = xml_request is not None and xml_request.tag == DAV_NS + "sync-collection"
        if is_sync and xml_request is not None:
            nresults = xml_request.find(f"{DAV_NS}limit/{DAV_NS}nresults")
            if nresults is not None:
                try:
                    state.sync_limit = max(1, int((nresults.text or "").strip()))
                except ValueError as exc:
                    raise ValueError("DAV:nresults must be a number") from exc
        try:
            status, answer = original(base_prefix, path, xml_request, *args, **kwargs)
            if is_sync and state.sync_truncated:
                response = ET.SubElement(answer, DAV_NS + "response")
                ET.SubElement(response, DAV_NS + "href").text = quote(base_prefix + path)
                ET.SubElement(
                    response, DAV_NS + "status"
                ).text = "HTTP/1.1 507 Insufficient Storage"
                error = ET.SubElement(response, DAV_NS + "error")
                ET.SubElement(error, DAV_NS + "number-of-matches-within-limits")
            return status, answer
        finally:
            state.sync_limit = None
            state.sync_truncated = False

    xml_report.kmdav_wrapped = True  # type: ignore[attr-defined]
    return xml_report


def _install_limit_support() -> None:
    if not getattr(radicale_report.xml_report, "kmdav_wrapped", False):
        radicale_report.xml_report = _report_honouring_limit(radicale_report.xml_report)


def dav_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    _install_limit_support()
    configuration, throttle = radicale_configuration(settings, database)
    application = Application(configuration)
    guarded = DavGuard(application, settings.dav.max_content_length, throttle)

    def well_known(request: Request) -> RedirectResponse:
        # RFC 6764 5: the context path of the DAV service.
        return RedirectResponse(MOUNT + "/", status_code=301)

    return [
        Route("/.well-known/carddav", well_known, methods=["GET", "PROPFIND", "HEAD", "OPTIONS"]),
        Route("/.well-known/caldav", well_known, methods=["GET", "PROPFIND", "HEAD", "OPTIONS"]),
        Mount(MOUNT, app=WSGIMiddleware(guarded, workers=DAV_THREADS)),  # type: ignore[arg-type]
    ]
