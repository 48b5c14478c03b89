"""Seconds per report of ``pingan-eval batch``, and where they go.

Two runs, each in a temporary folder (nothing under data/ or reports/ is touched):

1. the shipped sample: its 7 townships plus the county overview, ``--jobs 2``
   (target: under 30 s on 2 cores);
2. a synthetic county of ``--townships`` townships (default 100; ``synth_county`` with
   about 200 respondents per township, two waves), ``--jobs 2``.

For each it prints the wall time, the seconds per report, and the split of one report
(means over the reports): kernel start, estimation (the batch's one vectorized
``period_summary`` + ``trend_summary``, divided by the number of reports), notebook
cells that draw (plotting), the other cells (loading, tables, text) and the HTML export;
and the CPU seconds per report (worker plus its kernel; target at most 3 s).

Targets (issue 12): sample county under 20 s wall; shared estimation under 8 s at 100
townships and under 60 s at 1,000; a township report at most 1.5 s of CPU, the same
within 15 % at 7, 100 and 1,000 townships; the county overview under 15 s; the whole
1,000-township batch under 30 minutes and 4 GiB.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--townships 100] [--reports N]
[--jobs 2] [--county-dir DIR] [--skip-sample] [--skip-synthetic]`` (``--county-dir``
keeps the synthetic county there and reuses it on the next run: making 1,000 townships
takes about two minutes).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from synthetic_county import PERIODS, make_county

from pingan_eval import paths
from pingan_eval.batch.run import BatchResult, run_batch
from pingan_eval.data.prepare import prepare_period


def _cpu_all() -> float:
    """CPU seconds of this process and every finished descendant (workers, kernels)."""
    own, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                       resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _report(label: str, result: BatchResult, wall: float, cpu: float) -> None:
    runs = result.notebooks
    n = len(runs)
    mean = {key: statistics.fmean(r.timings.get(key, 0.0) for r in runs)
            for key in ("kernel_start", "cells", "plot_cells", "html_export", "cpu")}
    per_job = statistics.fmean(r.duration for r in runs)
    print(f"\n== {label}: {n} reports ({len(result.failed)} failed), jobs=2")
    print(f"batch wall time           {wall:8.1f} s   ({wall / n:.2f} s per report)")
    print(f"one report, wall (mean)   {per_job:8.2f} s   of which:")
    print(f"  kernel start            {mean['kernel_start']:8.2f} s")
    print(f"  estimation (shared)     {result.estimation_seconds / n:8.2f} s   "
          f"({result.estimation_seconds:.1f} s once for all areas)")
    print(f"  plotting cells          {mean['plot_cells']:8.2f} s")
    print(f"  other cells             {mean['cells'] - mean['plot_cells']:8.2f} s")
    print(f"  HTML export             {mean['html_export']:8.2f} s")
    print(f"CPU per report (mean)     {mean['cpu']:8.2f} s   (worker + kernel)")
    for level in ("township", "county"):
        each = [r.timings.get("cpu", 0.0) for r in runs if r.level == level]
        if each:
            print(f"  {level + ' reports':<22}  {statistics.fmean(each):8.2f} s   "
                  f"(n={len(each)}, median {statistics.median(each):.2f}, max {max(each):.2f})")
    print(f"whole batch CPU / reports {cpu / n:8.2f} s   ({cpu:.1f} s: estimation, workers, "
          f"kernels, index)")
    peak = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    print(f"peak memory of one process {peak / 2**20:7.2f} GiB (the largest of the batch and "
          "its finished children)")
    for r in result.failed:
        print(f"  failed: {r.area}: {r.error}")


def _time_batch(raw: Path, processed: Path, out: Path, plan: Path | None, jobs: int,
                townships: list[str] | None = None) -> tuple[BatchResult, float, float]:
    t0, cpu0 = time.perf_counter(), _cpu_all()
    result = run_batch(PERIODS[-1], townships=townships, jobs=jobs, out_dir=out, raw_dir=raw,
                       processed_dir=processed, plan=plan, progress=True)
    return result, time.perf_counter() - t0, _cpu_all() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--townships", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reports", type=int, default=None,
                        help="render only the first N townships of the synthetic county "
                             "(per-report figures without running all of them)")
    parser.add_argument("--county-dir", type=Path, default=None,
                        help="make the synthetic county here once and reuse it")
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp = Path(tmp)
        if not args.skip_sample:
            processed = tmp / "sample-processed"
            for period in PERIODS:
                prepare_period(period, paths.SAMPLE_RAW_DIR, processed)
            result, wall, cpu = _time_batch(paths.SAMPLE_RAW_DIR, processed,
                                            tmp / "sample-reports", None, args.jobs)
            _report("sample county (7 townships + county)", result, wall, cpu)
            print(f"target: under 30 s -> {'met' if wall < 30 else 'NOT met'}")
        if not args.skip_synthetic:
            county = make_county(args.county_dir or tmp / "county", args.townships)
            subset = county.townships[:args.reports] if args.reports else None
            result, wall, cpu = _time_batch(county.raw, county.processed, tmp / "reports",
                                            county.plan, args.jobs, subset)
            shown = f"{len(subset)} of {args.townships}" if subset else str(args.townships)
            _report(f"synthetic county ({shown} townships + county)", result, wall, cpu)


if __name__ == "__main__":
    main()
