"""Seconds to fit the township x month model of a large county, and how its verdicts fare.

1. Timing: a synthetic county of ``--townships`` townships (default 1,000), 12 monthly
   waves, 5 indicators; ``township_month_realtime`` (12 REML fits per indicator, each on
   the waves up to its month, plus the break test) for every indicator, on ``--jobs``
   worker processes (default 2: one indicator per process at a time). Target: under
   10 s on 2 cores. Also printed: the seconds of one indicator in this process.
2. Simulation: ``--reps`` seeded counties of ``--sim-townships`` townships (model truth
   around 95.5 %; township T00 moves mid-year: the scenarios below), realtime fit:
   coverage of the 95 % intervals, share of decided verdicts against the 95 % target
   (model vs the direct estimate's t interval with 5 df), wrong verdicts, and for T00
   after its change the share of decided months wrongly 'met'.

Run: ``.venv/bin/python benchmarks/bench_township_month.py [--townships 1000] [--jobs 2]
[--reps 10] [--sim-townships 200] [--skip-timing] [--skip-simulation]``
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small blocks: threads only contend

import numpy as np
import pandas as pd
from scipy import stats

from pingan_eval.survey.township_month import (
    smooth_deff,
    township_month_realtime,
)

INDICATORS = ("awareness", "participation", "satisfaction", "security", "legal_satisfaction")
SCENARIOS = {"drop 96.5 -> 90.5": (0.965, 0.905), "drop 98.5 -> 92.5": (0.985, 0.925),
             "rise 91 -> 97": (0.91, 0.97), "behind 90 all year": (0.90, 0.90)}


def county(seed: int, m: int, before: float = 0.965, after: float = 0.905,
           T: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Direct estimates and between-month correlation of a synthetic county.

    Truth on the arcsine scale: 95.5 % plus a small county trend, township sd 1.5 points,
    AR(1) 0.7 month to month with sd 1 point; T00 at `before` moves to `after` from
    month 7. Direct estimates: n = 200, deff 2 (estimated with 5 df, then smoothed),
    between-month sampling correlation 0.4 * 0.9^lag.
    """
    rng = np.random.default_rng(seed)
    periods = [f"2025-{t:02d}" for t in range(1, T + 1)]
    v = np.zeros((m, T))
    v[:, 0] = rng.normal(0, 0.024, m)
    for t in range(1, T):
        v[:, t] = 0.7 * v[:, t - 1] + rng.normal(0, 0.024 * np.sqrt(0.51), m)
    theta = np.arcsin(np.sqrt(0.955)) + 0.004 * np.arange(T) + rng.normal(0, 0.036, (m, 1)) + v
    theta[0] += np.arcsin(np.sqrt(before)) - theta[0].mean()
    theta[0, 6:] += np.arcsin(np.sqrt(after)) - np.arcsin(np.sqrt(before))
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    corr = np.where(lag == 0, 1.0, 0.4 * 0.9**lag)
    y = theta + rng.standard_normal((m, T)) @ np.linalg.cholesky(corr).T * 0.05
    town = [f"T{i:04d}" if i else "T00" for i in range(m)]
    table = pd.DataFrame({"township": np.repeat(town, T), "period": periods * m,
                          "estimate": np.sin(np.clip(y, 0, np.pi / 2)).ravel() ** 2, "n": 200,
                          "deff": 2.0 * rng.chisquare(5, m * T) / 5, "df": 5,
                          "truth": np.sin(theta).ravel() ** 2})
    a, b = np.triu_indices(T, 1)
    cov = pd.DataFrame({"township": np.repeat(town, len(a)),
                        "period_a": np.tile(np.array(periods)[a], m),
                        "period_b": np.tile(np.array(periods)[b], m),
                        "corr": np.tile(corr[a, b], m)})
    return smooth_deff(table), cov


def _fit(job: tuple[pd.DataFrame, pd.DataFrame]) -> float:
    start = time.perf_counter()
    township_month_realtime(*job)
    return time.perf_counter() - start


def timing(townships: int, jobs: int) -> None:
    inputs = [county(seed, townships) for seed in range(len(INDICATORS))]
    one = _fit(inputs[0])
    print(f"one indicator, {townships} townships x 12 months, this process: {one:6.2f} s")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_fit, inputs))
    wall = time.perf_counter() - start
    print(f"{len(INDICATORS)} indicators on {jobs} processes (with start-up): {wall:6.2f} s "
          "(target < 10 s)")


def _verdict(low: pd.Series, high: pd.Series) -> np.ndarray:
    return np.where(low >= 0.95, "met", np.where(high < 0.95, "not_met", "undecided"))


def simulation(reps: int, townships: int) -> None:
    print(f"\nsimulation: {reps} counties x {townships} townships x 12 months, realtime fit")
    for name, (before, after) in SCENARIOS.items():
        parts = []
        for seed in range(reps):
            table, cov = county(1000 + seed, townships, before, after)
            parts.append(township_month_realtime(table, cov).estimates.merge(
                table[["township", "period", "truth"]]))
        est = pd.concat(parts, ignore_index=True)
        half = stats.t.ppf(0.975, 5) * est.direct_se
        est["model"] = _verdict(est.ci_low, est.ci_high)
        est["dir"] = _verdict(est.direct - half, est.direct + half)
        est["cover"] = (est.ci_low <= est.truth) & (est.truth <= est.ci_high)
        print(f"== T00: {name}")
        for label, rows in (("other townships", est.township != "T00"),
                            ("T00, months 1-6", (est.township == "T00") & (est.period < "2025-07")),
                            ("T00, months 7-12", (est.township == "T00")
                             & (est.period >= "2025-07"))):
            part = est[rows]
            line = [f"  {label:17s} cover {part.cover.mean():.3f}"]
            for kind in ("model", "dir"):
                decided = part[kind] != "undecided"
                wrong = decided & ((part[kind] == "met") != (part.truth >= 0.95))
                wrong_met = (part[kind] == "met") & (part.truth < 0.95)
                line.append(f"{kind}: decided {decided.mean():.3f} wrong/decided "
                            f"{wrong.sum() / max(decided.sum(), 1):.3f} wrongly met/decided "
                            f"{wrong_met.sum() / max(decided.sum(), 1):.3f}")
            print(" | ".join(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--townships", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--sim-townships", type=int, default=200)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-simulation", action="store_true")
    args = parser.parse_args()
    if not args.skip_timing:
        timing(args.townships, args.jobs)
    if not args.skip_simulation:
        simulation(args.reps, args.sim_townships)


if __name__ == "__main__":
    main()
