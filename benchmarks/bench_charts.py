"""CPU seconds to draw the charts of one report, as the report notebooks draw them.

A township report draws a forest plot, a trend plot and one breakdown plot per breakdown
with anything to show (village, sex, age group, ethnicity), each turned into a PNG by
``charts.image``: about half of a township report's CPU (bench_batch.py). The county
overview adds the safe-cell heat map. Printed, for each case: the best and the median
CPU time (``time.process_time``) over ``--repeats`` runs in this one warm process,
split into building the figures and drawing them to PNG (best of each).

Cases: every township of the shipped sample (or of ``--data``), the county overview,
and a synthetic county of ``--townships`` townships with names of up to 10 characters
(forest plot and heat map only: the charts whose size grows with townships).

Inputs: the tables ``pingan-eval batch`` caches (``--data``, its cache folder, e.g.
``reports/2026-11/_data``: read with ``report.load_inputs(cache_dir=...)``), else
computed from the shipped sample for ``--period`` (a few seconds, not timed).

Run: ``.venv/bin/python benchmarks/bench_charts.py [--data DIR] [--period 2026-11]
[--repeats 7] [--townships 100]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import pandas as pd

from pingan_eval import labels, report
from pingan_eval.report import charts

#: Synthetic township names of 4 to 10 characters (numbered to make 100 distinct).
LONG_NAMES = ("阿克托别哈拉苏乡", "乌伦古河北岸牧业镇", "喀拉通克工业园区镇", "萨尔布拉克",
              "布尔根河谷边境口岸镇", "新疆生产建设兵团十师", "查干郭勒乡", "东风")


def _inputs(args) -> tuple[pd.DataFrame, pd.DataFrame, Callable[..., pd.DataFrame], str]:
    """Summary, trend, a breakdowns reader ``(area, by) -> rows`` and the county."""
    inputs = report.load_inputs(args.period, cache_dir=args.data)
    summary, trend = inputs.summary, inputs.trend

    def breakdowns(area, by):
        return report.area_breakdowns(area, inputs, by=by)
    county = str(summary.loc[summary["area_level"] == "county", "area"].iloc[0])
    return summary, trend, breakdowns, county


def _report_charts(summary, trend, groups, area: str, by) -> list[Callable]:
    """The figures a report notebook draws, as calls (``image`` applied afterwards)."""
    calls = [lambda: charts.forest_plot(summary, area),
             lambda: charts.trend_plot(trend, area)]
    for b in by:
        part = groups[groups["breakdown"] == b]
        if (part["flag"] != "suppress").any():
            title = f"{area}：按{labels.zh('breakdown', b)}"
            calls.append(lambda part=part, title=title: charts.breakdown_plot(part, title=title))
    return calls


def _synthetic(summary: pd.DataFrame, n: int) -> pd.DataFrame:
    """``summary`` with ``n`` townships: the real ones' rows repeated under long names."""
    county = summary[summary["area_level"] == "county"]
    towns = [a for a in dict.fromkeys(summary["area"]) if a not in set(county["area"])]
    parts = [county]
    for k in range(n):
        base = LONG_NAMES[k % len(LONG_NAMES)]
        name = base if k < len(LONG_NAMES) else f"{base[:7]}{k}乡"
        parts.append(summary[summary["area"] == towns[k % len(towns)]].assign(area=name))
    return pd.concat(parts, ignore_index=True)


def _time(calls: list[Callable], repeats: int) -> tuple[list[float], float, float]:
    """CPU seconds per run of all ``calls`` + ``image``; best build and best PNG time."""
    for call in calls:  # warm: fonts, caches
        charts.image(call())
    totals, builds, draws = [], [], []
    for _ in range(repeats):
        t0 = time.process_time()
        figures = [call() for call in calls]
        t1 = time.process_time()
        for fig in figures:
            charts.image(fig)
        t2 = time.process_time()
        totals.append(t2 - t0)
        builds.append(t1 - t0)
        draws.append(t2 - t1)
    return totals, min(builds), min(draws)


def _print(name: str, n: int, result) -> None:
    totals, build, draw = result
    print(f"{name:<24} {n:>2} charts  best {min(totals):.3f} s  median "
          f"{statistics.median(totals):.3f} s  (build {build:.3f} + png {draw:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the batch's cache folder (<out>/<period>/_data)")
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--townships", type=int, default=100)
    args = parser.parse_args()
    summary, trend, breakdowns, county = _inputs(args)
    print(f"CPU seconds (time.process_time), {args.repeats} runs each, charts + image()")
    towns = list(dict.fromkeys(summary.loc[summary["area_level"] == "township", "area"]))
    for town in towns:
        calls = _report_charts(summary, trend, breakdowns(town, report.BREAKDOWN_BY), town,
                               report.BREAKDOWN_BY)
        _print(town, len(calls), _time(calls, args.repeats))
    by = ("sex", "age_group", "ethnicity")
    calls = _report_charts(summary, trend, breakdowns(county, by), county, by)
    calls.append(lambda: charts.naming_heatmap(summary))
    _print(f"{county} (overview)", len(calls), _time(calls, args.repeats))
    big = _synthetic(summary, args.townships)
    calls = [lambda: charts.forest_plot(big, LONG_NAMES[5]),
             lambda: charts.naming_heatmap(big)]
    _print(f"{args.townships} townships", len(calls), _time(calls, max(1, args.repeats // 3)))


if __name__ == "__main__":
    main()
