"""The sample behind each area's survey numbers: respondents, villages, response, weights.

:func:`sample_facts` reads a prepared month once and gives one row per area, so a report
states its own sample without reading the whole county's respondents (the batch caches
the table; a township report reads only its row).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.plan import Plan

__all__ = ["FACT_COLUMNS", "read_facts", "sample_facts"]

#: Columns of :func:`sample_facts`, in order.
FACT_COLUMNS = ("period", "area", "area_level", "respondents", "villages",
                "households_selected", "households_responded", "kish_deff", "rows_read",
                "rows_kept", "rows_rejected", "absent")


def sample_facts(period: str, raw_dir: str | os.PathLike, processed_dir: str | os.PathLike,
                 plan: Plan) -> pd.DataFrame:
    """One row per area (the county first, then the plan's townships) of ``period``'s sample.

    Parameters
    ----------
    period : str
        ``YYYY-MM``, prepared into ``processed_dir``.
    raw_dir : path
        Dataset folder (``frame.csv`` and ``fieldwork/<period>.csv``).
    processed_dir : path
        Folder of ``pingan-eval prepare`` output (respondents, ``validation.json``).
    plan : Plan
        County name and townships, in order.

    Returns
    -------
    pandas.DataFrame
        :data:`FACT_COLUMNS`: respondents and sampled villages with a respondent,
        households selected and responding (fieldwork), the Kish design effect of the
        weights (``validation.json``), the county's rows read, kept and rejected (the same
        on every row), and ``absent``: the townships without a respondent this month,
        joined by ``、`` (on the county's row and on an absent township's own row).
    """
    from pingan_eval.data.prepare import load_respondents
    from pingan_eval.data.readers import read_fieldwork, read_frame

    resp = load_respondents(period, processed_dir)
    frame = read_frame(Path(raw_dir) / "frame.csv")
    field = read_fieldwork(Path(raw_dir) / "fieldwork" / f"{period}.csv", frame)
    report = json.loads((Path(processed_dir) / period / "validation.json").read_text(
        encoding="utf-8"))
    weighting, counts = report.get("weighting", {}), report.get("counts", {})
    towns = list(plan.townships)
    by_town = resp.groupby("township", sort=False)
    n = by_town.size().reindex(towns, fill_value=0)
    villages = by_town["village"].nunique().reindex(towns, fill_value=0)
    households = field.groupby("township", sort=False)[
        ["households_selected", "households_responded"]].sum().reindex(towns, fill_value=0)
    kish = {t["township"]: t["kish_deff"] for t in weighting.get("townships", [])}
    absent = [t for t in towns if n[t] == 0]
    county = pd.DataFrame({
        "area": [plan.county], "area_level": "county", "respondents": len(resp),
        "villages": resp["village"].nunique(),
        "households_selected": field["households_selected"].sum(),
        "households_responded": field["households_responded"].sum(),
        "kish_deff": weighting.get("kish_deff", np.nan), "absent": "、".join(absent)})
    townships = pd.DataFrame({
        "area": towns, "area_level": "township", "respondents": n.to_numpy(),
        "villages": villages.to_numpy(),
        "households_selected": households["households_selected"].to_numpy(),
        "households_responded": households["households_responded"].to_numpy(),
        "kish_deff": [kish.get(t, np.nan) for t in towns],
        "absent": [t if n[t] == 0 else "" for t in towns]})
    out = pd.concat([county, townships], ignore_index=True).assign(
        period=period, rows_read=counts.get("read", np.nan),
        rows_kept=counts.get("kept", np.nan), rows_rejected=counts.get("rejected", np.nan))
    return out[list(FACT_COLUMNS)]


def read_facts(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV of :func:`sample_facts` back with its types (``absent`` "" where none)."""
    table = pd.read_csv(path, dtype={"period": str, "area": str, "area_level": str,
                                     "absent": str}, keep_default_na=False,
                        na_values={c: [""] for c in FACT_COLUMNS
                                   if c not in ("period", "area", "area_level", "absent")},
                        encoding="utf-8")
    return table[list(FACT_COLUMNS)]
