"""pingan-eval: design-based evaluation of county public-safety campaigns (平安建设).

The public API is what this module exports; see README.md.
"""

from __future__ import annotations

from .calibration import census_margins
from .change import change
from .design import SurveyDesign
from .planning import sample_size, sample_size_table
from .reliability import reliability
from .targets import evaluate
from .weighting import effective_n, kish_deff, trim_weights, weight_summary

__version__ = "0.1.0"

__all__ = [
    "SurveyDesign",
    "__version__",
    "census_margins",
    "change",
    "effective_n",
    "evaluate",
    "kish_deff",
    "reliability",
    "sample_size",
    "sample_size_table",
    "trim_weights",
    "weight_summary",
]
