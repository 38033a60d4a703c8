"""``caldav-server-tester`` against kmdav and stock Radicale 3.9.0 in one run.

The tester probes ~100 CalDAV features and rates each (full, unsupported,
broken, ...).  kmdav must break nothing, match stock Radicale on everything
Radicale does fully, and also do fully what Radicale does not: DAV:limit on
sync-collection, /.well-known/caldav, principal search, RFC 6638 scheduling
(with a second kmdav user for the tester's cross-user probes: inbox
delivery, automatic scheduling, free-busy) and expanded recurring tasks.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.conftest import ADMIN
from tests.live import LiveServer, free_port, run_cli, running_process

pytestmark = [pytest.mark.live, pytest.mark.slow]

TESTER = str(Path(sys.executable).with_name("caldav-server-tester"))
#: The tester skips the well-known check for the host names localhost,
#: 127.0.0.1 and ::1.  127.1 is the same loopback address (inet_aton's short
#: form), spelled so that the check runs; nothing leaves 127.0.0.1.
LOOPBACK = "127.1"
MUST_BE_FULL = (
    "sync-token.limit",
    "sync-token.limit.initial-sync",
    "well-known",
    "principal-search",
    "principal-search.by-name.self",
    "principal-search.list-all",
    "scheduling",
    "scheduling.mailbox",
    "scheduling.calendar-user-address-set",
    "scheduling.calendar-user-address-set.populated",
    "scheduling.mailbox.inbox-delivery",
    "scheduling.auto-schedule",
    "scheduling.freebusy-query",
    "scheduling.schedule-tag",
    "scheduling.schedule-tag.stable-partstat",
    "search.recurrences.expanded.todo",
)
#: The second account the tester invites and asks for free-busy.
ATTENDEE = ("bobby", "bobby-password-1", "bobby@example.org")
FEATURE = re.compile(r"^## (\S+)\s*$")
LEVEL = re.compile(r"^Feature support level found: (\S+)")


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Stock Radicale 3.9.0 on its own filesystem storage; yields its URL."""
    root = tmp_path_factory.mktemp("radicale")
    (root / "users").write_text(f"{ADMIN[0]}:{ADMIN[1]}\n")
    port = free_port()
    (root / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {root / 'users'}\n"
        "htpasswd_encryption = plain\ndelay = 0\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    with running_process(
        [sys.executable, "-m", "radicale", "--config", str(root / "config")],
        log_path=root / "radicale.log",
        ready_url=f"http://127.0.0.1:{port}/",
        timeout=30,
    ):
        yield f"http://127.0.0.1:{port}/"


def parse_features(output: str) -> dict[str, str]:
    """Feature name -> support level from ``--verbose`` text output."""
    features: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        if match := FEATURE.match(line):
            current = match.group(1)
        elif current and (match := LEVEL.match(line)):
            features[current] = match.group(1)
            current = None
    return features


def attendee_config(server: LiveServer, directory: Path) -> Path:
    """A second kmdav user, as a caldav client configuration section."""
    name, password, email = ATTENDEE
    run_cli(
        "user", "add", name, "--password", password, "--email", email,
        "--data-dir", str(server.data_dir), env=server.env,
    )  # fmt: skip
    config = directory / "caldav.json"
    section = {
        "caldav_url": server.dav.replace("127.0.0.1", LOOPBACK, 1),
        "caldav_username": name,
        "caldav_password": password,
    }
    config.write_text(json.dumps({name: section}))
    return config


def start_tester(url: str, extra_user: Path | None = None) -> subprocess.Popen[str]:
    extra = ["--config-section", ATTENDEE[0]] if extra_user is not None else []
    env = {**os.environ, "CALDAV_CONFIG_FILE": str(extra_user)} if extra_user else None
    return subprocess.Popen(
        [
            TESTER,
            "--verbose",
            "--caldav-url",
            url.replace("127.0.0.1", LOOPBACK, 1),
            "--caldav-username",
            ADMIN[0],
            "--caldav-password",
            ADMIN[1],
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, str]:
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("caldav-server-tester ran for more than 5 minutes") from None
    assert process.returncode == 0, stderr
    features = parse_features(stdout)
    assert len(features) > 80, stdout[-2000:] + stderr[-2000:]
    return features


def test_kmdav_does_at_least_what_stock_radicale_does(
    kmdav_server: LiveServer, radicale: str, tmp_path: Path
) -> None:
    # Both run at once: each takes ~10 s of mostly waiting on its server.
    extra_user = attendee_config(kmdav_server, tmp_path)
    ours, theirs = start_tester(kmdav_server.dav, extra_user), start_tester(radicale)
    kmdav, stock = finish(ours), finish(theirs)
    summary = (
        f"kmdav: {dict(collections.Counter(kmdav.values()))}, "
        f"radicale: {dict(collections.Counter(stock.values()))}"
    )

    bad = {name: level for name, level in kmdav.items() if level in ("broken", "ungraceful")}
    assert bad == {}, summary

    behind = {
        name: kmdav.get(name)
        for name, level in stock.items()
        if level == "full" and kmdav.get(name) != "full"
    }
    assert behind == {}, summary
    full = collections.Counter(kmdav.values())["full"]
    assert full >= collections.Counter(stock.values())["full"], summary

    assert {name: kmdav.get(name) for name in MUST_BE_FULL} == dict.fromkeys(
        MUST_BE_FULL, "full"
    ), summary
