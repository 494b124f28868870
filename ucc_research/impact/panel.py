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

Determinism. pyfixest's demeaning (its default Rust backend) does not fix the order of its
floating-point reductions: the same inputs give coefficients that differ run to run in the last
bit or two (relative ~1e-16; measured: 3 distinct results in 6 runs on a 48,000-row panel, with
any thread setting). Every number of the result's table is therefore rounded to
``SIGNIFICANT_DIGITS`` = 10 significant digits, six orders of magnitude above that noise and
far below any statistical precision, so the same inputs give byte-identical tables (and reports).
"""

from __future__ import annotations

import copy
import dataclasses
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
from ucc_research.impact.base import ImpactResult, Summary

__all__ = ["fe_regression", "FERegressionResult", "wild_cluster_bootstrap"]

SIGNIFICANT_DIGITS = 10  # the result table's stated precision (see the module docstring)
FEW_CLUSTERS = 30  # below this, CRV1 t-tests over-reject (Cameron & Miller 2015): bootstrap
_WEBB_BELOW = 12  # Rademacher has only 2**G distinct draws; Webb's six points fix that
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(repr=False)
class FERegressionResult(ImpactResult):
    """Result of :func:`fe_regression`, in the package's result convention
    (:mod:`ucc_research.impact.base`: ``tidy()``, ``summary()``, ``coef``, ``estimate``,
    ``p_value``, ``n_obs``; the headline is the first regressor).

    ``tidy()`` has, after the standard columns (CRV1 or HC1, t(G-1)), ``p_value_wild``,
    ``conf_low_wild`` and ``conf_high_wild`` (the WCR bootstrap test and its inversion) when the
    wild bootstrap was run, and ``inference``. :meth:`with_inference` recomputes the standard
    errors with pyfixest's ``Feols.vcov`` (``"iid"``, ``"hetero"``, ``{"CRV1": column}``, ...).

    Attributes
    ----------
    formula, cluster, inference : str
        The model, the cluster variable and the inference convention used.
    n_obs, n_clusters, n_dropped : int
        Observations used, clusters, and rows dropped for missing values.
    n_singletons : int
        Rows dropped as singletons (only with ``drop_singletons=True``).
    model : pyfixest Feols
        The underlying pyfixest fit (for ``etable``, ``fixef`` and so on).
    """

    table: pd.DataFrame
    formula: str
    cluster: str | None
    inference: str
    n_obs: int
    n_clusters: int | None
    n_dropped: int
    n_singletons: int
    bootstrap: str | None
    boot_weights: str | None
    n_boot: int
    bootstrap_reason: str
    r2_within: float
    alpha: float
    model: Any = field(default=None, repr=False)

    title = "Fixed-effects regression (pyfixest feols)"

    def _tidy(self) -> pd.DataFrame:
        return self.table.assign(inference=self.inference)

    def _summary_lines(self) -> list[str]:
        lines = [
            f"{self.formula}; N = {self.n_obs}"
            + (f", dropped for missing values: {self.n_dropped}" if self.n_dropped else "")
            + (f", singletons dropped: {self.n_singletons}" if self.n_singletons else "")
            + (f", clusters ({self.cluster}) = {self.n_clusters}" if self.cluster else "")
            + (f", within R2 = {self.r2_within:.3f}" if np.isfinite(self.r2_within) else ""),
            f"inference: {self.inference}",
        ]
        return lines + ([self.bootstrap_reason] if self.bootstrap_reason else [])

    def summary(self) -> Summary:
        """The model, sample and inference, and the coefficient table (text or HTML)."""
        return Summary(self.title, self._summary_lines(), self.tidy().drop(columns="inference"))

    def with_inference(self, vcov: Any = "hetero", **options: Any) -> FERegressionResult:
        """The same fit with pyfixest's ``vcov`` (``"iid"``, ``"hetero"``, ``{"CRV1": col}``).

        The wild bootstrap columns are dropped (they belong to the original clustering); run
        :func:`fe_regression` again with ``bootstrap="wild"`` for a bootstrap under other
        clusters.
        """
        if options:
            raise SpecError(f"with_inference takes only vcov=, not {sorted(options)}")
        model = copy.deepcopy(self.model)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The inplace keyword")
            model.vcov(vcov)
        cluster = next(iter(vcov.values())) if isinstance(vcov, dict) else None
        n_clusters = int(np.min(model._G)) if cluster else None
        return dataclasses.replace(
            self,
            table=_coef_table(model, self.alpha),
            cluster=cluster,
            inference=_inference_text(cluster, n_clusters, vcov),
            n_clusters=n_clusters,
            bootstrap=None,
            boot_weights=None,
            n_boot=0,
            bootstrap_reason="",
            model=model,
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Coefficient plot: estimates with their CRV1 (and, if run, wild bootstrap) intervals."""
        import matplotlib.pyplot as plt

        c = self.table.iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (6, 0.5 + 0.45 * len(c))))
        y = np.arange(len(c))
        level = f"{100 * (1 - self.alpha):g}%"
        wild = "conf_low_wild" in c
        for suffix, shift, fmt, label in (
            ("", 0.12 if wild else 0.0, "o", self.inference.split(" (")[0]),
            ("_wild", -0.12, "s", "wild cluster bootstrap"),
        ):
            if f"conf_low{suffix}" not in c:
                continue
            lo, hi = c[f"conf_low{suffix}"], c[f"conf_high{suffix}"]
            err = [c["estimate"] - lo, hi - c["estimate"]]
            ax.errorbar(c["estimate"], y + shift, xerr=err, fmt=fmt, capsize=3,
                        label=f"{level} CI, {label}", **kwargs)  # fmt: skip
        if wild:
            ax.legend(fontsize=8)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, c["term"])
        ax.set_xlabel(f"estimate ({level} CI)")
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


def _coef_table(model: Any, alpha: float) -> pd.DataFrame:
    """pyfixest's coefficient table in the package's tidy columns, to 10 significant digits."""
    tab = model.tidy(alpha=alpha)
    out = pd.DataFrame(
        {
            "term": tab.index.astype(str),
            "estimate": tab["Estimate"].to_numpy(float),
            "std_error": tab["Std. Error"].to_numpy(float),
            "statistic": tab["t value"].to_numpy(float),
            "p_value": tab["Pr(>|t|)"].to_numpy(float),
            "conf_low": tab.iloc[:, 4].to_numpy(float),
            "conf_high": tab.iloc[:, 5].to_numpy(float),
        }
    )
    for col in out.columns[1:]:
        out[col] = round_significant(out[col].to_numpy(float))
    return out


def _inference_text(cluster: str | None, n_clusters: int | None, vcov: Any = None) -> str:
    if cluster:
        kind = next(iter(vcov)) if isinstance(vcov, dict) else "CRV1"
        return (
            f"{kind} by {cluster} (fixest/reghdfe small-sample factor G/(G-1)*(N-1)/(N-K), "
            f"t({n_clusters - 1}))"
        )
    if vcov in (None, "hetero", "HC1"):
        return "HC1 heteroskedasticity-robust (no clusters)"
    return f"pyfixest vcov {vcov!r}"


def _check_args(data, formula, bootstrap, boot_weights, n_boot, seed) -> tuple:
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
    return y, xs, fes, seed


def _complete_rows(data, y, used, weights, formula) -> tuple[pd.DataFrame, pd.Series]:
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
    return df, complete


def _wild(table, model, groups, n_clusters, n_boot, boot_weights, seed, alpha) -> tuple[str, str]:
    """Adds the WCR bootstrap columns to ``table``; returns (weights used, reason text)."""
    bw = boot_weights
    if bw == "auto":
        bw = "webb" if n_clusters < _WEBB_BELOW else "rademacher"
    xd = np.asarray(model._X, float)
    yd = np.asarray(model._Y, float).ravel()
    boots = [_WildClusterBootstrap(xd, yd, groups, j, n_boot, bw, seed) for j in range(xd.shape[1])]
    cis = [bt.confint(alpha) for bt in boots]
    table["p_value_wild"] = round_significant(np.array([bt.pvalue(0.0) for bt in boots]))
    table["conf_low_wild"] = round_significant(np.array([c[0] for c in cis]))
    table["conf_high_wild"] = round_significant(np.array([c[1] for c in cis]))
    why = (
        f"only {n_clusters} clusters (< {FEW_CLUSTERS}), so CRV1 p-values are unreliable: "
        if n_clusters < FEW_CLUSTERS
        else ""
    )
    return bw, (
        f"{why}wild cluster restricted bootstrap p-values and test-inversion confidence "
        f"intervals (p_value_wild, conf_*_wild; {n_boot} draws, {bw} weights, seed {seed})"
    )


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
        Cluster variable. Default: the first fixed effect (as fixest); without, HC1 errors.
    weights : str, optional
        Column of analytic (precision) weights.
    bootstrap : {"auto", "wild", None}
        Wild cluster restricted bootstrap p-values: always, below 30 clusters, or never.
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
    SYNTHETIC: 40 cities x 3 services x 4 periods, effects 0.3 and 0.1, a city effect:

    >>> rng = np.random.default_rng(0)
    >>> c, s, t = np.meshgrid(np.arange(40), np.arange(3), np.arange(4), indexing="ij")
    >>> panel = pd.DataFrame({"city_id": c.ravel(), "service_id": s.ravel(), "period": t.ravel()})
    >>> panel["eid_login"] = rng.normal(size=len(panel))
    >>> panel["proactive"] = rng.integers(0, 2, len(panel))
    >>> panel["digital_share"] = (0.3 * panel["eid_login"] + 0.1 * panel["proactive"]
    ...                           + rng.normal(0, 1, 40)[panel["city_id"]]
    ...                           + rng.normal(0, 0.2, len(panel)))
    >>> res = fe_regression(panel, "digital_share ~ eid_login + proactive | city_id + service_id"
    ...                     " + period", cluster="city_id")
    >>> res.tidy()[["term", "estimate", "std_error", "conf_low", "conf_high"]].round(3)
            term  estimate  std_error  conf_low  conf_high
    0  eid_login     0.307      0.008     0.291      0.322
    1  proactive     0.131      0.019     0.092      0.170
    >>> round(res.with_inference(vcov="iid").std_error, 3)  # pyfixest's Feols.vcov
    0.009
    """
    y, xs, fes, seed = _check_args(data, formula, bootstrap, boot_weights, n_boot, seed)
    cluster = fes[0] if cluster is None and fes else cluster
    if bootstrap == "wild" and not cluster:
        raise SpecError("the wild cluster bootstrap needs a cluster variable (cluster=...)")
    used = [y] + xs + fes + ([cluster] if cluster else []) + ([weights] if weights else [])
    df, complete = _complete_rows(data, y, used, weights, formula)
    vcov = {"CRV1": cluster} if cluster else "hetero"
    model = fit_feols(formula, df, vcov, weights, "singleton" if drop_singletons else "none")
    opts = {"bootstrap": bootstrap, "n_boot": n_boot, "boot_weights": boot_weights, "seed": seed}
    return _fe_result(model, df, complete, formula, cluster, opts, alpha)


def _fe_result(model, df, complete, formula, cluster, opts, alpha) -> FERegressionResult:
    """The result of a fit: the table, the inference used and, with few clusters, the wild
    cluster bootstrap."""
    bootstrap, n_boot, boot_weights, seed = (
        opts[k] for k in ("bootstrap", "n_boot", "boot_weights", "seed")
    )
    keep = _rows_used(model, len(df))
    n_clusters = int(df.loc[keep, cluster].nunique()) if cluster else None
    run_boot = bootstrap == "wild" or (
        bootstrap == "auto" and cluster is not None and n_clusters < FEW_CLUSTERS
    )
    table, inference, reason, bw = (
        _coef_table(model, alpha),
        _inference_text(cluster, n_clusters),
        "",
        None,
    )
    if run_boot:
        groups = pd.factorize(df.loc[keep, cluster])[0]
        bw, reason = _wild(table, model, groups, n_clusters, n_boot, boot_weights, seed, alpha)
        inference += f"; wild cluster bootstrap p-values and CIs ({bw})"
    elif cluster and n_clusters < FEW_CLUSTERS:
        reason = (
            f"WARNING: only {n_clusters} clusters (< {FEW_CLUSTERS}): CRV1 p-values over-reject; "
            "use bootstrap='wild'"
        )
    r2w = getattr(model, "_r2_within", None)
    r2w = np.nan if r2w is None else float(round_significant(np.array([float(r2w)]))[0])
    return FERegressionResult(
        table=table, formula=formula, cluster=cluster, inference=inference,
        n_obs=int(model._N), n_clusters=n_clusters, n_dropped=int((~complete).sum()),
        n_singletons=int((~keep).sum()), bootstrap="wild" if run_boot else None,
        boot_weights=bw, n_boot=n_boot if run_boot else 0, bootstrap_reason=reason,
        r2_within=r2w, alpha=alpha, model=model,
    )  # fmt: skip


def fit_feols(formula: str, df: pd.DataFrame, vcov: Any, weights: str | None = None,
              fixef_rm: str = "none") -> Any:  # fmt: skip
    """pyfixest's ``feols``: the one place the package fits a linear fixed-effects model."""
    import pyfixest as pf

    with warnings.catch_warnings():
        # pyfixest 0.60 uses pandas' deprecated ``inplace=``; not the user's concern.
        warnings.filterwarnings("ignore", message="The inplace keyword")
        return pf.feols(formula, data=df, vcov=vcov, weights=weights, fixef_rm=fixef_rm)


def round_significant(a: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """``a`` rounded to ``digits`` significant digits (NaN and infinities kept).

    >>> round_significant(np.array([0.30022119463273575, -1234.56789012345, 0.0, np.nan]))
    array([ 3.00221195e-01, -1.23456789e+03,  0.00000000e+00,             nan])
    """
    a = np.asarray(a, float)
    finite = np.isfinite(a) & (a != 0)
    out = a.copy()
    mag = np.floor(np.log10(np.abs(a[finite])))
    scale = 10.0 ** (digits - 1 - mag)
    out[finite] = np.round(a[finite] * scale) / scale
    return out


def _rows_used(model: Any, n: int) -> np.ndarray:
    """Positions of the rows pyfixest kept (singleton removal may drop some)."""
    keep = np.ones(n, bool)
    dropped = [int(i) for i in getattr(model, "_na_index", None) or ()]
    keep[dropped] = False
    if keep.sum() != model._N:
        raise SpecError("internal: could not align the bootstrap clusters with the fitted rows")
    return keep


class _WildClusterBootstrap:
    """Wild cluster restricted (WCR) bootstrap of one coefficient, at any null value.

    Works at the cluster level: after one pass over the data each bootstrap draw costs
    ``O(G * K)``, so a p-value over 9999 draws takes milliseconds and a confidence interval can
    be found by inverting the test (as Stata's ``boottest`` does) with the same draws throughout.
    """

    def __init__(self, x, y, groups, j, n_boot, weights, seed):
        self.x = np.asarray(x, float)
        self.y = np.asarray(y, float)
        self.groups = np.asarray(groups)
        self.j, self.n_boot, self.weights, self.seed = j, n_boot, weights, seed
        n, k = self.x.shape
        self.g_count = int(self.groups.max()) + 1
        self.xtx_inv = np.linalg.inv(self.x.T @ self.x)
        self.beta = self.xtx_inv @ (self.x.T @ self.y)
        self.r = self.xtx_inv[j]  # row j of (X'X)^-1: beta_j = r @ X'y
        # r' X_g'X_g for every cluster (G, k), the part of a cluster score that moves with beta*.
        a = np.zeros((self.g_count, k, k))
        np.add.at(a, self.groups, self.x[:, :, None] * self.x[:, None, :])
        self.ra = np.einsum("k,gkl->gl", self.r, a)
        self.others = np.delete(np.arange(k), j)
        u = self.y - self.x @ self.beta
        sg = self._cluster_sums(u)
        self.se = float(np.sqrt(np.sum((sg @ self.r) ** 2)))

    def _cluster_sums(self, u: np.ndarray) -> np.ndarray:
        out = np.zeros((self.g_count, self.x.shape[1]))
        np.add.at(out, self.groups, self.x * u[:, None])
        return out

    def pvalue(self, null: float = 0.0) -> float:
        """Symmetric bootstrap p-value of ``H0: beta_j = null``."""
        x, j = self.x, self.j
        y0 = self.y - null * x[:, j]
        if self.others.size:
            xo = x[:, self.others]
            fitted = xo @ np.linalg.lstsq(xo, y0, rcond=None)[0] + null * x[:, j]
        else:
            fitted = null * x[:, j]
        b = self._cluster_sums(fitted)  # X_g' yhat_r,g
        c = self._cluster_sums(self.y - fitted)  # X_g' u_r,g
        rb, rc = b @ self.r, c @ self.r
        b_sum = b.sum(0)
        t_obs = (self.beta[j] - null) / self.se
        rng = np.random.default_rng(self.seed)  # same draws for every null value
        chunk = max(1, 2_000_000 // self.g_count)
        hits, done = 0, 0
        while done < self.n_boot:
            m = min(chunk, self.n_boot - done)
            if self.weights == "webb":
                v = _WEBB[rng.integers(0, 6, size=(m, self.g_count))]
            else:
                v = rng.choice(np.array([-1.0, 1.0]), size=(m, self.g_count))
            beta_b = (b_sum[None, :] + v @ c) @ self.xtx_inv  # (m, k)
            s = rb[None, :] + rc[None, :] * v - beta_b @ self.ra.T  # r'(cluster scores)
            t = (beta_b[:, j] - null) / np.sqrt(np.sum(s * s, axis=1))
            hits += int(np.sum(np.abs(t) >= abs(t_obs) - 1e-12 * abs(t_obs)))
            done += m
        return hits / self.n_boot

    def confint(self, alpha: float = 0.05) -> tuple[float, float]:
        """Bounds where the bootstrap p-value crosses ``alpha`` (test inversion, bisection)."""
        est, step = float(self.beta[self.j]), max(self.se, 1e-12)
        bounds = []
        for sign in (-1.0, 1.0):
            inside, outside = est, est + sign * 2 * step
            grow = 0
            while self.pvalue(outside) > alpha:
                inside, outside = outside, est + sign * 2 * step * 2 ** (grow + 1)
                grow += 1
                if grow > 30:
                    return (-np.inf, np.inf)
            for _ in range(40):
                mid = (inside + outside) / 2
                if self.pvalue(mid) > alpha:
                    inside = mid
                else:
                    outside = mid
                if abs(outside - inside) <= 1e-4 * step:
                    break
            bounds.append((inside + outside) / 2)
        return bounds[0], bounds[1]


def wild_cluster_bootstrap(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    j: int,
    n_boot: int = 9999,
    weights: str = "rademacher",
    seed: int = 0,
    null: float = 0.0,
) -> float:
    """Wild cluster restricted (WCR) bootstrap p-value of ``H0: beta_j = null``.

    ``x`` and ``y`` are the regressors and outcome after partialling out the fixed effects (and
    multiplying by the square root of any weights); ``groups`` are integer cluster codes.
    The bootstrap statistic is the CRV1 t-statistic (its small-sample factor cancels).
    """
    return _WildClusterBootstrap(x, y, groups, j, n_boot, weights, seed).pvalue(null)


def wild_cluster_confint(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    j: int,
    alpha: float = 0.05,
    n_boot: int = 9999,
    weights: str = "rademacher",
    seed: int = 0,
) -> tuple[float, float]:
    """``1 - alpha`` WCR confidence interval of ``beta_j`` by inverting the bootstrap test."""
    return _WildClusterBootstrap(x, y, groups, j, n_boot, weights, seed).confint(alpha)
