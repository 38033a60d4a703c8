"""The import assistant and exports on a live server: upload (streamed,
CSRF first, size limit), mapping, preview, the job, report, rejected rows,
undo, and what a phone sees over CardDAV."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.databases import throwaway_database
from tests.davclient import DavClient
from tests.live import live_server
from tests.web.conftest import WebClient, WebServer, unique

pytestmark = pytest.mark.live

#: Small, so the limit test needs no big upload.
UPLOAD_LIMIT = 300_000


@pytest.fixture(scope="module")
def web_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    workdir = tmp_path_factory.mktemp("kmdav-import")
    env = {"KMDAV_WEB__UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT)}
    with (
        throwaway_database(backend, workdir) as url,
        live_server(workdir / "data", url, extra_env=env) as live,
    ):
        yield WebServer(live, url)


def upload(
    client: WebClient,
    data: bytes,
    name: str = "kontakte.csv",
    *,
    csrf: bool = True,
    file_first: bool = False,
) -> httpx.Response:
    token = client.token() if csrf else "wrong"
    fields = [("csrf_token", (None, token))]
    file = [("file", (name, data, "text/csv"))]
    parts = file + fields if file_first else fields + file
    return client.http.post("/web/contacts/import", files=parts)


def import_id(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/web/contacts/import/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def settings_form(page: str) -> dict[str, Any]:
    """The mapping form as the page fills it in (selected options)."""
    form: dict[str, Any] = {}
    for select in re.finditer(r'<select id="f-([^"]+)" name="([^"]+)".*?</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(0))
        form[select.group(2)] = chosen.group(1) if chosen else ""
    return form


def wait_until_finished(client: WebClient, import_no: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(f"/web/contacts/import/{import_no}").text
        if 'data-job-finished="no"' not in page and (
            'data-job-finished="yes"' in page or '<h2 id="report-title">' in page
        ):
            return page
        assert time.monotonic() < deadline, page
        time.sleep(0.2)


def rows_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))


CSV_FILE = (
    "Vorname;Nachname;Firma;E-Mail;Mobil;Ort;Geburtstag\r\n"
    "Ida;Import;Importhaus;ida@import.example;+43 660 1;Wien;31.12.1980\r\n"
    "Bad;Mail;;kein-at-zeichen;;;\r\n"
    "Otto;Ohne;;otto@import.example;;Graz;1.1.1990\r\n"
).encode("cp1252")


def test_the_whole_wizard_and_what_the_phone_sees(web_server: WebServer, admin: WebClient) -> None:
    page = admin.get("/web/contacts/import")
    assert page.status_code == 200
    assert "How to prepare the file" in page.text
    sample = admin.get("/web/contacts/import/sample.csv")
    assert sample.headers["content-type"].startswith("text/csv")
    assert rows_csv(sample.text)[0][:3] == ["Vorname", "Nachname", "Firma"]

    number = import_id(upload(admin, CSV_FILE))
    detail = admin.get(f"/web/contacts/import/{number}")
    assert detail.status_code == 200
    form = settings_form(detail.text)
    # Suggested from the German headers.
    assert [form[f"column-{i}"] for i in range(7)] == [
        "given_name",
        "family_name",
        "company",
        "email",
        "mobile",
        "city",
        "birthday",
    ]
    # The preview flags the bad row before anything is imported.
    assert "&#39;kein-at-zeichen&#39; is not an e-mail address." in detail.text
    book = web_server.query("SELECT id FROM dav_collections WHERE path = 'admin/contacts'")[0][0]
    form["collection"] = str(book)

    with DavClient(web_server.url) as phone:
        before = phone.sync("/dav/admin/contacts/")
        started = admin.post(f"/web/contacts/import/{number}", {**form, "step": "start"})
        assert started.status_code == 303
        report = wait_until_finished(admin, number)
        assert re.search(r"<dt>created</dt><dd data-count>2</dd>", report), report
        assert re.search(r"<dt>rejected</dt><dd data-count>1</dd>", report)
        after = phone.sync("/dav/admin/contacts/", before.token)
        assert len(after.present) == 2
        bodies = [phone.get(href).text for href in after.present]
        assert any("FN:Ida Import" in body and "BDAY:1980-12-31" in body for body in bodies)

        rejected = admin.get(f"/web/contacts/import/{number}/rejected.csv")
        assert rejected.status_code == 200
        rows = rows_csv(rejected.text)
        assert rows[0][:3] == ["Row", "Reasons", "Vorname"]
        assert rows[1][0] == "3"
        assert "is not an e-mail address" in rows[1][1]

        # Undo: the phone sees both cards go.
        assert admin.post(f"/web/contacts/import/{number}/undo", {}).status_code == 303
        done = wait_until_finished(admin, number)
        assert "undone" in done
        gone = phone.sync("/dav/admin/contacts/", after.token)
        assert gone.deleted == after.present


def test_the_csrf_token_is_checked_before_the_file_is_stored(
    web_server: WebServer, admin: WebClient
) -> None:
    folder = web_server.live.data_dir / "imports"
    before = sorted(folder.iterdir()) if folder.exists() else []
    assert upload(admin, CSV_FILE, csrf=False).status_code == 403
    assert upload(admin, CSV_FILE, file_first=True).status_code == 403
    after = sorted(folder.iterdir()) if folder.exists() else []
    assert after == before


def test_too_large_empty_and_unreadable_files_get_clear_errors(
    web_server: WebServer, admin: WebClient
) -> None:
    big = b"Vorname;Nachname\r\n" + b"Anna;Berg\r\n" * (UPLOAD_LIMIT // 10)
    refused = upload(admin, big)
    assert refused.status_code == 413
    assert "larger than 0.3 MB" in refused.text
    empty = upload(admin, b"")
    assert empty.status_code == 400
    assert "Choose a file to upload." in empty.text or "The file is empty." in empty.text
    binary = upload(admin, b"\x89PNG\r\n\x1a\n\x00\x00\x00", "photo.png")
    assert binary.status_code == 400
    assert "does not look like a CSV, XLSX or vCard file" in binary.text
    folder = web_server.live.data_dir / "imports"
    assert not any(p.stat().st_size > UPLOAD_LIMIT for p in folder.iterdir())


def test_another_users_import_is_not_found(
    web_server: WebServer, admin: WebClient, user: tuple[WebClient, str, str]
) -> None:
    number = import_id(upload(admin, CSV_FILE))
    other, _, _ = user
    assert other.get(f"/web/contacts/import/{number}").status_code == 404
    assert other.get(f"/web/contacts/import/{number}/rejected.csv").status_code == 404
    assert other.post(f"/web/contacts/import/{number}", {"step": "start"}).status_code == 404


def test_a_bad_mapping_is_refused_next_to_the_field(
    web_server: WebServer, admin: WebClient
) -> None:
    number = import_id(upload(admin, CSV_FILE, unique("k") + ".csv"))
    form = settings_form(admin.get(f"/web/contacts/import/{number}").text)
    form.update({"column-0": "email", "column-3": "email"})
    refused = admin.post(f"/web/contacts/import/{number}", {**form, "step": "start"})
    assert refused.status_code == 400
    assert "Two columns are mapped to the same field" in refused.text
    assert web_server.query("SELECT status FROM contact_imports WHERE id = :i", i=number)[0][0] == (
        "uploaded"
    )


def test_exports_stream_the_list_its_filters_and_a_selection(
    web_server: WebServer, admin: WebClient, user: tuple[WebClient, str, str]
) -> None:
    data = (
        b"Vorname;Nachname;E-Mail;Schlagworte\r\n"
        b"Erna;Export;erna@export.example;Exportiert\r\n"
        b"Egon;Export;egon@export.example;Exportiert\r\n"
    )
    number = import_id(upload(admin, data, "export.csv"))
    form = settings_form(admin.get(f"/web/contacts/import/{number}").text)
    assert (
        admin.post(f"/web/contacts/import/{number}", {**form, "step": "start"}).status_code == 303
    )
    wait_until_finished(admin, number)

    exported = admin.get("/web/contacts/export?format=csv&tag=Exportiert")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "content-length" not in exported.headers  # streamed
    rows = rows_csv(exported.text)
    assert [row[1] for row in rows[1:]] == ["Egon", "Erna"]  # the list's name order

    vcards = admin.get("/web/contacts/export?format=vcf&q=erna")
    assert vcards.text.count("BEGIN:VCARD") == 1
    assert "FN:Erna Export" in vcards.text

    ids = ",".join(
        str(r[0])
        for r in web_server.query(
            "SELECT id FROM contacts WHERE family_name = 'Export' ORDER BY id"
        )
    )
    workbook = admin.get(f"/web/contacts/export?format=xlsx&ids={ids}")
    assert workbook.status_code == 200
    assert workbook.content.startswith(b"PK")

    assert admin.get("/web/contacts/export?format=pdf").status_code == 400
    other, _, _ = user
    assert other.get("/web/contacts/export?format=csv").status_code == 403
