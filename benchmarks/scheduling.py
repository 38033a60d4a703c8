"""What does implicit scheduling cost, and how fast is a free-busy query?

Starts ``kmdav serve`` on a fresh SQLite (or PostgreSQL) database with two
users, fills the attendee's calendar with N events (a fifth of them weekly
series, a tenth transparent), and measures over HTTP:

- PUT of an event without ORGANIZER (the path every ordinary PUT takes);
- PUT of an invitation to the other user (delivery into their calendar and
  inbox, SCHEDULE-STATUS on the organizer's copy: three more writes);
- POST of a VFREEBUSY request for the attendee over one week and over one
  month (expansion of the series in that window).

    .venv/bin/python benchmarks/scheduling.py                  # N=1000, SQLite
    .venv/bin/python benchmarks/scheduling.py --n 10000
    .venv/bin/python benchmarks/scheduling.py --pg-url postgresql://127.0.0.1:5432/test

Run by hand; not part of ``make test``.  Medians of several runs, printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dav_sync import throwaway_postgres

from kmdav.dav import repository, service
from kmdav.db import Database
from tests.live import live_server, run_cli

DAY = 86_400
START = 1_798_761_600  # 2027-01-01 00:00 UTC


def _stamp(seconds: int) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def _event(uid: str, start: int, extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:{_stamp(start)}\r\n"
        f"DTEND:{_stamp(start + 3600)}\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def fill(database_url: str, username: str, count: int) -> None:
    database = Database(database_url)
    database.open()
    try:
        with database.transaction() as session:
            calendar = repository.get_collection(session, f"{username}/calendar")
            assert calendar is not None
            for index in range(count):
                start = START + (index % 365) * DAY + (index % 9) * 3600
                extra = "RRULE:FREQ=WEEKLY;COUNT=52\r\n" if index % 5 == 0 else ""
                extra += "TRANSP:TRANSPARENT\r\n" if index % 10 == 3 else ""
                end = start + (52 * 7 * DAY if index % 5 == 0 else 3600)
                uid = f"fill-{index:06d}"
                obj = service.DavObject(_event(uid, start, extra), uid, "VEVENT", start, end)
                service.store_item(session, calendar, f"{uid}.ics", obj)
    finally:
        database.close()


def median_ms(action: Callable[[int], None], runs: int) -> float:
    times = []
    for run in range(runs):
        began = time.perf_counter()
        action(run)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def freebusy_body(start: int, end: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nMETHOD:REQUEST\r\n"
        f"BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:{_stamp(start)}\r\n"
        f"DTEND:{_stamp(end)}\r\nORGANIZER:mailto:olga@example.org\r\n"
        "ATTENDEE:mailto:bert@example.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )


def run(database_url: str, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kmdav-bench-") as work:
        data = Path(work) / "data"
        with live_server(data, database_url) as server:
            for name, extra in (("olga", []), ("bert", []), ("root", ["--admin"])):
                run_cli(
                    "user", "add", name, "--password", f"{name}-password-1", *extra,
                    "--email", f"{name}@example.org", "--data-dir", str(data), env=server.env,
                )  # fmt: skip
            fill(database_url, "bert", count)
            headers = {"Content-Type": "text/calendar"}
            olga = httpx.Client(auth=("olga", "olga-password-1"), timeout=60, headers=headers)
            # Free-busy answers only users the asker may see: ask as an admin.
            root = httpx.Client(auth=("root", "root-password-1"), timeout=60, headers=headers)
            calendar = f"{server.dav}olga/calendar/"
            olga.put(calendar + "warm.ics", content=_event("warm", START))
            organized = (
                "ORGANIZER:mailto:olga@example.org\r\n"
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org\r\n"
                "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bert@example.org\r\n"
            )

            def put(name: str, extra: str = "") -> Callable[[int], None]:
                def action(i: int) -> None:
                    body = _event(f"{name}-{i}", START + i * 3600, extra)
                    answer = olga.put(f"{calendar}{name}-{i}.ics", content=body)
                    assert answer.is_success, answer.text

                return action

            def ask(days: int) -> Callable[[int], None]:
                body = freebusy_body(START + 30 * DAY, START + (30 + days) * DAY)
                body = body.replace("olga@example.org", "root@example.org")

                def action(i: int) -> None:
                    answer = root.post(f"{server.dav}root/outbox/", content=body)
                    assert "2.0;Success" in answer.text, answer.text

                return action

            backend = database_url.split(":", maxsplit=1)[0]
            print(f"N = {count} events in the attendee's calendar ({backend})")
            print(f"PUT without ORGANIZER          {median_ms(put('plain'), 50):8.1f} ms")
            print(
                f"PUT of an invitation (1 user)  {median_ms(put('invite', organized), 50):8.1f} ms"
            )
            print(f"free-busy POST, one week       {median_ms(ask(7), 20):8.1f} ms")
            print(f"free-busy POST, one month      {median_ms(ask(30), 20):8.1f} ms")
            print("(medians of 50 PUTs and 20 POSTs)")
            olga.close()
            root.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--pg-url", help="a PostgreSQL server to make a throwaway database on")
    args = parser.parse_args()
    if args.pg_url:
        with throwaway_postgres(args.pg_url) as url:
            run(url, args.n)
    else:
        with tempfile.TemporaryDirectory(prefix="kmdav-bench-db-") as folder:
            run(f"sqlite:///{folder}/bench.sqlite3", args.n)


if __name__ == "__main__":
    main()
