"""Estimates that borrow strength: pooled months and the township-by-month model.

A township's monthly direct estimate rests on 5-6 villages (4-5 design degrees of
freedom), so against a 95 % target most months are undecided. Two estimators borrow:

- ``pooled``: the prepared respondents of a window of months (default
  quarter to date and year to date) stacked, weights divided
  by the number of months, each village one PSU throughout
  (:func:`pingan_eval.survey.pooling.pooled_estimates`);
- ``model``: the township + AR(1) township-month model on the arcsine scale
  (:func:`pingan_eval.survey.township_month.township_month_realtime`), fed the monthly
  direct estimates, design effects smoothed over months and townships, and the design's
  correlation between a township's months
  (:func:`pingan_eval.survey.pooling.month_covariance`).

The model of month t uses the months of t's calendar (plan) year up to t and nothing
later, so a published report never changes when later waves arrive. This module
assembles rows in the shape of the period summary; the statistics are in
:mod:`pingan_eval.survey`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.errors import EstimationError
from pingan_eval.plan import Plan

__all__ = ["MonthPanel", "borrowed_rows", "model_rows", "month_panel", "model_year",
           "pooled_rows", "prepared_periods"]

#: Column order of the survey rows this module returns (then ``period`` and the text).
_ROW_STATS = ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff")


@dataclass(frozen=True)
class MonthPanel:
    """The prepared months an estimate may borrow from, loaded once.

    Attributes
    ----------
    periods : list of str
        The months, oldest first.
    respondents : dict
        Period -> prepared respondents (``township, village, weight`` and the indicators).
    direct : pandas.DataFrame
        The monthly direct township estimates of every survey indicator:
        ``period, township, indicator, estimate, se, df, n, deff``.
    """

    periods: list[str]
    respondents: dict[str, pd.DataFrame]
    direct: pd.DataFrame


def model_year(period: str, available: Sequence[str]) -> list[str]:
    """The months the model of ``period`` uses: its calendar year's available months up to it.

    Examples
    --------
    >>> model_year("2026-03", ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"])
    ['2026-01', '2026-02', '2026-03']
    """
    year = period[:4]
    return sorted(m for m in set(available) if m[:4] == year and m <= period)


def month_panel(periods: Sequence[str], processed_dir: str | os.PathLike,
                plan: Plan) -> MonthPanel:
    """Load the prepared respondents and the direct township estimates of ``periods``."""
    from pingan_eval.data.prepare import load_design, load_respondents

    respondents, direct = {}, []
    for period in sorted(set(periods)):
        design = load_design(period, processed_dir, lonely_psu=plan.estimation.lonely_psu)
        respondents[period] = load_respondents(period, processed_dir)
        for target in plan.survey:
            est = design.proportion(target.code, by="township")
            direct.append(est.assign(period=period, indicator=target.code))
    table = pd.concat(direct, ignore_index=True) if direct else pd.DataFrame()
    return MonthPanel(sorted(set(periods)), respondents, table)


def model_rows(panel: MonthPanel, plan: Plan, periods: Sequence[str], *,
               level: float = 0.95) -> pd.DataFrame:
    """Model estimates of every township and survey indicator for each of ``periods``.

    Month t is fitted on :func:`model_year` (t) only; ``panel`` must hold those months.

    Returns
    -------
    pandas.DataFrame
        ``period, area, indicator, estimate, se, ci_low, ci_high, df, n, deff,
        shrinkage, break_period`` for every township-month with a direct estimate of
        positive df (one sampled village gives none): ``se`` is the root MSE on the
        rate scale (variance components' uncertainty included), ``df`` infinite
        (normal intervals), ``n`` the month's respondents, ``deff`` NaN.
    """
    from pingan_eval.survey.month_correlation import lag_correlation
    from pingan_eval.survey.pooling import month_covariance
    from pingan_eval.survey.township_month import smooth_deff, township_month_realtime

    years: dict[str, list[str]] = {}
    for period in periods:
        years.setdefault(period[:4], []).append(period)
    frames = []
    for wanted in years.values():
        months = model_year(max(wanted), panel.periods)
        codes = [t.code for t in plan.survey]
        direct = panel.direct[panel.direct["period"].isin(months)]
        cov = month_covariance({m: panel.respondents[m] for m in months}, codes,
                               strata="township", psu="village", weights="weight",
                               by="township", lonely_psu=plan.estimation.lonely_psu)
        for code in codes:
            table = direct[direct["indicator"] == code]
            # a township-month with respondents in one village has no design variance of
            # its own: it is left out (the model gives it no row) rather than stop the fit
            table = table[np.isfinite(table["estimate"]) & (table["df"] > 0)]
            table = smooth_deff(table, area="township", period="period")
            corr = lag_correlation(cov.loc[cov["variable"] == code,
                                           ["township", "period_a", "period_b", "corr"]])
            fit = township_month_realtime(table, corr, area="township", period="period",
                                          estimate="estimate", n_eff="n_eff", level=level)
            est = fit.estimates[fit.estimates["period"].isin(wanted)]
            n = table.set_index(["township", "period"])["n"]
            frames.append(pd.DataFrame({
                "period": est["period"].to_numpy(), "area": est["township"].to_numpy(),
                "indicator": code, "estimate": est["estimate"].to_numpy(),
                "se": np.sqrt(est["mse"].to_numpy()), "ci_low": est["ci_low"].to_numpy(),
                "ci_high": est["ci_high"].to_numpy(), "df": np.inf,
                "n": n.reindex(list(zip(est["township"], est["period"], strict=True)))
                .to_numpy(dtype=float),
                "deff": np.nan, "shrinkage": est["shrinkage"].to_numpy(),
                "break_period": est["break_period"].to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pooled_rows(panel: MonthPanel, plan: Plan, period: str, *,
                windows: Sequence[str] = ("quarter", "ytd"),
                level: float = 0.95) -> pd.DataFrame:
    """Pooled estimates for the county and every township over ``windows``.

    A window of one month is the month's direct estimate and gives no pooled row.

    Returns
    -------
    pandas.DataFrame
        ``period, window, window_start, area, area_level, indicator, estimate, se,
        ci_low, ci_high, df, n, deff``.
    """
    from pingan_eval.survey.pooling import pooled_estimates, window_periods

    codes = [t.code for t in plan.survey]
    frames = []
    for window in windows:
        months = window_periods(period, window, panel.periods)
        if len(months) < 2:
            continue
        data = {m: panel.respondents[m] for m in months}
        lonely = plan.estimation.lonely_psu
        towns = pooled_estimates(data, codes, by="township", method="logit", level=level,
                                 lonely_psu=lonely)
        county = pooled_estimates(data, codes, by=None, method="logit", level=level,
                                  lonely_psu=lonely)
        both = pd.concat([
            county.assign(area=plan.county, area_level="county"),
            towns.rename(columns={"township": "area"}).assign(area_level="township")],
            ignore_index=True)
        frames.append(both.rename(columns={"variable": "indicator"}).assign(
            period=period, window=window, window_start=months[0]))
    cols = ["period", "window", "window_start", "area", "area_level", "indicator",
            *_ROW_STATS]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def prepared_periods(raw_dir: str | os.PathLike,
                     processed_dir: str | os.PathLike) -> list[str]:
    """The months prepared into ``processed_dir`` (those with a ``validation.json``), sorted.

    Where ``raw_dir`` has survey waves, only months that are still waves there count, so a
    stale folder of a wave since removed is not borrowed from.
    """
    from pingan_eval.data.prepare import available_periods

    root = Path(processed_dir)
    if not root.is_dir():
        return []
    done = sorted(d.name for d in root.iterdir()
                  if re.fullmatch(r"\d{4}-\d{2}", d.name) and (d / "validation.json").is_file())
    if (Path(raw_dir) / "survey").is_dir():
        waves = set(available_periods(raw_dir))
        done = [m for m in done if m in waves]
    return done


def borrowed_rows(periods: Sequence[str], available: Sequence[str],
                  processed_dir: str | os.PathLike, plan: Plan, *,
                  windows: Sequence[str] | None = None) -> pd.DataFrame:
    """Pooled and model rows of ``periods``, judged against the plan, in summary shape.

    Parameters
    ----------
    periods : sequence of str
        The months to estimate (each must be in ``available``).
    available : sequence of str
        Every prepared month (:func:`prepared_periods`): what the windows and the model
        may borrow from. The model of month t uses :func:`model_year` (t) only.
    processed_dir : path
        Folder of ``pingan-eval prepare`` output.
    plan : Plan
        Indicators, thresholds, pooling windows (``plan.estimation``).
    windows : sequence of str, optional
        The pooling windows of each month; default ``plan.estimation.pooled_windows``
        (the trend charts need only the official one).

    Returns
    -------
    pandas.DataFrame
        ``period, area, area_level, indicator, name_zh, source, estimator, window_start,
        estimate, se, ci_low, ci_high, df, n, deff, target, verdict, flag, flag_reason``.
        Pooled rows are flagged as design-based estimates
        (:func:`pingan_eval.survey.reliability`); model rows are flagged ``ok`` (their
        interval is the model's root MSE, normal). A window no longer than one month
        gives no pooled row, and two windows covering the same months give one. Where the
        model cannot be fitted (:class:`~pingan_eval.errors.EstimationError`) a warning
        says why and the months get no model rows; their official verdict falls back to
        the direct estimate.
    """
    from pingan_eval.survey.pooling import window_periods
    from pingan_eval.survey.reliability import reliability
    from pingan_eval.survey.targets import evaluate

    windows = plan.estimation.pooled_windows if windows is None else tuple(windows)
    needed: set[str] = set()
    for period in periods:
        needed.update(model_year(period, available))
        for window in windows:
            needed.update(window_periods(period, window, available))
    panel = month_panel(sorted(needed), processed_dir, plan)
    frames = []
    if windows:
        for period in periods:
            rows = pooled_rows(panel, plan, period, windows=windows)
            rows = rows.drop_duplicates(["area", "indicator", "window_start"])
            frames.append(reliability(rows.drop(columns="window").reset_index(drop=True))
                          .assign(estimator="pooled"))
    try:
        model = model_rows(panel, plan, periods)
    except EstimationError as exc:
        warnings.warn(f"township-by-month model not fitted for {', '.join(periods)}: {exc}; "
                      "the townships' official verdicts fall back to the direct estimate",
                      stacklevel=2)
        model = pd.DataFrame()
    if len(model):
        frames.append(model.drop(columns=["shrinkage", "break_period"]).assign(
            area_level="township", window_start=model["period"], estimator="model",
            flag="ok", flag_reason=""))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    names = {t.code: (t.name_zh, t.threshold) for t in plan.survey}
    out["name_zh"] = out["indicator"].map(lambda c: names[c][0])
    judged = evaluate(out, out["indicator"].map(lambda c: names[c][1]).astype(float))
    return judged.drop(columns=["point_met", "p_below_target"]).assign(source="survey")
