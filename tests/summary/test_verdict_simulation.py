"""Verdict quality of the model rows on a county the model was not tuned to (issue targets).

A reduced run of ``benchmarks/sim_verdicts.py``: the generator ``benchmarks/
sim_population.py`` (independent of ``pingan_eval.data.synth``; logit-scale township
levels, t(3) village effects, village-month persistence, a summer dip, a township that
drops 97.5 -> 91 % from July and one that rises 90 -> 97 % from May), seed 2025,
100 replicates x 20 townships x 12 months: 24,000 model and 24,000 direct rows, 12,170
of them clear cases (month truth >= 3 points from 95 %), 8,402 decided by the model.
The shipped ``model_rows`` is judged with ``evaluate``; pooled rows are not built here.
Two worker processes: 16 s on 2 idle cores, 29 s while they were shared.

Measured here (binomial SE; SE between replicates, whose cases share one population and
one village sample): model coverage 0.926 (0.0017; 0.0039), decided among clear cases
0.549 (0.0045; 0.012), wrong among decided 0.012 (0.0012; 0.0022); direct coverage 0.967
(0.0011; 0.0015). Decided (0.549 vs >= 0.90) and wrong (0.012 vs <= 0.05) are settled far
beyond noise. Model coverage is not: it misses 0.93 by 0.4 points, about one SE between
replicates (200 replicates of the benchmark: 0.925, SE 0.0027). The seeded run is
deterministic, so the strict xfail below is stable until the model changes.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

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
def scores() -> dict:
    """Scores of the direct and model rows of the reduced run."""
    job = partial(sim.run_replicate, SEED, m=TOWNSHIPS, pooled=False)
    # fork: the workers inherit the module loaded from its path
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        rows = pd.concat([r[0] for r in pool.map(job, range(REPLICATES))], ignore_index=True)
    return {name: sim.score(g) for name, g in rows.groupby("estimator")}


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
