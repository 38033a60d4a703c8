"""Module seats in the web face (``page(module=)``/``action(module=)``, the
navigation) and over DAV (calendars and task lists need their seats)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from a2wsgi import ASGIMiddleware
from sqlalchemy import Engine
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router

from kmdav.accounts import modules
from kmdav.accounts import service as accounts
from kmdav.accounts.ratelimit import LoginThrottle
from kmdav.dav import sharing
from kmdav.db import Database
from kmdav.faces.web import auth, dashboard, localized_templates
from kmdav.faces.web._session import SessionCodec
from kmdav.faces.web._web import NAVIGATION, PREFIX, Call, NavEntry, Web, WebApp, action, page
from kmdav.settings import Settings
from tests.conftest import TEST_SECRET
from tests.web.conftest import WebClient, WebServer, unique

# -- the decorators, on a router that exists only in this test -------------------


@page(module="calendar")
def _calendar_page(call: Call) -> Response:
    return PlainTextResponse(f"calendar of {call.viewer.username}")


@action(module="calendar")
def _calendar_action(call: Call) -> Response:
    return PlainTextResponse(f"saved {call.field('title')}")


@pytest.fixture
def test_app(engine: Engine, tmp_path: Path) -> Iterator[tuple[httpx.Client, Database]]:
    database = Database(engine.url.render_as_string(hide_password=False))
    database.open()
    templates, translations = localized_templates()
    web = Web(
        database=database,
        sessions=SessionCodec(TEST_SECRET, 3600),
        throttle=LoginThrottle(50, 60),
        templates=templates,
        translations=translations,
        settings=Settings(data_dir=tmp_path, secret_key=TEST_SECRET),
        navigation=(
            *NAVIGATION,
            NavEntry("/web/test-calendar", "Test calendar", module="calendar"),
        ),
    )
    router = Router(
        routes=[
            *auth.routes,
            *dashboard.routes,
            Route("/test-calendar", _calendar_page, methods=["GET"]),
            Route("/test-calendar", _calendar_action, methods=["POST"]),
        ]
    )
    app = Router(routes=[Mount(PREFIX, app=WebApp(router, web))])
    # A plain WSGI bridge: starlette's httpx.Client wants another httpx.
    transport = httpx.WSGITransport(app=ASGIMiddleware(app))  # type: ignore[arg-type]
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        yield client, database
    database.close()


def _login(client: httpx.Client, database: Database, seats: tuple[str, ...]) -> str:
    name = f"seat-{secrets.token_hex(3)}"
    with database.transaction() as session:
        accounts.create_user(session, name, "seat-password-1", modules=seats)
    token = client.get("/web/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "login": name, "password": "seat-password-1"}
    assert client.post("/web/login", data=form).status_code == 303
    return name


def _token(client: httpx.Client) -> str:
    return client.get("/web/logout").text.split('name="csrf_token" value="')[1].split('"')[0]


def test_module_pages_answer_403_without_the_seat(test_app: tuple[httpx.Client, Database]) -> None:
    client, database = test_app
    _login(client, database, ())
    refused = client.get("/web/test-calendar")
    assert refused.status_code == 403
    assert "no seat for the Calendar module" in refused.text
    posted = client.post("/web/test-calendar", data={"csrf_token": _token(client), "title": "x"})
    assert posted.status_code == 403
    assert "no seat for the Calendar module" in posted.text
    # ... and the navigation does not offer it.
    assert "/web/test-calendar" not in client.get("/web/").text


def test_module_pages_open_with_the_seat(test_app: tuple[httpx.Client, Database]) -> None:
    client, database = test_app
    name = _login(client, database, ("calendar",))
    assert client.get("/web/test-calendar").text == f"calendar of {name}"
    posted = client.post("/web/test-calendar", data={"csrf_token": _token(client), "title": "x"})
    assert posted.text == "saved x"
    assert 'href="/web/test-calendar"' in client.get("/web/").text
    # The CSRF check still comes first.
    assert client.post("/web/test-calendar", data={"title": "x"}).status_code == 403


def test_anonymous_visitors_still_go_to_the_login(test_app: tuple[httpx.Client, Database]) -> None:
    client, _ = test_app
    response = client.get("/web/test-calendar")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/web/login")


def test_an_unknown_module_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown module"):
        page(module="teleport")
    with pytest.raises(ValueError, match="unknown module"):
        action(module="teleport")


# -- the live server: navigation and DAV ----------------------------------------


def _propfind(server: WebServer, user: str, path: str, depth: str = "1") -> httpx.Response:
    return httpx.request(
        "PROPFIND",
        f"{server.url}/dav/{path}",
        headers={"Depth": depth},
        auth=(user, "dav-seat-password-1"),
    )


@pytest.mark.live
def test_dav_hides_calendars_and_task_lists_without_their_seats(
    web_server: WebServer, admin: WebClient
) -> None:
    name = unique("nocal")
    admin.create_user(name, "dav-seat-password-1", modules=())
    home = _propfind(web_server, name, f"{name}/")
    assert home.status_code == 207
    assert f"/dav/{name}/contacts/" in home.text  # the base is always there
    assert f"/dav/{name}/calendar/" not in home.text
    assert f"/dav/{name}/tasks/" not in home.text
    for collection in ("calendar", "tasks"):
        assert _propfind(web_server, name, f"{name}/{collection}/").status_code == 403
        get = httpx.get(
            f"{web_server.url}/dav/{name}/{collection}/x.ics", auth=(name, "dav-seat-password-1")
        )
        assert get.status_code == 403
    assert _propfind(web_server, name, f"{name}/contacts/").status_code == 207

    # A calendar seat opens the calendar, not the task list.
    user_id = web_server.user_row(name).id
    saved = admin.post(f"/web/admin/users/{user_id}/modules", {"modules": ["calendar"]})
    assert saved.status_code == 303
    home = _propfind(web_server, name, f"{name}/")
    assert f"/dav/{name}/calendar/" in home.text
    assert f"/dav/{name}/tasks/" not in home.text
    assert _propfind(web_server, name, f"{name}/calendar/").status_code == 207
    assert _propfind(web_server, name, f"{name}/tasks/").status_code == 403

    admin.post(f"/web/admin/users/{user_id}/modules", {"modules": ["tasks"]})
    home = _propfind(web_server, name, f"{name}/")
    assert f"/dav/{name}/calendar/" not in home.text
    assert f"/dav/{name}/tasks/" in home.text


@pytest.mark.live
def test_making_a_calendar_needs_a_calendar_or_tasks_seat(
    web_server: WebServer, admin: WebClient
) -> None:
    name, password = unique("mkcal"), "dav-seat-password-1"
    admin.create_user(name, password, modules=())
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:set><D:prop><D:displayname>Projects</D:displayname></D:prop></D:set>"
        "</C:mkcalendar>"
    )

    def mkcalendar(collection: str) -> int:
        return httpx.request(
            "MKCALENDAR",
            f"{web_server.url}/dav/{name}/{collection}/",
            content=body,
            headers={"Content-Type": "application/xml"},
            auth=(name, password),
        ).status_code

    assert mkcalendar("projects") == 403
    assert (
        web_server.query("SELECT id FROM dav_collections WHERE path = :p", p=f"{name}/projects")
        == []
    )
    user_id = web_server.user_row(name).id
    admin.post(f"/web/admin/users/{user_id}/modules", {"modules": ["calendar"]})
    assert mkcalendar("projects") == 201
    assert f"/dav/{name}/projects/" in _propfind(web_server, name, f"{name}/").text


@pytest.mark.live
def test_a_calendar_shared_in_needs_the_seat_too(web_server: WebServer, admin: WebClient) -> None:
    owner, reader = unique("owner"), unique("reader")
    admin.create_user(owner, "dav-seat-password-1")
    admin.create_user(reader, "dav-seat-password-1", modules=())
    assert _propfind(web_server, owner, f"{owner}/").status_code == 207
    database = Database(web_server.database_url)
    database.open()
    try:
        with database.transaction() as session:
            sharing.share_collection(session, f"{owner}/calendar", user=reader, level="read")
            sharing.share_collection(session, f"{owner}/contacts", user=reader, level="read")
    finally:
        database.close()
    home = _propfind(web_server, reader, f"{reader}/")
    assert f"/dav/{reader}/{owner}-contacts/" in home.text
    assert f"/dav/{reader}/{owner}-calendar/" not in home.text
    assert _propfind(web_server, reader, f"{reader}/{owner}-calendar/").status_code == 403
    reader_id = web_server.user_row(reader).id
    admin.post(f"/web/admin/users/{reader_id}/modules", {"modules": ["calendar"]})
    assert f"/dav/{reader}/{owner}-calendar/" in _propfind(web_server, reader, f"{reader}/").text


@pytest.mark.live
def test_the_create_form_offers_calendar_and_tasks_ticked(
    web_server: WebServer, admin: WebClient
) -> None:
    page_text = admin.get("/web/admin/users").text
    for module in modules.SEAT_MODULES:
        ticked = f'id="f-module-{module}" name="modules" value="{module}" type="checkbox" checked'
        assert (ticked in page_text) == (module in modules.DEFAULT_SEATS), module
    name = unique("seated")
    admin.create_user(name, "dav-seat-password-1", modules=("newsletter", "sms"))
    rows = web_server.query(
        "SELECT module FROM user_modules JOIN users ON users.id = user_modules.user_id "
        "WHERE users.username = :name ORDER BY module",
        name=name,
    )
    assert [row[0] for row in rows] == ["newsletter", "sms"]
    refused = admin.post(
        "/web/admin/users",
        {"username": unique("bad"), "password": "long-enough-1", "modules": ["teleport"]},
    )
    assert refused.status_code == 400
    assert 'id="e-modules"' in refused.text


@pytest.mark.live
def test_the_first_admin_has_every_module(web_server: WebServer) -> None:
    rows = web_server.query(
        "SELECT module FROM user_modules JOIN users ON users.id = user_modules.user_id "
        "WHERE users.username = 'admin'"
    )
    assert {row[0] for row in rows} == set(modules.SEAT_MODULES)
