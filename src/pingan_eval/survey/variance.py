"""The one variance engine: Taylor-linearized variance of domain estimates.

Estimators build linearized (influence) values, sum them per (domain, PSU) pair
(:class:`DomainPairs`, :func:`pair_sums`) and hand the PSU totals to
:func:`domain_variance`; a calibrated design hands the row values to
:func:`calibrated_variance`, which residualizes them first. Both end in one function,
the only place where PSU totals are summed within strata: the counterpart of R's
``survey:::svyrecvar`` for a one-stage (ultimate cluster) design
``svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~N_psu, nest=TRUE)``.

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
integer pair and group codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from pingan_eval.errors import DesignError

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


@dataclass(frozen=True, eq=False)
class DomainPairs:
    """The (domain, PSU) pairs of a domain partition, built once per ``by``.

    A pair exists where the PSU has at least one row in the domain (rows whose variable
    is missing included; any superset of the PSUs with data gives the same variance,
    since absent PSUs have zero totals either way).

    Attributes
    ----------
    n_domains : int
        Number of domains ``k``.
    row_pair : ndarray of int64, shape (n,)
        Pair index of each row; rows in no domain get indices ``>= n_pairs``.
    pair_domain, pair_psu : ndarray of int64, shape (n_pairs,)
        Domain and PSU of each pair.
    pair_group : ndarray of int64, shape (n_pairs,)
        Index of the pair's (domain, stratum) group.
    group_domain, group_stratum : ndarray of int64, shape (n_groups,)
        Domain and stratum of each group.
    """

    n_domains: int
    row_pair: np.ndarray
    pair_domain: np.ndarray
    pair_psu: np.ndarray
    pair_group: np.ndarray
    group_domain: np.ndarray
    group_stratum: np.ndarray

    @classmethod
    def build(cls, row_domain: np.ndarray, n_domains: int,
              structure: Structure) -> DomainPairs:
        """Index the pairs of ``row_domain`` (domain code per row, ``n_domains`` = none)."""
        n_psus = structure.n_psus
        key = row_domain * n_psus + structure.psu
        size = (n_domains + 1) * n_psus
        if size <= max(4 * len(key), 1 << 20):
            present = np.flatnonzero(np.bincount(key, minlength=size))
            lookup = np.empty(size, dtype=np.int64)
            lookup[present] = np.arange(len(present))
            row_pair = lookup[key]
        else:
            present, row_pair = np.unique(key, return_inverse=True)
            row_pair = row_pair.ravel()
        pair_domain, pair_psu = np.divmod(present, n_psus)
        inside = pair_domain < n_domains     # sorted keys: the outside block comes last
        pair_domain, pair_psu = pair_domain[inside], pair_psu[inside]
        group_domain, group_stratum, pair_group = _groups(pair_domain, pair_psu, structure)
        return cls(n_domains, row_pair, pair_domain, pair_psu, pair_group,
                   group_domain, group_stratum)

    @classmethod
    def of_strata(cls, structure: Structure) -> DomainPairs:
        """The partition into strata: each PSU is one pair (PSUs are nested in strata)."""
        strata = np.arange(structure.n_strata)
        return cls(structure.n_strata, structure.psu, structure.psu_stratum,
                   np.arange(structure.n_psus), structure.psu_stratum, strata, strata)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_domain)

    def degrees_of_freedom(self) -> np.ndarray:
        """Per domain: PSUs minus strata with a row in the domain (R's ``degf``)."""
        return (np.bincount(self.pair_domain, minlength=self.n_domains)
                - np.bincount(self.group_domain, minlength=self.n_domains))


def _groups(pair_domain: np.ndarray, pair_psu: np.ndarray, structure: Structure
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(domain, stratum) groups of pairs: group domain, group stratum, group per pair."""
    n_strata = structure.n_strata
    group = pair_domain * n_strata + structure.psu_stratum[pair_psu]
    groups, pair_group = np.unique(group, return_inverse=True)
    group_domain, group_stratum = np.divmod(groups, n_strata)
    return group_domain, group_stratum, pair_group.ravel()


def pair_sums(pairs: DomainPairs, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (one per row) over the rows of each (domain, PSU) pair."""
    return np.bincount(pairs.row_pair, weights=values, minlength=pairs.n_pairs + 1
                       )[:pairs.n_pairs]


def domain_variance(totals: np.ndarray, pairs: DomainPairs, structure: Structure,
                    present: np.ndarray | None = None) -> np.ndarray:
    """Variance of the domain estimates from the PSU totals of their influence values.

    Parameters
    ----------
    totals : ndarray of float, shape (n_pairs,)
        Sum over the rows of each (domain, PSU) pair of the weighted influence values
        (R: ``rowsum(x * pweights / psum, cluster)`` for the domain's column).
    pairs : DomainPairs
        The domain partition.
    structure : Structure
        The design's strata, PSUs and fpc.
    present : ndarray of bool, shape (n_pairs,), optional
        Pairs with at least one row whose variable is not missing. A lonely PSU under
        ``"fail"`` is an error only where its stratum has such a row in the domain (as
        in R). None: every pair.

    Returns
    -------
    ndarray of float, shape (n_domains,)
        The variance of each domain estimate.

    Raises
    ------
    DesignError
        A stratum with one PSU contributes and ``lonely_psu`` is ``"fail"``.
    """
    n_groups = len(pairs.group_domain)
    if present is None:
        group_present = np.ones(n_groups, dtype=bool)
    else:
        group_present = np.bincount(pairs.pair_group, weights=present,
                                    minlength=n_groups) > 0
    return _stratified_sum(totals, pairs.pair_group, pairs.group_domain,
                           pairs.group_stratum, group_present, pairs.n_domains, structure)


def calibrated_variance(x: np.ndarray, pairs: DomainPairs, structure: Structure,
                        steps: Sequence[Any]) -> np.ndarray:
    """Variance of the domain estimates of a calibrated (raked) design.

    ``x`` (shape (n,)) holds each row's weighted influence value for its domain, 0 for
    rows in no domain or with a missing value. The ``(n, n_domains)`` influence matrix,
    sparse, is residualized by ``pingan_eval.survey.calibration.residualize`` before PSU totals
    are taken, where R's ``svyrecvar`` applies ``postStrata``. As in R (whose subsets of a
    calibrated design keep every row), every PSU of every stratum counts in every domain.
    """
    k = pairs.n_domains
    n_strata = structure.n_strata
    totals = _calibrated_totals(x, pairs, structure, steps)   # (P, k), sparse
    # Only the non-zero PSU totals are summed: a (domain, stratum) group's zero totals
    # are its absent PSUs (_stratified_sum pads them), and a group with none is zero.
    # A township domain's residuals stay in its township, so this is P, not P k.
    pair_group = totals.col * n_strata + structure.psu_stratum[totals.row]
    if structure.lonely_psu == "fail" and (structure.n_psu == 1).any():
        groups = np.arange(k * n_strata)  # every group, so that the lonely stratum fails
    else:  # only the groups with a non-zero total (k x strata can be a million)
        groups, pair_group = np.unique(pair_group, return_inverse=True)
    group_domain, group_stratum = np.divmod(groups, n_strata)
    present = np.ones(len(groups), dtype=bool)
    return _stratified_sum(totals.data, pair_group, group_domain, group_stratum,
                           present, k, structure)


def _calibrated_totals(x: np.ndarray, pairs: DomainPairs, structure: Structure,
                       steps: Sequence[Any]) -> sparse.coo_matrix:
    """PSU totals, shape (P, n_domains), of the influence matrix residualized on the
    calibration: rows outside a domain get non-zero residuals, so every PSU counts."""
    from pingan_eval.survey import calibration

    n = len(x)
    # One column per domain, sparse: a domain's values stay in the rows its margin
    # cells reach (its township), so n x n_domains is never filled in.
    rows = np.flatnonzero((pairs.row_pair < pairs.n_pairs) & (x != 0))
    infl = sparse.csc_matrix((x[rows], (rows, pairs.pair_domain[pairs.row_pair[rows]])),
                             shape=(n, pairs.n_domains))
    resid = calibration.residualize(infl, steps)
    indicator = sparse.csr_matrix(
        (np.ones(n), (structure.psu, np.arange(n))), shape=(structure.n_psus, n))
    totals = (indicator @ resid).tocoo()
    totals.sum_duplicates()
    return totals


def _stratified_sum(totals: np.ndarray, pair_group: np.ndarray, group_domain: np.ndarray,
                    group_stratum: np.ndarray, present: np.ndarray, n_domains: int,
                    structure: Structure) -> np.ndarray:
    """Sum the centred, scaled PSU totals within strata, then over strata per domain.

    ``present`` marks the (domain, stratum) groups with data, for the lonely-PSU check.
    """
    n_groups = len(group_domain)
    n_h = structure.n_psu[group_stratum]
    count = np.bincount(pair_group, minlength=n_groups)
    mean = np.bincount(pair_group, weights=totals, minlength=n_groups) / n_h
    # Two-pass sum of squares; the n_h - count absent PSUs have total 0 (R's padding).
    ss = (np.bincount(pair_group, weights=(totals - mean[pair_group]) ** 2,
                      minlength=n_groups)
          + (n_h - count) * mean**2)
    f = structure.f[group_stratum]
    lonely = n_h == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = np.where(lonely, 0.0, f * n_h / (n_h - 1) * ss)
    if lonely.any():
        policy = structure.lonely_psu
        failing = lonely & present
        if policy == "fail" and failing.any():
            label = structure.stratum_labels[int(group_stratum[np.argmax(failing)])]
            raise DesignError(
                f"stratum {label!r} has only one PSU; choose lonely_psu='adjust', "
                "'remove' or 'certainty' (R: options(survey.lonely.psu=...))")
        if policy == "adjust":
            # Not centred: deviation of the single PSU total from the (zero) mean.
            sq = np.bincount(pair_group, weights=totals**2, minlength=n_groups)
            contrib = np.where(lonely, f * sq, contrib)
    # R returns exactly 0 for a stratum sampled completely (f < 1e-7).
    contrib = np.where(f < 1e-7, 0.0, contrib)
    return np.bincount(group_domain, weights=contrib, minlength=n_domains)
