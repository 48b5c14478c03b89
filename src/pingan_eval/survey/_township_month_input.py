"""Input checks, the padded arrays and the design-effect smoother of
:mod:`pingan_eval.survey.township_month`.

Private helper: turns the long table of direct estimates and the long table of their
between-month sampling covariance into a :class:`~._township_month_reml.Panel` on a
calendar axis of months, with an :class:`~pingan_eval.errors.EstimationError` naming the
column, area and period of the first bad value.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import special

from pingan_eval.errors import EstimationError
from pingan_eval.survey._township_month_reml import Panel

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TRANSFORMS = ("arcsin", "identity")
METHODS = ("reml",)
FIXED = ("period", "intercept")


def month_number(values: pd.Series, area: pd.Series, column: str) -> np.ndarray:
    """Months since year 0 of "YYYY-MM" strings; an error names the first bad one."""
    codes, uniques = pd.factorize(values.astype(str))
    parts = pd.Series(uniques).str.extract(_PERIOD)
    bad = parts[0].isna().to_numpy()[codes]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EstimationError(f"column {column!r}: period {values.iloc[i]!r} of area "
                              f"{area.iloc[i]!r} is not 'YYYY-MM'")
    return (parts[0].astype(int) * 12 + parts[1].astype(int) - 1).to_numpy()[codes]


def check_options(transform: str, method: str, fixed: str, level: float) -> None:
    """An EstimationError for an unknown transform, method or fixed part, or a bad level."""
    for name, value, allowed in (("transform", transform, TRANSFORMS),
                                 ("method", method, METHODS), ("fixed", fixed, FIXED)):
        if value not in allowed:
            raise EstimationError(f"{name}={value!r}: expected one of {allowed}")
    if not 0.0 < level < 1.0:
        raise EstimationError(f"level={level!r}: must lie in (0, 1)")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    for col in columns:
        if col not in frame.columns:
            raise EstimationError(f"{what} has no column {col!r} (columns: {list(frame.columns)})")


def _first_bad(bad: np.ndarray, frame: pd.DataFrame, area: str, period: str, column: str,
               problem: str) -> None:
    if bad.any():
        row = frame.iloc[int(np.flatnonzero(bad)[0])]
        raise EstimationError(f"column {column!r} of area {row[area]!r}, period "
                              f"{row[period]!r}: {row[column]!r} {problem}")


def direct_table(table: pd.DataFrame, area: str, period: str, estimate: str, n_eff: str,
                 transform: str) -> pd.DataFrame:
    """The checked direct estimates sorted by area and month, with the model-scale ``y``
    and sampling variance ``v`` (``1/(4 n_eff)`` for arcsin, ``p(1-p)/n_eff`` for identity)."""
    _require(table, (area, period, estimate, n_eff), "table")
    out = table[[area, period, estimate, n_eff]].copy()
    if out[area].isna().any():
        raise EstimationError(f"column {area!r} has a missing area")
    out["_month"] = month_number(out[period], out[area], period)
    dup = out.duplicated([area, "_month"]).to_numpy()
    if dup.any():
        row = out[dup].iloc[0]
        raise EstimationError(f"area {row[area]!r}, period {row[period]!r} appears twice")
    p = pd.to_numeric(out[estimate], errors="coerce").to_numpy(dtype=float)
    n = pd.to_numeric(out[n_eff], errors="coerce").to_numpy(dtype=float)
    low = 0.0 if transform == "arcsin" else np.nextafter(0.0, 1.0)
    _first_bad(~((p >= low) & (p <= 1.0 - low)), out, area, period, estimate,
               "is not a rate in [0, 1]" if transform == "arcsin"
               else "is not a rate in (0, 1) (identity needs a positive sampling variance)")
    _first_bad(~(np.isfinite(n) & (n > 0)), out, area, period, n_eff,
               "is not a positive effective sample size")
    out["_p"], out["_n"] = p, n
    if transform == "arcsin":
        out["_y"], out["_v"] = np.arcsin(np.sqrt(p)), 1.0 / (4.0 * n)
    else:
        out["_y"], out["_v"] = p, p * (1.0 - p) / n
    return out.sort_values([area, "_month"], kind="mergesort").reset_index(drop=True)


def _pairs(covariance: pd.DataFrame, area: str, period: str) -> tuple[pd.DataFrame, str]:
    cols = (area, f"{period}_a", f"{period}_b")
    _require(covariance, cols, "covariance")
    kinds = [c for c in ("corr", "cov") if c in covariance.columns]
    if len(kinds) != 1:
        raise EstimationError("covariance needs exactly one of the columns 'corr' and 'cov' "
                              f"(columns: {list(covariance.columns)})")
    pairs = covariance[[*cols, kinds[0]]].copy()
    dup = pairs.duplicated(list(cols)).to_numpy()
    if dup.any():
        row = pairs[dup].iloc[0]
        raise EstimationError(f"covariance: area {row[area]!r}, periods "
                              f"{row[cols[1]]!r}/{row[cols[2]]!r} appear twice")
    return pairs, kinds[0]


def correlation(direct: pd.DataFrame, covariance: pd.DataFrame, area: str, period: str,
                areas: np.ndarray, first: int, T: int) -> np.ndarray:
    """Between-month sampling correlation (m, T, T) of every area's observed months.

    The two triangles may both be given (then they must agree) or one of them; with
    ``cov`` the diagonal (variances) is needed too, with ``corr`` it is 1.
    """
    pairs, kind = _pairs(covariance, area, period)
    a_name, b_name = f"{period}_a", f"{period}_b"
    i = pd.Index(areas).get_indexer(pairs[area])
    ta = month_number(pairs[a_name], pairs[area], a_name) - first
    tb = month_number(pairs[b_name], pairs[area], b_name) - first
    value = pd.to_numeric(pairs[kind], errors="coerce").to_numpy(dtype=float)
    use = (i >= 0) & (ta >= 0) & (ta < T) & (tb >= 0) & (tb < T)
    pairs, i, ta, tb, value = pairs[use], i[use], ta[use], tb[use], value[use]
    bad = ~np.isfinite(value)
    if kind == "cov":
        bad |= (ta == tb) & ~(value > 0)
    else:
        bad |= np.abs(value) > 1.0 + 1e-12
    _first_bad(bad, pairs, area, a_name, kind,
               f"(with {b_name}) is not a finite {'variance' if kind == 'cov' else 'correlation'}")
    upper, lower = np.full((2, len(areas), T, T), np.nan)
    upper[i, ta, tb] = value
    lower[i, tb, ta] = value
    both = np.isfinite(upper) & np.isfinite(lower)
    clash = both & ~np.isclose(upper, lower, rtol=1e-9, atol=1e-15)
    if clash.any():
        k, a, b = (int(x[0]) for x in np.nonzero(clash))
        raise EstimationError(f"covariance of area {areas[k]!r}: months {a} and {b} of the "
                              f"table differ between ({a_name}, {b_name}) and the swap")
    full = np.where(np.isfinite(upper), upper, lower)
    if kind == "corr":
        full[:, np.arange(T), np.arange(T)] = 1.0
    else:
        sd = np.sqrt(np.diagonal(full, axis1=1, axis2=2))
        full = full / (sd[:, :, None] * sd[:, None, :])
    k = pd.Index(areas).get_indexer(direct[area])
    t = direct["_month"].to_numpy() - first
    mask = np.zeros((len(areas), T), dtype=bool)
    mask[k, t] = True
    missing = mask[:, :, None] & mask[:, None, :] & ~np.isfinite(full)
    if missing.any():
        k, a, b = (int(x[0]) for x in np.nonzero(missing))
        name = direct.loc[(direct["_month"] - first).isin([a, b]) & (direct[area] == areas[k]),
                          period].tolist()
        raise EstimationError(f"covariance block of area {areas[k]!r} lacks periods "
                              f"{name[0]!r} and {name[-1]!r}")
    return np.where(mask[:, :, None] & mask[:, None, :], full, 0.0)


def panel(direct: pd.DataFrame, covariance: pd.DataFrame, area: str, period: str,
          fixed: str) -> tuple[Panel, np.ndarray, int]:
    """The padded panel, its sorted areas and the month number of its first column."""
    areas = direct[area].drop_duplicates().to_numpy()
    first = int(direct["_month"].min())
    T = int(direct["_month"].max()) - first + 1
    k = pd.Index(areas).get_indexer(direct[area])
    t = direct["_month"].to_numpy() - first
    y, sd = np.zeros((2, len(areas), T))
    mask = np.zeros((len(areas), T), dtype=bool)
    y[k, t], sd[k, t], mask[k, t] = direct["_y"], np.sqrt(direct["_v"]), True
    corr = correlation(direct, covariance, area, period, areas, first, T)
    V = corr * sd[:, :, None] * sd[:, None, :]
    try:
        np.linalg.cholesky(V + np.eye(T) * ~mask[:, :, None])
    except np.linalg.LinAlgError:
        for j in range(len(areas)):
            obs = mask[j]
            if np.linalg.eigvalsh(corr[j][np.ix_(obs, obs)])[0] <= 0:
                raise EstimationError(f"covariance block of area {areas[j]!r} is not "
                                      "positive definite") from None
        raise
    X = (np.eye(T)[None] if fixed == "period" else np.ones((1, T, 1))) * mask[:, :, None]
    return Panel(y, mask, V, X.astype(float)), areas, first


def smooth_deff(table: pd.DataFrame, *, area: str = "township", period: str = "period",
                n: str = "n", deff: str = "deff", df: str = "df") -> pd.DataFrame:
    """Smoothed design effects and the effective sample sizes ``n / deff`` they give.

    A monthly design effect estimated with 4-5 degrees of freedom is noisy (its log has
    a standard deviation near 0.8). The panel of villages is fixed, so the design effect
    is taken as a property of the township: pooled over its months, then shrunk toward
    the county. Row (i, t) uses the waves up to t only (real time: a published n_eff
    never changes).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per area x period with the sample size `n`, the estimated design effect
        `deff` (NaN where it is undefined, e.g. an estimate of 0 or 100 %: such a row
        takes its township's smoothed value) and the design degrees of freedom `df` of
        the variance estimate. Not modified.
    area, period, n, deff, df : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        A copy of `table` (same rows and order) with ``deff_smooth`` and ``n_eff`` added.

    Raises
    ------
    EstimationError
        A missing column; a bad period; `n` not positive; a finite `deff` not positive
        or with `df` not positive; no finite `deff` in the first wave of the table.

    Notes
    -----
    With :math:`d` the df, :math:`z_{it} = \\log\\widehat{deff}_{it} - (\\psi(d/2) -
    \\log(d/2))` is unbiased for :math:`\\log deff` with variance :math:`\\psi_1(d/2)`
    (:math:`\\widehat{deff} \\approx deff\\,\\chi^2_d/d`; months taken as independent).
    At cutoff t, :math:`L_i` is the mean of township i's :math:`z`, :math:`s_i^2` its
    variance, :math:`\\tau^2 = \\max(0, \\mathrm{var}(L) - \\overline{s^2})` and
    :math:`\\mu` the precision-weighted mean; the smoothed log design effect is
    :math:`\\mu + \\tau^2/(\\tau^2 + s_i^2)\\,(L_i - \\mu)` (:math:`\\mu` for a township
    with no finite deff yet; :math:`L_i` when there is one township).
    """
    missing = [c for c in (area, period, n, deff, df) if c not in table.columns]
    if missing:
        raise EstimationError(f"table has no column {missing[0]!r}")
    month = month_number(table[period], table[area], period)
    size = pd.to_numeric(table[n], errors="coerce").to_numpy(dtype=float)
    d = pd.to_numeric(table[deff], errors="coerce").to_numpy(dtype=float)
    dof = pd.to_numeric(table[df], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(d)
    for bad, col, what in ((~(size > 0), n, "is not a positive sample size"),
                           (known & ~(d > 0), deff, "is not a positive design effect"),
                           (known & ~(dof > 0), df, "is not positive degrees of freedom")):
        if bad.any():
            row = table.iloc[int(np.flatnonzero(bad)[0])]
            raise EstimationError(f"column {col!r} of area {row[area]!r}, period "
                                  f"{row[period]!r}: {row[col]!r} {what}")
    half = np.where(known, dof, 2.0) / 2.0
    z = np.where(known, np.log(np.where(known, d, 1.0)) - special.digamma(half) + np.log(half),
                 np.nan)
    s2 = np.where(known, special.polygamma(1, half), np.nan)
    codes, uniques = pd.factorize(table[area], sort=True)
    smooth = np.empty(len(table))
    for cut in np.unique(month):
        use = known & (month <= cut)
        if not use.any():
            raise EstimationError(f"column {deff!r}: no finite design effect up to period "
                                  f"{table[period].iloc[int(np.argmax(month == cut))]!r}")
        count = np.bincount(codes[use], minlength=len(uniques))
        has = count > 0
        L = np.bincount(codes[use], z[use], len(uniques))[has] / count[has]
        s = np.bincount(codes[use], s2[use], len(uniques))[has] / count[has] ** 2
        tau2 = max(float(np.var(L, ddof=1)) - float(s.mean()), 0.0) if has.sum() > 1 else np.inf
        w = 1.0 / (tau2 + s)
        mu = float(np.sum(w * L) / np.sum(w)) if np.isfinite(tau2) else float(L[0])
        level = np.full(len(uniques), mu)
        level[has] = mu + (1.0 if np.isinf(tau2) else tau2 / (tau2 + s)) * (L - mu)
        rows = month == cut
        smooth[rows] = np.exp(level[codes[rows]])
    out = table.copy()
    out["deff_smooth"] = smooth
    out["n_eff"] = size / smooth
    return out
