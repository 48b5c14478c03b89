"""Checked, typed columns of the registers and task logs (text, dates, whole numbers).

Every check raises a :class:`~pingan_eval.errors.DataError` naming the file (the table's
``attrs["source"]``, else the name given), the row and the column of the first bad cell.
Used by :mod:`pingan_eval.registers.cells` and :mod:`pingan_eval.registers.tasks`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from pingan_eval.data.readers import STRIPPED_TEXT
from pingan_eval.errors import DataError

__all__ = ["as_text", "cell_error", "counts", "dates", "known"]


def as_text(col: pd.Series) -> pd.Series:
    """Stripped text, ``""`` where missing (dates as ``YYYY-MM-DD``, whole floats as ints).

    A column of a table :func:`~pingan_eval.data.readers.read_table` returned is that
    already (its ``attrs`` say so, :data:`~pingan_eval.data.readers.STRIPPED_TEXT`) and is
    copied as it is: a register of millions of cells is not stripped twice.
    """
    if col.attrs.get(STRIPPED_TEXT) and col.dtype == object:
        return col.copy()
    missing = col.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(col):
        obj = col.dt.strftime("%Y-%m-%d").astype(object)
    elif pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        obj = col.astype(object)
        if pd.api.types.infer_dtype(obj, skipna=True) not in ("string", "empty"):
            obj = obj.map(_one_text, na_action="ignore").astype(object)
    else:  # numbers, vectorized: a typed register re-checked must not go cell by cell
        num = col.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(num) & (num % 1 == 0)
        obj = col.astype(str).astype(object)
        obj[whole] = num[whole].astype(np.int64).astype(str)
    obj = obj.copy()
    obj[missing] = ""
    return obj.str.strip().astype(object)


def _one_text(v: object) -> str:
    if isinstance(v, dt.date):  # also datetime and pd.Timestamp
        return v.strftime("%Y-%m-%d")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def cell_error(table: pd.DataFrame, name: str, row: object, col: str, msg: str) -> DataError:
    """The error for one bad cell: ``<file>: row <row>, column <col>: <msg>``."""
    source = table.attrs.get("source", name)
    return DataError(f"{source}: row {row}, column {col}: {msg}")


def dates(table: pd.DataFrame, name: str, col: str, required: bool = False) -> pd.Series:
    """A date column as datetime64 (NaT where blank); the first bad cell is a DataError."""
    if pd.api.types.is_datetime64_any_dtype(table[col]):
        parsed = table[col].dt.normalize().astype("datetime64[ns]")
        text = pd.Series(np.where(parsed.isna(), "", "ok"), index=table.index)
    else:
        text = as_text(table[col])
        # a register's dates repeat: each distinct text is parsed once
        codes, distinct = pd.factorize(text)
        day = pd.Series(distinct, dtype=object)
        once = pd.to_datetime(day.where(day != ""), format="%Y-%m-%d", errors="coerce")
        well_formed = day.str.fullmatch(r"\d{4}-\d{2}-\d{2}").to_numpy(dtype=bool)
        parsed = pd.Series(once.to_numpy()[codes], index=table.index)
        bad = (text != "") & (parsed.isna() | ~pd.Series(well_formed[codes], index=table.index))
        if bad.any():
            row = bad.idxmax()
            raise cell_error(table, name, row, col,
                             f"{text[row]!r} is not a date (YYYY-MM-DD)")
    if required and (text == "").any():
        raise cell_error(table, name, (text == "").idxmax(), col,
                         "the date is blank; it is required")
    return parsed.astype("datetime64[ns]")


def counts(table: pd.DataFrame, name: str, col: str, blank_ok: bool) -> pd.Series:
    """A whole-number column >= 0 as float (NaN where blank and allowed)."""
    raw = table[col]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        num = raw.astype("float64")  # already numbers (a typed register): no text round trip
        bad = (num.isna() & (not blank_ok)) | (num < 0) | (num % 1 > 0)
    else:
        text = as_text(raw)
        num = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
        bad = (num.isna() & ((text != "") | (not blank_ok))) | (num < 0) | (num % 1 > 0)
    if bad.any():
        row = bad.idxmax()
        raise cell_error(table, name, row, col, f"{as_text(raw[[row]]).iloc[0]!r} is not a whole "
                    "number >= 0")
    return num


def known(table: pd.DataFrame, name: str, col: str, values: pd.Series,
           allowed: Iterable[str], what: str, blank_ok: bool = False) -> None:
    """Every value of ``values`` (the text of column ``col``) is one of ``allowed``."""
    allowed = tuple(allowed)
    bad = ~values.isin(allowed) & ~((values == "") & blank_ok)
    if bad.any():
        row = bad.idxmax()
        raise cell_error(table, name, row, col, f"{values[row]!r} is not {what} "
                    f"({', '.join(allowed)})")
