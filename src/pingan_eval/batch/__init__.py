"""The monthly batch: shared estimation once, one report notebook per area, the index.

``run`` drives a batch through its steps: ``jobs`` (options checked, file names, one
notebook job per report), ``estimation`` (the shared estimates, cached in ``_data/``),
``workers`` (local processes or Dask), ``outputs`` (the users' summary and the index) and
``manifest``. ``notebook_run`` executes one notebook with papermill and exports it, under
a ``watchdog`` (time limit, kernels killed) with the ``papermill_engine`` that saves once;
``kernels`` forks report kernels from a preloaded zygote (Linux).

The names below are imported on first use (PEP 562): a kernel zygote imports
``pingan_eval.batch.kernels`` without nbformat, nbconvert and papermill.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

# nbformat imports jsonschema, whose format checkers import rfc3987_syntax if it is
# installed (it is, through jupyter-events): that builds ~35 Lark parsers, 1 s of CPU in
# each batch process, for "iri" formats no notebook schema uses (jsonschema issue 1428).
# Marked absent, jsonschema skips those two checkers.
sys.modules.setdefault("rfc3987_syntax", None)

if TYPE_CHECKING:
    from pingan_eval.batch.run import USER_COLUMNS, BatchResult, main_batch, run_batch

__all__ = ["USER_COLUMNS", "BatchResult", "main_batch", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pingan_eval.batch import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
