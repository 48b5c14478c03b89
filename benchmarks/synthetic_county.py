"""A synthetic county for the benchmarks: raw data, two prepared waves and its plan.

``synth_county`` with about 200 respondents per township and wave; the shipped plan with
its township list replaced by the county's (same targets). Imported by the benchmark
scripts of this folder (run as ``python benchmarks/<script>.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pingan_eval import paths
from pingan_eval.data.prepare import prepare_period
from pingan_eval.data.synth import synth_county
from pingan_eval.plan import load_plan

PERIODS = ("2026-10", "2026-11")


@dataclass(frozen=True)
class County:
    raw: Path
    processed: Path
    plan: Path
    townships: list[str]  # in the frame's order (the order synth wrote them)


def make_county(folder: Path, n_townships: int) -> County:
    """Write the county under ``folder`` (``raw/``, ``processed/``, ``plan.toml``); a folder
    already holding a county of ``n_townships`` townships (its plan) is reused as it is."""
    if (folder / "plan.toml").is_file() and (folder / "processed" / PERIODS[-1]).is_dir():
        townships = list(dict.fromkeys(pd.read_csv(folder / "raw" / "frame.csv")["township"]))
        if len(townships) == n_townships:
            return County(folder / "raw", folder / "processed", folder / "plan.toml",
                          townships)
    raw = synth_county(folder / "raw", seed=2026, n_townships=n_townships,
                       respondents_per_wave=200 * n_townships, periods=len(PERIODS),
                       last_period=PERIODS[-1])
    for period in PERIODS:
        prepare_period(period, raw, folder / "processed")
    townships = list(dict.fromkeys(pd.read_csv(raw / "frame.csv")["township"]))
    return County(raw, folder / "processed", _plan_for(townships, folder), townships)


def _plan_for(townships: list[str], folder: Path) -> Path:
    """The shipped plan with another township list (same targets)."""
    text = (paths.PLANS_DIR / "qinghe.toml").read_text(encoding="utf-8")
    listed = ", ".join(f'"{t}"' for t in townships)
    text, n = re.subn(r"(?m)^townships = \[.*\]$", f"townships = [{listed}]", text, count=1)
    if n != 1:
        raise SystemExit("synthetic_county: the shipped plan has no [plan] townships line")
    path = folder / "plan.toml"
    path.write_text(text, encoding="utf-8")
    load_plan(path)  # fails loudly if the edit broke the plan
    return path
