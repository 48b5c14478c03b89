"""Where the batch's notebooks run: local worker processes, a Dask cluster, or in-process.

:func:`worker_pool` starts the local workers (spawned, warmed up while the batch
estimates, stopped with their kernels on Ctrl-C); :func:`run_local` and :func:`run_dask`
run the jobs and report each result, in the order they finish, to a callback. A worker
that dies becomes a failed result; the other notebooks go on. A worker dies with the
batch, however the batch ends (:func:`pingan_eval.batch.lifetime.die_with_parent`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from typing import Any

from pingan_eval.batch.lifetime import die_with_parent
from pingan_eval.batch.notebook_run import NotebookJob, NotebookResult, run_notebook
from pingan_eval.errors import ReportError
from pingan_eval.report.htmlexport import notebook_to_html

__all__ = ["connect_scheduler", "run_dask", "run_local", "worker_pool"]

#: Called with a job's position in the job list and its result.
OnDone = Callable[[int, NotebookResult], None]
#: Seconds a terminated worker has to clean up (kernels, connection files, scratch
#: folders) before it is killed.
STOP_GRACE = 5.0


def _crashed_result(job: NotebookJob, exc: BaseException) -> NotebookResult:
    """A result for a job whose worker itself failed (not the notebook)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return NotebookResult(
        area=job.area, level=job.level, status="failed", start=now, duration=0.0,
        error={"cell_index": None, "exec_count": None, "ename": type(exc).__name__,
               "evalue": " ".join(str(exc).split())[:500], "source": ""},
    )


@contextlib.contextmanager
def worker_pool(n_jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    """Local worker processes, started at once so they import while the batch estimates.

    Yields None for ``n_jobs == 1`` (notebooks then run in this process). Workers use
    "spawn" everywhere: the same behaviour as on Windows and macOS, and no fork of a
    process that already runs threads. On Ctrl-C (or any error) queued notebooks are
    dropped and running workers are terminated; each kills its kernel (own session, so
    the terminal's SIGINT missed it) and deletes the kernel's connection file and its
    scratch folder before exiting; the batch waits for that (at most
    :data:`STOP_GRACE` s, then kills the worker). Files already written are whole
    (atomic writes).
    """
    if n_jobs <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        for _ in range(n_jobs):  # processes are spawned on submit (this thread: see lifetime)
            pool.submit(_warm_up)
        yield pool
    except BaseException:
        with _signals_ignored():  # a second Ctrl-C must not cut the clean-up short
            _stop_workers(list((getattr(pool, "_processes", None) or {}).values()))
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored for a moment (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_workers(processes: list[multiprocessing.Process]) -> None:
    """Terminate the workers, give them :data:`STOP_GRACE` s to clean up, kill the rest."""
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    end = time.monotonic() + STOP_GRACE
    pending = {process.sentinel: process for process in processes if process.is_alive()}
    while pending and (left := end - time.monotonic()) > 0:
        for sentinel in multiprocessing.connection.wait(list(pending), timeout=left):
            pending.pop(sentinel)
    for process in pending.values():
        with contextlib.suppress(OSError, ValueError):
            process.kill()


def _init_worker(parent: int) -> None:
    """Pool workers die with the batch (``parent``) and leave Ctrl-C to it: it stops them
    (see worker_pool).

    When the parent terminates a worker, the worker kills its running kernel and deletes
    the kernel's connection file and the run's scratch folder before it exits, so nothing
    outlives the batch.
    """
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


def _stop_worker(signum: int, frame: object) -> None:
    from pingan_eval.batch.watchdog import abort_running_notebooks

    abort_running_notebooks()
    os._exit(128 + signum)


def _warm_up() -> None:
    """Import what a notebook run needs, compile the HTML templates and start the kernel
    forkserver (:mod:`pingan_eval.batch.kernels`), ahead of the jobs."""
    import nbformat
    import papermill  # noqa: F401

    from pingan_eval.batch.kernels import warm_up

    notebook_to_html(nbformat.v4.new_notebook(), title="")
    warm_up()


def run_local(jobs: Sequence[NotebookJob], pool: ProcessPoolExecutor | None,
              on_done: OnDone) -> None:
    """Run the jobs in ``pool``, or one after another in this process when it is None."""
    if pool is None:
        for i, job in enumerate(jobs):
            try:
                result = run_notebook(job)
            except Exception as exc:  # e.g. its report file cannot be written: go on
                result = _crashed_result(job, exc)
            on_done(i, result)
        return
    futures = {pool.submit(run_notebook, job): i for i, job in enumerate(jobs)}
    for future in as_completed(futures):
        i = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # a worker process died: the others go on
            result = _crashed_result(jobs[i], exc)
        on_done(i, result)


def connect_scheduler(address: str, *, timeout: float = 5.0) -> Any:
    """A :class:`distributed.Client` of the scheduler at ``address`` with a worker.

    Called before anything is estimated or written, so that a wrong address or a cluster
    without workers is reported at once and leaves nothing behind.

    Raises
    ------
    ReportError
        ``distributed`` is not installed, the scheduler does not answer within
        ``timeout`` seconds, or no worker joins it within ``2 * timeout``.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ReportError("--scheduler needs the 'distributed' package: "
                          "pip install 'pingan-eval[dask]'") from None
    try:
        client = Client(address, set_as_default=False, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ReportError(f"cannot reach the Dask scheduler at {address}: "
                          f"{' '.join(str(exc).split())[:300]}") from None
    try:
        client.wait_for_workers(1, timeout=2 * timeout)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise ReportError(f"the Dask scheduler at {address} has no worker "
                          f"(none joined within {2 * timeout:g} s): {exc}") from None
    return client


def _suspicious(dask_scheduler: Any, key: str) -> int:
    """Runs on the scheduler: how often a worker died while running task ``key``."""
    task = dask_scheduler.tasks.get(key)
    return 0 if task is None else int(task.suspicious)


def run_dask(jobs: Sequence[NotebookJob], client: Any, on_done: OnDone) -> None:
    """Run the jobs on the workers of a connected Dask ``client`` (:func:`connect_scheduler`).

    A worker that dies while running a report is replaced by the scheduler, which runs the
    report again elsewhere (up to its ``allowed-failures``); each result names the worker
    that ran it and the attempts, and a report whose workers kept dying is a failed result.
    """
    from distributed import as_completed as dask_as_completed

    futures = {client.submit(run_notebook, job, pure=False): i for i, job in enumerate(jobs)}
    for future in dask_as_completed(list(futures), loop=client.loop):
        i = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the workers died, or could not import the package
            result = _crashed_result(jobs[i], exc)
        try:
            retries = client.run_on_scheduler(_suspicious, key=future.key)
            worker = next(iter(client.who_has([future]).get(future.key, ())), None)
        except Exception:  # the scheduler went away: the result stands without them
            retries, worker = 0, None
        on_done(i, dataclasses.replace(result, worker=worker, attempts=result.attempts + retries))
