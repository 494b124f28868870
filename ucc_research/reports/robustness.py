"""The index-robustness report: which ranks are stable, and is the framework coherent?

Sections (``notebooks/index_robustness.ipynb``): key findings, every unit's rank interval, the
coherence of the framework (Cronbach's alpha, negative values flagged in words), and the
variance-based sensitivity of the ranks to each uncertain choice (indices the sample cannot tell
apart flagged as noise).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ucc_research.reports.context import ReportContext, open_context, shown_if_applicable
from ucc_research.reports.display import Figure, Findings, Group, NotShown, Text, new_figure
from ucc_research.reports.shared import NotApplicable

STEM = "index_robustness"
#: A rank interval this wide or narrower (q95 - q05, in ranks) counts as a stable position.
STABLE_WIDTH = 2


def open_report(
    study: Any, shared_dir: str | None = None, sensitivity_n: int = 64
) -> ReportContext:
    """Open the index-robustness report (first cell of ``index_robustness.ipynb``)."""
    ctx = open_context(study, STEM, shared_dir, {"sensitivity_n": sensitivity_n})
    ctx.results["report"] = "Index robustness"
    return ctx


def _coin(ctx: ReportContext):
    def compute():
        fw = ctx.study.framework
        if not fw.get("data"):
            return NotApplicable("the study has no composite indicator framework")
        from ucc_research.indicators import build

        return build(
            ctx.study.read_table(fw["data"]), ctx.study.read_table(fw["meta"]), fw.get("spec")
        )

    out = ctx.memo("coin", compute)
    if isinstance(out, NotApplicable):
        raise out
    return out


def _intervals(ctx: ReportContext) -> pd.DataFrame:
    _coin(ctx)
    if not (ctx.shared.dir / "rank_intervals.parquet").is_file():
        raise NotApplicable("the study runs no uncertainty analysis (framework.uncertainty)")
    ri = ctx.shared.table("rank_intervals")
    if "Time" in ri:
        ri = ri[ri["Time"] == ri["Time"].max()]
    ri = ri.sort_values(["nominal_rank", "uCode"]).copy()
    ri["lo"] = ri["q05"].apply(lambda v: int(v // 1))
    ri["hi"] = ri["q95"].apply(lambda v: int(-(-v // 1)))
    ri["width"] = ri["hi"] - ri["lo"]
    return ri


def _alpha(ctx: ReportContext) -> pd.DataFrame:
    def compute():
        from ucc_research.indicators.coherence import coherence

        return coherence(_coin(ctx), level=1)

    return ctx.memo("coherence", compute)


@shown_if_applicable
def key_findings(ctx: ReportContext) -> Findings | NotShown:
    """Which ranks are stable, which are not, and whether the framework holds together."""
    ri = _intervals(ctx)
    stable = ri[ri["width"] <= STABLE_WIDTH]
    wide = ri.sort_values("width", ascending=False)
    info = ctx.shared.json("index_info")
    s = [
        Text(
            "<strong>{a} of {n}</strong> units keep a stable rank (their 5-95% interval spans "
            "at most {w} places) across {runs} alternative builds of the index.",
            a=len(stable),
            n=len(ri),
            w=STABLE_WIDTH,
            runs=info["uncertainty"]["n_runs"],
        ),
    ]
    if len(stable):
        s.append(
            Text(
                "Stable: {names}.",
                names=", ".join(ctx.name(u) for u in stable["uCode"].head(8))
                + (" and others" if len(stable) > 8 else ""),
            )
        )
    unstable = wide[wide["width"] > STABLE_WIDTH].head(5)
    if len(unstable):
        s.append(
            Text(
                "Least stable: {items}; their ranks depend on how the index is built.",
                items="; ".join(
                    f"{ctx.name(r.uCode)} ({r.lo}-{r.hi})" for r in unstable.itertuples()
                ),
            )
        )
    alpha = _alpha(ctx).alpha
    neg = alpha[alpha["alpha"] < 0] if "alpha" in alpha else alpha.iloc[0:0]
    if len(neg):
        s.append(
            Text(
                "Cronbach's alpha is negative for {aggs}: their indicators pull in opposite "
                "directions, so their average hides more than it shows.",
                aggs=", ".join(_agg_names(ctx, neg)),
            )
        )
    ctx.record("key_findings", [str(t) for t in s])
    ctx.headline(answer=str(s[0]))
    ctx.headline(**{"stable ranks": f"{len(stable)} of {len(ri)}"})
    return Findings(s, synthetic=ctx.study.synthetic)


def _agg_names(ctx: ReportContext, table: pd.DataFrame) -> list[str]:
    meta = _coin(ctx).meta
    col = "parent" if "parent" in table else table.columns[0]
    return [str(meta.loc[c, "iName"]) if c in meta.index else str(c) for c in table[col]]


@shown_if_applicable
def rank_intervals(ctx: ReportContext):
    """Every unit's nominal rank and its 5-95% interval over the alternative builds."""
    ri = _intervals(ctx)
    ctx.uses("uncertainty")
    ctx.record("intervals", ri.to_dict(orient="records"))
    names = [ctx.name(u) for u in ri["uCode"]]
    fig, ax = new_figure(7, 0.24 * len(ri) + 1.4)
    ax.hlines(names, ri["lo"], ri["hi"], color="0.7", lw=5, label="5-95% interval")
    ax.plot(ri["nominal_rank"], names, "o", color="C3", label="rank")
    ax.invert_yaxis()
    ax.set_xlabel("rank (1 = best)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    table = pd.DataFrame(
        {
            ctx.unit_label: names,
            "rank": ri["nominal_rank"].to_numpy(),
            "median rank": ri["median_rank"].to_numpy(),
            "interval": [f"{a}-{b}" for a, b in zip(ri["lo"], ri["hi"], strict=True)],
            "stable": ["yes" if w <= STABLE_WIDTH else "no" for w in ri["width"]],
        }
    )
    widest = ri.sort_values("width").iloc[-1]
    return Group(
        [
            Figure(
                fig,
                alt=f"Rank of every {ctx.unit_label} with its 5-95% interval; the widest "
                f"interval is {ctx.name(widest['uCode'])}'s, {widest['lo']}-{widest['hi']}.",
            ),
            ctx.table(
                table,
                "Ranks and rank intervals",
                note=f"n = {len(ri)} units; intervals rounded outwards to whole ranks.",
            ),
        ]
    )


@shown_if_applicable
def coherence(ctx: ReportContext):
    """Cronbach's alpha per aggregate, negative values flagged in words."""
    res = _alpha(ctx)
    alpha = res.alpha.copy()
    ctx.uses("coherence")
    ctx.record(
        "coherence",
        {"alpha": alpha.to_dict(orient="records"), "flags": res.flags.to_dict(orient="records")},
    )
    names = _agg_names(ctx, alpha)
    table = alpha.copy()
    table.insert(0, "area", names)
    table = table.drop(columns=[c for c in ("parent", "level") if c in table]).rename(
        columns={"n_items": "indicators", "n_units": "rows (unit x year)", "alpha": "alpha"}
    )
    table["reading"] = [
        "negative: indicators pull in opposite directions"
        if a < 0
        else "low (< 0.5)"
        if a < 0.5
        else "acceptable (0.5-0.7)"
        if a < 0.7
        else "good (>= 0.7)"
        for a in alpha["alpha"]
    ]
    return Group(
        [
            Text(
                "{k} flagged pair(s) of indicators (negative or near-duplicate correlations).",
                k=len(res.flags),
            ),
            ctx.table(table, "Cronbach's alpha by area"),
        ]
    )


@shown_if_applicable
def sensitivity(ctx: ReportContext):
    """Which uncertain choice moves the ranks most (first-order and total indices)."""
    coin = _coin(ctx)
    from ucc_research.indicators.uncertainty import sensitivity_analysis

    unc = ctx.study.framework.get("uncertainty") or {}
    vary = unc.get("vary")
    if isinstance(vary, dict) and len(vary) < 2:
        return NotShown(
            f"the study varies only {', '.join(vary) or 'nothing'}; sensitivity indices compare "
            "two or more uncertain choices"
        )
    n = int(ctx.parameters["sensitivity_n"])
    res = sensitivity_analysis(coin, n=n, seed=1, n_boot=50, vary=unc.get("vary"))
    tab = res.sensitivity.copy()
    tab["noise"] = tab["Si"] > tab["STi"] + 1e-12
    ctx.uses("sensitivity")
    ctx.record("sensitivity", {"table": tab.to_dict(orient="records"), "n": n})
    noisy = tab[tab["noise"]]
    table = tab[["Variable", "Si", "STi"]].rename(
        columns={"Variable": "uncertain choice", "Si": "first-order Si", "STi": "total STi"}
    )
    table["reading"] = [
        "Si > STi: the sample is too small to separate them (noise)"
        if z
        else "drives the ranks"
        if st >= 0.3
        else "minor"
        for z, st in zip(tab["noise"], tab["STi"], strict=True)
    ]
    top = tab.sort_values("STi", ascending=False).iloc[0]
    parts: list[Any] = [
        Text(
            "The choice that moves the ranks most is <strong>{v}</strong> (total index {st}), "
            "from {runs} builds (n = {n} base samples).",
            v=top["Variable"],
            st=top["STi"],
            runs=n * (len(tab) + 2),
            n=n,
        ),
    ]
    if len(noisy):
        parts.append(
            Text(
                '<strong class="ucc-warning">Noise:</strong> for {v} the first-order '
                "index exceeds the total, which cannot be in theory; with n = {n} the "
                "estimates cannot be told apart, so read them as rough.",
                v=", ".join(map(str, noisy["Variable"])),
                n=n,
            )
        )
    parts.append(ctx.table(table, "Sensitivity of the ranks to each uncertain choice"))
    return Group(parts)
