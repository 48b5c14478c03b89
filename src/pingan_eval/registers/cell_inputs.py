"""The safe-cell register and eligible counts read, validated and typed.

:func:`load_registers` reads ``registers/safe_cells.csv`` and ``registers/eligible.csv``;
:class:`Inputs` is what every measure of :mod:`pingan_eval.registers.cells` starts from:
the validated tables, the plan, the day and the procedure checks the register cannot
support (:func:`skipped_checks`).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pingan_eval.errors import DataError
from pingan_eval.plan import NAMING_LEVELS, Plan, PlanLike, as_plan, resolve_as_of
from pingan_eval.registers.columns import as_text, cell_error, counts, dates, known
from pingan_eval.registers.defects import DEFECT_RULES, unsupported

#: Columns the safe-cell register must have.
REGISTER_COLUMNS = ("unit_id", "township", "village", "category", "applied_on", "named_on",
                    "revoked_on")


#: Optional procedure columns; a check whose column is absent is skipped.
PROCEDURE_COLUMNS = ("named_by", "filed_with", "notice_start", "notice_end", "adults",
                     "adults_signed")


_DATES = ("applied_on", "named_on", "revoked_on", "notice_start", "notice_end")


def _register(register: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The register validated and typed: text stripped, dates datetime64, counts float."""
    missing = [c for c in REGISTER_COLUMNS if c not in register.columns]
    if missing:
        source = register.attrs.get("source", "register")
        raise DataError(f"{source}: missing required column(s) {', '.join(missing)}")
    reg = pd.DataFrame(index=register.index)
    reg.attrs.update(register.attrs)
    for col in ("unit_id", "township", "village", "category", "named_by", "filed_with"):
        if col in register.columns:
            reg[col] = as_text(register[col])
    blank_id = reg["unit_id"] == ""
    if blank_id.any():
        raise cell_error(register, "register", blank_id.idxmax(), "unit_id", "unit_id is blank")
    dup = reg["unit_id"].duplicated()
    if dup.any():
        row = dup.idxmax()
        raise cell_error(register, "register", row, "unit_id",
                    f"unit_id {reg.at[row, 'unit_id']!r} appears twice")
    known(register, "register", "township", reg["township"], plan.townships,
           "a township of the plan")
    known(register, "register", "category", reg["category"],
           [t.category for t in plan.cells], "a safe-cell category of the plan")
    for col in ("named_by", "filed_with"):
        if col in reg:
            known(register, "register", col, reg[col], NAMING_LEVELS, "a level",
                   blank_ok=True)
    for col in _DATES:
        if col in register.columns:
            reg[col] = dates(register, "register", col, required=col == "applied_on")
    for col in ("adults", "adults_signed"):
        if col in register.columns:
            reg[col] = counts(register, "register", col, blank_ok=True)
    return reg.reset_index(drop=True)


def _eligible(eligible: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Eligible counts validated: one row per township x category, ``eligible`` float."""
    missing = [c for c in ("township", "category", "eligible") if c not in eligible.columns]
    if missing:
        source = eligible.attrs.get("source", "eligible")
        raise DataError(f"{source}: missing required column(s) {', '.join(missing)}")
    out = pd.DataFrame({"township": as_text(eligible["township"]),
                        "category": as_text(eligible["category"])}, index=eligible.index)
    known(eligible, "eligible", "township", out["township"], plan.townships,
           "a township of the plan")
    known(eligible, "eligible", "category", out["category"],
           [t.category for t in plan.cells], "a safe-cell category of the plan")
    out["eligible"] = counts(eligible, "eligible", "eligible", blank_ok=False)
    dup = out.duplicated(["township", "category"])
    if dup.any():
        row = dup.idxmax()
        raise cell_error(eligible, "eligible", row, "category",
                    f"{out.at[row, 'township']} x {out.at[row, 'category']} appears twice")
    return out.reset_index(drop=True)


def read_registers(raw_dir: str | os.PathLike | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``registers/safe_cells.csv`` and ``registers/eligible.csv`` as read, unvalidated text
    (what :func:`pingan_eval.registers.cells.judge` validates once).

    Raises
    ------
    DataError
        A file or required column is missing or the file is unreadable.
    """
    from pingan_eval.data.readers import read_table
    from pingan_eval.paths import SAMPLE_RAW_DIR

    folder = Path(raw_dir) if raw_dir is not None else SAMPLE_RAW_DIR
    return (read_table(folder / "registers" / "safe_cells.csv", required=REGISTER_COLUMNS),
            read_table(folder / "registers" / "eligible.csv",
                       required=("township", "category", "eligible")))


def load_registers(raw_dir: str | os.PathLike | None = None,
                   plan: PlanLike = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate ``registers/safe_cells.csv`` and ``registers/eligible.csv``.

    Parameters
    ----------
    raw_dir : path-like, optional
        A raw dataset folder (default: the shipped sample, ``data/raw/sample``).
    plan : Plan or path-like, optional
        The plan whose townships and categories are allowed (default: the shipped plan).

    Returns
    -------
    (register, eligible) : tuple of pandas.DataFrame
        The register with text columns stripped, date columns as ``datetime64`` (NaT
        where blank) and ``adults``/``adults_signed`` as float (NaN where blank); the
        eligible counts (``township, category, eligible``). Both are indexed by the
        spreadsheet row (``source_row``) and carry ``attrs["source"]``.

    Raises
    ------
    DataError
        A file or required column is missing; a date is not ``YYYY-MM-DD``; a count is
        not a whole number >= 0; a township, category or level is unknown; a unit_id or
        township x category repeats. The message names the file, row and column.
    """
    plan = as_plan(plan)
    raw_reg, raw_elig = read_registers(raw_dir)
    reg, elig = _register(raw_reg, plan), _eligible(raw_elig, plan)
    reg.index, elig.index = raw_reg.index, raw_elig.index
    return reg, elig


def skipped_checks(register: pd.DataFrame, plan: PlanLike = None) -> list[str]:
    """Codes of the procedure checks the register cannot support, in rule order.

    A check is skipped when a column it needs is absent, or when that column is blank on
    every row of the categories the check applies to (the register does not record it:
    e.g. no family row has notice dates). Reports list these checks as not performed.

    Examples
    --------
    >>> import pandas as pd
    >>> skipped_checks(pd.DataFrame(columns=["unit_id", "named_by", "filed_with"]))
    ['signatures', 'signatures_exceed_adults', 'no_public_notice', 'notice_out_of_order']
    >>> reg = pd.DataFrame({"category": ["family", "shop"], "named_by": "", "filed_with": "",
    ...                     "notice_start": ["", "2026-03-01"], "notice_end": ["", "2026-03-08"],
    ...                     "adults": [2, None], "adults_signed": [2, None]})
    >>> skipped_checks(reg)
    ['no_public_notice']
    """
    plan = as_plan(plan)
    skip = unsupported(register, plan)
    return [code for code in DEFECT_RULES if code in skip]


@dataclass(frozen=True)
class Inputs:
    """Validated register and eligible counts, the plan, the day and the skipped checks."""

    reg: pd.DataFrame
    elig: pd.DataFrame
    plan: Plan
    day: pd.Timestamp
    skip: frozenset[str]

    @classmethod
    def of(cls, register: pd.DataFrame, eligible: pd.DataFrame, plan: PlanLike,
           as_of: str | dt.date | None) -> Inputs:
        plan = as_plan(plan)
        return cls(reg=_register(register, plan), elig=_eligible(eligible, plan), plan=plan,
                   day=resolve_as_of(as_of, plan), skip=frozenset(unsupported(register, plan)))
