"""The period summary: its schema and order, and that every number is the library's own.

The survey rows are checked against direct calls of the survey core on the same design
(the summary computes them once with ``by="township"``; a per-township subset design
would give different degrees of freedom, so the comparison is with the domain call);
register rows against :mod:`pingan_eval.registers.cells` and :mod:`pingan_eval.registers.tasks`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pingan_eval import paths
from pingan_eval.data.prepare import load_design
from pingan_eval.errors import ReportError
from pingan_eval.plan import load_plan
from pingan_eval.registers.cells import load_registers, naming_rates, structural_targets
from pingan_eval.registers.tasks import task_completion
from pingan_eval.summary import (
    SUMMARY_COLUMNS,
    ensure_prepared,
    read_summary,
    trailing_periods,
    trend_summary,
)

PLAN = load_plan()
PERIOD, PREVIOUS = "2026-11", "2026-10"  # as the conftest fixtures prepare them
STATS = ["estimate", "se", "ci_low", "ci_high", "df", "n", "deff"]


def test_columns_and_order(sample_summary):
    s = sample_summary
    assert tuple(s.columns) == SUMMARY_COLUMNS
    assert (s["period"] == PERIOD).all()
    areas = list(dict.fromkeys(s["area"]))
    # the departments follow the townships: their campaign tasks (the task ledger)
    assert areas == [PLAN.county, *PLAN.townships, *PLAN.departments]
    assert set(s.loc[s["area"] == PLAN.county, "area_level"]) == {"county"}
    assert set(s.loc[s["area"].isin(PLAN.townships), "area_level"]) == {"township"}
    depts = s[s["area"].isin(PLAN.departments)]
    assert set(depts["area_level"]) == {"department"} and set(depts["source"]) == {"task"}
    order = {t.code: i for i, t in enumerate(PLAN.entries)}
    for _, g in s.groupby("area", sort=False):
        ranks = g["indicator"].map(order)
        assert ranks.notna().all() and ranks.is_monotonic_increasing
        rank = g["estimator"].map({"direct": 0, "pooled": 1, "model": 2})
        for _, rows in g.groupby("indicator", sort=False):
            assert rank[rows.index].is_monotonic_increasing
    assert not s.duplicated(["area", "indicator", "estimator", "window_start"]).any()
    assert set(s["source"]) == {"survey", "register", "structural", "task"}
    assert set(s["estimator"]) == {"direct", "pooled", "model"}
    own = s["estimator"] != "pooled"
    assert (s.loc[own, "window_start"] == PERIOD).all()
    # the fixture holds two months: both windows are October-November, one pooled row
    assert set(s.loc[~own, "window_start"]) == {PREVIOUS}
    assert set(s.loc[s["source"] != "survey", "estimator"]) == {"direct"}
    assert set(s.loc[s["estimator"] == "model", "area_level"]) == {"township"}
    assert set(s["verdict"]) <= {"met", "not_met", "undecided"}
    assert set(s["flag"]) <= {"ok", "review", "suppress"}


def test_every_survey_target_for_every_area(sample_summary):
    survey = sample_summary[sample_summary["source"] == "survey"]
    areas = (PLAN.county, *PLAN.townships)
    expected = {(a, t.code, e) for a in areas for t in PLAN.survey for e in ("direct", "pooled")}
    expected |= {(a, t.code, "model") for a in PLAN.townships for t in PLAN.survey}
    keys = zip(survey["area"], survey["indicator"], survey["estimator"], strict=True)
    assert set(keys) == expected and len(survey) == len(expected)
    names = {t.code: t.name_zh for t in PLAN.survey}
    assert (survey["name_zh"] == survey["indicator"].map(names)).all()


def test_survey_rows_are_the_design_estimates(sample_summary, sample_processed):
    design = load_design(PERIOD, sample_processed)
    survey = sample_summary[(sample_summary["source"] == "survey")
                            & (sample_summary["estimator"] == "direct")]
    for t in PLAN.survey:
        towns = design.proportion(t.code, by="township").set_index("township")
        county = design.proportion(t.code).iloc[0]
        rows = survey[survey["indicator"] == t.code].set_index("area")
        for town in PLAN.townships:
            np.testing.assert_allclose(rows.loc[town, STATS].to_numpy(float),
                                       towns.loc[town, STATS].to_numpy(float), rtol=1e-12)
        np.testing.assert_allclose(rows.loc[PLAN.county, STATS].to_numpy(float),
                                   county[STATS].to_numpy(float), rtol=1e-12)


def test_survey_verdicts_follow_the_interval(sample_summary):
    survey = sample_summary[sample_summary["source"] == "survey"]
    expected = np.where(survey["ci_low"] >= survey["target"], "met",
                        np.where(survey["ci_high"] < survey["target"], "not_met", "undecided"))
    assert (survey["verdict"].to_numpy() == expected).all()
    assert (survey["target"] == 0.95).all()
    assert set(survey["verdict"]) == {"met", "not_met", "undecided"}  # the sample has each


def test_register_rows_are_the_naming_rates(sample_summary):
    register, eligible = load_registers(paths.SAMPLE_RAW_DIR, plan=PLAN)
    as_of = pd.Timestamp("2026-11-30")
    rates = naming_rates(register, eligible, as_of=as_of, plan=PLAN)
    rows = sample_summary[sample_summary["source"] == "register"]
    assert len(rows) == len(rates)
    merged = rows.merge(rates.assign(indicator="cell_" + rates["category"]),
                        left_on=["area", "indicator"], right_on=["township", "indicator"])
    assert len(merged) == len(rates)
    np.testing.assert_allclose(merged["estimate"], merged["rate"])
    np.testing.assert_allclose(merged["n"], merged["eligible"])
    assert (merged["verdict_x"] == merged["verdict_y"]).all()
    assert rows[["se", "ci_low", "ci_high", "df", "deff"]].isna().all().all()

    structural = structural_targets(register, eligible, plan=PLAN, as_of=as_of)
    srows = sample_summary[sample_summary["source"] == "structural"]
    assert list(srows["indicator"]) == list(structural["code"])
    assert (srows["area"] == PLAN.county).all()
    np.testing.assert_allclose(srows["estimate"], structural["value"])


def test_task_rows_summarise_the_task_log(sample_summary):
    done = task_completion(paths.SAMPLE_RAW_DIR, plan=PLAN, as_of="2026-11-30")
    rows = sample_summary[sample_summary["source"] == "task"].set_index(["area", "indicator"])
    visits = done[(done["code"] == "visits") & (done["township"] == "塔克什肯镇")]
    row = rows.loc[("塔克什肯镇", "visits")]
    assert row["estimate"] == pytest.approx((visits["verdict"] == "met").mean())
    assert row["n"] == len(visits)
    assert row["verdict"] == ("not_met" if (visits["verdict"] == "not_met").any() else "met")
    boards = done[(done["code"] == "signboards") & (done["township"] == "阿热勒乡")].iloc[0]
    row = rows.loc[("阿热勒乡", "signboards")]
    assert row["estimate"] == pytest.approx(min(boards["achieved"] / boards["required"], 1))
    assert row["verdict"] == boards["verdict"]
    # month-by-month county tasks are county rows; a month with no record is not met
    messages = rows.loc[(PLAN.county, "messages")]
    assert messages["verdict"] == "not_met"
    assert (rows["target"] == 1.0).all()


def test_trend_is_the_survey_part_of_each_period_summary(sample_summary, sample_trend):
    assert tuple(sample_trend.columns) == SUMMARY_COLUMNS
    assert list(dict.fromkeys(sample_trend["period"])) == [PREVIOUS, PERIOD]
    assert set(sample_trend["source"]) == {"survey"}
    assert set(sample_trend["estimator"]) == {"direct", "pooled", "model"}
    now = sample_trend[sample_trend["period"] == PERIOD].reset_index(drop=True)
    # the fixture's two months make the year to date and the last three months one window
    expected = sample_summary[sample_summary["source"] == "survey"]
    pd.testing.assert_frame_equal(now, expected.reset_index(drop=True))


def test_read_summary_round_trip(sample_summary, tmp_path):
    path = tmp_path / "summary.csv"
    sample_summary.to_csv(path, index=False, encoding="utf-8")
    back = read_summary(path)
    pd.testing.assert_frame_equal(back, sample_summary)
    sample_summary.drop(columns="verdict").to_csv(path, index=False)
    with pytest.raises(ReportError, match="verdict"):
        read_summary(path)
    # a summary written before the estimators: every row was the month's own
    old = sample_summary[sample_summary["estimator"] == "direct"]
    old.drop(columns=["estimator", "window_start"]).to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_summary(path), old.reset_index(drop=True))


def test_trailing_periods():
    months = [str(p) for p in pd.period_range("2025-01", "2026-11", freq="M")]
    out = trailing_periods("2026-11", months)
    assert out == [str(p) for p in pd.period_range("2025-12", "2026-11", freq="M")]
    assert trailing_periods("2025-02", months) == ["2025-01", "2025-02"]
    assert trailing_periods("2026-03", ["2026-01", "2026-03"], n=2) == ["2026-03"]
    with pytest.raises(ReportError, match="2027-01"):
        trailing_periods("2027-01", months)


def test_ensure_prepared_prepares_only_what_is_missing(tmp_path):
    assert ensure_prepared(paths.SAMPLE_RAW_DIR, tmp_path, periods=[PERIOD]) == [PERIOD]
    stamp = (tmp_path / PERIOD / "validation.json").stat().st_mtime_ns
    ensure_prepared(paths.SAMPLE_RAW_DIR, tmp_path, periods=[PERIOD])
    assert (tmp_path / PERIOD / "validation.json").stat().st_mtime_ns == stamp
    assert not (tmp_path / PREVIOUS).exists()


def test_trend_of_no_period_is_empty(sample_processed):
    out = trend_summary([], processed_dir=sample_processed)
    assert out.empty and tuple(out.columns) == SUMMARY_COLUMNS


def test_survey_only_dataset(sample_processed, tmp_path):
    from pingan_eval.summary import period_summary

    out = period_summary(PERIOD, raw_dir=tmp_path, processed_dir=sample_processed)
    assert set(out["source"]) == {"survey"}
    # direct and pooled for the county and each township, the model for the townships
    assert len(out) == (2 * (1 + len(PLAN.townships)) + len(PLAN.townships)) * len(PLAN.survey)
