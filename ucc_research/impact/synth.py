"""Synthetic control for one treated city (Abadie & Gardeazabal 2003; Abadie, Diamond & Hainmueller 2010).

The estimator follows the R package ``Synth`` (and its Python port ``pysyncon``):

1. Predictors ``X`` (one row per predictor, one column per unit) are means over chosen periods
   (``predictors`` over ``predictor_period``) plus *special predictors*, each with its own
   periods. Every predictor row is divided by its standard deviation across all units (treated
   and donors), as Synth does, so the predictor weights ``V`` are comparable.
2. For a diagonal ``V`` (non-negative, summing to one) the donor weights are
   ``W(V) = argmin (X1 - X0 W)' V (X1 - X0 W)`` on the simplex (``W >= 0``, ``sum W = 1``).
   This inner quadratic program is solved exactly by an active-set method (Wolfe's
   minimum-norm-point algorithm on ``sqrt(V)(X0 - X1)``), warm-started from the previous
   solution, which is what makes the nested optimisation fast.
3. ``V`` minimises the mean squared prediction error of the outcome over ``optimize_period``
   (on ``V = |v| / sum |v|`` as in Synth). ``search="synth"`` is Synth's own search: Nelder-Mead
   and BFGS from equal weights and from the regression-based start, the best kept.
   ``search="thorough"`` (default) also starts where the best outcome-fitting donor mix is
   favoured, and from every start restarts Nelder-Mead from its end point and polishes with
   Powell, so it reaches at least Synth's optimum; seeded random starts follow. The best loss
   wins; the loss of the best outcome fit over all donor mixes bounds it from below.

Inference is by in-space placebos: every donor in turn is treated as if it were treated (the
real treated unit removed from its donor pool), and the treated unit's ratio of post- to
pre-treatment RMSPE is ranked among all the ratios (Abadie et al. 2010, section 4).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError, UccWarning
from ucc_research.impact._checks import (
    check_columns,
    check_frame,
    check_numeric,
    check_seed,
    check_unique_rows,
    show,
)
from ucc_research.impact.base import ImpactResult

__all__ = ["synthetic_control", "SynthResult", "PlaceboResult", "LeaveOneOutResult"]

_ZERO = 1e-12  # weights below this are exact zeros of the active set
# R's optim(method="Nelder-Mead") defaults, as used by Synth: stop when the simplex's loss values
# agree to a relative 1e-8 (the objective is scaled to 1 at equal V), at most 500 iterations.
_NM_OPTIONS = {"maxiter": 500, "xatol": np.inf, "fatol": 1e-8}
# Beyond Synth: the _N_POLISH best distinct end points are polished: Nelder-Mead restarted from
# the end point (adaptive simplex, more iterations) until a round gains less than a relative
# _RESTART_TOL, then Powell's method.
_N_POLISH = 2
_NM_RESTART = {"maxiter": 2000, "xatol": np.inf, "fatol": 1e-10, "adaptive": True}
_MAX_RESTARTS = 4
_RESTART_TOL = 1e-8
_POWELL_OPTIONS = {"xtol": 1e-6, "ftol": 1e-10, "maxfev": 4000}
# R's optim(method="BFGS") defaults (maxit 100, reltol 1e-8; finite-difference gradient).
_BFGS_OPTIONS = {"maxiter": 100, "gtol": 1e-8}
_SEARCHES = ("thorough", "synth")


def _n_random(starts: list) -> int:
    return 1 + sum(1 for s in starts if s[0].startswith("random"))


# --------------------------------------------------------------------------- inner solver
def _simplex_qp(q: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
    """Minimise ``w' q w`` over the simplex (``w >= 0``, ``sum w = 1``) by an active-set method.

    ``q = D'D`` with the columns of ``D`` the (weighted) gaps between each donor's and the
    treated unit's predictors, so this is the point of the donors' convex hull nearest to the
    treated unit (Wolfe 1976). ``w0`` is a feasible warm start (the previous solution).
    Called hundreds of times per fit, hence the terse numpy (each call costs microseconds).
    """
    n = q.shape[0]
    diag = q.diagonal()
    if w0 is None:
        w = np.zeros(n)
        w[int(diag.argmin())] = 1.0
    else:
        w = np.where(w0 > _ZERO, w0, 0.0)
    free = w > 0.0
    tol = 1e-13 * max(float(diag.max()), 1e-300)
    for _ in range(4 * n + 20):
        # Minimise on the free set (affine constraint only); step back if that leaves the simplex.
        while True:
            idx = free.nonzero()[0]
            z, mu = _affine_min(q.take(idx, 0).take(idx, 1))
            if z.min() > _ZERO:
                w[:] = 0.0
                w[idx] = z
                break
            wi = w[idx]
            neg = z <= _ZERO
            alpha = float(np.min(wi[neg] / (wi[neg] - z[neg])))
            wi = wi + alpha * (z - wi)
            wi[wi <= _ZERO] = 0.0
            wi[neg & (wi <= 1e-9 * wi.max())] = 0.0
            w[:] = 0.0
            w[idx] = wi / wi.sum()
            free = w > 0.0
        if idx.size == n:
            break
        # The donor whose weight would lower the loss fastest enters, if any would.
        grad = np.where(free, np.inf, q @ w)
        j = int(grad.argmin())
        if grad[j] >= mu - tol:
            break
        free[j] = True
    return w


@functools.cache
def _lapack_posv() -> Any:
    """LAPACK ``dposv``, imported on first use (scipy.linalg is slow to import; this is hot)."""
    from scipy.linalg.lapack import dposv

    return dposv


def _affine_min(q: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimiser ``z`` of ``z' q z`` subject to ``sum z = 1``, and the minimum ``z' q z``.

    For positive definite ``q``: ``z = q^-1 1 / (1' q^-1 1)`` by Cholesky (LAPACK ``posv``
    directly; numpy's wrappers cost more than the solve for these tiny systems). Otherwise the
    KKT system, by least squares if singular.
    """
    m = q.shape[0]
    if m == 1:
        return np.ones(1), float(q[0, 0])
    _, s, info = _lapack_posv()(q, np.ones(m))
    total = float(s.sum()) if info == 0 else 0.0
    if total > 0:
        return s / total, 1.0 / total
    kkt = np.zeros((m + 1, m + 1))
    kkt[:m, :m] = q
    kkt[m, :m] = kkt[:m, m] = 1.0
    rhs = np.zeros(m + 1)
    rhs[m] = 1.0
    sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    z = sol[:m]
    return z, float(z @ q @ z)


# --------------------------------------------------------------------------- outer optimisation
@dataclass
class _Fit:
    w: np.ndarray
    v: np.ndarray
    loss_v: float
    loss_w: float
    n_starts: int
    converged: bool
    starts: pd.DataFrame
    bound: float


def _fit_weights(
    x1: np.ndarray,
    x0: np.ndarray,
    z1: np.ndarray,
    z0: np.ndarray,
    n_starts: int,
    rng: np.random.Generator,
    v_fixed: np.ndarray | None = None,
    search: str = "thorough",
) -> _Fit:
    """Nested optimisation: ``V`` outside (loss on the outcome), ``W(V)`` inside (exact QP).

    Every start runs Synth's Nelder-Mead and BFGS; with ``search="thorough"`` the best distinct
    end points are then polished (Nelder-Mead restarted from its own end point, then Powell's
    method); the best loss over starts and optimisers is kept. The loss cannot fall below the
    best outcome fit of any donor mix (``bound``); a search that reaches it is the global optimum.

    A numerical kernel kept in one piece: its closures share the warm-started inner solution
    (``state``), which is what makes the nested search fast.
    """
    sd = np.std(np.column_stack([x0, x1]), axis=1, ddof=1)
    gaps = (x0 - x1[:, None]) / sd[:, None]  # scaled predictor gaps, k x J
    k = gaps.shape[0]
    state = {"w": None}

    def solve_w(v: np.ndarray) -> np.ndarray:
        q = (gaps * v[:, None]).T @ gaps
        state["w"] = _simplex_qp(q, state["w"])
        return state["w"]

    def loss(w: np.ndarray) -> float:
        r = z1 - z0 @ w
        return float(r @ r) / len(r)

    # The best outcome fit over the simplex: a lower bound on the loss at any V.
    zg = z0 - z1[:, None]
    w_star = _simplex_qp(zg.T @ zg)
    bound = loss(w_star)

    if v_fixed is not None:
        v = v_fixed / v_fixed.sum()
        w = solve_w(v)
        lv = loss(w)
        return _Fit(w, v, lv, _loss_w(gaps, v, w), 0, True, pd.DataFrame(), bound)

    base = max(loss(solve_w(np.full(k, 1.0 / k))), 1e-300)
    floor = bound / base

    def objective(par: np.ndarray) -> float:
        a = np.abs(par)
        s = a.sum()
        # BFGS's finite-difference steps can leave the finite numbers (or reach V = 0): such a
        # V has no inner solution, so it gets an infinite loss and the line search steps back.
        if not np.isfinite(s) or s <= 0:
            return np.inf
        v = a / s
        if not np.all(np.isfinite(v)):
            return np.inf
        return loss(solve_w(v)) / base

    runs: list[dict] = []
    ends: list[tuple[float, np.ndarray, bool, str, str]] = []

    def record(kind, method, x, fun, nfev, converged, fun0, conv0):
        state["w"] = None
        w = solve_w(np.abs(x) / np.abs(x).sum())
        runs.append({"start": kind, "method": method, "loss_v": fun * base,
                     "converged": converged, "loss_v_first_run": fun0 * base,
                     "first_run_converged": conv0, "n_evaluations": nfev,
                     "top_donor": int(np.argmax(w)), "top_weight": float(np.max(w))})  # fmt: skip
        ends.append((fun, x, converged, kind, method))

    for kind, start in _starts(gaps, z1, z0, w_star, n_starts, rng, search):
        for method, x, fun, nfev, converged in _synth_runs(objective, start, state):
            record(kind, method, x, fun, nfev, converged, fun, converged)
    if search == "thorough":
        for kind, method, polished, fun, conv in _polish_best(ends, objective, floor, state):
            record(kind, method, *polished, fun, conv)
    best = min(ends, key=lambda e: e[0])
    v = np.abs(best[1]) / np.abs(best[1]).sum()
    state["w"] = None
    w = solve_w(v)
    table = pd.DataFrame(runs)
    return _Fit(w, v, loss(w), _loss_w(gaps, v, w), n_starts, best[2], table, bound)


def _polish_best(ends: list, objective, floor: float, state: dict) -> list[tuple]:
    """Polish the best distinct end points (the expensive part, so only _N_POLISH of them)."""
    done: list[float] = []
    out = []
    for fun, x, conv, kind, method in sorted(ends[:], key=lambda e: e[0]):
        if len(done) >= _N_POLISH:
            break
        if any(abs(fun - d) <= 1e-6 * max(d, 1e-300) for d in done):
            continue
        done.append(fun)
        if fun <= floor * (1 + 1e-9):
            continue
        px, pfun, nfev, pconv, how = _polish(objective, x, fun, floor, state)
        out.append((kind, f"{method} + {how}", (px, pfun, nfev, pconv), fun, conv))
    return out


def _synth_runs(objective, start, state):
    """R Synth's ``optimx(method=c("Nelder-Mead", "BFGS"))`` from one start: one result per
    method (parameters, loss, evaluations, converged)."""
    from scipy.optimize import minimize

    out = []
    for method, options in (("nelder-mead", _NM_OPTIONS), ("bfgs", _BFGS_OPTIONS)):
        state["w"] = None
        res = minimize(objective, start, method=method, options=options)
        out.append((method, res.x, float(res.fun), int(res.nfev), bool(res.success)))
    return out


def _polish(objective, x, fun, floor, state):
    """Nelder-Mead restarted from ``x`` (a fresh, adaptive simplex undoes the collapse that stops
    a run early) until a round gains less than a relative ``_RESTART_TOL``, then Powell."""
    from scipy.optimize import minimize

    nfev, converged, how = 0, True, []
    state["w"] = None
    for _ in range(_MAX_RESTARTS):
        if fun <= floor * (1 + 1e-9):
            break
        again = minimize(objective, x, method="Nelder-Mead", options=_NM_RESTART)
        nfev += int(again.nfev)
        gain = fun - float(again.fun)
        if gain > 0:
            x, fun = again.x, float(again.fun)
            if "nelder-mead restarts" not in how:
                how.append("nelder-mead restarts")
        converged = bool(again.success)
        if gain <= _RESTART_TOL * max(fun, 1e-300):
            break
    if fun > floor * (1 + 1e-9):
        polish = minimize(objective, x, method="Powell", options=_POWELL_OPTIONS)
        nfev += int(polish.nfev)
        if float(polish.fun) < fun * (1 - 1e-12):
            x, fun = polish.x, float(polish.fun)
            converged = converged and bool(polish.success)
            how.append("powell")
    return x, fun, nfev, converged, " + ".join(how) or "polish (no gain)"


def _loss_w(gaps: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
    d = gaps @ w
    return float(d @ (v * d))


def _starts(
    gaps: np.ndarray,
    z1: np.ndarray,
    z0: np.ndarray,
    w_star: np.ndarray,
    n: int,
    rng: np.random.Generator,
    search: str = "thorough",
) -> list[tuple[str, np.ndarray]]:
    """Equal weights, Synth's regression-based start, the outcome-fit start, then seeded draws.

    The outcome-fit start weights each predictor by how well the best outcome-fitting donor mix
    ``w_star`` already matches it (``1 / gap^2``), so the search begins near the ``V`` that makes
    that mix the inner solution, which is the global optimum whenever some ``V`` reaches it.
    """
    k = gaps.shape[0]
    starts = [("equal", np.full(k, 1.0 / k))]
    if n > 1:
        # Regress every unit's outcome path on its (scaled) predictors; a predictor that explains
        # much of the outcome starts with a large weight (Synth's second start, pysyncon's
        # ``optim_initial="ols"``).
        x = np.column_stack([np.ones(gaps.shape[1] + 1), np.column_stack([gaps, np.zeros(k)]).T])
        z = np.column_stack([z0, z1]).T
        beta = np.linalg.lstsq(x, z, rcond=None)[0][1:]
        ols = np.einsum("ij,ij->i", beta, beta)
        if np.all(np.isfinite(ols)) and ols.sum() > 0:
            starts.append(("regression", ols / ols.sum()))
    if n > 2 and search == "thorough":
        d2 = np.square(gaps @ w_star)
        inv = 1.0 / (d2 + 1e-6 * max(float(d2.mean()), 1e-300))
        starts.append(("outcome fit", inv / inv.sum()))
    while len(starts) < n:
        starts.append((f"random {_n_random(starts)}", rng.dirichlet(np.ones(k))))
    return starts[:n]


# --------------------------------------------------------------------------- data preparation
@dataclass(frozen=True)
class SynthSpec:
    """The options of one :func:`synthetic_control` fit (its parameters but ``data`` and
    ``adoption``), kept with the result so that refits (leave-one-out, other placebos) pass
    them by name."""

    outcome: str
    unit: str
    time: str
    treated: Any
    treatment_time: Any
    predictors: Sequence[str] | None = None
    special_predictors: Sequence[tuple] | None = None
    predictor_period: Iterable[Any] | None = None
    optimize_period: Iterable[Any] | None = None
    donors: Sequence[Any] | None = None
    n_starts: int = 8
    seed: int = 0
    placebo: bool = True
    placebo_n_starts: int | None = None
    v: Any = None
    search: str = "thorough"


@dataclass
class _Problem:
    units: list
    times: list
    predictor_names: list[str]
    x: pd.DataFrame  # predictors x units
    y: pd.DataFrame  # times x units (outcome)
    optimize_period: list
    pre: list
    post: list


def _as_list(periods: Iterable[Any] | Any) -> list:
    if isinstance(periods, str) or not isinstance(periods, Iterable):
        return [periods]
    return list(periods)


def _specials(special_predictors: Sequence[tuple] | None) -> list[tuple[str, list]]:
    specials = []
    for sp in special_predictors or []:
        if not isinstance(sp, tuple | list) or len(sp) not in (2, 3):
            raise SpecError(
                f"special predictor {sp!r} must be (column, periods) or (column, periods, 'mean')"
            )
        if len(sp) == 3 and sp[2] != "mean":
            raise SpecError(f"special predictor {sp[0]!r}: only the 'mean' operation is supported")
        specials.append((sp[0], _as_list(sp[1])))
    return specials


def _donor_pool(units_all: list, treated: Any, donors: Sequence[Any] | None, unit: str) -> list:
    if treated not in units_all:
        raise SpecError(
            f"treated unit {treated!r} is not in column {unit!r}; units are {show(units_all)}"
        )
    if donors is None:
        donors = [u for u in units_all if u != treated]
    else:
        donors = list(donors)
        absent = [d for d in donors if d not in units_all]
        if absent:
            raise SpecError(f"donor(s) {show(absent)} not in column {unit!r}")
        if treated in donors:
            raise SpecError(f"the treated unit {treated!r} cannot also be a donor")
    if len(donors) < 2:
        raise SpecError(f"a synthetic control needs at least 2 donors, got {len(donors)}")
    return donors


def _predictor_matrix(sub, spec, specials, units, times, pre, predictor_period) -> pd.DataFrame:
    """Predictors x units: each predictor's mean over its periods (Synth's ``X``)."""
    unit, time, outcome, predictors = (
        spec.unit,
        spec.time,
        spec.outcome,
        list(spec.predictors or []),
    )
    rows: dict[str, pd.Series] = {}
    specs = [(c, predictor_period, c) for c in predictors]
    if not predictors and not specials:
        # Default: the outcome in each pre-treatment period is a predictor.
        specs = [(outcome, [t], f"{outcome}[{t}]") for t in pre]
    specs += [(col, periods, col) for col, periods in specials]
    for col, periods, label in specs:
        bad = [t for t in periods if t not in times]
        if bad:
            raise SpecError(f"predictor {col!r}: period(s) {show(bad)} not in column {time!r}")
        wide = sub[sub[time].isin(periods)].pivot(index=time, columns=unit, values=col)
        values = wide.reindex(columns=units).astype(float).mean(axis=0, skipna=True)
        empty = values[values.isna()].index.tolist()
        if empty:
            raise SpecError(
                f"predictor {col!r} has no value over periods {show(periods)} for unit(s) "
                f"{show(empty)}"
            )
        if label in rows:
            label = _special_label(col, periods)
        if label in rows:
            raise SpecError(f"predictor {label!r} is given twice (same column and periods)")
        rows[label] = values
    x = pd.DataFrame(rows).T[units]
    flat = x.index[x.std(axis=1, ddof=1) <= 0].tolist()
    if flat:
        raise SpecError(
            f"predictor(s) {show(flat)} take the same value for every unit; they cannot tell "
            "donors apart (remove them)"
        )
    if len(x) > len(pre):
        raise SpecError(
            f"{len(x)} predictors but only {len(pre)} pre-treatment periods; use fewer "
            "predictors (or more pre-treatment periods) so the fit is not over-parameterised"
        )
    return x


def _prepare(data: pd.DataFrame, spec: SynthSpec) -> _Problem:
    check_frame(data)
    outcome, unit, time, treated = spec.outcome, spec.unit, spec.time, spec.treated
    predictors, specials = list(spec.predictors or []), _specials(spec.special_predictors)
    check_columns(data, [outcome, unit, time], "column")
    check_columns(data, predictors + [c for c, _ in specials], "predictor")
    check_numeric(data, [outcome], "outcome")
    check_numeric(data, predictors + [c for c, _ in specials], "predictor")
    check_unique_rows(data, [unit, time])
    units = [treated] + _donor_pool(list(pd.unique(data[unit])), treated, spec.donors, unit)
    sub = data[data[unit].isin(units)]
    times = sorted(pd.unique(sub[time]))
    pre = [t for t in times if t < spec.treatment_time]
    post = [t for t in times if t >= spec.treatment_time]
    if not post:
        raise SpecError(f"no period at or after treatment_time={spec.treatment_time!r} in {time!r}")
    if len(pre) < 2:
        raise SpecError(f"need at least 2 periods before treatment_time={spec.treatment_time!r}")
    y = sub.pivot(index=time, columns=unit, values=outcome).reindex(index=times, columns=units)
    if y.isna().any(axis=None):
        holes = [(u, t) for u in units for t in times if pd.isna(y.at[t, u])]
        raise SpecError(
            f"outcome {outcome!r} is missing for unit-period(s) {show(holes)}; a synthetic "
            "control needs a balanced panel of the outcome (drop the unit or the periods)"
        )
    predictor_period = pre if spec.predictor_period is None else _as_list(spec.predictor_period)
    optimize_period = pre if spec.optimize_period is None else _as_list(spec.optimize_period)
    for name, periods in [("optimize_period", optimize_period)] + (
        [("predictor_period", predictor_period)] if predictors else []
    ):
        bad = [t for t in periods if t not in pre]
        if bad:
            raise SpecError(f"{name} has period(s) {show(bad)} that are not pre-treatment periods")
    x = _predictor_matrix(sub, spec, specials, units, times, pre, predictor_period)
    return _Problem(units, times, list(x.index), x, y, optimize_period, pre, post)


def _special_label(col: str, periods: list) -> str:
    lo, hi = periods[0], periods[-1]
    return f"{col}[{lo}]" if len(periods) == 1 else f"{col}[{lo}-{hi}]"


# --------------------------------------------------------------------------- results
@dataclass
class PlaceboResult:
    """In-space placebo inference.

    Attributes
    ----------
    table : DataFrame
        One row per unit (the treated unit first): ``unit``, ``treated``, ``pre_rmspe``,
        ``post_rmspe``, ``ratio`` (post/pre RMSPE), ``att`` and ``rank`` (1 = largest ratio).
    gaps : DataFrame
        Gap paths, one column per unit, indexed by time.
    p_value : float
        Share of units whose ratio is at least the treated unit's (Abadie et al. 2010): the
        smallest attainable value is ``1 / n_units``.
    n_starts : int
        Starts of the ``V`` search of every unit's fit in the table (treated included).
    """

    table: pd.DataFrame
    gaps: pd.DataFrame
    p_value: float
    n_starts: int


@dataclass
class LeaveOneOutResult:
    """Refits leaving out, one at a time, each donor with a positive weight.

    ``table``: ``dropped``, ``att``, ``pre_rmspe`` and the new weights' largest donor;
    ``gaps``: gap paths by dropped donor (columns) with the full-pool gap as ``"(none)"``.
    """

    table: pd.DataFrame
    gaps: pd.DataFrame


@dataclass(repr=False)
class SynthResult(ImpactResult):
    """Result of :func:`synthetic_control`.

    The headline (``estimate``; the first row of ``tidy()``) is the ATT, the mean gap over the
    post-treatment periods, with the in-space placebo p-value as ``p_value``. Synthetic control
    has no sampling standard error: ``std_error`` and ``conf_int`` are NaN. Its inference is
    the placebo permutation, which refits every donor: :meth:`with_inference` does that again
    (``placebo=True`` and/or another ``placebo_n_starts``), the treated fit unchanged.

    Attributes
    ----------
    weights : Series
        Donor weights (index: donor units), non-negative, summing to one.
    v : Series
        Predictor weights (index: predictor labels), for predictors scaled by their standard
        deviation across units, as in Synth's ``solution.v``.
    gap : Series
        Treated minus synthetic outcome, by time.
    treated_path, synthetic_path : Series
        The treated unit's outcome and its synthetic control, by time.
    pre_rmspe, post_rmspe : float
        Root mean squared gap over all pre-/post-treatment periods.
    loss_v : float
        MSPE of the outcome over ``optimize_period`` (Synth's ``loss.v``).
    loss_w : float
        Weighted predictor discrepancy at the solution (Synth's ``loss.w``).
    predictor_balance : DataFrame
        Predictors of the treated unit, its synthetic control and the donors' mean.
    placebos : PlaceboResult or None
        In-space placebo inference (``placebo=True``).
    starts : DataFrame
        One row per start and optimiser of the ``V`` search: its loss, convergence (of the whole
        run and of the first, Synth-like Nelder-Mead run), evaluations and largest donor. The
        problem is not convex; starts reaching different donors flag weakly identified weights.
    loss_bound : float
        The smallest MSPE over ``optimize_period`` that any donor mix reaches (the outcome fit
        alone): no ``V`` can do better, so ``loss_v / loss_bound`` near 1 shows the search found
        the global optimum, and a large ratio that the predictors pull the weights off the best
        outcome fit.
    search : str
        The ``V`` search used (``"thorough"`` or ``"synth"``).
    hull : HullDiagnostic
        :func:`~ucc_research.impact.hull_diagnostic` of the treated unit's pre-period outcome
        against the donors (with this ATT): ``.verdict`` and ``.reason`` say whether plain
        synthetic control can be trusted here.
    """

    weights: pd.Series
    v: pd.Series
    gap: pd.Series
    treated_path: pd.Series
    synthetic_path: pd.Series
    pre_rmspe: float
    post_rmspe: float
    loss_v: float
    loss_w: float
    predictor_balance: pd.DataFrame
    placebos: PlaceboResult | None
    treated: Any
    treatment_time: Any
    outcome: str
    n_starts: int
    converged: bool
    starts: pd.DataFrame
    loss_bound: float = np.nan
    search: str = "thorough"
    hull: Any = None
    n_obs: int = 0
    spec: SynthSpec | None = field(default=None, repr=False)
    _data: Any = field(default=None, repr=False)

    title = "Synthetic control"

    @property
    def _post_gap(self) -> pd.Series:
        return self.gap[self.gap.index >= self.treatment_time]

    def _tidy(self) -> pd.DataFrame:
        """The ATT (mean post-treatment gap) and one row per post-treatment period."""
        post = self._post_gap
        p = np.nan if self.placebos is None else self.placebos.p_value
        out = pd.DataFrame(
            {
                "term": ["ATT"] + [f"gap[{t}]" for t in post.index],
                "estimate": [float(post.mean()), *post.to_numpy(float)],
                "p_value": [p] + [np.nan] * len(post),
                "time": [np.nan, *post.index],
            }
        )
        out["inference"] = "in-space placebos" if self.placebos is not None else "none"
        return out

    def _summary_lines(self) -> list[str]:
        top = self.weights[self.weights > 0.001].sort_values(ascending=False)
        lines = [
            f"{self.treated!r}, outcome {self.outcome!r}, treatment at {self.treatment_time}",
            "donors with weight > 0.001: " + ", ".join(f"{u} {w:.4f}" for u, w in top.items()),
            f"pre-RMSPE = {self.pre_rmspe:.4f}; post-RMSPE = {self.post_rmspe:.4f}; MSPE over "
            f"optimize period = {self.loss_v:.6g}",
            f"V chosen by the {self.search!r} search from {self.n_starts} start(s)"
            + ("" if self.converged else " (best start hit the iteration limit)")
            + (
                f"; best possible MSPE (outcome fit alone) = {self.loss_bound:.6g}"
                if np.isfinite(self.loss_bound)
                else ""
            ),
        ]
        if len(self.starts) > 1:
            near = self.starts["loss_v"] <= self.loss_v * 1.05
            if self.starts.loc[near, "top_donor"].nunique() > 1 or (
                self.starts["top_donor"].nunique() > 1
            ):
                lines.append(
                    "note: starts ended at different donor mixes (non-convex V search); "
                    "see .starts and .leave_one_out() before relying on the weights"
                )
        if self.placebos is not None:
            t = self.placebos.table
            lines.append(
                f"in-space placebos ({self.placebos.n_starts} start(s) per fit): treated "
                "post/pre RMSPE ratio ranks "
                f"{int(t['rank'].iloc[0])} of {len(t)}; permutation p-value = "
                f"{self.placebos.p_value:.4f}"
            )
        else:
            lines.append("no placebo inference (placebo=False): no p-value")
        lines.append("(no standard errors: inference is by placebo permutation)")
        if self.hull is not None:
            lines.append(f"diagnostic: {self.hull.verdict.upper()}: {self.hull.reason}")
        return lines

    def with_inference(self, **options: Any) -> SynthResult:
        """In-space placebos again: ``placebo`` (True) and ``placebo_n_starts``."""
        unknown = set(options) - {"placebo", "placebo_n_starts"}
        if unknown:
            raise SpecError(
                f"with_inference takes placebo and placebo_n_starts, not {sorted(unknown)}"
            )
        spec = dataclasses.replace(self.spec, **{"placebo": True, **options})
        return _synthetic_control(self._data, spec)

    def _refit(self, exclude: Any) -> SynthResult:
        """The same fit without the donor ``exclude`` (no placebos)."""
        pool = [u for u in self.weights.index if u != exclude]
        spec = dataclasses.replace(self.spec, donors=pool, placebo=False, placebo_n_starts=None)
        return _synthetic_control(self._data, spec)

    def leave_one_out(self, min_weight: float = 0.001) -> LeaveOneOutResult:
        """Refit without each donor whose weight exceeds ``min_weight`` (robustness check)."""
        dropped = self.weights[self.weights > min_weight].sort_values(ascending=False).index
        gaps = {"(none)": self.gap}
        rows = []
        for d in dropped:
            fit = self._refit(exclude=d)
            gaps[d] = fit.gap
            rows.append(
                {
                    "dropped": d,
                    "att": fit.estimate,
                    "pre_rmspe": fit.pre_rmspe,
                    "top_donor": fit.weights.idxmax(),
                    "top_weight": float(fit.weights.max()),
                }
            )
        return LeaveOneOutResult(pd.DataFrame(rows), pd.DataFrame(gaps))

    def plot(self, kind: str = "paths", ax: Any = None, **kwargs: Any) -> Any:
        """Plot ``kind`` = ``"paths"`` (treated vs synthetic), ``"gap"`` or ``"placebo"``."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
        if kind == "paths":
            ax.plot(self.treated_path.index, self.treated_path, label=str(self.treated), **kwargs)
            ax.plot(self.synthetic_path.index, self.synthetic_path, "--", label="synthetic")
            ax.set_ylabel(self.outcome)
            ax.legend()
        elif kind == "gap":
            ax.plot(self.gap.index, self.gap, **kwargs)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_ylabel(f"gap in {self.outcome} (treated - synthetic)")
        elif kind == "placebo":
            if self.placebos is None:
                raise SpecError("no placebos to plot: fit with placebo=True")
            g = self.placebos.gaps
            for col in g.columns[1:]:
                ax.plot(g.index, g[col], color="lightgrey", lw=0.8)
            ax.plot(g.index, g.iloc[:, 0], color="black", lw=2, label=str(self.treated))
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_ylabel(f"gap in {self.outcome}")
            ax.legend()
        else:
            raise SpecError(f"unknown plot kind {kind!r}; use 'paths', 'gap' or 'placebo'")
        ax.axvline(self.treatment_time, color="grey", ls=":", lw=1)
        ax.set_xlabel("time")
        return ax


def _rmspe(g: pd.Series) -> float:
    return float(np.sqrt(np.mean(np.square(g.to_numpy()))))


def _one_fit(
    prob: _Problem,
    treated: Any,
    donors: list,
    n_starts: int,
    seed: int,
    v: Any,
    search: str = "thorough",
) -> tuple[_Fit, pd.Series]:
    x, y = prob.x, prob.y
    cols = [treated] + donors
    xs = x[cols]
    if (xs.std(axis=1, ddof=1) <= 0).any():
        raise SpecError(f"a predictor is constant across the units {show(cols)}")
    fit = _fit_weights(
        xs[treated].to_numpy(float),
        xs[donors].to_numpy(float),
        y.loc[prob.optimize_period, treated].to_numpy(float),
        y.loc[prob.optimize_period, donors].to_numpy(float),
        n_starts,
        np.random.default_rng(seed),
        v_fixed=None if v is None else np.asarray(v, float),
        search=search,
    )
    gap = y[treated] - y[donors].to_numpy() @ fit.w
    return fit, gap


def _period(value: Any) -> Any:
    """A period for a message: ``20``, not ``20.0`` (a NaN in the column makes it float)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return value


def _adoption_donors(
    data: pd.DataFrame,
    unit: str,
    time: str,
    treated: Any,
    adoption: str | None,
    donors: Sequence[Any] | None,
) -> list | None:
    """The donor pool given an adoption column: the pool, with treated donors left out or flagged.

    Donors adopting at or before the treated unit's last period would carry their own effect into
    the synthetic control, so the default pool leaves them out; a donor treated at any time (one
    you named, or one adopting after the window) draws a warning naming it and its period.
    """
    if adoption is None:
        return None if donors is None else list(donors)
    check_frame(data)
    check_columns(data, [unit, time, adoption], "column")
    first = data[[unit, adoption]].copy()
    never = first[adoption].isna() | first[adoption].isin([0, "", "0"])
    first.loc[never, adoption] = np.nan
    per_unit = first.groupby(unit, sort=False)[adoption]
    n_values = per_unit.nunique(dropna=False)
    if (n_values > 1).any():
        bad = n_values[n_values > 1].index.tolist()
        raise SpecError(
            f"adoption column {adoption!r} must hold one first-treated period per unit; unit(s) "
            f"{show(bad)} have several"
        )
    adopted = per_unit.first().dropna()
    end = data.loc[data[unit] == treated, time].max()
    if pd.isna(end):
        raise SpecError(f"treated unit {treated!r} is not in column {unit!r}")
    try:
        early = adopted[adopted <= end]
    except TypeError as err:
        raise SpecError(
            f"adoption column {adoption!r} holds values {show(adopted.unique())} that cannot be "
            f"compared with the periods of {time!r} (e.g. {end!r})"
        ) from err
    if donors is None:
        pool = [u for u in pd.unique(data[unit]) if u != treated and u not in early.index]
        left_out = [u for u in early.index if u != treated]
        if left_out:
            warnings.warn(
                f"synthetic control for {treated!r}: left out {len(left_out)} donor(s) treated "
                f"at or before {end!r} (column {adoption!r}): {show(left_out)}",
                UccWarning,
                stacklevel=4,
            )
    else:
        pool = list(donors)
    flagged = [(u, _period(adopted[u])) for u in pool if u in adopted.index]
    if flagged:
        warnings.warn(
            f"synthetic control for {treated!r}: donor(s) {show(flagged)} are themselves "
            f"treated (unit, first treated period in {adoption!r}); their effects leak into "
            "the synthetic control",
            UccWarning,
            stacklevel=4,
        )
    return pool


def synthetic_control(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: Any,
    treatment_time: Any,
    predictors: Sequence[str] | None = None,
    special_predictors: Sequence[tuple] | None = None,
    predictor_period: Iterable[Any] | None = None,
    optimize_period: Iterable[Any] | None = None,
    donors: Sequence[Any] | None = None,
    n_starts: int = 8,
    seed: int = 0,
    placebo: bool = True,
    placebo_n_starts: int | None = None,
    v: Sequence[float] | None = None,
    search: str = "thorough",
    adoption: str | None = None,
) -> SynthResult:
    """Synthetic control estimate of the effect on one treated unit.

    Parameters
    ----------
    data : DataFrame
        Long panel: one row per unit and period.
    outcome, unit, time : str
        Column names; ``time`` sorts chronologically (numbers, dates, ISO strings).
    treated, treatment_time : scalar
        The treated unit, and its first treated period (earlier periods are pre-treatment).
    predictors : list of str, optional
        Columns averaged over ``predictor_period`` (missing values skipped, as in Synth).
        Without these and ``special_predictors``: the outcome in each pre-treatment period.
    special_predictors : list of tuples, optional
        ``(column, periods[, "mean"])``: a predictor averaged over its own periods.
    predictor_period, optimize_period : iterable, optional
        Pre-treatment periods averaging ``predictors`` and those whose outcome MSPE chooses
        ``V`` (both default to all pre-treatment periods).
    donors : list, optional
        Donor pool; default every other unit.
    n_starts, seed : int
        Starts of the ``V`` search (equal, regression-based, outcome-fit, then seeded random).
    placebo, placebo_n_starts : bool, int
        In-space placebos (one fit per donor) and their starts (default ``n_starts``; if
        different, the treated unit is refitted alike so the test stays fair).
    v : sequence of float, optional
        Fixed predictor weights (skips the ``V`` search), in predictor order.
    search : {"thorough", "synth"}
        R Synth's own search, or (default) one that also starts at the best outcome fit and
        polishes every start (module docstring); every run is in ``.starts``.
    adoption : str, optional
        Each unit's first treated period (empty for never): donors treated within the window
        are left out of the default pool, treated donors draw a warning.

    Returns
    -------
    SynthResult

    Examples
    --------
    SYNTHETIC: six donors on random walks; ``T`` is 0.7 A + 0.3 B, minus 2 from 2015:

    >>> rng = np.random.default_rng(0)
    >>> years = np.arange(2000, 2020)
    >>> paths = {u: 10 + np.cumsum(rng.normal(0.3, 1, years.size)) for u in "ABCDEF"}
    >>> paths["T"] = 0.7 * paths["A"] + 0.3 * paths["B"] - 2.0 * (years >= 2015)
    >>> df = pd.DataFrame([(u, yr, y) for u, p in paths.items() for yr, y in zip(years, p)],
    ...                   columns=["city", "year", "y"])
    >>> res = synthetic_control(df, "y", "city", "year", treated="T", treatment_time=2015)
    >>> res.weights.nlargest(2).round(3).to_dict()
    {'A': 0.7, 'B': 0.3}
    >>> round(res.estimate, 3), round(res.pre_rmspe, 3), round(res.p_value, 3)  # p >= 1/7
    (-2.0, 0.0, 0.143)
    """
    given = locals()
    spec = SynthSpec(**{f.name: given[f.name] for f in dataclasses.fields(SynthSpec)})
    spec = _check_spec(spec, data, adoption)
    return _synthetic_control(data, spec)


def _check_spec(spec: SynthSpec, data: pd.DataFrame, adoption: str | None) -> SynthSpec:
    """Checked options, with the donor pool an ``adoption`` column implies."""
    if spec.search not in _SEARCHES:
        raise SpecError(f"search must be one of {show(_SEARCHES)}, got {spec.search!r}")
    for name in ("n_starts", "placebo_n_starts"):
        val = getattr(spec, name)
        if val is not None and (not isinstance(val, int | np.integer) or val < 1):
            raise SpecError(f"{name} must be a positive integer, got {val!r}")
    donors = _adoption_donors(data, spec.unit, spec.time, spec.treated, adoption, spec.donors)
    return dataclasses.replace(spec, seed=check_seed(spec.seed), donors=donors)


def _check_v(v: Any, prob: _Problem) -> np.ndarray | None:
    if v is None:
        return None
    v = np.asarray(v, float)
    if v.shape != (len(prob.predictor_names),) or (v < 0).any() or v.sum() <= 0:
        raise SpecError(
            f"v must hold {len(prob.predictor_names)} non-negative weights (one per "
            f"predictor: {show(prob.predictor_names)})"
        )
    return v


def _hull(prob: _Problem, spec: SynthSpec, gap: pd.Series) -> Any:
    """The convex-hull diagnostic of the treated unit's pre-period outcome (with this ATT)."""
    from ucc_research.impact.diagnostics import HullDiagnostic, _diagnose

    donors = prob.units[1:]
    pre_y = prob.y.loc[prob.pre]
    att = float(gap[gap.index >= spec.treatment_time].mean())
    verdict, reason, measures, w_hull = _diagnose(
        pre_y[spec.treated].to_numpy(float), pre_y[donors].to_numpy(float), donors, att
    )
    return HullDiagnostic(spec.treated, verdict, reason, measures,
                          pd.Series(w_hull, index=pd.Index(donors, name=spec.unit)))  # fmt: skip


def _placebos(prob: _Problem, spec: SynthSpec, v, gap: pd.Series) -> PlaceboResult:
    """Every donor fitted as if treated, by the same procedure as the treated unit."""
    donors = prob.units[1:]
    p_starts = spec.n_starts if spec.placebo_n_starts is None else spec.placebo_n_starts
    args = (p_starts, spec.seed, v, spec.search)
    gaps = {spec.treated: gap}
    if p_starts != spec.n_starts and v is None:
        gaps[spec.treated] = _one_fit(prob, spec.treated, donors, *args)[1]
    for d in donors:
        gaps[d] = _one_fit(prob, d, [u for u in donors if u != d], *args)[1]
    return _placebo_table(pd.DataFrame(gaps), spec.treated, gap.index < spec.treatment_time,
                          p_starts)  # fmt: skip


def _synthetic_control(data: pd.DataFrame, spec: SynthSpec) -> SynthResult:
    """:func:`synthetic_control` on validated options."""
    prob = _prepare(data, spec)
    v = _check_v(spec.v, prob)
    donors, treated, unit = prob.units[1:], spec.treated, spec.unit
    fit, gap = _one_fit(prob, treated, donors, spec.n_starts, spec.seed, v, spec.search)
    starts = fit.starts
    if len(starts):
        starts = starts.assign(top_donor=[donors[i] for i in starts["top_donor"]])
    pre_mask = gap.index < spec.treatment_time
    balance = pd.DataFrame(
        {
            "treated": prob.x[treated],
            "synthetic": prob.x[donors].to_numpy() @ fit.w,
            "donor_mean": prob.x[donors].mean(axis=1),
        }
    )
    return SynthResult(
        weights=pd.Series(fit.w, index=pd.Index(donors, name=unit), name="weight"),
        v=pd.Series(fit.v, index=pd.Index(prob.predictor_names, name="predictor"), name="v"),
        gap=gap.rename("gap"),
        treated_path=prob.y[treated].rename(str(treated)),
        synthetic_path=(prob.y[treated] - gap).rename("synthetic"),
        pre_rmspe=_rmspe(gap[pre_mask]),
        post_rmspe=_rmspe(gap[~pre_mask]),
        loss_v=fit.loss_v,
        loss_w=fit.loss_w,
        predictor_balance=balance,
        placebos=_placebos(prob, spec, v, gap) if spec.placebo else None,
        treated=treated,
        treatment_time=spec.treatment_time,
        outcome=spec.outcome,
        n_starts=fit.n_starts,
        converged=fit.converged,
        loss_bound=fit.bound,
        search=spec.search,
        starts=starts,
        hull=_hull(prob, spec, gap),
        n_obs=int(prob.y.size),
        spec=dataclasses.replace(spec, optimize_period=tuple(prob.optimize_period)),
        _data=data,
    )


def _placebo_table(
    gaps: pd.DataFrame, treated: Any, pre_mask: np.ndarray, n_starts: int
) -> PlaceboResult:
    pre = np.sqrt((gaps[pre_mask] ** 2).mean())
    post = np.sqrt((gaps[~pre_mask] ** 2).mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = post / pre  # an exact pre-fit gives inf (ranked first); 0/0 gives NaN (last)
    table = pd.DataFrame(
        {
            "unit": gaps.columns,
            "treated": [c == treated for c in gaps.columns],
            "pre_rmspe": pre.to_numpy(),
            "post_rmspe": post.to_numpy(),
            "ratio": ratio.to_numpy(),
            "att": gaps[~pre_mask].mean().to_numpy(),
        }
    )
    table["rank"] = (
        table["ratio"].rank(ascending=False, method="max", na_option="bottom").astype(int)
    )
    p = float((ratio >= ratio[treated]).mean())
    return PlaceboResult(table=table, gaps=gaps, p_value=p, n_starts=n_starts)
