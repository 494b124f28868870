"""The transfer-impact report: did adopting a practice transferred from another city raise take-up?

Sections (``notebooks/transfer_impact.ipynb``): key findings, the event study (Callaway and
Sant'Anna), TWFE against it with the Goodman-Bacon decomposition, and a synthetic control for one
adopting city, reconciled with the DiD. The DiD identifies an effect on adopters under parallel
trends; the report says so, shows the evidence for and against it, and how many cities each
estimate rests on.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ucc_research.reports import analysis
from ucc_research.reports.context import ReportContext, open_context
from ucc_research.reports.display import Figure, Findings, Group, NotShown, Text, new_figure
from ucc_research.reports.shared import NotApplicable

STEM = "transfer_impact"
#: Units of each outcome as shown (shares in percentage points).
_SCALE = {"digital_share": (100.0, "pp"), "satisfaction": (1.0, "points")}


def open_report(
    study: Any, shared_dir: str | None = None, synth_city: str = "", outcome: str = "digital_share"
) -> ReportContext:
    """Open the transfer-impact report of a study (first cell of ``transfer_impact.ipynb``)."""
    ctx = open_context(study, STEM, shared_dir, {"synth_city": synth_city, "outcome": outcome})
    ctx.results["report"] = "Transfer impact"
    return ctx


def _scale(outcome: str) -> tuple[float, str]:
    return _SCALE.get(outcome, (1.0, "units"))


def _panel(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        if "service_panel" not in ctx.study.tables:
            return NotApplicable("the study has no service panel to follow transferred practices")
        panel = ctx.study.read_table("service_panel")
        services = analysis.transferred_services(panel)
        if not services:
            return NotApplicable("no city in the data adopted a transferred good practice")
        service = services[0]
        tp = analysis.transfer_panel(panel, service)
        names = panel.loc[panel["service_id"] == service, "service_name"].dropna()
        cohorts = tp.groupby("city_id")["cohort"].first()
        return {
            "service": service,
            "service_name": str(names.iloc[0]) if len(names) else service,
            "origin": tp.attrs["origin"],
            "tp": tp,
            "cohorts": cohorts,
            "n_adopters": int((cohorts > 0).sum()),
            "n_never": int((cohorts == 0).sum()),
        }

    out = ctx.memo("panel", compute)
    if isinstance(out, NotApplicable):
        raise out
    return out


def practice_name(ctx: ReportContext) -> str:
    p = _panel(ctx)
    return f"the practice transferred in {p['service_name']} from {ctx.name(p['origin'])}"


def _did(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        from ucc_research.impact import staggered_did

        p = _panel(ctx)
        outcome = ctx.parameters["outcome"]
        res = staggered_did(p["tp"], outcome, "city_id", "year", "cohort")
        return {
            "res": res,
            "simple": res.aggregate("simple"),
            "dynamic": res.aggregate("dynamic"),
            "group": res.aggregate("group"),
            "pretest": analysis.pretrend_check(res),
        }

    return ctx.memo("did", compute)


def _synth(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        from ucc_research.impact import synthetic_control

        p = _panel(ctx)
        outcome = ctx.parameters["outcome"]
        cands = analysis.synth_candidates(p["tp"], outcome)
        city = ctx.parameters.get("synth_city") or ""
        chosen_by = "set by the study"
        if not city:
            if cands.empty:
                return NotApplicable("no adopting city has a pre-adoption period")
            city = str(cands["city_id"].iloc[0])
            chosen_by = (
                "chosen for the longest pre-adoption period inside the never-adopters' range"
            )
        cohorts = p["cohorts"]
        if city not in cohorts.index or cohorts.get(city, 0) == 0:
            return NotApplicable(f"{ctx.name(city)} did not adopt the practice")
        donors = cohorts[cohorts == 0].index.tolist()
        res = synthetic_control(
            p["tp"],
            outcome,
            "city_id",
            "year",
            treated=city,
            treatment_time=int(cohorts[city]),
            donors=donors,
            seed=0,
        )
        row = cands[cands["city_id"] == city]
        return {
            "city": city,
            "res": res,
            "candidates": cands,
            "chosen_by": chosen_by,
            "inside_range": bool(row["inside_range"].iloc[0]) if len(row) else False,
            "n_donors": len(donors),
        }

    out = ctx.memo("synth", compute)
    if isinstance(out, NotApplicable):
        raise out
    return out


def _fit_verdict(s: dict[str, Any]) -> tuple[bool, str]:
    """(trustworthy, reason): pre-fit against the estimate and the donors' range."""
    res = s["res"]
    if not s["inside_range"]:
        return False, (
            "before adoption the city lies outside the range of the never-adopting cities, so "
            "no weighted mix of them can reproduce its path"
        )
    if res.pre_rmspe > 0.5 * abs(res.att):
        return False, "the pre-adoption fit error is more than half the size of the estimate"
    return True, "the synthetic city tracks it closely before adoption"


# --- sections ---------------------------------------------------------------------------------


def key_findings(ctx: ReportContext) -> Findings | NotShown:
    """The effect on adopters, its interval, how far to trust it, and the cross-check."""
    try:
        p = _panel(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    d = _did(ctx)
    outcome = ctx.parameters["outcome"]
    k, unit = _scale(outcome)
    simple = d["simple"]
    s: list[Text] = [
        Text(
            "Adopting {practice} raised adopters' {outcome} by <strong>{att} {unit}</strong> on "
            "average (95% CI {lo} to {hi} {unit}; {na} adopting and {nn} never-adopting cities).",
            practice=practice_name(ctx),
            outcome=outcome.replace("_", " "),
            att=k * simple.overall_att,
            lo=k * simple.overall_ci[0],
            hi=k * simple.overall_ci[1],
            unit=unit,
            na=p["n_adopters"],
            nn=p["n_never"],
        )
    ]
    pre = d["pretest"]
    dyn = d["dynamic"].table
    before = dyn[dyn["event_time"] < 0]
    cover = int(((before["ci_low"] <= 0) & (before["ci_high"] >= 0)).sum())
    s.append(
        Text(
            "This is an effect under the parallel-trends assumption (without adoption, adopters "
            "would have moved like the never-adopting cities). Before adoption, {c} of {n} "
            "yearly differences have intervals that include zero{caution}.",
            c=cover,
            n=len(before),
            caution=(
                f"; with {pre['smallest_cohort']} cities in the smallest cohort these intervals "
                "and the formal pre-test are too optimistic, so read them as indicative"
                if pre["caution"]
                else ""
            ),
        )
    )
    try:
        sc = _synth(ctx)
        ok, why = _fit_verdict(sc)
        cohort = int(p["cohorts"][sc["city"]])
        agree = _agrees(d, cohort, float(sc["res"].att))
        verdict = (
            ("it lies inside the DiD's 95% interval and " + why)
            if ok and agree
            else ("it lies outside the DiD's 95% interval for that cohort, although " + why)
            if ok
            else ("trust the DiD here: " + why)
        )
        s.append(
            Text(
                "Cross-check for one city: the synthetic control for {city} finds {sc} {unit} "
                "against {did} {unit} from the DiD for its cohort; {verdict}.",
                city=ctx.name(sc["city"]),
                sc=k * float(sc["res"].att),
                did=k * _cohort_att(d, cohort),
                unit=unit,
                verdict=verdict,
            )
        )
    except NotApplicable:
        pass
    ctx.record("key_findings", [str(t) for t in s])
    ctx.headline(answer=str(s[0]))
    ctx.headline(
        **{
            f"ATT ({unit})": k * simple.overall_att,
            f"95% CI low ({unit})": k * simple.overall_ci[0],
            f"95% CI high ({unit})": k * simple.overall_ci[1],
        }
    )
    return Findings(s, synthetic=ctx.study.synthetic)


def _cohort_att(d: dict[str, Any], cohort: int) -> float:
    g = d["group"].table
    return float(g.loc[g["cohort"] == cohort, "att"].iloc[0])


def _agrees(d: dict[str, Any], cohort: int, estimate: float) -> bool:
    """The synthetic-control estimate lies inside the DiD's 95% interval for that cohort."""
    g = d["group"].table
    row = g.loc[g["cohort"] == cohort].iloc[0]
    return bool(row["ci_low"] <= estimate <= row["ci_high"])


def event_study(ctx: ReportContext):
    """ATT by years since adoption, with the pre-adoption years as the check."""
    try:
        p = _panel(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    d = _did(ctx)
    outcome = ctx.parameters["outcome"]
    k, unit = _scale(outcome)
    dyn = d["dynamic"].table.copy()
    ctx.uses("transfer")
    ctx.record(
        "event_study",
        {
            "att": d["simple"].overall_att,
            "se": d["simple"].overall_se,
            "dynamic": dyn.to_dict(orient="records"),
            "pretest": d["pretest"],
            "service_id": p["service"],
            "origin": p["origin"],
        },
    )
    fig, ax = new_figure(7, 3.4)
    pre_mask = dyn["event_time"] < 0
    for mask, colour, label in (
        (pre_mask, "0.45", "before adoption"),
        (~pre_mask, "C0", "after adoption"),
    ):
        part = dyn[mask]
        ax.errorbar(
            part["event_time"],
            k * part["att"],
            yerr=[k * (part["att"] - part["ci_low"]), k * (part["ci_high"] - part["att"])],
            fmt="o",
            color=colour,
            capsize=3,
            label=label,
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(-0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("years since adoption (negative: before)")
    ax.set_ylabel(f"effect on {outcome.replace('_', ' ')} ({unit})")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    after = dyn[dyn["event_time"] >= 0]
    table = pd.DataFrame(
        {
            "years since adoption": dyn["event_time"].astype(int),
            f"effect ({unit})": k * dyn["att"],
            f"95% CI low ({unit})": k * dyn["ci_low"],
            f"95% CI high ({unit})": k * dyn["ci_high"],
        }
    )
    pre = d["pretest"]
    pre_text = (
        Text("No pre-trend test: {r}.", r=pre["reason"])
        if pre["p"] is None
        else Text(
            "Wald pre-test that every pre-adoption ATT(g, t) is zero: p = {p} ({df} cells){c}.",
            p=pre["p"],
            df=pre["df"],
            c=(
                f"; with {pre['smallest_cohort']} cities in the smallest cohort it rejects true "
                "parallel trends far more often than 5%, so a small p is weak evidence against "
                "them"
                if pre["caution"]
                else ""
            ),
        )
    )
    return Group(
        [
            Figure(
                fig,
                alt=f"Event-study chart: effects near zero before adoption and between "
                f"{k * after['att'].min():.3g} and {k * after['att'].max():.3g} {unit} in the "
                "years after.",
            ),
            pre_text,
            ctx.table(
                table,
                f"Effect on {outcome.replace('_', ' ')} by years since adoption",
                note=f"n = {p['n_adopters']} adopting and {p['n_never']} never-adopting cities; "
                "later years rest on fewer (earlier) cohorts.",
            ),
        ]
    )


_BACON_NAMES = {
    "treated_vs_never": "adopters against never-adopting cities",
    "earlier_vs_later": "earlier adopters against later ones not yet adopting",
    "later_vs_earlier": "later adopters against cities that already adopted (can bias TWFE)",
}


def twfe_vs_cs(ctx: ReportContext):
    """Why the usual two-way fixed-effects regression can mislead here."""
    try:
        p = _panel(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    from ucc_research.impact import bacon_decomposition, twfe

    outcome = ctx.parameters["outcome"]
    k, unit = _scale(outcome)
    tw = twfe(p["tp"], outcome, "city_id", "year", cohort="cohort")
    bacon = bacon_decomposition(p["tp"], outcome, "city_id", "year", cohort="cohort")
    by_type = (
        bacon.assign(we=bacon["weight"] * bacon["estimate"])
        .groupby("type", as_index=False)[["weight", "we"]]
        .sum()
    )
    by_type["average estimate"] = k * by_type["we"] / by_type["weight"]
    by_type = by_type.drop(columns=["we"]).rename(
        columns={"type": "comparison", "average estimate": f"average estimate ({unit})"}
    )
    coef = float(tw.tidy()["estimate"].iloc[0])
    cs = _did(ctx)["simple"].overall_att
    ctx.uses("twfe")
    ctx.record("twfe", {"twfe": coef, "cs_simple": cs, "bacon": bacon.to_dict(orient="records")})
    late = by_type[by_type["comparison"] == "later_vs_earlier"]
    by_type["comparison"] = by_type["comparison"].map(_BACON_NAMES).fillna(by_type["comparison"])
    return Group(
        [
            Text(
                "The TWFE coefficient is <strong>{tw} {unit}</strong> against {cs} {unit} from "
                "Callaway and Sant'Anna; {w}% of its weight comes from comparisons that use "
                "already-adopting cities as controls.",
                tw=k * coef,
                cs=k * cs,
                unit=unit,
                w=100 * float(late["weight"].sum()) if len(late) else 0.0,
            ),
            ctx.table(
                by_type,
                "Goodman-Bacon decomposition of the TWFE coefficient",
                note=f"n = {len(bacon)} two-by-two comparisons.",
            ),
        ]
    )


def synthetic_control(ctx: ReportContext):
    """One adopting city against a weighted mix of never-adopting cities, with placebo p."""
    try:
        s = _synth(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    p = _panel(ctx)
    res = s["res"]
    outcome = ctx.parameters["outcome"]
    k, unit = _scale(outcome)
    ok, why = _fit_verdict(s)
    w = res.weights[res.weights > 1e-3].sort_values(ascending=False)
    n_pos = len(w)
    pval = None if res.placebos is None else float(res.placebos.p_value)
    cohort_att = _cohort_att(_did(ctx), int(p["cohorts"][s["city"]]))
    ctx.uses("synth")
    ctx.record(
        "synth",
        {
            "city": s["city"],
            "att": float(res.att),
            "pre_rmspe": float(res.pre_rmspe),
            "placebo_p": pval,
            "weights": w.to_dict(),
            "trustworthy": ok,
            "reason": why,
            "did_cohort_att": cohort_att,
            "chosen_by": s["chosen_by"],
        },
    )
    mix = (
        "a single never-adopting city"
        if n_pos == 1
        else f"a weighted mix of {n_pos} never-adopting cities"
    )
    fig, ax = new_figure(7, 3.2)
    ax.plot(res.treated_path.index, k * res.treated_path, color="C3", label=ctx.name(s["city"]))
    ax.plot(
        res.synthetic_path.index,
        k * res.synthetic_path,
        color="0.4",
        ls="--",
        label="synthetic " + ctx.name(s["city"]),
    )
    ax.axvline(res.treatment_time - 0.5, color="k", lw=0.8)
    ax.set_ylabel(f"{outcome.replace('_', ' ')}" + (" (%)" if unit == "pp" else ""))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    parts: list[Any] = [
        Text(
            "{city} ({how}) against {mix}: gap after adoption <strong>{att} {unit}</strong>, placebo p = {p} "
            "({nd} placebo cities), pre-adoption fit error (RMSPE) {rmspe} {unit}. The DiD "
            "estimate for its cohort is {did} {unit}.",
            city=ctx.name(s["city"]),
            how=s["chosen_by"],
            mix=mix,
            att=k * float(res.att),
            unit=unit,
            p="n/a" if pval is None else pval,
            nd=s["n_donors"],
            rmspe=k * float(res.pre_rmspe),
            did=k * cohort_att,
        ),
    ]
    if not ok:
        parts.append(
            Text(
                '<strong class="ucc-warning">Pre-fit warning:</strong> {why}; the '
                "synthetic-control estimate should not be trusted here and the DiD is "
                "the estimate to use.",
                why=why,
            )
        )
    parts.append(
        Figure(
            fig,
            alt=f"Line chart of {ctx.name(s['city'])}'s {outcome} against its "
            f"synthetic control: gap of {k * float(res.att):.3g} {unit} after "
            "adoption.",
        )
    )
    donors = pd.DataFrame({"donor city": [ctx.name(u) for u in w.index], "weight": w.to_numpy()})
    parts.append(
        ctx.table(
            donors,
            f"Donors of synthetic {ctx.name(s['city'])}",
            note=f"Donors with weight above 0.001, of {s['n_donors']} never-adopting cities.",
        )
    )
    return Group(parts)
