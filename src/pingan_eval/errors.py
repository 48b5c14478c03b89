"""Exception types. Every one is a ValueError subclass, so callers can catch broadly."""

from __future__ import annotations


class PinganEvalError(ValueError):
    """Base class of every error this package raises for bad input."""


class DesignError(PinganEvalError):
    """A survey design that cannot be used: unknown column, bad weights, lonely PSU, ..."""


class EstimationError(PinganEvalError):
    """An estimate that cannot be computed as asked.

    For example non-0/1 values in a proportion, an unknown method, an empty domain request.
    """


class CalibrationError(PinganEvalError):
    """Margins that cannot be met: an empty cell, a level absent from the sample."""


class DataError(PinganEvalError):
    """Raw input that cannot be read: missing file or column, unknown period, bad encoding.

    The message names the file (and the row and column where there is one).
    """


class ValidationFailed(DataError):
    """Too many rejected rows: the run stops and the validation report says why."""


class PlanError(PinganEvalError):
    """A plan file that does not validate: unknown indicator, threshold outside [0, 1], ..."""


class ReportError(PinganEvalError):
    """A report or batch that cannot run as asked (unknown township, missing period)."""
