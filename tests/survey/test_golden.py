"""Golden tests: SurveyDesign against R's survey package, value for value.

The reference CSVs were written by ``tests/golden/make_golden.R`` with R 4.2.2 and
survey 4.1.1 (the script header says how to rerun it); CI needs no R. Each case of
``golden_cases.csv`` names the design, the estimator and the exact R call that produced
``golden_<case>.csv`` (the call is also the docstring of that case's test). Every value
(estimate, se, ci_low, ci_high, df, n, deff) must agree to 1e-8 relative (plus 1e-12
absolute, for values that are 0 in exact arithmetic and carry a rounding residue in R).
Rows whose ``note`` is not empty are the documented deviations from R (Clopper-Pearson
at an estimate of exactly 0 or 1; exact constants where R has a rounding residue; the t
quantile where R's logit interval breaks down at df = 1); the note records R's values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval import SurveyDesign
from pingan_eval.survey.design import RESULT_COLUMNS

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = pd.read_csv(GOLDEN / "golden_cases.csv", keep_default_na=False)
# svyciprop's method "mean" is pingan_eval's "wald".
R_METHOD = {"mean": "wald"}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / f"design_{name}.csv", encoding="utf-8")


def _estimate(case: pd.Series) -> pd.DataFrame:
    def col(name: str) -> str | None:
        return case[name] or None

    design = SurveyDesign(_data(case["data"]), strata=col("strata"), psu=col("psu"),
                          weights=col("weights"), fpc=col("fpc"),
                          lonely_psu=case["lonely_psu"])
    by = case["by"].split(";") if case["by"] else None
    if case["estimator"] == "mean":
        return design.mean(case["variable"], by=by, level=float(case["level"]))
    method = R_METHOD.get(case["method"], case["method"])
    return design.proportion(case["variable"], by=by, method=method,
                             level=float(case["level"]))


def _check_case(case_id: str) -> None:
    """Every value of one golden case equals R's."""
    case = CASES.set_index("case").loc[case_id]
    expected = pd.read_csv(GOLDEN / f"golden_{case_id}.csv", keep_default_na=False,
                           na_values=["NaN", "NA"])
    got = _estimate(case)
    by = case["by"].split(";") if case["by"] else []
    assert list(got.columns) == by + list(RESULT_COLUMNS)
    # Same domains, in the same (sorted) order.
    assert len(got) == len(expected)
    for col in by:
        assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col
    for col in RESULT_COLUMNS:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float),
                                   expected[col].to_numpy(dtype=float),
                                   rtol=1e-8, atol=1e-12, equal_nan=True,
                                   err_msg=f"{case_id}: column {col}\n{case['r_call']}")


def _golden_test(case_id: str, r_call: str):
    def test() -> None:
        _check_case(case_id)

    test.__name__ = f"test_golden_{case_id}"
    test.__doc__ = f"pingan_eval == R, every value of golden_{case_id}.csv. R: {r_call}"
    return test


# One test per case, named after it, whose docstring is the exact R call.
for _case_id, _r_call in zip(CASES["case"], CASES["r_call"], strict=True):
    globals()[f"test_golden_{_case_id}"] = _golden_test(_case_id, _r_call)


def test_cases_cover_the_contract() -> None:
    """The golden set covers every design feature the issue lists."""
    names = set(CASES["case"])
    assert {"fail", "adjust", "remove", "certainty"} <= set(CASES["lonely_psu"])
    assert {"logit", "beta", "mean", "wilson", "clopper-pearson", "jeffreys"} <= set(
        CASES["method"])
    assert (CASES["fpc"] != "").any() and (CASES["psu"] == "").any()
    assert (CASES["strata"] == "").any() and (CASES["weights"] == "").any()
    frames = [pd.read_csv(GOLDEN / f"golden_{c}.csv", keep_default_na=False,
                          na_values=["NaN", "NA"]) for c in sorted(names)]
    results = pd.concat(frames, ignore_index=True)
    assert (results["df"] == 0).any()                      # df = 0: NaN bounds
    assert ((results["estimate"] == 1) & (results["df"] > 0)).any()   # all-ones domain
    assert ((results["estimate"] == 0) & (results["df"] > 0)).any()   # all-zeros domain
    assert results["estimate"].between(0.001, 0.1).any()   # near 0
    assert results["estimate"].between(0.97, 0.9999).any()  # near 1
