"""The shipped notebooks, run by papermill through `ucc run` on a tiny SYNTHETIC demo.

One module-scoped run (2 city reports and the 4 cross-city reports) serves every assertion:
the recorded results must equal what the package computes directly from the same tables.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from tests.conftest import DEMO_CITIES as CITIES
from ucc_research.cleaning.schemas import SERVICE_FEATURES
from ucc_research.errors import SpecError
from ucc_research.reports import analysis

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(demo_reports):
    return demo_reports


def _results(summary, stem):
    return json.loads((summary.out_dir / "results" / f"{stem}.json").read_text("utf-8"))


def test_every_report_succeeds_and_opens_with_its_answer(run):
    summary, _ = run
    assert summary.ok, [(r["key"], r.get("error")) for r in summary.failed]
    assert len(summary.records) == len(CITIES) + 4
    for stem in [*CITIES, "what_works", "transfer_impact", "index_robustness", "data_quality"]:
        page = (summary.out_dir / f"{stem}.html").read_text("utf-8")
        assert "SYNTHETIC" in page and "Data fingerprint" in page and "Methods" in page
        assert "def " not in page and "import " not in page and "show(" not in page  # no code
        assert page.index('id="key-findings"') < page.index('id="Methods"')  # answer first
        assert "<script" not in page and not re.search(r"(src|href)=[\"']?https?:", page)
        assert "No description has been provided" not in page  # every image has real alt text
        assert '<a href="index.html">' in page  # back to the study's index
    city = (summary.out_dir / "DEMO-002.html").read_text("utf-8")
    name = _results(summary, "DEMO-002")["name"]
    assert f"<title>{name} (SYNTHETIC)</title>" in city  # the page is titled by the city's name
    assert "data:image/png;base64" in city


def test_city_results_equal_the_package(run):
    from ucc_research.indicators import build
    from ucc_research.indicators.uncertainty import rank_intervals

    summary, doc = run
    fw = doc["framework"]
    idata = pd.read_parquet(Path(summary.out_dir).parents[1] / "processed" / "iData_demo.parquet")
    imeta = pd.read_parquet(Path(summary.out_dir).parents[1] / "processed" / "iMeta_demo.parquet")
    coin = build(idata, imeta, fw["spec"])
    ri = rank_intervals(coin, n=16, seed=1)
    t = coin.scores["Time"].max()
    for city in CITIES:
        res = _results(summary, city)
        assert res["city"] == city
        row = coin.scores[(coin.scores["uCode"] == city) & (coin.scores["Time"] == t)]
        assert res["score"]["score"] == pytest.approx(float(row["UCI"].iloc[0]), abs=1e-12)
        assert res["headline"]["score"] == res["score"]["score"]
        rk = coin.ranks[(coin.ranks["uCode"] == city) & (coin.ranks["Time"] == t)]
        assert res["headline"]["rank"] == int(rk["UCI"].iloc[0])
        r = ri[(ri["uCode"] == city) & (ri["Time"] == t)].iloc[0]
        assert (res["score"]["rank_q05"], res["score"]["rank_q95"]) == (r["q05"], r["q95"])
        shown = [math.floor(r["q05"]), math.ceil(r["q95"])]  # whole ranks, never narrower
        assert res["score"]["interval"] == shown
        assert res["headline"]["rank interval"] == f"{shown[0]}-{shown[1]}"
        prof = coin.profile(city, n=3)
        assert {r["iCode"] for r in res["profile"]} == set(prof["iCode"])
        strengths = prof.loc[prof["category"] == "strength", "iName"].tolist()
        assert res["strengths"] == strengths
        assert 3 <= len(res["key_findings"]) <= 5


def test_services_and_inclusion_equal_direct_computation(run):
    summary, _ = run
    processed = Path(summary.out_dir).parents[1] / "processed"
    panel = pd.read_parquet(processed / "service_panel.parquet")
    takeup = pd.read_parquet(processed / "takeup_by_group.parquet")
    res = _results(summary, "DEMO-005")
    mine = panel[panel["city_id"] == "DEMO-005"].sort_values("period")
    for row in res["services"]:
        s = mine[mine["service_name"] == row["service"]].tail(12)  # the last 12 months pooled
        share = s["transactions_digital"].sum() / s["transactions_total"].sum()
        if s["transactions_total"].sum() >= 30:
            assert row["digital share %"] == pytest.approx(100 * share)
        assert row["satisfaction"] == pytest.approx(s["satisfaction"].mean())
    # inclusion: pooled shares computed by hand
    last = takeup[(takeup["city_id"] == "DEMO-005") & (takeup["year"] == takeup["year"].max())]
    by_age = last.groupby("age_group")[["digital_users", "population_in_group"]].sum()
    share = by_age["digital_users"] / by_age["population_in_group"]
    assert res["inclusion"]["gap_65_vs_35_64"] == pytest.approx(share["65+"] - share["35-64"])


def test_transfer_impact_equals_the_estimators(run):
    from ucc_research.impact import staggered_did
    from ucc_research.impact.bacon import bacon_decomposition, twfe

    summary, _ = run
    processed = Path(summary.out_dir).parents[1] / "processed"
    panel = pd.read_parquet(processed / "service_panel.parquet")
    tp = analysis.transfer_panel(panel, analysis.transferred_services(panel)[0])
    res = _results(summary, "transfer_impact")
    cs = staggered_did(tp, "digital_share", "city_id", "year", "cohort")
    simple = cs.aggregate("simple")
    assert res["event_study"]["att"] == pytest.approx(simple.estimate, rel=1e-10)
    pre = res["event_study"]["pretest"]
    if pre["p"] is None:  # 10 cities, many pre-adoption cells: the Wald covariance is singular
        with pytest.raises(SpecError, match="singular"):
            cs.pretest()
        assert "singular" in pre["reason"]
    else:
        assert (pre["W"], pre["df"], pre["p"]) == pytest.approx(tuple(cs.pretest()), rel=1e-10)
    assert res["event_study"]["se"] == pytest.approx(simple.std_error, rel=1e-10)
    assert res["headline"]["ATT (pp)"] == pytest.approx(100 * simple.estimate, rel=1e-10)
    coef = twfe(tp, "digital_share", "city_id", "year", cohort="cohort").tidy()["estimate"].iloc[0]
    assert res["twfe"]["twfe"] == pytest.approx(coef, rel=1e-10)
    b = bacon_decomposition(tp, "digital_share", "city_id", "year", cohort="cohort")
    assert sum(r["weight"] * r["estimate"] for r in res["twfe"]["bacon"]) == pytest.approx(
        coef, abs=1e-8
    )
    assert len(res["twfe"]["bacon"]) == len(b)
    synth = res["synth"]
    from ucc_research.impact import choose_synth_unit

    chosen = choose_synth_unit(tp, "digital_share", "city_id", "year", "cohort")
    assert synth["city"] == (chosen.unit or synth["city"]) and np.isfinite(synth["att"])
    assert 0 < synth["placebo_p"] <= 1
    # few cities per cohort: the permutation inference is the one shown, and it is recorded
    ri = res["event_study"]["randomisation_inference"]
    assert ri is not None and 0 < ri["pretest_p"] <= 1 and ri["ci"][0] < simple.estimate
    assert res["headline"]["95% CI low (pp)"] == pytest.approx(100 * ri["ci"][0])
    labels = {r["method"] for r in res["estimators"]}
    assert labels == {"cs", "did", "sc", "sdid", "ascm"}


def test_cross_city_reports_record_their_analyses(run):
    summary, _ = run
    ww = _results(summary, "what_works")
    terms = {r["term"] for r in ww["fe"]}
    assert set(SERVICE_FEATURES) <= terms
    labels = {analysis.feature_label(f) for f in SERVICE_FEATURES}
    assert ww["headline"]["strongest feature"] in labels
    assert "associations, not effects" in " ".join(ww["key_findings"])
    rob = _results(summary, "index_robustness")
    assert {"coherence", "sensitivity", "intervals"} <= set(rob)
    for row in rob["sensitivity"]["table"]:  # noise is flagged exactly when Si > STi
        assert row["noise"] == (row["Si"] > row["STi"] + 1e-12)
    dq = _results(summary, "data_quality")
    rows = dq["files"]
    assert all(r["rows read"] == r["rows kept"] + r["rows quarantined"] for r in rows)
    index = (summary.out_dir / "index.html").read_text("utf-8")
    for stem in [*CITIES, "what_works", "transfer_impact", "index_robustness", "data_quality"]:
        assert f'href="{stem}.html"' in index
    assert ww["headline"]["answer"].split(":")[0] in index  # each report's answer is listed
    for city in CITIES:
        assert f">{_results(summary, city)['name']}</a>" in index  # cities by name


def test_every_table_is_downloadable_as_csv(run):
    summary, _ = run
    page = (summary.out_dir / "DEMO-002.html").read_text("utf-8")
    links = re.findall(r'<a class="ucc-csv"[^>]* href="([^"]+)"', page)
    assert len(links) == page.count('<table class="ucc-table">') and links
    blocks = re.findall(
        r'<table class="ucc-table">(.*?)</table><p class="ucc-tablenote">[^<]*'
        r'<a class="ucc-csv"[^>]* href="([^"]+)"',
        page,
        re.S,
    )
    assert [href for _, href in blocks] == links
    for body, href in blocks:  # the CSV is the table as shown: same columns, same rows
        table = pd.read_csv(summary.out_dir / href)
        head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
        shown = [html.unescape(c) for c in re.findall(r'<th scope="col">(.*?)</th>', head)]
        assert list(table.columns) == shown, href
        assert len(table) == body.split("<tbody>", 1)[1].count("<tr>") > 0, href


def test_committed_notebooks_have_no_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name


def test_notebooks_read_as_the_study():
    """Every section: a Markdown heading and a sentence, then one short cell calling the package."""
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        headings = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## ")]
        assert len(headings) >= 4, path.name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert len(cell.source.splitlines()) <= 6, (path.name, cell.source)
                assert "Markdown(" not in cell.source and "HTML(" not in cell.source, path.name


def test_a_template_run_on_its_own_computes_the_study_cache(run, tmp_path, monkeypatch):
    """As in JupyterLab: no ``ucc run`` before, no shared_dir; the report is still complete."""
    import papermill

    from ucc_research.reports.notebook import ensure_kernel

    summary, _ = run
    study = Path(summary.out_dir).parents[1] / "demo.yml"
    monkeypatch.setenv("UCC_OUTPUTS_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(Path(summary.out_dir).parents[1] / "processed"))
    out = tmp_path / "city.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "city_report.ipynb"),
        str(out),
        parameters={"study": str(study), "city": CITIES[0]},
        kernel_name=ensure_kernel(),
        progress_bar=False,
        cwd=str(ROOT / "notebooks"),  # where the lab runs it
    )
    assert (tmp_path / "fresh" / "demo" / "_shared" / "manifest.json").is_file()
    res = json.loads((tmp_path / "fresh" / "demo" / "results" / f"{CITIES[0]}.json").read_text())
    assert res["score"] == _results(summary, CITIES[0])["score"]  # the same numbers as ucc run
    text = "".join(
        str(o.get("data", {}).get("text/html", ""))
        for c in nbformat.read(str(out), as_version=4).cells
        for o in c.get("outputs", [])
    )
    assert "was not computed" not in text
    assert text.count("Not shown") == 1 and "publishes no official scores" in text  # demo: none
