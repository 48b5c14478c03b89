"""The borrowing estimators assembled for the summary: pooled windows and the model."""

from __future__ import annotations

import numpy as np

from pingan_eval.plan import load_plan
from pingan_eval.summary import borrowing

PLAN = load_plan()


def test_model_month_does_not_change_when_a_later_wave_arrives(sample_processed):
    """Month 2026-10's model figure is the same fitted with or without 2026-11."""
    both = borrowing.month_panel(["2026-10", "2026-11"], sample_processed, PLAN)
    early = borrowing.month_panel(["2026-10"], sample_processed, PLAN)
    later = borrowing.model_rows(both, PLAN, ["2026-10", "2026-11"])
    alone = borrowing.model_rows(early, PLAN, ["2026-10"])
    oct_later = later[later["period"] == "2026-10"].reset_index(drop=True)
    assert len(oct_later) == len(PLAN.townships) * len(PLAN.survey)
    np.testing.assert_allclose(oct_later["estimate"], alone["estimate"], rtol=1e-10)
    np.testing.assert_allclose(oct_later["ci_low"], alone["ci_low"], rtol=1e-10)
    nov = later[later["period"] == "2026-11"]
    assert ((nov["ci_low"] <= nov["estimate"]) & (nov["estimate"] <= nov["ci_high"])).all()
    assert ((nov["ci_low"] >= 0) & (nov["ci_high"] <= 1)).all()


def test_pooled_rows_cover_the_county_and_every_township(sample_processed):
    panel = borrowing.month_panel(["2026-10", "2026-11"], sample_processed, PLAN)
    rows = borrowing.pooled_rows(panel, PLAN, "2026-11", windows=("quarter",))
    assert set(rows["window_start"]) == {"2026-10"}
    assert set(rows["area"]) == {PLAN.county, *PLAN.townships}
    assert len(rows) == (1 + len(PLAN.townships)) * len(PLAN.survey)
    # two months of one panel: more respondents than either month alone
    direct = panel.direct[panel.direct["period"] == "2026-11"]
    towns = rows[rows["area_level"] == "township"].set_index(["area", "indicator"])["n"]
    month = direct.set_index(["township", "indicator"])["n"]
    assert (towns.to_numpy() > month.reindex(towns.index).to_numpy()).all()
