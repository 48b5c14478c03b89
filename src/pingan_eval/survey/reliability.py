"""Reliability flags for estimated proportions (NCHS data presentation standards, 2017).

:func:`reliability` adds ``flag`` ("ok" | "review" | "suppress") and ``flag_reason`` to
a proportion table, so reports can suppress an estimate or mark it for review.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pingan_eval.errors import EstimationError
from pingan_eval.survey import intervals

#: Reason codes written to ``flag_reason``, and the flag each one implies.
REASONS: dict[str, str] = {
    "no_estimate": "suppress",       # no non-missing value in the domain
    "ci_undefined": "suppress",      # df <= 0: no design-based confidence interval
    "n_eff<30": "suppress",          # effective sample size below 30
    "ci_width>=0.30": "suppress",    # Korn-Graubard interval 0.30 wide or wider
    "rel_ci_width>130%": "suppress",  # wider than 0.05 and than 130% of the estimate
    "complement_rel_ci_width>130%": "review",  # shown, but wide against 1 - p
    "df<8": "review",                # fewer than 8 design degrees of freedom
    "estimate_0_or_1": "review",     # an estimate of exactly 0% or 100%
}


def reliability(table: pd.DataFrame) -> pd.DataFrame:
    """Flag each estimated proportion of ``table`` as ok, for review, or to suppress.

    Parameters
    ----------
    table : pandas.DataFrame
        A proportion table as :meth:`pingan_eval.SurveyDesign.proportion` returns it
        (any method): needs ``estimate, se, ci_low, ci_high, df, n, deff``. Not modified.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with two columns added: ``flag`` (``"ok"``, ``"review"`` or
        ``"suppress"``) and ``flag_reason`` (the reason codes of :data:`REASONS` that
        apply, joined by ``";"``; ``""`` when ok).

    Raises
    ------
    EstimationError
        A required column is missing, or an estimate lies outside [0, 1].

    Notes
    -----
    Following Parker et al. (2017), with ``p`` the estimate:

    1. Effective sample size ``n_eff = p (1 - p) / se^2``, at most ``n`` (a design effect
       below 1 counts as 1), and ``n_eff = n`` where ``p`` is 0 or 1. ``n_eff < 30``:
       suppress.
    2. The 95% Korn-Graubard interval is computed from ``p``, ``se`` (raised to
       ``sqrt(p (1 - p) / n)`` when smaller, as in 1), ``df`` and ``n`` (so the flags do
       not depend on the interval method of the table; it is the interval of
       ``proportion(method="beta")`` with the rows whose variable is missing left out).
       Width ``w = high - low``; ``w >= 0.30``: suppress; ``w > 0.05`` and
       ``w / p > 1.30``: suppress. The width rules do not apply where ``p`` is 0 or 1
       (as in NCHS's own implementation, CDC's R package surveytable).
    3. An estimate shown by the relative-width rule (``n_eff >= 30``,
       ``0.05 < w < 0.30``, ``w / p <= 1.30``) whose interval is wider than 130% of
       the complement, ``w / (1 - p) > 1.30``: flag for statistical review (the
       standard's footnote for the complement; code ``Pc`` in surveytable). Near 100%,
       where this campaign's targets lie, it is the rule that bites.
    4. ``df < 8``: flag for statistical review.
    5. ``p`` exactly 0 or 1: flag for statistical review.

    A domain with no estimate (``n = 0``) or ``df <= 0`` (no confidence interval) is
    suppressed. The standards were written for proportions; apply them to means with
    care.

    References
    ----------
    Parker JD, Talih M, Malec DJ, et al. (2017). National Center for Health Statistics
    data presentation standards for proportions. Vital Health Stat 2(175).

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [0.95, 0.95, 1.0, 0.5],
    ...                   "se": [0.01, 0.01, 0.0, 0.2],
    ...                   "ci_low": [0.92, 0.92, 0.9, 0.1], "ci_high": [0.97, 0.97, 1.0, 0.9],
    ...                   "df": [30, 5, 30, 30], "n": [400, 400, 40, 20],
    ...                   "deff": [1.2, 1.2, np.nan, 2.0]})
    >>> flags = reliability(t)
    >>> flags["flag"].tolist()
    ['ok', 'review', 'review', 'suppress']
    >>> flags["flag_reason"].tolist()
    ['', 'df<8', 'estimate_0_or_1', 'n_eff<30;ci_width>=0.30']
    """
    from pingan_eval.survey.design import (
        RESULT_COLUMNS,  # lazy: design pulls in the variance engine
    )

    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise EstimationError(f"reliability() needs a proportion table; missing columns "
                              f"{missing}")
    p = table["estimate"].to_numpy(dtype=float)
    se = table["se"].to_numpy(dtype=float)
    df = table["df"].to_numpy(dtype=float)
    n = table["n"].to_numpy(dtype=float)
    outside = (p < 0) | (p > 1)
    if outside.any():
        i = int(np.argmax(outside))
        raise EstimationError(f"reliability() needs proportions in [0, 1]; row "
                              f"{table.index[i]!r} has estimate {p[i]!r}")
    edge = (p == 0) | (p == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(edge, n, np.minimum(p * (1 - p) / se**2, n))
        var = np.maximum(se**2, p * (1 - p) / n)
    low, high = intervals.korn_graubard(p, var, df, n, 0.95)
    width = high - low
    estimable = ~np.isnan(p) & (n > 0)
    with np.errstate(invalid="ignore"):
        rules = {
            "no_estimate": ~estimable,
            "ci_undefined": estimable & (df <= 0),
            "n_eff<30": estimable & (n_eff < 30),
            "ci_width>=0.30": estimable & ~edge & (width >= 0.30),
            "rel_ci_width>130%": (estimable & ~edge & (width > 0.05) & (width < 0.30)
                                  & (width / p > 1.30)),
            # NCHS: an estimate shown by the relative-width rule is reviewed when the
            # interval is wider than 130% of the complement 1 - p (near 100%, as here)
            "complement_rel_ci_width>130%": (
                estimable & ~edge & (n_eff >= 30) & (width > 0.05) & (width < 0.30)
                & (width / p <= 1.30) & (width / (1 - p) > 1.30)),
            "df<8": estimable & (df > 0) & (df < 8),
            "estimate_0_or_1": estimable & edge,
        }
    hits = np.column_stack([rules[name] for name in REASONS])
    # bool * str is the code or "": one string concatenation per reason, no row loop.
    coded = (hits.astype(object) * np.array([f"{c};" for c in REASONS], dtype=object))
    reasons = pd.Series(coded.sum(axis=1) if len(hits) else [], dtype=object,
                        index=table.index).str.rstrip(";")
    suppress = hits[:, [REASONS[c] == "suppress" for c in REASONS]].any(axis=1)
    review = hits.any(axis=1) & ~suppress
    out = table.copy()
    out["flag"] = np.where(suppress, "suppress", np.where(review, "review", "ok"))
    out["flag_reason"] = reasons.to_numpy(dtype=object)
    return out
