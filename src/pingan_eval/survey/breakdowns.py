"""Survey indicators by village, sex, age group and ethnicity: domain estimates, flagged.

Each cell is a domain estimate over the whole design (rows outside the domain keep weight
zero), so variances and degrees of freedom are those of the full design.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pingan_eval.plan import Plan, as_plan

#: Breakdown variables of a township report, in display order.
BREAKDOWN_BY = ("village", "sex", "age_group", "ethnicity")


#: Columns of :func:`breakdowns` (and of :func:`all_breakdowns` after its ``area``).
BREAKDOWN_COLUMNS = ["breakdown", "level", "indicator", "name_zh", "estimate", "se", "ci_low",
                     "ci_high", "df", "n", "deff", "target", "flag", "flag_reason"]


#: Display order of the levels of the census margins (others follow, sorted).
LEVEL_ORDER: dict[str, tuple[str, ...]] = {
    "sex": ("男", "女"),
    "age_group": ("18-34", "35-49", "50-64", "65+"),
    "ethnicity": ("哈萨克族", "汉族", "回族", "蒙古族", "其他"),
}


def breakdowns(design, area: str, *, plan: Plan | str | os.PathLike | None = None,
               by: Sequence[str] = BREAKDOWN_BY, level: float = 0.95) -> pd.DataFrame:
    """Survey indicators of ``area`` by village, sex, age group and ethnicity, flagged.

    Parameters
    ----------
    design : SurveyDesign
        The period's design (:func:`pingan_eval.data.processed.load_design`).
    area : str
        A township (domain ``township == area``) or the county (the whole design).
    plan : Plan, path or None
        Indicators, names and targets; ``None`` reads the shipped plan.
    by : sequence of str
        Breakdown variables (columns of the design's data).
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``breakdown, level, indicator, name_zh, estimate, se, ci_low, ci_high,
        df, n, deff, target, flag, flag_reason``; breakdowns in `by` order, levels in
        census order (:data:`LEVEL_ORDER`, villages by name), indicators in plan order.

    Notes
    -----
    Each cell is a domain estimate over the whole design (R:
    ``svyby(~I(x == 1), ~township + sex, design, svyciprop, method = "logit")``, then the
    rows of ``area``): rows outside the domain keep weight zero, so the variance and
    degrees of freedom are those of the full design. Flags: :func:`pingan_eval.survey.reliability`.
    """
    plan = as_plan(plan)
    county = area == plan.county
    rows = _breakdown_rows(design, plan, by, level, per_township=not county)
    if not county:
        rows = rows[rows["area"] == area]
    return _order_breakdowns(rows, plan, by).drop(columns="area")


def all_breakdowns(design, *, plan: Plan | str | os.PathLike | None = None,
                   by: Sequence[str] = BREAKDOWN_BY, level: float = 0.95) -> pd.DataFrame:
    """:func:`breakdowns` for the county and every township at once, with an ``area`` column.

    ``pingan-eval batch`` computes this once a month and hands it to every notebook
    (``breakdowns_path``): one ``proportion(by=["township", b])`` per breakdown and
    indicator serves all townships, so the work does not grow with townships squared.
    The county rows have no village breakdown (villages are township rows).
    """
    plan = as_plan(plan)
    county = _breakdown_rows(design, plan, [b for b in by if b != "village"], level,
                             per_township=False)
    towns = _breakdown_rows(design, plan, by, level, per_township=True)
    areas = {a: i for i, a in enumerate((plan.county, *plan.townships))}
    both = pd.concat([county, towns], ignore_index=True)
    both = both[both["area"].isin(areas)]
    # one sort for all areas (area in plan order first): the same rows, in the same order,
    # as sorting each area's rows on its own
    return _order_breakdowns(both.assign(_a=both["area"].map(areas)), plan, by,
                             first=["_a"])


def _breakdown_rows(design, plan: Plan, by: Sequence[str], level: float, *,
                    per_township: bool) -> pd.DataFrame:
    from pingan_eval.survey.reliability import reliability

    frames = []
    for b in by:
        for target in plan.survey:
            est = design.proportion(target.code, by=["township", b] if per_township else [b],
                                    level=level)
            if not per_township:
                est = est.assign(township=plan.county)
            est = reliability(est.reset_index(drop=True)).rename(
                columns={b: "level", "township": "area"})
            frames.append(est.assign(breakdown=b, indicator=target.code,
                                     name_zh=target.name_zh, target=target.threshold))
    out = pd.concat(frames, ignore_index=True)
    out["level"] = out["level"].astype(str)
    return out


def _order_breakdowns(rows: pd.DataFrame, plan: Plan, by: Sequence[str], *,
                      first: Sequence[str] = ()) -> pd.DataFrame:
    pairs = rows[["breakdown", "level"]].drop_duplicates()
    ranks = {(b, lv): _level_rank(b, lv) for b, lv in pairs.itertuples(index=False)}
    rank = pd.MultiIndex.from_frame(rows[["breakdown", "level"]]).map(ranks)
    codes = {t.code: i for i, t in enumerate(plan.survey)}
    out = rows.assign(_b=rows["breakdown"].map({b: i for i, b in enumerate(by)}),
                      _l=np.asarray(rank), _i=rows["indicator"].map(codes))
    out = out.sort_values([*first, "_b", "_l", "level", "_i"], kind="stable")
    return out[["area", *BREAKDOWN_COLUMNS]].reset_index(drop=True)


def _level_rank(breakdown: str, level: str) -> int:
    order = LEVEL_ORDER.get(breakdown, ())
    return order.index(level) if level in order else len(order)
