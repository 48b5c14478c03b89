"""How long ``prepare`` takes on a 100,000-respondent wave, and its peak memory.

The wave is the sample county's 2026-11 wave replicated with new respondent and household
ids (planted bad rows included, so the rejection path runs too); fieldwork counts are
scaled by the same factor. Everything is built in a temporary folder; nothing under
data/ is touched.

Run: ``.venv/bin/python benchmarks/bench_prepare.py [--rows 100000]``
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from pingan_eval import paths
from pingan_eval.data.prepare import prepare_period
from pingan_eval.data.readers import read_table

PERIOD = "2026-11"


def build(raw: Path, rows: int) -> int:
    """Copy the sample's reference files and write a wave of about ``rows`` respondents."""
    src = paths.SAMPLE_RAW_DIR
    for name in ("frame.csv", "census.csv", "codebook.csv"):
        shutil.copy(src / name, raw / name)
    wave = read_table(src / "survey" / f"{PERIOD}.csv")
    copies = math.ceil(rows / len(wave))
    parts = []
    for k in range(copies):
        part = wave.copy()
        part["respondent_id"] = part["respondent_id"] + f"-r{k}"
        part["household_id"] = part["household_id"] + f"-r{k}"
        parts.append(part)
    big = pd.concat(parts, ignore_index=True).iloc[:rows]
    (raw / "survey").mkdir()
    big.to_csv(raw / "survey" / f"{PERIOD}.csv", index=False, encoding="utf-8")
    fw = pd.read_csv(src / "fieldwork" / f"{PERIOD}.csv")
    fw[["households_selected", "households_responded"]] *= copies
    (raw / "fieldwork").mkdir()
    fw.to_csv(raw / "fieldwork" / f"{PERIOD}.csv", index=False)
    return len(big)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw", Path(tmp) / "out"
        raw.mkdir()
        n = build(raw, args.rows)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        start, cpu = time.perf_counter(), time.process_time()
        result = prepare_period(PERIOD, raw, out)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # a second, traced run for the peak of Python/numpy allocations (tracemalloc is slow)
        tracemalloc.start()
        prepare_period(PERIOD, raw, out)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"prepare_period on {n:,} respondents: {seconds:.1f} s wall, {cpu:.1f} s CPU; "
          f"peak RSS {rss:.0f} MiB (before: {rss_before:.0f} MiB), peak traced allocations "
          f"{peak:.0f} MiB; kept {result.kept:,}, rejected {result.rejected:,}, "
          f"Kish deff {result.kish_deff:.2f}")


if __name__ == "__main__":
    main()
