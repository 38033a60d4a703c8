"""The composition root: one ASGI app that mounts kmdav's faces."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from kmdav import __version__, migrate
from kmdav.db import Database, ping
from kmdav.faces.dav import dav_routes
from kmdav.faces.forms import forms_routes
from kmdav.faces.ics import ics_routes
from kmdav.faces.web import localized_templates, visitor_language, web_routes
from kmdav.jobs import service as jobs_service
from kmdav.jobs.queue import LOCK_FILE_NAME, EmbeddedConsumer, JobQueue
from kmdav.log import configure_logging
from kmdav.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    """Build the application for ``settings``.

    Raises :class:`kmdav.errors.ConfigError` when the settings cannot run a
    server (no secret key, the example secret).
    """
    configure_logging(settings.log_level)
    settings.resolved_secret()
    database = Database(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database.open()
        # Upgrading on start is documented in the README; concurrent workers
        # serialise on SQLite's write lock or PostgreSQL's advisory lock.
        await run_in_threadpool(migrate.upgrade, database.engine)
        # Every worker process hands jobs to the queue; one consumer per host
        # runs them (the others wait for its lock), unless `kmdav worker`s do.
        queue = JobQueue(settings, database)
        queue.install()
        consumer = None
        if settings.jobs.run_in_server:
            consumer = EmbeddedConsumer(queue, settings.data_dir / LOCK_FILE_NAME)
            consumer.start()
        # Everything made so far (modules, the schema, Radicale's
        # configuration) lives as long as the process: out of the cyclic
        # collector's sight, a full collection no longer walks it. A
        # 5,000-card PROPFIND spent 76 of its 260 ms in one such walk.
        gc.collect()
        gc.freeze()
        logger.info(
            "kmdav %s started on %s", __version__, (settings.is_sqlite and "SQLite") or "PostgreSQL"
        )
        try:
            yield
        finally:
            if consumer is not None:
                await run_in_threadpool(consumer.stop)
            jobs_service.install_dispatcher(None)
            queue.close()
            database.close()

    def healthz(request: Request) -> JSONResponse:
        healthy = ping(database.engine)
        return JSONResponse(
            {"status": "ok" if healthy else "database unavailable", "version": __version__},
            status_code=200 if healthy else 503,
        )

    templates, translations = localized_templates()

    def index(request: Request) -> HTMLResponse:
        base_url = str(request.base_url).rstrip("/")
        language = visitor_language(request)
        page = (
            templates[language]
            .get_template("index.html")
            .render(
                version=__version__, base_url=base_url, dav_url=base_url + "/dav/", lang=language
            )
        )
        # The language comes from the cookie or Accept-Language: caches must tell them apart.
        return HTMLResponse(page, headers={"vary": "Accept-Language, Cookie"})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            *dav_routes(settings, database),
            *web_routes(settings, database),
            *ics_routes(database),
            *forms_routes(settings, database, templates, translations),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    return app


def app_from_environment() -> Starlette:
    """Factory for uvicorn workers: settings come from ``KMDAV_*`` and the TOML file."""
    return create_app(load_settings())
