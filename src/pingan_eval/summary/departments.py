"""The campaign tasks by department: :func:`department_rows` for the period summary.

Each task of the plan that a county department answers for gives that department one
row (``area_level = "department"``, ``area`` the department, ``source = "task"``), from
:func:`pingan_eval.registers.ledger.task_status`; a done task a township answers for
gives the township a row beside its other task rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pingan_eval.plan import Plan

__all__ = ["department_rows", "department_scores"]

_ROW_COLUMNS = ["area", "area_level", "indicator", "name_zh", "source", "estimate", "se",
                "ci_low", "ci_high", "df", "n", "deff", "target", "verdict", "flag",
                "flag_reason"]


def _verdict(status: pd.Series) -> str:
    """``not_met`` if any row is overdue or late, else ``undecided`` if any is not yet
    done (not due), else ``met``."""
    if status.isin(["overdue", "late"]).any():
        return "not_met"
    return "undecided" if (status == "not_due").any() else "met"


def department_rows(status: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """One summary row per task x accountable area from a task status table.

    Parameters
    ----------
    status : pandas.DataFrame
        :func:`pingan_eval.registers.ledger.task_status`.
    plan : Plan

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`~pingan_eval.summary.SUMMARY_COLUMNS` but ``period``,
        ``estimator`` and ``window_start``: ``area`` the department (``area_level =
        "department"``) or, for a done task a township answers for, the township
        (``"township"``; its log tasks already have their rows); ``estimate`` the share
        of the task's rows (townships, due months) done on time, ``n`` their number,
        ``target`` 1; ``verdict`` ``not_met`` if any is overdue or late, else
        ``undecided`` while any is not yet due and not done, else ``met``. No sampling
        error: ``se, ci_low, ci_high, df, deff`` NaN, ``flag`` ``ok``.
    """
    if status.empty:
        return pd.DataFrame(columns=_ROW_COLUMNS)
    towns = set(plan.townships)
    rows = []
    for (dept, code), g in status.groupby(["department", "code"], sort=False):
        level = "township" if dept in towns else "department"
        if level == "township" and plan.target(code).measure != "done":
            continue
        rows.append({"area": dept, "area_level": level, "indicator": code,
                     "name_zh": plan.target(code).name_zh, "source": "task",
                     "estimate": float((g["status"] == "on_time").mean()),
                     "n": float(len(g)), "target": 1.0, "verdict": _verdict(g["status"])})
    out = pd.DataFrame(rows)
    for col in ("se", "ci_low", "ci_high", "df", "deff"):
        out[col] = np.nan
    out["flag"], out["flag_reason"] = "ok", ""
    return out[_ROW_COLUMNS]


def department_scores(status: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Per county department, its task rows counted by status.

    Returns
    -------
    pandas.DataFrame
        Columns ``department, tasks, rows, on_time, late, overdue, not_due, due,
        on_time_share``: ``rows`` the department's status rows, ``due`` those whose due
        date has passed or that are done (on time + late + overdue), ``on_time_share``
        ``on_time / due`` (NaN when nothing was due yet). In plan order of the
        departments; only departments with a row.
    """
    cols = ["department", "tasks", "rows", "on_time", "late", "overdue", "not_due", "due",
            "on_time_share"]
    mine = status[status["department"].isin(plan.departments)] if len(status) else status
    if mine.empty:
        return pd.DataFrame(columns=cols)
    counts = pd.crosstab(mine["department"], mine["status"]).reindex(
        columns=["on_time", "late", "overdue", "not_due"], fill_value=0)
    out = counts.assign(tasks=mine.groupby("department")["code"].nunique(),
                        rows=counts.sum(axis=1))
    out["due"] = out["on_time"] + out["late"] + out["overdue"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["on_time_share"] = (out["on_time"] / out["due"].where(out["due"] > 0)).astype(float)
    order = [d for d in plan.departments if d in out.index]
    out = out.loc[order].rename_axis("department").reset_index()
    return out[cols]
