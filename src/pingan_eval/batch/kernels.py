"""Report kernels forked from a process that has already imported the scientific stack.

A fresh Jupyter kernel spends about 1.7 s of CPU importing IPython, pandas, matplotlib
and scipy before a report's first cell does anything: more than half of a report. On
Linux each batch worker keeps one *kernel zygote*: a small process that imports
:data:`PRELOAD` once and then, for every report, forks a kernel that starts with those
modules in memory (copy-on-write). Each report still runs in a new process of its own;
nothing a notebook does reaches the next one.

The zygote is single-threaded (forking is safe), is started with
``python -c "...; serve()"`` (so nothing of the worker's ``__main__`` is re-imported in a
kernel, as :mod:`multiprocessing` would), reads one JSON request per line on stdin and
answers with the kernel's pid. It reaps its kernels, and kills them and exits when the
worker goes away (end of stdin). On Linux the zygote and each kernel are also killed by
the system the moment their parent ends, however it ends
(:func:`pingan_eval.batch.lifetime.die_with_parent`).

Elsewhere (Windows, macOS) or with ``PINGAN_EVAL_FORK_KERNELS=0``, kernels are started
the ordinary way, ``python -m ipykernel_launcher``.
"""

from __future__ import annotations

import atexit
import errno
import gc
import json
import multiprocessing.util
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pingan_eval.batch.lifetime import die_with_parent

__all__ = ["PRELOAD", "ForkedKernel", "fork_available", "serve", "start_forked_kernel",
           "warm_up"]

#: Modules the zygote imports once: the kernel itself and what the report notebooks use.
PRELOAD = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "IPython.display",
    "pandas", "matplotlib.figure", "matplotlib.backends.backend_agg", "scipy.special",
    "pingan_eval.report", "pingan_eval.report.charts", "pingan_eval.labels",
    "pingan_eval.report.fonts",
    "pingan_eval.survey.change", "pingan_eval.registers.judge",
)
_SWITCH = "PINGAN_EVAL_FORK_KERNELS"
#: Tells the zygote the pid of the worker that started it (see die_with_parent).
_PARENT = "PINGAN_EVAL_ZYGOTE_PARENT"
_zygote: subprocess.Popen | None = None
_lock = threading.Lock()


def fork_available() -> bool:
    """True where report kernels are forked: Linux, unless switched off."""
    return sys.platform.startswith("linux") and os.environ.get(_SWITCH, "1") != "0"


def warm_up() -> None:
    """Start this process's zygote now (it imports :data:`PRELOAD`, ~2 s), if forking."""
    if fork_available():
        with _lock:
            _running_zygote()


def _running_zygote() -> subprocess.Popen:
    global _zygote
    if _zygote is None or _zygote.poll() is not None:
        _zygote = subprocess.Popen(
            [sys.executable, "-c", "from pingan_eval.batch.kernels import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            env={**os.environ, _PARENT: str(os.getpid())},
            start_new_session=True)  # Ctrl-C in the terminal is the batch's to handle
        # Stop and reap it when this process ends, so its CPU time (and its kernels')
        # is counted with this process's: atexit for a plain process, a multiprocessing
        # finalizer for a pool worker (which leaves through os._exit).
        atexit.register(_stop_zygote)
        multiprocessing.util.Finalize(None, _stop_zygote, exitpriority=10)
    return _zygote


def _stop_zygote() -> None:
    global _zygote
    zygote, _zygote = _zygote, None
    if zygote is None:
        return
    if zygote.stdin is not None:
        zygote.stdin.close()  # end of requests: it kills what is left and exits
    try:
        zygote.wait(timeout=10)
    except subprocess.TimeoutExpired:
        zygote.kill()
        zygote.wait()


class ForkedKernel:
    """A kernel forked by the zygote, shaped like the :class:`subprocess.Popen` that
    jupyter_client keeps (``pid``, ``poll``, ``wait``, ``send_signal``, ``kill``,
    ``terminate``).

    The kernel is the zygote's child, not this process's: its exit code is not known here
    (``poll`` gives ``-SIGKILL`` once it is gone) and its CPU time never reaches
    ``RUSAGE_CHILDREN``, so :attr:`cpu_seconds` is read from ``/proc`` just before each
    signal that may end it.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu_seconds = 0.0

    def poll(self) -> int | None:
        return None if _alive(self.pid) else -signal.SIGKILL

    def wait(self, timeout: float | None = None) -> int | None:
        end = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(["kernel"], timeout)
            time.sleep(0.02)
        return code

    def send_signal(self, signum: int) -> None:
        self._read_cpu()
        try:  # its process group: the kernel and anything it started
            os.killpg(self.pid, signum)
        except OSError:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _read_cpu(self) -> None:
        stat = _stat(self.pid)
        if stat is not None:  # utime, stime, and its own finished children's
            ticks = sum(int(x) for x in stat[11:15])
            self.cpu_seconds = max(self.cpu_seconds, ticks / os.sysconf("SC_CLK_TCK"))


def _stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (after the command name), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited


def start_forked_kernel(connection_file: str, *, cwd: str | os.PathLike | None,
                        env: Mapping[str, str] | None, log_path: str | os.PathLike
                        ) -> ForkedKernel:
    """Fork an IPython kernel that serves ``connection_file`` (as ``ipykernel -f`` would)."""
    request = json.dumps({"connection_file": str(connection_file),
                          "cwd": None if cwd is None else str(cwd),
                          "env": None if env is None else dict(env),
                          "log": str(log_path)})
    with _lock:
        zygote = _running_zygote()
        assert zygote.stdin is not None and zygote.stdout is not None
        zygote.stdin.write(request + "\n")
        zygote.stdin.flush()
        answer = zygote.stdout.readline()
    if not answer:
        raise RuntimeError(f"the kernel zygote exited (code {zygote.poll()}); "
                           f"set {_SWITCH}=0 to start kernels the ordinary way")
    return ForkedKernel(int(json.loads(answer)["pid"]))


# -- the zygote --------------------------------------------------------------------------

def serve() -> None:
    """The zygote's main loop: import :data:`PRELOAD`, then fork one kernel per request."""
    import importlib

    # first of all: die with the worker, even one killed outright
    die_with_parent(int(os.environ.pop(_PARENT, os.getppid())))
    for name in PRELOAD:
        importlib.import_module(name)
    _warm_charts()
    # What the zygote holds is never garbage: frozen, the kernels' collections skip it
    # (and leave its pages shared). A report allocates many short-lived chart objects;
    # collecting the young ones less often saves about a tenth of its charts' CPU.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    children: set[int] = set()

    def reap(signum: int, frame: object) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)

    signal.signal(signal.SIGCHLD, reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            zygote = os.getpid()
            pid = os.fork()
            if pid == 0:
                _kernel_main(request, zygote)  # never returns
            children.add(pid)
            sys.stdout.write(json.dumps({"pid": pid}) + "\n")
            sys.stdout.flush()
    finally:  # the worker is gone: no kernel may outlive it
        for pid in list(children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    raise


def _warm_charts() -> None:
    """Draw one small chart with Chinese text, as the reports do, so that each kernel
    starts with the CJK font found, loaded and its glyph cache filled."""
    from pingan_eval.report.charts.layout import new_figure, png_bytes, set_title

    fig, axes = new_figure(1, 2, 3.0, 2.0, sharey=True)
    for ax in axes[0]:
        set_title(ax, "知晓率")
        ax.errorbar([0.9, 0.95], [0, 1], xerr=[[0.01, 0.02], [0.01, 0.02]], fmt="o")
    axes[0][0].set_yticks([0, 1], ["青河镇", "男"])
    fig.suptitle("青河镇：按村")
    png_bytes(fig)


def _kernel_main(request: dict[str, Any], zygote: int) -> None:
    """The forked kernel: what ``python -m ipykernel_launcher -f FILE`` does."""
    code = 0
    try:
        die_with_parent(zygote)  # right after the fork: no kernel outlives its zygote
        os.setsid()  # its own process group, so a kill reaches what it started too
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # interrupt_kernel
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        if request["env"] is not None:
            os.environ.clear()
            os.environ.update(request["env"])
        # as jupyter_client's launcher does: the kernel exits if its parent (here the
        # zygote) dies
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        if request["cwd"] is not None:
            os.chdir(request["cwd"])
        sys.argv = [sys.executable, "-m", "ipykernel_launcher", "-f",
                    request["connection_file"]]
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=["-f", request["connection_file"]])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        # to the log itself (fd 2): sys.stderr may be the kernel's stream to the notebook
        os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        code = 1
    finally:
        os._exit(code)
