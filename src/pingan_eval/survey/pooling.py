"""Estimates pooled over a window of months, and the covariance between months.

The villages are drawn once and surveyed every month (a fixed panel of PSUs; the
households change), so a village's answers in two months are not independent.
:func:`pooled_estimates` stacks the months of a window (:func:`window_periods`), divides
the weights by the number of months and keeps each village *one* PSU across months
(ultimate cluster). :func:`month_covariance` gives per area the design covariance matrix
of its monthly direct estimates, the input of a time-series small-area model. Weights
are held fixed as prepared (not raked again; see :func:`month_covariance`).

The windows and the stacking are :mod:`pingan_eval.survey._month_stack`, the covariance
:mod:`pingan_eval.survey._month_covariance`; their public names are re-exported here,
where they are imported from.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pingan_eval.survey._month_covariance import COVARIANCE_COLUMNS, month_covariance
from pingan_eval.survey._month_stack import (
    WINDOWS,
    Frames,
    as_list,
    stack_months,
    stacked_weights,
    window_periods,
    window_start,
)
from pingan_eval.survey.design import SurveyDesign

__all__ = ["COVARIANCE_COLUMNS", "WINDOWS", "WINDOW_COLUMNS", "month_covariance",
           "pooled_estimates", "stack_months", "window_periods", "window_start"]

#: Columns :func:`pooled_estimates` appends to the design's result columns.
WINDOW_COLUMNS: tuple[str, ...] = ("window_start", "window_end", "months")


def pooled_estimates(frames: Frames, variables: str | Sequence[str], *,
                     periods: Sequence[str] | None = None, strata: str = "township",
                     psu: str = "village", weights: str = "weight",
                     by: str | Sequence[str] | None = "township", method: str = "logit",
                     level: float = 0.95, lonely_psu: str = "fail",
                     period_column: str = "period") -> pd.DataFrame:
    """Proportions pooled over the months of a window, each village one PSU throughout.

    Parameters
    ----------
    frames : mapping of str to DataFrame, or DataFrame
        Prepared respondents per month, as :func:`stack_months` takes them.
    variables : str or sequence of str
        0/1 indicator columns (NaN for "don't know": the row stays in the design, out of
        the estimate).
    periods : sequence of str, optional
        The window, e.g. ``window_periods("2026-03", "quarter", list(frames))``; default
        every month of ``frames``.
    strata, psu, weights : str
        Stratum (township), PSU (village, the same village in every month) and the
        prepared weight columns. Weights are held fixed as prepared (not raked again).
    by : str, sequence of str or None
        Domains; None for the county.
    method, level, lonely_psu
        As :meth:`pingan_eval.SurveyDesign.proportion` and :class:`SurveyDesign`.
    period_column : str
        Period column of a stacked ``frames`` (added to a mapping's frames).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``variable``, the design's ``estimate, se, ci_low, ci_high,
        df, n, deff``, then ``window_start``, ``window_end`` (``YYYY-MM``) and ``months``
        (the number ``k`` of months pooled). Sorted by the ``by`` values, then the
        variables in the order given.

    Raises
    ------
    EstimationError
        See :func:`stack_months` and :meth:`SurveyDesign.proportion`.
    DesignError
        Unknown column, bad weights, a lonely PSU under ``lonely_psu="fail"``.

    Notes
    -----
    The pooled estimate of a domain is ``P = sum_t sum_i w_i y_i / sum_t sum_i w_i`` over
    the months ``t`` of the window: each month counts with its weight total, and dividing
    every weight by ``k`` keeps the weights a population total (it changes ``deff``
    only). The variance is that of one design with ``strata`` as strata and ``psu`` as
    PSUs over the stacked months, so the monthly totals of a village add up before
    they are centred within its township: the between-month covariance of
    :func:`month_covariance` is included. The df (PSUs minus strata) is a month's, not
    ``k`` times it. R equivalent::

        d <- svydesign(ids = ~village, strata = ~township, weights = ~I(weight / k),
                       nest = TRUE, data = stacked)
        svyby(~y, ~township, d, svyciprop, method = "logit", vartype = c("se", "ci"),
              na.rm = TRUE)
        svyciprop(~y, d, method = "logit", na.rm = TRUE)     # by = None

    References
    ----------
    Kish, L. (1999). Cumulating/combining population surveys. Survey Methodology 25(2),
    129-138.
    """
    names, by_cols = as_list(variables, "variable"), as_list(by)
    stacked = stack_months(frames, periods, period_column=period_column)
    months = sorted(stacked[period_column].unique())
    k = len(months)
    stacked[weights] = stacked_weights(stacked, weights) / k
    design = SurveyDesign(stacked, strata=strata, psu=psu, weights=weights,
                          lonely_psu=lonely_psu)
    parts = []
    for name in names:
        table = design.proportion(name, by=by, method=method, level=level)
        table.insert(len(by_cols), "variable", name)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    if by_cols:
        out = out.sort_values(by_cols, kind="stable", ignore_index=True)
    return out.assign(window_start=months[0], window_end=months[-1], months=k)
