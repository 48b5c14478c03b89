"""Weighted means per domain, their design variance and design effect, in one pass.

The sums of each (domain, PSU) pair (:func:`~pingan_eval.survey.variance.pair_sums`) give
every domain's total, mean and the PSU totals of its influence values; the variance
engine (:mod:`pingan_eval.survey.variance`) turns those into variances, calibration-aware
when the design was raked. :meth:`~pingan_eval.survey.design.SurveyDesign.mean` and
:meth:`~pingan_eval.survey.design.SurveyDesign.proportion` add the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pingan_eval.errors import EstimationError
from pingan_eval.survey._design_inputs import Domains, by_columns
from pingan_eval.survey.variance import (
    Structure,
    calibrated_variance,
    domain_variance,
    pair_sums,
)

__all__ = ["domain_means", "kish_n"]


def domain_means(valid: np.ndarray, y0: np.ndarray, weights: np.ndarray, domains: Domains,
                 structure: Structure, steps: tuple, *, binary: bool, variable: str,
                 by: str | Sequence[str] | None) -> dict[str, Any]:
    """Domain means, variances and sizes of one variable: everything but the interval.

    ``valid`` marks the rows with a value, ``y0`` holds the values (0 where missing),
    ``steps`` the design's calibration steps (empty when not raked); ``binary`` (0/1
    values) takes the exact shortcuts of a proportion. ``variable`` and ``by`` name the
    estimate in the error raised when no domain has a value.

    Returns a dict: ``keys`` (the domains), ``estimate``, ``se``, ``var``, ``df``, ``n``,
    ``deff``, ``n_rows`` per domain, and ``wv``, ``pairs``, ``wsum`` for :func:`kish_n`.
    """
    pairs = domains.pairs
    k = len(domains.keys)
    # Sums per (domain, PSU) pair, then per domain: no pass over rows per domain.
    wv = np.where(valid, weights, 0.0)
    wy = wv * y0
    pair_n = pair_sums(pairs, valid)
    pair_w = pair_sums(pairs, wv)
    pair_wy = pair_sums(pairs, wy)
    n = np.bincount(pairs.pair_domain, weights=pair_n, minlength=k).astype(np.int64)
    if not n.any():
        raise EstimationError(
            f"no non-missing value of {variable!r} in the requested domain(s)"
            + (f" of {by_columns(by)}" if by is not None else ""))
    wsum = np.bincount(pairs.pair_domain, weights=pair_w, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.bincount(pairs.pair_domain, weights=pair_wy, minlength=k) / wsum
        # Residuals are 0 outside the domains and where the variable is missing.
        resid = None if binary and not steps else (
            y0 - np.append(est, 0.0)[domains.row_domain])
        if binary:
            # sum w (y - est)^2 = W est (1 - est) exactly for 0/1 values, and the
            # pair totals of w (y - est) follow from the pair sums.
            ss = wsum * est * (1.0 - est)
            pair_wr = pair_wy - est[pairs.pair_domain] * pair_w
        else:
            # Two passes, robust wherever the values of y lie.
            wr = wv * resid
            pair_wr = pair_sums(pairs, wr)
            ss = np.bincount(pairs.pair_domain, weights=pair_sums(pairs, wr * resid),
                             minlength=k)
        if steps:
            x = wv * resid * np.append(1.0 / wsum, 0.0)[domains.row_domain]
            var = calibrated_variance(x, pairs, structure, steps)
        else:
            # PSU totals of w (y - est) / W, the influence values of the domain mean.
            totals = pair_wr / wsum[pairs.pair_domain]
            var = domain_variance(totals, pairs, structure, present=pair_n > 0)
        s2 = n / (n - 1) * ss / wsum
        vsrs = s2 * (wsum - n) / (wsum * n)
        deff = np.where(wsum < n, np.nan, var / vsrs)
    empty = n == 0
    return {"keys": domains.keys, "estimate": est,
            "se": np.where(empty, np.nan, np.sqrt(var)), "var": var,
            "df": domains.df, "n": n, "deff": deff, "n_rows": domains.n_rows,
            "wv": wv, "pairs": pairs, "wsum": wsum}


def kish_n(est: dict[str, Any], weights: np.ndarray) -> np.ndarray:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` per domain of :func:`domain_means`."""
    pairs = est["pairs"]
    w2 = np.bincount(pairs.pair_domain, weights=pair_sums(pairs, est["wv"] * weights),
                     minlength=pairs.n_domains)
    with np.errstate(invalid="ignore", divide="ignore"):
        return est["wsum"] ** 2 / w2
