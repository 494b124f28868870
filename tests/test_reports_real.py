"""Reports on the shipped real data: official figures first, and noise withheld with its reason.

One module-scoped run prepares the UserCentriCities, eGovernment Benchmark and NYC 311 sources
into a temporary folder and renders one unit report of each study (cross-city reports off).
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml

from ucc_research import config
from ucc_research.reports import official
from ucc_research.reports.runner import run_study
from ucc_research.reports.study import load_study

ROOT = config.project_root()


def test_dashboard_reproduces_every_published_percentage():
    pub = pd.read_csv(ROOT / "data/raw/usercentricities/ucc_dashboard_published_scores.csv")
    study = load_study("ucc_dashboard_2022")  # the public path a report takes
    table = official.published_scores(study, "ucc_dashboard_2022").set_index("name")
    assert len(table) == len(pub) == 11
    for r in pub.itertuples(index=False):
        row = table.loc[r.city]
        assert row["published_score"] == r.published_overall_pct
        assert row["published_rank"] == r.published_rank
        assert row["reproduced_score"] == r.published_overall_pct  # the published rule


def test_egov_overall_is_the_published_score_reproduced_by_its_rule(real):
    study = load_study("egov_benchmark_2024")  # reads the tables the fixture prepared
    table = official.published_scores(study, "egov_2024").set_index("uCode")
    assert table.at["FI", "published_score"] == pytest.approx(88.0135, abs=1e-4)
    assert (table["published_score"] - table["reproduced_score"]).abs().max() < 1e-9
    assert table.at["MT", "published_rank"] == 1 and table.at["FI", "name"] == "Finland"
    assert (table["period"] == "2022-23").all()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from ucc_research.cleaning.prepare import prepare

    tmp = tmp_path_factory.mktemp("real")
    mp = pytest.MonkeyPatch()
    mp.setenv("UCC_PROCESSED_DIR", str(tmp / "processed"))
    mp.setenv("UCC_OUTPUTS_DIR", str(tmp / "outputs"))
    prepare(
        ROOT / "data/raw",
        tmp / "processed",
        only=["usercentricities", "egov_benchmark_2024", "nyc_311", "baltimore_311"],
    )
    out = {}
    for name, city in (
        ("ucc_dashboard_2022", "ucc_ghent"),
        ("egov_benchmark_2024", "FI"),
        ("requests_311", "US-NYC"),
    ):
        doc = yaml.safe_load((ROOT / "studies" / f"{name}.yml").read_text("utf-8"))
        doc["notebooks"] = {"per_city": ["city_report"]}
        doc.pop("impact", None)
        if "framework" in doc:
            doc["framework"]["uncertainty"] = {**doc["framework"]["uncertainty"], "n": 16}
        if name == "requests_311":  # Baltimore's 62 months make the trend; NYC's 1 cannot
            doc["tables"] = ["service_panel", "cities"]
        path = tmp / f"{name}.yml"
        path.write_text(yaml.safe_dump(doc))
        summary = run_study(path, jobs=1, progress=False, only=[city])
        assert summary.ok, [(r["key"], r.get("error")) for r in summary.failed]
        stem = city
        out[name] = (
            (summary.out_dir / f"{stem}.html").read_text("utf-8"),
            json.loads((summary.out_dir / "results" / f"{stem}.json").read_text("utf-8")),
        )
    yield out
    mp.undo()


def _findings(page: str) -> str:
    block = re.search(r'id="key-findings".*?</div>', page, re.S).group(0)
    return re.sub(r"<[^>]+>", "", block)


@pytest.mark.slow
def test_dashboard_city_leads_with_its_published_score_and_rank(real):
    page, res = real["ucc_dashboard_2022"]
    first = _findings(page)
    assert "Ghent scores 75 (% of the dashboard's maximum)" in first
    assert "5th (tied)" in first
    assert res["published"]["score"] == 75 and res["published"]["rank"] == 5
    assert res["headline"]["published score"] == 75
    assert "Why the two differ" in page  # the rebuilt index is beside it, explained
    assert first.index("5th (tied)") < first.index("The study's own build")


@pytest.mark.slow
def test_egov_country_leads_with_the_published_overall(real):
    page, res = real["egov_benchmark_2024"]
    assert "Finland scores 88.01 (0-100) in the EU eGovernment Benchmark" in _findings(page)
    assert res["published"]["score"] == pytest.approx(88.0135, abs=1e-4)
    assert "<title>Finland</title>" in page
    assert "0 Overall" not in _findings(page)


@pytest.mark.slow
def test_sections_below_the_minimum_are_withheld_with_their_reason(real):
    page, res = real["requests_311"]
    assert "trend" not in res  # one month of NYC data: no trend drawn
    assert re.search(
        r"Not shown:</strong> New York City has 1 month\(s\) with at least 30 "
        r"transactions; a trend needs 12",
        page,
    )
    for row in res["services"]:  # every share shown rests on at least 30 requests
        if row["digital share %"] is not None:
            assert row["transactions"] >= 30
        if row["others p25"] is not None:
            assert row["other cities"] >= 3
    assert "went from" not in page
