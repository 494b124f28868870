"""The sections of the reports: each is one small function returning a :class:`Section`.

A notebook calls the section functions in order and shows what they return; the logic lives
here, where it is tested. A section the study's data cannot support returns a section whose
text is one sentence saying why (never an empty table or figure). Every number a section shows
is also put, at full precision, in ``Section.results`` and ends up in ``results/<city>.json``.

In a notebook, with the prepared data and the study's ``_shared/`` folder::

    report = CityReport("studies/demo.yml", "DEMO-001", "outputs/demo/_shared")
    for section in report.sections():
        section.show()
    report.save("outputs/demo/results/DEMO-001.json")
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research import __version__, io
from ucc_research.reports.shared import Shared
from ucc_research.reports.study import Study, load_study

#: Method notes shown at the end of a report, keyed by the section that used the method.
METHODS: dict[str, str] = {
    "index": (
        "**Composite index.** The indicators are denominated, imputed, treated for outliers, "
        "normalised and aggregated as the study's build spec says (``studies/<study>.yml``), "
        "following the OECD/JRC Handbook on Constructing Composite Indicators (2008) "
        "and the COINr package (Becker et al., 2022). Rank 1 is best; ties share the lower rank."
    ),
    "uncertainty": (
        "**Rank interval.** The index was rebuilt many times with its uncertain choices "
        "varied at random (Sobol' sample, fixed seed; by default the weights +-25%, min-max or "
        "z-score normalisation, arithmetic or geometric mean; a study may vary fewer); the "
        "5-95% interval is the range of ranks the city took in the middle 90% of those builds "
        "(Saisana, Saltelli and Tarantola, 2005). A wide interval means the rank depends on "
        "choices the index makers could reasonably have made differently."
    ),
    "profile": (
        "**Profile, strengths and weaknesses.** Each pillar and indicator score (on the scale of "
        "the study's normalisation) is compared with the mean of all units and of the peer group; "
        "strengths and weaknesses are the indicators with the best and worst ranks (COINr "
        "`get_str_weak`)."
    ),
    "trend": (
        "**Trend.** Digital share pools transactions over the city's services (digital / all "
        "transactions) in each period; satisfaction is the mean over services."
    ),
    "services": (
        "**Services against other cities.** Each service's latest digital share and "
        "satisfaction are placed against the 25th-75th percentile of all the cities that "
        "offer the same service."
    ),
    "inclusion": (
        "**Inclusion.** Take-up gaps are differences in the share of people using the digital "
        "channel, pooled over services: people aged 65+ minus those aged 35-64, women minus "
        "men. Negative numbers mean the first group lags."
    ),
    "transfer": (
        "**Transferred practices.** The effect of adopting a practice transferred from another "
        "city is the average effect on adopters (ATT) from the staggered difference-in-"
        "differences estimator of Callaway and Sant'Anna (2021), doubly robust, comparing "
        "adopters with cities that never adopted, on the city x year panel; 95% confidence "
        "intervals from the influence function. The pre-trend test is the Wald test that every "
        "pre-adoption ATT(g, t) is zero (as R's did reports it); it relies on many units per "
        "adopting cohort."
    ),
    "features": (
        "**Service features.** Effects of service features are within-service changes: a "
        "linear regression with city x service and period fixed effects, standard errors "
        "clustered by city (pyfixest/fixest CRV1; Bergé, 2018). They compare the same service "
        "before and after it gained a feature, so stable differences between cities and "
        "services do not bias them."
    ),
    "fe": (
        "**Fixed-effects regressions.** A linear regression of each outcome on the features, "
        "with the fixed effects named above absorbing stable differences between their groups; "
        "standard errors clustered as stated (pyfixest, fixest's CRV1 convention; Bergé, 2018)."
    ),
    "mixed": (
        "**Mixed model.** A linear mixed model with a random intercept per group (statsmodels "
        "MixedLM, REML; Laird and Ware, 1982). It pools the variation within and between groups, "
        "so it is more precise than the fixed-effects regression but biased when features go "
        "with unmeasured group traits. The intra-class correlation is the share of the "
        "variance between groups."
    ),
    "drivers": (
        "**Drivers analysis.** A gradient-boosting model (scikit-learn) predicts the outcome "
        "from the features; a feature's permutation importance is how much the cross-validated "
        "fit drops when its values are shuffled (Breiman, 2001), with folds that keep each "
        "group together. Importance is predictive, not causal; correlated features share it."
    ),
    "twfe": (
        "**TWFE and the Goodman-Bacon decomposition.** The two-way fixed-effects coefficient is "
        "a weighted average of every 2x2 difference-in-differences in the data, including "
        "comparisons of later adopters with earlier ones; the decomposition (Goodman-Bacon, "
        "2021) shows those weights. Where effects grow over time those comparisons pull TWFE "
        "away from the Callaway and Sant'Anna estimate."
    ),
    "synth": (
        "**Synthetic control.** The adopting city is compared with a weighted mix of cities "
        "that never adopted, the weights chosen to match its outcome before adoption "
        "(Abadie, Diamond and Hainmueller, 2010); the gap after adoption is the estimated "
        "effect, judged against in-space placebos."
    ),
    "coherence": (
        "**Coherence.** Correlations between indicators of the same pillar and with their "
        "pillar, and Cronbach's alpha (internal consistency) per aggregate (OECD/JRC, 2008)."
    ),
    "sensitivity": (
        "**Sensitivity indices.** Variance-based first-order and total indices (Saltelli "
        "et al., 2010; Jansen, 1999) of how much each uncertain choice drives the rank shifts."
    ),
}


#: A city's services shown in its report's table and figure (the largest by transactions).
MAX_SERVICES = 25


@dataclass
class Section:
    """One part of a report: a title, a text, optionally a table and a figure.

    ``available`` is False when the data cannot support the section; ``text`` then says why.
    ``results`` holds the section's numbers at full precision (for the JSON results).
    """

    key: str
    title: str
    text: str = ""
    table: pd.DataFrame | None = None
    figure: Any = None
    available: bool = True
    results: dict[str, Any] = field(default_factory=dict)

    def show(self, digits: int = 2) -> None:
        """Display the section in a notebook (tables rounded for reading)."""
        from IPython.display import Markdown, display

        display(Markdown(f"## {self.title}\n\n{self.text}"))
        if self.table is not None:
            display(self.table.round(digits))
        if self.figure is not None:
            display(self.figure)
            import matplotlib.pyplot as plt

            plt.close(self.figure)


def unavailable(key: str, title: str, reason: str) -> Section:
    """A section left out, with the one sentence saying why."""
    reason = reason.rstrip(".")
    return Section(key, title, f"Not shown: {reason}.", available=False)


def default_shared_dir(study: Study) -> Path:
    """``outputs/<study>/_shared``: where ``ucc run`` puts the study-level analyses."""
    from ucc_research import config

    return config.outputs_dir() / study.name / "_shared"


def _fig(title: str, xlabel: str, ylabel: str, width: float = 7, height: float = 3.5):
    """A titled, labelled figure in seaborn's whitegrid style.

    The per-city figures are drawn with matplotlib in matplotlib's bundled copy of the seaborn
    style: importing seaborn imports scipy.stats, which costs seconds in every city's fresh
    kernel (the cross-city reports, run once, use seaborn itself).
    """
    import matplotlib.pyplot as plt

    plt.style.use("seaborn-v0_8-whitegrid")
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def _md_escape(text: Any) -> str:
    """Text from data shown in Markdown: HTML-escaped so a name cannot inject markup."""
    return html.escape(str(text))


def banner(study: Study, parameters: dict[str, Any], shared: Shared) -> Section:
    """The report's opening: study, data sources (real or SYNTHETIC), parameters, fingerprint."""
    kind = "**SYNTHETIC** (generated demo data, not real cities)" if study.synthetic else "real"
    params = ", ".join(f"`{k}` = {_md_escape(repr(v))}" for k, v in parameters.items())
    fp = shared.manifest.get("data_fingerprint", "")
    text = (
        f"**Study:** {_md_escape(study.title)} (`{study.name}`)  \n"
        f"**Data:** {_md_escape(', '.join(study.sources) or 'n/a')}: {kind}  \n"
        f"**Parameters:** {params}  \n"
        f"**Data fingerprint:** `{fp[:16]}` (SHA-256 of the input tables)  \n"
        f"**Package:** ucc_research {__version__}"
    )
    if study.synthetic:
        text = "> **SYNTHETIC DATA.** Every number below describes fictional cities.\n\n" + text
    return Section(
        "banner",
        "About this report",
        text,
        results={"study": study.name, "synthetic": study.synthetic, "data_fingerprint": fp},
    )


def methods(keys: list[str]) -> Section:
    """The closing methods section: one plain-words note per method the report used."""
    notes = [METHODS[k] for k in dict.fromkeys(keys) if k in METHODS]
    text = "\n\n".join(notes) if notes else "This report shows descriptive tables only."
    return Section("methods", "Methods", text)


class CityReport:
    """Everything one city's report shows, read from the study's ``_shared`` analyses.

    Parameters
    ----------
    study : path of the study file (or a :class:`Study`).
    city : the unit id.
    shared_dir : the study's ``_shared`` folder (written by ``ucc run`` before the reports).
    """

    def __init__(
        self, study: str | Path | Study, city: str, shared_dir: str | Path | None = None
    ) -> None:
        self.study = study if isinstance(study, Study) else load_study(study)
        self.city = str(city)
        self.display = self.study.unit_display(self.city)  # "Milan (ucc_milan)" for readers
        self.shared = Shared(shared_dir or default_shared_dir(self.study))
        self.results: dict[str, Any] = {"city": self.city, "headline": {}}
        self.used: list[str] = []

    @property
    def title(self) -> str:
        label = self.study.unit_label.capitalize()
        return f"{label} report: {_md_escape(self.display)}" + (
            " (SYNTHETIC)" if self.study.synthetic else ""
        )

    # -- sections ----------------------------------------------------------------------------
    def sections(self) -> list[Section]:
        out = [
            self.headline(),
            self.profile(),
            self.strengths(),
            self.trend(),
            self.services(),
            self.inclusion(),
            self.transfer_candidates(),
        ]
        shown, reasons = [], set()
        for s in out:
            if s.available:
                self.results[s.key] = s.results
            elif s.text in reasons:  # say why once, not once per section that needs it
                continue
            else:
                reasons.add(s.text)
            shown.append(s)
        return shown

    def _index_ok(self) -> tuple[bool, str]:
        ok, why = self.shared.available("index")
        if not ok:
            return ok, why
        scores = self.shared.table("index_scores")
        if self.city not in set(scores["uCode"].astype(str)):
            return False, f"{self.city!r} is not a unit of the study's index"
        return True, ""

    def _latest(self, df: pd.DataFrame) -> pd.DataFrame:
        return df[df["Time"] == df["Time"].max()] if "Time" in df.columns else df

    def headline(self) -> Section:
        """Composite score and rank, with the 5-95% rank interval of the uncertainty analysis."""
        title = "Composite score and rank"
        ok, why = self._index_ok()
        if not ok:
            return unavailable("score", title, why)
        info = self.shared.json("index_info")
        top = info["top"]
        scores = self._latest(self.shared.table("index_scores"))
        ranks = self._latest(self.shared.table("index_ranks"))
        me = scores["uCode"].astype(str) == self.city
        score = float(scores.loc[me, top].iloc[0])
        if score != score:  # NaN: too many indicators missing in the latest year
            return unavailable("score", title, f"{self.city!r} has no index score in that year")
        rank = int(ranks.loc[ranks["uCode"].astype(str) == self.city, top].iloc[0])
        n = int(scores[top].notna().sum())
        res: dict[str, Any] = {"index": top, "score": score, "rank": rank, "n_units": n}
        when = f" in {int(info['latest_time'])}" if info.get("latest_time") is not None else ""
        text = (
            f"{_md_escape(self.display)} scores **{score:.4g}** on the "
            f"{_md_escape(info['top_name'])}{when}, rank **{rank}** of {n}."
        )
        self.used.append("index")
        if (self.shared.dir / "rank_intervals.parquet").is_file():
            ri = self._latest(self.shared.table("rank_intervals"))
            row = ri[ri["uCode"].astype(str) == self.city].iloc[0]
            res.update(
                rank_q05=float(row["q05"]),
                rank_q95=float(row["q95"]),
                rank_median=float(row["median_rank"]),
            )
            # The quantiles interpolate between ranks (as COINr's); readers get whole ranks,
            # rounded outwards so the interval shown is never narrower than the one computed.
            lo, hi = math.floor(row["q05"]), math.ceil(row["q95"])
            res.update(rank_interval_shown=[lo, hi])
            text += (
                f" Across {info['uncertainty']['n_runs']} alternative builds of the index its "
                f"rank stays between **{lo}** and **{hi}** (5-95% interval)."
            )
            self.used.append("uncertainty")
        self.results["headline"].update(
            {"score": score, "rank": rank, "of": n}
            | (
                {
                    "rank 5%": res["rank_interval_shown"][0],
                    "rank 95%": res["rank_interval_shown"][1],
                }
                if "rank_q05" in res
                else {}
            )
        )
        return Section("score", title, text, results=res)

    def profile(self) -> Section:
        """Pillar scores of the city against the mean of all units and of its peer group."""
        title = "Pillar and indicator profile"
        ok, why = self._index_ok()
        if not ok:
            return unavailable("profile", title, why)
        info = self.shared.json("index_info")
        prof = self.shared.table("index_profiles")
        prof = prof[prof["uCode"].astype(str) == self.city]
        cols = ["iCode", "iName", "Level", "score", "rank", "comparison_mean"]
        if "peer_mean" in prof.columns:
            cols += ["peer_group", "peer_mean"]
        table = prof[cols].rename(columns={"comparison_mean": "mean of all"})
        table = table.sort_values(["Level", "iCode"], ascending=[False, True]).reset_index(
            drop=True
        )
        pillars = table[table["Level"] == info["n_levels"] - 1]
        long = pillars.melt(
            id_vars=["iName"],
            value_vars=[c for c in ("score", "mean of all", "peer_mean") if c in pillars],
            var_name="who",
            value_name="value",
        )
        long["who"] = long["who"].replace(
            {"score": self.city, "peer_mean": "peer group mean", "mean of all": "mean of all"}
        )
        fig, ax = _fig(
            f"Pillar scores: {self.city} against all and its peer group",
            "pillar",
            "score (normalised scale)",
        )
        wide = long.pivot(index="iName", columns="who", values="value")
        wide = wide[[w for w in long["who"].unique()]]
        width = 0.8 / wide.shape[1]
        for i, who in enumerate(wide.columns):
            ax.bar([x + i * width for x in range(len(wide))], wide[who], width, label=who)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(wide))], wide.index, rotation=20)
        ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left")
        fig.tight_layout()
        peer = ""
        if "peer_group" in table and table["peer_group"].notna().any():
            peer = (
                f" The peer group is {_md_escape(info['peer_group'])} = "
                f"{_md_escape(table['peer_group'].dropna().iloc[0])}."
            )
        self.used.append("profile")
        res = {
            r["iCode"]: {k: r[k] for k in table.columns if k != "iCode"}
            for _, r in table.iterrows()
        }
        return Section(
            "profile",
            title,
            "Scores are on the scale of the study's normalisation; higher is better for every "
            "indicator." + peer,
            table=table.drop(columns=["peer_group"], errors="ignore"),
            figure=fig,
            results=res,
        )

    def strengths(self) -> Section:
        """The indicators with the city's best and worst ranks."""
        title = "Strengths and weaknesses"
        ok, why = self._index_ok()
        if not ok:
            return unavailable("strengths", title, why)
        prof = self.shared.table("index_profiles")
        prof = prof[(prof["uCode"].astype(str) == self.city) & (prof["category"] != "")]
        table = prof[["category", "iName", "score", "rank", "comparison_mean"]].rename(
            columns={"comparison_mean": "mean of all"}
        )
        table = table.sort_values(["category", "rank"]).reset_index(drop=True)
        res = {
            "strengths": prof.loc[prof["category"] == "strength", "iCode"].tolist(),
            "weaknesses": prof.loc[prof["category"] == "weakness", "iCode"].tolist(),
        }
        return Section("strengths", title, "Indicators ranked best and worst.", table, results=res)

    def trend(self) -> Section:
        """The composite over the years (panel index) and digital share over the periods."""
        title = "Trend over time"
        ok_t, why_t = self.shared.available("trend")
        ok_i, _ = self._index_ok()
        index_panel = ok_i and self.shared.json("index_info").get("panel")
        if not ok_t and not index_panel:
            return unavailable("trend", title, why_t)

        res: dict[str, Any] = {}
        text = []
        fig = None
        if ok_t:
            tr = self.shared.table("trend")
            if self.city in set(tr["city_id"].astype(str)):
                me = tr[tr["city_id"].astype(str) == self.city].copy()
                me["date"] = pd.PeriodIndex(me["period"], freq="M").to_timestamp()
                others = tr.groupby("period")["digital_share"].median().rename("median of all")
                me = me.join(others, on="period")
                fig, ax = _fig(
                    f"Digital share of transactions: {self.city}", "period", "digital share (%)"
                )
                ax.plot(me["date"], 100 * me["digital_share"], label=self.city)
                ax.plot(me["date"], 100 * me["median of all"], label="median of all cities")
                ax.legend()
                fig.tight_layout()
                first, last = me.iloc[0], me.iloc[-1]
                res["digital_share"] = {
                    "first_period": first["period"],
                    "first": float(first["digital_share"]),
                    "last_period": last["period"],
                    "last": float(last["digital_share"]),
                }
                text.append(
                    f"Digital share went from {100 * first['digital_share']:.1f}% "
                    f"({first['period']}) to {100 * last['digital_share']:.1f}% ({last['period']})."
                )
                self.results["headline"]["digital share %"] = 100 * float(last["digital_share"])
                self.used.append("trend")
        table = None
        if index_panel:
            top = self.shared.json("index_info")["top"]
            sc = self.shared.table("index_scores")
            rk = self.shared.table("index_ranks")
            me_s = sc[sc["uCode"].astype(str) == self.city][["Time", top]]
            me_r = rk[rk["uCode"].astype(str) == self.city][["Time", top]]
            table = me_s.merge(me_r, on="Time", suffixes=(" score", " rank"))
            table["Time"] = table["Time"].astype(int)
            res["index_by_year"] = table.to_dict(orient="records")
            text.append("The table gives the composite score and rank in each year.")
        if not text:
            return unavailable("trend", title, f"{self.city!r} has no data over time")
        return Section("trend", title, " ".join(text), table=table, figure=fig, results=res)

    def services(self) -> Section:
        """The city's services: latest digital share and satisfaction against other cities."""
        title = "Services: take-up and satisfaction against other cities"
        ok, why = self.shared.available("services")
        if not ok:
            return unavailable("services", title, why)
        latest = self.shared.table("services_latest")
        summary = self.shared.table("services_summary").set_index("service_id")
        me = latest[latest["city_id"].astype(str) == self.city]
        if me.empty:
            return unavailable("services", title, f"{self.city!r} reports no services")
        note, everything = "", me
        if len(me) > MAX_SERVICES and "transactions_total" in me:
            note = (
                f" The {MAX_SERVICES} services with the most transactions of {len(me)} are "
                "shown; all are in the results file."
            )
            me = me.nlargest(MAX_SERVICES, "transactions_total").sort_values("service_id")
        cols = [
            c
            for c in ("digital_share", "satisfaction", "days_to_close_median")
            if c in me and me[c].notna().any()
        ]
        table = me[["service_id", "period", *cols]].set_index("service_id")
        for c in cols:
            table[f"{c} p25"] = summary[f"{c}_p25"].reindex(table.index)
            table[f"{c} p75"] = summary[f"{c}_p75"].reindex(table.index)
        if "digital_share" in cols:
            for c in ("digital_share", "digital_share p25", "digital_share p75"):
                table[c] = 100 * table[c]
        table = table.rename(
            columns=lambda c: c.replace("digital_share", "digital share %").replace(
                "days_to_close_median", "days to close"
            )
        )
        table = table.reset_index()
        fig = None
        if "digital share %" in table:
            fig, ax = _fig(
                f"Digital share by service: {self.city} and the middle half of all cities",
                "digital share (%)",
                "service",
                height=max(3, 0.3 * len(table)),
            )
            ax.hlines(
                table["service_id"],
                table["digital share % p25"],
                table["digital share % p75"],
                color="0.7",
                lw=6,
                label="all cities, p25-p75",
            )
            ax.scatter(
                table["digital share %"], table["service_id"], color="C3", label=self.city, zorder=3
            )
            ax.legend()
            fig.tight_layout()
        self.used.append("services")
        res = {
            r["service_id"]: {c: r[c] for c in table.columns if c != "service_id"}
            for _, r in table.iterrows()
        }
        if note:
            keep = ["service_id", "period", *cols, "transactions_total"]
            res["all services"] = everything[keep].to_dict(orient="records")
        return Section(
            "services",
            title,
            "Digital share is the percentage of transactions made online or in an app; "
            "satisfaction is on a 0-100 scale; days to close is the median number of days "
            "from request to closure." + note,
            table=table,
            figure=fig,
            results=res,
        )

    def inclusion(self) -> Section:
        """Take-up gaps between age groups and genders, against the other cities."""
        title = "Inclusion: who uses the digital channel"
        ok, why = self.shared.available("inclusion")
        if not ok:
            return unavailable("inclusion", title, why)
        inc = self.shared.table("inclusion")
        year = inc["year"].max()
        now = inc[inc["year"] == year]
        me = now[now["city_id"].astype(str) == self.city]
        if me.empty:
            return unavailable("inclusion", title, f"{self.city!r} has no take-up by group")
        gaps = [c for c in ("gap_65_vs_35_64", "gap_female_vs_male") if c in now]
        rows = []
        res: dict[str, Any] = {"year": int(year)}
        for g in gaps:
            v = float(me[g].iloc[0])
            rows.append(
                {
                    "gap": g.replace("_", " "),
                    f"{self.city} (pp)": 100 * v,
                    "median of all (pp)": 100 * float(now[g].median()),
                    "rank (1 = smallest gap)": int(now[g].abs().rank(method="min")[me.index[0]]),
                    "cities": int(now[g].notna().sum()),
                }
            )
            res[g] = v
        self.used.append("inclusion")
        if "gap_65_vs_35_64" in res:
            self.results["headline"]["65+ gap pp"] = 100 * res["gap_65_vs_35_64"]
        return Section(
            "inclusion",
            title,
            f"Gaps in {int(year)}, in percentage points of digital take-up (pp).",
            table=pd.DataFrame(rows),
            results=res,
        )

    def transfer_candidates(self) -> Section:
        """Practices and features that work elsewhere (impact estimates) and the city lacks."""
        title = "Transfer candidates"
        ok_t, why_t = self.shared.available("transfer")
        ok_f, why_f = self.shared.available("features")
        if not ok_t and not ok_f:
            return unavailable("transfer", title, f"{why_t}; {why_f}")
        rows = []
        if ok_t:
            att = self.shared.table("transfer_att")
            adoption = self.shared.table("transfer_adoption")
            mine = adoption[adoption["city_id"].astype(str) == self.city].set_index("service_id")
            for _, r in att[att["outcome"] == "digital_share"].iterrows():
                s = r["service_id"]
                adopted = s in mine.index and pd.notna(mine.at[s, "adopted_period"])
                if adopted or not (r["ci_low"] > 0):
                    continue
                rows.append(
                    {
                        "candidate": f"practice in {s} (from {r['transferred_from']})",
                        "kind": "transferred practice",
                        "effect on digital share (pp)": 100 * r["att"],
                        "95% CI low": 100 * r["ci_low"],
                        "95% CI high": 100 * r["ci_high"],
                        "city's services without it": 1,
                    }
                )
            self.used.append("transfer")
        if ok_f and self.shared.available("services")[0]:
            fe = self.shared.table("feature_effects")
            fe = fe[(fe["outcome"] == "digital_share") & (fe["ci_low"] > 0)]
            latest = self.shared.table("services_latest")
            me = latest[latest["city_id"].astype(str) == self.city]
            for _, r in fe.iterrows():
                f = r["term"]
                if f not in me:
                    continue
                lacking = (
                    int((me[f] < 1).sum())
                    if f != "online_sophistication"
                    else int((me[f] < me[f].max()).sum())
                )
                if lacking == 0:
                    continue
                rows.append(
                    {
                        "candidate": f.replace("_", " "),
                        "kind": "service feature",
                        "effect on digital share (pp)": 100 * r["estimate"],
                        "95% CI low": 100 * r["ci_low"],
                        "95% CI high": 100 * r["ci_high"],
                        "city's services without it": lacking,
                    }
                )
            self.used.append("features")
        if not rows:
            return Section(
                "transfer",
                title,
                "No practice or feature with a clearly positive measured effect is missing here.",
                results={"candidates": []},
            )
        table = pd.DataFrame(rows).sort_values("effect on digital share (pp)", ascending=False)
        table = table.reset_index(drop=True)
        return Section(
            "transfer",
            title,
            "Practices and service features whose effect on digital take-up is positive with "
            "95% confidence elsewhere, and which this city does not have yet (or not in every "
            "service).",
            table=table,
            results={"candidates": table.to_dict(orient="records")},
        )

    def save(self, path: str | Path | None) -> None:
        """Write the full-precision results (``results/<city>.json``) atomically."""
        save_results(path, self.results)


def _finite(obj: Any) -> Any:
    """Infinities (e.g. the never-treated cohort) as the strings "inf"/"-inf": JSON has none."""
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def save_results(path: str | Path | None, results: dict[str, Any]) -> None:
    """Write a report's results as strict JSON, atomically (NaN as null, inf as "inf")."""
    if path:
        # numpy scalars to Python numbers first (io's converter), then infinities to strings
        plain = json.loads(json.dumps(results, default=io._json_default, allow_nan=True))
        io.write_json(path, _finite(plain))
