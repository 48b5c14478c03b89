"""Read raw tables (CSV in any of the encodings Excel writes, or XLSX) as text.

Every cell is read as a stripped string ("" for an empty cell) so that validation sees
exactly what the field team typed, and the rejected-rows file can give it back. The
index of a returned table is ``source_row``: the row as a spreadsheet user sees it
(header = row 1, one row per CSV record, a blank line included, so a cell with a line
break does not shift the rows after it; in XLSX, the sheet's row number).

Encoding detection needs no user input: a UTF-8 byte-order mark means UTF-8 with BOM;
otherwise text that decodes as strict UTF-8 is UTF-8 (GBK-encoded Chinese is almost
never valid UTF-8); anything else is decoded as GB18030, the superset of GBK that
Excel's "CSV" on a Chinese Windows writes. Bytes that are not GB18030 either make the
file unreadable (:class:`~pingan_eval.errors.DataError`). Decoding a file into records is
:mod:`pingan_eval.data.raw_records` (:func:`detect_encoding` is re-exported here).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from pingan_eval.data.dates import normalize_dates
from pingan_eval.data.raw_records import ENCODINGS as ENCODINGS
from pingan_eval.data.raw_records import detect_encoding as detect_encoding
from pingan_eval.data.raw_records import plain_csv, read_records, trim_empty_end
from pingan_eval.errors import DataError

#: Index name of every table read here: the spreadsheet row number.
ROW = "source_row"
#: ``attrs`` key set on every table read here: its cells are stripped ``str``, none missing
#: (columns taken from it carry it too; a column assigned afterwards must not be).
STRIPPED_TEXT = "stripped_text"


def read_table(path: str | os.PathLike, required: Iterable[str] = (), *,
               stray_quotes_fatal: bool = True, ambiguous_dates_fatal: bool = True
               ) -> pd.DataFrame:
    """Read a CSV, XLSX or XLS table as stripped text, indexed by spreadsheet row number.

    Parameters
    ----------
    path : path-like
        A ``.csv`` file (UTF-8, UTF-8 with BOM, GBK or GB18030, detected), a ``.xlsx``
        workbook or an older ``.xls`` one (first sheet).
    required : iterable of str
        Columns that must be present; a missing one is fatal.
    stray_quotes_fatal : bool
        Whether rows a stray CSV quote had merged are fatal (default: reference tables)
        or returned one per physical line and listed in ``attrs["stray_quotes"]`` (a
        survey wave, whose validation rejects them).
    ambiguous_dates_fatal : bool
        Whether an ambiguous date (``05/11/2026``) in a date column
        (:data:`~pingan_eval.data.dates.DATE_COLUMNS`) is fatal (default) or left as
        typed for validation to reject (a survey wave).

    Returns
    -------
    pandas.DataFrame
        One row per non-blank record, every column a string (``""`` where empty), in file
        order. The index, named ``source_row``, is the row a spreadsheet user sees
        (header = 1; a cell with a line break is still one row). Empty cells right of the
        header (Excel's ``,,`` and formatted cells) and empty columns (no header, no
        value) are not data and are dropped. A record
        with a non-empty cell beyond the header keeps the surplus, up to its last non-empty
        cell, in the ``_extra_cells`` column (joined by ``,``); it is empty for
        well-formed rows and only present when some row needs it. ``df.attrs`` holds
        ``source`` (the path), ``encoding``, ``blank_rows`` (row numbers of empty rows
        between data rows: skipped, they hold no respondent) and ``stray_quotes`` (row ->
        (column, line opened, line closed) of the rows a stray quote had merged, each
        now its own row). Date columns (:data:`~pingan_eval.data.dates.DATE_COLUMNS`)
        hold ``YYYY-MM-DD`` where Excel wrote an unambiguous ``2026/11/5``,
        ``2026年11月5日`` or a date with a time; ``attrs["dates_normalized"]`` counts them
        per column and form, ``attrs["typed_dates"]`` keeps the text as typed
        (:func:`~pingan_eval.data.dates.normalize_dates`).

    Raises
    ------
    DataError
        If the file is missing or unreadable (a damaged workbook, a quote never closed), a
        column name repeats, a column holds data under an empty header cell, a required
        column is missing, (``stray_quotes_fatal``) a stray quote merged rows, or
        (``ambiguous_dates_fatal``) a date is ambiguous; the message names the file (and
        the line and column).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_bytes("乡镇,人数\\n青河镇, 12\\n\\n阿热勒乡,7\\n".encode("gbk"))
    >>> t = read_table(p, required=["乡镇"])
    >>> t.attrs["encoding"], list(t.index), t.loc[4, "乡镇"], t.loc[2, "人数"]
    ('gb18030', [2, 4], '阿热勒乡', '12')
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    plain = plain_csv(path) if path.suffix.lower() == ".csv" else None
    if plain is not None:  # no quote in the file: pandas' parser reads the same, faster
        df, encoding, blank_rows = plain
        _require(path, df.columns, required)
        df.attrs.update(source=str(path), encoding=encoding, blank_rows=blank_rows,
                        stray_quotes={}, **{STRIPPED_TEXT: True})
        normalize_dates(df, str(path), ambiguous_fatal=ambiguous_dates_fatal)
        return df
    header, records, lines, blank, encoding, quotes = read_records(path)
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:  # an empty column (no header, no data) is formatting, like ",," is
            row = next((r for r, rec in zip(lines, records, strict=True)
                        if i < len(rec) and rec[i].strip()), None)
            if row is not None:
                raise DataError(f"{path}: unreadable header: a header cell is empty (column "
                                f"{i + 1} holds data on row {row})")
        elif name in seen:
            raise DataError(f"{path}: unreadable header: column {name!r} appears twice")
        seen.add(name)
    _require(path, seen, required)
    if quotes and stray_quotes_fatal:
        row, (column, opened, closed) = next(iter(quotes.items()))
        raise DataError(f"{path}: line {opened}, column {column}: a quote opened here closes "
                        f"on line {closed}, merging rows {row}-{row + closed - opened} into one; "
                        "close or remove the quote")
    width = len(header)
    cols = [i for i, name in enumerate(header) if name]
    rows = [[rec[i].strip() if i < len(rec) else "" for i in cols] for rec in records]
    df = pd.DataFrame(rows, columns=[header[i] for i in cols],
                      index=pd.Index(lines, name=ROW), dtype=object)
    # empty cells right of the header are formatting, not data: only a non-empty one counts
    extra = [",".join(trim_empty_end(rec[width:])) for rec in records]
    if any(extra):
        df["_extra_cells"] = extra
    # blank rows between data rows are reported; trailing ones (formatting) are not
    blank_rows = [b for b in blank if lines and b < lines[-1]]
    df.attrs.update(source=str(path), encoding=encoding, blank_rows=blank_rows,
                    stray_quotes=quotes, **{STRIPPED_TEXT: True})
    normalize_dates(df, str(path), ambiguous_fatal=ambiguous_dates_fatal)
    return df


def _require(path: Path, columns: Iterable[str], required: Iterable[str]) -> None:
    present = set(columns)
    missing = [c for c in required if c not in present]
    if missing:
        cols = ", ".join(missing)
        raise DataError(f"{path}: missing required column{'s' if len(missing) > 1 else ''} {cols}")


def parse_numbers(
    table: pd.DataFrame, columns: Sequence[str], *, integer: bool = True,
    minimum: float | None = None, maximum: float | None = None, allow_blank: bool = False,
) -> pd.DataFrame:
    """Parse columns of a reference table (frame, census, fieldwork) or fail on the first bad cell.

    Reference tables describe the county, so a bad value there is fatal, unlike a bad
    survey row.

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`read_table`.
    columns : sequence of str
        Columns to parse.
    integer : bool
        Whether values must be whole numbers.
    minimum, maximum : float, optional
        Inclusive bounds.
    allow_blank : bool
        Whether an empty cell is allowed (it becomes NaN).

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with ``columns`` as float64.

    Raises
    ------
    DataError
        Naming the file, row, column and value of the first bad cell.
    """
    out = table.copy()
    for col in columns:
        raw = table[col].astype(str)
        num = pd.to_numeric(raw.where(raw != ""), errors="coerce").astype("float64")
        bad = num.isna() & ((raw != "") | (not allow_blank))
        if integer:
            bad |= num.notna() & (num % 1 != 0)
        if minimum is not None:
            bad |= num < minimum
        if maximum is not None:
            bad |= num > maximum
        if bad.any():
            row = bad.idxmax()
            kind = "a whole number" if integer else "a number"
            bounds = "".join([f" >= {minimum:g}" if minimum is not None else "",
                              f" <= {maximum:g}" if maximum is not None else ""])
            raise DataError(f"{table.attrs.get('source', '?')}: row {row}, column {col}: "
                            f"value {raw[row]!r} is not {kind}{bounds}")
        out[col] = num
    return out


FRAME_COLUMNS = ("township", "village", "kind", "households", "adults", "psu_total", "sampled",
                 "psu_prob")
CENSUS_COLUMNS = ("township", "margin", "level", "population")
FIELDWORK_COLUMNS = ("township", "village", "households_selected", "households_responded")

#: Census margins, in raking order, and the fixed age groups ``prepare`` derives from age.
MARGINS = ("sex", "age_group", "ethnicity")
AGE_GROUPS = ("18-34", "35-49", "50-64", "65+")


def _fail(table: pd.DataFrame, row: object, col: str, message: str) -> DataError:
    return DataError(f"{table.attrs.get('source', '?')}: row {row}, column {col}: {message}")


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check the sampling frame (``frame.csv``).

    Returns
    -------
    pandas.DataFrame
        Columns township, village, kind (text), households, adults, psu_total, sampled
        (float64 whole numbers) and psu_prob (float64, NaN where not sampled), one row per
        village, indexed by ``source_row``.

    Raises
    ------
    DataError
        On a missing column, a bad number, a blank name, a repeated village, a ``kind``
        other than 村/社区, ``psu_total`` varying within a township, or a sampled village
        without a ``psu_prob`` in (0, 1]; the message names file, row and column.
    """
    text = read_table(path, FRAME_COLUMNS)
    t = parse_numbers(text, ["households", "adults", "psu_total"], minimum=1)
    t = parse_numbers(t, ["sampled"], minimum=0, maximum=1)
    t = parse_numbers(t, ["psu_prob"], integer=False, allow_blank=True)
    for col in ("township", "village"):
        if (t[col] == "").any():
            raise _fail(t, (t[col] == "").idxmax(), col, "blank")
    dup = t["village"].duplicated()
    if dup.any():
        raise _fail(t, dup.idxmax(), "village", f"{t.loc[dup.idxmax(), 'village']!r} repeats")
    bad_kind = ~t["kind"].isin(["村", "社区"])
    if bad_kind.any():
        row = bad_kind.idxmax()
        raise _fail(t, row, "kind", f"value {t.loc[row, 'kind']!r} is not 村 or 社区")
    varies = t.groupby("township")["psu_total"].transform("nunique") > 1
    if varies.any():
        raise _fail(t, varies.idxmax(), "psu_total", "differs between rows of the same township")
    prob = t["psu_prob"]
    bad_prob = (t["sampled"] == 1) & ~((prob > 0) & (prob <= 1))
    if bad_prob.any():
        row = bad_prob.idxmax()
        raise _fail(t, row, "psu_prob",
                    f"value {text.loc[row, 'psu_prob']!r} of a sampled village is not in (0, 1]")
    return t


def read_census(path: str | os.PathLike, townships: Iterable[str]) -> pd.DataFrame:
    """Read and check the census margins (``census.csv``) of the frame's townships.

    Parameters
    ----------
    path : path-like
        ``census.csv``.
    townships : iterable of str
        The frame's townships; each needs all three margins.

    Returns
    -------
    pandas.DataFrame
        Columns township, margin, level (text) and population (float64), sorted by
        township, margin (sex, age_group, ethnicity) and level.

    Raises
    ------
    DataError
        On a missing column, a bad number, an unknown township, margin or age group, a
        repeated township x margin x level, a township without some margin, or margins of
        a township whose totals disagree.
    """
    t = read_table(path, CENSUS_COLUMNS)
    t = parse_numbers(t, ["population"], minimum=0)
    townships = set(townships)
    for col, allowed in (("township", townships), ("margin", set(MARGINS))):
        bad = ~t[col].isin(allowed)
        if bad.any():
            row = bad.idxmax()
            raise _fail(t, row, col, f"unknown value {t.loc[row, col]!r}")
    bad_age = (t["margin"] == "age_group") & ~t["level"].isin(AGE_GROUPS)
    if bad_age.any():
        row = bad_age.idxmax()
        raise _fail(t, row, "level", f"age group {t.loc[row, 'level']!r} is not one of "
                    f"{', '.join(AGE_GROUPS)}")
    dup = t.duplicated(["township", "margin", "level"])
    if dup.any():
        raise _fail(t, dup.idxmax(), "level", "township x margin x level repeats")
    totals = t.groupby(["township", "margin"])["population"].sum().unstack("margin")
    for town in sorted(townships):
        if town not in totals.index or totals.loc[town].isna().any():
            raise DataError(f"{path}: township {town!r} lacks some of the margins "
                            f"{', '.join(MARGINS)}")
        if totals.loc[town].max() - totals.loc[town].min() > 0.5:
            sums = ", ".join(f"{m} {totals.loc[town, m]:g}" for m in MARGINS)
            raise DataError(f"{path}: township {town!r}: margin totals disagree ({sums})")
    order = {m: i for i, m in enumerate(MARGINS)}
    t = t.assign(_m=t["margin"].map(order)).sort_values(["township", "_m", "level"])
    return t.drop(columns="_m").reset_index(drop=True)


def read_fieldwork(path: str | os.PathLike, frame: pd.DataFrame) -> pd.DataFrame:
    """Read and check one wave's fieldwork counts (``fieldwork/<period>.csv``).

    Returns
    -------
    pandas.DataFrame
        Columns township, village (text), households_selected, households_responded
        (float64), one row per sampled village of the wave.

    Raises
    ------
    DataError
        On a missing column, a bad count, more households responding than selected, or a
        village that is not a sampled village of that township in the frame.
    """
    t = read_table(path, FIELDWORK_COLUMNS)
    t = parse_numbers(t, ["households_selected"], minimum=1)
    t = parse_numbers(t, ["households_responded"], minimum=0)
    over = t["households_responded"] > t["households_selected"]
    if over.any():
        raise _fail(t, over.idxmax(), "households_responded", "exceeds households_selected")
    sampled = frame.loc[frame["sampled"] == 1].set_index("village")["township"]
    ok = t["village"].map(sampled) == t["township"]
    if not ok.all():
        row = (~ok).idxmax()
        raise _fail(t, row, "village", f"{t.loc[row, 'village']!r} is not a sampled village of "
                    f"{t.loc[row, 'township']!r} in the frame")
    dup = t["village"].duplicated()
    if dup.any():
        raise _fail(t, dup.idxmax(), "village", "repeats")
    return t
