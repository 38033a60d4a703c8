"""Contacts: import throughput and the worker's memory; search latency.

    .venv/bin/python benchmarks/contacts.py                  # 100,000 rows / contacts
    .venv/bin/python benchmarks/contacts.py --rows 20000     # quicker
    .venv/bin/python benchmarks/contacts.py --pg-url postgresql://127.0.0.1:5432/test
    .venv/bin/python benchmarks/contacts.py --skip-search    # the import only
    KMDAV_BENCH_PROFILE=/tmp/import.prof .venv/bin/python benchmarks/contacts.py --skip-search
                                   # the worker under cProfile (python -m pstats)

(a) *import*: a CSV of N rows (German headers, Windows-1252, ``;``: names,
company, e-mail, phone, mobile, address, birthday as 31.12.1980, tags and an
own field; one row in 50 has a broken e-mail address) is registered through
the import service and its job is run by ``kmdav.jobs.runner.run_job`` in a
separate process, as the consumer would.  The parent polls the job row for
progress; the worker reports its wall time and its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), a figure that must stay
under 300 MB whatever N is.

(b) *search*: over the N imported contacts, the list page's ``?q=`` query
(``kmdav.contacts.search``) for 200 terms of different kinds (surnames,
companies, e-mail parts, cities, own-field values, misses); p50 and p95 in
ms.  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmdav import audit, migrate  # noqa: E402
from kmdav.accounts import service as accounts  # noqa: E402
from kmdav.contacts import fields, imports  # noqa: E402
from kmdav.db import Database, make_engine  # noqa: E402
from kmdav.models import Contact, DavCollection, Job, User  # noqa: E402
from kmdav.settings import Settings  # noqa: E402

CITIES = ["Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt", "München", "Zürich"]
SURNAMES = [
    "Huber",
    "Gruber",
    "Bauer",
    "Wagner",
    "Müller",
    "Pichler",
    "Steiner",
    "Moser",
    "Mayer",
    "Hofer",
    "Leitner",
    "Berger",
    "Fuchs",
    "Eder",
    "Fischer",
    "Schmid",
]
GIVEN = ["Anna", "Maria", "Lukas", "Jakob", "Lena", "Paul", "Sophie", "Felix", "Laura", "Jonas"]
HEADER = [
    "Vorname",
    "Nachname",
    "Firma",
    "Position",
    "E-Mail",
    "Telefon",
    "Mobil",
    "Straße",
    "PLZ",
    "Ort",
    "Land",
    "Geburtstag",
    "Schlagworte",
    "Kundennummer",
]


def write_csv(path: Path, rows: int) -> None:
    """N rows, streamed to disk (Windows-1252, ``;``)."""
    rng = random.Random(7)
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(";".join(HEADER) + "\r\n")
        for i in range(rows):
            surname = f"{rng.choice(SURNAMES)}{i % 997}"
            mail = f"p{i}@firma{i % 500}.example" if i % 50 else f"broken-{i}"
            out.write(
                ";".join(
                    [
                        rng.choice(GIVEN),
                        surname,
                        f"Firma {i % 500} GmbH",
                        "Einkauf",
                        mail,
                        f"+43 1 {100000 + i}",
                        f"+43 660 {200000 + i}",
                        f"Hauptstraße {i % 200}",
                        f"{1000 + i % 9000}",
                        rng.choice(CITIES),
                        "Österreich",
                        f"{1 + i % 28}.{1 + i % 12}.{1950 + i % 50}",
                        "Kunde,Newsletter" if i % 3 else "Lieferant",
                        f"K{i:07d}",
                    ]
                )
                + "\r\n"
            )


@contextmanager
def database(pg_url: str | None, folder: Path) -> Iterator[str]:
    if not pg_url:
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    from tests.databases import throwaway_database

    with throwaway_database("postgresql", folder) as url:
        yield url


def worker(url: str, data_dir: str, job_id: int) -> None:
    """Run one job as the consumer would; print wall and CPU time and peak RSS (JSON)."""
    from kmdav.jobs.queue import load_job_kinds
    from kmdav.jobs.runner import run_job

    load_job_kinds()
    settings = Settings(data_dir=Path(data_dir), database_url=url, secret_key="b" * 48)
    db = Database(url)
    db.open()
    started = time.perf_counter()
    profile_to = os.environ.get("KMDAV_BENCH_PROFILE", "")
    if profile_to:  # where the worker's CPU goes: python -m pstats FILE
        import cProfile

        profiler = cProfile.Profile()
        status = profiler.runcall(run_job, db, settings, job_id)
        profiler.dump_stats(profile_to)
    else:
        status = run_job(db, settings, job_id)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    # Where the memory is at the end: private (heap) or file pages (SQLite's
    # memory-mapped database, shared with the OS page cache).
    status_lines = Path("/proc/self/status").read_text().splitlines()
    parts = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status_lines
        if line.startswith(("RssAnon", "RssFile"))
    }
    print(
        json.dumps(
            {
                "status": status,
                "seconds": seconds,
                "peak_mb": peak_kib / 1024,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "anon_mb": parts.get("RssAnon", 0),
                "file_mb": parts.get("RssFile", 0),
            }
        )
    )


def run_import(url: str, data_dir: Path, rows: int) -> dict[str, object]:
    db = Database(url)
    db.open()
    actor = audit.Actor(name="bench", source="bench")
    with db.transaction() as session:
        user = accounts.create_user(session, "bench", "bench-password-1", is_admin=True)
        if "KDNR" not in {f.key for f in fields.definitions(session)}:
            fields.create_field(session, actor, key="KDNR", label="Kundennummer", field_type="text")
        book_id = session.scalars(
            select(DavCollection.id).where(
                DavCollection.owner_id == user.id, DavCollection.tag == "VADDRESSBOOK"
            )
        ).first()
    folder = imports.upload_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "upload-bench"
    made = time.perf_counter()
    write_csv(path, rows)
    print(
        f"CSV: {rows:,} rows, {path.stat().st_size / 1e6:.1f} MB "
        f"(written in {time.perf_counter() - made:.1f} s)"
    )
    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == "bench")).one()
        imported = imports.register_upload(
            session, user, path=path, filename="bench.csv", size=path.stat().st_size
        )
        imports.configure(
            session,
            user,
            imported,
            columns=imported.mapping,
            collection_id=book_id,
            duplicate_mode="skip",
            match_on="email",
        )
        job_id = imports.start(session, user, imported).id
        import_id = imported.id
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", url, str(data_dir), str(job_id)],
        stdout=subprocess.PIPE,
        text=True,
    )
    last = -1
    while process.poll() is None:
        time.sleep(2)
        with db.transaction("read") as session:
            job = session.get(Job, job_id)
            if job is not None and job.done != last:
                last = job.done
                print(f"  progress: {job.done:,} of {job.total or 0:,} rows  ({job.message})")
    out, _ = process.communicate()
    report = json.loads(out.strip().splitlines()[-1])
    with db.transaction("read") as session:
        imported = imports.get_import(session, import_id, user)
        count = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.collection_id == book_id)
        )
        report["counts"] = {k: v for k, v in imported.counts.items() if v}
        report["contacts"] = count
    report["rows_per_s"] = rows / report["seconds"]
    db.close()
    return report


def run_search(url: str) -> dict[str, float] | None:
    try:
        from kmdav.contacts import search  # the list page's query path
    except ImportError:
        return None
    db = Database(url)
    db.open()
    rng = random.Random(11)
    terms = (
        [f"{rng.choice(SURNAMES)}{rng.randrange(997)}" for _ in range(60)]
        + [f"Firma {rng.randrange(500)}" for _ in range(40)]
        + [f"p{rng.randrange(100000)}@" for _ in range(30)]
        + [rng.choice(CITIES) for _ in range(30)]
        + [f"K{rng.randrange(100000):07d}" for _ in range(20)]
        + [f"nothing{rng.randrange(10**6)}" for _ in range(20)]
    )
    timings = []
    with db.transaction("read") as session:
        user = session.scalars(select(User).where(User.username == "bench")).one()
        definitions = fields.definitions(session)
        for term in terms:
            started = time.perf_counter()
            search.search(session, user, search.ContactQuery(q=term), definitions)
            timings.append((time.perf_counter() - started) * 1000)
    db.close()
    timings.sort()
    return {
        "queries": len(timings),
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(len(timings) * 0.95) - 1],
        "max_ms": timings[-1],
    }


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", default="")
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kmdav-bench-") as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        if args.pg_url:
            import os

            os.environ["KMDAV_TEST_DATABASE_URL"] = args.pg_url
        with database(args.pg_url or None, Path(folder)) as url:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            backend = "PostgreSQL" if args.pg_url else "SQLite"
            print(f"kmdav contacts benchmark on {backend}, {args.rows:,} rows")
            report = run_import(url, data_dir, args.rows)
            print(
                f"import: {report['status']} in {report['seconds']:.1f} s wall "
                f"({report['rows_per_s']:,.0f} rows/s), {report['cpu_seconds']:.1f} s CPU "
                f"of the worker, worker peak RSS {report['peak_mb']:.0f} MB (at the end "
                f"{report['anon_mb']:.0f} MB private, {report['file_mb']:.0f} MB file pages), "
                f"outcome {report['counts']}, "
                f"{report['contacts']:,} contacts in the book"
            )
            if args.skip_search:
                return
            found = run_search(url)
            if found is None:
                print("search: kmdav.contacts.search is not there (not merged); not measured")
            else:
                print(
                    f"search over {report['contacts']:,} contacts ({found['queries']} queries): "
                    f"p50 {found['p50_ms']:.1f} ms, p95 {found['p95_ms']:.1f} ms, "
                    f"max {found['max_ms']:.1f} ms"
                )


if __name__ == "__main__":
    main()
