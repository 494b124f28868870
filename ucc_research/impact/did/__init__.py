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

from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.impact.did._drdid import ESTIMATORS
from ucc_research.impact.did._estimate import att_gt
from ucc_research.impact.did._plots import att_gt_heatmap, event_study_plot
from ucc_research.impact.did._prepare import prepare
from ucc_research.impact.did._results import DiDAggregate, PreTest, StaggeredDiDResult

__all__ = [
    "staggered_did",
    "event_study_plot",
    "att_gt_heatmap",
    "StaggeredDiDResult",
    "DiDAggregate",
    "PreTest",
]

_CHOICES = {
    "control": ("never_treated", "not_yet_treated"),
    "method": tuple(sorted(ESTIMATORS)),
    "base_period": ("varying", "universal"),
    "boot_weights": ("rademacher", "mammen"),
}


def _check_options(s: dict) -> None:
    """Validate the options of :func:`staggered_did` (also those changed by with_inference)."""
    for name, allowed in _CHOICES.items():
        if s[name] not in allowed:
            raise SpecError(f"{name} must be one of {sorted(allowed)}, got {s[name]!r}")
    if not isinstance(s["anticipation"], (int, np.integer)) or s["anticipation"] < 0:
        raise SpecError(f"anticipation must be a non-negative integer, got {s['anticipation']!r}")
    if not 0 < s["alpha"] < 1:
        raise SpecError(f"alpha must be between 0 and 1, got {s['alpha']!r}")
    n_boot = s["n_boot"]
    if s["bootstrap"] and (not isinstance(n_boot, (int, np.integer)) or n_boot < 50):
        raise SpecError(f"n_boot must be an integer of at least 50, got {n_boot!r}")


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
        Multiplier bootstrap SEs and simultaneous bands (R: bstrap=TRUE, cband=TRUE).
    n_boot : int
        Bootstrap draws.
    boot_weights : {"rademacher", "mammen"}
        Multiplier weights (R ``did`` uses Rademacher, ``DRDID`` Mammen).
    seed : int
        Seed of the bootstrap draws; the same draws serve ATT(g, t) and every aggregation.

    Returns
    -------
    StaggeredDiDResult
        ``.att_gt`` (R did's cell table), ``.aggregate(kind)``, ``.pretest()``, ``.tidy()``,
        ``.summary()``, ``.with_inference()``, ``.plot()``.

    Examples
    --------
    >>> from ucc_research import demo
    >>> d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    >>> tp = demo.transfer_panel(d)  # cohorts 2019 and 2020, never-adopters coded 0
    >>> res = staggered_did(tp, "digital_share", "unit", "time", "cohort")
    >>> res.aggregate("dynamic").table["event_time"].tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    >>> round(res.aggregate("simple").estimate, 3)  # truth: demo.transfer_truth(d)
    0.101
    >>> res.with_inference(bootstrap=True, n_boot=999).aggregate("dynamic").crit_val > 1.96
    True
    """
    settings = {k: v for k, v in locals().items() if k != "data"}
    _check_options(settings)
    panel = prepare(data, outcome, unit, time, cohort, covariates, control, anticipation, cluster)
    table, inf = att_gt(panel, control, method, base_period, anticipation)
    settings["covariates"] = panel.x_names
    return StaggeredDiDResult(panel, table, inf, settings)
