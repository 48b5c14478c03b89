"""Register detail for a report: safe cells per category, procedure defects, open tasks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pingan_eval import labels, paths
from pingan_eval.plan import Plan, as_plan
from pingan_eval.report.formatting import DASH, fmt_pct, fmt_target
from pingan_eval.report.inputs import register_tables

if TYPE_CHECKING:

    from pingan_eval.registers.judge import RegisterTables


def task_detail(area: str, period: str, *,
                raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                plan: Plan | str | os.PathLike | None = None,
                only_open: bool = True,
                registers: RegisterTables | None = None) -> pd.DataFrame:
    """The campaign-task log rows of ``area`` (per village, month or township), in Chinese.

    Parameters
    ----------
    area : str
        A township, or the county (its month-by-month tasks).
    period : str
        ``YYYY-MM``: the tasks are judged on its last day, as in the summary.
    raw_dir : path
        Dataset folder with ``tasks/``.
    plan : Plan, path or None
        ``None`` reads the shipped plan.
    only_open : bool
        Keep only rows not (yet) met: what is left to do.
    registers : RegisterTables, optional
        The registers already judged for ``period`` (``ReportInputs.registers``: the
        batch's cache, or judged once by :func:`load_inputs`); ``None``: judge the task
        logs here.

    Returns
    -------
    pandas.DataFrame
        Columns 任务, 村(社区)/月份, 要求, 完成, 截止日期, 结论, from
        :func:`pingan_eval.registers.tasks.task_completion`, in its order, then the
        township's own tasks of the task ledger
        (:func:`pingan_eval.registers.ledger.task_status`: done on time is 达标, late
        or overdue 未达标, not yet due 尚无定论).
    """
    plan = as_plan(plan)
    tables = register_tables(period, raw_dir, plan, registers)
    done = _with_ledger_tasks(tables.tasks, tables.task_status, plan)
    if done.empty:
        return pd.DataFrame(columns=_TASK_COLUMNS)
    rows = done[done["township"].replace("", plan.county) == area]
    if only_open:
        rows = rows[rows["verdict"] != "met"]
    out = pd.DataFrame({
        "任务": rows["name_zh"],
        "村(社区)/月份": (rows["village"] + rows["month"]).replace("", DASH),
        "要求": [DASH if not np.isfinite(v) else f"{v:g}" for v in rows["required"]],
        "完成": [DASH if not np.isfinite(v) else f"{v:g}" for v in rows["achieved"]],
        "截止日期": pd.to_datetime(rows["due"]).dt.strftime("%Y-%m-%d"),
        "结论": [labels.zh("verdict", v) for v in rows["verdict"]],
    })
    return out.reset_index(drop=True)


_LEDGER_VERDICT = {"on_time": "met", "late": "not_met", "overdue": "not_met",
                   "not_due": "undecided"}


def _with_ledger_tasks(done: pd.DataFrame, status: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The task log rows, then the ledger's rows of tasks a township answers for."""
    if status.empty:
        return done
    own = status[status["department"].isin(plan.townships)
                 & status["code"].map(lambda c: plan.target(c).measure == "done")]
    if own.empty:
        return done
    extra = pd.DataFrame({"name_zh": own["name_zh"], "township": own["township"],
                          "village": "", "month": own["month"], "required": own["required"],
                          "achieved": own["achieved"], "due": own["due"],
                          "verdict": own["status"].map(_LEDGER_VERDICT)})
    return pd.concat([done, extra], ignore_index=True) if len(done) else extra


_CELL_COLUMNS = ["类别", "应创建", "有效命名", "程序缺陷", "已摘牌", "命名率", "目标", "结论",
                 "创建期限", "期限状态"]


_COUNTY_CELL_COLUMNS = ["乡镇", "类别数", "达标类别", "逾期类别", "程序缺陷", "达到平安建设标准",
                        "优秀平安乡镇"]


_DEFECT_COLUMNS = ["单位编号", "乡镇", "村(社区)", "类别", "问题", "说明"]


_TASK_COLUMNS = ["任务", "村(社区)/月份", "要求", "完成", "截止日期", "结论"]


@dataclass(frozen=True)
class RegisterDetail:
    """The safe-cell section of a report: :func:`register_detail` reads the register once."""

    cells: pd.DataFrame
    defects: pd.DataFrame
    note: str


def register_detail(area: str, period: str, *,
                    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                    plan: Plan | str | os.PathLike | None = None,
                    registers: RegisterTables | None = None) -> RegisterDetail:
    """Safe-cell naming, procedure defects and skipped checks of ``area``, in Chinese.

    The register is judged on the last day of ``period``, as in the summary; pass
    ``registers`` (``ReportInputs.registers``: the batch's cache, or judged once by
    :func:`load_inputs`) to use tables already judged.

    Returns
    -------
    RegisterDetail
        ``cells``: for a township one row per category in plan order, columns 类别,
        应创建, 有效命名, 程序缺陷, 已摘牌, 命名率, 目标, 结论, 创建期限, 期限状态 (where the
        category stands against its creation window,
        :data:`~pingan_eval.registers.cells.WINDOW_STATUSES`); for the county one row per
        township (:func:`~pingan_eval.registers.cells.township_standards`),
        columns 乡镇, 类别数, 达标类别, 逾期类别, 程序缺陷, 达到平安建设标准, 优秀平安乡镇.
        ``defects``: every procedure defect of ``area`` (all townships for the county),
        columns 单位编号, 乡镇, 村(社区), 类别, 问题, 说明; defective namings do not count
        toward the rate, and this is where the report shows them. ``note``: a sentence
        naming the checks the register could not support (its columns are absent).
        Without a register (a survey-only dataset) the tables are empty and the note
        says so.
    """
    from pingan_eval.registers.cells import DEFECT_RULES

    plan = as_plan(plan)
    county = area == plan.county
    tables = register_tables(period, raw_dir, plan, registers)
    if not tables.has_register:
        return RegisterDetail(pd.DataFrame(columns=_COUNTY_CELL_COLUMNS if county
                                           else _CELL_COLUMNS),
                              pd.DataFrame(columns=_DEFECT_COLUMNS),
                              "未提供平安细胞台账，未作程序核查。")
    found = tables.defects
    if not county:
        found = found[found["township"] == area]
    skipped = list(tables.skipped_checks["rule"])
    note = ("台账缺少相应字段，以下程序核查未执行："
            + "、".join(DEFECT_RULES[c].label_zh for c in skipped) + "。" if skipped
            else "台账字段齐全，全部程序核查均已执行。")
    defects = pd.DataFrame({
        "单位编号": found["unit_id"], "乡镇": found["township"],
        "村(社区)": found["village"].replace("", DASH),
        "类别": [labels.zh("category", c) for c in found["category"]],
        "问题": found["label_zh"], "说明": found["detail_zh"],
    }).reset_index(drop=True)
    table = (_county_cells(tables.standards) if county
             else _township_cells(tables.naming_rates, area, plan))
    return RegisterDetail(table, defects, note)


def _county_cells(per: pd.DataFrame) -> pd.DataFrame:
    yes_no = {True: "是", False: "否"}
    return pd.DataFrame({
        "乡镇": per["township"], "类别数": per["categories"],
        "达标类别": per["categories_met"], "逾期类别": per["overdue"],
        "程序缺陷": per["defects"], "达到平安建设标准": per["standard"].map(yes_no),
        "优秀平安乡镇": per["excellent"].map(yes_no)})


def _township_cells(rates: pd.DataFrame, area: str, plan: Plan) -> pd.DataFrame:
    order = {c: i for i, c in enumerate(plan.cell_categories["category"])}
    rows = rates[rates["township"] == area]
    rows = rows.sort_values("category", key=lambda c: c.map(order), kind="stable")
    window = [f"{s:%m-%d}至{e:%m-%d}" if pd.notna(s) and pd.notna(e) else DASH
              for s, e in zip(rows["window_start"], rows["window_end"], strict=True)]
    return pd.DataFrame({
        "类别": [labels.zh("category", c) for c in rows["category"]],
        "应创建": rows["eligible"].astype(int).to_numpy(),
        "有效命名": rows["named"].astype(int).to_numpy(),
        "程序缺陷": rows["defective"].astype(int).to_numpy(),
        "已摘牌": rows["revoked"].astype(int).to_numpy(),
        "命名率": [fmt_pct(r) for r in rows["rate"]],
        "目标": [fmt_target(t, "rate") for t in rows["target"]],
        "结论": [labels.zh("verdict", v) for v in rows["verdict"]],
        "创建期限": window,
        "期限状态": [labels.zh("window_status", w) for w in rows["window_status"]],
    })
