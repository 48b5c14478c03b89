"""Confidence-interval formulas for a proportion or a mean, vectorized over domains.

Each formula is a small pure function of arrays (one element per domain); the design
code computes the inputs (estimate, variance, degrees of freedom, sample sizes) and picks
the formula by name. Every function returns ``(low, high)`` arrays.

Conventions shared by all formulas:

* ``df`` is the design's denominator degrees of freedom of the domain. Where ``df <= 0``
  there is no design-based variance estimate and both bounds are NaN (as in R).
* ``level`` is the two-sided confidence level, e.g. 0.95.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # not scipy.stats: a second to import, same functions

from pingan_eval.errors import EstimationError

#: Valid ``method`` names of :meth:`pingan_eval.SurveyDesign.proportion`.
PROPORTION_METHODS: tuple[str, ...] = (
    "logit", "beta", "wald", "wilson", "clopper-pearson", "jeffreys",
)


def check_level(level: float) -> float:
    """Return ``level`` as a float, or raise :class:`EstimationError` unless 0 < level < 1."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise EstimationError(f"level must be a number in (0, 1), got {level!r}") from None
    if not 0.0 < value < 1.0:
        raise EstimationError(f"level must be in (0, 1), got {level!r}")
    return value


def check_method(method: str) -> str:
    """Return ``method`` unchanged, or raise :class:`EstimationError` listing the valid ones."""
    if method not in PROPORTION_METHODS:
        valid = ", ".join(repr(m) for m in PROPORTION_METHODS)
        raise EstimationError(f"unknown proportion method {method!r}; valid methods: {valid}")
    return method


def t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    """Upper ``(1 + level) / 2`` quantile of Student's t with ``df`` (NaN where df <= 0)."""
    df = np.asarray(df, dtype=float)
    q = np.full(df.shape, np.nan)
    ok = df > 0
    q[ok] = special.stdtrit(df[ok], 0.5 + level / 2.0)
    return q


def wald(estimate: np.ndarray, se: np.ndarray, df: np.ndarray,
         level: float) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric t interval ``estimate -/+ t(df) * se``, not clipped to [0, 1].

    R: ``confint(svymean(~y, design), df = degf(design))``, and ``svyciprop(method="mean")``.
    """
    half = t_quantile(level, df) * se
    return estimate - half, estimate + half


def clopper_pearson(x: np.ndarray, n: np.ndarray,
                    level: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson ("exact") interval for ``x`` successes in ``n`` trials.

    ``low = B(a/2; x, n - x + 1)`` and ``high = B(1 - a/2; x + 1, n - x)`` with ``a =
    1 - level`` and ``B(q; s1, s2)`` the beta quantile; ``low = 0`` when ``x = 0`` and
    ``high = 1`` when ``x = n``. ``x`` and ``n`` may be non-integer (an effective size).

    Examples
    --------
    >>> low, high = clopper_pearson(np.array([0.0, 10.0]), np.array([10.0, 10.0]), 0.95)
    >>> [round(float(v), 4) for v in (low[0], high[0], low[1], high[1])]
    [0.0, 0.3085, 0.6915, 1.0]
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x <= 0, 0.0, special.betaincinv(x, n - x + 1, alpha / 2))
        high = np.where(x >= n, 1.0, special.betaincinv(x + 1, n - x, 1 - alpha / 2))
    return low, high


def jeffreys(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval: quantiles of the ``Beta(x + 1/2, n - x + 1/2)`` posterior.

    ``low = 0`` when ``x = 0`` and ``high = 1`` when ``x = n`` (Brown, Cai and DasGupta
    2001, section 4.1.2).
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x <= 0, 0.0, special.betaincinv(x + 0.5, n - x + 0.5, alpha / 2))
        high = np.where(x >= n, 1.0, special.betaincinv(x + 0.5, n - x + 0.5, 1 - alpha / 2))
    return low, high


def wilson(p: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval with the normal quantile ``z``.

    ``(p + z^2/(2n) -/+ z * sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n)``.

    Examples
    --------
    >>> low, high = wilson(np.array([0.5]), np.array([100.0]), 0.95)
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.4038, 0.5962)
    """
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    z = special.ndtri(0.5 + level / 2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = p + z * z / (2 * n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        denom = 1 + z * z / n
        low, high = (centre - half) / denom, (centre + half) / denom
    # The interval contains p in exact arithmetic; keep it so after rounding (p = 0, 1).
    return np.clip(np.minimum(low, p), 0.0, 1.0), np.clip(np.maximum(high, p), 0.0, 1.0)


def logit(p: np.ndarray, se: np.ndarray, df: np.ndarray,
          level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval on the logit scale, transformed back.

    ``expit(logit(p) -/+ t(df) * se / (p (1 - p)))``: the delta-method standard error of
    ``logit(p)``, which is exactly the standard error of the intercept of R's
    ``svyglm(y ~ 1, family = quasibinomial)`` used by ``svyciprop(method = "logit")``.
    NaN where ``p`` is 0 or 1 (the caller substitutes Clopper-Pearson there).
    """
    p = np.asarray(p, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = np.log(p / (1 - p))
        half = t_quantile(level, df) * se / (p * (1 - p))
        low = 1 / (1 + np.exp(-(eta - half)))
        high = 1 / (1 + np.exp(-(eta + half)))
    inside = (p > 0) & (p < 1)
    return np.where(inside, low, np.nan), np.where(inside, high, np.nan)


def korn_graubard(p: np.ndarray, var: np.ndarray, df: np.ndarray, n_rows: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
    """Korn-Graubard (1998) beta interval, as R's ``svyciprop(method = "beta")``.

    The effective sample size ``n_eff = p (1 - p) / var`` is scaled by
    ``(t_{a/2}(n_rows - 1) / t_{a/2}(df))^2`` and the bounds are
    ``B(a/2; n_eff p, n_eff (1 - p) + 1)`` and ``B(1 - a/2; n_eff p + 1, n_eff (1 - p))``.
    R uses ``nrow(design)`` of the domain for ``n_rows`` (rows whose variable is missing
    included). Where ``var`` is 0 and ``0 < p < 1`` both bounds are ``p``; where ``p`` is
    0 or 1 the result is NaN (the caller substitutes Clopper-Pearson).
    """
    p = np.asarray(p, dtype=float)
    var = np.asarray(var, dtype=float)
    df = np.asarray(df, dtype=float)
    n_rows = np.asarray(n_rows, dtype=float)
    alpha = 1.0 - level
    inside = (p > 0) & (p < 1)
    ok = inside & (df > 0) & (n_rows > 1) & (var > 0)
    low = np.full(p.shape, np.nan)
    high = np.full(p.shape, np.nan)
    ratio = special.stdtrit(n_rows[ok] - 1, alpha / 2) / special.stdtrit(df[ok], alpha / 2)
    n_eff = p[ok] * (1 - p[ok]) / var[ok] * ratio**2
    low[ok] = special.betaincinv(n_eff * p[ok], n_eff * (1 - p[ok]) + 1, alpha / 2)
    high[ok] = special.betaincinv(n_eff * p[ok] + 1, n_eff * (1 - p[ok]), 1 - alpha / 2)
    flat = inside & (df > 0) & (n_rows > 1) & (var == 0)
    low[flat] = p[flat]
    high[flat] = p[flat]
    return low, high
