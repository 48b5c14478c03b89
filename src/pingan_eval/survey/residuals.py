"""Calibration residuals of influence values: the variance of raked estimators.

:func:`residualize` applies the steps of :func:`pingan_eval.survey.calibration.rake`
(:class:`Raking`, one :class:`PostStratum` per margin) to influence values exactly where
R's ``svyrecvar`` applies ``design$postStrata``, sparse column by column, so standard
errors account for the raking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from pingan_eval.errors import CalibrationError

__all__ = ["PostStratum", "Raking", "residualize"]

# R's svyrecvar sweeps the raking margins a fixed 10 times (``for (iterations in 1:10)``).
_RESIDUAL_SWEEPS = 10
# residualize() sweeps at most this many (row, column) entries at once (a few arrays of 8
# bytes each), so margins that link every row never need several n x k arrays.
_CHUNK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class PostStratum:
    """One margin of the last raking pass, as R stores it in ``design$postStrata``.

    Attributes
    ----------
    codes : numpy.ndarray
        Integer cell of every row (0 .. n_cells - 1), input row order.
    weights : numpy.ndarray
        Weights right after post-stratifying on this margin (R's ``attr(, "weights")``).
    """

    codes: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class Raking:
    """The margins of one :func:`rake` call, in raking order (R's class ``"raking"``)."""

    margins: tuple[PostStratum, ...]


def _components(margins: list[PostStratum]) -> np.ndarray:
    """Component of each row: rows linked, directly or not, by sharing a margin cell.

    A sweep moves a column's values only within the cells that hold them, so a column
    never leaves the components of its non-zero rows. For margins crossed with township
    the components are the townships.
    """
    if len(margins) == 1:
        return margins[0].codes
    offset = np.cumsum([0] + [int(m.codes.max()) + 1 for m in margins])
    # Each row links its cell in one margin to its cell in the next.
    a = np.concatenate([m.codes + offset[i] for i, m in enumerate(margins[:-1])])
    b = np.concatenate([m.codes + offset[i + 1] for i, m in enumerate(margins[1:])])
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(offset[-1], offset[-1]))
    return connected_components(graph, directed=False)[1][margins[0].codes]


def _compact(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``key`` (< ``size``), sorted, and the index of each key."""
    if size <= max(4 * len(key), 1 << 20):
        present = np.flatnonzero(np.bincount(key, minlength=size))
        lookup = np.empty(size, dtype=np.int64)
        lookup[present] = np.arange(len(present))
        return present, lookup[key]
    present, index = np.unique(key, return_inverse=True)
    return present, index.ravel()


def _sweep(x: np.ndarray, psw: np.ndarray, cell: np.ndarray, counts: np.ndarray
           ) -> np.ndarray:
    """``x - psw * ave(x / psw, margin)`` on (row, column) entries.

    ``cell`` is the (margin cell, column) index of each entry and ``counts`` the rows of
    that margin cell. Every cell's rows come in ascending order, so its sums add the
    same numbers in the same order as a bincount down a dense column.
    """
    sums = np.bincount(cell, weights=x / psw, minlength=len(counts))
    return x - psw * (sums / counts)[cell]


def _residualize_step(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, n_cols: int,
                      step: Raking) -> np.ndarray:
    """R's 10 sweeps over the margins of one raking, on entries at ``(rows, cols)``."""
    sweeps = []
    for margin in step.margins:
        codes = np.asarray(margin.codes, dtype=np.int64)
        n_cells = int(codes.max()) + 1
        present, cell = _compact(codes[rows] * n_cols + cols, n_cells * n_cols)
        counts = np.bincount(codes, minlength=n_cells)[present // n_cols]
        sweeps.append((margin.weights[rows], cell, counts))
    for _ in range(_RESIDUAL_SWEEPS):
        for psw, cell, counts in sweeps:
            x = _sweep(x, psw, cell, counts)
    return x


def _residualize_sparse(x: sparse.csc_matrix, steps: tuple) -> sparse.csc_matrix:
    """:func:`residualize` of a sparse ``(n, k)`` matrix, one block of entries per column.

    A column's entries are the rows of the components (:func:`_components`) its non-zero
    values lie in, grouped by component, ascending within one; every other row of the
    column has residual exactly 0, as in the dense computation.
    """
    x = sparse.csc_matrix(x, dtype=float, copy=True)
    x.sum_duplicates()
    x.eliminate_zeros()
    n, k = x.shape
    margins = [m for step in steps for m in step.margins]
    if not margins or x.nnz == 0:
        return x
    comp = np.asarray(_components(margins), dtype=np.int64)
    n_comp = int(comp.max()) + 1
    size = np.bincount(comp, minlength=n_comp)
    by_comp = np.argsort(comp, kind="stable")
    first = np.cumsum(size) - size                # where each component starts in by_comp
    rank = np.empty(n, dtype=np.int64)            # position of each row in its component
    rank[by_comp] = np.arange(n) - first[comp[by_comp]]
    # (column, component) pairs with a non-zero value, in column order
    nz_key = np.repeat(np.arange(k), np.diff(x.indptr)) * n_comp + comp[x.indices]
    pair_key = np.unique(nz_key)
    pair_col, pair_comp = np.divmod(pair_key, n_comp)
    pair_len = size[pair_comp]
    pair_start = np.cumsum(pair_len) - pair_len   # where each pair starts in the entries
    n_entries = int(pair_len.sum())
    rows = by_comp[np.arange(n_entries)
                   + np.repeat(first[pair_comp] - pair_start, pair_len)]
    values = np.zeros(n_entries)
    values[pair_start[np.searchsorted(pair_key, nz_key)] + rank[x.indices]] = x.data
    col_len = np.bincount(pair_col, weights=pair_len, minlength=k).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(col_len)])
    lo = 0
    while lo < k:
        hi = int(np.searchsorted(indptr, indptr[lo] + _CHUNK_ENTRIES, side="right")) - 1
        hi = min(max(hi, lo + 1), k)
        part = slice(indptr[lo], indptr[hi])
        cols = np.repeat(np.arange(hi - lo), col_len[lo:hi])
        chunk = values[part]
        for step in steps:
            chunk = _residualize_step(chunk, rows[part], cols, hi - lo, step)
        values[part] = chunk
        lo = hi
    out = sparse.csc_matrix((values, rows, indptr), shape=(n, k))
    out.sort_indices()
    return out


def residualize(x: np.ndarray | sparse.spmatrix, steps: tuple
                ) -> np.ndarray | sparse.csc_matrix:
    """Calibration residuals of influence values, as R's ``svyrecvar`` for raked designs.

    Parameters
    ----------
    x : numpy.ndarray or scipy.sparse matrix
        Weighted influence values, shape ``(n,)`` or ``(n, k)``, input row order, with
        zeros outside a domain (rows are never dropped). A sparse ``(n, k)`` matrix
        (one column per domain) needs memory for its non-zero values only.
    steps : tuple
        ``RakeResult.steps`` (or several results' steps concatenated, oldest first).

    Returns
    -------
    numpy.ndarray or scipy.sparse.csc_matrix
        The residuals, same shape as ``x`` (sparse when ``x`` is); pass them on to the
        PSU-total variance.

    Raises
    ------
    CalibrationError
        ``x`` and the raking have different numbers of rows.
    TypeError
        A step is not a :class:`Raking`.

    Notes
    -----
    For every raking, 10 sweeps over its margins (R hard-codes 10) each replace
    :math:`x_i` by :math:`x_i - w_i \\bar{z}_{c(i)}`, where :math:`w_i` is the weight right
    after that margin's post-stratification, :math:`z = x / w` and :math:`\\bar z_c` is the
    unweighted mean of :math:`z` over the rows of cell :math:`c`: R's
    ``x <- x - psw * apply(x/psw, 2, ave, margin)``. This approximates the projection on
    the calibration variables, so standard errors account for the raking.

    A sweep changes a column only in the cells that hold a non-zero value of it, so a
    column stays inside the rows linked to its non-zero rows through shared cells (its
    township, when every margin is crossed with township) and is exactly 0 elsewhere.
    Each column is swept on those rows alone, all columns at once; the cell sums add the
    same numbers in the same order as sweeping the dense ``n x k`` matrix, so the result
    is the same to the last bit, at a cost that grows with the rows each domain reaches
    instead of ``n k``.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 7.4. Wiley.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from pingan_eval.survey.calibration import rake
    >>> d = pd.DataFrame({"sex": ["男", "男", "女", "女"]})
    >>> r = rake(d, np.ones(4), {"sex": {"男": 10, "女": 30}})
    >>> residualize(np.array([1.0, 3.0, 2.0, 2.0]), r.steps).tolist()
    [-1.0, 1.0, 0.0, 0.0]
    """
    is_sparse = sparse.issparse(x)
    if is_sparse:
        n = x.shape[0]
    else:
        arr = np.asarray(x, dtype=float)
        n = len(arr)
    for step in steps:
        if not isinstance(step, Raking):
            raise TypeError(f"unknown calibration step {type(step).__name__}")
        for margin in step.margins:
            if len(margin.codes) != n:
                raise CalibrationError(
                    f"influence values have {n} rows but the raking has "
                    f"{len(margin.codes)}; keep every row (zero outside a domain)"
                )
    if is_sparse:
        return _residualize_sparse(x, steps)
    if not any(step.margins for step in steps):
        return arr
    out = _residualize_sparse(sparse.csc_matrix(arr.reshape(n, -1)), steps)
    return out.toarray().reshape(arr.shape)
