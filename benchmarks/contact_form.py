"""How heavy are the contact pages with many company cards?

Starts kmdav on a throwaway SQLite database (``tests.live``), fills the
company address book's projection with N contacts by bulk insert (one in
five a company card; the pages read the projection only), adds one person
through the web form, then times (median of 20, ms) and weighs (bytes) the
contact's edit page, the new-person page and the contact list.

    .venv/bin/python benchmarks/contact_form.py              # N=100000
    .venv/bin/python benchmarks/contact_form.py --n 10000

Run by hand; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmdav.dav import provisioning  # noqa: E402
from kmdav.db import Database  # noqa: E402
from kmdav.models import Contact, DavItem, utcnow  # noqa: E402
from tests.live import live_server  # noqa: E402
from tests.web.conftest import ADMIN, WebClient, WebServer  # noqa: E402


def fill(url: str, n: int) -> None:
    database = Database(url)
    database.open()
    with database.transaction() as session:
        book = provisioning.ensure_company_addressbook(session, "company/contacts")
        items, contacts = [], []
        for i in range(n):
            company = i % 5 == 0
            items.append(
                {
                    "collection_id": book.id,
                    "href": f"bulk{i}.vcf",
                    "uid": f"bulk{i}",
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
                    "collection_id": book.id,
                    "kind": "org" if company else "individual",
                    "formatted_name": f"Firma {i}" if company else f"Anna Huber{i}",
                    "organization": f"Firma {i}" if company else f"Firma {i - i % 5}",
                    "family_name": "" if company else f"Huber{i}",
                }
            )
        for start in range(0, n, 5000):
            ids = session.scalars(
                insert(DavItem).returning(DavItem.id), items[start : start + 5000]
            ).all()
            rows = [
                {**row, "item_id": item_id}
                for row, item_id in zip(contacts[start : start + 5000], ids, strict=True)
            ]
            session.execute(insert(Contact), rows)
    database.close()


def timed(client: WebClient, path: str) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(20):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text[:500]
        size = len(answer.content)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        with live_server(Path(folder) / "data", url) as live:
            started = time.perf_counter()
            fill(url, args.n)
            print(f"filled {args.n:,} contacts in {time.perf_counter() - started:.1f} s")
            client = WebClient(WebServer(live, url))
            assert client.login(*ADMIN).status_code == 303
            made = client.post(
                "/web/contacts/new",
                {
                    "kind": "person",
                    "given_name": "Eva",
                    "family_name": "Form",
                    "company": "Firma 5",
                },
            )
            assert made.status_code == 303, made.text[:500]
            contact = made.headers["location"].split("?")[0]
            for name, path in (
                ("edit page", contact + "/edit"),
                ("new person", "/web/contacts/new"),
                ("contact list", "/web/contacts"),
            ):
                ms, size = timed(client, path)
                print(f"{name:14} median {ms:7.1f} ms  {size / 1024:8.1f} KiB")
            client.http.close()


if __name__ == "__main__":
    main()
