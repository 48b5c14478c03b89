"""The time limit of one notebook run, and the kernels it started, to kill on demand.

A :class:`Watchdog` is entered around one papermill run: its kernel manager class
registers every kernel the run starts (forked from the zygote of
:mod:`pingan_eval.batch.kernels` where it can), a timer kills them when the whole run
exceeds its limit, :func:`kill_running_kernels` kills the kernels of every run under
way in this process, and :func:`abort_running_notebooks` also deletes the kernels'
connection files (their keys) and the runs' scratch folders (a pool worker being
terminated). A run interrupted in this process (Ctrl-C with ``jobs=1``) is aborted the
same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from pingan_eval.batch import kernels

__all__ = ["TRANSPORT", "Watchdog", "abort_running_notebooks", "kill_running_kernels"]

#: How a report's kernel and its worker talk: Unix sockets where there are (see Watchdog).
TRANSPORT = "tcp" if os.name == "nt" else "ipc"
#: Bytes of a Unix socket's path, its final NUL included (macOS 104, Linux 108): under a
#: longer temporary folder the kernel falls back to TCP.
_SOCKET_PATH_MAX = 104
#: Watchdogs of the notebook runs under way in this process (see kill_running_kernels).
_RUNNING: set[Watchdog] = set()


def kill_running_kernels() -> None:
    """Kill the kernel of every notebook this process is running, at once.

    A pool worker calls this when it is terminated: ipykernel's own "parent is gone"
    check compares its parent pid with 1, which misses a re-parenting to a subreaper
    (containers, CI runners), and a kernel left sleeping in a cell would outlive the batch.
    """
    for watchdog in list(_RUNNING):
        watchdog.kill_kernels()


def abort_running_notebooks() -> None:
    """Stop every notebook run of this process for good (see :meth:`Watchdog.abort`)."""
    for watchdog in list(_RUNNING):
        watchdog.abort()


class Watchdog:
    """Kills the job's kernel when the whole run exceeds its time limit.

    papermill's ``execution_timeout`` bounds each cell; a notebook of many slow cells,
    or a kernel stuck outside a cell, needs a bound on the whole run too. nbclient
    notices the dead kernel and stops with ``DeadKernelError``.

    ``scratch`` is the run's own temporary folder (deleted by :meth:`abort`). The kernel's
    stdout/stderr (ipykernel warnings, a C-level crash message) go to
    ``scratch/kernel.log`` rather than over the batch's progress bar. Where the system
    has Unix sockets the kernel talks over them, in ``scratch``, instead of TCP: a TCP
    port is chosen by the batch worker and bound by the kernel a moment later, and with
    several workers another kernel's connection can take it in between (the kernel
    then dies at start with "Address already in use", papermill issue 511).
    """

    def __init__(self, timeout: float, scratch: Path) -> None:
        self.scratch = scratch
        self.kernel_managers: list[Any] = []
        self.forked: list[kernels.ForkedKernel] = []
        self.fired = False
        self.kernel_log = scratch / "kernel.log"
        self._timer = threading.Timer(timeout, self._kill)
        self._timer.daemon = True

    def manager_class(self) -> type:
        """A kernel manager class whose instances register with this watchdog."""
        from jupyter_client.manager import AsyncKernelManager

        watchdog = self

        class WatchedKernelManager(AsyncKernelManager):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                sockets = str(watchdog.scratch / "kernel")  # files kernel-1 ... kernel-5
                if TRANSPORT == "ipc" and len(os.fsencode(sockets)) < _SOCKET_PATH_MAX - 4:
                    kwargs.update(transport="ipc", ip=sockets)
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

    def kernel_log_tail(self, limit: int = 300) -> str:
        """The last non-blank line the kernel wrote (its crash, as a rule), or ""."""
        try:
            lines = self.kernel_log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        return last[:limit]

    def _kill(self) -> None:
        self.fired = True
        self.kill_kernels()

    def _processes(self) -> list[Any]:
        return [process for km in self.kernel_managers
                if (process := getattr(km.provisioner, "process", None)
                    if km.provisioner else None) is not None]

    def kill_kernels(self) -> None:
        for process in self._processes():
            with contextlib.suppress(OSError):
                process.kill()

    def abort(self, wait: float = 2.0) -> None:
        """Kill the kernels, wait (up to ``wait`` s) until they are gone, then delete
        their connection files (which hold their keys) and the scratch folder."""
        self.kill_kernels()
        end = time.monotonic() + wait
        for process in self._processes():
            with contextlib.suppress(Exception):
                process.wait(timeout=max(0.0, end - time.monotonic()))
        for km in self.kernel_managers:
            with contextlib.suppress(Exception):
                km.cleanup_connection_file()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Watchdog:
        _RUNNING.add(self)
        self._timer.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._timer.cancel()
        _RUNNING.discard(self)
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.abort()  # Ctrl-C, SystemExit: papermill's own clean-up is not waited for
