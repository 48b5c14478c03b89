"""Sample-size advice from variance components fitted to the monthly village panel.

The same 5-6 villages of a township are surveyed every month (new households), so a
township's quarter estimate varies through three sources, which
:func:`variance_components` estimates pooled over townships: the persistent
between-village variance (more months do not average it away), the village x month
variance beyond it, and the variance within a village-month. :func:`sample_size_advice`
turns them into the villages per township and households per village and month that
decide a rate against its target within a quarter; unlike the one design effect of
:func:`pingan_eval.survey.planning.sample_size`, it shows when more households cannot
help.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: a second to import, same functions

from pingan_eval.errors import EstimationError
from pingan_eval.survey.pooling import stack_months

__all__ = ["ADVICE_COLUMNS", "COMPONENT_COLUMNS", "quarter_variance", "sample_size_advice",
           "variance_components"]

#: Columns of :func:`variance_components`, in order.
COMPONENT_COLUMNS: tuple[str, ...] = (
    "variable", "p", "sigma2_village", "sigma2_village_month", "sigma2_within",
    "deff_weights", "townships", "villages", "months", "respondents")
#: Columns of :func:`sample_size_advice`, in order.
ADVICE_COLUMNS: tuple[str, ...] = (
    "variable", "target", "truth", "months", "villages", "df", "households", "feasible",
    "respondents", "se", "power", "se_floor", "power_limit")


def variance_components(frames: Mapping[str, pd.DataFrame] | pd.DataFrame,
                        variable: str | Sequence[str], *, strata: str = "township",
                        psu: str = "village", weights: str = "weight") -> pd.DataFrame:
    """Between-village, village x month and within variance of 0/1 indicators.

    Parameters
    ----------
    frames : mapping of str to DataFrame, or DataFrame
        Respondents per month ``YYYY-MM`` (or one stacked frame with a ``period``
        column), as :func:`pingan_eval.survey.pooling.pooled_estimates` takes them.
    variable : str or sequence of str
        0/1 indicator column(s); NaN ("don't know") rows are left out.
    strata, psu, weights : str
        Township (stratum), village (PSU, the same village every month; nested in its
        township) and weight columns.

    Returns
    -------
    pandas.DataFrame
        One row per variable, in the order given, columns :data:`COMPONENT_COLUMNS`:
        ``variable``; ``p`` (unweighted share of 1s); ``sigma2_village``,
        ``sigma2_village_month``, ``sigma2_within`` (variances on the proportion scale,
        each truncated at 0); ``deff_weights`` (Kish); and the numbers of
        ``townships``, ``villages``, ``months`` and ``respondents`` used (int).

    Raises
    ------
    EstimationError
        A missing column, a value other than 0/1/NaN, a missing township or village, a
        weight not finite and > 0; one month only (no ``sigma2_village_month``), one
        village per township, one respondent per village-month.

    Notes
    -----
    Model, for respondent ``i`` of village ``j`` in township ``h`` and month ``t``::

        y_hjti = mu_ht + a_hj + b_hjt + e_hjti,
        Var a = sigma2_village, Var b = sigma2_village_month, Var e = sigma2_within,

    with fixed township x month means ``mu_ht`` (a township-wide shock of a month is part
    of the township's true rate, not sampling error). The estimator is Henderson's
    method III (fitting constants), exact for unequal numbers of respondents and for
    missing village-months. With the reductions in sums of squares, per township,
    computed from the village-month counts ``n_c`` and totals ``s_c`` (``N``
    respondents, ``C`` village-months, ``N_t`` respondents of month ``t``)::

        SSW = sum y^2 - sum_c s_c^2/n_c            E = (N - C) s2_w
        Q_b = sum_c s_c^2/n_c - R(month + village)  E = (C - r2) s2_w + (N - k2) s2_vm
        Q_a = R(month + village) - sum_t S_t^2/N_t  E = (r2 - T) s2_w + (k2 - k1) s2_vm
                                                      + (N - k1) s2_v

    ``R(month + village)`` is the regression sum of squares of the additive fit, of rank
    ``r2`` (``T + J - 1`` when every village has a month in common), and ``k2`` the trace
    of its hat matrix weighted by ``n_c`` (``tr(P Z_b Z_b')``); ``k1 = sum_c n_c^2 /
    N_t(c)``. Summed over townships, the three equations are solved from the top (with
    the untruncated values, so each estimate is unbiased) and then truncated at 0. When
    every village-month has ``n`` respondents (``J`` villages, ``T`` months) they are the
    ANOVA estimators, equal to REML when positive: ``E[Q_b]/((J-1)(T-1)) = s2_w + n
    s2_vm`` and ``E[Q_a]/(J-1) = s2_w + n s2_vm + n T s2_v``.

    The components are unweighted; what the weights add to the variance of a weighted
    mean is ``deff_weights``, Kish's ``n sum w^2 / (sum w)^2`` over a township's
    respondents of all months, averaged over townships weighted by respondents.

    References
    ----------
    Henderson, C. R. (1953). Estimation of variance and covariance components.
    *Biometrics* 9(2), 226-252.

    Searle, S. R., Casella, G., McCulloch, C. E. (1992). *Variance Components*,
    chapter 5. Wiley.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> village = np.repeat(np.arange(40), 60)       # 8 townships x 5 villages x 60
    >>> prob = 0.9 + 0.05 * np.tile([-1, 1], 20)     # truth: 0.0025, 0, 0.0875
    >>> frames = {m: pd.DataFrame({"township": village // 5, "village": village,
    ...                            "weight": 1.0, "y": rng.binomial(1, prob[village])})
    ...           for m in ("2026-01", "2026-02", "2026-03")}
    >>> comp = variance_components(frames, "y")
    >>> comp[["sigma2_village", "sigma2_village_month", "sigma2_within"]].round(4)
       sigma2_village  sigma2_village_month  sigma2_within
    0          0.0026                0.0002         0.0876
    >>> comp[["villages", "months", "respondents"]]
       villages  months  respondents
    0        40       3         7200
    """
    names = [variable] if isinstance(variable, str) else list(variable)
    if not names:
        raise EstimationError("variance_components: no variable given")
    stacked = stack_months(frames)
    missing = [c for c in (strata, psu, weights, *names) if c not in stacked.columns]
    if missing:
        raise EstimationError(f"variance_components: missing column(s) {missing}")
    for col in (strata, psu):
        if stacked[col].isna().any():
            raise EstimationError(f"variance_components: column {col!r} has missing values")
    w = pd.to_numeric(stacked[weights], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not (np.isfinite(w) & (w > 0)).all():
        raise EstimationError(f"variance_components: weight column {weights!r} must be "
                              "finite and > 0")
    h = pd.factorize(stacked[strata], sort=True)[0]
    # a village is nested in its township (R: nest = TRUE), whatever its name
    v = pd.factorize(stacked[psu])[0]
    j = np.unique(h * (v.max() + 1) + v, return_inverse=True)[1].ravel()
    t = pd.factorize(stacked["period"], sort=True)[0]
    rows = []
    for name in names:
        y = pd.to_numeric(stacked[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = (np.isnan(y) & stacked[name].notna().to_numpy()) | ~(
            np.isnan(y) | (y == 0) | (y == 1))
        if bad.any():
            row = int(np.argmax(bad))
            raise EstimationError(f"variance_components: column {name!r} must be 0/1 (or "
                                  f"NaN); row {row} has {stacked[name].iloc[row]!r}")
        keep = ~np.isnan(y)
        rows.append((name, *_fit(name, y[keep], h[keep], j[keep], t[keep], w[keep])))
    out = pd.DataFrame(rows, columns=list(COMPONENT_COLUMNS))
    return out.astype({c: "int64" for c in ("townships", "villages", "months", "respondents")})


def _fit(name: str, y: np.ndarray, h: np.ndarray, j: np.ndarray, t: np.ndarray,
         w: np.ndarray) -> tuple:
    """p, the three components, Kish deff and counts of one variable (rows without NaN)."""
    if len(y) == 0:
        raise EstimationError(f"variance_components: column {name!r} has no 0/1 value")
    n_t_all = t.max() + 1
    cell, row_cell = np.unique(j * n_t_all + t, return_inverse=True)
    cell_n, cell_s = np.bincount(row_cell.ravel()), np.bincount(row_cell.ravel(), y)
    cell_j, cell_t = np.divmod(cell, n_t_all)
    town_of = np.zeros(j.max() + 1, dtype=np.int64)
    town_of[j] = h
    cell_h = town_of[cell_j]
    # sums[k] and coef[k] of (s2_w, s2_vm, s2_v) for SSW, Q_b, Q_a
    sums, coef = np.zeros(3), np.zeros((3, 3))
    for town in np.unique(cell_h):
        mine = cell_h == town
        n, s = cell_n[mine].astype(float), cell_s[mine]
        jj = np.unique(cell_j[mine], return_inverse=True)[1].ravel()
        tt = np.unique(cell_t[mine], return_inverse=True)[1].ravel()
        big_n, n_cells, n_months = n.sum(), len(n), tt.max() + 1
        q_full = np.sum(s * s / n)
        n_t, s_t = np.bincount(tt, n), np.bincount(tt, s)
        q1, k1 = np.sum(s_t**2 / n_t), np.sum(n**2 / n_t[tt])
        m2 = np.concatenate([np.eye(n_months)[tt], np.eye(jj.max() + 1)[jj]], axis=1)
        info = m2.T @ (n[:, None] * m2)
        g = np.linalg.pinv(info, hermitian=True)
        r2 = np.linalg.matrix_rank(info, hermitian=True)
        ms = m2.T @ s
        q2, k2 = ms @ g @ ms, np.sum(n**2 * np.einsum("ci,ij,cj->c", m2, g, m2))
        sums += (np.sum(s) - q_full, q_full - q2, q2 - q1)  # sum y^2 = sum y for 0/1
        coef += [[big_n - n_cells, 0, 0], [n_cells - r2, big_n - k2, 0],
                 [r2 - n_months, k2 - k1, big_n - k1]]
    months = len(np.unique(t))
    checks = ((0, "sigma2_within: every village-month has one respondent"),
              (2, "sigma2_village: needs two villages or more in a township"),
              (1, "sigma2_village_month: needs two months or more of two villages or more "
                  f"in a township (got {months} month(s))"))
    for k, what in checks:
        if coef[k, k] <= 1e-9 * len(y):
            raise EstimationError(f"variance_components: column {name!r}: cannot estimate {what}")
    s2_w = sums[0] / coef[0, 0]
    s2_vm = (sums[1] - coef[1, 0] * s2_w) / coef[1, 1]
    s2_v = (sums[2] - coef[2, 0] * s2_w - coef[2, 1] * s2_vm) / coef[2, 2]
    size, tot, tot2 = np.bincount(h), np.bincount(h, w), np.bincount(h, w * w)
    have = size > 0
    deff = float(np.sum(size[have] ** 2 * tot2[have] / tot[have] ** 2) / len(y))
    return (float(np.mean(y)), max(s2_v, 0.0), max(s2_vm, 0.0), max(s2_w, 0.0), deff,
            len(np.unique(h)), len(np.unique(j)), len(np.unique(t)), len(y))


def quarter_variance(components: pd.DataFrame, villages: int, households: int, *,
                     months: int = 3, truth: float | None = None,
                     between: str = "fixed") -> pd.Series:
    """Variance of a township's estimate pooled over ``months`` months, per variable.

    ``V = s2_v / m + s2_vm / (M m) + deff_w s2_w / (M m n)`` (``m`` villages, ``n``
    households per village and month, ``M`` months), rescaled to ``truth`` as in
    :func:`sample_size_advice`; a Series named ``"variance"``, indexed by variable.

    Examples
    --------
    >>> comp = pd.DataFrame({"variable": ["y"], "p": [0.9], "sigma2_village": [0.001],
    ...     "sigma2_village_month": [0.003], "sigma2_within": [0.08], "deff_weights": [1.0]})
    >>> round(float(quarter_variance(comp, 5, 20).iloc[0]), 8)  # 0.0002 + 0.0002 + 0.08/300
    0.00066667
    """
    comp = _checked(components)
    var = [f + b / households for f, b in (_floor_per_n(c, villages, months, truth, between)
                                           for c in comp.itertuples())]
    return pd.Series(var, index=pd.Index(comp["variable"], name="variable"), name="variance")


def _floor_per_n(c, m: int, months: int, truth: float | None, between: str
                 ) -> tuple[float, float]:
    """The between-village variance and the 1/n coefficient of the within one."""
    pq = c.p * (1 - c.p)
    ratio = 1.0 if truth is None else truth * (1 - truth) / pq
    scale = ratio**2 if between == "logit" else 1.0
    floor = scale * (c.sigma2_village / m + c.sigma2_village_month / (months * m))
    return floor, c.deff_weights * c.sigma2_within * ratio / (months * m)


def sample_size_advice(components: pd.DataFrame, *, target: float = 0.95,
                       truths: Iterable[float] = (0.93, 0.97), months: int = 3,
                       level: float = 0.95, power: float = 0.8,
                       villages: Iterable[int] = range(4, 16), max_households: int = 200,
                       method: str = "logit", between: str = "fixed") -> pd.DataFrame:
    """Villages per township and households per village that decide a quarter's rate.

    Parameters
    ----------
    components : pandas.DataFrame
        As :func:`variance_components` returns it (needs ``variable, p,
        sigma2_village, sigma2_village_month, sigma2_within, deff_weights``).
    target, truths : float, iterable of float
        The target rate and the true rates to decide against it, in (0, 1).
    months : int, default 3
        Months pooled (a quarter).
    level, power : float
        The two-sided ``level`` interval must exclude the target, on the side of the
        truth, with probability ``power`` when the rate is the truth.
    villages : iterable of int, default 4..15
        Villages per township to consider (>= 2).
    max_households : int, default 200
        Most households per village and month considered.
    method : {"logit", "wald"}, default "logit"
        Interval of the verdict: ``"logit"`` as :func:`pooled_estimates` gives it by
        default, ``"wald"`` the symmetric one.
    between : {"fixed", "logit"}, default "fixed"
        The village components at the truth: as fitted, or rescaled by
        ``(pi (1 - pi) / (p (1 - p)))^2`` (a constant variance on the logit scale, as in
        a random-intercept logistic model).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ADVICE_COLUMNS`, one row per variable, truth and number of
        villages, sorted by variable (in the order of ``components``), truth, villages:
        ``variable, target, truth, months, villages``; ``df`` (= villages - 1);
        ``households`` per village and month (Int64, NA when none up to
        ``max_households`` decides); ``feasible`` (bool); ``respondents`` per township
        and quarter (villages x households x months, Int64, NA when infeasible); ``se``
        of the quarter estimate at that size (NaN when infeasible); ``power`` at that
        size (at ``max_households`` when infeasible); ``se_floor`` and ``power_limit``,
        the se and power with unlimited households (``power_limit < power``: only more
        villages help).

    Raises
    ------
    EstimationError
        A missing column, a negative or non-finite component, ``p`` not in (0, 1), a
        probability outside (0, 1), ``truth == target``, ``months < 1``, fewer than two
        villages, ``max_households < 1``, an unknown method or ``between``.

    Notes
    -----
    With ``m`` villages per township, ``n`` households per village and month, ``M``
    months and ``pi`` the truth, the pooled township estimate (each village one PSU
    over the months, as :func:`~pingan_eval.survey.pooling.pooled_estimates`) has
    variance (:func:`quarter_variance`)::

        s(pi)^2 = s2_v / m + s2_vm / (M m) + deff_w * s2_w(pi) / (M m n),
        s2_w(x) = sigma2_within * x (1 - x) / (p (1 - p)),

    the within variance rescaled from the fitted rate ``p`` to ``x`` (binomial minus
    the village parts). The village components are kept as fitted (``between="fixed"``)
    or rescaled to ``pi`` (``"logit"``); between villages the rate spreads less near
    100 %, so ``"fixed"`` errs on the safe side for a truth further from 50 % than
    ``p``.

    The se of a township has ``m - 1`` df (villages minus the stratum) whatever ``n``
    and ``M``, and the interval uses ``t_a = t_{(1+level)/2, m-1}``, as
    :func:`pooled_estimates`. The power is computed, not approximated by adding a
    quantile ``t_{power, m-1}``: with ``phat ~ N(pi, s(pi)^2)`` and ``se^2 = s(phat)^2
    U / (m-1)``, ``U ~ chi2_{m-1}`` (the se of an estimate ``x`` has the within part of
    ``x``), the interval excludes the target iff ``se < smax(phat)``, so::

        power = E[ chi2cdf_{m-1}((m-1) smax(phat)^2 / s(phat)^2) ],
        wald:  smax(x) = sign(pi - target) (x - target) / t_a,
        logit: smax(x) = sign(pi - target) (logit x - logit target) x (1 - x) / t_a,

    the expectation by 64-point Gauss-Hermite quadrature; ``n`` is the smallest one
    with at least ``power``. For the Wald interval with a constant se this is the
    noncentral-t power of the one-sided test. The shortcut ``(t_a + t_{power}) s <=
    delta`` misses what matters near 100 %: the se falls as the estimate rises, and the
    logit interval reaches further towards 0.5, so an estimate of 97 % decides only when
    ``se <= 0.0155 / t_a`` (Wald: 0.02 / t_a): 97 % is harder to decide than its smaller
    binomial variance suggests, 93 % easier (0.0233 / t_a). Simulating 6 and 10
    villages, the shortcut's power ranged over 0.75-0.87, this calculation's 0.79-0.82.

    Examples
    --------
    >>> comp = pd.DataFrame({"variable": ["awareness"], "p": [0.95],
    ...     "sigma2_village": [0.0002], "sigma2_village_month": [0.0001],
    ...     "sigma2_within": [0.045], "deff_weights": [1.2]})
    >>> adv = sample_size_advice(comp, villages=[5, 8, 12])
    >>> adv[["truth", "villages", "households", "respondents", "power"]].round(3)
       truth  villages  households  respondents  power
    0   0.93         5        <NA>         <NA>  0.546
    1   0.93         8         184         4416  0.800
    2   0.93        12          64         2304  0.802
    3   0.97         5        <NA>         <NA>  0.279
    4   0.97         8        <NA>         <NA>  0.620
    5   0.97        12          89         3204  0.801
    """
    comp = _checked(components)
    for what, value, valid in (("method", method, ("logit", "wald")),
                               ("between", between, ("fixed", "logit"))):
        if value not in valid:
            raise EstimationError(f"sample_size_advice: unknown {what} {value!r}; valid: "
                                  f"{', '.join(valid)}")
    truths, villages = sorted(set(map(float, truths))), sorted(set(map(int, villages)))
    for what, value in [("target", target), ("level", level), ("power", power),
                        *(("truth", x) for x in truths)]:
        if not 0.0 < value < 1.0:
            raise EstimationError(f"sample_size_advice: {what} must be in (0, 1), got {value!r}")
    if not truths or target in truths:
        raise EstimationError(f"sample_size_advice: truths {truths} must differ from the "
                              f"target {target!r}")
    if months < 1 or max_households < 1 or not villages or villages[0] < 2:
        raise EstimationError("sample_size_advice: need months >= 1, max_households >= 1 and "
                              f"villages >= 2 (got {months}, {max_households}, {villages})")
    n = np.append(np.arange(1.0, max_households + 1), np.inf)  # inf: the limit
    rows = []
    for c in comp.itertuples(index=False):
        for truth, m in itertools.product(truths, villages):
            floor, per_n = _floor_per_n(c, m, months, truth, between)
            pw = _power(truth, target, floor, per_n / (truth * (1 - truth)) / n, m - 1, level,
                        method)
            ok = np.flatnonzero(pw[:-1] >= power)
            k = int(ok[0]) if len(ok) else None
            hh = None if k is None else k + 1
            rows.append((c.variable, target, truth, months, m, m - 1, hh, hh is not None,
                         None if hh is None else m * hh * months,
                         math.nan if hh is None else math.sqrt(floor + per_n / hh),
                         pw[-2 if hh is None else k], math.sqrt(floor), pw[-1]))
    out = pd.DataFrame(rows, columns=list(ADVICE_COLUMNS))
    return out.astype({"households": "Int64", "respondents": "Int64", "feasible": bool,
                       "months": "int64", "villages": "int64", "df": "int64"})


_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(64)


def _power(truth: float, target: float, floor: float, per_n: np.ndarray, df: int,
           level: float, method: str) -> np.ndarray:
    """Power for each entry of ``per_n`` (within coefficient of ``x (1 - x)``)."""
    sign = 1.0 if truth > target else -1.0
    t_a = special.stdtrit(df, (1 + level) / 2)
    s2 = lambda x: floor + per_n[:, None] * x * (1 - x)  # noqa: E731
    # Gauss-Hermite nodes of phat ~ N(truth, s(truth)^2), kept inside (0, 1)
    x = np.clip(truth + np.sqrt(2 * s2(np.array(truth))) * _NODES[None, :], 1e-9, 1 - 1e-9)
    # the largest se whose interval around x still excludes the target
    gap = x - target if method == "wald" else (
        (special.logit(x) - special.logit(target)) * x * (1 - x))
    smax = sign * gap / t_a
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(smax > 0, df * smax**2 / s2(x), 0.0)
    prob = special.chdtr(df, np.nan_to_num(q, nan=0.0, posinf=np.inf))
    return prob @ _WEIGHTS / math.sqrt(math.pi)


def _checked(components: pd.DataFrame) -> pd.DataFrame:
    """The needed columns of a components table, after checking their values."""
    need = ["variable", "p", "sigma2_village", "sigma2_village_month", "sigma2_within",
            "deff_weights"]
    missing = [c for c in need if c not in components.columns]
    if missing:
        raise EstimationError(f"sample_size_advice: components lack column(s) {missing}")
    comp = components[need].reset_index(drop=True)
    values = comp[need[1:]].to_numpy(dtype=float)
    bad = ~(np.isfinite(values).all(axis=1) & (values >= 0).all(axis=1)
            & (values[:, 0] > 0) & (values[:, 0] < 1))
    if bad.any():
        name = comp["variable"].iloc[int(np.argmax(bad))]
        raise EstimationError(f"sample_size_advice: components of {name!r} must be finite "
                              "and >= 0, with p in (0, 1)")
    return comp
