"""SurveyDesign: the API contract, clear errors, and identities (one answer two ways)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pingan_eval import SurveyDesign
from pingan_eval.errors import DesignError, EstimationError
from pingan_eval.survey.design import RESULT_COLUMNS
from pingan_eval.survey.intervals import PROPORTION_METHODS

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture
def survey() -> pd.DataFrame:
    """The seeded survey of the golden tests: 6 strata, 23 PSUs, missing values."""
    return pd.read_csv(GOLDEN / "design_main.csv", encoding="utf-8")


def _design(df: pd.DataFrame, **kw) -> SurveyDesign:
    args = {"strata": "township", "psu": "village", "weights": "weight"}
    args.update(kw)
    return SurveyDesign(df, **args)


# -- the output contract -----------------------------------------------------------------

@pytest.mark.parametrize("method", PROPORTION_METHODS)
def test_columns_never_change_with_options(survey, method):
    d = _design(survey)
    for level in (0.9, 0.95):
        t = d.proportion("secure", by=["township", "sex"], method=method, level=level)
        assert list(t.columns) == ["township", "sex", *RESULT_COLUMNS]
    assert list(d.proportion("secure", method=method).columns) == list(RESULT_COLUMNS)
    assert list(d.mean("score", by="kind").columns) == ["kind", *RESULT_COLUMNS]


def test_rows_sorted_by_domain_and_counts(survey):
    t = _design(survey).proportion("secure", by=["township", "sex"])
    keys = list(zip(t["township"], t["sex"], strict=True))
    assert keys == sorted(keys)
    n = survey.dropna(subset=["secure"]).groupby(["township", "sex"]).size()
    assert t.set_index(["township", "sex"])["n"].to_dict() == n.to_dict()
    assert t["n"].dtype == np.int64 and t["df"].dtype == np.int64


def test_weights_in_input_order_and_read_only(survey):
    d = _design(survey)
    np.testing.assert_array_equal(d.weights, survey["weight"].to_numpy())
    with pytest.raises(ValueError):
        d.weights[0] = 1.0
    np.testing.assert_array_equal(SurveyDesign(survey).weights, np.ones(len(survey)))


def test_design_is_frozen(survey):
    d = _design(survey)
    with pytest.raises(AttributeError):
        d.weights = None
    with pytest.raises(AttributeError):
        d._data = survey


def test_domain_df_counts_psus_whose_values_are_all_missing(survey):
    """T4-v2's `secure` is missing throughout: T4 has 5 PSUs, so df = 5 - 1 (R's degf)."""
    t = _design(survey).proportion("secure", by="township").set_index("township")
    assert survey.loc[survey["village"] == "T4-v2", "secure"].isna().all()
    assert t.loc["T4", "df"] == 4
    assert t.loc["T4", "n"] == survey.loc[survey["township"] == "T4", "secure"].notna().sum()


def test_missing_by_value_is_in_no_domain_but_stays_in_the_design(survey):
    df = survey.copy()
    df.loc[df.index[:5], "sex"] = None
    t = _design(df).mean("score", by="sex")
    assert set(t["sex"]) == {"男", "女"}
    assert t["n"].sum() == df["score"].notna().sum() - df.loc[df.index[:5], "score"].notna().sum()


def test_df_zero_gives_nan_bounds(survey):
    t = _design(survey).proportion("secure", by="cell", method="wald").set_index("cell")
    assert t.loc["only", "df"] == 0
    assert np.isnan(t.loc["only", ["ci_low", "ci_high"]].astype(float)).all()
    assert not np.isnan(t.loc["rest", ["ci_low", "ci_high"]].astype(float)).any()


def test_edge_domain_gets_clopper_pearson_on_unweighted_n():
    """T6 answers 1 throughout: logit and beta give the exact binomial interval on n."""
    from scipy.stats import binomtest

    df = pd.DataFrame({"s": ["A"] * 6 + ["B"] * 6, "p": list("aabbcc") + list("ddeeff"),
                       "w": np.arange(1.0, 13.0), "y": [1, 0, 1, 1, 0, 1] + [1] * 6})
    d = SurveyDesign(df, strata="s", psu="p", weights="w")
    ref = binomtest(6, 6).proportion_ci(0.95, method="exact")
    for method in ("logit", "beta"):
        row = d.proportion("y", by="s", method=method).iloc[1]
        assert (row["estimate"], row["se"]) == (1.0, 0.0)
        assert row["ci_low"] == pytest.approx(ref.low, rel=1e-12)
        assert row["ci_high"] == 1.0


def test_input_frame_is_not_modified(survey):
    before = survey.copy(deep=True)
    d = _design(survey, fpc="N_psu")
    d.proportion("secure", by="township", method="beta")
    d.mean("score", by=["township", "sex"])
    pd.testing.assert_frame_equal(survey, before)


# -- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["strata", "psu", "weights", "fpc"])
def test_unknown_design_column_is_named(survey, role):
    with pytest.raises(DesignError, match="'nope'"):
        _design(survey, **{role: "nope"})


def test_unknown_variable_or_by_column_is_named(survey):
    d = _design(survey)
    with pytest.raises(DesignError, match="'nope'"):
        d.mean("nope")
    with pytest.raises(DesignError, match="'nope'"):
        d.proportion("secure", by=["township", "nope"])


@pytest.mark.parametrize("bad", [np.nan, 0.0, -3.0, np.inf])
def test_bad_weights_name_column_row_and_value(survey, bad):
    df = survey.copy()
    df.loc[7, "weight"] = bad
    with pytest.raises(DesignError, match=r"'weight'.*row 7"):
        _design(df)


def test_non_numeric_weights(survey):
    df = survey.astype({"weight": object})
    df.loc[3, "weight"] = "heavy"
    with pytest.raises(DesignError, match="heavy"):
        _design(df)


def test_non_binary_value_in_proportion_is_named(survey):
    with pytest.raises(EstimationError, match=r"'score'.*0/1.*row \d+ has (25|50|75|100)"):
        _design(survey).proportion("score")


def test_non_numeric_or_infinite_variable_is_named(survey):
    df = survey.astype({"score": object})
    df.loc[9, "score"] = "很好"
    with pytest.raises(EstimationError, match=r"'score'.*row 9.*很好"):
        _design(df).mean("score")
    df = survey.copy()
    df.loc[11, "score"] = np.inf
    with pytest.raises(EstimationError, match=r"'score'.*infinite.*row 11"):
        _design(df).mean("score")


def test_unknown_method_lists_the_valid_ones(survey):
    with pytest.raises(EstimationError) as err:
        _design(survey).proportion("secure", method="agresti")
    for method in PROPORTION_METHODS:
        assert repr(method) in str(err.value)


def test_lonely_psu_fail_names_the_stratum():
    lonely = pd.read_csv(GOLDEN / "design_lonely.csv", encoding="utf-8")
    d = _design(lonely)
    with pytest.raises(DesignError, match="stratum 'L3' has only one PSU"):
        d.mean("score")
    with pytest.raises(DesignError, match="stratum 'L3'"):
        d.proportion("secure", by="township")
    with pytest.raises(DesignError, match="lonely_psu"):
        _design(lonely, lonely_psu="average")


def test_lonely_stratum_outside_the_domain_is_fine():
    """As in R, a lonely stratum only matters when the domain has data in it."""
    lonely = pd.read_csv(GOLDEN / "design_lonely.csv", encoding="utf-8")
    north = lonely["township"].isin(["L1", "L2"])
    d = _design(lonely.assign(region=np.where(north, "north", None)))
    t = d.mean("score", by="region")
    assert t["region"].tolist() == ["north"] and t["df"].iloc[0] == 3 + 4 - 2


def test_empty_domain_request(survey):
    df = survey.assign(nothing=np.nan, blank=None)
    d = _design(df)
    with pytest.raises(EstimationError, match="'nothing'"):
        d.proportion("nothing")
    with pytest.raises(EstimationError, match="blank"):
        d.mean("score", by="blank")


def test_bad_fpc(survey):
    df = survey.copy()
    df.loc[0, "N_psu"] = 99
    with pytest.raises(DesignError, match="varies within stratum 'T1'"):
        _design(df, fpc="N_psu")
    df = survey.assign(N_psu=1)
    with pytest.raises(DesignError, match="sampled PSUs"):
        _design(df, fpc="N_psu")


def test_missing_stratum_or_psu_value(survey):
    df = survey.copy()
    df.loc[4, "village"] = None
    with pytest.raises(DesignError, match="'village'.*row 4"):
        _design(df)


@pytest.mark.parametrize("level", [0, 1, 1.5, "high"])
def test_bad_level(survey, level):
    with pytest.raises(EstimationError, match="level"):
        _design(survey).mean("score", level=level)


def test_not_a_frame():
    with pytest.raises(DesignError, match="DataFrame"):
        SurveyDesign([1, 2, 3])


# -- identities --------------------------------------------------------------------------

def test_domain_estimate_equals_zero_weighted_estimate(survey):
    """A domain estimate is the whole-population estimate with zero weight outside it
    (R: svymean(~y, subset(design, d)) == svymean(~y, design with weights 0 outside))."""
    d = _design(survey)
    by_sex = d.mean("score", by="sex").set_index("sex")
    for sex in ("男", "女"):
        zeroed = d._evolve(weights=np.where(survey["sex"] == sex, d.weights, 0.0))
        whole = zeroed.mean("score").iloc[0]
        pd.testing.assert_series_equal(whole, by_sex.loc[sex], check_names=False,
                                       rtol=1e-12)


def test_stratum_domain_equals_design_of_that_stratum(survey):
    """A domain that is a whole stratum equals the design built on that stratum alone."""
    d = _design(survey, fpc="N_psu")
    t = d.proportion("secure", by="township", method="beta").set_index("township")
    for township in ("T2", "T5"):
        alone = _design(survey[survey["township"] == township], fpc="N_psu")
        row = alone.proportion("secure", method="beta").iloc[0]
        pd.testing.assert_series_equal(row, t.loc[township], check_names=False, rtol=1e-12)


def test_wald_proportion_equals_mean_interval(survey):
    d = _design(survey)
    for by in (None, "township", ["kind", "sex"]):
        pd.testing.assert_frame_equal(d.proportion("secure", by=by, method="wald"),
                                      d.mean("secure", by=by), rtol=1e-14)


def test_every_method_shares_estimate_se_df_n_deff(survey):
    d = _design(survey)
    cols = ["township", "estimate", "se", "df", "n", "deff"]
    base = d.proportion("secure", by="township", method="logit")[cols]
    for method in PROPORTION_METHODS:
        pd.testing.assert_frame_equal(d.proportion("secure", by="township",
                                                   method=method)[cols], base)


def test_boolean_variable_equals_0_1(survey):
    d = _design(survey.assign(flag=survey["rare"] == 1))
    a = d.proportion("flag", by="township")
    b = _design(survey.assign(flag=(survey["rare"] == 1).astype(int))).proportion(
        "flag", by="township")
    pd.testing.assert_frame_equal(a, b)


# -- rake() integration ------------------------------------------------------------------

def test_rake_returns_a_new_calibrated_design(survey):
    d = _design(survey)
    totals = survey.groupby("sex")["weight"].sum() * 1.1
    raked = d.rake({"sex": totals.to_dict()}, epsilon=1e-9, max_iter=50)
    assert raked is not d and raked.calibrated and not d.calibrated
    np.testing.assert_array_equal(d.weights, survey["weight"].to_numpy())
    by_sex = pd.Series(raked.weights).groupby(survey["sex"].to_numpy()).sum()
    np.testing.assert_allclose(by_sex[totals.index], totals, rtol=1e-9)
    # A uniform 10% rise changes no mean; the calibrated SE is not larger.
    plain, cal = d.mean("score"), raked.mean("score")
    assert cal["estimate"].iloc[0] == pytest.approx(plain["estimate"].iloc[0], rel=1e-12)
    assert cal["se"].iloc[0] <= plain["se"].iloc[0] * (1 + 1e-9)


def test_poststratified_share_has_zero_variance(survey):
    """After post-stratification on sex, the sex share equals the population share with
    SE 0 (R: svymean(~I(sex == "男"), postStratify(...)) has SE 0)."""
    df = survey.assign(male=(survey["sex"] == "男").astype(float))
    d = _design(df)
    raked = d.rake({"sex": {"男": 6000.0, "女": 4000.0}})
    t = raked.proportion("male", method="wald")
    assert t["estimate"].iloc[0] == pytest.approx(0.6, rel=1e-12)
    assert t["se"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert d.proportion("male", method="wald")["se"].iloc[0] > 0.01


def test_strata_as_domains_equal_any_other_column_as_domains(survey):
    """by=<the strata column> takes a shortcut (each PSU is one domain-PSU pair); a copy
    of the column goes the general way: same table."""
    d = _design(survey.assign(copy=survey["township"]), lonely_psu="adjust")
    for method in ("logit", "beta"):
        a = d.proportion("secure", by="township", method=method)
        b = d.proportion("secure", by="copy", method=method).rename(columns={"copy": "township"})
        pd.testing.assert_frame_equal(a, b, rtol=1e-13)


def test_psu_labels_are_nested_in_strata(survey):
    """nest=TRUE: PSU labels reused in different strata are different PSUs."""
    reused = survey.assign(village=survey["village"].str.split("-").str[1])  # "v1", ...
    assert reused.groupby("village")["township"].nunique().max() > 1
    for method in ("logit", "beta"):
        pd.testing.assert_frame_equal(
            _design(survey).proportion("secure", by="sex", method=method),
            _design(reused).proportion("secure", by="sex", method=method))
