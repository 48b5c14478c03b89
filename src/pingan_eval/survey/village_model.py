"""Model-based village estimates: Fay-Herriot on the arcsine scale, the township as covariate.

A village is one PSU of its township (the stratum). Its direct estimate is a domain
estimate with no design degrees of freedom, and as the domain is one whole PSU its
linearization variance is (close to) zero, so a township report's breakdown by village
is suppressed throughout. :func:`village_estimates` fits the direct rates of all the
county's villages jointly, one indicator at a time, with
:func:`pingan_eval.survey.fay_herriot.fay_herriot`: village within township, the
township's estimate as covariate. :func:`village_breakdown` shapes the result like
:data:`pingan_eval.survey.breakdowns.BREAKDOWN_COLUMNS`, marked as model estimates.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pingan_eval.errors import EstimationError
from pingan_eval.plan import Plan, as_plan
from pingan_eval.survey.breakdowns import BREAKDOWN_COLUMNS
from pingan_eval.survey.fay_herriot import fay_herriot

__all__ = ["INPUT_COLUMNS", "OUTPUT_COLUMNS", "village_breakdown", "village_estimates",
           "village_inputs"]

#: Columns of :func:`village_inputs` after the township and village columns.
INPUT_COLUMNS = ("indicator", "direct", "n", "deff_w", "n_eff", "direct_se",
                 "township_estimate", "covariate")
#: Columns of :func:`village_estimates` after the township and village columns.
OUTPUT_COLUMNS = ("indicator", "direct", "n", "estimate", "ci_low", "ci_high", "mse",
                  "shrinkage", "estimator")
#: Intervals at least this wide are suppressed (the width rule of the reliability flags).
_MAX_WIDTH = 0.30


def village_inputs(design, variables: str | Sequence[str], township_estimates: pd.DataFrame,
                   *, area: str = "township", village: str = "village",
                   pooled_deff: float | None = None) -> pd.DataFrame:
    """The table :func:`village_estimates` fits: one row per township x village x indicator.

    Parameters and ``Raises`` as :func:`village_estimates`.

    Returns
    -------
    pandas.DataFrame
        `area`, `village`, then ``indicator``; ``direct`` (the village's domain estimate
        in the full design, NaN where no one answered) and ``n`` (its respondents);
        ``deff_w`` (Kish's ``n sum(w^2)/sum(w)^2`` over the village's respondents, or
        `pooled_deff`) and ``n_eff = n / deff_w``; ``direct_se = sqrt(p(1-p)/n_eff)``
        (for display; the fit uses ``n_eff``); ``township_estimate`` (from
        `township_estimates`) and ``covariate = asin(sqrt(township_estimate))``. Sorted
        by township, village and the order of `variables`.
    """
    variables = _variables(variables)
    if pooled_deff is not None and not (isinstance(pooled_deff, numbers.Real)
                                        and np.isfinite(pooled_deff) and pooled_deff > 0):
        raise EstimationError(f"pooled_deff must be a number > 0, got {pooled_deff!r}")
    lookup = _township_lookup(township_estimates, area, variables)
    # SurveyDesign has no public accessor of its rows; they are only read here.
    data, w = design._data, np.asarray(design.weights)
    parts = []
    for var in variables:
        est = design.proportion(var, by=[area, village])[[area, village, "estimate", "n"]]
        answered = (data[var].notna().to_numpy() & (w > 0))
        sums = (pd.DataFrame({area: data[area], village: data[village], "_w": w, "_w2": w * w})
                [answered].groupby([area, village], sort=False)[["_w", "_w2"]].sum())
        est = est.merge(sums.reset_index(), how="left", on=[area, village])
        n = est["n"].to_numpy(dtype=float)
        if pooled_deff is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                deff = n * est["_w2"].to_numpy() / est["_w"].to_numpy() ** 2
        else:
            deff = np.where(n > 0, float(pooled_deff), np.nan)
        town = [lookup.get((t, var)) for t in est[area]]
        missing = [t for t, v in zip(est[area], town, strict=True) if v is None]
        if missing:
            raise EstimationError(f"township_estimates has no rate in [0, 1] of {var!r} for "
                                  f"township {missing[0]!r}")
        p, p_town = est["estimate"].to_numpy(dtype=float), np.asarray(town, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_eff = n / deff
            parts.append(pd.DataFrame({
                area: est[area].to_numpy(), village: est[village].to_numpy(),
                "indicator": var, "direct": p, "n": est["n"].to_numpy(), "deff_w": deff,
                "n_eff": n_eff, "direct_se": np.sqrt(p * (1.0 - p) / n_eff),
                "township_estimate": p_town, "covariate": np.arcsin(np.sqrt(p_town))}))
    return _sorted(pd.concat(parts, ignore_index=True), area, village, variables)


def village_estimates(design, variables: str | Sequence[str],
                      township_estimates: pd.DataFrame, *, area: str = "township",
                      village: str = "village", method: str = "amrl", level: float = 0.95,
                      pooled_deff: float | None = None, bootstrap: int = 200,
                      seed: int = 20261201) -> pd.DataFrame:
    """Model-based rate of every village and indicator: village within township.

    Parameters
    ----------
    design : SurveyDesign
        The period's design (strata `area`, PSUs `village`), e.g.
        :func:`pingan_eval.data.prepare.load_design`. Not modified.
    variables : str or sequence of str
        0/1 indicator columns, in output order.
    township_estimates : pandas.DataFrame
        Columns `area`, ``indicator``, ``estimate``: each township's official rate (the
        township-month model's, or the direct one), a rate in [0, 1]. Not modified; row
        order is irrelevant; extra rows and columns are ignored.
    area, village : str
        Township and village columns of the design (and of the output).
    method : {"amrl", "reml", "ml"}
        Estimator of the village-effect variance (:func:`fay_herriot`). ``"amrl"`` keeps
        it > 0; REML gives 0 in 3 of the sample county's 30 month x indicator fits
        (2026-06 to -11), pinning every village to its township with too short intervals.
    level : float
        Confidence level of the intervals.
    pooled_deff : float, optional
        One weighting design effect for every village instead of each village's own
        Kish design effect (e.g. the county's Kish deff).
    bootstrap, seed : int
        Replicates and seed of the rate-scale MSE bootstrap of :func:`fay_herriot`.

    Returns
    -------
    pandas.DataFrame
        One row per township x village x indicator, sorted by township, village and the
        order of `variables`: `area`, `village`, ``indicator``, ``direct`` (the direct
        rate), ``n`` (respondents), ``estimate`` (the model's rate), ``ci_low``,
        ``ci_high``, ``mse`` (rate scale), ``shrinkage`` (weight on the village's own
        data) and ``estimator`` (``"model"``). A village where no one answered an
        indicator is not fitted: NaN but for ``indicator``, ``n`` (0) and ``estimator``.

    Raises
    ------
    EstimationError
        A township of the design without a finite estimate in [0, 1] in
        `township_estimates` (naming it and the indicator), a duplicate township x
        indicator there, a missing column, a bad `pooled_deff`; and what
        :func:`fay_herriot` raises (too few villages, an unknown method).

    Notes
    -----
    For indicator k, village j of township i: ``y_ij = asin(sqrt(p_ij)) = b0 + b1 x_i +
    u_ij + e_ij``, ``x_i = asin(sqrt(P_i))`` with ``P_i`` the township estimate, ``u_ij ~
    N(0, A)``, ``e_ij ~ N(0, 1/(4 n_eff_ij))``: :func:`fay_herriot` with
    ``transform="arcsin"`` on :func:`village_inputs`, so estimate, MSE and intervals are
    fay_herriot's (bias-corrected back-transform, bootstrap MSE, ``sin^2`` of the
    model-scale interval ``EBLUP -/+ z sqrt(g1 + g2 + 2 g3)``). ``x_i`` is taken as
    fixed and external. The township's direct estimate of the same month is neither: it
    holds the village's own sampling error (weight about 1/5), so intervals run short.
    Simulated (tests/survey/test_village_model.py), 95 % intervals cover 94.5 % with an
    accurate township rate as covariate and 91.5 % with the same month's direct one.

    Why ``n_eff = n / deff_w`` with Kish's ``deff_w = n sum(w^2)/sum(w)^2`` within the
    village. The design SE of a village is unusable (one PSU: no df, and se 0 where all
    answered 1). Within a village one adult is interviewed per sampled household, so the
    only design feature left is the unequal weighting (adults per household,
    nonresponse, raking), whose variance inflation is Kish's ``1 + CV^2`` when weights
    and answers are unrelated. It depends on the weights only, so the sampling variance
    ``1/(4 n_eff)`` is independent of the village's answers (Fay-Herriot takes it as
    known; ``p(1-p)/se^2`` would be 0 at a rate of 1). The design deff of a township or
    the county is the wrong quantity: it holds the between-village intra-class
    correlation, which is the village effect ``u`` here. With 30-50 respondents per
    village the per-village Kish value is stable (1.11-1.36 in the sample's 2026-11), so it
    is the default; `pooled_deff` is there when village weights are few or erratic.

    Examples
    --------
    >>> from pingan_eval.survey.design import SurveyDesign
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"township": np.repeat(list("ABC"), 40),
    ...                    "village": np.repeat([f"v{i}" for i in range(6)], 20),
    ...                    "weight": rng.uniform(1, 3, 120),
    ...                    "secure": (rng.random(120) < 0.9).astype(int)})
    >>> d = SurveyDesign(df, strata="township", psu="village", weights="weight")
    >>> towns = d.proportion("secure", by="township").assign(indicator="secure")
    >>> out = village_estimates(d, "secure", towns, bootstrap=20)
    >>> out.shape, out["estimator"].unique().tolist()
    ((6, 11), ['model'])
    """
    variables = _variables(variables)
    inputs = village_inputs(design, variables, township_estimates, area=area,
                            village=village, pooled_deff=pooled_deff)
    keys = [area, village]
    parts = []
    for var in variables:
        rows = inputs[inputs["indicator"] == var]
        used = rows[rows["n"] > 0]
        # Townships estimated alike (a model that pooled them fully) leave the covariate
        # constant: the intercept alone says the same.
        same = np.ptp(used["covariate"].to_numpy(dtype=float)) < 1e-12 if len(used) else True
        fit = fay_herriot(used, area=keys, estimate="direct", se="direct_se",
                          covariates=None if same else ["covariate"], method=method,
                          transform="arcsin",
                          n_eff="n_eff", level=level, bootstrap=bootstrap, seed=seed)
        model = fit.estimates[[*keys, "estimate", "ci_low", "ci_high", "mse", "shrinkage"]]
        parts.append(rows[[*keys, "indicator", "direct", "n"]].merge(model, how="left",
                                                                      on=keys))
    out = _sorted(pd.concat(parts, ignore_index=True), area, village, variables)
    return out.assign(estimator="model")[[*keys, *OUTPUT_COLUMNS]]


def village_breakdown(estimates: pd.DataFrame, *,
                      plan: Plan | str | os.PathLike | None = None,
                      area: str = "township", village: str = "village") -> pd.DataFrame:
    """:func:`village_estimates` as village rows of :func:`~.breakdowns.all_breakdowns`.

    Parameters
    ----------
    estimates : pandas.DataFrame
        The output of :func:`village_estimates` (not modified).
    plan : Plan, path or None
        Names and targets of the indicators; ``None`` reads the shipped plan.
    area, village : str
        Township and village columns of `estimates`.

    Returns
    -------
    pandas.DataFrame
        ``area`` (the township), then :data:`~.breakdowns.BREAKDOWN_COLUMNS` with
        ``breakdown="village"``, ``level`` the village, ``se = sqrt(mse)``, ``df = inf``
        (normal intervals), ``deff`` NaN; then ``estimator`` (``"model"``). Rows in the
        order of `estimates`.

    Raises
    ------
    EstimationError
        An indicator that is not a survey indicator of the plan.

    Notes
    -----
    Flags: ``"ok"`` with reason ``"model"``. The rules that suppress the direct village
    rows (df <= 0, effective n, widths of the Korn-Graubard interval) judge a
    design-based interval; a model estimate's interval carries its own MSE (the model's
    uncertainty included), so they do not apply. Two rules still do: no answer
    (``"suppress"``, ``"no_estimate"``) and a model interval 0.30 wide or wider
    (``"suppress"``, ``"model;ci_width>=0.30"``: it informs no one). The code ``"model"``
    marks the row as a model estimate; since a report shows no reason for an ok row, it
    should label these rows itself (e.g. "模型估计", from ``flag_reason`` or
    ``estimator``).
    """
    plan = as_plan(plan)
    targets = {t.code: t for t in plan.survey}
    unknown = [c for c in dict.fromkeys(estimates["indicator"]) if c not in targets]
    if unknown:
        raise EstimationError(f"indicator {unknown[0]!r} is not a survey indicator of the plan")
    p = estimates["estimate"].to_numpy(dtype=float)
    none = ~np.isfinite(p)
    with np.errstate(invalid="ignore"):
        wide = ~none & ((estimates["ci_high"] - estimates["ci_low"]).to_numpy() >= _MAX_WIDTH)
    codes = estimates["indicator"]
    out = pd.DataFrame({
        "area": estimates[area].to_numpy(), "breakdown": "village",
        "level": estimates[village].astype(str).to_numpy(), "indicator": codes.to_numpy(),
        "name_zh": [targets[c].name_zh for c in codes], "estimate": p,
        "se": np.sqrt(estimates["mse"].to_numpy(dtype=float)),
        "ci_low": estimates["ci_low"].to_numpy(), "ci_high": estimates["ci_high"].to_numpy(),
        "df": np.inf, "n": estimates["n"].to_numpy(), "deff": np.nan,
        "target": [targets[c].threshold for c in codes],
        "flag": np.where(none | wide, "suppress", "ok"),
        "flag_reason": np.where(none, "no_estimate",
                                np.where(wide, f"model;ci_width>={_MAX_WIDTH:.2f}", "model")),
        "estimator": estimates["estimator"].to_numpy()})
    return out[["area", *BREAKDOWN_COLUMNS, "estimator"]]


def _variables(variables: str | Sequence[str]) -> list[str]:
    out = [variables] if isinstance(variables, str) else list(variables)
    if not out or len(set(out)) != len(out):
        raise EstimationError(f"variables must be distinct and at least one, got {out!r}")
    return out


def _township_lookup(table: pd.DataFrame, area: str,
                     variables: list[str]) -> dict[tuple, float]:
    """(township, indicator) -> estimate; finite rates only, no duplicates."""
    if not isinstance(table, pd.DataFrame):
        raise EstimationError("township_estimates must be a pandas DataFrame")
    missing = [c for c in (area, "indicator", "estimate") if c not in table.columns]
    if missing:
        raise EstimationError(f"township_estimates has no column(s) {missing}")
    rows = table.loc[table["indicator"].isin(variables), [area, "indicator", "estimate"]]
    dup = rows.duplicated([area, "indicator"]).to_numpy()
    if dup.any():
        t, v = rows[dup].iloc[0][[area, "indicator"]]
        raise EstimationError(f"township_estimates has township {t!r}, indicator {v!r} twice")
    p = pd.to_numeric(rows["estimate"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(p) & (p >= 0.0) & (p <= 1.0)
    # A NaN or out-of-range rate counts as missing: the error names the township.
    return {(t, v): float(x) for t, v, x, good in
            zip(rows[area], rows["indicator"], p, ok, strict=True) if good}


def _sorted(frame: pd.DataFrame, area: str, village: str,
            variables: list[str]) -> pd.DataFrame:
    rank = frame["indicator"].map({v: i for i, v in enumerate(variables)})
    return (frame.assign(_i=rank).sort_values([area, village, "_i"], kind="stable")
            .drop(columns="_i").reset_index(drop=True))
