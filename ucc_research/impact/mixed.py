"""Mixed-effects models for services nested in cities (statsmodels MixedLM), fitted robustly.

MixedLM's default optimiser sometimes stops without converging, or converges to a boundary
(a variance component of zero: lme4's "singular fit"). :func:`mixed_model` therefore tries
several optimisers in turn (``lbfgs``, ``bfgs``, ``powell``, ``nm``, ``cg``), keeps every attempt's
convergence status, log-likelihood and warnings, and returns the converged fit with the highest
(restricted) log-likelihood. A boundary fit is reported, not hidden, and the intraclass
correlations (ICC) are computed from the chosen fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact._checks import check_columns, check_frame, check_numeric, formula_names
from ucc_research.impact.base import ImpactResult

__all__ = ["mixed_model", "MixedResult", "icc"]

METHODS = ("lbfgs", "bfgs", "powell", "nm", "cg")
# A variance component below this share of the total variance counts as on the boundary.
# statsmodels' own "MLE may be on the boundary" warning is NOT used: it fires whenever a variance
# is below 0.01 in the outcome's units (so for every outcome measured as a share, whatever the
# ICC); it is kept in the attempts' warnings.
_BOUNDARY = 1e-4


def icc(variances: dict[str, float], residual: float) -> pd.Series:
    """Intraclass correlation of each variance component: ``var_k / (sum_j var_j + residual)``.

    For a random-intercept model with group variance ``tau2`` this is the classical
    ``tau2 / (tau2 + sigma2)``: the correlation of two observations of the same group. With
    services nested in cities (a city intercept plus a service-within-city component) the
    city ICC is the correlation of two services of the same city, and ``city + service`` that
    of two observations of the same service in the same city.
    """
    total = sum(variances.values()) + residual
    return pd.Series({k: v / total for k, v in variances.items()}, name="icc", dtype=float)


@dataclass(repr=False)
class MixedResult(ImpactResult):
    """Result of :func:`mixed_model`.

    Attributes
    ----------
    fixed : DataFrame
        Fixed effects in the tidy columns (:mod:`ucc_research.impact.base`): ``term``,
        ``estimate``, ``std_error``, ``statistic`` (z), ``p_value``, ``conf_low``,
        ``conf_high`` (Wald, normal reference, as MixedLM reports). The inference is fixed at
        fitting (statsmodels' MixedLM has no post-fit covariance options): no
        ``with_inference``.
    variances : Series
        Variance components: the group random effects' (co)variances, each ``vc_formula``
        component and ``residual``.
    icc : Series
        Intraclass correlations of the random intercept and variance components.
    attempts : DataFrame
        One row per optimiser tried: ``method``, ``converged``, ``llf``, ``boundary``,
        ``warnings``.
    method : str
        The optimiser whose fit was kept.
    converged, boundary : bool
        Whether the kept fit converged, and whether a variance component is (near) zero.
    model_result : statsmodels MixedLMResults
    """

    fixed: pd.DataFrame
    variances: pd.Series
    icc: pd.Series
    attempts: pd.DataFrame
    method: str
    converged: bool
    boundary: bool
    formula: str
    groups: str
    n_groups: int
    n_obs: int
    reml: bool
    model_result: Any = field(default=None, repr=False)

    title = "Linear mixed model (statsmodels MixedLM)"
    alpha = 0.05

    def _tidy(self) -> pd.DataFrame:
        fixed = self.fixed.assign(kind="fixed")
        var = pd.DataFrame(
            {"term": [f"var({k})" for k in self.variances.index], "estimate": self.variances}
        ).assign(kind="variance")
        out = pd.concat([fixed, var.reset_index(drop=True)], ignore_index=True)
        out["method"] = f"MixedLM ({'REML' if self.reml else 'ML'}, {self.method})"
        return out

    def _summary_lines(self) -> list[str]:
        est = "REML" if self.reml else "ML"
        lines = [
            f"{est}: {self.formula}; groups: {self.groups} ({self.n_groups}), N = {self.n_obs}",
            f"  optimiser kept: {self.method} ("
            + ("converged" if self.converged else "NOT converged: treat with caution")
            + f"); tried {', '.join(self.attempts['method'])}: "
            + ", ".join(
                f"{m} {'ok' if c else 'failed'}"
                for m, c in zip(self.attempts["method"], self.attempts["converged"])
            ),
        ]
        if self.boundary:
            share = self.variances.drop("residual") / self._total()
            share = share[[not k.startswith("cov(") for k in share.index]]
            zero = share[share < 0.01].index.tolist() or [share.idxmin()]
            lines.append(
                f"  BOUNDARY (singular) fit: variance of {', '.join(zero)} estimated at or near "
                "0; the data show (almost) no variation at that level (consider dropping it)"
            )
        lines.append("  variances: " + ", ".join(f"{k} {v:.4g}" for k, v in self.variances.items()))
        lines.append("  ICC: " + ", ".join(f"{k} {v:.3f}" for k, v in self.icc.items()))
        return lines

    def _total(self) -> float:
        return float(sum(v for k, v in self.variances.items() if not k.startswith("cov(")))

    def random_effects(self) -> pd.DataFrame:
        """Predicted random effects (BLUPs), one row per group."""
        re = self.model_result.random_effects
        return pd.DataFrame({k: pd.Series(v) for k, v in re.items()}).T.rename_axis(self.groups)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Caterpillar plot of the groups' predicted random intercepts."""
        import matplotlib.pyplot as plt

        re = self.random_effects().iloc[:, 0].sort_values()
        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (6, 0.3 + 0.18 * len(re))))
        ax.plot(re.to_numpy(), np.arange(len(re)), "o", **kwargs)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(np.arange(len(re)), [str(i) for i in re.index], fontsize=7)
        ax.set_xlabel(f"predicted random intercept ({self.groups})")
        ax.set_title(f"{self.formula}; ICC({self.groups}) = {self.icc.iloc[0]:.2f}", fontsize=9)
        return ax


def mixed_model(
    data: pd.DataFrame,
    formula: str,
    groups: str,
    re_formula: str | None = None,
    vc_formula: dict[str, str] | None = None,
    reml: bool = True,
    methods: Sequence[str] = METHODS,
    maxiter: int = 500,
) -> MixedResult:
    """Fit a linear mixed model with several optimisers and report convergence honestly.

    Parameters
    ----------
    data : DataFrame
    formula : str
        Fixed part, e.g. ``"satisfaction ~ eid_login + proactive"``.
    groups : str
        Top-level grouping column (e.g. ``"city_id"``): a random intercept per group.
    re_formula : str, optional
        Random slopes within groups, e.g. ``"~ eid_login"`` (default: intercept only).
    vc_formula : dict, optional
        Nested components, e.g. ``{"service": "0 + C(service_id)"}`` (services in cities).
    reml : bool
        REML (default, as lme4) or ML (needed to compare fixed parts by likelihood).
    methods : sequence of str
        Optimisers, all tried in order; the best converged fit wins.
    maxiter : int
        Iteration limit of each optimiser.

    Returns
    -------
    MixedResult

    Examples
    --------
    SYNTHETIC: 4 services in each of 30 cities, 2 periods; city (sd 1), service (sd 0.6) and
    noise (sd 0.8) effects, so the true ICCs are 0.5 (city) and 0.18 (service):

    >>> rng = np.random.default_rng(0)
    >>> c, s, _ = np.meshgrid(np.arange(30), np.arange(4), np.arange(2), indexing="ij")
    >>> c, s = c.ravel(), s.ravel()
    >>> panel = pd.DataFrame({"city_id": c, "service_id": s, "eid_login": rng.normal(size=c.size)})
    >>> panel["satisfaction"] = (2 + 0.5 * panel["eid_login"] + rng.normal(0, 1, 30)[c]
    ...                          + rng.normal(0, 0.6, (30, 4))[c, s] + rng.normal(0, 0.8, c.size))
    >>> res = mixed_model(panel, "satisfaction ~ eid_login", groups="city_id",
    ...                   vc_formula={"service": "0 + C(service_id)"})
    >>> res.icc.round(2).to_dict()
    {'city_id': 0.53, 'service': 0.19}
    >>> print(res.converged, res.boundary)
    True False
    """
    import statsmodels.formula.api as smf

    df = _model_frame(data, formula, groups, re_formula, vc_formula, methods)
    # statsmodels drops the group's random intercept when vc_formula is given without
    # re_formula; services nested in cities need both levels, so keep the intercept.
    re_f = re_formula if re_formula is not None or vc_formula is None else "1"
    model = smf.mixedlm(formula, df, groups=df[groups], re_formula=re_f, vc_formula=vc_formula)
    attempts, fits = _fit_all(model, methods, reml, maxiter, formula)
    pool = [f for f in fits if f[2]] or fits
    method, fit, ok = max(pool, key=lambda f: f[1].llf if np.isfinite(f[1].llf) else -np.inf)
    variances = _variances(fit, groups)
    re_var = {k: v for k, v in variances.items() if k != "residual" and not k.startswith("cov(")}
    if re_formula:
        # With random slopes the ICC is the random intercept's, at covariates = 0.
        re_var = {k: v for k, v in re_var.items() if k == groups or k in (vc_formula or {})}
    return MixedResult(
        fixed=_fixed_table(fit), variances=pd.Series(variances, name="variance"),
        icc=icc(re_var, variances["residual"]), attempts=attempts, method=method, converged=ok,
        boundary=bool(attempts.loc[attempts["method"] == method, "boundary"].item()),
        formula=formula, groups=groups, n_groups=int(df[groups].nunique()),
        n_obs=int(fit.nobs), reml=reml, model_result=fit,
    )  # fmt: skip


def _model_frame(data, formula, groups, re_formula, vc_formula, methods) -> pd.DataFrame:
    """The complete rows of the columns the model uses, after checking the arguments."""
    check_frame(data)
    if not isinstance(formula, str) or "~" not in formula:
        raise SpecError(f"formula must be a string like 'y ~ x1 + x2', got {formula!r}")
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise SpecError(f"methods must be a non-empty subset of {METHODS}, got {list(methods)}")
    names = formula_names(formula) + [groups]
    for part in [re_formula or "", *(vc_formula or {}).values()]:
        names += formula_names(part)
    names = list(dict.fromkeys(n for n in names if n not in ("0", "1")))
    check_columns(data, names, "formula/argument column")
    check_numeric(data, [formula.split("~", 1)[0].strip()], "outcome")
    df = data.loc[data[names].notna().all(axis=1), names].reset_index(drop=True)
    if df[groups].nunique() < 3:
        raise SpecError(f"groups {groups!r} has {df[groups].nunique()} levels; need at least 3")
    return df


def _fit_all(model, methods, reml, maxiter, formula) -> tuple[pd.DataFrame, list]:
    """Every optimiser's fit (all are tried) and a row per attempt with its warnings."""
    attempts, fits = [], []
    for m in methods:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = model.fit(reml=reml, method=m, maxiter=maxiter)
            except (np.linalg.LinAlgError, ValueError) as exc:
                attempts.append({"method": m, "converged": False, "llf": np.nan,
                                 "boundary": False, "warnings": f"failed: {exc}"})  # fmt: skip
                continue
        msgs = sorted({str(w.message).split("\n")[0] for w in caught})
        ok = bool(fit.converged) and np.isfinite(fit.llf)
        attempts.append({"method": m, "converged": ok, "llf": float(fit.llf),
                         "boundary": _on_boundary(fit), "warnings": "; ".join(msgs)})  # fmt: skip
        fits.append((m, fit, ok))
    if not fits:
        raise SpecError(
            f"MixedLM could not fit {formula!r} with any optimiser: "
            + "; ".join(a["warnings"] for a in attempts)
        )
    return pd.DataFrame(attempts), fits


def _fixed_table(fit: Any) -> pd.DataFrame:
    """The fixed effects in the tidy columns (Wald, normal reference, as MixedLM reports)."""
    from scipy import stats

    fe, se = fit.fe_params, fit.bse_fe
    z, q = fe / se, stats.norm.ppf(0.975)
    return pd.DataFrame(
        {
            "term": fe.index.astype(str),
            "estimate": fe.to_numpy(),
            "std_error": se.to_numpy(),
            "statistic": z.to_numpy(),
            "p_value": 2 * stats.norm.sf(np.abs(z.to_numpy())),
            "conf_low": (fe - q * se).to_numpy(),
            "conf_high": (fe + q * se).to_numpy(),
        }
    )


def _variances(fit: Any, groups: str) -> dict[str, float]:
    cov = fit.cov_re
    out: dict[str, float] = {}
    labels = [groups if a in ("Group", "Intercept") else f"{groups}:{a}" for a in cov.index]
    for i, a in enumerate(labels):
        out[a] = float(cov.iloc[i, i])
        for j in range(i):
            out[f"cov({labels[j]}, {a})"] = float(cov.iloc[i, j])
    for name, v in zip(fit.model.exog_vc.names, np.atleast_1d(fit.vcomp)):
        out[name] = float(v)
    out["residual"] = float(fit.scale)
    return out


def _on_boundary(fit: Any) -> bool:
    total = float(np.trace(np.atleast_2d(fit.cov_re))) + float(np.sum(fit.vcomp)) + fit.scale
    diag = list(np.diag(np.atleast_2d(fit.cov_re))) + list(np.atleast_1d(fit.vcomp))
    return any(d <= _BOUNDARY * total for d in diag)
