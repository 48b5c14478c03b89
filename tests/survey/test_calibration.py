"""Raking (pingan_eval.survey.calibration) against R's survey package.

Fixtures: tests/golden/make_golden_rake.R (R 4.2.2, survey 4.1.1). The design is
``des <- svydesign(ids=~village, strata=~township, weights=~weight, data=d)`` on
rake_design.csv; the margins are rake_margins.csv (township x sex, township x age_group,
township x ethnicity, in that order).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pingan_eval.errors import CalibrationError
from pingan_eval.survey.calibration import (
    RakeConvergenceWarning,
    census_margins,
    rake,
    residualize,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _golden(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / name, comment="#", keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def design_data() -> pd.DataFrame:
    return _golden("rake_design.csv")


@pytest.fixture(scope="module")
def margins() -> dict:
    return census_margins(_golden("rake_margins.csv"))


@pytest.fixture(scope="module")
def r_weights() -> pd.DataFrame:
    return _golden("rake_weights.csv")


@pytest.fixture(scope="module")
def r_passes() -> dict:
    it = _golden("rake_iterations.csv")
    return dict(zip(it["case"], it["passes"], strict=True))


def _sex_only(margins: dict) -> dict:
    return {("township", "sex"): margins[("township", "sex")]}


def test_census_margins_order_and_totals(margins):
    """The crossed margins come out in file order: R's list(pop_sex, pop_age, pop_eth)."""
    assert list(margins) == [("township", "sex"), ("township", "age_group"),
                             ("township", "ethnicity")]
    census = _golden("rake_margins.csv")
    for (_, name), totals in margins.items():
        part = census[census["margin"] == name]
        assert totals == {(t, lev): p for t, lev, p in
                          zip(part["township"], part["level"], part["population"], strict=True)}


def test_rake_weights_match_r(design_data, margins, r_weights, r_passes):
    """R: rake(des, list(~township+sex, ~township+age_group, ~township+ethnicity),
    list(pop_sex, pop_age, pop_eth)); weights(.) to 1e-6 relative, same passes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = rake(design_data, design_data["weight"].to_numpy(), margins)
    np.testing.assert_allclose(res.weights, r_weights["full"], rtol=1e-6, atol=0)
    assert res.converged
    assert res.iterations == r_passes["full"]


def test_rake_relative_epsilon_matches_r(design_data, margins, r_weights, r_passes):
    """R: rake(des, ..., control = list(epsilon = 1e-7)): epsilon < 1 is relative to the
    weight total."""
    res = rake(design_data, design_data["weight"].to_numpy(), margins, epsilon=1e-7)
    np.testing.assert_allclose(res.weights, r_weights["releps"], rtol=1e-6, atol=0)
    assert res.iterations == r_passes["releps"]
    assert not np.allclose(res.weights, r_weights["full"], rtol=1e-6, atol=0)


def test_rake_not_converged_warns_like_r(design_data, margins, r_weights):
    """R: rake(des, ..., control = list(maxit = 1)) warns "Raking did not converge after 1
    iterations." and returns the last pass's weights."""
    with pytest.warns(RakeConvergenceWarning, match="did not converge after 1 iterations"):
        res = rake(design_data, design_data["weight"].to_numpy(), margins, max_iter=1)
    assert not res.converged
    assert res.iterations == 1
    np.testing.assert_allclose(res.weights, r_weights["maxit1"], rtol=1e-6, atol=0)


def test_rake_one_margin_is_post_stratification(design_data, margins, r_weights, r_passes):
    """R: rake(des, list(~township+sex), list(pop_sex)): weights hit the totals exactly."""
    res = rake(design_data, design_data["weight"].to_numpy(), _sex_only(margins))
    np.testing.assert_allclose(res.weights, r_weights["sexonly"], rtol=1e-6, atol=0)
    assert res.iterations == r_passes["sexonly"]
    got = pd.Series(res.weights).groupby([design_data["township"], design_data["sex"]]).sum()
    for key, total in margins[("township", "sex")].items():
        assert got[key] == pytest.approx(total, rel=1e-12)


def _stratified_wr_variance(z: np.ndarray, data: pd.DataFrame) -> float:
    """Between-PSU variance within strata, with replacement, as R's onestage()."""
    totals = pd.Series(z).groupby([data["township"], data["village"]]).sum()
    var = 0.0
    for _, t in totals.groupby(level=0):
        n_h = len(t)
        var += n_h / (n_h - 1) * float(((t - t.mean()) ** 2).sum())
    return var


@pytest.mark.parametrize("case", ["full", "sexonly", "maxit1"])
def test_residualize_gives_r_variance(design_data, margins, case):
    """R: svymean(~v, D, influence = TRUE) on the raked design D (and on subset(D,
    township == "青河镇")); the influence goes through residualize() and the
    stratified PSU-total variance must equal vcov(svymean(~v, D)) to 1e-6 relative."""
    infl = _golden("rake_influence.csv")
    ref = _golden("rake_influence_var.csv").set_index("key")["variance"]
    used = _sex_only(margins) if case == "sexonly" else margins
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RakeConvergenceWarning)
        res = rake(design_data, design_data["weight"].to_numpy(), used,
                   max_iter=1 if case == "maxit1" else 10)
    keys = [k for k in infl.columns if k.startswith(f"{case}:")]
    assert len(keys) == 4
    x = infl[keys].to_numpy()
    resid = residualize(x, res.steps)
    assert resid.shape == x.shape
    for j, key in enumerate(keys):
        got = _stratified_wr_variance(resid[:, j], design_data)
        assert got == pytest.approx(ref[key], rel=1e-6), key
        # without the calibration residuals the variance is a different number
        assert _stratified_wr_variance(x[:, j], design_data) != pytest.approx(ref[key],
                                                                               rel=1e-3)


def test_residualize_one_column_keeps_shape(design_data, margins):
    res = rake(design_data, design_data["weight"].to_numpy(), _sex_only(margins))
    x = np.linspace(-1, 1, len(design_data))
    out = residualize(x, res.steps)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, residualize(x[:, None], res.steps)[:, 0])
    assert residualize(x, ()) is not None
    np.testing.assert_array_equal(residualize(x, ()), x)


def test_calibrated_total_has_no_residual(design_data, margins):
    """Identity: the total of a raked cell is known exactly, so its influence values
    w * 1{cell} residualize to zero (R gives SE 0 for svytotal of a raking margin)."""
    res = rake(design_data, design_data["weight"].to_numpy(), margins, epsilon=1e-10,
               max_iter=200)
    cell = ((design_data["township"] == "青河镇") & (design_data["ethnicity"] == "回族"))
    x = res.weights * cell.to_numpy()
    np.testing.assert_allclose(residualize(x, res.steps), 0.0, atol=1e-9 * x.max())


def test_scaling_weights_changes_nothing(design_data, margins):
    """Post-stratifying removes the scale of the input weights after the first margin."""
    w = design_data["weight"].to_numpy()
    a = rake(design_data, w, margins)
    b = rake(design_data, 3.7 * w, margins)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12)
    assert a.iterations == b.iterations


def test_row_order_does_not_matter_and_input_kept(design_data, margins):
    perm = np.random.default_rng(7).permutation(len(design_data))
    shuffled = design_data.iloc[perm].reset_index(drop=True)
    before = shuffled.copy()
    w = shuffled["weight"].to_numpy().copy()
    a = rake(design_data, design_data["weight"].to_numpy(), margins)
    b = rake(shuffled, w, margins)
    np.testing.assert_allclose(b.weights, a.weights[perm], rtol=1e-10)
    pd.testing.assert_frame_equal(shuffled, before)
    np.testing.assert_array_equal(w, shuffled["weight"].to_numpy())
    assert not b.weights.flags.writeable


def test_one_way_margins_and_tuple_levels(design_data):
    """{column: {level: total}} and {(column,): {(level,): total}} are the same margin."""
    w = design_data["weight"].to_numpy()
    a = rake(design_data, w, {"sex": {"男": 600, "女": 400}})
    b = rake(design_data, w, {("sex",): {("男",): 600, ("女",): 400}})
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.weights[design_data["sex"].to_numpy() == "男"].sum() == pytest.approx(600)


# -- errors -----------------------------------------------------------------------------

def _small() -> tuple[pd.DataFrame, np.ndarray]:
    d = pd.DataFrame({"township": ["青河镇", "青河镇", "阿热勒乡"],
                      "sex": ["男", "男", "女"]})
    return d, np.ones(3)


def test_level_without_respondents_names_township_and_level():
    d, w = _small()
    margins = {("township", "sex"): {("青河镇", "男"): 10, ("青河镇", "女"): 1234,
                                     ("阿热勒乡", "女"): 5}}
    with pytest.raises(CalibrationError,
                       match="township=青河镇, sex=女 has population 1234 but no respondents"):
        rake(d, w, margins)


def test_empty_cell_with_zero_population_is_ignored():
    """R drops cells that are empty in both sample and population."""
    d, w = _small()
    res = rake(d, w, {("township", "sex"): {("青河镇", "男"): 10, ("青河镇", "女"): 0,
                                            ("阿热勒乡", "女"): 5}})
    np.testing.assert_allclose(res.weights, [5.0, 5.0, 5.0])


def test_sample_level_absent_from_margins():
    d, w = _small()
    with pytest.raises(CalibrationError,
                       match="township=阿热勒乡, sex=女 has 1 respondent.* no population"):
        rake(d, w, {("township", "sex"): {("青河镇", "男"): 10}})
    with pytest.raises(CalibrationError, match="sex=女 has 1 respondent.*population 0"):
        rake(d, w, {"sex": {"男": 10, "女": 0}})


@pytest.mark.parametrize(
    ("margins", "weights", "kwargs", "message"),
    [
        ({"age": {"18-34": 3}}, np.ones(3), {}, r"column\(s\) \['age'\] not in the data"),
        ({("township", "sex"): {"青河镇": 3}}, np.ones(3), {}, "must be a tuple of 2"),
        ({"sex": {"男": -1, "女": 3}}, np.ones(3), {}, "finite and >= 0"),
        ({"sex": {"男": 1, "女": 3}}, np.array([1.0, 0.0, 1.0]), {}, "row 1 has weight 0"),
        ({"sex": {"男": 1, "女": 3}}, np.ones(2), {}, "one number per row"),
        ({"sex": {"男": 1, "女": 3}}, np.ones(3), {"max_iter": 0}, "max_iter"),
        ({"sex": {"男": 1, "女": 3}}, np.ones(3), {"epsilon": 0.0}, "epsilon"),
        ({}, np.ones(3), {}, "non-empty mapping"),
    ],
)
def test_bad_input_is_named(margins, weights, kwargs, message):
    d, _ = _small()
    with pytest.raises(CalibrationError, match=message):
        rake(d, weights, margins, **kwargs)


def test_missing_margin_value_names_rows():
    d, w = _small()
    d.loc[2, "sex"] = None
    with pytest.raises(CalibrationError, match=r"column 'sex' is missing in 1 row.*\[2\]"):
        rake(d, w, {"sex": {"男": 1, "女": 3}})


def test_census_margins_errors():
    census = _golden("rake_margins.csv")
    with pytest.raises(CalibrationError, match="margin 'income' not in the census"):
        census_margins(census, margins=("sex", "income"))
    with pytest.raises(CalibrationError, match="appears twice"):
        census_margins(pd.concat([census, census.head(1)]))
    county = census_margins(census, by=None, margins=("sex",))
    assert county == {"sex": census[census["margin"] == "sex"].groupby("level", sort=False)
                      ["population"].sum().to_dict()}


# -- through SurveyDesign.rake ----------------------------------------------------------

@pytest.fixture(scope="module")
def r_estimates() -> pd.DataFrame:
    return _golden("rake_estimates.csv")


def _raked_design(design_data: pd.DataFrame, margins: dict, case: str):
    from pingan_eval.survey.design import SurveyDesign

    des = SurveyDesign(design_data, strata="township", psu="village", weights="weight")
    if case == "unraked":
        return des
    if case == "sexonly":
        return des.rake(_sex_only(margins))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RakeConvergenceWarning)
        raked = des.rake(margins, max_iter=1 if case == "maxit1" else 10)
    return raked.rake(margins) if case == "twice" else raked


def _compare(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    ref = ref.assign(township=ref["township"].fillna("")).set_index("township")
    got = got.assign(township=got.get("township", "")).set_index("township")
    assert sorted(got.index) == sorted(ref.index)
    for col in ["estimate", "se", "ci_low", "ci_high"]:
        np.testing.assert_allclose(got.loc[ref.index, col], ref[col], rtol=1e-6, err_msg=col)


@pytest.mark.parametrize("case", ["full", "sexonly", "maxit1", "twice", "unraked"])
@pytest.mark.parametrize("variable", ["y", "score"])
def test_design_mean_after_rake_matches_r(design_data, margins, r_estimates, case, variable):
    """R: D <- rake(des, ...) as in the case; svymean(~v, D) with confint(, df = degf(D)),
    and the same on subset(D, township == t) for every township; 1e-6 relative."""
    des = _raked_design(design_data, margins, case)
    assert des.calibrated == (case != "unraked")
    ref = r_estimates[(r_estimates["case"] == case) & (r_estimates["variable"] == variable)
                      & (r_estimates["statistic"] == "svymean")]
    _compare(des.mean(variable), ref[ref["township"].isna()])
    _compare(des.mean(variable, by="township"), ref[ref["township"].notna()])


@pytest.mark.parametrize("case", ["full", "sexonly", "maxit1", "twice"])
def test_design_proportion_after_rake_matches_r(design_data, margins, r_estimates, case):
    """R: svyciprop(~y, D, method = "logit") on the raked design D and on
    subset(D, township == t); estimate, SE and CI to 1e-6 relative."""
    des = _raked_design(design_data, margins, case)
    ref = r_estimates[(r_estimates["case"] == case)
                      & (r_estimates["statistic"] == "svyciprop_logit")]
    _compare(des.proportion("y", method="logit"), ref[ref["township"].isna()])
    _compare(des.proportion("y", by="township", method="logit"), ref[ref["township"].notna()])


def test_design_rake_weights_and_raking_twice(design_data, margins, r_weights):
    """R: D2 <- rake(D, <same margins>) with D the full raking: weights(D) and weights(D2)
    to 1e-6; D2's variance uses both rakings (see the "twice" estimate tests)."""
    once = _raked_design(design_data, margins, "full")
    np.testing.assert_allclose(once.weights, r_weights["full"], rtol=1e-6)
    twice = _raked_design(design_data, margins, "twice")
    np.testing.assert_allclose(twice.weights, r_weights["twice"], rtol=1e-6)


def test_categorical_columns_report_only_observed_levels():
    d = pd.DataFrame({"township": ["青河镇", "青河镇", "阿热勒乡"],
                      "sex": pd.Categorical(["男", "女", "女"], categories=["男", "女", "未知"])})
    res = rake(d, np.ones(3), {("township", "sex"): {("青河镇", "男"): 5, ("青河镇", "女"): 5,
                                                     ("阿热勒乡", "女"): 3}})
    np.testing.assert_allclose(res.weights, [5.0, 5.0, 3.0])
    with pytest.raises(CalibrationError) as err:
        rake(d, np.ones(3), {("township", "sex"): {("青河镇", "男"): 5, ("阿热勒乡", "女"): 3}})
    assert str(err.value) == ("margin (township, sex) cannot be met: township=青河镇, sex=女 "
                              "has 1 respondent(s) but no population total in the margins")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_converged_rake_meets_every_margin(seed):
    """Property: with every cross cell occupied, raking to consistent margins converges
    and the weighted totals equal every margin (Deming-Stephan)."""
    rng = np.random.default_rng(seed)
    n = 40
    a = np.concatenate([np.repeat(["x", "y", "z"], 2), rng.choice(["x", "y", "z"], n - 6)])
    b = np.concatenate([np.tile(["p", "q"], 3), rng.choice(["p", "q"], n - 6)])
    d = pd.DataFrame({"a": a, "b": b})
    share_a, share_b = rng.dirichlet(np.ones(3)) * 1000, rng.dirichlet(np.ones(2)) * 1000
    margins = {"a": dict(zip("xyz", share_a, strict=True)),
               "b": dict(zip("pq", share_b, strict=True))}
    res = rake(d, rng.uniform(0.5, 3.0, n), margins, epsilon=1e-10, max_iter=1000)
    assert res.converged
    for col, totals in margins.items():
        got = pd.Series(res.weights).groupby(d[col]).sum()
        for level, total in totals.items():
            assert got[level] == pytest.approx(total, rel=1e-6, abs=1e-6)


# -- residualize on many domains: the sparse path against R's dense loop ------------------

def _dense_residuals(x: np.ndarray, steps: tuple) -> np.ndarray:
    """R's svyrecvar loop on the dense n x k matrix, column by column:
    for (iterations in 1:10) for (margin) x <- x - psw * apply(x/psw, 2, ave, margin)."""
    x = np.array(x, dtype=float)
    for step in steps:
        for _ in range(10):
            for margin in step.margins:
                psw = margin.weights[:, None]
                ave = pd.DataFrame(x / psw).groupby(margin.codes).transform("mean")
                x = x - psw * ave.to_numpy()
    return x


def _many_domains(data: pd.DataFrame, seed: int) -> np.ndarray:
    """Influence-like columns: one per township x village (crossing every margin cell of
    its township), one per county-wide age group (every township), one all zero, one
    with a single non-zero row."""
    rng = np.random.default_rng(seed)
    value = rng.normal(size=len(data))
    village = pd.factorize(data["township"] + "/" + data["village"], sort=True)[0]
    age = pd.factorize(data["age_group"], sort=True)[0]
    cols = [np.where(village == j, value, 0.0) for j in range(village.max() + 1)]
    cols += [np.where(age == j, value, 0.0) for j in range(age.max() + 1)]
    cols += [np.zeros(len(data)), np.where(np.arange(len(data)) == 7, 2.5, 0.0)]
    return np.column_stack(cols)


@pytest.mark.parametrize("case", ["crossed", "twice"])
def test_residualize_many_domains_equals_dense_loop(design_data, margins, case, monkeypatch):
    """The sparse path (each column swept on the rows its cells reach) against R's dense
    loop: 1e-12 of the largest value; dense and sparse input give the same bits, and a
    township's column stays exactly 0 outside the township when every margin is crossed
    with township ("twice" adds a county-wide sex margin, which links all townships)."""
    from scipy import sparse

    from pingan_eval.survey import residuals

    res = rake(design_data, design_data["weight"].to_numpy(), margins)
    steps = res.steps
    if case == "twice":
        sex = pd.Series(res.weights).groupby(design_data["sex"]).sum() * 1.05
        steps += rake(design_data, res.weights, {"sex": sex.to_dict()}).steps
    x = _many_domains(design_data, seed=11)
    got = residualize(x, steps)
    np.testing.assert_allclose(got, _dense_residuals(x, steps), rtol=0,
                               atol=1e-12 * np.abs(x).max())
    as_sparse = residualize(sparse.csc_matrix(x), steps)
    assert sparse.issparse(as_sparse) and as_sparse.shape == x.shape
    np.testing.assert_array_equal(as_sparse.toarray(), got)
    n_villages = design_data.groupby("township")["village"].nunique().sum()
    town = design_data["township"].to_numpy()
    for j in range(n_villages):
        outside = town != town[np.flatnonzero(x[:, j])[0]]
        if case == "crossed":
            assert not got[outside, j].any()
        else:
            assert got[outside, j].any()
    assert not got[:, -2].any()
    # Small chunks of columns change nothing.
    monkeypatch.setattr(residuals, "_CHUNK_ENTRIES", 100)
    np.testing.assert_array_equal(residualize(x, steps), got)


def test_design_many_domains_equals_dense_loop(design_data, margins):
    """SurveyDesign on a raked design, township x village and township x sex domains: the
    variance equals the stratified PSU-total variance of R's dense residuals of the
    influence values w (y - mean) / W, to 1e-12 relative."""
    from pingan_eval.survey.design import SurveyDesign

    w = design_data["weight"].to_numpy()
    res = rake(design_data, w, margins)
    des = SurveyDesign(design_data, strata="township", psu="village",
                       weights="weight").rake(margins)
    for by in (["township", "village"], ["township", "sex"]):
        got = des.mean("score", by=by)
        domain = design_data.groupby(by).ngroup().to_numpy()
        y = design_data["score"].to_numpy(dtype=float)
        x = np.zeros((len(design_data), len(got)))
        for j in range(len(got)):
            inside = domain == j
            wsum = res.weights[inside].sum()
            est = (res.weights * y)[inside].sum() / wsum
            assert got["estimate"][j] == pytest.approx(est, rel=1e-12)
            x[inside, j] = res.weights[inside] * (y[inside] - est) / wsum
        resid = _dense_residuals(x, res.steps)
        var = [_stratified_wr_variance(resid[:, j], design_data) for j in range(len(got))]
        np.testing.assert_allclose(got["se"] ** 2, var, rtol=1e-12)
