"""Dates as Excel writes them, normalized to ``YYYY-MM-DD`` when unambiguous.

Excel on a Chinese Windows shows (and saves to CSV) a date as ``2026/11/5`` or
``2026年11月5日``, and a workbook cell holding a date and a time reads as
``2026-11-05 10:21:33``. Every documented date column (:data:`DATE_COLUMNS`: the survey
wave's, the safe-cell register's and the task logs') is normalized here, once, when
:func:`pingan_eval.data.readers.read_table` reads a table, so every reader downstream
sees ``YYYY-MM-DD`` only:

* the year written first (``YYYY/M/D``, ``YYYY-M-D``, ``YYYY.M.D``, ``YYYY年M月D日``),
  optionally followed by a time, is unambiguous and accepted; a time is dropped (only a
  day is meant), and the report says so;
* the year written last or with two digits (``05/11/2026``, ``11/5/26``) is ambiguous:
  day and month order (and the century) are unknown. It is never guessed: a survey row
  is rejected (rule ``ambiguous_date``), any other table is not read (DataError);
* anything else is left as typed, for the readers to reject as not a date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable

import pandas as pd

from pingan_eval.errors import DataError
from pingan_eval.plan.schema import TASK_TABLES

__all__ = ["DATE_COLUMNS", "ambiguous_reason", "as_typed", "normalize_date",
           "normalize_dates"]

#: Documented date columns (data/raw/README.md): survey wave, register, task logs.
DATE_COLUMNS = frozenset({
    "interview_date",
    "applied_on", "named_on", "revoked_on", "notice_start", "notice_end",
    *(c for t in TASK_TABLES.values() for c in (*t.observed, *t.events)),
    "date",  # the task ledger's (tasks/ledger.csv, registers.ledger)
})

_TIME = r"(?:[ T]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?)?"
_YEAR_FIRST = re.compile(
    r"(?P<y>\d{4})\s*(?P<sep>[-/.])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<d>\d{1,2})" + _TIME)
_CHINESE = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日" + _TIME)
_YEAR_LAST = re.compile(r"\d{1,2}\s*([-/.])\s*\d{1,2}\s*\1\s*\d{2}(?:\d{2})?" + _TIME)
_SHORT_YEAR_FIRST = re.compile(r"\d{2}\s*([-/.])\s*\d{1,2}\s*\1\s*\d{1,2}" + _TIME)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def normalize_date(text: str) -> tuple[str, str] | None:
    """``(YYYY-MM-DD, form)`` for an unambiguous non-ISO date, else None.

    ``form`` names what was typed, e.g. ``'YYYY/M/D'`` or ``'YYYY年M月D日'``, with
    ``' hh:mm:ss (time dropped)'`` when a time other than midnight was dropped. An ISO
    date, a non-date, an impossible day (``2026/2/30``) and an ambiguous date
    (:func:`ambiguous_reason`) give None.

    Examples
    --------
    >>> normalize_date("2026/11/5"), normalize_date("2026年11月5日")
    (('2026-11-05', 'YYYY/M/D'), ('2026-11-05', 'YYYY年M月D日'))
    >>> normalize_date("2026-11-05 10:21:33")
    ('2026-11-05', 'YYYY-MM-DD hh:mm:ss (time dropped)')
    >>> normalize_date("2026-11-05"), normalize_date("05/11/2026"), normalize_date("2026/2/30")
    (None, None, None)
    """
    text = text.strip()
    if _ISO.fullmatch(text):
        return None
    m = _YEAR_FIRST.fullmatch(text) or _CHINESE.fullmatch(text)
    if m is None:
        return None
    try:
        day = dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
        clock = dt.time(int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0))
    except ValueError:
        return None  # not a day of the calendar (or of the clock): left for the reader
    if "sep" in m.groupdict():
        sep = m["sep"]
        form = f"YYYY{sep}MM{sep}DD" if len(m["m"]) == len(m["d"]) == 2 else f"YYYY{sep}M{sep}D"
    else:
        form = "YYYY年M月D日"
    if m["h"] is not None:
        form += " hh:mm:ss" if m["s"] is not None else " hh:mm"
        form += " (time dropped)" if clock != dt.time() else " (midnight)"
    return day.isoformat(), form


def ambiguous_reason(text: str) -> str | None:
    """Why ``text`` is an ambiguous date (year not written first), or None.

    Examples
    --------
    >>> ambiguous_reason("05/11/2026")
    "'05/11/2026': day/month order unknown (the year is not written first); write YYYY-MM-DD"
    >>> ambiguous_reason("2026/11/5") is None
    True
    """
    text = text.strip()
    if _YEAR_LAST.fullmatch(text):
        return (f"{text!r}: day/month order unknown (the year is not written first); "
                "write YYYY-MM-DD")
    if _SHORT_YEAR_FIRST.fullmatch(text):
        return f"{text!r}: a two-digit year: year, month and day order unknown; write YYYY-MM-DD"
    return None


class TypedDates(dict):
    """Column -> {row: the date as typed}: kept in ``df.attrs``, which pandas deep-copies
    on every operation; this one is shared instead (a wave's 1,500 dates made that copy
    a third of ``prepare``). Treat it as read-only."""

    def __deepcopy__(self, memo: dict) -> TypedDates:
        return self


def normalize_dates(df: pd.DataFrame, source: str, *, ambiguous_fatal: bool) -> None:
    """Normalize the :data:`DATE_COLUMNS` of a table read as text, in place.

    ``df.attrs`` gains ``dates_normalized`` (``[{column, form, count}]``, by column then
    form) and ``typed_dates`` (column -> {row: the text as typed}) for the cells changed.

    Raises
    ------
    DataError
        ``ambiguous_fatal`` and a date is ambiguous: naming the file, row, column, the
        rule ``ambiguous_date`` and why.
    """
    counts: Counter[tuple[str, str]] = Counter()
    typed = TypedDates()
    for col in sorted(DATE_COLUMNS & set(df.columns)):
        # a register's dates repeat: parse each distinct text once
        distinct = pd.unique(df[col].to_numpy())
        if ambiguous_fatal:
            reason = dict(zip(distinct, map(ambiguous_reason, distinct), strict=True))
            reasons = df[col].map(reason)
            if reasons.notna().any():
                row = reasons.notna().idxmax()
                raise DataError(f"{source}: row {row}, column {col}: ambiguous_date: "
                                f"{reasons[row]}")
        parsed = dict(zip(distinct, map(normalize_date, distinct), strict=True))
        done = df[col].map(parsed)
        changed = done.notna()
        if not changed.any():
            continue
        typed[col] = df.loc[changed, col].to_dict()
        df.loc[changed, col] = [iso for iso, _ in done[changed]]
        counts.update((col, form) for _, form in done[changed])
    df.attrs["dates_normalized"] = [{"column": c, "form": f, "count": n}
                                    for (c, f), n in sorted(counts.items())]
    df.attrs["typed_dates"] = typed


def as_typed(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with the date cells :func:`normalize_dates` changed given back as
    typed (for the rejected-rows file and the problems' values)."""
    out = df.copy()
    for col, cells in df.attrs.get("typed_dates", {}).items():
        if col in out.columns and (columns is None or col in columns):
            rows = [r for r in cells if r in out.index]
            out.loc[rows, col] = [cells[r] for r in rows]
    return out
