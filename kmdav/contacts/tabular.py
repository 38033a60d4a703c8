"""Reading import files row by row: CSV, XLSX and vCard (pure, no database).

Every reader streams: it holds one row (or one card) at a time, whatever the
file's size, so an import of a million rows needs no more memory than one of
ten.

- CSV: the encoding is UTF-8 (with or without BOM) when the whole file
  decodes as UTF-8, else Windows-1252 (what Excel writes on a German
  Windows); the delimiter is the one of ``;``, ``,`` and tab that occurs
  most often outside quotes in the header line.  Quoted fields may hold
  delimiters, doubled quotes and line breaks (RFC 4180 2.6/2.7).
- XLSX: the first worksheet through openpyxl's read-only mode (rows are
  parsed from the zip stream as they are read); dates become ``YYYY-MM-DD``.
- vCard: cards are cut out between ``BEGIN:VCARD`` and ``END:VCARD`` lines
  and kept exactly as they are in the file (the import stores them as
  received).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from kmdav.errors import ValidationError

#: Read this much of a file at a time (detection, copying).
CHUNK = 1024 * 1024
FORMATS = ("csv", "xlsx", "vcf")
DELIMITERS = (";", ",", "\t")
#: A field longer than this is refused (the csv module's own guard).
MAX_FIELD = 1024 * 1024
#: More columns than this is not an address list.
MAX_COLUMNS = 500

csv.field_size_limit(MAX_FIELD)


@dataclass(frozen=True)
class FileShape:
    """What the readers need to know about an uploaded file."""

    format: str
    encoding: str = "utf-8"
    delimiter: str = ","


def format_of(filename: str, head: bytes) -> str:
    """``csv``, ``xlsx`` or ``vcf`` from the name, checked against the content."""
    name = filename.lower().rsplit(".", 1)
    suffix = name[1] if len(name) == 2 else ""
    if head.startswith(b"PK\x03\x04"):
        if suffix in {"xlsx", "xlsm", ""}:
            return "xlsx"
        raise ValidationError(
            "This file is a zip archive; only .xlsx workbooks are read.", field="file"
        )
    if suffix in {"xlsx", "xlsm"}:
        raise ValidationError("This file is not an Excel workbook (.xlsx).", field="file")
    if suffix == "xls":
        raise ValidationError(
            "Old Excel files (.xls) cannot be read; save the sheet as .xlsx or CSV.",
            field="file",
        )
    text_head = head.lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if suffix in {"vcf", "vcard"} or text_head.startswith(b"BEGIN:VCARD"):
        return "vcf"
    if b"\x00" in head:
        raise ValidationError("This does not look like a CSV, XLSX or vCard file.", field="file")
    return "csv"


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` when every byte decodes, else ``cp1252``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as source:
        first = source.read(CHUNK)
        if first.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        chunk = first
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = source.read(CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _header_line(path: Path, encoding: str) -> str:
    """The first record's text (quoted line breaks included), for sniffing."""
    with path.open(encoding=encoding, errors="replace", newline="") as source:
        text = source.read(64 * 1024)
    line, quoted = [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            break
        if not quoted and char != '"':
            line.append(char)
    return "".join(line)


def detect_delimiter(path: Path, encoding: str) -> str:
    header = _header_line(path, encoding)
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def shape_of(path: Path, filename: str) -> FileShape:
    """Detect format, encoding and delimiter of an uploaded file."""
    with path.open("rb") as source:
        head = source.read(4096)
    kind = format_of(filename, head)
    if kind == "xlsx":
        return FileShape("xlsx")
    encoding = detect_encoding(path)
    if kind == "vcf":
        return FileShape("vcf", encoding)
    return FileShape("csv", encoding, detect_delimiter(path, encoding))


# -- rows ----------------------------------------------------------------------


def _clean(values: list[str]) -> list[str]:
    if len(values) > MAX_COLUMNS:
        raise ValidationError(
            "The file has more than %(most)d columns.", field="file", most=MAX_COLUMNS
        )
    return [value.strip() for value in values]


def csv_rows(source: IO[str], delimiter: str) -> Iterator[list[str]]:
    """Records of an open text stream (opened with ``newline=""``)."""
    try:
        for record in csv.reader(source, delimiter=delimiter, quotechar='"', strict=False):
            yield _clean(record)
    except csv.Error as error:
        raise ValidationError(
            "The CSV file cannot be read: %(reason)s", field="file", reason=str(error)
        ) from error


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export of it would hold."""
    text = ""
    if isinstance(value, datetime):
        midnight = value.time() == time(0, 0)
        text = value.date().isoformat() if midnight else value.isoformat(" ", "minutes")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        text = str(int(value))
    elif value is not None:
        text = str(value)
    return text


def xlsx_rows(path: Path) -> Iterator[list[str]]:
    """Rows of the first worksheet; trailing empty cells are dropped."""
    from openpyxl import load_workbook

    # A file object: openpyxl would judge a path by its name, and uploads have none.
    with path.open("rb") as source:
        try:
            workbook = load_workbook(source, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a broken file
            raise ValidationError(
                "The Excel file cannot be read: %(reason)s", field="file", reason=str(error)
            ) from error
        try:
            sheet = workbook.worksheets[0]
            for row in sheet.iter_rows(values_only=True):
                values = [cell_text(value) for value in row]
                while values and not values[-1]:
                    values.pop()
                yield _clean(values)
        finally:
            workbook.close()


def table_rows(path: Path, shape: FileShape) -> Iterator[list[str]]:
    """Every row of a CSV or XLSX file, the header first."""
    if shape.format == "xlsx":
        yield from xlsx_rows(path)
        return
    with path.open(encoding=shape.encoding, newline="") as source:
        yield from csv_rows(source, shape.delimiter)


def vcards(source: IO[str]) -> Iterator[str]:
    """Each ``BEGIN:VCARD`` ... ``END:VCARD`` block of a text stream, as it is.

    Lines keep their own endings; text between cards is ignored.  A nested
    card (the old AGENT property) stays inside its outer card.
    """
    lines: list[str] = []
    depth = 0
    for line in source:
        keyword = line.strip().upper()
        if keyword == "BEGIN:VCARD":
            depth += 1
        if depth:
            lines.append(line)
            if sum(len(part) for part in lines) > MAX_FIELD * 20:
                raise ValidationError("A card in the file is larger than 20 MB.", field="file")
        if keyword == "END:VCARD" and depth:
            depth -= 1
            if depth == 0:
                yield "".join(lines)
                lines = []


def vcard_texts(path: Path, shape: FileShape) -> Iterator[str]:
    with path.open(encoding=shape.encoding, newline="") as source:
        yield from vcards(source)


def count_records(path: Path, shape: FileShape) -> int:
    """Data rows (CSV, XLSX: without the header, empty ones included) or
    cards, read once: the import's progress counts the same records."""
    if shape.format == "vcf":
        return sum(1 for _ in vcard_texts(path, shape))
    return max(0, sum(1 for _ in table_rows(path, shape)) - 1)
