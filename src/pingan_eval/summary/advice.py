"""Sample-size advice for the plan year so far: the variance components of the prepared
months and the villages and households a township needs to decide a quarter."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from pingan_eval.plan import Plan

__all__ = ["SampleAdvice", "sample_advice"]


@dataclass(frozen=True)
class SampleAdvice:
    """What :func:`sample_advice` returns.

    Attributes
    ----------
    components : pandas.DataFrame
        :func:`pingan_eval.survey.sample_size.variance_components`, one row per survey
        indicator.
    advice : pandas.DataFrame
        :func:`pingan_eval.survey.sample_size.sample_size_advice` for every indicator.
    months : list of str
        The months the components were fitted on.
    villages_per_township, households_per_village : float
        Today's design: sampled villages per township, respondents per village and month
        (means over the months).
    power : float
        The power the advice asks for.
    """

    components: pd.DataFrame
    advice: pd.DataFrame
    months: list[str]
    villages_per_township: float
    households_per_village: float
    power: float


def sample_advice(period: str, *, raw_dir: str | os.PathLike,
                  processed_dir: str | os.PathLike, plan: Plan,
                  truths: tuple[float, ...] = (0.93, 0.97), villages=range(5, 16),
                  power: float = 0.8, between: str = "logit") -> SampleAdvice:
    """Variance components of the plan year's months up to ``period``, and the advice.

    The village components are rescaled to each truth on the logit scale
    (``between="logit"``): a village spread fitted at a rate of 87 % is not carried
    unchanged to 97 %, where rates cannot spread as far (see
    :func:`~pingan_eval.survey.sample_size.sample_size_advice`). With fewer than two
    months of the year prepared, ``components`` and ``advice`` are empty.
    """
    from pingan_eval.data.prepare import load_respondents
    from pingan_eval.summary.borrowing import model_year, prepared_periods
    from pingan_eval.survey.sample_size import sample_size_advice, variance_components

    months = model_year(period, sorted({*prepared_periods(raw_dir, processed_dir), period}))
    frames = {m: load_respondents(m, processed_dir) for m in months}
    if len(months) < 2:  # the village x month variance needs two months
        empty = pd.DataFrame()
        return SampleAdvice(empty, empty, months, float("nan"), float("nan"), power)
    codes = [t.code for t in plan.survey]
    components = pd.concat([variance_components(frames, code) for code in codes],
                           ignore_index=True)
    advice = pd.concat([sample_size_advice(components[components["variable"] == t.code],
                                           target=t.threshold, truths=truths,
                                           villages=villages, power=power,
                                           between=between)
                        for t in plan.survey], ignore_index=True)
    sizes = pd.concat(frames.values(), ignore_index=True)
    per_village = sizes.groupby(["township", "village"]).size() / len(months)
    villages_now = sizes.groupby("township")["village"].nunique().mean()
    return SampleAdvice(components, advice, months, float(villages_now),
                        float(per_village.mean()), power)
