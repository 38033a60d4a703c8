"""The import assistant in a real browser (Debian's chromium via Playwright).

A CSV of 20 rows, exactly 5 of them broken in different ways (bad e-mail
address, impossible date, no name at all, a bad phone number, a line with a
quoted line break and a bad address), is uploaded through the form; the
mapping page shows the German headers mapped; the import runs with its
progress bar; the report says 15 created and 5 rejected, and the rejected
rows download holds exactly those 5 rows with their reasons.  Screenshots
land in ``test-artifacts/``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import ADMIN, CHROMIUM, WIDTHS, WebServer, screenshots

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make system-packages)"
    ),
]

GOOD = [
    f"Person{i};Browser{i};Firma {i};person{i}@browser.example;+43 1 {1000 + i};Wien;1.{1 + i % 12}.1980"
    for i in range(15)
]
#: (row text, what the reason says); the row numbers follow from the order below.
BROKEN = [
    ("Bad;Mail;;kein-at;;;", "is not an e-mail address"),
    ("Bad;Date;;date@browser.example;;;31.02.1980", "is not a date"),
    (";;;;;Graz;", "has no name, company or e-mail address"),
    ("Bad;Phone;;phone@browser.example;call me maybe;;", "is not a phone number"),
    ('Bad;"Zwei\r\nZeilen";;zwei@@browser.example;;;', "is not an e-mail address"),
]
HEADER = "Vorname;Nachname;Firma;E-Mail;Telefon;Ort;Geburtstag"


def _file() -> tuple[bytes, list[int]]:
    """The CSV (Windows-1252) and the spreadsheet row numbers of the broken rows."""
    lines = [HEADER]
    broken_rows = []
    broken = iter(BROKEN)
    for index, good in enumerate(GOOD):
        if index % 3 == 1:
            lines.append(next(broken)[0])
            broken_rows.append(len(lines))
        lines.append(good)
    assert len(broken_rows) == 5
    return ("\r\n".join(lines) + "\r\n").encode("cp1252"), broken_rows


def test_a_csv_with_five_broken_rows_reports_exactly_those(
    web_server: WebServer, browser: Browser, tmp_path: Path
) -> None:
    data, broken_rows = _file()
    path = tmp_path / "kontakte.csv"
    path.write_bytes(data)
    context = browser.new_context(
        viewport={"width": WIDTHS["desktop"], "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    try:
        page.goto(web_server.url + "/web/login")
        page.get_by_label("User name or e-mail").fill(ADMIN[0])
        page.get_by_label("Password").fill(ADMIN[1])
        page.get_by_role("button", name="Log in").click()

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
        expect(page.get_by_role("heading", name="How to prepare the file")).to_be_visible()
        screenshots(page, "contacts-import")
        page.get_by_label("CSV, XLSX or vCard file").set_input_files(str(path))
        page.get_by_role("button", name="Upload and continue").click()

        # The German headers are mapped; the preview already flags row 3.
        expect(page.get_by_label("Field for the column Vorname")).to_have_value("given_name")
        expect(page.get_by_label("Field for the column E-Mail")).to_have_value("email")
        expect(page.get_by_label("Field for the column Geburtstag")).to_have_value("birthday")
        expect(page.locator(".import-preview")).to_contain_text("is not an e-mail address")
        screenshots(page, "contacts-import-mapping")
        page.get_by_role("button", name="Start the import").click()

        # The progress bar polls until the job ends, then the page reloads.
        expect(page.get_by_role("heading", name="Report")).to_be_visible(timeout=60_000)
        counts = page.locator(".import-counts")
        expect(counts).to_contain_text("created")
        created = page.locator(".import-counts dt", has_text="created").locator("+ dd")
        rejected = page.locator(".import-counts dt", has_text="rejected").locator("+ dd")
        expect(created).to_have_text("15")
        expect(rejected).to_have_text("5")
        screenshots(page, "contacts-import-report")

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download the 5 rejected rows").click()
        download = download_info.value
        with Path(download.path()).open(encoding="utf-8-sig", newline="") as saved:
            text = saved.read()
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        assert rows[0][:2] == ["Row", "Reasons"]
        assert [int(row[0]) for row in rows[1:]] == broken_rows
        for row, (_, reason) in zip(rows[1:], BROKEN, strict=True):
            assert reason in row[1], row
        # The row as it was, quoted line break included.
        assert rows[-1][2:4] == ["Bad", "Zwei\r\nZeilen"]
        # No script or style was refused (the progress bar's script is a file).
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        context.close()
