"""Batched REML fit, break test, EBLUP and second-order MSE of the township-by-month model.

Private helper of :mod:`pingan_eval.survey.township_month`, which documents the model.
Every area is one block of a block-diagonal covariance, stored padded to a common
calendar axis of ``T`` months: arrays ``(m, T)`` and ``(m, T, T)``. A month an area does
not have is a padding row with ``y = 0``, ``X = 0``, a unit diagonal in the marginal
covariance and no covariance with the observed rows; ``W`` (the inverse of the marginal
covariance with its padding rows and columns zeroed) makes every sum run over the
observed months only.

An area with a break has up to two fixed effects of its own (``local``: its level, and a
shift from the break month on). They are profiled out area by area: with ``L`` the local
design and ``K = L'WL``, ``W~ = W - WL K^-1 L'W`` takes the place of ``W`` in the REML
formulas (the REML projection of ``[X L]`` is that of ``X`` under ``W~``) and
``sum log|K|`` joins the REML log-determinant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

#: Bound on |rho|: at rho = 1 the AR(1) effect is a second township effect.
RHO_MAX = 0.999
_TOL = 1e-9
_MAX_ITER = 100


@dataclass(frozen=True)
class Panel:
    """One indicator's direct estimates, padded to the calendar axis.

    ``y`` (m, T) model-scale direct estimates; ``mask`` (m, T) observed; ``V`` (m, T, T)
    sampling covariance (zero outside observed pairs); ``X`` (m, T, p) common fixed-effect
    design and ``local`` (m, T, 2) the areas' own level and shift columns (zero on padding
    rows and for areas without a break), or None.
    """

    y: np.ndarray
    mask: np.ndarray
    V: np.ndarray
    X: np.ndarray
    local: np.ndarray | None = None

    def up_to(self, months: int, period_effects: bool) -> Panel:
        """The panel of the first `months` calendar months and the areas seen in them."""
        keep = self.mask[:, :months].any(axis=1)
        X = self.X[keep, :months, :months] if period_effects else self.X[keep, :months]
        X = X[:, :, X.any(axis=(0, 1))]
        return Panel(self.y[keep, :months], self.mask[keep, :months],
                     self.V[keep, :months, :months], X)


@dataclass(frozen=True)
class Fit:
    """Variance components at convergence and what the EBLUP needs of them."""

    theta: np.ndarray  # sigma2_u, sigma2_v, rho
    info_inv: np.ndarray  # inverse Fisher information, zero rows for bound parameters
    beta: np.ndarray
    beta_cov: np.ndarray
    loglik: float
    iterations: int
    converged: bool


def _gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over areas and months of a' b: (m, T, p), (m, T, q) -> (p, q)."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def _mv(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Blockwise A x: (m, T, T), (m, T) -> (m, T)."""
    return (A @ x[:, :, None])[:, :, 0]


def _lower_inverse(L: np.ndarray) -> np.ndarray:
    """Inverses of lower-triangular blocks (m, T, T) by forward substitution, row by row
    (faster than a batched general inverse for T <= 12)."""
    out = np.zeros_like(L)
    scale = 1.0 / np.diagonal(L, axis1=1, axis2=2)
    for j in range(L.shape[1]):
        row = -(L[:, j:j + 1, :j] @ out[:, :j, :])[:, 0]
        row[:, j] += 1.0
        out[:, j, :] = row * scale[:, j, None]
    return out


def _matrices(theta: np.ndarray, T: int) -> tuple[np.ndarray, list[np.ndarray], dict]:
    """G (T, T), its derivatives C_k in (sigma2_u, sigma2_v, rho) and the non-zero second ones."""
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    su, sv, rho = theta
    R = rho ** lag
    dR = np.where(lag > 0, lag * rho ** np.maximum(lag - 1, 0), 0.0)
    d2R = np.where(lag > 1, lag * (lag - 1) * rho ** np.maximum(lag - 2, 0), 0.0)
    J = np.ones((T, T))
    return su * J + sv * R, [J, R, sv * dR], {(1, 2): dR, (2, 2): sv * d2R}


class _State:
    """Marginal inverse, GLS fixed effects and REML log-likelihood at theta."""

    def __init__(self, panel: Panel, theta: np.ndarray) -> None:
        T = panel.mask.shape[1]
        self.theta = theta
        self.G, self.C, self.C2 = _matrices(theta, T)
        outer = panel.mask[:, :, None] & panel.mask[:, None, :]
        sigma = np.where(outer, self.G + panel.V, 0.0)
        sigma[:, np.arange(T), np.arange(T)] += ~panel.mask
        chol = np.linalg.cholesky(sigma)
        inv_chol = _lower_inverse(chol)
        self.W_raw = self.W = (inv_chol.transpose(0, 2, 1) @ inv_chol) * outer
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum()
        if panel.local is not None:
            self.WL = self.W_raw @ panel.local
            K = panel.local.transpose(0, 2, 1) @ self.WL
            K += np.eye(2) * ~panel.local.any(axis=1)[:, None, :]  # unused columns
            self.K_inv = np.linalg.inv(K)
            self.W = self.W_raw - self.WL @ self.K_inv @ self.WL.transpose(0, 2, 1)
            logdet += np.linalg.slogdet(K)[1].sum()
        self.W_sum = self.W.sum(axis=0)
        self.WX = self.W @ panel.X
        mx = _gram(panel.X, self.WX)
        self.mx_inv = np.linalg.inv(mx)
        self.beta = self.mx_inv @ _gram(self.WX, panel.y[:, :, None])[:, 0]
        self.resid = (panel.y - panel.X @ self.beta) * panel.mask
        self.r = _mv(self.W, self.resid)  # P y
        logdet += np.linalg.slogdet(mx)[1]
        self.loglik = -0.5 * (logdet + float(np.sum(self.resid * self.r)))

    def _trace(self, c: np.ndarray) -> float:
        """tr(P C), P the REML projection."""
        return float(np.sum(self.W_sum * c) - np.sum(self.mx_inv * _gram(self.WX, c @ self.WX)))

    def derivatives(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score, Fisher information and Hessian of the REML log-likelihood.

        With P the REML projection and D_k = dSigma/dtheta_k: score_k = (y'P D_k P y -
        tr(P D_k)) / 2, info_kj = tr(P D_k P D_j) / 2, hessian_kj = info_kj -
        y'P D_k P D_j P y + (y'P D_kj P y - tr(P D_kj)) / 2.
        """
        WC = [self.W @ c for c in self.C]
        WCt = [wc.transpose(0, 2, 1).copy() for wc in WC]
        CWX = [c @ self.WX for c in self.C]
        B = [_gram(self.WX, cwx) for cwx in CWX]
        q = [self.r @ c for c in self.C]  # D_k P y
        Pq = [_mv(self.W, qk) - self.WX @ (self.mx_inv @ _gram(self.WX, qk[:, :, None])[:, 0])
              for qk in q]
        WCWX = [self.W @ cwx for cwx in CWX]
        score, info, hess = np.zeros(3), np.zeros((3, 3)), np.zeros((3, 3))
        for k in range(3):
            trace = np.sum(self.W_sum * self.C[k]) - np.sum(self.mx_inv * B[k])
            score[k] = 0.5 * (float(np.sum(q[k] * self.r)) - trace)
            for j in range(k + 1):
                val = (np.vdot(WC[k], WCt[j]) - 2.0 * np.sum(self.mx_inv * _gram(CWX[k], WCWX[j]))
                       + np.sum((self.mx_inv @ B[k]) * (B[j] @ self.mx_inv)))
                info[k, j] = info[j, k] = 0.5 * val
                second = self.C2.get((j, k))
                extra = 0.0 if second is None else 0.5 * (
                    np.sum((self.r @ second) * self.r) - self._trace(second))
                hess[k, j] = hess[j, k] = info[k, j] - float(np.sum(q[k] * Pq[j])) + extra
        return score, info, hess


def _free(theta: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Parameters not held at a bound: a variance at 0 with a score pointing below it is held,
    and so is rho while sigma2_v is 0 (it has no information there)."""
    free = np.ones(3, dtype=bool)
    free[:2] = (theta[:2] > 0) | (score[:2] > 0)
    free[2] = theta[1] > 0 and not (abs(theta[2]) >= RHO_MAX and theta[2] * score[2] > 0)
    return free


def _project(theta: np.ndarray) -> np.ndarray:
    return np.array([max(theta[0], 0.0), max(theta[1], 0.0),
                     float(np.clip(theta[2], -RHO_MAX, RHO_MAX))])


def _step(theta: np.ndarray, score: np.ndarray, info: np.ndarray,
          hess: np.ndarray) -> np.ndarray:
    """Newton step on the free parameters; Fisher scoring where the Hessian is not negative
    definite."""
    free = _free(theta, score)
    step = np.zeros(3)
    if free.any():
        idx = np.ix_(free, free)
        try:
            np.linalg.cholesky(-hess[idx])
            step[free] = np.linalg.solve(-hess[idx], score[free])
        except np.linalg.LinAlgError:
            step[free] = np.linalg.lstsq(info[idx], score[free], rcond=1e-12)[0]
    return step


def fit(panel: Panel, start: np.ndarray) -> Fit:
    """Projected Newton (Fisher scoring away from a maximum) with step halving on the REML
    log-likelihood.

    Stops when the full step moves no variance by more than ``1e-9`` times (itself + 1 %
    of the mean sampling variance) and rho by more than ``1e-9``.
    """
    vbar = float(np.mean(np.diagonal(panel.V, axis1=1, axis2=2)[panel.mask]))
    scale = np.array([1e-2 * vbar, 1e-2 * vbar, 1.0])
    state = _State(panel, _project(start))
    score, info, hess = state.derivatives()
    converged, iteration = False, 0
    while iteration < _MAX_ITER:
        iteration += 1
        step = _step(state.theta, score, info, hess)
        full = _project(state.theta + step) - state.theta
        if np.all(np.abs(full) <= _TOL * (np.abs(state.theta) * [1, 1, 0] + scale)):
            converged = True
            break
        for _ in range(40):
            trial = _State(panel, _project(state.theta + step))
            if trial.loglik >= state.loglik - 1e-13 * abs(state.loglik):
                state = trial
                break
            step = step / 2.0
        else:
            break
        score, info, hess = state.derivatives()
    free = _free(state.theta, score)
    info_inv = np.zeros((3, 3))
    if free.any():
        info_inv[np.ix_(free, free)] = np.linalg.pinv(info[np.ix_(free, free)])
    return Fit(state.theta, info_inv, state.beta, state.mx_inv, state.loglik, iteration,
               converged)


def start_values(panel: Panel) -> np.ndarray:
    """Moment start: the residual variance above the sampling variance, split in two."""
    obs = panel.mask
    vbar = float(np.mean(np.diagonal(panel.V, axis1=1, axis2=2)[obs]))
    excess = max(float(np.var(panel.y[obs])) - vbar, 0.1 * vbar)
    return np.array([excess / 2.0, excess / 2.0, 0.5])


def breaks(panel: Panel, theta: np.ndarray, critical: float) -> tuple[Panel, np.ndarray]:
    """The panel with a level and shift of its own for every area whose break test exceeds
    `critical`, and each area's break month (-1: none).

    For a candidate month s (observed), z_s = x_s'W e / sqrt(x_s'W x_s) with
    x_s = 1{t >= s} and e = y - X beta: the GLS score test of a level shift from s on
    (s = the first month: of the area's level). The area's break is the s of largest
    |z_s|; it gets its own level, and a shift from s on when s is not its first month.
    """
    state = _State(panel, theta)
    num = np.cumsum(state.r[:, ::-1], axis=1)[:, ::-1]
    tail = np.cumsum(np.cumsum(state.W[:, ::-1, ::-1], axis=1), axis=2)[:, ::-1, ::-1]
    den = np.diagonal(tail, axis1=1, axis2=2)
    z = np.where(panel.mask & (den > 0), num / np.sqrt(np.where(den > 0, den, 1.0)), 0.0)
    at = np.abs(z).argmax(axis=1)
    hit = np.abs(z).max(axis=1) > critical
    first = panel.mask.argmax(axis=1)
    month = np.arange(panel.mask.shape[1])
    local = np.zeros((*panel.mask.shape, 2))
    local[:, :, 0] = panel.mask * hit[:, None]
    local[:, :, 1] = local[:, :, 0] * ((month >= at[:, None]) & (at > first)[:, None])
    return dataclasses.replace(panel, local=local if hit.any() else None), np.where(hit, at, -1)


@dataclass(frozen=True)
class Prediction:
    """EBLUP on the model scale and its MSE terms, (m, T) each."""

    estimate: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    own_weight: np.ndarray  # weight of the month's own direct estimate

    @property
    def mse(self) -> np.ndarray:
        """Second-order MSE estimate ``g1 + g2 + 2 g3`` (Datta and Lahiri 2000, REML)."""
        return self.g1 + self.g2 + 2.0 * self.g3


def predict(panel: Panel, result: Fit) -> Prediction:
    """EBLUP ``Z gamma + G W (y - Z gamma)``, Z = [X L], with g1, g2, g3 at the fit.

    g1 = diag(G - G W G); g2 = diag(E M^-1 E') + diag(D K^-1 D') with D = (I - GW) L,
    E = (I - GW)(X - L K^-1 L'W X) (the partitioned inverse of Z'WZ); g3 =
    sum_kl I^kl diag(U_k W U_l'), U_k = V W C_k, as for known fixed effects.
    """
    state = _State(panel, result.theta)
    outer = panel.mask[:, :, None] & panel.mask[:, None, :]
    G = np.where(outer, state.G, 0.0)
    GW = G @ state.W_raw
    hat = G @ state.W
    fixed = panel.X @ state.beta
    Xt = panel.X
    g2 = 0.0
    if panel.local is not None:
        LK = panel.local @ state.K_inv
        proj = LK @ state.WL.transpose(0, 2, 1)  # L K^-1 L'W
        fixed = fixed + _mv(proj, state.resid)
        hat = hat + proj
        Xt = panel.X - proj @ panel.X
        D = panel.local - GW @ panel.local
        g2 = np.sum((D @ state.K_inv) * D, axis=2)
    g1 = np.diagonal(G, axis1=1, axis2=2) - np.sum(GW * G, axis=2)
    E = Xt - GW @ Xt
    g2 = g2 + np.sum((E @ state.mx_inv) * E, axis=2)
    VW = panel.V @ state.W_raw
    U = [VW @ c for c in state.C]  # d(G W)/d theta_k = V W C_k W
    UW = [u @ state.W_raw for u in U]
    g3 = np.zeros_like(g1)
    for k in range(3):
        for j in range(3):
            if result.info_inv[k, j] != 0.0:
                g3 += result.info_inv[k, j] * np.sum(UW[k] * U[j], axis=2)
    estimate = fixed + _mv(G, state.r)
    return Prediction(estimate, g1, g2, g3, np.diagonal(hat, axis1=1, axis2=2))
