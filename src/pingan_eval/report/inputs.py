"""What a report notebook reads: the period summary, the trend, the registers, breakdowns.

A batch hands the notebooks cached tables (``summary_path``, ``breakdowns_path``,
``registers_dir``); opened alone in JupyterLab a notebook computes them here through the
summary layer. Nothing here computes a statistic itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pingan_eval import paths, workspace
from pingan_eval.plan import Plan, as_plan
from pingan_eval.summary import (
    ensure_prepared,
    period_summary,
    read_summary,
    trailing_periods,
    trend_summary,
)
from pingan_eval.survey.breakdowns import BREAKDOWN_BY, BREAKDOWN_COLUMNS, breakdowns

if TYPE_CHECKING:

    from pingan_eval.registers.judge import RegisterTables


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report notebook reads, resolved once by :func:`load_inputs`."""

    period: str
    raw_dir: Path
    processed_dir: Path
    plan: Plan
    summary: pd.DataFrame
    trend: pd.DataFrame
    breakdowns_path: Path | None = None
    registers: RegisterTables | None = None
    #: :func:`~pingan_eval.summary.facts.sample_facts`, cached by the batch (else None:
    #: :func:`~pingan_eval.report.methods_table` reads the sample itself).
    facts: pd.DataFrame | None = None
    #: :func:`~pingan_eval.summary.peers.peer_distribution` of a large county's batch.
    peers: pd.DataFrame | None = None
    #: Input file -> SHA-256, hashed once by the batch (else the provenance table hashes).
    hashes: dict[str, str] | None = None


def load_inputs(period: str, *, raw_dir: str | os.PathLike | None = None,
                processed_dir: str | os.PathLike | None = None,
                plan_path: str | os.PathLike | None = None,
                summary_path: str | os.PathLike | None = None,
                trend_path: str | os.PathLike | None = None,
                breakdowns_path: str | os.PathLike | None = None,
                registers_dir: str | os.PathLike | None = None,
                cache_dir: str | os.PathLike | None = None) -> ReportInputs:
    """Resolve a report notebook's parameters into its inputs.

    Parameters
    ----------
    period : str
        ``YYYY-MM``.
    raw_dir, processed_dir : path or None
        ``None``: those of the workspace (:func:`pingan_eval.workspace.current`: the one
        holding the working directory, or ``$PINGAN_EVAL_WORKSPACE``); in the source
        checkout the shipped sample (:data:`pingan_eval.paths.SAMPLE_RAW_DIR`) and
        :data:`pingan_eval.paths.PROCESSED_DIR`.
    plan_path : path or None
        ``None``: the workspace's plan (in the checkout: the shipped plan).
    summary_path, trend_path : path or None
        CSV files of :func:`~pingan_eval.summary.period_summary` (this period) and
        :func:`~pingan_eval.summary.trend_summary`, as ``pingan-eval batch`` writes them
        once for all notebooks. ``None``: compute them here, preparing any survey wave
        that has no processed data yet (:func:`~pingan_eval.summary.ensure_prepared`);
        the trend covers the twelve months up to `period`.
    breakdowns_path : path or None
        CSV of :func:`all_breakdowns`, written once by the batch; ``None``:
        :func:`area_breakdowns` computes them in the notebook.
    registers_dir : path or None
        Folder of :func:`pingan_eval.registers.judge.write_register_tables`, written once by
        the batch; ``None``: the registers are judged here, once, for the summary (when
        computed here), :func:`register_detail` and :func:`task_detail`.
    cache_dir : path or None
        A folder of :func:`pingan_eval.batch.estimation.write_cache` (the county's) or
        ``write_area_cache`` (one township's rows only): the four files above where they
        are not given, and the sample facts, the townships' spread and the input hashes
        (``facts.csv``, ``peers.csv``, ``inputs.json``) where present.

    Returns
    -------
    ReportInputs

    Raises
    ------
    ReportError
        The summary file has no row for `period`, or `period` has no survey wave.
    """
    from pingan_eval.errors import ReportError
    from pingan_eval.registers.judge import judge_registers, read_register_tables

    facts = peers = hashes = None
    if cache_dir is not None:
        cache = Path(cache_dir)
        summary_path = summary_path or cache / "summary.csv"
        trend_path = trend_path or cache / "trends.csv"
        breakdowns_path = breakdowns_path or cache / "breakdowns.csv"
        registers_dir = registers_dir or cache / "registers"
        facts, peers, hashes = _cached_extras(cache)
    # None: the workspace's folders and plan (the checkout's: the shipped sample)
    ws = workspace.current() if None in (raw_dir, processed_dir, plan_path) else None
    raw = Path(raw_dir) if raw_dir is not None else ws.raw if ws else paths.SAMPLE_RAW_DIR
    processed = (Path(processed_dir) if processed_dir is not None
                 else ws.processed if ws else paths.PROCESSED_DIR)
    plan = as_plan(plan_path if plan_path is not None or ws is None or ws.plan_is_shipped
                   else ws.plan)
    registers = (read_register_tables(registers_dir) if registers_dir is not None
                 else judge_registers(period, raw_dir=raw, plan=plan))
    computing = summary_path is None or trend_path is None
    months = ensure_prepared(raw, processed) if computing else []
    if summary_path is not None:
        summary = read_summary(summary_path)
        summary = summary[summary["period"] == period].reset_index(drop=True)
        if summary.empty:
            raise ReportError(f"{summary_path}: no rows for period {period!r}")
    else:
        summary = period_summary(period, raw_dir=raw, processed_dir=processed, plan=plan,
                                 registers=registers)
    if trend_path is not None:
        trend = read_summary(trend_path)
    else:
        trend = trend_summary(trailing_periods(period, months), processed_dir=processed,
                              plan=plan)
    cached = Path(breakdowns_path) if breakdowns_path is not None else None
    return ReportInputs(period, raw, processed, plan, summary, trend, cached, registers,
                        facts, peers, hashes)


def _cached_extras(cache: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None,
                                         dict[str, str] | None]:
    import json

    from pingan_eval.summary.facts import read_facts
    from pingan_eval.summary.peers import read_peers

    facts = read_facts(cache / "facts.csv") if (cache / "facts.csv").is_file() else None
    peers = read_peers(cache / "peers.csv") if (cache / "peers.csv").is_file() else None
    hashes = (json.loads((cache / "inputs.json").read_text(encoding="utf-8"))
              if (cache / "inputs.json").is_file() else None)
    return facts, peers, hashes


def register_tables(period: str, raw_dir: str | os.PathLike, plan: Plan,
                     registers: RegisterTables | None) -> RegisterTables:
    """``registers`` when given, else the registers judged here."""
    from pingan_eval.registers.judge import judge_registers

    return registers if registers is not None else judge_registers(
        period, raw_dir=raw_dir, plan=plan)


def read_breakdowns(path: str | os.PathLike, area: str, *,
                    by: Sequence[str] = BREAKDOWN_BY) -> pd.DataFrame:
    """The rows of ``area`` from a CSV of :func:`all_breakdowns`, as :func:`breakdowns` gives.

    No row for ``area`` (a township without any respondent this month) gives an empty
    table with those columns.

    Raises
    ------
    ReportError
        The file lacks a column.
    """
    from pingan_eval.errors import ReportError

    table = pd.read_csv(path, dtype={"area": str, "breakdown": str, "level": str,
                                     "indicator": str}, keep_default_na=False,
                        na_values=[""], encoding="utf-8")
    missing = [c for c in ("area", *BREAKDOWN_COLUMNS) if c not in table.columns]
    if missing:
        raise ReportError(f"{path}: not a breakdown table; missing column(s) {missing}")
    rows = table[(table["area"] == area) & table["breakdown"].isin(list(by))]
    rows = rows.assign(flag_reason=rows["flag_reason"].fillna(""))
    return rows[BREAKDOWN_COLUMNS].reset_index(drop=True)


def area_breakdowns(area: str, inputs: ReportInputs, *,
                    by: Sequence[str] = BREAKDOWN_BY) -> pd.DataFrame:
    """What a notebook shows as breakdowns: the batch's cached table, else computed here
    (:func:`pingan_eval.summary.villages.report_breakdowns`: villages by the model)."""
    if inputs.breakdowns_path is not None:
        return read_breakdowns(inputs.breakdowns_path, area, by=by)
    from pingan_eval.data.prepare import load_design
    from pingan_eval.summary.villages import report_breakdowns

    design = load_design(inputs.period, inputs.processed_dir,
                         lonely_psu=inputs.plan.estimation.lonely_psu)
    if area == inputs.plan.county or "village" not in by:
        return breakdowns(design, area, plan=inputs.plan, by=by)
    groups = report_breakdowns(design, inputs.summary, inputs.plan)
    rows = groups[(groups["area"] == area) & groups["breakdown"].isin(list(by))]
    return rows[BREAKDOWN_COLUMNS].reset_index(drop=True)


def sample_advice(period: str, inputs: ReportInputs):
    """:func:`pingan_eval.summary.advice.sample_advice` for the report's data and plan."""
    from pingan_eval.summary.advice import sample_advice as advise

    return advise(period, raw_dir=inputs.raw_dir, processed_dir=inputs.processed_dir,
                  plan=inputs.plan)
