"""Two-period panel DiD estimators with their influence functions (Sant'Anna & Zhao 2020).

Line-by-line ports of R ``DRDID``'s ``drdid_panel`` (locally efficient doubly robust, the
default of R ``did``), ``reg_did_panel`` (outcome regression) and ``std_ipw_did_panel``
(normalised / Hajek inverse probability weighting), with equal unit weights. Each function
takes the outcome changes ``dy`` (post minus base period; one column per (g, t) cell that shares
the same units and covariates), the treated indicator ``d`` and the design matrix ``x``
(intercept included), and returns the ATTs and their influence functions (n x cells, mean zero),
so that a cell's variance is ``sum(psi**2) / n**2``.

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


def _ols_proj(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``X (X'(1-D)X / n)^-1`` (n x k): the control-group OLS's asymptotic linear representation
    for a cell is ``(1-D) * resid * X (X'(1-D)X/n)^-1``, so its product with a derivative vector
    ``M`` is ``(1-D) * resid * (proj @ M)``."""
    n = len(d)
    xpx = (x * (1.0 - d)[:, None]).T @ x / n
    if _rcond(xpx) < _EPS:
        raise SpecError("the outcome regression design matrix is singular among control units")
    return x @ np.linalg.inv(xpx)


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


def _ipw_weights(x: np.ndarray, d: np.ndarray, ps: np.ndarray | None) -> tuple:
    """Treated and (trimmed, odds-weighted) control weights and their means."""
    ps, trim = _pscore(x, d, ps)
    w_t = trim * d
    w_c = trim * ps * (1.0 - d) / (1.0 - ps)
    return ps, w_t, w_c, w_t.mean(), w_c.mean()


def _control_fit(x: np.ndarray, dy: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Fitted values of the OLS of each column of ``dy`` on ``x`` among the controls."""
    control = d == 0
    # QR once for all columns (lstsq's SVD per right-hand side is much slower here).
    q, r = np.linalg.qr(x[control])
    return x @ np.linalg.solve(r, q.T @ dy[control])


def drdid_panel(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, ps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Locally efficient doubly robust DiD (R ``DRDID::drdid_panel``); ``ps``: fitted logit."""
    n = len(d)
    dy = dy.reshape(n, -1)
    ps, w_t, w_c, mw_t, mw_c = _ipw_weights(x, d, ps)
    resid = dy - _control_fit(x, dy, d)
    eta_t = (w_t @ resid) / n / mw_t
    eta_c = (w_c @ resid) / n / mw_c

    proj = _ols_proj(x, d)
    wr = (1.0 - d)[:, None] * resid
    inf_t1 = w_t[:, None] * (resid - eta_t)
    inf_t2 = wr * (proj @ (w_t @ x / n))[:, None]
    dev_c = w_c[:, None] * (resid - eta_c)
    inf_c2 = _ps_asy(x, d, ps) @ (x.T @ dev_c / n)
    inf_c3 = wr * (proj @ (w_c @ x / n))[:, None]
    inf = (inf_t1 - inf_t2) / mw_t - (dev_c + inf_c2 - inf_c3) / mw_c
    return eta_t - eta_c, inf


def reg_did_panel(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, ps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome-regression DiD (R ``DRDID::reg_did_panel``); ``ps`` is not used."""
    n = len(d)
    dy = dy.reshape(n, -1)
    out = _control_fit(x, dy, d)
    md = d.mean()
    eta_t = (d @ dy) / n / md
    eta_c = (d @ out) / n / md

    proj = _ols_proj(x, d)
    inf_t = d[:, None] * (dy - eta_t) / md
    inf_c1 = d[:, None] * (out - eta_c)
    inf_c2 = ((1.0 - d)[:, None] * (dy - out)) * (proj @ (d @ x / n))[:, None]
    return eta_t - eta_c, inf_t - (inf_c1 + inf_c2) / md


def std_ipw_did_panel(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, ps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised (Hajek) IPW DiD (R ``DRDID::std_ipw_did_panel``); ``ps``: fitted logit."""
    n = len(d)
    dy = dy.reshape(n, -1)
    ps, w_t, w_c, mw_t, mw_c = _ipw_weights(x, d, ps)
    eta_t = (w_t @ dy) / n / mw_t
    eta_c = (w_c @ dy) / n / mw_c

    inf_t = w_t[:, None] * (dy - eta_t) / mw_t
    dev_c = w_c[:, None] * (dy - eta_c)
    inf_c2 = _ps_asy(x, d, ps) @ (x.T @ dev_c / n)
    return eta_t - eta_c, inf_t - (dev_c + inf_c2) / mw_c


ESTIMATORS = {"dr": drdid_panel, "reg": reg_did_panel, "ipw": std_ipw_did_panel}
