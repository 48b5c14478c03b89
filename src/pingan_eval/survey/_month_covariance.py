"""The design covariance between the monthly direct estimates of each area.

:func:`month_covariance` (public as :func:`pingan_eval.survey.pooling.month_covariance`)
stacks the months, codes the areas, strata and villages once (:class:`_Layout`) and
computes each variable's ``T x T`` matrices per area in one vectorized pass
(:func:`_covariance`), a village one PSU across months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from pingan_eval.errors import DesignError, EstimationError
from pingan_eval.survey._month_stack import Frames, as_list, stack_months, stacked_weights

__all__ = ["COVARIANCE_COLUMNS", "month_covariance"]

#: The last columns of :func:`month_covariance` (after the ``by`` columns, ``variable``).
COVARIANCE_COLUMNS: tuple[str, ...] = ("period_a", "period_b", "cov", "corr")


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
        As :func:`~pingan_eval.survey.pooling.pooled_estimates`; ``variables`` may be
        any numeric columns (NaN = missing): the monthly estimate is the ratio mean
        ``p_t = sum w y / sum w``.

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
        See :func:`~pingan_eval.survey.pooling.stack_months`; a non-numeric variable.

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
    margins. Here the weights are held fixed, as in
    :func:`~pingan_eval.survey.pooling.pooled_estimates`; the calibrated covariance is the
    same formula on the residuals of ``x_it`` on month ``t``'s margin variables (not
    computed here).

    The pooled ``P = sum_t a_t p_t`` (``a_t = W_t / W``) of
    :func:`~pingan_eval.survey.pooling.pooled_estimates` has the linearized value
    ``a_t x_it + c_t w_i`` in month ``t``, ``c_t = (p_t - P) / W``, so
    ``Var(P) = a' C a + 2 a' C_xv c + c' C_vv c`` (``v``: village totals of ``w``);
    ``Var(P) = 1' C 1 / k^2`` exactly when all months have the same ``W_t`` and ``p_t``.

    R equivalent (``y`` without NA rows: ``subset(d, !is.na(y))`` keeps each stratum's
    PSU count)::

        d <- svydesign(ids = ~village, strata = ~township, nest = TRUE,
                       weights = ~weight, data = stacked)
        vcov(svyby(~y, ~period + township, subset(d, !is.na(y)), svymean,
                   covmat = TRUE))
    """
    names = as_list(variables, "variable")
    stacked = stack_months(frames, periods, period_column=period_column)
    if lonely_psu not in ("fail", "adjust", "remove", "certainty"):
        raise DesignError(f"unknown lonely_psu {lonely_psu!r}")
    w = stacked_weights(stacked, weights)
    lay = _Layout.build(stacked, strata, psu, as_list(by), period_column)
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
