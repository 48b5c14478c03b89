"""Weight diagnostics and trimming (pingan_eval.survey.weighting).

Kish's deff and effective n are checked against hand computations; trimming against R's
``trimWeights(des, lower = 60, upper = 450, strict = TRUE)`` (survey 4.1.1, fixtures from
tests/golden/make_golden_rake.R) and against hand-worked rounds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pingan_eval.errors import CalibrationError
from pingan_eval.survey.weighting import (
    TrimWarning,
    effective_n,
    kish_deff,
    trim_weights,
    weight_summary,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _golden(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / name, comment="#", keep_default_na=False, na_values=[""])


def test_kish_deff_by_hand():
    # n = 5, sum w = 10, sum w^2 = 1 + 1 + 4 + 9 + 9 = 24: deff = 5 * 24 / 100 = 1.2
    w = [1, 1, 2, 3, 3]
    assert kish_deff(w) == pytest.approx(1.2, rel=1e-15)
    assert effective_n(w) == pytest.approx(100 / 24, rel=1e-15)
    assert kish_deff(np.full(7, 3.3)) == pytest.approx(1.0, rel=1e-15)


def test_kish_deff_is_one_plus_cv_squared():
    w = np.random.default_rng(3).lognormal(size=200)
    cv = w.std(ddof=0) / w.mean()
    assert kish_deff(w) == pytest.approx(1 + cv**2, rel=1e-12)
    assert effective_n(w) * kish_deff(w) == pytest.approx(len(w), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.01, 1e4), min_size=1, max_size=30), st.floats(1e-3, 1e3))
def test_kish_deff_scale_free_and_at_least_one(w, c):
    d = kish_deff(w)
    assert d >= 1 - 1e-12
    assert kish_deff(np.asarray(w) * c) == pytest.approx(d, rel=1e-9)


def test_weight_summary():
    s = weight_summary(np.array([2.0, 0.5, 4.0, 1.5]))
    assert s == {"n": 4, "sum": 8.0, "min": 0.5, "max": 4.0, "ratio": 8.0,
                 "kish_deff": pytest.approx(4 * 22.5 / 64)}
    assert type(s["n"]) is int and type(s["sum"]) is float


@pytest.mark.parametrize("bad", [[], [1.0, np.nan], [1.0, 0.0], [-1.0], [[1.0, 2.0]]])
def test_bad_weights(bad):
    with pytest.raises(CalibrationError, match="weights must be"):
        kish_deff(bad)
    with pytest.raises(CalibrationError, match="weights must be"):
        weight_summary(bad)


def test_trim_matches_r_trimweights():
    """R: trimWeights(des, lower = 60, upper = 450, strict = TRUE); weights(.) to 1e-10."""
    d = _golden("rake_design.csv")
    ref = _golden("rake_weights.csv")["trim"].to_numpy()
    w = d["weight"].to_numpy()
    assert ((w < 60) | (w > 450)).any()
    got = trim_weights(w, lower=60, upper=450)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert got.sum() == pytest.approx(w.sum(), rel=1e-12)
    assert got.min() >= 60 and got.max() <= 450


def test_trim_rounds_by_hand():
    # round 1: 10 -> 5, 5 trimmed, +2.5 to the two inside: [3.5, 5.5, 5]; 5.5 > 5
    # round 2: 5.5 -> 5, +0.25 to the others: [3.75, 5, 5.25]; and so on to [4, 5, 5]
    got = trim_weights([1.0, 3.0, 10.0], upper=5)
    np.testing.assert_allclose(got, [4.0, 5.0, 5.0], rtol=1e-12)
    # a lower bound adds weight and takes it from the units inside the bounds
    np.testing.assert_allclose(trim_weights([1.0, 5.0, 6.0], lower=2), [2.0, 4.5, 5.5])


def test_trim_by_group_keeps_group_totals():
    """Trimming by township == trimming each township on its own (two ways, one answer)."""
    d = _golden("rake_design.csv")
    w = d["weight"].to_numpy()
    got = trim_weights(w, lower=60, upper=450, by=d["township"])
    for _, rows in d.groupby("township").groups.items():
        idx = np.asarray(rows)
        np.testing.assert_allclose(got[idx], trim_weights(w[idx], lower=60, upper=450))
        assert got[idx].sum() == pytest.approx(w[idx].sum(), rel=1e-12)
    assert not np.allclose(got, trim_weights(w, lower=60, upper=450))


def test_trim_per_row_bounds_and_no_mutation():
    w = np.array([1.0, 9.0, 2.0, 8.0])
    before = w.copy()
    got = trim_weights(w, upper=np.array([10.0, 6.0, 10.0, 10.0]))
    np.testing.assert_allclose(got, [2.0, 6.0, 3.0, 9.0])
    np.testing.assert_array_equal(w, before)
    np.testing.assert_array_equal(trim_weights(w), w)


def test_trim_warns_when_rounds_run_out():
    with pytest.warns(TrimWarning, match="after 1 trimming rounds"):
        got = trim_weights([1.0, 3.0, 10.0], upper=5, max_iter=1)
    np.testing.assert_allclose(got, [3.5, 5.5, 5.0])


@pytest.mark.parametrize(
    ("weights", "kwargs", "message"),
    [
        ([1.0, 5.0, 3.0], {"upper": 2.0, "by": ["a", "a", "b"]},
         "group a: the bounds cannot hold"),
        ([1.0, 5.0, 3.0], {"lower": 5.0}, "all weights: the bounds cannot hold"),
        ([1.0, 5.0, 3.0], {"lower": 3.0, "upper": 2.0}, "lower bound 3.0 exceeds upper bound"),
        ([1.0, 5.0, 3.0], {"upper": [1.0, 2.0]}, "one number per weight"),
        ([1.0, 5.0, 3.0], {"upper": 5.0, "by": ["a"]}, "one label per weight"),
        ([1.0, 5.0, 3.0], {"upper": 5.0, "max_iter": 0}, "max_iter"),
        ([1.0, 5.0, 6.0], {"lower": 1.5, "upper": 4.5}, "every weight lies outside"),
        ([1.0, 0.0, 6.0], {"upper": 4.5}, "position 1 has weight 0.0"),
    ],
)
def test_trim_bad_input(weights, kwargs, message):
    with pytest.raises(CalibrationError, match=message):
        trim_weights(weights, **kwargs)
