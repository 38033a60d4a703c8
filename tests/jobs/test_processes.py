"""Jobs across real processes: a restart, several workers, ``kmdav worker``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import throwaway_database
from tests.live import KMDAV, LiveServer, live_server
from tests.smtp import SmtpServer, smtp_server
from tests.web.conftest import ADMIN, WebClient, WebServer

pytestmark = [pytest.mark.live, pytest.mark.slow]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path) as server:
        yield server


def _mail_env(smtp: SmtpServer, *, in_server: bool) -> dict[str, str]:
    return {
        "KMDAV_MAIL__HOST": "127.0.0.1",
        "KMDAV_MAIL__PORT": str(smtp.port),
        "KMDAV_MAIL__SECURITY": "none",
        "KMDAV_MAIL__FROM_ADDRESS": "crm@example.com",
        "KMDAV_JOBS__RUN_IN_SERVER": "true" if in_server else "false",
    }


def _queue_test_mail(live: LiveServer, url: str, to: str) -> int:
    admin = WebClient(WebServer(live, url))
    try:
        assert admin.login(*ADMIN).status_code == 303
        page = admin.get("/web/admin/mail").text
        match = re.search(r'name="send_id" value="([^"]+)"', page)
        assert match
        sent = admin.post("/web/admin/mail/test", {"to": to, "send_id": match.group(1)})
        assert sent.status_code == 303, sent.text
        return int(sent.headers["location"].split("/")[3])
    finally:
        admin.close()


def _status(server: WebServer, job_id: int) -> str:
    return str(server.query("SELECT status FROM jobs WHERE id = :id", id=job_id)[0][0])


def _wait_done(server: WebServer, job_id: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _status(server, job_id) != "done":
        assert time.monotonic() < deadline, _status(server, job_id)
        time.sleep(0.2)


def test_a_queued_job_survives_a_killed_server(
    tmp_path: Path, backend: str, smtp: SmtpServer
) -> None:
    """Enqueue, kill the server (SIGKILL) before the job runs, start again:
    the job runs, once -- also with several workers serving."""
    data = tmp_path / "data"
    with throwaway_database(backend, tmp_path) as url:
        with live_server(data, url, extra_env=_mail_env(smtp, in_server=False)) as live:
            job_id = _queue_test_mail(live, url, "restart@example.org")
            server = WebServer(live, url)
            time.sleep(1)
            assert _status(server, job_id) == "queued"
            live.process.kill()
            live.process.wait()
        assert smtp.received == []
        with live_server(
            data, url, init=False, workers=2, extra_env=_mail_env(smtp, in_server=True)
        ) as live:
            server = WebServer(live, url)
            _wait_done(server, job_id)
            time.sleep(1.5)  # room for a second (wrong) delivery
            attempts = server.query("SELECT attempts FROM jobs WHERE id = :id", id=job_id)
    assert [r.rcpt_tos for r in smtp.received] == [["restart@example.org"]]
    assert attempts[0][0] == 1


def test_kmdav_worker_runs_the_jobs(tmp_path: Path, backend: str, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    env = _mail_env(smtp, in_server=False)
    with (
        throwaway_database(backend, tmp_path) as url,
        live_server(data, url, extra_env=env) as live,
    ):
        job_id = _queue_test_mail(live, url, "worker@example.org")
        with open(tmp_path / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [*KMDAV, "worker", "--data-dir", str(data)],
                env={**os.environ, **live.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_done(WebServer(live, url), job_id)
            finally:
                worker.send_signal(signal.SIGTERM)
                code = worker.wait(timeout=30)
    assert code == 0, (tmp_path / "worker.log").read_text()
    assert [r.rcpt_tos for r in smtp.received] == [["worker@example.org"]]
