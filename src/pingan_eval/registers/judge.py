"""The administrative registers judged once for a month, and their cache for the batch.

A report shows, per area, the safe-cell naming rates, procedure defects, skipped checks
and open campaign tasks. :func:`judge_registers` computes them for every township at once
(:mod:`pingan_eval.registers.cells`, :mod:`pingan_eval.registers.tasks`); ``pingan-eval batch``
writes the
result to ``_data/registers/`` with :func:`write_register_tables`, and every notebook
reads it back with :func:`read_register_tables` instead of re-reading the registers: the
work then grows with the number of townships, not with its square.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pingan_eval.errors import ReportError
from pingan_eval.fileio import atomic_write_text
from pingan_eval.plan import Plan

__all__ = ["RegisterTables", "area_tables", "judge_registers", "read_register_tables",
           "write_register_tables"]


@dataclass(frozen=True)
class RegisterTables:
    """The registers of one month, judged on its last day, for every township.

    Attributes
    ----------
    naming_rates : pandas.DataFrame
        :func:`pingan_eval.registers.cells.naming_rates` (empty without a safe-cell register).
    defects : pandas.DataFrame
        :func:`pingan_eval.registers.cells.procedure_defects`.
    standards : pandas.DataFrame
        :func:`pingan_eval.registers.cells.township_standards`.
    structural : pandas.DataFrame
        :func:`pingan_eval.registers.cells.structural_targets`.
    skipped_checks : pandas.DataFrame
        One column ``rule``: :func:`pingan_eval.registers.cells.skipped_checks`, in rule order.
    tasks : pandas.DataFrame
        :func:`pingan_eval.registers.tasks.task_completion` (empty without task logs).
    has_register : bool
        False when the dataset has no ``registers/safe_cells.csv``.
    task_status : pandas.DataFrame
        :func:`pingan_eval.registers.ledger.task_status`: every task by department
        (empty without task logs and ledger).
    """

    naming_rates: pd.DataFrame
    defects: pd.DataFrame
    standards: pd.DataFrame
    structural: pd.DataFrame
    skipped_checks: pd.DataFrame
    tasks: pd.DataFrame
    has_register: bool
    task_status: pd.DataFrame = field(default_factory=pd.DataFrame)


#: How each cached table's columns are read back: dates, whole numbers, booleans,
#: floats; every other column is text ("" where blank, never NaN).
_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "naming_rates": {"date": ("window_start", "window_end"),
                     "int": ("eligible", "named", "defective", "revoked"),
                     "float": ("rate", "target")},
    "defects": {},
    "standards": {"int": ("categories", "categories_met", "overdue", "defects"),
                  "bool": ("standard", "excellent")},
    "structural": {"date": ("due",),
                   "float": ("numerator", "denominator", "rate", "value", "target",
                             "baseline")},
    "skipped_checks": {},
    "tasks": {"date": ("due",), "float": ("required", "achieved", "rate")},
    "task_status": {"date": ("due", "done_date"), "float": ("required", "achieved")},
}
_TABLES = tuple(_TYPES)
_MARKER = "has_register.txt"


def judge_registers(period: str, *, raw_dir: str | os.PathLike,
                    plan: Plan) -> RegisterTables:
    """Judge the safe-cell register and the task logs of ``raw_dir`` on the month's last day.

    Parameters
    ----------
    period : str
        ``YYYY-MM``.
    raw_dir : path
        Raw dataset folder with ``registers/`` and ``tasks/`` (either may be absent).
    plan : Plan

    Returns
    -------
    RegisterTables
    """
    from pingan_eval.periods import period_end
    from pingan_eval.registers import cells, ledger, tasks
    from pingan_eval.registers.cell_inputs import read_registers

    as_of = period_end(period)
    raw = Path(raw_dir)
    has_register = (raw / "registers" / "safe_cells.csv").is_file()
    if has_register:
        # the text as read: judge validates it once (loading typed tables would do it twice)
        judged = cells.judge(*read_registers(raw), plan=plan, as_of=as_of)
        rates, defects, standards = judged.naming_rates, judged.defects, judged.standards
        structural, skipped = judged.structural, judged.skipped_checks
    else:
        rates = defects = standards = structural = pd.DataFrame()
        skipped = []
    done = (tasks.task_completion(raw, plan=plan, as_of=as_of)
            if (raw / "tasks").is_dir() else pd.DataFrame())
    status = (ledger.task_status(ledger.ledger_path(raw), plan=plan, as_of=as_of,
                                 completion=done if len(done) else None)
              if (raw / "tasks").is_dir() else pd.DataFrame())
    return RegisterTables(naming_rates=rates, defects=defects, standards=standards,
                          structural=structural,
                          skipped_checks=pd.DataFrame({"rule": skipped}, dtype=object),
                          tasks=done, has_register=has_register, task_status=status)


def write_register_tables(tables: RegisterTables, folder: str | os.PathLike, *,
                          atomic: bool = True) -> Path:
    """Write ``tables`` as CSV files into ``folder``; return the folder.

    Each file is written atomically, unless ``atomic=False``: for a folder that is itself
    built aside and then put in place whole (the batch's per-township caches).
    """
    folder = Path(folder)
    write = atomic_write_text if atomic else _plain_write
    for name in _TABLES:
        table: pd.DataFrame = getattr(tables, name)
        write(folder / f"{name}.csv", table.to_csv(index=False, lineterminator="\n"))
    write(folder / _MARKER, f"{tables.has_register}\n")
    return folder


def _plain_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def read_register_tables(folder: str | os.PathLike) -> RegisterTables:
    """Read what :func:`write_register_tables` wrote; the tables compare equal to the originals.

    Raises
    ------
    ReportError
        A file is missing or a cached column cannot be read as its type (the message
        names the file and column).
    """
    folder = Path(folder)
    out: dict[str, object] = {}
    for name, types in _TYPES.items():
        path = folder / f"{name}.csv"
        if not path.is_file():
            raise ReportError(f"{path}: missing; re-run `pingan-eval batch` to rebuild the cache")
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except pd.errors.EmptyDataError:  # a table with no columns (no register)
            table = pd.DataFrame()
        out[name] = _typed(table, types, path)
    marker = folder / _MARKER
    if not marker.is_file():
        raise ReportError(f"{marker}: missing; re-run `pingan-eval batch` to rebuild the cache")
    out["has_register"] = marker.read_text(encoding="utf-8").strip() == "True"
    return RegisterTables(**out)


def _typed(table: pd.DataFrame, types: dict[str, tuple[str, ...]], path: Path) -> pd.DataFrame:
    for kind, columns in types.items():
        for col in columns:
            if col not in table.columns:
                if table.columns.empty:
                    continue
                raise ReportError(f"{path}: column {col!r} is missing")
            text = table[col]
            try:
                if kind == "date":
                    table[col] = pd.to_datetime(text.replace("", None), format="%Y-%m-%d")
                elif kind == "int":
                    table[col] = text.astype("int64")
                elif kind == "bool":
                    if not text.isin(["True", "False"]).all():
                        raise ValueError("values other than True/False")
                    table[col] = text.eq("True")
                else:
                    table[col] = pd.to_numeric(text.replace("", None)).astype(float)
            except (ValueError, TypeError) as exc:
                raise ReportError(f"{path}: column {col!r} is not {kind}: {exc}") from None
    return table


def area_tables(tables: RegisterTables, township: str) -> RegisterTables:
    """The rows of ``tables`` one township's report shows: its own, and the county-wide ones
    (blank ``township``); tables without a ``township`` column whole."""
    def rows(table: pd.DataFrame) -> pd.DataFrame:
        if "township" not in table.columns:
            return table
        return table[table["township"].isin([township, ""])].reset_index(drop=True)

    return RegisterTables(**{name: rows(getattr(tables, name)) for name in _TABLES},
                          has_register=tables.has_register)
