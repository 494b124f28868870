"""The results of :func:`~ucc_research.impact.staggered_did`: ATT(g, t) and its aggregations."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact.base import ImpactResult
from ucc_research.impact.did._aggregate import KEYS, KINDS, TINY, Bootstrap, aggregate_cells
from ucc_research.impact.did._estimate import cluster_sums, se_from_inf
from ucc_research.impact.did._prepare import _Panel


class PreTest(NamedTuple):
    """Wald pre-test of parallel trends over the pre-treatment ATT(g, t) (R did's W, Wpval)."""

    W: float
    df: int
    p: float


def _z_p(estimate: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Two-sided normal p-values (NaN without a standard error)."""
    from scipy import stats

    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * stats.norm.sf(np.abs(np.asarray(estimate, float) / np.asarray(se, float)))


def _intervals(att: np.ndarray, se: np.ndarray, z: float, crit: float | None) -> dict:
    """Pointwise ``ci_*`` and, with a bootstrap critical value, simultaneous ``band_*``."""
    out = {"ci_low": att - z * se, "ci_high": att + z * se}
    if crit is not None:
        out.update(band_low=att - crit * se, band_high=att + crit * se)
    return out


class StaggeredDiDResult(ImpactResult):
    """ATT(g, t) estimates with their influence functions; see :func:`staggered_did`.

    The headline (``estimate``, ``std_error``, ``p_value``, ``conf_int``) is the simple
    aggregation (``aggregate("simple")``); ``tidy()`` has one row per ATT(g, t) cell.
    :meth:`with_inference` switches between analytic and multiplier-bootstrap inference (other
    draws, weights, seed or level) on the stored influence functions; the clustering needs the
    data, so changing it means estimating again.
    """

    title = "Staggered DiD (Callaway & Sant'Anna 2021; R did 2.5.1 conventions)"

    def __init__(self, panel: _Panel, table: pd.DataFrame, inf: np.ndarray, settings: dict):
        from scipy import stats

        self._panel, self._table = panel, table
        self.settings = settings
        self.inf_func = inf
        self.n_units = panel.y.shape[0]
        self.n_obs = int(panel.y.size)
        self.alpha = settings["alpha"]
        self.notes = list(panel.notes)
        self._z = float(stats.norm.ppf(1 - self.alpha / 2))
        self._boot = (
            Bootstrap(self.n_units, panel.cluster, settings, self.alpha)
            if settings["bootstrap"]
            else None
        )
        self.crit_val, se = None, se_from_inf(inf, panel.cluster)
        if self._boot is not None:
            se, crit = self._boot.se_and_crit(inf)
            # R: never narrower than the pointwise interval
            self.crit_val = max(crit, self._z) if np.isfinite(crit) else None
        se = np.where(se > TINY, se, np.nan)
        att = table["att"].to_numpy()
        cols = {
            "cohort": table["cohort"].to_numpy(),
            "time": table["time"].to_numpy(),
            "event_time": (table["time"] - table["cohort"]).to_numpy(),
            "base_period": table["base"].to_numpy(),
            "att": att,
            "se": se,
            **_intervals(att, se, self._z, self.crit_val),
        }
        for c in ("post", "n_treated", "n_control"):
            cols[c] = table[c].to_numpy()
        self._normalised = table["normalised"].to_numpy()
        self.att_gt = pd.DataFrame(cols)

    def with_inference(self, **options: Any) -> StaggeredDiDResult:
        """The same ATT(g, t) with other inference: ``bootstrap``, ``n_boot``,
        ``boot_weights``, ``seed`` or ``alpha`` (as in :func:`staggered_did`)."""
        from ucc_research.impact.did import _check_options

        allowed = {"bootstrap", "n_boot", "boot_weights", "seed", "alpha"}
        if set(options) - allowed:
            raise SpecError(
                f"with_inference takes {sorted(allowed)}; {sorted(set(options) - allowed)} "
                "need a new staggered_did fit"
            )
        settings = {**self.settings, **options}
        _check_options(settings)
        return StaggeredDiDResult(self._panel, self._table, self.inf_func, settings)

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
        if kind not in KINDS:
            raise SpecError(f"kind must be one of {list(KINDS)}, got {kind!r}")
        if balance_e is not None and kind != "dynamic":
            raise SpecError("balance_e only applies to kind='dynamic'")
        per, overall, oinf = aggregate_cells(self, kind, balance_e, min_e, max_e)
        options = {"balance_e": balance_e, "min_e": min_e, "max_e": max_e}
        return DiDAggregate(kind, per, overall, oinf, self, options if kind == "dynamic" else {})

    def _se(self, inf: np.ndarray) -> tuple[np.ndarray, float | None]:
        """Standard errors of aggregated influence functions (and the band's critical value)."""
        if self._boot is None:
            se, crit = se_from_inf(inf, self._panel.cluster), None
        else:
            se, crit = self._boot.se_and_crit(inf)
            crit = max(crit, self._z) if np.isfinite(crit) else None
        return np.where(se > TINY, se, np.nan), crit

    def pretest(self) -> PreTest:
        """Wald test that all pre-treatment ATT(g, t) are zero (R did's ``W``/``Wpval``).

        ``W = a' V^-1 a`` with ``V`` the influence-function covariance of the pre-treatment
        cells (those with ``cohort > time``; cells normalised to 0 are left out); ``p`` from
        chi-squared with ``df`` = number of cells (R rounds ``p`` to 5 decimals; this does not).
        """
        from scipy import stats

        tab = self.att_gt
        pre = ((tab["cohort"] > tab["time"]).to_numpy()) & ~self._normalised
        if not pre.any():
            raise SpecError("no pre-treatment ATT(g, t) to test (all cells are post-treatment)")
        a = tab["att"].to_numpy()[pre]
        s = cluster_sums(self.inf_func[:, pre], self._panel.cluster)
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

    def _headline_row(self) -> pd.Series:
        return self.aggregate("simple").tidy().iloc[0]

    def _tidy(self) -> pd.DataFrame:
        tab = self.att_gt
        return pd.DataFrame(
            {
                "term": [f"ATT({g:g},{t:g})" for g, t in zip(tab["cohort"], tab["time"])],
                "estimate": tab["att"],
                "std_error": tab["se"],
                "p_value": _z_p(tab["att"], tab["se"]),
                "conf_low": tab["ci_low"],
                "conf_high": tab["ci_high"],
                "cohort": tab["cohort"],
                "time": tab["time"],
                "event_time": tab["event_time"],
            }
        )

    def _summary_lines(self) -> list[str]:
        s = self.settings
        infer = (
            f"multiplier bootstrap ({s['n_boot']} {s['boot_weights']} draws, seed {s['seed']}), "
            "simultaneous bands"
            if s["bootstrap"]
            else "analytic influence-function SEs"
        )
        lines = [
            f"outcome {s['outcome']!r}; {self.n_units} units x {len(self._panel.periods)} periods; "
            f"cohorts {', '.join(f'{g:g}' for g in np.unique(self.att_gt['cohort']))}",
            f"estimator {s['method']}, control {s['control']}, base period {s['base_period']}, "
            f"anticipation {s['anticipation']}, covariates {s['covariates'] or 'none'}",
            f"inference: {infer}" + (f", clustered by {s['cluster']!r}" if s["cluster"] else ""),
        ]
        return lines + [f"note: {n}" for n in self.notes]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        from ucc_research.impact.did._plots import att_gt_heatmap

        return att_gt_heatmap(self, ax=ax, **kwargs)


class DiDAggregate(ImpactResult):
    """An aggregation of ATT(g, t): the overall ``estimate``, ``std_error``, ``conf_int`` and
    ``p_value`` (the first row of ``tidy()``) and the ``table`` by key (cohort, event time or
    period; R did's columns ``att``, ``se``, ``ci_low``, ``ci_high``, ``band_*``)."""

    def __init__(self, kind, per, overall, oinf, parent: StaggeredDiDResult, options) -> None:
        self.kind, self.key, self.options = kind, KEYS[kind], options
        self.title = f"ATT aggregation '{kind}' ({parent.settings['method']}, " + (
            f"{parent.settings['control']})"
        )
        self.inf_func, self._parent = oinf, parent
        self.alpha, self.n_obs = parent.alpha, parent.n_obs
        self.crit_val = None
        if per:
            se, self.crit_val = parent._se(np.column_stack([p[2] for p in per]))
            att = np.array([p[1] for p in per])
            self.table = pd.DataFrame(
                {self.key: [p[0] for p in per], "att": att, "se": se,
                 **_intervals(att, se, parent._z, self.crit_val)}
            )  # fmt: skip
        else:
            self.table = pd.DataFrame(columns=["att", "se", "ci_low", "ci_high"])
        ose = float(parent._se(oinf[:, None])[0][0])
        z = parent._z
        self._overall = (overall, ose, overall - z * ose, overall + z * ose)
        if kind == "simple":
            self.table = pd.DataFrame(
                {"att": [overall], "se": [ose], "ci_low": [self._overall[2]],
                 "ci_high": [self._overall[3]]}
            )  # fmt: skip

    def _tidy(self) -> pd.DataFrame:
        est, se, lo, hi = self._overall
        rows = [{"term": "overall", "estimate": est, "std_error": se, "conf_low": lo,
                 "conf_high": hi}]  # fmt: skip
        if self.key is not None:
            for r in self.table.itertuples(index=False):
                rows.append(
                    {"term": f"{self.key}={getattr(r, self.key):g}", "estimate": r.att,
                     "std_error": r.se, "conf_low": r.ci_low, "conf_high": r.ci_high}
                )  # fmt: skip
        out = pd.DataFrame(rows)
        out["p_value"] = _z_p(out["estimate"], out["std_error"])
        out["aggregation"] = self.kind
        return out

    def _summary_lines(self) -> list[str]:
        level = 100 * (1 - self.alpha)
        return [
            f"overall {self._overall[0]:.4f} (SE {self._overall[1]:.4f}, {level:g}% CI "
            f"{self._overall[2]:.4f} to {self._overall[3]:.4f})"
        ]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        from ucc_research.impact.did._plots import event_study_plot

        return event_study_plot(self, ax=ax, **kwargs)
