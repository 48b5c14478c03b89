"""Survey statistics: the design, its one variance engine, intervals, weights, verdicts.

Everything here is pure statistics on data frames; it reads no files and formats nothing.
The modules, bottom up: ``variance`` (the one variance engine), ``intervals``,
``calibration`` and ``weighting`` (weights), ``design`` (``SurveyDesign``), then the
estimators built on it (``breakdowns``, ``change``, ``planning``) and the readings of
estimates (``reliability``, ``targets``).

Import from the modules (``from pingan_eval.survey.design import SurveyDesign``) or use the
public names of :mod:`pingan_eval`; this file imports nothing, so a report kernel that
needs one formula does not pay for the rest.
"""
