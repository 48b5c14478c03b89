"""A township with respondents in one village does not stop the county (issue 13, item 2).

Before: ``prepare`` succeeded silently and every summary (hence the whole batch) failed
with "stratum ... has only one PSU". Now the plan's ``lonely_psu`` rule ("adjust")
applies, ``prepare`` warns naming the township, the county and the other townships are
estimated (the model included), and that township's month decides nothing.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pingan_eval import paths, period_summary
from pingan_eval.cli import main
from pingan_eval.plan import load_plan

PLAN = load_plan()
THIN = "萨尔托海乡"


@pytest.fixture(scope="module")
def thin(tmp_path_factory):
    """The sample with 2026-10 and 2026-11; in November THIN answered in one village."""
    raw = tmp_path_factory.mktemp("raw")
    shutil.copytree(paths.SAMPLE_RAW_DIR, raw, dirs_exist_ok=True)
    wave = raw / "survey" / "2026-11.csv"
    d = pd.read_csv(wave, dtype=str, keep_default_na=False)
    first = sorted(d.loc[d["township"] == THIN, "village"].unique())[0]
    d[~((d["township"] == THIN) & (d["village"] != first))].to_csv(wave, index=False)
    return raw, tmp_path_factory.mktemp("processed")


def test_prepare_warns_and_the_county_is_estimated(thin, capsys):
    raw, processed = thin
    assert main(["prepare", "--period", "2026-10", "--raw", str(raw), "--out",
                 str(processed)]) == 0
    assert main(["prepare", "--period", "2026-11", "--raw", str(raw), "--out",
                 str(processed)]) == 0
    err = capsys.readouterr().err
    assert f"warning: 2026-11: {THIN}: respondents in only 1 village" in err
    s = period_summary("2026-11", raw_dir=raw, processed_dir=processed, plan=PLAN)
    direct = s[(s["source"] == "survey") & (s["estimator"] == "direct")].set_index("area")
    # the thin township: an estimate, no interval, no verdict
    assert direct.loc[THIN, "df"].eq(0).all() and direct.loc[THIN, "verdict"].eq(
        "undecided").all()
    assert direct.loc[THIN, "flag"].eq("suppress").all()
    others = direct.drop(index=THIN)
    assert np.isfinite(others["ci_low"]).all()
    model = s[s["estimator"] == "model"]
    assert set(model["area"]) == set(PLAN.townships) - {THIN}
    # its pooled rows still stand on October's villages too
    pooled = s[(s["estimator"] == "pooled") & (s["area"] == THIN)]
    assert len(pooled) and np.isfinite(pooled["ci_low"]).all()
