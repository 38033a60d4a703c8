"""How fast are the web calendar's week view and a CalDAV time-range query
over a big calendar?

Fills the admin's calendar of a fresh kmdav with N events (a fifth of them
weekly series of 20, every fourth series with a moved occurrence and an
EXDATE; the events of ``ics_feed.py``, spread over two years from
2027-01-01), through the one write path with the time range a CalDAV PUT
would store; starts ``kmdav serve`` and measures over HTTP:

- the week view ``GET /web/calendar?view=week&date=D`` for 40 different
  weeks, logged in as the admin (p50/p95, and how many occurrences a week
  shows);
- a CalDAV ``calendar-query`` REPORT with a one-week time range on VEVENT,
  asking ``getetag`` (what a syncing phone asks first) and ``getetag`` +
  ``calendar-data`` (p50/p95 over the same weeks);
- the same REPORTs against stock Radicale 3.9 (multifilesystem, the same
  bodies written into its folder before it starts; measured after one
  warm-up query, which builds Radicale's item cache).

    .venv/bin/python benchmarks/calendar_views.py                   # N=10000, SQLite
    .venv/bin/python benchmarks/calendar_views.py --n 1000 --no-radicale
    .venv/bin/python benchmarks/calendar_views.py --pg-url postgresql://127.0.0.1:5432/test

Prints figures, asserts nothing about speed.  Run by hand; every server it
starts is stopped at the end (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import kmdav.storage  # noqa: F401  (registers the time-range recorder, as `kmdav serve` does)

# Sibling benchmarks' helpers (this directory is on sys.path when run as a script).
from dav_sync import free_port, throwaway_postgres
from ics_feed import make_event

from kmdav.calendar import service as calendars
from kmdav.dav import repository, service
from kmdav.db import Database

PASSWORD = "bench-password-1"
FIRST_WEEK = date(2027, 1, 4)  # a Monday in the filled range
WEEKS = 40
CALDAV = "urn:ietf:params:xml:ns:caldav"
RESPONSE = re.compile(r"<(?:\w+:)?response[\s>]")


def fill(database_url: str, n: int) -> float:
    database = Database(database_url)
    database.open()
    try:
        started = time.perf_counter()
        with database.transaction() as session:
            calendar = repository.get_collection(session, "admin/calendar")
            assert calendar is not None
            for index in range(n):
                href, rough = make_event(index)
                # the exact time range a CalDAV PUT stores (Radicale's rules)
                service.store_item(session, calendar, href, calendars.dav_object(rough.text))
        return time.perf_counter() - started
    finally:
        database.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(call: Callable[[], httpx.Response], status: int) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == status, (response.status_code, response.text[:300])
    return elapsed, response


def weeks() -> list[date]:
    return [FIRST_WEEK + timedelta(days=7 * (i * 2)) for i in range(WEEKS)]


def query_body(week: date, with_data: bool) -> str:
    start = week.strftime("%Y%m%dT000000Z")
    end = (week + timedelta(days=7)).strftime("%Y%m%dT000000Z")
    data = "<C:calendar-data/>" if with_data else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
        f'xmlns:C="{CALDAV}"><D:prop><D:getetag/>{data}</D:prop><C:filter>'
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
        "</C:filter></C:calendar-query>"
    )


def report_ms(client: httpx.Client, url: str, with_data: bool) -> tuple[float, float, float]:
    """(p50, p95, mean responses) of the week queries."""
    samples, counts = [], []
    headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
    for week in weeks():
        body = query_body(week, with_data)
        elapsed, response = timed(
            lambda body=body: client.request("REPORT", url, content=body, headers=headers), 207
        )
        samples.append(elapsed)
        counts.append(len(RESPONSE.findall(response.text)))
    p50, p95 = percentiles(samples)
    return p50, p95, statistics.mean(counts)


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=out, start_new_session=True)
        try:
            yield
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(url: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"no answer from {url}")


def log_in(client: httpx.Client) -> None:
    page = client.get("/web/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    answer = client.post(
        "/web/login", data={"csrf_token": token.group(1), "login": "admin", "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text[:300]


def run_kmdav(database_url: str, n: int, label: str) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        data = Path(workdir) / "data"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KMDAV_")},
            "KMDAV_DATABASE_URL": database_url,
            "KMDAV_LOG_LEVEL": "WARNING",
        }
        kmdav = [sys.executable, "-m", "kmdav.cli"]
        subprocess.run(
            [*kmdav, "init", "--data-dir", str(data), "--admin-password", PASSWORD],
            env=env,
            check=True,
            capture_output=True,
        )
        fill_seconds = fill(database_url, n)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [*kmdav, "serve", "--data-dir", str(data), "--port", str(port)]
        with process(serve, env, Path(workdir) / "server.log"):
            wait_for(base + "/healthz")
            with httpx.Client(base_url=base, timeout=120) as web:
                log_in(web)
                web.get(f"/web/calendar?view=week&date={FIRST_WEEK}")  # warm-up
                samples, shown = [], []
                for week in weeks():
                    elapsed, page = timed(
                        lambda week=week: web.get(f"/web/calendar?view=week&date={week}"), 200
                    )
                    samples.append(elapsed)
                    shown.append(page.text.count('class="cal-entry'))
            week_p50, week_p95 = percentiles(samples)
            dav_url = f"{base}/dav/admin/calendar/"
            with httpx.Client(auth=("admin", PASSWORD), timeout=120) as dav:
                dav.request(
                    "REPORT",
                    dav_url,
                    content=query_body(FIRST_WEEK, False),
                    headers={"Depth": "1", "Content-Type": "application/xml"},
                )
                etags = report_ms(dav, dav_url, False)
                bodies = report_ms(dav, dav_url, True)
                again = report_ms(dav, dav_url, False)
    print(f"kmdav {label}: {n} events ({n // 5} weekly series), filled in {fill_seconds:.1f} s")
    print(
        f"  week view (HTTP GET, {WEEKS} weeks)       p50 {week_p50:7.1f} ms   "
        f"p95 {week_p95:7.1f} ms   ({statistics.mean(shown):.0f} occurrences a week)"
    )
    print_reports(etags, bodies, again)


def print_reports(
    etags: tuple[float, float, float],
    bodies: tuple[float, float, float],
    again: tuple[float, float, float],
) -> None:
    print(
        f"  calendar-query week, getetag          p50 {etags[0]:7.1f} ms   "
        f"p95 {etags[1]:7.1f} ms   ({etags[2]:.0f} objects)"
    )
    print(
        f"  calendar-query week, + calendar-data  p50 {bodies[0]:7.1f} ms   p95 {bodies[1]:7.1f} ms"
    )
    print(
        f"  calendar-query week, getetag again    p50 {again[0]:7.1f} ms   p95 {again[1]:7.1f} ms"
    )


def run_radicale(n: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        folder = root / "collections" / "collection-root" / "admin" / "calendar"
        folder.mkdir(parents=True)
        (folder / ".Radicale.props").write_text(
            json.dumps({"tag": "VCALENDAR", "C:supported-calendar-component-set": "VEVENT"}),
            encoding="utf-8",
        )
        for index in range(n):
            href, obj = make_event(index)
            (folder / href).write_text(obj.text, encoding="utf-8", newline="")
        users = root / "users"
        users.write_text(f"admin:{PASSWORD}\n", encoding="utf-8")
        port = free_port()
        config = root / "radicale.conf"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n"
            f"htpasswd_filename = {users}\nhtpasswd_encryption = plain\n"
            f"[storage]\ntype = multifilesystem\nfilesystem_folder = {root / 'collections'}\n"
            "[logging]\nlevel = warning\n",
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "radicale", "--config", str(config)]
        base = f"http://127.0.0.1:{port}"
        with process(command, {**os.environ}, root / "radicale.log"):
            wait_for(base + "/")
            url = f"{base}/admin/calendar/"
            with httpx.Client(auth=("admin", PASSWORD), timeout=600) as dav:
                started = time.perf_counter()
                dav.request(
                    "REPORT",
                    url,
                    content=query_body(FIRST_WEEK, False),
                    headers={"Depth": "1", "Content-Type": "application/xml"},
                )
                warm = time.perf_counter() - started
                etags = report_ms(dav, url, False)
                bodies = report_ms(dav, url, True)
                again = report_ms(dav, url, False)
    print(
        f"Radicale 3.9 (multifilesystem): {n} events, first query {warm:.1f} s (builds its cache)"
    )
    print_reports(etags, bodies, again)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--pg-url", default=os.environ.get("KMDAV_BENCH_DATABASE_URL"))
    parser.add_argument("--no-radicale", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        run_kmdav(f"sqlite:///{workdir}/bench.sqlite3", args.n, "SQLite")
    if args.pg_url:
        with throwaway_postgres(args.pg_url) as url:
            run_kmdav(url, args.n, "PostgreSQL")
    if not args.no_radicale:
        run_radicale(args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
