"""The TOTP second factor on a live server: enrol, log in, recover, switch off.

Codes are computed here from the secret the page shows, with a few lines
of RFC 6238 of the test's own, not with kmdav's module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.web.conftest import WebClient, WebServer, field_error, unique

pytestmark = pytest.mark.live

PASSWORD = "totp-password-1"
CODE_PATH = "/web/login/code"


def code_for(secret: str, step: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def steady_step(margin: float = 6) -> int:
    """The current 30 s step, once at least ``margin`` seconds of it remain
    (so a code computed now is still current when the server checks it)."""
    while (left := 30 - time.time() % 30) < margin:
        time.sleep(left + 0.05)
    return int(time.time() // 30)


@dataclass
class Enrolled:
    client: WebClient
    name: str
    secret: str
    recovery_codes: list[str]
    #: The step whose code switched the factor on (the server refuses it and older ones).
    used_step: int


def _enrol(web_server: WebServer, admin: WebClient) -> Enrolled:
    name = unique("totp")
    admin.create_user(name, PASSWORD)
    client = WebClient(web_server)
    assert client.login(name, PASSWORD).status_code == 303
    assert client.post("/web/account/totp/setup", {}).status_code == 303
    page = client.get("/web/account")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret, page.text
    step = steady_step()
    confirmed = client.post("/web/account/totp/confirm", {"code": code_for(secret[1], step - 1)})
    assert confirmed.status_code == 200, confirmed.text
    codes = re.findall(r"<li><code>([a-z2-9-]{14})</code></li>", confirmed.text)
    assert len(codes) == 10
    return Enrolled(client, name, secret[1], codes, step - 1)


def _password_step(web_server: WebServer, name: str) -> WebClient:
    client = WebClient(web_server)
    response = client.login(name, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == CODE_PATH
    return client


def _audit(web_server: WebServer, action: str, name: str) -> list[tuple[object, ...]]:
    rows = web_server.query(
        "SELECT actor_name, source, object_id, details FROM audit_log "
        "WHERE action = :action AND object_id = :name ORDER BY id",
        action=action,
        name=name,
    )
    # SQLite hands JSON back as text, PostgreSQL as a dict.
    return [(*row[:3], json.loads(row[3]) if isinstance(row[3], str) else row[3]) for row in rows]


def test_enrolment_shows_a_qr_code_and_needs_a_matching_code(
    web_server: WebServer, admin: WebClient
) -> None:
    name = unique("enrol")
    admin.create_user(name, PASSWORD)
    client = WebClient(web_server)
    assert client.login(name, PASSWORD).status_code == 303
    assert "Set up two-factor login" in client.get("/web/account").text
    assert client.post("/web/account/totp/setup", {}).status_code == 303
    page = client.get("/web/account").text
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page)
    assert secret
    assert "<svg" in page
    assert "QR code for your authenticator app" in page
    wrong = client.post("/web/account/totp/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    assert "does not match" in field_error(wrong.text, "code")
    enabled = "SELECT totp_enabled_at FROM users WHERE username = :n"
    assert web_server.query(enabled, n=name)[0][0] is None
    right = client.post("/web/account/totp/confirm", {"code": code_for(secret[1], steady_step())})
    assert right.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9-]{14})</code></li>", right.text)
    assert len(codes) == len(set(codes)) == 10
    assert web_server.query(enabled, n=name)[0][0] is not None
    stored = web_server.query(
        "SELECT code_hash FROM recovery_codes JOIN users ON users.id = user_id WHERE username = :n",
        n=name,
    )
    assert len(stored) == 10
    assert not set(codes) & {row[0] for row in stored}  # hashed, not plain
    again = client.get("/web/account").text
    assert codes[0] not in again  # shown once
    assert 'id="recovery-codes-left">10<' in again
    assert _audit(web_server, "totp.enable", name) == [(name, "web", name, {})]
    # A second set-up would replace the secret of a working factor: refused.
    secret_now = "SELECT totp_secret FROM users WHERE username = :n"
    twice = client.post("/web/account/totp/setup", {})
    assert twice.status_code == 400
    assert "already on" in twice.text
    assert web_server.query(secret_now, n=name)[0][0] == secret[1]
    client.close()


def test_login_asks_for_a_code_and_each_code_works_once(
    web_server: WebServer, admin: WebClient
) -> None:
    enrolled = _enrol(web_server, admin)
    enrolled.client.close()
    client = _password_step(web_server, enrolled.name)
    # The right password alone is no login.
    assert not client.logged_in()
    assert client.get("/web/account").status_code == 303
    assert client.get(CODE_PATH).status_code == 200
    wrong = client.post(CODE_PATH, {"code": "123456"})
    assert wrong.status_code == 400
    assert "wrong or was used" in field_error(wrong.text, "code")
    assert not client.logged_in()
    step = steady_step()
    code = code_for(enrolled.secret, step)
    done = client.post(CODE_PATH, {"code": code})
    assert done.status_code == 303
    assert done.headers["location"] == "/web/"
    assert client.logged_in()
    # The same code, again within its window: refused.
    replay = _password_step(web_server, enrolled.name)
    assert replay.post(CODE_PATH, {"code": code}).status_code == 400
    assert not replay.logged_in()
    # The code of the next step is still fine.
    assert replay.post(CODE_PATH, {"code": code_for(enrolled.secret, step + 1)}).status_code == 303
    assert replay.logged_in()
    logins = _audit(web_server, "web.login", enrolled.name)
    # The first login was before two-factor login was on.
    assert [details for *_, details in logins] == [{}] + [{"second_factor": "totp"}] * 2
    failed = _audit(web_server, "web.login_failed", enrolled.name)
    assert [details for *_, details in failed] == [{"step": "code"}] * 2
    client.close()
    replay.close()


def test_a_recovery_code_logs_in_once_and_new_codes_replace_old_ones(
    web_server: WebServer, admin: WebClient
) -> None:
    enrolled = _enrol(web_server, admin)
    first, second, third = enrolled.recovery_codes[:3]
    client = _password_step(web_server, enrolled.name)
    assert client.post(CODE_PATH, {"code": first.upper().replace("-", " ")}).status_code == 303
    assert client.logged_in()
    assert 'id="recovery-codes-left">9<' in client.get("/web/account").text
    used = _audit(web_server, "web.login_recovery_code", enrolled.name)
    assert [details for *_, details in used] == [
        {"second_factor": "recovery_code", "recovery_codes_left": 9}
    ]
    again = _password_step(web_server, enrolled.name)
    assert again.post(CODE_PATH, {"code": first}).status_code == 400
    assert not again.logged_in()
    assert again.post(CODE_PATH, {"code": second}).status_code == 303

    fresh = client.post("/web/account/recovery-codes", {})
    assert fresh.status_code == 200
    new_codes = re.findall(r"<li><code>([a-z2-9-]{14})</code></li>", fresh.text)
    assert len(new_codes) == 10
    assert len(_audit(web_server, "totp.recovery_codes_regenerated", enrolled.name)) == 1
    old = _password_step(web_server, enrolled.name)
    assert old.post(CODE_PATH, {"code": third}).status_code == 400
    assert old.post(CODE_PATH, {"code": new_codes[0]}).status_code == 303
    for session in (client, again, old, enrolled.client):
        session.close()


def test_devices_are_not_asked_for_a_code(web_server: WebServer, admin: WebClient) -> None:
    enrolled = _enrol(web_server, admin)
    home = f"{web_server.url}/dav/{enrolled.name}/"
    propfind = httpx.request(
        "PROPFIND", home, headers={"Depth": "0"}, auth=(enrolled.name, PASSWORD)
    )
    assert propfind.status_code == 207
    device = enrolled.client.post("/web/devices", {"name": "phone"})
    app_password = device.text.split('data-testid="new-app-password">')[1].split("<")[0]
    with_app_password = httpx.request(
        "PROPFIND", home, headers={"Depth": "0"}, auth=(enrolled.name, app_password)
    )
    assert with_app_password.status_code == 207
    enrolled.client.close()


def test_wrong_codes_count_in_the_login_throttle(web_server: WebServer, admin: WebClient) -> None:
    enrolled = _enrol(web_server, admin)
    client = _password_step(web_server, enrolled.name)
    for _ in range(5):
        assert client.post(CODE_PATH, {"code": "999999"}).status_code == 400
    right = code_for(enrolled.secret, steady_step())
    refused = client.post(CODE_PATH, {"code": right})
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.text
    assert not client.logged_in()
    # Retyping the password buys no fresh guesses.
    retyped = WebClient(web_server)
    assert retyped.login(enrolled.name, PASSWORD).status_code == 429
    retyped.close()
    client.close()
    enrolled.client.close()


def test_a_pending_login_expires(web_server: WebServer, admin: WebClient) -> None:
    enrolled = _enrol(web_server, admin)
    client = _password_step(web_server, enrolled.name)
    secret = (web_server.live.data_dir / "secret_key").read_text().strip()
    signer = URLSafeTimedSerializer(secret, salt="kmdav.web.session")
    state = signer.loads(client.http.cookies["kmdav_session"])
    state["pending"][2] -= 301  # the password was checked over five minutes ago
    client.http.cookies.set("kmdav_session", signer.dumps(state), path="/web")
    code = code_for(enrolled.secret, steady_step())
    expired = client.post(CODE_PATH, {"code": code})
    assert expired.status_code == 303
    assert expired.headers["location"] == "/web/login?notice=expired"
    assert not client.logged_in()
    assert "took too long" in client.get(expired.headers["location"]).text
    assert client.get(CODE_PATH).headers["location"] == "/web/login"
    client.close()
    enrolled.client.close()


def test_switching_it_on_ends_the_other_sessions(web_server: WebServer, admin: WebClient) -> None:
    """A session opened with the password alone does not outlive the switch;
    the browser that switched it on stays logged in."""
    name = unique("totp")
    admin.create_user(name, PASSWORD)
    other = WebClient(web_server)
    assert other.login(name, PASSWORD).status_code == 303
    enrolling = WebClient(web_server)
    assert enrolling.login(name, PASSWORD).status_code == 303
    assert enrolling.post("/web/account/totp/setup", {}).status_code == 303
    secret = re.search(
        r'data-testid="totp-secret">([A-Z2-7]+)<', enrolling.get("/web/account").text
    )
    assert secret
    assert other.logged_in()  # setting up alone changes nothing yet
    confirmed = enrolling.post(
        "/web/account/totp/confirm", {"code": code_for(secret[1], steady_step())}
    )
    assert confirmed.status_code == 200
    assert enrolling.logged_in()
    assert not other.logged_in()
    # The recovery codes page's forms carry the new session's token.
    assert enrolling.post("/web/account/recovery-codes", {}).status_code == 200
    other.close()
    enrolling.close()


def test_switching_off_needs_the_password_and_a_code(
    web_server: WebServer, admin: WebClient
) -> None:
    enrolled = _enrol(web_server, admin)
    off = "/web/account/totp/disable"
    step = steady_step()
    code = code_for(enrolled.secret, step)
    wrong_password = enrolled.client.post(off, {"off_password": "nope-nope-1", "off_code": code})
    assert "password is wrong" in field_error(wrong_password.text, "off_password")
    wrong_code = enrolled.client.post(off, {"off_password": PASSWORD, "off_code": "111111"})
    assert "does not match" in field_error(wrong_code.text, "off_code")
    done = enrolled.client.post(off, {"off_password": PASSWORD, "off_code": code})
    assert done.status_code == 303
    assert enrolled.client.logged_in()  # this browser stays; other sessions end
    row = web_server.query(
        "SELECT totp_secret, totp_enabled_at FROM users WHERE username = :n", n=enrolled.name
    )
    assert tuple(row[0]) == (None, None)
    assert len(_audit(web_server, "totp.disable", enrolled.name)) == 1
    plain = WebClient(web_server)
    assert plain.login(enrolled.name, PASSWORD).headers["location"] == "/web/"
    plain.close()
    enrolled.client.close()


def test_an_admin_switches_off_a_lost_phone(web_server: WebServer, admin: WebClient) -> None:
    enrolled = _enrol(web_server, admin)
    user_id = web_server.user_row(enrolled.name).id
    listing = admin.get("/web/admin/users").text
    assert f"/web/admin/users/{user_id}/totp/reset" in listing
    reset = admin.post(f"/web/admin/users/{user_id}/totp/reset", {})
    assert reset.headers["location"] == "/web/admin/users?notice=totp-reset"
    assert "Two-factor login is off" in admin.get(reset.headers["location"]).text
    assert _audit(web_server, "totp.reset", enrolled.name) == [("admin", "web", enrolled.name, {})]
    count = "SELECT count(*) FROM recovery_codes WHERE user_id = :id"
    assert web_server.query(count, id=user_id)[0][0] == 0
    client = WebClient(web_server)
    assert client.login(enrolled.name, PASSWORD).headers["location"] == "/web/"
    client.close()
    enrolled.client.close()
