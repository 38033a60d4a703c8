"""How long does the duplicate finder take on a big address book?

Fills the projection of one address book (``dav_items`` and ``contacts``
with e-mails and phones, written with bulk inserts: the finder reads only
the projection) with N contacts made from common given names and made-up family
names, of which about 2 % are planted duplicates (the same e-mail in
another case, the same phone written differently, a one-letter typo in the
name), then times :func:`kmdav.contacts.duplicates.find_candidates` and
counts how many of the planted pairs it found; then runs the page's
background scan (:mod:`kmdav.contacts.duplicatescan`) as a job and times
what a view of the duplicates page reads (the stored result).

    .venv/bin/python benchmarks/duplicates.py                 # N=100000, SQLite
    .venv/bin/python benchmarks/duplicates.py --n 10000

Run by hand; not part of ``make test``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from kmdav import migrate
from kmdav.contacts import duplicates
from kmdav.db import Database
from kmdav.models import Contact, ContactEmail, ContactPhone, DavCollection, DavItem, utcnow

GIVEN = [
    "Anna",
    "Maria",
    "Lena",
    "Sophie",
    "Laura",
    "Julia",
    "Sarah",
    "Lisa",
    "Katharina",
    "Hannah",
    "Elena",
    "Johanna",
    "Eva",
    "Lukas",
    "David",
    "Paul",
    "Jakob",
    "Felix",
    "Tobias",
    "Maximilian",
    "Elias",
    "Simon",
    "Jonas",
    "Florian",
    "Michael",
    "Thomas",
    "Stefan",
    "Andreas",
    "Martin",
    "Markus",
    "Daniel",
    "Christian",
    "Alexander",
    "Sebastian",
    "Johann",
    "Georg",
    "Franz",
]
#: Syllables of made-up family names: 30^3 = 27,000 of them, many alike.
SYLLABLES = [
    "ber",
    "gru",
    "hu",
    "wag",
    "mo",
    "stei",
    "lei",
    "fu",
    "ed",
    "fi",
    "schmi",
    "win",
    "we",
    "schwa",
    "ma",
    "rei",
    "ho",
    "eg",
    "brun",
    "lang",
    "au",
    "bin",
    "lech",
    "wol",
    "wall",
    "aig",
    "eb",
    "kol",
    "leh",
    "haas",
]


def family_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() + rng.choice(
        ("er", "ner", "ler", "inger", "mann")
    )


def typo(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1 :]


def fill(database: Database, n: int, rng: random.Random) -> set[tuple[int, int]]:
    """N contacts; returns the planted duplicate pairs (contact ids)."""
    planted: set[tuple[int, int]] = set()
    with database.transaction() as session:
        book = DavCollection(path="bench/contacts", tag="VADDRESSBOOK", props={}, sync_key="bench")
        session.add(book)
        session.flush()
        items, contacts, emails, phones = [], [], [], []
        people: list[tuple[str, str, str, str]] = []
        for i in range(n):
            twin = people[rng.randrange(len(people))] if people and rng.random() < 0.02 else None
            if twin is None:
                given, family = rng.choice(GIVEN), family_name(rng)
                mail = f"{given}.{family}.{i}@example.com".lower()
                phone = f"+43 660 {rng.randrange(10**7):07d}"
            else:
                given, family, mail, phone = twin
                kind = i % 3
                if kind == 0:
                    mail, family = mail.upper(), family_name(rng)
                elif kind == 1:
                    phone = "0" + phone[4:].replace(" ", "/", 1)
                    mail = f"other{i}@example.net"
                else:
                    family = typo(family, rng)
                    mail, phone = f"typo{i}@example.net", f"+43 1 {i:07d}"
                planted.add((people.index(twin) + 1, i + 1))
            people.append((given, family, mail, phone))
            items.append(
                {
                    "id": i + 1,
                    "collection_id": book.id,
                    "href": f"c{i}.vcf",
                    "uid": f"c{i}",
                    "etag": f'"{i}"',
                    "body": "",
                    "component": "VCARD",
                    "dtstart": 0,
                    "dtend": 0,
                    "revision": 1,
                    "modified_at": utcnow(),
                }
            )
            contacts.append(
                {
                    "id": i + 1,
                    "item_id": i + 1,
                    "collection_id": book.id,
                    "kind": "individual",
                    "formatted_name": f"{given} {family}",
                    "given_name": given,
                    "family_name": family,
                }
            )
            emails.append({"contact_id": i + 1, "position": 0, "value": mail})
            phones.append({"contact_id": i + 1, "position": 0, "value": phone})
        for model, rows in (
            (DavItem, items),
            (Contact, contacts),
            (ContactEmail, emails),
            (ContactPhone, phones),
        ):
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start : start + 5000])
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        database.open()
        migrate.upgrade(database.engine)
        started = time.perf_counter()
        planted = fill(database, args.n, rng)
        print(f"filled {args.n} contacts in {time.perf_counter() - started:.1f} s")
        timings = []
        for _ in range(3):
            with database.transaction("read") as session:
                book_id = session.scalar(select(DavCollection.id))
                assert book_id is not None
                started = time.perf_counter()
                found = duplicates.find_candidates(session, [book_id], limit=10**9)
                timings.append(time.perf_counter() - started)
        pairs = {(c.first, c.second) for c in found}
        hits = len(planted & pairs)
        print(
            f"find_candidates over {args.n} contacts: best {min(timings):.2f} s of 3; "
            f"{len(found)} candidates; planted pairs found {hits}/{len(planted)}"
        )
        scan_and_show(database, Path(folder), book_id)
        database.close()


def scan_and_show(database: Database, folder: Path, book_id: int) -> None:
    """The page's way: a background scan (a job, run here as the consumer
    would), then what a page view reads: the stored result, pairs whose
    contacts are gone left out, and the 500 pairs' names."""
    from kmdav.accounts import service as accounts
    from kmdav.contacts import duplicatescan
    from kmdav.jobs.queue import load_job_kinds
    from kmdav.jobs.runner import run_job
    from kmdav.settings import Settings

    load_job_kinds()
    with database.transaction() as session:
        user = accounts.create_user(session, "bench", "bench-password-1", is_admin=True)
        job_id = duplicatescan.start_scan(session, user, [book_id]).id
    settings = Settings(data_dir=folder, database_url=str(database.engine.url), secret_key="b" * 48)
    started = time.perf_counter()
    status = run_job(database, settings, job_id)
    print(f"scan job: {status} in {time.perf_counter() - started:.2f} s (background)")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        with database.transaction("read") as session:
            _, done = duplicatescan.latest_scans(session, [book_id])
            assert done is not None
            shown = duplicatescan.stored_candidates(session, done)
            ids = {c.first for c in shown} | {c.second for c in shown}
            names = session.execute(
                select(Contact.id, Contact.formatted_name).where(Contact.id.in_(ids))
            ).all()
        timings.append(time.perf_counter() - started)
    print(
        f"page view (stored result): best {min(timings) * 1000:.1f} ms of 5, "
        f"median {sorted(timings)[2] * 1000:.1f} ms; {len(shown)} pairs, {len(names)} names"
    )


if __name__ == "__main__":
    main()
