"""The task ledger on hand-made ledgers whose answer is obvious, and on the sample."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from pingan_eval.errors import DataError, PlanError
from pingan_eval.paths import SAMPLE_RAW_DIR
from pingan_eval.plan import load_plan
from pingan_eval.registers.ledger import (
    STATUS_COLUMNS,
    UNMATCHED_COLUMNS,
    ledger_unmatched,
    read_ledger,
    task_status,
)

PLAN_TEXT = """
[plan]
county = "甲县"
year = 2026
townships = ["东镇", "西乡"]
departments = ["县甲局", "县乙局", "县丙局"]

[[tasks]]
code = "plan_doc"
name_zh = "制定方案"
measure = "done"
level = "department"
due = "04-30"
lead_department = "县甲局、县乙局"
co_departments = ["县丙局"]
plan_ref = "1"

[[tasks]]
code = "messages"
name_zh = "短信"
measure = "done"
level = "county"
months = [3, 5, 7, 9]
lead_department = "县甲局"
plan_ref = "2"

[[tasks]]
code = "broadcast"
name_zh = "每月播放"
measure = "done"
level = "county"
recurrence = "monthly"
window_start = "03-01"
window_end = "06-30"
lead_department = "县乙局"
plan_ref = "3"

[[tasks]]
code = "teams"
name_zh = "组建宣传队"
measure = "done"
level = "township"
due = "06-30"
lead_department = "各乡(镇)"
plan_ref = "4"

[[tasks]]
code = "boards"
name_zh = "宣传牌"
measure = "done"
level = "county"
threshold = 2
due = "05-31"
lead_department = "县丙局"
plan_ref = "5"

[[tasks]]
code = "signs"
name_zh = "宣传牌(记录)"
table = "signboards"
measure = "count"
column = "large_boards"
threshold = 1
window_end = "12-31"
lead_department = "各乡(镇)"
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(PLAN_TEXT, encoding="utf-8")
    return load_plan(path)


def ledger(*rows: dict, start: int = 2) -> pd.DataFrame:
    """A ledger as read from a file: every cell text, rows numbered as a spreadsheet."""
    cols = ["task", "department", "township", "village", "month", "date", "quantity",
            "evidence", "note"]
    out = pd.DataFrame([{c: str(r.get(c, "")) for c in cols} for r in rows], columns=cols,
                       index=range(start, start + len(rows)))
    out.attrs["source"] = "tasks/ledger.csv"
    return out


def status(plan, as_of, *rows, **select) -> pd.DataFrame:
    out = task_status(ledger(*rows), plan, as_of=as_of)
    for col, value in select.items():
        out = out[out[col] == value]
    return out.reset_index(drop=True)


def test_done_on_the_due_day_is_on_time_and_a_day_late_is_late(plan):
    out = status(plan, "2026-06-30",
                 {"task": "plan_doc", "department": "县甲局", "date": "2026-04-30",
                  "evidence": "甲发〔2026〕1号"},
                 {"task": "plan_doc", "department": "县乙局", "date": "2026-05-01",
                  "evidence": "乙发〔2026〕2号"}, code="plan_doc")
    assert tuple(out.columns) == STATUS_COLUMNS
    got = out.set_index("department")
    assert got.loc["县甲局", "status"] == "on_time"
    assert got.loc["县乙局", "status"] == "late"
    assert got.loc["县乙局", "done_date"] == pd.Timestamp("2026-05-01")
    assert got.loc["县甲局", "evidence"] == "甲发〔2026〕1号"
    assert got.loc["县甲局", "rows"] == "2" and got.loc["县乙局", "rows"] == "3"


def test_a_monthly_task_missing_one_month_is_overdue_that_month(plan):
    rows = [{"task": "broadcast", "department": "县乙局", "date": f"2026-{m:02d}-15",
             "evidence": f"记录{m}"} for m in (3, 4, 6)]
    out = status(plan, "2026-07-31", *rows, code="broadcast")
    assert out["month"].tolist() == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert out["status"].tolist() == ["on_time", "on_time", "overdue", "on_time"]
    assert out["due"].tolist() == [pd.Timestamp(d) for d in
                                   ("2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30")]
    # a month's work entered late says which month it was for
    late = {"task": "broadcast", "department": "县乙局", "month": "2026-05",
            "date": "2026-06-02", "evidence": "补播记录"}
    out = status(plan, "2026-07-31", *rows, late, code="broadcast")
    assert out["status"].tolist() == ["on_time", "on_time", "late", "on_time"]


def test_months_not_yet_begun_have_no_row_and_the_current_one_is_not_due(plan):
    out = status(plan, "2026-04-15", code="broadcast")
    assert out["month"].tolist() == ["2026-03", "2026-04"]
    assert out["status"].tolist() == ["overdue", "not_due"]


def test_a_recurring_task_in_a_month_that_is_not_due(plan):
    april = {"task": "messages", "department": "县甲局", "date": "2026-04-10",
             "evidence": "四月短信"}
    march = {"task": "messages", "department": "县甲局", "date": "2026-03-10",
             "evidence": "三月短信"}
    out = status(plan, "2026-05-31", march, april, code="messages")
    # no April row (not a due month); April's work does not count for May
    assert out["month"].tolist() == ["2026-03", "2026-05"]
    assert out["status"].tolist() == ["on_time", "not_due"]
    extra = ledger_unmatched(ledger(march, april), plan, as_of="2026-05-31")
    assert tuple(extra.columns) == UNMATCHED_COLUMNS
    assert extra["row"].tolist() == ["3"]
    assert "2026-04 is not a due month of messages" in extra["reason"].iloc[0]


def test_a_task_with_no_row_at_all(plan):
    before = status(plan, "2026-04-29", code="plan_doc")
    after = status(plan, "2026-05-01", code="plan_doc")
    assert before["department"].tolist() == ["县甲局", "县乙局"]
    assert before["status"].tolist() == ["not_due", "not_due"]
    assert after["status"].tolist() == ["overdue", "overdue"]
    assert (after["achieved"] == 0).all() and after["done_date"].isna().all()


def test_every_task_and_unit_has_a_row_without_a_ledger(plan):
    out = task_status(None, plan, as_of="2026-12-31")
    assert set(out["code"]) == {"plan_doc", "messages", "broadcast", "teams", "boards"}
    teams = out[out["code"] == "teams"]
    assert teams["department"].tolist() == ["东镇", "西乡"]
    assert teams["township"].tolist() == ["东镇", "西乡"]
    assert (out["status"] == "overdue").all()
    assert (out["note"] == "no ledger tasks/ledger.csv").all()


def test_work_after_the_evaluation_date_does_not_count_yet(plan):
    row = {"task": "plan_doc", "department": "县甲局", "date": "2026-04-20", "evidence": "x"}
    out = status(plan, "2026-04-10", row, department="县甲局", code="plan_doc")
    assert out["status"].tolist() == ["not_due"]
    extra = ledger_unmatched(ledger(row), plan, as_of="2026-04-10")
    assert extra["reason"].tolist() == ["dated after 2026-04-10"]


def test_a_quantity_adds_up_to_the_required_count(plan):
    rows = [{"task": "boards", "department": "县丙局", "date": "2026-05-10", "quantity": "1",
             "evidence": "照片1"},
            {"task": "boards", "department": "县丙局", "date": "2026-06-03", "quantity": "1",
             "evidence": "照片2"}]
    out = status(plan, "2026-06-30", *rows, code="boards")
    assert out[["status", "achieved", "required"]].values.tolist() == [["late", 2.0, 2.0]]
    assert out["done_date"].tolist() == [pd.Timestamp("2026-06-03")]
    half = status(plan, "2026-06-30", rows[0], code="boards")
    assert half["status"].tolist() == ["overdue"] and "1 of 2 done" in half["note"].iloc[0]


def test_blank_evidence_is_done_but_noted(plan):
    out = status(plan, "2026-06-30",
                 {"task": "plan_doc", "department": "县甲局", "date": "2026-04-01"},
                 code="plan_doc", department="县甲局")
    assert out["status"].tolist() == ["on_time"]
    assert out["note"].tolist() == ["evidence blank (row 2)"]


def test_township_tasks_per_township(plan):
    out = status(plan, "2026-07-01",
                 {"task": "teams", "department": "东镇", "township": "东镇",
                  "date": "2026-06-01", "evidence": "名单"}, code="teams")
    assert out[["township", "status"]].values.tolist() == [["东镇", "on_time"],
                                                            ["西乡", "overdue"]]
    with pytest.raises(DataError, match=r"row 2, column township: .*kept per township"):
        read_ledger(ledger({"task": "teams", "department": "东镇", "date": "2026-06-01"}),
                    plan)


def test_a_co_operating_departments_row_is_shown_not_counted(plan):
    row = {"task": "plan_doc", "department": "县丙局", "date": "2026-04-01", "evidence": "x"}
    out = status(plan, "2026-05-01", row, code="plan_doc")
    assert set(out["status"]) == {"overdue"}
    assert "co-operating" in ledger_unmatched(ledger(row), plan, "2026-05-01")["reason"].iloc[0]


@pytest.mark.parametrize(("row", "message"), [
    ({"task": "nonesuch", "department": "县甲局", "date": "2026-04-01"},
     r"tasks/ledger.csv: row 2, column task: 'nonesuch' is not a done task of the plan"),
    ({"task": "signs", "department": "东镇", "date": "2026-04-01"},
     r"row 2, column task: 'signs' is measured from tasks/signboards.csv, not the ledger"),
    ({"task": "plan_doc", "department": "县丁局", "date": "2026-04-01"},
     r"row 2, column department: '县丁局' is not a department or township of the plan"),
    ({"task": "plan_doc", "department": "县甲局", "date": "2025-12-30"},
     r"row 2, column date: 2025-12-30 is outside the plan year 2026"),
    ({"task": "plan_doc", "department": "县甲局", "date": "2026-4-31x"},
     r"row 2, column date: .* is not a date"),
    ({"task": "plan_doc", "department": "县甲局", "date": ""},
     r"row 2, column date: the date is blank"),
    ({"task": "boards", "department": "县丙局", "date": "2026-04-01", "quantity": "三"},
     r"row 2, column quantity: '三' is not a whole number"),
    ({"task": "plan_doc", "department": "县甲局", "date": "2026-04-01", "month": "2026-04"},
     r"row 2, column month: task 'plan_doc' has one due date"),
    ({"task": "messages", "department": "县甲局", "date": "2026-04-01", "month": "2025-13"},
     r"row 2, column month: '2025-13' is not a month"),
    ({"task": "plan_doc", "department": "县甲局", "date": "2026-04-01", "township": "北镇"},
     r"row 2, column township: '北镇' is not a township of the plan"),
])
def test_bad_rows_are_errors_naming_file_row_and_column(plan, row, message):
    with pytest.raises(DataError, match=message):
        read_ledger(ledger(row), plan)


def test_rows_that_repeat_or_contradict_each_other(plan):
    a = {"task": "plan_doc", "department": "县甲局", "date": "2026-04-01", "evidence": "甲1号"}
    with pytest.raises(DataError, match=r"row 3, column task: repeats row 2"):
        read_ledger(ledger(a, a), plan)
    b = dict(a, date="2026-04-09")
    with pytest.raises(DataError, match=r"row 3, column date: contradicts row 2: the same "
                                        r"evidence '甲1号'"):
        read_ledger(ledger(a, b), plan)
    # another piece of work, with its own evidence, is fine
    assert len(read_ledger(ledger(a, dict(b, evidence="甲2号")), plan)) == 2


def test_missing_columns(plan):
    with pytest.raises(DataError, match=r"missing required column\(s\) date"):
        read_ledger(ledger({"task": "plan_doc", "department": "县甲局"}).drop(columns="date"),
                    plan)


def test_the_ledger_file_as_a_spreadsheet_shows_it(plan, tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "ledger.csv").write_text(textwrap.dedent("""\
        task,department,date,evidence
        plan_doc,县甲局,2026-04-01,甲1号
        plan_doc,县乙局,2026/5/3,乙1号
        messages,县乙局,2026-03-01,
        """), encoding="utf-8")
    extra = ledger_unmatched(tmp_path, plan, as_of="2026-06-30")
    assert extra[["row", "reason"]].values.tolist() == [
        ["4", "县乙局 is not accountable for messages"]]
    out = task_status(tmp_path, plan, as_of="2026-06-30")
    got = out[out["code"] == "plan_doc"].set_index("department")
    assert got["status"].to_dict() == {"县甲局": "on_time", "县乙局": "late"}
    assert got.loc["县乙局", "rows"] == "3"


def test_plan_keys_of_done_tasks_are_checked(tmp_path):
    bad = PLAN_TEXT.replace('lead_department = "县丙局"', 'lead_department = "县丁局"')
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(PlanError, match=r"bad.toml: \[\[tasks\]\] entry 5 \('boards'\): "
                                        r"lead_department names '县丁局'"):
        load_plan(path)
    path.write_text(PLAN_TEXT.replace('due = "05-31"\n', ""), encoding="utf-8")
    with pytest.raises(PlanError, match=r"entry 5 \('boards'\): missing required key 'due'"):
        load_plan(path)
    path.write_text(PLAN_TEXT.replace('co_departments = ["县丙局"]',
                                      'co_departments = ["县戊局"]'), encoding="utf-8")
    with pytest.raises(PlanError, match=r"co_departments names \['县戊局'\]"):
        load_plan(path)


def test_the_sample_ledger_shows_each_case():
    plan = load_plan()
    out = task_status(SAMPLE_RAW_DIR, plan, as_of="2026-11-30")
    assert set(out["status"]) == {"on_time", "late", "overdue", "not_due"}
    blank = out[out["note"].str.contains("evidence blank", regex=False)]
    assert len(blank) == 2
    assert {"县发改委", "县工商联"} <= set(out.loc[out["status"] == "overdue", "department"])
    # every done task of the plan has its accountable departments
    done = [t for t in plan.tasks if t.measure == "done"]
    assert {t.code for t in done} <= set(out["code"])
    assert len(ledger_unmatched(SAMPLE_RAW_DIR, plan, as_of="2026-11-30")) >= 1
