"""Change between two estimate tables: this month against last, or one domain against another.

The two tables come from independent samples (two survey waves, or domains in different
strata), so the variance of the difference is the sum of the two variances, and its
degrees of freedom come from the Welch-Satterthwaite approximation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: a second to import, same functions

from pingan_eval.errors import EstimationError

__all__ = ["CHANGE_COLUMNS", "change", "welch_df"]

#: The statistic columns of :func:`change`'s output, after its ``by`` columns.
CHANGE_COLUMNS = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "df",
    "estimate_current",
    "estimate_previous",
    "p_value",
)
_NEEDED = ("estimate", "se", "df")


def change(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Difference ``current - previous`` with its standard error, interval and p-value.

    Parameters
    ----------
    current, previous : pandas.DataFrame
        Estimate tables (the survey core's output, or any table with ``estimate, se,
        df`` and the `by` columns) from two independent samples. Not modified.
    by : str or sequence of str, optional
        The columns that match rows of the two tables. ``None`` (default) takes the
        columns that precede ``estimate`` in `current` (the survey core puts its
        ``by`` columns first); `previous` must have them too. An empty list compares
        two one-row tables directly, e.g. two townships' rows of one table.
    level : float, default 0.95
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per key found in either table (an outer join), sorted by the `by`
        columns, with the `by` columns then exactly:

        - ``estimate``: ``estimate_current - estimate_previous``;
        - ``se``: :math:`\\sqrt{se_1^2 + se_2^2}`;
        - ``ci_low``, ``ci_high``: ``estimate ± t(df, (1 + level) / 2) · se``;
        - ``df``: Welch-Satterthwaite degrees of freedom (see Notes);
        - ``estimate_current``, ``estimate_previous``: the two estimates;
        - ``p_value``: two-sided p-value of H0 "no change".

        A key present in only one table gets NaN in every statistic.

    Raises
    ------
    EstimationError
        A needed column is missing, a key appears twice in one table, the tables have
        more than one row each with no `by` columns, or `level` is not in (0, 1).

    Notes
    -----
    With :math:`v_i = se_i^2` and :math:`d_i` the design degrees of freedom of the two
    rows, the Welch-Satterthwaite degrees of freedom are

    .. math:: df = \\frac{(v_1 + v_2)^2}{v_1^2 / d_1 + v_2^2 / d_2}

    (a term with :math:`d_i = \\infty` is 0; two infinite df give :math:`\\infty`, the
    normal distribution). When both variances are 0 the formula is undefined and
    ``min(d_1, d_2)`` is used; when either :math:`d_i` is NaN or <= 0 (a variance
    that cannot be estimated) df, the interval and the p-value are NaN. With
    ``se == 0`` the interval is the point and the p-value is 1.0 for no change, else 0.0.

    For two simple random samples (se = s / sqrt(n), df = n - 1) this is Welch's
    t-test: R's ``t.test(x, y)``, scipy's ``ttest_ind(x, y, equal_var=False)``. The
    interval is the symmetric Wald-t interval, also for proportions (no logit
    transform): a difference of proportions lies in [-1, 1], not [0, 1].

    The samples must be independent. Two survey waves drawn separately are; two
    domains of one survey are only when they lie in different strata (e.g. two
    townships when the design is stratified by township). Domains that share PSUs
    are correlated: estimate their contrast from the design instead (R's
    ``svycontrast``).

    References
    ----------
    Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
    components. *Biometrics Bulletin* 2(6), 110-114.

    Welch, B. L. (1947). The generalization of "Student's" problem when several
    different population variances are involved. *Biometrika* 34(1-2), 28-35.

    Examples
    --------
    >>> import pandas as pd
    >>> from pingan_eval.survey.change import change
    >>> nov = pd.DataFrame({"township": ["A", "B"], "estimate": [0.96, 0.91],
    ...                     "se": [0.010, 0.020], "df": [20.0, 18.0]})
    >>> oct_ = pd.DataFrame({"township": ["A", "C"], "estimate": [0.92, 0.88],
    ...                      "se": [0.015, 0.020], "df": [20.0, 15.0]})
    >>> out = change(nov, oct_)
    >>> out[["township", "estimate", "se", "ci_low", "ci_high", "df", "p_value"]].round(4)
      township  estimate     se  ci_low  ci_high       df  p_value
    0        A      0.04  0.018  0.0034   0.0766  34.8454   0.0331
    1        B       NaN    NaN     NaN      NaN      NaN      NaN
    2        C       NaN    NaN     NaN      NaN      NaN      NaN
    >>> out[["estimate_current", "estimate_previous"]].iloc[1:].to_numpy().tolist()
    [[0.91, nan], [nan, 0.88]]
    """
    if not (0.0 < level < 1.0):
        raise EstimationError(f"change: level must be in (0, 1), got {level!r}")
    keys = _by_columns(current, by)
    for name, tab in (("current", current), ("previous", previous)):
        missing = [c for c in (*keys, *_NEEDED) if c not in tab.columns]
        if missing:
            raise EstimationError(
                f"change: the {name} table has no column(s) {missing}; "
                f"it has {list(tab.columns)}"
            )
        if keys:
            dup = tab.duplicated(keys, keep=False)
            if dup.any():
                first = tab.loc[dup, keys].iloc[0].tolist()
                raise EstimationError(
                    f"change: the {name} table has more than one row for {keys} = {first}"
                )
        elif len(tab) > 1:
            raise EstimationError(
                f"change: the {name} table has {len(tab)} rows and no `by` columns to "
                "match them; pass by=[...] or one-row tables"
            )

    cols = list(_NEEDED)
    left = current[[*keys, *cols]]
    right = previous[[*keys, *cols]]
    if keys:
        both = left.merge(right, how="outer", on=keys, suffixes=("_1", "_2"), sort=True)
    else:
        halves = [left.add_suffix("_1"), right.add_suffix("_2")]
        both = pd.concat([h.reset_index(drop=True) for h in halves], axis=1)

    e1, e2 = (both[f"estimate_{i}"].to_numpy(dtype=float) for i in (1, 2))
    s1, s2 = (both[f"se_{i}"].to_numpy(dtype=float) for i in (1, 2))
    d1, d2 = (both[f"df_{i}"].to_numpy(dtype=float) for i in (1, 2))
    diff = e1 - e2
    se = np.hypot(s1, s2)
    df = welch_df(s1, d1, s2, d2)

    ok = df > 0  # False for NaN
    half = np.full(diff.shape, np.nan)
    half[ok] = special.stdtrit(df[ok], (1.0 + level) / 2.0) * se[ok]
    p = np.full(diff.shape, np.nan)
    pos = ok & (se > 0)
    # A tiny se can overflow the ratio to inf, which t.sf maps to 0 as it should.
    with np.errstate(over="ignore"):
        ratio = np.abs(diff[pos] / se[pos])
    p[pos] = 2.0 * special.stdtr(df[pos], -ratio)
    zero = ok & (se == 0) & ~np.isnan(diff)
    p[zero] = np.where(diff[zero] == 0, 1.0, 0.0)

    out = both[keys].copy()
    out["estimate"] = diff
    out["se"] = se
    out["ci_low"] = diff - half
    out["ci_high"] = diff + half
    out["df"] = df
    out["estimate_current"] = e1
    out["estimate_previous"] = e2
    out["p_value"] = p
    return out


def welch_df(se1: np.ndarray, df1: np.ndarray, se2: np.ndarray, df2: np.ndarray) -> np.ndarray:
    """Welch-Satterthwaite degrees of freedom of a sum of two independent variances.

    Parameters
    ----------
    se1, df1, se2, df2 : numpy.ndarray
        Standard errors and their degrees of freedom (``inf`` allowed), broadcastable.

    Returns
    -------
    numpy.ndarray
        :math:`(v_1 + v_2)^2 / (v_1^2/d_1 + v_2^2/d_2)` with :math:`v_i = se_i^2`;
        ``min(df1, df2)`` where both variances are 0; NaN where a df is NaN or <= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from pingan_eval.survey.change import welch_df
    >>> welch_df(np.array([1.0, 1.0, 0.0]), np.array([10.0, np.inf, 5.0]),
    ...          np.array([1.0, 1.0, 0.0]), np.array([10.0, np.inf, 8.0]))
    array([20., inf,  5.])
    """
    se1, df1, se2, df2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (se1, df1, se2, df2))
    )
    # Scale by the larger se first: squaring and squaring again underflows otherwise.
    top = np.fmax(se1, se2)
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v2 = (se1 / top) ** 2, (se2 / top) ** 2
        # v**2 / inf is 0, so an infinite df drops out of the denominator as it should.
        out = (v1 + v2) ** 2 / (v1**2 / df1 + v2**2 / df2)
    out = np.where(top == 0, np.minimum(df1, df2), out)
    bad = ~(df1 > 0) | ~(df2 > 0)
    return np.where(bad, np.nan, out)


def _by_columns(current: pd.DataFrame, by: str | Sequence[str] | None) -> list[str]:
    """The matching columns: as given, or those before ``estimate`` in `current`."""
    if by is None:
        if "estimate" not in current.columns:
            raise EstimationError(
                f"change: the current table has no column 'estimate'; "
                f"it has {list(current.columns)}"
            )
        return list(current.columns[: current.columns.get_loc("estimate")])
    return [by] if isinstance(by, str) else list(by)
