"""The one variance engine: Taylor-linearized variance of domain estimates.

Estimators build linearized (influence) values, one per row and domain, and hand them to
:func:`domain_variance`. This is the only place where PSU totals are summed within
strata, the counterpart of R's ``survey:::svyrecvar`` for a one-stage (ultimate cluster)
design ``svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~N_psu, nest=TRUE)``.

For domain ``d`` with influence values ``x_i`` (zero outside the domain), stratum ``h``
with ``n_h`` sampled PSUs and PSU totals ``t_hj = sum_{i in PSU j} x_i``::

    V_d = sum_h  f_h * n_h / (n_h - 1) * sum_{j=1}^{n_h} (t_hj - tbar_h)^2

where ``tbar_h = sum_j t_hj / n_h`` runs over all ``n_h`` PSUs of the stratum (PSUs with
no row in the domain have ``t_hj = 0``: R "pads" each stratum with zero totals) and
``f_h = (N_h - n_h) / N_h`` with an fpc, else 1. A stratum with a single sampled PSU
(``n_h = 1``) follows the lonely-PSU policy: ``"adjust"`` adds ``f_h * t_h1^2`` (the PSU
total centred at the overall, already-subtracted mean), ``"remove"`` and ``"certainty"``
add nothing, ``"fail"`` raises :class:`~pingan_eval.errors.DesignError` naming the
stratum. As in R, a lonely stratum only matters when the domain has data in it.

No Python loop runs over rows, PSUs, strata or domains: totals are ``np.bincount`` over
combined integer keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from .errors import DesignError

#: Lonely-PSU policies, with R's ``options(survey.lonely.psu = ...)`` meaning.
LONELY_PSU_POLICIES: tuple[str, ...] = ("fail", "adjust", "remove", "certainty")


@dataclass(frozen=True, eq=False)
class Structure:
    """Integer codes of a design's strata and PSUs (built once per design).

    Attributes
    ----------
    stratum : ndarray of int64, shape (n,)
        Stratum code of each row, ``0 .. H-1`` in sorted order of the stratum labels.
    psu : ndarray of int64, shape (n,)
        PSU code of each row, ``0 .. P-1``; PSUs are nested in strata.
    psu_stratum : ndarray of int64, shape (P,)
        Stratum code of each PSU.
    n_psu : ndarray of int64, shape (H,)
        Sampled PSUs per stratum.
    f : ndarray of float64, shape (H,)
        Finite population factor ``(N_h - n_h) / N_h`` (1 without an fpc).
    stratum_labels : tuple
        Stratum labels in code order, for error messages.
    lonely_psu : str
        One of :data:`LONELY_PSU_POLICIES`.
    """

    stratum: np.ndarray
    psu: np.ndarray
    psu_stratum: np.ndarray
    n_psu: np.ndarray
    f: np.ndarray
    stratum_labels: tuple
    lonely_psu: str

    @property
    def n_strata(self) -> int:
        return len(self.n_psu)

    @property
    def n_psus(self) -> int:
        return len(self.psu_stratum)


def occupied(key: np.ndarray, size: int) -> np.ndarray:
    """Sorted distinct values of the non-negative integer array ``key`` (all < ``size``).

    Uses one ``np.bincount`` pass when ``size`` is small enough, else a sort.
    """
    if size <= max(4 * len(key), 1 << 20):
        return np.flatnonzero(np.bincount(key, minlength=size))
    return np.unique(key)


def _keyed_sums(key: np.ndarray, values: np.ndarray, size: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the sum of ``values`` per key (keys sorted)."""
    if size <= max(4 * len(key), 1 << 20):
        counts = np.bincount(key, minlength=size)
        sums = np.bincount(key, weights=values, minlength=size)
        present = np.flatnonzero(counts)
        return present, sums[present]
    present, inverse = np.unique(key, return_inverse=True)
    return present, np.bincount(inverse.ravel(), weights=values, minlength=len(present))


def domain_variance(x: np.ndarray, domain: np.ndarray, n_domains: int,
                    structure: Structure, steps: Sequence[Any] = ()) -> np.ndarray:
    """Variance of ``n_domains`` domain estimates from their influence values.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
        Influence value of each row for the domain it belongs to, already multiplied by
        the weight (R: ``x * pweights / psum``).
    domain : ndarray of int64, shape (n,)
        Domain code ``0 .. n_domains-1`` of each row that contributes, ``-1`` for rows
        outside every domain or whose variable is missing (their ``x`` is ignored).
    n_domains : int
        Number of domains.
    structure : Structure
        The design's strata, PSUs and fpc.
    steps : sequence
        Calibration (post-stratification) steps of the design; when not empty the
        ``(n, n_domains)`` influence matrix is residualized by
        ``pingan_eval.calibration.residualize`` before PSU totals are taken, where R's
        ``svyrecvar`` applies ``postStrata``.

    Returns
    -------
    ndarray of float, shape (n_domains,)
        The variance of each domain estimate.

    Raises
    ------
    DesignError
        A stratum with one PSU contributes and ``lonely_psu`` is ``"fail"``.
    """
    n_psus = structure.n_psus
    if steps:
        comb_dom, comb_psu, comb_t = _calibrated_totals(x, domain, n_domains, structure, steps)
    else:
        inside = domain >= 0
        # Rows outside every domain go to an extra domain ``n_domains``, dropped below.
        dom = np.where(inside, domain, n_domains)
        key = dom * n_psus + structure.psu
        keys, comb_t = _keyed_sums(key, np.where(inside, x, 0.0), (n_domains + 1) * n_psus)
        comb_dom, comb_psu = np.divmod(keys, n_psus)
        keep = comb_dom < n_domains
        comb_dom, comb_psu, comb_t = comb_dom[keep], comb_psu[keep], comb_t[keep]
    return _stratified_sum(comb_dom, comb_psu, comb_t, n_domains, structure)


def _calibrated_totals(x: np.ndarray, domain: np.ndarray, n_domains: int,
                       structure: Structure, steps: Sequence[Any]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSU totals of every (domain, PSU) pair after residualizing on the calibration."""
    from . import calibration

    n = len(x)
    inside = domain >= 0
    dense = np.zeros((n, n_domains))
    dense[np.flatnonzero(inside), domain[inside]] = x[inside]
    dense = np.asarray(calibration.residualize(dense, steps), dtype=float)
    indicator = sparse.csr_matrix(
        (np.ones(n), (structure.psu, np.arange(n))), shape=(structure.n_psus, n))
    totals = np.asarray(indicator @ dense)  # (P, n_domains)
    comb_psu, comb_dom = np.divmod(np.arange(totals.size), n_domains)
    return comb_dom, comb_psu, totals.ravel()


def _stratified_sum(comb_dom: np.ndarray, comb_psu: np.ndarray, comb_t: np.ndarray,
                    n_domains: int, structure: Structure) -> np.ndarray:
    """Sum the centred, scaled PSU totals within strata, then over strata per domain."""
    n_strata = structure.n_strata
    h = structure.psu_stratum[comb_psu]
    group = comb_dom * n_strata + h
    groups, inverse = np.unique(group, return_inverse=True)
    inverse = inverse.ravel()
    g_dom, g_h = np.divmod(groups, n_strata)
    n_h = structure.n_psu[g_h]
    count = np.bincount(inverse, minlength=len(groups))
    mean = np.bincount(inverse, weights=comb_t, minlength=len(groups)) / n_h
    # Two-pass sum of squares; the n_h - count absent PSUs have total 0 (R's padding).
    ss = (np.bincount(inverse, weights=(comb_t - mean[inverse]) ** 2, minlength=len(groups))
          + (n_h - count) * mean**2)
    f = structure.f[g_h]
    lonely = n_h == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = np.where(lonely, 0.0, f * n_h / (n_h - 1) * ss)
    if lonely.any():
        policy = structure.lonely_psu
        if policy == "fail":
            label = structure.stratum_labels[int(g_h[np.argmax(lonely)])]
            raise DesignError(
                f"stratum {label!r} has only one PSU; choose lonely_psu='adjust', "
                "'remove' or 'certainty' (R: options(survey.lonely.psu=...))")
        if policy == "adjust":
            # Not centred: deviation of the single PSU total from the (zero) mean.
            sq = np.bincount(inverse, weights=comb_t**2, minlength=len(groups))
            contrib = np.where(lonely, f * sq, contrib)
    # R returns exactly 0 for a stratum sampled completely (f < 1e-7).
    contrib = np.where(f < 1e-7, 0.0, contrib)
    return np.bincount(g_dom, weights=contrib, minlength=n_domains)
