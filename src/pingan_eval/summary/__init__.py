"""The period summary: every target of every area judged for one month, in one table.

This layer puts the survey estimates (:mod:`pingan_eval.survey`), the register rates
(:mod:`pingan_eval.registers`) and the plan's targets together; the reports read its
tables and compute nothing themselves.
"""

from pingan_eval.periods import period_end, trailing_periods
from pingan_eval.summary.official import official_rows
from pingan_eval.summary.period import (
    SUMMARY_COLUMNS,
    ensure_prepared,
    period_summary,
    read_summary,
    resolve_plan,
    trend_summary,
)

__all__ = [
    "SUMMARY_COLUMNS",
    "ensure_prepared",
    "official_rows",
    "period_end",
    "period_summary",
    "read_summary",
    "resolve_plan",
    "trailing_periods",
    "trend_summary",
]
