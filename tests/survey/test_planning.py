"""Tests of pingan_eval.survey.planning.

The power formula is checked against the exact binomial power of the test it plans for
(deff = 1, a simple random sample: X ~ Binomial(n, expected)), computed with
scipy.stats.binom, no Monte Carlo. The margin formula is checked against the textbook
n = 385 and, when installed, statsmodels' ``samplesize_confint_proportion``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pingan_eval.errors import EstimationError
from pingan_eval.survey.planning import sample_size, sample_size_table


def exact_power(n: int, target: float, truth: float, level: float, above: bool) -> float:
    """P(the one-sided score test rejects) when X ~ Binomial(n, truth).

    The test rejects H0 "p <= target" when (X/n - target) / sqrt(target(1-target)/n)
    exceeds z_level (``above``), or H0 "p >= target" when it is below -z_level.
    """
    z = stats.norm.ppf(level)
    c = z * math.sqrt(n * target * (1 - target))
    if above:
        return float(stats.binom.sf(math.floor(n * target + c), n, truth))
    return float(stats.binom.cdf(math.ceil(n * target - c) - 1, n, truth))


@pytest.mark.parametrize(
    ("target", "expected", "level", "power"),
    [
        (0.95, 0.97, 0.95, 0.8),
        (0.95, 0.96, 0.95, 0.8),
        (0.95, 0.97, 0.975, 0.9),
        (0.90, 0.95, 0.95, 0.8),
        (0.80, 0.90, 0.95, 0.8),
        (0.50, 0.60, 0.95, 0.8),
        (0.95, 0.92, 0.95, 0.8),  # expected below target: the mirror test
    ],
)
def test_exact_binomial_power_is_close_to_the_requested_power(target, expected, level, power):
    n = sample_size(target, expected, deff=1.0, level=level, power=power)
    above = expected > target
    got = exact_power(n, target, expected, level, above)
    # the binomial's discreteness moves the exact power by about +-0.02 around the
    # normal approximation at these n; a two-sided z or a missing square root would be
    # off by 0.08 or more
    assert got == pytest.approx(power, abs=0.03)
    # and the test the plan relies on keeps (about) its level at the target itself
    assert exact_power(n, target, target, level, above) <= 1 - level + 0.01


def test_power_grows_with_the_planned_size_and_falls_short_below_it():
    n = sample_size(0.95, 0.97, deff=1.0)
    assert exact_power(n // 2, 0.95, 0.97, 0.95, True) < 0.6
    assert exact_power(2 * n, 0.95, 0.97, 0.95, True) > 0.95


def test_known_values():
    # the textbook survey size: p = 0.5, +-5 points, 95 %: 1.96^2 / (4 * 0.05^2) = 384.1
    assert sample_size(expected=0.5, margin=0.05, deff=1.0) == 385
    # by hand: ((1.6449 * sqrt(.95 * .05) + 0.8416 * sqrt(.97 * .03)) / 0.02)^2 = 630.15
    assert sample_size(0.95, 0.97, deff=1.0) == 631


def test_margin_half_width_is_reached_exactly_at_n():
    for p, m, level in [(0.97, 0.02, 0.95), (0.9, 0.03, 0.9), (0.6, 0.05, 0.99)]:
        n = sample_size(expected=p, margin=m, deff=1.0, level=level)
        z = stats.norm.ppf((1 + level) / 2)
        assert z * math.sqrt(p * (1 - p) / n) <= m < z * math.sqrt(p * (1 - p) / (n - 1))


def test_margin_matches_statsmodels():
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    for p, m, alpha in [(0.97, 0.02, 0.05), (0.9, 0.03, 0.1), (0.5, 0.05, 0.01)]:
        ref = proportion.samplesize_confint_proportion(p, m, alpha=alpha)
        assert sample_size(expected=p, margin=m, deff=1.0, level=1 - alpha) == math.ceil(ref)


def test_design_effect_scales_the_srs_size():
    srs = 630.154  # the unrounded size of test_known_values, deff = 1
    for deff in (0.7, 1.5, 2.0, 3.3):
        n = sample_size(0.95, 0.97, deff=deff)
        assert n - 1 < deff * srs <= n


def test_margin_mode_ignores_target_and_power():
    a = sample_size(0.5, 0.97, margin=0.02, power=0.99)
    b = sample_size(0.9, 0.97, margin=0.02, power=0.5)
    assert a == b == sample_size(expected=0.97, margin=0.02)


def test_table_is_the_sorted_grid_of_sample_size():
    out = sample_size_table([0.95, 0.9], [0.97, 0.99], [2.0, 1.0], power=0.9)
    assert list(out.columns) == ["target", "expected", "deff", "n"]
    assert len(out) == 8
    assert out["n"].dtype == np.int64
    pd.testing.assert_frame_equal(
        out, out.sort_values(["target", "expected", "deff"], ignore_index=True)
    )
    for row in out.itertuples():
        assert row.n == sample_size(row.target, row.expected, deff=row.deff, power=0.9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": 0.95, "expected": 0.95}, "expected == target == 0.95"),
        ({"expected": 1.0}, "expected must be in \\(0, 1\\), got 1.0"),
        ({"target": 95}, "target must be in \\(0, 1\\), got 95"),
        ({"expected": float("nan")}, "expected must be in \\(0, 1\\)"),
        ({"level": 95}, "level must be in \\(0, 1\\)"),
        ({"power": 0.0}, "power must be in \\(0, 1\\)"),
        ({"deff": 0.0}, "deff must be > 0, got 0.0"),
        ({"margin": 0.0}, "margin must be in \\(0, 1\\)"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(EstimationError, match=match):
        sample_size(**kwargs)


def test_table_errors():
    with pytest.raises(EstimationError, match="deffs is empty"):
        sample_size_table([0.95], [0.97], [])
    with pytest.raises(EstimationError, match="expected == target"):
        sample_size_table([0.95], [0.95, 0.97], [1.0])
