"""The records of a raw CSV, XLSX or XLS file: header, rows as text, their row numbers.

:func:`csv_records` detects the encoding (:func:`detect_encoding`: UTF-8 with or without
a byte-order mark, else GB18030, the superset of GBK) and splits the text strictly, so an
unclosed quote cannot swallow the rest of the file (the error names the line it opened
on), and a stray quote that closes rows later cannot merge rows silently: each physical
line of such a record becomes its own row, reported in the records' stray-quote rows;
:func:`xlsx_records` reads the first sheet, each cell as the text a user typed
(:func:`cell_text`), and turns any failure of a damaged sheet into a DataError;
:func:`xls_records` does the same for an older ``.xls`` workbook (python-calamine). All
skip blank records but keep their row numbers. :func:`pingan_eval.data.readers.read_table`
builds the table.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import operator
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.errors import DataError

__all__ = ["ENCODINGS", "Records", "cell_text", "csv_records", "detect_encoding",
           "plain_csv", "read_records", "trim_empty_end", "xls_records", "xlsx_records"]

#: Encodings :func:`detect_encoding` can return, in the order they are tried.
ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")

#: Header (trailing empty cells dropped), records, the spreadsheet row of each record, blank
#: rows after the header, encoding, and the rows a stray quote had merged: row -> (column
#: where the quote opened, file line where it opened, file line where it closed).
Records = tuple[list[str], list[list[str]], list[int], list[int], str,
                dict[int, tuple[str, int, int]]]


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


def read_records(path: Path) -> Records:
    """The records of a ``.csv``, ``.xlsx`` or ``.xls`` file (by its suffix; anything else
    is read as CSV); an operating-system error is a DataError naming the file."""
    path = Path(path)
    reader = {".xlsx": xlsx_records, ".xls": xls_records}.get(path.suffix.lower(), csv_records)
    try:
        return reader(path)
    except OSError as exc:
        raise DataError(f"{path}: unreadable: {exc.strerror or exc}") from None


#: White space other than line ends: where there is none, no cell needs stripping.
_SPACE = re.compile(r"[^\S\r\n]")


def plain_csv(path: Path) -> tuple[pd.DataFrame, str, list[int]] | None:
    """A CSV without any quote, read by pandas' C parser: (table, encoding, blank rows).

    The fast path of :func:`pingan_eval.data.readers.read_table` for large registers:
    without a quote every physical line is one record, so the spreadsheet row is the
    line number and the C parser reads what :func:`csv_records` would, much faster. The
    table is what ``read_table`` builds from :func:`csv_records` (stripped text, object
    columns, indexed by row, blank rows left out), before dates are normalized. None
    whenever the file needs the careful reader: a quote, a lone carriage return, an
    undecodable byte, a blank first line, an empty or repeated header cell, or a row
    wider than the header (surplus cells, data under an empty header); that reader then
    gives the same result or the same error.
    """
    data = path.read_bytes()
    try:
        encoding = detect_encoding(data)
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    header_end = text.find("\n")
    if header_end < 0 or '"' in text or text.count("\r") != text.count("\r\n"):
        return None
    raw_header = text[:header_end].rstrip("\r").split(",")
    header = trim_empty_end([h.strip() for h in raw_header])
    if not header or "" in header or len(set(header)) < len(header):
        return None
    spaces = _SPACE.search(text, header_end + 1) is not None
    # One copy of the file at a time (a register can be hundreds of MB): its UTF-8 bytes,
    # which pandas parses without re-encoding text chunk by chunk in Python.
    utf8 = {"utf-8": data, "utf-8-sig": data[len(codecs.BOM_UTF8):]}.get(encoding)
    if utf8 is None:
        utf8 = text.encode("utf-8")
    del data, text
    body = utf8.index(b"\n") + 1
    if body == len(utf8) or _most_commas(utf8[body:]) >= len(raw_header):
        return None
    table = pd.read_csv(io.BytesIO(utf8), encoding="utf-8", header=None, skiprows=1,
                        names=list(range(len(raw_header))), dtype=object, na_filter=False,
                        skip_blank_lines=False, engine="c", index_col=False)
    del utf8
    if spaces:
        table = table.apply(lambda col: col.str.strip())
    # a blank row: nothing but commas and white space on its line
    blank = table[0].to_numpy() == ""  # rows empty in their first cell, then all of them
    blank[blank] = table[blank].eq("").all(axis=1).to_numpy()
    if blank.all():
        return None
    width = len(header)
    if width < len(raw_header) and (table.iloc[:, width:] != "").to_numpy().any():
        return None  # data under an empty header cell: the careful reader names it
    table = table.iloc[:, :width]
    table.columns = header
    rows = np.arange(2, 2 + len(table))
    last = rows[~blank].max()
    table = table[~blank]
    table.index = pd.Index(rows[~blank].tolist(), name="source_row")  # as read_table's
    return table, encoding, [int(r) for r in rows[blank] if r < last]


def _most_commas(body: bytes) -> int:
    """The most commas on any line of ``body``."""
    return max(map(operator.methodcaller("count", b","), body.split(b"\n")))


def csv_records(path: Path) -> Records:
    """Header, records, their spreadsheet rows, blank rows after the header, the encoding,
    and the stray-quote rows (see :data:`Records`)."""
    data = path.read_bytes()
    try:
        encoding = detect_encoding(data)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: unreadable: not UTF-8, GBK or GB18030 text "
                        f"(bad byte at offset {exc.start})") from None
    # physical lines (endings kept, split as csv splits them); records are parsed from these
    lines = list(io.StringIO(data.decode(encoding), newline=""))
    # strict: an unclosed quote must not swallow the rest of the file into one cell
    reader = csv.reader(iter(lines), strict=True)
    header: list[str] | None = None
    records: list[list[str]] = []
    rows: list[int] = []
    blank: list[int] = []
    quotes: dict[int, tuple[str, int, int]] = {}
    row = last = 0  # row: the spreadsheet row (one per record); last: the record's last line
    try:
        for rec in reader:
            start, last = last + 1, reader.line_num
            if header is not None and last > start and _swallows_rows(rec, last - start,
                                                                      len(header)):
                # a stray quote: each physical line is its own row, none is trusted
                column = _column_name(header, next(i for i, c in enumerate(rec)
                                                   if "\n" in c or "\r" in c))
                for line in lines[start - 1:last]:
                    row += 1
                    cells = next(csv.reader([line], quoting=csv.QUOTE_NONE), [])
                    if _is_blank(cells):
                        blank.append(row)
                        continue
                    if len(trim_empty_end(cells)) != len(header):
                        # cells that do not line up with the header could put a column's
                        # value (a phone number) under another name: keep none of them
                        cells = [""] * len(header)
                    records.append(cells)
                    rows.append(row)
                    quotes[row] = (column, start, last)
                continue
            row += 1
            if _is_blank(rec):
                if header is not None:  # a blank line is still a row of the spreadsheet
                    blank.append(row)
                continue
            if header is None:
                header = trim_empty_end(rec)
            else:
                records.append(rec)
                rows.append(row)
    except csv.Error as exc:
        raise DataError(f"{path}: unreadable CSV near line {reader.line_num}: {exc} (a quote "
                        f"opened on line {last + 1} is not closed as CSV requires)") from None
    if header is None:
        raise DataError(f"{path}: unreadable: the file is empty (no header row)")
    return header, records, rows, blank, encoding, quotes


def _is_blank(cells: list[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def trim_empty_end(cells: list[str]) -> list[str]:
    """``cells`` without the empty (or blank-text) cells at its end: Excel's formatting."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _column_name(header: list[str], index: int) -> str:
    return header[index].strip() if index < len(header) else "_extra_cells"


def _swallows_rows(rec: list[str], breaks: int, width: int) -> bool:
    """Whether a record spanning ``breaks + 1`` lines is rows merged by a stray quote.

    A cell typed with Alt+Enter holds a line break or two; a quote left open holds whole
    rows: their commas and line breaks together reach the header's width, or the merged
    record has more non-empty cells than the header.
    """
    inside = sum(cell.count(",") for cell in rec)  # commas occur only inside quoted cells
    return len(trim_empty_end(rec)) > width or inside + breaks >= width


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
    """Header, records, their sheet rows and blank rows after the header (first sheet).

    A workbook whose zip is intact but whose content is damaged (a truncated or corrupt
    sheet, a cell openpyxl cannot parse) is unreadable: a DataError naming the file.
    """
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not a zip, or a damaged workbook.xml, styles, ...
        raise DataError(f"{path}: unreadable XLSX workbook: {exc}") from None
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    blank: list[int] = []
    rownum = 0
    try:
        if not wb.worksheets:
            raise DataError(f"{path}: unreadable XLSX workbook: it has no worksheet")
        ws = wb.worksheets[0]
        # the stored dimension counts formatted cells (a whole formatted column reaches
        # XFD): rows padded to it are slow; unpadded, each row ends at its last cell
        ws.reset_dimensions()
        for rownum, values in enumerate(ws.iter_rows(values_only=True), start=1):
            header = _add_row(rownum, values, header, records, lines, blank)
    except DataError:
        raise
    except Exception as exc:  # any parser failure on a damaged sheet
        # the sheet XML is parsed lazily while rows are read: truncated XML, a bad CRC,
        # a value openpyxl cannot convert all surface here, as many exception types
        raise DataError(f"{path}: unreadable XLSX workbook: the first sheet is damaged near "
                        f"row {rownum + 1} ({type(exc).__name__}: {exc})") from None
    finally:
        wb.close()
    if header is None:
        raise DataError(f"{path}: unreadable: the first sheet is empty (no header row)")
    return header, records, lines, blank, "xlsx", {}


def _add_row(rownum: int, values: Iterable[object], header: list[str] | None,
             records: list[list[str]], lines: list[int], blank: list[int]) -> list[str] | None:
    """File sheet row ``rownum``: the header (returned), a record or a blank row."""
    rec = [cell_text(v) for v in values]
    if all(not cell.strip() for cell in rec):
        if header is not None:
            blank.append(rownum)
    elif header is None:
        return rec
    else:
        records.append(rec)
        lines.append(rownum)
    return header


def xls_records(path: Path) -> Records:
    """Header, records, their sheet rows and blank rows after the header of an older
    ``.xls`` workbook (first sheet), read by python-calamine; a damaged or
    password-protected workbook is a DataError naming the file."""
    from python_calamine import load_workbook

    try:
        wb = load_workbook(str(path))
        if not wb.sheet_names:
            raise DataError(f"{path}: unreadable XLS workbook: it has no worksheet")
        # from row 1 and column A, so row numbers are the sheet's
        rows = wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except DataError:
        raise
    except Exception as exc:  # CalamineError, PasswordError, XmlError, ...
        raise DataError(f"{path}: unreadable XLS workbook ({type(exc).__name__}: {exc}); "
                        "open it in Excel and save it as .xlsx (另存为 .xlsx)") from None
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    blank: list[int] = []
    for rownum, values in enumerate(rows, start=1):
        header = _add_row(rownum, values, header, records, lines, blank)
    if header is None:
        raise DataError(f"{path}: unreadable: the first sheet is empty (no header row)")
    return header, records, lines, blank, "xls", {}
