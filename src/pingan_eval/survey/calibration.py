"""Raking to census margins, with the residuals that make variances calibration-aware.

This module is pure numpy/pandas and knows nothing of :mod:`pingan_eval.survey.design`:
:func:`rake` turns a data frame, its weights and population margins into calibrated
weights plus the *steps* the variance engine needs, and :func:`residualize` (in
:mod:`pingan_eval.survey.residuals`, re-exported here) applies those steps to influence
values exactly where R's ``svyrecvar`` applies ``design$postStrata``.
``SurveyDesign.rake`` wraps the two.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pingan_eval.errors import CalibrationError
from pingan_eval.survey.residuals import PostStratum, Raking, residualize

__all__ = [
    "PostStratum",
    "RakeConvergenceWarning",
    "RakeResult",
    "Raking",
    "census_margins",
    "rake",
    "residualize",
]


class RakeConvergenceWarning(RuntimeWarning):
    """Raking stopped at ``max_iter`` before the cell totals settled (R warns likewise)."""


@dataclass(frozen=True)
class RakeResult:
    """What :func:`rake` returns.

    Attributes
    ----------
    weights : numpy.ndarray
        Calibrated weights, input row order.
    steps : tuple
        ``(Raking(...),)``: hand to :func:`residualize`. A design raked again appends the
        new steps after its old ones, as R's ``c(oldpoststrata, list(rakestrata))``.
    converged : bool
        False when ``max_iter`` passes ran without convergence (a warning was issued).
    iterations : int
        Raking passes run (one pass post-stratifies on every margin once).
    """

    weights: np.ndarray
    steps: tuple
    converged: bool
    iterations: int


@dataclass(frozen=True)
class _Margin:
    columns: tuple[str, ...]
    codes: np.ndarray  # cell index into population, per row
    population: np.ndarray  # population total per cell (cells with respondents only)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def _fmt_total(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _cell_name(columns: tuple[str, ...], levels: tuple) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, levels, strict=True))


def _parse_margin(
    data: pd.DataFrame, weights: np.ndarray, key: Hashable, totals: Mapping
) -> _Margin:
    columns = tuple(key) if isinstance(key, tuple) else (key,)
    label = "(" + ", ".join(map(str, columns)) + ")"
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise CalibrationError(
            f"margin {label}: column(s) {missing} not in the data "
            f"(columns: {list(map(str, data.columns))})"
        )
    if not isinstance(totals, Mapping) or not totals:
        raise CalibrationError(f"margin {label}: give a non-empty {{level: population}} mapping")
    for c in columns:
        na = data[c].isna().to_numpy()
        if na.any():
            rows = list(data.index[na][:5])
            raise CalibrationError(
                f"margin {label}: column {c!r} is missing in {int(na.sum())} row(s), "
                f"first rows {rows}; raking needs a level for every respondent"
            )
    levels = []
    for lev in totals:
        if len(columns) == 1:
            lev = lev if isinstance(lev, tuple) and len(lev) == 1 else (lev,)
        elif not isinstance(lev, tuple) or len(lev) != len(columns):
            raise CalibrationError(
                f"margin {label}: level {lev!r} must be a tuple of {len(columns)} values"
            )
        levels.append(lev)
    population = np.array([float(totals[k]) for k in totals], dtype=float)
    bad = ~np.isfinite(population) | (population < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(
            f"margin {label}: {_cell_name(columns, levels[i])} has population "
            f"{float(population[i])}; totals must be finite and >= 0"
        )
    if len(columns) == 1:
        index = pd.Index([lev[0] for lev in levels])
        codes = index.get_indexer(data[columns[0]])
    else:
        index = pd.MultiIndex.from_tuples(levels, names=columns)
        codes = index.get_indexer(pd.MultiIndex.from_frame(data[list(columns)]))
    problems = []
    absent = codes < 0
    if absent.any():
        combos = data.loc[absent, list(columns)].value_counts(sort=False).sort_index()
        # categorical columns also count their unobserved category combinations
        for lev, count in combos[combos > 0].items():
            lev = lev if isinstance(lev, tuple) else (lev,)
            problems.append(
                f"{_cell_name(columns, lev)} has {count} respondent(s) but no population "
                "total in the margins"
            )
    sampled = np.bincount(codes[~absent], weights=weights[~absent], minlength=len(levels))
    for i, lev in enumerate(levels):
        if population[i] > 0 and sampled[i] == 0:
            problems.append(
                f"{_cell_name(columns, lev)} has population {_fmt_total(population[i])} "
                "but no respondents"
            )
        elif population[i] == 0 and sampled[i] > 0:
            count = int(np.sum(codes == i))
            problems.append(
                f"{_cell_name(columns, lev)} has {count} respondent(s) but population 0"
            )
    if problems:
        raise CalibrationError(f"margin {label} cannot be met: " + "; ".join(problems))
    return _Margin(columns, codes, population)


def rake(
    data: pd.DataFrame,
    weights: np.ndarray,
    margins: Mapping,
    *,
    epsilon: float = 1.0,
    max_iter: int = 10,
) -> RakeResult:
    """Rake weights to population margins by iterative post-stratification, as R's ``rake``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent; holds the margin columns. Not modified.
    weights : numpy.ndarray
        Positive, finite design weights, one per row of ``data``.
    margins : Mapping
        Population totals, raked in the mapping's order. ``{column: {level: total}}`` for
        a one-way margin; ``{(col1, col2): {(level1, level2): total}}`` for a crossed one
        such as township x sex. A level with total 0 and no respondents is ignored.
    epsilon : float, default 1.0
        Convergence tolerance on the weighted cell totals: absolute (persons) when
        ``epsilon >= 1``, else relative to the sum of the input weights (R's rule).
    max_iter : int, default 10
        Most raking passes (R's ``maxit``).

    Returns
    -------
    RakeResult
        ``weights`` (calibrated, input row order), ``steps`` (for :func:`residualize`),
        ``converged`` and ``iterations`` (passes run).

    Raises
    ------
    CalibrationError
        A margin column is absent or has missing values; a level of the sample has no
        population total (or total 0); a level with population > 0 has no respondents
        (the message names every key column and level, e.g. ``township=青河镇, sex=女 has
        population 1234 but no respondents``); bad weights, totals, ``epsilon`` or
        ``max_iter``.

    Warns
    -----
    RakeConvergenceWarning
        ``max_iter`` passes ran without convergence; the last pass's weights are returned.

    Notes
    -----
    One pass post-stratifies on each margin in turn: in cell :math:`c` of the margin,
    :math:`w_i \\leftarrow w_i N_c / \\sum_{j \\in c} w_j`. After each pass the weighted
    totals of the full cross-classification of every margin column are compared with
    those before the pass; the raking has converged when the largest absolute change is
    below ``epsilon`` (times the input weight total if ``epsilon < 1``). This is R's
    ``rake(design, sample.margins, population.margins, control = list(maxit = 10,
    epsilon = 1))`` (survey 4.1), to the letter, so the weights agree with R's even when
    raking stops before full convergence.

    References
    ----------
    Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled
    frequency table when the expected marginal totals are known. *Ann. Math. Statist.*
    11(4), 427-444.

    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*, ch. 7. Wiley.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.DataFrame({"sex": ["男", "女", "女"], "age": ["young", "young", "old"]})
    >>> r = rake(d, np.ones(3), {"sex": {"男": 50, "女": 50}, "age": {"young": 60, "old": 40}})
    >>> r.converged, r.iterations, np.round(r.weights, 2).tolist()
    (True, 5, [48.9, 11.1, 40.0])

    The default ``epsilon=1`` (one person) stops early here, as R's does; tighter:

    >>> r = rake(d, np.ones(3), {"sex": {"男": 50, "女": 50}, "age": {"young": 60, "old": 40}},
    ...          epsilon=1e-9, max_iter=100)
    >>> np.round(r.weights, 6).tolist()
    [50.0, 10.0, 40.0]
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or len(w) != len(data):
        raise CalibrationError(
            f"weights must be one number per row: {len(data)} rows, weights of shape {w.shape}"
        )
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(
            f"weights must be positive and finite; row {data.index[i]!r} has weight {float(w[i])}"
        )
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise CalibrationError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not np.isfinite(epsilon) or epsilon <= 0:
        raise CalibrationError(f"epsilon must be a positive number, got {epsilon!r}")
    if not isinstance(margins, Mapping) or not margins:
        raise CalibrationError("margins must be a non-empty mapping {column: {level: total}}")

    parsed = [_parse_margin(data, w, key, totals) for key, totals in margins.items()]
    # Every margin's cell is a one-to-one function of its columns, so the rows of margin
    # codes identify the cells of the full cross-classification R's svytable(ff) builds.
    _, full_cell = np.unique(np.column_stack([m.codes for m in parsed]), axis=0,
                             return_inverse=True)
    full_cell = full_cell.ravel()
    tol = epsilon * w.sum() if epsilon < 1 else epsilon

    old_table = np.bincount(full_cell, weights=w)
    passes, converged, last_pass = 0, False, ()
    while passes < max_iter:
        passes += 1
        steps = []
        for m in parsed:
            sampled = np.bincount(m.codes, weights=w, minlength=len(m.population))
            w = w * (m.population[m.codes] / sampled[m.codes])
            steps.append(PostStratum(_readonly(np.unique(m.codes, return_inverse=True)[1]),
                                     _readonly(w)))
        last_pass = tuple(steps)
        new_table = np.bincount(full_cell, weights=w)
        delta = float(np.max(np.abs(new_table - old_table)))
        if delta < tol:
            converged = True
            break
        old_table = new_table
    if not converged:
        warnings.warn(
            f"Raking did not converge after {passes} iterations: the largest change of a "
            f"cell total in the last pass was {delta:.4g} (epsilon {tol:.4g}); the weights "
            "of the last pass are returned",
            RakeConvergenceWarning,
            stacklevel=2,
        )
    return RakeResult(_readonly(w), (Raking(last_pass),), converged, passes)


def census_margins(
    census: pd.DataFrame, *, by: str | None = "township", margins: tuple[str, ...] | None = None
) -> dict:
    """Turn census.csv (long format) into the ``margins`` mapping of :func:`rake`.

    Parameters
    ----------
    census : pandas.DataFrame
        Columns ``township, margin, level, population`` (data/raw/README.md).
    by : str or None, default "township"
        Cross every margin with this column (township x sex, ...); None for one-way
        county margins (totals summed over townships).
    margins : tuple of str, optional
        Margin names in raking order; default: their order of first appearance.

    Returns
    -------
    dict
        ``{(by, margin): {(township, level): population}}`` (or ``{margin: {level:
        population}}`` when ``by`` is None), levels in file order.

    Raises
    ------
    CalibrationError
        A required column or a requested margin is absent, or a cell appears twice.

    Examples
    --------
    >>> import pandas as pd
    >>> census = pd.DataFrame({"township": ["青河镇"] * 2, "margin": ["sex"] * 2,
    ...                        "level": ["男", "女"], "population": [10, 12]})
    >>> census_margins(census)
    {('township', 'sex'): {('青河镇', '男'): 10, ('青河镇', '女'): 12}}
    """
    need = ["margin", "level", "population"] + ([by] if by else [])
    absent = [c for c in need if c not in census.columns]
    if absent:
        raise CalibrationError(f"census table lacks column(s) {absent}")
    names = list(dict.fromkeys(census["margin"])) if margins is None else list(margins)
    out: dict = {}
    for name in names:
        part = census[census["margin"] == name]
        if part.empty:
            raise CalibrationError(
                f"margin {name!r} not in the census (margins: {sorted(set(census['margin']))})"
            )
        keys = [by, "level"] if by else ["level"]
        grouped = part.groupby(keys, sort=False)["population"]
        if by and grouped.size().max() > 1:
            dup = grouped.size().idxmax()
            raise CalibrationError(f"census: {by}={dup[0]}, {name}={dup[1]} appears twice")
        totals = grouped.sum()
        out[(by, name) if by else name] = dict(zip(totals.index, totals.tolist(), strict=True))
    return out
