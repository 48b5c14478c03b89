"""Coverage of logit and beta intervals on a synthetic county with a known rate near 0.95.

The population: 8 townships (strata) of 30 villages (PSUs) of 200 adults; each village
has its own rate (beta-distributed around 0.95, so answers cluster). Each replicate draws
4 villages per township without replacement and 15 adults per village, weights
(30/4) * (200/15), and estimates the county rate with ``fpc`` = 30 villages. The true
value is the population proportion, known exactly. With 400 replicates the coverage
estimate has a binomial SE of about 0.011; the test allows 3 SEs around 0.95.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pingan_eval import SurveyDesign

N_STRATA, N_VILLAGES, VILLAGE_SIZE = 8, 30, 200
M_VILLAGES, M_ADULTS = 4, 15
REPLICATES = 400
LEVEL = 0.95


def _population(rng: np.random.Generator) -> np.ndarray:
    """0/1 answers, shape (strata, villages, adults)."""
    rates = rng.beta(0.95 * 40, 0.05 * 40, size=(N_STRATA, N_VILLAGES))
    return (rng.random((N_STRATA, N_VILLAGES, VILLAGE_SIZE)) < rates[..., None]).astype(float)


def _sample(pop: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    villages = np.argsort(rng.random((N_STRATA, N_VILLAGES)), axis=1)[:, :M_VILLAGES]
    adults = np.argsort(rng.random((N_STRATA, M_VILLAGES, VILLAGE_SIZE)), axis=2)[..., :M_ADULTS]
    h = np.arange(N_STRATA)[:, None, None]
    y = pop[h, villages[..., None], adults]
    shape = y.shape
    return pd.DataFrame({
        "township": np.broadcast_to(h, shape).ravel(),
        "village": np.broadcast_to(villages[..., None], shape).ravel(),
        "N_psu": N_VILLAGES,
        "weight": (N_VILLAGES / M_VILLAGES) * (VILLAGE_SIZE / M_ADULTS),
        "y": y.ravel(),
    })


@pytest.fixture(scope="module")
def coverage() -> dict[str, float]:
    rng = np.random.default_rng(20261128)
    pop = _population(rng)
    truth = pop.mean()
    hits = {"logit": 0, "beta": 0}
    for _ in range(REPLICATES):
        d = SurveyDesign(_sample(pop, rng), strata="township", psu="village",
                         weights="weight", fpc="N_psu")
        for method in hits:
            row = d.proportion("y", method=method, level=LEVEL).iloc[0]
            hits[method] += row["ci_low"] <= truth <= row["ci_high"]
    return {"truth": truth, **{m: h / REPLICATES for m, h in hits.items()}}


@pytest.mark.parametrize("method", ["logit", "beta"])
def test_intervals_cover_at_nominal_level(coverage, method):
    assert 0.93 < coverage["truth"] < 0.97
    tolerance = 3 * np.sqrt(LEVEL * (1 - LEVEL) / REPLICATES)
    assert abs(coverage[method] - LEVEL) <= tolerance, coverage
