"""Model-based village estimates: composition, golden values from R, simulation, inputs.

Golden: ``tests/golden/sae/village_model_design.csv`` is a small test design (4 townships,
22 villages, 455 respondents, indicators ``a`` and ``b``), drawn once with
``_county(np.random.default_rng(20261206), {"a": 0.85, "b": 0.95}, towns=4,
sizes=(15, 30), sd_village=0.12, missing=0.05)``, weights rounded to 4 decimals, rows
shuffled (``sample(frac=1, random_state=3)``). ``make_village_model.R`` (R 4.2.2,
survey 4.1.1, metafor 3.8.1) rebuilds the fitted table from it with ``svyby`` and fits
``rma(yi, vi, mods = ~ x, method = "REML")`` + ``blup()`` on the arcsine scale; CI needs
no R. Values must agree to 1e-8 relative.

Simulation (:func:`simulation`): 200 replicate counties of 7 townships with 5-6 villages
of 30-50 respondents; on the arcsine scale township rates ``N(asin(sqrt(0.95)), 0.08^2)``
and village rates around them ``N(0, 0.06^2)``; weights ``adults (1-4) x village base x
calibration (0.9-1.1)``; ``method="amrl"``. 7,699 village intervals: a binomial SE of
0.0025 at 95 %; as the intervals of one county share the fitted model the test uses the
SE of the mean of the 200 per-replicate coverages instead (0.0030). With the township's
true rate as covariate (an official estimate whose error is small and not the village's
own) coverage is 0.945 and must be within 3 such SEs of 0.95. With the same month's
direct township estimate it is 0.915 (SE 0.0038): that covariate shares the village's
own sampling error, which the model's MSE does not know about; it must stay >= 0.90. Either way
the model's mean squared error (7.3e-4 and 8.3e-4) must be under 3/4 of the direct
estimate's (1.7e-3). The fixture takes about 13 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pingan_eval.errors import EstimationError
from pingan_eval.survey.breakdowns import BREAKDOWN_COLUMNS
from pingan_eval.survey.design import SurveyDesign
from pingan_eval.survey.fay_herriot import fay_herriot
from pingan_eval.survey.village_model import (
    INPUT_COLUMNS,
    OUTPUT_COLUMNS,
    village_breakdown,
    village_estimates,
    village_inputs,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sae"
KEYS = ["township", "village"]


def _county(rng: np.random.Generator, centers: dict[str, float], *, towns: int = 7,
            villages: tuple[int, int] = (5, 6), sizes: tuple[int, int] = (30, 50),
            sd_town: float = 0.08, sd_village: float = 0.06,
            missing: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Respondents (township, village, weight, one 0/1 column per center) and the truth.

    On the arcsine scale, township rates ``N(asin(sqrt(center)), sd_town^2)`` and village
    rates around them ``N(0, sd_village^2)``. Truth: ``township, village, indicator,
    truth, township_truth`` (the true rates).
    """
    codes = list(centers)
    per_town = rng.integers(villages[0], villages[1] + 1, towns)
    town_of = np.repeat(np.arange(towns), per_town)              # village -> township
    m = len(town_of)
    theta_t = (np.arcsin(np.sqrt(np.array([centers[c] for c in codes])))
               + rng.normal(0, sd_town, (towns, len(codes))))
    rate = np.sin(np.clip(theta_t[town_of] + rng.normal(0, sd_village, (m, len(codes))),
                          0, np.pi / 2)) ** 2
    size = rng.integers(sizes[0], sizes[1] + 1, m)
    row = np.repeat(np.arange(m), size)                           # respondent -> village
    weight = (rng.integers(1, 5, len(row)) * rng.uniform(8, 12, m)[row]
              * rng.uniform(0.9, 1.1, len(row)))                  # adults x base x raking
    y = (rng.random((len(row), len(codes))) < rate[row]).astype(float)
    y[rng.random(y.shape) < missing] = np.nan
    town = np.array([f"T{t + 1}" for t in range(towns)])[town_of]
    village = np.array([f"{town[v]}-V{v - np.flatnonzero(town_of == town_of[v])[0] + 1}"
                        for v in range(m)])
    data = pd.DataFrame({"township": town[row], "village": village[row], "weight": weight,
                         **{c: y[:, i] for i, c in enumerate(codes)}})
    truth = pd.DataFrame({"township": np.repeat(town, len(codes)),
                          "village": np.repeat(village, len(codes)),
                          "indicator": np.tile(codes, m), "truth": rate.ravel(),
                          "township_truth": (np.sin(np.clip(theta_t, 0, np.pi / 2)) ** 2)
                          [town_of].ravel()})
    return data, truth


def _design(data: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(data, strata="township", psu="village", weights="weight")


def _towns(design: SurveyDesign, variables) -> pd.DataFrame:
    return pd.concat([design.proportion(v, by="township").assign(indicator=v)
                      for v in variables], ignore_index=True)


@pytest.fixture(scope="module")
def golden_data() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "village_model_design.csv")


@pytest.fixture(scope="module")
def golden(golden_data):
    design = _design(golden_data)
    return design, _towns(design, ["a", "b"])


def _close(got, expected, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                               rtol=1e-8, atol=1e-12, err_msg=what)


# ---- composition and golden ------------------------------------------------------------
@pytest.mark.parametrize("method", ["amrl", "reml"])
def test_equals_fay_herriot_on_the_assembled_table(golden, method) -> None:
    """village_estimates == fay_herriot(arcsin, n_eff, covariate) on village_inputs."""
    design, towns = golden
    out = village_estimates(design, ["b", "a"], towns, method=method)
    assert list(out.columns) == [*KEYS, *OUTPUT_COLUMNS]
    assert (out["estimator"] == "model").all()
    assert out["indicator"].tolist()[:2] == ["b", "a"]      # indicators in the given order
    assert out[KEYS].equals(out[KEYS].sort_values(KEYS, kind="stable"))
    inputs = village_inputs(design, ["b", "a"], towns)
    assert list(inputs.columns) == [*KEYS, *INPUT_COLUMNS]
    for var in ("a", "b"):
        fit = fay_herriot(inputs[inputs["indicator"] == var], area=KEYS, estimate="direct",
                          se="direct_se", covariates=["covariate"], method=method,
                          transform="arcsin", n_eff="n_eff")
        got = out[out["indicator"] == var].reset_index(drop=True)
        cols = ["estimate", "ci_low", "ci_high", "mse", "shrinkage", "direct"]
        pd.testing.assert_frame_equal(got[KEYS + cols], fit.estimates[KEYS + cols])


def test_golden_inputs_match_r_survey(golden) -> None:
    """Direct rates, n, Kish n_eff and the township covariate == R's svyby/aggregate."""
    design, towns = golden
    expected = pd.read_csv(GOLDEN / "village_model_reml.csv")
    got = village_inputs(design, ["a", "b"], towns)
    assert got[[*KEYS, "indicator"]].equals(expected[[*KEYS, "indicator"]])
    assert got["n"].tolist() == expected["n"].tolist()
    for ours, theirs in (("direct", "direct"), ("n_eff", "n_eff"),
                         ("township_estimate", "township_estimate"), ("covariate", "x")):
        _close(got[ours], expected[theirs], ours)
    assert (got["direct"] == 1).any()          # villages with se 0 are in the fit


def test_golden_reml_matches_metafor(golden) -> None:
    """REML fit, EBLUP, rate estimate and interval == metafor rma(REML) + blup (R)."""
    design, towns = golden
    expected = pd.read_csv(GOLDEN / "village_model_reml.csv")
    params = pd.read_csv(GOLDEN / "village_model_params.csv").set_index(["indicator", "name"])
    out = village_estimates(design, ["a", "b"], towns, method="reml")
    for col in ("estimate", "ci_low", "ci_high", "shrinkage"):
        _close(out[col], expected[col], col)
    inputs = village_inputs(design, ["a", "b"], towns)
    for var in ("a", "b"):
        fit = fay_herriot(inputs[inputs["indicator"] == var], area=KEYS, estimate="direct",
                          se="direct_se", covariates=["covariate"], method="reml",
                          transform="arcsin", n_eff="n_eff")
        value = params.loc[var, "value"]
        assert value["tau2"] > 0
        _close(fit.sigma2_u, value["tau2"], f"{var}: tau2")
        _close(fit.beta, value[["intercept", "x"]], f"{var}: beta")
        exp = expected[expected["indicator"] == var]
        ms = fit.model_scale
        _close(ms["eblup"], exp["eblup"], f"{var}: eblup")
        _close(ms["g1"] + ms["g2"], exp["pred_se"] ** 2, f"{var}: blup se^2")
        _close(ms["mse"], exp["mse_model"], f"{var}: mse")


# ---- simulation --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulation() -> dict[str, dict[str, float]]:
    """Coverage (overall and its between-replicate SE) and MSEs, for both covariates."""
    rng = np.random.default_rng(20261207)
    stats = {k: {"cover": [], "model": [], "direct": []} for k in ("true", "direct")}
    for _ in range(200):
        data, truth = _county(rng, {"y": 0.95})
        design = _design(data)
        by_town = truth.groupby("township")["township_truth"].first()
        covariates = {"true": pd.DataFrame({"township": by_town.index, "indicator": "y",
                                            "estimate": by_town.to_numpy()}),
                      "direct": _towns(design, ["y"])}
        for key, towns in covariates.items():
            out = village_estimates(design, "y", towns, bootstrap=10).merge(truth, on=KEYS)
            inside = (out["ci_low"] <= out["truth"]) & (out["truth"] <= out["ci_high"])
            stats[key]["cover"].append(inside.to_numpy())
            stats[key]["model"].append(((out["estimate"] - out["truth"]) ** 2).to_numpy())
            stats[key]["direct"].append(((out["direct"] - out["truth"]) ** 2).to_numpy())
    result = {}
    for key, s in stats.items():
        per_rep = [c.mean() for c in s["cover"]]
        result[key] = {"coverage": float(np.concatenate(s["cover"]).mean()),
                       "se": float(np.std(per_rep, ddof=1) / np.sqrt(len(per_rep))),
                       "mse_model": float(np.concatenate(s["model"]).mean()),
                       "mse_direct": float(np.concatenate(s["direct"]).mean())}
    return result


def test_coverage_near_nominal_with_an_accurate_township_rate(simulation) -> None:
    s = simulation["true"]
    assert abs(s["coverage"] - 0.95) < 3 * s["se"], s


def test_coverage_with_the_direct_township_estimate(simulation) -> None:
    """Short of nominal (the covariate holds the village's own error), but not far."""
    assert simulation["direct"]["coverage"] >= 0.90, simulation["direct"]


@pytest.mark.parametrize("covariate", ["true", "direct"])
def test_model_beats_the_direct_estimate(simulation, covariate) -> None:
    s = simulation[covariate]
    assert s["mse_model"] < 0.75 * s["mse_direct"], s


# ---- inputs ------------------------------------------------------------------------------
def test_inputs_untouched_and_row_order_irrelevant(golden_data, golden) -> None:
    design, towns = golden
    data_before, towns_before = golden_data.copy(), towns.copy()
    out = village_estimates(design, ["a", "b"], towns)
    pd.testing.assert_frame_equal(golden_data, data_before)
    pd.testing.assert_frame_equal(towns, towns_before)
    shuffled = _design(golden_data.sample(frac=1, random_state=11))
    again = village_estimates(shuffled, ["a", "b"], towns.sample(frac=1, random_state=12))
    pd.testing.assert_frame_equal(again, out, rtol=1e-12)


def test_missing_township_raises_naming_it(golden) -> None:
    design, towns = golden
    gone = towns[~((towns["township"] == "T3") & (towns["indicator"] == "b"))]
    with pytest.raises(EstimationError, match=r"'b'.*township 'T3'"):
        village_estimates(design, ["a", "b"], gone)
    bad = towns.assign(estimate=np.where(towns["township"] == "T2", np.nan, towns["estimate"]))
    with pytest.raises(EstimationError, match="township 'T2'"):
        village_estimates(design, "a", bad)
    with pytest.raises(EstimationError, match="twice"):
        village_estimates(design, "a", pd.concat([towns, towns.iloc[:1]]))


def test_village_without_answers_is_not_fitted(golden_data) -> None:
    data = golden_data.assign(b=np.where(golden_data["village"] == "T2-V3", np.nan,
                                         golden_data["b"]))
    design = _design(data)
    out = village_estimates(design, ["a", "b"], _towns(design, ["a", "b"]))
    row = out[(out["village"] == "T2-V3") & (out["indicator"] == "b")].iloc[0]
    assert row["n"] == 0 and np.isnan(row[["direct", "estimate", "ci_low", "mse"]]
                                      .to_numpy(dtype=float)).all()
    assert out.drop(index=row.name)["estimate"].notna().all()


def test_pooled_deff(golden) -> None:
    design, towns = golden
    inputs = village_inputs(design, "a", towns, pooled_deff=1.25)
    np.testing.assert_allclose(inputs["n_eff"], inputs["n"] / 1.25)
    assert (village_inputs(design, "a", towns)["deff_w"] > 1).all()   # unequal weights
    for bad in (0, -1.0, np.nan, "1.2"):
        with pytest.raises(EstimationError, match="pooled_deff"):
            village_inputs(design, "a", towns, pooled_deff=bad)


def test_breakdown_rows(golden_data) -> None:
    """Shaped as all_breakdowns' rows, flagged ok/model; no answer or 30-point CI suppress."""
    data = golden_data.rename(columns={"a": "awareness", "b": "security"})
    design = _design(data)
    codes = ["awareness", "security"]
    est = village_estimates(design, codes, _towns(design, codes))
    est.loc[0, "ci_high"] = est.loc[0, "ci_low"] + 0.31
    est.loc[1, ["direct", "estimate", "ci_low", "ci_high", "mse"]] = np.nan
    before = est.copy()
    rows = village_breakdown(est)
    pd.testing.assert_frame_equal(est, before)
    assert list(rows.columns) == ["area", *BREAKDOWN_COLUMNS, "estimator"]
    assert (rows["breakdown"] == "village").all() and rows["level"].equals(est["village"])
    assert rows.loc[0, ["flag", "flag_reason"]].tolist() == ["suppress", "model;ci_width>=0.30"]
    assert rows.loc[1, ["flag", "flag_reason"]].tolist() == ["suppress", "no_estimate"]
    wide = (est["ci_high"] - est["ci_low"] >= 0.30)[2:]     # small villages here
    assert 0 < wide.sum() < len(wide)
    assert rows.loc[2:, "flag"].tolist() == np.where(wide, "suppress", "ok").tolist()
    assert (rows.loc[2:, "flag_reason"][~wide] == "model").all()
    np.testing.assert_allclose(rows["se"] ** 2, est["mse"])
    assert set(rows["name_zh"]) == {"知晓率", "安全感"} and (rows["target"] == 0.95).all()
    with pytest.raises(EstimationError, match="not a survey indicator"):
        village_breakdown(est.assign(indicator="a"))
