"""Data preparation for :func:`~ucc_research.impact.staggered_did`: the long data to a balanced
wide panel (units x periods), with R ``did``'s drops, each announced with a warning."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError, UccWarning
from ucc_research.impact._checks import check_columns, check_frame, check_numeric, show


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


def _warn(notes: list[str], msg: str) -> None:
    warnings.warn(msg, UccWarning, stacklevel=5)
    notes.append(msg)


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
        check_columns(data, needed, f"covariates formula {covariates!r} uses")
        return formula, needed
    if isinstance(covariates, (list, tuple)):
        names = [str(c) for c in covariates]
        check_columns(data, names, "covariate column(s)")
        return None, names
    raise SpecError(
        "covariates must be None, a list of column names or a formula string like '~ lpop', "
        f"got {type(covariates).__name__}"
    )


def _as_float(data: pd.DataFrame, col: str, role: str) -> np.ndarray:
    check_numeric(data, [col], f"{role} column")
    return data[col].to_numpy(dtype=float, na_value=np.nan)


def _long_arrays(data, outcome, unit, time, cohort, cluster) -> tuple:
    """Checked long arrays: time, outcome, cohort (inf = never treated), unit codes and ids."""
    check_frame(data)
    roles = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
    if cluster is not None:
        roles["cluster"] = cluster
    for role, col in roles.items():
        check_columns(data, [col], f"{role} column")
    for role, col in (("unit", unit), ("time", time)):
        miss = data[col].isna()
        if miss.any():
            raise SpecError(
                f"{int(miss.sum())} row(s) have a missing {role} ({col!r}), e.g. at index "
                f"{show(data.index[miss])}; every row must name its unit and period"
            )
    t_all, y_all = _as_float(data, time, "time"), _as_float(data, outcome, "outcome")
    g_all = _as_float(data, cohort, "cohort")
    dup = data.duplicated([unit, time], keep=False)
    if dup.any():
        pairs = data.loc[dup, [unit, time]].drop_duplicates().itertuples(index=False, name=None)
        raise SpecError(
            f"{int(dup.sum())} rows share a {unit!r}-{time!r} pair (each unit may appear once "
            f"per period): {show(pairs)}; aggregate or de-duplicate them first"
        )
    # Never treated may be coded 0, NaN or inf (R did: 0).
    g_all = np.where(np.isnan(g_all) | np.isinf(g_all) | (g_all == 0), np.inf, g_all)
    codes, uniq_units = pd.factorize(data[unit], sort=True)
    g_min, g_max = np.full(len(uniq_units), np.inf), np.full(len(uniq_units), -np.inf)
    np.minimum.at(g_min, codes, g_all)
    np.maximum.at(g_max, codes, g_all)
    varying = np.flatnonzero(g_min != g_max)
    if len(varying):
        raise SpecError(
            f"cohort column {cohort!r} varies within {len(varying)} unit(s) "
            f"({show(uniq_units[varying])}); the adoption period must be the same in every row "
            "of a unit (treatment is irreversible)"
        )
    if np.any(g_all <= 0):
        raise SpecError(
            f"cohort column {cohort!r} has negative values {show(np.unique(g_all[g_all <= 0]))}"
        )
    return t_all, y_all, g_all, codes, uniq_units


def _design(data: pd.DataFrame, formula: str | None, xvars: list[str]) -> tuple:
    """Long covariate design (intercept first) and its column names, or (None, [])."""
    if not xvars:
        return None, []
    if formula is None:
        xcols = [_as_float(data, c, "covariate") for c in xvars]
        return np.column_stack([np.ones(len(data))] + xcols), ["(Intercept)"] + xvars
    import formulaic

    try:
        mm = formulaic.model_matrix(formula, data, na_action="ignore")
    except Exception as exc:  # formulaic raises many evaluation error types
        raise SpecError(f"covariates formula {formula!r} failed: {exc}") from exc
    return np.asarray(mm, dtype=float), list(mm.columns)


def _wide(long: tuple, x_long, cl_all, bad_row, notes: list[str], cluster) -> tuple:
    """Balance the panel (drop units with a missing period, as R did) and reshape it wide."""
    t_all, y_all, g_all, codes, uniq_units = long
    periods = np.unique(t_all)
    n_periods = len(periods)
    keep = ~bad_row
    complete = np.bincount(codes[keep], minlength=len(uniq_units)) == n_periods
    if (~complete).any():
        n_bad = int(bad_row.sum())
        _warn(
            notes,
            f"dropped {int((~complete).sum())} unit(s) not observed in all {n_periods} periods"
            + (f" (after removing {n_bad} row(s) with missing values)" if n_bad else "")
            + f", e.g. {show(uniq_units[~complete])}, to keep a balanced panel (as R did with "
            "panel=TRUE)",
        )
    keep &= complete[codes]
    if not keep.any():
        raise SpecError("no unit is observed in every period with complete data")
    unit_idx = np.flatnonzero(complete)  # unit order = sorted ids, period order = sorted
    remap = -np.ones(len(uniq_units), dtype=int)
    remap[unit_idx] = np.arange(len(unit_idx))
    rows = np.flatnonzero(keep)
    ui, ti = remap[codes[rows]], np.searchsorted(periods, t_all[rows])
    n = len(unit_idx)
    y, g = np.empty((n, n_periods)), np.empty(n)
    y[ui, ti], g[ui] = y_all[rows], g_all[rows]
    x = None
    if x_long is not None:
        x = np.empty((n_periods, n, x_long.shape[1]))
        x[ti, ui, :] = x_long[rows]
    cl = None
    if cl_all is not None:
        per_unit = pd.DataFrame({"u": ui, "c": cl_all[rows]}).groupby("u")["c"].nunique()
        if (per_unit > 1).any():
            raise SpecError(
                f"cluster column {cluster!r} varies over time within "
                f"{int((per_unit > 1).sum())} unit(s); clusters must contain whole units"
            )
        cl = np.empty(n, dtype=int)
        cl[ui] = cl_all[rows]
        cl = pd.factorize(cl)[0]
    return np.asarray(uniq_units[unit_idx]), periods, y, g, x, cl


def _last_cohort_as_control(p: dict, control: str, anticipation: int) -> None:
    """No never-treated units: R did drops the periods from the last cohort's adoption on and
    keeps that cohort as a not-yet-treated control only."""
    g = p["cohort"]
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
    keep_t = p["periods"] < last - anticipation
    _warn(
        p["notes"],
        f"no never-treated units: periods from {last - anticipation:g} on are dropped and the "
        f"last cohort ({last:g}) serves only as a not-yet-treated control (as R did)",
    )
    p["control_only"] = last
    p["periods"], p["y"] = p["periods"][keep_t], p["y"][:, keep_t]
    if p["x"] is not None:
        p["x"] = p["x"][keep_t]
    if len(p["periods"]) < 2:
        raise SpecError("fewer than two periods remain before the last cohort adopts")


def _drop_early(p: dict, anticipation: int) -> None:
    """Units treated in the first period (+ anticipation) have no pre-period: dropped."""
    first, g = p["periods"][0], p["cohort"]
    early = np.isfinite(g) & (g <= first + anticipation)
    if not early.any():
        return
    _warn(
        p["notes"],
        f"dropped {int(early.sum())} unit(s) already treated in the first period "
        f"({first:g}{f' + anticipation {anticipation}' if anticipation else ''}): with no "
        f"untreated period they have no pre-treatment outcome to compare; e.g. "
        f"{show(p['units'][early])}",
    )
    keep = ~early
    for k in ("units", "y", "cohort"):
        p[k] = p[k][keep]
    if p["x"] is not None:
        p["x"] = p["x"][:, keep]
    if p["cluster"] is not None:
        p["cluster"] = pd.factorize(p["cluster"][keep])[0]


def prepare(
    data, outcome, unit, time, cohort, covariates, control, anticipation, cluster
) -> _Panel:
    """The balanced wide panel R ``did`` estimates on (see the package docstring's drops)."""
    long = _long_arrays(data, outcome, unit, time, cohort, cluster)
    formula, xvars = _parse_covariates(covariates, data)
    # Rows with missing outcome / covariates / cluster: R did drops them, then balances.
    bad_row = np.isnan(long[1])
    x_long, x_names = _design(data, formula, xvars)
    if x_long is not None:
        bad_row |= ~np.all(np.isfinite(x_long), axis=1)
    cl_all = None
    if cluster is not None:
        cl_all = pd.factorize(data[cluster])[0]
        bad_row |= cl_all < 0
    notes: list[str] = []
    units, periods, y, g, x, cl = _wide(long, x_long, cl_all, bad_row, notes, cluster)
    # Adoption after the last period (+ anticipation): never treated within the window (R did).
    late = np.isfinite(g) & (g > periods[-1] + anticipation)
    if late.any():
        notes.append(
            f"{int(late.sum())} unit(s) adopting after the last period count as never treated"
        )
        g[late] = np.inf
    p = {"units": units, "periods": periods, "y": y, "cohort": g, "x": x, "cluster": cl,
         "control_only": np.inf, "notes": notes}  # fmt: skip
    if not np.isinf(g).any():
        _last_cohort_as_control(p, control, anticipation)
    _drop_early(p, anticipation)
    if len(p["periods"]) < 2:
        raise SpecError(f"time column {time!r} has fewer than two periods")
    if len(p["units"]) < 2:
        raise SpecError(
            f"only {len(p['units'])} usable unit(s) remain; staggered DiD needs treated and "
            "control units observed in every period"
        )
    return _Panel(p["units"], p["periods"], p["y"], p["cohort"], p["x"], x_names, p["cluster"],
                  p["control_only"], notes)  # fmt: skip
