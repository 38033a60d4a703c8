"""A live kmdav per test module, and an httpx "browser" that fills in forms.

Tests of one module share the server; each makes its own users (names from
:func:`unique`) so they never trip over each other's state or login throttle.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from kmdav.accounts.modules import DEFAULT_SEATS
from tests.databases import throwaway_database
from tests.live import LiveServer, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ADMIN = ("admin", "admin-password-1")
#: The one script a page loads (a file, from npm); anything else is a leak.
HTMX_SCRIPT = '<script src="/web/static/vendor/htmx.min.js" defer></script>'
#: Debian's chromium: Playwright drives it and never downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")
#: Screenshots of the pages land here (look at them when the layout changes).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTHS = {"phone": 390, "desktop": 1280}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class WebServer:
    live: LiveServer
    database_url: str

    @property
    def url(self) -> str:
        return self.live.url

    def query(self, sql: str, **params: Any) -> list[Any]:
        """Rows straight from the database (to prove what did or did not change)."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(sql), params))
        finally:
            engine.dispose()

    def user_row(self, username: str) -> Any:
        rows = self.query(
            "SELECT id, username, is_admin, is_active, password_hash, display_name "
            "FROM users WHERE username = :name",
            name=username,
        )
        return rows[0] if rows else None


@pytest.fixture(scope="module")
def web_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    workdir = tmp_path_factory.mktemp("kmdav-web")
    with throwaway_database(backend, workdir) as url, live_server(workdir / "data", url) as live:
        yield WebServer(live, url)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def field_error(page: str, field: str) -> str:
    """The error message a form shows next to ``field`` (fails when there is none)."""
    match = re.search(rf'id="e-{field}">([^<]*)<', page)
    assert match, f"no error next to {field}"
    return match.group(1)


class WebClient:
    """One browser's worth of cookies against the web face."""

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def token(self) -> str:
        """This session's CSRF token, read from a page like a browser would."""
        page = self.get("/web/logout")
        if page.status_code != 200:
            page = self.get("/web/login")
        match = _CSRF.search(page.text)
        assert match, page.text
        return match.group(1)

    def post(self, path: str, data: Mapping[str, Any], *, csrf: bool = True) -> httpx.Response:
        form = {"csrf_token": self.token(), **data} if csrf else dict(data)
        return self.http.post(path, data=form)

    def login(self, login: str, password: str) -> httpx.Response:
        return self.post("/web/login", {"login": login, "password": password})

    def logged_in(self) -> bool:
        return self.get("/web/").status_code == 200

    def create_user(
        self,
        username: str,
        password: str,
        *,
        modules: Sequence[str] = DEFAULT_SEATS,
        **fields: str,
    ) -> httpx.Response:
        """Through the form; ``modules`` are the seat boxes left ticked (by
        default those the form offers ticked: calendar and tasks)."""
        response = self.post(
            "/web/admin/users",
            {"username": username, "password": password, "modules": list(modules), **fields},
        )
        assert response.status_code == 303, response.text
        return response

    def close(self) -> None:
        self.http.close()


def without_htmx(page: str) -> str:
    """The page without its htmx script tag, to look for any other script."""
    return page.replace(HTMX_SCRIPT, "", 1)


@pytest.fixture
def admin(web_server: WebServer) -> Iterator[WebClient]:
    client = WebClient(web_server)
    assert client.login(*ADMIN).status_code == 303
    yield client
    client.close()


@pytest.fixture
def anonymous(web_server: WebServer) -> Iterator[WebClient]:
    client = WebClient(web_server)
    yield client
    client.close()


@pytest.fixture
def user(web_server: WebServer, admin: WebClient) -> Iterator[tuple[WebClient, str, str]]:
    """A fresh non-admin user, logged in: (client, name, password)."""
    name, password = unique("user"), "user-password-1"
    admin.create_user(name, password)
    client = WebClient(web_server)
    assert client.login(name, password).status_code == 303
    yield client, name, password
    client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium for one test module (skips where it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (make system-packages)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def screenshots(page: Page, name: str) -> None:
    """Full-page screenshots of ``page`` at phone and desktop widths."""
    ARTIFACTS.mkdir(exist_ok=True)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


@contextmanager
def open_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in a fresh browser context (its own cookies), closed afterwards."""
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
    finally:
        context.close()
