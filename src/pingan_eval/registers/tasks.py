"""Campaign tasks (plan 四.(一)): completion against the plan's counts and dates.

Each ``[[tasks]]`` entry of the plan names the log it is measured from
(``tasks/<table>.csv``, data/raw/README.md), the count or rate it requires and its due
date; :func:`task_completion` turns the logs into one verdict per task and township,
village or month.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.errors import DataError
from pingan_eval.plan import TASK_TABLES, Plan, PlanLike, Target, as_plan, resolve_as_of
from pingan_eval.registers.columns import as_text, counts, dates, known

__all__ = ["TASK_COLUMNS", "load_tasks", "task_completion"]

#: Columns of :func:`task_completion`, in order.
TASK_COLUMNS = ("code", "name_zh", "township", "village", "month", "required", "achieved",
                "rate", "due", "verdict", "note")


def load_tasks(raw_dir: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """Read every task log of a dataset folder (``<raw_dir>/tasks/*.csv`` or ``.xlsx``).

    Parameters
    ----------
    raw_dir : path-like, optional
        A raw dataset folder (default: the shipped sample, ``data/raw/sample``).

    Returns
    -------
    dict of str to pandas.DataFrame
        The logs as text, keyed by file stem (``"visits"``, ``"signboards"``, ...),
        indexed by spreadsheet row (``source_row``), ``attrs["source"]`` the path.
        :func:`task_completion` validates the columns it uses.

    Raises
    ------
    DataError
        The ``tasks`` folder is missing, a file is unreadable, or a stem repeats
        (``visits.csv`` and ``visits.xlsx``).
    """
    from pingan_eval.data.readers import read_table
    from pingan_eval.paths import SAMPLE_RAW_DIR

    folder = (Path(raw_dir) if raw_dir is not None else SAMPLE_RAW_DIR) / "tasks"
    if not folder.is_dir():
        raise DataError(f"{folder}: task log folder not found")
    logs: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.iterdir()):
        if (path.suffix.lower() not in (".csv", ".xlsx") or path.name.startswith(".")
                or path.stem == "ledger"):  # the task ledger: registers.ledger
            continue
        if path.stem in logs:
            raise DataError(f"{path}: a second log named {path.stem!r} "
                            f"(also {logs[path.stem].attrs['source']})")
        logs[path.stem] = read_table(path)
    return logs


def _log(logs: Mapping[str, pd.DataFrame], t: Target, plan: Plan) -> pd.DataFrame | None:
    """The columns task ``t`` needs from its log, validated and typed; None if no log."""
    raw = logs.get(t.table)
    if raw is None:
        return None
    source = raw.attrs.get("source", f"tasks/{t.table}")
    spec = TASK_TABLES[t.table]
    values = (t.numerator, t.denominator) if t.measure == "rate" else (t.column,)
    needed = [*spec.keys, *values, *([t.date_column] if t.date_column else [])]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(f"{source}: missing required column(s) {', '.join(missing)} "
                        f"(task {t.code!r})")
    out = pd.DataFrame(index=raw.index)
    for key in spec.keys:
        out[key] = as_text(raw[key])
    if "township" in out:
        known(raw, source, "township", out["township"], plan.townships,
              "a township of the plan")
    if "month" in out:
        month = pd.to_datetime(out["month"], format="%Y-%m", errors="coerce")
        bad = month.isna() | ~out["month"].str.fullmatch(r"\d{4}-\d{2}")
        if bad.any():
            row = bad.idxmax()
            raise DataError(f"{source}: row {row}, column month: {out.at[row, 'month']!r} "
                            "is not a month (YYYY-MM)")
    for col in values:
        out[col] = counts(raw, source, col, blank_ok=False)
    if t.date_column:
        out["date"] = dates(raw, source, t.date_column, required=True)
    else:
        dup = out.duplicated(list(spec.keys))
        if dup.any():
            row = dup.index[dup.argmax()]
            what = " x ".join(out.loc[row, list(spec.keys)])
            raise DataError(f"{source}: row {row}: {what} appears twice")
    return out.reset_index(drop=True)


def _latest(log: pd.DataFrame, keys: list[str], until: pd.Timestamp) -> pd.DataFrame:
    """Per key, the last record dated on or before ``until`` (file order breaks ties)."""
    seen = log[log["date"] <= until]
    return seen.sort_values("date", kind="stable").groupby(keys, sort=False).tail(1)


def _expected(t: Target, plan: Plan, log: pd.DataFrame | None, day: pd.Timestamp,
              villages: pd.DataFrame | None) -> pd.DataFrame:
    """The rows a task must report: townships, villages (listed or logged) or due months."""
    level = TASK_TABLES[t.table].level
    if level == "township":
        return pd.DataFrame({"township": list(t.townships or plan.townships)})
    if level == "village":
        known = [f[["township", "village"]] for f in (villages, log) if f is not None]
        if not known:
            return pd.DataFrame({"township": pd.Series(dtype=object),
                                 "village": pd.Series(dtype=object)})
        rows = pd.concat(known, ignore_index=True).drop_duplicates(ignore_index=True)
        towns = list(t.townships or plan.townships)
        return rows[rows["township"].isin(towns)].reset_index(drop=True)
    months = [m for m in t.months if pd.Timestamp(plan.year, m, 1) <= day]
    return pd.DataFrame({"month": pd.Series([f"{plan.year}-{m:02d}" for m in months],
                                            dtype=object)})


def _one_task(t: Target, plan: Plan, log: pd.DataFrame | None, day: pd.Timestamp,
              villages: pd.DataFrame | None) -> pd.DataFrame:
    spec = TASK_TABLES[t.table]
    keys = list(spec.keys)
    rows = _expected(t, plan, log, day, villages)
    if "month" in rows:
        rows["due"] = [plan.month_end(int(m[5:])) for m in rows["month"]]
    else:
        rows["due"] = t.window_end
    rows["due"] = pd.to_datetime(rows["due"]).astype("datetime64[ns]")
    value = t.numerator if t.measure == "rate" else t.column
    cols = [*keys, value] + ([t.denominator] if t.measure == "rate" else [])
    note = pd.Series("", index=rows.index, dtype=object)
    if log is None:
        current = pd.DataFrame({c: pd.Series(dtype=object if c in keys else "float64")
                                for c in cols})
        note[:] = f"no log tasks/{t.table}.csv"
    elif t.date_column:
        current = _latest(log, keys, day)
    else:
        current = log
    merged = rows.merge(current[cols + (["date"] if "date" in current else [])],
                        how="left", on=keys)
    found = merged[value].notna()
    if log is not None:
        note[~found] = "no record"
    if t.measure == "rate":
        denominator = merged[t.denominator]
        required = np.ceil(t.threshold * denominator - 1e-9)
        achieved = merged[value]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = achieved / denominator
    else:
        towns = merged["township"] if "township" in merged else pd.Series("", index=rows.index)
        required = pd.Series([t.threshold_for(tw) for tw in towns], index=rows.index)
        achieved = merged[value].where(found, 0.0)
        rate = achieved / required.where(required > 0)
    done = pd.Series([bool(t.meets(a, r)) for a, r in zip(achieved, required, strict=True)],
                     index=rows.index) & achieved.notna() & required.notna()
    past_due = day > merged["due"]
    late = pd.Series(False, index=rows.index)
    if log is not None and t.date_column in spec.events:
        late = done & (merged["date"] > merged["due"])
        note[late] = ("done " + merged.loc[late, "date"].dt.strftime("%Y-%m-%d")
                      + ", after the due date")
    elif log is not None and t.date_column:
        # Snapshots: a record on or before the due date that falls short means the
        # requirement was met only after it (if at all).
        at_due = _latest(log, keys, min(day, t.window_end))
        check = rows.merge(at_due[cols], how="left", on=keys)
        if t.measure == "rate":
            short = check[value] < np.ceil(t.threshold * check[t.denominator] - 1e-9)
        else:
            short = check[value] < required
        late = done & past_due & short.fillna(False).astype(bool)
        note[late] = "met only after the due date"
    verdict = np.where(done & ~late, "met", np.where(past_due, "not_met", "undecided"))
    out = pd.DataFrame({
        "code": t.code, "name_zh": t.name_zh,
        "township": merged["township"] if "township" in merged else "",
        "village": merged["village"] if "village" in merged else "",
        "month": merged["month"] if "month" in merged else "",
        "required": required.astype("float64"), "achieved": achieved.astype("float64"),
        "rate": rate.astype("float64"), "due": pd.to_datetime(merged["due"]),
        "verdict": verdict, "note": note,
    }, index=rows.index)
    return out.sort_values(["township", "village", "month"], ignore_index=True)


def task_completion(tasks: str | os.PathLike | Mapping[str, pd.DataFrame],
                    plan: PlanLike = None,
                    as_of: str | dt.date | None = None,
                    villages: pd.DataFrame | None = None) -> pd.DataFrame:
    """Completion of every campaign task of the plan on a date.

    Parameters
    ----------
    tasks : path-like or mapping of str to pandas.DataFrame
        A raw dataset folder (its ``tasks/`` logs are read with :func:`load_tasks`), or
        the logs themselves keyed by table name (``"visits"``, ``"signboards"``, ...),
        as text or typed columns. Not modified.
    plan : Plan or path-like, optional
        A plan or a plan file; default: the shipped plan.
    as_of : str or date, optional
        The evaluation date, ``YYYY-MM-DD`` (default: the last day of the plan year).
    villages : pandas.DataFrame, optional
        Every village that must report a village task (columns ``township``,
        ``village``). Default: the sampling frame ``frame.csv`` when ``tasks`` is a
        dataset folder that has one, else only the villages found in the logs.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TASK_COLUMNS`: ``code``, ``name_zh``, ``township``, ``village``,
        ``month`` (``""`` where the task is not kept at that level), ``required`` (the
        count the plan requires: ``ceil(threshold x denominator)`` for a rate task,
        the threshold or the township's own one for a count task; NaN when the log has
        no denominator for the row), ``achieved``, ``rate`` (``achieved / denominator``
        for a rate task, ``achieved / required`` for a count task), ``due`` (the task's
        window end, or the month's last day), ``verdict`` and ``note``. Tasks come in
        plan order, then rows sorted by township, village and month.

    Raises
    ------
    DataError
        A log misses a column the plan uses, has a bad number, date, month or
        township, or repeats a key; the message names the file, row and column.

    Notes
    -----
    Rows: townships of the plan (or the task's ``townships``) for township tasks; the
    villages of ``villages`` and of the log for village tasks (a village with no log row
    is ``"no record"``: never met, so ``not_met`` once due); for monthly tasks every plan
    month that has begun by ``as_of``. A count task with no record has achieved 0; a
    rate task with no record has NaN required and achieved. A missing log gives every row the note
    ``no log tasks/<table>.csv``.

    Dates: an *observed* date (``as_of`` of signboards and visits) is when a count was
    seen; the latest record on or before the evaluation date counts. An *event* date
    (``test_date``) is when the task was done; an event after ``as_of`` has not
    happened yet.

    Verdict: ``"met"`` when achieved meets required by the plan's comparison (usually
    ``>=``) and the task was not late; otherwise ``"undecided"`` while ``as_of <= due``
    and ``"not_met"`` after. Late means an event dated after the due date, or a
    snapshot on or before the due date that fell short (the requirement was met only
    later); the note says so.

    Examples
    --------
    >>> import pandas as pd
    >>> logs = {"messages": pd.DataFrame({"month": ["2026-03", "2026-05"],
    ...                                   "subscribers": [100, 100],
    ...                                   "messages_sent": [100, 90]})}
    >>> out = task_completion(logs, as_of="2026-07-15")
    >>> m = out[out["code"] == "messages"].reset_index(drop=True)
    >>> m[["month", "required", "achieved", "verdict"]]
         month  required  achieved    verdict
    0  2026-03     100.0     100.0        met
    1  2026-05     100.0      90.0    not_met
    2  2026-07       NaN       NaN  undecided
    """
    plan = as_plan(plan)
    day = resolve_as_of(as_of, plan)
    if isinstance(tasks, (str, os.PathLike)):
        if villages is None and (Path(tasks) / "frame.csv").is_file():
            from pingan_eval.data.readers import read_frame

            villages = read_frame(Path(tasks) / "frame.csv")
        logs = load_tasks(tasks)
    else:
        logs = tasks
    listed = None if villages is None else pd.DataFrame(
        {"township": as_text(villages["township"]), "village": as_text(villages["village"])})
    parts = [_one_task(t, plan, _log(logs, t, plan), day, listed) for t in plan.tasks
             if t.measure != "done"]  # done tasks: the ledger (registers.ledger)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=list(TASK_COLUMNS))
    for col in ("code", "name_zh", "township", "village", "month", "verdict", "note"):
        out[col] = out[col].astype(object)
    return out[list(TASK_COLUMNS)]

