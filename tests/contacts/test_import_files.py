"""Reading import files (CSV, XLSX, vCard), header suggestions and row checks."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from kmdav.contacts import mapping, tabular
from kmdav.dav.vcard import LabeledValue
from kmdav.errors import ValidationError


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _rows(path: Path, name: str | None = None) -> tuple[tabular.FileShape, list[list[str]]]:
    shape = tabular.shape_of(path, name or path.name)
    return shape, list(tabular.table_rows(path, shape))


def test_utf8_with_bom_and_semicolons(tmp_path: Path) -> None:
    text = "Vorname;Nachname;Straße\r\nJürgen;Groß;Hauptstraße 1\r\n"
    path = _write(tmp_path, "a.csv", b"\xef\xbb\xbf" + text.encode())
    shape, rows = _rows(path)
    assert (shape.encoding, shape.delimiter) == ("utf-8-sig", ";")
    assert rows == [["Vorname", "Nachname", "Straße"], ["Jürgen", "Groß", "Hauptstraße 1"]]


def test_utf8_without_bom_and_commas(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.csv", "First name,Last name\nZoë,Ørsted\n".encode())
    shape, rows = _rows(path)
    assert (shape.encoding, shape.delimiter) == ("utf-8", ",")
    assert rows[1] == ["Zoë", "Ørsted"]


def test_windows_1252_is_detected(tmp_path: Path) -> None:
    text = "Vorname;Nachname;Ort\r\nMaria;Müller;Köln € Süd\r\n"
    path = _write(tmp_path, "excel.csv", text.encode("cp1252"))
    shape, rows = _rows(path)
    assert (shape.encoding, shape.delimiter) == ("cp1252", ";")
    assert rows[1] == ["Maria", "Müller", "Köln € Süd"]


def test_a_late_non_utf8_byte_still_means_windows_1252(tmp_path: Path) -> None:
    lines = ["a,b"] + [f"x{i},y{i}" for i in range(200_000)] + ["Müller,Köln"]
    path = _write(tmp_path, "late.csv", "\n".join(lines).encode("cp1252"))
    assert tabular.detect_encoding(path) == "cp1252"


def test_quoted_fields_with_delimiters_quotes_and_line_breaks(tmp_path: Path) -> None:
    text = 'Name;Notiz;Firma\r\n"Doe; John";"Zeile 1\r\nZeile 2 mit ""Zitat""";"A, B"\r\nX;Y;Z\r\n'
    path = _write(tmp_path, "q.csv", text.encode())
    shape, rows = _rows(path)
    assert shape.delimiter == ";"
    assert rows[1] == ["Doe; John", 'Zeile 1\r\nZeile 2 mit "Zitat"', "A, B"]
    assert rows[2] == ["X", "Y", "Z"]
    assert tabular.count_records(path, shape) == 2


def test_a_quoted_semicolon_in_the_header_does_not_decide(tmp_path: Path) -> None:
    path = _write(tmp_path, "h.csv", b'"a;b",c,d\n1,2,3\n')
    assert tabular.shape_of(path, "h.csv").delimiter == ","


def test_xlsx_rows_and_cell_values(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Vorname", "Nachname", "Geburtstag", "PLZ", "Kundennummer", None])
    sheet.append(["Anna", "Berg", datetime(1980, 12, 31), 1010, 12345.0, None])
    sheet.append(["Ben", None, date(1990, 1, 2), "0043", 1.5])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    shape, rows = _rows(path)
    assert shape.format == "xlsx"
    assert rows == [
        ["Vorname", "Nachname", "Geburtstag", "PLZ", "Kundennummer"],
        ["Anna", "Berg", "1980-12-31", "1010", "12345"],
        ["Ben", "", "1990-01-02", "0043", "1.5"],
    ]


def test_vcf_cards_are_cut_out_exactly(tmp_path: Path) -> None:
    first = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nFN:A\r\nX-FOO;X=1:bar\r\n  folded\r\nEND:VCARD\r\n"
    )
    second = "BEGIN:VCARD\nVERSION:4.0\nUID:2\nFN:B\nEND:VCARD\n"
    path = _write(tmp_path, "all.vcf", (first + "\r\n" + second).encode())
    shape = tabular.shape_of(path, "all.vcf")
    assert shape.format == "vcf"
    assert list(tabular.vcard_texts(path, shape)) == [first, second]
    assert tabular.count_records(path, shape) == 2


@pytest.mark.parametrize(
    ("name", "head", "message"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 20, "Old Excel"),
        ("a.zip", b"PK\x03\x04rest", "zip archive"),
        ("fake.xlsx", b"Name,Mail\n", "not an Excel"),
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00", "does not look like"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, head: bytes, message: str) -> None:
    path = _write(tmp_path, name, head)
    with pytest.raises(ValidationError) as refused:
        tabular.shape_of(path, name)
    assert message in str(refused.value)


def test_a_broken_xlsx_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "b.xlsx", b"PK\x03\x04broken")
    shape = tabular.shape_of(path, "b.xlsx")
    with pytest.raises(ValidationError, match="Excel file cannot be read"):
        list(tabular.table_rows(path, shape))


_CELL = st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from('";,\r\n'))


@given(st.lists(st.lists(_CELL, min_size=2, max_size=2), min_size=1, max_size=5))
def test_csv_written_by_the_csv_module_reads_back(rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["a", "b"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        shape = tabular.shape_of(path, "p.csv")
        read = list(tabular.table_rows(path, shape))
    assert shape.delimiter == ";"
    # Values come back as written, stripped of surrounding white space.
    assert read == [["a", "b"], *([value.strip() for value in row] for row in rows)]


# -- mapping -------------------------------------------------------------------


def test_german_headers_are_suggested() -> None:
    headers = [
        "Vorname",
        "Nachname",
        "Firma",
        "E-Mail",
        "Telefon",
        "Mobil",
        "Straße",
        "PLZ",
        "Ort",
        "Land",
        "Geburtstag",
        "Notiz",
        "Schlagworte",
        "Position",
        "Sonstiges",
    ]
    assert mapping.suggest(headers) == [
        "given_name",
        "family_name",
        "company",
        "email",
        "phone",
        "mobile",
        "street",
        "postal_code",
        "city",
        "country",
        "birthday",
        "note",
        "tags",
        "title",
        "",
    ]


def test_english_headers_and_own_fields_are_suggested() -> None:
    own = [mapping.OwnField("KDNR", "Kundennummer"), mapping.OwnField("VIP", "VIP-Status")]
    headers = [
        "First Name",
        "Last Name",
        "Company",
        "Email Address",
        "Phone",
        "Mobile Phone",
        "Street",
        "ZIP",
        "City",
        "Country",
        "Birthday",
        "Notes",
        "Tags",
        "Job Title",
        "Kundennummer",
        "vip",
        "E-Mail",
    ]
    suggested = mapping.suggest(headers, own)
    assert suggested == [
        "given_name",
        "family_name",
        "company",
        "email",
        "phone",
        "mobile",
        "street",
        "postal_code",
        "city",
        "country",
        "birthday",
        "note",
        "tags",
        "title",
        "custom:KDNR",
        "custom:VIP",
        "",  # the second e-mail column is not taken twice
    ]


def test_check_mapping_refuses_unknown_and_doubled_targets() -> None:
    with pytest.raises(ValidationError, match="not a field"):
        mapping.check_mapping(["given_name", "nonsense"], [])
    with pytest.raises(ValidationError, match="same field"):
        mapping.check_mapping(["email", "email"], [])
    with pytest.raises(ValidationError, match="at least one"):
        mapping.check_mapping(["note", ""], [])
    assert mapping.check_mapping(["", "company"], []) == ["", "company"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("31.12.1980", "1980-12-31"), ("1.2.2001", "2001-02-01"), ("1980-12-31", "1980-12-31")],
)
def test_dates(text: str, expected: str) -> None:
    assert mapping.parse_date(text) == expected


@pytest.mark.parametrize("text", ["31.02.1980", "12/31/1980", "1980-13-01", "gestern", "31.12.80"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValidationError, match="is not a date"):
        mapping.parse_date(text)


def _number(raw: str) -> str:
    if not raw.strip().isdigit():
        raise ValidationError("%(value)r is not a whole number", value=raw)
    return raw.strip()


def test_rows_become_records_with_reasons() -> None:
    own = {"KDNR": mapping.OwnField("KDNR", "Kundennummer", _number)}
    columns = [
        "given_name",
        "family_name",
        "company",
        "email",
        "mobile",
        "street",
        "postal_code",
        "city",
        "birthday",
        "tags",
        "custom:KDNR",
        "",
    ]
    record, problems = mapping.read_row(
        [
            "Anna",
            "Berg",
            "ACME",
            "anna@example.com; a.berg@example.org",
            "+43 1",
            "Gasse 2",
            "1010",
            "Wien",
            "31.12.1980",
            "VIP, Kunde;VIP",
            "42",
            "ignored",
        ],
        columns,
        own,
    )
    assert problems == []
    assert record.kind == "person"
    assert record.emails == (
        LabeledValue("anna@example.com", "work"),
        LabeledValue("a.berg@example.org", "work"),
    )
    assert record.phones == (LabeledValue("+43 1", "cell"),)
    assert record.addresses[0].locality == "Wien"
    assert record.birthday == "1980-12-31"
    assert record.tags == ("VIP", "Kunde")
    assert record.custom == {"KDNR": "42"}

    record, problems = mapping.read_row(
        ["", "", "", "not-an-address", "", "", "", "", "30.02.1999", "", "4x2"], columns, own
    )
    texts = [problem.text() for problem in problems]
    assert texts == [
        "'not-an-address' is not an e-mail address.",
        "'30.02.1999' is not a date (write 31.12.1980 or 1980-12-31).",
        "Kundennummer: '4x2' is not a whole number",
    ]


def test_a_company_row_and_an_empty_row() -> None:
    record, problems = mapping.read_row(["ACME GmbH"], ["company"], {})
    assert (record.kind, record.display_name, problems) == ("company", "ACME GmbH", [])
    record, problems = mapping.read_row(["", "nur eine Notiz"], ["given_name", "note"], {})
    assert [p.text() for p in problems] == ["The row has no name, company or e-mail address."]
    record, _ = mapping.read_row(["Firma", "Eva"], ["kind", "given_name"], {})
    assert record.kind == "company"
