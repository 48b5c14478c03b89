"""The report's breakdowns: villages by the model, every other row the direct estimate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pingan_eval import official_rows
from pingan_eval.data.prepare import load_design
from pingan_eval.plan import load_plan
from pingan_eval.summary.villages import report_breakdowns
from pingan_eval.survey.breakdowns import all_breakdowns
from pingan_eval.survey.village_model import village_estimates

PLAN = load_plan()
PERIOD = "2026-11"


def test_village_rows_are_the_model_with_the_official_township_covariate(
        sample_summary, sample_processed):
    design = load_design(PERIOD, sample_processed)
    out = report_breakdowns(design, sample_summary, PLAN)
    direct = all_breakdowns(design, plan=PLAN)
    assert list(out.columns) == list(direct.columns) and len(out) == len(direct)
    village = out["breakdown"] == "village"
    # every other breakdown is untouched
    pd.testing.assert_frame_equal(out[~village], direct[~village], check_dtype=False)
    assert (direct.loc[village, "flag"] == "suppress").all()  # why the model is needed
    assert (out.loc[village, "flag_reason"] == "model").all()
    towns = official_rows(sample_summary[sample_summary["area_level"] == "township"], PLAN)
    towns = towns[towns["source"] == "survey"].rename(columns={"area": "township"})
    assert set(towns["estimator"]) == {"pooled"}
    want = village_estimates(design, [t.code for t in PLAN.survey],
                             towns[["township", "indicator", "estimate"]])
    got = out[village].merge(want, left_on=["area", "level", "indicator"],
                             right_on=["township", "village", "indicator"])
    assert len(got) == village.sum()
    np.testing.assert_allclose(got["estimate_x"], got["estimate_y"], rtol=1e-12)
    np.testing.assert_allclose(got["ci_low_x"], got["ci_low_y"], rtol=1e-12)
