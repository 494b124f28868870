"""Figures of a staggered DiD: the event-study plot and the ATT(g, t) heat map."""

from __future__ import annotations

from typing import Any

import numpy as np

from ucc_research.errors import SpecError


def event_study_plot(agg: Any, ax: Any = None, title: str | None = None) -> Any:
    """Point estimates with confidence intervals by event time (or cohort / period).

    Pre-treatment estimates (event time < 0) are grey, post-treatment ones blue; simultaneous
    bands are drawn when the bootstrap was used, pointwise intervals otherwise.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from ucc_research.impact.did._results import DiDAggregate

    if not isinstance(agg, DiDAggregate) or agg.key is None:
        raise SpecError("event_study_plot needs an aggregation by 'dynamic', 'group' or 'calendar'")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    tab = agg.table
    lo, hi = ("band_low", "band_high") if "band_low" in tab else ("ci_low", "ci_high")
    x = tab[agg.key].to_numpy(dtype=float)
    pre = x < 0 if agg.kind == "dynamic" else np.zeros(len(x), dtype=bool)
    for mask, colour, label in (
        (pre, "grey", "pre-treatment"),
        (~pre, "tab:blue", "post-treatment"),
    ):
        if mask.any():
            ax.errorbar(
                x[mask],
                tab["att"].to_numpy()[mask],
                yerr=[
                    (tab["att"] - tab[lo]).to_numpy()[mask],
                    (tab[hi] - tab["att"]).to_numpy()[mask],
                ],
                fmt="o",
                color=colour,
                capsize=3,
                label=label,
            )
    ax.axhline(0, color="black", lw=0.8)
    if agg.kind == "dynamic":
        ax.axvline(-0.5, color="black", lw=0.8, ls=":")
        ax.legend(frameon=False)
    band = "simultaneous band" if lo == "band_low" else "pointwise CI"
    level = 100 * (1 - agg.alpha)
    ax.set_xlabel(
        {"dynamic": "event time (periods since adoption)", "group": "cohort", "calendar": "period"}[
            agg.kind
        ]
    )
    ax.set_ylabel(f"ATT ({level:g}% {band})")
    ax.set_title(title or f"{agg.kind} ATT: overall {agg.estimate:.3f} (SE {agg.std_error:.3f})")
    return ax


def att_gt_heatmap(result: Any, ax: Any = None, annot: bool = True) -> Any:
    """Heat map of ATT(g, t): cohorts in rows, periods in columns (diverging, centred at 0).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ucc_research.impact.did._results import StaggeredDiDResult

    if not isinstance(result, StaggeredDiDResult):
        raise SpecError("att_gt_heatmap needs the result of staggered_did()")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.6 * result.att_gt["cohort"].nunique() + 2))
    grid = result.att_gt.pivot(index="cohort", columns="time", values="att")
    grid.index = [f"{g:g}" for g in grid.index]
    grid.columns = [f"{t:g}" for t in grid.columns]
    lim = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    sns.heatmap(
        grid,
        ax=ax,
        cmap="RdBu_r",
        center=0,
        vmin=-lim,
        vmax=lim,
        annot=annot,
        fmt=".3f",
        cbar_kws={"label": "ATT(g, t)"},
    )
    ax.set_xlabel("period")
    ax.set_ylabel("cohort (first treated period)")
    ax.set_title(f"ATT(g, t), {result.settings['method']}, {result.settings['control']} controls")
    return ax
