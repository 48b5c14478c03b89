"""A township with no respondent this month does not stop the county.

Before: ``prepare`` failed for the whole county with a raking message ("census
population ... but no kept respondent; the margin cannot be met") that did not say the
township had no data. Now its census margins are left out of the raking, ``prepare``
warns naming the township, the county and the other townships are estimated as usual
(the county over the townships with respondents), the township's direct rows are there
and suppressed (``no_estimate``), its pooled rows stand on the earlier months, the model
skips it and its report says why.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from pingan_eval import paths, period_summary
from pingan_eval.cli import main
from pingan_eval.data.prepare import load_design, load_respondents
from pingan_eval.plan import load_plan
from pingan_eval.report.inputs import read_breakdowns
from pingan_eval.report.methods import methods_table
from pingan_eval.report.text import breakdown_note, headline_paragraph
from pingan_eval.survey.breakdowns import BREAKDOWN_COLUMNS, all_breakdowns

PLAN = load_plan()
EMPTY = "阿热勒乡"


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    """The sample with 2026-10 and 2026-11; in November EMPTY has no respondent at all."""
    raw = tmp_path_factory.mktemp("raw")
    shutil.copytree(paths.SAMPLE_RAW_DIR, raw, dirs_exist_ok=True)
    wave = raw / "survey" / "2026-11.csv"
    d = pd.read_csv(wave, dtype=str, keep_default_na=False)
    d[d["township"] != EMPTY].to_csv(wave, index=False)
    return raw, tmp_path_factory.mktemp("processed")


@pytest.fixture(scope="module")
def prepared(empty):
    raw, processed = empty
    codes = [main(["prepare", "--period", p, "--raw", str(raw), "--out", str(processed)])
             for p in ("2026-10", "2026-11")]
    return raw, processed, codes


@pytest.fixture(scope="module")
def summary(prepared):
    raw, processed, _ = prepared
    return period_summary("2026-11", raw_dir=raw, processed_dir=processed, plan=PLAN)


def test_prepare_warns_and_leaves_out_the_margins(empty, capsys):
    raw, processed = empty
    assert main(["prepare", "--period", "2026-11", "--raw", str(raw), "--out",
                 str(processed)]) == 0
    err = capsys.readouterr().err
    assert f"warning: 2026-11: {EMPTY}: no respondents this month" in err
    notes = json.loads((processed / "2026-11" / "validation.json").read_text(
        encoding="utf-8"))["notes"]
    assert any(n.startswith(f"{EMPTY}: no respondents this month") for n in notes)
    assert EMPTY in (processed / "2026-11" / "validation.md").read_text(encoding="utf-8")
    margins = pd.read_csv(processed / "2026-11" / "margins.csv", dtype=str)
    assert EMPTY not in set(margins["township"])
    assert set(margins["township"]) == set(PLAN.townships) - {EMPTY}
    load_design("2026-11", processed)  # re-rakes to the stored margins


def test_other_townships_keep_their_weights(prepared, sample_processed):
    """Raking is within township: the others' weights are those of the full wave, so the
    county direct estimate is the whole-design estimate over the townships with data."""
    _, processed, codes = prepared
    assert codes == [0, 0]
    full = load_respondents("2026-11", sample_processed)
    full = full[full["township"] != EMPTY].set_index("respondent_id")
    got = load_respondents("2026-11", processed).set_index("respondent_id")
    assert got.index.equals(full.index)
    np.testing.assert_allclose(got["weight"], full["weight"], rtol=1e-9)


def test_county_and_other_townships_are_estimated(prepared, summary):
    _, processed, _ = prepared
    survey = summary[summary["source"] == "survey"]
    direct = survey[survey["estimator"] == "direct"].set_index("area")
    # every plan township has its direct rows, one per indicator
    assert set(direct.index) == {PLAN.county, *PLAN.townships}
    assert (direct.groupby(level=0).size() == len(PLAN.survey)).all()
    gone = direct.loc[EMPTY]
    assert gone["estimate"].isna().all() and gone["n"].eq(0).all()
    assert gone["flag"].eq("suppress").all() and gone["flag_reason"].eq("no_estimate").all()
    assert gone["verdict"].eq("undecided").all()
    others = direct.drop(index=EMPTY)
    assert np.isfinite(others["estimate"]).all() and np.isfinite(others["ci_low"]).all()
    # the county row is the weighted share over the townships with respondents
    resp = load_respondents("2026-11", processed)
    county = direct.loc[PLAN.county].set_index("indicator")
    for target in PLAN.survey:
        r = resp[resp[target.code].notna()]
        share = np.average(r[target.code] == 1, weights=r["weight"])
        assert county.loc[target.code, "estimate"] == pytest.approx(share, rel=1e-9)
    # the model skips it; its pooled rows stand on October only
    model = summary[summary["estimator"] == "model"]
    assert set(model["area"]) == set(PLAN.townships) - {EMPTY}
    pooled = survey[(survey["estimator"] == "pooled") & (survey["area"] == EMPTY)]
    assert len(pooled) and np.isfinite(pooled["ci_low"]).all()
    october = load_respondents("2026-10", processed)
    assert pooled["n"].max() <= (october["township"] == EMPTY).sum()


def test_reports_say_why(prepared, summary, tmp_path):
    raw, processed, _ = prepared
    cached = tmp_path / "breakdowns.csv"
    all_breakdowns(load_design("2026-11", processed), plan=PLAN).to_csv(cached, index=False)
    groups = read_breakdowns(cached, EMPTY)  # no rows, no error: the batch writes its report
    assert groups.empty and list(groups.columns) == BREAKDOWN_COLUMNS
    assert len(read_breakdowns(cached, "青河镇"))
    text = headline_paragraph(summary, EMPTY, plan=PLAN)
    assert f"本月{EMPTY}无有效回答" in text
    assert "无有效回答" in breakdown_note(pd.DataFrame(columns=["breakdown", "flag",
                                                                 "flag_reason"]), "sex")
    for area in (PLAN.county, EMPTY):
        facts = methods_table(summary, area, raw_dir=raw, processed_dir=processed, plan=PLAN)
        line = facts.loc[facts["项目"] == "本月没有受访者的乡镇", "内容"]
        assert len(line) == 1 and line.iloc[0].startswith(EMPTY)
    other = methods_table(summary, "青河镇", raw_dir=raw, processed_dir=processed, plan=PLAN)
    assert "本月没有受访者的乡镇" not in set(other["项目"])
