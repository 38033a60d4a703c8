"""Contact search latency and the projection's cost per stored card.

Builds a throwaway database (SQLite in a temp dir, or PostgreSQL with
``--pg-url``), migrates it, stores N cards in the company address book
through the one write path (``kmdav.dav.service.store_item``, the projection
included) with three own fields defined, then runs the contact list's
search (``kmdav.contacts.search.search``, full text and filters, first page
of 50 with its total) for a mix of queries and prints p50/p95.

    .venv/bin/python benchmarks/contacts_search.py --n 10000
    .venv/bin/python benchmarks/contacts_search.py --n 100000
    .venv/bin/python benchmarks/contacts_search.py --n 10000 --pg-url postgresql://127.0.0.1:5432/test
    .venv/bin/python benchmarks/contacts_search.py --n 100000 --keep /tmp/s.sqlite3  # reuse

Figures go to stdout; nothing here is a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from kmdav import audit, migrate
from kmdav.accounts import service as accounts
from kmdav.contacts import fields, search
from kmdav.contacts.cards import ContactDraft, build_card
from kmdav.dav import provisioning
from kmdav.dav import service as dav
from kmdav.dav.vcard import LabeledValue, PostalAddress
from kmdav.db import Database

GIVEN = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas", "Lena"]
FAMILY = ["Huber", "Gruber", "Bauer", "Wagner", "Müller", "Pichler", "Steiner", "Moser", "Mayer"]
CITIES = ["Wien", "Graz", "Linz", "Salzburg", "Innsbruck", "Klagenfurt", "Villach", "Wels"]
TAGS = ["Kunde", "Lieferant", "Partner", "VIP", "Presse"]
BOOK = "company/contacts"
ACTOR = audit.Actor(name="bench", source="bench")


def _draft(i: int, rng: random.Random) -> ContactDraft:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY) + str(i % 997)
    return ContactDraft(
        given_name=given,
        family_name=family,
        company=f"Firma {i % 2000}",
        title="Einkauf" if i % 3 else "",
        emails=(LabeledValue(f"{given.lower()}.{i}@example.com", "work"),),
        phones=(LabeledValue(f"+43 1 {100000 + i}", "cell"),),
        addresses=(
            PostalAddress("work", f"Gasse {i % 300}", rng.choice(CITIES), "", "1010", "AT"),
        ),
        note="Rückruf erbeten" if i % 7 == 0 else "",
        tags=(rng.choice(TAGS),),
        custom={"KNR": str(10000 + i), "SINCE": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}"},
    )


def _store(database: Database, n: int, rng: random.Random) -> tuple[float, int]:
    """Store n cards in batches; returns (seconds, cards)."""
    with database.transaction() as session:
        admin = accounts.create_user(session, "bench", "bench-password-1")
        admin.is_admin = True
        provisioning.ensure_company_addressbook(session, BOOK)
        fields.create_field(session, ACTOR, key="KNR", label="Kundennummer", field_type="text")
        fields.create_field(session, ACTOR, key="SINCE", label="Kunde seit", field_type="date")
        fields.create_field(
            session, ACTOR, key="SEG", label="Segment", field_type="select", options=["A", "B"]
        )
    defs = None
    started = time.perf_counter()
    done = 0
    while done < n:
        with database.transaction() as session:
            book = provisioning.ensure_company_addressbook(session, BOOK)
            defs = defs or fields.definitions(session)
            for i in range(done, min(n, done + 1000)):
                uid = str(uuid.UUID(int=rng.getrandbits(128)))
                body = build_card(_draft(i, rng), uid=uid, fields=defs)
                dav.store_item(session, book, f"{uid}.vcf", dav.DavObject(body, uid, "VCARD", 0, 0))
            done = min(n, done + 1000)
        print(f"  stored {done}/{n}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return time.perf_counter() - started, n


def _queries(rng: random.Random) -> list[tuple[str, search.ContactQuery]]:
    """(kind, query): 40 of each kind, interleaved."""
    queries = []
    for _ in range(40):
        queries += [
            ("prefix of a family name (1/9 match)", search.ContactQuery(q=rng.choice(FAMILY)[:4])),
            (
                "given name + city",
                search.ContactQuery(q=f"{rng.choice(GIVEN)} {rng.choice(CITIES)}"),
            ),
            ("own-field value", search.ContactQuery(q=str(10000 + rng.randrange(1000)))),
            ("note word + tag filter", search.ContactQuery(q="rückruf", tag=rng.choice(TAGS))),
            (
                "own-field filter, by company",
                search.ContactQuery(own={"SINCE": "2012-03-12"}, sort="company"),
            ),
            ("no query, first page by name", search.ContactQuery()),
        ]
    return queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--pg-url", default="")
    parser.add_argument(
        "--keep",
        default="",
        help="SQLite file to fill and keep; when it exists, its cards are searched as they are",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        kept = Path(args.keep) if args.keep else None
        filled = kept is not None and kept.exists()
        url = f"sqlite:///{kept or Path(tmp) / 'bench.sqlite3'}"
        context = None
        if args.pg_url:
            import os

            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.databases import PG_ENV, throwaway_database

            os.environ[PG_ENV] = args.pg_url
            context = throwaway_database("postgresql", Path(tmp))
            url = context.__enter__()
        try:
            database = Database(url)
            database.open()
            migrate.upgrade(database.engine)
            if filled:
                with database.engine.connect() as connection:
                    n = int(connection.execute(text("SELECT count(*) FROM contacts")).scalar_one())
                seconds = float("nan")
            else:
                seconds, n = _store(database, args.n, rng)
            if database.engine.dialect.name == "postgresql":
                # Statistics, as autovacuum would gather them after a bulk load.
                with database.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                        text("ANALYZE")
                    )
            print(f"backend            {database.engine.dialect.name}")
            print(f"cards              {n}")
            each = seconds * 1000 / n
            print(f"store + projection {n / seconds:,.0f} cards/s ({each:.2f} ms each)")
            timings: list[float] = []
            by_kind: dict[str, list[float]] = {}
            with database.transaction("read") as session:
                viewer = accounts.get_user(session, "bench")
                assert viewer is not None
                defs = fields.definitions(session)
                session.execute(text("SELECT 1"))
                for kind, query in _queries(rng):
                    started = time.perf_counter()
                    page = search.search(session, viewer, query, defs, company_book=BOOK)
                    elapsed = (time.perf_counter() - started) * 1000
                    timings.append(elapsed)
                    by_kind.setdefault(kind, []).append(elapsed)
                    assert page.total >= 0
            for kind, values in by_kind.items():
                print(f"  {kind:40} p50 {statistics.median(values):6.1f} ms")
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"search queries     {len(timings)}")
            print(f"search p50         {statistics.median(timings):.1f} ms")
            print(f"search p95         {p95:.1f} ms")
            print(f"search max         {timings[-1]:.1f} ms")
            database.close()
        finally:
            if context is not None:
                context.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
