"""The e-mail reminder switch on /web/account (live server, real form posts)."""

from __future__ import annotations

import pytest

from tests.web.conftest import WebClient, WebServer

pytestmark = pytest.mark.live


def _wants_mail(server: WebServer, name: str) -> bool:
    rows = server.query("SELECT email_reminders FROM users WHERE username = :n", n=name)
    return bool(rows[0][0])


def test_the_switch_turns_e_mail_reminders_on_and_off(
    web_server: WebServer, user: tuple[WebClient, str, str]
) -> None:
    client, name, _ = user
    page = client.get("/web/account")
    assert "E-mail reminders" in page.text
    assert 'name="email_reminders"' in page.text

    on = client.post("/web/account/reminders", {"email_reminders": "on"})
    assert on.status_code == 303
    assert on.headers["location"] == "/web/account?notice=reminders-on"
    assert _wants_mail(web_server, name)
    assert "E-mail reminders are on." in client.get(on.headers["location"]).text

    off = client.post("/web/account/reminders", {})
    assert off.status_code == 303
    assert not _wants_mail(web_server, name)
    audit = web_server.query(
        "SELECT count(*) FROM audit_log WHERE action = 'user.email_reminders' AND object_id = :n",
        n=name,
    )
    assert audit[0][0] == 2
