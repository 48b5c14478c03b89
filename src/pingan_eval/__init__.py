"""pingan-eval: design-based evaluation of county public-safety campaigns (平安建设).

The public API is what this module exports; see README.md.
"""

from __future__ import annotations

from .calibration import census_margins
from .cells import (
    DEFECT_RULES,
    load_registers,
    naming_rates,
    procedure_defects,
    skipped_checks,
    structural_targets,
    township_standards,
)
from .change import change
from .design import SurveyDesign
from .plan import Plan, load_plan
from .planning import sample_size, sample_size_table
from .reliability import reliability
from .targets import evaluate
from .tasks import load_tasks, task_completion
from .weighting import effective_n, kish_deff, trim_weights, weight_summary

__version__ = "0.1.0"

__all__ = [
    "DEFECT_RULES",
    "Plan",
    "SurveyDesign",
    "__version__",
    "census_margins",
    "change",
    "effective_n",
    "evaluate",
    "kish_deff",
    "load_plan",
    "load_registers",
    "load_tasks",
    "naming_rates",
    "procedure_defects",
    "reliability",
    "sample_size",
    "sample_size_table",
    "skipped_checks",
    "structural_targets",
    "task_completion",
    "township_standards",
    "trim_weights",
    "weight_summary",
]
