"""How fast is a subscription feed (``/ics/<token>.ics``) of a big calendar?

Fills the admin's calendar of a fresh kmdav with N events (a fifth of them
weekly series, every fourth series with a moved occurrence and an EXDATE,
every timed event with its Europe/Vienna VTIMEZONE), makes a feed link,
starts ``kmdav serve`` and measures over HTTP:

- the full feed (GET, median of 5): time, size, and that every event is in it,
  plain and gzip-coded;
- a poll that finds nothing new (GET with ``If-None-Match``: 304, median of 50);
- HEAD (median of 20).

    .venv/bin/python benchmarks/ics_feed.py                      # N=10000, SQLite
    .venv/bin/python benchmarks/ics_feed.py --n 1000
    .venv/bin/python benchmarks/ics_feed.py --pg-url postgresql://127.0.0.1:5432/test

Run by hand; not part of ``make test``.  The server it starts is stopped at
the end (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

# The sibling benchmark's helpers (this directory is on sys.path when run as a script).
from dav_sync import free_port, throwaway_postgres

from kmdav.dav import feeds, repository, service
from kmdav.db import Database
from kmdav.models import User

PASSWORD = "bench-password-1"
VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Vienna\r\n"
    "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
)
DAY = 86_400
START = 1_798_761_600  # 2027-01-01 00:00 UTC


def make_event(index: int) -> tuple[str, service.DavObject]:
    """The i-th event: href and the object to store."""
    uid = f"bench-{index:06d}"
    day = START + (index % 730) * DAY
    stamp = time.strftime("%Y%m%d", time.gmtime(day))
    hour = 8 + index % 9
    recurring = index % 5 == 0
    lines = [
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kmdav bench//EN\r\n",
        VTIMEZONE,
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n",
        f"DTSTART;TZID=Europe/Vienna:{stamp}T{hour:02d}0000\r\n",
        f"DTEND;TZID=Europe/Vienna:{stamp}T{hour + 1:02d}0000\r\n",
        f"SUMMARY:Appointment {index} with customer {index % 997}\r\n",
        f"LOCATION:Room {index % 12}\\, floor {index % 4}\r\n",
        f"DESCRIPTION:Agenda for meeting {index}: review\\, plan\\, decide.\r\n",
        f"X-KMDAV-CONTACT:urn:uuid:contact-{index % 997}\r\n",
    ]
    end = day + DAY
    if recurring:
        lines.append("RRULE:FREQ=WEEKLY;COUNT=20\r\n")
        end = day + 20 * 7 * DAY
        if index % 20 == 0:
            skipped = time.strftime("%Y%m%d", time.gmtime(day + 14 * DAY))
            lines.append(f"EXDATE;TZID=Europe/Vienna:{skipped}T{hour:02d}0000\r\n")
    lines.append("END:VEVENT\r\n")
    if recurring and index % 20 == 0:
        moved = time.strftime("%Y%m%d", time.gmtime(day + 7 * DAY))
        lines.append(
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
            f"RECURRENCE-ID;TZID=Europe/Vienna:{moved}T{hour:02d}0000\r\n"
            f"DTSTART;TZID=Europe/Vienna:{moved}T{(hour + 1) % 24:02d}0000\r\n"
            f"DTEND;TZID=Europe/Vienna:{moved}T{(hour + 2) % 24:02d}0000\r\n"
            f"SUMMARY:Appointment {index} (moved)\r\nEND:VEVENT\r\n"
        )
    lines.append("END:VCALENDAR\r\n")
    body = "".join(lines)
    return f"{uid}.ics", service.DavObject(body, uid, "VEVENT", day, end)


def kmdav(*args: str) -> list[str]:
    return [sys.executable, "-m", "kmdav.cli", *args]


def fill(database_url: str, n: int) -> tuple[str, float]:
    """N events into admin/calendar through the service; the feed's token."""
    database = Database(database_url)
    database.open()
    try:
        started = time.perf_counter()
        with database.transaction() as session:
            calendar = repository.get_collection(session, "admin/calendar")
            assert calendar is not None
            for index in range(n):
                href, obj = make_event(index)
                service.store_item(session, calendar, href, obj)
            admin = session.query(User).filter_by(username="admin").one()
            created = feeds.create_feed(session, admin.id, calendar.id, "benchmark")
        return created.token, time.perf_counter() - started
    finally:
        database.close()


def median_ms(call: Callable[[], httpx.Response], times: int, status: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == status, (response.status_code, response.text[:200])
    return statistics.median(samples)


def run(database_url: str, n: int, label: str) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        data = Path(workdir) / "data"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KMDAV_")},
            "KMDAV_DATABASE_URL": database_url,
            "KMDAV_LOG_LEVEL": "WARNING",
        }
        init = kmdav("init", "--data-dir", str(data), "--admin-password", PASSWORD)
        subprocess.run(init, env=env, check=True, capture_output=True)
        token, fill_seconds = fill(database_url, n)
        port = free_port()
        serve = kmdav("serve", "--data-dir", str(data), "--port", str(port))
        server = subprocess.Popen(serve, env=env, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            url = f"{base}{feeds.feed_path(token)}"
            with httpx.Client(timeout=120) as client:
                first = client.get(url)
                assert first.status_code == 200
                assert first.content.count(b"BEGIN:VEVENT\r\n") == n + n // 20
                assert first.content.count(b"BEGIN:VTIMEZONE\r\n") == 1
                etag = first.headers["etag"]
                assert first.headers["content-encoding"] == "gzip"
                gzipped_size = int(first.headers["content-length"])
                full = median_ms(lambda: client.get(url), 5, 200)
                identity = {"Accept-Encoding": "identity"}
                plain = median_ms(lambda: client.get(url, headers=identity), 5, 200)
                poll = median_ms(lambda: client.get(url, headers={"If-None-Match": etag}), 50, 304)
                head = median_ms(lambda: client.head(url), 20, 200)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    size = len(first.content)
    shape = f"{n} events ({n // 5} series, {n // 20} overrides)"
    print(f"{label}: {shape}, filled in {fill_seconds:.1f} s")
    print(f"  full feed GET   {plain:8.1f} ms   {size / 1e6:.2f} MB ({size} bytes)")
    print(f"  ... gzip        {full:8.1f} ms   {gzipped_size / 1e6:.2f} MB ({gzipped_size} bytes)")
    print(f"  304 poll        {poll:8.1f} ms")
    print(f"  HEAD            {head:8.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--pg-url", default=os.environ.get("KMDAV_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        run(f"sqlite:///{workdir}/bench.sqlite3", args.n, "SQLite")
    if args.pg_url:
        with throwaway_postgres(args.pg_url) as url:
            run(url, args.n, "PostgreSQL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
