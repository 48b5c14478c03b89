"""What an earlier run of the same period left in the output folder, for a subset re-run.

``pingan-eval batch --townships A`` re-runs A (and the county overview, which every run
renders) only. The folder's county-wide files must not shrink to that subset: the
other townships' rows of ``summary.csv`` / ``summary.xlsx`` and their entries in
``index.html`` (linked to their reports, still on disk) are carried over from the
earlier run, as its ``summary.csv`` and ``manifest.json`` describe them; the re-run
areas replace theirs. :func:`previous_run` reads them, :func:`merged_summary` puts
the rows together in plan order. The manifest keeps the carried-over notebooks with
``kept_from`` (the start of the run that rendered them), so a second subset re-run
still finds them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval.batch.notebook_run import NotebookResult

__all__ = ["PreviousRun", "merged_summary", "previous_run"]

_RESULT_FIELDS = ("area", "level", "status", "error", "start", "duration", "timings")


@dataclass(frozen=True)
class PreviousRun:
    """The areas an earlier run rendered that this one does not re-run.

    Attributes
    ----------
    results : list of NotebookResult
        Their run results, in the earlier run's order.
    rows : list of dict
        Their ``manifest.json`` rows (``ipynb``, ``html``, ``kept_from`` included).
    summary : pandas.DataFrame
        Their rows of the earlier ``summary.csv`` (empty if it could not be read).
    """

    results: list[NotebookResult] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def areas(self) -> list[str]:
        """The areas carried over."""
        return [r.area for r in self.results]

    @property
    def pages(self) -> dict[str, str]:
        """Area -> file name of its report page (relative to ``index.html``)."""
        return {row["area"]: row["html"] for row in self.rows if row.get("html")}


def previous_run(folder: Path, period: str, *, rerun: Iterable[str],
                 townships: Sequence[str]) -> PreviousRun:
    """The areas of an earlier run of ``period`` in ``folder`` to carry over.

    Only townships of the current plan (``townships``) that this run does not re-run
    (``rerun``) are kept; nothing is kept when ``folder`` holds no readable
    ``manifest.json`` of ``period`` (first run, or another period's folder).
    """
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("parameters", {}).get("period") != period:
            return PreviousRun()
        notebooks = list(manifest["notebooks"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return PreviousRun()
    skip, plan = set(rerun), set(townships)
    rows = [dict(row) for row in notebooks
            if isinstance(row, dict) and row.get("level") == "township"
            and row.get("area") in plan and row.get("area") not in skip]
    results, kept = [], []
    for row in rows:
        with contextlib.suppress(KeyError, TypeError):
            results.append(NotebookResult(**{k: row[k] for k in _RESULT_FIELDS}))
            row.setdefault("kept_from", manifest.get("start"))
            kept.append(row)
    areas = {r.area for r in results}
    return PreviousRun(results=results, rows=kept,
                       summary=_summary_rows(folder / "summary.csv", period, areas))


def _summary_rows(path: Path, period: str, areas: set[str]) -> pd.DataFrame:
    """The rows of ``areas`` in an earlier users' summary (empty if unreadable)."""
    try:
        table = pd.read_csv(path, encoding="utf-8-sig",
                            dtype={"period": str, "window_start": str})
    except (OSError, ValueError):
        return pd.DataFrame()
    if not {"period", "area"} <= set(table.columns):
        return pd.DataFrame()
    return table[table["area"].isin(areas) & table["period"].eq(period)]


def merged_summary(fresh: pd.DataFrame, kept: pd.DataFrame, order: Sequence[str]
                   ) -> pd.DataFrame:
    """This run's users' summary with the carried-over rows, areas in ``order``.

    The kept rows take this run's columns and types (as a full run would write them);
    rows of the same area stay in their order. Without kept rows ``fresh`` is returned.
    """
    if kept.empty:
        return fresh
    kept = kept.reindex(columns=fresh.columns)
    for column in fresh.columns:
        if kept[column].dtype != fresh[column].dtype:
            with contextlib.suppress(TypeError, ValueError):
                kept[column] = kept[column].astype(fresh[column].dtype)
    both = pd.concat([fresh, kept], ignore_index=True)
    rank = {area: i for i, area in enumerate(order)}
    key = both["area"].map(lambda a: rank.get(a, len(rank)))
    return both.iloc[key.argsort(kind="stable")].reset_index(drop=True)
