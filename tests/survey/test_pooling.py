"""Pooled estimates over windows of months and the covariance between months.

Golden values: ``tests/golden/sae/make_pooled.R``, run with R 4.2.2 (2022-11-10 r83330)
and survey 4.1.1, wrote ``pooled_*.csv`` from a fixture of the prepared sample (3
townships, all their villages, 2026-01..2026-03; NA = "don't know"). CI needs no R. Every
value must agree to 1e-8 relative (svyciprop's logit interval comes from a glm fit whose
convergence tolerance leaves differences near 1e-9).

* estimates: per window, ``d <- svydesign(ids=~village, strata=~township,
  weights=~I(weight/k), nest=TRUE, data=stacked)``, then ``svyby(~y, ~township, d,
  svyciprop, method='logit', vartype=c('se','ci'), na.rm=TRUE)`` and ``svyciprop(~y, d,
  method='logit', na.rm=TRUE)`` (the exact call per case is in ``pooled_cases.csv``);
* covariance: ``vcov(svyby(~y, ~period + township, subset(d, !is.na(y)), svymean,
  covmat=TRUE))`` (and ``~period`` for the county), which the script checks against
  ``svyratio(..., covmat=TRUE)`` of the month-masked totals and against each month's
  own-design variance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pingan_eval import SurveyDesign
from pingan_eval.errors import DesignError, EstimationError
from pingan_eval.survey.pooling import (
    COVARIANCE_COLUMNS,
    WINDOW_COLUMNS,
    month_covariance,
    pooled_estimates,
    stack_months,
    window_periods,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sae"
VARIABLES = ["participation", "security"]
STATS = ["estimate", "se", "ci_low", "ci_high", "df", "n", "deff"]
CASES = pd.read_csv(GOLDEN / "pooled_cases.csv", dtype=str)
FIXTURE = pd.read_csv(GOLDEN / "pooled_fixture.csv",
                      dtype={"period": str, "respondent_id": str, "township": str,
                             "village": str})
MONTHS = sorted(FIXTURE["period"].unique())


def _frames() -> dict[str, pd.DataFrame]:
    return {m: g.drop(columns="period").reset_index(drop=True)
            for m, g in FIXTURE.groupby("period")}


def _close(got: np.ndarray, expected: np.ndarray, msg: str = "") -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                               rtol=1e-8, atol=1e-12, equal_nan=True, err_msg=msg)


# ---- golden: pooled estimates -----------------------------------------------------------
def _check_case(case_id: str) -> None:
    case = CASES.set_index("case").loc[case_id]
    months = window_periods(case["period"], case["window"], MONTHS)
    assert months == case["months"].split(";")
    expected = pd.read_csv(GOLDEN / "pooled_estimates.csv", keep_default_na=False,
                           na_values=["NaN"])
    expected = expected[expected["case"] == case_id]
    towns = pooled_estimates(_frames(), VARIABLES, periods=months)
    county = pooled_estimates(_frames(), VARIABLES, periods=months, by=None)
    assert list(towns.columns) == ["township", "variable", *STATS, *WINDOW_COLUMNS]
    assert list(county.columns) == ["variable", *STATS, *WINDOW_COLUMNS]
    for got in (towns, county):
        assert (got["window_start"] == months[0]).all()
        assert (got["window_end"] == months[-1]).all()
        assert (got["months"] == len(months)).all()
    exp_towns = expected[expected["township"] != ""].sort_values(["township", "variable"])
    assert towns["township"].tolist() == exp_towns["township"].tolist()
    assert towns["variable"].tolist() == exp_towns["variable"].tolist()
    exp_county = expected[expected["township"] == ""]
    assert county["variable"].tolist() == exp_county["variable"].tolist()
    for col in STATS:
        _close(towns[col], exp_towns[col], f"{case_id} township {col}: {case['r_call']}")
        _close(county[col], exp_county[col], f"{case_id} county {col}: {case['r_call']}")


def _golden_test(case_id: str, r_call: str):
    def test() -> None:
        _check_case(case_id)

    test.__name__ = f"test_pooled_golden_{case_id.replace('-', '_')}"
    test.__doc__ = (f"pooled_estimates == R (4.2.2, survey 4.1.1) for every township and "
                    f"the county, window {case_id}. R: {r_call}")
    return test


for _case_id, _r_call in zip(CASES["case"], CASES["r_call"], strict=True):
    _test = _golden_test(_case_id, _r_call)
    globals()[_test.__name__] = _test


# ---- golden: covariance between months --------------------------------------------------
def test_month_covariance_golden() -> None:
    """month_covariance == R for each township and the county, both indicators.

    R 4.2.2, survey 4.1.1: ``vcov(svyby(~y, ~period + township, subset(d, !is.na(y)),
    svymean, covmat=TRUE))`` on ``d <- svydesign(ids=~village, strata=~township,
    weights=~I(weight/3), nest=TRUE, data=fixture)``; ``~period`` for the county.
    """
    expected = pd.read_csv(GOLDEN / "pooled_covariance.csv", keep_default_na=False)
    towns = month_covariance(_frames(), VARIABLES)
    county = month_covariance(_frames(), VARIABLES, by=None)
    assert list(towns.columns) == ["township", "variable", *COVARIANCE_COLUMNS]
    assert list(county.columns) == ["variable", *COVARIANCE_COLUMNS]
    exp = expected[expected["township"] != ""].sort_values(
        ["township", "variable", "period_a", "period_b"])
    for col in ["township", "variable", "period_a", "period_b"]:
        assert towns[col].tolist() == exp[col].tolist(), col
    _close(towns["cov"], exp["cov"])
    exp_county = expected[expected["township"] == ""].sort_values(
        ["variable", "period_a", "period_b"])
    assert county["period_b"].tolist() == exp_county["period_b"].tolist()
    _close(county["cov"], exp_county["cov"])
    diagonal = towns["period_a"] == towns["period_b"]
    np.testing.assert_allclose(towns.loc[diagonal, "corr"], 1.0, rtol=1e-12)
    assert (towns.loc[~diagonal, "corr"].abs() < 1).all()


def _matrix(cov: pd.DataFrame, town: str | None, variable: str) -> np.ndarray:
    rows = cov[cov["variable"] == variable]
    if town is not None:
        rows = rows[rows["township"] == town]
    n = int(round(np.sqrt(len(rows))))
    return rows["cov"].to_numpy().reshape(n, n)


def test_diagonal_is_the_monthly_design_variance() -> None:
    """With the same villages every month, C(t, t) is the month's own-design variance."""
    cov = month_covariance(_frames(), VARIABLES)
    for month, frame in _frames().items():
        design = SurveyDesign(frame, strata="township", psu="village", weights="weight")
        for var in VARIABLES:
            own = design.proportion(var, by="township")
            diag = cov[(cov["variable"] == var) & (cov["period_a"] == month)
                       & (cov["period_b"] == month)]
            np.testing.assert_allclose(diag["cov"], own["se"] ** 2, rtol=1e-12)


def test_diagonal_in_domains_that_cut_across_villages() -> None:
    """A domain without rows in some villages of a stratum: those count with total 0."""
    frames = {}
    for month, frame in _frames().items():
        rank = frame.groupby("township")["village"].rank(method="dense")
        frames[month] = frame.assign(half=np.where(rank <= 2, "first", "rest"))
    cov = month_covariance(frames, VARIABLES, by="half")
    for month, frame in frames.items():
        design = SurveyDesign(frame, strata="township", psu="village", weights="weight")
        for var in VARIABLES:
            own = design.proportion(var, by="half")
            diag = cov[(cov["variable"] == var) & (cov["period_a"] == month)
                       & (cov["period_b"] == month)]
            assert diag["half"].tolist() == own["half"].tolist()
            np.testing.assert_allclose(diag["cov"], own["se"] ** 2, rtol=1e-12)


# ---- the covariance is what the pooled variance uses ------------------------------------
def test_independent_months_would_give_another_se() -> None:
    """Months as independent samples (PSU = village x month) give a different se.

    Smaller exactly where a township's months covary positively (the village effect),
    larger where they covary negatively; the fixture has both.
    """
    pooled = pooled_estimates(_frames(), VARIABLES)
    cov = month_covariance(_frames(), VARIABLES)
    stacked = stack_months(_frames())
    stacked["village_month"] = stacked["village"] + "@" + stacked["period"]
    stacked["weight"] = stacked["weight"] / len(MONTHS)
    indep = SurveyDesign(stacked, strata="township", psu="village_month", weights="weight")
    signs = []
    for var in VARIABLES:
        se = pooled[pooled["variable"] == var]["se"].to_numpy()
        se_indep = indep.proportion(var, by="township")["se"].to_numpy()
        assert np.all(np.abs(se_indep / se - 1) > 0.05)
        off = np.array([_matrix(cov, t, var).sum() - np.trace(_matrix(cov, t, var))
                        for t in pooled[pooled["variable"] == var]["township"]])
        assert np.array_equal(np.sign(se - se_indep), np.sign(off))
        signs += list(np.sign(off))
    assert 1 in signs and -1 in signs


def _rotated_months() -> dict[str, pd.DataFrame]:
    """Two months with the same rows, villages relabelled in a cycle within each township:
    every township has the same W_t and p_t in both months, but new village totals."""
    first = _frames()[MONTHS[0]]
    second = first.copy()
    for _, g in first.groupby("township"):
        villages = sorted(g["village"].unique())
        cycle = dict(zip(villages, villages[1:] + villages[:1], strict=True))
        second.loc[g.index, "village"] = g["village"].map(cycle)
    return {"2026-01": first, "2026-02": second}


def test_pooled_variance_is_1C1_over_k2_when_months_have_equal_totals_and_means() -> None:
    """Var(P) = 1' C 1 / k^2 exactly when W_t and p_t are the same in every month."""
    frames = _rotated_months()
    for by in ("township", None):
        pooled = pooled_estimates(frames, VARIABLES, by=by)
        cov = month_covariance(frames, VARIABLES, by=by)
        for var in VARIABLES:
            rows = pooled[pooled["variable"] == var]
            towns = rows["township"] if by else [None]
            combo = [_matrix(cov, t, var).sum() / 4 for t in towns]
            np.testing.assert_allclose(rows["se"] ** 2, combo, rtol=1e-10)
            assert all(abs(_matrix(cov, t, var)[0, 1]) > 0 for t in towns)


def _stratified_cov(a: np.ndarray, b: np.ndarray, stratum: np.ndarray) -> np.ndarray:
    """sum_h n_h/(n_h-1) sum_j (a_hj - abar_h)(b_hj - bbar_h)' for village rows a, b."""
    out = np.zeros((a.shape[1], b.shape[1]))
    for h in np.unique(stratum):
        ah, bh = a[stratum == h], b[stratum == h]
        n = len(ah)
        out += n / (n - 1) * (ah - ah.mean(0)).T @ (bh - bh.mean(0))
    return out


def test_pooled_variance_identity_in_general() -> None:
    """Var(P) = a' C a + 2 a' C_xv c + c' C_vv c, a_t = W_t / W, c_t = (p_t - P) / W.

    C from month_covariance; C_xv, C_vv (village totals x of the linearized values and v
    of the weights, per month) computed here with pandas. The a' C a part alone differs.
    """
    stacked = stack_months(_frames())
    pooled = pooled_estimates(_frames(), VARIABLES).set_index(["township", "variable"])
    cov = month_covariance(_frames(), VARIABLES)
    for var in VARIABLES:
        data = stacked[stacked[var].notna()].copy()
        data["wy"] = data["weight"] * data[var]
        cell = data.groupby(["township", "period"])
        W_t = cell["weight"].transform("sum")
        data["x"] = data["weight"] * (data[var] - cell["wy"].transform("sum") / W_t) / W_t
        for town, g in data.groupby("township"):
            x = g.pivot_table("x", "village", "period", aggfunc="sum", fill_value=0.0)
            v = g.pivot_table("weight", "village", "period", aggfunc="sum", fill_value=0.0)
            W = v.to_numpy().sum(0)
            p = (g[var] * g["weight"]).groupby(g["period"]).sum().to_numpy() / W
            a, P = W / W.sum(), (p * W).sum() / W.sum()
            c = (p - P) / W.sum()
            s = np.zeros(len(x))
            C = _matrix(cov, town, var)
            np.testing.assert_allclose(C, _stratified_cov(x.to_numpy(), x.to_numpy(), s),
                                       rtol=1e-10)
            C_xv = _stratified_cov(x.to_numpy(), v.to_numpy(), s)
            C_vv = _stratified_cov(v.to_numpy(), v.to_numpy(), s)
            var_p = a @ C @ a + 2 * a @ C_xv @ c + c @ C_vv @ c
            se2 = pooled.loc[(town, var), "se"] ** 2
            np.testing.assert_allclose(se2, var_p, rtol=1e-10)
            assert abs(a @ C @ a / se2 - 1) > 1e-4


# ---- invariances --------------------------------------------------------------------------
def test_row_order_and_input_form_do_not_matter() -> None:
    """Shuffled rows, a stacked frame or a mapping: the same numbers."""
    frames = _frames()
    shuffled = FIXTURE.sample(frac=1.0, random_state=20261201).reset_index(drop=True)
    for fn in (pooled_estimates, month_covariance):
        for by in ("township", None):
            a = fn(frames, VARIABLES, by=by)
            b = fn(shuffled, VARIABLES, by=by)
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-15)


def test_inputs_are_not_modified() -> None:
    frames = _frames()
    before = {m: f.copy(deep=True) for m, f in frames.items()}
    stacked = FIXTURE.copy(deep=True)
    pooled_estimates(frames, VARIABLES, periods=MONTHS[:2])
    month_covariance(frames, VARIABLES)
    pooled_estimates(stacked, VARIABLES)
    month_covariance(stacked, VARIABLES, by=None)
    assert list(frames) == list(before)
    for m in frames:
        pd.testing.assert_frame_equal(frames[m], before[m])
    pd.testing.assert_frame_equal(stacked, FIXTURE)


# ---- windows --------------------------------------------------------------------------------
HAVE = ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-05",
        "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]


@pytest.mark.parametrize(("period", "window", "expected"), [
    ("2026-03", "month", ["2026-03"]),
    ("2026-01", "quarter", ["2026-01"]),
    ("2026-02", "quarter", ["2026-01", "2026-02"]),
    ("2026-03", "quarter", ["2026-01", "2026-02", "2026-03"]),
    ("2026-05", "quarter", ["2026-05"]),                       # 2026-04 has no data
    ("2026-06", "quarter", ["2026-05", "2026-06"]),
    ("2025-12", "quarter", ["2025-10", "2025-11", "2025-12"]),
    ("2026-01", "ytd", ["2026-01"]),                           # never the previous year
    ("2026-03", "ytd", ["2026-01", "2026-02", "2026-03"]),
    ("2026-11", "ytd", ["2026-01", "2026-02", "2026-03", "2026-05", "2026-06", "2026-07",
                        "2026-08", "2026-09", "2026-10", "2026-11"]),
    ("2025-11", "rolling12", ["2025-10", "2025-11"]),
    ("2026-09", "rolling12", HAVE[:-2]),                       # 2025-10 .. 2026-09, 11 months
    ("2026-10", "rolling12", HAVE[1:-1]),                      # 2025-11 .. 2026-10
    ("2026-11", "rolling12", HAVE[2:]),                        # 12 calendar months, 11 waves
])
def test_window_periods(period: str, window: str, expected: list[str]) -> None:
    got = window_periods(period, window, list(reversed(HAVE)) + HAVE[:3])
    assert got == expected
    assert all(m <= period for m in got)


@pytest.mark.parametrize(("period", "window", "message"), [
    ("2026-04", "quarter", "no data"),
    ("2026-13", "month", "YYYY-MM"),
    ("2026-3", "month", "YYYY-MM"),
    ("2026-03", "half", "unknown window"),
])
def test_window_periods_errors(period: str, window: str, message: str) -> None:
    with pytest.raises(EstimationError, match=message):
        window_periods(period, window, HAVE)


# ---- edges and errors -----------------------------------------------------------------------
def test_month_without_data_in_an_area_is_nan() -> None:
    frames = _frames()
    frames["2026-02"] = frames["2026-02"][frames["2026-02"]["township"] != "青河镇"]
    cov = month_covariance(frames, "security")
    town = cov[cov["township"] == "青河镇"]
    feb = (town["period_a"] == "2026-02") | (town["period_b"] == "2026-02")
    assert town.loc[feb, "cov"].isna().all()
    assert town.loc[~feb, "cov"].notna().all()
    assert cov.loc[cov["township"] != "青河镇", "cov"].notna().all()


def test_lonely_psu_policies_follow_the_design() -> None:
    frames = {m: f[~((f["township"] == "青河镇") & (f["village"] != f["village"].iloc[-1]))]
              for m, f in _frames().items()}
    with pytest.raises(DesignError, match="青河镇"):
        month_covariance(frames, "security")
    for policy in ("adjust", "remove"):
        cov = month_covariance(frames, "security", by=None, lonely_psu=policy)
        for month, frame in frames.items():
            own = SurveyDesign(frame, strata="township", psu="village", weights="weight",
                               lonely_psu=policy).proportion("security")
            diag = cov[(cov["period_a"] == month) & (cov["period_b"] == month)]
            np.testing.assert_allclose(diag["cov"], own["se"] ** 2, rtol=1e-12)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda f: pooled_estimates(f, "security", periods=["2026-04"]), EstimationError,
     "2026-04"),
    (lambda f: month_covariance(f, "security", periods=["2026-01", "2026-05"]),
     EstimationError, "2026-05"),
    (lambda f: pooled_estimates(f, []), EstimationError, "no variable"),
    (lambda f: month_covariance(f, "nope"), EstimationError, "nope"),
    (lambda f: month_covariance(f, "security", weights="w"), DesignError, "'w'"),
    (lambda f: pooled_estimates({**f, "2026-03": f["2026-03"].assign(period="2026-02")},
                                "security"), EstimationError, "period"),
    (lambda f: month_covariance({**f, "2026-03": f["2026-03"].assign(weight=0.0)},
                                "security"), DesignError, "finite and > 0"),
])
def test_errors_name_the_problem(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call(_frames())
