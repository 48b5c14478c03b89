"""Estimates pooled over a window of months, and the covariance between months.

The villages are drawn once and surveyed every month (a fixed panel of PSUs; the
households change), so a village's answers in two months are not independent.
:func:`pooled_estimates` stacks the months of a window (:func:`window_periods`), divides
the weights by the number of months and keeps each village *one* PSU across months
(ultimate cluster). :func:`month_covariance` gives per area the design covariance matrix
of its monthly direct estimates, the input of a time-series small-area model. Weights
are held fixed as prepared (not raked again; see :func:`month_covariance`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from pingan_eval.errors import DesignError, EstimationError
from pingan_eval.survey.design import SurveyDesign

__all__ = ["COVARIANCE_COLUMNS", "WINDOWS", "WINDOW_COLUMNS", "month_covariance",
           "pooled_estimates", "stack_months", "window_periods"]

#: Window names :func:`window_periods` knows.
WINDOWS: tuple[str, ...] = ("month", "quarter", "ytd", "rolling12")
#: Columns :func:`pooled_estimates` appends to the design's result columns.
WINDOW_COLUMNS: tuple[str, ...] = ("window_start", "window_end", "months")
#: The last columns of :func:`month_covariance` (after the ``by`` columns, ``variable``).
COVARIANCE_COLUMNS: tuple[str, ...] = ("period_a", "period_b", "cov", "corr")

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
Frames = Mapping[str, pd.DataFrame] | pd.DataFrame


def _check_period(period: object, what: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise EstimationError(f"{what} {period!r} is not a month written YYYY-MM")
    return period


def window_periods(period: str, window: str, available: Sequence[str]) -> list[str]:
    """The available months of the window that ends with ``period``, oldest first.

    Parameters
    ----------
    period : str
        Last month of the window, ``YYYY-MM``; must be among ``available``.
    window : {"month", "quarter", "ytd", "rolling12"}
        ``"month"``: ``period`` alone. ``"quarter"``: the calendar quarter of ``period`` up
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
    """
    if window not in WINDOWS:
        raise EstimationError(f"unknown window {window!r}; valid: {', '.join(WINDOWS)}")
    months = sorted({_check_period(m, "available month") for m in available})
    if _check_period(period, "period") not in months:
        raise EstimationError(f"period {period!r} has no data; available: "
                              f"{', '.join(months) or 'none'}")
    end = pd.Period(period, freq="M")
    start = {"month": end, "quarter": end.asfreq("Q").asfreq("M", how="start"),
             "ytd": pd.Period(year=end.year, month=1, freq="M"), "rolling12": end - 11}[window]
    return [m for m in months if start <= pd.Period(m, freq="M") <= end]


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


def _as_list(names: str | Sequence[str] | None, required: str = "") -> list[str]:
    out = [] if names is None else [names] if isinstance(names, str) else list(names)
    if required and not out:
        raise EstimationError(f"no {required} given")
    return out


def _weights(frame: pd.DataFrame, name: str) -> np.ndarray:
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


def pooled_estimates(frames: Frames, variables: str | Sequence[str], *,
                     periods: Sequence[str] | None = None, strata: str = "township",
                     psu: str = "village", weights: str = "weight",
                     by: str | Sequence[str] | None = "township", method: str = "logit",
                     level: float = 0.95, lonely_psu: str = "fail",
                     period_column: str = "period") -> pd.DataFrame:
    """Proportions pooled over the months of a window, each village one PSU throughout.

    Parameters
    ----------
    frames : mapping of str to DataFrame, or DataFrame
        Prepared respondents per month, as :func:`stack_months` takes them.
    variables : str or sequence of str
        0/1 indicator columns (NaN for "don't know": the row stays in the design, out of
        the estimate).
    periods : sequence of str, optional
        The window, e.g. ``window_periods("2026-03", "quarter", list(frames))``; default
        every month of ``frames``.
    strata, psu, weights : str
        Stratum (township), PSU (village, the same village in every month) and the
        prepared weight columns. Weights are held fixed as prepared (not raked again).
    by : str, sequence of str or None
        Domains; None for the county.
    method, level, lonely_psu
        As :meth:`pingan_eval.SurveyDesign.proportion` and :class:`SurveyDesign`.
    period_column : str
        Period column of a stacked ``frames`` (added to a mapping's frames).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``variable``, the design's ``estimate, se, ci_low, ci_high,
        df, n, deff``, then ``window_start``, ``window_end`` (``YYYY-MM``) and ``months``
        (the number ``k`` of months pooled). Sorted by the ``by`` values, then the
        variables in the order given.

    Raises
    ------
    EstimationError
        See :func:`stack_months` and :meth:`SurveyDesign.proportion`.
    DesignError
        Unknown column, bad weights, a lonely PSU under ``lonely_psu="fail"``.

    Notes
    -----
    The pooled estimate of a domain is ``P = sum_t sum_i w_i y_i / sum_t sum_i w_i`` over
    the months ``t`` of the window: each month counts with its weight total, and dividing
    every weight by ``k`` keeps the weights a population total (it changes ``deff``
    only). The variance is that of one design with ``strata`` as strata and ``psu`` as
    PSUs over the stacked months, so the monthly totals of a village add up before
    they are centred within its township: the between-month covariance of
    :func:`month_covariance` is included. The df (PSUs minus strata) is a month's, not
    ``k`` times it. R equivalent::

        d <- svydesign(ids = ~village, strata = ~township, weights = ~I(weight / k),
                       nest = TRUE, data = stacked)
        svyby(~y, ~township, d, svyciprop, method = "logit", vartype = c("se", "ci"),
              na.rm = TRUE)
        svyciprop(~y, d, method = "logit", na.rm = TRUE)     # by = None

    References
    ----------
    Kish, L. (1999). Cumulating/combining population surveys. Survey Methodology 25(2),
    129-138.
    """
    names, by_cols = _as_list(variables, "variable"), _as_list(by)
    stacked = stack_months(frames, periods, period_column=period_column)
    months = sorted(stacked[period_column].unique())
    k = len(months)
    stacked[weights] = _weights(stacked, weights) / k
    design = SurveyDesign(stacked, strata=strata, psu=psu, weights=weights,
                          lonely_psu=lonely_psu)
    parts = []
    for name in names:
        table = design.proportion(name, by=by, method=method, level=level)
        table.insert(len(by_cols), "variable", name)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    if by_cols:
        out = out.sort_values(by_cols, kind="stable", ignore_index=True)
    return out.assign(window_start=months[0], window_end=months[-1], months=k)


def _codes(frame: pd.DataFrame, name: str, sort: bool = True
           ) -> tuple[np.ndarray, np.ndarray]:
    """Factor codes (sorted) of a column that must have no missing value."""
    if name not in frame.columns:
        raise DesignError(f"unknown column {name!r}")
    codes, uniques = pd.factorize(frame[name], sort=sort)
    if (codes < 0).any():
        raise DesignError(f"column {name!r} has a missing value in row {np.argmax(codes < 0)}")
    return codes.astype(np.int64), np.asarray(uniques)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        raise EstimationError(f"unknown variable column {name!r}")
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = (np.isnan(values) & frame[name].notna().to_numpy()) | np.isinf(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise EstimationError(f"column {name!r} has a non-numeric or infinite value in row "
                              f"{i}: {frame[name].iloc[i]!r}")
    return values


def month_covariance(frames: Frames, variables: str | Sequence[str], *,
                     periods: Sequence[str] | None = None, strata: str = "township",
                     psu: str = "village", weights: str = "weight",
                     by: str | Sequence[str] | None = "township", lonely_psu: str = "fail",
                     period_column: str = "period") -> pd.DataFrame:
    """Design covariance between the monthly direct estimates of each area.

    Parameters
    ----------
    frames, variables, periods, strata, psu, weights, by, lonely_psu, period_column
        As :func:`pooled_estimates`; ``variables`` may be any numeric columns (NaN =
        missing): the monthly estimate is the ratio mean ``p_t = sum w y / sum w``.

    Returns
    -------
    pandas.DataFrame
        One row per area, variable and pair of months (all ``T x T``, both orders): the
        ``by`` columns, ``variable``, ``period_a``, ``period_b``, ``cov`` (covariance of
        ``p_a`` and ``p_b``, the variance on the diagonal) and ``corr``. Sorted by area,
        variable (in the order given), ``period_a``, ``period_b``. A month without data
        in the area has NaN in its row and column.

    Raises
    ------
    DesignError
        Unknown column, missing stratum/PSU, bad weights, unknown ``lonely_psu``, a
        stratum with one PSU where the area has data under ``lonely_psu="fail"``.
    EstimationError
        See :func:`stack_months`; a non-numeric variable.

    Notes
    -----
    In area ``d`` and month ``t`` a row's linearized value is
    ``x_it = w_i (y_i - p_dt) / W_dt`` (``W_dt``: weight total of the area's non-missing
    rows of month ``t``) and ``z_hjt`` its total over village ``j`` of stratum ``h``. A
    village is one PSU in every month (ultimate cluster, with replacement, no fpc)::

        C_d(t, s) = sum_h n_h / (n_h - 1) * sum_j (z_hjt - zbar_ht) (z_hjs - zbar_hs)

    ``n_h``: villages of stratum ``h`` in the stacked months, those without data with
    ``z = 0``. A lonely stratum: ``"adjust"`` takes the uncentred product,
    ``"remove"``/``"certainty"`` add 0. When every month has the same villages (the
    sample's panel), the diagonal is the variance of the month's estimate in that
    month's own design with the weights held fixed:
    ``SurveyDesign(month, strata, psu, weights).proportion(...)``.

    Calibration: the prepared ``weight`` is raked within township to census margins and
    ``load_design`` re-rakes it, so the official monthly se residualizes ``x`` on the
    margins. Here the weights are held fixed, as in :func:`pooled_estimates`; the
    calibrated covariance is the same formula on the residuals of ``x_it`` on month
    ``t``'s margin variables (not computed here).

    The pooled ``P = sum_t a_t p_t`` (``a_t = W_t / W``) of :func:`pooled_estimates` has
    the linearized value ``a_t x_it + c_t w_i`` in month ``t``, ``c_t = (p_t - P) / W``,
    so ``Var(P) = a' C a + 2 a' C_xv c + c' C_vv c`` (``v``: village totals of ``w``);
    ``Var(P) = 1' C 1 / k^2`` exactly when all months have the same ``W_t`` and ``p_t``.

    R equivalent (``y`` without NA rows: ``subset(d, !is.na(y))`` keeps each stratum's
    PSU count)::

        d <- svydesign(ids = ~village, strata = ~township, nest = TRUE,
                       weights = ~weight, data = stacked)
        vcov(svyby(~y, ~period + township, subset(d, !is.na(y)), svymean,
                   covmat = TRUE))
    """
    names = _as_list(variables, "variable")
    stacked = stack_months(frames, periods, period_column=period_column)
    if lonely_psu not in ("fail", "adjust", "remove", "certainty"):
        raise DesignError(f"unknown lonely_psu {lonely_psu!r}")
    w = _weights(stacked, weights)
    lay = _Layout.build(stacked, strata, psu, _as_list(by), period_column)
    cov = np.stack([_covariance(_column(stacked, name), w, lay, lonely_psu)
                    for name in names], axis=1)   # (areas, variables, T, T)
    n_dom, n_var, n_mon = cov.shape[:3]
    sd = np.sqrt(np.diagonal(cov, axis1=2, axis2=3))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / (sd[..., :, None] * sd[..., None, :])
    out = lay.keys.iloc[np.repeat(np.arange(n_dom), n_var * n_mon**2)].reset_index(drop=True)
    out["variable"] = np.tile(np.repeat(np.asarray(names, dtype=object), n_mon**2), n_dom)
    out["period_a"] = np.tile(np.repeat(lay.months, n_mon), n_dom * n_var)
    out["period_b"] = np.tile(lay.months, n_dom * n_var * n_mon)
    out["cov"] = cov.ravel()
    out["corr"] = corr.ravel()
    return out


@dataclass(frozen=True, eq=False)
class _Layout:
    """Codes of a stacked window that every variable of :func:`month_covariance` shares."""

    keys: pd.DataFrame          # the areas, sorted
    months: np.ndarray          # sorted month labels (object)
    month: np.ndarray           # month code per row
    pair: np.ndarray            # (area, village) pair per row, -1 in no area
    pair_dom: np.ndarray        # area of each pair
    pair_group: np.ndarray      # (area, stratum) group of each pair
    group_dom: np.ndarray       # area of each group
    group_stratum: np.ndarray   # stratum label of each group
    n_h: np.ndarray             # villages of each group's stratum (float)
    absent: np.ndarray          # villages of the stratum without a pair in the group

    @classmethod
    def build(cls, stacked: pd.DataFrame, strata: str, psu: str, by_cols: list[str],
              period_column: str) -> _Layout:
        month, months = _codes(stacked, period_column)
        stratum, labels = _codes(stacked, strata)
        village, _ = _codes(stacked, psu, sort=False)
        # A PSU is a village within its stratum (R: nest = TRUE); codes in any order.
        psu_code = pd.factorize(stratum * (village.max() + 1) + village)[0]
        psu_stratum = np.zeros(psu_code.max() + 1, dtype=np.int64)
        psu_stratum[psu_code] = stratum
        n_psu = np.bincount(psu_stratum)
        if not by_cols:
            domain, keys = np.zeros(len(stacked), dtype=np.int64), pd.DataFrame(index=[0])
        elif by_cols == [strata]:
            domain, keys = stratum, pd.DataFrame({strata: labels})
        else:
            grouped = stacked.groupby(by_cols, sort=True, dropna=True)
            domain = grouped.ngroup().fillna(-1).to_numpy(dtype=np.int64)
            keys = grouped.size().index.to_frame(index=False)
        inside = domain >= 0
        pair = np.full(len(stacked), -1, dtype=np.int64)
        pair[inside], pairs = pd.factorize(domain[inside] * len(psu_stratum) + psu_code[inside])
        pair_dom, pair_psu = np.divmod(pairs, len(psu_stratum))
        pair_group, groups = pd.factorize(pair_dom * len(n_psu) + psu_stratum[pair_psu])
        group_dom, group_stratum = np.divmod(groups, len(n_psu))
        n_h = n_psu[group_stratum].astype(float)
        return cls(keys=keys, months=months.astype(object), month=month, pair=pair,
                   pair_dom=pair_dom, pair_group=pair_group, group_dom=group_dom,
                   group_stratum=labels[group_stratum], n_h=n_h,
                   absent=n_h - np.bincount(pair_group, minlength=len(groups)))


def _covariance(y: np.ndarray, w: np.ndarray, lay: _Layout, lonely_psu: str) -> np.ndarray:
    """``(areas, T, T)`` covariance matrices of one variable's monthly means."""
    n_dom, n_mon, n_groups = len(lay.keys), len(lay.months), len(lay.n_h)
    n_pairs = len(lay.pair_dom)
    valid = (lay.pair >= 0) & ~np.isnan(y)
    pair, t, wv, yv = lay.pair[valid], lay.month[valid], w[valid], y[valid]
    cell = lay.pair_dom[pair] * n_mon + t
    wsum = np.bincount(cell, weights=wv, minlength=n_dom * n_mon)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=wv * yv, minlength=n_dom * n_mon) / wsum
    x = wv * (yv - mean[cell]) / wsum[cell]
    z = np.bincount(pair * n_mon + t, weights=x, minlength=n_pairs * n_mon).reshape(n_pairs, -1)
    sums = sparse.csr_matrix((np.ones(n_pairs), (lay.pair_group, np.arange(n_pairs))),
                             shape=(n_groups, n_pairs))
    zbar = (sums @ z) / lay.n_h[:, None]
    zc = z - zbar[lay.pair_group]
    # Villages of the stratum without data in the area have z = 0: centred, -zbar (R pads
    # each stratum with zero totals). Pairs whose rows are all missing have z = 0 too.
    ss = (sums @ (zc[:, :, None] * zc[:, None, :]).reshape(n_pairs, -1)
          + lay.absent[:, None] * (zbar[:, :, None] * zbar[:, None, :]).reshape(n_groups, -1))
    lonely = lay.n_h == 1
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = np.where(lonely[:, None], 0.0, ss * (lay.n_h / (lay.n_h - 1))[:, None])
    if lonely.any():
        # As R: a lonely stratum matters only where the area has data in it.
        failing = lonely & (np.bincount(lay.pair_group[pair], minlength=n_groups) > 0)
        if lonely_psu == "fail" and failing.any():
            raise DesignError(f"stratum {lay.group_stratum[np.argmax(failing)]!r} has only one "
                              "PSU; choose lonely_psu='adjust', 'remove' or 'certainty'")
        if lonely_psu == "adjust":
            raw = sums @ (z[:, :, None] * z[:, None, :]).reshape(n_pairs, -1)
            contrib = np.where(lonely[:, None], raw, contrib)
    to_area = sparse.csr_matrix((np.ones(n_groups), (lay.group_dom, np.arange(n_groups))),
                                shape=(n_dom, n_groups))
    cov = np.asarray(to_area @ contrib).reshape(n_dom, n_mon, n_mon)
    empty = (wsum == 0).reshape(n_dom, 1, n_mon)
    return np.where(empty | empty.transpose(0, 2, 1), np.nan, cov)
