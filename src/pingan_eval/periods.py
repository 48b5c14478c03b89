"""Calendar months as the project speaks of them: ``YYYY-MM`` periods and their last days."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pingan_eval.errors import ReportError

__all__ = ["period_end", "trailing_periods"]


def period_end(period: str) -> pd.Timestamp:
    """The last day of month ``period`` (``YYYY-MM``): the date registers are judged on.

    Examples
    --------
    >>> period_end("2026-02")
    Timestamp('2026-02-28 00:00:00')
    """
    return pd.Period(period, freq="M").end_time.normalize()


def trailing_periods(period: str, available: Sequence[str], n: int = 12) -> list[str]:
    """The (at most) ``n`` available months ending with ``period``, oldest first.

    Raises
    ------
    ReportError
        ``period`` is not among ``available``.

    Examples
    --------
    >>> trailing_periods("2026-03", ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"], 3)
    ['2026-01', '2026-02', '2026-03']
    """
    months = sorted(set(available))
    if period not in months:
        raise ReportError(f"period {period!r} has no prepared survey wave; "
                          f"available: {', '.join(months) or 'none'}")
    end = pd.Period(period, freq="M")
    return [m for m in months if end - n < pd.Period(m, freq="M") <= end]
