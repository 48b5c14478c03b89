"""Tests of pingan_eval.survey.targets.evaluate: verdicts, the point reading, the one-sided p-value.

The p-value is checked against an independent reference: for a simple random sample the
design-based estimate of a mean is the sample mean with se = s / sqrt(n) and df = n - 1,
so ``p_below_target`` must equal scipy's one-sample t-test with ``alternative="less"``
(R: ``t.test(x, mu = target, alternative = "less")$p.value``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pingan_eval.errors import EstimationError, PinganEvalError
from pingan_eval.survey.targets import VERDICTS, evaluate

COLUMNS = ["township", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff"]


def table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.fixture
def three() -> pd.DataFrame:
    return table(
        [
            ("A", 0.98, 0.010, 0.955, 0.99, 30.0, 300, 1.5),
            ("B", 0.90, 0.020, 0.860, 0.94, 30.0, 250, 1.8),
            ("C", 0.96, 0.020, 0.920, 0.99, 30.0, 280, 1.6),
        ]
    )


def test_columns_added_in_order_and_input_untouched(three):
    before = three.copy()
    out = evaluate(three, 0.95)
    assert list(out.columns) == [*COLUMNS, "target", "verdict", "point_met", "p_below_target"]
    pd.testing.assert_frame_equal(three, before)
    assert out["township"].tolist() == ["A", "B", "C"]
    assert out["verdict"].tolist() == ["met", "not_met", "undecided"]
    assert out["point_met"].dtype == bool
    assert out["target"].dtype == float
    assert set(out["verdict"]) <= set(VERDICTS)


def test_verdict_boundaries_are_inclusive_below_and_strict_above():
    t = table(
        [
            ("lower_equal", 0.97, 0.01, 0.95, 0.99, 20.0, 100, 1.0),  # ci_low == target: met
            ("upper_equal", 0.93, 0.01, 0.91, 0.95, 20.0, 100, 1.0),  # ci_high == target
            ("point_equal", 0.95, 0.01, 0.93, 0.97, 20.0, 100, 1.0),
        ]
    )
    out = evaluate(t, 0.95)
    assert out["verdict"].tolist() == ["met", "undecided", "undecided"]
    assert out["point_met"].tolist() == [True, False, True]


def test_nan_bounds_and_zero_df_are_undecided_with_nan_p():
    t = table(
        [
            ("one_psu", 0.99, np.nan, np.nan, np.nan, 0.0, 12, np.nan),
            ("no_df", 0.80, 0.01, np.nan, np.nan, np.nan, 40, 1.0),
        ]
    )
    out = evaluate(t, 0.95)
    assert out["verdict"].tolist() == ["undecided", "undecided"]
    assert out["point_met"].tolist() == [True, False]
    assert out["p_below_target"].isna().all()


def test_zero_se_gives_certain_p_values():
    t = table(
        [
            ("all_yes", 1.00, 0.0, 1.00, 1.00, 10.0, 50, np.nan),
            ("all_at", 0.95, 0.0, 0.95, 0.95, 10.0, 50, np.nan),
            ("below", 0.90, 0.0, 0.90, 0.90, 10.0, 50, np.nan),
        ]
    )
    out = evaluate(t, 0.95)
    assert out["p_below_target"].tolist() == [1.0, 1.0, 0.0]
    assert out["verdict"].tolist() == ["met", "met", "not_met"]


@pytest.mark.parametrize("target", [0.5, 0.62, 0.7])
def test_p_value_matches_scipy_one_sample_t_test(target):
    rng = np.random.default_rng(20261128)
    x = rng.binomial(1, 0.6, size=57).astype(float)
    n = x.size
    se = x.std(ddof=1) / np.sqrt(n)
    t = table([("A", x.mean(), se, np.nan, np.nan, n - 1.0, n, 1.0)])
    got = evaluate(t, target)["p_below_target"].iloc[0]
    want = stats.ttest_1samp(x, target, alternative="less").pvalue
    assert got == pytest.approx(want, rel=1e-12)


def test_infinite_df_uses_the_normal_distribution():
    t = table([("A", 0.93, 0.01, 0.91, 0.95, np.inf, 1000, 1.0)])
    got = evaluate(t, 0.95)["p_below_target"].iloc[0]
    assert got == pytest.approx(stats.norm.cdf(-2.0), rel=1e-12)  # 0.02275


def test_level_gives_a_wald_interval_that_agrees_with_the_p_value():
    rng = np.random.default_rng(7)
    k = 200
    est = rng.uniform(0.85, 1.0, k)
    se = rng.uniform(0.005, 0.04, k)
    df = rng.choice([3.0, 12.0, 60.0, np.inf], k)
    t = pd.DataFrame(
        {
            "township": [f"T{i:03d}" for i in range(k)],
            "estimate": est,
            "se": se,
            # a deliberately different interval in the table: level must ignore it
            "ci_low": np.zeros(k),
            "ci_high": np.ones(k),
            "df": df,
            "n": 100,
            "deff": 1.0,
        }
    )
    assert (evaluate(t, 0.95)["verdict"] == "undecided").all()
    for level in (0.8, 0.95):
        out = evaluate(t, 0.95, level=level)
        p = out["p_below_target"]
        assert ((out["verdict"] == "not_met") == (p < (1 - level) / 2)).all()
        assert ((out["verdict"] == "met") == (p >= (1 + level) / 2)).all()
        assert out["verdict"].nunique() == 3
        pd.testing.assert_series_equal(out["ci_low"], t["ci_low"])


def test_per_row_targets_from_a_column_an_array_and_a_series(three):
    per_row = [0.95, 0.85, 1.0]
    by_col = evaluate(three.assign(goal=per_row), "goal")
    by_arr = evaluate(three, np.array(per_row))
    by_ser = evaluate(three, pd.Series(per_row[::-1], index=[2, 1, 0]))
    for out in (by_arr, by_ser):
        pd.testing.assert_frame_equal(out, by_col.drop(columns="goal"))
    assert by_col["target"].tolist() == per_row
    assert by_col["verdict"].tolist() == ["met", "met", "not_met"]


def test_row_order_and_index_are_kept(three):
    shuffled = three.iloc[[2, 0, 1]]
    out = evaluate(shuffled, 0.95)
    assert out.index.tolist() == [2, 0, 1]
    assert out["verdict"].tolist() == ["undecided", "met", "not_met"]


def test_score_means_accept_targets_above_one():
    t = table([("A", 86.0, 1.5, 83.0, 89.0, 25.0, 300, 1.4)])
    out = evaluate(t, 80.0)
    assert out["verdict"].tolist() == ["met"]


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (95, "outside \\[0, 1\\].*95"),
        (-0.1, "outside \\[0, 1\\]"),
        ([0.95, np.nan, 0.95], "row 1.*nan"),
        ([0.95, 0.95], "2 targets given for a table of 3 rows"),
        ("goal", "target column 'goal'"),
        (pd.Series([0.9], index=[0]), "no value for table row\\(s\\) \\[1, 2\\]"),
        (["a", "b", "c"], "must be numbers"),
    ],
)
def test_bad_targets_are_named(three, target, match):
    with pytest.raises(EstimationError, match=match):
        evaluate(three, target)


def test_bad_table_and_level(three):
    with pytest.raises(EstimationError, match="no column\\(s\\) \\['se'\\]"):
        evaluate(three.drop(columns="se"))
    with pytest.raises(PinganEvalError, match="level must be in \\(0, 1\\)"):
        evaluate(three, level=95)
    assert issubclass(EstimationError, ValueError)


def test_empty_table():
    out = evaluate(table([]), 0.95)
    assert out.empty
    assert list(out.columns)[-4:] == ["target", "verdict", "point_met", "p_below_target"]


def test_evaluate_on_survey_output():
    """evaluate() on real SurveyDesign tables: the survey core's schema, kept whole.

    Against scipy: without strata, clusters or weights the design's mean is the sample
    mean with se = s / sqrt(n) and df = n - 1, so p_below_target is the one-sample t-test.
    """
    design = pytest.importorskip("pingan_eval.survey.design")
    rng = np.random.default_rng(5)
    n = 240
    data = pd.DataFrame(
        {
            "township": np.repeat(["A", "B", "C"], n // 3),
            "village": np.repeat([f"v{i:02d}" for i in range(24)], n // 24),
            "weight": rng.uniform(50, 150, n),
            "secure": np.r_[
                rng.binomial(1, 0.99, n // 3), rng.binomial(1, 0.80, n // 3), np.ones(n // 3)
            ],
        }
    )
    d = design.SurveyDesign(data, strata="township", psu="village", weights="weight")
    table = d.proportion("secure", by="township", method="logit")
    before = table.copy()
    out = evaluate(table, 0.95)
    pd.testing.assert_frame_equal(table, before)
    pd.testing.assert_frame_equal(out[list(table.columns)], table)
    assert list(out.columns) == [
        "township", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff",
        "target", "verdict", "point_met", "p_below_target",
    ]
    by_town = out.set_index("township")
    assert by_town.loc["B", "verdict"] == "not_met"
    # all 80 answered yes: se 0, the point reading is certain but the interval
    # (Clopper-Pearson on n = 80, lower bound 0.955) decides honestly
    assert by_town.loc["C", "se"] == 0.0
    assert by_town.loc["C", "p_below_target"] == 1.0
    assert by_town.loc["C", "verdict"] == "met"
    assert set(out["verdict"]) <= set(VERDICTS)

    srs = design.SurveyDesign(data)
    mean = srs.mean("secure")
    got = evaluate(mean, 0.9)["p_below_target"].iloc[0]
    want = stats.ttest_1samp(data["secure"], 0.9, alternative="less").pvalue
    assert got == pytest.approx(want, rel=1e-10)


@settings(max_examples=50, deadline=None)
@given(
    est=st.floats(0, 1),
    se=st.floats(0, 0.1),
    df=st.sampled_from([1.0, 5.0, 40.0, np.inf]),
    targets=st.lists(st.floats(0, 1), min_size=2, max_size=6),
)
def test_a_higher_target_is_never_easier_to_meet(est, se, df, targets):
    targets = sorted(targets)
    rows = table([("A", est, se, est - 2 * se, est + 2 * se, df, 100, 1.0)] * len(targets))
    out = evaluate(rows, targets)
    rank = out["verdict"].map({"met": 0, "undecided": 1, "not_met": 2})
    assert rank.is_monotonic_increasing
    assert out["p_below_target"].is_monotonic_decreasing
    assert out["p_below_target"].between(0, 1).all()
    assert (out["point_met"] == (est >= out["target"])).all()
