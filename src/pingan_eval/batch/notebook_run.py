"""Run one parameterized notebook with papermill and write its ``.ipynb`` and ``.html``.

:func:`run_notebook` is the unit of work of ``pingan-eval batch``: a top-level function
of one picklable :class:`NotebookJob`, so the same call runs in a local process pool, in
a Dask worker, or in-process. It never raises for a failing notebook: the returned
:class:`NotebookResult` says what failed and where, and the executed (or partly
executed) notebook and its HTML are written atomically either way.

Kernel: papermill's default resolution of ``kernel_name`` ("python3"). jupyter_client
replaces the kernelspec's ``python`` with ``sys.executable``, so the kernel runs the
interpreter of the process that runs the job (the project's venv or conda env). On Linux
the kernel process is forked from a forkserver that has imported the scientific stack
(:mod:`pingan_eval.batch.kernels`): a new process per report, without the imports.

The time limit of a run and the kernels it started are :mod:`pingan_eval.batch.watchdog`
(:func:`kill_running_kernels` is re-exported here); the papermill engine that writes the
notebook once is :mod:`pingan_eval.batch.papermill_engine`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

from pingan_eval.batch.papermill_engine import quiet_papermill_logger, register_engine
from pingan_eval.batch.watchdog import Watchdog
from pingan_eval.batch.watchdog import kill_running_kernels as kill_running_kernels
from pingan_eval.fileio import atomic_write_text
from pingan_eval.report.htmlexport import notebook_to_html

# Timing metadata that papermill and nbclient write into a notebook: removed so that
# re-running the same inputs gives the same bytes (the manifest keeps the times).
_VOLATILE_NB_KEYS = ("start_time", "end_time", "duration")
#: How often a report is started when its kernel dies before running any cell (a kernel
#: that cannot start, not a notebook that fails).
START_ATTEMPTS = 2
#: Tags of cells that papermill (parameters, error markers) and this module insert.
_MARKER_TAG = "pingan-error-marker"
_GENERATED_CELL_TAGS = ("injected-parameters", "papermill-error-cell-tag", _MARKER_TAG)


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to run: input, parameters, outputs and limits.

    Attributes
    ----------
    area : str
        The township's name, or the county's name for the overview.
    level : str
        ``"township"`` or ``"county"``.
    notebook : str
        Path of the input notebook (it needs a cell tagged ``parameters``).
    ipynb_path, html_path : str
        Where the executed notebook and its HTML go (written atomically).
    parameters : dict
        Passed to papermill; values are str or None.
    timeout : float
        Seconds for the whole run (kernel start included) and for any one cell; the
        kernel is killed when either is exceeded.
    title : str
        The HTML page title.
    kernel_name : str
        Jupyter kernel; "python3" is the environment's own ipykernel.
    """

    area: str
    level: str
    notebook: str
    ipynb_path: str
    html_path: str
    parameters: dict[str, str | None]
    timeout: float
    title: str
    kernel_name: str = "python3"


@dataclass(frozen=True)
class NotebookResult:
    """What happened to one :class:`NotebookJob`.

    Attributes
    ----------
    area, level : str
        As in the job.
    status : str
        ``"ok"``, ``"failed"`` (an exception in a cell, or the kernel died) or
        ``"timeout"`` (the kernel was killed).
    error : dict or None
        None when ok; else ``cell_index`` (index in the executed notebook, as papermill
        counts; None if no cell ran), ``exec_count``, ``ename``, ``evalue`` and
        ``source`` (the first line of the failing cell).
    start : str
        ISO 8601 UTC time the job started.
    duration : float
        Wall-clock seconds of the whole job.
    timings : dict
        Seconds: ``kernel_start`` (papermill start to the first cell), ``cells`` (sum of
        cell durations), ``plot_cells`` (cells that produced an image), ``html_export``,
        ``cpu`` (CPU time of this process and its finished children, the kernel
        included, where the platform reports it; a forked kernel's is read from
        ``/proc``).
    worker : str or None
        Under Dask, the address of the worker that ran the report (None locally).
    attempts : int
        How many times it was started: above 1 when its kernel died before running any
        cell and was started again (at most :data:`START_ATTEMPTS` times), or when a
        Dask worker died while running it and the scheduler ran it again elsewhere.
    """

    area: str
    level: str
    status: str
    error: dict[str, Any] | None
    start: str
    duration: float
    timings: dict[str, float] = field(default_factory=dict)
    worker: str | None = None
    attempts: int = 1


def _cpu_seconds() -> float:
    """CPU time of this process plus its reaped children (the kernels)."""
    try:
        import resource
    except ImportError:  # Windows: children are not counted
        return time.process_time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _error_from_papermill(exc: Any) -> dict[str, Any]:
    source = str(exc.source or "").strip().splitlines()
    return {
        "cell_index": exc.cell_index,
        "exec_count": exc.exec_count,
        "ename": exc.ename,
        "evalue": exc.evalue,
        "source": source[0] if source else "",
    }


def _last_started_cell(nb: nbformat.NotebookNode | None) -> tuple[int | None, str]:
    """Index and first line of the last cell papermill started: where a run stopped."""
    if nb is None:
        return None, ""
    started = [i for i, c in enumerate(nb.cells)
               if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return None, ""
    lines = str(nb.cells[started[-1]].source).strip().splitlines()
    return started[-1], lines[0] if lines else ""


def _cell_timings(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Kernel start, cell and plotting seconds from papermill's metadata."""
    meta = nb.metadata.get("papermill", {})
    starts = [c.metadata.get("papermill", {}).get("start_time") for c in nb.cells]
    starts = [s for s in starts if s]
    kernel_start = 0.0
    if meta.get("start_time") and starts:
        t0 = datetime.fromisoformat(meta["start_time"])
        kernel_start = (datetime.fromisoformat(starts[0]) - t0).total_seconds()
    cells = plots = 0.0
    for cell in nb.cells:
        duration = cell.metadata.get("papermill", {}).get("duration") or 0.0
        cells += duration
        mimes = {k for out in cell.get("outputs", []) for k in out.get("data", {})}
        if mimes & {"image/png", "image/svg+xml", "image/jpeg"}:
            plots += duration
    return {"kernel_start": kernel_start, "cells": cells, "plot_cells": plots}


def strip_volatile_metadata(nb: nbformat.NotebookNode, output_name: str) -> None:
    """Remove run times from ``nb`` in place, so equal inputs give equal bytes.

    Keeps papermill's parameters, status and exception flags; sets its ``output_path``
    to ``output_name`` (the run writes through a temporary file) and gives papermill's
    injected cells (random ids) ids derived from their tag and position.
    """
    meta = nb.metadata.get("papermill")
    if meta is not None:
        for key in _VOLATILE_NB_KEYS:
            meta.pop(key, None)
        meta["output_path"] = output_name
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        generated = [t for t in cell.metadata.get("tags", []) if t in _GENERATED_CELL_TAGS]
        if generated:
            cell["id"] = f"{generated[0]}-{index}"
        cell_meta = cell.metadata.get("papermill")
        if cell_meta is not None:
            for key in _VOLATILE_NB_KEYS:
                cell_meta.pop(key, None)


def _marker_cell(status: str, error: dict[str, Any]) -> nbformat.NotebookNode:
    """A Markdown cell at the top of a notebook that stopped outside papermill's errors."""
    what = "运行超时" if status == "timeout" else "运行中断"
    where = f"（第 {error['cell_index']} 个单元格）" if error["cell_index"] is not None else ""
    return nbformat.v4.new_markdown_cell(
        f"**{what}{where}**：{error['ename']}: {error['evalue']}",
        metadata={"tags": [_MARKER_TAG]},
    )


def run_notebook(job: NotebookJob) -> NotebookResult:
    """Execute ``job.notebook`` with papermill; write ``.ipynb`` and ``.html`` atomically.

    Parameters
    ----------
    job : NotebookJob
        What to run and where to write.

    Returns
    -------
    NotebookResult
        Status ``"ok"``, ``"failed"`` or ``"timeout"`` with the error's cell index,
        ``ename`` and ``evalue`` (from ``papermill.PapermillExecutionError``) and timings.

    Notes
    -----
    Equivalent to ``papermill IN OUT -p township ... --execution-timeout T`` followed by
    ``jupyter nbconvert --to html --no-input OUT``, except that papermill writes into a
    temporary folder and the final files replace the old ones in one step each, so an
    interrupted batch leaves the previous report or the new one, never half of one. A
    failed notebook is still written, with papermill's error marker at the top (or ours,
    for a timeout or a dead kernel), as papermill does. Time stamps are removed from the
    notebook (see :func:`strip_volatile_metadata`); they are in the result instead. A
    kernel that dies before running any cell is started again, up to
    :data:`START_ATTEMPTS` times in all; a dead kernel's error ends with the last line of
    its log.
    """
    quiet_papermill_logger()
    start = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    runs = [_execute(job)]
    while runs[-1].died_at_start and len(runs) < START_ATTEMPTS:
        runs.append(_execute(job))
    run = runs[-1]
    nb, error = _marked(run.notebook, run.status, run.error)
    timings = _write_outputs(job, nb)
    timings["cpu"] = _cpu_seconds() - cpu0 + sum(r.kernel_cpu for r in runs)
    return NotebookResult(
        area=job.area,
        level=job.level,
        status=run.status,
        error=error,
        start=start,
        duration=time.perf_counter() - t0,
        timings={k: round(v, 3) for k, v in timings.items()},
        attempts=len(runs),
    )


@dataclass(frozen=True)
class _Run:
    """One papermill run of a job: how it ended, the notebook as far as it got (None if
    never written), the forked kernel's CPU seconds, and whether the kernel died before
    running any cell (nothing of the notebook ran: the start may be tried again)."""

    status: str
    error: dict[str, Any] | None
    notebook: nbformat.NotebookNode | None
    kernel_cpu: float
    died_at_start: bool


def _execute(job: NotebookJob) -> _Run:
    """Run ``job`` once with papermill, in a scratch folder of its own."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    status, error, died = "ok", None, False
    # ignore_cleanup_errors: on Windows a just-killed kernel may still hold kernel.log
    with tempfile.TemporaryDirectory(prefix="pingan-nb-", ignore_cleanup_errors=True) as tmp:
        tmp_out = Path(tmp) / "run.ipynb"
        with Watchdog(job.timeout, Path(tmp)) as watchdog:
            try:
                papermill.execute_notebook(
                    job.notebook,
                    str(tmp_out),
                    parameters=dict(job.parameters),
                    kernel_name=job.kernel_name,
                    engine_name=register_engine(),
                    cwd=str(Path(job.notebook).resolve().parent),
                    progress_bar=False,
                    log_output=False,
                    start_timeout=max(1, int(min(60, job.timeout))),
                    execution_timeout=max(1, int(job.timeout)),
                    kernel_manager_class=watchdog.manager_class(),
                    # print("x") may reach nbclient as "x" and "\n" or as one message,
                    # as the kernel's flush timer falls: merge them, so equal runs give
                    # equal notebooks
                    coalesce_streams=True,
                    # every output is in once the last cell is idle; a graceful shutdown
                    # would add about 0.7 s per report for nothing
                    shutdown_kernel="immediate",
                )
            except PapermillExecutionError as exc:
                status, error = "failed", _error_from_papermill(exc)
            except Exception as exc:  # timeout, dead kernel, unreadable notebook: record it
                status, error = _error_from_run(exc, watchdog.fired, job.timeout)
                if "kernel died" in str(exc).lower():  # nbclient's words for it
                    died = True
                    if last_words := watchdog.kernel_log_tail():
                        error["evalue"] += f"; the kernel's log ends: {last_words}"
        partial = nbformat.read(tmp_out, as_version=4) if tmp_out.exists() else None
    return _Run(status, error, partial, watchdog.forked_kernel_cpu(),
                died_at_start=died and _last_started_cell(partial)[0] is None)


def _error_from_run(exc: Exception, timed_out: bool, timeout: float
                    ) -> tuple[str, dict[str, Any]]:
    """Status and error of a run that stopped outside a cell's exception.

    ``timed_out``: the watchdog killed the kernel; a ``CellTimeoutError`` is a timeout too.
    """
    timed_out = timed_out or type(exc).__name__ == "CellTimeoutError"
    status = "timeout" if timed_out else "failed"
    error = {"ename": "Timeout" if timed_out else type(exc).__name__}
    error["evalue"] = (
        f"no result after {timeout:g} s; the kernel was stopped" if timed_out
        else " ".join(str(exc).split())[:500]
    )
    return status, error


def _marked(partial: nbformat.NotebookNode | None, status: str, error: dict[str, Any] | None
            ) -> tuple[nbformat.NotebookNode, dict[str, Any] | None]:
    """The notebook to write, and the error completed with where the run stopped.

    A run that stopped outside papermill's error handling (timeout, dead kernel) gets
    our marker cell at the top; an empty notebook stands in for one never written.
    """
    nb = partial if partial is not None else nbformat.v4.new_notebook()
    if status != "ok" and "cell_index" not in error:
        index, source = _last_started_cell(partial)
        error = {"cell_index": index, "exec_count": None, **error, "source": source}
        nb.cells.insert(0, _marker_cell(status, error))
    return nb, error


def _write_outputs(job: NotebookJob, nb: nbformat.NotebookNode) -> dict[str, float]:
    """Write the notebook without its run times, and its HTML; the run's timings."""
    timings = _cell_timings(nb)
    strip_volatile_metadata(nb, Path(job.ipynb_path).name)
    t_html = time.perf_counter()
    page = notebook_to_html(nb, title=job.title)
    timings["html_export"] = time.perf_counter() - t_html
    atomic_write_text(job.ipynb_path, nbformat.writes(nb) + "\n")
    atomic_write_text(job.html_path, page)
    return timings
