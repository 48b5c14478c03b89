"""The monthly batch: shared estimation once, one report notebook per area, the index.

``run`` drives a batch; ``notebook_run`` executes one notebook with papermill and
exports it; ``kernels`` forks report kernels from a preloaded zygote (Linux).
"""

from pingan_eval.batch.run import USER_COLUMNS, BatchResult, main_batch, run_batch

__all__ = ["USER_COLUMNS", "BatchResult", "main_batch", "run_batch"]
