"""The inputs of a :class:`~pingan_eval.survey.design.SurveyDesign`, checked, and its structure.

Column checks, numeric, weight and estimated-variable columns (errors naming the row),
the strata/PSU/fpc :class:`~pingan_eval.survey.variance.Structure` of a design, and the
domain partition of its rows (:class:`Domains`, :func:`domain_partition`) for a ``by``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval.errors import DesignError, EstimationError
from pingan_eval.survey.variance import DomainPairs, Structure


@dataclass(frozen=True, eq=False)
class Domains:
    """A domain partition of the design's rows (see :func:`domain_partition`)."""

    keys: pd.DataFrame        # one row per domain, sorted; the by columns
    row_domain: np.ndarray    # domain code per row, len(keys) for rows in no domain
    pairs: DomainPairs        # (domain, PSU) pairs for the variance engine
    df: np.ndarray            # R's degf() per domain
    n_rows: np.ndarray        # R's nrow() of the domain design


def show(value: Any) -> str:
    """repr() of a value as the user wrote it (numpy scalars as Python ones)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_column(data: pd.DataFrame, name: Hashable, role: str) -> None:
    if name not in data.columns:
        shown = ", ".join(repr(c) for c in list(data.columns)[:20])
        raise DesignError(f"unknown {role} column {name!r}; the data has: {shown}")


def numeric(series: pd.Series, name: str) -> np.ndarray:
    """The column as float64 with NaN for missing; raise naming a non-numeric value."""
    kind = pd.api.types
    if kind.is_bool_dtype(series) or kind.is_integer_dtype(series) or kind.is_float_dtype(series):
        return series.to_numpy(dtype=float, na_value=np.nan)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise EstimationError(f"column {name!r} is not numeric: row {show(series.index[i])} "
                              f"has {show(series.iloc[i])}")
    return values.to_numpy(dtype=float, na_value=np.nan)


def positive_weights(series: pd.Series, name: str) -> np.ndarray:
    try:
        w = numeric(series, name)
    except EstimationError as exc:
        raise DesignError(f"weights: {exc}") from None
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DesignError(
            f"weight column {name!r} must be finite and > 0: row {show(series.index[i])} has "
            f"{show(series.iloc[i])} ({int(bad.sum())} bad rows)")
    return w


def variable_values(data: pd.DataFrame, variable: Hashable, binary: bool
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Which rows have a value, and the values with 0 where missing.

    EstimationError naming the row for an unknown column, a non-numeric or infinite
    value, or, for a proportion (``binary``), a value other than 0/1.
    """
    check_column(data, variable, "variable")
    y = numeric(data[variable], variable)
    valid = ~np.isnan(y)
    if np.isinf(y).any():
        i = int(np.argmax(np.isinf(y)))
        raise EstimationError(f"column {variable!r} has an infinite value in row "
                              f"{show(data.index[i])}")
    y0 = np.where(valid, y, 0.0)
    # y (1 - y) is 0 exactly for 0 and 1 (and for the zeros put in for missing values).
    if binary and np.any(y0 * (1.0 - y0)):
        bad = (y0 != 0) & (y0 != 1)
        i = int(np.argmax(bad))
        raise EstimationError(
            f"column {variable!r} must be 0/1 for a proportion; row "
            f"{show(data.index[i])} has {show(y[i])} ({int(bad.sum())} such rows)")
    return valid, y0


def _codes(series: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted factor codes of a column with no missing value."""
    codes, uniques = pd.factorize(series, sort=True)
    if (codes < 0).any():
        i = int(np.argmax(codes < 0))
        raise DesignError(f"column {name!r} has a missing value in row {show(series.index[i])}")
    return codes.astype(np.int64), np.asarray(uniques)


def build_structure(frame: pd.DataFrame, strata: str | None, psu: str | None,
                     fpc: str | None, lonely_psu: str) -> Structure:
    n = len(frame)
    if n == 0:
        raise DesignError("the survey data has no rows")
    if strata is None:
        stratum, labels = np.zeros(n, dtype=np.int64), np.array(["(all)"], dtype=object)
    else:
        stratum, labels = _codes(frame[strata], strata)
    n_strata = len(labels)
    if psu is None:
        # Each row its own PSU; codes grouped by stratum so PSUs stay nested.
        psu_code = np.empty(n, dtype=np.int64)
        psu_code[np.argsort(stratum, kind="stable")] = np.arange(n)
    else:
        raw, uniques = _codes(frame[psu], psu)
        psu_code = np.unique(stratum * len(uniques) + raw, return_inverse=True)[1].ravel()
    n_psus = int(psu_code.max()) + 1
    psu_stratum = np.zeros(n_psus, dtype=np.int64)
    psu_stratum[psu_code] = stratum
    n_psu = np.bincount(psu_stratum, minlength=n_strata)
    f = np.ones(n_strata)
    if fpc is not None:
        f = _finite_population_factor(frame[fpc], fpc, stratum, n_psu, labels)
    return Structure(stratum=stratum, psu=psu_code, psu_stratum=psu_stratum, n_psu=n_psu,
                     f=f, stratum_labels=tuple(labels.tolist()), lonely_psu=lonely_psu)


def _finite_population_factor(series: pd.Series, name: str, stratum: np.ndarray,
                              n_psu: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(N_h - n_h) / N_h`` per stratum from the population PSU counts ``N_h``."""
    try:
        pop = numeric(series, name)
    except EstimationError as exc:
        raise DesignError(f"fpc: {exc}") from None
    bad = ~(pop > 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DesignError(f"fpc column {name!r} must be > 0 and not missing: row "
                          f"{show(series.index[i])} has {show(series.iloc[i])}")
    n_strata = len(n_psu)
    low = np.full(n_strata, np.inf)
    high = np.full(n_strata, -np.inf)
    np.minimum.at(low, stratum, pop)
    np.maximum.at(high, stratum, pop)
    varies = low != high
    if varies.any():
        h = int(np.argmax(varies))
        raise DesignError(f"fpc column {name!r} varies within stratum {show(labels[h])} "
                          f"({low[h]:g} to {high[h]:g})")
    short = low < n_psu
    if short.any():
        h = int(np.argmax(short))
        raise DesignError(f"fpc column {name!r}: stratum {show(labels[h])} has {n_psu[h]} sampled "
                          f"PSUs but a population of only {low[h]:g}")
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(low), 1.0, (low - n_psu) / low)


def factorize_rows(data: pd.DataFrame, cols: list[str],
                    known: Mapping[Hashable, tuple[np.ndarray, Any]]
                    ) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row (-1 where a by value is missing) and the sorted domain keys.

    ``known`` maps columns already factorized (sorted codes, uniques) to their result.
    """
    codes = []
    uniques = []
    for col in cols:
        c, u = known[col] if col in known else pd.factorize(data[col], sort=True)
        codes.append(c.astype(np.int64))
        uniques.append(u)
    if len(cols) == 1:
        # Factorizing yields only observed values, sorted: they are the domains.
        return codes[0], pd.DataFrame({cols[0]: pd.Index(uniques[0])})
    dims = tuple(max(len(u), 1) for u in uniques)
    missing = np.zeros(len(data), dtype=bool)
    for c in codes:
        missing |= c < 0
    combined = np.ravel_multi_index(tuple(np.where(missing, 0, c) for c in codes), dims)
    size = int(np.prod(dims, dtype=np.int64))
    small = size <= 4 * len(data) + (1 << 20)
    present = (np.flatnonzero(np.bincount(combined[~missing], minlength=size)) if small
               else np.unique(combined[~missing]))
    if small:
        lookup = np.full(size, -1, dtype=np.int64)
        lookup[present] = np.arange(len(present))
        domain = np.where(missing, -1, lookup[combined])
    else:
        domain = np.where(missing, -1, np.searchsorted(present, combined))
    positions = np.unravel_index(present, dims)
    keys = pd.DataFrame({col: pd.Index(u).take(pos) if len(u) else []
                         for col, u, pos in zip(cols, uniques, positions, strict=True)})
    return domain, keys


def by_columns(by: str | Sequence[str]) -> list[str]:
    """The ``by`` argument as a list of column names."""
    return [by] if isinstance(by, str) else list(by)


def domain_partition(data: pd.DataFrame, cols: tuple[str, ...], strata: str | None,
                     structure: Structure, weights: np.ndarray, calibrated: bool) -> Domains:
    """Domain of each row, sorted domain keys, (domain, PSU) pairs, df, rows.

    ``strata`` names the design's stratum column (already factorized in ``structure``);
    a row of weight 0 is in no domain; a ``calibrated`` design keeps every row in its
    domains' row counts.
    """
    for col in cols:
        check_column(data, col, "by")
    n = len(data)
    if not cols:
        domain = np.zeros(n, dtype=np.int64)
        keys = pd.DataFrame(index=pd.RangeIndex(1))
    else:
        # The strata column was factorized (sorted) when the design was built.
        known = {strata: (structure.stratum, pd.Index(list(structure.stratum_labels)))}
        domain, keys = factorize_rows(data, list(cols), known)
    k = len(keys)
    if k == 0:
        raise EstimationError(f"no row has a value in every by column {list(cols)}")
    # A row of weight 0 (a zero-weighted subset, as R's design[i, ]) is in no domain.
    positive = weights > 0
    row_domain = np.where((domain >= 0) & positive, domain, k)
    if cols == (strata,) and positive.all():
        pairs = DomainPairs.of_strata(structure)   # nothing to index
    else:
        pairs = DomainPairs.build(row_domain, k, structure)
    # R's beta interval uses nrow() of the domain design; a calibrated design keeps
    # every row in its subsets (weights set to zero instead).
    n_rows = (np.full(k, n) if calibrated
              else np.bincount(row_domain, minlength=k + 1)[:k])
    return Domains(keys=keys, row_domain=row_domain, pairs=pairs,
                   df=pairs.degrees_of_freedom(), n_rows=n_rows)
