"""A stratified, clustered, weighted survey design and its domain estimators.

:class:`SurveyDesign` describes the design (strata, PSUs, weights, fpc, lonely-PSU
policy) and estimates means and proportions by domain, exactly as R's ``survey``
package does for ``svydesign(ids=~psu, strata=~stratum, weights=~w, fpc=~N_psu,
nest=TRUE)``. Variances come from the one engine in :mod:`pingan_eval.survey.variance`; the
interval formulas live in :mod:`pingan_eval.survey.intervals`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval.errors import DesignError, EstimationError
from pingan_eval.survey import intervals
from pingan_eval.survey.variance import (
    LONELY_PSU_POLICIES,
    DomainPairs,
    Structure,
    calibrated_variance,
    domain_variance,
    pair_sums,
)

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
                _check_column(data, name, role)
        frame = data.copy()
        w = (np.ones(len(frame)) if weights is None
             else _positive_weights(frame[weights], weights))
        structure = _build_structure(frame, strata, psu, fpc, lonely_psu)
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
            n_kish = self._kish_n(est)
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
        _check_column(self._data, variable, "variable")
        y = _numeric(self._data[variable], variable)
        valid = ~np.isnan(y)
        if np.isinf(y).any():
            i = int(np.argmax(np.isinf(y)))
            raise EstimationError(f"column {variable!r} has an infinite value in row "
                                  f"{_show(self._data.index[i])}")
        y0 = np.where(valid, y, 0.0)
        # y (1 - y) is 0 exactly for 0 and 1 (and for the zeros put in for missing values).
        if binary and np.any(y0 * (1.0 - y0)):
            bad = (y0 != 0) & (y0 != 1)
            i = int(np.argmax(bad))
            raise EstimationError(
                f"column {variable!r} must be 0/1 for a proportion; row "
                f"{_show(self._data.index[i])} has {_show(y[i])} ({int(bad.sum())} such rows)")
        domains = self._domains(by)
        pairs = domains.pairs
        k = len(domains.keys)
        w = self._weights
        # Sums per (domain, PSU) pair, then per domain: no pass over rows per domain.
        wv = np.where(valid, w, 0.0)
        wy = wv * y0
        pair_n = pair_sums(pairs, valid)
        pair_w = pair_sums(pairs, wv)
        pair_wy = pair_sums(pairs, wy)
        n = np.bincount(pairs.pair_domain, weights=pair_n, minlength=k).astype(np.int64)
        if not n.any():
            raise EstimationError(
                f"no non-missing value of {variable!r} in the requested domain(s)"
                + (f" of {_as_list(by)}" if by is not None else ""))
        wsum = np.bincount(pairs.pair_domain, weights=pair_w, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.bincount(pairs.pair_domain, weights=pair_wy, minlength=k) / wsum
            # Residuals are 0 outside the domains and where the variable is missing.
            resid = None if binary and not self._steps else (
                y0 - np.append(est, 0.0)[domains.row_domain])
            if binary:
                # sum w (y - est)^2 = W est (1 - est) exactly for 0/1 values, and the
                # pair totals of w (y - est) follow from the pair sums.
                ss = wsum * est * (1.0 - est)
                pair_wr = pair_wy - est[pairs.pair_domain] * pair_w
            else:
                # Two passes, robust wherever the values of y lie.
                wr = wv * resid
                pair_wr = pair_sums(pairs, wr)
                ss = np.bincount(pairs.pair_domain, weights=pair_sums(pairs, wr * resid),
                                 minlength=k)
            if self._steps:
                x = wv * resid * np.append(1.0 / wsum, 0.0)[domains.row_domain]
                var = calibrated_variance(x, pairs, self._structure, self._steps)
            else:
                # PSU totals of w (y - est) / W, the influence values of the domain mean.
                totals = pair_wr / wsum[pairs.pair_domain]
                var = domain_variance(totals, pairs, self._structure, present=pair_n > 0)
            s2 = n / (n - 1) * ss / wsum
            vsrs = s2 * (wsum - n) / (wsum * n)
            deff = np.where(wsum < n, np.nan, var / vsrs)
        empty = n == 0
        return {"keys": domains.keys, "estimate": est,
                "se": np.where(empty, np.nan, np.sqrt(var)), "var": var,
                "df": domains.df, "n": n, "deff": deff, "n_rows": domains.n_rows,
                "wv": wv, "pairs": pairs, "wsum": wsum}

    def _kish_n(self, est: dict[str, Any]) -> np.ndarray:
        """Kish's effective sample size ``(sum w)^2 / sum w^2`` per domain."""
        pairs = est["pairs"]
        w2 = np.bincount(pairs.pair_domain, weights=pair_sums(pairs, est["wv"] * self._weights),
                         minlength=pairs.n_domains)
        with np.errstate(invalid="ignore", divide="ignore"):
            return est["wsum"] ** 2 / w2

    def _domains(self, by: str | Sequence[str] | None) -> _Domains:
        """Domain of each row, sorted domain keys, (domain, PSU) pairs, df, rows.

        Cached per ``by``: none of it depends on the variable.
        """
        cols = tuple(_as_list(by)) if by is not None else ()
        if cols in self._cache:
            return self._cache[cols]
        for col in cols:
            _check_column(self._data, col, "by")
        n = len(self._data)
        if not cols:
            domain = np.zeros(n, dtype=np.int64)
            keys = pd.DataFrame(index=pd.RangeIndex(1))
        else:
            # The strata column was factorized (sorted) when the design was built.
            known = {self._columns["strata"]: (self._structure.stratum,
                                               pd.Index(list(self._structure.stratum_labels)))}
            domain, keys = _factorize_rows(self._data, list(cols), known)
        k = len(keys)
        if k == 0:
            raise EstimationError(f"no row has a value in every by column {list(cols)}")
        # A row of weight 0 (a zero-weighted subset, as R's design[i, ]) is in no domain.
        positive = self._weights > 0
        row_domain = np.where((domain >= 0) & positive, domain, k)
        if cols == (self._columns["strata"],) and positive.all():
            pairs = DomainPairs.of_strata(self._structure)   # nothing to index
        else:
            pairs = DomainPairs.build(row_domain, k, self._structure)
        # R's beta interval uses nrow() of the domain design; a calibrated design keeps
        # every row in its subsets (weights set to zero instead).
        n_rows = (np.full(k, n) if self._steps
                  else np.bincount(row_domain, minlength=k + 1)[:k])
        result = _Domains(keys=keys, row_domain=row_domain, pairs=pairs,
                          df=pairs.degrees_of_freedom(), n_rows=n_rows)
        self._cache[cols] = result
        return result


@dataclass(frozen=True, eq=False)
class _Domains:
    """A domain partition of the design's rows (see :meth:`SurveyDesign._domains`)."""

    keys: pd.DataFrame        # one row per domain, sorted; the by columns
    row_domain: np.ndarray    # domain code per row, len(keys) for rows in no domain
    pairs: DomainPairs        # (domain, PSU) pairs for the variance engine
    df: np.ndarray            # R's degf() per domain
    n_rows: np.ndarray        # R's nrow() of the domain design


def _table(est: dict[str, Any], low: np.ndarray, high: np.ndarray) -> pd.DataFrame:
    """The result frame: by columns, then exactly :data:`RESULT_COLUMNS`."""
    out = est["keys"].copy()
    values = {"estimate": est["estimate"], "se": est["se"], "ci_low": low, "ci_high": high,
              "df": est["df"].astype(np.int64), "n": est["n"].astype(np.int64),
              "deff": est["deff"]}
    for name in RESULT_COLUMNS:
        out[name] = values[name]
    return out.reset_index(drop=True)


def _as_list(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _show(value: Any) -> str:
    """repr() of a value as the user wrote it (numpy scalars as Python ones)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_column(data: pd.DataFrame, name: Hashable, role: str) -> None:
    if name not in data.columns:
        shown = ", ".join(repr(c) for c in list(data.columns)[:20])
        raise DesignError(f"unknown {role} column {name!r}; the data has: {shown}")


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    """The column as float64 with NaN for missing; raise naming a non-numeric value."""
    kind = pd.api.types
    if kind.is_bool_dtype(series) or kind.is_integer_dtype(series) or kind.is_float_dtype(series):
        return series.to_numpy(dtype=float, na_value=np.nan)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise EstimationError(f"column {name!r} is not numeric: row {_show(series.index[i])} "
                              f"has {_show(series.iloc[i])}")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _positive_weights(series: pd.Series, name: str) -> np.ndarray:
    try:
        w = _numeric(series, name)
    except EstimationError as exc:
        raise DesignError(f"weights: {exc}") from None
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DesignError(
            f"weight column {name!r} must be finite and > 0: row {_show(series.index[i])} has "
            f"{_show(series.iloc[i])} ({int(bad.sum())} bad rows)")
    return w


def _codes(series: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted factor codes of a column with no missing value."""
    codes, uniques = pd.factorize(series, sort=True)
    if (codes < 0).any():
        i = int(np.argmax(codes < 0))
        raise DesignError(f"column {name!r} has a missing value in row {_show(series.index[i])}")
    return codes.astype(np.int64), np.asarray(uniques)


def _build_structure(frame: pd.DataFrame, strata: str | None, psu: str | None,
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
        pop = _numeric(series, name)
    except EstimationError as exc:
        raise DesignError(f"fpc: {exc}") from None
    bad = ~(pop > 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DesignError(f"fpc column {name!r} must be > 0 and not missing: row "
                          f"{_show(series.index[i])} has {_show(series.iloc[i])}")
    n_strata = len(n_psu)
    low = np.full(n_strata, np.inf)
    high = np.full(n_strata, -np.inf)
    np.minimum.at(low, stratum, pop)
    np.maximum.at(high, stratum, pop)
    varies = low != high
    if varies.any():
        h = int(np.argmax(varies))
        raise DesignError(f"fpc column {name!r} varies within stratum {_show(labels[h])} "
                          f"({low[h]:g} to {high[h]:g})")
    short = low < n_psu
    if short.any():
        h = int(np.argmax(short))
        raise DesignError(f"fpc column {name!r}: stratum {_show(labels[h])} has {n_psu[h]} sampled "
                          f"PSUs but a population of only {low[h]:g}")
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(low), 1.0, (low - n_psu) / low)


def _factorize_rows(data: pd.DataFrame, cols: list[str],
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
