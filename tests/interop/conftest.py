"""Live kmdav servers for the real-client interop suite, one per test module.

Starting ``kmdav init`` + ``kmdav serve`` costs a few seconds, so every
module shares one server (and one throwaway database) across its tests; the
tests of a module keep out of each other's way by using their own UIDs,
hrefs or users.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.databases import throwaway_database
from tests.live import LiveServer, live_server, run_cli

ADMIN = ("admin", "admin-password-1")


@dataclass(frozen=True)
class DavUser:
    """A kmdav user and the URLs of their default collections."""

    server: LiveServer
    name: str
    password: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.name, self.password)

    @property
    def home(self) -> str:
        return f"{self.server.dav}{self.name}/"

    @property
    def contacts(self) -> str:
        return self.home + "contacts/"

    @property
    def calendar(self) -> str:
        return self.home + "calendar/"

    @property
    def tasks(self) -> str:
        return self.home + "tasks/"


def add_user(server: LiveServer, name: str, password: str, *, admin: bool = False) -> DavUser:
    extra = ["--admin"] if admin else []
    run_cli(
        "user",
        "add",
        name,
        "--password",
        password,
        *extra,
        "--data-dir",
        str(server.data_dir),
        env=server.env,
    )
    return DavUser(server, name, password)


@pytest.fixture(scope="module")
def kmdav_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``kmdav serve`` on 127.0.0.1 over a fresh database, shared by a module."""
    workdir = tmp_path_factory.mktemp("kmdav")
    with throwaway_database(backend, workdir) as url, live_server(workdir / "data", url) as server:
        yield server


@pytest.fixture(scope="module")
def dav_user(kmdav_server: LiveServer) -> DavUser:
    """A plain (non-admin) user with the default address book, calendar and tasks."""
    return add_user(kmdav_server, "carol", "carol-password-1")
