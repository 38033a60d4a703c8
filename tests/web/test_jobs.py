"""The job pages and the mail admin page on a live server with a real SMTP server."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import throwaway_database
from tests.live import free_port, live_server
from tests.smtp import SmtpServer, smtp_server
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture(scope="module")
def web_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[WebServer]:
    """The web face with ``[mail]`` pointing at the test SMTP server."""
    workdir = tmp_path_factory.mktemp("kmdav-jobs")
    mail = {
        "KMDAV_MAIL__HOST": "127.0.0.1",
        "KMDAV_MAIL__PORT": str(smtp.port),
        "KMDAV_MAIL__SECURITY": "none",
        "KMDAV_MAIL__FROM_ADDRESS": "kmdav <crm@example.com>",
        "KMDAV_MAIL__USERNAME": "",
        "KMDAV_MAIL__PASSWORD": "not-shown-anywhere",
        "KMDAV_MAIL__TIMEOUT": "5",
    }
    with _server_with(backend, workdir, mail) as server:
        yield server


@contextmanager
def _server_with(backend: str, workdir: Path, env: dict[str, str]) -> Iterator[WebServer]:
    with (
        throwaway_database(backend, workdir) as url,
        live_server(workdir / "data", url, extra_env=env) as live,
    ):
        yield WebServer(live, url)


def _send_test_mail(admin: WebClient, to: str, send_id: str | None = None) -> httpx.Response:
    page = admin.get("/web/admin/mail")
    assert page.status_code == 200
    form_id = send_id or re.search(r'name="send_id" value="([^"]+)"', page.text)
    if not isinstance(form_id, str):
        assert form_id is not None
        form_id = form_id.group(1)
    return admin.post("/web/admin/mail/test", {"to": to, "send_id": form_id})


def _job_id(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/web/jobs/(\d+)/view", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def _wait(client: WebClient, job_id: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/web/jobs/{job_id}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        state: dict[str, Any] = response.json()
        if state["finished"]:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def test_mail_page_shows_settings_but_no_password(admin: WebClient, smtp: SmtpServer) -> None:
    page = admin.get("/web/admin/mail")
    assert page.status_code == 200
    assert f"127.0.0.1:{smtp.port}" in page.text
    assert "kmdav &lt;crm@example.com&gt;" in page.text
    assert "not-shown-anywhere" not in page.text
    assert 'href="/web/admin/mail"' in page.text  # in the admin navigation


def test_mail_page_is_for_admins_only(user: tuple[WebClient, str, str]) -> None:
    client, _, _ = user
    assert client.get("/web/admin/mail").status_code == 403
    refused = client.post(
        "/web/admin/mail/test", {"to": "x@example.org", "send_id": secrets.token_urlsafe(16)}
    )
    assert refused.status_code == 403


def test_test_mail_is_sent_once(admin: WebClient, smtp: SmtpServer) -> None:
    to = f"{unique('ops')}@example.org"
    send_id = secrets.token_urlsafe(16)
    job_id = _job_id(_send_test_mail(admin, to, send_id))
    state = _wait(admin, job_id)
    assert state["status"] == "done", state
    assert (state["done"], state["total"], state["percent"]) == (1, 1, 100)
    # The same form sent again (a double click, a retried request): same job.
    assert _job_id(_send_test_mail(admin, to, send_id)) == job_id
    time.sleep(0.5)
    received = [r for r in smtp.received if r.rcpt_tos == [to]]
    assert len(received) == 1
    message = received[0].message
    assert message["Subject"] == "kmdav test e-mail \N{EN DASH} it works"
    assert "sent by admin" in message.get_content()
    page = admin.get(f"/web/jobs/{job_id}/view")
    assert page.status_code == 200
    assert '<progress id="job-' in page.text
    assert 'value="100"' in page.text
    assert f"Sent to {to}." in page.text


def test_refused_recipient_shows_the_smtp_error(admin: WebClient) -> None:
    job_id = _job_id(_send_test_mail(admin, "refused-here@example.org"))
    state = _wait(admin, job_id)
    assert state["status"] == "failed"
    assert "550" in state["error"]
    page = admin.get(f"/web/jobs/{job_id}/view")
    assert "refused the recipient refused-here@example.org: 550" in page.text


def test_invalid_recipient_is_refused_and_queues_nothing(
    admin: WebClient, web_server: WebServer
) -> None:
    before = web_server.query("SELECT count(*) FROM jobs")[0][0]
    response = _send_test_mail(admin, "not an address")
    assert response.status_code == 400
    assert "is not an e-mail address" in response.text
    assert web_server.query("SELECT count(*) FROM jobs")[0][0] == before


def test_jobs_are_private(
    admin: WebClient, user: tuple[WebClient, str, str], anonymous: WebClient
) -> None:
    job_id = _job_id(_send_test_mail(admin, f"{unique('p')}@example.org"))
    client, _, _ = user
    assert client.get(f"/web/jobs/{job_id}").status_code == 404
    assert client.get(f"/web/jobs/{job_id}/view").status_code == 404
    assert client.post(f"/web/jobs/{job_id}/cancel", {}).status_code == 404
    assert client.get("/web/jobs/999999").status_code == 404
    login = anonymous.get(f"/web/jobs/{job_id}")
    assert login.status_code == 303
    assert login.headers["location"].startswith("/web/login")


def test_cancel_needs_the_csrf_token(admin: WebClient) -> None:
    job_id = _job_id(_send_test_mail(admin, f"{unique('c')}@example.org"))
    refused = admin.post(f"/web/jobs/{job_id}/cancel", {}, csrf=False)
    assert refused.status_code == 403


@pytest.fixture(scope="module")
def dead_mail_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A server whose mail host refuses connections: mail jobs wait for retries."""
    workdir = tmp_path_factory.mktemp("kmdav-deadmail")
    mail = {
        "KMDAV_MAIL__HOST": "127.0.0.1",
        "KMDAV_MAIL__PORT": str(free_port()),
        "KMDAV_MAIL__SECURITY": "none",
        "KMDAV_MAIL__FROM_ADDRESS": "crm@example.com",
    }
    with _server_with(backend, workdir, mail) as server:
        yield server


def test_cancel_a_job_waiting_for_its_retry(dead_mail_server: WebServer) -> None:
    admin = WebClient(dead_mail_server)
    try:
        assert admin.login("admin", "admin-password-1").status_code == 303
        job_id = _job_id(_send_test_mail(admin, "someone@example.org"))
        deadline = time.monotonic() + 30
        while True:
            state = admin.get(f"/web/jobs/{job_id}").json()
            if state["attempts"] >= 1 and state["status"] == "queued":
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert "cannot connect to the mail server" in state["error"]
        cancelled = admin.post(f"/web/jobs/{job_id}/cancel", {})
        assert cancelled.status_code == 303
        state = admin.get(f"/web/jobs/{job_id}").json()
        assert state["status"] == "cancelled"
        page = admin.get(f"/web/jobs/{job_id}/view")
        assert "Cancel</button>" not in page.text
        again = admin.post(f"/web/jobs/{job_id}/cancel", {})
        assert again.status_code == 400
        assert "already ended" in again.text
    finally:
        admin.close()
