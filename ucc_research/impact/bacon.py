"""Two-way fixed effects DiD and its Goodman-Bacon (2021) decomposition.

:func:`twfe` fits ``y_it = a_i + l_t + beta * D_it + e_it`` and reports ``beta`` with a
cluster-robust (CRV1) standard error using fixest's small-sample convention (the default of R
``fixest::feols`` and of pyfixest): ``V = G/(G-1) * (N-1)/(N-K) * (X'X)^-1 (sum_c s_c s_c') (X'X)^-1``
on the within-transformed data, where ``G`` is the number of clusters, ``N`` the number of
observations and ``K`` the number of estimated parameters *excluding fixed effects nested in the
cluster variable*; the non-nested fixed effects count their levels minus one per extra fixed
effect. With clusters = units (the default) the unit effects are nested and ``K = 1 + T``; with
clusters that cut across units ``K = 1 + n_units + T - 1``. This reproduces
``feols(y ~ post | unit + time, cluster = ~unit)`` (-0.036549, SE 0.013265 on mpdta).
(linearmodels' PanelOLS counts the absorbed unit effects too and gives a larger SE.)

:func:`bacon_decomposition` splits ``beta`` from a balanced staggered panel into every 2x2 DiD
comparison: treated vs never treated, earlier- vs later-treated (later cohort as a not-yet-treated
control) and later- vs earlier-treated (the already-treated cohort as control: the "forbidden"
comparison that biases TWFE when effects change over time), plus later vs always treated when
some units are treated from the first period. The weights sum to one and ``sum(weight *
estimate)`` equals the TWFE coefficient exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ucc_research.errors import SpecError, UccWarning
from ucc_research.impact.base import ImpactResult

__all__ = ["twfe", "bacon_decomposition", "TWFEResult"]


def _show(values: Any, k: int = 5) -> str:
    values = list(values)
    text = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:k])
    return text + (f", ... ({len(values)} in all)" if len(values) > k else "")


def _panel(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None,
    cohort: str | None,
    cluster: str | None,
) -> pd.DataFrame:
    """Validated long panel with columns y, u (codes), t (values), d (0/1), g, c (cluster codes)."""
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise SpecError("data must be a non-empty pandas DataFrame")
    if (treatment is None) == (cohort is None):
        raise SpecError("give exactly one of treatment= (0/1 column) or cohort= (adoption period)")
    cols = [outcome, unit, time, treatment or cohort] + ([cluster] if cluster else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise SpecError(f"column(s) {_show(missing)} not in the data")
    for col in (outcome, time, treatment or cohort):
        if not pd.api.types.is_numeric_dtype(data[col]) and not pd.api.types.is_bool_dtype(
            data[col]
        ):
            raise SpecError(f"column {col!r} must be numeric, found dtype {data[col].dtype}")
    if data[[unit, time]].isna().any().any():
        raise SpecError(f"rows with a missing {unit!r} or {time!r}; every row needs both")
    dup = data.duplicated([unit, time], keep=False)
    if dup.any():
        pairs = data.loc[dup, [unit, time]].drop_duplicates().itertuples(index=False, name=None)
        raise SpecError(f"duplicated {unit!r}-{time!r} rows: {_show(pairs)}")
    out = pd.DataFrame(
        {
            "y": data[outcome].to_numpy(dtype=float, na_value=np.nan),
            "u": pd.factorize(data[unit], sort=True)[0],
            "t": data[time].to_numpy(dtype=float),
        }
    )
    if cohort is not None:
        g = data[cohort].to_numpy(dtype=float, na_value=np.nan)
        g = np.where(np.isnan(g) | (g == 0), np.inf, g)
        out["g"] = g
        if out.groupby("u")["g"].nunique().gt(1).any():
            raise SpecError(f"cohort column {cohort!r} varies within a unit")
        out["d"] = (out["t"] >= out["g"]).astype(float)
    else:
        d = data[treatment].to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isin(d[~np.isnan(d)], (0.0, 1.0))
        if bad.any():
            raise SpecError(f"treatment column {treatment!r} must be 0/1")
        out["d"] = d
    out["c"] = out["u"] if cluster is None else pd.factorize(data[cluster])[0]
    miss = out[["y", "d"]].isna().any(axis=1) | (out["c"] < 0)
    if miss.any():
        warnings.warn(
            f"dropped {int(miss.sum())} row(s) with a missing outcome, treatment or cluster",
            UccWarning,
            stacklevel=3,
        )
        out = out[~miss].reset_index(drop=True)
    if out["u"].nunique() < 3:
        raise SpecError("TWFE needs at least three units")
    return out


def _demean(v: np.ndarray, u: np.ndarray, t: np.ndarray, tol: float = 1e-13) -> np.ndarray:
    """Residual of ``v`` on unit and time dummies (alternating projections; exact if balanced)."""
    nu, nt = u.max() + 1, t.max() + 1
    cu, ct = np.bincount(u, minlength=nu), np.bincount(t, minlength=nt)
    r = v.astype(float).copy()
    for _ in range(10_000):
        r -= (np.bincount(u, r, nu) / cu)[u]
        step = (np.bincount(t, r, nt) / ct)[t]
        r -= step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(v))):
            break
    return r


class TWFEResult(ImpactResult):
    """TWFE coefficient with its CRV1 standard error; see :func:`twfe`."""

    def __init__(self, coef, se, n_obs, n_units, n_periods, n_clusters, k, alpha, names):
        self.coef = coef
        self.se = se
        self.n_obs = n_obs
        self.n_units = n_units
        self.n_periods = n_periods
        self.n_clusters = n_clusters
        self.k = k
        self.alpha = alpha
        self.df = n_clusters - 1
        # fixest reports t-based intervals with G - 1 degrees of freedom for clustered SEs.
        q = stats.t.ppf(1 - alpha / 2, self.df)
        self.ci = (coef - q * se, coef + q * se)
        self.tstat = coef / se
        self.pvalue = float(2 * stats.t.sf(abs(self.tstat), self.df))
        self.names = names
        self._fwl: tuple | None = None  # (demeaned treatment, demeaned outcome, cluster codes)

    def wild_cluster_bootstrap(
        self, n_boot: int = 9999, seed: int = 0, weights: str = "auto"
    ) -> dict:
        """Wild cluster restricted bootstrap of the TWFE coefficient (few clusters).

        The CRV1 t-test over-rejects with few clusters; the WCR bootstrap (Cameron, Gelbach &
        Miller 2008; as Stata's ``boottest``, the same implementation as
        :func:`~ucc_research.impact.fe_regression`) imposes ``beta = 0`` on the two-way demeaned
        regression, flips the restricted residuals by cluster (Rademacher, or Webb's six-point
        weights below 12 clusters with ``"auto"``) and compares the CRV1 t-statistics.

        Returns
        -------
        dict with ``p_value``, ``ci_low``, ``ci_high`` (test inversion), ``n_boot``, ``weights``.
        """
        from ucc_research.impact.panel import _WEBB_BELOW, _WildClusterBootstrap

        if weights not in ("auto", "rademacher", "webb"):
            raise SpecError(f"weights must be 'auto', 'rademacher' or 'webb', got {weights!r}")
        if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 99:
            raise SpecError(f"n_boot must be an integer >= 99, got {n_boot!r}")
        if weights == "auto":
            weights = "webb" if self.n_clusters < _WEBB_BELOW else "rademacher"
        dd, yd, c = self._fwl
        boot = _WildClusterBootstrap(dd[:, None], yd, c, 0, n_boot, weights, seed)
        lo, hi = boot.confint(self.alpha)
        return {"p_value": boot.pvalue(0.0), "ci_low": lo, "ci_high": hi, "n_boot": n_boot,
                "weights": weights}  # fmt: skip

    def tidy(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "term": [self.names["treatment"]],
                "estimate": [self.coef],
                "se": [self.se],
                "ci_low": [self.ci[0]],
                "ci_high": [self.ci[1]],
                "pvalue": [self.pvalue],
            }
        )

    def summary(self) -> str:
        return (
            f"TWFE {self.names['outcome']} ~ {self.names['treatment']} | unit + time: "
            f"{self.coef:.6f} (CRV1 SE {self.se:.6f}, clustered by {self.names['cluster']}, "
            f"{self.n_clusters} clusters; fixest small-sample factor G/(G-1)*(N-1)/(N-K), "
            f"N={self.n_obs}, K={self.k}), {self.n_units} units x {self.n_periods} periods"
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        ax.errorbar(
            [0],
            [self.coef],
            yerr=[[self.coef - self.ci[0]], [self.ci[1] - self.coef]],
            fmt="o",
            capsize=4,
        )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks([0], [self.names["treatment"]])
        ax.set_ylabel(f"TWFE coefficient ({100 * (1 - self.alpha):g}% CI)")
        return ax


def twfe(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    cohort: str | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> TWFEResult:
    """Two-way fixed effects regression ``outcome ~ D | unit + time`` with CRV1 SEs.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period (balanced or not).
    outcome, unit, time : str
        Column names.
    treatment : str, optional
        0/1 column ``D_it``. Give this or ``cohort``.
    cohort : str, optional
        Adoption period (0, NaN or inf for never treated); ``D_it = 1{time >= cohort}``.
    cluster : str, optional
        Cluster column; default the unit (fixest's ``cluster = ~unit``).
    alpha : float
        1 - confidence level (t intervals with G - 1 degrees of freedom, as fixest).

    Returns
    -------
    TWFEResult
        ``coef``, ``se``, ``ci``, ``pvalue``, ``tidy()``, ``summary()``.

    Examples
    --------
    >>> from ucc_research import demo
    >>> d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    >>> tp = demo.transfer_panel(d)  # cohorts 2019 and 2020, never-adopters coded 0
    >>> round(twfe(tp, "digital_share", "unit", "time", cohort="cohort").coef, 3)
    0.106
    """
    p = _panel(data, outcome, unit, time, treatment, cohort, cluster)
    u = pd.factorize(p["u"])[0]
    t = pd.factorize(p["t"], sort=True)[0]
    yd = _demean(p["y"].to_numpy(), u, t)
    dd = _demean(p["d"].to_numpy(), u, t)
    sxx = float(dd @ dd)
    if sxx < 1e-12:
        raise SpecError("the treatment does not vary beyond unit and time effects")
    beta = float(dd @ yd) / sxx
    e = yd - beta * dd
    c = pd.factorize(p["c"])[0]
    n_cl = int(c.max()) + 1
    if n_cl < 2:
        raise SpecError("CRV1 standard errors need at least two clusters")
    scores = np.bincount(c, dd * e, n_cl)
    n = len(p)
    n_periods = int(t.max()) + 1
    # fixest's fixef.K="nested": fixed effects nested in the cluster are not counted; the
    # others count their levels minus one restriction per extra fixed effect (checked against
    # pyfixest for clusters = units, nested groups of units and non-nested clusters).
    sizes = []
    for fe in (u, t):
        if pd.DataFrame({"fe": fe, "c": c}).groupby("fe")["c"].nunique().max() > 1:
            sizes.append(int(fe.max()) + 1)
    k = 1 + (sum(sizes) - (len(sizes) - 1) if sizes else 0)
    adj = n_cl / (n_cl - 1) * (n - 1) / (n - k)
    se = float(np.sqrt(adj * np.sum(scores**2)) / sxx)
    names = {
        "outcome": outcome,
        "treatment": treatment or f"1{{{time} >= {cohort}}}",
        "cluster": cluster or unit,
    }
    res = TWFEResult(beta, se, n, int(u.max()) + 1, n_periods, n_cl, k, alpha, names)
    res._fwl = (dd, yd, c)
    return res


def bacon_decomposition(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    cohort: str | None = None,
) -> pd.DataFrame:
    """Goodman-Bacon decomposition of the TWFE DiD coefficient into 2x2 comparisons.

    Parameters
    ----------
    data : DataFrame
        Balanced long panel with staggered, absorbing treatment.
    outcome, unit, time : str
        Column names.
    treatment, cohort : str
        As in :func:`twfe` (give one).

    Returns
    -------
    DataFrame
        One row per comparison: ``type`` (``treated_vs_never``, ``earlier_vs_later``,
        ``later_vs_earlier``, ``later_vs_always_treated``), ``treated`` and ``control`` cohorts
        (inf = never treated), ``estimate`` (the 2x2 DiD), ``weight``, ``n_treated``,
        ``n_control``. ``(weight * estimate).sum()`` equals :func:`twfe`'s coefficient.

    Examples
    --------
    >>> from ucc_research import demo
    >>> d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    >>> tp = demo.transfer_panel(d)  # cohorts 2019 and 2020, never-adopters coded 0
    >>> b = bacon_decomposition(tp, "digital_share", "unit", "time", cohort="cohort")
    >>> b[["type", "treated", "control", "weight"]].round(3)
                   type  treated  control  weight
    0  treated_vs_never   2019.0      inf   0.368
    1  treated_vs_never   2020.0      inf   0.345
    2  earlier_vs_later   2019.0   2020.0   0.115
    3  later_vs_earlier   2020.0   2019.0   0.172
    >>> round(float((b["weight"] * b["estimate"]).sum()), 3)  # the TWFE coefficient
    0.106
    """
    p = _panel(data, outcome, unit, time, treatment, cohort, None)
    periods = np.sort(p["t"].unique())
    n_units = p["u"].nunique()
    if len(p) != n_units * len(periods):
        raise SpecError(
            "the Goodman-Bacon decomposition needs a balanced panel (every unit in every "
            f"period): {len(p)} rows for {n_units} units x {len(periods)} periods"
        )
    y = np.full((n_units, len(periods)), np.nan)
    d = np.full_like(y, np.nan)
    ui = p["u"].to_numpy()
    ti = np.searchsorted(periods, p["t"].to_numpy())
    y[ui, ti] = p["y"].to_numpy()
    d[ui, ti] = p["d"].to_numpy()
    # Adoption period per unit from the 0/1 path; it must be absorbing (0...0 1...1).
    if np.any(np.diff(d, axis=1) < 0):
        raise SpecError(
            "the treatment switches off for some unit; the decomposition needs "
            "absorbing (staggered) adoption"
        )
    ever = d.max(axis=1) > 0
    first = np.where(ever, periods[np.argmax(d > 0, axis=1)], np.inf)
    dbar_u = d.mean(axis=1)

    dd = _demean(
        d.ravel(),
        np.repeat(np.arange(n_units), len(periods)),
        np.tile(np.arange(len(periods)), n_units),
    )
    var_d = float(np.mean(dd**2))
    if var_d < 1e-12:
        raise SpecError("the treatment does not vary beyond unit and time effects")

    groups = np.unique(first)
    share = {g: float(np.mean(first == g)) for g in groups}
    dbar = {g: float(dbar_u[first == g][0]) for g in groups}
    count = {g: int(np.sum(first == g)) for g in groups}

    def mean_y(g: float, window: np.ndarray) -> float:
        return float(y[np.ix_(first == g, window)].mean())

    def did(treated: float, control: float, pre: np.ndarray, post: np.ndarray) -> float:
        return (mean_y(treated, post) - mean_y(treated, pre)) - (
            mean_y(control, post) - mean_y(control, pre)
        )

    rows = []
    timing = [g for g in groups if np.isfinite(g)]
    if np.inf in share:
        for k in timing:
            if dbar[k] >= 1.0:
                continue  # always treated vs never treated: no within variation
            nk, nu = share[k], share[np.inf]
            nku = nk / (nk + nu)
            w = (nk + nu) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k]) / var_d
            est = did(k, np.inf, periods < k, periods >= k)
            rows.append(("treated_vs_never", k, np.inf, est, w, count[k], count[np.inf]))
    for i, k in enumerate(timing):
        for ell in timing[i + 1 :]:  # k adopts earlier than ell
            nk, nl = share[k], share[ell]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[ell]
            if dk < 1.0:  # k vs not-yet-treated ell, window before ell adopts
                w = ((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * (dk - dl) / (1 - dl)
                w *= (1 - dk) / (1 - dl) / var_d
                est = did(k, ell, periods < k, (periods >= k) & (periods < ell))
                rows.append(("earlier_vs_later", k, ell, est, w, count[k], count[ell]))
            if dl > 0.0:  # ell vs already-treated k, window from k's adoption on
                w = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * (dk - dl) / dk / var_d
                est = did(ell, k, (periods >= k) & (periods < ell), periods >= ell)
                kind = "later_vs_always_treated" if dk >= 1.0 else "later_vs_earlier"
                rows.append((kind, ell, k, est, w, count[ell], count[k]))
    out = pd.DataFrame(
        rows,
        columns=["type", "treated", "control", "estimate", "weight", "n_treated", "n_control"],
    )
    return out
