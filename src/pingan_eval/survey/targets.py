"""Judge survey estimates against the campaign's targets: met, not met, or undecided.

The input is any estimate table of the survey core (``SurveyDesign.proportion`` /
``SurveyDesign.mean``): the ``by`` columns, then ``estimate, se, ci_low, ci_high, df,
n, deff``. :func:`evaluate` adds a verdict read from the confidence interval, the
point-estimate reading, and a one-sided p-value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: a second to import, same functions

from pingan_eval.errors import EstimationError

__all__ = ["VERDICTS", "evaluate", "p_below"]

#: The three possible verdicts, in report order.
VERDICTS = ("met", "not_met", "undecided")

_NEEDED = ("estimate", "se", "ci_low", "ci_high", "df")


def evaluate(
    table: pd.DataFrame,
    target: float | str | Sequence[float] | np.ndarray | pd.Series = 0.95,
    *,
    level: float | None = None,
) -> pd.DataFrame:
    """Judge every row of an estimate table against a target.

    Parameters
    ----------
    table : pandas.DataFrame
        An estimate table with at least the columns ``estimate, se, ci_low, ci_high,
        df`` (the survey core's output). Not modified.
    target : float, str or array-like, default 0.95
        The target every row must reach: one number for all rows; the name of a
        column of `table` holding per-row targets; or an array-like of one target per
        row (a :class:`pandas.Series` is aligned on the table's index, anything else by
        position). When every finite estimate lies in [0, 1] the table is read as a
        table of proportions and every target must lie in [0, 1] as well (a target of
        ``95`` meant as 95 % is an error, not a verdict).
    level : float, optional
        ``None`` (default) judges with the interval the table carries (``ci_low``,
        ``ci_high``), whatever method made it (logit, Clopper-Pearson, ...). A number
        in (0, 1) judges with the symmetric Student-t interval
        ``estimate ± t(df, (1 + level) / 2) · se`` at that level instead; the table's
        own ``ci_low``/``ci_high`` columns are returned unchanged.

    Returns
    -------
    pandas.DataFrame
        A copy of `table`, same rows in the same order, with four columns added (or
        replaced):

        - ``target`` (float): the target of the row;
        - ``verdict`` (str): ``"met"`` when the interval's lower bound is >= target,
          ``"not_met"`` when its upper bound is < target, else ``"undecided"``
          (also when a bound is NaN, e.g. df = 0);
        - ``point_met`` (bool): ``estimate >= target``, the point-estimate reading
          (False when the estimate is NaN);
        - ``p_below_target`` (float): one-sided p-value of H1 "the true value is below
          the target" against H0 "it is at or above the target" (see Notes).

    Raises
    ------
    EstimationError
        A needed column is missing; `target` names no column, has the wrong length,
        is not finite, or is outside [0, 1] for a table of proportions; `level` is not
        in (0, 1).

    Notes
    -----
    With :math:`\\hat\\theta` the estimate, :math:`\\theta_0` the target and
    :math:`t_{df}` Student's t with the row's design degrees of freedom,

    .. math:: p_{below} = P\\left(t_{df} \\le \\frac{\\hat\\theta - \\theta_0}{se}\\right)

    (the standard normal when df is infinite). This is the p-value R gives for
    ``pt((coef(m) - target) / SE(m), df = degf(design))``, and for a simple random
    sample it equals ``t.test(x, mu = target, alternative = "less")$p.value``
    (``scipy.stats.ttest_1samp(x, target, alternative="less")``). A small value is
    evidence the target is missed. When ``se == 0`` it is 0.0 if the estimate is below
    the target and 1.0 otherwise; it is NaN when df <= 0 or is NaN (a variance
    that cannot be estimated, e.g. one PSU), or when the estimate or se is NaN.
    ``se == 0`` happens when every respondent of a domain gave the same answer: the
    design variance is then zero and the p-value says nothing about sampling error,
    while the survey core's interval for such a proportion (Clopper-Pearson on ``n``)
    still does, so trust the verdict there (20 of 20 "yes" is "undecided" against 0.95
    with ``p_below_target`` 1.0).

    The verdict reads the two-sided interval: with a 95 % interval, "met" is a
    one-sided test of H0 "at or below target" at the 2.5 % level, "not_met" the mirror
    test. With ``level`` given the verdict agrees with the p-value exactly:
    "not_met" iff ``p_below_target < (1 - level) / 2`` and "met" iff
    ``p_below_target >= (1 + level) / 2``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pingan_eval.survey.targets import evaluate
    >>> t = pd.DataFrame({"township": ["A", "B", "C"],
    ...                   "estimate": [0.98, 0.90, 0.96], "se": [0.01, 0.02, 0.02],
    ...                   "ci_low": [0.96, 0.86, 0.92], "ci_high": [0.99, 0.94, 0.99],
    ...                   "df": [30.0, 30.0, 30.0], "n": [300, 250, 280],
    ...                   "deff": [1.5, 1.8, 1.6]})
    >>> out = evaluate(t, 0.95)
    >>> out[["township", "target", "verdict", "point_met"]]
      township  target    verdict  point_met
    0        A    0.95        met       True
    1        B    0.95    not_met      False
    2        C    0.95  undecided       True
    >>> out["p_below_target"].round(4).tolist()
    [0.9973, 0.0091, 0.6896]
    """
    needed = [c for c in _NEEDED if c not in table.columns]
    if needed:
        raise EstimationError(
            f"evaluate: the table has no column(s) {needed}; it has {list(table.columns)}"
        )
    if level is not None and not (0.0 < level < 1.0):
        raise EstimationError(f"evaluate: level must be in (0, 1), got {level!r}")

    est = table["estimate"].to_numpy(dtype=float)
    se = table["se"].to_numpy(dtype=float)
    df = table["df"].to_numpy(dtype=float)
    tgt = _targets(table, target, est)

    if level is None:
        low = table["ci_low"].to_numpy(dtype=float)
        high = table["ci_high"].to_numpy(dtype=float)
    else:
        half = _t_quantile((1.0 + level) / 2.0, df) * se
        low, high = est - half, est + half

    # NaN bounds compare False both ways, so they fall through to "undecided".
    verdict = np.where(low >= tgt, "met", np.where(high < tgt, "not_met", "undecided"))

    out = table.copy()
    out["target"] = tgt
    out["verdict"] = verdict
    out["point_met"] = est >= tgt
    out["p_below_target"] = p_below(est, se, df, tgt)
    return out


def p_below(
    estimate: np.ndarray, se: np.ndarray, df: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """One-sided p-value of "the true value is below `target`" (see :func:`evaluate`).

    Parameters
    ----------
    estimate, se, df, target : numpy.ndarray
        Broadcastable arrays: estimates, standard errors, degrees of freedom (may be
        ``inf``), targets.

    Returns
    -------
    numpy.ndarray
        ``P(t_df <= (estimate - target) / se)``; 0.0 / 1.0 when ``se == 0``; NaN when
        df <= 0 or any input is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from pingan_eval.survey.targets import p_below
    >>> p_below(np.array([0.93, 0.93, 0.93]), np.array([0.01, 0.0, 0.01]),
    ...         np.array([np.inf, 20.0, 0.0]), np.array([0.95, 0.95, 0.95])).round(5)
    array([0.02275, 0.     ,     nan])
    """
    estimate, se, df, target = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (estimate, se, df, target))
    )
    # A tiny se can overflow the ratio to +-inf, which t.cdf maps to 0 or 1 as it should.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        stat = (estimate - target) / se
    ok_df = df > 0  # False for NaN as well
    p = np.full(stat.shape, np.nan)
    pos = ok_df & (se > 0)
    p[pos] = special.stdtr(df[pos], stat[pos])
    zero = ok_df & (se == 0) & ~np.isnan(estimate) & ~np.isnan(target)
    p[zero] = np.where(estimate[zero] < target[zero], 0.0, 1.0)
    return p


def _t_quantile(q: float, df: np.ndarray) -> np.ndarray:
    """Student-t quantile per row; NaN where df <= 0 (no variance estimate)."""
    df = np.asarray(df, dtype=float)
    out = np.full(df.shape, np.nan)
    ok = df > 0
    out[ok] = special.stdtrit(df[ok], q)
    return out


def _targets(table: pd.DataFrame, target: object, est: np.ndarray) -> np.ndarray:
    """The per-row targets as floats, checked (finite; in [0, 1] for proportions)."""
    if isinstance(target, str):
        if target not in table.columns:
            raise EstimationError(
                f"evaluate: target column {target!r} is not in the table; "
                f"it has {list(table.columns)}"
            )
        raw = table[target]
    elif isinstance(target, pd.Series):
        missing = table.index.difference(target.index)
        if len(missing):
            raise EstimationError(
                f"evaluate: the target Series has no value for table row(s) {list(missing)}"
            )
        raw = target.reindex(table.index)
    elif np.ndim(target) == 0:
        raw = np.full(len(table), target, dtype=object)
    else:
        raw = np.asarray(target, dtype=object)
        if raw.ndim != 1 or len(raw) != len(table):
            raise EstimationError(
                f"evaluate: {len(raw)} targets given for a table of {len(table)} rows"
            )
    try:
        tgt = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as err:
        raise EstimationError(f"evaluate: targets must be numbers ({err})") from None

    bad = np.flatnonzero(~np.isfinite(tgt))
    if bad.size:
        i = bad[0]
        raise EstimationError(
            f"evaluate: target of row {table.index[i]!r} is {tgt[i]!r}; targets must be finite"
        )
    finite = est[np.isfinite(est)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        bad = np.flatnonzero((tgt < 0.0) | (tgt > 1.0))
        if bad.size:
            i = bad[0]
            raise EstimationError(
                f"evaluate: target {tgt[i]!r} (row {table.index[i]!r}) is outside [0, 1]; "
                "the estimates are proportions, so write 95 % as 0.95"
            )
    return tgt
