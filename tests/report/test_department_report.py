"""The department overview's tables, text and chart; the links to it."""

from __future__ import annotations

import pandas as pd
import pytest

from pingan_eval import report
from pingan_eval.paths import SAMPLE_RAW_DIR
from pingan_eval.plan import load_plan
from pingan_eval.registers.ledger import ledger_unmatched, task_status
from pingan_eval.report import charts
from pingan_eval.report.index_page import ReportEntry, render_index
from pingan_eval.summary.departments import department_scores

PLAN = load_plan()


@pytest.fixture(scope="module")
def sample_status():
    return task_status(SAMPLE_RAW_DIR, PLAN, as_of="2026-11-30")


def test_tables_in_chinese(sample_status):
    scores = department_scores(sample_status, PLAN)
    table = report.department_table(scores)
    assert list(table.columns) == ["部门", "任务数", "应完成", "按时完成", "逾期完成",
                                   "逾期未完成", "未到期", "按时完成率"]
    assert table["部门"].tolist() == [d for d in PLAN.departments if d in set(table["部门"])]
    detail = report.department_status_table(sample_status, "县卫生局")
    assert list(detail.columns) == ["部门", "任务", "方案条目", "乡镇/月份", "期限", "状态",
                                    "完成日期", "佐证", "说明"]
    assert set(detail["部门"]) == {"县卫生局"}
    assert "逾期完成" in set(detail["状态"])
    behind = report.overdue_table(sample_status)
    assert set(behind["状态"]) == {"逾期未完成", "逾期完成"}
    assert behind["状态"].iloc[0] == "逾期未完成"
    gaps = report.evidence_gaps_table(sample_status)
    assert len(gaps) == 2 and gaps["台账行号"].str.fullmatch(r"\d+").all()
    extra = report.unmatched_table(ledger_unmatched(SAMPLE_RAW_DIR, PLAN, "2026-11-30"), PLAN)
    assert "配合单位，由牵头部门负责" in set(extra["未计入原因"])
    text = report.department_paragraph(scores, sample_status, "2026-11")
    assert text.startswith("截至2026年11月末，") and "逾期未完成：" in text
    assert "另有2项已完成的任务台账未填写佐证材料" in text


def test_chart_sorts_departments_by_on_time_share(sample_status):
    scores = department_scores(sample_status, PLAN)
    fig = charts.department_chart(scores, period="2026-11")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(scores["department"])
    share = scores.set_index("department")["on_time_share"].fillna(-1)
    assert share[labels].is_monotonic_decreasing
    assert charts.png_bytes(fig) == charts.png_bytes(
        charts.department_chart(scores, period="2026-11"))
    with pytest.raises(ValueError, match="no department"):
        charts.department_chart(scores.iloc[:0])


def test_links_from_the_county_overview_and_the_index():
    assert "](departments.html)" in report.department_link("2026-11")
    table = pd.DataFrame({
        "area": ["青河县", "县交通局", "县发改委"], "area_level": ["county", "department",
                                                          "department"],
        "indicator": ["awareness", "vehicle_slogans", "unit_plans"],
        "name_zh": ["知晓率", "出租车标语", "宣传方案"], "source": ["survey", "task", "task"],
        "estimate": [0.96, 0.8, 0.0], "ci_low": [0.94, None, None],
        "ci_high": [0.98, None, None], "target": [0.95, 1.0, 1.0],
        "verdict": ["met", "not_met", "not_met"], "flag": ["ok", "ok", "ok"]})
    page = render_index(title="青河县", period="2026-11", table=table, reports=[
        ReportEntry("青河县", "county", "ok", "county.html"),
        ReportEntry("县直部门", "department", "ok", "departments.html")])
    assert 'href="departments.html"' in page and "部门" in page
    # the department rows are tallied on its line (未达标 2), not put in the matrix
    assert "未达标 2" in page
    assert "出租车标语" not in page
