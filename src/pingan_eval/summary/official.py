"""The official verdict of each target: the row of the estimator the plan names.

:func:`~pingan_eval.summary.period_summary` gives a survey target several rows (the
month's direct estimate, pooled windows, the model); a report headline, the county's
comparison and the index show one verdict per area and target, the plan's
(``[estimation] official``). The choice is made here, once, so every page agrees.
"""

from __future__ import annotations

import pandas as pd

from pingan_eval.plan import Plan
from pingan_eval.survey.pooling import window_start

__all__ = ["official_rows", "window_start"]


def official_rows(summary: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """One row per period x area x indicator: the one whose verdict is official.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`~pingan_eval.summary.period_summary` (or ``trend_summary``) output.
    plan : Plan
        Names the official estimator of each survey target and level
        (:meth:`~pingan_eval.plan.Plan.official_estimator`; for ``pooled``, the first of
        ``plan.estimation.pooled_windows``).

    Returns
    -------
    pandas.DataFrame
        The chosen rows, in the summary's order, index reset. Register rows have one
        row each and are kept. Where the official estimator has no row (the model could
        not be fitted; a window of one month has no pooled row), the direct row stands in,
        and its ``estimator`` column says so. A table without an ``estimator`` column
        (one row per target already, as summaries written before the estimators) is
        returned as it is.

    Examples
    --------
    >>> import pandas as pd
    >>> from pingan_eval.plan import load_plan
    >>> s = pd.DataFrame({"period": "2026-11", "area": ["青河县"] * 2 + ["青河镇"] * 3,
    ...     "area_level": ["county"] * 2 + ["township"] * 3, "indicator": "awareness",
    ...     "source": "survey", "estimator": ["direct", "pooled", "direct", "pooled", "model"],
    ...     "window_start": ["2026-11", "2026-09", "2026-11", "2026-09", "2026-11"]})
    >>> official_rows(s, load_plan())[["area", "estimator"]].values.tolist()
    [['青河县', 'direct'], ['青河镇', 'pooled']]
    """
    if summary.empty or "estimator" not in summary:
        return summary.reset_index(drop=True)
    s = summary.reset_index(drop=True)
    survey = s["source"] == "survey"
    pairs = s.loc[survey, ["indicator", "area_level"]].drop_duplicates()
    chosen_estimator = {(c, lv): plan.official_estimator(c, lv)
                        for c, lv in pairs.itertuples(index=False)}
    want = pd.Series("direct", index=s.index)
    want[survey] = pd.MultiIndex.from_frame(s.loc[survey, ["indicator", "area_level"]]).map(
        chosen_estimator)
    # A pooled row is the declared window's when it starts at or after its calendar start
    # (a missing first month shortens the window); the longest such is that window.
    start = pd.Series("", index=s.index)
    pooled = want == "pooled"
    first = plan.estimation.pooled_windows[:1]
    if first and pooled.any():
        starts = {p: window_start(p, first[0]) for p in s.loc[pooled, "period"].unique()}
        start[pooled] = s.loc[pooled, "period"].map(starts)
    hit = (s["estimator"] == want) & ((start == "") | (s["window_start"] >= start))
    keys = ["period", "area", "indicator"]
    chosen = s[hit]
    if pooled.any():
        chosen = chosen.sort_values("window_start", kind="stable")
    chosen = chosen.drop_duplicates(keys)
    covered = pd.MultiIndex.from_frame(s[keys]).isin(pd.MultiIndex.from_frame(chosen[keys]))
    keep = s.index.isin(chosen.index) | ((s["estimator"] == "direct") & ~covered)
    return s[keep].reset_index(drop=True)
