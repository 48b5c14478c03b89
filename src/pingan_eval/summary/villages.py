"""The breakdowns a report shows: direct domain estimates, and model estimates for villages.

A village's direct estimate has no design degrees of freedom (it is one PSU), so every
direct village row is suppressed. The village rows shown instead are Fay-Herriot
estimates (:func:`pingan_eval.survey.village_model.village_estimates`) with the
township's official estimate (:func:`~pingan_eval.summary.official_rows`: the
township-by-month model by default) as covariate.
"""

from __future__ import annotations

import pandas as pd

from pingan_eval.plan import Plan
from pingan_eval.summary.official import official_rows
from pingan_eval.survey.breakdowns import BREAKDOWN_BY, BREAKDOWN_COLUMNS, all_breakdowns

__all__ = ["report_breakdowns"]


def report_breakdowns(design, summary: pd.DataFrame, plan: Plan, *,
                      level: float = 0.95) -> pd.DataFrame:
    """:func:`~pingan_eval.survey.breakdowns.all_breakdowns` with model village rows.

    Parameters
    ----------
    design : SurveyDesign
        The period's design (:func:`pingan_eval.data.prepare.load_design`).
    summary : pandas.DataFrame
        The period's :func:`~pingan_eval.summary.period_summary`: its official township
        estimates are the villages' covariate.
    plan : Plan
        Indicators, names, targets, official estimators.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``area`` then :data:`~pingan_eval.survey.breakdowns.BREAKDOWN_COLUMNS`, as
        ``all_breakdowns``; the village rows are the model's (``df`` infinite,
        ``flag_reason`` ``"model"``), in the same order.
    """
    from pingan_eval.survey.village_model import village_breakdown, village_estimates

    groups = all_breakdowns(design, plan=plan, level=level)
    towns = official_rows(summary[(summary["source"] == "survey")
                                  & (summary["area_level"] == "township")], plan)
    towns = towns.rename(columns={"area": "township"})[["township", "indicator", "estimate"]]
    towns = towns[towns["township"].isin(plan.townships)]
    if towns.empty or "village" not in BREAKDOWN_BY:
        return groups
    model = village_breakdown(village_estimates(design, [t.code for t in plan.survey], towns,
                                                level=level), plan=plan)
    model = model.set_index(["area", "level", "indicator"])
    out = groups.copy()
    village = out["breakdown"] == "village"
    keys = pd.MultiIndex.from_frame(out.loc[village, ["area", "level", "indicator"]])
    found = keys.isin(model.index)
    replaced = model.reindex(keys[found])[[c for c in BREAKDOWN_COLUMNS
                                           if c not in ("breakdown", "level", "indicator")]]
    rows = out.index[village][found]
    for col in replaced.columns:
        if pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(float)  # df is an integer for direct rows only
        out.loc[rows, col] = replaced[col].to_numpy()
    return out
