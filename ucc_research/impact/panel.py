"""Fixed-effects panel regressions of service outcomes on service features (pyfixest + wild bootstrap).

Point estimates and cluster-robust standard errors come from pyfixest's ``feols``, whose defaults
reproduce R ``fixest``: CRV1 with the small-sample factor ``G/(G-1) * (N-1)/(N-K)`` where ``K``
counts the slopes and the fixed effects *not* nested in the cluster variable (fixest's
``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``, the same factor as Stata's ``reghdfe``),
and t(G-1) reference distribution. Singletons are kept (fixest's ``feols`` default; ``reghdfe``
drops them: pass ``drop_singletons=True`` to match it).

With few clusters the CRV1 t-test over-rejects, so a wild cluster restricted (WCR) bootstrap
(Cameron, Gelbach & Miller 2008; Roodman et al. 2019 ``boottest``) is run for each coefficient:
the null ``beta_j = 0`` is imposed, the restricted residuals are flipped by cluster with
Rademacher (or, with fewer than 12 clusters, Webb six-point) weights, and the CRV1 t-statistic is
recomputed on each bootstrap sample. The symmetric bootstrap p-value is
``mean(|t*| >= |t|)``. By default the bootstrap is used whenever there are fewer than 30 clusters.
"""

from __future__ import annotations

import re
import warnings
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
    formula_names,
)
from ucc_research.impact.base import ImpactResult

__all__ = ["fe_regression", "FERegressionResult", "wild_cluster_bootstrap"]

FEW_CLUSTERS = 30  # below this, CRV1 t-tests over-reject (Cameron & Miller 2015): bootstrap
_WEBB_BELOW = 12  # Rademacher has only 2**G distinct draws; Webb's six points fix that
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(repr=False)
class FERegressionResult(ImpactResult):
    """Result of :func:`fe_regression`.

    Attributes
    ----------
    coef : DataFrame
        ``term``, ``estimate``, ``se``, ``t``, ``p_value``, ``ci_low``, ``ci_high`` (CRV1 or
        HC1, t(G-1)), plus ``p_value_wild`` when the wild bootstrap was run.
    formula, cluster, inference : str
        The model, the cluster variable and the inference convention used.
    nobs, n_clusters, n_dropped : int
        Observations used, clusters, and rows dropped for missing values.
    n_singletons : int
        Rows dropped as singletons (only with ``drop_singletons=True``).
    model : pyfixest Feols
        The underlying pyfixest fit (for ``etable``, ``fixef`` and so on).
    """

    coef: pd.DataFrame
    formula: str
    cluster: str | None
    inference: str
    nobs: int
    n_clusters: int | None
    n_dropped: int
    n_singletons: int
    bootstrap: str | None
    boot_weights: str | None
    n_boot: int
    bootstrap_reason: str
    r2_within: float
    model: Any = field(default=None, repr=False)

    def tidy(self) -> pd.DataFrame:
        out = self.coef.copy()
        out["inference"] = self.inference
        return out

    def summary(self) -> str:
        lines = [
            f"Fixed-effects regression (pyfixest feols): {self.formula}",
            f"  N = {self.nobs}"
            + (f", dropped for missing values: {self.n_dropped}" if self.n_dropped else "")
            + (f", singletons dropped: {self.n_singletons}" if self.n_singletons else "")
            + (f", clusters ({self.cluster}) = {self.n_clusters}" if self.cluster else "")
            + (f", within R2 = {self.r2_within:.3f}" if np.isfinite(self.r2_within) else ""),
            f"  inference: {self.inference}",
        ]
        if self.bootstrap_reason:
            lines.append(f"  {self.bootstrap_reason}")
        for r in self.coef.itertuples(index=False):
            wild = f", wild p = {r.p_value_wild:.4f}" if "p_value_wild" in self.coef else ""
            lines.append(
                f"  {r.term:<24} {r.estimate: .4f} (se {r.se:.4f}; 95% CI {r.ci_low:.4f} to "
                f"{r.ci_high:.4f}; p = {r.p_value:.4f}{wild})"
            )
        return "\n".join(lines)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Coefficient plot: estimates with their 95% confidence intervals."""
        import matplotlib.pyplot as plt

        c = self.coef.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (6, 0.5 + 0.45 * len(c))))
        y = np.arange(len(c))
        ax.errorbar(
            c["estimate"],
            y,
            xerr=[c["estimate"] - c["ci_low"], c["ci_high"] - c["estimate"]],
            fmt="o",
            capsize=3,
            **kwargs,
        )
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, c["term"])
        ax.set_xlabel(f"estimate (95% CI, {self.inference.split(';')[0]})")
        ax.set_title(self.formula, fontsize=9)
        return ax


def _parse(formula: str) -> tuple[str, list[str], list[str]]:
    if not isinstance(formula, str) or "~" not in formula:
        raise SpecError(f"formula must be a string like 'y ~ x1 + x2 | fe1 + fe2', got {formula!r}")
    lhs, rhs = formula.split("~", 1)
    parts = rhs.split("|")
    if len(parts) > 2:
        raise SpecError(f"formula {formula!r}: only 'y ~ x | fe' is supported (no IV parts)")
    fes = [f.strip() for f in re.split(r"[+^]", parts[1])] if len(parts) == 2 else []
    fes = [f for f in fes if f and f != "0"]
    return lhs.strip(), formula_names(parts[0]), fes


def fe_regression(
    data: pd.DataFrame,
    formula: str,
    cluster: str | None = None,
    weights: str | None = None,
    bootstrap: str | None = "auto",
    n_boot: int = 9999,
    seed: int = 0,
    boot_weights: str = "auto",
    drop_singletons: bool = False,
    alpha: float = 0.05,
) -> FERegressionResult:
    """Linear fixed-effects regression with cluster-robust (and wild bootstrap) inference.

    Parameters
    ----------
    data : DataFrame
        One row per observation (e.g. city x service x period).
    formula : str
        pyfixest/fixest formula, ``"y ~ x1 + x2 | fe1 + fe2"``.
    cluster : str, optional
        Cluster variable. Default: the first fixed effect (as fixest does); with no fixed
        effects, heteroskedasticity-robust HC1 errors.
    weights : str, optional
        Column of analytic (precision) weights.
    bootstrap : {"auto", "wild", None}
        ``"wild"``: wild cluster restricted bootstrap p-values for every coefficient;
        ``"auto"`` (default): only when there are fewer than 30 clusters; ``None``: never.
    n_boot : int
        Bootstrap replications (9999 by default, as ``boottest``).
    seed : int
        Seed of the bootstrap weights.
    boot_weights : {"auto", "rademacher", "webb"}
        ``"auto"``: Webb with fewer than 12 clusters, else Rademacher.
    drop_singletons : bool
        Drop singleton fixed-effect groups (reghdfe's default) instead of keeping them (fixest's).
    alpha : float
        Confidence intervals are ``1 - alpha``.

    Returns
    -------
    FERegressionResult

    Examples
    --------
    >>> res = fe_regression(panel, "digital_share ~ eid_login + proactive | city_id + service_id"
    ...                     " + period", cluster="city_id")
    >>> res.tidy()[["term", "estimate", "se", "p_value"]]
    """
    import pyfixest as pf

    check_frame(data)
    seed = check_seed(seed)
    y, xs, fes = _parse(formula)
    if not xs:
        raise SpecError(f"formula {formula!r} has no regressors")
    if bootstrap not in ("auto", "wild", None):
        raise SpecError(f"bootstrap must be 'auto', 'wild' or None, got {bootstrap!r}")
    if boot_weights not in ("auto", "rademacher", "webb"):
        raise SpecError(f"boot_weights must be 'auto', 'rademacher' or 'webb': {boot_weights!r}")
    if not isinstance(n_boot, int | np.integer) or n_boot < 99:
        raise SpecError(f"n_boot must be an integer >= 99, got {n_boot!r}")
    if cluster is None and fes:
        cluster = fes[0]
    used = [y] + xs + fes + ([cluster] if cluster else []) + ([weights] if weights else [])
    check_columns(data, [c for c in used if c not in ("1",)], "formula/argument column")
    check_numeric(data, [y], "outcome")
    if weights:
        check_numeric(data, [weights], "weights column")
        if (data[weights].dropna() < 0).any():
            raise SpecError(f"weights column {weights!r} has negative values")
    cols = list(dict.fromkeys(c for c in used if c != "1"))
    complete = data[cols].notna().all(axis=1)
    df = data.loc[complete, cols].reset_index(drop=True)
    if len(df) < 3:
        raise SpecError(f"only {len(df)} complete rows for {formula!r}")

    vcov: Any = {"CRV1": cluster} if cluster else "hetero"
    with warnings.catch_warnings():
        # pyfixest 0.60 uses pandas' deprecated ``inplace=``; not the user's concern.
        warnings.filterwarnings("ignore", message="The inplace keyword")
        model = pf.feols(
            formula,
            data=df,
            vcov=vcov,
            weights=weights,
            fixef_rm="singleton" if drop_singletons else "none",
        )
    tab = model.tidy(alpha=alpha)
    coef = pd.DataFrame(
        {
            "term": tab.index.astype(str),
            "estimate": tab["Estimate"].to_numpy(float),
            "se": tab["Std. Error"].to_numpy(float),
            "t": tab["t value"].to_numpy(float),
            "p_value": tab["Pr(>|t|)"].to_numpy(float),
            "ci_low": tab.iloc[:, 4].to_numpy(float),
            "ci_high": tab.iloc[:, 5].to_numpy(float),
        }
    )
    keep = _rows_used(model, len(df))
    n_clusters = int(df.loc[keep, cluster].nunique()) if cluster else None
    if cluster:
        inference = (
            f"CRV1 by {cluster} (fixest/reghdfe small-sample factor G/(G-1)*(N-1)/(N-K), "
            f"t({n_clusters - 1}))"
        )
    else:
        inference = "HC1 heteroskedasticity-robust (no clusters)"

    run_boot = bootstrap == "wild" or (
        bootstrap == "auto" and cluster is not None and n_clusters < FEW_CLUSTERS
    )
    reason = ""
    bw = None
    if bootstrap == "wild" and not cluster:
        raise SpecError("the wild cluster bootstrap needs a cluster variable (cluster=...)")
    if run_boot:
        bw = boot_weights
        if bw == "auto":
            bw = "webb" if n_clusters < _WEBB_BELOW else "rademacher"
        groups = pd.factorize(df.loc[keep, cluster])[0]
        xd = np.asarray(model._X, float)
        yd = np.asarray(model._Y, float).ravel()
        p_wild = [
            wild_cluster_bootstrap(xd, yd, groups, j, n_boot=n_boot, weights=bw, seed=seed)
            for j in range(xd.shape[1])
        ]
        coef["p_value_wild"] = p_wild
        why = (
            f"only {n_clusters} clusters (< {FEW_CLUSTERS}), so CRV1 p-values are unreliable: "
            if n_clusters < FEW_CLUSTERS
            else ""
        )
        reason = (
            f"{why}wild cluster restricted bootstrap p-values (p_value_wild; {n_boot} draws, "
            f"{bw} weights, seed {seed}); confidence intervals stay CRV1"
        )
        inference += f"; wild cluster bootstrap p-values ({bw})"
    elif cluster and n_clusters < FEW_CLUSTERS:
        reason = (
            f"WARNING: only {n_clusters} clusters (< {FEW_CLUSTERS}): CRV1 p-values over-reject; "
            "use bootstrap='wild'"
        )
    r2w = getattr(model, "_r2_within", np.nan)
    return FERegressionResult(
        coef=coef,
        formula=formula,
        cluster=cluster,
        inference=inference,
        nobs=int(model._N),
        n_clusters=n_clusters,
        n_dropped=int((~complete).sum()),
        n_singletons=int((~keep).sum()),
        bootstrap="wild" if run_boot else None,
        boot_weights=bw,
        n_boot=n_boot if run_boot else 0,
        bootstrap_reason=reason,
        r2_within=float(r2w) if r2w is not None else np.nan,
        model=model,
    )


def _rows_used(model: Any, n: int) -> np.ndarray:
    """Positions of the rows pyfixest kept (singleton removal may drop some)."""
    keep = np.ones(n, bool)
    dropped = [int(i) for i in getattr(model, "_na_index", None) or ()]
    keep[dropped] = False
    if keep.sum() != model._N:
        raise SpecError("internal: could not align the bootstrap clusters with the fitted rows")
    return keep


def wild_cluster_bootstrap(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    j: int,
    n_boot: int = 9999,
    weights: str = "rademacher",
    seed: int = 0,
) -> float:
    """Wild cluster restricted (WCR) bootstrap p-value of ``H0: beta_j = 0``.

    ``x`` and ``y`` are the regressors and outcome after partialling out the fixed effects (and
    multiplying by the square root of any weights); ``groups`` are integer cluster codes.
    The bootstrap statistic is the CRV1 t-statistic (its small-sample factor cancels).
    Works at the cluster level, so the cost is ``O(n_boot * G * K)`` after one pass over the data.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n, k = x.shape
    g_count = int(groups.max()) + 1
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ (x.T @ y)
    r = xtx_inv[j]  # row j of (X'X)^-1: beta_j = r @ X'y

    # Restricted fit (beta_j = 0): regress y on the other columns.
    others = np.delete(np.arange(k), j)
    if others.size:
        xo = x[:, others]
        gamma = np.linalg.lstsq(xo, y, rcond=None)[0]
        fitted_r = xo @ gamma
    else:
        fitted_r = np.zeros(n)
    u_r = y - fitted_r

    # Cluster sums: X_g'X_g (G,k,k), X_g'yhat_g (G,k), X_g'u_g (G,k).
    a = np.zeros((g_count, k, k))
    np.add.at(a, groups, x[:, :, None] * x[:, None, :])
    b = np.zeros((g_count, k))
    np.add.at(b, groups, x * fitted_r[:, None])
    c = np.zeros((g_count, k))
    np.add.at(c, groups, x * u_r[:, None])

    def t_stat(v: np.ndarray) -> np.ndarray:
        # v: (B, G) cluster weights; y* = yhat_r + u_r * v_g
        xty = b.sum(0)[None, :] + v @ c  # (B, k)
        beta_b = xty @ xtx_inv  # (B, k) (xtx_inv is symmetric)
        # score of cluster g projected on r: r'(X_g'y*_g - X_g'X_g beta*)
        rb = b @ r  # (G,)
        rc = c @ r  # (G,)
        ra = np.einsum("k,gkl->gl", r, a)  # (G, k)
        s = rb[None, :] + rc[None, :] * v - beta_b @ ra.T  # (B, G)
        se = np.sqrt(np.sum(s * s, axis=1))
        return beta_b[:, j] / se

    # Observed t-statistic (same formula with the unrestricted residuals).
    u = y - x @ beta
    sg = np.zeros((g_count, k))
    np.add.at(sg, groups, x * u[:, None])
    t_obs = beta[j] / np.sqrt(np.sum((sg @ r) ** 2))

    rng = np.random.default_rng(seed)
    hits = 0
    chunk = max(1, 2_000_000 // max(g_count, 1))
    done = 0
    while done < n_boot:
        m = min(chunk, n_boot - done)
        if weights == "webb":
            v = _WEBB[rng.integers(0, 6, size=(m, g_count))]
        else:
            v = rng.choice(np.array([-1.0, 1.0]), size=(m, g_count))
        hits += int(np.sum(np.abs(t_stat(v)) >= abs(t_obs) - 1e-12 * abs(t_obs)))
        done += m
    return hits / n_boot
