"""Fay-Herriot estimator: golden values from R, identities, input handling, coverage.

The golden CSVs in ``tests/golden/sae`` were written by ``make_fay_herriot.R`` with R 4.2.2
and metafor 3.8-1 (Debian); CI needs no R. Each row of ``fh_cases.csv`` names the data, the
options and the exact R call, which is also the docstring of that case's test. sigma2_u,
beta, loglik and every value of every area must agree to 1e-8 relative (plus 1e-12
absolute for values that are 0). sae::mseFH (sae 1.3; not packaged by Debian) is written
out as a formula in that script; its own source, run once on these data, agreed to 2e-13.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from pingan_eval.errors import EstimationError
from pingan_eval.survey.fay_herriot import RESULT_COLUMNS, fay_herriot

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sae"
CASES = pd.read_csv(GOLDEN / "fh_cases.csv", keep_default_na=False)
PARAMS = pd.read_csv(GOLDEN / "fh_params.csv")
MODEL = ("y", "psi", "synthetic", "eblup", "g1", "g2", "g3")


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / f"fh_data_{name}.csv")


def _fit_case(case: pd.Series, **extra):
    return fay_herriot(_data(case["data"]), area=case["area"].split(";"),
                       covariates=case["covariates"].split(";") if case["covariates"] else None,
                       method=case["method"], transform=case["transform"],
                       level=float(case["level"]), **extra)


def _close(got, expected, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                               rtol=1e-8, atol=1e-12, err_msg=what)


def _check_case(case_id: str, **extra) -> None:
    case = CASES.set_index("case").loc[case_id]
    expected = pd.read_csv(GOLDEN / f"fh_{case_id}.csv")
    params = PARAMS[PARAMS["case"] == case_id].set_index("name")["value"]
    fit = _fit_case(case, **extra)
    area = case["area"].split(";")
    assert list(fit.estimates.columns) == area + list(RESULT_COLUMNS)
    for col in area:
        assert fit.estimates[col].tolist() == expected[col].tolist(), col
    arcsin = case["transform"] == "arcsin"
    for col in RESULT_COLUMNS:
        if not (arcsin and col == "mse"):   # the rate-scale MSE is a bootstrap
            _close(fit.estimates[col], expected[col], f"{case_id}: {col}\n{case['r_call']}")
    for col in MODEL:
        _close(fit.model_scale[col], expected[col], f"{case_id}: model_scale {col}")
    _close(fit.model_scale["mse"], expected["mse_model"], f"{case_id}: model_scale mse")
    _close(fit.sigma2_u, params["sigma2_u"], f"{case_id}: sigma2_u")
    _close(fit.loglik, params["loglik"], f"{case_id}: loglik")
    assert list(fit.beta.index) == ["intercept", *([case["covariates"]] * bool(case["covariates"]))]
    _close(fit.beta, params[fit.beta.index], f"{case_id}: beta")
    assert fit.converged


def _golden_test(case_id: str, r_call: str):
    def test() -> None:
        _check_case(case_id)

    test.__name__ = f"test_golden_{case_id}"
    test.__doc__ = f"fay_herriot == R 4.2.2 / metafor 3.8-1, fh_{case_id}.csv. R: {r_call}"
    return test


for _case_id, _r_call in zip(CASES["case"], CASES["r_call"], strict=True):
    globals()[f"test_golden_{_case_id}"] = _golden_test(_case_id, _r_call)


def test_golden_rates_with_n_eff_column() -> None:
    """The n_eff column gives the golden arcsin values too (se is then only passed through)."""
    _check_case("rates_reml", n_eff="n_eff")


def test_golden_cases_cover_truncation() -> None:
    """The fixtures contain REML at 0 and amrl > 0 on the same data, and REML > 0 at 7 areas."""
    value = PARAMS.set_index(["case", "name"])["value"]
    assert value["zero_reml", "sigma2_u"] == 0.0 and value["zero_amrl", "sigma2_u"] > 0.0
    assert value["seven_reml", "sigma2_u"] > 0.0 and len(_data("seven")) == 7


# ---- identities ------------------------------------------------------------------------
def test_huge_sigma2_u_gives_the_direct_estimates() -> None:
    """psi tiny relative to the spread: shrinkage -> 1, EBLUP -> direct, mse -> se^2."""
    rng = np.random.default_rng(3)
    t = pd.DataFrame({"township": [f"t{i}" for i in range(12)],
                      "estimate": rng.normal(0, 100, 12), "se": np.full(12, 1e-3)})
    e = fay_herriot(t).estimates
    assert e["shrinkage"].min() > 1 - 1e-9
    np.testing.assert_allclose(e["estimate"], e["direct"], rtol=1e-9)
    np.testing.assert_allclose(e["mse"], e["direct_se"] ** 2, rtol=1e-6)


def test_zero_sigma2_u_gives_the_synthetic_regression() -> None:
    """sigma2_u = 0: every estimate is x_i'b, b the weighted least squares fit (1/se^2)."""
    t = _data("zero").assign(x=np.arange(8.0) ** 0.5)
    fit = fay_herriot(t, covariates=["x"])
    assert fit.sigma2_u == 0.0
    e = fit.estimates.merge(t[["township", "x"]], on="township")
    X = np.column_stack([np.ones(8), e["x"]])
    w = 1 / e["direct_se"].to_numpy()
    b = np.linalg.lstsq(X * w[:, None], e["direct"].to_numpy() * w, rcond=None)[0]
    np.testing.assert_allclose(e["estimate"], X @ b, rtol=1e-12)
    np.testing.assert_allclose(fit.beta, b, rtol=1e-12)
    assert (e["shrinkage"] == 0).all() and (fit.model_scale["g1"] == 0).all()
    assert (e["mse"] > 0).all()


def test_row_order_does_not_matter_and_input_is_untouched() -> None:
    t = _data("cov30")
    before = t.copy(deep=True)
    fit = fay_herriot(t, area=["county", "township"], covariates=["x"])
    pd.testing.assert_frame_equal(t, before)
    shuffled = t.sample(frac=1.0, random_state=7)
    again = fay_herriot(shuffled, area=["county", "township"], covariates=["x"])
    pd.testing.assert_frame_equal(again.estimates, fit.estimates, check_exact=False, rtol=1e-13)
    assert again.sigma2_u == pytest.approx(fit.sigma2_u, rel=1e-13)
    # Area columns come first in the given order, and the rows are sorted by them.
    swapped = fay_herriot(t, area=["township", "county"], covariates=["x"]).estimates
    assert list(swapped.columns[:2]) == ["township", "county"]
    assert swapped["township"].is_monotonic_increasing


def test_amrl_is_positive_where_reml_is_zero() -> None:
    t = _data("zero")
    assert fay_herriot(t, method="reml").sigma2_u == 0.0
    amrl = fay_herriot(t, method="amrl")
    assert amrl.sigma2_u > 0.0 and (amrl.estimates["shrinkage"] > 0).all()


def test_fit_is_frozen_with_extras() -> None:
    fit = fay_herriot(_data("seven"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.sigma2_u = 1.0
    assert (fit.method, fit.transform, fit.bootstrap, fit.level) == ("reml", "none", 0, 0.95)
    assert fit.iterations >= 1 and np.isfinite(fit.loglik)


# ---- arcsine transform -----------------------------------------------------------------
def _rates_with_edges() -> pd.DataFrame:
    t = _data("rates").copy()
    t.loc[t.index[:2], "estimate"] = [1.0, 0.0]    # rates of exactly 1 and 0
    t.loc[t.index[:2], "se"] = 0.0
    return t


def test_arcsin_back_transform_and_intervals() -> None:
    """Rate estimate = E[sin^2(clip(theta))], theta ~ N(eblup, g1), by quadrature; intervals
    inside [0, 1]; rates of 0 and 1 work with an n_eff column."""
    t = _rates_with_edges()
    before = t.copy(deep=True)
    fit = fay_herriot(t, transform="arcsin", n_eff="n_eff", bootstrap=50, seed=1)
    pd.testing.assert_frame_equal(t, before)
    e, ms = fit.estimates, fit.model_scale
    for mu, g1, est in zip(ms["eblup"], ms["g1"], e["estimate"], strict=True):
        sd = np.sqrt(g1)
        inner = integrate.quad(lambda v, mu=mu, sd=sd: np.sin(v) ** 2 * stats.norm.pdf(v, mu, sd),
                               0, np.pi / 2, points=[mu], epsabs=1e-14, epsrel=1e-12)[0]
        assert est == pytest.approx(inner + stats.norm.sf(np.pi / 2, mu, sd), rel=1e-9)
    assert ((e["ci_low"] >= 0) & (e["ci_high"] <= 1) & (e["ci_low"] <= e["ci_high"])).all()
    assert ((e["estimate"] > e["ci_low"]) & (e["estimate"] < e["ci_high"])).all()
    assert (np.isfinite(e["mse"]) & (e["mse"] > 0)).all()


def test_arcsin_interval_holds_its_estimate_beyond_a_rate_of_one() -> None:
    """An area whose covariate puts its EBLUP beyond pi/2, with the whole model-scale
    interval above it (as 5 villages of a 1,000-township synthetic county): the clipped
    interval would be [1, 1] and miss the estimate (the mean counts the mass below pi/2);
    it is widened to hold it."""
    rng = np.random.default_rng(3)
    x = np.append(np.linspace(0.9, 1.4, 29), 1.62)
    y = -0.3 + 1.3 * x + rng.normal(0, np.sqrt(0.25 / 30), 30)
    t = pd.DataFrame({"township": [f"v{i:02d}" for i in range(30)],
                      "estimate": np.round(np.sin(np.clip(y, 0, np.pi / 2)) ** 2, 4),
                      "se": 0.05, "n_eff": 30.0, "x": x})
    fit = fay_herriot(t, covariates=["x"], transform="arcsin", n_eff="n_eff", bootstrap=20)
    e, ms = fit.estimates, fit.model_scale
    half = stats.norm.ppf(0.975) * np.sqrt(ms["mse"])
    beyond = (ms["eblup"] - half > np.pi / 2).to_numpy()
    assert beyond.sum() == 1 and e["estimate"][beyond].iloc[0] < 1.0
    assert ((e["ci_low"] <= e["estimate"]) & (e["estimate"] <= e["ci_high"])).all()
    assert e["ci_low"][beyond].iloc[0] == e["estimate"][beyond].iloc[0]
    assert (e["ci_high"][beyond] == 1.0).all()


def test_arcsin_bootstrap_mse_matches_the_delta_method() -> None:
    """The bootstrap draws theta_i ~ N(x_i'b, sigma2_u), so its rate-scale MSE is near the
    model-scale MSE times E[(d sin^2(theta) / d theta)^2] = (1 - cos(4 x_i'b) e^(-8 s2))/2
    (ratios 0.85-0.99 with 2000 replicates)."""
    fit = fay_herriot(_data("rates"), transform="arcsin", bootstrap=400, seed=3)
    ms = fit.model_scale
    slope2 = (1 - np.cos(4 * ms["synthetic"]) * np.exp(-8 * fit.sigma2_u)) / 2
    ratio = fit.estimates["mse"] / (slope2 * ms["mse"])
    assert ratio.between(0.6, 1.4).all() and 0.85 < ratio.mean() < 1.1, ratio


def test_arcsin_bootstrap_is_seeded() -> None:
    t = _data("rates")
    a = fay_herriot(t, transform="arcsin", bootstrap=40, seed=5).estimates["mse"]
    b = fay_herriot(t, transform="arcsin", bootstrap=40, seed=5).estimates["mse"]
    c = fay_herriot(t, transform="arcsin", bootstrap=40, seed=6).estimates["mse"]
    pd.testing.assert_series_equal(a, b)
    assert not np.allclose(a, c)


# ---- errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "kwargs", "message"), [
    (None, {"method": "fh"}, "'reml', 'ml', 'amrl'"),
    (None, {"transform": "log"}, "'none', 'arcsin'"),
    (None, {"level": 1.0}, "level"),
    (None, {"covariates": ["income"]}, "'income'"),
    (None, {"n_eff": "se"}, "arcsin"),
    (("estimate", np.nan), {}, "column 'estimate' is missing or infinite (nan) for area "
                               "township 'T4'"),
    (("se", np.nan), {}, "column 'se' is missing"),
    (("se", 0.0), {}, "column 'se' is not > 0 (0.0) for area township 'T4'"),
    (("township", "T1"), {}, "township 'T1' appears more than once"),
    (("township", None), {}, "missing area value"),
])
def test_errors(change, kwargs, message) -> None:
    t = _data("seven")
    if change is not None:
        t.loc[0, change[0]] = change[1]   # row 0 is township T4
    with pytest.raises(EstimationError) as info:
        fay_herriot(t, **kwargs)
    assert message in str(info.value)


def test_errors_of_size_rank_and_rates() -> None:
    t = _data("seven")
    with pytest.raises(EstimationError, match="at least 3"):
        fay_herriot(t.head(2))
    with pytest.raises(EstimationError, match="at least 4"):
        fay_herriot(t.head(3), method="amrl")
    fay_herriot(t.head(3))   # 3 areas suffice for reml with an intercept only
    with pytest.raises(EstimationError, match="collinear"):
        fay_herriot(t.assign(x=2.0), covariates=["x"])
    with pytest.raises(EstimationError, match="'intercept'"):
        fay_herriot(t.assign(intercept=1.0), covariates=["intercept"])
    with pytest.raises(EstimationError, match="R04' has a rate of 0.0, .*pass an n_eff column"):
        fay_herriot(_rates_with_edges().assign(se=0.05), transform="arcsin")
    with pytest.raises(EstimationError, match="rate of 1.12, outside"):
        fay_herriot(t.assign(estimate=t["estimate"] + 0.5), transform="arcsin")


# ---- coverage --------------------------------------------------------------------------
def test_reml_mse_is_unbiased_and_intervals_cover() -> None:
    """Known-truth FH population (20 areas, sigma2_u = 1, psi from 0.5 to 2, 150 samples).

    The g1 + g2 + 2 g3 MSE averages to the empirical MSE (ratio ~1.01 with 2000 samples)
    and its intervals cover ~94%; the naive g1-only MSE is ~0.72 of it and covers ~83%.
    """
    rng = np.random.default_rng(20261201)
    m, reps = 20, 150
    psi, x = np.linspace(0.5, 2.0, m), np.linspace(0.0, 1.0, m)
    base = pd.DataFrame({"township": [f"a{i:02d}" for i in range(m)], "se": np.sqrt(psi), "x": x})
    err2, mse, g1, hits, naive = (np.zeros(m) for _ in range(5))
    for _ in range(reps):
        theta = 1 + 2 * x + rng.normal(0.0, 1.0, m)
        fit = fay_herriot(base.assign(estimate=theta + rng.normal(0.0, np.sqrt(psi))),
                          covariates=["x"])
        e = fit.estimates
        err2 += (e["estimate"] - theta) ** 2
        mse += e["mse"]
        g1 += fit.model_scale["g1"]
        hits += (e["ci_low"] <= theta) & (theta <= e["ci_high"])
        naive += np.abs(e["estimate"] - theta) <= 1.959964 * np.sqrt(fit.model_scale["g1"])
    assert 0.9 < np.mean(mse / err2) < 1.1
    assert np.mean(g1 / err2) < 0.8
    assert 0.92 < hits.mean() / reps < 0.97
    assert naive.mean() / reps < 0.88
