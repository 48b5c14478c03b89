"""Verdict quality of the official township rows and the model on a county they were not
tuned to (issue targets).

A reduced run of ``benchmarks/sim_verdicts.py``: the generator ``benchmarks/
sim_population.py`` (independent of ``pingan_eval.data.synth``; logit-scale township
levels, t(3) village effects, village-month persistence, a summer dip, a township that
drops 97.5 -> 91 % from July and one that rises 90 -> 97 % from May), seed 2025,
100 replicates x 20 townships x 12 months: 24,000 direct, model and official rows and
22,000 pooled rolling3 rows (none in January: a one-month window), 12,170 of them clear
cases (month truth >= 3 points from 95 %). The official row is the one the reports show,
chosen by the shipped ``official_rows`` under the shipped plan: for a township the pooled
rolling3 window (the 3 months ending with the month; 2 in February), and in January,
where the window has one month and no pooled row, the month's direct estimate. Each row
is judged with ``evaluate``; pooled quarter and year-to-date rows are not built here.
Two worker processes: 33 s for the run, 37 s with pytest, on 2 cores shared with other
work (per replicate: pooled rolling3 rows 0.19 s, the model 0.18 s, generation and direct
0.29 s).

Measured here (binomial SE; SE between replicates, whose cases share one population and
one village sample):

- official: coverage of the month's truth 0.939 (0.0015; 0.0023), of its own estimand
  (the window's mean truth) 0.954; decided among clear cases 0.520 (0.0045; 0.0096);
  wrong among decided 0.021 (0.0016; 0.0022). Coverage clears 0.93 by 3.8 SEs between
  replicates and wrong verdicts stay below 0.05 by 13; decided (0.520 vs >= 0.90) misses
  far beyond noise. Coverage of the month's truth is lowest where the window lags a change:
  the dropping township in months 7-9 0.69, the rising one in months 5-7 0.70.
- model: coverage 0.926 (0.0017; 0.0039), decided among clear cases 0.549 (0.0045;
  0.012), wrong among decided 0.012 (0.0012; 0.0022). Decided (0.549 vs >= 0.90) and
  wrong (0.012 vs <= 0.05) are settled far beyond noise. Model coverage is not: it misses
  0.93 by 0.4 points, about one SE between replicates (200 replicates of the benchmark:
  0.925, SE 0.0027).
- direct: coverage 0.967 (0.0011; 0.0015).

The seeded run is deterministic, so the strict xfails below are stable until the
estimators change.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "sim_population.py"
SEED, REPLICATES, TOWNSHIPS = 2025, 100, 20


def _load() -> types.ModuleType:
    """The benchmark's generator module, imported from its path (benchmarks/ is no package)."""
    if "sim_population" in sys.modules:
        return sys.modules["sim_population"]
    spec = importlib.util.spec_from_file_location("sim_population", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["sim_population"] = module  # dataclasses and pickling look it up by name
    spec.loader.exec_module(module)
    return module


sim = _load()


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Judged direct, pooled rolling3, model and official rows of the reduced run."""
    job = partial(sim.run_replicate, SEED, m=TOWNSHIPS, windows=("rolling3",))
    # fork: the workers inherit the module loaded from its path
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        return pd.concat([r[0] for r in pool.map(job, range(REPLICATES))], ignore_index=True)


@pytest.fixture(scope="module")
def scores(rows) -> dict:
    """Scores of every estimator of the reduced run."""
    return {name: sim.score(g) for name, g in rows.groupby("estimator")}


def test_official_is_pooled_rolling3_with_direct_in_january(rows):
    """What the official figures below are of: the plan's township estimator."""
    official = rows[rows["estimator"] == "official"]
    assert len(official) == REPLICATES * TOWNSHIPS * 12
    january = official["month"] == 1
    assert (official.loc[january, "basis"] == "direct").all()
    later = official[~january]
    assert (later["basis"] == "pooled").all()
    assert (later["span"] == later["month"].clip(upper=3)).all()
    keys = ["replicate", "township", "month"]
    pooled = rows[rows["estimator"] == "pooled rolling3"].set_index(keys)
    direct = rows[rows["estimator"] == "direct"].set_index(keys)
    stats = ["estimate", "ci_low", "ci_high", "verdict"]
    for part, source in ((later, pooled), (official[january], direct)):
        mine = part.set_index(keys)[stats]
        theirs = source.reindex(mine.index)[stats]
        assert np.allclose(mine[stats[:3]], theirs[stats[:3]], rtol=0, atol=0, equal_nan=True)
        assert (mine["verdict"] == theirs["verdict"]).all()


@pytest.mark.xfail(strict=True, reason=(
    "official (pooled rolling3; direct in January) decides 52.0% of clear cases here "
    "(6,331/12,170; 200 benchmark replicates 52.5%, SE 0.7 points between replicates), "
    "not >= 90%: steady townships 31.7% in January (one month, direct), 46.7% in February "
    "(two months), 55.6% in December; townships at 86-92% 55.0%, at 97-99% 53.5%; the "
    "model decides 54.9%. Three months are not enough: the fixed panel of 5-6 villages "
    "makes a township's sampling error persistent (population correlation of its months "
    "0.45 at lag 1, 0.43 at lag 6), so pooling 3 months cuts the variance only to ~0.63 of "
    "one month's (half-width 5.9 against the direct 7.6 points in steady months)"))
def test_official_decides_nine_in_ten_clear_cases(scores):
    s = scores["official"]["decided_clear"]
    assert s.value >= 0.90, s


def test_official_covers_at_least_93_percent_of_month_truths(scores):
    s = scores["official"]["cover_month"]
    assert s.cases == REPLICATES * TOWNSHIPS * 12
    assert s.value >= 0.93, s


def test_official_wrong_verdicts_at_most_5_percent_of_decided(scores):
    s = scores["official"]["wrong"]
    assert s.cases > 2000
    assert s.value <= 0.05, s


@pytest.mark.xfail(strict=True, reason=(
    "model decides 54.9% of clear cases here (6,687/12,170; 200 benchmark replicates "
    "55.2%, SE 0.9 points between replicates), not >= 90%: steady townships 39% in "
    "January, 61% in December; townships at 86-92% 53%, at 97-99% 65%. An information "
    "limit, not a miscalibration: given the design's own sampling variances the model "
    "decides fewer (47.4%). The fixed panel of 5-6 villages makes a township's sampling error "
    "persistent (population correlation of its months 0.45 at lag 1, 0.43 at lag 6), "
    "so 12 months cut its variance only to ~0.48 of one month's"))
def test_model_decides_nine_in_ten_clear_cases(scores):
    s = scores["model"]["decided_clear"]
    assert s.value >= 0.90, s


@pytest.mark.xfail(strict=True, reason=(
    "model coverage 92.6% here (22,224/24,000; 200 benchmark replicates 92.5%, SE 0.27 "
    "points between replicates), not >= 93%: townships at 86-92% 88.3% (pulled up "
    "1.6 points toward the county), the dropping township in months 7-9 77.5% (break "
    "found late), the rising one 90.9% in months 1-4 and 86.8% in 5-7. Main cause the "
    "deff smoothing: smoothed design effect 1.74 (median) against the design's own 2.04 "
    "(heavy-tailed villages), n_eff overstated ~17%; with the design's own sampling "
    "variances coverage is 94.8% (sim_verdicts --attribute); without the break test 93.0%"))
def test_model_covers_at_least_93_percent(scores):
    s = scores["model"]["cover_month"]
    assert s.value >= 0.93, s


def test_model_wrong_verdicts_at_most_5_percent_of_decided(scores):
    s = scores["model"]["wrong"]
    assert s.cases > 2000
    assert s.value <= 0.05, s


def test_direct_coverage_is_near_nominal(scores):
    """Slightly above 95 %: the with-replacement variance ignores the ~13 % of villages
    sampled (se about 7 % too large), which predicts ~96.5 %."""
    s = scores["direct"]["cover_month"]
    assert 0.94 <= s.value <= 0.98, s
