"""Conflict safety and locking under real concurrency, against live servers.

Every test talks HTTP to real ``kmdav serve`` processes on 127.0.0.1 over a
real database (SQLite and, with KMDAV_TEST_DATABASE_URL, PostgreSQL):

- of N clients writing with the same ETag at once exactly one wins, also
  with several uvicorn workers on one SQLite file;
- the collection's revision moves once per real change, never per attempt;
- two kmdav processes on one PostgreSQL database lose nothing and hand out
  the same sync tokens, and a client polling through either sees every change;
- readers keep being answered while a large upload is being written.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.databases import throwaway_database
from tests.davclient import DavClient, SyncResult, parse_props, token_parts
from tests.live import LiveServer, live_server

pytestmark = [pytest.mark.live, pytest.mark.slow]

CONTACTS = "/dav/admin/contacts/"
#: Clients racing for one href.
RACERS = 8
#: A bound on every wait for a thread, so a deadlock fails instead of hanging.
THREAD_TIMEOUT = 120.0

T = TypeVar("T")


def card(uid: str, name: str, note: str = "") -> str:
    family, _, given = name.partition(" ")
    extra = f"NOTE:{note}\r\n" if note else ""
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:{name}\r\nN:{family};{given};;;\r\n"
        f"EMAIL;TYPE=INTERNET:{uid}@example.com\r\n{extra}END:VCARD\r\n"
    )


def photo_card(uid: str, size: int, variant: int) -> str:
    """A vCard with a PHOTO of about ``size`` bytes of base64, folded at 75 octets."""
    raw = bytes((i + variant) % 256 for i in range(256)) * (size * 3 // 4 // 256)
    line = "PHOTO;ENCODING=b;TYPE=JPEG:" + base64.b64encode(raw).decode()
    folded = "\r\n ".join(line[i : i + 74] for i in range(0, len(line), 74))
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:Photo Person {variant}\r\nN:Person;Photo;;;\r\n"
        f"{folded}\r\nEND:VCARD\r\n"
    )


def new_uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..count-1)`` on ``count`` threads; results in order, errors re-raised."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, index) for index in range(count)]
        return [future.result(timeout=THREAD_TIMEOUT) for future in futures]


def race(
    base_url: str, count: int, attempt: Callable[[int, DavClient], httpx.Response]
) -> list[httpx.Response]:
    """``count`` clients, each with its own warmed-up connection, fire at once."""
    barrier = threading.Barrier(count, timeout=60)

    def one(index: int) -> httpx.Response:
        with DavClient(base_url) as client:
            # Open the connection and pass authentication before the start line.
            warm = client.propfind(CONTACTS, depth="0")
            assert warm.status_code == 207, warm.text
            barrier.wait()
            return attempt(index, client)

    return in_threads(count, one)


def status_summary(responses: list[httpx.Response]) -> list[int]:
    return sorted(response.status_code for response in responses)


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One live server per backend and worker count (indirect parameter, default 1),
    shared by this module's tests."""
    workers = int(getattr(request, "param", 1))
    workdir = tmp_path_factory.mktemp(f"concurrency-{backend}-{workers}")
    with (
        throwaway_database(backend, workdir) as url,
        live_server(workdir / "data", url, workers=workers) as live,
    ):
        yield live


# -- 1. If-Match: one winner --------------------------------------------------------

#: Several uvicorn worker processes on one database (SQLite too) must agree.
WORKERS = pytest.mark.parametrize("server", [1, 2], indirect=True, ids=["1-worker", "2-workers"])


@WORKERS
def test_same_if_match_from_many_clients_has_exactly_one_winner(server: LiveServer) -> None:
    uid = new_uid("race")
    href = f"{CONTACTS}{uid}.vcf"
    with DavClient(server.url) as dav:
        created = dav.put(href, card(uid, "Original Person"), if_none_match=True)
        assert created.status_code == 201, created.text
        etag = created.headers["etag"]
        before = dav.sync(CONTACTS)

        bodies = [card(uid, f"Writer Number{index}") for index in range(RACERS)]
        responses = race(
            server.url, RACERS, lambda index, client: client.put(href, bodies[index], if_match=etag)
        )

        winners = [i for i, response in enumerate(responses) if response.is_success]
        assert len(winners) == 1, status_summary(responses)
        losers = [r.status_code for i, r in enumerate(responses) if i != winners[0]]
        assert losers == [412] * (RACERS - 1), status_summary(responses)
        winner = winners[0]

        stored = dav.get(href)
        assert stored.status_code == 200
        assert stored.text == bodies[winner]
        assert stored.headers["etag"] == responses[winner].headers["etag"] != etag

        after = dav.sync(CONTACTS, before.token)
        assert after.changes == {href: 200}
        assert token_parts(after.token)[0] == token_parts(before.token)[0]
        assert after.revision == before.revision + 1
        # Nothing moved behind the winner's change either.
        assert dav.sync(CONTACTS).token == after.token


@WORKERS
def test_same_if_match_delete_from_many_clients_deletes_once(server: LiveServer) -> None:
    uid = new_uid("delrace")
    href = f"{CONTACTS}{uid}.vcf"
    with DavClient(server.url) as dav:
        created = dav.put(href, card(uid, "Doomed Person"), if_none_match=True)
        assert created.status_code == 201, created.text
        etag = created.headers["etag"]
        before = dav.sync(CONTACTS)

        responses = race(
            server.url, RACERS, lambda _index, client: client.delete(href, if_match=etag)
        )

        winners = [r for r in responses if r.is_success]
        assert len(winners) == 1, status_summary(responses)
        # The losers find nothing to delete any more; RFC 9110 13.2.1 has a
        # server answer that (404) rather than evaluate If-Match.
        assert sorted(r.status_code for r in responses if not r.is_success) == [404] * (
            RACERS - 1
        ), status_summary(responses)
        assert dav.get(href).status_code == 404

        after = dav.sync(CONTACTS, before.token)
        assert after.changes == {href: 404}
        assert after.revision == before.revision + 1


# -- 2. If-None-Match: * : one creator ---------------------------------------------


@WORKERS
def test_if_none_match_create_from_many_clients_has_exactly_one_creator(
    server: LiveServer,
) -> None:
    uid = new_uid("create")
    href = f"{CONTACTS}{uid}.vcf"
    with DavClient(server.url) as dav:
        before = dav.sync(CONTACTS)
        bodies = [card(uid, f"Creator Number{index}") for index in range(RACERS)]

        responses = race(
            server.url,
            RACERS,
            lambda index, client: client.put(href, bodies[index], if_none_match=True),
        )

        created = [i for i, response in enumerate(responses) if response.status_code == 201]
        assert len(created) == 1, status_summary(responses)
        assert status_summary(responses) == [201] + [412] * (RACERS - 1)
        stored = dav.get(href)
        assert stored.text == bodies[created[0]]
        assert stored.headers["etag"] == responses[created[0]].headers["etag"]

        after = dav.sync(CONTACTS, before.token)
        assert after.changes == {href: 200}
        assert after.revision == before.revision + 1


# -- 3. two servers, one PostgreSQL database ---------------------------------------

WRITERS_PER_SERVER = 4
CARDS_PER_WRITER = 30
NEW_PER_WRITER = 5
HOT_CARDS = 2
INCREMENTS_PER_WRITER = 3
MAX_ATTEMPTS = 300
MAX_POLLS = 5000


class Poller(threading.Thread):
    """A phone syncing through one server: incremental syncs until told to stop."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.stop = threading.Event()
        self.view: set[str] = set()
        self.token = ""
        self.polls = 0
        self.error: BaseException | None = None

    def apply(self, result: SyncResult) -> None:
        if self.token:
            assert result.revision >= token_parts(self.token)[1], (self.token, result.token)
        self.view -= result.deleted
        self.view |= result.present
        self.token = result.token

    def run(self) -> None:
        try:
            with DavClient(self.base_url) as client:
                while not self.stop.is_set() and self.polls < MAX_POLLS:
                    self.apply(client.sync(CONTACTS, self.token))
                    self.polls += 1
                    time.sleep(0.01)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self) -> set[str]:
        """Stop, then one last sync: the view must now be the server's."""
        self.stop.set()
        self.join(THREAD_TIMEOUT)
        assert not self.is_alive(), "the poller did not stop"
        if self.error is not None:
            raise self.error
        with DavClient(self.base_url) as client:
            self.apply(client.sync(CONTACTS, self.token))
        return self.view


def increment(client: DavClient, href: str) -> int:
    """Optimistic read-modify-write of the counter in a hot card; returns attempts used."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        current = client.get(href)
        assert current.status_code == 200, current.text
        uid = next(line[4:] for line in current.text.splitlines() if line.startswith("UID:"))
        note = next(line[5:] for line in current.text.splitlines() if line.startswith("NOTE:"))
        body = card(uid, "Hot Card", note=str(int(note) + 1))
        answer = client.put(href, body, if_match=current.headers["etag"])
        if answer.is_success:
            return attempt
        assert answer.status_code == 412, (answer.status_code, answer.text)
    raise AssertionError(f"no increment of {href} after {MAX_ATTEMPTS} attempts")


def test_two_servers_on_one_postgresql_database_lose_nothing(backend: str, tmp_path: Path) -> None:
    if backend != "postgresql":
        pytest.skip(
            "several kmdav processes share one database only on PostgreSQL "
            "(an SQLite file belongs to one host; --workers covers processes there)"
        )
    run = uuid.uuid4().hex[:8]
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    second_dir.mkdir()
    with throwaway_database(backend, tmp_path) as url, live_server(first_dir, url) as first:
        shutil.copy(first_dir / "secret_key", second_dir / "secret_key")
        with live_server(second_dir, url, init=False) as second:
            servers = [first.url, second.url]
            writers = WRITERS_PER_SERVER * len(servers)
            expected: dict[str, str | None] = {}  # href -> final body, None when deleted
            expected_lock = threading.Lock()

            def remember(href: str, body: str | None) -> None:
                with expected_lock:
                    expected[href] = body

            hot = [f"{CONTACTS}hot-{run}-{n}.vcf" for n in range(HOT_CARDS)]
            with DavClient(first.url) as dav:
                for n, href in enumerate(hot):
                    made = dav.put(href, card(f"hot-{run}-{n}", "Hot Card", note="0"))
                    assert made.status_code == 201, made.text

            pollers = [Poller(base) for base in servers]
            for poller in pollers:
                poller.start()

            # Phase 1: every writer creates its own cards, half through each server.
            etags: dict[str, str] = {}

            def create_cards(writer: int) -> None:
                with DavClient(servers[writer % 2]) as client:
                    for k in range(CARDS_PER_WRITER):
                        uid = f"two-{run}-{writer}-{k}"
                        href = f"{CONTACTS}{uid}.vcf"
                        body = card(uid, f"Person W{writer}K{k}")
                        answer = client.put(href, body, if_none_match=True)
                        assert answer.status_code == 201, (href, answer.status_code, answer.text)
                        with expected_lock:
                            etags[href] = answer.headers["etag"]
                        remember(href, body)

            in_threads(writers, create_cards)

            with DavClient(first.url) as dav:
                middle = dav.sync(CONTACTS)
            assert middle.present == set(expected) | set(hot)

            # Phase 2: updates and deletes through the *other* server, new cards,
            # and read-modify-write increments of shared hot cards.
            touched: set[str] = set(hot)

            def change_cards(writer: int) -> None:
                with DavClient(servers[(writer + 1) % 2]) as client:
                    for k in range(CARDS_PER_WRITER):
                        uid = f"two-{run}-{writer}-{k}"
                        href = f"{CONTACTS}{uid}.vcf"
                        etag = etags[href]
                        if k % 5 == 0:
                            body = card(uid, f"Person W{writer}K{k}", note="updated")
                            answer = client.put(href, body, if_match=etag)
                            assert answer.status_code in (200, 204), (href, answer.status_code)
                            etag = answer.headers["etag"]
                            remember(href, body)
                        if k % 7 == 0:
                            answer = client.delete(href, if_match=etag)
                            assert answer.status_code in (200, 204), (href, answer.status_code)
                            remember(href, None)
                        for n, hot_href in enumerate(hot):
                            if k == 10 * (n + 1) or k == 10 * (n + 1) + 5:
                                increment(client, hot_href)
                    for k in range(NEW_PER_WRITER):
                        uid = f"two-{run}-{writer}-new{k}"
                        href = f"{CONTACTS}{uid}.vcf"
                        body = card(uid, f"Newcomer W{writer}K{k}")
                        answer = client.put(href, body, if_none_match=True)
                        assert answer.status_code == 201, (href, answer.status_code)
                        remember(href, body)
                    for hot_href in hot:
                        increment(client, hot_href)

            in_threads(writers, change_cards)
            for writer in range(writers):
                for k in range(CARDS_PER_WRITER):
                    if k % 5 == 0 or k % 7 == 0:
                        touched.add(f"{CONTACTS}two-{run}-{writer}-{k}.vcf")
                touched |= {
                    f"{CONTACTS}two-{run}-{writer}-new{k}.vcf" for k in range(NEW_PER_WRITER)
                }
            increments = writers * (INCREMENTS_PER_WRITER)
            hot_bodies = {
                href: card(f"hot-{run}-{n}", "Hot Card", note=str(increments))
                for n, href in enumerate(hot)
            }
            expected.update(hot_bodies)

            views = [poller.finish() for poller in pollers]
            alive = {href for href, body in expected.items() if body is not None}
            gone = {href for href, body in expected.items() if body is None}
            assert len(alive) == writers * (CARDS_PER_WRITER + NEW_PER_WRITER) + HOT_CARDS - len(
                gone
            )

            # Nothing lost: every card holds its last content on both servers.
            cards = sorted(expected.items())

            def check_cards(index: int) -> None:
                base = servers[index % 2]
                with DavClient(base) as client:
                    for href, body in cards[index // 2 :: WRITERS_PER_SERVER]:
                        answer = client.get(href)
                        if body is None:
                            assert answer.status_code == 404, (base, href, answer.status_code)
                        else:
                            assert answer.status_code == 200, (base, href, answer.status_code)
                            assert answer.text == body, (base, href)

            in_threads(writers, check_cards)
            full = []
            for base in servers:
                with DavClient(base) as client:
                    full.append(client.sync(CONTACTS))
                    incremental = client.sync(CONTACTS, middle.token)
                    # Exactly the hrefs changed after the middle token, deletions as 404.
                    assert set(incremental.changes) == touched, (
                        base,
                        sorted(set(incremental.changes) ^ touched),
                    )
                    assert incremental.deleted == gone
                    assert incremental.token == full[-1].token
            assert full[0].token == full[1].token
            assert full[0].present == full[1].present == alive
            # A client that kept polling through either server saw everything.
            assert views[0] == views[1] == alive
            assert all(poller.polls > 0 for poller in pollers)


# -- 4. readers never wait behind a writer -----------------------------------------

#: A large contact photo (3 MB of base64), folded at 75 octets as clients send it.
PHOTO_BYTES = 3_000_000
#: Create, then replace: each upload keeps the writer busy for seconds.
UPLOADS = 2
READERS = 2
#: Generous: this catches a reader queued behind the writer, not slowness.
READ_BOUND = 10.0
MAX_READS = 2000


@pytest.mark.parametrize("server", [1], indirect=True, ids=["1-worker"])
def test_reads_keep_answering_during_large_uploads(server: LiveServer) -> None:
    small_uid, big_uid = new_uid("small"), new_uid("big")
    small_href, big_href = f"{CONTACTS}{small_uid}.vcf", f"{CONTACTS}{big_uid}.vcf"
    small_body = card(small_uid, "Small Person")
    photos = [photo_card(big_uid, PHOTO_BYTES, variant) for variant in range(UPLOADS)]
    with DavClient(server.url) as dav:
        assert dav.put(small_href, small_body).status_code == 201

    uploading = threading.Event()
    writer_done = threading.Event()
    lock = threading.Lock()
    durations: list[tuple[str, float]] = []
    during_upload = [0]

    def write() -> list[int]:
        statuses = []
        try:
            with DavClient(server.url) as client:
                for photo in photos:
                    uploading.set()
                    statuses.append(client.put(big_href, photo).status_code)
        finally:
            uploading.clear()
            writer_done.set()
        return statuses

    def read() -> int:
        reads = 0
        with DavClient(server.url, timeout=READ_BOUND + 20) as client:
            assert uploading.wait(30)
            while not writer_done.is_set() and reads < MAX_READS:
                for kind in ("GET", "PROPFIND"):
                    overlapped = uploading.is_set()
                    started = time.monotonic()
                    if kind == "GET":
                        answer = client.get(small_href)
                        assert answer.status_code == 200, answer.text
                        assert answer.text == small_body
                    else:
                        answer = client.propfind(CONTACTS)
                        assert answer.status_code == 207, answer.text
                        assert small_href in answer.text
                    elapsed = time.monotonic() - started
                    with lock:
                        durations.append((kind, elapsed))
                        during_upload[0] += overlapped and uploading.is_set()
                    reads += 1
                time.sleep(0.02)
        return reads

    results = in_threads(READERS + 1, lambda index: write() if index == 0 else read())
    assert results[0] == [201] + [204] * (UPLOADS - 1), results[0]
    assert durations, "no read ran"
    kind, slowest = max(durations, key=lambda entry: entry[1])
    assert slowest < READ_BOUND, f"a {kind} took {slowest:.1f} s while a large card was uploaded"
    assert during_upload[0] > 0, "no read ran while an upload was in flight"
    with DavClient(server.url) as dav:
        assert dav.get(big_href).text == photos[-1]


# -- 5. listings stay consistent while cards change --------------------------------

LISTED_CARDS = 30
CHURN_ROUNDS = 3


def etag_of(body: str) -> str:
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest() + '"'


@pytest.mark.parametrize("server", [1], indirect=True, ids=["1-worker"])
def test_listing_with_content_length_while_cards_change(server: LiveServer) -> None:
    """A Depth 1 PROPFIND for getetag and getcontentlength answers 207 while
    cards are updated and deleted, and each length belongs to the listed ETag
    (one snapshot per request, not head from one and body from another)."""
    prefix = new_uid("churn")
    hrefs = [f"{CONTACTS}{prefix}-{n}.vcf" for n in range(LISTED_CARDS)]
    length_of: dict[str, int] = {}  # ETag -> length of its body in bytes

    def body_for(n: int, version: int) -> str:
        body = card(f"{prefix}-{n}", f"Churn Person{n}", note=f"v{version}" + "x" * version)
        length_of[etag_of(body)] = len(body.encode("utf-8"))
        return body

    with DavClient(server.url) as dav:
        for n, href in enumerate(hrefs):
            assert dav.put(href, body_for(n, 0)).status_code == 201
    done = threading.Event()

    def churn() -> None:
        try:
            with DavClient(server.url) as client:
                for version in range(1, CHURN_ROUNDS + 1):
                    for n, href in enumerate(hrefs):
                        if n % 2:
                            assert client.delete(href).status_code in (200, 204)
                            assert client.put(href, body_for(n, version)).status_code == 201
                        else:
                            assert client.put(href, body_for(n, version)).status_code == 204
        finally:
            done.set()

    def list_repeatedly() -> list[str]:
        problems: list[str] = []
        with DavClient(server.url) as client:
            for _ in range(MAX_READS):
                if done.is_set():
                    break
                answer = client.propfind(CONTACTS, props="D:getetag D:getcontentlength")
                if answer.status_code != 207:
                    problems.append(f"PROPFIND answered {answer.status_code}")
                    continue
                for href, props in parse_props(answer.text).items():
                    if href.startswith(CONTACTS + prefix):
                        etag, length = props.get("getetag"), props.get("getcontentlength")
                        if etag not in length_of or length != str(length_of[etag]):
                            problems.append(f"{href}: ETag {etag} with length {length}")
        return problems

    results = in_threads(3, lambda index: churn() if index == 0 else list_repeatedly())
    problems = [problem for result in results[1:] if result for problem in result]
    assert not problems, problems[:10]
