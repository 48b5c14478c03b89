"""The batch's shared estimation step: every estimate once, cached for the notebooks.

:func:`estimate_period` computes the period's summary (vectorized over townships, see
:func:`pingan_eval.summary.period_summary`), the trend over up to twelve prepared months,
the breakdowns and the register judgements; :func:`write_cache` writes them to
``<out>/<period>/_data/``, which is all a report notebook reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pingan_eval.batch.jobs import BatchOptions
from pingan_eval.batch.outputs import csv_text
from pingan_eval.fileio import atomic_directory, atomic_write_text

if TYPE_CHECKING:
    from pingan_eval.registers.judge import RegisterTables

__all__ = ["SharedEstimates", "estimate_period", "write_area_caches", "write_cache"]


#: A safe-cell register this large (about 300 townships' worth) is judged in a worker
#: process while the survey is estimated.
PARALLEL_REGISTER_BYTES = 64 * 2**20


@dataclass(frozen=True, eq=False)
class SharedEstimates:
    """What every report of a period reads (see :func:`estimate_period`).

    Attributes
    ----------
    registers : RegisterTables
        :func:`pingan_eval.registers.judge.judge_registers` of the period.
    table : pandas.DataFrame
        :func:`~pingan_eval.summary.period_summary`.
    trends : pandas.DataFrame
        :func:`~pingan_eval.summary.trend_summary` over ``trend_periods``.
    breakdowns : pandas.DataFrame
        :func:`~pingan_eval.summary.villages.report_breakdowns` of the period's design
        (the villages by the model).
    trend_periods : list of str
        Up to twelve prepared months ending with the period.
    facts : pandas.DataFrame
        :func:`~pingan_eval.summary.facts.sample_facts` of the period.
    peers : pandas.DataFrame
        :func:`~pingan_eval.summary.peers.peer_distribution` of the summary.
    hashes : dict of str to str
        :func:`~pingan_eval.report.methods.input_hashes`.
    seconds : float
        Wall-clock seconds of the estimation.
    """

    registers: RegisterTables
    table: pd.DataFrame
    trends: pd.DataFrame
    breakdowns: pd.DataFrame
    trend_periods: list[str]
    facts: pd.DataFrame
    peers: pd.DataFrame
    hashes: dict[str, str]
    seconds: float


def estimate_period(options: BatchOptions, pool: Executor | None = None) -> SharedEstimates:
    """Judge the registers, summarize the period and its trend, break the survey down.

    Given the batch's worker ``pool`` and a register of at least
    :data:`PARALLEL_REGISTER_BYTES`, the registers are judged in one of its workers while
    this process estimates the survey (the two take about as long for a large county:
    1,000 townships, 43 s instead of 59 s on 2 cores); otherwise here, one after the
    other.

    Raises
    ------
    PlanError, DataError
        From the plan or the summary.
    """
    from pingan_eval.data.processed import cached_reads

    t_est = time.perf_counter()
    with cached_reads():  # each month's design is read once, not once per estimator
        return _estimate(options, t_est, pool)


def _estimate(options: BatchOptions, t_est: float, pool: Executor | None) -> SharedEstimates:
    from pingan_eval.data.prepare import load_design
    from pingan_eval.registers.judge import judge_registers
    from pingan_eval.report.methods import input_hashes
    from pingan_eval.summary import trailing_periods, trend_summary
    from pingan_eval.summary.borrowing import prepared_periods
    from pingan_eval.summary.facts import sample_facts
    from pingan_eval.summary.peers import peer_distribution
    from pingan_eval.summary.period import survey_summary, with_register_rows
    from pingan_eval.summary.villages import report_breakdowns

    period, raw_dir, processed_dir = options.period, options.raw_dir, options.processed_dir
    plan_obj = options.plan
    # a large register is judged in a worker while this process estimates the survey; a
    # small one here (the workers are still starting: waiting for one would cost more)
    register = raw_dir / "registers" / "safe_cells.csv"
    large = register.is_file() and register.stat().st_size >= PARALLEL_REGISTER_BYTES
    judged = (pool.submit(judge_registers, period, raw_dir=raw_dir, plan=plan_obj)
              if pool is not None and large else None)
    survey = survey_summary(period, raw_dir=raw_dir, processed_dir=processed_dir,
                            plan=plan_obj)
    design = load_design(period, processed_dir, lonely_psu=plan_obj.estimation.lonely_psu)
    groups = report_breakdowns(design, survey, plan_obj)
    trend_periods = trailing_periods(period, prepared_periods(raw_dir, processed_dir))
    trends = trend_summary(trend_periods, raw_dir=raw_dir, processed_dir=processed_dir,
                           plan=plan_obj)
    facts = sample_facts(period, raw_dir, processed_dir, plan_obj)
    hashes = input_hashes(period, raw_dir=raw_dir, processed_dir=processed_dir)
    registers = (judged.result() if judged is not None
                 else judge_registers(period, raw_dir=raw_dir, plan=plan_obj))
    table = with_register_rows(survey, period, raw_dir=raw_dir, plan=plan_obj,
                               registers=registers)
    return SharedEstimates(registers=registers, table=table, trends=trends, breakdowns=groups,
                           trend_periods=trend_periods, facts=facts,
                           peers=peer_distribution(table, plan_obj), hashes=hashes,
                           seconds=time.perf_counter() - t_est)


def write_cache(data_dir: Path, estimates: SharedEstimates) -> dict[str, str]:
    """Write the estimates to ``data_dir``; the notebook parameters naming the files.

    ``data_dir`` holds ``summary.csv``, ``trends.csv``, ``breakdowns.csv``, ``registers/``
    (:func:`~pingan_eval.registers.judge.write_register_tables`), ``facts.csv``,
    ``peers.csv`` and ``inputs.json``: what
    :func:`pingan_eval.report.load_inputs` reads from a ``cache_dir``. Returns
    ``cache_dir`` and, for notebooks that take the files one by one, ``summary_path``,
    ``trend_path``, ``breakdowns_path`` and ``registers_dir``.
    """
    return _write_tables(data_dir, estimates.table, estimates.trends, estimates.breakdowns,
                         estimates.registers, estimates.facts, estimates)


def write_area_caches(data_dir: Path, estimates: SharedEstimates,
                      stems: Mapping[str, str], *, full_rows: int) -> dict[str, dict[str, str]]:
    """One cache folder per township, ``data_dir/<stem>/`` (the batch's
    ``_data/areas/``): only the rows its report shows.

    Each holds the files of :func:`write_cache` restricted to the township (and the
    county's rows, which its charts draw beside it), so a report reads no more for a
    county of a thousand townships than for one of seven. A county of at most
    ``full_rows`` townships keeps every township in each summary: its forest plot lists
    them all (:data:`~pingan_eval.report.charts.FOREST_FULL_ROWS`).

    Returns
    -------
    dict
        Township -> its notebook parameters (as :func:`write_cache` returns them).
    """
    from pingan_eval.registers.judge import area_tables

    table, trends, groups = estimates.table, estimates.trends, estimates.breakdowns
    county = estimates.facts.loc[estimates.facts["area_level"] == "county", "area"].tolist()
    few = table.loc[table["area_level"] == "township", "area"].nunique() <= full_rows
    by_area = {a: rows for a, rows in table.groupby("area", sort=False)}
    trend_by = {a: rows for a, rows in trends.groupby("area", sort=False)}
    group_by = {a: rows for a, rows in groups.groupby("area", sort=False)}
    facts_by = {a: rows for a, rows in estimates.facts.groupby("area", sort=False)}
    county_rows = pd.concat([by_area[c] for c in county if c in by_area])
    county_trend = pd.concat([trend_by[c] for c in county if c in trend_by] or [trends[:0]])
    out = {}
    # thousands of small files: built aside without a sync each, put in place at once
    with atomic_directory(data_dir) as tmp:
        for town, stem in stems.items():
            own = table if few else pd.concat([county_rows, by_area.get(town, table[:0])])
            _write_tables(
                tmp / stem, own.sort_index(),
                pd.concat([county_trend, trend_by.get(town, trends[:0])]).sort_index(),
                group_by.get(town, groups[:0]), area_tables(estimates.registers, town),
                pd.concat([estimates.facts[estimates.facts["area_level"] == "county"],
                           facts_by.get(town, estimates.facts[:0])]), estimates,
                atomic=False)
            out[town] = _parameters(data_dir / stem)
    return out


def _write_tables(folder: Path, table: pd.DataFrame, trends: pd.DataFrame,
                  breakdowns: pd.DataFrame, registers: RegisterTables, facts: pd.DataFrame,
                  estimates: SharedEstimates, *, atomic: bool = True) -> dict[str, str]:
    from pingan_eval.registers.judge import write_register_tables

    def write(name: str, text: str) -> None:
        if atomic:
            atomic_write_text(folder / name, text)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8", newline="")

    write("summary.csv", csv_text(table))
    write("trends.csv", csv_text(trends))
    write("breakdowns.csv", csv_text(breakdowns))
    write_register_tables(registers, folder / "registers", atomic=atomic)
    write("facts.csv", csv_text(facts))
    write("peers.csv", csv_text(estimates.peers))
    write("inputs.json", json.dumps(estimates.hashes, ensure_ascii=False, indent=1) + "\n")
    return _parameters(folder)


def _parameters(folder: Path) -> dict[str, str]:
    """The notebook parameters naming a cache folder's files."""
    return {"cache_dir": str(folder), "summary_path": str(folder / "summary.csv"),
            "trend_path": str(folder / "trends.csv"),
            "breakdowns_path": str(folder / "breakdowns.csv"),
            "registers_dir": str(folder / "registers")}
