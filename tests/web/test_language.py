"""German and English on a live server: the switcher, Accept-Language,
``users.locale``, translated form errors."""

from __future__ import annotations

import pytest

from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live


def test_visitor_switches_the_login_page_to_german(anonymous: WebClient) -> None:
    page = anonymous.get("/web/login", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in page.text
    assert ">Log in</button>" in page.text

    switched = anonymous.post("/web/language", {"language": "de", "next": "/web/login"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/web/login"
    assert anonymous.http.cookies.get("kmdav_lang") == "de"

    page = anonymous.get("/web/login", headers={"Accept-Language": "en"})
    assert '<html lang="de">' in page.text
    assert "<h1>Anmelden</h1>" in page.text
    assert ">Benutzername oder E-Mail</label>" in page.text
    assert '<option value="de" lang="de" selected>Deutsch</option>' in page.text

    refused = anonymous.post("/web/login", {"login": "", "password": ""})
    assert refused.status_code == 400
    assert "Geben Sie Ihr Passwort ein." in refused.text

    back = anonymous.post("/web/language", {"language": "en", "next": "/web/login"})
    assert back.status_code == 303
    assert "<h1>Log in</h1>" in anonymous.get("/web/login").text


def test_browser_language_decides_without_a_choice(anonymous: WebClient) -> None:
    german = anonymous.get("/web/login", headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in german.text
    french = anonymous.get("/web/login", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in french.text
    root = anonymous.get("/", headers={"Accept-Language": "de"})
    assert "Dieser Server synchronisiert Kontakte" in root.text
    assert "Accept-Language" in root.headers["vary"]


def test_switcher_checks_csrf_and_the_language(anonymous: WebClient) -> None:
    missing = anonymous.post("/web/language", {"language": "de"}, csrf=False)
    assert missing.status_code == 403
    assert "kmdav_lang" not in anonymous.http.cookies
    unknown = anonymous.post("/web/language", {"language": "xx"})
    assert unknown.status_code == 400
    assert "kmdav_lang" not in anonymous.http.cookies
    # Only pages of the web face are a place to go back to.
    outside = anonymous.post("/web/language", {"language": "en", "next": "https://evil.example/"})
    assert outside.headers["location"] == "/web/"


def test_user_choice_is_stored_and_survives_logging_in_again(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, password = user
    assert "<h1>Hello," in client.get("/web/").text
    switched = client.post("/web/language", {"language": "de", "next": "/web/devices"})
    assert switched.headers["location"] == "/web/devices"
    devices = client.get("/web/devices")
    assert "<h1>Geräte</h1>" in devices.text
    assert ">Abmelden</button>" in devices.text
    assert web_server.query("SELECT locale FROM users WHERE username = :n", n=name)[0][0] == "de"
    audit = web_server.query(
        "SELECT action, source FROM audit_log WHERE object_id = :n AND action = 'user.locale'",
        n=name,
    )
    assert [tuple(row) for row in audit] == [("user.locale", "web")]

    # A translated domain error, rendered next to its field.
    refused = client.post("/web/devices", {"name": ""})
    assert refused.status_code == 400
    assert "Benennen Sie das Gerät mit 1 bis 100 Zeichen" in refused.text

    # Another browser, asking for English, logs in: the stored choice wins.
    elsewhere = WebClient(web_server)
    try:
        elsewhere.http.headers["Accept-Language"] = "en"
        assert elsewhere.login(name, password).status_code == 303
        dashboard = elsewhere.get("/web/")
        assert '<html lang="de">' in dashboard.text
        assert "<h1>Hallo," in dashboard.text
        # ... and its login page stays German after logging out.
        elsewhere.post("/web/logout", {})
        assert "<h1>Anmelden</h1>" in elsewhere.get("/web/login").text
    finally:
        elsewhere.close()


def test_german_error_pages(user: tuple[WebClient, str, str]) -> None:
    client, _, _ = user
    client.post("/web/language", {"language": "de"})
    forbidden = client.get("/web/admin/users")
    assert forbidden.status_code == 403
    assert "Das dürfen nur Administratoren." in forbidden.text
    missing = client.post("/web/devices/999999/revoke", {})
    assert missing.status_code == 404
    assert "Dieses App-Passwort gibt es nicht" in missing.text


def test_admin_pages_in_german(web_server: WebServer, admin: WebClient) -> None:
    name, password = unique("chefin"), "admin-password-1"
    admin.create_user(name, password, is_admin="on")
    client = WebClient(web_server)
    try:
        assert client.login(name, password).status_code == 303
        client.post("/web/language", {"language": "de"})

        users = client.get("/web/admin/users")
        assert "<h1>Benutzer</h1>" in users.text
        assert ">Benutzer anlegen</button>" in users.text
        assert "<legend>Lizenzplätze (Kontakte sind die Grundlage" in users.text
        assert f'aria-label="{name} deaktivieren"' in users.text
        assert ">Kalender</label>" in users.text  # a module label

        created = client.post(
            "/web/admin/users", {"username": unique("neu"), "password": "new-password-1"}
        )
        assert created.headers["location"] == "/web/admin/users?notice=created"
        assert "Der Benutzer wurde angelegt." in client.get(created.headers["location"]).text

        licence = client.get("/web/admin/licence")
        assert "<h1>Lizenz</h1>" in licence.text
        assert "Monatliche Kosten" in licence.text
        assert "Preis pro Lizenzplatz" in licence.text
        assert "15,00\xa0€" in licence.text  # the base price, written the German way

        groups = client.get("/web/admin/groups")
        assert ">Gruppe anlegen</button>" in groups.text

        # A domain error with a value, in German with the value kept.
        refused = client.post("/web/admin/mail/test", {"send_id": "x" * 20, "to": "no-at-sign"})
        assert refused.status_code == 400
        assert "&#39;no-at-sign&#39; ist keine E-Mail-Adresse." in refused.text
    finally:
        client.close()
