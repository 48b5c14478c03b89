"""The department overview's tables and text: who did what, on time or late, what is overdue.

Formats :func:`pingan_eval.registers.ledger.task_status` (and the scores of
:func:`pingan_eval.summary.departments.department_scores`) in Chinese; computes nothing.
:func:`department_link` is the sentence the county overview links the page with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pingan_eval.plan import Plan
from pingan_eval.report.formatting import md_escape, period_zh

if TYPE_CHECKING:
    from pingan_eval.report.inputs import ReportInputs

__all__ = ["DEPARTMENTS_PAGE", "STATUS_ZH", "DepartmentData", "cell_programmes_table",
           "department_data", "department_heading", "department_link",
           "department_paragraph", "department_status_table", "department_table",
           "evidence_gaps_table", "overdue_table", "unmatched_table"]

#: The department overview's page, beside the county overview (``pingan-eval batch``).
DEPARTMENTS_PAGE = "departments.html"

#: Chinese names of the statuses.
STATUS_ZH = {"on_time": "按时完成", "late": "逾期完成", "overdue": "逾期未完成",
             "not_due": "未到期"}
_DASH = "—"


@dataclass(frozen=True)
class DepartmentData:
    """What the department overview shows: the task statuses, the department scores and
    the ledger rows counted toward no task."""

    status: pd.DataFrame
    scores: pd.DataFrame
    unmatched: pd.DataFrame


def department_data(inputs: ReportInputs) -> DepartmentData:
    """The task statuses of a report's inputs (the judged registers), scored by department.

    ``status``: :func:`pingan_eval.registers.ledger.task_status` as of the period's end
    (from the batch's cache where the batch judged the registers); ``scores``:
    :func:`pingan_eval.summary.departments.department_scores`; ``unmatched``:
    :func:`pingan_eval.registers.ledger.ledger_unmatched` (empty without a ledger).
    """
    from pingan_eval.periods import period_end
    from pingan_eval.registers.ledger import (
        STATUS_COLUMNS,
        UNMATCHED_COLUMNS,
        ledger_path,
        ledger_unmatched,
    )
    from pingan_eval.report.inputs import register_tables
    from pingan_eval.summary.departments import department_scores

    tables = register_tables(inputs.period, inputs.raw_dir, inputs.plan, inputs.registers)
    status = tables.task_status
    if status.empty:
        status = pd.DataFrame(columns=list(STATUS_COLUMNS))
    path = ledger_path(inputs.raw_dir)
    unmatched = (ledger_unmatched(path, inputs.plan, as_of=period_end(inputs.period))
                 if path is not None else pd.DataFrame(columns=list(UNMATCHED_COLUMNS)))
    return DepartmentData(status=status, scores=department_scores(status, inputs.plan),
                          unmatched=unmatched)


def _day(value: object) -> str:
    return _DASH if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _where(r: pd.Series) -> str:
    parts = [p for p in (r["township"], r["month"] and f"{int(r['month'][5:])}月") if p]
    return "，".join(parts) or _DASH


def department_heading(county: str, period: str) -> str:
    """``# <county>县直部门任务落实情况（<period>）``, the name escaped.

    Examples
    --------
    >>> department_heading("青河县", "2026-11")
    '# 青河县县直部门任务落实情况（2026年11月）'
    """
    return f"# {md_escape(county)}县直部门任务落实情况（{period_zh(period)}）"


def department_link(period: str) -> str:
    """The county overview's sentence linking the department overview (same folder).

    Examples
    --------
    >>> department_link("2026-11")
    '各县直部门承担的任务（宣传任务（1）—（20）及平安细胞创建）逐项落实情况见[县直部门任务落实情况（2026年11月）](departments.html)。'
    """
    return ("各县直部门承担的任务（宣传任务（1）—（20）及平安细胞创建）逐项落实情况见"
            f"[县直部门任务落实情况（{period_zh(period)}）]({DEPARTMENTS_PAGE})。")


def department_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per department: tasks, rows due, on time, late, overdue, not yet due, on-time share.

    ``scores`` is :func:`pingan_eval.summary.departments.department_scores`.
    """
    out = pd.DataFrame({
        "部门": scores["department"],
        "任务数": scores["tasks"].astype(int),
        "应完成": scores["due"].astype(int),
        "按时完成": scores["on_time"].astype(int),
        "逾期完成": scores["late"].astype(int),
        "逾期未完成": scores["overdue"].astype(int),
        "未到期": scores["not_due"].astype(int),
        "按时完成率": [_DASH if pd.isna(s) else f"{100 * s:.1f}%"
                      for s in scores["on_time_share"]],
    })
    return out.reset_index(drop=True)


def department_status_table(status: pd.DataFrame, department: str | None = None
                            ) -> pd.DataFrame:
    """Every status row (of one department, if given), in Chinese.

    Columns 部门, 任务, 方案条目, 乡镇/月份, 期限, 状态, 完成日期, 佐证, 说明; a done
    row without evidence says 缺少佐证 in 说明.
    """
    rows = status if department is None else status[status["department"] == department]
    notes = []
    for r in rows.itertuples(index=False):
        note = []
        if r.status in ("on_time", "late") and not r.evidence:
            note.append("缺少佐证")
        if r.note.startswith("no record") or r.note.startswith("no log"):
            note.append("无记录")
        elif "of" in r.note and "done" in r.note and r.status != "on_time":
            note.append("部分完成（" + r.note.split("; ")[-1].replace(" of ", "/")
                        .replace(" done", "") + "）")
        notes.append("；".join(note))
    out = pd.DataFrame({
        "部门": rows["department"].to_numpy(),
        "任务": rows["name_zh"].to_numpy(),
        "方案条目": rows["plan_ref"].to_numpy(),
        "乡镇/月份": [_where(r) for _, r in rows.iterrows()],
        "期限": [_day(d) for d in rows["due"]],
        "状态": [STATUS_ZH.get(s, s) for s in rows["status"]],
        "完成日期": [_day(d) for d in rows["done_date"]],
        "佐证": [e or _DASH for e in rows["evidence"]],
        "说明": notes,
    })
    return out.reset_index(drop=True)


def overdue_table(status: pd.DataFrame) -> pd.DataFrame:
    """The rows overdue or done late: who is behind, as :func:`department_status_table`."""
    behind = status[status["status"].isin(["overdue", "late"])]
    behind = behind.assign(_s=behind["status"].map({"overdue": 0, "late": 1}))
    return department_status_table(behind.sort_values("_s", kind="stable"))


def evidence_gaps_table(status: pd.DataFrame) -> pd.DataFrame:
    """Work entered as done whose ledger row gives no evidence (the rows named)."""
    done = status[status["status"].isin(["on_time", "late"]) & status["rows"].ne("")
                  & status["note"].str.contains("evidence blank", regex=False)]
    return pd.DataFrame({
        "部门": done["department"].to_numpy(), "任务": done["name_zh"].to_numpy(),
        "乡镇/月份": [_where(r) for _, r in done.iterrows()],
        "完成日期": [_day(d) for d in done["done_date"]],
        "台账行号": [n.split("row ")[-1].rstrip(")") for n in done["note"]],
    })


def unmatched_table(unmatched: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Ledger rows counted toward no task, and why in Chinese
    (:func:`~pingan_eval.registers.ledger.ledger_unmatched`)."""
    reasons = []
    for r in unmatched.itertuples(index=False):
        if r.reason.startswith("a co-operating"):
            reasons.append("配合单位，由牵头部门负责")
        elif "not a due month" in r.reason:
            reasons.append(f"{r.month}不是该任务的应完成月份")
        elif r.reason.startswith("dated after"):
            reasons.append("日期晚于统计截止日")
        elif "not accountable" in r.reason:
            reasons.append("该部门不是该任务的责任部门")
        else:
            reasons.append(r.reason)
    return pd.DataFrame({
        "台账行号": unmatched["row"].to_numpy(),
        "任务": [plan.target(c).name_zh for c in unmatched["task"]],
        "部门": unmatched["department"].to_numpy(),
        "日期": [_day(d) for d in unmatched["date"]],
        "佐证": [e or _DASH for e in unmatched["evidence"]],
        "未计入原因": reasons,
    })


def department_paragraph(scores: pd.DataFrame, status: pd.DataFrame, period: str) -> str:
    """A plain-language reading: how many departments are on time, who is behind.

    Examples
    --------
    >>> import pandas as pd
    >>> sc = pd.DataFrame({"department": ["县妇联", "县交通局"], "due": [1, 2],
    ...     "on_time": [1, 1], "late": [0, 1], "overdue": [0, 0], "not_due": [0, 0]})
    >>> st = pd.DataFrame({"department": ["县交通局"], "status": ["late"],
    ...     "rows": ["4"], "note": [""]})
    >>> department_paragraph(sc, st, "2026-11")
    '截至2026年11月末，2个部门中1个部门到期任务全部按时完成；无逾期未完成的任务；逾期完成：县交通局（1项）。'
    """
    mine = scores[scores["due"] > 0]
    clean = mine[(mine["late"] == 0) & (mine["overdue"] == 0)]
    text = (f"截至{period_zh(period)}末，{len(scores)}个部门中{len(clean)}个部门"
            "到期任务全部按时完成；")
    over = mine[mine["overdue"] > 0]
    late = mine[mine["late"] > 0]
    if len(over):
        text += "逾期未完成：" + "、".join(f"{d}（{n}项）" for d, n in
                                      zip(over["department"], over["overdue"], strict=True))
    else:
        text += "无逾期未完成的任务"
    if len(late):
        text += "；逾期完成：" + "、".join(f"{d}（{n}项）" for d, n in
                                       zip(late["department"], late["late"], strict=True))
    text += "。"
    gaps = status[status["status"].isin(["on_time", "late"]) & status["rows"].ne("")
                  & status["note"].str.contains("evidence blank", regex=False)]
    if len(gaps):
        text += f"另有{len(gaps)}项已完成的任务台账未填写佐证材料，需补充。"
    return text


def cell_programmes_table(summary: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The safe-cell programmes of 四.(二) by lead department: window, townships on target.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` (its township ``register`` rows).
    plan : Plan

    Returns
    -------
    pandas.DataFrame
        Columns 牵头部门, 平安细胞, 方案条目, 创建期限, 达标乡镇, 未达标乡镇: one row per
        category in plan order; 达标乡镇 ``met / townships with a verdict``, 未达标乡镇
        the townships whose naming rate is below the target (``not_met``).
    """
    cells = summary[(summary["source"] == "register") & (summary["area_level"] == "township")]
    rows = []
    for t in plan.cells:
        mine = cells[cells["indicator"] == t.code]
        judged = mine[mine["verdict"].isin(["met", "not_met"])]
        behind = mine.loc[mine["verdict"] == "not_met", "area"]
        rows.append({
            "牵头部门": t.lead_department, "平安细胞": t.name_zh, "方案条目": t.plan_ref,
            "创建期限": f"{_day(t.window_start)}至{_day(t.window_end)}",
            "达标乡镇": (f"{int((judged['verdict'] == 'met').sum())}/{len(judged)}"
                     if len(judged) else _DASH),
            "未达标乡镇": "、".join(behind) or _DASH,
        })
    return pd.DataFrame(rows, columns=["牵头部门", "平安细胞", "方案条目", "创建期限", "达标乡镇",
                                       "未达标乡镇"])
