"""Seconds per report of ``pingan-eval batch``, where they go, and the batch's memory.

Runs, each in a temporary folder (nothing under data/ or reports/ is touched):

1. the shipped sample as ``make demo`` runs it: ``pingan-eval prepare --period all``
   then ``pingan-eval batch`` (7 townships, county and department overviews, the
   default jobs), two commands timed from the shell's view (target: under 20 s);
2. a synthetic county of each ``--townships`` size (default ``7,100,1000``;
   ``synth_county`` with about 200 respondents per township, two waves), ``--jobs 2``.

For each it prints the wall time, the seconds per report, and the split of one report
(means over the reports): kernel start, estimation (the batch's shared estimation
divided by the number of reports), notebook cells that draw (plotting), the other cells
(loading, tables, text) and the HTML export; the CPU seconds per township report (worker
plus its kernel) and of the county overview; the peak memory of the batch with all its
processes together (the sum of their proportional set sizes, PSS, sampled every 0.2 s:
shared pages counted once; and the sum of resident sizes, which counts a zygote's pages
again in every kernel forked from it), and of its largest process.

Targets (issue 12): sample county under 20 s wall; shared estimation under 8 s at 100
townships and under 60 s at 1,000; a township report at most 1.5 s of CPU, the same
within 15 % at 7, 100 and 1,000 townships; the county overview under 15 s; the whole
1,000-township batch under 30 minutes and 4 GiB.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--townships 7,100,1000] [--reports N]
[--jobs 2] [--county-dir DIR] [--skip-sample] [--skip-synthetic]`` (``--county-dir``
keeps each synthetic county in ``DIR/c<N>`` and reuses it on the next run: making 1,000
townships takes about two minutes; ``--reports N`` renders only the first N townships of
each county).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from synthetic_county import PERIODS, make_county

from pingan_eval import paths
from pingan_eval.batch.run import BatchResult, run_batch


def _cpu_all() -> float:
    """CPU seconds of this process and every finished descendant (workers, kernels)."""
    own, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                       resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class TreeMemory(threading.Thread):
    """Samples, every ``interval`` s until stopped, the memory of process ``root`` and all
    its descendants from /proc (Linux): peaks of the summed PSS, the summed RSS and the
    largest single RSS, in bytes."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.pss = self.rss = self.largest = 0
        self.processes = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def sample(self) -> None:
        parent = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                parent[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        tree, grew = {self.root}, True
        while grew:
            more = {pid for pid, ppid in parent.items() if ppid in tree} - tree
            tree |= more
            grew = bool(more)
        pss = rss = largest = 0
        for pid in tree:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            except OSError:
                continue
            fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in rollup[1:]
                      if line.split(":")[0] in ("Rss", "Pss")}
            pss += fields.get("Pss", 0)
            rss += fields.get("Rss", 0)
            largest = max(largest, fields.get("Rss", 0))
        self.pss, self.rss = max(self.pss, pss), max(self.rss, rss)
        self.largest = max(self.largest, largest)
        self.processes = max(self.processes, len(tree))


def _report(label: str, result: BatchResult, wall: float, cpu: float,
            memory: TreeMemory | None) -> None:
    runs = result.notebooks
    n = len(runs)
    mean = {key: statistics.fmean(r.timings.get(key, 0.0) for r in runs)
            for key in ("kernel_start", "cells", "plot_cells", "html_export", "cpu")}
    per_job = statistics.fmean(r.duration for r in runs)
    print(f"\n== {label}: {n} reports ({len(result.failed)} failed), jobs=2")
    print(f"batch wall time           {wall:8.1f} s   ({wall / n:.2f} s per report)")
    print(f"shared estimation         {result.estimation_seconds:8.1f} s")
    print(f"one report, wall (mean)   {per_job:8.2f} s   of which:")
    print(f"  kernel start            {mean['kernel_start']:8.2f} s")
    print(f"  plotting cells          {mean['plot_cells']:8.2f} s")
    print(f"  other cells             {mean['cells'] - mean['plot_cells']:8.2f} s")
    print(f"  HTML export             {mean['html_export']:8.2f} s")
    print(f"CPU per report (mean)     {mean['cpu']:8.2f} s   (worker + kernel)")
    for level in ("township", "county", "department"):
        each = [r.timings.get("cpu", 0.0) for r in runs if r.level == level]
        if each:
            wall = max(r.duration for r in runs if r.level == level)
            print(f"  {level + ' reports':<22}  {statistics.fmean(each):8.2f} s   "
                  f"(n={len(each)}, median {statistics.median(each):.2f}, max {max(each):.2f};"
                  f" wall at most {wall:.2f} s)")
    print(f"whole batch CPU / reports {cpu / n:8.2f} s   ({cpu:.1f} s: estimation, workers, "
          f"kernels, index)")
    if memory is not None:
        print(f"peak memory, all processes {memory.pss / 2**30:7.2f} GiB PSS "
              f"({memory.rss / 2**30:.2f} GiB summed RSS; up to {memory.processes} "
              f"processes; largest one {memory.largest / 2**30:.2f} GiB)")
    for r in result.failed:
        print(f"  failed: {r.area}: {r.error}")


def _time_batch(raw: Path, processed: Path, out: Path, plan: Path | None, jobs: int,
                townships: list[str] | None = None
                ) -> tuple[BatchResult, float, float, TreeMemory | None]:
    memory = TreeMemory(os.getpid()) if Path("/proc/self/smaps_rollup").exists() else None
    if memory is not None:
        memory.start()
    t0, cpu0 = time.perf_counter(), _cpu_all()
    try:
        result = run_batch(PERIODS[-1], townships=townships, jobs=jobs, out_dir=out,
                           raw_dir=raw, processed_dir=processed, plan=plan, progress=True)
    finally:
        if memory is not None:
            memory.stop()
    return result, time.perf_counter() - t0, _cpu_all() - cpu0, memory


def _demo(tmp: Path) -> None:
    """The sample county as ``make demo`` runs it: two commands, timed."""
    cli = [sys.executable, "-m", "pingan_eval"]
    raw, processed = paths.SAMPLE_RAW_DIR, tmp / "demo-processed"
    steps = [("prepare --period all", [*cli, "prepare", "--period", "all", "--raw", str(raw),
                                       "--out", str(processed)]),
             ("batch", [*cli, "batch", "--period", PERIODS[-1], "--raw", str(raw),
                        "--processed", str(processed), "--out", str(tmp / "demo-reports")])]
    print("\n== sample county as `make demo` runs it (prepare, then batch)")
    total = 0.0
    for name, command in steps:
        t0 = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        took = time.perf_counter() - t0
        total += took
        print(f"{name:<26}{took:8.1f} s")
    print(f"{'both':<26}{total:8.1f} s   target: under 20 s -> "
          f"{'met' if total < 20 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--townships", default="7,100,1000",
                        help="sizes of the synthetic counties, comma-separated")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reports", type=int, default=None,
                        help="render only the first N townships of each synthetic county "
                             "(per-report figures without running all of them)")
    parser.add_argument("--county-dir", type=Path, default=None,
                        help="make each synthetic county in DIR/c<N> once and reuse it")
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.townships.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        tmp = Path(tmp)
        if not args.skip_sample:
            _demo(tmp)
        if args.skip_synthetic:
            return
        for n in sizes:
            county = make_county((args.county_dir or tmp) / f"c{n}", n)
            subset = county.townships[:args.reports] if args.reports else None
            result, wall, cpu, memory = _time_batch(county.raw, county.processed,
                                                    tmp / f"reports-{n}", county.plan,
                                                    args.jobs, subset)
            shown = f"{len(subset)} of {n}" if subset else str(n)
            _report(f"synthetic county ({shown} townships + county)", result, wall, cpu,
                    memory)


if __name__ == "__main__":
    main()
