"""Staggered-adoption difference-in-differences (Callaway & Sant'Anna 2021), as R ``did`` does it.

:func:`staggered_did` estimates every group-time average treatment effect ATT(g, t) of a panel in
which units adopt a treatment (here: a transferred good practice) at different periods, with
never-treated or not-yet-treated units as controls and the outcome-regression, normalised IPW or
doubly robust two-period estimators of Sant'Anna & Zhao (2020). It reproduces R ``did`` 2.5.1
(``att_gt`` with ``panel=TRUE``; ``aggte``) to ~1e-10 on the mpdta example, including the
analytic influence-function standard errors, the four aggregations with the influence-function
adjustment for estimated weights, the pre-trend Wald test and the multiplier bootstrap with
simultaneous confidence bands.

What is done to the data, always with a warning that gives the count (as R ``did`` does):
units observed in only some periods (or with a missing outcome or covariate) are dropped to keep
a balanced panel; units already treated in the first period (plus ``anticipation``) are dropped;
cohorts that adopt after the last period (plus ``anticipation``) count as never treated; with
``control="not_yet_treated"`` and no never-treated units, periods from the last cohort's adoption
on are dropped and the last cohort serves only as a control.

Conventions where R ``did`` leaves a choice or behaves oddly (documented, deliberate):

* ``cluster`` with analytic SEs uses cluster sums of the influence function
  (``sqrt(sum_c (sum_i psi_i)^2) / n``); with the bootstrap it follows R (cluster means of the
  influence function, ``sqrt(n_clusters)`` scaling).
* The pre-test leaves out the cells normalised to zero under a universal base period (R includes
  them and then finds the covariance singular).
* ``max_e`` also limits the post-treatment cells of the simple and group aggregations (as R);
  event times are in the units of ``time``.
* A cell that cannot be estimated (no control units, too few controls for the covariates, no
  overlap) raises :class:`~ucc_research.errors.SpecError` instead of R's silent ``NA``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from ucc_research.errors import SpecError, UccWarning
from ucc_research.impact._did_estimators import ESTIMATORS, TRIM_LEVEL, logit_fit
from ucc_research.impact.base import ImpactResult

__all__ = ["staggered_did", "event_study_plot", "att_gt_heatmap", "StaggeredDiDResult"]

_CONTROLS = {"never_treated", "not_yet_treated"}
_BASES = {"varying", "universal"}
_KINDS = ("simple", "group", "dynamic", "calendar")
_TINY = np.sqrt(np.finfo(float).eps) * 10  # R did: standard errors below this are reported NA
_SHOW = 5


def _show(values: Any) -> str:
    values = list(values)
    text = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:_SHOW])
    return text + (f", ... ({len(values)} in all)" if len(values) > _SHOW else "")


# --------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------


@dataclass
class _Panel:
    """A balanced panel in wide form: units x periods, plus per-unit cohort and covariates."""

    units: np.ndarray  # (n,) unit ids
    periods: np.ndarray  # (T,) sorted period values
    y: np.ndarray  # (n, T) outcome
    cohort: np.ndarray  # (n,) adoption period, inf for never treated
    x: np.ndarray | None  # (T, n, k) design matrix by period (intercept included), or None
    x_names: list[str]
    cluster: np.ndarray | None  # (n,) integer cluster codes
    control_only: float  # cohort used only as a not-yet-treated control (inf if none)
    notes: list[str] = field(default_factory=list)


def _parse_covariates(covariates: Any, data: pd.DataFrame) -> tuple[str | None, list[str]]:
    """Return (formula or None, raw variable names)."""
    if covariates is None:
        return None, []
    if isinstance(covariates, str):
        formula = covariates.strip()
        if not formula.startswith("~"):
            formula = "~" + formula
        if formula.replace(" ", "") in ("~1", "~"):
            return None, []
        import formulaic

        try:
            needed = sorted(formulaic.Formula(formula).required_variables)
        except Exception as exc:  # formulaic raises many parser error types
            raise SpecError(f"covariates formula {covariates!r} cannot be parsed: {exc}") from exc
        missing = [v for v in needed if v not in data.columns]
        if missing:
            raise SpecError(
                f"covariates formula {covariates!r} uses {_show(missing)}, not in the data"
            )
        return formula, needed
    if isinstance(covariates, (list, tuple)):
        names = [str(c) for c in covariates]
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise SpecError(f"covariate column(s) {_show(missing)} not in the data")
        return None, names
    raise SpecError(
        "covariates must be None, a list of column names or a formula string like '~ lpop', "
        f"got {type(covariates).__name__}"
    )


def _numeric(data: pd.DataFrame, col: str, role: str) -> np.ndarray:
    s = data[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s):
        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()].unique()
        raise SpecError(
            f"{role} column {col!r} must be numeric, found dtype {s.dtype}"
            + (f" with values such as {_show(bad)}" if len(bad) else "")
            + "; convert it (e.g. pd.to_numeric) before estimating"
        )
    return s.to_numpy(dtype=float, na_value=np.nan)


def _prepare(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Any,
    control: str,
    anticipation: int,
    cluster: str | None,
) -> _Panel:
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise SpecError("data is empty")
    cols = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
    if cluster is not None:
        cols["cluster"] = cluster
    for role, col in cols.items():
        if col not in data.columns:
            raise SpecError(
                f"{role} column {col!r} not in the data; columns are {_show(data.columns)}"
            )
    formula, xvars = _parse_covariates(covariates, data)
    notes: list[str] = []
    control_only = np.inf  # a cohort that only serves as a control (R did, see below)

    for role, col in (("unit", unit), ("time", time)):
        miss = data[col].isna()
        if miss.any():
            rows = list(data.index[miss])
            raise SpecError(
                f"{int(miss.sum())} row(s) have a missing {role} ({col!r}), e.g. at index "
                f"{_show(rows)}; every row must name its unit and period"
            )
    t_all = _numeric(data, time, "time")
    y_all = _numeric(data, outcome, "outcome")
    g_all = _numeric(data, cohort, "cohort")
    dup = data.duplicated([unit, time], keep=False)
    if dup.any():
        pairs = data.loc[dup, [unit, time]].drop_duplicates().itertuples(index=False, name=None)
        raise SpecError(
            f"{int(dup.sum())} rows share a {unit!r}-{time!r} pair (each unit may appear once "
            f"per period): {_show(pairs)}; aggregate or de-duplicate them first"
        )
    # Never treated may be coded 0, NaN or inf (R did: 0).
    never = np.isnan(g_all) | np.isinf(g_all) | (g_all == 0)
    g_all = np.where(never, np.inf, g_all)
    codes, uniq_units = pd.factorize(data[unit], sort=True)
    g_min = np.full(len(uniq_units), np.inf)
    g_max = np.full(len(uniq_units), -np.inf)
    np.minimum.at(g_min, codes, g_all)
    np.maximum.at(g_max, codes, g_all)
    varying = np.flatnonzero(g_min != g_max)
    if len(varying):
        raise SpecError(
            f"cohort column {cohort!r} varies within {len(varying)} unit(s) "
            f"({_show(uniq_units[varying])}); the adoption period must be the same in every row "
            "of a unit (treatment is irreversible)"
        )
    if np.any(g_all <= 0):
        bad = np.unique(g_all[g_all <= 0])
        raise SpecError(f"cohort column {cohort!r} has negative values {_show(bad)}")

    # Rows with missing outcome / covariates / cluster: R did drops them, then balances.
    bad_row = np.isnan(y_all)
    x_long = None
    x_names: list[str] = []
    if xvars:
        if formula is None:
            xcols = [_numeric(data, c, "covariate") for c in xvars]
            x_long = np.column_stack([np.ones(len(data))] + xcols)
            x_names = ["(Intercept)"] + xvars
        else:
            import formulaic

            try:
                mm = formulaic.model_matrix(formula, data, na_action="ignore")
            except Exception as exc:
                raise SpecError(f"covariates formula {formula!r} failed: {exc}") from exc
            x_long = np.asarray(mm, dtype=float)
            x_names = list(mm.columns)
        bad_row |= ~np.all(np.isfinite(x_long), axis=1)
    cl_all = None
    if cluster is not None:
        cl_codes, _ = pd.factorize(data[cluster])
        bad_row |= cl_codes < 0
        cl_all = cl_codes
    n_bad_rows = int(bad_row.sum())

    periods = np.unique(t_all)
    n_periods = len(periods)
    keep = ~bad_row
    counts = np.bincount(codes[keep], minlength=len(uniq_units))
    complete = counts == n_periods
    n_drop_units = int((~complete).sum())
    if n_drop_units:
        msg = (
            f"dropped {n_drop_units} unit(s) not observed in all {n_periods} periods"
            + (f" (after removing {n_bad_rows} row(s) with missing values)" if n_bad_rows else "")
            + f", e.g. {_show(uniq_units[~complete])}, to keep a balanced panel (as R did with "
            "panel=TRUE)"
        )
        warnings.warn(msg, UccWarning, stacklevel=3)
        notes.append(msg)
    keep &= complete[codes]
    if not keep.any():
        raise SpecError("no unit is observed in every period with complete data")

    # Wide arrays: unit order = sorted unit ids, period order = sorted periods.
    unit_idx = np.flatnonzero(complete)
    remap = -np.ones(len(uniq_units), dtype=int)
    remap[unit_idx] = np.arange(len(unit_idx))
    rows = np.flatnonzero(keep)
    ui = remap[codes[rows]]
    ti = np.searchsorted(periods, t_all[rows])
    n = len(unit_idx)
    y = np.empty((n, n_periods))
    y[ui, ti] = y_all[rows]
    g = np.empty(n)
    g[ui] = g_all[rows]
    x = None
    if x_long is not None:
        x = np.empty((n_periods, n, x_long.shape[1]))
        x[ti, ui, :] = x_long[rows]
    cl = None
    if cl_all is not None:
        cl_unit = pd.DataFrame({"u": ui, "c": cl_all[rows]}).groupby("u")["c"].nunique()
        if (cl_unit > 1).any():
            raise SpecError(
                f"cluster column {cluster!r} varies over time within "
                f"{int((cl_unit > 1).sum())} unit(s); clusters must contain whole units"
            )
        cl = np.empty(n, dtype=int)
        cl[ui] = cl_all[rows]
        cl = pd.factorize(cl)[0]
    units = np.asarray(uniq_units[unit_idx])

    # Adoption after the last period (+ anticipation): never treated within the window (R did).
    late = np.isfinite(g) & (g > periods[-1] + anticipation)
    if late.any():
        notes.append(
            f"{int(late.sum())} unit(s) adopting after the last period count as never treated"
        )
        g[late] = np.inf

    if not np.isinf(g).any():
        if control == "never_treated":
            raise SpecError(
                "there are no never-treated units (cohort 0, NaN or inf), so "
                "control='never_treated' has no comparison group; use "
                "control='not_yet_treated' (later cohorts serve as controls until they adopt)"
            )
        last = np.max(g)
        if not np.any(g < last):
            raise SpecError(
                f"no control units: every unit adopts in period {last:g} and none is never "
                "treated, so there is no never-treated or not-yet-treated comparison group"
            )
        cutoff = last - anticipation
        keep_t = periods < cutoff
        msg = (
            f"no never-treated units: periods from {last - anticipation:g} on are dropped and the "
            f"last cohort ({last:g}) serves only as a not-yet-treated control (as R did)"
        )
        warnings.warn(msg, UccWarning, stacklevel=3)
        notes.append(msg)
        control_only = last
        periods = periods[keep_t]
        y = y[:, keep_t]
        if x is not None:
            x = x[keep_t]
        if len(periods) < 2:
            raise SpecError("fewer than two periods remain before the last cohort adopts")

    first = periods[0]
    early = np.isfinite(g) & (g <= first + anticipation)
    if early.any():
        msg = (
            f"dropped {int(early.sum())} unit(s) already treated in the first period "
            f"({first:g}{f' + anticipation {anticipation}' if anticipation else ''}): with no "
            f"untreated period they have no pre-treatment outcome to compare; e.g. "
            f"{_show(units[early])}"
        )
        warnings.warn(msg, UccWarning, stacklevel=3)
        notes.append(msg)
        keep_u = ~early
        units, y, g = units[keep_u], y[keep_u], g[keep_u]
        if x is not None:
            x = x[:, keep_u]
        if cl is not None:
            cl = pd.factorize(cl[keep_u])[0]
    if len(periods) < 2:
        raise SpecError(f"time column {time!r} has fewer than two periods")
    if len(units) < 2:
        raise SpecError(
            f"only {len(units)} usable unit(s) remain; staggered DiD needs treated and control "
            "units observed in every period"
        )
    return _Panel(units, periods, y, g, x, x_names, cl, control_only, notes)


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------


def _cluster_sums(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    if cluster is None:
        return inf
    out = np.zeros((cluster.max() + 1,) + inf.shape[1:])
    np.add.at(out, cluster, inf)
    return out


def _se_from_inf(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    n = inf.shape[0]
    s = _cluster_sums(inf, cluster)
    return np.sqrt(np.sum(s**2, axis=0)) / n


def _att_gt(panel: _Panel, control: str, method: str, base_period: str, anticipation: int):
    periods, g_unit = panel.periods, panel.cohort
    n, n_t = panel.y.shape
    cohorts = np.unique(g_unit[np.isfinite(g_unit) & (g_unit != panel.control_only)])
    if len(cohorts) == 0:
        raise SpecError("no unit adopts the treatment within the observed periods")

    # The cells, in R's order (cohort-major): current and base period index, control cutoff.
    g_c, cur, base, cutoff = [], [], [], []
    t_start = 1 if base_period == "varying" else 0
    for g in cohorts:
        pre_g = int(np.flatnonzero(periods + anticipation < g)[-1])
        for c in range(t_start, n_t):
            post = g <= periods[c]
            b = pre_g if (post or base_period == "universal") else c - 1
            g_c.append(g)
            cur.append(c)
            base.append(b)
            cutoff.append(max(periods[c], periods[b]) + anticipation)
    g_c, cur, base, cutoff = map(np.asarray, (g_c, cur, base, cutoff))
    normalised = cur == base  # universal base period: the reference cell is 0 by construction
    treated = g_unit[:, None] == g_c[None, :]
    if control == "never_treated":
        ctrl = np.repeat(np.isinf(g_unit)[:, None], len(g_c), axis=1)
    else:
        ctrl = np.isinf(g_unit)[:, None] | ((g_unit[:, None] > cutoff[None, :]) & ~treated)
    ctrl[:, normalised] = False
    n_treat, n_ctrl = treated.sum(axis=0), ctrl.sum(axis=0)
    k = 1 if panel.x is None else panel.x.shape[2]

    def where(j: int) -> str:
        return f"cohort {g_c[j]:g}, period {periods[cur[j]]:g} (base period {periods[base[j]]:g})"

    for j in np.flatnonzero((n_ctrl == 0) & ~normalised)[:1]:
        raise SpecError(
            f"no control units for {where(j)}: no never-treated or not-yet-treated unit is "
            "available; use control='not_yet_treated', drop that cohort or shorten the window"
        )
    if panel.x is not None and method in ("dr", "reg"):
        for j in np.flatnonzero((n_ctrl <= k) & ~normalised)[:1]:
            raise SpecError(
                f"too few control units for {where(j)}: {n_ctrl[j]} control unit(s) for {k} "
                "outcome-regression coefficient(s); use fewer covariates or more units"
            )
    if method in ("dr", "ipw"):
        # DRDID gives controls with a propensity score >= 0.995 weight 0; without covariates the
        # score is the treated share of the cell, so no control would be left.
        share = n_treat / np.maximum(n_treat + n_ctrl, 1)
        for j in np.flatnonzero((share >= TRIM_LEVEL) & ~normalised)[:1]:
            raise SpecError(
                f"no overlap for {where(j)}: {n_ctrl[j]} control unit(s) against {n_treat[j]} "
                "treated, too few for propensity-score weighting; use method='reg'"
            )

    dy = panel.y[:, cur] - panel.y[:, base]
    if panel.x is None:
        # Without covariates reg, ipw and dr all reduce to the difference in mean changes, with
        # influence function n * [D (dY - m1) / n1 - C (dY - m0) / n0]: all cells at once.
        tm, cm = treated.astype(float), ctrl.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            m1 = (tm * dy).sum(axis=0) / n_treat
            m0 = (cm * dy).sum(axis=0) / n_ctrl
            att = np.where(normalised, 0.0, m1 - m0)
            inf = n * (tm * (dy - m1) / n_treat - cm * (dy - m0) / n_ctrl)
        inf[:, normalised] = 0.0
    else:
        # Cells with the same units and covariate values share the logit, the OLS design and
        # their asymptotic representations: estimate them together (one column per cell).
        estimator = ESTIMATORS[method]
        att = np.zeros(len(g_c))
        inf = np.zeros((n, len(g_c)))
        invariant = bool(np.all(panel.x == panel.x[:1]))
        x_period = np.where(invariant, 0, np.minimum(base, cur))
        ctrl_key = cutoff if control == "not_yet_treated" else np.zeros(len(g_c))
        keys = pd.DataFrame({"g": g_c, "c": ctrl_key, "x": x_period})[~normalised]
        for _, cols in keys.groupby(["g", "c", "x"], sort=False).groups.items():
            cols = np.asarray(cols)
            j = cols[0]
            cell = treated[:, j] | ctrl[:, j]
            d = treated[cell, j].astype(float)
            x = panel.x[x_period[j]][cell]
            ps = None
            if method in ("dr", "ipw"):
                ps, _ = logit_fit(x, d)
                if ps.max() >= 0.999:
                    raise SpecError(
                        f"no overlap for {where(j)}: the propensity score reaches "
                        f"{ps.max():.4f} (>= 0.999), so treated units have no comparable "
                        "controls; use method='reg' or fewer covariates"
                    )
                if not np.any((d == 0) & (ps < TRIM_LEVEL)):
                    raise SpecError(
                        f"no overlap for {where(j)}: every control unit has a propensity score "
                        f">= {TRIM_LEVEL}; use method='reg' or fewer covariates"
                    )
            if method in ("dr", "reg"):
                xc = x[d == 0]
                if 1.0 / np.linalg.cond(xc.T @ xc, 1) < np.finfo(float).eps:
                    raise SpecError(
                        f"the covariates are collinear among the control units for {where(j)}; "
                        "drop a covariate"
                    )
            att[cols], psi = estimator(dy[np.ix_(cell, cols)], d, x, ps)
            inf[np.ix_(cell, cols)] = psi * (n / cell.sum())
    table = pd.DataFrame(
        {
            "cohort": g_c,
            "time": periods[cur],
            "base": periods[base],
            "post": g_c <= periods[cur],
            "att": att,
            "n_treated": n_treat,
            "n_control": n_ctrl,
            "normalised": normalised,
        }
    )
    return table, inf


def staggered_did(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Any = None,
    control: str = "never_treated",
    method: str = "dr",
    base_period: str = "varying",
    anticipation: int = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
    bootstrap: bool = False,
    n_boot: int = 999,
    boot_weights: str = "rademacher",
    seed: int = 0,
) -> StaggeredDiDResult:
    """Group-time average treatment effects ATT(g, t) of Callaway & Sant'Anna (2021).

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period.
    outcome, unit, time, cohort : str
        Column names. ``time`` and ``cohort`` must be numeric; ``cohort`` is the first treated
        period of the unit (the same in all its rows); never-treated units have 0, NaN or inf.
    covariates : list of str or str, optional
        Column names, or a formula such as ``"~ lpop"`` (formulaic syntax). Values are taken in
        the earlier of the two periods each ATT(g, t) compares (the base period for
        post-treatment cells), as R ``did``; an intercept is always included for a list.
    control : {"never_treated", "not_yet_treated"}
        Comparison units: never treated, or never treated plus those not yet treated by
        ``max(t, base period) + anticipation``.
    method : {"dr", "reg", "ipw"}
        Doubly robust (``DRDID::drdid_panel``, R's default), outcome regression
        (``reg_did_panel``) or normalised inverse probability weighting (``std_ipw_did_panel``).
    base_period : {"varying", "universal"}
        Pre-treatment cells compare consecutive periods ("varying", R's default) or every cell
        compares with the period before adoption ("universal"; that cell is 0 by construction).
    anticipation : int
        Number of periods before adoption in which units may already react.
    cluster : str, optional
        Column with clusters containing whole units (e.g. region); units are always clusters.
    alpha : float
        1 - confidence level of the intervals.
    bootstrap : bool
        Multiplier bootstrap standard errors and simultaneous confidence bands (R: bstrap=TRUE,
        cband=TRUE); otherwise analytic influence-function standard errors.
    n_boot : int
        Bootstrap draws.
    boot_weights : {"rademacher", "mammen"}
        Multiplier weights (R ``did`` uses Rademacher, ``DRDID`` Mammen).
    seed : int
        Seed of the bootstrap draws; the same draws serve ATT(g, t) and every aggregation.

    Returns
    -------
    StaggeredDiDResult
        ``.att_gt`` (``cohort``, ``time``, ``event_time``, ``att``, ``se``, ``ci_low``,
        ``ci_high`` and, with the bootstrap, ``band_low``/``band_high``), ``.aggregate(kind)``,
        ``.pretest()``, ``.tidy()``, ``.summary()``, ``.plot()``.

    Examples
    --------
    >>> from ucc_research import demo
    >>> d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    >>> tp = demo.transfer_panel(d)  # cohorts 2019 and 2020, never-adopters coded 0
    >>> res = staggered_did(tp, "digital_share", "unit", "time", "cohort")
    >>> res.aggregate("dynamic").table["event_time"].tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    >>> round(res.aggregate("simple").overall_att, 3)  # truth: demo.transfer_truth(d)
    0.101
    """
    if control not in _CONTROLS:
        raise SpecError(f"control must be one of {sorted(_CONTROLS)}, got {control!r}")
    if method not in ESTIMATORS:
        raise SpecError(f"method must be one of {sorted(ESTIMATORS)}, got {method!r}")
    if base_period not in _BASES:
        raise SpecError(f"base_period must be one of {sorted(_BASES)}, got {base_period!r}")
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise SpecError(f"anticipation must be a non-negative integer, got {anticipation!r}")
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must be between 0 and 1, got {alpha!r}")
    if boot_weights not in ("rademacher", "mammen"):
        raise SpecError(f"boot_weights must be 'rademacher' or 'mammen', got {boot_weights!r}")
    if bootstrap and (not isinstance(n_boot, (int, np.integer)) or n_boot < 50):
        raise SpecError(f"n_boot must be an integer of at least 50, got {n_boot!r}")
    panel = _prepare(data, outcome, unit, time, cohort, covariates, control, anticipation, cluster)
    table, inf = _att_gt(panel, control, method, base_period, anticipation)
    settings = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "cohort": cohort,
        "covariates": panel.x_names,
        "control": control,
        "method": method,
        "base_period": base_period,
        "anticipation": anticipation,
        "cluster": cluster,
        "alpha": alpha,
        "bootstrap": bootstrap,
        "n_boot": n_boot,
        "boot_weights": boot_weights,
        "seed": seed,
    }
    return StaggeredDiDResult(panel, table, inf, settings)


# --------------------------------------------------------------------------------------------
# Inference helpers
# --------------------------------------------------------------------------------------------


class _Bootstrap:
    """R did's ``mboot``: multiplier draws of (cluster-mean) influence functions."""

    def __init__(self, n_units: int, cluster: np.ndarray | None, settings: dict, alpha: float):
        self.cluster = cluster
        self.n_clusters = n_units if cluster is None else int(cluster.max()) + 1
        self.alpha = alpha
        rng = np.random.default_rng(settings["seed"])
        shape = (settings["n_boot"], self.n_clusters)
        if settings["boot_weights"] == "rademacher":
            self.u = rng.integers(0, 2, size=shape) * 2.0 - 1.0
        else:  # Mammen's two-point distribution: mean 0, variance 1
            s5 = np.sqrt(5.0)
            p = (s5 + 1) / (2 * s5)
            self.u = np.where(rng.random(shape) < p, -(s5 - 1) / 2, (s5 + 1) / 2)

    def draws(self, inf: np.ndarray) -> np.ndarray:
        inf = inf.reshape(inf.shape[0], -1)
        if self.cluster is None:
            m = inf
        else:
            sizes = np.bincount(self.cluster)
            m = _cluster_sums(inf, self.cluster) / sizes[:, None]
        return np.sqrt(self.n_clusters) * (self.u @ m) / self.n_clusters

    def se_and_crit(self, inf: np.ndarray) -> tuple[np.ndarray, float]:
        bres = self.draws(inf)
        q75, q25 = np.quantile(bres, [0.75, 0.25], axis=0, method="inverted_cdf")
        sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
        ok = np.isfinite(sigma) & (sigma > _TINY)
        se = np.where(ok, sigma / np.sqrt(self.n_clusters), np.nan)
        crit = np.nan
        if ok.any():
            t_max = np.max(np.abs(bres[:, ok] / sigma[ok]), axis=1)
            crit = float(np.quantile(t_max, 1 - self.alpha, method="inverted_cdf"))
        return se, crit


def _wif(keep: np.ndarray, pg: np.ndarray, g_unit: np.ndarray, cell_g: np.ndarray) -> np.ndarray:
    """R did's ``wif``: influence of estimating the cohort-share weights (n x len(keep))."""
    ind = (g_unit[:, None] == cell_g[keep][None, :]).astype(float) - pg[keep][None, :]
    total = pg[keep].sum()
    if1 = ind / total
    if2 = ind.sum(axis=1)[:, None] * (pg[keep] / total**2)[None, :]
    return if1 - if2


def _agg_inf(
    att: np.ndarray, inf: np.ndarray, keep: np.ndarray, w: np.ndarray, wif: np.ndarray | None
) -> np.ndarray:
    out = inf[:, keep] @ w
    if wif is not None:
        out = out + wif @ att[keep]
    return out


class PreTest(NamedTuple):
    """Wald pre-test of parallel trends over the pre-treatment ATT(g, t) (R did's W, Wpval)."""

    W: float
    df: int
    p: float


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


class StaggeredDiDResult(ImpactResult):
    """ATT(g, t) estimates with their influence functions; see :func:`staggered_did`."""

    def __init__(self, panel: _Panel, table: pd.DataFrame, inf: np.ndarray, settings: dict):
        self._panel = panel
        self.settings = settings
        self.inf_func = inf
        self.n_units = panel.y.shape[0]
        self.notes = list(panel.notes)
        alpha = settings["alpha"]
        self._z = float(stats.norm.ppf(1 - alpha / 2))
        self._boot = (
            _Bootstrap(self.n_units, panel.cluster, settings, alpha)
            if settings["bootstrap"]
            else None
        )
        se = _se_from_inf(inf, panel.cluster)
        crit = None
        if self._boot is not None:
            bse, crit = self._boot.se_and_crit(inf)
            se = bse
        se = np.where(se > _TINY, se, np.nan)
        att = table["att"].to_numpy()
        cols = {
            "cohort": table["cohort"].to_numpy(),
            "time": table["time"].to_numpy(),
            "event_time": (table["time"] - table["cohort"]).to_numpy(),
            "base_period": table["base"].to_numpy(),
            "att": att,
            "se": se,
            "ci_low": att - self._z * se,
            "ci_high": att + self._z * se,
        }
        if crit is not None and np.isfinite(crit):
            crit = max(crit, self._z)  # R: never narrower than the pointwise interval
            cols["band_low"] = att - crit * se
            cols["band_high"] = att + crit * se
        for c in ("post", "n_treated", "n_control"):
            cols[c] = table[c].to_numpy()
        out = pd.DataFrame(cols)
        self.crit_val = crit
        self._normalised = table["normalised"].to_numpy()
        self.att_gt = out

    # -- aggregation ---------------------------------------------------------------------------
    def aggregate(
        self,
        kind: str = "group",
        balance_e: int | None = None,
        min_e: float = -np.inf,
        max_e: float = np.inf,
    ) -> DiDAggregate:
        """Aggregate ATT(g, t) as R ``did::aggte``.

        Parameters
        ----------
        kind : {"simple", "group", "dynamic", "calendar"}
            ``simple``: post-treatment cells weighted by cohort size; ``group``: average by
            cohort, then across cohorts by size; ``dynamic``: event study by event time
            ``e = t - g`` (overall = mean over e >= 0); ``calendar``: by period, then the mean.
        balance_e : int, optional
            Dynamic only: keep cohorts observed for at least ``balance_e`` periods after
            adoption, and event times from ``balance_e - (T_last - T_first)`` to ``balance_e``.
        min_e, max_e : float
            Dynamic: event-time window. ``max_e`` also caps the post-treatment cells of the
            simple and group aggregations (as R).

        Returns
        -------
        DiDAggregate
        """
        if kind not in _KINDS:
            raise SpecError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
        if balance_e is not None and kind != "dynamic":
            raise SpecError("balance_e only applies to kind='dynamic'")
        tab = self.att_gt
        att = tab["att"].to_numpy()
        gcell = tab["cohort"].to_numpy()
        tcell = tab["time"].to_numpy()
        inf = self.inf_func
        g_unit = self._panel.cohort
        cohorts = np.unique(gcell)
        pgg = np.array([np.mean(g_unit == g) for g in cohorts])
        pg = pgg[np.searchsorted(cohorts, gcell)]
        post = (gcell <= tcell) & (tcell <= gcell + max_e)
        per: list[tuple[Any, float, np.ndarray]] = []
        key = {"group": "cohort", "dynamic": "event_time", "calendar": "time"}.get(kind)

        if kind == "simple":
            keep = np.flatnonzero(post)
            if len(keep) == 0:
                raise SpecError("no post-treatment ATT(g, t) to aggregate")
            w = pg[keep] / pg[keep].sum()
            overall = float(att[keep] @ w)
            oinf = _agg_inf(att, inf, keep, w, _wif(keep, pg, g_unit, gcell))
            return self._make_agg(kind, key, [], overall, oinf, {})

        if kind == "group":
            for g in cohorts:
                keep = np.flatnonzero((gcell == g) & post)
                if len(keep) == 0:
                    continue
                w = np.full(len(keep), 1.0 / len(keep))
                per.append((g, float(att[keep].mean()), _agg_inf(att, inf, keep, w, None)))
            keys = np.array([p[0] for p in per])
            a = np.array([p[1] for p in per])
            m = np.column_stack([p[2] for p in per])
            pk = pgg[np.searchsorted(cohorts, keys)]
            overall = float(a @ pk / pk.sum())
            wif = _wif(np.arange(len(keys)), pk, g_unit, keys)
            oinf = m @ (pk / pk.sum()) + wif @ a
            return self._make_agg(kind, key, per, overall, oinf, {})

        if kind == "dynamic":
            e_cell = tcell - gcell
            include = np.ones(len(att), dtype=bool)
            eseq = np.unique(e_cell)
            t_first, t_last = self._panel.periods[0], self._panel.periods[-1]
            if balance_e is not None:
                include = (t_last - gcell) >= balance_e
                eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_last + t_first)]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            for e in eseq:
                keep = np.flatnonzero((e_cell == e) & include)
                if len(keep) == 0:
                    continue
                w = pg[keep] / pg[keep].sum()
                val = float(att[keep] @ w)
                per.append((e, val, _agg_inf(att, inf, keep, w, _wif(keep, pg, g_unit, gcell))))
            if not per:
                raise SpecError("no event time left after balance_e / min_e / max_e")
            keys = np.array([p[0] for p in per])
            a = np.array([p[1] for p in per])
            m = np.column_stack([p[2] for p in per])
            epos = keys >= 0
            if not epos.any():
                overall, oinf = np.nan, np.zeros(self.n_units)
            else:
                overall = float(a[epos].mean())
                oinf = m[:, epos].mean(axis=1)
            return self._make_agg(
                kind,
                key,
                per,
                overall,
                oinf,
                {"balance_e": balance_e, "min_e": min_e, "max_e": max_e},
            )

        # calendar
        min_g = gcell.min()
        for t in np.unique(tcell[tcell >= min_g]):
            keep = np.flatnonzero((tcell == t) & (gcell <= tcell))
            if len(keep) == 0:
                continue
            w = pg[keep] / pg[keep].sum()
            per.append(
                (
                    t,
                    float(att[keep] @ w),
                    _agg_inf(att, inf, keep, w, _wif(keep, pg, g_unit, gcell)),
                )
            )
        a = np.array([p[1] for p in per])
        m = np.column_stack([p[2] for p in per])
        return self._make_agg(kind, key, per, float(a.mean()), m.mean(axis=1), {})

    def _make_agg(self, kind, key, per, overall, oinf, options) -> DiDAggregate:
        cluster = self._panel.cluster
        z = self._z
        crit = None
        if per:
            m = np.column_stack([p[2] for p in per])
            if self._boot is not None:
                se, crit = self._boot.se_and_crit(m)
                crit = max(crit, z) if np.isfinite(crit) else None
            else:
                se = _se_from_inf(m, cluster)
            se = np.where(se > _TINY, se, np.nan)
            table = pd.DataFrame({key: [p[0] for p in per], "att": [p[1] for p in per], "se": se})
            table["ci_low"] = table["att"] - z * table["se"]
            table["ci_high"] = table["att"] + z * table["se"]
            if crit is not None:
                table["band_low"] = table["att"] - crit * table["se"]
                table["band_high"] = table["att"] + crit * table["se"]
        else:
            table = pd.DataFrame(columns=["att", "se", "ci_low", "ci_high"])
        if self._boot is not None:
            ose = float(self._boot.se_and_crit(oinf)[0][0])
        else:
            ose = float(_se_from_inf(oinf[:, None], cluster)[0])
        ose = ose if ose > _TINY else np.nan
        if kind == "simple":
            table = pd.DataFrame(
                {
                    "att": [overall],
                    "se": [ose],
                    "ci_low": [overall - z * ose],
                    "ci_high": [overall + z * ose],
                }
            )
        return DiDAggregate(kind, key, overall, ose, table, crit, oinf, self, options)

    # -- pre-test ------------------------------------------------------------------------------
    def pretest(self) -> PreTest:
        """Wald test that all pre-treatment ATT(g, t) are zero (R did's ``W``/``Wpval``).

        ``W = a' V^-1 a`` with ``V`` the influence-function covariance of the pre-treatment
        cells (those with ``cohort > time``; cells normalised to 0 are left out); ``p`` from
        chi-squared with ``df`` = number of cells (R rounds ``p`` to 5 decimals; this does not).
        """
        tab = self.att_gt
        pre = ((tab["cohort"] > tab["time"]).to_numpy()) & ~self._normalised
        if not pre.any():
            raise SpecError("no pre-treatment ATT(g, t) to test (all cells are post-treatment)")
        a = tab["att"].to_numpy()[pre]
        s = _cluster_sums(self.inf_func[:, pre], self._panel.cluster)
        v = s.T @ s / self.n_units**2
        if 1.0 / np.linalg.cond(v, 1) <= np.finfo(float).eps:
            raise SpecError("the covariance of the pre-treatment ATT(g, t) is singular")
        w = float(a @ np.linalg.solve(v, a))
        df = int(pre.sum())
        return PreTest(w, df, float(stats.chi2.sf(w, df)))

    def randomization_inference(self, n_perm: int = 999, seed: int = 0, alpha: float = 0.05) -> Any:
        """Small-sample inference by permuting adoption timing across units.

        See :func:`ucc_research.impact.ri.randomization_inference`: an exact pre-trend test and
        pre-adoption bands under random timing, whatever the number of units per cohort.
        """
        from ucc_research.impact.ri import randomization_inference

        return randomization_inference(self, n_perm=n_perm, seed=seed, alpha=alpha)

    # -- ImpactResult interface ------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        tab = self.att_gt
        out = pd.DataFrame(
            {
                "term": [f"ATT({g:g},{t:g})" for g, t in zip(tab["cohort"], tab["time"])],
                "cohort": tab["cohort"],
                "time": tab["time"],
                "estimate": tab["att"],
                "se": tab["se"],
                "ci_low": tab["ci_low"],
                "ci_high": tab["ci_high"],
            }
        )
        return out

    def summary(self) -> str:
        s = self.settings
        infer = (
            f"multiplier bootstrap ({s['n_boot']} {s['boot_weights']} draws, seed {s['seed']}), "
            "simultaneous bands"
            if s["bootstrap"]
            else "analytic influence-function SEs"
        )
        lines = [
            "Staggered DiD (Callaway & Sant'Anna 2021; R did 2.5.1 conventions)",
            f"outcome {s['outcome']!r}; {self.n_units} units x {len(self._panel.periods)} periods; "
            f"cohorts {', '.join(f'{g:g}' for g in np.unique(self.att_gt['cohort']))}",
            f"estimator {s['method']}, control {s['control']}, base period {s['base_period']}, "
            f"anticipation {s['anticipation']}, covariates {s['covariates'] or 'none'}",
            f"inference: {infer}" + (f", clustered by {s['cluster']!r}" if s["cluster"] else ""),
        ]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        return att_gt_heatmap(self, ax=ax, **kwargs)


class DiDAggregate(ImpactResult):
    """An aggregation of ATT(g, t): ``overall_att``, ``overall_se`` and the ``table`` by key."""

    def __init__(self, kind, key, overall, se, table, crit, inf, parent, options):
        self.kind = kind
        self.key = key
        self.overall_att = overall
        self.overall_se = se
        z = parent._z
        self.overall_ci = (overall - z * se, overall + z * se)
        self.table = table
        self.crit_val = crit
        self.inf_func = inf
        self.options = options
        self._parent = parent

    def tidy(self) -> pd.DataFrame:
        rows = [
            {
                "term": "overall",
                "estimate": self.overall_att,
                "se": self.overall_se,
                "ci_low": self.overall_ci[0],
                "ci_high": self.overall_ci[1],
            }
        ]
        if self.key is not None:
            for r in self.table.itertuples(index=False):
                k = getattr(r, self.key)
                rows.append(
                    {
                        "term": f"{self.key}={k:g}",
                        "estimate": r.att,
                        "se": r.se,
                        "ci_low": r.ci_low,
                        "ci_high": r.ci_high,
                    }
                )
        out = pd.DataFrame(rows)
        out.insert(0, "aggregation", self.kind)
        return out

    def summary(self) -> str:
        p = self._parent
        head = (
            f"ATT aggregation '{self.kind}' ({p.settings['method']}, {p.settings['control']}): "
            f"overall {self.overall_att:.4f} (SE {self.overall_se:.4f}, "
            f"{100 * (1 - p.settings['alpha']):g}% CI {self.overall_ci[0]:.4f} to "
            f"{self.overall_ci[1]:.4f})"
        )
        if self.key is None:
            return head
        return head + "\n" + self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}")

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        return event_study_plot(self, ax=ax, **kwargs)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def event_study_plot(agg: DiDAggregate, ax: Any = None, title: str | None = None) -> Any:
    """Point estimates with confidence intervals by event time (or cohort / period).

    Pre-treatment estimates (event time < 0) are grey, post-treatment ones blue; simultaneous
    bands are drawn when the bootstrap was used, pointwise intervals otherwise.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if not isinstance(agg, DiDAggregate) or agg.key is None:
        raise SpecError("event_study_plot needs an aggregation by 'dynamic', 'group' or 'calendar'")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    tab = agg.table
    lo, hi = ("band_low", "band_high") if "band_low" in tab else ("ci_low", "ci_high")
    x = tab[agg.key].to_numpy(dtype=float)
    pre = x < 0 if agg.kind == "dynamic" else np.zeros(len(x), dtype=bool)
    for mask, colour, label in (
        (pre, "grey", "pre-treatment"),
        (~pre, "tab:blue", "post-treatment"),
    ):
        if mask.any():
            ax.errorbar(
                x[mask],
                tab["att"].to_numpy()[mask],
                yerr=[
                    (tab["att"] - tab[lo]).to_numpy()[mask],
                    (tab[hi] - tab["att"]).to_numpy()[mask],
                ],
                fmt="o",
                color=colour,
                capsize=3,
                label=label,
            )
    ax.axhline(0, color="black", lw=0.8)
    if agg.kind == "dynamic":
        ax.axvline(-0.5, color="black", lw=0.8, ls=":")
        ax.legend(frameon=False)
    band = "simultaneous band" if lo == "band_low" else "pointwise CI"
    level = 100 * (1 - agg._parent.settings["alpha"])
    ax.set_xlabel(
        {"dynamic": "event time (periods since adoption)", "group": "cohort", "calendar": "period"}[
            agg.kind
        ]
    )
    ax.set_ylabel(f"ATT ({level:g}% {band})")
    ax.set_title(
        title or f"{agg.kind} ATT: overall {agg.overall_att:.3f} (SE {agg.overall_se:.3f})"
    )
    return ax


def att_gt_heatmap(result: StaggeredDiDResult, ax: Any = None, annot: bool = True) -> Any:
    """Heat map of ATT(g, t): cohorts in rows, periods in columns (diverging, centred at 0).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if not isinstance(result, StaggeredDiDResult):
        raise SpecError("att_gt_heatmap needs the result of staggered_did()")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 * result.att_gt["cohort"].nunique() + 2))
    grid = result.att_gt.pivot(index="cohort", columns="time", values="att")
    grid.index = [f"{g:g}" for g in grid.index]
    grid.columns = [f"{t:g}" for t in grid.columns]
    lim = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    sns.heatmap(
        grid,
        ax=ax,
        cmap="RdBu_r",
        center=0,
        vmin=-lim,
        vmax=lim,
        annot=annot,
        fmt=".3f",
        cbar_kws={"label": "ATT(g, t)"},
    )
    ax.set_xlabel("period")
    ax.set_ylabel("cohort (first treated period)")
    ax.set_title(f"ATT(g, t), {result.settings['method']}, {result.settings['control']} controls")
    return ax
