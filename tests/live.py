"""A real kmdav server on 127.0.0.1, started the way operators start it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KMDAV = [sys.executable, "-m", "kmdav.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*KMDAV, *args],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kmdav {' '.join(args)} failed: {result.stderr}")
    return result


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def dav(self) -> str:
        return self.url + "/dav/"


@contextmanager
def live_server(
    data_dir: Path,
    database_url: str,
    *,
    workers: int = 1,
    admin_password: str = "admin-password-1",
    init: bool = True,
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """``kmdav init`` then ``kmdav serve`` on a free port; stopped afterwards.

    ``init=False`` skips ``kmdav init``: for a second server on a database
    another one already set up (the caller prepares ``data_dir``, e.g. with
    the first server's ``secret_key``).  ``extra_env`` adds settings
    (``KMDAV_MAIL__HOST``, ...).
    """
    env = {"KMDAV_LOG_LEVEL": "WARNING", "KMDAV_DATABASE_URL": database_url, **(extra_env or {})}
    if init:
        run_cli("init", "--data-dir", str(data_dir), "--admin-password", admin_password, env=env)
    port = free_port()
    command = [*KMDAV, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running_process(
        [*command, "--workers", str(workers)],
        log_path=data_dir / "server.log",
        ready_url=url + "/healthz",
        env={**os.environ, **env},
    ) as process:
        yield LiveServer(url=url, data_dir=data_dir, env=env, process=process)


@contextmanager
def running_process(
    command: list[str],
    *,
    log_path: Path,
    ready_url: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until ``ready_url`` answers (any HTTP
    status below 500), stop it afterwards; its output goes to ``log_path``."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise AssertionError("server exited: " + log_path.read_text(errors="replace"))
                try:
                    if httpx.get(ready_url, timeout=2).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"server did not come up within {timeout:.0f} s")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
