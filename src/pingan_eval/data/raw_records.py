"""The records of a raw CSV or XLSX file: header, rows as text, their row numbers.

:func:`csv_records` detects the encoding (:func:`detect_encoding`: UTF-8 with or without
a byte-order mark, else GB18030, the superset of GBK) and splits the text strictly, so an
unclosed quote cannot swallow the rest of the file; :func:`xlsx_records` reads the first
sheet, each cell as the text a user typed (:func:`cell_text`). Both skip blank records
but keep their row numbers. :func:`pingan_eval.data.readers.read_table` builds the table.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from pingan_eval.errors import DataError

__all__ = ["ENCODINGS", "Records", "cell_text", "csv_records", "detect_encoding",
           "xlsx_records"]

#: Encodings :func:`detect_encoding` can return, in the order they are tried.
ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")

#: Header, records, the row number of each record, blank rows after the header, encoding.
Records = tuple[list[str], list[list[str]], list[int], list[int], str]


def detect_encoding(data: bytes) -> str:
    """Return the encoding of CSV bytes: ``'utf-8-sig'``, ``'utf-8'`` or ``'gb18030'``.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    str
        A Python codec name that decodes ``data`` (GB18030 also decodes GBK files).

    Raises
    ------
    UnicodeDecodeError
        If the bytes are valid in none of the three encodings.

    Examples
    --------
    >>> detect_encoding("乡镇".encode("utf-8"))
    'utf-8'
    >>> detect_encoding(codecs.BOM_UTF8 + "乡镇".encode("utf-8"))
    'utf-8-sig'
    >>> detect_encoding("乡镇".encode("gbk"))
    'gb18030'
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data.decode("gb18030")  # raises when the file is not text in any supported encoding
        return "gb18030"
    return "utf-8"


def csv_records(path: Path) -> Records:
    """Header, records, their start lines, blank lines after the header, the encoding."""
    data = path.read_bytes()
    try:
        encoding = detect_encoding(data)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: unreadable: not UTF-8, GBK or GB18030 text "
                        f"(bad byte at offset {exc.start})") from None
    text = data.decode(encoding)
    # strict: an unclosed quote must not swallow the rest of the file into one cell
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    blank: list[int] = []
    try:
        last = 0
        for rec in reader:
            start, last = last + 1, reader.line_num
            if not rec or all(not cell.strip() for cell in rec):
                if header is not None:  # a blank line still counts in the line numbers
                    blank.append(start)
                continue
            if header is None:
                header = rec
            else:
                records.append(rec)
                lines.append(start)
    except csv.Error as exc:
        raise DataError(f"{path}: unreadable CSV near line {reader.line_num}: {exc}") from None
    if header is None:
        raise DataError(f"{path}: unreadable: the file is empty (no header row)")
    return header, records, lines, blank, encoding


def cell_text(value: object) -> str:
    """Text of an XLSX cell as a user would type it: ``25`` not ``25.0``, dates ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def xlsx_records(path: Path) -> Records:
    """Header, records, their sheet rows and blank rows after the header (first sheet)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: unreadable XLSX workbook: {exc}") from None
    try:
        ws = wb.worksheets[0]
        header: list[str] | None = None
        records: list[list[str]] = []
        lines: list[int] = []
        blank: list[int] = []
        for rownum, values in enumerate(ws.iter_rows(values_only=True), start=1):
            rec = [cell_text(v) for v in values]
            if all(not cell.strip() for cell in rec):
                if header is not None:
                    blank.append(rownum)
                continue
            if header is None:
                header = rec
            else:
                records.append(rec)
                lines.append(rownum)
    finally:
        wb.close()
    if header is None:
        raise DataError(f"{path}: unreadable: the first sheet is empty (no header row)")
    return header, records, lines, blank, "xlsx"
