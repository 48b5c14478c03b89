"""The task ledger (任务台账): every piece of campaign work, and each task's status by department.

A plan task with ``measure = "done"`` is measured from the ledger, ``tasks/ledger.csv``
(or ``.xlsx``) in a dataset folder: one row per piece of work done (task code,
department, township or village where it applies, date, quantity, evidence).
:func:`read_ledger` reads and checks it; :func:`task_status` says, as of a date, for
every task x accountable department (x township, x due month for recurring tasks)
whether it was done on time, done late, is overdue or not yet due. Tasks measured from
a log (:mod:`pingan_eval.registers.tasks`) led by a county department are included from
:func:`~pingan_eval.registers.tasks.task_completion`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.errors import DataError
from pingan_eval.plan import Plan, PlanLike, Target, as_plan, resolve_as_of
from pingan_eval.registers.columns import as_text, cell_error, counts, dates, known

__all__ = ["LEDGER_COLUMNS", "STATUSES", "STATUS_COLUMNS", "UNMATCHED_COLUMNS",
           "ledger_path", "ledger_unmatched", "read_ledger", "task_status"]

#: Columns of the ledger file: the first three are required, the others optional.
LEDGER_COLUMNS = ("task", "department", "date", "township", "village", "month", "quantity",
                  "evidence", "note")
_REQUIRED = LEDGER_COLUMNS[:3]
#: Columns of :func:`read_ledger` (``row`` is the row a spreadsheet shows).
_READ_COLUMNS = ("row", "task", "department", "township", "village", "month", "date",
                 "quantity", "evidence", "note")

#: Statuses of :func:`task_status`, in report order.
STATUSES = ("on_time", "late", "overdue", "not_due")

#: Columns of :func:`task_status`, in order.
STATUS_COLUMNS = ("code", "name_zh", "plan_ref", "level", "department", "township", "month",
                  "due", "status", "done_date", "required", "achieved", "evidence", "rows",
                  "note")

#: Columns of :func:`ledger_unmatched`.
UNMATCHED_COLUMNS = ("row", "task", "department", "township", "month", "date", "evidence",
                     "reason")


def ledger_path(raw_dir: str | os.PathLike) -> Path | None:
    """``<raw_dir>/tasks/ledger.csv`` (or ``.xlsx``), or None if the dataset has none.

    Raises
    ------
    DataError
        Both a ``ledger.csv`` and a ``ledger.xlsx`` exist.
    """
    found = [p for p in (Path(raw_dir) / "tasks" / "ledger.csv",
                         Path(raw_dir) / "tasks" / "ledger.xlsx") if p.is_file()]
    if len(found) > 1:
        raise DataError(f"{found[1]}: a second task ledger (also {found[0]})")
    return found[0] if found else None


def read_ledger(source: str | os.PathLike | pd.DataFrame, plan: PlanLike = None) -> pd.DataFrame:
    """Read and check a task ledger.

    Parameters
    ----------
    source : path-like or pandas.DataFrame
        A ledger file (``.csv`` / ``.xlsx``), a dataset folder (its
        ``tasks/ledger.csv``), or the table itself (its index is taken as the row a
        spreadsheet shows; ``attrs["source"]`` names it in messages). Not modified.
    plan : Plan or path-like, optional
        Default: the shipped plan.

    Returns
    -------
    pandas.DataFrame
        Columns ``row, task, department, township, village, month, date, quantity,
        evidence, note``: text ``""`` where blank, ``date`` datetime64, ``quantity``
        float (NaN where blank: one piece of work), ``month`` ``YYYY-MM`` (the due
        month a row is for; blank: the month of its date). File order; nothing dropped.

    Raises
    ------
    DataError
        Naming the file, the row and the column: a required column (``task``,
        ``department``, ``date``) is missing; a task is not a done task of the plan (a
        task measured from a log is named as such); a department is not one of the
        plan's departments or townships; a township is unknown, or missing for a
        township task; a date is blank, not a date, or outside the plan year; a month
        is not ``YYYY-MM`` of the plan year, or given for a task with one due date; a
        quantity is not a whole number >= 0; a row repeats another, or gives the same
        evidence as another with another date or quantity (the two contradict).
    """
    plan = as_plan(plan)
    if isinstance(source, pd.DataFrame):
        raw = source
    else:
        path = Path(source)
        if path.is_dir():
            found = ledger_path(path)
            if found is None:
                raise DataError(f"{path / 'tasks' / 'ledger.csv'}: task ledger not found")
            path = found
        from pingan_eval.data.readers import read_table

        raw = read_table(path)
    name = raw.attrs.get("source", "tasks/ledger.csv")
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise DataError(f"{name}: missing required column(s) {', '.join(missing)} "
                        f"(the ledger has {', '.join(LEDGER_COLUMNS)})")
    out = pd.DataFrame(index=raw.index)
    out["row"] = [str(r) for r in raw.index]
    for col in ("task", "department", "township", "village", "month", "evidence", "note"):
        out[col] = as_text(raw[col]) if col in raw.columns else ""
    tasks = {t.code: t for t in plan.tasks}
    done = [c for c, t in tasks.items() if t.measure == "done"]
    logged = out["task"].isin([c for c, t in tasks.items() if t.measure != "done"])
    if logged.any():
        row = logged.idxmax()
        t = tasks[out.at[row, "task"]]
        raise cell_error(raw, name, row, "task", f"{t.code!r} is measured from "
                         f"tasks/{t.table}.csv, not the ledger")
    known(raw, name, "task", out["task"], done, "a done task of the plan")
    known(raw, name, "department", out["department"],
          (*plan.departments, *plan.townships), "a department or township of the plan")
    known(raw, name, "township", out["township"], plan.townships, "a township of the plan",
          blank_ok=True)
    level = out["task"].map(lambda c: tasks[c].level)
    no_town = (level == "township") & (out["township"] == "")
    if no_town.any():
        row = no_town.idxmax()
        raise cell_error(raw, name, row, "township", f"task {out.at[row, 'task']!r} is "
                         "kept per township: the township is required")
    out["date"] = dates(raw, name, "date", required=True)
    off_year = out["date"].dt.year != plan.year
    if off_year.any():
        row = off_year.idxmax()
        raise cell_error(raw, name, row, "date", f"{out.at[row, 'date'].date()} is outside "
                         f"the plan year {plan.year}")
    month = pd.to_datetime(out["month"].where(out["month"] != ""), format="%Y-%m",
                           errors="coerce")
    bad = (out["month"] != "") & (month.isna() | ~out["month"].str.fullmatch(r"\d{4}-\d{2}")
                                  | (month.dt.year != plan.year))
    if bad.any():
        row = bad.idxmax()
        raise cell_error(raw, name, row, "month", f"{out.at[row, 'month']!r} is not a month "
                         f"(YYYY-MM) of the plan year {plan.year}")
    once = (out["month"] != "") & out["task"].map(lambda c: not tasks[c].months)
    if once.any():
        row = once.idxmax()
        raise cell_error(raw, name, row, "month", f"task {out.at[row, 'task']!r} has one due "
                         "date; a month is only for recurring tasks")
    out["quantity"] = (counts(raw, name, "quantity", blank_ok=True) if "quantity" in raw
                       else np.nan)
    _no_contradictions(out, raw, name)
    out = out.reset_index(drop=True)
    out.attrs["source"] = name
    return out[list(_READ_COLUMNS)]


def _no_contradictions(out: pd.DataFrame, raw: pd.DataFrame, name: str) -> None:
    """A row entered twice, or the same evidence with another date or quantity, is an error."""
    text = out.assign(date=out["date"].dt.strftime("%Y-%m-%d"),
                      quantity=out["quantity"].astype(str)).drop(columns="row")
    again = text.duplicated(keep="first")
    if again.any():
        row = again.idxmax()
        keys = pd.Series(list(text.itertuples(index=False, name=None)), index=text.index)
        first = keys.index[keys == keys[row]][0]
        raise cell_error(raw, name, row, "task", f"repeats row {first} (the same work "
                         "entered twice)")
    keys = ["task", "department", "township", "village", "month", "evidence"]
    cited = text[text["evidence"] != ""]
    clash = cited.duplicated(keys, keep=False)
    if clash.any():
        group = cited[clash].groupby(keys, sort=False)
        rows = next(iter(group.groups.values()))
        a, b = rows[0], rows[1]
        col = "date" if text.at[a, "date"] != text.at[b, "date"] else "quantity"
        raise cell_error(raw, name, b, col, f"contradicts row {a}: the same evidence "
                         f"{text.at[a, 'evidence']!r} with {col} {text.at[a, col]!r} there "
                         f"and {text.at[b, col]!r} here")


def _units(t: Target, plan: Plan, day: pd.Timestamp) -> pd.DataFrame:
    """The rows a done task must account for: department (x township) (x due month)."""
    if t.level == "township":
        if all(a in plan.townships for a in t.accountable):
            pairs = [(a, a) for a in t.accountable]
        else:
            pairs = [(a, tw) for a in t.accountable for tw in (t.townships or plan.townships)]
    else:
        pairs = [(a, "") for a in t.accountable]
    months = [f"{plan.year}-{m:02d}" for m in t.months if pd.Timestamp(plan.year, m, 1) <= day]
    if t.months:
        rows = [(a, tw, m, plan.month_end(int(m[5:]))) for a, tw in pairs for m in months]
    else:
        rows = [(a, tw, "", t.window_end) for a, tw in pairs]
    return pd.DataFrame(rows, columns=["department", "township", "month", "due"])


def _effective(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger with the month each row counts for (its own, else its date's)."""
    return ledger.assign(month=ledger["month"].where(ledger["month"] != "",
                                                     ledger["date"].dt.strftime("%Y-%m")))


def _done_rows(t: Target, plan: Plan, ledger: pd.DataFrame, day: pd.Timestamp) -> list[dict]:
    units = _units(t, plan, day)
    mine = ledger[(ledger["task"] == t.code) & (ledger["date"] <= day)]
    out = []
    for u in units.itertuples(index=False):
        hit = mine[mine["department"] == u.department]
        if t.level == "township":
            hit = hit[hit["township"] == u.township]
        if t.months:
            hit = hit[hit["month"] == u.month]
        hit = hit.sort_values("date", kind="stable")
        total = hit["quantity"].fillna(1.0).cumsum()
        reached = hit[total >= t.threshold]
        done = reached["date"].iloc[0] if len(reached) else pd.NaT
        if pd.notna(done):
            status = "on_time" if done <= u.due else "late"
        else:
            status = "overdue" if day > u.due else "not_due"
        blank = hit.loc[hit["evidence"] == "", "row"].tolist()
        notes = []
        if blank:
            notes.append(f"evidence blank (row {', '.join(blank)})")
        if len(hit) and pd.isna(done):
            notes.append(f"{total.iloc[-1]:g} of {t.threshold:g} done")
        out.append({"code": t.code, "name_zh": t.name_zh, "plan_ref": t.plan_ref,
                    "level": t.level, "department": u.department, "township": u.township,
                    "month": u.month, "due": u.due, "status": status, "done_date": done,
                    "required": float(t.threshold),
                    "achieved": float(total.iloc[-1]) if len(hit) else 0.0,
                    "evidence": "; ".join(e for e in hit["evidence"] if e),
                    "rows": ", ".join(hit["row"]), "note": "; ".join(notes)})
    return out


_LATE_NOTES = ("after the due date", "met only after the due date")


def _log_rows(t: Target, plan: Plan, completion: pd.DataFrame) -> list[dict]:
    """A log task led by county departments: its completion rows, as statuses."""
    depts = [a for a in t.accountable if a in plan.departments]
    out = []
    for r in completion[completion["code"] == t.code].itertuples(index=False):
        if r.verdict == "met":
            status = "on_time"
        elif any(str(r.note).endswith(n) for n in _LATE_NOTES):
            status = "late"
        else:
            status = "overdue" if r.verdict == "not_met" else "not_due"
        for dept in depts:
            out.append({"code": t.code, "name_zh": t.name_zh, "plan_ref": t.plan_ref,
                        "level": t.level, "department": dept, "township": r.township,
                        "month": r.month, "due": r.due, "status": status, "done_date": pd.NaT,
                        "required": r.required, "achieved": r.achieved,
                        "evidence": f"tasks/{t.table}.csv", "rows": "", "note": r.note})
    return out


def task_status(ledger: str | os.PathLike | pd.DataFrame | None, plan: PlanLike = None,
                as_of: str | dt.date | None = None,
                completion: pd.DataFrame | None = None) -> pd.DataFrame:
    """The status of every task of the plan, per accountable department, on a date.

    Parameters
    ----------
    ledger : path-like, pandas.DataFrame or None
        A dataset folder (its ``tasks/ledger.csv``; and, when ``completion`` is not
        given, its task logs), a ledger file, a ledger table (raw or from
        :func:`read_ledger`), or None (no ledger: every done task has no row).
    plan : Plan or path-like, optional
        Default: the shipped plan.
    as_of : str or date, optional
        ``YYYY-MM-DD`` (default: the plan year's last day).
    completion : pandas.DataFrame, optional
        :func:`~pingan_eval.registers.tasks.task_completion` on ``as_of``, for the log
        tasks led by a county department (``cadre_test``, ``messages``, ...); default:
        computed from ``ledger`` when it is a dataset folder, else none.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STATUS_COLUMNS`. One row per done task x accountable department
        (x township for township tasks, x due month begun by ``as_of`` for recurring
        ones), and per log-task row x lead department. ``status`` is ``on_time`` (done
        on or before ``due``), ``late`` (done after it), ``overdue`` (not done and
        ``as_of`` is past ``due``) or ``not_due``. ``done_date`` is the day the ledger's
        quantities (a blank quantity is one piece of work) reach ``required`` (the
        plan's threshold, default 1), rows dated after ``as_of`` not counted;
        ``achieved`` their sum; ``evidence`` the rows' evidence (``; ``-joined) and
        ``rows`` their spreadsheet rows; ``note`` says where evidence is blank. Sorted by
        department (plan order, then townships), task (plan order), township (plan order),
        month.

    Examples
    --------
    >>> import pandas as pd
    >>> led = pd.DataFrame({"task": ["hospital_plan"], "department": ["县卫生局"],
    ...                     "date": ["2026-05-02"], "evidence": ["卫发〔2026〕3号"]}, index=[2])
    >>> s = task_status(led, as_of="2026-06-30")
    >>> s.loc[s["code"] == "hospital_plan", ["department", "status", "evidence"]].to_dict("records")
    [{'department': '县卫生局', 'status': 'late', 'evidence': '卫发〔2026〕3号'}]
    """
    plan = as_plan(plan)
    day = resolve_as_of(as_of, plan)
    folder = None
    if isinstance(ledger, (str, os.PathLike)) and Path(ledger).is_dir():
        folder = Path(ledger)
        found = ledger_path(folder)
        ledger = read_ledger(found, plan) if found is not None else None
    elif ledger is not None and not (isinstance(ledger, pd.DataFrame)
                                     and list(ledger.columns) == list(_READ_COLUMNS)):
        ledger = read_ledger(ledger, plan)
    no_ledger = ledger is None
    if ledger is None:
        ledger = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else
                                            "float64" if c == "quantity" else object)
                               for c in _READ_COLUMNS})
    if completion is None and folder is not None and (folder / "tasks").is_dir():
        from pingan_eval.registers.tasks import task_completion

        completion = task_completion(folder, plan=plan, as_of=day)
    led = _effective(ledger)
    rows: list[dict] = []
    for t in plan.tasks:
        if t.measure == "done":
            rows += _done_rows(t, plan, led, day)
        elif completion is not None and any(a in plan.departments for a in t.accountable):
            rows += _log_rows(t, plan, completion)
    out = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    if no_ledger:
        out.loc[out["rows"].eq("") & out["evidence"].eq(""), "note"] = "no ledger tasks/ledger.csv"
    for col in ("due", "done_date"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    for col in ("required", "achieved"):
        out[col] = out[col].astype("float64")
    order = {d: i for i, d in enumerate((*plan.departments, *plan.townships))}
    codes = {t.code: i for i, t in enumerate(plan.tasks)}
    towns = {t: i for i, t in enumerate(("", *plan.townships))}
    out = out.assign(_d=out["department"].map(order).fillna(len(order)),
                     _t=out["code"].map(codes), _w=out["township"].map(towns).fillna(len(towns)))
    out = out.sort_values(["_d", "department", "_t", "_w", "township", "month"], kind="stable")
    return out[list(STATUS_COLUMNS)].reset_index(drop=True)


def ledger_unmatched(ledger: str | os.PathLike | pd.DataFrame, plan: PlanLike = None,
                     as_of: str | dt.date | None = None) -> pd.DataFrame:
    """Ledger rows that count toward no status row of :func:`task_status`, and why.

    A co-operating department's work, a month in which a recurring task is not due, a
    department not accountable for the task, a township the task does not cover, a row
    dated after ``as_of``: such rows are not errors, but neither are they dropped
    silently; the department overview lists them.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`UNMATCHED_COLUMNS`, in ledger order.
    """
    plan = as_plan(plan)
    day = resolve_as_of(as_of, plan)
    if not (isinstance(ledger, pd.DataFrame) and list(ledger.columns) == list(_READ_COLUMNS)):
        ledger = read_ledger(ledger, plan)
    led = _effective(ledger)
    rows = []
    for r in led.itertuples(index=False):
        t = plan.target(r.task)
        if r.date > day:
            reason = f"dated after {day.date()}"
        elif r.department in t.co_departments:
            reason = "a co-operating department (the lead department answers for the task)"
        elif r.department not in t.accountable:
            reason = f"{r.department} is not accountable for {t.code}"
        elif t.months and int(r.month[5:]) not in t.months:
            reason = f"{r.month} is not a due month of {t.code}"
        elif (t.level == "township" and not all(a in plan.townships for a in t.accountable)
              and t.townships and r.township not in t.townships):
            reason = f"{t.code} does not cover {r.township}"
        else:
            continue
        rows.append({"row": r.row, "task": r.task, "department": r.department,
                     "township": r.township, "month": r.month if t.months else "",
                     "date": r.date, "evidence": r.evidence, "reason": reason})
    out = pd.DataFrame(rows, columns=list(UNMATCHED_COLUMNS))
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    return out
