"""Benchmark: ``SurveyDesign.proportion(by=stratum)`` on 1,000,000 respondents, 200 strata.

Prints four timings and the peak memory:

* pingan_eval: ``proportion("y", by="stratum", method="logit")`` on a built design, the
  first call (best over 5 new designs) and a repeated call (best of 5; a design caches
  its domain index per ``by``);
* one ``np.bincount`` pass over the rows (weighted sums per stratum), the floor for any
  estimator that reads every row once;
* R: ``svyby(~y, ~stratum, design, svyciprop, method="logit", vartype=c("se","ci"),
  na.rm=TRUE)`` on the same CSV via Rscript (only the svyby call is timed). With
  ``--r-rows N`` R runs on the first N rows and its time is extrapolated linearly to all
  rows (svyby subsets the whole design once per domain, so its cost grows with rows);
* peak memory: tracemalloc's peak during a first ``proportion`` call on a new design, and
  the process's maximum resident set size.

Run: ``python benchmarks/bench_estimation.py [--rows N] [--strata H] [--r-rows N]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval import SurveyDesign

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
if (as.integer(args[2]) < nrow(d)) d <- d[seq_len(as.integer(args[2])), ]
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
t <- system.time(r <- svyby(~y, ~stratum, des, svyciprop, method = "logit",
                            vartype = c("se", "ci"), na.rm = TRUE))
cat(nrow(d), nrow(r), t[["elapsed"]], "\n")
"""


def make_data(rows: int, strata: int, psus: int, seed: int = 2026) -> pd.DataFrame:
    """Respondents in ``strata`` strata of ``psus`` PSUs; a 0/1 answer near 0.95 with
    PSU effects and 2% missing values; weights between 50 and 150."""
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, strata, rows)
    psu = rng.integers(0, psus, rows)
    rate = rng.beta(38, 2, size=(strata, psus))[stratum, psu]
    y = (rng.random(rows) < rate).astype(float)
    y[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame({"stratum": stratum, "psu": psu,
                         "weight": np.round(rng.uniform(50, 150, rows), 3), "y": y})


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_r(csv: Path, rows: int) -> tuple[int, float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
    out = subprocess.run(["Rscript", fh.name, str(csv), str(rows)], capture_output=True,
                         text=True, check=True)
    used, domains, seconds = out.stdout.split()
    return int(used), float(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--strata", type=int, default=200)
    parser.add_argument("--psus", type=int, default=20, help="PSUs per stratum")
    parser.add_argument("--r-rows", type=int, default=None,
                        help="rows R runs on (default: all); its time is extrapolated")
    parser.add_argument("--no-r", action="store_true", help="skip R")
    args = parser.parse_args(argv)

    df = make_data(args.rows, args.strata, args.psus)
    print(f"data: {args.rows:,} respondents, {args.strata} strata, {args.psus} PSUs each")

    start = time.perf_counter()
    design = SurveyDesign(df, strata="stratum", psu="psu", weights="weight")
    build = time.perf_counter() - start

    def estimate(d: SurveyDesign = design) -> pd.DataFrame:
        return d.proportion("y", by="stratum", method="logit")

    # First call on a design (builds its domain index), best of 5 fresh designs; the
    # machine may be shared, so every timing is a best of several.
    fresh = [SurveyDesign(df, strata="stratum", psu="psu", weights="weight") for _ in range(5)]
    first = min(best_of(lambda d=d: estimate(d), 1) for d in fresh)
    del fresh
    estimate()
    repeat = best_of(estimate, 5)
    codes = df["stratum"].to_numpy()
    weights = df["weight"].to_numpy()
    bincount = best_of(lambda: np.bincount(codes, weights=weights), 5)
    print(f"SurveyDesign(...) build:           {build * 1e3:9.1f} ms")
    print(f"proportion(by=stratum), first:      {first * 1e3:9.1f} ms")
    print(f"proportion(by=stratum), repeat:     {repeat * 1e3:9.1f} ms")
    print(f"one np.bincount pass over the rows: {bincount * 1e3:9.1f} ms")
    print(f"  ratio first / bincount:  {first / bincount:6.1f}x")
    print(f"  ratio repeat / bincount: {repeat / bincount:6.1f}x")

    tracemalloc.start()
    estimate(SurveyDesign(df, strata="stratum", psu="psu", weights="weight"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # tracemalloc's peak includes building the design (it copies the frame).
    print(f"peak traced memory, build + first call: {peak / 2**20:8.1f} MiB")

    if not args.no_r:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "bench.csv"
            df.to_csv(csv, index=False)
            r_rows = min(args.r_rows or args.rows, args.rows)
            result = time_r(csv, r_rows)
        if result is None:
            print("R: Rscript not found, skipped")
        else:
            used, seconds = result
            full = seconds * args.rows / used
            note = "" if used == args.rows else (
                f" (measured on the first {used:,} rows: {seconds:.2f} s, "
                "extrapolated linearly)")
            print(f"R svyby(svyciprop, logit):          {full * 1e3:9.1f} ms{note}")
            print(f"  ratio R / pingan_eval first:  {full / first:8.0f}x")
            print(f"  ratio R / pingan_eval repeat: {full / repeat:8.0f}x")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    print(f"max resident set size of this process: {rss * scale / 2**20:8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
