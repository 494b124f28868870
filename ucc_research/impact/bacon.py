"""Two-way fixed effects DiD (pyfixest) and its Goodman-Bacon (2021) decomposition.

:func:`twfe` fits ``y_it = a_i + l_t + beta * D_it + e_it`` with pyfixest's ``feols`` (the same
fit as :func:`~ucc_research.impact.fe_regression`) and reports ``beta`` with fixest's default
cluster-robust (CRV1) standard error: ``G/(G-1) * (N-1)/(N-K)`` with ``K`` counting the fixed
effects *not nested* in the cluster variable, t(G-1) intervals. This reproduces
``feols(y ~ post | unit + time, cluster = ~unit)`` (-0.036549, SE 0.013265 on mpdta).
``res.with_inference(vcov="hetero")`` (or ``{"CRV1": "region"}``, any column of the data)
recomputes the inference with pyfixest's ``Feols.vcov`` without refitting.

:func:`bacon_decomposition` splits ``beta`` from a balanced staggered panel into every 2x2 DiD
comparison: treated vs never treated, earlier- vs later-treated (later cohort as a not-yet-treated
control) and later- vs earlier-treated (the already-treated cohort as control: the "forbidden"
comparison that biases TWFE when effects change over time), plus later vs always treated when
some units are treated from the first period. The weights sum to one and ``sum(weight *
estimate)`` equals the pyfixest TWFE coefficient (to ~1e-12; checked in the tests).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError, UccWarning
from ucc_research.impact._checks import check_columns, check_frame, check_numeric, check_unique_rows
from ucc_research.impact.base import ImpactResult

__all__ = ["twfe", "bacon_decomposition", "TWFEResult"]


def check_one_of(treatment: str | None, cohort: str | None, cohort_name: str = "cohort") -> str:
    """The treatment-defining column: exactly one of ``treatment`` (0/1) or the adoption column."""
    if (treatment is None) == (cohort is None):
        raise SpecError(
            f"give exactly one of treatment= (0/1 column) or {cohort_name}= (adoption period)"
        )
    return treatment if treatment is not None else cohort


def _panel(data: pd.DataFrame, outcome, unit, time, treatment, cohort, cluster) -> pd.DataFrame:
    """Validated long panel: y, u (codes), t (values), d (0/1), g, c (cluster codes), row."""
    check_frame(data)
    role = check_one_of(treatment, cohort)
    check_columns(data, [outcome, unit, time, role] + ([cluster] if cluster else []))
    check_numeric(data, [outcome, time, role])
    if data[[unit, time]].isna().any().any():
        raise SpecError(f"rows with a missing {unit!r} or {time!r}; every row needs both")
    check_unique_rows(data, [unit, time])
    out = pd.DataFrame(
        {
            "y": data[outcome].to_numpy(dtype=float, na_value=np.nan),
            "u": pd.factorize(data[unit], sort=True)[0],
            "t": data[time].to_numpy(dtype=float),
            "row": np.arange(len(data)),
        }
    )
    if cohort is not None:
        g = data[cohort].to_numpy(dtype=float, na_value=np.nan)
        out["g"] = np.where(np.isnan(g) | (g == 0), np.inf, g)
        if out.groupby("u")["g"].nunique().gt(1).any():
            raise SpecError(f"cohort column {cohort!r} varies within a unit")
        out["d"] = (out["t"] >= out["g"]).astype(float)
    else:
        d = data[treatment].to_numpy(dtype=float, na_value=np.nan)
        if (~np.isin(d[~np.isnan(d)], (0.0, 1.0))).any():
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


class TWFEResult(ImpactResult):
    """The TWFE coefficient of a pyfixest fit; see :func:`twfe`.

    ``estimate``, ``std_error``, ``p_value``, ``conf_int``, ``n_obs``, ``tidy()``, ``summary()``
    as every result (:mod:`ucc_research.impact.base`); ``model`` is the pyfixest ``Feols``.
    :meth:`with_inference` takes pyfixest's ``vcov`` (``"iid"``, ``"hetero"``, ``"HC1"``-``"HC3"``,
    ``{"CRV1": column}``, ``{"CRV3": column}``, any column of the data given to :func:`twfe`).
    """

    title = "Two-way fixed effects DiD (pyfixest feols)"

    def __init__(self, model: Any, frame: pd.DataFrame, data: pd.DataFrame, names: dict,
                 alpha: float, vcov: Any) -> None:  # fmt: skip
        self.model = model
        self.names = names
        self.alpha = alpha
        self.vcov = vcov
        self.n_obs = int(model._N)
        self.n_units = int(frame["u"].nunique())
        self.n_periods = int(frame["t"].nunique())
        self._frame = frame  # the fitted rows (y, d, u, t, c, row)
        self._data = data  # the caller's data, for clusters named after fitting

    @property
    def n_clusters(self) -> int | None:
        """Clusters of the CRV inference (None for iid / heteroskedasticity-robust)."""
        g = getattr(self.model, "_G", None)
        return int(np.min(g)) if g is not None and isinstance(self.vcov, dict) else None

    def _tidy(self) -> pd.DataFrame:
        m = self.model
        ci = m.confint(alpha=self.alpha)
        return pd.DataFrame(
            {
                "term": [self.names["treatment"]],
                "estimate": m.coef().to_numpy(float),
                "std_error": m.se().to_numpy(float),
                "statistic": m.tstat().to_numpy(float),
                "p_value": m.pvalue().to_numpy(float),
                "conf_low": ci.iloc[:, 0].to_numpy(float),
                "conf_high": ci.iloc[:, 1].to_numpy(float),
            }
        )

    def _summary_lines(self) -> list[str]:
        n = self.names
        infer = (
            f"CRV1 by {next(iter(self.vcov.values()))!r} ({self.n_clusters} clusters; fixest "
            "small-sample factor G/(G-1)*(N-1)/(N-K), t(G-1))"
            if isinstance(self.vcov, dict)
            else f"vcov {self.vcov!r}"
        )
        return [
            f"{n['outcome']} ~ {n['treatment']} | unit + time; N = {self.n_obs}, "
            f"{self.n_units} units x {self.n_periods} periods",
            f"inference: {infer}",
        ]

    def with_inference(self, vcov: Any = "hetero", **options: Any) -> TWFEResult:
        """The same fit with pyfixest's ``vcov`` (e.g. ``"hetero"``, ``{"CRV1": "region"}``)."""
        if options:
            raise SpecError(f"TWFEResult.with_inference takes only vcov=, not {sorted(options)}")
        frame = self._frame
        if isinstance(vcov, dict):
            ((kind, col),) = vcov.items()
            check_columns(self._data, [col], "cluster column")
            codes = pd.factorize(self._data[col])[0][frame["row"].to_numpy()]
            if (codes < 0).any():
                raise SpecError(f"cluster column {col!r} is missing for fitted rows")
            frame = frame.assign(c=codes)
            fit_vcov: Any = {kind: "c"}
        else:
            fit_vcov = vcov
        model = copy.deepcopy(self.model)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The inplace keyword")
            model.vcov(fit_vcov, data=frame)
        out = copy.copy(self)
        out.model, out.vcov, out._frame = model, vcov, frame
        return out

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
        dict with ``p_value``, ``conf_low``, ``conf_high`` (test inversion), ``n_boot``,
        ``weights``.
        """
        from ucc_research.impact.panel import _WEBB_BELOW, _WildClusterBootstrap

        if weights not in ("auto", "rademacher", "webb"):
            raise SpecError(f"weights must be 'auto', 'rademacher' or 'webb', got {weights!r}")
        if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 99:
            raise SpecError(f"n_boot must be an integer >= 99, got {n_boot!r}")
        c = pd.factorize(self._frame["c"])[0]
        n_cl = int(c.max()) + 1
        if weights == "auto":
            weights = "webb" if n_cl < _WEBB_BELOW else "rademacher"
        xd = np.asarray(self.model._X, float)
        yd = np.asarray(self.model._Y, float).ravel()
        boot = _WildClusterBootstrap(xd, yd, c, 0, n_boot, weights, seed)
        lo, hi = boot.confint(self.alpha)
        return {"p_value": boot.pvalue(0.0), "conf_low": lo, "conf_high": hi, "n_boot": n_boot,
                "weights": weights}  # fmt: skip

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        est, (lo, hi) = self.estimate, self.conf_int
        ax.errorbar([0], [est], yerr=[[est - lo], [hi - est]], fmt="o", capsize=4)
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
    """Two-way fixed effects regression ``outcome ~ D | unit + time`` (pyfixest) with CRV1 SEs.

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
        ``estimate``, ``std_error``, ``conf_int``, ``p_value``, ``tidy()``, ``summary()``,
        ``with_inference(vcov=...)``, ``wild_cluster_bootstrap()``.

    Examples
    --------
    >>> from ucc_research import demo
    >>> d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    >>> tp = demo.transfer_panel(d)  # cohorts 2019 and 2020, never-adopters coded 0
    >>> res = twfe(tp, "digital_share", "unit", "time", cohort="cohort")
    >>> round(res.estimate, 3)
    0.106
    >>> res.with_inference(vcov="hetero").std_error < res.std_error  # clustering matters here
    True
    """
    from ucc_research.impact.panel import fit_feols

    if not 0 < alpha < 1:
        raise SpecError(f"alpha must be between 0 and 1, got {alpha!r}")
    frame = _panel(data, outcome, unit, time, treatment, cohort, cluster)
    if frame["c"].nunique() < 2:
        raise SpecError("CRV1 standard errors need at least two clusters")
    model = fit_feols("y ~ d | u + t", frame, {"CRV1": "c"})
    if "d" not in model.coef().index:
        raise SpecError("the treatment does not vary beyond unit and time effects")
    names = {
        "outcome": outcome,
        "treatment": treatment or f"1{{{time} >= {cohort}}}",
        "cluster": cluster or unit,
    }
    return TWFEResult(model, frame, data, names, alpha, {"CRV1": cluster or unit})


def _wide(p: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Balanced wide arrays: periods (T,), outcome and treatment (n x T), adoption period (n,)."""
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
    return periods, y, d, first


def _comparisons(periods, y, first, dbar, var_d) -> list[tuple]:
    """Every 2x2 comparison (Goodman-Bacon 2021, eqs. 10a-10c): type, cohorts, DiD, weight."""
    groups = np.unique(first)
    share = {g: float(np.mean(first == g)) for g in groups}
    count = {g: int(np.sum(first == g)) for g in groups}

    def did(treated: float, control: float, pre: np.ndarray, post: np.ndarray) -> float:
        def mean(g, window):
            return float(y[np.ix_(first == g, window)].mean())

        return mean(treated, post) - mean(treated, pre) - (mean(control, post) - mean(control, pre))

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
    return rows


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
        ``n_control``. ``(weight * estimate).sum()`` equals :func:`twfe`'s ``estimate``.

    Examples
    --------
    >>> from ucc_research import demo
    >>> tp = demo.transfer_panel(demo.generate(seed=1, n_cities=16, n_services=2,
    ...                                        years=(2017, 2022)))  # SYNTHETIC; 2019, 2020
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
    periods, y, d, first = _wide(p)
    # The two-way demeaned treatment of a balanced panel, in closed form.
    dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    var_d = float(np.mean(dd**2))
    if var_d < 1e-12:
        raise SpecError("the treatment does not vary beyond unit and time effects")
    dbar_u = d.mean(axis=1)
    dbar = {g: float(dbar_u[first == g][0]) for g in np.unique(first)}
    rows = _comparisons(periods, y, first, dbar, var_d)
    return pd.DataFrame(
        rows,
        columns=["type", "treated", "control", "estimate", "weight", "n_treated", "n_control"],
    )
