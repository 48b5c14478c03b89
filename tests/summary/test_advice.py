"""Sample-size advice assembled for the county overview from the prepared months."""

from __future__ import annotations

from pingan_eval import paths, report
from pingan_eval.plan import load_plan
from pingan_eval.summary.advice import sample_advice
from pingan_eval.survey.sample_size import sample_size_advice, variance_components

PLAN = load_plan()


def test_advice_is_the_components_of_the_prepared_months(sample_processed):
    from pingan_eval.data.prepare import load_respondents

    advice = sample_advice("2026-11", raw_dir=paths.SAMPLE_RAW_DIR,
                           processed_dir=sample_processed, plan=PLAN)
    assert advice.months == ["2026-10", "2026-11"]  # the fixture's months of the year
    frames = {m: load_respondents(m, sample_processed) for m in advice.months}
    want = variance_components(frames, "security")
    got = advice.components[advice.components["variable"] == "security"].reset_index(drop=True)
    assert got.equals(want)
    rows = sample_size_advice(want, target=0.95, villages=range(5, 16), between="logit")
    assert advice.advice[advice.advice["variable"] == "security"].reset_index(
        drop=True).equals(rows)
    assert 5 <= advice.villages_per_township <= 6 and 30 <= advice.households_per_village <= 50

    table = report.advice_table(advice, plan=PLAN)
    assert list(table.columns[:2]) == ["指标", "假定真实值"]
    assert len(table) == 2 * len(PLAN.survey)
    cells = table.iloc[:, 2:].to_numpy().ravel()
    assert all(c == "不可行" or (c.endswith("户") and c[:-1].isdigit()) for c in cells)
    text = report.advice_paragraph(advice)
    assert "93%或97%" in text and f"{advice.households_per_village:.0f}户" in text


def test_one_month_of_the_year_gives_no_advice_and_says_why(tmp_path):
    from pingan_eval.summary import ensure_prepared

    ensure_prepared(paths.SAMPLE_RAW_DIR, tmp_path, periods=["2026-11"])
    advice = sample_advice("2026-11", raw_dir=paths.SAMPLE_RAW_DIR, processed_dir=tmp_path,
                           plan=PLAN)
    assert advice.months == ["2026-11"] and advice.advice.empty
    assert "不足两个月" in report.advice_paragraph(advice)
