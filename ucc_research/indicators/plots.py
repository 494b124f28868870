"""Index plots in the manner of COINr's ``plot_bar``, ``plot_framework`` and uncertainty plots.

Each function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``, so it
leaves no global state behind; a notebook shows it as the cell's result, and
``fig.savefig(path)`` writes it.

Examples
--------
>>> import pandas as pd
>>> from ucc_research.indicators import build
>>> idata = pd.DataFrame({"uCode": ["A", "B", "C"], "uName": ["Aa", "Bb", "Cc"],
...                       "x": [1.0, 2, 3], "y": [3.0, 1, 2]})
>>> imeta = pd.DataFrame({"iCode": ["x", "y", "I"], "Level": [1, 1, 2],
...                       "Parent": ["I", "I", None], "Direction": [1, -1, 1]})
>>> fig = plot_bar(build(idata, imeta))
>>> [t.get_text() for t in fig.axes[0].get_yticklabels()]  # bottom to top
['Aa', 'Cc', 'Bb']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError

__all__ = ["plot_bar", "plot_framework", "plot_uncertainty"]


def _axes(ax: Any, size: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot(**kwargs)


def _latest(df: pd.DataFrame, time: Any) -> pd.DataFrame:
    if "Time" not in df.columns:
        return df
    t = df["Time"].max() if time is None else time
    if t not in set(df["Time"]):
        raise SpecError(f"time {time!r} is not a Time of this coin")
    return df[df["Time"] == t]


def plot_bar(
    coin: Any,
    code: str | None = None,
    *,
    intervals: pd.DataFrame | None = None,
    time: Any = None,
    ax: Any = None,
) -> Any:
    """Scores of one code (default: the index) as sorted bars, with rank intervals if given.

    Parameters
    ----------
    coin : Coin
    code : str, optional
        Any indicator or aggregate; default the top-level aggregate.
    intervals : DataFrame, optional
        :func:`~ucc_research.indicators.uncertainty.rank_intervals` of the same coin: each bar is
        labelled ``rank r (q05-q95)``.
    time : optional
        The year of a panel (default: the latest).
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    top = coin.framework.codes(coin.framework.n_levels)[0]
    code = top if code is None else code
    if code not in coin.framework.framework_codes:
        raise SpecError(f"code {code!r} is not an indicator or aggregate of this coin")
    scores = _latest(coin.scores, time)
    ranks = _latest(coin.ranks, time)
    table = pd.DataFrame(
        {
            "uCode": scores["uCode"].astype(str).to_numpy(),
            "uName": scores["uName"].astype(str).to_numpy(),
            "score": scores[code].to_numpy(dtype=float),
            "rank": ranks[code].to_numpy(dtype=float),
        }
    ).dropna(subset=["score"])
    # best at the top; ties in code order from the top down
    table = table.sort_values(["rank", "uCode"], ascending=[False, False], kind="stable")
    fig, ax = _axes(ax, (7.0, 0.3 * len(table) + 1.2))
    ax.barh(table["uName"], table["score"], color="C0")
    ax.set_xlabel(f"{coin.meta.loc[code, 'iName']} ({code})")
    if intervals is not None:
        ri = _latest(intervals, time)
        ri = ri.set_index(ri["uCode"].astype(str))
        for y, row in enumerate(table.itertuples(index=False)):
            if row.uCode in ri.index:
                r = ri.loc[row.uCode]
                ax.annotate(
                    f"rank {int(row.rank)} ({r['q05']:.0f}-{r['q95']:.0f})",
                    (row.score, y),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                )
        ax.set_title("Score, rank and 5-95% rank interval", fontsize=10)
    return fig


def _tree_order(coin: Any) -> dict[int, list[str]]:
    """Codes of each level in depth-first order from the top, so children sit by their parent."""
    fw = coin.framework
    order: dict[int, list[str]] = {lev: [] for lev in range(1, fw.n_levels + 1)}

    def visit(code: str) -> None:
        order[int(coin.meta.loc[code, "Level"])].append(code)
        for child in fw.children(code):
            visit(child)

    for top in fw.codes(fw.n_levels):
        visit(top)
    return order


def plot_framework(coin: Any, *, ax: Any = None) -> Any:
    """The framework as a sunburst (COINr ``plot_framework``): the index in the centre, each
    ring one level, each wedge's angle the code's effective weight in the index.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fw = coin.framework
    order = _tree_order(coin)
    weights = coin.effective_weights
    fig, ax = _axes(ax, (7.0, 7.0))
    ax.set_aspect("equal")
    n = fw.n_levels
    ring = 1.0 / n
    colours = {}
    for i, code in enumerate(order[n - 1] if n > 1 else order[n]):
        colours[code] = f"C{i % 10}"
    for level in range(n, 0, -1):
        codes = order[level]
        sizes = np.array([float(weights.get(c, 1.0)) for c in codes])
        if not np.isfinite(sizes).all() or sizes.sum() <= 0:
            sizes = np.ones(len(codes))
        radius = (n - level + 1) * ring
        branch = [colours.get(c) or colours.get(fw.ancestor(c, n - 1) or "", "0.85") for c in codes]
        labels = codes if level > 1 or len(codes) <= 40 else None
        ax.pie(
            sizes,
            radius=radius,
            colors=branch if level < n else ["0.92"],
            labels=labels,
            labeldistance=(radius - ring / 2) / radius if level < n else 0,
            rotatelabels=level < n,
            startangle=90,
            counterclock=False,
            wedgeprops={"width": ring, "edgecolor": "white", "alpha": 1.0 - 0.15 * (level - 1)},
            textprops={"fontsize": 7, "ha": "center", "va": "center"},
        )
    ax.set_title(str(coin.meta.loc[order[n][0], "iName"]), fontsize=11)
    return fig


def plot_uncertainty(intervals: pd.DataFrame, *, time: Any = None, ax: Any = None) -> Any:
    """Rank intervals: each unit's 5-95% range of ranks over the runs, its median and its
    nominal rank, units sorted by nominal rank (COINr's uncertainty plot).

    Parameters
    ----------
    intervals : DataFrame
        :func:`~ucc_research.indicators.uncertainty.rank_intervals`.
    time : optional
        The year of a panel (default: the latest).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    needed = {"uCode", "nominal_rank", "median_rank", "q05", "q95"}
    missing = sorted(needed - set(intervals.columns))
    if missing:
        raise SpecError(f"intervals lack {missing}; pass the result of rank_intervals()")
    ri = _latest(intervals, time).sort_values("nominal_rank", ascending=False, kind="stable")
    label = ri["uName"] if "uName" in ri.columns else ri["uCode"]
    label = label.astype(str).to_numpy()
    fig, ax = _axes(ax, (7.0, 0.3 * len(ri) + 1.2))
    y = np.arange(len(ri))
    ax.hlines(y, ri["q05"].to_numpy(float), ri["q95"].to_numpy(float), color="0.6", lw=4,
              label="5-95% of runs")  # fmt: skip
    ax.plot(ri["median_rank"].to_numpy(float), y, "|", color="k", ms=10, label="median")
    ax.plot(ri["nominal_rank"].to_numpy(float), y, "o", color="C3", label="nominal rank")
    ax.set_yticks(y, label)
    ax.set_xlabel("rank (1 = best)")
    ax.invert_xaxis()
    runs = intervals.attrs.get("n_runs")
    ax.set_title(f"Rank intervals over {runs} runs" if runs else "Rank intervals", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    return fig
