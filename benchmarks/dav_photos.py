#!/usr/bin/env python3
"""Large photos: does a PROPFIND for ETags slow down when cards carry 5 MB photos?

Radicale's issue #1893 reports 9 s for a PROPFIND of 200 contacts with large
photos.  This script starts each selected server on 127.0.0.1 (the same way
``dav_sync.py`` does, whose helpers it uses), fills an address book with M
plain cards, measures a Depth 1 PROPFIND for ``getetag`` + ``getcontenttype``,
then gives every card a photo of the given size and measures it again:

    .venv/bin/python benchmarks/dav_photos.py                      # 200 cards, 5 MB photos
    .venv/bin/python benchmarks/dav_photos.py --targets kmdav-sqlite --cards 50
    .venv/bin/python benchmarks/dav_photos.py --pg-url postgresql://127.0.0.1:5432/test

kmdav receives every photo card by PUT (each one timed).  Stock Radicale's
PUT parses a 5 MB card for about 11 s here (vobject's line joining is
quadratic in the folds of one property), so it gets only the first photo card
by PUT and the others are written into its storage folder, as ``dav_sync.py``
preloads it; its first PROPFIND afterwards reads and caches them all.

Every loop is bounded and every server started is stopped, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from dav_sync import (
    PROPFIND_BODY,
    VCARD_HEADERS,
    XML_HEADERS,
    BenchError,
    Server,
    add_target_options,
    bench_all,
    card_uid,
    chosen_targets,
    cpu_check,
    describe_request,
    expect_status,
    fmt,
    make_vcard,
    parse_xml,
    responses,
    running,
    timed,
)

PROPFIND_REPS = 10
#: The goal: the PROPFIND with photos within this factor of the plain one.
SLOWDOWN_GOAL = 1.5


def photo_card(index: int, photo_bytes: int) -> str:
    """Card ``index`` of ``dav_sync.py`` with a JPEG-like PHOTO of about
    ``photo_bytes`` once base64-encoded, folded at 75 octets."""
    raw = b"\xff\xd8\xff\xe0" + random.Random(index).randbytes(photo_bytes * 3 // 4)
    line = "PHOTO;ENCODING=b;TYPE=JPEG:" + base64.b64encode(raw).decode("ascii")
    # ASCII: 75 characters on the first line, 74 after each folding space.
    folded = "\r\n ".join([line[:75], *(line[i : i + 74] for i in range(75, len(line), 74))])
    return make_vcard(index, photos=False).replace("END:VCARD\r\n", folded + "\r\nEND:VCARD\r\n")


def propfinds(
    server: Server, client: httpx.Client, cards: int, timeout: float
) -> list[float] | None:
    """PROPFIND_REPS timings in ms; None when the first one did not answer
    within ``timeout`` seconds (the server is stopped afterwards anyway).

    The file system's writeback of what the PUTs wrote (1 GB with the
    defaults) is flushed first, so it does not compete with the PROPFINDs.
    """
    os.sync()
    times = []
    for _ in range(PROPFIND_REPS):
        try:
            response, ms = timed(
                lambda: client.request(
                    "PROPFIND",
                    server.addressbook,
                    content=PROPFIND_BODY,
                    headers={**XML_HEADERS, "Depth": "1"},
                    timeout=timeout,
                )
            )
        except httpx.ReadTimeout:
            if times:
                raise
            return None
        expect_status(server, response, (207,), "PROPFIND Depth 1")
        found = len(responses(parse_xml(server, response, "PROPFIND"))) - 1
        if found != cards:
            raise BenchError(f"{server.name}: PROPFIND listed {found} cards, expected {cards}")
        times.append(ms)
    return times


def run_workload(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    hrefs = [f"{server.addressbook}{card_uid(i)}.vcf" for i in range(args.cards)]
    with server.client(timeout=600.0) as client:
        for index, href in enumerate(hrefs):
            response = client.put(
                href, content=make_vcard(index, photos=False).encode(), headers=VCARD_HEADERS
            )
            expect_status(server, response, (201, 204), f"PUT of plain card {index}")
        plain = propfinds(server, client, args.cards, args.propfind_timeout)
        if plain is None:
            raise BenchError(f"{server.name}: a plain PROPFIND took over {args.propfind_timeout} s")
        figures["plain_ms"] = statistics.median(plain)

        by_put = len(hrefs) if server.kind == "kmdav" else 1
        put_ms = []
        for index in range(by_put):
            body = photo_card(index, args.photo_bytes).encode("utf-8")
            response, ms = timed(
                lambda body=body, href=hrefs[index]: client.put(
                    href, content=body, headers=VCARD_HEADERS
                )
            )
            expect_status(server, response, (201, 204), f"PUT of photo card {index}")
            put_ms.append(ms)
        if by_put < len(hrefs):
            root = server.workdir / "collections" / "collection-root"
            folder = root / server.addressbook.strip("/")
            for index in range(by_put, len(hrefs)):
                (folder / f"{card_uid(index)}.vcf").write_text(
                    photo_card(index, args.photo_bytes), encoding="utf-8", newline=""
                )
        figures["photo_put_ms"] = statistics.median(put_ms)
        figures["photo_puts"] = len(put_ms)

        figures["peak_rss_mb"] = server.peak_rss_mb()[0]
        with_photos = propfinds(server, client, args.cards, args.propfind_timeout)
        if with_photos is None:
            figures["timed_out"] = True
            return figures
        figures["photos_first_ms"] = with_photos[0]
        figures["photos_ms"] = statistics.median(with_photos)
        figures["slowdown"] = figures["photos_ms"] / figures["plain_ms"]
        figures["peak_rss_mb"] = server.peak_rss_mb()[0]
    return figures


def bench_target(name: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"target": name}
    workdir = Path(tempfile.mkdtemp(prefix=f"kmdav-photos-{name}-"))
    print(f"[{name}] starting (workdir {workdir})", file=sys.stderr, flush=True)
    try:
        with running(name, workdir, pg_url=args.pg_url) as server:
            result["version"] = server.version
            result["figures"] = run_workload(server, args)
    except BenchError as exc:
        result["error"] = str(exc)
    except httpx.HTTPError as exc:
        result["error"] = f"{name}: {exc.__class__.__name__} on {describe_request(exc)}: {exc}"
    finally:
        if "error" in result:
            print(f"[{name}] FAILED: {result['error']}", file=sys.stderr, flush=True)
        shutil.rmtree(workdir, ignore_errors=True)
    return result


ROWS = (
    ("plain_ms", "PROPFIND, plain cards (median)", "ms"),
    ("photo_put_ms", "PUT of a card with a photo (median)", "ms"),
    ("photo_puts", "   photo cards sent by PUT", ""),
    ("photos_first_ms", "PROPFIND with photos, first", "ms"),
    ("photos_ms", "PROPFIND with photos (median)", "ms"),
    ("slowdown", "   with photos / plain", "x"),
    ("peak_rss_mb", "peak RSS of the server", "MB"),
)


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    names = [r["target"] for r in results]
    header = ["metric", "unit", *names]
    rows = []
    for key, label, unit in ROWS:
        row = [label, unit]
        for result in results:
            figures = result.get("figures")
            value = figures.get(key) if figures else None
            if figures is None:
                cell = "FAILED"
            elif value is None and figures.get("timed_out") and key.startswith(("photos", "slow")):
                cell = f"> {args.propfind_timeout:g} s"
            else:
                cell = fmt(value) if unit else str(value)
            if key == "slowdown" and value is not None and result["target"] != "radicale":
                cell += "" if value <= SLOWDOWN_GOAL else " *"
            row.append(cell)
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            + [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        ).rstrip()

    lines = [
        f"Large photos: {args.cards} cards, then each with a ~{args.photo_bytes / 1e6:g} MB "
        f"PHOTO; PROPFIND Depth 1 for getetag + getcontenttype, {PROPFIND_REPS} times each",
        f"load average (1 min) at the start: {os.getloadavg()[0]:.2f}; CPU check "
        f"(a 10-million-step Python loop, as in dav_sync.py): {cpu_check():.2f} s",
        *[f"  {r['target']}: {r['version']}" for r in results if r.get("version")],
        "",
        line(header),
        line(["-" * w for w in widths]),
        *[line(r) for r in rows],
        "",
        f"Goal (issue #3): kmdav's PROPFIND with photos within {SLOWDOWN_GOAL}x of the plain "
        "one (* marks a miss).",
    ]
    for result in results:
        if "error" in result:
            lines += ["", f"{result['target']} FAILED:", result["error"]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=200, help="cards in the book (default 200)")
    parser.add_argument(
        "--photo-mb", type=float, default=5.0, help="size of each photo, base64 (default 5)"
    )
    add_target_options(parser)
    parser.add_argument(
        "--propfind-timeout",
        type=float,
        default=120.0,
        help="seconds a PROPFIND may take before the target is reported as timed out "
        "(default 120; stock Radicale parses each 5 MB card for ~11 s on first sight)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.cards <= 2000:
        parser.error("--cards must be between 1 and 2000")
    if not 0.01 <= args.photo_mb <= 19:
        parser.error("--photo-mb must be between 0.01 and 19 (kmdav's default body limit is 20 MB)")
    args.photo_bytes = int(args.photo_mb * 1_000_000)
    args.targets = chosen_targets(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return bench_all(
        args.targets,
        lambda name: bench_target(name, args),
        lambda results: print(render(results, args)),
    )


if __name__ == "__main__":
    raise SystemExit(main())
