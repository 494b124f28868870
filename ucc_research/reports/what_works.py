"""The what-works report: which service features go with higher take-up and satisfaction.

Three views side by side (``notebooks/what_works.ipynb``): a fixed-effects regression (the main
estimate), a random-intercept mixed model (a secondary check that pools within and between
groups) and a gradient-boosting drivers analysis (prediction, no linearity assumed). Features were
not assigned at random, so every estimate here is an **association**; with city x service fixed
effects it is a within-service association (the same service before and after gaining a
feature), which rules out stable differences between cities and services but not changes that
came with the feature.

The study's ``impact.what_works`` names the ``data`` table, ``outcomes``, ``features``, the fixed
effects ``fe`` and ``cluster`` of the regression and the ``groups`` of the mixed model and of the
drivers' cross-validation; the default fits the service panel.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ucc_research.cleaning.schemas import SERVICE_FEATURES
from ucc_research.reports import analysis
from ucc_research.reports.context import ReportContext, open_context, shown_if_applicable
from ucc_research.reports.display import Figure, Findings, Group, NotShown, Text, new_figure
from ucc_research.reports.shared import NotApplicable

STEM = "what_works"
DEFAULT = {
    "data": "service_panel",
    "outcomes": ["digital_share", "satisfaction"],
    "features": list(SERVICE_FEATURES),
    "fe": "city_id^service_id + period",
    "cluster": "city_id",
    "groups": "city_id",
    "yearly": True,
}
#: How each outcome is shown: multiplier and unit (shares in percentage points).
UNITS = {
    "digital_share": (100.0, "pp"),
    "satisfaction": (1.0, "points"),
    "online_availability": (1.0, "points"),
    "digital_takeup": (100.0, "pp"),
}


def open_report(study: Any, shared_dir: str | None = None) -> ReportContext:
    """Open the what-works report of a study (first cell of ``what_works.ipynb``)."""
    ctx = open_context(study, STEM, shared_dir, {})
    ctx.results["report"] = "What works"
    ctx.record("spec", spec(ctx))
    return ctx


def spec(ctx: ReportContext) -> dict[str, Any]:
    return {**DEFAULT, **ctx.study.impact.get("what_works", {})}


def _unit(outcome: str) -> tuple[float, str]:
    return UNITS.get(outcome, (1.0, "units"))


def _label(outcome: str) -> str:
    return outcome.replace("_", " ")


def _data(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        sp = spec(ctx)
        if sp["data"] not in ctx.study.tables:
            return NotApplicable(f"the study has no {sp['data']} table to analyse")
        raw = ctx.study.read_table(sp["data"])
        feats = [f for f in sp["features"] if f in raw.columns and raw[f].notna().any()]
        if not feats:
            return NotApplicable("the data records none of the service features")
        df = raw.copy()
        for f in feats:
            df[f] = pd.to_numeric(df[f].astype("Float64"), errors="coerce").astype(float)
        kept = df.dropna(subset=feats).reset_index(drop=True)
        return {
            "data": kept,
            "features": feats,
            "n_raw": len(raw),
            "n_dropped": len(raw) - len(kept),
        }

    out = ctx.memo("data", compute)
    if isinstance(out, NotApplicable):
        raise out
    return out


def _yearly(ctx: ReportContext) -> pd.DataFrame:
    """City x service x year means: the unit of the mixed model and the drivers analysis."""
    d = _data(ctx)
    sp, df = spec(ctx), d["data"]
    if not sp.get("yearly") or "period" not in df:
        return df
    df = df.assign(year=df["period"].str.slice(0, 4).astype(int))
    cols = [*d["features"], *sp["outcomes"]]
    return df.groupby(["city_id", "service_id", "year"], as_index=False)[cols].mean()


def _fe(ctx: ReportContext) -> pd.DataFrame:
    def compute():
        from ucc_research.impact import fe_regression

        d, sp = _data(ctx), spec(ctx)
        rows = []
        for y in sp["outcomes"]:
            data = d["data"].dropna(subset=[y])
            rhs = " + ".join(d["features"])
            fe = f" | {sp['fe']}" if sp.get("fe") else ""
            fit = fe_regression(data, f"{y} ~ {rhs}{fe}", cluster=sp["cluster"], bootstrap=None)
            t = fit.tidy()
            t.insert(0, "outcome", y)
            t["n_obs"], t["n_clusters"] = fit.n_obs, fit.n_clusters
            rows.append(t)
        return pd.concat(rows, ignore_index=True)

    return ctx.memo("fe", compute)


def _significant(fe: pd.DataFrame, outcome: str) -> pd.DataFrame:
    t = fe[fe["outcome"] == outcome]
    return t[(t["conf_low"] > 0) | (t["conf_high"] < 0)].sort_values("estimate", ascending=False)


def _design_words(ctx: ReportContext) -> str:
    fe = spec(ctx).get("fe") or ""
    if "^" in fe and "period" in fe:
        return "within-service comparison (the same service before and after it gained the feature)"
    if fe:
        return f"comparison within each {fe.replace('^', ' x ').replace(' + ', ' and each ')}"
    return "cross-sectional comparison"


# --- sections ---------------------------------------------------------------------------------


@shown_if_applicable
def key_findings(ctx: ReportContext) -> Findings | NotShown:
    """The features most associated with each outcome, saying association and its design."""
    d = _data(ctx)
    fe, sp = _fe(ctx), spec(ctx)
    s: list[Text] = []
    for y in sp["outcomes"][:2]:
        k, unit = _unit(y)
        sig = _significant(fe, y)
        pos = sig[sig["estimate"] > 0]
        if pos.empty:
            s.append(
                Text(
                    "No feature has a clearly positive association with {y} (every 95% "
                    "interval includes zero or is negative).",
                    y=_label(y),
                )
            )
            continue
        top = pos.iloc[0]
        others = ", ".join(analysis.feature_label(t) for t in pos["term"].iloc[1:3])
        s.append(
            Text(
                "<strong>{f}</strong> goes with the largest rise in {y}: <strong>{est} {unit}</strong> "
                "(95% CI {lo} to {hi}){more}.",
                f=analysis.feature_label(top["term"]),
                y=_label(y),
                est=k * top["estimate"],
                lo=k * top["conf_low"],
                hi=k * top["conf_high"],
                unit=unit,
                more=f"; also clearly positive: {others}" if others else "",
            )
        )
    neg = _significant(fe, sp["outcomes"][0])
    neg = neg[neg["estimate"] < 0]
    if not neg.empty:
        s.append(
            Text(
                "Clearly negative with {y}: {f}.",
                y=_label(sp["outcomes"][0]),
                f=", ".join(analysis.feature_label(t) for t in neg["term"]),
            )
        )
    n = fe.drop_duplicates("outcome")
    s.append(
        Text(
            "These are associations, not effects: features were not assigned at random. Each is "
            "a {design}, from {n} observations in {g} clusters ({dropped} rows without every feature "
            "left out).",
            design=_design_words(ctx),
            n=int(n["n_obs"].iloc[0]),
            g=int(n["n_clusters"].iloc[0] or 0),
            dropped=d["n_dropped"],
        )
    )
    ctx.record("key_findings", [str(t) for t in s])
    ctx.headline(answer=str(s[0]))
    first = sp["outcomes"][0]
    pos = _significant(fe, first)
    if len(pos):
        ctx.headline(**{"strongest feature": analysis.feature_label(pos["term"].iloc[0])})
    return Findings(s, synthetic=ctx.study.synthetic)


@shown_if_applicable
def fe_estimates(ctx: ReportContext):
    """The main estimate: fixed-effects regressions of each outcome on the features."""
    _data(ctx)
    fe, sp = _fe(ctx), spec(ctx)
    ctx.uses("fe")
    ctx.record("fe", fe.to_dict(orient="records"))
    outcomes = sp["outcomes"]
    fig, axes = new_figure(
        4.2 * len(outcomes), 0.35 * fe["term"].nunique() + 1.6, ncols=len(outcomes)
    )
    axes = axes if len(outcomes) > 1 else [axes]
    rows = []
    for ax, y in zip(axes, outcomes, strict=True):
        k, unit = _unit(y)
        t = fe[fe["outcome"] == y].sort_values("estimate")
        labels = [analysis.feature_label(x) for x in t["term"]]
        ax.errorbar(
            k * t["estimate"],
            labels,
            xerr=[k * (t["estimate"] - t["conf_low"]), k * (t["conf_high"] - t["estimate"])],
            fmt="o",
            color="C0",
            capsize=3,
        )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{_label(y)} ({unit})", fontsize=10)
        for r in t.itertuples(index=False):
            rows.append({**_coefficient_row(y, r, k, unit, "association"), "p-value": r.p_value})
    n = fe.drop_duplicates("outcome")
    sig = sum(len(_significant(fe, y)) for y in outcomes)
    return Group(
        [
            Text(
                "Fixed effects: {fe}; standard errors clustered by {cl}. n = {n} observations, {g} "
                "clusters.",
                fe=sp.get("fe") or "none",
                cl=sp["cluster"],
                n=int(n["n_obs"].iloc[0]),
                g=int(n["n_clusters"].iloc[0] or 0),
            ),
            Figure(
                fig,
                alt=f"Coefficient plot of each feature's association with "
                f"{' and '.join(_label(y) for y in outcomes)}, with 95% intervals: {sig} of "
                f"{len(fe)} intervals exclude zero.",
            ),
            ctx.table(
                pd.DataFrame(rows),
                "Associations of service features (fixed effects)",
                note="Change in the outcome when a feature is present; shares in percentage "
                "points.",
            ),
        ]
    )


@shown_if_applicable
def mixed_model(ctx: ReportContext):
    """Secondary check: random intercepts per group, pooling within and between groups."""
    d = _data(ctx)
    from ucc_research.impact import mixed_model as fit_mixed

    sp, data = spec(ctx), _yearly(ctx)
    if data[sp["groups"]].nunique() < 5:
        return NotShown(f"fewer than 5 {sp['groups']} groups to estimate a group variance")
    rows, info = [], []
    for y in sp["outcomes"]:
        k, unit = _unit(y)
        res = fit_mixed(
            data.dropna(subset=[y]), f"{y} ~ {' + '.join(d['features'])}", groups=sp["groups"]
        )
        fx = res.fixed[res.fixed["term"] != "Intercept"]
        for r in fx.itertuples(index=False):
            rows.append(_coefficient_row(y, r, k, unit, "estimate"))
        info.append(
            {
                "outcome": y,
                "icc": float(res.icc.iloc[0]),
                "n_groups": res.n_groups,
                "nobs": res.n_obs,
                "boundary": bool(res.boundary),
                "converged": bool(res.converged),
            }
        )
    ctx.uses("mixed")
    ctx.record("mixed", {"table": rows, "fits": info})
    notes = "; ".join(
        f"{_label(i['outcome'])}: ICC {i['icc']:.2f}, {i['n_groups']} groups, n = {i['nobs']}"
        + (" (a variance component is at the boundary)" if i["boundary"] else "")
        for i in info
    )
    return Group(
        [
            Text(
                "A secondary view, not the main estimate: the mixed model also uses differences "
                "between {g} groups, so it is biased wherever features go with unmeasured traits of "
                "a group. Where it disagrees with the fixed-effects column, trust the fixed effects.",
                g=sp["groups"],
            ),
            ctx.table(pd.DataFrame(rows), "Mixed model (random intercept per group)", note=notes),
        ]
    )


@shown_if_applicable
def drivers(ctx: ReportContext):
    """Which features best predict the first outcome out of sample (permutation importance)."""
    d = _data(ctx)
    from ucc_research.impact import drivers_analysis

    sp, data = spec(ctx), _yearly(ctx)
    y = sp["outcomes"][0]
    n_groups = int(data[sp["groups"]].nunique())
    if n_groups < 3:
        return NotShown(f"fewer than 3 {sp['groups']} groups for grouped cross-validation")
    res = drivers_analysis(
        data.dropna(subset=[y]),
        y,
        d["features"],
        groups=sp["groups"],
        cv=min(5, n_groups),
        seed=0,
        n_repeats=3,
    )
    imp = res.importance.sort_values("importance")
    ctx.uses("drivers")
    ctx.record("drivers", res.tidy().to_dict(orient="records"))
    fig, ax = new_figure(6.5, 0.35 * len(imp) + 1.4)
    ax.barh([analysis.feature_label(f) for f in imp["feature"]], imp["importance"], color="C2")
    ax.set_xlabel("drop in out-of-fold R² when shuffled")
    table = pd.DataFrame(
        {
            "feature": [analysis.feature_label(f) for f in imp["feature"]][::-1],
            "importance (R² drop)": imp["importance"].to_numpy()[::-1],
        }
    )
    top = table["feature"].iloc[0]
    return Group(
        [
            Figure(
                fig,
                alt=f"Bar chart of permutation importance for predicting {_label(y)}: "
                f"{top} matters most.",
            ),
            ctx.table(
                table,
                f"Permutation importance for {_label(y)}",
                note=f"Gradient boosting, {min(5, n_groups)}-fold cross-validation grouped by "
                f"{sp['groups']} ({n_groups} groups); predictive, not causal.",
            ),
        ]
    )


def _coefficient_row(y: str, r: Any, k: float, unit: str, label: str) -> dict[str, Any]:
    """One table row: a feature's coefficient ``r`` on outcome ``y``, scaled by ``k``."""
    return {
        "outcome": _label(y),
        "feature": analysis.feature_label(r.term),
        label: k * r.estimate,
        "95% CI low": k * r.conf_low,
        "95% CI high": k * r.conf_high,
        "unit": unit,
    }
