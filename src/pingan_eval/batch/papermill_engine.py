"""The papermill side of a notebook run: a quiet logger and an engine that saves once.

:func:`register_engine` registers (once per process) the engine
:func:`~pingan_eval.batch.notebook_run.run_notebook` executes with: papermill's own, but
the notebook is written when the run ends instead of around every cell.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

__all__ = ["quiet_papermill_logger", "register_engine"]


def quiet_papermill_logger() -> None:
    """Keep papermill's and nbclient's log lines off stderr unless logging is set up.

    Without a handler Python prints warnings through its last-resort handler, over the
    progress bar; the result already carries every error.
    """
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


_ENGINE = "pingan-save-at-end"


@functools.cache
def register_engine() -> str:
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
