"""The shipped plan against its source text: every publicity task of 四.(一).2, its lead."""

from __future__ import annotations

import re

import pytest

from pingan_eval.paths import PLANS_DIR
from pingan_eval.plan import load_plan

PLAN = load_plan()
TEXT = (PLANS_DIR / "qinghe-plan-2013.zh.txt").read_text(encoding="utf-8")

# The lead department(s) each item (1)-(20) of 四.(一).2 names, as the plan data writes
# them (县 prefixed; 各乡(镇): every township; 各部门(单位): every department).
LEADS = {
    1: {"各乡(镇)"}, 2: {"各乡(镇)", "县委宣传部", "青河镇"}, 3: {"县委宣传部", "各部门(单位)"},
    4: {"县建设局"}, 5: {"县文体局", "各乡(镇)"}, 6: {"县教育局"}, 7: {"县广电局"},
    8: {"县委组织部"}, 9: {"县交通局"}, 10: {"县妇联"}, 11: {"县经贸委"},
    12: {"县委统战部", "县民宗局"}, 13: {"县卫生局"}, 14: {"县工商局"},
    15: {"县公安局", "县检察院", "县法院", "县司法局"}, 16: {"县综治办"}, 17: {"县委宣传部"},
    18: {"各部门(单位)"}, 19: {"县发改委"}, 20: {"县委组织部", "县民政局"},
}


def _items() -> dict[int, str]:
    """The text of items (1)-(20) of 四.(一).2 (宣传任务 to 四.(二))."""
    start = TEXT.index("2、宣传任务")
    end = TEXT.index("(二)坚持动态管理")
    part = TEXT[start:end]
    marks = [(int(m[1]), m.start()) for m in re.finditer(r"\((\d{1,2})\D", part)]
    marks = [(n, pos) for n, pos in marks if 1 <= n <= 20]
    # the numbers in order, each once ("(20组织部" lacks its closing bracket)
    assert [n for n, _ in marks] == list(range(1, 21))
    ends = [pos for _, pos in marks[1:]] + [len(part)]
    return {n: part[pos:e] for (n, pos), e in zip(marks, ends, strict=True)}


ITEMS = _items()


def _leads(code_ref: str) -> set[str]:
    return {p.strip() for t in PLAN.entries if t.plan_ref == code_ref
            for p in t.lead_department.split("、") if p.strip()}


def _in_text(name: str, text: str) -> bool:
    if name == "各乡(镇)":
        return "乡(镇)" in text
    if name == "各部门(单位)":
        return "各部门" in text or "各单位" in text
    short = re.sub(r"^县委|^县", "", name)
    return short in text or name in text


@pytest.mark.parametrize("n", range(1, 21))
def test_every_item_has_a_task_with_the_lead_department_the_text_names(n):
    ref = f"四.(一).2.({n})"
    tasks = [t for t in PLAN.tasks if t.plan_ref == ref]
    assert tasks, f"no [[tasks]] entry for {ref}"
    assert LEADS[n] <= _leads(ref), (ref, _leads(ref))
    for name in LEADS[n]:
        assert _in_text(name, ITEMS[n]), (ref, name)
    for t in tasks:
        assert t.accountable, t.code
        assert t.name_zh and t.lead_department
        assert t.measure in ("rate", "count", "done")
        assert t.recurrence or t.months or t.window_end.year == PLAN.year


def test_dates_and_recurrences_follow_the_text():
    t = PLAN.target
    assert t("cadre_test").window_end.strftime("%m-%d") == "04-30"  # 4月底前
    assert t("unit_study").window_start.month == 4 and t("unit_study").window_end.day == 30
    assert t("messages").months == (3, 5, 7, 9)  # 3、5、7、9月
    assert t("performances").months == tuple(range(3, 13))  # 每月
    assert t("tv_slogans").recurrence == "monthly"  # 每晚
    assert t("vehicle_slogans").recurrence == "kept"  # 长期保持
    assert t("migrant_meeting").measure == "done"  # 召开一次
    assert t("documentary").measure == "done"  # 制作一部专题片
    assert set(t("two_new_orgs").co_departments) == {"县民政局", "县工商联", "县工商局"}
    assert t("unit_plans").accountable == PLAN.departments  # 各单位(部门)
    assert set(t("grand_visits").accountable) == {"县公安局", "县检察院", "县法院", "县司法局"}


def test_safe_cell_programmes_name_their_lead_departments():
    # 四.(二): each programme's lead department is in the plan, among its departments
    for c in PLAN.cells:
        for part in c.lead_department.split("、"):
            name = part if part.startswith(("县", "各", "青河")) else "县" + part
            assert name in PLAN.departments or name in ("各乡(镇)", "青河镇"), name
