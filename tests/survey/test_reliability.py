"""reliability(): the NCHS 2017 presentation standards for proportions, rule by rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pingan_eval import SurveyDesign, reliability
from pingan_eval.errors import EstimationError


def _table(**cols) -> pd.DataFrame:
    base = {"estimate": 0.5, "se": 0.02, "ci_low": np.nan, "ci_high": np.nan,
            "df": 30, "n": 1000, "deff": 1.5}
    base.update(cols)
    n = max(len(v) if isinstance(v, list) else 1 for v in base.values())
    return pd.DataFrame({k: v if isinstance(v, list) else [v] * n for k, v in base.items()})


def _flags(**cols) -> list[tuple[str, str]]:
    out = reliability(_table(**cols))
    return list(zip(out["flag"], out["flag_reason"], strict=True))


def test_ok():
    assert _flags() == [("ok", "")]


def test_effective_sample_size_below_30_is_suppressed():
    # n_eff = p(1-p)/se^2 = 0.25/0.1^2 = 25 < 30 (width of the KG interval >= 0.30 too)
    assert _flags(se=0.1)[0] == ("suppress", "n_eff<30;ci_width>=0.30")
    # n_eff is capped at n: a tiny se does not rescue n = 20
    assert _flags(se=0.001, n=20)[0][1].startswith("n_eff<30")


def test_width_rules():
    # p = 0.5, se = 0.08: n_eff = 39 >= 30, KG width about 0.33 >= 0.30
    assert _flags(se=0.08) == [("suppress", "ci_width>=0.30")]
    # p = 0.2, se = 0.02: KG width 0.084 > 0.05 but only 42% of p -> shown
    assert _flags(estimate=0.2, se=0.02) == [("ok", "")]
    # p = 0.05, se = 0.01: relative width 86% but absolute 0.043 <= 0.05 -> shown
    assert _flags(estimate=0.05, se=0.01) == [("ok", "")]
    # p = 0.05, se = 0.015: width 0.067 > 0.05 and 133% of p -> suppressed
    assert _flags(estimate=0.05, se=0.015) == [("suppress", "rel_ci_width>130%")]


def test_review_rules():
    assert _flags(df=7) == [("review", "df<8")]
    assert _flags(df=8) == [("ok", "")]
    assert _flags(estimate=1.0, se=0.0, n=200) == [("review", "estimate_0_or_1")]
    assert _flags(estimate=0.0, se=0.0, n=200, df=3) == [("review", "df<8;estimate_0_or_1")]
    assert _flags(estimate=1.0, se=0.0, n=12)[0] == ("suppress", "n_eff<30;estimate_0_or_1")


def test_no_estimate_and_no_df_are_suppressed():
    assert _flags(estimate=np.nan, se=np.nan, n=0) == [("suppress", "no_estimate")]
    assert _flags(df=0) == [("suppress", "ci_undefined")]


def test_kg_width_is_that_of_the_beta_interval():
    """The width rule uses the Korn-Graubard interval: where no value is missing and
    n_eff <= n it is proportion(method="beta")'s interval."""
    rng = np.random.default_rng(5)
    n = 900
    village = rng.integers(0, 60, n)
    effect = rng.normal(0, 1.0, 60)
    df = pd.DataFrame({"township": village % 6, "village": village,
                       "w": rng.uniform(1, 3, n)})
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(1.5 - effect[village]))).astype(int)
    df = df[(df["township"] < 3) | (rng.random(n) < 0.15)]   # three small townships
    t = SurveyDesign(df, strata="township", psu="village", weights="w").proportion(
        "y", by="township", method="beta")
    p = t["estimate"]
    n_eff = p * (1 - p) / t["se"] ** 2
    # Where n_eff <= n the capped n_eff is R's, so the KG interval is the table's.
    uncapped = n_eff <= t["n"]
    width = t["ci_high"] - t["ci_low"]
    flags = reliability(t)
    expect_suppress = ((width >= 0.30) | ((width > 0.05) & (width / p > 1.30))
                       | (n_eff < 30))
    got = flags["flag"] == "suppress"
    assert (got[uncapped] == expect_suppress[uncapped]).all()
    assert expect_suppress[uncapped].any() and not expect_suppress[uncapped].all()


def test_copy_and_errors():
    t = _table(estimate=[0.2, 0.9], se=[0.01, 0.01], df=[30, 30], n=[900, 900])
    before = t.copy()
    out = reliability(t)
    pd.testing.assert_frame_equal(t, before)
    assert list(out.columns) == [*t.columns, "flag", "flag_reason"]
    with pytest.raises(EstimationError, match="deff"):
        reliability(t.drop(columns="deff"))
    with pytest.raises(EstimationError, match=r"\[0, 1\]"):
        reliability(_table(estimate=75.0))


def test_complement_rule_reviews_wide_intervals_near_100_percent():
    """NCHS footnote for the complement (surveytable's "Pc"): an estimate near 100% whose
    interval passes the relative-width rule but is wide against 1 - p is reviewed; the
    same width at 50%, or a narrow interval (<= 5 points), is not."""
    t = pd.DataFrame({"estimate": [0.95, 0.5, 0.97], "se": [0.02, 0.02, 0.004],
                      "ci_low": 0.0, "ci_high": 1.0, "df": 30, "n": [400, 400, 3000],
                      "deff": 1.0})
    out = reliability(t)
    assert out["flag"].tolist() == ["review", "ok", "ok"]
    assert out["flag_reason"].tolist() == ["complement_rel_ci_width>130%", "", ""]
