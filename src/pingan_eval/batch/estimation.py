"""The batch's shared estimation step: every estimate once, cached for the notebooks.

:func:`estimate_period` computes the period's summary (vectorized over townships, see
:func:`pingan_eval.summary.period_summary`), the trend over up to twelve prepared months,
the breakdowns and the register judgements; :func:`write_cache` writes them to
``<out>/<period>/_data/``, which is all a report notebook reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pingan_eval.batch.jobs import BatchOptions
from pingan_eval.batch.outputs import csv_text
from pingan_eval.fileio import atomic_write_text

if TYPE_CHECKING:
    from pingan_eval.registers.judge import RegisterTables

__all__ = ["SharedEstimates", "estimate_period", "write_cache"]


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
    seconds : float
        Wall-clock seconds of the estimation.
    """

    registers: RegisterTables
    table: pd.DataFrame
    trends: pd.DataFrame
    breakdowns: pd.DataFrame
    trend_periods: list[str]
    seconds: float


def estimate_period(options: BatchOptions) -> SharedEstimates:
    """Judge the registers, summarize the period and its trend, break the survey down.

    Raises
    ------
    PlanError, DataError
        From the plan or the summary.
    """
    from pingan_eval.data.prepare import load_design
    from pingan_eval.registers.judge import judge_registers
    from pingan_eval.summary import period_summary, trailing_periods, trend_summary
    from pingan_eval.summary.borrowing import prepared_periods
    from pingan_eval.summary.villages import report_breakdowns

    period, raw_dir, processed_dir = options.period, options.raw_dir, options.processed_dir
    plan_obj = options.plan
    t_est = time.perf_counter()
    registers = judge_registers(period, raw_dir=raw_dir, plan=plan_obj)
    table = period_summary(period, raw_dir=raw_dir, processed_dir=processed_dir,
                           plan=plan_obj, registers=registers)
    trend_periods = trailing_periods(period, prepared_periods(raw_dir, processed_dir))
    trends = trend_summary(trend_periods, raw_dir=raw_dir, processed_dir=processed_dir,
                           plan=plan_obj)
    design = load_design(period, processed_dir, lonely_psu=plan_obj.estimation.lonely_psu)
    groups = report_breakdowns(design, table, plan_obj)
    return SharedEstimates(registers=registers, table=table, trends=trends, breakdowns=groups,
                           trend_periods=trend_periods, seconds=time.perf_counter() - t_est)


def write_cache(data_dir: Path, estimates: SharedEstimates) -> dict[str, str]:
    """Write the estimates to ``data_dir``; the notebook parameters naming the files.

    Returns ``summary_path``, ``trend_path``, ``breakdowns_path`` (CSV) and
    ``registers_dir`` (:func:`~pingan_eval.registers.judge.write_register_tables`).
    """
    from pingan_eval.registers.judge import write_register_tables

    summary_path = atomic_write_text(data_dir / "summary.csv", csv_text(estimates.table))
    trend_path = atomic_write_text(data_dir / "trends.csv", csv_text(estimates.trends))
    breakdowns_path = atomic_write_text(data_dir / "breakdowns.csv",
                                        csv_text(estimates.breakdowns))
    registers_dir = write_register_tables(estimates.registers, data_dir / "registers")
    return {"summary_path": str(summary_path), "trend_path": str(trend_path),
            "breakdowns_path": str(breakdowns_path), "registers_dir": str(registers_dir)}
