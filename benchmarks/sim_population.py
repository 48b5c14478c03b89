"""An independent finite-population county for judging the verdicts of the shipped estimators.

Written apart from :mod:`pingan_eval.data.synth` (nothing imported from it) and with a
truth the township-month model does not assume:

- township levels spread on the **logit** scale: one township drops 97.5 % -> 91 % from
  July, one rises 90 % -> 97 % from May, the rest cycle through clearly above
  (97-99 %), clearly below (86-92 %) and near (94-96 %) the 95 % target;
- heavy-tailed village effects (Student t, 3 df, scale 0.45 on the logit scale: an
  intra-class correlation well above synth's N(0, 0.4^2));
- village-month persistence (AR(1), rho 0.75, sd 0.3), iid township-month shocks
  (sd 0.1, not AR(1)) and a county-wide summer dip (July and August, -0.35);
- two age groups with different rates (+-0.3) and response rates (75 % / 92 %).

Each replicate is a finite population (25-60 villages of 80-600 adults per township);
5 or 6 villages per township are drawn once by randomized systematic PPS (without
replacement, exact inclusion probabilities) and surveyed every month with a fresh simple
random sample of adults. Weights are inverse inclusion probabilities, adjusted for
non-response by age group within village (``nr_weight``) and raked to the township's
age-group totals the way :func:`pingan_eval.data.prepare.load_design` does (with
replacement, no fpc). The month's truth is the township's finite-population rate.

:func:`run_replicate` feeds the shipped :func:`~pingan_eval.summary.borrowing.model_rows`
and :func:`~pingan_eval.summary.borrowing.pooled_rows`, picks each township-month's
official row with :func:`~pingan_eval.summary.official.official_rows` (the plan's: the
pooled rolling3 window, the month's direct estimate where the window has one month) and
judges every row with :func:`~pingan_eval.survey.targets.evaluate`; :func:`score` turns
the judged rows into shares. Used by ``benchmarks/sim_verdicts.py`` and
``tests/summary/test_verdict_simulation.py``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from pingan_eval.plan import Plan, load_plan
from pingan_eval.summary.borrowing import MonthPanel, model_rows, pooled_rows
from pingan_eval.summary.official import official_rows
from pingan_eval.survey.design import SurveyDesign
from pingan_eval.survey.targets import evaluate

CODE = "security"
TARGET = 0.95
PERIODS = [f"2025-{m:02d}" for m in range(1, 13)]
DROP, RISE = "T00", "T01"
DROP_FROM, RISE_FROM = 7, 5            # first month of the new level
AGE_GROUPS = ("18-44", "45+")
_AGE_EFFECT = np.array([-0.3, 0.3])    # younger adults feel less secure ...
_RESPONSE = np.array([0.75, 0.92])     # ... and answer less often (MAR within village)
_SUMMER = {7: -0.35, 8: -0.35}         # county-wide shock, logit scale
VILLAGE_SCALE = 0.45                   # t(3) scale: sd 0.78 on the logit scale
WINDOWS = ("rolling3", "quarter", "ytd")  # the pooling windows scored, each month its end
ESTIMATORS = ("direct", *(f"pooled {w}" for w in WINDOWS), "model", "official")


@dataclass(frozen=True)
class County:
    """One replicate's finite population, its village sample and its truth.

    ``town`` (V,) township index of every village; ``adults`` (V, 2) adults per village
    and age group; ``yes`` (V, 12, 2) those answering yes, by month; ``sampled`` the
    sampled villages and ``pi`` their inclusion probabilities; ``role`` township ->
    drop / rise / above / below / near; ``truth`` ``township, period, truth``, the
    finite-population rate of the month.
    """

    towns: list[str]
    role: dict[str, str]
    town: np.ndarray
    adults: np.ndarray
    yes: np.ndarray
    sampled: np.ndarray
    pi: np.ndarray
    truth: pd.DataFrame


def _nominal(role: str, rng: np.random.Generator) -> np.ndarray:
    """The township's planned rate of each month (before village and month noise)."""
    months = np.arange(1, 13)
    if role == "drop":
        return np.where(months >= DROP_FROM, 0.91, 0.975)
    if role == "rise":
        return np.where(months >= RISE_FROM, 0.97, 0.90)
    low, high = {"above": (0.97, 0.99), "below": (0.86, 0.92), "near": (0.94, 0.96)}[role]
    return np.full(12, expit(rng.uniform(logit(low), logit(high))))


def _level(rate: float, u: np.ndarray, adults: np.ndarray) -> float:
    """Township intercept a with population mean of expit(a + u_v + b_age) equal to rate."""
    lo, hi = -5.0, 15.0
    share = adults / adults.sum()
    for _ in range(60):  # bisection: monotone in a
        mid = 0.5 * (lo + hi)
        if (share * expit(mid + u[:, None] + _AGE_EFFECT)).sum() < rate:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _pps(size: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Randomized systematic PPS of n units: the chosen indices and their exact pi."""
    pi = np.zeros(len(size))
    free = np.ones(len(size), dtype=bool)
    while True:  # certainty units first, the rest PPS on what is left
        pi[free] = (n - (~free).sum()) * size[free] / size[free].sum()
        over = free & (pi >= 1.0)
        if not over.any():
            break
        pi[over], free[over] = 1.0, False
    order = rng.permutation(len(size))
    points = rng.uniform() + np.arange(n)
    picked = order[np.searchsorted(np.cumsum(pi[order]), points)]
    return np.sort(picked), pi[np.sort(picked)]


def make_county(rng: np.random.Generator, m: int = 20, village_scale: float = VILLAGE_SCALE
                ) -> County:
    """Draw one finite population of ``m`` townships, its village sample and its truth.

    ``village_scale`` scales the t(3) village effects (logit scale)."""
    towns = [f"T{i:02d}" for i in range(m)]
    cycle = ("above", "below", "near")
    role = {t: ("drop" if i == 0 else "rise" if i == 1 else cycle[(i - 2) % 3])
            for i, t in enumerate(towns)}
    town_of, adults, yes, sampled, pis, truth = [], [], [], [], [], []
    start = 0
    for h, name in enumerate(towns):
        v = int(rng.integers(25, 61))
        size = np.round(np.exp(rng.uniform(np.log(80), np.log(600), v))).astype(int)
        old = rng.uniform(0.35, 0.6, v)
        n_vc = np.column_stack([size - np.round(size * old), np.round(size * old)]).astype(int)
        u = village_scale * rng.standard_t(3, v)
        nominal = _nominal(role[name], rng)
        shock = rng.normal(0.0, 0.1, 12)
        w = np.empty((v, 12))
        w[:, 0] = rng.normal(0.0, 0.3, v)
        for t in range(1, 12):
            w[:, t] = 0.75 * w[:, t - 1] + rng.normal(0.0, 0.3 * np.sqrt(1 - 0.75**2), v)
        a = np.array([_level(r, u, n_vc) for r in nominal])
        season = np.array([_SUMMER.get(t + 1, 0.0) for t in range(12)])
        eta = (a + shock + season)[None, :, None] + (u[:, None] + w)[:, :, None] + _AGE_EFFECT
        y = rng.binomial(n_vc[:, None, :], expit(eta))
        picked, pi = _pps(size.astype(float), int(rng.integers(5, 7)), rng)
        town_of.append(np.full(v, h))
        adults.append(n_vc)
        yes.append(y)
        sampled.append(start + picked)
        pis.append(pi)
        start += v
        truth.append(pd.DataFrame({"township": name, "period": PERIODS,
                                   "truth": y.sum(axis=(0, 2)) / n_vc.sum()}))
    return County(towns, role, np.concatenate(town_of), np.concatenate(adults),
                  np.concatenate(yes), np.concatenate(sampled), np.concatenate(pis),
                  pd.concat(truth, ignore_index=True))


def survey_month(county: County, t: int, rng: np.random.Generator) -> pd.DataFrame:
    """Month ``t``'s respondents (0-based month): ``township, village, age_group,
    nr_weight`` and the 0/1 indicator, from a fresh SRS of adults in every sampled village."""
    v = county.sampled
    n_c, y_c = county.adults[v], county.yes[v, t]
    issued = rng.integers(31, 41, len(v))
    young = rng.hypergeometric(n_c[:, 0], n_c[:, 1], issued)  # SRS of adults: age mix
    drawn = np.column_stack([young, issued - young])
    yes = rng.hypergeometric(y_c, n_c - y_c, drawn)
    answered = rng.binomial(drawn, _RESPONSE)
    yes = rng.hypergeometric(yes, drawn - yes, answered)
    # non-response cells: age group within village (village-wide if a drawn cell is empty)
    ok = ((answered > 0) | (drawn == 0)).all(axis=1, keepdims=True)
    adjust = np.where(ok, drawn / np.maximum(answered, 1),
                      drawn.sum(axis=1, keepdims=True) / answered.sum(axis=1, keepdims=True))
    weight = (n_c.sum(axis=1) / issued / county.pi)[:, None] * adjust
    cells = answered.ravel()
    village = np.repeat(np.arange(len(v)), 2)
    # within a cell the yes answers come first: row order carries no information
    first = np.repeat(np.cumsum(cells) - cells, cells)
    value = (np.arange(cells.sum()) - first < np.repeat(yes.ravel(), cells)).astype(float)
    return pd.DataFrame({
        "township": np.asarray(county.towns)[county.town[v]][np.repeat(village, cells)],
        "village": np.char.add("V", np.char.zfill(v.astype(str), 4))[np.repeat(village, cells)],
        "age_group": np.repeat(np.tile(AGE_GROUPS, len(v)), cells),
        "nr_weight": np.repeat(weight.ravel(), cells), CODE: value})


def _margins(county: County) -> dict:
    """Township x age-group population totals, in the form ``SurveyDesign.rake`` takes."""
    totals = {}
    for h, name in enumerate(county.towns):
        n_c = county.adults[county.town == h].sum(axis=0)
        totals.update({(name, g): float(n_c[c]) for c, g in enumerate(AGE_GROUPS)})
    return {("township", "age_group"): totals}


def month_panel(county: County, plan: Plan, rng: np.random.Generator) -> MonthPanel:
    """The :class:`MonthPanel` of the 12 months, built as ``borrowing.month_panel`` does:
    the design of ``load_design`` (no fpc, ``nr_weight`` raked, epsilon 1, 10 passes),
    ``weight`` the raked weights, direct = ``design.proportion(code, by="township")``."""
    margins = _margins(county)
    respondents, direct = {}, []
    for t, period in enumerate(PERIODS):
        df = survey_month(county, t, rng)
        design = SurveyDesign(df, strata="township", psu="village", weights="nr_weight")
        design = design.rake(margins, epsilon=1.0, max_iter=10)
        respondents[period] = df.assign(weight=np.asarray(design.weights))
        for target in plan.survey:
            est = design.proportion(target.code, by="township")
            direct.append(est.assign(period=period, indicator=target.code))
    return MonthPanel(list(PERIODS), respondents, pd.concat(direct, ignore_index=True))


def one_indicator_plan() -> Plan:
    """The shipped plan with its survey targets restricted to :data:`CODE`."""
    plan = load_plan()
    return dataclasses.replace(plan, entries=(plan.target(CODE),))


def draw(seed: int, replicate: int, m: int = 20, village_scale: float = VILLAGE_SCALE,
         plan: Plan | None = None) -> tuple[County, MonthPanel]:
    """One replicate's population and month panel; the same for the same arguments."""
    rng = np.random.default_rng([seed, replicate])
    county = make_county(rng, m, village_scale)
    return county, month_panel(county, plan or one_indicator_plan(), rng)


def population_design(county: County, panel: MonthPanel) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample design's own variance of every township-month direct estimate.

    Hansen-Hurwitz (PPS with replacement, as the variance estimator assumes) from the
    population's village rates, plus the within-village binomial term with the month's
    respondents per sampled village: what the estimated design effects estimate.

    Returns
    -------
    table : pandas.DataFrame
        ``township, period, var, deff`` (rate scale; ``deff`` = var / (P(1-P)/n)).
    corr : numpy.ndarray
        ``(m, 12, 12)`` correlation between a township's months, towns in county order.
    """
    rate = county.yes.sum(axis=2) / county.adults.sum(axis=1)[:, None]
    size = county.adults.sum(axis=1)
    n = panel.direct.pivot(index="township", columns="period", values="n")
    rows, corr = [], []
    for h, name in enumerate(county.towns):
        inside = county.town == h
        z, p = size[inside] / size[inside].sum(), rate[inside]
        P = z @ p
        k = np.isin(county.sampled, np.flatnonzero(inside)).sum()
        dev = p - P
        cov = (dev * z[:, None]).T @ dev / k  # a village's deviation persists: the panel
        var = np.diag(cov) + (z @ (p * (1 - p))) / n.loc[name].to_numpy()
        cov[np.diag_indices(12)] = var
        corr.append(cov / np.sqrt(np.outer(var, var)))
        rows.append(pd.DataFrame({"township": name, "period": PERIODS, "var": var,
                                  "deff": var / (P * (1 - P) / n.loc[name].to_numpy())}))
    return pd.concat(rows, ignore_index=True), np.array(corr)


def facts(county: County, panel: MonthPanel) -> dict[str, float]:
    """Population and design facts of a replicate (medians over township-months)."""
    from pingan_eval.survey.township_month import smooth_deff

    pop, corr = population_design(county, panel)
    rate = county.yes.sum(axis=2) / county.adults.sum(axis=1)[:, None]
    size = county.adults.sum(axis=1)
    icc = []
    for h in range(len(county.towns)):  # observed-scale ICC: between-village share
        z, p = size[county.town == h], rate[county.town == h]
        P = z @ p / z.sum()
        icc.append(float(np.median((z @ (p - P) ** 2) / z.sum() / (P * (1 - P)))))
    direct = panel.direct[np.isfinite(panel.direct["estimate"])]
    smooth = smooth_deff(direct, area="township", period="period")
    per_village = pd.concat([f.groupby("village").size() for f in panel.respondents.values()])
    return {"icc": float(np.median(icc)), "deff_population": float(pop["deff"].median()),
            "deff_direct": float(direct["deff"].median()),
            "deff_smoothed": float(smooth["deff_smooth"].median()),
            "corr_lag1": float(corr[:, 0, 1].mean()), "corr_lag6": float(corr[:, 0, 6].mean()),
            "villages": len(county.town) / len(county.towns),
            "sampled": len(county.sampled) / len(county.towns),
            "per_village_mean": float(per_village.mean()),
            "per_village_p05": float(per_village.quantile(0.05)),
            "per_village_p95": float(per_village.quantile(0.95))}


def judge(county: County, panel: MonthPanel, frames: list[pd.DataFrame],
          replicate: int) -> pd.DataFrame:
    """Evaluate estimate frames (``area, period, estimator`` and the statistics; pooled
    rows with ``window_start``) and attach the truths.

    Returns ``estimator, basis, replicate, township, role, month, span, estimate, ci_low,
    ci_high, verdict, own, truth, shrinkage, break_period``: ``basis`` the estimator the
    row really is (for ``official`` rows: ``direct``, ``pooled`` or ``model``; else the
    estimator), ``span`` the months the row rests on, ``own`` the row's estimand (the
    month's truth, or the window's mean truth for pooled rows), ``truth`` the month's
    truth; the last two the model's (NaN / None for the other estimators).
    """
    rows = evaluate(pd.concat(frames, ignore_index=True), TARGET)
    truth = county.truth.pivot(index="township", columns="period", values="truth")
    town = truth.index.get_indexer(rows["area"])
    end = rows["period"].str[5:].astype(int).to_numpy()
    start = (rows["window_start"].fillna(rows["period"]) if "window_start" in rows
             else rows["period"]).str[5:].astype(int).to_numpy()
    cum = np.hstack([np.zeros((len(truth), 1)), np.cumsum(truth.to_numpy(), axis=1)])
    for col in ("shrinkage", "break_period"):
        if col not in rows:
            rows[col] = None
    basis = rows["basis"].fillna(rows["estimator"]) if "basis" in rows else rows["estimator"]
    return pd.DataFrame({
        "estimator": rows["estimator"].to_numpy(), "basis": basis.to_numpy(),
        "replicate": replicate, "township": rows["area"].to_numpy(),
        "role": rows["area"].map(county.role).to_numpy(), "month": end,
        "span": end - start + 1, "estimate": rows["estimate"].to_numpy(),
        "ci_low": rows["ci_low"].to_numpy(), "ci_high": rows["ci_high"].to_numpy(),
        "verdict": rows["verdict"].to_numpy(),
        "own": (cum[town, end] - cum[town, start - 1]) / (end - start + 1),
        "truth": truth.to_numpy()[town, end - 1],
        "shrinkage": rows["shrinkage"].to_numpy(dtype=float),
        "break_period": rows["break_period"].to_numpy(dtype=object)})


def official_frame(plan: Plan, direct: pd.DataFrame, pooled: Mapping[str, pd.DataFrame],
                   model: pd.DataFrame) -> pd.DataFrame:
    """The official township row of every month, chosen by the shipped ``official_rows``.

    The direct, pooled (window -> township rows of ``pooled_rows``) and model rows are put
    in summary shape as ``borrowed_rows`` does (``estimator`` ``direct`` / ``pooled`` /
    ``model``, pooled rows of equal window start once); returns the chosen rows with
    ``estimator="official"`` and ``basis`` the estimator each really is.
    """
    first = plan.estimation.pooled_windows[:1]
    if plan.official_estimator(CODE, "township") == "pooled" and first and first[0] not in pooled:
        raise ValueError(f"the official window {first[0]!r} is not among the pooled rows")
    summary = pd.concat([
        direct.assign(estimator="direct", window_start=direct["period"]),
        *(p.drop(columns=["window", "area_level"]).assign(estimator="pooled")
          for p in pooled.values()),
        model.assign(estimator="model", window_start=model["period"])], ignore_index=True)
    summary = summary.drop_duplicates(["period", "area", "indicator", "estimator",
                                       "window_start"], ignore_index=True)
    rows = official_rows(summary.assign(area_level="township", source="survey"), plan)
    return rows.assign(basis=rows["estimator"], estimator="official")


def run_replicate(seed: int, replicate: int, m: int = 20,
                  village_scale: float = VILLAGE_SCALE, windows: Sequence[str] = WINDOWS,
                  official: bool = True
                  ) -> tuple[pd.DataFrame, dict[str, float], dict[str, float]]:
    """Judged rows of every estimator for one replicate, its seconds and its facts.

    The direct rows are ``MonthPanel.direct``; the others come from the shipped
    ``pooled_rows`` (township rows of each of ``windows``, every month as window end;
    ``windows=()`` skips them; estimator ``pooled <window>``), ``model_rows`` (all 12
    months, real time) and, with ``official``, :func:`official_frame` (estimator
    ``official``; the plan's official window must be among ``windows``). Rows as
    :func:`judge`; seconds ``generate`` (population, sample, weights and direct
    estimates), ``pooled`` (all windows) and ``pooled <window>``, ``model``,
    ``official``; facts as :func:`facts`.
    """
    plan = one_indicator_plan()
    clock = time.perf_counter()
    county, panel = draw(seed, replicate, m, village_scale, plan)
    seconds = {"generate": time.perf_counter() - clock, "pooled": 0.0}
    direct = panel.direct.rename(columns={"township": "area"})
    frames, pooled = [direct.assign(estimator="direct")], {}
    for window in windows:
        clock = time.perf_counter()
        rows = [pooled_rows(panel, plan, p, windows=(window,)) for p in PERIODS]
        rows = pd.concat([r for r in rows if len(r)], ignore_index=True)
        rows = rows[rows["area_level"] == "township"].reset_index(drop=True)
        seconds[f"pooled {window}"] = time.perf_counter() - clock
        seconds["pooled"] += seconds[f"pooled {window}"]
        pooled[window] = rows
        frames.append(rows.assign(estimator=f"pooled {window}"))
    clock = time.perf_counter()
    model = model_rows(panel, plan, PERIODS)
    frames.append(model.assign(estimator="model"))
    seconds["model"] = time.perf_counter() - clock
    if official:
        clock = time.perf_counter()
        frames.append(official_frame(plan, direct, pooled, model))
        seconds["official"] = time.perf_counter() - clock
    return judge(county, panel, frames, replicate), seconds, facts(county, panel)


@dataclass(frozen=True)
class Share:
    """A share of cases with its counts: ``hits / cases`` over ``replicates`` replicates,
    ``se`` binomial, ``se_rep`` between replicates (cases of a replicate are correlated)."""

    hits: int
    cases: int
    replicates: int
    value: float
    se: float
    se_rep: float


def share(hit: pd.Series, rep: pd.Series) -> Share:
    """The share of True in ``hit`` (one case per element; ``rep`` its replicate)."""
    n = len(hit)
    if n == 0:
        return Share(0, 0, 0, np.nan, np.nan, np.nan)
    p = float(hit.mean())
    by = pd.DataFrame({"a": hit.astype(float), "b": 1.0}).groupby(rep.to_numpy()).sum()
    r = len(by)
    resid = by["a"] - p * by["b"]  # ratio estimator's linearization over replicates
    se_rep = float(np.sqrt(r / (r - 1) * (resid**2).sum()) / n) if r > 1 else np.nan
    return Share(int(hit.sum()), n, r, p, float(np.sqrt(p * (1 - p) / n)), se_rep)


def score(rows: pd.DataFrame, clear: float = 0.03) -> dict[str, Share]:
    """The verdict-quality shares of one estimator's judged rows.

    Keys: ``cover_own``, ``cover_month`` (95 % interval contains the row's estimand /
    the month's truth), ``decided_clear`` (month truth at least ``clear`` from the
    target), ``decided_all``, ``wrong`` (met with truth < target or not_met with truth
    >= target, among decided), ``wrong_drop`` / ``wrong_rise`` (the same for the dropping
    township from its drop and the rising township from its rise).
    """
    rows = rows.reset_index(drop=True)

    def cover(col: str) -> pd.Series:
        return (rows["ci_low"] <= rows[col]) & (rows[col] <= rows["ci_high"])

    decided = rows["verdict"] != "undecided"
    wrong = (((rows["verdict"] == "met") & (rows["truth"] < TARGET))
             | ((rows["verdict"] == "not_met") & (rows["truth"] >= TARGET)))
    is_clear = (rows["truth"] - TARGET).abs() >= clear
    after_drop = (rows["role"] == "drop") & (rows["month"] >= DROP_FROM) & decided
    after_rise = (rows["role"] == "rise") & (rows["month"] >= RISE_FROM) & decided
    rep = rows["replicate"]
    return {"cover_own": share(cover("own"), rep), "cover_month": share(cover("truth"), rep),
            "decided_clear": share(decided[is_clear], rep[is_clear]),
            "decided_all": share(decided, rep),
            "wrong": share(wrong[decided], rep[decided]),
            "wrong_drop": share(wrong[after_drop], rep[after_drop]),
            "wrong_rise": share(wrong[after_rise], rep[after_rise])}
