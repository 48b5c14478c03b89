"""Tests of pingan_eval.survey.change.change.

Two independent references: scipy's Welch t-test (R: ``t.test(x, y)``) on simple random
samples, where the design-based estimate of a mean is the sample mean with
se = s / sqrt(n) and df = n - 1; and simulations with known truth, where the interval
must cover the true difference at its nominal rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from pingan_eval.errors import EstimationError
from pingan_eval.survey.change import CHANGE_COLUMNS, change


def srs_row(x: np.ndarray, **keys: object) -> dict:
    """The design-free estimate table row of a simple random sample's mean."""
    n = x.size
    return {
        **keys,
        "estimate": x.mean(),
        "se": x.std(ddof=1) / np.sqrt(n),
        "ci_low": np.nan,
        "ci_high": np.nan,
        "df": n - 1.0,
        "n": n,
        "deff": 1.0,
    }


def srs_table(samples: np.ndarray) -> pd.DataFrame:
    """Estimate table of many simple random samples at once (one per row of `samples`)."""
    n = samples.shape[1]
    return pd.DataFrame(
        {
            "rep": np.arange(samples.shape[0]),
            "estimate": samples.mean(axis=1),
            "se": samples.std(axis=1, ddof=1) / np.sqrt(n),
            "df": float(n - 1),
        }
    )


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_matches_scipy_welch_t_test(level):
    rng = np.random.default_rng(11)
    x = rng.normal(0.8, 0.3, size=9)
    y = rng.normal(0.6, 0.1, size=31)
    out = change(
        pd.DataFrame([srs_row(x, township="A")]),
        pd.DataFrame([srs_row(y, township="A")]),
        level=level,
    ).iloc[0]
    ref = stats.ttest_ind(x, y, equal_var=False)
    ci = ref.confidence_interval(confidence_level=level)
    assert out["estimate"] == pytest.approx(x.mean() - y.mean(), rel=1e-12)
    assert out["se"] == pytest.approx((x.mean() - y.mean()) / ref.statistic, rel=1e-12)
    assert out["df"] == pytest.approx(ref.df, rel=1e-12)
    assert out["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert out["ci_low"] == pytest.approx(ci.low, rel=1e-12)
    assert out["ci_high"] == pytest.approx(ci.high, rel=1e-12)


def test_welch_df_interval_covers_at_nominal_rate_where_normal_would_not():
    # Small, unequal samples with unequal spread: the case Welch's df exists for.
    rng = np.random.default_rng(2026)
    reps = 4000
    x = rng.normal(1.0, 3.0, size=(reps, 4))
    y = rng.normal(0.5, 1.0, size=(reps, 40))
    cur, prev = srs_table(x), srs_table(y)
    out = change(cur, prev)
    covered = (out["ci_low"] <= 0.5) & (0.5 <= out["ci_high"])
    # binomial sd of the coverage is 0.0034; the normal interval covers only ~0.88 here
    assert 0.94 <= covered.mean() <= 0.96
    naive = change(cur.assign(df=np.inf), prev.assign(df=np.inf))
    assert ((naive["ci_low"] <= 0.5) & (0.5 <= naive["ci_high"])).mean() < 0.91
    # p-value of a true null is uniform: rejections at 5 % happen 5 % of the time
    shifted = change(cur.assign(estimate=cur["estimate"] - 0.5), prev)
    assert 0.04 <= (shifted["p_value"] < 0.05).mean() <= 0.06


def test_difference_of_proportions_covers_the_true_difference():
    rng = np.random.default_rng(1128)
    reps, n = 4000, 200
    cur = srs_table(rng.binomial(1, 0.70, size=(reps, n)).astype(float))
    prev = srs_table(rng.binomial(1, 0.62, size=(reps, n)).astype(float))
    out = change(cur, prev, by="rep")
    covered = (out["ci_low"] <= 0.08) & (0.08 <= out["ci_high"])
    assert 0.935 <= covered.mean() <= 0.965


def test_outer_join_sorted_with_by_inferred_and_inputs_untouched():
    cur = pd.DataFrame(
        {"township": ["C", "A"], "sex": ["f", "m"], "estimate": [0.9, 0.8],
         "se": [0.02, 0.03], "ci_low": 0.0, "ci_high": 1.0, "df": [10.0, 12.0],
         "n": 50, "deff": 1.2}
    )
    prev = pd.DataFrame(
        {"township": ["A", "B"], "sex": ["m", "m"], "estimate": [0.7, 0.6],
         "se": [0.04, 0.05], "ci_low": 0.0, "ci_high": 1.0, "df": [12.0, 8.0],
         "n": 50, "deff": 1.2}
    )
    before = (cur.copy(), prev.copy())
    out = change(cur, prev)
    assert list(out.columns) == ["township", "sex", *CHANGE_COLUMNS]
    assert out[["township", "sex"]].to_numpy().tolist() == [["A", "m"], ["B", "m"], ["C", "f"]]
    a = out.iloc[0]
    assert a["estimate"] == pytest.approx(0.1)
    assert a["se"] == pytest.approx(0.05)
    # equal df: Welch-Satterthwaite by hand, (v1 + v2)^2 / ((v1^2 + v2^2) / 12)
    assert a["df"] == pytest.approx(0.0025**2 / ((0.0009**2 + 0.0016**2) / 12))
    assert out.iloc[1][["estimate", "estimate_current", "p_value"]].isna().all()
    assert out.iloc[1]["estimate_previous"] == 0.6
    assert out.iloc[2]["estimate_current"] == 0.9
    pd.testing.assert_frame_equal(cur, before[0])
    pd.testing.assert_frame_equal(prev, before[1])
    # explicit by, given as a string or a list, gives the same answer
    same = change(cur, prev, by=["township", "sex"])
    pd.testing.assert_frame_equal(out, same)


def test_two_domains_compared_with_an_empty_by():
    t = pd.DataFrame(
        {"township": ["A", "B"], "estimate": [0.97, 0.93], "se": [0.01, 0.01],
         "df": [np.inf, np.inf]}
    )
    out = change(t.iloc[[0]], t.iloc[[1]], by=[])
    assert list(out.columns) == list(CHANGE_COLUMNS)
    row = out.iloc[0]
    z = 0.04 / np.sqrt(2e-4)
    assert row["df"] == np.inf
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert row["ci_high"] - row["estimate"] == pytest.approx(
        stats.norm.ppf(0.975) * np.sqrt(2e-4), rel=1e-12
    )


def test_zero_se_and_unusable_df():
    cur = pd.DataFrame(
        {"g": [1, 2, 3, 4], "estimate": [1.0, 1.0, 0.9, 0.9], "se": [0.0, 0.0, 0.0, 0.02],
         "df": [5.0, 5.0, 0.0, np.nan]}
    )
    prev = pd.DataFrame(
        {"g": [1, 2, 3, 4], "estimate": [1.0, 0.9, 0.8, 0.8], "se": [0.0, 0.0, 0.01, 0.02],
         "df": [9.0, 3.0, 9.0, 9.0]}
    )
    out = change(cur, prev)
    assert out["p_value"].tolist()[:2] == [1.0, 0.0]
    assert out["df"].tolist()[:2] == [5.0, 3.0]  # both variances 0: min(df)
    assert out.loc[0, "ci_low"] == out.loc[0, "ci_high"] == 0.0
    # df 0 (one PSU) or NaN: no interval, no p-value, but the difference is shown
    assert out.loc[2:, ["df", "ci_low", "ci_high", "p_value"]].isna().all().all()
    assert out.loc[2:, "estimate"].tolist() == pytest.approx([0.1, 0.1])


def test_errors_name_the_problem():
    t = pd.DataFrame({"g": ["A", "A"], "estimate": [0.9, 0.8], "se": 0.01, "df": 5.0})
    with pytest.raises(EstimationError, match="current table has more than one row for"):
        change(t, t.iloc[:1])
    with pytest.raises(EstimationError, match="previous table has no column\\(s\\) \\['se'\\]"):
        change(t.iloc[:1], t.iloc[:1].drop(columns="se"))
    with pytest.raises(EstimationError, match="previous table has no column\\(s\\) \\['g'\\]"):
        change(t.iloc[:1], t.iloc[:1].drop(columns="g"))
    with pytest.raises(EstimationError, match="2 rows and no `by` columns"):
        change(t, t.iloc[:1], by=[])
    with pytest.raises(EstimationError, match="level must be in \\(0, 1\\)"):
        change(t.iloc[:1], t.iloc[:1], level=95)


def test_change_on_survey_output_matches_welch():
    """change() on two SurveyDesign waves, stratified by township without clusters or
    weights: each township's mean has se = s / sqrt(n) and df = n - 1, so the result is
    Welch's test (R: ``t.test(x, y)``)."""
    design = pytest.importorskip("pingan_eval.survey.design")
    rng = np.random.default_rng(9)
    waves = []
    for size, p in ((60, (0.9, 0.7)), (45, (0.8, 0.75))):
        town = np.repeat(["A", "B"], size)
        y = np.r_[rng.binomial(1, p[0], size), rng.binomial(1, p[1], size)].astype(float)
        waves.append(pd.DataFrame({"township": town, "aware": y}))
    tables = [design.SurveyDesign(w, strata="township").mean("aware", by="township") for w in waves]
    out = change(*tables)
    assert list(out.columns) == ["township", *CHANGE_COLUMNS]
    assert out["township"].tolist() == ["A", "B"]
    for row in out.itertuples():
        x, y = (w.loc[w["township"] == row.township, "aware"] for w in waves)
        ref = stats.ttest_ind(x, y, equal_var=False)
        assert row.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        assert row.df == pytest.approx(ref.df, rel=1e-9)
        assert row.ci_low == pytest.approx(ref.confidence_interval().low, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    est=st.lists(st.floats(0, 1), min_size=2, max_size=2),
    se=st.lists(st.floats(0, 0.2), min_size=2, max_size=2),
    df=st.lists(st.sampled_from([1.0, 2.0, 7.0, 30.0, np.inf]), min_size=2, max_size=2),
    level=st.floats(0.5, 0.999),
)
@example(est=[0.0, 0.0], se=[0.0, 3e-130], df=[1.0, 1.0], level=0.5)  # se**4 underflows
def test_swapping_the_periods_negates_the_change(est, se, df, level):
    a = pd.DataFrame({"g": ["x"], "estimate": est[:1], "se": se[:1], "df": df[:1]})
    b = pd.DataFrame({"g": ["x"], "estimate": est[1:], "se": se[1:], "df": df[1:]})
    ab = change(a, b, level=level).iloc[0]
    ba = change(b, a, level=level).iloc[0]
    assert ab["estimate"] == -ba["estimate"]
    assert ab["se"] == ba["se"]
    assert ab["df"] == ba["df"]
    assert ab["p_value"] == pytest.approx(ba["p_value"], abs=1e-12)
    assert ab["ci_low"] == pytest.approx(-ba["ci_high"], abs=1e-12)
    assert ab["ci_low"] <= ab["estimate"] <= ab["ci_high"]
    assert min(df) <= ab["df"] <= sum(df)  # Welch-Satterthwaite bounds
    assert 0.0 <= ab["p_value"] <= 1.0
