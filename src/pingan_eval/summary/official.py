"""The official verdict of each target: the row of the estimator the plan names.

:func:`~pingan_eval.summary.period_summary` gives a survey target several rows (the
month's direct estimate, pooled windows, the model); a report headline, the county's
comparison and the index show one verdict per area and target, the plan's
(``[estimation] official``). The choice is made here, once, so every page agrees.
"""

from __future__ import annotations

import pandas as pd

from pingan_eval.plan import Plan

__all__ = ["official_rows", "window_start"]


def window_start(period: str, window: str) -> str:
    """The calendar start of a pooling window ending with ``period`` (``YYYY-MM``).

    Examples
    --------
    >>> [window_start("2026-11", w) for w in ("rolling3", "quarter", "ytd", "rolling12")]
    ['2026-09', '2026-10', '2026-01', '2025-12']
    >>> window_start("2026-02", "rolling3")
    '2025-12'
    """
    year, month = int(period[:4]), int(period[5:7])
    if window == "rolling3":
        year, month = (year, month - 2) if month > 2 else (year - 1, month + 10)
    elif window == "quarter":
        month = 3 * ((month - 1) // 3) + 1
    elif window == "ytd":
        month = 1
    elif window == "rolling12":
        year, month = (year, 1) if month == 12 else (year - 1, month + 1)
    return f"{year:04d}-{month:02d}"


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
    first = plan.estimation.pooled_windows[:1]
    wanted = []
    for r in summary[["period", "area_level", "indicator", "source"]].itertuples(index=False):
        if r.source != "survey":
            wanted.append(("direct", ""))
            continue
        estimator = plan.official_estimator(r.indicator, r.area_level)
        start = window_start(r.period, first[0]) if estimator == "pooled" and first else ""
        wanted.append((estimator, start))
    want = pd.DataFrame(wanted, columns=["estimator", "start"], index=summary.index)
    # A pooled row is the declared window's when it starts at or after its calendar start
    # (a missing first month shortens the window); the longest such is that window.
    hit = (summary["estimator"] == want["estimator"]) & (
        (want["start"] == "") | (summary["window_start"] >= want["start"]))
    keys = ["period", "area", "indicator"]
    chosen = summary[hit]
    if (want["estimator"] == "pooled").any():
        chosen = chosen.sort_values("window_start", kind="stable")
    chosen = chosen.drop_duplicates(keys).index
    has = summary.loc[chosen, keys].apply(tuple, axis=1)
    fallback = summary[(summary["estimator"] == "direct")
                       & ~summary[keys].apply(tuple, axis=1).isin(set(has))].index
    return summary.loc[sorted({*chosen, *fallback})].reset_index(drop=True)
