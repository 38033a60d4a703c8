"""Radicale storage instances for the contract suite: stock and ours."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vobject
from radicale import config as radicale_config
from radicale import item as radicale_item
from radicale import storage as radicale_storage
from sqlalchemy import Engine

from kmdav.db import Database


def prepared_item(collection_path: str, text: str) -> Any:
    """An item as Radicale's PUT handler hands it to ``upload``."""
    item = radicale_item.Item(collection_path=collection_path, vobject_item=vobject.readOne(text))
    item.prepare()
    return item


def _configuration(**storage: str) -> Any:
    configuration = radicale_config.load([])
    if storage:
        configuration.update({"storage": storage}, "test")
    return configuration


@pytest.fixture(scope="session")
def kmdav_database(engine: Engine) -> Iterator[Database]:
    database = Database(engine.url.render_as_string(hide_password=False))
    database.open()
    yield database
    database.close()


@pytest.fixture(params=["radicale", "kmdav"])
def storage(request: pytest.FixtureRequest, tmp_path: Path, kmdav_database: Database) -> Any:
    """The same contract, against Radicale's multifilesystem and kmdav's SQL."""
    if request.param == "radicale":
        return radicale_storage.load(_configuration(filesystem_folder=str(tmp_path)))
    module = importlib.import_module("kmdav.storage")
    return module.Storage(_configuration(), kmdav_database, "company/contacts")


@pytest.fixture
def kmdav_storage(kmdav_database: Database) -> Any:
    module = importlib.import_module("kmdav.storage")
    return module.Storage(_configuration(), kmdav_database, "company/contacts")


@pytest.fixture(scope="module")
def dav_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One live kmdav per module and backend, with users bob and carol."""
    from tests.databases import throwaway_database
    from tests.live import live_server, run_cli

    workdir = tmp_path_factory.mktemp("dav")
    with throwaway_database(backend, workdir) as url, live_server(workdir / "data", url) as server:
        for name in ("bob", "carol"):
            run_cli(
                "user",
                "add",
                name,
                "--password",
                f"{name}-password-1",
                "--data-dir",
                str(server.data_dir),
                env=server.env,
            )
        server.database_url = url
        yield server


@pytest.fixture(scope="module")
def server_db(dav_server: Any) -> Iterator[Database]:
    """Direct access to the live server's database (committed transactions)."""
    database = Database(dav_server.database_url)
    database.open()
    yield database
    database.close()
