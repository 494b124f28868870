"""Every report kind opened in headless Chromium as a reviewer would, and one run under attack.

The shared SYNTHETIC demo run (``demo_reports`` in conftest) gives one page of each kind; the
hostile run renders reports whose city names and study title are the payloads of
``tests/hostile.py``.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.browser import audit_page
from tests.conftest import DEMO_CITIES
from tests.hostile import PAYLOADS

KINDS = [*DEMO_CITIES[:1], "what_works", "transfer_impact", "index_robustness", "data_quality"]


@pytest.mark.parametrize("stem", KINDS)
def test_each_report_kind_reads_cleanly_in_a_real_browser(demo_reports, chromium, stem):
    summary, _ = demo_reports
    audit = audit_page(summary.out_dir / f"{stem}.html")
    assert audit.problems() == [], audit.summary()
    assert not audit.blocked_requests and not audit.xss_fired and not audit.code_visible
    assert audit.has_id("key-findings")
    assert "Key findings" in audit.text and "About this report" in audit.text
    assert all(i.meaningful for i in audit.images)
    assert audit.images or stem == "data_quality"  # the one report without figures
    assert not audit.broken_links and not audit.overflowing_tables
    hrefs = {link.href for link in audit.links}
    assert "index.html" in hrefs  # back to the study's index
    assert any(h.startswith("csv/") for h in hrefs)  # tables as CSV, and they exist


def test_index_page_is_clean_and_sorts(demo_reports, chromium):
    summary, _ = demo_reports
    audit = audit_page(summary.out_dir / "index.html")
    assert audit.problems() == [], audit.summary()
    assert "Transfer impact" in audit.text and "City reports" in audit.text


def test_a_city_report_prints_as_a_factsheet_of_at_most_four_pages(demo_reports, chromium):
    summary, _ = demo_reports
    page = chromium.browser.new_page()
    page.goto((summary.out_dir / f"{DEMO_CITIES[0]}.html").as_uri())
    pdf = page.pdf(format="A4", print_background=True)
    page.close()
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)  # one page object per printed page
    assert 1 <= len(pages) <= 4


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A demo study whose city names and title are hostile payloads, run by ``ucc run``."""
    import pandas as pd

    from ucc_research import demo
    from ucc_research.cleaning.prepare import prepare
    from ucc_research.reports.runner import run_study

    tmp = tmp_path_factory.mktemp("hostile")
    mp = pytest.MonkeyPatch()
    mp.setenv("UCC_PROCESSED_DIR", str(tmp / "processed"))
    mp.setenv("UCC_OUTPUTS_DIR", str(tmp / "outputs"))
    demo.write_demo(tmp / "raw" / "demo", seed=3, n_cities=8, n_services=3, years=(2018, 2022))
    prepare(tmp / "raw", tmp / "processed", only=["demo"])
    cities = pd.read_parquet(tmp / "processed" / "cities.parquet")
    html = [p.text for p in PAYLOADS if p.kind == "html"]
    cities["name"] = [html[i % len(html)] for i in range(len(cities))]
    cities.to_parquet(tmp / "processed" / "cities.parquet")
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "studies" / "demo.yml").read_text())
    doc["title"] = html[0]
    doc["cities"] = sorted(cities["city_id"])[:2]
    doc["framework"]["uncertainty"] = {"n": 8, "seed": 1}
    doc["notebooks"] = {"cross_city": ["transfer_impact"], "per_city": ["city_report"]}
    path = tmp / "hostile.yml"
    path.write_text(yaml.safe_dump(doc))
    try:
        summary = run_study(path, jobs=1, progress=False)
    finally:
        mp.undo()
    yield summary, cities


@pytest.mark.slow
def test_hostile_names_run_no_script_and_fetch_nothing(hostile_run, chromium):
    summary, cities = hostile_run
    assert summary.ok, [(r["key"], r.get("error")) for r in summary.failed]
    stems = [r["stem"] for r in summary.records.values()] + ["index"]
    for stem in stems:
        audit = audit_page(summary.out_dir / f"{stem}.html")
        assert not audit.xss_fired, (stem, audit.xss_events)
        assert not audit.blocked_requests, (stem, audit.blocked_requests)
        assert not audit.unsafe_markup, (stem, audit.unsafe_markup)
    city = summary.records[next(k for k in summary.records if k.startswith("city:"))]
    audit = audit_page(summary.out_dir / f"{city['stem']}.html")
    name = cities.set_index("city_id").at[city["unit"], "name"]
    assert " ".join(name.split()) in " ".join(audit.text.split())  # shown as text
