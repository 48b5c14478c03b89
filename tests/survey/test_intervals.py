"""Interval formulas against independent implementations (scipy's binomtest, textbook values)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pingan_eval.errors import EstimationError
from pingan_eval.survey import intervals


@pytest.mark.parametrize(("x", "n"), [(0, 10), (1, 10), (7, 20), (19, 20), (30, 30), (95, 100)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_clopper_pearson_and_wilson_match_scipy_binomtest(x, n, level):
    """scipy.stats.binomtest(x, n).proportion_ci(level, method="exact" | "wilson")."""
    ref = stats.binomtest(x, n)
    low, high = intervals.clopper_pearson(np.array([x]), np.array([n]), level)
    exact = ref.proportion_ci(level, method="exact")
    assert (low[0], high[0]) == pytest.approx((exact.low, exact.high), rel=1e-10, abs=1e-14)
    low, high = intervals.wilson(np.array([x / n]), np.array([float(n)]), level)
    wilson = ref.proportion_ci(level, method="wilson")
    assert (low[0], high[0]) == pytest.approx((wilson.low, wilson.high), rel=1e-10, abs=1e-14)


def test_jeffreys_is_the_equal_tailed_posterior_interval():
    """Each tail of the Beta(x + 1/2, n - x + 1/2) posterior holds (1 - level)/2; the
    bounds are 0 at x = 0 and 1 at x = n (Brown, Cai and DasGupta 2001). The values
    themselves are checked against R's qbeta in the golden tests."""
    x, n = np.array([2.0, 7.5]), np.array([20.0, 31.2])
    low, high = intervals.jeffreys(x, n, 0.9)
    post = stats.beta(x + 0.5, n - x + 0.5)
    np.testing.assert_allclose(post.cdf(low), 0.05, rtol=1e-9)
    np.testing.assert_allclose(post.sf(high), 0.05, rtol=1e-9)
    low, high = intervals.jeffreys(np.array([0.0, 20.0]), np.array([20.0, 20.0]), 0.95)
    assert low[0] == 0.0 and high[1] == 1.0


def test_wald_and_t_quantile():
    low, high = intervals.wald(np.array([0.5, 0.5]), np.array([0.1, 0.1]),
                               np.array([10, 0]), 0.95)
    t = stats.t.ppf(0.975, 10)
    assert (low[0], high[0]) == pytest.approx((0.5 - 0.1 * t, 0.5 + 0.1 * t), rel=1e-14)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_logit_is_symmetric_on_the_logit_scale():
    p, se, df = np.array([0.9]), np.array([0.03]), np.array([12])
    low, high = intervals.logit(p, se, df, 0.95)
    eta = np.log(p / (1 - p))
    lo, hi = np.log(low / (1 - low)), np.log(high / (1 - high))
    assert eta - lo == pytest.approx(hi - eta, rel=1e-12)
    assert hi - eta == pytest.approx(stats.t.ppf(0.975, 12) * 0.03 / (0.9 * 0.1), rel=1e-12)
    assert np.isnan(intervals.logit(np.array([1.0]), np.array([0.0]), df, 0.95)[0][0])


def test_korn_graubard_reduces_to_clopper_pearson_for_srs():
    """With var = p(1-p)/n and df = n_rows - 1 the KG interval is Clopper-Pearson on n."""
    x, n = 7, 40
    p = x / n
    low, high = intervals.korn_graubard(np.array([p]), np.array([p * (1 - p) / n]),
                                        np.array([n - 1]), np.array([n]), 0.95)
    exact = stats.binomtest(x, n).proportion_ci(0.95, method="exact")
    assert (low[0], high[0]) == pytest.approx((exact.low, exact.high), rel=1e-10)


def test_checks():
    with pytest.raises(EstimationError, match="'logit', 'beta', 'wald'"):
        intervals.check_method("exact")
    for bad in (0, 1, -0.5, "x", None):
        with pytest.raises(EstimationError, match="level"):
            intervals.check_level(bad)
    assert intervals.check_level(0.9) == 0.9
