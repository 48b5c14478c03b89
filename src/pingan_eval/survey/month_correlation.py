"""A usable correlation between a township's months, from the design's noisy one.

:func:`pingan_eval.survey.pooling.month_covariance` estimates, per township, the
covariance of its T monthly estimates from the totals of its 5-6 villages: a T x T matrix
of rank at most (villages - 1), hence singular once T exceeds that, and noisy. What the
villages make persistent (the same panel every month) is common to the county's design,
so the correlation is pooled over townships by lag, the mean of Fisher's z of all pairs
``|s - t| = k`` for each k, and the resulting Toeplitz matrix is made positive definite by
clipping its eigenvalues (Higham's nearest-correlation idea, one step).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pingan_eval.errors import EstimationError

__all__ = ["lag_correlation"]

#: Smallest eigenvalue kept: the sampling correlation is never taken as exactly singular.
_MIN_EIGENVALUE = 0.05


def lag_correlation(covariance: pd.DataFrame, *, area: str = "township") -> pd.DataFrame:
    """Pool the between-month correlations of every area by lag into one PD structure.

    Parameters
    ----------
    covariance : pandas.DataFrame
        ``area, period_a, period_b, corr`` (as :func:`~pingan_eval.survey.pooling.
        month_covariance` gives for one variable); non-finite correlations are ignored.

    Returns
    -------
    pandas.DataFrame
        ``area, period_a, period_b, corr``: every pair of periods of every area of the
        input (both orders, diagonal included), ``corr`` the pooled lag correlation,
        sorted by area and periods.

    Raises
    ------
    EstimationError
        A needed column is missing.

    Examples
    --------
    >>> cov = pd.DataFrame({"township": ["a", "a", "a", "a"],
    ...                     "period_a": ["2026-01", "2026-01", "2026-02", "2026-02"],
    ...                     "period_b": ["2026-01", "2026-02", "2026-01", "2026-02"],
    ...                     "corr": [1.0, 0.3, 0.3, 1.0]})
    >>> lag_correlation(cov)["corr"].round(3).tolist()
    [1.0, 0.3, 0.3, 1.0]
    """
    missing = [c for c in (area, "period_a", "period_b", "corr") if c not in covariance]
    if missing:
        raise EstimationError(f"covariance table lacks column(s) {missing}")
    periods = sorted(set(covariance["period_a"]) | set(covariance["period_b"]))
    index = {p: pd.Period(p, freq="M").ordinal for p in periods}
    lag = (covariance["period_a"].map(index) - covariance["period_b"].map(index)).abs()
    r = covariance["corr"].to_numpy(dtype=float)
    ok = np.isfinite(r) & (lag.to_numpy() > 0)
    z = np.arctanh(np.clip(r[ok], -0.99, 0.99))
    by_lag = pd.Series(z).groupby(lag.to_numpy()[ok]).mean()
    span = max(index.values()) - min(index.values()) + 1 if index else 1
    rho = np.ones(span)
    for k, value in by_lag.items():
        rho[int(k)] = np.tanh(value)
    ordinals = np.array([index[p] for p in periods])
    matrix = rho[np.abs(ordinals[:, None] - ordinals[None, :])]
    vals, vecs = np.linalg.eigh(matrix)
    matrix = (vecs * np.maximum(vals, _MIN_EIGENVALUE)) @ vecs.T
    d = np.sqrt(np.diag(matrix))
    matrix = matrix / np.outer(d, d)
    pos = {p: i for i, p in enumerate(periods)}
    rows = []
    for name, g in covariance.groupby(area, sort=True):
        have = sorted(set(g["period_a"]) | set(g["period_b"]))
        for a in have:
            for b in have:
                rows.append((name, a, b, float(matrix[pos[a], pos[b]])))
    return pd.DataFrame(rows, columns=[area, "period_a", "period_b", "corr"])
