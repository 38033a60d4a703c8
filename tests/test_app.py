"""The ASGI app served by a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kmdav import __version__
from kmdav.app import create_app
from kmdav.errors import ConfigError
from kmdav.settings import Settings
from tests.databases import PG_ENV, throwaway_database
from tests.live import live_server

pytestmark = pytest.mark.live


def test_healthz_answers_with_version(tmp_path: Path, backend: str) -> None:
    with throwaway_database(backend, tmp_path) as url, live_server(tmp_path / "d", url) as server:
        response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


@pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason=f"needs a database server that can go away: set {PG_ENV}"
)
def test_healthz_503_when_database_is_gone(tmp_path: Path) -> None:
    with (
        throwaway_database("postgresql", tmp_path) as url,
        live_server(tmp_path / "d", url) as server,
    ):
        assert httpx.get(server.url + "/healthz").status_code == 200
        name = make_url(url).database
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
            response = httpx.get(server.url + "/healthz")
            assert response.status_code == 503
            assert response.json()["status"] == "database unavailable"
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            assert httpx.get(server.url + "/healthz").status_code == 200
        finally:
            admin.dispose()


def test_create_app_refuses_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kmdav init"):
        create_app(Settings(data_dir=tmp_path))


def test_front_page_points_at_dav(tmp_path: Path) -> None:
    with throwaway_database("sqlite", tmp_path) as url, live_server(tmp_path / "d", url) as server:
        response = httpx.get(server.url + "/")
    assert response.status_code == 200
    assert f"{server.url}/dav/" in response.text
