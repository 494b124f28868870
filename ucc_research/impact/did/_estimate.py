"""Estimation of every ATT(g, t) cell and its influence function (R ``did::att_gt``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact.did._drdid import ESTIMATORS, TRIM_LEVEL, logit_fit
from ucc_research.impact.did._prepare import _Panel


def cluster_sums(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Influence functions summed by cluster (unchanged without clusters)."""
    if cluster is None:
        return inf
    out = np.zeros((cluster.max() + 1,) + inf.shape[1:])
    np.add.at(out, cluster, inf)
    return out


def se_from_inf(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Analytic standard errors ``sqrt(sum_c (sum_i psi_i)^2) / n`` of each column."""
    s = cluster_sums(inf, cluster)
    return np.sqrt(np.sum(s**2, axis=0)) / inf.shape[0]


def control_mask(g_unit, g_c, cutoff, control, normalised) -> tuple[np.ndarray, np.ndarray]:
    """Treated and control units of each cell (n x cells): R did's comparison groups."""
    treated = g_unit[:, None] == g_c[None, :]
    if control == "never_treated":
        ctrl = np.repeat(np.isinf(g_unit)[:, None], len(g_c), axis=1)
    else:
        ctrl = np.isinf(g_unit)[:, None] | ((g_unit[:, None] > cutoff[None, :]) & ~treated)
    ctrl[:, normalised] = False
    return treated, ctrl


class _Cells(NamedTuple):
    g: np.ndarray  # cohort of each cell
    cur: np.ndarray  # index of the cell's period
    base: np.ndarray  # index of its base period
    cutoff: np.ndarray  # a not-yet-treated control must adopt after this period
    normalised: np.ndarray  # universal base period: the reference cell, 0 by construction
    treated: np.ndarray
    ctrl: np.ndarray


def _cells(panel: _Panel, control: str, base_period: str, anticipation: int) -> _Cells:
    """The cells in R's order (cohort-major) with their base periods and comparison groups."""
    periods, g_unit = panel.periods, panel.cohort
    cohorts = np.unique(g_unit[np.isfinite(g_unit) & (g_unit != panel.control_only)])
    if len(cohorts) == 0:
        raise SpecError("no unit adopts the treatment within the observed periods")
    g_c, cur, base, cutoff = [], [], [], []
    for g in cohorts:
        pre_g = int(np.flatnonzero(periods + anticipation < g)[-1])
        for c in range(1 if base_period == "varying" else 0, len(periods)):
            b = pre_g if (g <= periods[c] or base_period == "universal") else c - 1
            g_c.append(g)
            cur.append(c)
            base.append(b)
            cutoff.append(max(periods[c], periods[b]) + anticipation)
    g_c, cur, base, cutoff = map(np.asarray, (g_c, cur, base, cutoff))
    normalised = cur == base
    treated, ctrl = control_mask(g_unit, g_c, cutoff, control, normalised)
    return _Cells(g_c, cur, base, cutoff, normalised, treated, ctrl)


def _where(cells: _Cells, periods: np.ndarray, j: int) -> str:
    return (
        f"cohort {cells.g[j]:g}, period {periods[cells.cur[j]]:g} "
        f"(base period {periods[cells.base[j]]:g})"
    )


def _check_cells(cells: _Cells, panel: _Panel, method: str) -> None:
    """Cells R did would return as NA are errors here, naming the cell and the fix."""
    n_treat, n_ctrl = cells.treated.sum(axis=0), cells.ctrl.sum(axis=0)
    open_ = ~cells.normalised
    k = 1 if panel.x is None else panel.x.shape[2]
    for j in np.flatnonzero((n_ctrl == 0) & open_)[:1]:
        raise SpecError(
            f"no control units for {_where(cells, panel.periods, j)}: no never-treated or "
            "not-yet-treated unit is available; use control='not_yet_treated', drop that "
            "cohort or shorten the window"
        )
    if panel.x is not None and method in ("dr", "reg"):
        for j in np.flatnonzero((n_ctrl <= k) & open_)[:1]:
            raise SpecError(
                f"too few control units for {_where(cells, panel.periods, j)}: {n_ctrl[j]} "
                f"control unit(s) for {k} outcome-regression coefficient(s); use fewer "
                "covariates or more units"
            )
    if method in ("dr", "ipw"):
        # DRDID gives controls with a propensity score >= 0.995 weight 0; without covariates the
        # score is the treated share of the cell, so no control would be left.
        share = n_treat / np.maximum(n_treat + n_ctrl, 1)
        for j in np.flatnonzero((share >= TRIM_LEVEL) & open_)[:1]:
            raise SpecError(
                f"no overlap for {_where(cells, panel.periods, j)}: {n_ctrl[j]} control unit(s) "
                f"against {n_treat[j]} treated, too few for propensity-score weighting; use "
                "method='reg'"
            )


def _without_covariates(cells: _Cells, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """reg, ipw and dr all reduce to the difference in mean changes, with influence function
    ``n * [D (dY - m1) / n1 - C (dY - m0) / n0]``: all cells at once."""
    n = dy.shape[0]
    tm, cm = cells.treated.astype(float), cells.ctrl.astype(float)
    n_treat, n_ctrl = tm.sum(axis=0), cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m1 = (tm * dy).sum(axis=0) / n_treat
        m0 = (cm * dy).sum(axis=0) / n_ctrl
        att = np.where(cells.normalised, 0.0, m1 - m0)
        inf = n * (tm * (dy - m1) / n_treat - cm * (dy - m0) / n_ctrl)
    inf[:, cells.normalised] = 0.0
    return att, inf


def _check_overlap(x, d, method: str, where: str) -> np.ndarray | None:
    """The fitted propensity score (dr, ipw), after checking overlap and collinearity."""
    ps = None
    if method in ("dr", "ipw"):
        ps, _ = logit_fit(x, d)
        if ps.max() >= 0.999:
            raise SpecError(
                f"no overlap for {where}: the propensity score reaches {ps.max():.4f} (>= 0.999), "
                "so treated units have no comparable controls; use method='reg' or fewer "
                "covariates"
            )
        if not np.any((d == 0) & (ps < TRIM_LEVEL)):
            raise SpecError(
                f"no overlap for {where}: every control unit has a propensity score >= "
                f"{TRIM_LEVEL}; use method='reg' or fewer covariates"
            )
    if method in ("dr", "reg"):
        xc = x[d == 0]
        if 1.0 / np.linalg.cond(xc.T @ xc, 1) < np.finfo(float).eps:
            raise SpecError(
                f"the covariates are collinear among the control units for {where}; drop a "
                "covariate"
            )
    return ps


def _with_covariates(cells, panel, dy, control, method) -> tuple[np.ndarray, np.ndarray]:
    """Cells with the same units and covariate values share the logit, the OLS design and their
    asymptotic representations: they are estimated together (one column per cell)."""
    n = dy.shape[0]
    att, inf = np.zeros(len(cells.g)), np.zeros((n, len(cells.g)))
    invariant = bool(np.all(panel.x == panel.x[:1]))
    x_period = np.where(invariant, 0, np.minimum(cells.base, cells.cur))
    ctrl_key = cells.cutoff if control == "not_yet_treated" else np.zeros(len(cells.g))
    keys = pd.DataFrame({"g": cells.g, "c": ctrl_key, "x": x_period})[~cells.normalised]
    for _, cols in keys.groupby(["g", "c", "x"], sort=False).groups.items():
        cols = np.asarray(cols)
        j = cols[0]
        cell = cells.treated[:, j] | cells.ctrl[:, j]
        d = cells.treated[cell, j].astype(float)
        x = panel.x[x_period[j]][cell]
        ps = _check_overlap(x, d, method, _where(cells, panel.periods, j))
        att[cols], psi = ESTIMATORS[method](dy[np.ix_(cell, cols)], d, x, ps)
        inf[np.ix_(cell, cols)] = psi * (n / cell.sum())
    return att, inf


def att_gt(panel: _Panel, control: str, method: str, base_period: str, anticipation: int):
    """Every ATT(g, t) (a table in R's order) and the influence functions (n x cells)."""
    cells = _cells(panel, control, base_period, anticipation)
    _check_cells(cells, panel, method)
    dy = panel.y[:, cells.cur] - panel.y[:, cells.base]
    if panel.x is None:
        att, inf = _without_covariates(cells, dy)
    else:
        att, inf = _with_covariates(cells, panel, dy, control, method)
    periods = panel.periods
    table = pd.DataFrame(
        {
            "cohort": cells.g,
            "time": periods[cells.cur],
            "base": periods[cells.base],
            "post": cells.g <= periods[cells.cur],
            "att": att,
            "n_treated": cells.treated.sum(axis=0),
            "n_control": cells.ctrl.sum(axis=0),
            "normalised": cells.normalised,
        }
    )
    return table, inf
