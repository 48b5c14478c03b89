"""Tests of pingan_eval.survey.sample_size: variance components and sample-size advice.

Simulated panels, y ~ Bernoulli(pi) with pi = p + shift[township, month] + a[village] +
b[village, month]:

* recovery: 7 townships x 5-6 villages (36), 6 months, 30 respondents per village-month
  (balanced) or 10-50 (unbalanced), 150 replicates; a and b two-point (+-sd), so the
  components are exact: sigma2_village = sd_a^2, sigma2_village_month = sd_b^2,
  sigma2_within = E pi (1 - pi) = p (1 - p) - sd_a^2 - sd_b^2 - Var(shift).
* variance formula: 10 townships x 6 villages x 3 months x 20 respondents, weights 1 or 3
  (Kish 1.25), 200 replicates (2000 township quarters), against
  ``pooled_estimates``' estimates and se.
* decisions: 10 townships x 6 villages x 3 months at the advised households, 100
  replicates per truth (1000 township quarters, MC se of a share 0.013), normal a, b.

Golden values: ``tests/golden/sae/make_sample_size.R`` (R 4.2.2, lme4 1.1-31) wrote
``sample_size_fixture.csv`` (3 townships x 5 villages x 4 months x 24, and an unbalanced
subset) and ``sample_size_components.csv``: lmer REML (balanced) and Henderson III with
full N x N projections (both); CI needs no R.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from pingan_eval.errors import EstimationError
from pingan_eval.survey.pooling import pooled_estimates
from pingan_eval.survey.sample_size import (
    ADVICE_COLUMNS,
    COMPONENT_COLUMNS,
    quarter_variance,
    sample_size_advice,
    variance_components,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sae"
COMPONENTS = ["sigma2_village", "sigma2_village_month", "sigma2_within"]


def _panel(rng: np.random.Generator, villages: list[int], months: int, size, *, p: float,
           sd_a: float, sd_b: float, shift: float = 0.0, weights=(1.0,),
           normal: bool = False) -> dict[str, pd.DataFrame]:
    """Frames per month; ``villages[h]`` villages in township h, ``size(rng, V)`` sizes."""
    town = np.repeat(np.arange(len(villages)), villages)
    n_v = len(town)

    def draw(k: int) -> np.ndarray:
        return rng.standard_normal(k) if normal else rng.choice([-1.0, 1.0], k)

    a = sd_a * draw(n_v)
    frames = {}
    for t in range(months):
        sizes = size(rng, n_v)
        v = np.repeat(np.arange(n_v), sizes)
        mu = p + shift * rng.choice([-1.0, 1.0], len(villages))[town]
        prob = np.clip(mu[v] + a[v] + sd_b * draw(n_v)[v], 0.0, 1.0)
        frames[f"2026-{t + 1:02d}"] = pd.DataFrame({
            "township": town[v], "village": v, "weight": rng.choice(weights, len(v)),
            "y": rng.binomial(1, prob).astype(float)})
    return frames


def _components(p: float, s2_v: float, s2_vm: float, deff: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"variable": ["y"], "p": [p], "sigma2_village": [s2_v],
                         "sigma2_village_month": [s2_vm],
                         "sigma2_within": [p * (1 - p) - s2_v - s2_vm],
                         "deff_weights": [deff]})


# ---- golden ------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "method"), [("balanced", "reml"), ("balanced", "henderson3"),
                                              ("unbalanced", "henderson3")])
def test_golden(case: str, method: str) -> None:
    fixture = pd.read_csv(GOLDEN / "sample_size_fixture.csv", dtype={"period": str})
    if case == "unbalanced":
        fixture = fixture[fixture["unbalanced"] == 1]
    ref = pd.read_csv(GOLDEN / "sample_size_components.csv").set_index(["case", "method"])
    got = variance_components(fixture, "y").iloc[0]
    expected = ref.loc[(case, method)]
    # REML's optimizer stops near 1e-7 relative; Henderson III is the same arithmetic
    rtol = 1e-5 if method == "reml" else 1e-9
    for col in ["p", *COMPONENTS, "deff_weights"]:
        assert got[col] == pytest.approx(expected[col], rel=rtol), col
    assert (got["townships"], got["villages"], got["months"]) == (3, 15, 4)


# ---- (1) recovery of known components -----------------------------------------------------
@pytest.mark.parametrize("balanced", [True, False])
def test_recovers_known_components(balanced: bool) -> None:
    rng = np.random.default_rng(20261202 + balanced)
    p, sd_a, sd_b, shift = 0.9, 0.04, 0.04, 0.02

    def size(rng, k):
        return np.full(k, 30) if balanced else rng.integers(10, 51, k)

    reps = 150
    est = np.array([
        variance_components(_panel(rng, [5, 5, 5, 5, 5, 5, 6], 6, size, p=p, sd_a=sd_a,
                                   sd_b=sd_b, shift=shift), "y")[COMPONENTS].to_numpy()[0]
        for _ in range(reps)])
    truth = np.array([sd_a**2, sd_b**2, p * (1 - p) - sd_a**2 - sd_b**2 - shift**2])
    se = est.std(axis=0, ddof=1) / math.sqrt(reps)
    assert (est > 0).all()  # no truncation, so the mean is unbiased
    assert np.all(np.abs(est.mean(axis=0) - truth) < 4 * se), (est.mean(axis=0), truth, se)
    # and the estimates are informative: one replicate's sd well below the value
    assert np.all(est.std(axis=0) < 0.5 * truth)


def test_counts_and_columns() -> None:
    rng = np.random.default_rng(3)
    frames = _panel(rng, [5, 6], 3, lambda r, k: np.full(k, 12), p=0.8, sd_a=0.05, sd_b=0.03)
    frames["2026-02"].loc[[0, 1], "y"] = np.nan           # "don't know": left out
    frames["2026-02"]["z"] = 1.0 - frames["2026-02"]["y"]
    for m in ("2026-01", "2026-03"):
        frames[m]["z"] = 1.0 - frames[m]["y"]
    out = variance_components(frames, ["y", "z"])
    assert tuple(out.columns) == COMPONENT_COLUMNS
    assert out["variable"].tolist() == ["y", "z"]
    assert out[["townships", "villages", "months", "respondents"]].iloc[0].tolist() == [
        2, 11, 3, 11 * 12 * 3 - 2]
    # 1 - y has the same components
    np.testing.assert_allclose(out.loc[0, COMPONENTS].to_numpy(dtype=float),
                               out.loc[1, COMPONENTS].to_numpy(dtype=float), rtol=1e-9)
    assert out.loc[0, "p"] + out.loc[1, "p"] == pytest.approx(1.0)
    assert out["deff_weights"].tolist() == [1.0, 1.0]


# ---- (2) the variance formula against pooled_estimates -------------------------------------
def test_variance_formula_matches_pooled_estimates() -> None:
    rng = np.random.default_rng(11)
    p, sd_a, sd_b, m, n = 0.9, 0.03, 0.04, 6, 20
    comp = _components(p, sd_a**2, sd_b**2, deff=1.25)  # weights 1 or 3: 1 + cv^2 = 1.25
    formula = float(quarter_variance(comp, m, n, months=3).iloc[0])
    est, se2 = [], []
    for _ in range(200):
        frames = _panel(rng, [m] * 10, 3, lambda r, k: np.full(k, n), p=p, sd_a=sd_a,
                        sd_b=sd_b, weights=(1.0, 3.0))
        out = pooled_estimates(frames, "y")
        est.append(out["estimate"].to_numpy())
        se2.append(out["se"].to_numpy() ** 2)
    err, se2 = np.concatenate(est) - p, np.concatenate(se2)
    k = len(err)
    empirical = np.mean(err**2)  # the truth is known: no df lost
    assert abs(empirical - formula) < 4 * formula * math.sqrt(2 / k), (empirical, formula)
    assert abs(se2.mean() - formula) < 4 * se2.std() / math.sqrt(k), (se2.mean(), formula)
    # variance_components reads the same Kish deff from the weights
    fitted = variance_components(frames, "y")
    assert fitted["deff_weights"].iloc[0] == pytest.approx(1.25, abs=0.03)


def test_quarter_variance_terms() -> None:
    comp = _components(0.9, 0.001, 0.003, deff=2.0)
    base = float(quarter_variance(comp, 5, 10).iloc[0])
    assert base == pytest.approx(0.001 / 5 + 0.003 / 15 + 2.0 * 0.086 / 150)
    at = float(quarter_variance(comp, 5, 10, truth=0.97).iloc[0])
    assert at == pytest.approx(0.001 / 5 + 0.003 / 15 + 2.0 * 0.086 * 0.0291 / 0.09 / 150)
    scaled = float(quarter_variance(comp, 5, 10, truth=0.97, between="logit").iloc[0])
    assert scaled == pytest.approx(at - (1 - (0.0291 / 0.09) ** 2) * (0.0004))


# ---- (3) the advice ---------------------------------------------------------------------
SAMPLE_LIKE = _components(0.95, 0.0002, 0.0001, deff=1.2)


def test_advice_columns_and_order() -> None:
    adv = sample_size_advice(SAMPLE_LIKE, truths=(0.97, 0.93), villages=[9, 4, 6])
    assert tuple(adv.columns) == ADVICE_COLUMNS
    assert adv["truth"].tolist() == [0.93] * 3 + [0.97] * 3
    assert adv["villages"].tolist() == [4, 6, 9] * 2
    assert (adv["df"] == adv["villages"] - 1).all()
    assert str(adv["households"].dtype) == "Int64" and adv["feasible"].dtype == bool
    ok = adv["feasible"]
    assert (adv.loc[ok, "respondents"] == 3 * adv.loc[ok, "villages"]
            * adv.loc[ok, "households"]).all()
    assert adv.loc[~ok, "households"].isna().all() and adv.loc[~ok, "se"].isna().all()
    assert (adv.loc[ok, "power"] >= 0.8).all() and (adv.loc[~ok, "power"] < 0.8).all()


def test_advice_is_monotone() -> None:
    adv = sample_size_advice(SAMPLE_LIKE, villages=range(4, 21), max_households=400)
    for _, g in adv.groupby("truth"):
        hh = g.loc[g["feasible"], "households"].to_numpy(dtype=float)
        assert len(hh) >= 5 and np.all(np.diff(hh) <= 0)          # more villages, fewer
        assert g["feasible"].is_monotonic_increasing              # once feasible, stays
        assert g["power_limit"].is_monotonic_increasing
        assert g["se_floor"].is_monotonic_decreasing
    # more power or a higher level needs more households
    more = sample_size_advice(SAMPLE_LIKE, villages=[12], power=0.9, max_households=400)
    strict = sample_size_advice(SAMPLE_LIKE, villages=[12], level=0.99, max_households=400)
    base = adv[adv["villages"] == 12].reset_index(drop=True)
    assert (more["households"] > base["households"]).all()
    assert (strict["households"] > base["households"]).all()


def test_advice_asymmetry() -> None:
    # Logit interval (the shipped default), village parts as fitted: 97 % is harder than
    # 93 %, although its binomial variance is smaller (the interval reaches towards 0.5).
    adv = sample_size_advice(SAMPLE_LIKE, villages=range(8, 16), max_households=1000)
    h93, h97 = (adv[adv["truth"] == t].set_index("villages")["households"]
                for t in (0.93, 0.97))
    assert (h97 > h93).all()
    # Wald interval, no village variance: only the binomial variance differs, and 97 %
    # (0.0291) is easier than 93 % (0.0651).
    srs = _components(0.95, 0.0, 0.0)
    wald = sample_size_advice(srs, villages=[6, 10], method="wald", max_households=1000)
    w93, w97 = (wald[wald["truth"] == t]["households"].to_numpy() for t in (0.93, 0.97))
    assert (w97 < w93).all()
    # the logit scaling of the village parts shrinks them at 97 % (p = 0.95): easier
    scaled = sample_size_advice(SAMPLE_LIKE, villages=range(8, 16), max_households=1000,
                                between="logit")
    s97 = scaled[scaled["truth"] == 0.97].set_index("villages")["households"]
    assert (s97 < h97).all()


def test_power_is_noncentral_t_without_within_variance() -> None:
    # No within variance: s is constant, and the Wald power is the noncentral t's.
    comp = _components(0.95, 0.0004, 0.0006)
    comp["sigma2_within"] = 0.0
    adv = sample_size_advice(comp, villages=[5, 10], method="wald", max_households=1)
    for _, row in adv.iterrows():
        df, s = row["df"], row["se_floor"]
        t_a = special.stdtrit(df, 0.975)
        ncp = abs(row["truth"] - 0.95) / s
        exact = 1 - special.nctdtr(df, ncp, t_a)
        assert row["power_limit"] == pytest.approx(exact, abs=1e-4)


@pytest.mark.parametrize("truth", [0.93, 0.97])
def test_advised_design_decides_in_simulation(truth: float) -> None:
    rng = np.random.default_rng(int(truth * 100))
    sd_a, sd_b, m = 0.006, 0.01, 6
    comp = _components(truth, sd_a**2, sd_b**2, deff=1.25)
    adv = sample_size_advice(comp, truths=[truth], villages=[m], max_households=400).iloc[0]
    assert adv["feasible"]
    n = int(adv["households"])
    decided = []
    for _ in range(100):
        frames = _panel(rng, [m] * 10, 3, lambda r, k: np.full(k, n), p=truth, sd_a=sd_a,
                        sd_b=sd_b, weights=(1.0, 3.0), normal=True)
        out = pooled_estimates(frames, "y")  # the shipped logit interval
        decided.append(out["ci_high"] < 0.95 if truth < 0.95 else out["ci_low"] > 0.95)
    share = np.concatenate(decided).mean()
    assert abs(share - adv["power"]) < 0.05, (n, share, adv["power"])


# ---- (4) bad input ------------------------------------------------------------------------
def _small() -> dict[str, pd.DataFrame]:
    return _panel(np.random.default_rng(5), [4, 4], 2, lambda r, k: np.full(k, 5), p=0.8,
                  sd_a=0.05, sd_b=0.05)


@pytest.mark.parametrize("column", ["y", "weight", "township", "village"])
def test_missing_column(column: str) -> None:
    frames = {k: f.drop(columns=column) for k, f in _small().items()}
    with pytest.raises(EstimationError, match=f"missing column.*'{column}'"):
        variance_components(frames, "y")


def test_non_binary_variable() -> None:
    frames = _small()
    frames["2026-02"].loc[3, "y"] = 2.0
    with pytest.raises(EstimationError, match="'y' must be 0/1.*row"):
        variance_components(frames, "y")
    frames["2026-02"]["y"] = frames["2026-02"]["y"].astype(object)
    frames["2026-02"].loc[3, "y"] = "yes"
    with pytest.raises(EstimationError, match="'y' must be 0/1.*'yes'"):
        variance_components(frames, "y")


def test_too_little_data() -> None:
    frames = _small()
    with pytest.raises(EstimationError, match="sigma2_village_month.*1 month"):
        variance_components({"2026-01": frames["2026-01"]}, "y")
    one_village = {k: f[f["village"].isin([0, 4])] for k, f in frames.items()}
    with pytest.raises(EstimationError, match="sigma2_village: needs two villages"):
        variance_components(one_village, "y")
    single = {k: f.drop_duplicates("village") for k, f in frames.items()}
    with pytest.raises(EstimationError, match="sigma2_within"):
        variance_components(single, "y")
    frames["2026-01"].loc[0, "weight"] = 0.0
    with pytest.raises(EstimationError, match="weight"):
        variance_components(frames, "y")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"truths": [0.95]}, "differ from the target"),
    ({"truths": [1.2]}, "truth must be in"),
    ({"villages": [1, 5]}, "villages >= 2"),
    ({"method": "beta"}, "unknown method"),
    ({"between": "icc"}, "unknown between"),
    ({"power": 1.0}, "power must be in"),
])
def test_advice_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(EstimationError, match=match):
        sample_size_advice(SAMPLE_LIKE, **kwargs)


def test_advice_bad_components() -> None:
    with pytest.raises(EstimationError, match="lack column.*deff_weights"):
        sample_size_advice(SAMPLE_LIKE.drop(columns="deff_weights"))
    bad = SAMPLE_LIKE.assign(sigma2_village=-0.1)
    with pytest.raises(EstimationError, match="'y' must be finite and >= 0"):
        sample_size_advice(bad)
    with pytest.raises(EstimationError, match="p in"):
        sample_size_advice(SAMPLE_LIKE.assign(p=1.0))
