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
    study: Any, shared_dir: str | None = None, synth_city: str = "", outcome: str = ""
) -> ReportContext:
    """Open the transfer-impact report of a study (first cell of ``transfer_impact.ipynb``).

    ``outcome`` defaults to the study's first ``impact.outcomes`` (else ``digital_share``).
    """
    ctx = open_context(study, STEM, shared_dir, {"synth_city": synth_city, "outcome": outcome})
    if not outcome:
        ctx.parameters["outcome"] = (ctx.study.impact.get("outcomes") or ["digital_share"])[0]
    ctx.results["report"] = "Transfer impact"
    return ctx


def _scale(ctx: ReportContext) -> tuple[float, str]:
    """How the outcome is shown: a share (every value in [0, 1]) in percentage points."""
    outcome = ctx.parameters["outcome"]
    if outcome in _SCALE:
        return _SCALE[outcome]
    values = _panel(ctx)["tp"][outcome].dropna()
    return (100.0, "pp") if len(values) and values.between(0, 1).all() else (1.0, "units")


def _panel(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        table = ctx.study.panel["table"]
        if table not in ctx.study.tables:
            return NotApplicable(f"the study has no {table} panel to follow transferred practices")
        try:
            panel = analysis.canonical_panel(ctx.study)
        except NotApplicable as exc:
            return exc
        services = analysis.transferred_services(panel)
        if not services:
            return NotApplicable("no city in the data adopted a transferred good practice")
        service = services[0]
        tp = analysis.transfer_panel(panel, service)
        outcome = ctx.parameters["outcome"]
        if outcome not in tp:
            return NotApplicable(f"the panel has no numeric outcome column {outcome!r}")
        names = (
            panel.loc[panel["service_id"] == service, "service_name"].dropna()
            if "service_name" in panel
            else pd.Series(dtype=str)
        )
        cohorts = tp.groupby("city_id")["cohort"].first()
        return {
            "service": service,
            "service_name": str(names.iloc[0]) if len(names) else None,
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
    where = f" in {p['service_name']}" if p["service_name"] else ""
    origin = f" from {ctx.name(p['origin'])}" if p["origin"] is not None else ""
    return f"the practice transferred{where}{origin}" if where or origin else "the practice"


def _did(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        from ucc_research.impact import staggered_did

        p = _panel(ctx)
        outcome = ctx.parameters["outcome"]
        res = staggered_did(p["tp"], outcome, "city_id", "year", "cohort")
        pre = analysis.pretrend_check(res)
        # with fewer than 30 cities per cohort the analytic intervals and the Wald pre-test are
        # too optimistic; permuting adoption timing across cities gives exact tests when
        # timing is as good as random (benchmarks/sim_ri.py: pre-test size 4.3% at 5%)
        ri = res.randomization_inference(n_perm=999, seed=0) if pre["caution"] else None
        return {
            "res": res,
            "simple": res.aggregate("simple"),
            "dynamic": res.aggregate("dynamic"),
            "group": res.aggregate("group"),
            "pretest": pre,
            "ri": ri,
        }

    return ctx.memo("did", compute)


def _att_interval(d: dict[str, Any]) -> tuple[float, float, float, str]:
    """The ATT, the interval shown and what it is: randomisation inference when cohorts are small."""
    simple = d["simple"]
    if d["ri"] is not None:
        return simple.estimate, *d["ri"].conf_int, "randomisation inference"
    return simple.estimate, simple.conf_int[0], simple.conf_int[1], "influence function"


def _synth(ctx: ReportContext) -> dict[str, Any]:
    def compute():
        from ucc_research.impact import choose_synth_unit, synthetic_control

        p = _panel(ctx)
        outcome = ctx.parameters["outcome"]
        city = ctx.parameters.get("synth_city") or ""
        chosen_by = "set by the study"
        min_pre = int(ctx.study.impact.get("synth_min_pre_periods", 4))
        if not city:
            choice = choose_synth_unit(
                p["tp"], outcome, "city_id", "year", "cohort", min_pre=min_pre
            )
            if choice.unit is None:
                return NotApplicable(choice.reason)
            city = str(choice.unit)
            chosen_by = "chosen for its pre-adoption fit and length"
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
        return {"city": city, "res": res, "chosen_by": chosen_by, "n_donors": len(donors)}

    out = ctx.memo("synth", compute)
    if isinstance(out, NotApplicable):
        raise out
    return out


def _fit_verdict(s: dict[str, Any]) -> tuple[bool, str]:
    """(trustworthy, reason) from the convex-hull / pre-fit diagnostic of the fit."""
    hull = s["res"].hull
    return hull.verdict == "ok", hull.reason.rstrip(".")


def _estimators(ctx: ReportContext) -> pd.DataFrame:
    """CS DiD beside DID, SC, SDID and augmented SC on the same panel (one row each)."""

    def compute():
        from ucc_research.impact import compare_estimators

        p = _panel(ctx)
        d = _did(ctx)
        att, lo, hi, how = _att_interval(d)
        # each design needs pre-adoption years: SDID 2, augmented SC 3 (with fewer its ridge
        # correction extrapolates from nothing); a design no cohort can support is left out
        years = sorted(p["tp"]["year"].unique())
        longest = max(sum(y < c for y in years) for c in p["cohorts"][p["cohorts"] > 0])
        need = {"did": 1, "sc": 1, "sdid": 2, "ascm": 3}
        methods = [m for m, n in need.items() if longest >= n]
        table = compare_estimators(
            p["tp"],
            ctx.parameters["outcome"],
            "city_id",
            "year",
            adoption="cohort",
            methods=methods,
            seed=0,
        )
        table.attrs["left_out"] = [m for m in need if m not in methods]
        cs = pd.DataFrame(
            [
                {
                    "method": "cs",
                    "label": "Callaway and Sant'Anna DiD",
                    "estimate": att,
                    "std_error": d["simple"].std_error,
                    "conf_low": lo,
                    "conf_high": hi,
                    "se_method": how,
                }
            ]
        )
        out = pd.concat([cs, table], ignore_index=True)
        out.attrs["left_out"] = table.attrs["left_out"]
        return out

    return ctx.memo("estimators", compute)


# --- sections ---------------------------------------------------------------------------------


def key_findings(ctx: ReportContext) -> Findings | NotShown:
    """The effect on adopters, its interval, how far to trust it, and the cross-checks."""
    try:
        p, d, outcome, k, unit = _setup(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    att, lo, hi, how = _att_interval(d)
    s: list[Text] = [
        Text(
            "Adopting {practice} raised adopters' {outcome} by <strong>{att} {unit}</strong> on "
            "average (95% CI {lo} to {hi} {unit}, {how}; {na} adopting and {nn} never-adopting "
            "cities).",
            practice=practice_name(ctx),
            outcome=outcome.replace("_", " "),
            att=k * att,
            lo=k * lo,
            hi=k * hi,
            unit=unit,
            how=how,
            na=p["n_adopters"],
            nn=p["n_never"],
        )
    ]
    s.append(_trust_sentence(d))
    est = _estimators(ctx)
    others = est[est["method"].isin(["sdid", "sc"])]
    if len(others) == 2:
        sd, sc = (others.set_index("method").loc[m] for m in ("sdid", "sc"))
        s.append(
            Text(
                "Designs that weight the comparison cities differently agree in direction: "
                "synthetic DiD {sd} {unit}, synthetic control {sc} {unit} (see below).",
                sd=k * sd["estimate"],
                sc=k * sc["estimate"],
                unit=unit,
            )
        )
    try:
        sc1 = _synth(ctx)
        ok, why = _fit_verdict(sc1)
        s.append(
            Text(
                "For one city, {city}, the synthetic control finds {sc} {unit} against {did} "
                "{unit} from the DiD for its cohort; {verdict}.",
                city=ctx.name(sc1["city"]),
                sc=k * float(sc1["res"].estimate),
                did=k * _cohort_att(d, int(p["cohorts"][sc1["city"]])),
                unit=unit,
                verdict=("its pre-adoption fit is good" if ok else "do not rely on it: " + why),
            )
        )
    except NotApplicable:
        pass
    ctx.record("key_findings", [str(t) for t in s])
    ctx.headline(answer=str(s[0]))
    ctx.headline(
        **{
            f"ATT ({unit})": k * att,
            f"95% CI low ({unit})": k * lo,
            f"95% CI high ({unit})": k * hi,
        }
    )
    return Findings(s[:5], synthetic=ctx.study.synthetic)


def _trust_sentence(d: dict[str, Any]) -> Text:
    """The identifying assumption, and the pre-adoption evidence with the test that holds."""
    pre, ri = d["pretest"], d["ri"]
    if ri is not None:
        return Text(
            "This is an effect under the parallel-trends assumption (without adoption, adopters "
            "would have moved like the never-adopting cities). With {n} cities in the smallest "
            "cohort, the permutation test of the pre-adoption years is the one to read: p = {p} "
            "({verdict}).",
            n=pre["smallest_cohort"],
            p=ri.pretest_p,
            verdict="no evidence against parallel trends"
            if ri.pretest_p >= 0.05
            else "evidence against parallel trends: read the effect with care",
        )
    if pre["p"] is None:
        return Text("This is an effect under the parallel-trends assumption; {r}.", r=pre["reason"])
    return Text(
        "This is an effect under the parallel-trends assumption; the Wald pre-test of the "
        "pre-adoption years gives p = {p}.",
        p=pre["p"],
    )


def _cohort_att(d: dict[str, Any], cohort: int) -> float:
    g = d["group"].table
    return float(g.loc[g["cohort"] == cohort, "att"].iloc[0])


def _setup(ctx: ReportContext) -> tuple[dict, dict, str, float, str]:
    """What every DiD section reads: the panel, the DiD results, the outcome and its scale."""
    p = _panel(ctx)
    k, unit = _scale(ctx)
    return p, _did(ctx), ctx.parameters["outcome"], k, unit


def _record_event_study(ctx: ReportContext, p: dict, d: dict, dyn: pd.DataFrame) -> None:
    ri = d["ri"]
    ctx.uses("transfer", *(["ri"] if ri is not None else []))
    ri_record = None
    if ri is not None:
        ri_record = {"att_p": ri.p_value, "ci": list(ri.conf_int), "pretest_p": ri.pretest_p,
                     "pretest_p_analytic": ri.pretest_p_analytic, "n_perm": ri.n_perm,
                     "notes": list(ri.notes)}  # fmt: skip
    ctx.record(
        "event_study",
        {
            "att": d["simple"].estimate,
            "se": d["simple"].std_error,
            "dynamic": dyn.to_dict(orient="records"),
            "pretest": d["pretest"],
            "randomisation_inference": ri_record,
            "service_id": p["service"],
            "origin": p["origin"],
        },
    )


def _event_figure(dyn: pd.DataFrame, k: float, unit: str, outcome: str) -> Any:
    fig, ax = new_figure(7, 3.4)
    pre_mask = dyn["event_time"] < 0
    for mask, colour, label in ((pre_mask, "0.45", "before adoption"),
                                (~pre_mask, "C0", "after adoption")):  # fmt: skip
        part = dyn[mask]
        err = [k * (part["att"] - part["ci_low"]), k * (part["ci_high"] - part["att"])]
        ax.errorbar(part["event_time"], k * part["att"], yerr=err, fmt="o", color=colour,
                    capsize=3, label=label)  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(-0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("years since adoption (negative: before)")
    ax.set_ylabel(f"effect on {outcome.replace('_', ' ')} ({unit})")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return fig


def _pretest_text(d: dict[str, Any]) -> Text:
    """The pre-trend test shown under the event study: permutation, Wald, or why none."""
    pre, ri = d["pretest"], d["ri"]
    if ri is None and pre["p"] is None:
        return Text("No pre-trend test: {r}.", r=pre["reason"])
    if ri is None:
        return Text(
            "Wald pre-test that every pre-adoption ATT(g, t) is zero: p = {p} ({df} cells).",
            p=pre["p"],
            df=pre["df"],
        )
    return Text(
        "Intervals and the pre-test permute adoption timing across cities ({n} draws), "
        "because with {c} cities in the smallest cohort the analytic ones are too narrow. "
        "Permutation pre-test that every pre-adoption ATT(g, t) is zero: p = {pp} (the "
        "analytic Wald test would say p = {pa}).",
        n=ri.n_perm,
        c=pre["smallest_cohort"],
        pp=ri.pretest_p,
        pa=ri.pretest_p_analytic,
    )


def event_study(ctx: ReportContext):
    """ATT by years since adoption, with the pre-adoption years as the check."""
    try:
        p, d, outcome, k, unit = _setup(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    dyn = d["dynamic"].table.copy()
    if d["ri"] is not None:  # small cohorts: permutation intervals instead of the analytic ones
        perm = d["ri"].event_study.set_index("event_time")
        dyn["ci_low"] = dyn["event_time"].map(perm["ci_low"])
        dyn["ci_high"] = dyn["event_time"].map(perm["ci_high"])
    _record_event_study(ctx, p, d, dyn)
    after = dyn[dyn["event_time"] >= 0]
    table = pd.DataFrame(
        {
            "years since adoption": dyn["event_time"].astype(int),
            f"effect ({unit})": k * dyn["att"],
            f"95% CI low ({unit})": k * dyn["ci_low"],
            f"95% CI high ({unit})": k * dyn["ci_high"],
        }
    )
    figure = Figure(
        _event_figure(dyn, k, unit, outcome),
        alt=f"Event-study chart: effects near zero before adoption and between "
        f"{k * after['att'].min():.3g} and {k * after['att'].max():.3g} {unit} in the "
        "years after.",
    )
    note = (
        f"n = {p['n_adopters']} adopting and {p['n_never']} never-adopting cities; "
        "later years rest on fewer (earlier) cohorts."
    )
    title = f"Effect on {outcome.replace('_', ' ')} by years since adoption"
    return Group([figure, _pretest_text(d), ctx.table(table, title, note=note)])


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
    k, unit = _scale(ctx)
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
    coef = tw.estimate  # a city x year panel: pyfixest's demeaning is exact and repeatable here
    cs = _did(ctx)["simple"].estimate
    ctx.uses("twfe")
    ctx.record("twfe", {"twfe": coef, "cs_simple": cs, "bacon": bacon.to_dict(orient="records")})
    late = by_type[by_type["comparison"] == "later_vs_earlier"]
    by_type["comparison"] = by_type["comparison"].map(_BACON_NAMES).fillna(by_type["comparison"])
    text = Text(
        "The TWFE coefficient is <strong>{tw} {unit}</strong> against {cs} {unit} from "
        "Callaway and Sant'Anna; {w}% of its weight comes from comparisons that use "
        "already-adopting cities as controls.",
        tw=k * coef,
        cs=k * cs,
        unit=unit,
        w=100 * float(late["weight"].sum()) if len(late) else 0.0,
    )
    title = "Goodman-Bacon decomposition of the TWFE coefficient"
    return Group(
        [text, ctx.table(by_type, title, note=f"n = {len(bacon)} two-by-two comparisons.")]
    )


def _synth_figure(ctx: ReportContext, s: dict, k: float, unit: str, outcome: str) -> Any:
    """The adopting city's path against its synthetic control."""
    res, city = s["res"], ctx.name(s["city"])
    fig, ax = new_figure(7, 3.2)
    ax.plot(res.treated_path.index, k * res.treated_path, color="C3", label=city)
    ax.plot(res.synthetic_path.index, k * res.synthetic_path, color="0.4", ls="--",
            label="synthetic " + city)  # fmt: skip
    ax.axvline(res.treatment_time - 0.5, color="k", lw=0.8)
    ax.set_ylabel(f"{outcome.replace('_', ' ')}" + (" (%)" if unit == "pp" else ""))
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return fig


def synthetic_control(ctx: ReportContext):
    """One adopting city against a weighted mix of never-adopting cities, with placebo p."""
    try:
        s = _synth(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    p = _panel(ctx)
    res = s["res"]
    outcome = ctx.parameters["outcome"]
    k, unit = _scale(ctx)
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
            "att": float(res.estimate),
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
    fig = _synth_figure(ctx, s, k, unit, outcome)
    parts: list[Any] = [
        Text(
            "{city} ({how}) against {mix}: gap after adoption <strong>{att} {unit}</strong>, placebo p = {p} "
            "({nd} placebo cities), pre-adoption fit error (RMSPE) {rmspe} {unit}. The DiD "
            "estimate for its cohort is {did} {unit}.",
            city=ctx.name(s["city"]),
            how=s["chosen_by"],
            mix=mix,
            att=k * float(res.estimate),
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
            f"synthetic control: gap of {k * float(res.estimate):.3g} {unit} after "
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


_ESTIMATOR_NOTES = {
    "cs": "each cohort against never-adopters, year by year",
    "did": "all adopters against the mean of never-adopters",
    "sc": "never-adopters weighted to match each cohort before adoption",
    "sdid": "weighted cities and weighted pre-adoption years",
    "ascm": "synthetic control with a ridge correction for imperfect fit",
}


def estimators(ctx: ReportContext):
    """The Callaway-Sant'Anna DiD beside DID, synthetic control, SDID and augmented SC."""
    try:
        _panel(ctx)
    except NotApplicable as exc:
        return NotShown(str(exc))
    from ucc_research.impact import describe_agreement

    est = _estimators(ctx)
    k, unit = _scale(ctx)
    ctx.uses("estimators")
    ctx.record("estimators", est.to_dict(orient="records"))
    table = pd.DataFrame(
        {
            "estimator": est["label"],
            "compares": est["method"].map(_ESTIMATOR_NOTES),
            f"effect ({unit})": k * est["estimate"],
            f"95% CI low ({unit})": k * est["conf_low"],
            f"95% CI high ({unit})": k * est["conf_high"],
            "standard error from": est["se_method"],
        }
    )
    scaled = est.assign(estimate=k * est["estimate"], std_error=k * est["std_error"])
    return Group(
        [
            Text(
                "{agreement}", agreement=describe_agreement(scaled, reference=est["label"].iloc[0])
            ),
            ctx.table(
                table,
                "The effect on adopters by five designs",
                note="All on the same city x year panel, never-adopting cities as the "
                "comparison; units are percentage points for shares."
                + (
                    f" Left out, too few pre-adoption years: {', '.join(est.attrs['left_out'])}."
                    if est.attrs.get("left_out")
                    else ""
                ),
            ),
        ]
    )
