"""Sample-size planning: how many respondents a township needs to decide against a target.

Two questions, one function: how many respondents give a confidence interval no wider
than a margin (``margin=...``), or how many give a one-sided test of the target the
requested power when the truth is ``expected`` (the default). Both scale a simple random
sample's size by the design effect.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import pandas as pd
from scipy import special  # not scipy.stats: a second to import, same functions

from pingan_eval.errors import EstimationError

__all__ = ["sample_size", "sample_size_table"]


def sample_size(
    target: float = 0.95,
    expected: float = 0.97,
    *,
    deff: float = 2.0,
    level: float = 0.95,
    power: float = 0.8,
    margin: float | None = None,
) -> int:
    """Respondents needed in a township to decide a proportion against a target.

    Parameters
    ----------
    target : float, default 0.95
        The campaign's target proportion, in (0, 1). Not used when `margin` is given.
    expected : float, default 0.97
        The proportion expected in truth (from the last survey), in (0, 1).
    deff : float, default 2.0
        Design effect of the survey (clustering and weighting); > 0. The ``deff``
        column of a previous estimate table is a good guess.
    level : float, default 0.95
        Confidence level, in (0, 1): of the two-sided interval in margin mode; of the
        one-sided test (significance ``1 - level``) in power mode.
    power : float, default 0.8
        Probability, in (0, 1), that the test decides when the truth is `expected`
        (power mode only).
    margin : float, optional
        If given, in (0, 1): the wanted half-width of the confidence interval
        (margin mode); `target` and `power` are then not used.

    Returns
    -------
    int
        The number of respondents, rounded up.

    Raises
    ------
    EstimationError
        A probability outside (0, 1), ``deff <= 0``, ``margin <= 0``, or
        ``expected == target`` in power mode (no sample is large enough).

    Notes
    -----
    With :math:`p` = `expected`, :math:`t` = `target`, :math:`z_q` the standard normal
    quantile and :math:`\\alpha = 1 -` `level`:

    - margin mode, half-width of the two-sided Wald interval :math:`\\le m`:

      .. math:: n = \\text{deff}\\; z_{1-\\alpha/2}^2\\, p(1-p) / m^2

    - power mode, one-sided test of H0 :math:`\\pi \\le t` against H1 :math:`\\pi > t`
      at level :math:`\\alpha` (when `expected` < `target`, the mirror test of
      H0 :math:`\\pi \\ge t`) with power `power` at :math:`\\pi = p`:

      .. math:: n = \\text{deff} \\left( \\frac{z_{1-\\alpha}\\sqrt{t(1-t)}
                + z_{power}\\sqrt{p(1-p)}}{p - t} \\right)^2

    This is the normal-approximation size of the one-sample score test of a
    proportion, whose statistic :math:`(\\hat p - t) / \\sqrt{t(1-t)/n}` uses the
    variance under H0 (Lachin 1981, general form
    :math:`\\sqrt{n}\\,|p - t| = z_{1-\\alpha}\\sigma_0 + z_{power}\\sigma_1`). The test is
    one-sided: :func:`pingan_eval.survey.targets.evaluate`'s
    verdict "met" from a two-sided 95 % interval is a one-sided test at 2.5 %, so plan
    for it with ``level=0.975``.

    References
    ----------
    Lachin, J. M. (1981). Introduction to sample size determination and power analysis
    for clinical trials. *Controlled Clinical Trials* 2(2), 93-113.

    Kish, L. (1965). *Survey Sampling*, section 8.2 (the design effect). Wiley.

    Examples
    --------
    >>> from pingan_eval.survey.planning import sample_size
    >>> sample_size(expected=0.5, margin=0.05, deff=1.0)  # the classic 384.1 -> 385
    385
    >>> sample_size(0.95, 0.97, deff=1.0)
    631
    >>> sample_size(0.95, 0.97, deff=2.0, level=0.975)
    1629
    """
    _check_open("expected", expected)
    _check_open("level", level)
    if not deff > 0:
        raise EstimationError(f"sample_size: deff must be > 0, got {deff!r}")
    if margin is not None:
        _check_open("margin", margin)
        z = special.ndtri((1.0 + level) / 2.0)
        n = deff * z**2 * expected * (1.0 - expected) / margin**2
    else:
        _check_open("target", target)
        _check_open("power", power)
        if expected == target:
            raise EstimationError(
                f"sample_size: expected == target == {target!r}; no sample decides a "
                "proportion that sits on its target (give expected != target, or a margin)"
            )
        z_a = special.ndtri(level)
        z_b = special.ndtri(power)
        spread = z_a * math.sqrt(target * (1.0 - target)) + z_b * math.sqrt(
            expected * (1.0 - expected)
        )
        n = deff * (spread / (expected - target)) ** 2
    # round away float noise first, so that an exact 385.0000000001 stays 385
    return max(1, math.ceil(round(n, 6)))


def sample_size_table(
    targets: Iterable[float],
    expected_values: Iterable[float],
    deffs: Iterable[float],
    *,
    level: float = 0.95,
    power: float = 0.8,
    margin: float | None = None,
) -> pd.DataFrame:
    """:func:`sample_size` over every combination of targets, expected values and deffs.

    Parameters
    ----------
    targets, expected_values, deffs : iterable of float
        The values to combine (see :func:`sample_size`).
    level, power, margin
        As in :func:`sample_size`, shared by every row.

    Returns
    -------
    pandas.DataFrame
        Columns exactly ``target, expected, deff, n`` (``n`` an int), one row per
        combination, sorted by target, expected, deff.

    Raises
    ------
    EstimationError
        As :func:`sample_size`, for the first combination that fails; or an empty list.

    Examples
    --------
    >>> from pingan_eval.survey.planning import sample_size_table
    >>> sample_size_table([0.95], [0.97, 0.98], [1.0, 2.0])
       target  expected  deff     n
    0    0.95      0.97   1.0   631
    1    0.95      0.97   2.0  1261
    2    0.95      0.98   1.0   253
    3    0.95      0.98   2.0   505
    """
    axes = [sorted(set(map(float, v))) for v in (targets, expected_values, deffs)]
    for name, values in zip(("targets", "expected_values", "deffs"), axes, strict=True):
        if not values:
            raise EstimationError(f"sample_size_table: {name} is empty")
    rows = [
        (t, p, d, sample_size(t, p, deff=d, level=level, power=power, margin=margin))
        for t, p, d in itertools.product(*axes)
    ]
    out = pd.DataFrame(rows, columns=["target", "expected", "deff", "n"])
    return out.astype({"n": "int64"})


def _check_open(name: str, value: float) -> None:
    """Raise unless ``0 < value < 1`` (NaN fails too)."""
    if not 0.0 < value < 1.0:
        raise EstimationError(f"sample_size: {name} must be in (0, 1), got {value!r}")
