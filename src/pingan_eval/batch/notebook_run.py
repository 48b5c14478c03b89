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
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

from pingan_eval.batch import kernels
from pingan_eval.fileio import atomic_write_text
from pingan_eval.report.htmlexport import notebook_to_html

# Timing metadata that papermill and nbclient write into a notebook: removed so that
# re-running the same inputs gives the same bytes (the manifest keeps the times).
_VOLATILE_NB_KEYS = ("start_time", "end_time", "duration")
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
    """

    area: str
    level: str
    status: str
    error: dict[str, Any] | None
    start: str
    duration: float
    timings: dict[str, float] = field(default_factory=dict)


def _cpu_seconds() -> float:
    """CPU time of this process plus its reaped children (the kernels)."""
    try:
        import resource
    except ImportError:  # Windows: children are not counted
        return time.process_time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


#: Watchdogs of the notebook runs under way in this process (see kill_running_kernels).
_RUNNING: set[_Watchdog] = set()


def kill_running_kernels() -> None:
    """Kill the kernel of every notebook this process is running, at once.

    A pool worker calls this when it is terminated: ipykernel's own "parent is gone"
    check compares its parent pid with 1, which misses a re-parenting to a subreaper
    (containers, CI runners), and a kernel left sleeping in a cell would outlive the batch.
    """
    for watchdog in list(_RUNNING):
        watchdog.kill_kernels()


class _Watchdog:
    """Kills the job's kernel when the whole run exceeds its time limit.

    papermill's ``execution_timeout`` bounds each cell; a notebook of many slow cells,
    or a kernel stuck outside a cell, needs a bound on the whole run too. nbclient
    notices the dead kernel and stops with ``DeadKernelError``. The kernel's own
    stdout/stderr (ipykernel warnings, a C-level crash message) go to ``kernel_log``
    rather than over the batch's progress bar.
    """

    def __init__(self, timeout: float, kernel_log: Path) -> None:
        self.kernel_managers: list[Any] = []
        self.forked: list[kernels.ForkedKernel] = []
        self.fired = False
        self.kernel_log = kernel_log
        self._timer = threading.Timer(timeout, self._kill)
        self._timer.daemon = True

    def manager_class(self) -> type:
        """A kernel manager class whose instances register with this watchdog."""
        from jupyter_client.manager import AsyncKernelManager

        watchdog = self

        class WatchedKernelManager(AsyncKernelManager):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                watchdog.kernel_managers.append(self)

            async def start_kernel(self, **kw: Any) -> None:
                with open(watchdog.kernel_log, "ab") as log:
                    kw.setdefault("stdout", log)
                    kw.setdefault("stderr", log)
                    await super().start_kernel(**kw)

            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                # jupyter_client 8's launch step, the one place a kernel process is made:
                # fork it from the preloaded zygote (pingan_eval.batch.kernels) where we can.
                kernel = None
                if kernels.fork_available():
                    # a zygote that cannot start (it failed to import) costs speed only
                    with contextlib.suppress(OSError, RuntimeError):
                        kernel = kernels.start_forked_kernel(  # cwd: papermill's chdir
                            self.connection_file, cwd=kw.get("cwd") or os.getcwd(),
                            env=kw.get("env"), log_path=watchdog.kernel_log)
                if kernel is None:
                    await super()._async_launch_kernel(kernel_cmd, **kw)
                    return
                watchdog.forked.append(kernel)
                provisioner = self.provisioner
                provisioner.process, provisioner.pid, provisioner.pgid = kernel, kernel.pid, None
                self._reconcile_connection_info(provisioner.connection_info)

        return WatchedKernelManager

    def forked_kernel_cpu(self) -> float:
        """CPU seconds of the forked kernels (not in this process's RUSAGE_CHILDREN)."""
        return sum(k.cpu_seconds for k in self.forked)

    def _kill(self) -> None:
        self.fired = True
        self.kill_kernels()

    def kill_kernels(self) -> None:
        for km in self.kernel_managers:
            process = getattr(km.provisioner, "process", None) if km.provisioner else None
            if process is not None:
                with contextlib.suppress(OSError):
                    process.kill()

    def __enter__(self) -> _Watchdog:
        _RUNNING.add(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _RUNNING.discard(self)


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


def _quiet_papermill_logger() -> None:
    """Keep papermill's and nbclient's log lines off stderr unless logging is set up.

    Without a handler Python prints warnings through its last-resort handler, over the
    progress bar; the result already carries every error.
    """
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


_ENGINE = "pingan-save-at-end"


@functools.cache
def _register_engine() -> str:
    """Register (once per process) a papermill engine that writes the notebook once.

    papermill serializes and schema-validates the whole notebook, images included, at the
    start and end of every cell (44 writes, ~0.6 s CPU per report); the batch only reads
    the file after the run. This engine writes it when the run ends, normally or not
    (papermill's ``notebook_complete`` runs in a ``finally``), so a timed-out run still
    leaves its partial notebook.
    """
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class SaveAtEndManager(NotebookExecutionManager):
        final = False

        def save(self, **kwargs: Any) -> None:
            if self.final:
                super().save(**kwargs)

        def notebook_complete(self, **kwargs: Any) -> None:
            self.final = True
            super().notebook_complete(**kwargs)

    class SaveAtEndEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: Any = None,
                             progress_bar: bool = True, log_output: bool = False,
                             autosave_cell_every: int = 30, **kwargs: Any) -> Any:
            # papermill's Engine.execute_notebook (2.x), with the manager above
            nb_man = SaveAtEndManager(nb, output_path=output_path, progress_bar=progress_bar,
                                      log_output=log_output,
                                      autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output,
                                             **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(_ENGINE, SaveAtEndEngine)
    return _ENGINE


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
    notebook (see :func:`strip_volatile_metadata`); they are in the result instead.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    _quiet_papermill_logger()
    start = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    status, error = "ok", None
    # ignore_cleanup_errors: on Windows a just-killed kernel may still hold kernel.log
    with tempfile.TemporaryDirectory(prefix="pingan-nb-", ignore_cleanup_errors=True) as tmp:
        tmp_out = Path(tmp) / "run.ipynb"
        with _Watchdog(job.timeout, Path(tmp) / "kernel.log") as watchdog:
            try:
                papermill.execute_notebook(
                    job.notebook,
                    str(tmp_out),
                    parameters=dict(job.parameters),
                    kernel_name=job.kernel_name,
                    engine_name=_register_engine(),
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
                timed_out = watchdog.fired or type(exc).__name__ == "CellTimeoutError"
                status = "timeout" if timed_out else "failed"
                error = {"ename": "Timeout" if timed_out else type(exc).__name__}
                error["evalue"] = (
                    f"no result after {job.timeout:g} s; the kernel was stopped" if timed_out
                    else " ".join(str(exc).split())[:500]
                )
            kernel_cpu = watchdog.forked_kernel_cpu()
        partial = nbformat.read(tmp_out, as_version=4) if tmp_out.exists() else None
    nb = partial if partial is not None else nbformat.v4.new_notebook()
    if status != "ok" and "cell_index" not in error:
        index, source = _last_started_cell(partial)
        error = {"cell_index": index, "exec_count": None, **error, "source": source}
        nb.cells.insert(0, _marker_cell(status, error))
    timings = _cell_timings(nb)
    strip_volatile_metadata(nb, Path(job.ipynb_path).name)
    t_html = time.perf_counter()
    page = notebook_to_html(nb, title=job.title)
    timings["html_export"] = time.perf_counter() - t_html
    atomic_write_text(job.ipynb_path, nbformat.writes(nb) + "\n")
    atomic_write_text(job.html_path, page)
    timings["cpu"] = _cpu_seconds() - cpu0 + kernel_cpu
    return NotebookResult(
        area=job.area,
        level=job.level,
        status=status,
        error=error,
        start=start,
        duration=time.perf_counter() - t0,
        timings={k: round(v, 3) for k, v in timings.items()},
    )
