"""Inference and aggregation of ATT(g, t) (R ``did``'s ``mboot`` and ``aggte``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ucc_research.errors import SpecError
from ucc_research.impact.did._estimate import cluster_sums

KINDS = ("simple", "group", "dynamic", "calendar")
TINY = np.sqrt(np.finfo(float).eps) * 10  # R did: standard errors below this are reported NA


class Bootstrap:
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
            m = cluster_sums(inf, self.cluster) / np.bincount(self.cluster)[:, None]
        return np.sqrt(self.n_clusters) * (self.u @ m) / self.n_clusters

    def se_and_crit(self, inf: np.ndarray) -> tuple[np.ndarray, float]:
        from scipy import stats

        bres = self.draws(inf)
        q75, q25 = np.quantile(bres, [0.75, 0.25], axis=0, method="inverted_cdf")
        sigma = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
        ok = np.isfinite(sigma) & (sigma > TINY)
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
    return ind / total - ind.sum(axis=1)[:, None] * (pg[keep] / total**2)[None, :]


class _Cells(NamedTuple):
    """What every aggregation reads from the ATT(g, t) table."""

    att: np.ndarray
    g: np.ndarray
    t: np.ndarray
    inf: np.ndarray
    g_unit: np.ndarray
    pg: np.ndarray  # cohort share of each cell's cohort
    post: np.ndarray  # post-treatment cells within max_e

    def weighted(self, keep: np.ndarray, by_size: bool = True) -> tuple[float, np.ndarray]:
        """Weighted mean of the cells ``keep`` and its influence function (with R's ``wif``
        adjustment when the weights are estimated cohort shares)."""
        if by_size:
            w = self.pg[keep] / self.pg[keep].sum()
            wif = _wif(keep, self.pg, self.g_unit, self.g) @ self.att[keep]
        else:
            w, wif = np.full(len(keep), 1.0 / len(keep)), 0.0
        return float(self.att[keep] @ w), self.inf[:, keep] @ w + wif


# Each aggregation returns (rows: [(key, estimate, influence function)], overall, its inf).
Agg = tuple[list[tuple[Any, float, np.ndarray]], float, np.ndarray]


def _simple(c: _Cells, **_: Any) -> Agg:
    keep = np.flatnonzero(c.post)
    if len(keep) == 0:
        raise SpecError("no post-treatment ATT(g, t) to aggregate")
    overall, oinf = c.weighted(keep)
    return [], overall, oinf


def _group(c: _Cells, **_: Any) -> Agg:
    cohorts = np.unique(c.g)
    pgg = np.array([np.mean(c.g_unit == g) for g in cohorts])
    per = []
    for g in cohorts:
        keep = np.flatnonzero((c.g == g) & c.post)
        if len(keep):
            per.append((g, *c.weighted(keep, by_size=False)))
    keys = np.array([p[0] for p in per])
    a = np.array([p[1] for p in per])
    m = np.column_stack([p[2] for p in per])
    pk = pgg[np.searchsorted(cohorts, keys)]
    wif = _wif(np.arange(len(keys)), pk, c.g_unit, keys)
    return per, float(a @ pk / pk.sum()), m @ (pk / pk.sum()) + wif @ a


def _dynamic(c: _Cells, periods, balance_e, min_e, max_e, **_: Any) -> Agg:
    e_cell = c.t - c.g
    include = np.ones(len(c.att), dtype=bool)
    eseq = np.unique(e_cell)
    if balance_e is not None:
        include = (periods[-1] - c.g) >= balance_e
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - periods[-1] + periods[0])]
    eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
    per = []
    for e in eseq:
        keep = np.flatnonzero((e_cell == e) & include)
        if len(keep):
            per.append((e, *c.weighted(keep)))
    if not per:
        raise SpecError("no event time left after balance_e / min_e / max_e")
    keys = np.array([p[0] for p in per])
    epos = keys >= 0
    if not epos.any():
        return per, np.nan, np.zeros(c.inf.shape[0])
    a = np.array([p[1] for p in per])
    m = np.column_stack([p[2] for p in per])
    return per, float(a[epos].mean()), m[:, epos].mean(axis=1)


def _calendar(c: _Cells, **_: Any) -> Agg:
    per = []
    for t in np.unique(c.t[c.t >= c.g.min()]):
        keep = np.flatnonzero((c.t == t) & (c.g <= c.t))
        if len(keep):
            per.append((t, *c.weighted(keep)))
    a = np.array([p[1] for p in per])
    m = np.column_stack([p[2] for p in per])
    return per, float(a.mean()), m.mean(axis=1)


AGGREGATIONS = {"simple": _simple, "group": _group, "dynamic": _dynamic, "calendar": _calendar}
KEYS = {"simple": None, "group": "cohort", "dynamic": "event_time", "calendar": "time"}


def aggregate_cells(result: Any, kind: str, balance_e, min_e, max_e) -> Agg:
    """The rows and overall estimate of one aggregation of a staggered DiD result."""
    tab = result.att_gt
    g, t = tab["cohort"].to_numpy(), tab["time"].to_numpy()
    g_unit = result._panel.cohort
    cohorts = np.unique(g)
    pgg = np.array([np.mean(g_unit == k) for k in cohorts])
    cells = _Cells(
        tab["att"].to_numpy(), g, t, result.inf_func, g_unit,
        pgg[np.searchsorted(cohorts, g)], (g <= t) & (t <= g + max_e),
    )  # fmt: skip
    return AGGREGATIONS[kind](cells, periods=result._panel.periods, balance_e=balance_e,
                              min_e=min_e, max_e=max_e)  # fmt: skip
