"""Parts every report shares: its title, "About this report" (provenance) and its Methods."""

from __future__ import annotations

from ucc_research.reports.context import ReportContext
from ucc_research.reports.display import Group, Text, esc

#: Method notes shown at the end of a report, keyed by the method a section used.
METHODS: dict[str, str] = {
    "official": (
        "<strong>Published figures.</strong> Where the source publishes scores, they are the "
        "headline, reproduced here by the source's own rule from the published inputs; a "
        "rebuilt index is shown beside them with the difference explained."
    ),
    "index": (
        "<strong>Composite index.</strong> The indicators are denominated, imputed, treated "
        "for outliers, normalised and aggregated as the study's build spec says, following the "
        "OECD/JRC Handbook on Constructing Composite Indicators (2008) and the COINr package "
        "(Becker et al., 2022). Rank 1 is best; ties share the better rank."
    ),
    "uncertainty": (
        "<strong>Rank interval.</strong> The index was rebuilt many times with its uncertain "
        "choices varied at random (weights, normalisation, aggregation, as the study says; "
        "fixed seed); the 5-95% interval is the range of ranks the unit took in the middle 90% "
        "of those builds (Saisana, Saltelli and Tarantola, 2005), rounded outwards to whole "
        "ranks. A wide interval means the rank depends on choices that could reasonably have "
        "been made differently."
    ),
    "profile": (
        "<strong>Profile, strengths and weaknesses.</strong> Each pillar and indicator score "
        "is compared with the mean of all units and of the peer group; strengths and "
        "weaknesses are the indicators with the best and worst ranks (COINr "
        "<code>get_str_weak</code>)."
    ),
    "trend": (
        "<strong>Trend.</strong> Digital share pools transactions over the city's services "
        "(digital / all transactions) in each month."
    ),
    "services": (
        "<strong>Services against other cities.</strong> Each service's digital share pools "
        "the last 12 months of transactions; it is compared with the middle half (25th-75th "
        "percentile) of the other cities offering the same service. Shares behind fewer than "
        "30 transactions, and bands behind fewer than 3 other cities, are withheld."
    ),
    "inclusion": (
        "<strong>Inclusion.</strong> Take-up gaps are differences in the share of people using "
        "the digital channel, pooled over services: people aged 65+ minus those aged 35-64, "
        "women minus men, in percentage points. Negative numbers mean the first group lags."
    ),
    "transfer": (
        "<strong>Transferred practices.</strong> The effect of adopting a practice transferred "
        "from another city is the average effect on adopters (ATT) from the staggered "
        "difference-in-differences estimator of Callaway and Sant'Anna (2021), doubly robust, "
        "comparing adopters with cities that never adopted, on the city x year panel; 95% "
        "confidence intervals from the influence function. It is an effect under the "
        "assumption of parallel trends: without adoption, adopters' outcomes would have moved "
        "like those of the cities that never adopted."
    ),
    "fe": (
        "<strong>Fixed-effects regressions.</strong> A linear regression of each outcome on "
        "the features, with the fixed effects named absorbing stable differences between their "
        "groups; standard errors clustered as stated (pyfixest, fixest's CRV1; Bergé, 2018). "
        "Observational: associations, not effects."
    ),
    "mixed": (
        "<strong>Mixed model.</strong> A linear mixed model with a random intercept per group "
        "(statsmodels MixedLM, REML; Laird and Ware, 1982). It pools variation within and "
        "between groups: more precise than the fixed-effects regression, but biased when "
        "features go with unmeasured group traits, so it is a secondary check."
    ),
    "drivers": (
        "<strong>Drivers analysis.</strong> A gradient-boosting model (scikit-learn) predicts "
        "the outcome from the features; a feature's permutation importance is how much the "
        "cross-validated fit drops when its values are shuffled (Breiman, 2001), with folds "
        "that keep each group together. Importance is predictive, not causal."
    ),
    "ri": (
        "<strong>Randomisation inference.</strong> With fewer than 30 cities per adoption "
        "cohort, the analytic intervals and the Wald pre-test are too optimistic. The report "
        "then permutes the adoption cohorts across cities (999 draws, fixed seed) and compares "
        "the estimate with its permutation distribution; the test is exact when adoption "
        "timing is as good as random across cities (Fisher; see benchmarks/sim_ri.py: pre-test "
        "size 4.3% at the 5% level with 36 cities in 4 cohorts)."
    ),
    "estimators": (
        "<strong>Other designs.</strong> Synthetic difference-in-differences (Arkhangelsky et "
        "al., 2021) weights both comparison cities and pre-adoption years; the augmented "
        "synthetic control (Ben-Michael, Feller and Rothstein, 2021) corrects a synthetic "
        "control's imperfect fit with a ridge regression. Both stay right when an adopter lies "
        "outside the range of the comparison cities, where plain synthetic control does not."
    ),
    "twfe": (
        "<strong>TWFE and the Goodman-Bacon decomposition.</strong> The two-way fixed-effects "
        "coefficient is a weighted average of every 2x2 difference-in-differences in the data, "
        "including comparisons of later adopters with earlier ones (Goodman-Bacon, 2021); where "
        "effects grow over time those comparisons pull it away from Callaway and Sant'Anna."
    ),
    "synth": (
        "<strong>Synthetic control.</strong> One adopting city is compared with a weighted mix "
        "of cities that never adopted, the weights chosen to match its outcome before adoption "
        "(Abadie, Diamond and Hainmueller, 2010); the gap after adoption is the estimate, and "
        "its p-value is the share of placebo runs (each never-adopting city treated as if it "
        "had adopted) with a post/pre RMSPE ratio at least as large."
    ),
    "coherence": (
        "<strong>Coherence.</strong> Cronbach's alpha (internal consistency) per aggregate; a "
        "negative alpha means the indicators of that aggregate pull in opposite directions "
        "(OECD/JRC, 2008)."
    ),
    "sensitivity": (
        "<strong>Sensitivity indices.</strong> Variance-based first-order (Si) and total (STi) "
        "indices (Saltelli et al., 2010; Jansen, 1999) of how much each uncertain choice drives "
        "the rank shifts. In theory Si &le; STi; where the estimate says otherwise, the sample "
        "was too small to tell them apart and the numbers are flagged as noise."
    ),
    "quality": (
        "<strong>Data quality.</strong> Every raw row is kept or quarantined with its reason "
        "(<code>ucc prepare</code>); rows read = kept + quarantined."
    ),
}


def title(ctx: ReportContext, text: str, subtitle: str = "") -> Group:
    """The report's title (also the page title) and a line saying what it covers."""
    synthetic = " (SYNTHETIC)" if ctx.study.synthetic else ""
    parts = [Text("{t}{s}", tag="h1", t=text, s=synthetic)]
    if subtitle:
        parts.append(Text("{s}", tag="p", s=subtitle))
    return Group(parts)


def about(ctx: ReportContext) -> Group:
    """Provenance: study, sources (real or SYNTHETIC), parameters, data fingerprint, version."""
    kind = "SYNTHETIC (generated demo data, not real cities)" if ctx.study.synthetic else "real"
    params = "; ".join(f"{k} = {v!r}" for k, v in ctx.parameters.items() if v not in ("", None))
    rows = [
        ("Study", f"{ctx.study.title} ({ctx.study.name})"),
        ("Data", f"{', '.join(ctx.study.sources) or 'n/a'}: {kind}"),
        ("Parameters", params or "defaults"),
        ("Data fingerprint", f"{ctx.fingerprint[:16]} (SHA-256 of the input tables)"),
        ("Package", f"ucc_research {ctx.version}"),
    ]
    items = "".join(f"<li><strong>{esc(k)}:</strong> {esc(v)}</li>" for k, v in rows)
    ctx.record(
        "about",
        {
            "study": ctx.study.name,
            "synthetic": ctx.study.synthetic,
            "data_fingerprint": ctx.fingerprint,
        },
    )
    return Group([_Raw(f'<ul class="ucc-about">{items}</ul>')])


class _Raw:
    """Markup built here from escaped values only (never from data directly)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup


def methods(ctx: ReportContext) -> Group:
    """One plain-words note per method the report used, in the order they were used."""
    notes = [METHODS[k] for k in ctx.used if k in METHODS]
    if not notes:
        return Group([Text("This report shows descriptive tables only.")])
    return Group(
        [_Raw('<div class="ucc-methods">' + "".join(f"<p>{n}</p>" for n in notes) + "</div>")]
    )
