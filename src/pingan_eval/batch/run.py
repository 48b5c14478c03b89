"""``pingan-eval batch``: every township report and the county overview for one month.

The estimates are computed once for all areas (:func:`pingan_eval.summary.period_summary`
is vectorized over townships) and cached in ``<out>/<period>/_data/``; then each report
notebook runs with papermill in its own worker (local processes by default, or a Dask
cluster) and only reads the cache. One failing notebook never stops the others.

Output folder ``<out>/<period>/``::

    <township>.ipynb, <township>.html   one per township (failed ones too)
    county.ipynb, county.html           the county overview
    index.html                          links, run status and verdicts at a glance
    summary.csv, summary.xlsx           period x area x indicator (see USER_COLUMNS)
    manifest.json                       parameters, input hashes, versions, status
    _data/summary.csv, trends.csv, breakdowns.csv, registers/   what the notebooks read

Every file is written atomically; equal inputs give byte-identical notebooks, HTML, CSV
and XLSX files (the time stamps live in ``manifest.json`` only). A re-run of some
townships keeps the other townships of an earlier run of the period in the summary files
and the index (:mod:`~pingan_eval.batch.previous`).

This module drives the steps, each in its own module: the options and the notebook jobs
(:mod:`~pingan_eval.batch.jobs`), the estimation once and its cache
(:mod:`~pingan_eval.batch.estimation`), the workers (:mod:`~pingan_eval.batch.workers`),
the users' files (:mod:`~pingan_eval.batch.outputs`) and the manifest
(:mod:`~pingan_eval.batch.manifest`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval import paths
from pingan_eval.batch.estimation import estimate_period, write_area_caches, write_cache
from pingan_eval.batch.jobs import (
    DEPARTMENTS_AREA,
    BatchOptions,
    batch_options,
    notebook_jobs,
    unknown_result,
)
from pingan_eval.batch.jobs import report_filenames as report_filenames
from pingan_eval.batch.manifest import write_manifest
from pingan_eval.batch.notebook_run import NotebookJob, NotebookResult
from pingan_eval.batch.outputs import (
    USER_COLUMNS,
    check_writable,
    remove_stale_temporaries,
    try_write,
    user_summary,
    write_index,
    write_user_summary,
)
from pingan_eval.batch.outputs import reproducible_xlsx as reproducible_xlsx
from pingan_eval.batch.previous import merged_summary, previous_run
from pingan_eval.batch.workers import connect_scheduler, run_dask, run_local, worker_pool

__all__ = ["USER_COLUMNS", "BatchResult", "main_batch", "run_batch"]


@dataclass(frozen=True)
class BatchResult:
    """What :func:`run_batch` wrote.

    Attributes
    ----------
    period : str
    folder : pathlib.Path
        ``<out>/<period>``.
    index_path, manifest_path : pathlib.Path
    summary : pandas.DataFrame
        The users' summary table (:data:`USER_COLUMNS`) as written: this run's areas and
        those of ``kept``.
    notebooks : tuple of NotebookResult
        This run's: county first, then the townships asked for, then unknown names.
    duration : float
        Wall-clock seconds.
    estimation_seconds : float
        Seconds spent computing the period's and the trend's estimates (once).
    unwritten : tuple of str
        One line per output file that could not be replaced at the end (on Windows:
        ``summary.xlsx`` open in Excel); the other files were still written.
    kept : tuple of str
        Townships of an earlier run of the period that this run did not re-run: their
        rows and index entries were carried over (their reports left as they were).
    """

    period: str
    folder: Path
    index_path: Path
    manifest_path: Path
    summary: pd.DataFrame
    notebooks: tuple[NotebookResult, ...]
    duration: float
    estimation_seconds: float
    unwritten: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[NotebookResult, ...]:
        """The notebooks whose status is not ``"ok"``."""
        return tuple(r for r in self.notebooks if r.status != "ok")

    @property
    def ok(self) -> bool:
        """True when every notebook ran and every output file was written."""
        return not self.failed and not self.unwritten


def _execute(jobs: Sequence[NotebookJob], *, pool: ProcessPoolExecutor | None,
             client: Any, progress: bool, period: str) -> list[NotebookResult]:
    """Run the jobs (:mod:`pingan_eval.batch.workers`) under a progress bar; results in
    job order."""
    from tqdm.auto import tqdm

    results: list[NotebookResult | None] = [None] * len(jobs)
    counts = {"ok": 0, "failed": 0}
    with tqdm(total=len(jobs), desc=f"batch {period}", unit="report", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:

        def on_done(i: int, result: NotebookResult) -> None:
            results[i] = result
            counts["ok" if result.status == "ok" else "failed"] += 1
            bar.set_postfix(done=counts["ok"], failed=counts["failed"], refresh=False)
            bar.update(1)

        if client is not None:
            run_dask(jobs, client, on_done)
        else:
            run_local(jobs, pool, on_done)
    return [r for r in results if r is not None]


def run_batch(
    period: str,
    *,
    townships: Sequence[str] | None = None,
    jobs: int | None = None,
    out_dir: str | os.PathLike = paths.REPORTS_DIR,
    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
    processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
    plan: str | os.PathLike | None = None,
    timeout: float = 600,
    scheduler: str | None = None,
    progress: bool = True,
    township_notebook: str | os.PathLike | None = None,
    county_notebook: str | os.PathLike | None = None,
    department_notebook: str | os.PathLike | None = None,
) -> BatchResult:
    """Render the period's township reports and county overview; write the index.

    Parameters
    ----------
    period : str
        ``YYYY-MM``, prepared with ``pingan-eval prepare``.
    townships : sequence of str, optional
        A subset of the plan's townships (default all). A name the plan does not know
        becomes a failed row; the others still run.
    jobs : int, optional
        Local worker processes (default: one per core, at most one per notebook).
        ``1`` runs the notebooks one after another in this process.
    out_dir : path
        Reports go to ``out_dir/<period>/``.
    raw_dir, processed_dir : path
        Raw dataset (registers, task logs) and ``prepare`` output.
    plan : path, optional
        Plan file (default: the shipped Qinghe plan).
    timeout : float
        Seconds before a notebook's kernel is killed (whole run, and any one cell).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); the notebooks
        then run on its workers, which must see the same paths. Default: local
        processes, no Dask needed.
    progress : bool
        Show a tqdm progress bar on stderr (reports done, failed, time left).
    township_notebook, county_notebook, department_notebook : path, optional
        The notebooks to run (default ``notebooks/township_report.ipynb``,
        ``notebooks/county_overview.ipynb`` and ``notebooks/department_overview.ipynb``,
        the tasks by department, :mod:`pingan_eval.registers.ledger`); each needs a
        ``parameters`` cell.

    Returns
    -------
    BatchResult
        Paths, the users' summary table and one :class:`NotebookResult` per report.

    Raises
    ------
    ReportError
        The period is malformed or not prepared (the message says to run
        ``pingan-eval prepare --period P``), ``out_dir`` is (under) the raw or prepared
        data folder or cannot be written to (checked before anything runs), or the Dask
        scheduler is unreachable. A file that cannot be replaced at the end raises
        nothing: it is named in ``BatchResult.unwritten`` and the rest is written.
    PlanError, DataError
        From the plan or the summary: nothing can run without them.

    Notes
    -----
    Each notebook gets the parameters ``township`` (not for the county), ``period``,
    ``raw_dir``, ``processed_dir``, ``plan_path``, ``summary_path``, ``trend_path``,
    ``breakdowns_path``, ``registers_dir`` (strings; papermill writes them as escaped
    Python literals, so any name is safe).
    ``trend_path`` holds :func:`~pingan_eval.summary.trend_summary` for up to twelve
    prepared months ending with ``period``.

    When the folder already holds a run of ``period`` (its ``manifest.json``), the
    townships of that run which this one does not re-run keep their rows in
    ``summary.csv`` / ``summary.xlsx`` and their entries (and links) in ``index.html``;
    the manifest lists them with ``kept_from``. Their reports are not touched.
    """
    t0 = time.perf_counter()
    start = datetime.now(timezone.utc).isoformat(timespec="seconds")
    options = batch_options(
        period, townships=townships, jobs=jobs, out_dir=out_dir, raw_dir=raw_dir,
        processed_dir=processed_dir, plan=plan, timeout=timeout, scheduler=scheduler,
        township_notebook=township_notebook, county_notebook=county_notebook,
        department_notebook=department_notebook,
    )
    # an unreachable scheduler is reported before anything is estimated or written
    client = connect_scheduler(scheduler) if scheduler else None
    try:
        return _run(options, client, progress=progress, t0=t0, start=start)
    finally:
        if client is not None:
            client.close()


def _run(options: BatchOptions, client: Any, *, progress: bool, t0: float,
         start: str) -> BatchResult:
    """:func:`run_batch` once its options are checked and the scheduler (if any) reached."""
    period, folder, county = options.period, options.folder, options.plan.county
    check_writable(folder)  # fail before the estimation, not after the reports
    remove_stale_temporaries(folder)
    previous = previous_run(folder, period, rerun={county, *options.wanted},
                            townships=options.plan.townships)

    with worker_pool(1 if client is not None else options.n_jobs) as pool:
        estimates = estimate_period(options, pool)
        from pingan_eval.report.charts import FOREST_FULL_ROWS

        cache = write_cache(folder / "_data", estimates)
        areas = write_area_caches(folder / "_data" / "areas", estimates,
                                  report_filenames(options.known), full_rows=FOREST_FULL_ROWS)
        job_list = notebook_jobs(options, cache, areas)
        results = _execute(job_list, pool=pool, client=client, progress=progress,
                           period=period)
    results += [unknown_result(t, options.plan.townships) for t in options.unknown]

    table = estimates.table
    order = [county, *options.plan.townships]
    summary = merged_summary(
        user_summary(table[table["area"].isin({county, *options.known})
                           | table["area_level"].eq("department")], options.plan),
        previous.summary, order)
    listed = (_in_order(results + previous.results, [county, DEPARTMENTS_AREA, *order[1:]])
              if previous.results else results)
    # A file that cannot be replaced (held open, read-only) is named and skipped: the
    # others, index and manifest included, are still written.
    unwritten = write_user_summary(folder, summary)
    index_path, manifest_path = folder / "index.html", folder / "manifest.json"
    try_write(index_path, lambda: write_index(
        folder, county=county, period=period, jobs=job_list, results=listed,
        summary=summary, plan=options.plan, pages=previous.pages), unwritten)

    duration = time.perf_counter() - t0
    try_write(manifest_path, lambda: write_manifest(
        options, start=start, duration=duration, estimation_seconds=estimates.seconds,
        trend_periods=estimates.trend_periods, jobs=job_list, results=results,
        unwritten=list(unwritten), kept=previous.rows), unwritten)
    return BatchResult(period=period, folder=folder, index_path=index_path,
                       manifest_path=manifest_path, summary=summary,
                       notebooks=tuple(results), duration=duration,
                       estimation_seconds=estimates.seconds, unwritten=tuple(unwritten),
                       kept=tuple(previous.areas))


def _in_order(results: list[NotebookResult], order: Sequence[str]) -> list[NotebookResult]:
    """``results`` with the areas in ``order`` (others last, as they came)."""
    rank = {area: i for i, area in enumerate(order)}
    return sorted(results, key=lambda r: rank.get(r.area, len(rank)))


def _describe(result: NotebookResult) -> str:
    error = result.error or {}
    where = f"cell {error['cell_index']}, " if error.get("cell_index") is not None else ""
    return f"{result.area}: {result.status} ({where}{error.get('ename')}: {error.get('evalue')})"


class _Stopped(KeyboardInterrupt):
    """SIGTERM arrived: the batch stops as on Ctrl-C (``signum`` says which signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise_interrupt(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def main_batch(args: argparse.Namespace) -> int:
    """Run :func:`run_batch` from parsed ``pingan-eval batch`` arguments.

    Prints the path of ``index.html``; names every failed report, and every output file
    that could not be replaced, on stderr. Returns 0 when every report and file was
    written, 1 otherwise. Stopped by Ctrl-C or SIGTERM, it says so in one line on stderr
    (no traceback) once the workers, their kernels and temporary files are gone, and
    returns 128 + the signal: 130 (SIGINT) or 143 (SIGTERM).
    """
    townships = None
    if args.townships:  # "A,B" or, typed on a Chinese keyboard, "A，B"
        townships = [t.strip() for t in re.split("[,，]", args.townships) if t.strip()]
    # SIGTERM (a scheduler or `kill` stopping the command) takes the Ctrl-C path, which
    # stops the worker processes instead of leaving them orphaned.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run_batch(
            args.period, townships=townships, jobs=args.jobs, out_dir=args.out,
            raw_dir=args.raw, processed_dir=args.processed, plan=args.plan,
            timeout=args.timeout, scheduler=args.scheduler, progress=True,
        )
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, _Stopped) else signal.SIGINT
        print(f"pingan-eval batch: stopped by {signal.Signals(signum).name}; the reports "
              "finished so far are kept, the index and summary were not updated",
              file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)
    n = len(result.notebooks)
    print(f"{n - len(result.failed)}/{n} reports in {result.duration:.1f} s; "
          f"index: {result.index_path}")
    for failed in result.failed:
        print(f"pingan-eval batch: failed: {_describe(failed)}", file=sys.stderr)
    for line in result.unwritten:
        print(f"pingan-eval batch: error: {line}", file=sys.stderr)
    return 0 if result.ok else 1
