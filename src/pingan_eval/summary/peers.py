"""Where the townships stand, as a distribution: what a township's report shows of the rest.

In a county of hundreds of townships a report cannot list them all; it shows its own
estimate beside the spread of every township's official estimate, computed once here.
"""

from __future__ import annotations

import pandas as pd

from pingan_eval.plan import Plan
from pingan_eval.summary.official import official_rows

__all__ = ["PEER_COLUMNS", "QUANTILES", "lowest_townships", "peer_distribution", "read_peers"]

#: The quantiles of :func:`peer_distribution`, as column names ``q10`` ... ``q90``.
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
#: Columns of :func:`peer_distribution`, in order.
PEER_COLUMNS = ("period", "indicator", "townships", *(f"q{round(q * 100)}" for q in QUANTILES))


def peer_distribution(summary: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Quantiles of the townships' official survey estimates, per period and indicator.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`~pingan_eval.summary.period_summary` output.
    plan : Plan
        Names each level's official estimator (:func:`~pingan_eval.summary.official_rows`).

    Returns
    -------
    pandas.DataFrame
        :data:`PEER_COLUMNS`: ``townships`` is how many townships have a shown
        (not suppressed) official estimate; ``q10`` ... ``q90`` the quantiles of those
        estimates (linear interpolation). Indicators in the summary's order.

    Examples
    --------
    >>> from pingan_eval.plan import load_plan
    >>> s = pd.DataFrame({"period": "2026-11", "area": list("abcde"),
    ...     "area_level": "township", "indicator": "awareness", "source": "survey",
    ...     "estimate": [0.90, 0.92, 0.94, 0.96, 0.98], "flag": "ok"})
    >>> peer_distribution(s, load_plan())[["townships", "q10", "q50", "q90"]].round(3).values
    array([[5.   , 0.908, 0.94 , 0.972]])
    """
    survey = summary[(summary["source"] == "survey") & (summary["area_level"] == "township")]
    rows = official_rows(survey, plan)
    rows = rows[rows["flag"] != "suppress"]
    groups = rows.groupby(["period", "indicator"], sort=False)["estimate"]
    out = groups.quantile(list(QUANTILES)).unstack()
    out.columns = [f"q{round(q * 100)}" for q in out.columns]
    out = out.join(groups.size().rename("townships")).reset_index()
    return out[list(PEER_COLUMNS)]


def read_peers(path) -> pd.DataFrame:
    """A CSV of :func:`peer_distribution` back with its types."""
    table = pd.read_csv(path, dtype={"period": str, "indicator": str}, encoding="utf-8")
    return table[list(PEER_COLUMNS)]


def lowest_townships(table: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` townships furthest below (or least above) their targets, lowest first.

    Each township's distance is its smallest ``estimate - target`` over the table's rows
    (a county chart of hundreds of townships shows these, not all); townships without a
    finite estimate come last; ties keep the table's order.

    Examples
    --------
    >>> t = pd.DataFrame({"area": ["a", "a", "b", "c"], "area_level": "township",
    ...                   "estimate": [0.96, 0.90, 0.97, 0.93], "target": 0.95})
    >>> lowest_townships(t, 2)
    ['a', 'c']
    """
    towns = table[table["area_level"] == "township"]
    margin = (towns["estimate"] - towns["target"]).groupby(towns["area"], sort=False).min()
    order = margin.sort_values(kind="stable", na_position="last")
    return [str(a) for a in order.index[:n]]
