"""Verdict quality of the shipped estimators on a county they were not tuned to.

Each replicate draws a finite-population county of ``--townships`` townships from
``sim_population`` (an independent generator; see its docstring for the truth, which is
not the model's), surveys it for the 12 months of 2025, and judges against 95 %, with
:func:`pingan_eval.survey.targets.evaluate`, every township row of

- ``direct``: the month's design-based estimate (``MonthPanel.direct``, logit interval,
  4-5 df);
- ``pooled rolling3`` / ``pooled quarter`` / ``pooled ytd``: ``borrowing.pooled_rows``
  with each month as the end of its window: the 3 months ending with it (in January and
  February of the simulated year only the months since January), quarter to date, year to
  date (a one-month window gives no row: rolling3 and ytd have none in January);
- ``model``: ``borrowing.model_rows`` (township + AR(1) model, real time);
- ``official``: the row the reports show, chosen by ``summary.official_rows`` under the
  shipped plan (township: pooled rolling3; where it has no row, January, the month's
  direct estimate).

Printed: (1) population and design facts; (2) per estimator the coverage of the 95 %
interval of its own estimand (pooled: the window's mean truth) and of the month's truth,
the share decided among clear cases (month truth >= 3 points from 95 %) and among all,
and wrong verdicts as a share of decided, overall and for the dropping (from July) and
rising (from May) townships, each with hits/cases, replicates, binomial SE and the SE
between replicates (cases of one replicate share a population and a village sample);
(3) model, official, pooled rolling3 and direct by kind of case (coverage of the month's
truth and of the row's own estimand), and what the official rows rest on; (4) seconds
per replicate; (5) with ``--attribute``, the model refitted with the population's own
sampling variances (n_eff) and month correlation in place of the estimated ones, and
without the break test.

Run: ``.venv/bin/python benchmarks/sim_verdicts.py [--replicates 200] [--townships 20]
[--seed 2025] [--quick] [--village-scale 0.45] [--jobs 2] [--attribute]``
(``--quick``: 12 replicates). The output depends only on the arguments (not on --jobs).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only contend

import numpy as np
import pandas as pd
from sim_population import (
    CODE,
    DROP_FROM,
    ESTIMATORS,
    PERIODS,
    RISE_FROM,
    TARGET,
    VILLAGE_SCALE,
    WINDOWS,
    Share,
    draw,
    judge,
    one_indicator_plan,
    population_design,
    run_replicate,
    score,
)

from pingan_eval.summary.borrowing import model_rows

_METRICS = {"cover_own": "coverage of own estimand", "cover_month": "coverage of month truth",
            "decided_clear": "decided | clear case", "decided_all": "decided | all cases",
            "wrong": "wrong | decided", "wrong_drop": f"wrong | decided, drop from m{DROP_FROM}",
            "wrong_rise": f"wrong | decided, rise from m{RISE_FROM}"}


def _fmt(s: Share) -> str:
    if not s.cases:
        return f"{'-':>7}  {0:>6d}/{0:<6d} {0:>4d}"
    return (f"{s.value:7.3f}  {s.hits:>6d}/{s.cases:<6d} {s.replicates:>4d}  "
            f"{s.se:7.4f}  {s.se_rep:7.4f}")


def quality_table(rows: pd.DataFrame) -> str:
    """Table (2): every metric of :func:`score` for every estimator."""
    out = [f"{'estimator':<16} {'metric':<31} {'share':>7}  {'hits/cases':^13} {'reps':>4}  "
           f"{'se_bin':>7}  {'se_rep':>7}"]
    for name in ESTIMATORS:
        scores = score(rows[rows["estimator"] == name])
        for key, label in _METRICS.items():
            out.append(f"{name:<16} {label:<31} {_fmt(scores[key])}")
    return "\n".join(out)


def _groups(rows: pd.DataFrame) -> dict[str, pd.Series]:
    m, role = rows["month"], rows["role"]
    other = ~role.isin(["drop", "rise"])
    return {
        "drop, m1-6 (97.5%)": (role == "drop") & (m < DROP_FROM),
        "drop, m7-9 (91%)": (role == "drop") & m.between(DROP_FROM, 9),
        "drop, m10-12 (91%)": (role == "drop") & (m > 9),
        "rise, m1-4 (90%)": (role == "rise") & (m < RISE_FROM),
        "rise, m5-7 (97%)": (role == "rise") & m.between(RISE_FROM, 7),
        "rise, m8-12 (97%)": (role == "rise") & (m > 7),
        "above (97-99%)": role == "above", "near (94-96%)": role == "near",
        "below (86-92%)": role == "below",
        "steady, Jul-Aug dip": other & m.isin([7, 8]),
        "steady, other months": other & ~m.isin([7, 8]),
        "steady, January": other & (m == 1), "steady, December": other & (m == 12)}


def breakdown(rows: pd.DataFrame, estimator: str) -> str:
    """Table (3): one estimator's rows by kind of case (``steady``: not drop / rise).

    ``cover`` of the month's truth, ``cov_own`` of the row's own estimand (pooled: the
    window's mean truth; else the same), ``bias_pt`` against the month's truth."""
    rows = rows[rows["estimator"] == estimator].reset_index(drop=True)
    out = [f"{estimator}: {'case':<21} {'cases':>6} {'cover':>6} {'cov_own':>7} "
           f"{'bias_pt':>7} {'halfw_pt':>8} {'dec|clr':>7} {'clear':>6} {'wrong|dec':>9} "
           f"{'break':>6}"]
    cover = (rows["ci_low"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high"])
    own = (rows["ci_low"] <= rows["own"]) & (rows["own"] <= rows["ci_high"])
    decided = rows["verdict"] != "undecided"
    clear = (rows["truth"] - TARGET).abs() >= 0.03
    wrong = (((rows["verdict"] == "met") & (rows["truth"] < TARGET))
             | ((rows["verdict"] == "not_met") & (rows["truth"] >= TARGET)))
    for label, g in _groups(rows).items():
        dc, wd = decided[g & clear], wrong[g & decided]
        out.append(
            f"{' ' * len(estimator)}  {label:<21} {int(g.sum()):>6d} {cover[g].mean():6.3f} "
            f"{own[g].mean():7.3f} "
            f"{100 * (rows['estimate'] - rows['truth'])[g].mean():7.2f} "
            f"{50 * (rows['ci_high'] - rows['ci_low'])[g].mean():8.2f} "
            f"{dc.mean() if len(dc) else np.nan:7.3f} {int(len(dc)):>6d} "
            f"{wd.mean() if len(wd) else np.nan:9.3f} "
            f"{rows['break_period'][g].notna().mean():6.3f}")
    return "\n".join(out)


def _replicate(job: tuple[int, int, int, float]) -> tuple:
    seed, r, m, scale = job
    return run_replicate(seed, r, m, scale)


def _attribute(job: tuple[int, int, int, float]) -> pd.DataFrame:
    """The model refitted as ``model_rows`` does, and with population inputs swapped in."""
    from pingan_eval.survey.month_correlation import lag_correlation
    from pingan_eval.survey.pooling import month_covariance
    from pingan_eval.survey.township_month import smooth_deff, township_month_realtime

    seed, r, m, scale = job
    plan = one_indicator_plan()
    county, panel = draw(seed, r, m, scale, plan)
    shipped = model_rows(panel, plan, PERIODS)
    # the inputs exactly as model_rows builds them (one indicator, one year)
    table = panel.direct[np.isfinite(panel.direct["estimate"])]
    table = smooth_deff(table, area="township", period="period")
    cov = month_covariance(panel.respondents, [CODE], strata="township", psu="village",
                           weights="weight", by="township")
    corr = lag_correlation(cov[["township", "period_a", "period_b", "corr"]])
    pop, pop_corr = population_design(county, panel)
    truth = county.truth.set_index(["township", "period"])["truth"]
    key = pd.MultiIndex.from_frame(table[["township", "period"]])
    p = truth.reindex(key).to_numpy()
    # n_eff with which 1/(4 n_eff) is the design's own variance on the arcsine scale
    pop_neff = p * (1 - p) / pop.set_index(["township", "period"])["var"].reindex(key).to_numpy()
    towns = {t: i for i, t in enumerate(county.towns)}
    oc = corr.assign(corr=pop_corr[corr["township"].map(towns).to_numpy(),
                                   corr["period_a"].str[5:].astype(int).to_numpy() - 1,
                                   corr["period_b"].str[5:].astype(int).to_numpy() - 1])
    variants = {"as shipped (refit)": (table, corr, 3.0),
                "population n_eff": (table.assign(n_eff=pop_neff), corr, 3.0),
                "population corr": (table, oc, 3.0),
                "population n_eff + corr": (table.assign(n_eff=pop_neff), oc, 3.0),
                "no break test": (table, corr, None)}
    frames = []
    for name, (tab, c, z) in variants.items():
        est = township_month_realtime(tab, c, area="township", period="period",
                                      estimate="estimate", n_eff="n_eff", break_z=z).estimates
        frames.append(est.rename(columns={"township": "area"}).assign(
            estimator=name, se=np.sqrt(est["mse"]), df=np.inf))
    refit = frames[0].sort_values(["area", "period"])["estimate"].to_numpy()
    if not np.allclose(refit, shipped.sort_values(["area", "period"])["estimate"], rtol=1e-9):
        raise AssertionError("the refit does not reproduce model_rows")
    return judge(county, panel, frames, r)


def attribution_table(rows: pd.DataFrame) -> str:
    """Table (5): the model with its estimated inputs replaced by the population's."""
    out = [f"{'model variant':<25} {'cover':>6} {'dec|clr':>7} {'wrong|dec':>9} "
           f"{'cov_below':>9} {'bias_below':>10} {'cov_drop7-9':>11} {'cov_rise1-6':>11}"]
    for name, g in rows.groupby("estimator", sort=False):
        s = score(g)
        cover = (g["ci_low"] <= g["truth"]) & (g["truth"] <= g["ci_high"])
        below, m = g["role"] == "below", g["month"]
        drop = (g["role"] == "drop") & m.between(DROP_FROM, 9)
        rise = (g["role"] == "rise") & (m <= 6)
        out.append(f"{name:<25} {s['cover_month'].value:6.3f} {s['decided_clear'].value:7.3f} "
                   f"{s['wrong'].value:9.3f} {cover[below].mean():9.3f} "
                   f"{100 * (g['estimate'] - g['truth'])[below].mean():10.2f} "
                   f"{cover[drop].mean():11.3f} {cover[rise].mean():11.3f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Run the simulation and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--townships", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--quick", action="store_true", help="12 replicates")
    ap.add_argument("--village-scale", type=float, default=VILLAGE_SCALE,
                    help="scale of the t(3) village effects on the logit scale")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--attribute", action="store_true",
                    help="also refit the model with the population's sampling variances")
    args = ap.parse_args(argv)
    reps = 12 if args.quick else args.replicates
    jobs = [(args.seed, r, args.townships, args.village_scale) for r in range(reps)]
    clock = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        done = list(pool.map(_replicate, jobs))
    wall = time.perf_counter() - clock
    rows = pd.concat([d[0] for d in done], ignore_index=True)
    seconds = pd.DataFrame([d[1] for d in done])
    fact = pd.DataFrame([d[2] for d in done]).mean()
    print(f"sim_verdicts: {reps} replicates x {args.townships} townships x 12 months "
          f"(2025), seed {args.seed}, village t(3) scale {args.village_scale}, "
          f"indicator {CODE!r}, target {TARGET}")
    print(f"population: {fact['villages']:.1f} villages per township, {fact['sampled']:.2f} "
          f"sampled; respondents per village-month mean {fact['per_village_mean']:.1f} "
          f"(5-95%: {fact['per_village_p05']:.0f}-{fact['per_village_p95']:.0f})")
    print(f"  village ICC (observed scale, median) {fact['icc']:.3f}; design effect median: "
          f"population (PPS-WR) {fact['deff_population']:.2f}, estimated "
          f"{fact['deff_direct']:.2f}, smoothed {fact['deff_smoothed']:.2f}")
    print(f"  population correlation of a township's direct estimates, lag 1 "
          f"{fact['corr_lag1']:.3f}, lag 6 {fact['corr_lag6']:.3f}")
    print("\n(2) verdict quality (clear: month truth >= 3 points from the target)")
    print(quality_table(rows))
    print("\n(3) by kind of case (bias, half-width in points; dec|clr among clear cases)")
    for name in ("model", "official", "pooled rolling3", "direct"):
        print(breakdown(rows, name))
    basis = rows.loc[rows["estimator"] == "official"].groupby(["basis", "span"]).size()
    print("official rows by basis and months pooled: " + ", ".join(
        f"{b} {k} month{'s' * (k > 1)} {n}" for (b, k), n in basis.items()))
    per = seconds.mean()
    pooled = ", ".join(f"{w} {per[f'pooled {w}']:.3f}" for w in WINDOWS)
    print(f"\n(4) seconds per replicate (one process): generate+direct {per['generate']:.3f}, "
          f"pooled {per['pooled']:.3f} ({pooled}), model {per['model']:.3f}, official "
          f"{per['official']:.3f}, total "
          f"{seconds[['generate', 'pooled', 'model', 'official']].sum(axis=1).mean():.3f}; "
          f"wall {wall:.1f} s on {args.jobs} processes")
    if args.attribute:
        with ProcessPoolExecutor(args.jobs) as pool:
            attr = pd.concat(list(pool.map(_attribute, jobs)), ignore_index=True)
        print("\n(5) attribution: the model with population inputs (same replicates)")
        print(attribution_table(attr))


if __name__ == "__main__":
    main()
