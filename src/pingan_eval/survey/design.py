"""A stratified, clustered, weighted survey design and its domain estimators.

:class:`SurveyDesign` describes the design (strata, PSUs, weights, fpc, lonely-PSU
policy) and estimates means and proportions by domain, exactly as R's ``survey``
package does for ``svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~N_psu,
nest=TRUE)``. Variances come from the one engine in :mod:`pingan_eval.survey.variance`; the
interval formulas live in :mod:`pingan_eval.survey.intervals`. The inputs are checked
and a ``by`` made a domain partition in :mod:`pingan_eval.survey._design_inputs`; the
domain sums, means and variances are :mod:`pingan_eval.survey._domain_means`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval.errors import DesignError
from pingan_eval.survey import intervals
from pingan_eval.survey._design_inputs import (
    Domains,
    build_structure,
    by_columns,
    check_column,
    domain_partition,
    positive_weights,
    variable_values,
)
from pingan_eval.survey._domain_means import domain_means, kish_n
from pingan_eval.survey.variance import LONELY_PSU_POLICIES, Structure

#: The estimate columns of every result table, after the ``by`` columns.
RESULT_COLUMNS: tuple[str, ...] = ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff")


class SurveyDesign:
    """A one-stage (ultimate cluster) stratified cluster design with weights.

    The object is frozen: estimators return new tables, :meth:`rake` returns a new
    design. The input frame is copied, never modified.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    strata : str or None
        Stratum column; None for an unstratified design.
    psu : str or None
        PSU (cluster) column, nested within strata; None makes each row its own PSU.
    weights : str or None
        Sampling-weight column (finite, > 0, not missing); None gives every row weight 1.
    fpc : str or None
        Column holding the number of PSUs in the stratum's population (constant within
        a stratum, at least the number sampled); None samples PSUs with replacement.
    lonely_psu : {"fail", "adjust", "remove", "certainty"}
        What a stratum with a single sampled PSU contributes to a variance, as R's
        ``options(survey.lonely.psu = ...)``: ``"fail"`` raises naming the stratum,
        ``"adjust"`` centres the PSU at the overall mean, ``"remove"`` and
        ``"certainty"`` add no variance.

    Raises
    ------
    DesignError
        Not a DataFrame, an unknown column, a missing stratum/PSU value, weights that are
        missing, zero, negative or infinite, an fpc that is missing, varies within a
        stratum or is below the sampled PSUs, an unknown ``lonely_psu``.

    Notes
    -----
    R equivalent::

        options(survey.lonely.psu = lonely_psu)
        svydesign(ids = ~psu, strata = ~strata, weights = ~weights, fpc = ~fpc,
                  nest = TRUE, data = data)

    Estimates in a domain keep the whole design (rows outside the domain get weight
    zero), so strata, PSUs and degrees of freedom stay right (R: ``svyby``).

    Examples
    --------
    >>> df = pd.DataFrame({"township": ["A"] * 4 + ["B"] * 4,
    ...                    "village": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"],
    ...                    "weight": [10.0, 10, 12, 12, 8, 8, 9, 9],
    ...                    "secure": [1, 1, 0, 1, 1, 1, 1, 0]})
    >>> d = SurveyDesign(df, strata="township", psu="village", weights="weight")
    >>> d.proportion("secure", method="wald").round(4)
       estimate      se  ci_low  ci_high  df  n   deff
    0    0.7308  0.1771 -0.0314   1.4929   2  8  1.244
    """

    __slots__ = ("_data", "_weights", "_structure", "_columns", "_steps", "_cache")

    _data: pd.DataFrame
    _weights: np.ndarray
    _structure: Structure
    _columns: dict[str, str | None]
    _steps: tuple
    _cache: dict

    def __init__(self, data: pd.DataFrame, strata: str | None = None, psu: str | None = None,
                 weights: str | None = None, fpc: str | None = None,
                 lonely_psu: str = "fail") -> None:
        if not isinstance(data, pd.DataFrame):
            raise DesignError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        if lonely_psu not in LONELY_PSU_POLICIES:
            valid = ", ".join(repr(p) for p in LONELY_PSU_POLICIES)
            raise DesignError(f"unknown lonely_psu {lonely_psu!r}; valid values: {valid}")
        columns = {"strata": strata, "psu": psu, "weights": weights, "fpc": fpc}
        for role, name in columns.items():
            if name is not None:
                check_column(data, name, role)
        frame = data.copy()
        w = (np.ones(len(frame)) if weights is None
             else positive_weights(frame[weights], weights))
        structure = build_structure(frame, strata, psu, fpc, lonely_psu)
        self._set(_data=frame, _weights=w, _structure=structure, _columns=columns,
                  _steps=(), _cache={})

    # -- frozen object plumbing ---------------------------------------------------------
    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SurveyDesign is frozen; use rake() or a new SurveyDesign")

    def _evolve(self, **changes: Any) -> SurveyDesign:
        """A copy with some private attributes replaced (data and structure are shared).

        Accepts ``weights`` (array, input order) and ``steps`` (calibration steps).
        """
        new = object.__new__(SurveyDesign)
        weights = changes.pop("weights", self._weights)
        steps = changes.pop("steps", self._steps)
        if changes:
            raise TypeError(f"unknown design changes: {sorted(changes)}")
        weights = np.array(weights, dtype=float)
        if weights.shape != self._weights.shape:
            raise DesignError(f"need {len(self._weights)} weights, got {weights.shape}")
        new._set(_data=self._data, _weights=weights, _structure=self._structure,
                 _columns=self._columns, _steps=tuple(steps), _cache={})
        return new

    def __repr__(self) -> str:
        s = self._structure
        cols = ", ".join(f"{k}={v!r}" for k, v in self._columns.items() if v is not None)
        cal = f", calibrated in {len(self._steps)} steps" if self._steps else ""
        return (f"SurveyDesign({len(self._data)} rows, {s.n_strata} strata, {s.n_psus} PSUs"
                f"{', ' + cols if cols else ''}, lonely_psu={s.lonely_psu!r}{cal})")

    # -- public attributes ----------------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """The weights, one per input row, in input order (a read-only array)."""
        view = self._weights.view()
        view.flags.writeable = False
        return view

    @property
    def lonely_psu(self) -> str:
        """The lonely-PSU policy."""
        return self._structure.lonely_psu

    @property
    def calibrated(self) -> bool:
        """True when the weights come from :meth:`rake` (variances account for it)."""
        return bool(self._steps)

    def rake(self, margins: Mapping[str, Any], *, epsilon: float = 1.0,
             max_iter: int = 10) -> SurveyDesign:
        """Rake the weights to population margins; returns a new design.

        Parameters
        ----------
        margins : mapping
            Population margins, in the form :func:`pingan_eval.survey.calibration.rake` takes.
        epsilon, max_iter : float, int
            Convergence tolerance and iteration cap, as R's ``rake(control=...)``.

        Returns
        -------
        SurveyDesign
            Same data, strata, PSUs, fpc and lonely-PSU policy, calibrated weights; its
            variances are residualized on the margins (R: ``svyrecvar`` with
            ``postStrata``).

        Notes
        -----
        R equivalent: ``rake(design, sample.margins, population.margins,
        control = list(maxit = max_iter, epsilon = epsilon))``.
        """
        from pingan_eval.survey import calibration

        result = calibration.rake(self._data, self.weights, margins,
                                  epsilon=epsilon, max_iter=max_iter)
        return self._evolve(weights=result.weights, steps=self._steps + tuple(result.steps))

    # -- estimators -------------------------------------------------------------------------
    def mean(self, variable: str, by: str | Sequence[str] | None = None,
             level: float = 0.95) -> pd.DataFrame:
        """Weighted mean of ``variable`` in each domain, with a t confidence interval.

        Parameters
        ----------
        variable : str
            Numeric column; missing values (NaN/None) leave the row out of the estimate
            but not out of the design.
        by : str, list of str or None
            Domain column(s); None for the whole population. Rows with a missing ``by``
            value belong to no domain (they stay in the design).
        level : float
            Confidence level, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            One row per domain sorted by the ``by`` values: the ``by`` columns, then
            ``estimate`` (weighted mean), ``se``, ``ci_low``, ``ci_high`` (t interval with
            ``df`` degrees of freedom), ``df`` (PSUs minus strata with a row in the
            domain), ``n`` (non-missing values in the domain), ``deff`` (design effect
            against simple random sampling without replacement).

        Raises
        ------
        DesignError
            Unknown column; a lonely PSU under ``lonely_psu="fail"``.
        EstimationError
            Non-numeric or infinite values, a bad level, no non-missing value in any
            domain.

        Notes
        -----
        ``estimate = sum(w y) / sum(w)`` over the domain's non-missing rows; the variance
        comes from the influence values ``(y - estimate) w / sum(w)``
        (:func:`pingan_eval.survey.variance.domain_variance`).
        ``deff = V / (s2 (W - n) / (W n))`` with ``W = sum(w)`` and
        ``s2 = n / (n - 1) * sum(w (y - estimate)^2) / W``, NaN when ``W < n``.

        R equivalent, per domain ``D`` (a subset of the design)::

            m <- svymean(~y, D, na.rm = TRUE, deff = TRUE)
            confint(m, df = degf(D), level = level)

        Examples
        --------
        >>> df = pd.DataFrame({"township": ["A", "A", "A", "B", "B", "B"],
        ...                    "village": ["a1", "a2", "a3", "b1", "b2", "b3"],
        ...                    "score": [80.0, 60, 70, 90, None, 100]})
        >>> d = SurveyDesign(df, strata="township", psu="village")
        >>> d.mean("score", by="township")[["township", "estimate", "se", "df", "n"]]
          township  estimate        se  df  n
        0        A      70.0  5.773503   2  3
        1        B      95.0  4.330127   2  2
        """
        level = intervals.check_level(level)
        est = self._estimate(variable, by, binary=False)
        low, high = intervals.wald(est["estimate"], est["se"], est["df"], level)
        return _table(est, low, high)

    def proportion(self, variable: str, by: str | Sequence[str] | None = None,
                   method: str = "logit", level: float = 0.95) -> pd.DataFrame:
        """Weighted proportion of a 0/1 ``variable`` in each domain, with a CI.

        Parameters
        ----------
        variable : str
            0/1 (or boolean) column; missing values leave the row out of the estimate
            but not out of the design.
        by : str, list of str or None
            Domain column(s); None for the whole population.
        method : {"logit", "beta", "wald", "wilson", "clopper-pearson", "jeffreys"}
            Confidence interval; see Notes.
        level : float
            Confidence level, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns, then ``estimate, se, ci_low, ci_high, df, n, deff`` as
            in :meth:`mean`, one row per domain sorted by the ``by`` values.

        Raises
        ------
        DesignError
            Unknown column; a lonely PSU under ``lonely_psu="fail"``.
        EstimationError
            A value other than 0/1, an unknown method (the message lists the valid
            ones), a bad level, no non-missing value in any domain.

        Notes
        -----
        The estimate, ``se``, ``df``, ``n`` and ``deff`` are those of :meth:`mean`. With
        ``p`` the estimate, ``t`` the ``(1 + level)/2`` quantile of Student's t with the
        domain's ``df``:

        * ``"wald"``: ``p -/+ t se``, not clipped (R: ``svyciprop(method = "mean")``).
        * ``"logit"``: ``expit(logit(p) -/+ t se / (p (1 - p)))``
          (R: ``svyciprop(method = "logit")``).
        * ``"beta"``: Korn and Graubard (1998) with R's degrees-of-freedom correction,
          ``n_eff = p (1 - p) / se^2 * (t_{a/2}(m - 1) / t_{a/2}(df))^2`` where ``m`` is
          the domain's number of rows (missing values included),
          ``[B(a/2; n_eff p, n_eff (1-p) + 1), B(1-a/2; n_eff p + 1, n_eff (1-p))]``
          (R: ``svyciprop(method = "beta")``).
        * ``"wilson"``, ``"clopper-pearson"``, ``"jeffreys"``: the binomial interval of
          that name with ``n`` replaced by Kish's effective sample size
          ``n_kish = (sum w)^2 / sum(w^2)`` over the domain's non-missing rows and
          ``x = p n_kish`` successes (Wilson uses the normal quantile).

        Where ``p`` is exactly 0 or 1 the design variance is zero; there ``"logit"`` and
        ``"beta"`` return the Clopper-Pearson interval on the domain's unweighted ``n``
        (R returns a degenerate or NaN interval). Where ``df = 0`` all bounds are NaN.

        R equivalent (value for value for logit, beta and wald)::

            svyby(~y, ~by, design, svyciprop, method = "logit", level = level,
                  vartype = c("se", "ci"), na.rm = TRUE)

        References
        ----------
        Korn EL, Graubard BI (1998). Confidence intervals for proportions with small
        expected number of positive counts estimated from survey data. Survey
        Methodology 24:193-201.
        Brown LD, Cai TT, DasGupta A (2001). Interval estimation for a binomial
        proportion. Statistical Science 16:101-133.
        Kish L (1965). Survey Sampling. Wiley.

        Examples
        --------
        >>> df = pd.DataFrame({"township": ["A"] * 6 + ["B"] * 6,
        ...                    "village": list("aabbcc") + list("ddeeff"),
        ...                    "weight": [10.0, 12, 11, 9, 10, 14, 8, 8, 9, 7, 8, 6],
        ...                    "secure": [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1]})
        >>> d = SurveyDesign(df, strata="township", psu="village", weights="weight")
        >>> d.proportion("secure", by="township", method="logit").round(4)
          township  estimate      se  ci_low  ci_high  df  n    deff
        0        A    0.8636  0.1426  0.0334   0.9991   2  6  0.9498
        1        B    1.0000  0.0000  0.5407   1.0000   2  6     NaN

        Township B answered 1 throughout: its interval is Clopper-Pearson on n = 6.
        """
        intervals.check_method(method)
        level = intervals.check_level(level)
        est = self._estimate(variable, by, binary=True)
        p, se, df, n = est["estimate"], est["se"], est["df"], est["n"]
        if method == "wald":
            low, high = intervals.wald(p, se, df, level)
        elif method == "logit":
            low, high = intervals.logit(p, se, df, level)
        elif method == "beta":
            low, high = intervals.korn_graubard(p, se**2, df, est["n_rows"], level)
        else:
            n_kish = kish_n(est, self._weights)
            if method == "wilson":
                low, high = intervals.wilson(p, n_kish, level)
            elif method == "clopper-pearson":
                low, high = intervals.clopper_pearson(p * n_kish, n_kish, level)
            else:
                low, high = intervals.jeffreys(p * n_kish, n_kish, level)
        if method in ("logit", "beta"):
            edge = ((p == 0) | (p == 1)) & (df > 0)
            cp_low, cp_high = intervals.clopper_pearson(p * n, n.astype(float), level)
            low, high = np.where(edge, cp_low, low), np.where(edge, cp_high, high)
        no_df = df <= 0
        low, high = np.where(no_df, np.nan, low), np.where(no_df, np.nan, high)
        return _table(est, low, high)

    # -- internals ------------------------------------------------------------------------
    def _estimate(self, variable: str, by: str | Sequence[str] | None,
                  binary: bool) -> dict[str, Any]:
        """Domain means, variances and sizes: everything but the interval."""
        valid, y0 = variable_values(self._data, variable, binary)
        return domain_means(valid, y0, self._weights, self._domains(by), self._structure,
                            self._steps, binary=binary, variable=variable, by=by)

    def _domains(self, by: str | Sequence[str] | None) -> Domains:
        """Domain of each row, sorted domain keys, (domain, PSU) pairs, df, rows.

        Cached per ``by``: none of it depends on the variable.
        """
        cols = tuple(by_columns(by)) if by is not None else ()
        if cols not in self._cache:
            self._cache[cols] = domain_partition(self._data, cols, self._columns["strata"],
                                                 self._structure, self._weights,
                                                 calibrated=bool(self._steps))
        return self._cache[cols]


def _table(est: dict[str, Any], low: np.ndarray, high: np.ndarray) -> pd.DataFrame:
    """The result frame: by columns, then exactly :data:`RESULT_COLUMNS`."""
    out = est["keys"].copy()
    values = {"estimate": est["estimate"], "se": est["se"], "ci_low": low, "ci_high": high,
              "df": est["df"].astype(np.int64), "n": est["n"].astype(np.int64),
              "deff": est["deff"]}
    for name in RESULT_COLUMNS:
        out[name] = values[name]
    return out.reset_index(drop=True)
