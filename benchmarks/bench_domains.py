"""CPU seconds of the monthly breakdowns (``report.all_breakdowns``) on a raked design.

``pingan-eval batch`` computes, once a month, every breakdown of every township:
``proportion(by=["township", X])`` for X in village, sex, age group, ethnicity and every
survey indicator of the plan, plus the county rows. On a raked design each call
residualizes its domains' influence values on the raking margins (township x sex,
township x age group, township x ethnicity), the cost this benchmark watches.

Two designs, each loaded with ``prepare.load_design`` (nothing under data/ is written):

1. the shipped sample, ``load_design("2026-11", "data/processed")`` (7 townships);
2. a synthetic county of ``--townships`` townships (default 100; ``synth_county`` with
   200 respondents per township and wave, two waves, prepared in a temporary folder),
   with the shipped plan's township list replaced by the county's.

For each it prints the rows, PSUs and domains per breakdown, then the CPU seconds
(``time.process_time``, best and median of ``--repeat`` runs) of ``all_breakdowns`` and
of a single ``proportion(by=["township", "village"])`` call.

Run: ``.venv/bin/python benchmarks/bench_domains.py [--townships 100] [--repeat 3]
[--skip-sample] [--skip-synthetic]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from synthetic_county import PERIODS, make_county

from pingan_eval import paths
from pingan_eval.data.prepare import load_design
from pingan_eval.summary import resolve_plan
from pingan_eval.survey.breakdowns import BREAKDOWN_BY, all_breakdowns


def _cpu(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return times


def _measure(label: str, design, plan: Path | None, repeat: int) -> None:
    indicator = resolve_plan(plan).survey[0].code
    print(f"\n== {label}: {design!r}")
    sizes = {b: len(design.proportion(indicator, by=["township", b])) for b in BREAKDOWN_BY}
    print("domains per breakdown     " + ", ".join(f"township x {b}: {k}"
                                                    for b, k in sizes.items()))
    # A design caches its domain index per `by`: each run gets a new one, to time it too.
    rows = len(all_breakdowns(design, plan=plan))
    for name, fn in [
        (f"all_breakdowns ({rows} rows)", lambda: all_breakdowns(design._evolve(), plan=plan)),
        ("proportion(by=[township, village])",
         lambda: design._evolve().proportion(indicator, by=["township", "village"])),
    ]:
        t = _cpu(fn, repeat)
        print(f"{name:<36} CPU best {min(t):8.3f} s   median {statistics.median(t):8.3f} s"
              f"   ({repeat} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--townships", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.skip_sample:
        design = load_design(PERIODS[-1], paths.PROCESSED_DIR)
        _measure("sample county (data/processed)", design, None, args.repeat)
    if not args.skip_synthetic:
        with tempfile.TemporaryDirectory(prefix="bench-domains-") as tmp:
            tmp = Path(tmp)
            county = make_county(Path(tmp), args.townships)
            design = load_design(PERIODS[-1], county.processed)
            _measure(f"synthetic county ({args.townships} townships)", design, county.plan,
                     args.repeat)


if __name__ == "__main__":
    main()
