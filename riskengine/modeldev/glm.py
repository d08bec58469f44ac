"""A small logistic regression: offset, lower bounds and a Gaussian prior per coefficient.

``logit P(y = 1) = offset + intercept + X @ coef``, fitted by maximising the penalised
log-likelihood

    sum_i w_i [y_i eta_i - log(1 + exp(eta_i))]  -  sum_j (coef_j - m_j)^2 / (2 s_j^2)

with ``coef_j >= lower_j`` (``lower_j = 0`` for a monotone term of the overlay). The
Gaussian prior ``N(m_j, s_j^2)`` is the shrinkage towards a committee weight: with
few events the data barely move the coefficient off ``m_j``; with many the likelihood
dominates (the posterior mode of a Bayesian logistic regression with a normal prior;
Gelman et al., *Bayesian Data Analysis*, 3rd ed., ch. 16; ``s_j = inf`` is no prior).
The intercept has no prior and no bound.

Standard errors are the square roots of the diagonal of the inverse Hessian of the
penalised negative log-likelihood at the optimum (the Laplace approximation of the
posterior), and the 95 % intervals are Wald intervals ``coef +- 1.96 se`` (a column of
zeros without a prior is not identified: its coefficient stays 0, its SE is inf). A coefficient
held on its bound keeps its Wald interval (centred on the bound); the caller decides
what a term on its bound means.

Optimiser: scipy's L-BFGS-B with the analytic gradient on columns scaled to unit
standard deviation (a positive scale keeps the bounds at 0), then Newton steps on the
coefficients off their bounds until the step is below 1e-10 (so a free coefficient is
the exact optimum, e.g. the log odds ratio of a 2x2 table). Pure: numpy and scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

__all__ = ["GlmFit", "fit_logistic", "Z95"]

FloatArray = npt.NDArray[np.float64]
Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal


@dataclass(frozen=True)
class GlmFit:
    """A fitted logistic regression.

    Attributes
    ----------
    intercept : float
        0.0 when fitted without an intercept.
    coef, se, ci_low, ci_high : ndarray of shape (p,)
        Coefficients (log odds per unit of the column), their standard errors and
        Wald 95 % bounds.
    intercept_se : float
        NaN without an intercept.
    n_obs : int
        Rows fitted (the sum of the weights when weights are given, rounded).
    n_events : int
        Rows with ``y = 1`` (weighted likewise).
    loglik : float
        The (weighted) log-likelihood of the data at the estimate, without the prior.
    penalised_loglik : float
        ``loglik`` minus the prior's quadratic penalty.
    at_bound : ndarray of bool, shape (p,)
        Coefficients held on their lower bound.
    converged : bool
    """

    intercept: float
    coef: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    intercept_se: float
    n_obs: int
    n_events: int
    loglik: float
    penalised_loglik: float
    at_bound: npt.NDArray[np.bool_]
    converged: bool

    def linear_predictor(self, X: npt.ArrayLike,
                         offset: npt.ArrayLike | None = None) -> FloatArray:
        """``offset + intercept + X @ coef`` (log odds)."""
        Xa = np.asarray(X, dtype=np.float64).reshape(-1, self.coef.shape[0])
        eta: FloatArray = Xa @ self.coef + self.intercept
        if offset is not None:
            eta = eta + np.asarray(offset, dtype=np.float64)
        return eta


def _vector(value: npt.ArrayLike | None, p: int, default: float, name: str) -> FloatArray:
    if value is None:
        return np.full(p, default, dtype=np.float64)
    out = np.asarray(value, dtype=np.float64)
    if out.ndim == 0:
        out = np.full(p, float(out))
    if out.shape != (p,):
        raise ValueError(f"fit_logistic: {name} has shape {out.shape}; need ({p},).")
    return out


def fit_logistic(X: npt.ArrayLike, y: npt.ArrayLike, *,
                 offset: npt.ArrayLike | None = None,
                 fit_intercept: bool = True,
                 lower: npt.ArrayLike | None = None,
                 prior_mean: npt.ArrayLike | None = None,
                 prior_sd: npt.ArrayLike | None = None,
                 sample_weight: npt.ArrayLike | None = None,
                 max_newton: int = 50) -> GlmFit:
    """Fit ``logit P(y=1) = offset + b0 + X b`` by penalised maximum likelihood.

    Parameters
    ----------
    X : array of shape (n, p)
        Finite values (p may be 0: an intercept-only recalibration of the offset).
    y : array of shape (n,)
        0/1 outcomes.
    offset : array of shape (n,), optional
        Fixed log odds added to the linear predictor (e.g. a prior model's logit PD).
    fit_intercept : bool
    lower : float or array of shape (p,), optional
        Lower bounds of the coefficients (``-inf`` is none; 0 for a monotone term).
    prior_mean, prior_sd : float or array of shape (p,), optional
        A Gaussian prior per coefficient (default: mean 0, ``sd = inf``, i.e. none).
    sample_weight : array of shape (n,), optional
        Non-negative frequency weights.
    max_newton : int
        Newton refinement steps after L-BFGS-B.

    Returns
    -------
    GlmFit

    Examples
    --------
    A 2x2 table (a, b / c, d) = (20 events, 80 non-events | 10 events, 90
    non-events): the coefficient is the log odds ratio log(20*90 / (80*10)).

    >>> X = np.r_[np.ones(100), np.zeros(100)][:, None]
    >>> y = np.r_[np.ones(20), np.zeros(80), np.ones(10), np.zeros(90)]
    >>> fit = fit_logistic(X, y)
    >>> round(float(fit.coef[0]), 6), round(float(np.log(20 * 90 / (80 * 10))), 6)
    (0.81093, 0.81093)
    """
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    n, p = Xa.shape
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    if ya.shape[0] != n:
        raise ValueError(f"fit_logistic: y has {ya.shape[0]} rows, X has {n}.")
    if not np.all((ya == 0.0) | (ya == 1.0)):
        raise ValueError("fit_logistic: y must be 0 or 1.")
    if not np.all(np.isfinite(Xa)):
        raise ValueError("fit_logistic: X has a missing or infinite value.")
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64).reshape(-1)
    if off.shape[0] != n or not np.all(np.isfinite(off)):
        raise ValueError("fit_logistic: offset must be n finite values.")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight,
                                                            dtype=np.float64).reshape(-1)
    if w.shape[0] != n or not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError("fit_logistic: sample_weight must be n finite values >= 0.")
    lo = _vector(lower, p, -np.inf, "lower")
    pm = _vector(prior_mean, p, 0.0, "prior_mean")
    ps = _vector(prior_sd, p, np.inf, "prior_sd")
    if np.any(~(ps > 0)):
        raise ValueError("fit_logistic: prior_sd must be > 0 (inf: no prior).")
    if np.any(np.isfinite(lo) & np.isfinite(ps) & (pm < lo)):
        raise ValueError("fit_logistic: a prior mean lies below its lower bound.")

    # columns scaled to unit sd (positive: bounds at 0 stay at 0); constants left alone
    sd = Xa.std(axis=0) if n else np.ones(p)
    scale = np.where(sd > 0, sd, 1.0)
    Z = Xa / scale
    k = int(fit_intercept)
    precision = np.r_[np.zeros(k), np.where(np.isfinite(ps), 1.0 / (ps * scale) ** 2, 0.0)]
    centre = np.r_[np.zeros(k), pm * scale]
    bounds_z = np.r_[np.full(k, -np.inf), lo * scale]
    D = np.hstack([np.ones((n, 1)), Z]) if k else Z

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        eta = off + D @ theta
        nll = float(np.sum(w * (np.logaddexp(0.0, eta) - ya * eta)))
        dev = theta - centre
        pen = 0.5 * float(np.sum(precision * dev * dev))
        mu = _expit(eta)
        grad = D.T @ (w * (mu - ya)) + precision * dev
        return nll + pen, grad

    def hessian(theta: FloatArray) -> FloatArray:
        mu = _expit(off + D @ theta)
        h: FloatArray = (D * (w * mu * (1.0 - mu))[:, None]).T @ D + np.diag(precision)
        return h

    start: FloatArray = np.asarray(
        np.where(np.isfinite(bounds_z), np.maximum(centre, bounds_z), centre), dtype=np.float64)
    if k:
        rate = (float(np.sum(w * ya)) + 0.5) / (float(np.sum(w)) + 1.0)
        start[0] = np.log(rate / (1.0 - rate)) - float(np.average(off, weights=w)
                                                         if w.sum() > 0 else 0.0)
    res = minimize(objective, start, jac=True, method="L-BFGS-B",
                   bounds=[(None if not np.isfinite(b) else b, None) for b in bounds_z],
                   options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
    theta = np.asarray(res.x, dtype=np.float64)
    converged = bool(res.success)
    # Newton on the free set (coefficients off their bounds)
    for _ in range(max_newton):
        f0, g = objective(theta)
        held = np.isfinite(bounds_z) & (theta <= bounds_z + 1e-10) & (g > 0)
        free = ~held
        if not free.any():
            break
        H = hessian(theta)[np.ix_(free, free)]
        try:
            step = np.linalg.solve(H, g[free])
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-8:
            cand = theta.copy()
            cand[free] = theta[free] - t * step
            cand = np.maximum(cand, np.where(np.isfinite(bounds_z), bounds_z, -np.inf))
            if objective(cand)[0] <= f0 + 1e-12:
                break
            t *= 0.5
        theta = cand
        if float(np.max(np.abs(t * step))) < 1e-10:
            converged = True
            break

    f_opt, g_opt = objective(theta)
    held = np.isfinite(bounds_z) & (theta <= bounds_z + 1e-8)
    H = hessian(theta)
    # a column without data and without a prior (all zeros) is not identified: its
    # coefficient stays at its start and its SE is inf; the others are inverted alone
    ident = np.diag(H) > 0
    se_z = np.full(theta.shape[0], np.inf)
    try:
        cov_z = np.linalg.inv(H[np.ix_(ident, ident)])
        se_z[ident] = np.sqrt(np.maximum(np.diag(cov_z), 0.0))
    except np.linalg.LinAlgError:
        pass
    unscale = np.r_[np.ones(k), scale]
    est = theta / unscale
    se = se_z / unscale
    est[k:][held[k:]] = lo[held[k:]]
    coef = est[k:]
    se_c = se[k:]
    eta = off + D @ theta
    loglik = -float(np.sum(w * (np.logaddexp(0.0, eta) - ya * eta)))
    return GlmFit(
        intercept=float(est[0]) if k else 0.0,
        coef=coef, se=se_c, ci_low=coef - Z95 * se_c, ci_high=coef + Z95 * se_c,
        intercept_se=float(se[0]) if k else float("nan"),
        n_obs=int(round(float(w.sum()))), n_events=int(round(float(np.sum(w * ya)))),
        loglik=loglik, penalised_loglik=-f_opt, at_bound=held[k:].copy(),
        converged=converged)


def _expit(eta: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * eta))
    return out
