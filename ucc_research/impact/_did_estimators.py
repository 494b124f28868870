"""Two-period panel DiD estimators with their influence functions (Sant'Anna & Zhao 2020).

Line-by-line ports of R ``DRDID``'s ``drdid_panel`` (locally efficient doubly robust, the
default of R ``did``), ``reg_did_panel`` (outcome regression) and ``std_ipw_did_panel``
(normalised / Hajek inverse probability weighting), with equal unit weights. Each function
takes the outcome change ``dy`` (post minus base period), the treated indicator ``d`` and the
design matrix ``x`` (intercept included) of the units in one (g, t) cell, and returns the ATT and
its influence function (one value per unit of the cell, mean zero), so that the cell's variance
is ``sum(psi**2) / n**2``.

The propensity score is a logit fitted by Newton-Raphson to full convergence (R's ``glm`` stops
at a relative deviance change of 1e-8; both land on the same maximum to ~1e-10). As in DRDID,
fitted scores are capped at 1 - 1e-6 and control units with a score of 0.995 or more get weight 0.
"""

from __future__ import annotations

import numpy as np

from ucc_research.errors import SpecError

_EPS = np.finfo(float).eps
TRIM_LEVEL = 0.995


def logit_fit(x: np.ndarray, d: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, bool]:
    """Maximum-likelihood logit of ``d`` on ``x`` (Newton-Raphson); returns (fitted p, converged)."""
    if x.shape[1] == 1 and np.all(x[:, 0] == 1.0):  # intercept only: the MLE is the mean
        return np.full(len(d), d.mean()), True
    beta = np.zeros(x.shape[1])
    # Start from the marginal log-odds, as glm's mustart does, for fewer iterations.
    p_bar = min(max(d.mean(), 1e-8), 1 - 1e-8)
    beta[0] = np.log(p_bar / (1 - p_bar)) if np.allclose(x[:, 0], 1.0) else 0.0
    converged = False
    for _ in range(max_iter):
        eta = x @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = p * (1.0 - p)
        grad = x.T @ (d - p)
        hess = (x * w[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if np.max(np.abs(step)) < 1e-13 * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
    eta = x @ beta
    return 1.0 / (1.0 + np.exp(-eta)), converged


def _rcond(a: np.ndarray) -> float:
    # R's rcond() is a 1-norm estimate; the exact 1-norm condition number is close enough to
    # flag the same (numerically) singular matrices.
    try:
        return 1.0 / np.linalg.cond(a, 1)
    except np.linalg.LinAlgError:
        return 0.0


def _wols(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    xc = x[mask]
    beta, *_ = np.linalg.lstsq(xc, y[mask], rcond=None)
    return beta


def _ols_asy(x: np.ndarray, resid: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Asymptotic linear representation of the control-group OLS coefficients (n x k)."""
    n = len(d)
    w = 1.0 - d
    xpx = (x * w[:, None]).T @ x / n
    if _rcond(xpx) < _EPS:
        raise SpecError("the outcome regression design matrix is singular among control units")
    return (x * (w * resid)[:, None]) @ np.linalg.inv(xpx)


def _ps_asy(x: np.ndarray, d: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """Asymptotic linear representation of the logit coefficients (n x k)."""
    n = len(d)
    xtwx = (x * (ps * (1.0 - ps))[:, None]).T @ x
    if _rcond(xtwx) < _EPS:
        raise SpecError("the propensity-score design matrix is singular")
    return (x * (d - ps)[:, None]) @ (np.linalg.inv(xtwx) * n)


def _pscore(x: np.ndarray, d: np.ndarray, ps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if ps is None:
        ps, _ = logit_fit(x, d)
    ps = np.minimum(ps, 1.0 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL)
    return ps, trim


def drdid_panel(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, ps: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Locally efficient doubly robust DiD (R ``DRDID::drdid_panel``); ``ps``: fitted logit."""
    ps, trim = _pscore(x, d, ps)
    control = d == 0
    beta = _wols(x, dy, control)
    out = x @ beta
    resid = dy - out
    w_t = trim * d
    w_c = trim * ps * (1.0 - d) / (1.0 - ps)
    eta_t = np.mean(w_t * resid) / np.mean(w_t)
    eta_c = np.mean(w_c * resid) / np.mean(w_c)
    att = eta_t - eta_c

    asy_ols = _ols_asy(x, resid, d)
    asy_ps = _ps_asy(x, d, ps)
    inf_t1 = w_t * resid - w_t * eta_t
    inf_t2 = asy_ols @ np.mean(w_t[:, None] * x, axis=0)
    inf_c1 = w_c * resid - w_c * eta_c
    inf_c2 = asy_ps @ np.mean((w_c * (resid - eta_c))[:, None] * x, axis=0)
    inf_c3 = asy_ols @ np.mean(w_c[:, None] * x, axis=0)
    inf_t = (inf_t1 - inf_t2) / np.mean(w_t)
    inf_c = (inf_c1 + inf_c2 - inf_c3) / np.mean(w_c)
    return float(att), inf_t - inf_c


def reg_did_panel(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, ps: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD (R ``DRDID::reg_did_panel``); ``ps`` is not used."""
    control = d == 0
    beta = _wols(x, dy, control)
    out = x @ beta
    eta_t = np.mean(d * dy) / np.mean(d)
    eta_c = np.mean(d * out) / np.mean(d)
    att = eta_t - eta_c

    asy_ols = _ols_asy(x, dy - out, d)
    inf_t = (d * dy - d * eta_t) / np.mean(d)
    inf_c1 = d * out - d * eta_c
    inf_c2 = asy_ols @ np.mean(d[:, None] * x, axis=0)
    inf_c = (inf_c1 + inf_c2) / np.mean(d)
    return float(att), inf_t - inf_c


def std_ipw_did_panel(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, ps: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) IPW DiD (R ``DRDID::std_ipw_did_panel``); ``ps``: fitted logit."""
    ps, trim = _pscore(x, d, ps)
    w_t = trim * d
    w_c = trim * ps * (1.0 - d) / (1.0 - ps)
    eta_t = np.mean(w_t * dy) / np.mean(w_t)
    eta_c = np.mean(w_c * dy) / np.mean(w_c)
    att = eta_t - eta_c

    asy_ps = _ps_asy(x, d, ps)
    inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
    inf_c1 = w_c * dy - w_c * eta_c
    inf_c2 = asy_ps @ np.mean((w_c * (dy - eta_c))[:, None] * x, axis=0)
    inf_c = (inf_c1 + inf_c2) / np.mean(w_c)
    return float(att), inf_t - inf_c


ESTIMATORS = {"dr": drdid_panel, "reg": reg_did_panel, "ipw": std_ipw_did_panel}
