"""Cross-city reports, run once per study: what works, transfer impact, index robustness, data.

Each report is a small class whose :meth:`sections` returns :class:`~.sections.Section` objects
in reading order; every section is one method, so a missing analysis degrades to one sentence
and a new one is one method to add. Heavy libraries are imported inside the section that needs
them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research import config
from ucc_research.reports import analysis
from ucc_research.reports.sections import (
    Section,
    _fig,
    _md_escape,
    default_shared_dir,
    save_results,
    unavailable,
)
from ucc_research.reports.shared import Shared
from ucc_research.reports.study import Study, load_study


def _failed(key: str, title: str, exc: Exception) -> Section:
    return unavailable(key, title, f"the analysis failed ({type(exc).__name__}: {exc})")


class CrossReport:
    """Common parts of the cross-city reports (study, shared analyses, results, methods used)."""

    name = "cross-city report"

    def __init__(self, study: str | Path | Study, shared_dir: str | Path | None = None, **params):
        self.study = study if isinstance(study, Study) else load_study(study)
        self.shared = Shared(shared_dir or default_shared_dir(self.study))
        self.parameters = {"study": self.study.name, **params}
        self.results: dict[str, Any] = {"report": self.name, "headline": {}}
        self.used: list[str] = []

    @property
    def title(self) -> str:
        return f"{self.name}: {_md_escape(self.study.title)}"

    def sections(self) -> list[Section]:  # pragma: no cover - interface
        raise NotImplementedError

    def _collect(self, sections: list[Section]) -> list[Section]:
        for s in sections:
            if s.available:
                self.results[s.key] = s.results
        return sections

    def save(self, path: str | Path | None) -> None:
        save_results(path, self.results)


# --- what works -----------------------------------------------------------------------------


class WhatWorks(CrossReport):
    """Which service features go with higher take-up and satisfaction, three ways side by side.

    The study's ``impact.what_works`` names the ``data`` table, ``outcomes``, ``features``, the
    fixed effects ``fe`` and ``cluster`` of the regression and the ``groups`` of the mixed
    model and of the drivers' cross-validation. The default fits the service panel.
    """

    name = "What works"
    DEFAULT = {
        "data": "service_panel",
        "outcomes": ["digital_share", "satisfaction"],
        "features": analysis.FEATURES,
        "fe": "city_id^service_id + period",
        "cluster": "city_id",
        "groups": "city_id",
        "yearly": True,
    }

    def __init__(self, study, shared_dir=None, **params):
        super().__init__(study, shared_dir, **params)
        self.spec = {**self.DEFAULT, **self.study.impact.get("what_works", {})}
        self._data: pd.DataFrame | None = None

    def data(self) -> pd.DataFrame:
        """The analysis table: features as numbers, rows with every feature present."""
        if self._data is None:
            df = self.study.read_table(self.spec["data"])
            feats = [f for f in self.spec["features"] if f in df.columns]
            for f in feats:
                df[f] = pd.to_numeric(df[f].astype("Float64"), errors="coerce").astype(float)
            self._data = df.dropna(subset=feats).reset_index(drop=True)
            self.features = feats
        return self._data

    def _yearly(self) -> pd.DataFrame:
        """City x service x year means: the unit of the mixed model and the drivers analysis."""
        df = self.data()
        if not self.spec.get("yearly") or "period" not in df:
            return df
        df = df.assign(year=df["period"].str.slice(0, 4).astype(int))
        keys = ["city_id", "service_id", "year"]
        cols = [*self.features, *self.spec["outcomes"]]
        return df.groupby(keys, as_index=False)[cols].mean()

    def sections(self) -> list[Section]:
        if self.spec["data"] not in self.study.tables:
            return [
                unavailable(
                    "what_works", "What works", "the study has no service-level table to analyse"
                )
            ]
        self.data()
        if not self.features:
            return [unavailable("what_works", "What works", "the data records no service features")]
        return self._collect([self.fe(), self.mixed(), self.drivers(), self.side_by_side()])

    def fe(self) -> Section:
        title = "Fixed-effects regressions"
        try:
            from ucc_research.impact import fe_regression

            rows = []
            for y in self.spec["outcomes"]:
                d = self.data().dropna(subset=[y])
                rhs = " + ".join(self.features)
                fe = f" | {self.spec['fe']}" if self.spec.get("fe") else ""
                fit = fe_regression(
                    d, f"{y} ~ {rhs}{fe}", cluster=self.spec["cluster"], bootstrap=None
                )
                t = fit.tidy()
                t.insert(0, "outcome", y)
                rows.append(t)
            self._fe = pd.concat(rows, ignore_index=True)
        except Exception as exc:  # shown as one sentence, the other sections go on
            return _failed("fe", title, exc)
        import seaborn as sns

        tab = self._fe[["outcome", "term", "estimate", "se", "ci_low", "ci_high"]]
        fig, axes = None, None
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(self.spec["outcomes"]), figsize=(10, 4), squeeze=False)
        for ax, y in zip(axes[0], self.spec["outcomes"]):
            t = tab[tab["outcome"] == y]
            sns.pointplot(data=t, x="estimate", y="term", linestyle="none", ax=ax)
            ax.hlines(t["term"], t["ci_low"], t["ci_high"], color="0.5")
            ax.axvline(0, color="k", lw=0.8)
            ax.set_title(f"Effect on {y} (95% CI)")
            ax.set_xlabel(f"change in {y} when the feature is on ({self._unit(y)})")
            ax.set_ylabel("feature")
        fig.tight_layout()
        self.used.append("fe")
        return Section(
            "fe",
            title,
            f"Fixed effects: {_md_escape(self.spec.get('fe') or 'none')}; standard errors "
            f"clustered by {_md_escape(self.spec['cluster'])}.",
            table=tab,
            figure=fig,
            results={"table": tab.to_dict(orient="records")},
        )

    def _unit(self, y: str) -> str:
        return {"digital_share": "share, 0-1", "satisfaction": "points, 0-100"}.get(y, "units of y")

    def mixed(self) -> Section:
        title = "Mixed model: random intercepts per group"
        try:
            from ucc_research.impact import mixed_model

            d = self._yearly()
            rows, iccs = [], {}
            for y in self.spec["outcomes"]:
                res = mixed_model(
                    d.dropna(subset=[y]),
                    f"{y} ~ {' + '.join(self.features)}",
                    groups=self.spec["groups"],
                )
                t = res.tidy()
                t.insert(0, "outcome", y)
                rows.append(t)
                icc = getattr(res, "icc", None)
                iccs[y] = icc.to_dict() if hasattr(icc, "to_dict") else icc
            self._mixed = pd.concat(rows, ignore_index=True)
        except Exception as exc:
            return _failed("mixed", title, exc)
        self.used.append("mixed")
        return Section(
            "mixed",
            title,
            f"A random intercept per {_md_escape(self.spec['groups'])}, fitted on "
            + ("city x service x year means" if self.spec.get("yearly") else "every row")
            + "; the intra-class correlation (ICC) is the share of the variance between "
            "groups.",
            table=self._mixed,
            results={"table": self._mixed.to_dict(orient="records"), "icc": iccs},
        )

    def drivers(self) -> Section:
        title = "Drivers: gradient boosting and permutation importance"
        try:
            from ucc_research.impact import drivers_analysis

            d = self._yearly()
            y = self.spec["outcomes"][0]
            n_groups = d[self.spec["groups"]].nunique()
            res = drivers_analysis(
                d,
                y,
                self.features,
                groups=self.spec["groups"],
                cv=min(5, n_groups),
                seed=0,
                n_repeats=3,
            )
            self._drivers = res.tidy()
            axes = res.plot()  # importance beside the FE coefficients
            fig = axes[0].figure
            fig.suptitle(f"Drivers of {y}: permutation importance and FE estimates")
            fig.tight_layout()
        except Exception as exc:
            return _failed("drivers", title, exc)
        self.used.append("drivers")
        return Section(
            "drivers",
            title,
            "How much the out-of-sample fit of a gradient-boosting model of "
            f"{_md_escape(y)} drops when a feature is shuffled (folds grouped by "
            f"{_md_escape(self.spec['groups'])}).",
            table=self._drivers,
            figure=fig,
            results={"table": self._drivers.to_dict(orient="records")},
        )

    def side_by_side(self) -> Section:
        title = "Side by side"
        if not hasattr(self, "_fe"):
            return unavailable("side_by_side", title, "the fixed-effects regression is missing")
        y = self.spec["outcomes"][0]
        t = self._fe[self._fe["outcome"] == y].set_index("term")[["estimate"]]
        t.columns = ["FE estimate"]
        if hasattr(self, "_mixed"):
            m = self._mixed[self._mixed["outcome"] == y].set_index("term")
            t["mixed estimate"] = m["estimate"].reindex(t.index)
        if hasattr(self, "_drivers"):
            t["drivers importance"] = self._drivers.set_index("term")["importance"].reindex(t.index)
        t = t.reset_index()
        self.results["headline"] = {
            "strongest feature": str(t.loc[t["FE estimate"].idxmax(), "term"])
        }
        return Section(
            "side_by_side",
            title,
            f"The three views of {_md_escape(y)}: the fixed-effects estimate compares within "
            f"{_md_escape(self.spec.get('fe') or 'the whole sample')}; the mixed model pools "
            "within and between groups; the drivers analysis makes no linearity assumption.",
            table=t,
            results={"table": t.to_dict(orient="records")},
        )


# --- transfer impact ----------------------------------------------------------------------------


class TransferImpact(CrossReport):
    """Staggered DiD event study, TWFE against Callaway & Sant'Anna with the Goodman-Bacon
    decomposition, and a synthetic control for one adopting city."""

    name = "Transfer impact"

    def __init__(self, study, shared_dir=None, synth_city: str = "", outcome="digital_share"):
        super().__init__(study, shared_dir, synth_city=synth_city, outcome=outcome)
        self.outcome = outcome
        self.synth_city = synth_city

    def sections(self) -> list[Section]:
        if "service_panel" not in self.study.tables:
            return [unavailable("transfer", "Transfer impact", "the study has no service panel")]
        panel = self.study.read_table("service_panel")
        services = analysis.transferred_services(panel)
        if not services:
            return [
                unavailable(
                    "transfer",
                    "Transfer impact",
                    "no city in the data adopted a transferred good practice",
                )
            ]
        self.service = services[0]
        self.tp = analysis.transfer_panel(panel, self.service)
        return self._collect([self.event_study(), self.twfe_vs_cs(), self.synth()])

    def event_study(self) -> Section:
        title = f"Event study: {self.service}"
        try:
            from ucc_research.impact import att_gt_heatmap, event_study_plot, staggered_did

            res = staggered_did(self.tp, self.outcome, "city_id", "year", "cohort")
            self._cs = res
            simple, dyn = res.aggregate("simple"), res.aggregate("dynamic")
            import matplotlib.pyplot as plt

            fig, axes = plt.subplots(1, 2, figsize=(12, 4))
            event_study_plot(
                dyn, ax=axes[0], title=f"Effect on {self.outcome} by years since adoption"
            )
            axes[0].set_xlabel("years since adoption")
            axes[0].set_ylabel(f"ATT on {self.outcome}")
            att_gt_heatmap(res, ax=axes[1])
            axes[1].set_title("ATT(g, t): cohort x year")
            fig.tight_layout()
        except Exception as exc:
            return _failed("event_study", title, exc)
        self.used.append("transfer")
        pre = analysis.pretrend_check(res)
        res_d = {
            "att": simple.overall_att,
            "se": simple.overall_se,
            "dynamic": dyn.table.to_dict(orient="records"),
            "pretest": pre,
        }
        self.results["headline"] = {"ATT": simple.overall_att, "SE": simple.overall_se}
        if pre["p"] is None:
            pre_text = f"No pre-trend test: {_md_escape(pre['reason'])}."
        else:
            pre_text = (
                f"Pre-trend Wald test (all {pre['df']} pre-adoption ATT(g, t) zero): "
                f"W = {pre['W']:.2f}, p = {pre['p']:.4f}."
            )
            if pre["caution"]:
                pre_text += (
                    f" Read it with caution: the smallest adopting cohort has "
                    f"{pre['smallest_cohort']} units, and with so few units per cohort the test "
                    "rejects true parallel trends far more often than its nominal level. The "
                    "pre-adoption points of the event study (left of zero) are the better check: "
                    "they should scatter around zero with intervals that cover it."
                )
        return Section(
            "event_study",
            title,
            f"Average effect on adopters of {_md_escape(self.outcome)}: "
            f"**{simple.overall_att:.4f}** (SE {simple.overall_se:.4f}), Callaway & Sant'Anna, "
            "never-adopting cities as controls.\n\n" + pre_text,
            table=dyn.table,
            figure=fig,
            results=res_d,
        )

    def twfe_vs_cs(self) -> Section:
        title = "TWFE against Callaway & Sant'Anna, with the Goodman-Bacon decomposition"
        try:
            from ucc_research.impact import bacon_decomposition, twfe

            tw = twfe(self.tp, self.outcome, "city_id", "year", cohort="cohort")
            bacon = bacon_decomposition(self.tp, self.outcome, "city_id", "year", cohort="cohort")
            by_type = (
                bacon.groupby("type")
                .apply(
                    lambda g: pd.Series(
                        {
                            "weight": g["weight"].sum(),
                            "avg_estimate": (g["weight"] * g["estimate"]).sum() / g["weight"].sum(),
                        }
                    ),
                    include_groups=False,
                )
                .reset_index()
            )
            tw_t = tw.tidy()
        except Exception as exc:
            return _failed("twfe", title, exc)
        coef = float(tw_t["estimate"].iloc[0])
        cs = self._cs.aggregate("simple").overall_att if hasattr(self, "_cs") else float("nan")
        self.used.append("twfe")
        return Section(
            "twfe",
            title,
            f"TWFE coefficient **{coef:.4f}** against C&S **{cs:.4f}**. The TWFE coefficient "
            "is a weighted average of all 2x2 comparisons below; comparisons that use "
            "already-treated cities as controls bias it when effects grow over time.",
            table=by_type,
            results={
                "twfe": coef,
                "cs_simple": cs,
                "bacon": bacon.to_dict(orient="records"),
                "bacon_sum": float((bacon["weight"] * bacon["estimate"]).sum()),
            },
        )

    def synth(self) -> Section:
        title = "Synthetic control"
        cohorts = self.tp.groupby("city_id")["cohort"].first()
        city = self.synth_city or (
            cohorts[cohorts > 0].sort_values().index[0] if (cohorts > 0).any() else ""
        )
        if city not in cohorts.index or cohorts.get(city, 0) == 0:
            return unavailable("synth", title, f"{city!r} did not adopt the practice")
        try:
            from ucc_research.impact import synthetic_control

            donors = cohorts[cohorts == 0].index.tolist()
            res = synthetic_control(
                self.tp,
                self.outcome,
                "city_id",
                "year",
                treated=city,
                treatment_time=int(cohorts[city]),
                donors=donors,
                seed=0,
            )
            ax = res.plot()
            fig = ax.figure if hasattr(ax, "figure") else ax
            w = res.weights[res.weights > 1e-3].sort_values(ascending=False)
        except Exception as exc:
            return _failed("synth", title, exc)
        self.used.append("synth")
        return Section(
            "synth",
            title,
            f"{_md_escape(city)} against a weighted mix of never-adopting cities "
            f"(pre-treatment RMSPE {res.pre_rmspe:.4f}); post-adoption average gap "
            f"**{float(res.att):.4f}**.",
            table=w.rename("weight").reset_index(),
            figure=fig,
            results={
                "city": city,
                "att": float(res.att),
                "pre_rmspe": float(res.pre_rmspe),
                "weights": w.to_dict(),
            },
        )


# --- index robustness ---------------------------------------------------------------------------


class IndexRobustness(CrossReport):
    """Coherence of the framework, sensitivity indices and every unit's rank interval."""

    name = "Index robustness"

    def __init__(self, study, shared_dir=None, sensitivity_n: int = 64):
        super().__init__(study, shared_dir, sensitivity_n=sensitivity_n)
        self.sensitivity_n = sensitivity_n

    def sections(self) -> list[Section]:
        fw = self.study.framework
        if not fw.get("data"):
            return [
                unavailable(
                    "index", "Index robustness", "the study has no composite indicator framework"
                )
            ]
        from ucc_research.indicators import build

        self.coin = build(
            self.study.read_table(fw["data"]), self.study.read_table(fw["meta"]), fw.get("spec")
        )
        return self._collect([self.coherence(), self.sensitivity(), self.intervals()])

    def coherence(self) -> Section:
        title = "Statistical coherence"
        try:
            from ucc_research.indicators.coherence import coherence

            res = coherence(self.coin, level=1)
        except Exception as exc:
            return _failed("coherence", title, exc)
        self.used.append("coherence")
        return Section(
            "coherence",
            title,
            f"Cronbach's alpha per aggregate; {len(res.flags)} flagged pair(s) "
            "(negative or redundant correlations) listed in the results.",
            table=res.alpha,
            results={
                "alpha": res.alpha.to_dict(orient="records"),
                "flags": res.flags.to_dict(orient="records"),
            },
        )

    def sensitivity(self) -> Section:
        title = "Sensitivity analysis"
        try:
            from ucc_research.indicators.uncertainty import sensitivity_analysis

            res = sensitivity_analysis(self.coin, n=self.sensitivity_n, seed=1, n_boot=50)
            tab = res.sensitivity
        except Exception as exc:
            return _failed("sensitivity", title, exc)
        self.used.append("sensitivity")
        return Section(
            "sensitivity",
            title,
            "First-order (Si) and total (STi) sensitivity indices of the mean absolute rank "
            "shift to each uncertain choice (Saltelli 2010 / Jansen estimators).",
            table=tab,
            results={"table": tab.to_dict(orient="records")},
        )

    def intervals(self) -> Section:
        title = "Rank intervals of every unit"
        if not (self.shared.dir / "rank_intervals.parquet").is_file():
            return unavailable("intervals", title, "the study runs no uncertainty analysis")
        ri = self.shared.table("rank_intervals")
        if "Time" in ri:
            ri = ri[ri["Time"] == ri["Time"].max()]
        ri = ri.sort_values("nominal_rank")
        fig, ax = _fig(
            "Nominal rank and 5-95% interval",
            "rank (1 = best)",
            "unit",
            height=max(3, 0.25 * len(ri)),
        )
        ax.hlines(ri["uCode"], ri["q05"], ri["q95"], color="0.6", lw=4, label="5-95% interval")
        ax.plot(ri["nominal_rank"], ri["uCode"], "o", color="C3", label="nominal rank")
        ax.invert_yaxis()
        ax.legend()
        fig.tight_layout()
        self.used.append("uncertainty")
        return Section(
            "intervals",
            title,
            "",
            table=ri,
            figure=fig,
            results={"table": ri.to_dict(orient="records")},
        )


# --- data quality -------------------------------------------------------------------------------


class DataQuality(CrossReport):
    """What was read, kept and quarantined for the study's tables, and why."""

    name = "Data quality"

    def sections(self) -> list[Section]:
        return self._collect([self.files(), self.quarantine()])

    def _wanted_sources(self) -> set[str]:
        """Sources the study's row filters select (empty: every source of its tables)."""
        return {
            v
            for f in self.study.filters.values()
            for v in (f.get("source") if isinstance(f.get("source"), list) else [f.get("source")])
            if v
        }

    def files(self) -> Section:
        title = "Files read"
        path = config.processed_dir() / "quality.json"
        if not path.is_file():
            return unavailable("files", title, "quality.json is missing; run `ucc prepare`")
        q = json.loads(path.read_text(encoding="utf-8"))
        wanted = self._wanted_sources()
        rows = []
        for src, info in q.get("sources", {}).items():
            tables = set(info.get("tables", []))
            if wanted and src not in wanted:
                continue
            if not wanted and not tables & set(self.study.tables):
                continue
            for f, fi in info.get("files", {}).items():
                rows.append(
                    {
                        "source": src,
                        "file": f,
                        "rows read": fi["rows_in"],
                        "kept": fi["rows_kept"],
                        "quarantined": fi["rows_quarantined"],
                        "synthetic": bool(info.get("synthetic")),
                    }
                )
        tab = pd.DataFrame(rows)
        if tab.empty:
            return unavailable("files", title, "no source of this study is in quality.json")
        self.results["headline"] = {
            "rows read": int(tab["rows read"].sum()),
            "quarantined": int(tab["quarantined"].sum()),
        }
        return Section(
            "files",
            title,
            "Every row read is either kept or quarantined (rows read = kept + quarantined).",
            table=tab,
            results={"table": tab.to_dict(orient="records")},
        )

    def quarantine(self) -> Section:
        title = "Quarantined rows and why"
        frames = []
        for t in self.study.tables:
            p = config.processed_dir() / "quarantine" / f"{t}.parquet"
            if p.is_file():
                frames.append(pd.read_parquet(p))
        q = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        wanted = self._wanted_sources()
        if wanted and not q.empty:  # tables shared by several sources: only the study's
            q = q[q["source"].isin(wanted)]
        if q.empty:
            return Section(
                "quarantine",
                title,
                "No row of the study's tables was quarantined.",
                results={"n": 0},
            )
        tab = (
            q.groupby(["table", "column", "reason"], dropna=False)
            .size()
            .rename("rows")
            .reset_index()
            .sort_values("rows", ascending=False)
        )
        return Section(
            "quarantine",
            title,
            "Problems by table, column and reason.",
            table=tab,
            results={"n": int(len(q)), "by_reason": tab.to_dict(orient="records")},
        )
