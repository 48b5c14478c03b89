"""pingan-eval: design-based evaluation of county public-safety campaigns (平安建设).

The public API is what this module exports; see README.md.

The names are imported on first use (PEP 562): ``import pingan_eval`` stays cheap, so a
report kernel that only reads the batch's cached tables never pays for the estimation
stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Functions named like their module are bound now: importing ``pingan_eval.survey.change`` later
# would otherwise leave the attribute ``change`` pointing at the module.
from pingan_eval.survey.change import change
from pingan_eval.survey.reliability import reliability

#: Public name -> the submodule that defines it (imported on first use).
_EXPORTS: dict[str, str] = {
    "census_margins": "survey.calibration",
    "DEFECT_RULES": "registers.cells",
    "load_registers": "registers.cells",
    "naming_rates": "registers.cells",
    "procedure_defects": "registers.cells",
    "skipped_checks": "registers.cells",
    "structural_targets": "registers.cells",
    "township_standards": "registers.cells",
    "SurveyDesign": "survey.design",
    "Plan": "plan",
    "load_plan": "plan",
    "sample_size": "survey.planning",
    "sample_size_table": "survey.planning",
    "evaluate": "survey.targets",
    "fay_herriot": "survey.fay_herriot",
    "period_summary": "summary",
    "official_rows": "summary",
    "load_tasks": "registers.tasks",
    "task_completion": "registers.tasks",
    "read_ledger": "registers.ledger",
    "task_status": "registers.ledger",
    "effective_n": "survey.weighting",
    "kish_deff": "survey.weighting",
    "trim_weights": "survey.weighting",
    "weight_summary": "survey.weighting",
}

__all__ = [
    "DEFECT_RULES",
    "Plan",
    "SurveyDesign",
    "__version__",
    "census_margins",
    "change",
    "effective_n",
    "evaluate",
    "fay_herriot",
    "kish_deff",
    "load_plan",
    "load_registers",
    "load_tasks",
    "naming_rates",
    "official_rows",
    "period_summary",
    "procedure_defects",
    "read_ledger",
    "reliability",
    "sample_size",
    "sample_size_table",
    "skipped_checks",
    "structural_targets",
    "task_completion",
    "task_status",
    "township_standards",
    "trim_weights",
    "weight_summary",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pingan_eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # what type checkers and IDEs see
    from pingan_eval.plan import Plan, load_plan
    from pingan_eval.registers.cells import (
        DEFECT_RULES,
        load_registers,
        naming_rates,
        procedure_defects,
        skipped_checks,
        structural_targets,
        township_standards,
    )
    from pingan_eval.registers.ledger import read_ledger, task_status
    from pingan_eval.registers.tasks import load_tasks, task_completion
    from pingan_eval.summary import official_rows, period_summary
    from pingan_eval.survey.calibration import census_margins
    from pingan_eval.survey.design import SurveyDesign
    from pingan_eval.survey.fay_herriot import fay_herriot
    from pingan_eval.survey.planning import sample_size, sample_size_table
    from pingan_eval.survey.targets import evaluate
    from pingan_eval.survey.weighting import effective_n, kish_deff, trim_weights, weight_summary
