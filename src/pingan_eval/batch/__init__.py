"""The monthly batch: shared estimation once, one report notebook per area, the index.

``run`` drives a batch through its steps: ``jobs`` (options checked, file names, one
notebook job per report), ``estimation`` (the shared estimates, cached in ``_data/``),
``workers`` (local processes or Dask), ``outputs`` (the users' summary and the index) and
``manifest``. ``notebook_run`` executes one notebook with papermill and exports it, under
a ``watchdog`` (time limit, kernels killed) with the ``papermill_engine`` that saves once;
``kernels`` forks report kernels from a preloaded zygote (Linux).
"""

from pingan_eval.batch.run import USER_COLUMNS, BatchResult, main_batch, run_batch

__all__ = ["USER_COLUMNS", "BatchResult", "main_batch", "run_batch"]
