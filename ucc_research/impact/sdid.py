"""Synthetic difference-in-differences and the augmented synthetic control, for one treated unit
or staggered adoption, with placebo and jackknife standard errors.

Four estimators share one frame (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, "Synthetic
Difference-in-Differences", AER 111(12), eq. 1-4):

``"sdid"``
    Unit weights ``omega`` (simplex, with an intercept, ridge ``zeta_omega``) and time weights
    ``lambda`` (simplex, with an intercept) by the Frank-Wolfe solver of the R package
    ``synthdid`` (its defaults: ``zeta_omega = (N1 T1)^(1/4) sd(diff(Y_control,pre))``, ``zeta_lambda
    = 1e-6 sd(...)``, a sparsified second pass), then the weighted two-way difference.
``"sc"``
    Synthetic control on the pre-period outcome path (simplex weights without intercept, by the
    same Frank-Wolfe solver with a vanishing ridge, as synthdid's ``sc_estimate``), no time
    weights: treated minus synthetic over the post periods. (:func:`synthetic_control` is the
    Abadie-Diamond-Hainmueller estimator with predictors and ``V``.)
``"did"``
    Equal unit and time weights: the two-way fixed-effects difference-in-differences.
``"ascm"``
    Ridge-augmented synthetic control (Ben-Michael, Feller & Rothstein 2021, JASA 116(536)): the
    synthetic-control weights plus the ridge-regression correction of the remaining pre-period
    imbalance, ``gamma = gamma_sc + (x1 - X0' gamma_sc)' (X0c' X0c + r I)^-1 X0c'`` (``X0c`` the
    control pre-periods centred on their mean). The weights may be negative: ASCM extrapolates
    when the treated unit lies outside the donors' convex hull, where plain SC cannot. The ridge
    penalty ``r`` is chosen as in ``augsynth``: rolling-origin cross-validation over the
    pre-periods on a log grid, the largest penalty within one standard error of the minimum.

Staggered adoption (Clarke, Pailanir, Athey & Imbens 2023, "Synthetic difference-in-differences
estimation", Stata Journal): each adoption cohort is estimated against the never-treated units
with its own pre-period, and the cohort estimates are averaged with weights proportional to their
treated unit-periods (``N_g x T_post_g``).

Inference. ``se="placebo"`` (Arkhangelsky et al. 2021, Algorithm 4; Clarke et al. for staggered
adoption): the treated units are set aside, the adoption dates are given at random to as many
never-treated units, and the whole estimator (weights included) is re-run; the standard error is
the standard deviation of those placebo estimates. Its justification is design-based: if the
adoption dates could have fallen on any never-treated unit, the placebo estimates are draws of the
estimator's error under no effect. It needs more never-treated than treated units and assumes
homoskedasticity across units. ``se="jackknife"`` (Algorithm 3) leaves out one unit at a time
with the weights held fixed; it needs at least two treated units in every cohort (with a single
treated unit it is undefined). Intervals are ``estimate +/- z_{1-alpha/2} se``.

Validated against the published California Proposition 99 numbers (Arkhangelsky et al. 2021,
Table 1: DID -27.3, SC -19.6, SDID -15.6 packs per capita; tests/test_sdid.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact._checks import (
    check_columns,
    check_frame,
    check_numeric,
    check_seed,
    check_unique_rows,
    one_value_per_unit,
    show,
)
from ucc_research.impact.base import TIDY_COLUMNS, ImpactResult
from ucc_research.impact.synth import _simplex_qp

__all__ = [
    "synthetic_did",
    "augmented_synthetic_control",
    "compare_estimators",
    "describe_agreement",
    "SDIDResult",
]

METHODS = ("sdid", "sc", "did", "ascm")
_LABELS = {
    "sdid": "synthetic difference-in-differences",
    "sc": "synthetic control",
    "did": "difference-in-differences",
    "ascm": "augmented synthetic control (ridge)",
}
_SE_METHODS = ("auto", "placebo", "jackknife", "none")
_MAX_ITER = 10_000  # synthdid's max.iter
_MAX_ITER_PRE = 100  # synthdid's max.iter.pre.sparsify


# --------------------------------------------------------------------------- weight solvers
def _fw(
    a: np.ndarray,
    b: np.ndarray,
    zeta: float,
    intercept: bool,
    x: np.ndarray,
    min_decrease: float,
    max_iter: int,
) -> np.ndarray:
    """Frank-Wolfe for ``min ||A x - b||^2 / n + zeta^2 ||x||^2`` on the simplex (synthdid's
    ``sc.weight.fw``: exact line search, stop when a step gains less than ``min_decrease^2``)."""
    if intercept:
        a = a - a.mean(axis=0)
        b = b - b.mean()
    n = a.shape[0]
    eta = n * zeta**2
    # Work with the Gram matrix: every step is then O(columns), not O(rows x columns).
    gram = a.T @ a
    atb = a.T @ b
    btb = float(b @ b)
    diag = gram.diagonal()
    x = x.copy()
    gx = gram @ x
    xgx = float(x @ gx)
    xx = float(x @ x)
    xatb = float(x @ atb)
    prev = np.inf
    z2 = zeta**2
    for it in range(max_iter):
        half_grad = gx - atb + eta * x
        i = int(np.argmin(half_grad))
        xi = x[i]
        if xi == 1.0 and xx == 1.0:
            break
        # d = e_i - x: the line search on the quadratic, in closed form.
        slope = half_grad[i] - float(half_grad @ x)
        curv = diag[i] - 2 * gx[i] + xgx + eta * (1 - 2 * xi + xx)
        if curv <= 0:
            break
        step = min(1.0, max(0.0, -slope / curv))
        s1 = 1 - step
        gx_i_old = gx[i]
        x *= s1
        x[i] += step
        new_gx = s1 * gx + step * gram[:, i]
        xgx = s1 * s1 * xgx + 2 * s1 * step * gx_i_old + step * step * diag[i]
        xx = s1 * s1 * xx + 2 * s1 * step * xi + step * step
        xatb = s1 * xatb + step * atb[i]
        gx = new_gx
        val = z2 * xx + (xgx - 2 * xatb + btb) / n
        if it >= 1 and prev - val <= min_decrease**2:
            break
        prev = val
    return x


def _sparsify(v: np.ndarray) -> np.ndarray:
    v = np.where(v <= v.max() / 4, 0.0, v)
    return v / v.sum()


def _sc_weights(y0_pre: np.ndarray, y1_pre: np.ndarray) -> np.ndarray:
    """Exact simplex least squares of the treated pre-path on the controls' (no intercept)."""
    d = y0_pre - y1_pre[:, None]
    return _simplex_qp(d.T @ d)


def _ridge_adjust(y0_pre: np.ndarray, y1_pre: np.ndarray, w: np.ndarray, r: float) -> np.ndarray:
    """ASCM's ridge correction of simplex weights ``w`` (sums to zero, may be negative)."""
    x0c = y0_pre - y0_pre.mean(axis=1, keepdims=True)  # T0 x N0, centred across controls
    x1c = y1_pre - y0_pre.mean(axis=1)
    imbalance = x1c - x0c @ w
    k = x0c @ x0c.T + r * np.eye(x0c.shape[0])
    return x0c.T @ np.linalg.solve(k, imbalance)


def _ridge_grid(y0_pre: np.ndarray) -> np.ndarray:
    x0c = y0_pre - y0_pre.mean(axis=1, keepdims=True)
    top = float(np.linalg.svd(x0c, compute_uv=False)[0] ** 2)
    return top * np.logspace(0, -8, 20) if top > 0 else np.array([1.0])


def _choose_ridge(y0_pre: np.ndarray, y1_pre: np.ndarray) -> tuple[float, pd.DataFrame]:
    """Ridge penalty by rolling-origin cross-validation over the pre-periods (augsynth's rule).

    Each fold fits on the periods before ``s`` and predicts period ``s`` (the later half of the
    pre-periods); the penalty kept is the largest whose mean squared error is within one standard
    error of the smallest.
    """
    t0 = y0_pre.shape[0]
    grid = _ridge_grid(y0_pre)
    folds = list(range(max(2, t0 // 2), t0))
    if not folds:
        return float(grid[0]), pd.DataFrame({"ridge": grid, "cv_mse": np.nan, "cv_se": np.nan})
    errors = np.empty((len(grid), len(folds)))
    for j, s in enumerate(folds):
        a0, a1 = y0_pre[:s], y1_pre[:s]
        w = _sc_weights(a0, a1)
        for i, r in enumerate(grid):
            g = w + _ridge_adjust(a0, a1, w, r)
            errors[i, j] = (y1_pre[s] - y0_pre[s] @ g) ** 2
    mse = errors.mean(axis=1)
    se = errors.std(axis=1, ddof=1) / np.sqrt(len(folds)) if len(folds) > 1 else np.zeros_like(mse)
    best = int(np.argmin(mse))
    ok = np.nonzero(mse <= mse[best] + se[best])[0]
    chosen = float(grid[ok.min()])  # the grid runs from the largest penalty down
    return chosen, pd.DataFrame({"ridge": grid, "cv_mse": mse, "cv_se": se})


# --------------------------------------------------------------------------- one block
@dataclass
class _Block:
    """One cohort's estimate: weights, effect and per-period effects."""

    tau: float
    omega: np.ndarray
    lam: np.ndarray
    effects: np.ndarray  # per period (pre and post), treated minus weighted controls, de-meaned
    ridge: float = np.nan


def _block(
    y0: np.ndarray, y1: np.ndarray, t0: int, method: str, ridge: float | None, n1: int
) -> _Block:
    """Estimate on controls ``y0`` (N0 x T) and the treated mean path ``y1`` (T) with ``t0``
    pre-periods; ``n1`` treated units (it sets synthdid's regularisation)."""
    n0, t = y0.shape
    t1 = t - t0
    pre0, post0 = y0[:, :t0], y0[:, t0:]
    if method == "did":
        omega = np.full(n0, 1.0 / n0)
        lam = np.full(t0, 1.0 / t0)
    elif method == "sc":
        # synthdid's sc_estimate: the same Frank-Wolfe path with a vanishing ridge and no
        # intercept, which is what the published Proposition 99 number (-19.6) comes from.
        noise = float(np.std(np.diff(pre0, axis=1), ddof=1)) if t0 > 1 else 0.0
        zeta = 1e-6 * noise
        omega = _fw(pre0.T, y1[:t0], zeta, False, np.full(n0, 1 / n0), 1e-5 * noise,
                    _MAX_ITER_PRE)  # fmt: skip
        omega = _fw(pre0.T, y1[:t0], zeta, False, _sparsify(omega), 1e-5 * noise, _MAX_ITER)
        lam = np.zeros(t0)
    elif method == "ascm":
        w = _sc_weights(pre0.T, y1[:t0])
        if ridge is None:
            ridge, _ = _choose_ridge(pre0.T, y1[:t0])
        omega = w + _ridge_adjust(pre0.T, y1[:t0], w, ridge)
        lam = np.zeros(t0)
    else:  # sdid, synthdid's defaults
        noise = float(np.std(np.diff(pre0, axis=1), ddof=1)) if t0 > 1 else 0.0
        zeta_omega = (n1 * t1) ** 0.25 * noise
        zeta_lambda = 1e-6 * noise
        min_dec = 1e-5 * noise
        # time weights: regress the controls' post mean on their pre-periods
        lam = _fw(pre0, post0.mean(axis=1), zeta_lambda, True, np.full(t0, 1 / t0), min_dec,
                  _MAX_ITER_PRE)  # fmt: skip
        lam = _fw(pre0, post0.mean(axis=1), zeta_lambda, True, _sparsify(lam), min_dec, _MAX_ITER)
        # unit weights: regress the treated pre path on the controls'
        omega = _fw(pre0.T, y1[:t0], zeta_omega, True, np.full(n0, 1 / n0), min_dec,
                    _MAX_ITER_PRE)  # fmt: skip
        omega = _fw(pre0.T, y1[:t0], zeta_omega, True, _sparsify(omega), min_dec, _MAX_ITER)
    gap = y1 - omega @ y0  # treated minus weighted controls, every period
    base = lam @ gap[:t0]
    effects = gap - base
    tau = float(effects[t0:].mean())
    return _Block(tau, omega, lam, effects, np.nan if ridge is None else float(ridge))


# --------------------------------------------------------------------------- data
@dataclass
class _Panel:
    y: np.ndarray  # units x times
    units: list
    times: list
    first: np.ndarray  # index of the first treated period per unit; -1 never treated


def _panel(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None,
    adoption: str | None,
) -> tuple[_Panel, list[str]]:
    check_frame(data)
    if (treatment is None) == (adoption is None):
        raise SpecError(
            "give exactly one of treatment= (a 0/1 column, 1 from the first treated period on) "
            "or adoption= (the first treated period of each unit; empty for never treated)"
        )
    role = treatment if treatment is not None else adoption
    check_columns(data, [outcome, unit, time, role], "column")
    check_numeric(data, [outcome], "outcome")
    check_unique_rows(data, [unit, time])
    y = data.pivot(index=unit, columns=time, values=outcome)
    y = y.sort_index(axis=1)
    if y.isna().any(axis=None):
        holes = [(u, t) for u, row in y.iterrows() for t, v in row.items() if pd.isna(v)]
        raise SpecError(
            f"outcome {outcome!r} is missing for unit-period(s) {show(holes)}; these estimators "
            "need a balanced panel (drop the unit or the periods)"
        )
    times = list(y.columns)
    units = list(y.index)
    notes: list[str] = []
    if treatment is not None:
        check_numeric(data, [treatment], "treatment")
        d = data.pivot(index=unit, columns=time, values=treatment).reindex(
            index=units, columns=times
        )
        bad = ~d.isin([0, 1])
        if bad.any(axis=None):
            rows = [(u, t) for u, row in bad.iterrows() for t, v in row.items() if v]
            raise SpecError(f"treatment {treatment!r} must be 0 or 1; not at {show(rows)}")
        dv = d.to_numpy(dtype=int)
        back = np.diff(dv, axis=1) < 0
        if back.any():
            who = [units[i] for i in np.nonzero(back.any(axis=1))[0]]
            raise SpecError(
                f"treatment {treatment!r} switches off for unit(s) {show(who)}; these estimators "
                "need absorbing treatment (once treated, treated from then on)"
            )
        first = np.where(dv.any(axis=1), dv.argmax(axis=1), -1)
    else:
        per_unit = one_value_per_unit(data, unit, adoption, "adoption column")
        first = np.full(len(units), -1)
        for i, u in enumerate(units):
            vals = per_unit[u]
            g = vals[0] if vals else None
            if g is None or g in (0, "", "0"):
                continue
            try:
                later = [j for j, t in enumerate(times) if t >= g]
            except TypeError as err:
                raise SpecError(
                    f"adoption column {adoption!r}: value {g!r} of unit {u!r} cannot be compared "
                    f"with the periods of {time!r} (e.g. {times[0]!r})"
                ) from err
            if later:
                first[i] = later[0]
    always = [units[i] for i in np.nonzero(first == 0)[0]]
    if always:
        notes.append(
            f"left out {len(always)} unit(s) treated from the first period (no pre-period): "
            f"{show(always)}"
        )
    keep = first != 0
    panel = _Panel(y.to_numpy(float)[keep], [u for u, k in zip(units, keep) if k], times,
                   first[keep])  # fmt: skip
    return panel, notes


# --------------------------------------------------------------------------- estimator
@dataclass
class _Fit:
    att: float
    cohorts: pd.DataFrame
    blocks: dict


def _fit(panel: _Panel, method: str, ridges: dict | None, min_pre: int) -> tuple[_Fit, list[str]]:
    y, first = panel.y, panel.first
    controls = np.nonzero(first < 0)[0]
    if controls.size < 2:
        raise SpecError(f"need at least 2 never-treated units as controls, found {controls.size}")
    notes = []
    rows, blocks = [], {}
    for g in sorted(set(first[first > 0].tolist())):
        members = np.nonzero(first == g)[0]
        if g < min_pre:
            notes.append(
                f"cohort {panel.times[g]!r} left out: {g} pre-period(s), fewer than {min_pre}"
            )
            continue
        ridge = None if ridges is None else ridges.get(g)
        b = _block(y[controls], y[members].mean(axis=0), g, method, ridge, members.size)
        blocks[g] = b
        rows.append(
            {
                "cohort": panel.times[g],
                "n_treated": int(members.size),
                "n_pre": int(g),
                "n_post": int(len(panel.times) - g),
                "att": b.tau,
            }
        )
    if not rows:
        raise SpecError(
            "no treated cohort can be estimated (each needs a pre-period of at least "
            f"{min_pre} periods and treated units); check the adoption/treatment column"
        )
    table = pd.DataFrame(rows)
    size = table["n_treated"] * table["n_post"]
    table["weight"] = size / size.sum()
    att = float((table["weight"] * table["att"]).sum())
    return _Fit(att, table, blocks), notes


@dataclass(repr=False)
class SDIDResult(ImpactResult):
    """Result of :func:`synthetic_did` / :func:`augmented_synthetic_control`.

    The headline (``estimate``, ``std_error``, ``conf_int``, ``p_value``; the first row of
    ``tidy()``) is the average effect on the treated (cohort estimates weighted by treated
    unit-periods), with the standard error of ``se_method``, a normal interval and a two-sided
    p-value (NaN with ``se="none"``). :meth:`with_inference` recomputes the standard errors
    with another ``se``, ``n_reps``, ``seed`` or ``alpha``, the weights held as fitted.

    Attributes
    ----------
    table : DataFrame
        ``tidy()``'s rows: the ATT (``term`` ``ATT``) and one per cohort (``ATT[cohort]``).
    cohorts : DataFrame
        One row per adoption cohort: ``cohort``, ``n_treated``, ``n_pre``, ``n_post``, ``att``,
        ``weight`` and, with an ``se``, the cohort's ``se``.
    unit_weights : DataFrame
        Control-unit weights (``omega``), one column per cohort.
    time_weights : DataFrame
        Pre-period weights (``lambda``), one column per cohort (zeros for SC and ASCM).
    effects : DataFrame
        Per cohort and period: treated minus weighted controls, less its weighted pre-period
        level (``event_time`` = period index minus the cohort's first treated index).
    draws : ndarray
        The placebo or jackknife estimates behind the standard error.
    notes : list of str
        Units or cohorts left out, and why.
    """

    method: str
    table: pd.DataFrame
    se_method: str
    n_reps: int
    alpha: float
    n_obs: int
    cohorts: pd.DataFrame
    unit_weights: pd.DataFrame
    time_weights: pd.DataFrame
    effects: pd.DataFrame
    draws: np.ndarray
    outcome: str
    n_controls: int
    notes: list[str] = field(default_factory=list)
    ridge: dict = field(default_factory=dict)
    _state: Any = field(default=None, repr=False)  # what with_inference needs (see _result)

    @property
    def title(self) -> str:  # type: ignore[override]
        return f"{_LABELS[self.method].capitalize()} on {self.outcome!r}"

    def _tidy(self) -> pd.DataFrame:
        return self.table

    def _summary_lines(self) -> list[str]:
        se = (
            f"{self.se_method} standard error over {self.n_reps} draws, "
            f"{100 * (1 - self.alpha):.0f}% normal interval"
            if self.se_method != "none"
            else "no standard error"
        )
        lines = [
            f"{len(self.cohorts)} cohort(s), {int(self.cohorts['n_treated'].sum())} treated "
            f"unit(s), {self.n_controls} never-treated control(s); {se}",
        ]
        for r in self.cohorts.to_dict("records"):
            lines.append(
                f"cohort {r['cohort']}: {r['n_treated']} unit(s), {r['n_pre']} pre / "
                f"{r['n_post']} post periods, ATT {r['att']:.4f}, weight {r['weight']:.3f}"
            )
        return lines + [f"note: {n}" for n in self.notes]

    def with_inference(self, **options: Any) -> SDIDResult:
        """Other inference for the same fit: ``se``, ``n_reps``, ``seed``, ``alpha``."""
        unknown = set(options) - {"se", "n_reps", "seed", "alpha"}
        if unknown:
            raise SpecError(f"with_inference takes se, n_reps, seed, alpha; not {sorted(unknown)}")
        panel, fit, ridges, min_pre, seed, n_reps = self._state
        kw = {"se": self.se_method, "n_reps": n_reps, "seed": seed, "alpha": self.alpha, **options}
        seed = _check_common(self.method, kw["se"], kw["n_reps"], kw["alpha"], kw["seed"])
        notes = [n for n in self.notes if "standard error" not in n]
        inf = _inference(panel, fit, self.method, ridges, kw["se"], kw["n_reps"], seed, min_pre,
                         notes)  # fmt: skip
        names = (self.outcome, self.unit_weights.index.name, self.time_weights.index.name)
        state = (panel, fit, ridges, min_pre, seed, kw["n_reps"])
        return _result(state, self.method, inf, kw["alpha"], names, notes)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Per-period effects by event time, one line per cohort."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
        for cohort, grp in self.effects.groupby("cohort"):
            ax.plot(grp["event_time"], grp["effect"], marker="o", label=str(cohort), **kwargs)
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", ls=":", lw=1)
        ax.set_xlabel("periods since adoption")
        ax.set_ylabel(f"effect on {self.outcome}")
        ax.legend(title="cohort")
        return ax


def _check_common(method, se, n_reps, alpha, seed):
    if method not in METHODS:
        raise SpecError(f"method must be one of {show(METHODS)}, got {method!r}")
    if se not in _SE_METHODS:
        raise SpecError(f"se must be one of {show(_SE_METHODS)}, got {se!r}")
    if isinstance(n_reps, bool) or not isinstance(n_reps, int | np.integer) or n_reps < 2:
        raise SpecError(f"n_reps must be an integer of at least 2, got {n_reps!r}")
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise SpecError(f"alpha must be in (0, 1), got {alpha!r}")
    return check_seed(seed)


def _auto_se(panel: _Panel, fit: _Fit, notes: list[str]) -> str:
    """Placebo when there are more controls than treated units, else jackknife, else none."""
    n_treated = int(fit.cohorts["n_treated"].sum())
    n_controls = int(np.sum(panel.first < 0))
    if n_controls > n_treated:
        return "placebo"
    if (fit.cohorts["n_treated"] >= 2).all():
        notes.append(
            f"jackknife standard error: the placebo needs more never-treated units "
            f"({n_controls}) than treated ({n_treated})"
        )
        return "jackknife"
    notes.append(
        f"no standard error: the placebo needs more never-treated units ({n_controls}) "
        f"than treated ({n_treated}), the jackknife two treated units in every cohort"
    )
    return "none"


def _inference(panel, fit, method, ridges, se, n_reps, seed, min_pre, notes) -> tuple:
    """(se method, draws, overall se, cohort ses) of the chosen standard error."""
    if se == "auto":
        se = _auto_se(panel, fit, notes)
    if se == "placebo":
        draws, cohort_draws = _placebo(panel, fit, method, ridges, n_reps, seed, min_pre)
        scale = np.sqrt((n_reps - 1) / n_reps)
        return (se, draws, float(scale * np.std(draws, ddof=1)),
                scale * np.nanstd(cohort_draws, axis=0, ddof=1))  # fmt: skip
    if se == "jackknife":
        draws, cohort_draws = _jackknife(panel, fit)
        n = draws.size
        dev = cohort_draws - np.nanmean(cohort_draws, axis=0)
        counts = np.sum(np.isfinite(cohort_draws), axis=0)
        return (se, draws, float(np.sqrt((n - 1) / n * np.sum((draws - draws.mean()) ** 2))),
                np.sqrt((counts - 1) / counts * np.nansum(dev**2, axis=0)))  # fmt: skip
    return se, np.array([]), np.nan, np.full(len(fit.cohorts), np.nan)


def _table(fit: _Fit, se_val: float, cohort_se: np.ndarray, alpha: float, method: str):
    """The tidy rows: the ATT and each cohort's, with normal intervals and p-values."""
    from scipy import stats

    z = stats.norm.ppf(1 - alpha / 2)
    out = pd.DataFrame(
        {
            "term": ["ATT"] + [f"ATT[{c}]" for c in fit.cohorts["cohort"]],
            "estimate": [fit.att, *fit.cohorts["att"]],
            "std_error": [se_val, *cohort_se],
            "cohort": [np.nan, *fit.cohorts["cohort"]],
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["p_value"] = 2 * stats.norm.sf(np.abs(out["estimate"] / out["std_error"]))
    out["conf_low"] = out["estimate"] - z * out["std_error"]
    out["conf_high"] = out["estimate"] + z * out["std_error"]
    out["method"] = _LABELS[method]
    return out


def _result(state: tuple, method: str, inf: tuple, alpha: float, names: tuple, notes: list):
    """The :class:`SDIDResult` of a fit and its inference (``state``: the panel, fit, ridges,
    min_pre, seed and n_reps that :meth:`SDIDResult.with_inference` starts from)."""
    panel, fit, ridges = state[:3]
    outcome, unit, time = names
    se, draws, se_val, cohort_se = inf
    cohorts = fit.cohorts.copy()
    if se != "none":
        cohorts["se"] = cohort_se
    controls = [panel.units[i] for i in np.nonzero(panel.first < 0)[0]]
    gs = list(fit.blocks)
    names = [panel.times[g] for g in gs]
    unit_w = pd.DataFrame({n: fit.blocks[g].omega for n, g in zip(names, gs)},
                          index=pd.Index(controls, name=unit))  # fmt: skip
    time_w = pd.DataFrame(
        {n: pd.Series(fit.blocks[g].lam, index=panel.times[:g]) for n, g in zip(names, gs)}
    ).rename_axis(time)
    eff = pd.concat(
        [pd.DataFrame({"cohort": n, time: panel.times,
                       "event_time": np.arange(len(panel.times)) - g,
                       "effect": fit.blocks[g].effects}) for n, g in zip(names, gs)],
        ignore_index=True,
    )  # fmt: skip
    return SDIDResult(
        method=method, table=_table(fit, se_val, cohort_se, alpha, method), se_method=se,
        n_reps=int(draws.size), alpha=float(alpha), n_obs=int(panel.y.size), cohorts=cohorts,
        unit_weights=unit_w, time_weights=time_w, effects=eff, draws=draws, outcome=outcome,
        n_controls=len(controls), notes=notes,
        ridge={panel.times[g]: r for g, r in (ridges or {}).items()},
        _state=state,
    )  # fmt: skip


def synthetic_did(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    adoption: str | None = None,
    method: str = "sdid",
    se: str = "auto",
    n_reps: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    min_pre: int = 2,
) -> SDIDResult:
    """Synthetic difference-in-differences (or SC, DID, ASCM) for one or staggered treated units.

    Parameters
    ----------
    data : DataFrame
        Balanced long panel: one row per unit and period.
    outcome, unit, time : str
        Column names; ``time`` must sort chronologically.
    treatment : str, optional
        A 0/1 column, 1 from a unit's first treated period on (synthdid's ``treated``).
    adoption : str, optional
        Alternatively, each unit's first treated period (NaN, 0 or empty: never treated).
        Exactly one of ``treatment`` and ``adoption`` is required. Units treated from the first
        period have no pre-period and are left out (listed in ``notes``).
    method : {"sdid", "sc", "did", "ascm"}
        The estimator (see the module docstring).
    se : {"auto", "placebo", "jackknife", "none"}
        Standard error: placebo reassignment of the adoption dates to never-treated units
        (needs more controls than treated units), or the fixed-weight jackknife (needs two
        treated units in each cohort). ``"auto"`` takes the placebo when it applies, else the
        jackknife, else none (with the reason in ``notes``).
    n_reps : int
        Placebo replications.
    seed : int
        Seed of the placebo draws.
    alpha : float
        Interval level ``1 - alpha``.
    min_pre : int
        Cohorts with fewer pre-periods are left out (listed in ``notes``); SDID needs at least
        2, ASCM at least 3 (one cross-validation fold for its penalty).

    Returns
    -------
    SDIDResult

    Examples
    --------
    A SYNTHETIC panel: 20 control cities and 3 treated from period 8, with an effect of 2:

    >>> rng = np.random.default_rng(1)
    >>> n, t = 23, 12
    >>> y = rng.normal(size=(n, 1)) + np.linspace(0, 1, t) + 0.1 * rng.normal(size=(n, t))
    >>> y[20:, 8:] += 2.0
    >>> df = pd.DataFrame({"city": np.repeat(np.arange(n), t), "period": np.tile(np.arange(t), n),
    ...                    "y": y.ravel()})
    >>> df["first"] = np.where(df["city"] >= 20, 8, np.nan)
    >>> res = synthetic_did(df, "y", "city", "period", adoption="first", n_reps=50)
    >>> round(res.estimate, 1), bool(res.conf_int[0] < 2 < res.conf_int[1])
    (2.0, True)
    >>> res.with_inference(se="jackknife").se_method
    'jackknife'
    """
    seed = _check_common(method, se, n_reps, alpha, seed)
    if isinstance(min_pre, bool) or not isinstance(min_pre, int | np.integer) or min_pre < 1:
        raise SpecError(f"min_pre must be a positive integer, got {min_pre!r}")
    panel, notes = _panel(data, outcome, unit, time, treatment, adoption)
    # SDID's noise level needs 2 pre-periods; ASCM's penalty needs a cross-validation fold
    # (3 pre-periods: with 2, the ridge correction extrapolates from nothing).
    fit, more = _fit(panel, method, None, max(min_pre, {"sdid": 2, "ascm": 3}.get(method, 1)))
    notes += more
    ridges = {g: b.ridge for g, b in fit.blocks.items()} if method == "ascm" else None
    inf = _inference(panel, fit, method, ridges, se, n_reps, seed, min_pre, notes)
    state = (panel, fit, ridges, min_pre, seed, n_reps)
    return _result(state, method, inf, alpha, (outcome, unit, time), notes)


def _placebo(panel, fit, method, ridges, n_reps, seed, min_pre):
    """Re-run the estimator with the treated units' adoption dates given to random controls."""
    controls = np.nonzero(panel.first < 0)[0]
    treated_first = panel.first[panel.first > 0]
    # Only cohorts that were estimated take part.
    treated_first = treated_first[np.isin(treated_first, list(fit.blocks))]
    if controls.size <= treated_first.size:
        raise SpecError(
            f"the placebo standard error needs more never-treated units ({controls.size}) than "
            f"treated units ({treated_first.size}); use se='jackknife' or se='none'"
        )
    rng = np.random.default_rng(seed)
    cohorts = list(fit.blocks)
    draws = np.empty(n_reps)
    per_cohort = np.full((n_reps, len(cohorts)), np.nan)
    for r in range(n_reps):
        perm = rng.permutation(controls)
        first = np.full(controls.size, -1)  # the last len(treated) controls become placebos
        first[-treated_first.size :] = rng.permutation(treated_first)
        sub = _Panel(panel.y[perm], [panel.units[i] for i in perm], panel.times, first)
        pf, _ = _fit(sub, method, ridges, 1)
        draws[r] = pf.att
        for j, g in enumerate(cohorts):
            if g in pf.blocks:
                per_cohort[r, j] = pf.blocks[g].tau
    return draws, per_cohort


def _jackknife(panel, fit):
    """Leave one unit out with the weights held fixed (synthdid's jackknife_se)."""
    small = fit.cohorts.loc[fit.cohorts["n_treated"] < 2, "cohort"].tolist()
    if small:
        raise SpecError(
            f"the jackknife standard error needs at least 2 treated units in every cohort; "
            f"cohort(s) {show(small)} have 1 (use se='placebo')"
        )
    y, first = panel.y, panel.first
    controls = np.nonzero(first < 0)[0]
    cohorts = list(fit.blocks)
    size = fit.cohorts["n_treated"].to_numpy() * fit.cohorts["n_post"].to_numpy()
    units = np.nonzero((first < 0) | np.isin(first, cohorts))[0]
    draws = np.empty(units.size)
    per_cohort = np.full((units.size, len(cohorts)), np.nan)
    for k, drop in enumerate(units):
        taus = []
        for j, g in enumerate(cohorts):
            b = fit.blocks[g]
            keep_c = controls != drop
            omega = b.omega[keep_c]
            omega = omega / omega.sum()
            members = np.nonzero(first == g)[0]
            members = members[members != drop]
            y1 = y[members].mean(axis=0)
            gap = y1 - omega @ y[controls[keep_c]]
            tau = float((gap[g:] - b.lam @ gap[:g]).mean())
            taus.append(tau)
            per_cohort[k, j] = tau
        draws[k] = float(np.dot(size / size.sum(), taus))
    return draws, per_cohort


def augmented_synthetic_control(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    adoption: str | None = None,
    se: str = "auto",
    n_reps: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> SDIDResult:
    """Ridge-augmented synthetic control (Ben-Michael, Feller & Rothstein 2021).

    :func:`synthetic_did` with ``method="ascm"``; see it for the parameters. The ridge penalty
    of each cohort is chosen by rolling-origin cross-validation (``result.ridge``) and held fixed
    in the placebo replications.

    Examples
    --------
    A SYNTHETIC treated city above every donor (outside their convex hull), effect -1:

    >>> rng = np.random.default_rng(2)
    >>> n, t = 16, 14
    >>> load = rng.uniform(0, 1, size=(n, 1))
    >>> load[0] = 1.6
    >>> trend = np.linspace(0, 3, t)
    >>> y = 5 + load * trend + 0.05 * rng.normal(size=(n, t))
    >>> y[0, 10:] -= 1.0
    >>> df = pd.DataFrame({"city": np.repeat(np.arange(n), t), "period": np.tile(np.arange(t), n),
    ...                    "y": y.ravel()})
    >>> df["first"] = np.where(df["city"] == 0, 10, np.nan)
    >>> asc = augmented_synthetic_control(df, "y", "city", "period", adoption="first", se="none")
    >>> sc = synthetic_did(df, "y", "city", "period", adoption="first", method="sc", se="none")
    >>> bool(abs(asc.estimate + 1) < 0.1 < abs(sc.estimate + 1))
    True
    """
    return synthetic_did(
        data, outcome, unit, time, treatment, adoption, "ascm", se, n_reps, seed, alpha
    )


def compare_estimators(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    adoption: str | None = None,
    methods: Sequence[str] = ("did", "sc", "sdid", "ascm"),
    se: str = "auto",
    n_reps: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The ATT of several estimators on the same data, one row each (same placebo seed).

    Returns a DataFrame with ``method``, ``label``, the tidy columns of each estimator's ATT
    (``estimate``, ``std_error``, ``statistic``, ``p_value``, ``conf_low``, ``conf_high``) and
    ``se_method``: the table a report puts beside the DiD.
    """
    rows = []
    for m in methods:
        r = synthetic_did(data, outcome, unit, time, treatment, adoption, m, se, n_reps, seed,
                          alpha)  # fmt: skip
        row = r.tidy().iloc[0]
        rows.append({"method": m, "label": _LABELS[m], **row[list(TIDY_COLUMNS[1:])],
                     "se_method": r.se_method})  # fmt: skip
    return pd.DataFrame(rows)


def describe_agreement(table: pd.DataFrame, reference: str | None = None) -> str:
    """One paragraph on whether the estimators of a :func:`compare_estimators` table agree.

    Parameters
    ----------
    table : DataFrame
        Rows with ``label`` (or ``method``), ``estimate`` and ``std_error``; add a row for another
        estimator (e.g. the Callaway-Sant'Anna DiD) to compare with it.
    reference : str, optional
        The ``label`` the others are compared with (default: the first row).

    Returns
    -------
    str
        The range of the estimates and, for each other estimator, whether it lies within two
        standard errors of the difference (``sqrt(se_a^2 + se_b^2)``, which ignores their
        positive correlation on the same data and so judges agreement generously).

    Examples
    --------
    >>> t = pd.DataFrame({"label": ["CS DiD", "SDID", "SC"], "estimate": [0.118, 0.119, 0.04],
    ...                   "std_error": [0.016, 0.014, 0.02]})
    >>> print(describe_agreement(t))
    The 3 estimates range from 0.04 to 0.119. SDID agrees with CS DiD (difference 0.001, within 2 standard errors of the difference); SC does not (difference -0.078, 3.0 standard errors).
    """
    for col in ("estimate", "std_error"):
        if col not in table:
            raise SpecError(f"table needs a {col!r} column; it has {list(table.columns)}")
    names = table["label"] if "label" in table else table.get("method")
    if names is None:
        raise SpecError("table needs a 'label' or 'method' column")
    t = table.assign(_name=names.astype(str)).reset_index(drop=True)
    ref_name = t["_name"].iloc[0] if reference is None else reference
    if ref_name not in set(t["_name"]):
        raise SpecError(f"reference {ref_name!r} is not in the table ({list(t['_name'])})")
    ref = t[t["_name"] == ref_name].iloc[0]
    lo, hi = t["estimate"].min(), t["estimate"].max()
    parts = [f"The {len(t)} estimates range from {lo:.3g} to {hi:.3g}."]
    verdicts = []
    for r in t[t["_name"] != ref_name].to_dict("records"):
        diff = r["estimate"] - ref["estimate"]
        sd = float(np.hypot(r["std_error"], ref["std_error"]))
        if not np.isfinite(sd) or sd == 0:
            verdicts.append(f"{r['_name']}: no standard error to judge (difference {diff:.3g})")
        elif abs(diff) <= 2 * sd:
            verdicts.append(
                f"{r['_name']} agrees with {ref_name} (difference {diff:.3g}, within 2 "
                "standard errors of the difference)"
            )
        else:
            verdicts.append(
                f"{r['_name']} does not (difference {diff:.3g}, {abs(diff) / sd:.1f} standard "
                "errors)"
            )
    if verdicts:
        parts.append("; ".join(verdicts) + ".")
    return " ".join(parts)
