"""The months of a window and their respondents stacked into one frame, checked.

:func:`window_periods` and :func:`stack_months` are public as
:mod:`pingan_eval.survey.pooling` names; :func:`as_list` and :func:`stacked_weights`
check the arguments that :func:`~pingan_eval.survey.pooling.pooled_estimates` and
:func:`~pingan_eval.survey.pooling.month_covariance` share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pingan_eval.errors import DesignError, EstimationError

__all__ = ["WINDOWS", "Frames", "as_list", "stack_months", "stacked_weights",
           "window_periods", "window_start"]

#: Window names :func:`window_periods` knows.
WINDOWS: tuple[str, ...] = ("month", "rolling3", "quarter", "ytd", "rolling12")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
Frames = Mapping[str, pd.DataFrame] | pd.DataFrame


def _check_period(period: object, what: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise EstimationError(f"{what} {period!r} is not a month written YYYY-MM")
    return period


def window_start(period: str, window: str) -> str:
    """The first calendar month of the window that ends with ``period`` (``YYYY-MM``).

    Examples
    --------
    >>> [window_start("2026-11", w) for w in ("rolling3", "quarter", "ytd", "rolling12")]
    ['2026-09', '2026-10', '2026-01', '2025-12']
    >>> window_start("2026-02", "rolling3")
    '2025-12'
    """
    if window not in WINDOWS:
        raise EstimationError(f"unknown window {window!r}; valid: {', '.join(WINDOWS)}")
    end = pd.Period(_check_period(period, "period"), freq="M")
    start = {"month": end, "rolling3": end - 2,
             "quarter": end.asfreq("Q").asfreq("M", how="start"),
             "ytd": pd.Period(year=end.year, month=1, freq="M"), "rolling12": end - 11}[window]
    return str(start)


def window_periods(period: str, window: str, available: Sequence[str]) -> list[str]:
    """The available months of the window that ends with ``period``, oldest first.

    Parameters
    ----------
    period : str
        Last month of the window, ``YYYY-MM``; must be among ``available``.
    window : {"month", "rolling3", "quarter", "ytd", "rolling12"}
        ``"month"``: ``period`` alone. ``"rolling3"``: the 3 calendar months ending with
        ``period`` (the same length every month, across a year's end). ``"quarter"``:
        the calendar quarter of ``period`` up
        to ``period`` (quarter to date). ``"ytd"``: January to ``period`` of the same
        calendar year; the plan year is a calendar year (a plan's ``"MM-DD"`` dates
        resolve to ``Plan.year``), so this is also plan year to date. ``"rolling12"``: the
        12 calendar months ending with ``period`` (as the trend charts' trailing months),
        so a missing month shortens the window instead of reaching back a 13th month.
    available : sequence of str
        Months with data (any order, duplicates allowed).

    Returns
    -------
    list of str
        The months of ``available`` in the window, sorted; never a month after ``period``.

    Raises
    ------
    EstimationError
        Unknown window, a month not written ``YYYY-MM``, ``period`` not available.

    Examples
    --------
    >>> have = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-04", "2026-05"]
    >>> window_periods("2026-05", "quarter", have)
    ['2026-04', '2026-05']
    >>> window_periods("2026-02", "ytd", have)
    ['2026-01', '2026-02']
    >>> window_periods("2026-02", "rolling12", have)
    ['2025-11', '2025-12', '2026-01', '2026-02']
    >>> window_periods("2026-02", "rolling3", have)
    ['2025-12', '2026-01', '2026-02']
    """
    if window not in WINDOWS:
        raise EstimationError(f"unknown window {window!r}; valid: {', '.join(WINDOWS)}")
    months = sorted({_check_period(m, "available month") for m in available})
    if _check_period(period, "period") not in months:
        raise EstimationError(f"period {period!r} has no data; available: "
                              f"{', '.join(months) or 'none'}")
    start = window_start(period, window)
    return [m for m in months if start <= m <= period]


def stack_months(frames: Frames, periods: Sequence[str] | None = None, *,
                 period_column: str = "period") -> pd.DataFrame:
    """One frame of the chosen months, with a ``period_column``; the inputs are not touched.

    Parameters
    ----------
    frames : mapping of str to DataFrame, or DataFrame
        Period ``YYYY-MM`` -> that month's respondents (a frame that already has
        ``period_column`` must hold its key there), or one stacked frame with a
        ``period_column``.
    periods : sequence of str, optional
        The months to keep (e.g. from :func:`window_periods`); default all.
    period_column : str
        Name of the period column.

    Returns
    -------
    pandas.DataFrame
        A new frame, the months sorted, rows in input order within a month.

    Raises
    ------
    EstimationError
        A month not written ``YYYY-MM`` or without rows, a mapped frame whose
        ``period_column`` disagrees with its key, a stacked frame without it.
    """
    if isinstance(frames, pd.DataFrame):
        if period_column not in frames.columns:
            raise EstimationError(f"the stacked frame has no period column {period_column!r}")
        labels = frames[period_column]
        have = sorted({_check_period(p, f"{period_column!r} value") for p in labels.unique()})
    else:
        have = sorted(_check_period(p, "frames key") for p in frames)
    wanted = have if periods is None else sorted({_check_period(p, "period") for p in periods})
    missing = [p for p in wanted if p not in have]
    if missing or not wanted:
        raise EstimationError(f"no data for months {missing or 'at all'}; "
                              f"available: {', '.join(have) or 'none'}")
    if isinstance(frames, pd.DataFrame):
        rows = frames.loc[labels.isin(wanted).to_numpy()]
        order = np.argsort(rows[period_column].to_numpy(dtype=object), kind="stable")
        return rows.iloc[order].reset_index(drop=True)
    parts = []
    for p in wanted:
        frame = frames[p]
        if period_column in frame.columns and not (frame[period_column] == p).all():
            raise EstimationError(f"frames[{p!r}] has {period_column!r} values other than {p!r}")
        parts.append(frame.assign(**{period_column: p}))
    return pd.concat(parts, ignore_index=True)


def as_list(names: str | Sequence[str] | None, required: str = "") -> list[str]:
    out = [] if names is None else [names] if isinstance(names, str) else list(names)
    if required and not out:
        raise EstimationError(f"no {required} given")
    return out


def stacked_weights(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The weight column as floats; DesignError naming a row that is not finite and > 0."""
    if name not in frame.columns:
        raise DesignError(f"unknown weights column {name!r}")
    w = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DesignError(f"weight column {name!r} must be finite and > 0: row {i} has "
                          f"{frame[name].iloc[i]!r}")
    return w
