"""Hypothesis properties of SurveyDesign estimates on random stratified cluster samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pingan_eval import SurveyDesign
from pingan_eval.survey.design import RESULT_COLUMNS

BOUNDED = ("logit", "beta", "wilson", "clopper-pearson", "jeffreys")
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True)


@st.composite
def samples(draw) -> pd.DataFrame:
    """2-4 strata of 2-4 PSUs of 1-6 respondents; weights, a 0/1 answer with some
    missing values and a by column crossing the strata."""
    rows = []
    for h in range(draw(st.integers(2, 4))):
        for j in range(draw(st.integers(2, 4))):
            m = draw(st.integers(1, 6))
            rows.append(pd.DataFrame({
                "stratum": f"s{h}", "psu": f"p{j}",
                "w": draw(st.lists(st.floats(0.5, 20.0), min_size=m, max_size=m)),
                "y": draw(st.lists(st.sampled_from([0.0, 1.0, 1.0, 1.0, np.nan]),
                                   min_size=m, max_size=m)),
                "group": draw(st.lists(st.sampled_from(["a", "b"]), min_size=m, max_size=m)),
            }))
    df = pd.concat(rows, ignore_index=True)
    df.loc[df.index[0], "y"] = 1.0   # at least one answer
    return df


def _design(df: pd.DataFrame, weights: str = "w") -> SurveyDesign:
    return SurveyDesign(df, strata="stratum", psu="psu", weights=weights)


@SETTINGS
@given(df=samples(), scale=st.floats(0.01, 1000.0))
def test_scaling_weights_leaves_estimates_and_ses_unchanged(df, scale):
    a = _design(df).proportion("y", by="group", method="beta")
    b = _design(df.assign(w=df["w"] * scale)).proportion("y", by="group", method="beta")
    # deff compares with SRS *without* replacement from a population of sum(w): it
    # depends on the scale of the weights, as R's does.
    cols = ["group", "estimate", "se", "ci_low", "ci_high", "df", "n"]
    pd.testing.assert_frame_equal(a[cols], b[cols], rtol=1e-9)


@SETTINGS
@given(df=samples(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(df, seed):
    shuffled = df.sample(frac=1.0, random_state=np.random.default_rng(seed))
    for by in (None, "group", ["stratum", "group"]):
        a = _design(df).proportion("y", by=by, method="logit")
        b = _design(shuffled).proportion("y", by=by, method="logit")
        pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    pd.testing.assert_frame_equal(_design(df).mean("w", by="group"),
                                  _design(shuffled).mean("w", by="group"), rtol=1e-9)


@SETTINGS
@given(df=samples())
def test_bounded_intervals_contain_the_estimate(df):
    d = _design(df)
    for method in BOUNDED:
        t = d.proportion("y", by="group", method=method)
        t = t[(t["df"] > 0) & (t["n"] > 0)]
        assert not t[["ci_low", "ci_high"]].isna().to_numpy().any(), method
        assert (t["ci_low"] >= 0).all() and (t["ci_high"] <= 1).all(), method
        assert (t["ci_low"] <= t["estimate"]).all(), method
        assert (t["estimate"] <= t["ci_high"]).all(), method


@SETTINGS
@given(df=samples())
def test_input_frame_is_untouched(df):
    before = df.copy(deep=True)
    d = _design(df)
    d.proportion("y", by="group", method="jeffreys")
    d.mean("y", by=["stratum", "group"])
    pd.testing.assert_frame_equal(df, before)


@SETTINGS
@given(df=samples())
def test_schema_is_fixed(df):
    t = _design(df).mean("y", by=["group"], level=0.8)
    assert list(t.columns) == ["group", *RESULT_COLUMNS]
    assert t["group"].is_monotonic_increasing
