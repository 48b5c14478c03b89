"""The official verdict: the row of the estimator the plan names, and the summary's
pooled and model rows are the library's own estimates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pingan_eval import official_rows
from pingan_eval.plan import Estimation, load_plan
from pingan_eval.summary import borrowing
from pingan_eval.survey.pooling import pooled_estimates

PLAN = load_plan()
PERIOD = "2026-11"
STATS = ["estimate", "se", "ci_low", "ci_high", "df", "n"]


def test_default_plan_takes_direct_for_the_county_and_pooled_months_for_townships(
        sample_summary):
    out = official_rows(sample_summary, PLAN)
    assert not out.duplicated(["area", "indicator"]).any()
    survey = out[out["source"] == "survey"]
    assert set(survey.loc[survey["area_level"] == "county", "estimator"]) == {"direct"}
    assert set(survey.loc[survey["area_level"] == "township", "estimator"]) == {"pooled"}
    # the fixture holds October and November: the last three months pool those two
    assert set(survey.loc[survey["area_level"] == "township", "window_start"]) == {"2026-10"}
    registers = sample_summary[sample_summary["source"] != "survey"]
    pd.testing.assert_frame_equal(out[out["source"] != "survey"].reset_index(drop=True),
                                  registers.reset_index(drop=True))
    # the summary's order is kept
    keys = list(zip(out["area"], out["indicator"], strict=True))
    order = list(dict.fromkeys(zip(sample_summary["area"], sample_summary["indicator"],
                                   strict=True)))
    assert keys == order


def test_a_model_or_pooled_official_and_the_fallback_to_direct(sample_summary):
    pooled = dataclasses.replace(PLAN, estimation=Estimation(
        official=(("county", "pooled"), ("township", "pooled")), pooled_windows=("ytd",)))
    out = official_rows(sample_summary, pooled)
    survey = out[out["source"] == "survey"]
    assert set(survey["estimator"]) == {"pooled"}
    model = dataclasses.replace(PLAN, estimation=Estimation(
        official=(("county", "direct"), ("township", "model"))))
    survey = official_rows(sample_summary, model)
    survey = survey[(survey["source"] == "survey") & (survey["area_level"] == "township")]
    assert set(survey["estimator"]) == {"model"}
    # without model rows (a model that could not be fitted) the direct row stands in
    no_model = sample_summary[sample_summary["estimator"] != "model"]
    survey = official_rows(no_model, model)
    survey = survey[survey["source"] == "survey"]
    assert set(survey["estimator"]) == {"direct"}
    assert len(survey) == (1 + len(PLAN.townships)) * len(PLAN.survey)


def test_the_declared_window_is_chosen_among_several():
    rows = pd.DataFrame({"period": PERIOD, "area": "青河镇", "area_level": "township",
                         "indicator": "awareness", "source": "survey",
                         "estimator": ["direct", "pooled", "pooled", "pooled"],
                         "window_start": [PERIOD, "2026-10", "2026-01", "2025-12"]})
    for window, start in (("quarter", "2026-10"), ("ytd", "2026-01"),
                          ("rolling12", "2025-12")):
        plan = dataclasses.replace(PLAN, estimation=Estimation(
            official=(("township", "pooled"),), pooled_windows=(window,)))
        assert official_rows(rows, plan)["window_start"].tolist() == [start]
    # a year whose January is missing: the year-to-date window starts in February
    late = rows.assign(window_start=[PERIOD, "2026-10", "2026-02", "2025-12"])
    plan = dataclasses.replace(PLAN, estimation=Estimation(
        official=(("township", "pooled"),), pooled_windows=("ytd",)))
    assert official_rows(late, plan)["window_start"].tolist() == ["2026-02"]


def test_pooled_rows_of_the_summary_are_the_pooled_estimates(sample_summary, sample_processed):
    from pingan_eval.data.prepare import load_respondents

    data = {m: load_respondents(m, sample_processed) for m in ("2026-10", PERIOD)}
    codes = [t.code for t in PLAN.survey]
    towns = pooled_estimates(data, codes, by="township").set_index(["township", "variable"])
    county = pooled_estimates(data, codes, by=None).set_index("variable")
    rows = sample_summary[sample_summary["estimator"] == "pooled"]
    for r in rows.itertuples():
        want = county.loc[r.indicator] if r.area == PLAN.county else towns.loc[
            (r.area, r.indicator)]
        np.testing.assert_allclose([getattr(r, c) for c in STATS], want[STATS].to_numpy(float),
                                   rtol=1e-12)
    assert (rows["verdict"] == np.where(rows["ci_low"] >= 0.95, "met", np.where(
        rows["ci_high"] < 0.95, "not_met", "undecided"))).all()


def test_model_rows_of_the_summary_are_the_realtime_model(sample_summary, sample_processed):
    panel = borrowing.month_panel(["2026-10", PERIOD], sample_processed, PLAN)
    model = borrowing.model_rows(panel, PLAN, [PERIOD]).set_index(["area", "indicator"])
    rows = sample_summary[sample_summary["estimator"] == "model"]
    assert len(rows) == len(model) == len(PLAN.townships) * len(PLAN.survey)
    for r in rows.itertuples():
        np.testing.assert_allclose([r.estimate, r.se, r.ci_low, r.ci_high],
                                   model.loc[(r.area, r.indicator),
                                             ["estimate", "se", "ci_low", "ci_high"]]
                                   .to_numpy(float), rtol=1e-12)
    assert (rows["flag"] == "ok").all() and np.isinf(rows["df"]).all()


def test_a_model_that_cannot_be_fitted_warns_and_falls_back(sample_processed, monkeypatch):
    from pingan_eval.errors import EstimationError

    def broken(*args, **kwargs):
        raise EstimationError("no variation between townships")

    monkeypatch.setattr(borrowing, "model_rows", broken)
    with pytest.warns(UserWarning, match="no variation between townships"):
        rows = borrowing.borrowed_rows([PERIOD], ["2026-10", PERIOD], sample_processed, PLAN)
    assert set(rows["estimator"]) == {"pooled"}
