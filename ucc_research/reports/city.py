"""The city report, section by section: each function returns what one notebook cell shows.

The notebook ``notebooks/city_report.ipynb`` is the study: per section a heading, a sentence of
why, and one call here. Numbers come from the study-level analyses cached in ``_shared/`` (see
:mod:`ucc_research.reports.shared`); each function records what it showed, at full precision,
in the report's results. A section the data cannot carry returns :class:`NotShown` with its
reason.

Examples
--------
In a notebook (the prepared data and, if missing, the study's cache are used or computed)::

    ctx = city.open_report("demo", "DEMO-001")
    show(city.key_findings(ctx))
    show(city.published_score(ctx))
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ucc_research.errors import SpecError
from ucc_research.reports import analysis
from ucc_research.reports.context import (
    MIN_COMPARISON,
    MIN_REQUESTS,
    MIN_TREND_PERIODS,
    ReportContext,
    open_context,
    shown_if_applicable,
)
from ucc_research.reports.display import (
    Figure,
    Findings,
    Group,
    NotShown,
    Text,
    fmt_number,
    new_figure,
)
from ucc_research.reports.shared import NotApplicable


def open_report(
    study: Any, city: str, shared_dir: str | None = None, **parameters: Any
) -> ReportContext:
    """Open a city's report (the first cell of ``city_report.ipynb``)."""
    from ucc_research.reports.notebook import safe_name

    ctx = open_context(study, "", shared_dir, {"city": city, **parameters})
    units = ctx.study.unit_ids()
    if str(city) not in set(units):
        raise SpecError(
            f"{city!r} is not a unit of study {ctx.study.name!r} (units: {units[:8]} ...)"
        )
    ctx.stem = safe_name(str(city))
    ctx.city = str(city)
    ctx.results.update(city=ctx.city, name=ctx.name(city))
    return ctx


def _attempt(ctx: ReportContext, key: str, compute) -> dict[str, Any] | NotApplicable:
    """A section's numbers, or the NotApplicable saying why there are none (memoised)."""

    def run():
        try:
            return compute(ctx)
        except NotApplicable as exc:
            return exc

    return ctx.memo(key, run)


def _need(ctx: ReportContext, component: str) -> None:
    ok, why = ctx.shared.available(component)
    if not ok:
        raise NotApplicable(why)


def _latest(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["Time"] == df["Time"].max()] if "Time" in df.columns else df


def _mine(df: pd.DataFrame, ctx: ReportContext, column: str = "uCode") -> pd.DataFrame:
    return df[df[column].astype(str) == ctx.city]


# --- numbers ----------------------------------------------------------------------------------


def _published(ctx: ReportContext) -> dict[str, Any]:
    _need(ctx, "official")
    off = ctx.shared.table("official_scores")
    me = _mine(off, ctx)
    if me.empty:
        raise NotApplicable(f"the source publishes no score for {ctx.name(ctx.city)}")
    r = me.iloc[0]
    rank = r["published_rank"]
    tied = int((off["published_rank"] == rank).sum()) > 1
    return {
        "score": float(r["published_score"]),
        "rank": None if pd.isna(rank) else int(rank),
        "tied": tied,
        "reproduced_score": float(r["reproduced_score"]),
        "reproduced_rank": None if pd.isna(r["reproduced_rank"]) else int(r["reproduced_rank"]),
        "scale": str(r["scale"]),
        "rank_among": str(r["rank_among"]),
        "period": str(r["period"]),
        "source": str(r["source"]),
        "n_units": int(len(off)),
    }


def _position(ctx: ReportContext) -> dict[str, Any]:
    _need(ctx, "index")
    info = ctx.shared.json("index_info")
    top = info["top"]
    scores = _latest(ctx.shared.table("index_scores"))
    ranks = _latest(ctx.shared.table("index_ranks"))
    me = _mine(scores, ctx)
    if me.empty:
        raise NotApplicable(f"{ctx.name(ctx.city)} is not a unit of the study's index")
    score = float(me[top].iloc[0])
    if math.isnan(score):
        raise NotApplicable(f"{ctx.name(ctx.city)} has no index score in the latest year")
    out: dict[str, Any] = {
        "index": top,
        "index_name": analysis.prose_name(info["top_name"]),
        "score": score,
        "rank": int(_mine(ranks, ctx)[top].iloc[0]),
        "n_units": int(scores[top].notna().sum()),
        "year": info.get("latest_time"),
    }
    if (ctx.shared.dir / "rank_intervals.parquet").is_file():
        row = _mine(_latest(ctx.shared.table("rank_intervals")), ctx).iloc[0]
        # quantiles interpolate between ranks (as COINr's): readers get whole ranks, rounded
        # outwards so the interval shown is never narrower than the one computed
        out.update(
            rank_q05=float(row["q05"]),
            rank_q95=float(row["q95"]),
            interval=[math.floor(row["q05"]), math.ceil(row["q95"])],
            n_runs=int(info["uncertainty"]["n_runs"]),
        )
    return out


def _profile(ctx: ReportContext) -> pd.DataFrame:
    _need(ctx, "index")
    prof = _mine(ctx.shared.table("index_profiles"), ctx)
    if prof.empty:
        raise NotApplicable(f"{ctx.name(ctx.city)} is not a unit of the study's index")
    return prof


def _pillars(ctx: ReportContext) -> dict[str, Any]:
    prof = _profile(ctx)
    n_levels = ctx.shared.json("index_info")["n_levels"]
    level = n_levels - 1 if n_levels > 1 else 1
    p = prof[prof["Level"] == level].sort_values("diff_from_mean", ascending=False)
    return {
        "strongest": (analysis.prose_name(p["iName"].iloc[0]), float(p["diff_from_mean"].iloc[0])),
        "weakest": (analysis.prose_name(p["iName"].iloc[-1]), float(p["diff_from_mean"].iloc[-1])),
        "level": level,
    }


def _gaps(ctx: ReportContext) -> dict[str, Any]:
    _need(ctx, "inclusion")
    inc = ctx.shared.table("inclusion")
    year = int(inc["year"].max())
    now = inc[inc["year"] == year]
    me = _mine(now, ctx, "city_id")
    if me.empty:
        raise NotApplicable(f"{ctx.name(ctx.city)} reports no take-up by age group or gender")
    out: dict[str, Any] = {"year": year, "n_cities": int(len(now))}
    for g in ("gap_65_vs_35_64", "gap_female_vs_male"):
        if g in now and pd.notna(me[g].iloc[0]):
            out[g] = float(me[g].iloc[0])
            out[g + "_median"] = float(now[g].median())
    return out


def _candidates(ctx: ReportContext) -> pd.DataFrame:
    """Transferred practices with a positive effect (95% CI above 0) the city has not adopted."""
    _need(ctx, "transfer")
    att = ctx.shared.table("transfer_att")
    adoption = ctx.shared.table("transfer_adoption")
    mine = adoption[adoption["city_id"].astype(str) == ctx.city].set_index("service_id")
    names = _service_names(ctx)
    outcome = (
        "digital_share" if (att["outcome"] == "digital_share").any() else att["outcome"].iloc[0]
    )
    if not str(outcome).endswith("share"):
        raise NotApplicable("the transfer analysis has no take-up share to rank practices by")
    k = 100.0  # shares in percentage points
    rows = []
    for _, r in att[att["outcome"] == outcome].iterrows():
        s = r["service_id"]
        adopted = s in mine.index and pd.notna(mine.at[s, "adopted_period"])
        offered = s in mine.index and bool(mine.at[s, "offered"])
        if adopted or not offered or not r["ci_low"] > 0:
            continue
        rows.append(
            {
                "practice": "practice transferred"
                + (f" in {names.get(s, s)}" if s != "all" else ""),
                "from": ctx.name(r["transferred_from"])
                if pd.notna(r["transferred_from"])
                else "another city",
                "outcome": str(outcome).replace("_", " "),
                "effect (pp)": k * r["att"],
                "95% CI low (pp)": k * r["ci_low"],
                "95% CI high (pp)": k * r["ci_high"],
                "adopting cities": int(r["n_adopters"]),
                "comparison cities": int(r["n_never"]),
            }
        )
    return pd.DataFrame(rows)


def _service_names(ctx: ReportContext) -> dict[str, str]:
    if not ctx.shared.available("services")[0]:
        return {}
    latest = ctx.shared.table("services_latest")
    if "service_name" not in latest:
        return {}
    pairs = latest[["service_id", "service_name"]].dropna().drop_duplicates("service_id")
    return dict(
        zip(pairs["service_id"].astype(str), pairs["service_name"].astype(str), strict=True)
    )


# --- sections ---------------------------------------------------------------------------------


def key_findings(ctx: ReportContext) -> Findings:
    """Three to five plain sentences: position, strengths, gaps, a practice, the caveat."""
    s: list[Text] = []
    name = ctx.name(ctx.city)
    pub = _attempt(ctx, "published", _published)
    pos = _attempt(ctx, "position", _position)
    if isinstance(pub, dict):
        rank = _rank_words(pub)
        s.append(
            Text(
                "{name} scores <strong>{score}</strong> ({scale}) in the {source}, "
                "<strong>{rank}</strong> ({among}).",
                name=name,
                score=fmt_number(pub["score"], 4),  # as published: 88.01, 75
                scale=pub["scale"],
                source=pub["source"],
                rank=rank,
                among=pub["rank_among"],
            )
        )
    if isinstance(pos, dict):
        s.append(_position_sentence(ctx, pos, lead=not isinstance(pub, dict)))
    pil = _attempt(ctx, "pillars", _pillars)
    if isinstance(pil, dict):
        s.append(
            Text(
                "Strongest area: <strong>{best}</strong> ({bd} points against the average of "
                "all units); weakest: <strong>{worst}</strong> ({wd}).",
                best=pil["strongest"][0],
                bd=_signed(pil["strongest"][1]),
                worst=pil["weakest"][0],
                wd=_signed(pil["weakest"][1]),
            )
        )
    gaps = _attempt(ctx, "gaps", _gaps)
    if isinstance(gaps, dict) and "gap_65_vs_35_64" in gaps:
        s.append(
            Text(
                "People aged 65+ use the digital channel <strong>{age} pp</strong> "
                "{dir_age} those aged 35-64 (median city: {med} pp){gender} in {year}.",
                age=abs(100 * gaps["gap_65_vs_35_64"]),
                dir_age="more than" if gaps["gap_65_vs_35_64"] > 0 else "less than",
                med=_signed(100 * gaps["gap_65_vs_35_64_median"]),
                gender=(
                    f"; women against men: {_signed(100 * gaps['gap_female_vs_male'])} pp"
                    if "gap_female_vs_male" in gaps
                    else ""
                ),
                year=str(gaps["year"]),
            )
        )
    cand = _attempt(ctx, "candidates", _candidates)
    if isinstance(cand, pd.DataFrame) and not cand.empty:
        best = cand.sort_values("95% CI low (pp)", ascending=False).iloc[0]
        s.append(
            Text(
                "Best-evidenced practice to adopt: the {p} from {origin}, which raised adopters' "
                "{outcome} by <strong>{att} pp</strong> (95% CI {lo} to {hi} pp).",
                p=best["practice"],
                origin=best["from"],
                outcome=best["outcome"],
                att=best["effect (pp)"],
                lo=best["95% CI low (pp)"],
                hi=best["95% CI high (pp)"],
            )
        )
    if len(s) < 4:  # no index or few sections: take-up over time and by service say most
        tr = _attempt(ctx, "trend", _trend_numbers)
        if isinstance(tr, dict):
            s.append(_trend_sentence(ctx, tr))
        sv = _attempt(ctx, "services", _service_numbers)
        if isinstance(sv, dict):
            s.append(_services_sentence(sv))
    s = s[:4]
    s.append(Text("Main caveat: {c}", c=_caveat(ctx)))
    ctx.record("key_findings", [str(t) for t in s])
    return Findings(s, synthetic=ctx.study.synthetic)


def _rank_words(pub: dict[str, Any]) -> str:
    if pub["rank"] is None:
        return "no published rank"
    return f"{_ordinal(pub['rank'])}{' (tied)' if pub['tied'] else ''}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _signed(x: float) -> str:
    from ucc_research.reports.display import fmt_number

    return ("+" if x > 0 else "") + fmt_number(x, 2)


def _position_sentence(ctx: ReportContext, pos: dict[str, Any], lead: bool) -> Text:
    when = f" in {int(pos['year'])}" if pos.get("year") is not None else ""  # no 2,025
    base = (
        "{name} ranks <strong>{rank} of {n}</strong> on the {index}{when} (score {score})"
        if lead
        else "The study's own build of the index ({index}{when}) places it "
        "<strong>{rank} of {n}</strong> (score {score})"
    )
    facts = {
        "name": ctx.name(ctx.city),
        "rank": _ordinal(pos["rank"]),
        "n": pos["n_units"],
        "index": pos["index_name"],
        "when": when,
        "score": pos["score"],
    }
    if "interval" not in pos:
        return Text(base + ".", **facts)
    lo, hi = pos["interval"]
    meaning = (
        "a stable position"
        if hi - lo <= 2
        else "so its exact rank depends on how the index is built"
    )
    span = (
        "keeps rank <strong>{lo}</strong> in the middle 90% of them"
        if lo == hi
        else "ranks between <strong>{lo} and {hi}</strong> (5-95%)"
    )
    return Text(
        base + "; across {runs} alternative builds it " + span + ", {meaning}.",
        **facts,
        runs=pos["n_runs"],
        lo=lo,
        hi=hi,
        meaning=meaning,
    )


def _caveat(ctx: ReportContext) -> str:
    """The one limitation a reader most needs, from the data's own facts."""
    if ctx.study.synthetic:
        return "the data are synthetic: they test the methods, not a real city."
    if ctx.study.unit_label == "country":
        return "the units are countries, not cities, so city-level differences are not visible."
    sv = _attempt(ctx, "services", _service_numbers)
    if isinstance(sv, dict) and sv["withheld"] > sv["shown"]:
        return (
            f"{sv['withheld']} of {sv['n']} request types had fewer than {MIN_REQUESTS} "
            "requests in the last 12 months, so their shares are withheld."
        )
    if "service_panel" in ctx.study.tables:
        tr = _attempt(ctx, "trend", _trend_numbers)
        if isinstance(tr, NotApplicable):
            return f"{str(tr).rstrip('.')}."
    pos = _attempt(ctx, "position", _position)
    if isinstance(pos, dict) and "interval" in pos and pos["interval"][1] - pos["interval"][0] > 2:
        return "the rank moves with reasonable changes to the index's weights and methods."
    return "the indicators are reported by the cities themselves, not independently audited."


def published_score(ctx: ReportContext):
    """The score and rank as the source publishes them, reproduced by its rule."""
    pub = _attempt(ctx, "published", _published)
    if isinstance(pub, NotApplicable):
        return NotShown(str(pub))
    ctx.uses("official")
    ctx.record("published", pub)
    ctx.headline(**{"published score": pub["score"], "published rank": pub["rank"]})
    table = pd.DataFrame(
        [
            {
                "figure": "published",
                "score": pub["score"],
                "rank": pub["rank"],
                "rank among": pub["rank_among"],
            },
            {
                "figure": "reproduced by the published rule",
                "score": pub["reproduced_score"],
                "rank": pub["reproduced_rank"],
                "rank among": f"the {pub['n_units']} units of this study",
            },
        ]
    )
    return ctx.table(
        table,
        f"{ctx.name(ctx.city)}: {pub['source']} ({pub['period']}), scale: {pub['scale']}",
        note=f"n = {pub['n_units']} units with published scores in this study.",
        digits=4,
    )


def score_and_rank(ctx: ReportContext):
    """The study's composite index: score, rank and rank interval, beside the published one."""
    from ucc_research.reports.official import DIFFERENCES

    pos = _attempt(ctx, "position", _position)
    if isinstance(pos, NotApplicable):
        return NotShown(str(pos))
    ctx.uses("index", *(["uncertainty"] if "interval" in pos else []))
    ctx.record("score", pos)
    ctx.headline(score=pos["score"], rank=pos["rank"])
    if "interval" in pos:
        ctx.headline(**{"rank interval": f"{pos['interval'][0]}-{pos['interval'][1]}"})
    parts: list[Any] = [_position_sentence(ctx, pos, lead=True)]
    pub = _attempt(ctx, "published", _published)
    source = ctx.study.framework.get("official")
    if isinstance(pub, dict) and source in DIFFERENCES:
        parts.append(
            Text(
                "Published: {ps} ({scale}), {pr}. Why the two differ: {why}",
                ps=fmt_number(pub["score"], 4),
                scale=pub["scale"],
                pr=_rank_words(pub),
                why=DIFFERENCES[source],
            )
        )
    return Group(parts)


@shown_if_applicable
def pillar_profile(ctx: ReportContext):
    """Pillar and indicator scores against the mean of all units and of the peer group."""
    prof = _profile(ctx)
    info = ctx.shared.json("index_info")
    ctx.uses("profile")
    peer = "peer_mean" in prof and prof["peer_mean"].notna().any()
    cols = {
        "iName": "area",
        "Level": "level",
        "score": "score",
        "rank": "rank",
        "comparison_mean": "mean of all",
    }
    if peer:
        cols["peer_mean"] = "peer group mean"
    # framework order: aggregates first (top down), indicators under their parents
    order = prof.sort_values(["Level", "Parent", "iCode"], ascending=[False, True, True])
    table = order[list(cols)].rename(columns=cols)
    table["level"] = table["level"].map(lambda v: "indicator" if v == 1 else f"level {int(v)}")
    ctx.record("profile", order.drop(columns=["uCode"]).to_dict(orient="records"))
    level = info["n_levels"] - 1 if info["n_levels"] > 1 else 1
    pillars = order[order["Level"] == level]
    fig, ax = new_figure(7, 0.5 * len(pillars) + 1.6)
    y = range(len(pillars))
    ax.barh([i + 0.2 for i in y], pillars["score"], 0.4, label=ctx.name(ctx.city), color="C0")
    ax.barh([i - 0.2 for i in y], pillars["comparison_mean"], 0.4, label="mean of all", color="0.7")
    if peer:
        ax.scatter(
            pillars["peer_mean"],
            list(y),
            marker="|",
            s=200,
            color="C3",
            zorder=3,
            label="peer group mean",
        )
    ax.set_yticks(list(y), pillars["iName"])
    ax.invert_yaxis()
    ax.set_xlabel("score (scale of the study's normalisation)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False)
    pil = _attempt(ctx, "pillars", _pillars)  # the same memo the key findings read
    best, worst = pil["strongest"][0], pil["weakest"][0]
    peer_text = ""
    if peer:
        peer_text = (
            f" Peer group: {info['peer_group']} = {prof['peer_group'].dropna().iloc[0]}"
            f" ({int(prof['peer_n'].dropna().iloc[0])} units)."
        )
    return Group(
        [
            Figure(
                fig,
                alt=f"Bar chart of {ctx.name(ctx.city)}'s pillar scores against the mean of all "
                f"units: furthest above average in {best}, furthest below in {worst}.",
            ),
            ctx.table(
                table,
                f"{ctx.name(ctx.city)}: scores by area",
                note=f"n = {int(prof['n_units'].max())} units; higher is better for every "
                f"area.{peer_text}",
            ),
        ]
    )


@shown_if_applicable
def strengths_weaknesses(ctx: ReportContext):
    """The indicators with the unit's best and worst ranks (COINr's strengths and weaknesses)."""
    prof = _profile(ctx)
    sw = prof[prof["category"].isin(["strength", "weakness"])]
    ctx.record("strengths", sw.loc[sw["category"] == "strength", "iName"].tolist())
    ctx.record("weaknesses", sw.loc[sw["category"] == "weakness", "iName"].tolist())
    table = sw.sort_values(["category", "rank"])[
        ["category", "iName", "score", "rank", "comparison_mean", "n_units"]
    ]
    table = table.rename(
        columns={"iName": "indicator", "comparison_mean": "mean of all", "n_units": "units ranked"}
    )
    return ctx.table(
        table,
        f"{ctx.name(ctx.city)}: strengths and weaknesses",
        note="Rank 1 is best among the units ranked on that indicator.",
    )


def _trend_numbers(ctx: ReportContext) -> dict[str, Any]:
    _need(ctx, "trend")
    tr = ctx.shared.table("trend")
    me = _mine(tr, ctx, "city_id").dropna(subset=["digital_share"])
    if "transactions_total" in me:
        me = me[me["transactions_total"] >= MIN_REQUESTS]
    if len(me) < MIN_TREND_PERIODS:
        raise NotApplicable(
            f"{ctx.name(ctx.city)} has {len(me)} month(s) with at least {MIN_REQUESTS} "
            f"transactions; a trend needs {MIN_TREND_PERIODS}"
        )
    others = tr[tr["city_id"].astype(str) != ctx.city]
    med = others.groupby("period")["digital_share"].agg(["median", "count"])
    return {"me": me, "median": med}


def trend(ctx: ReportContext):
    """Digital share month by month, against the median of the other cities."""
    t = _attempt(ctx, "trend", _trend_numbers)
    if isinstance(t, NotApplicable):
        return NotShown(str(t))
    me, med = t["me"], t["median"]
    first, last = me.iloc[0], me.iloc[-1]
    ctx.uses("trend")
    ctx.record(
        "trend",
        {
            "first_period": first["period"],
            "first": float(first["digital_share"]),
            "last_period": last["period"],
            "last": float(last["digital_share"]),
            "n_periods": int(len(me)),
        },
    )
    ctx.headline(**{"digital share %": 100 * float(last["digital_share"])})
    dates = pd.PeriodIndex(me["period"], freq="M").to_timestamp()
    fig, ax = new_figure(7, 3)
    ax.plot(dates, 100 * me["digital_share"], color="C0", label=ctx.name(ctx.city))
    enough = med[med["count"] >= MIN_COMPARISON]
    if not enough.empty:
        ax.plot(
            pd.PeriodIndex(enough.index, freq="M").to_timestamp(),
            100 * enough["median"],
            color="0.5",
            ls="--",
            label="median of the other cities",
        )
    ax.set_ylabel("digital share (%)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    change = 100 * (last["digital_share"] - first["digital_share"])
    sentence = _trend_sentence(ctx, t)
    return Group(
        [
            sentence,
            Figure(
                fig,
                alt=f"Line chart of {ctx.name(ctx.city)}'s digital share from "
                f"{first['period']} to {last['period']}: {_signed(change)} percentage points.",
            ),
        ]
    )


def _service_numbers(ctx: ReportContext) -> dict[str, Any]:
    _need(ctx, "services")
    latest = ctx.shared.table("services_latest")
    me = _mine(latest, ctx, "city_id")
    if me.empty:
        raise NotApplicable(f"{ctx.name(ctx.city)} reports no services in its last 12 months")
    table = analysis.service_comparison(me, latest, min_n=MIN_REQUESTS, min_cities=MIN_COMPARISON)
    shown = table.dropna(subset=["digital share %"])
    return {
        "table": table,
        "n": len(table),
        "shown": len(shown),
        "withheld": len(table) - len(shown),
    }


def _services_sentence(sv: dict[str, Any]) -> Text:
    shown = sv["table"].dropna(subset=["digital share %"]).sort_values("digital share %")
    if shown.empty:
        return Text(
            "None of its {n} request types had {m} or more requests in the last 12 "
            "months, so no service-level share is shown.",
            n=sv["n"],
            m=MIN_REQUESTS,
        )
    hi, lo = shown.iloc[-1], shown.iloc[0]
    return Text(
        "{k} of {n} services had enough requests ({m}+) in the last 12 months to show a digital "
        "share: highest <strong>{hs}%</strong> ({hn}, n = {hc}), lowest {ls}% ({ln}, n = {lc}).",
        k=sv["shown"],
        n=sv["n"],
        m=MIN_REQUESTS,
        hs=hi["digital share %"],
        hn=hi["service"],
        hc=hi["transactions"],
        ls=lo["digital share %"],
        ln=lo["service"],
        lc=lo["transactions"],
    )


def _trend_sentence(ctx: ReportContext, t: dict[str, Any]) -> Text:
    me = t["me"]
    first, last = me.iloc[0], me.iloc[-1]
    return Text(
        "Digital share went from {a}% ({pa}) to <strong>{b}%</strong> ({pb}), {c} pp over {n} "
        "months with at least {m} transactions.",
        a=100 * first["digital_share"],
        pa=first["period"],
        b=100 * last["digital_share"],
        pb=last["period"],
        c=_signed(100 * (last["digital_share"] - first["digital_share"])),
        n=len(me),
        m=MIN_REQUESTS,
    )


def services(ctx: ReportContext):
    """Each service's digital share (last 12 months) against the other cities offering it."""
    sv = _attempt(ctx, "services", _service_numbers)
    if isinstance(sv, NotApplicable):
        return NotShown(str(sv))
    table = sv["table"]
    ctx.uses("services")
    ctx.record("services", table.to_dict(orient="records"))
    shown = table.dropna(subset=["digital share %"])
    if shown.empty:
        return NotShown(
            f"none of {ctx.name(ctx.city)}'s {sv['n']} services had {MIN_REQUESTS} or more "
            "transactions in its last 12 months"
        )
    note = (
        f"{sv['shown']} of {sv['n']} services; digital share pools the last 12 months of "
        f"transactions. {sv['withheld']} service(s) with fewer than {MIN_REQUESTS} transactions "
        f"are left out (all are in the results file); bands need at least {MIN_COMPARISON} other "
        "cities."
    )
    if shown["months"].nunique() == 1:  # one window for all: say it once
        note = note.replace("the last 12 months", f"the last 12 months ({shown['months'].iloc[0]})")
        shown = shown.drop(columns=["months"])
    if shown["others p25"].isna().all():  # nothing to compare with: no empty columns
        shown = shown.drop(columns=["others p25", "others p75", "other cities"])
        note += " No other city of the study has enough transactions in these services."
    parts: list[Any] = []
    banded = shown.dropna(subset=["others p25"]) if "others p25" in shown else shown.iloc[0:0]
    if not banded.empty:
        banded = banded.sort_values("digital share %").tail(25)
        fig, ax = new_figure(7, 0.28 * len(banded) + 1.4)
        ax.hlines(
            banded["service"],
            banded["others p25"],
            banded["others p75"],
            color="0.75",
            lw=6,
            label="other cities, 25th-75th percentile",
        )
        ax.scatter(
            banded["digital share %"],
            banded["service"],
            color="C3",
            zorder=3,
            label=ctx.name(ctx.city),
        )
        ax.set_xlabel("digital share of transactions (%)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
        above = int((banded["digital share %"] > banded["others p75"]).sum())
        below = int((banded["digital share %"] < banded["others p25"]).sum())
        parts.append(
            Figure(
                fig,
                alt=f"Dot plot of {ctx.name(ctx.city)}'s digital share by "
                f"service against other cities: {above} service(s) above their "
                f"middle half, {below} below.",
            )
        )
    parts.append(ctx.table(shown, f"{ctx.name(ctx.city)}: services", note=note))
    return Group(parts)


def inclusion(ctx: ReportContext):
    """Digital take-up gaps by age and gender, against the other cities."""
    g = _attempt(ctx, "gaps", _gaps)
    if isinstance(g, NotApplicable):
        return NotShown(str(g))
    inc = ctx.shared.table("inclusion")
    now = inc[inc["year"] == g["year"]]
    if len(now) - 1 < MIN_COMPARISON:
        return NotShown(f"fewer than {MIN_COMPARISON} other cities report take-up by group")
    rows = []
    labels = {
        "gap_65_vs_35_64": "aged 65+ minus aged 35-64",
        "gap_female_vs_male": "women minus men",
    }
    for key, label in labels.items():
        if key not in g:
            continue
        rank = int(now[key].abs().rank(method="min")[_mine(now, ctx, "city_id").index[0]])
        rows.append(
            {
                "gap": label,
                f"{ctx.name(ctx.city)} (pp)": 100 * g[key],
                "median city (pp)": 100 * g[key + "_median"],
                "rank (1 = smallest gap)": rank,
                "cities": g["n_cities"],
            }
        )
    ctx.uses("inclusion")
    ctx.record("inclusion", g)
    if "gap_65_vs_35_64" in g:
        ctx.headline(**{"65+ gap pp": 100 * g["gap_65_vs_35_64"]})
    return ctx.table(
        pd.DataFrame(rows),
        f"{ctx.name(ctx.city)}: take-up gaps in {g['year']}",
        note="Percentage points (pp) of the digital take-up share; negative: the first group lags.",
    )


def practices_to_adopt(ctx: ReportContext):
    """Transferred practices with a clearly positive effect elsewhere that the city lacks."""
    cand = _attempt(ctx, "candidates", _candidates)
    if isinstance(cand, NotApplicable):
        return NotShown(str(cand))
    ctx.uses("transfer")
    ctx.record("candidates", cand.to_dict(orient="records"))
    if cand.empty:
        return Text(
            "No transferred practice with a clearly positive measured effect (95% "
            "interval above zero) is missing here."
        )
    return ctx.table(
        cand.sort_values("95% CI low (pp)", ascending=False),
        f"{ctx.name(ctx.city)}: practices to adopt",
        note="Effects on adopters (Callaway and Sant'Anna, parallel-trends "
        "assumption), in percentage points of digital share.",
    )


def data_caveats(ctx: ReportContext):
    """What limits the numbers above, in words."""
    items = [_caveat(ctx)]
    pos = _attempt(ctx, "position", _position)
    if isinstance(pos, dict) and "interval" in pos:
        lo, hi = pos["interval"]
        items.append(
            f"the rank interval {lo}-{hi} covers {hi - lo + 1} positions out of {pos['n_units']}."
        )
    ctx.record("caveats", items)
    return Group([Text("{c}", tag="p", c=c[0].upper() + c[1:]) for c in dict.fromkeys(items)])
