"""Nothing of a batch outlives it: each child process dies with its parent.

A batch is a tree of processes: the command, its pool workers, each worker's kernel
zygote and the kernels the zygote forks (:mod:`pingan_eval.batch.kernels`). A parent
that is killed outright (``kill -9``, the out-of-memory killer) cannot stop its children,
and they would run on under init, writing reports beside an index that no longer
describes them. On Linux every child therefore asks the kernel, as soon as it runs, to
be sent SIGKILL when its parent ends (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), then checks
that the parent it was started by is still its parent: one that died before the request
would never signal it. A killed worker takes its zygote along, a killed zygote its
kernels. Elsewhere only the second check is made (best effort).

The signal follows the *thread* that started the child: children are started from the
main thread of the batch and of a pool worker, from the single-threaded zygote, and
under Dask from a worker's task thread, which lives as long as the worker.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

__all__ = ["die_with_parent"]

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
_prctl = None


def _load_prctl() -> Any:
    """libc's ``prctl`` (looked up once, so a forked child needs no ``dlopen``), or None."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl or None


def die_with_parent(expected_parent: int) -> bool:
    """Have this process killed (SIGKILL) when its parent ends; exit now if it has.

    Parameters
    ----------
    expected_parent : int
        The pid of the process that started this one. If this process's parent is no
        longer that one (it died before the request was made, and this process was
        re-parented), this process exits at once with status 1.

    Returns
    -------
    bool
        Whether the kernel will signal this process (Linux); False elsewhere.

    Notes
    -----
    Call it first thing in the child: right after ``fork`` for a forked process, at the
    start of the program for a spawned one.
    """
    prctl = _load_prctl()
    armed = bool(prctl) and prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    if os.getppid() != expected_parent:
        os._exit(1)
    return armed

