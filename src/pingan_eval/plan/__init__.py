"""The campaign plan: its targets, safe-cell categories, tasks and their validation.

The shipped plan is ``plans/qinghe.toml`` beside this file; :func:`load_plan` reads and
validates a plan file, raising :class:`~pingan_eval.errors.PlanError` naming the file and
the entry.
"""

from pingan_eval.plan.loader import DEFAULT_PLAN, load_plan
from pingan_eval.plan.schema import (
    CELL_CATEGORIES,
    COMPARISONS,
    ESTIMATORS,
    INDICATORS,
    LEVELS,
    NAMING_LEVELS,
    POOLED_WINDOWS,
    RECURRENCES,
    SOURCES,
    STRUCTURAL_KINDS,
    TASK_LEVELS,
    TASK_MEASURES,
    TASK_TABLES,
    Estimation,
    Plan,
    PlanLike,
    Target,
    TaskTable,
    as_plan,
    replace_target,
    resolve_as_of,
)

__all__ = [
    "CELL_CATEGORIES",
    "COMPARISONS",
    "DEFAULT_PLAN",
    "ESTIMATORS",
    "INDICATORS",
    "LEVELS",
    "NAMING_LEVELS",
    "POOLED_WINDOWS",
    "RECURRENCES",
    "SOURCES",
    "STRUCTURAL_KINDS",
    "TASK_LEVELS",
    "TASK_MEASURES",
    "TASK_TABLES",
    "Estimation",
    "Plan",
    "PlanLike",
    "TaskTable",
    "Target",
    "as_plan",
    "load_plan",
    "replace_target",
    "resolve_as_of",
]
