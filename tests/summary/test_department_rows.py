"""The tasks by department in the period summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pingan_eval.plan import load_plan
from pingan_eval.summary.departments import department_rows, department_scores

PLAN = load_plan()


def status(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """Status rows (department, code, status)."""
    return pd.DataFrame([{"department": d, "code": c, "status": s, "township": "",
                          "month": ""} for d, c, s in rows])


def test_one_row_per_department_and_task():
    st = status(("县交通局", "vehicle_slogans", "on_time"),
                ("县交通局", "vehicle_slogans", "late"),
                ("县交通局", "unit_plans", "on_time"), ("县发改委", "unit_plans", "overdue"),
                ("县发改委", "risk_assessment", "not_due"),
                ("青河镇", "volunteer_teams", "on_time"), ("青河镇", "signboards", "on_time"))
    out = department_rows(st, PLAN).set_index(["area", "indicator"])
    assert out.loc[("县交通局", "vehicle_slogans"), "estimate"] == 0.5
    assert out.loc[("县交通局", "vehicle_slogans"), "n"] == 2
    assert out.loc[("县交通局", "vehicle_slogans"), "verdict"] == "not_met"  # one late
    assert out.loc[("县交通局", "unit_plans"), "verdict"] == "met"
    assert out.loc[("县发改委", "unit_plans"), "verdict"] == "not_met"
    assert out.loc[("县发改委", "risk_assessment"), "verdict"] == "undecided"
    assert out.loc[("县发改委", "risk_assessment"), "name_zh"] == "重大项目风险评估"
    # a township's done task is a township row; its log tasks have their rows already
    assert out.loc[("青河镇", "volunteer_teams"), "area_level"] == "township"
    assert ("青河镇", "signboards") not in out.index
    assert set(out["area_level"]) == {"department", "township"}
    assert set(out["source"]) == {"task"} and (out["target"] == 1.0).all()
    assert out[["se", "ci_low", "ci_high", "df", "deff"]].isna().all().all()


def test_scores_count_statuses_per_department_in_plan_order():
    st = status(("县发改委", "unit_plans", "overdue"), ("县交通局", "unit_plans", "on_time"),
                ("县交通局", "vehicle_slogans", "late"), ("县发改委", "risk_assessment", "not_due"),
                ("青河镇", "volunteer_teams", "on_time"))
    out = department_scores(st, PLAN)
    assert out["department"].tolist() == ["县交通局", "县发改委"]  # plan order; no township
    got = out.set_index("department")
    assert got.loc["县交通局", ["on_time", "late", "due", "tasks"]].tolist() == [1, 1, 2, 2]
    assert got.loc["县交通局", "on_time_share"] == 0.5
    assert got.loc["县发改委", "on_time_share"] == 0.0
    nothing_due = department_scores(status(("县妇联", "documentary", "not_due")), PLAN)
    assert np.isnan(nothing_due["on_time_share"].iloc[0])


def test_the_sample_summary_has_department_rows(sample_summary):
    s = sample_summary[sample_summary["area_level"] == "department"]
    assert set(s["area"]) == set(PLAN.departments)
    assert set(s["source"]) == {"task"} and set(s["estimator"]) == {"direct"}
    assert {"met", "not_met"} <= set(s["verdict"])
    # the townships' task rows keep their place: a township's rows end with its tasks
    town = sample_summary[sample_summary["area"] == PLAN.townships[0]]
    assert town["source"].iloc[-1] == "task"
