"""Drivers analysis: which service features and city conditions go with better outcomes.

A gradient-boosting model (scikit-learn ``HistGradientBoostingRegressor``) is cross-validated
with folds made of whole cities (``GroupKFold``), so a city's rows are never both trained on and
predicted: the reported out-of-fold R2 is what the model says about cities it has not seen.

Permutation importance is computed on the held-out folds: the drop in out-of-fold R2 when a
feature's values are shuffled. Its caveat: when features are correlated, shuffling one of them
leaves its information in the others, so each looks unimportant although together they matter
(Strobl et al. 2008; Hooker, Mentch & Zhou 2021). The analysis therefore also clusters the
features by absolute Spearman correlation and reports *grouped* importance, shuffling each
cluster's columns together (with the same row permutation, which keeps their joint distribution).

Importance is predictive, not causal. The result always carries the fixed-effects regression of
the same outcome on the same features (:func:`ucc_research.impact.fe_regression`), and its
summary and plot show both side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact._checks import check_columns, check_frame, check_numeric, check_seed
from ucc_research.impact.base import ImpactResult
from ucc_research.impact.panel import FERegressionResult, fe_regression

__all__ = ["drivers_analysis", "DriversResult", "correlation_clusters"]


def correlation_clusters(x: pd.DataFrame, threshold: float = 0.7) -> pd.Series:
    """Cluster features whose absolute Spearman correlation links them at ``threshold`` or more.

    Average-linkage hierarchical clustering on ``1 - |rho|``, cut at ``1 - threshold``. Returns
    the cluster label of each feature (``"c1"``, ``"c2"``, ... in order of first appearance).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    cols = list(x.columns)
    if len(cols) == 1:
        return pd.Series({cols[0]: "c1"}, name="cluster")
    rho = x.rank().corr().abs().fillna(0.0).to_numpy().copy()
    np.fill_diagonal(rho, 1.0)
    dist = np.clip(1.0 - rho, 0.0, None)
    dist = (dist + dist.T) / 2
    labels = fcluster(linkage(squareform(dist, checks=False), "average"), 1 - threshold, "distance")
    order = {lab: f"c{i + 1}" for i, lab in enumerate(dict.fromkeys(labels))}
    return pd.Series([order[lab] for lab in labels], index=cols, name="cluster")


@dataclass(repr=False)
class DriversResult(ImpactResult):
    """Result of :func:`drivers_analysis`.

    Attributes
    ----------
    importance : DataFrame
        One row per feature: ``importance`` (mean drop in out-of-fold R2 when shuffled) and its
        standard deviation over folds x repeats, the feature's correlation ``cluster`` and the
        cluster's ``grouped_importance``.
    grouped_importance : DataFrame
        One row per correlation cluster: its members and the R2 drop when they are shuffled
        together.
    clusters : Series
        Cluster label of each feature.
    correlation : DataFrame
        Spearman correlations of the features.
    partial_dependence : DataFrame
        ``feature``, ``value``, ``average_prediction`` of the model fitted on all rows.
    cv_r2 : Series
        Out-of-fold R2 by fold; ``cv_r2_pooled`` is that of all out-of-fold predictions.
    folds : Series
        The fold of each group (no group is in two folds).
    regression : FERegressionResult
        Fixed-effects regression of the same outcome on the same features.
    """

    outcome: str
    features: list[str]
    groups: str
    importance: pd.DataFrame
    grouped_importance: pd.DataFrame
    clusters: pd.Series
    correlation: pd.DataFrame
    partial_dependence: pd.DataFrame
    cv_r2: pd.Series
    cv_r2_pooled: float
    folds: pd.Series
    regression: FERegressionResult
    n_obs: int
    n_dropped: int
    n_repeats: int
    model: Any = field(default=None, repr=False)

    title = "Drivers: gradient boosting with grouped cross-validation, beside an FE regression"

    def _tidy(self) -> pd.DataFrame:
        """Features with their importance; the estimate is the FE regression's (same features)."""
        reg = self.regression.table.set_index("term")
        out = self.importance.rename(columns={"feature": "term"})
        for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
            out[col] = out["term"].map(reg[col])
        return out

    def _summary_lines(self) -> list[str]:
        imp = self.importance.sort_values("importance", ascending=False)
        reg = self.regression.table.set_index("term")
        lines = [
            f"Drivers of {self.outcome!r}: gradient boosting (HistGradientBoostingRegressor), "
            f"{len(self.cv_r2)}-fold cross-validation by {self.groups!r} (no {self.groups} in two "
            f"folds); N = {self.n_obs}"
            + (f", dropped (missing outcome): {self.n_dropped}" if self.n_dropped else ""),
            f"  out-of-fold R2 = {self.cv_r2_pooled:.3f} (by fold {self.cv_r2.mean():.3f} +/- "
            f"{self.cv_r2.std(ddof=1) if len(self.cv_r2) > 1 else 0:.3f})",
            "  permutation importance (drop in out-of-fold R2) beside the regression estimate"
            f" ({self.regression.formula}; {self.regression.inference.split(';')[0]}):",
        ]
        for r in imp.itertuples(index=False):
            fe = (
                f"{reg.loc[r.feature, 'estimate']: .4f} [{reg.loc[r.feature, 'conf_low']:.4f}, "
                f"{reg.loc[r.feature, 'conf_high']:.4f}]"
                if r.feature in reg.index
                else "not estimated (collinear with other features or the fixed effects)"
            )
            lines.append(
                f"    {r.feature:<24} importance {r.importance: .4f} (sd {r.importance_sd:.4f}), "
                f"cluster {r.cluster}; regression estimate {fe}"
            )
        multi = self.grouped_importance[self.grouped_importance["size"] > 1]
        if len(multi):
            lines.append(
                "  correlated feature clusters (|Spearman| linked at the threshold); their "
                "single-feature importances understate them, read the grouped importance:"
            )
            for r in multi.itertuples(index=False):
                lines.append(
                    f"    {r.cluster}: {r.members} -> grouped importance {r.importance:.4f}"
                )
        lines.append(
            "  Importance is predictive association, not a causal effect; read it with the FE "
            "estimates."
        )
        return lines

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Importance (left) beside the FE regression coefficients (right)."""
        import matplotlib.pyplot as plt

        imp = self.importance.sort_values("importance")
        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=kwargs.pop("figsize", (11, 0.6 + 0.4 * len(imp))))
        ax_imp, ax_fe = ax
        y = np.arange(len(imp))
        ax_imp.barh(y, imp["importance"], xerr=imp["importance_sd"], color="C0", **kwargs)
        ax_imp.set_yticks(y, imp["feature"])
        ax_imp.set_xlabel("permutation importance (drop in out-of-fold R2)")
        ax_imp.set_title(f"gradient boosting, grouped CV by {self.groups}", fontsize=9)
        reg = self.regression.table.set_index("term").reindex(imp["feature"])
        ax_fe.errorbar(
            reg["estimate"],
            y,
            xerr=[reg["estimate"] - reg["conf_low"], reg["conf_high"] - reg["estimate"]],
            fmt="o",
            capsize=3,
        )
        ax_fe.axvline(0, color="grey", lw=0.8)
        ax_fe.set_yticks(y, imp["feature"])
        ax_fe.set_xlabel("regression estimate (95% CI)")
        ax_fe.set_title(self.regression.formula, fontsize=8)
        return ax

    def plot_partial_dependence(self, features: Sequence[str] | None = None, ax: Any = None) -> Any:
        """Partial dependence curves of the chosen (default: all) features."""
        import matplotlib.pyplot as plt

        feats = list(features or self.features)
        if ax is None:
            _, ax = plt.subplots(1, len(feats), figsize=(3 * len(feats), 2.8), squeeze=False)
            ax = ax[0]
        for a, f in zip(np.atleast_1d(ax), feats):
            pdp = self.partial_dependence[self.partial_dependence["feature"] == f]
            a.plot(pdp["value"], pdp["average_prediction"])
            a.set_xlabel(f)
        np.atleast_1d(ax)[0].set_ylabel(f"predicted {self.outcome}")
        return ax


def drivers_analysis(
    data: pd.DataFrame,
    outcome: str,
    features: Sequence[str],
    groups: str,
    fe_formula: str | None = None,
    cv: int = 5,
    seed: int = 0,
    n_repeats: int = 5,
    corr_threshold: float = 0.7,
    gb_params: dict | None = None,
    cluster: str | None = None,
) -> DriversResult:
    """Cross-validated gradient boosting with (grouped) permutation importance, beside FE estimates.

    Parameters
    ----------
    data, outcome : DataFrame, str
        The data; the numeric outcome (rows missing it are dropped and counted).
    features : list of str
        Numeric or boolean feature columns; missing values are allowed (handled natively).
    groups : str
        Grouping column for the cross-validation folds (e.g. ``"city_id"``).
    fe_formula : str, optional
        The regression beside the importance: a formula (``"y ~ x1 + x2 | fe"``) or its
        fixed-effects part (``"city_id + period"``). Default: OLS on the features, errors
        clustered by ``groups`` (city context stays estimable).
    cv, n_repeats : int
        Folds (at most the number of groups); permutations per feature (or cluster) and fold.
    seed, corr_threshold : int, float
        Seed of the model and permutations; |Spearman| at which features are clustered.
    gb_params : dict, optional
        Overrides of the ``HistGradientBoostingRegressor`` parameters.
    cluster : str, optional
        Cluster variable of the regression (default ``groups``).

    Returns
    -------
    DriversResult

    Examples
    --------
    SYNTHETIC: 12 cities x 4 services x 5 periods; effects 2 (eid_login), 0.5 (proactive), 0:

    >>> rng = np.random.default_rng(0)
    >>> c, s, t = np.meshgrid(np.arange(12), np.arange(4), np.arange(5), indexing="ij")
    >>> panel = pd.DataFrame({"city_id": c.ravel(), "service_id": s.ravel(), "period": t.ravel()})
    >>> panel["eid_login"] = rng.normal(size=len(panel))
    >>> panel["proactive"] = rng.integers(0, 2, len(panel))
    >>> panel["internet_use"] = rng.normal(size=len(panel))
    >>> panel["digital_share"] = (2 * panel["eid_login"] + 0.5 * panel["proactive"]
    ...                           + rng.normal(0, 0.5, len(panel)))
    >>> res = drivers_analysis(panel, "digital_share", ["eid_login", "proactive", "internet_use"],
    ...                        groups="city_id", fe_formula="service_id + period",
    ...                        n_repeats=2, gb_params={"max_iter": 50})
    >>> res.tidy()[["term", "importance", "estimate"]].round(2)  # estimate: the FE regression's
               term  importance  estimate
    0     eid_login        1.88      2.00
    1     proactive        0.02      0.49
    2  internet_use        0.00     -0.02
    """
    df, keep, features, cv, seed = _check(data, outcome, features, groups, corr_threshold, cv, seed)
    x = df[features].astype(float)
    clusters = correlation_clusters(x, corr_threshold)
    members = {c: list(clusters.index[clusters == c]) for c in dict.fromkeys(clusters)}
    params = {"max_iter": 200, "learning_rate": 0.1, "early_stopping": False, "random_state": seed}
    y, rng = df[outcome].to_numpy(float), np.random.default_rng(seed)
    cvr = _cross_validate(x.to_numpy(), y, df[groups].to_numpy(), features, members, cv,
                          params | (gb_params or {}), n_repeats, rng)  # fmt: skip
    imp, gtab = _importance(features, cvr["single"], cvr["grouped"], members, clusters)
    return DriversResult(
        outcome=outcome, features=features, groups=groups, importance=imp,
        grouped_importance=gtab, clusters=clusters, correlation=x.rank().corr(),
        partial_dependence=pd.DataFrame(cvr["pdp"]),
        cv_r2=pd.Series(cvr["r2"], name="r2", index=pd.RangeIndex(cv, name="fold")),
        cv_r2_pooled=_r2(y, cvr["oof"]),
        folds=pd.Series(cvr["folds"], name="fold").rename_axis(groups),
        regression=_regression(data, outcome, features, groups, fe_formula, cluster, seed),
        n_obs=len(y), n_dropped=int((~keep).sum()), n_repeats=n_repeats, model=cvr["final"],
    )  # fmt: skip


def _check(data, outcome, features, groups, corr_threshold, cv, seed) -> tuple:
    """The rows with an outcome and a group, after checking the arguments."""
    check_frame(data)
    seed = check_seed(seed)
    features = list(features)
    if not features:
        raise SpecError("features is empty")
    if len(set(features)) != len(features):
        raise SpecError(f"features has duplicates: {features}")
    check_columns(data, [outcome, groups] + features, "column")
    check_numeric(data, [outcome], "outcome")
    check_numeric(data, features, "feature")
    if not 0 < corr_threshold <= 1:
        raise SpecError(f"corr_threshold must be in (0, 1], got {corr_threshold!r}")
    keep = data[outcome].notna() & data[groups].notna()
    df = data.loc[keep].reset_index(drop=True)
    if not isinstance(cv, int | np.integer) or cv < 2:
        raise SpecError(f"cv must be an integer >= 2, got {cv!r}")
    if df[groups].nunique() < 2:
        raise SpecError(f"grouped cross-validation needs at least 2 {groups!r} groups")
    return df, keep, features, min(int(cv), df[groups].nunique()), seed


def _cross_validate(xa, y, groups, features, members, cv, params, n_repeats, rng) -> dict:
    """Grouped K-fold: out-of-fold predictions and R2, permutation drops of every feature and
    correlation cluster, then the model on all rows and its partial dependence."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.inspection import partial_dependence
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    out = {"oof": np.empty(len(y)), "folds": {}, "r2": [], "pdp": []}
    single, grouped = {f: [] for f in features}, {c: [] for c in members}
    codes = pd.factorize(groups)[0]
    # One OpenMP thread: the models are small, and on a shared machine thread contention makes
    # multi-threaded boosting far slower, not faster (and results depend on no thread count).
    with threadpool_limits(limits=1, user_api="openmp"):
        for k, (tr, te) in enumerate(GroupKFold(n_splits=cv).split(xa, y, codes)):
            out["folds"] |= {g: k for g in np.unique(groups[te])}
            model = HistGradientBoostingRegressor(**params).fit(xa[tr], y[tr])
            xt, yt = xa[te], y[te]
            out["oof"][te] = pred = model.predict(xt)
            base = _r2(yt, pred)
            out["r2"].append(base)
            for i, f in enumerate(features):
                single[f] += _perm_drop(model, xt, yt, [i], base, n_repeats, rng)
            for c, names in members.items():
                cols = [features.index(m) for m in names]
                grouped[c] += _perm_drop(model, xt, yt, cols, base, n_repeats, rng)
        out["final"] = final = HistGradientBoostingRegressor(**params).fit(xa, y)
        for i, f in enumerate(features):
            pdp = partial_dependence(final, xa, [i], grid_resolution=20, kind="average")
            out["pdp"] += [{"feature": f, "value": float(v), "average_prediction": float(a)}
                           for v, a in zip(pdp["grid_values"][0], pdp["average"][0])]  # fmt: skip
    return out | {"single": single, "grouped": grouped}


def _importance(features, single, grouped, members, clusters) -> tuple[pd.DataFrame, ...]:
    """Importance by feature (with its cluster's) and by correlation cluster."""
    gtab = pd.DataFrame(
        {
            "cluster": list(members),
            "members": [", ".join(m) for m in members.values()],
            "size": [len(m) for m in members.values()],
            "importance": [float(np.mean(grouped[c])) for c in members],
            "importance_sd": [float(np.std(grouped[c], ddof=1)) for c in members],
        }
    )
    imp = pd.DataFrame(
        {
            "feature": features,
            "importance": [float(np.mean(single[f])) for f in features],
            "importance_sd": [float(np.std(single[f], ddof=1)) for f in features],
            "cluster": clusters.reindex(features).to_numpy(),
        }
    )
    imp["grouped_importance"] = imp["cluster"].map(gtab.set_index("cluster")["importance"])
    return imp, gtab


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    ss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss if ss > 0 else np.nan


def _perm_drop(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    cols: list[int],
    base: float,
    n_repeats: int,
    rng: np.random.Generator,
) -> list[float]:
    """R2 drops when columns ``cols`` are shuffled together (one permutation per repeat)."""
    drops = []
    xp = x.copy()
    for _ in range(n_repeats):
        perm = rng.permutation(len(y))
        xp[:, cols] = x[perm][:, cols]
        drops.append(base - _r2(y, model.predict(xp)))
        xp[:, cols] = x[:, cols]
    return drops


def _regression(
    data: pd.DataFrame,
    outcome: str,
    features: list[str],
    groups: str,
    fe_formula: str | None,
    cluster: str | None,
    seed: int,
) -> FERegressionResult:
    if fe_formula is None:
        formula = f"{outcome} ~ {' + '.join(features)}"
    elif "~" in fe_formula:
        formula = fe_formula
    else:
        formula = f"{outcome} ~ {' + '.join(features)} | {fe_formula.lstrip('| ')}"
    return fe_regression(data, formula, cluster=cluster or groups, seed=seed)
