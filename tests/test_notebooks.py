"""The shipped notebooks, run by papermill through `ucc run` on a tiny SYNTHETIC demo.

One module-scoped run (2 city reports and the 4 cross-city reports) serves every assertion:
the recorded results must equal what the package computes directly from the same tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from ucc_research.reports import analysis
from ucc_research.reports.runner import run_study

ROOT = Path(__file__).resolve().parents[1]
CITIES = ["DEMO-002", "DEMO-005"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ucc_research import demo
    from ucc_research.cleaning.prepare import prepare

    tmp = tmp_path_factory.mktemp("nb")
    mp = pytest.MonkeyPatch()
    mp.setenv("UCC_PROCESSED_DIR", str(tmp / "processed"))
    mp.setenv("UCC_OUTPUTS_DIR", str(tmp / "outputs"))
    demo.write_demo(tmp / "raw" / "demo", seed=7, n_cities=10, n_services=3, years=(2018, 2022))
    prepare(tmp / "raw", tmp / "processed", only=["demo"])
    doc = yaml.safe_load((ROOT / "studies" / "demo.yml").read_text())
    doc["cities"] = CITIES
    doc["framework"]["uncertainty"] = {"n": 16, "seed": 1}
    doc["parameters"] = {"index_robustness": {"sensitivity_n": 8}}
    study = tmp / "demo.yml"
    study.write_text(yaml.safe_dump(doc))
    summary = run_study(study, jobs=2, progress=False)
    yield summary, doc
    mp.undo()


def _results(summary, stem):
    return json.loads((summary.out_dir / "results" / f"{stem}.json").read_text("utf-8"))


def test_every_report_succeeds_with_banner_and_methods(run):
    summary, _ = run
    assert summary.ok, [(r["key"], r.get("error")) for r in summary.failed]
    assert len(summary.records) == len(CITIES) + 4
    page = (summary.out_dir / "DEMO-002.html").read_text("utf-8")
    assert "SYNTHETIC" in page and "Data fingerprint" in page and "Methods" in page
    assert "def " not in page and "import " not in page  # code hidden
    assert "data:image/png;base64" in page  # figures embedded
    assert page.index("About this report") < page.index("Methods")


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
        assert res["headline"]["score"] == pytest.approx(float(row["UCI"].iloc[0]), abs=1e-12)
        rk = coin.ranks[(coin.ranks["uCode"] == city) & (coin.ranks["Time"] == t)]
        assert res["headline"]["rank"] == int(rk["UCI"].iloc[0])
        r = ri[(ri["uCode"] == city) & (ri["Time"] == t)].iloc[0]
        assert (res["score"]["rank_q05"], res["score"]["rank_q95"]) == (r["q05"], r["q95"])
        shown = (math.floor(r["q05"]), math.ceil(r["q95"]))  # whole ranks, never narrower
        assert (res["headline"]["rank 5%"], res["headline"]["rank 95%"]) == shown
        prof = coin.profile(city, n=3)
        got = {k for k, v in res["profile"].items()}
        assert got == set(prof["iCode"])
        strengths = prof.loc[prof["category"] == "strength", "iCode"].tolist()
        assert res["strengths"]["strengths"] == strengths


def test_services_and_inclusion_equal_direct_computation(run):
    summary, _ = run
    processed = Path(summary.out_dir).parents[1] / "processed"
    panel = pd.read_parquet(processed / "service_panel.parquet")
    takeup = pd.read_parquet(processed / "takeup_by_group.parquet")
    res = _results(summary, "DEMO-005")
    latest = panel.sort_values("period").groupby(["city_id", "service_id"]).tail(1)
    mine = latest[latest["city_id"] == "DEMO-005"].set_index("service_id")
    for service, vals in res["services"].items():
        assert vals["digital share %"] == pytest.approx(100 * mine.at[service, "digital_share"])
        assert vals["satisfaction"] == pytest.approx(mine.at[service, "satisfaction"])
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
    assert res["event_study"]["att"] == pytest.approx(simple.overall_att, rel=1e-10)
    pre = res["event_study"]["pretest"]
    assert (pre["W"], pre["df"], pre["p"]) == pytest.approx(tuple(cs.pretest()), rel=1e-10)
    assert res["event_study"]["se"] == pytest.approx(simple.overall_se, rel=1e-10)
    coef = twfe(tp, "digital_share", "city_id", "year", cohort="cohort").tidy()["estimate"].iloc[0]
    assert res["twfe"]["twfe"] == pytest.approx(coef, rel=1e-10)
    b = bacon_decomposition(tp, "digital_share", "city_id", "year", cohort="cohort")
    assert res["twfe"]["bacon_sum"] == pytest.approx(coef, abs=1e-8)
    assert len(res["twfe"]["bacon"]) == len(b)
    assert np.isfinite(res["synth"]["att"])


def test_cross_city_reports_record_their_analyses(run):
    summary, _ = run
    ww = _results(summary, "what_works")
    terms = {r["term"] for r in ww["fe"]["table"]}
    assert set(analysis.FEATURES) <= terms
    assert ww["headline"]["strongest feature"] in analysis.FEATURES
    rob = _results(summary, "index_robustness")
    assert {"coherence", "sensitivity", "intervals"} <= set(rob)
    dq = _results(summary, "data_quality")
    rows = dq["files"]["table"]
    assert all(r["rows read"] == r["kept"] + r["quarantined"] for r in rows)
    index = (summary.out_dir / "index.html").read_text("utf-8")
    for stem in [*CITIES, "what_works", "transfer_impact", "index_robustness", "data_quality"]:
        assert f'href="{stem}.html"' in index


def test_committed_notebooks_have_no_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
