"""Weight diagnostics and trimming: Kish's design effect, effective n, bounded weights.

Pure functions of a weight vector, for the validation/weighting report and for
``pingan-eval prepare --trim``. Raking itself lives in :mod:`pingan_eval.survey.calibration`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pingan_eval.errors import CalibrationError

__all__ = ["TrimWarning", "effective_n", "kish_deff", "trim_weights", "weight_summary"]


class TrimWarning(RuntimeWarning):
    """Trimming stopped at ``max_iter`` rounds with weights still outside the bounds."""


def _check_weights(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or len(w) == 0:
        raise CalibrationError(f"weights must be a non-empty 1-d array, got shape {w.shape}")
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(
            f"weights must be positive and finite; position {i} has weight {float(w[i])}"
        )
    return w


def kish_deff(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's design effect due to unequal weighting.

    Parameters
    ----------
    weights : array-like
        Positive, finite weights.

    Returns
    -------
    float
        :math:`1 + CV^2 = n \\sum w_i^2 / (\\sum w_i)^2`, at least 1; 1 for equal weights.

    Raises
    ------
    CalibrationError
        Empty, non-finite or non-positive weights.

    Notes
    -----
    The variance inflation of a mean from unequal weights alone, when the weights are
    unrelated to the outcome; the CV uses the population variance (divisor n). R has no
    function of its own for it; the formula is ``length(w) * sum(w^2) / sum(w)^2``.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*, sec. 11.7. Wiley.

    Examples
    --------
    >>> kish_deff([1, 1, 2, 4])
    1.375
    >>> kish_deff([5.0, 5.0, 5.0])
    1.0
    """
    w = _check_weights(weights)
    return float(len(w) * np.sum(w**2) / np.sum(w) ** 2)


def effective_n(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's effective sample size :math:`(\\sum w_i)^2 / \\sum w_i^2 = n / \\text{deff}`.

    Parameters
    ----------
    weights : array-like
        Positive, finite weights.

    Returns
    -------
    float
        The size of an equally weighted sample with the same precision (between 1 and n).

    Raises
    ------
    CalibrationError
        Empty, non-finite or non-positive weights.

    Examples
    --------
    >>> round(effective_n([1, 1, 2, 4]), 6)
    2.909091
    """
    w = _check_weights(weights)
    return float(np.sum(w) ** 2 / np.sum(w**2))


def _bounds(value: float | Sequence[float] | np.ndarray | None, n: int, fill: float,
            name: str) -> np.ndarray:
    if value is None:
        return np.full(n, fill)
    b = np.asarray(value, dtype=float)
    if b.ndim == 0:
        b = np.full(n, float(b))
    if b.shape != (n,):
        raise CalibrationError(f"{name} must be a number or one number per weight, "
                               f"got shape {b.shape} for {n} weights")
    if np.isnan(b).any():
        raise CalibrationError(f"{name} must not be NaN")
    return b


def _trim_group(w: np.ndarray, lo: np.ndarray, up: np.ndarray, max_iter: int,
                group: str) -> np.ndarray:
    """R's trimWeights(strict = TRUE) rounds on one group's weights."""
    total = w.sum()
    if np.sum(up) < total * (1 - 1e-12) or np.sum(lo) > total * (1 + 1e-12):
        raise CalibrationError(
            f"{group}: the bounds cannot hold the weight total {total:.6g} "
            f"({len(w)} weights, upper bounds sum to {np.sum(up):.6g}, lower bounds to "
            f"{np.sum(lo):.6g})"
        )
    for _ in range(max_iter):
        outside = (w < lo) | (w > up)
        if not outside.any():
            return w
        if outside.all():
            raise CalibrationError(
                f"{group}: every weight lies outside the bounds; nothing to redistribute to"
            )
        new = np.clip(w, lo, up)
        # Spread the net trimmed amount equally over the weights inside the bounds.
        new[~outside] += (w - new).sum() / np.count_nonzero(~outside)
        w = new
    if ((w < lo) | (w > up)).any():
        warnings.warn(
            f"{group}: weights still outside the bounds after {max_iter} trimming rounds",
            TrimWarning,
            stacklevel=3,
        )
    return w


def trim_weights(
    weights: Sequence[float] | np.ndarray,
    lower: float | Sequence[float] | np.ndarray | None = None,
    upper: float | Sequence[float] | np.ndarray | None = None,
    *,
    by: Sequence | np.ndarray | pd.Series | None = None,
    max_iter: int = 1000,
) -> np.ndarray:
    """Trim weights to bounds and spread the trimmed amount, keeping totals.

    Parameters
    ----------
    weights : array-like
        Positive, finite weights.
    lower, upper : float, array-like or None
        Absolute bounds in weight units (not multiples of anything), a number or one per
        weight; None for no bound. For a bound relative to the median, pass e.g.
        ``upper=3.5 * np.median(w)``.
    by : array-like, optional
        Group label per weight (e.g. township): trimming runs within each group and each
        group's weight total is kept. None: one group, the overall total is kept.
    max_iter : int, default 1000
        Most trimming rounds per group.

    Returns
    -------
    numpy.ndarray
        Trimmed weights, input order; the input is not modified.

    Raises
    ------
    CalibrationError
        Bad weights or bounds (``lower > upper``, wrong length); bounds that cannot hold a
        group's total (``n * upper < total`` or ``n * lower > total``), or a group whose
        weights all lie outside the bounds. The message names the group.

    Warns
    -----
    TrimWarning
        Some weights are still outside the bounds after ``max_iter`` rounds.

    Notes
    -----
    One round, as R's ``trimWeights``: weights outside ``[lower, upper]`` are set to the
    bound, and the net amount removed, :math:`\\sum_i (w_i - \\tilde w_i)`, is added in
    equal parts to the weights that were inside the bounds. Rounds repeat while any
    weight lies outside, as ``trimWeights(design, upper, lower, strict = TRUE)`` does
    (R recurses without limit). R trims the whole sample; ``by`` applies the same rule
    within each group. Trimming after raking gives up exact calibration; the variance
    of a trimmed design is the variance with the trimmed weights taken as given.

    References
    ----------
    Potter, F. J. (1990). A study of procedures to identify and trim extreme sampling
    weights. *Proc. Survey Research Methods Section, ASA*, 225-230.

    Examples
    --------
    >>> trim_weights([1.0, 1.0, 1.0, 7.0], upper=4).tolist()
    [2.0, 2.0, 2.0, 4.0]
    >>> trim_weights([1.0, 9.0, 2.0, 8.0], upper=6, by=["a", "a", "b", "b"]).tolist()
    [4.0, 6.0, 4.0, 6.0]
    """
    w = _check_weights(weights)
    n = len(w)
    lo = _bounds(lower, n, -np.inf, "lower")
    up = _bounds(upper, n, np.inf, "upper")
    if (lo > up).any():
        i = int(np.flatnonzero(lo > up)[0])
        raise CalibrationError(f"lower bound {lo[i]} exceeds upper bound {up[i]} "
                               f"(position {i})")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise CalibrationError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    out = w.copy()
    if by is None:
        return _trim_group(out, lo, up, max_iter, "all weights")
    labels = np.asarray(by)
    if labels.shape != (n,):
        raise CalibrationError(f"by must have one label per weight: {n} weights, "
                               f"labels of shape {labels.shape}")
    codes, uniques = pd.factorize(pd.Series(labels), use_na_sentinel=False)
    for g, name in enumerate(uniques):
        rows = codes == g
        out[rows] = _trim_group(w[rows], lo[rows], up[rows], max_iter, f"group {name}")
    return out


def weight_summary(weights: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Numbers the weighting report states about a set of weights.

    Parameters
    ----------
    weights : array-like
        Positive, finite weights.

    Returns
    -------
    dict
        ``n`` (int), ``sum``, ``min``, ``max``, ``ratio`` (max / min) and ``kish_deff``
        (:func:`kish_deff`), as Python numbers.

    Raises
    ------
    CalibrationError
        Empty, non-finite or non-positive weights.

    Examples
    --------
    >>> weight_summary([1, 1, 2, 4])
    {'n': 4, 'sum': 8.0, 'min': 1.0, 'max': 4.0, 'ratio': 4.0, 'kish_deff': 1.375}
    """
    w = _check_weights(weights)
    return {
        "n": len(w),
        "sum": float(w.sum()),
        "min": float(w.min()),
        "max": float(w.max()),
        "ratio": float(w.max() / w.min()),
        "kish_deff": kish_deff(w),
    }
