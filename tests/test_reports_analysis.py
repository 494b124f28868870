"""The report computations (no kernel): study files, transfer panels, inclusion gaps, sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from ucc_research import demo
from ucc_research.errors import SpecError
from ucc_research.reports import analysis
from ucc_research.reports.context import ReportContext
from ucc_research.reports.shared import Shared
from ucc_research.reports.study import load_study


@pytest.fixture(scope="module")
def data():
    return demo.generate(seed=5, n_cities=8, n_services=3, years=(2018, 2021))


def test_transfer_panel_matches_the_demo_reference(data):
    ref = demo.transfer_panel(data)
    service = data.truth["good_practice"]["service_id"]
    mine = analysis.transfer_panel(data.service_panel, service)
    assert mine.attrs["origin"] == data.truth["good_practice"]["origin_city_id"]
    merged = mine.merge(
        ref, left_on=["city_id", "year"], right_on=["unit", "time"], suffixes=("", "_ref")
    )
    assert len(merged) == len(ref) == len(mine)
    assert (merged["cohort"] == merged["cohort_ref"]).all()
    for c in ("digital_share", "satisfaction"):
        np.testing.assert_allclose(merged[c], merged[f"{c}_ref"], rtol=0, atol=1e-12)
    assert analysis.transferred_services(data.service_panel) == [service]


def test_adoption_status_names_adopters_and_origin(data):
    service = data.truth["good_practice"]["service_id"]
    status = analysis.adoption_status(data.service_panel, [service]).set_index("city_id")
    origin = data.truth["good_practice"]["origin_city_id"]
    assert status.at[origin, "is_origin"] and status["is_origin"].sum() == 1
    never = set(data.truth["good_practice"]["never_adopters"])
    assert set(status.index[status["adopted_period"].isna()]) == never


def test_inclusion_gaps_pool_users_over_services():
    takeup = pd.DataFrame(
        {
            "city_id": ["C"] * 6,
            "year": [2020] * 6,
            "service_id": ["s1", "s2", "s1", "s2", "s1", "s1"],
            "age_group": ["65+", "65+", "35-64", "35-64", "18-34", "18-34"],
            "gender": ["female", "female", "male", "male", "female", "male"],
            "population_in_group": [100, 300, 100, 100, 50, 50],
            "digital_users": [10, 90, 50, 70, 40, 30],
        }
    )
    gaps = analysis.inclusion_gaps(takeup).iloc[0]
    # 65+: 100/400 = 0.25; 35-64: 120/200 = 0.6 (pooled, not the mean of 0.1/0.3 and 0.5/0.7)
    assert gaps["gap_65_vs_35_64"] == pytest.approx(0.25 - 0.6)
    # women: (10+90+40)/(100+300+50) ; men: (50+70+30)/(100+100+50)
    assert gaps["gap_female_vs_male"] == pytest.approx(140 / 450 - 150 / 250)


def test_trend_pools_transactions(data):
    panel = data.service_panel
    trend = analysis.city_trend(panel)
    c, p = trend.iloc[3][["city_id", "period"]]
    rows = panel[(panel["city_id"] == c) & (panel["period"] == p)]
    expect = rows["transactions_digital"].sum() / rows["transactions_total"].sum()
    assert trend.iloc[3]["digital_share"] == pytest.approx(expect)
    assert trend.iloc[3]["transactions_total"] == rows["transactions_total"].sum()
    latest = analysis.latest_service_outcomes(panel)
    assert len(latest) == panel.groupby(["city_id", "service_id"]).ngroups
    assert (latest["period"] == panel["period"].max()).all()
    with pytest.raises(SpecError, match="missing columns"):
        analysis.latest_service_outcomes(panel.drop(columns="period"))


def test_study_validation(tmp_path):
    p = tmp_path / "s.yml"
    p.write_text(yaml.safe_dump({"name": "s", "notebook": {"per_city": ["x"]}}))
    with pytest.raises(SpecError, match=r"notebook: unknown key \(did you mean 'notebooks'\?\)"):
        load_study(p)
    p.write_text(yaml.safe_dump({"name": "../x"}))
    with pytest.raises(SpecError, match="name: must be letters"):
        load_study(p)
    p.write_text(yaml.safe_dump({"name": "s", "filters": {"t": "demo"}}))
    with pytest.raises(SpecError, match=r"filters\.t: must be a mapping"):
        load_study(p)
    with pytest.raises(SpecError, match="study file not found"):
        load_study(tmp_path / "missing.yml")


def test_shipped_studies_load_and_name_their_notebooks():
    for name in (
        "demo",
        "ucc_dashboard_2022",
        "egov_benchmark_2024",
        "service_inventory_canada",
        "requests_311",
    ):
        study = load_study(name)
        assert study.name == name
        for nb in (*study.cross_city, *study.per_city):
            assert study.notebook_path(nb).is_file()
    assert load_study("demo").synthetic and not load_study("requests_311").synthetic


def test_results_json_is_strict(tmp_path):
    ctx = ReportContext(None, Shared(tmp_path), "r", tmp_path, {})
    ctx.results.update(a=np.float64(np.inf), b=[np.nan, np.int64(2)], c=-np.inf)
    ctx.save()
    text = (tmp_path / "results" / "r.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert '"a": "inf"' in text and "null" in text and '"c": "-inf"' in text


def test_units_follow_the_study_filters(tmp_path, monkeypatch):
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(tmp_path))
    pd.DataFrame({"city_id": ["A", "B", "C", "A"], "source": ["x", "y", "x", "x"]}).to_parquet(
        tmp_path / "service_panel.parquet"
    )
    p = tmp_path / "s.yml"
    doc = {
        "name": "s",
        "tables": ["service_panel"],
        "filters": {"service_panel": {"source": "x"}},
        "units": {"table": "service_panel", "column": "city_id"},
    }
    p.write_text(yaml.safe_dump(doc))
    assert load_study(p).unit_ids() == ["A", "C"]
    p.write_text(yaml.safe_dump({**doc, "cities": ["A", "B"]}))
    with pytest.raises(SpecError, match=r"cities \['B'\] are not in service_panel.city_id"):
        load_study(p).unit_ids()


def _did_panel(sizes: dict[int, int], periods: int = 5, seed: int = 0) -> pd.DataFrame:
    """Parallel trends hold; ``sizes`` maps cohort (0 = never) to its number of units."""
    rng = np.random.default_rng(seed)
    rows, unit = [], 0
    for cohort, n in sizes.items():
        for _ in range(n):
            level = rng.normal()
            for t in range(1, periods + 1):
                effect = 0.5 if cohort and t >= cohort else 0.0
                rows.append((unit, t, cohort, level + 0.1 * t + effect + rng.normal(scale=0.3)))
            unit += 1
    return pd.DataFrame(rows, columns=["unit", "time", "cohort", "y"])


def test_pretrend_check_reports_the_wald_test_and_when_to_doubt_it():
    from ucc_research.impact import staggered_did

    big = staggered_did(_did_panel({0: 40, 3: 40, 4: 35}), "y", "unit", "time", "cohort")
    chk = analysis.pretrend_check(big)
    assert (chk["W"], chk["df"], chk["p"]) == pytest.approx(tuple(big.pretest()))
    assert chk["smallest_cohort"] == 35 and chk["n_units"] == 115
    assert chk["caution"] is False and chk["reason"] is None

    small = staggered_did(_did_panel({0: 20, 3: 6, 4: 5}), "y", "unit", "time", "cohort")
    chk = analysis.pretrend_check(small)
    assert chk["smallest_cohort"] == 5 and chk["caution"] is True
    assert chk["df"] == small.pretest().df


def test_pretrend_check_without_pre_adoption_cells_says_why():
    from ucc_research.impact import staggered_did

    res = staggered_did(_did_panel({0: 10, 2: 10}), "y", "unit", "time", "cohort")
    chk = analysis.pretrend_check(res)
    assert chk["p"] is None and "no adopting cohort" in chk["reason"]


def test_reports_name_units_from_the_cities_table(tmp_path, monkeypatch):
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(tmp_path))
    pd.DataFrame(
        {"city_id": ["ucc_milan", "X1", "ucc_kyiv"], "name": ["Milan", "X1", "Київ"]}
        | {"source": ["ucc", "ucc", "other"]}
    ).to_parquet(tmp_path / "cities.parquet")
    p = tmp_path / "s.yml"
    doc = {"name": "s", "tables": ["cities"], "filters": {"cities": {"source": "ucc"}}}
    p.write_text(yaml.safe_dump(doc))
    study = load_study(p)
    assert study.unit_names() == {"ucc_milan": "Milan", "X1": "X1"}  # the filter applies
    assert study.unit_display("ucc_milan") == "Milan (ucc_milan)"
    assert study.unit_display("X1") == "X1"  # a name equal to the id is not repeated
    assert study.unit_display("ucc_kyiv") == "ucc_kyiv"  # filtered out: the id alone
    p.write_text(yaml.safe_dump({"name": "s", "tables": []}))
    assert load_study(p).unit_display("ucc_milan") == "ucc_milan"  # no cities table listed


def test_data_quality_counts_only_the_studys_sources(tmp_path, monkeypatch):
    from ucc_research.cleaning.quarantine import problems_frame
    from ucc_research.reports import quality

    monkeypatch.setenv("UCC_PROCESSED_DIR", str(tmp_path))
    (tmp_path / "quarantine").mkdir()
    q = [
        problems_frame(
            source=src,
            table="service_panel",
            file=f"{src}.csv",
            lines=lines,
            columns=["x"] * len(lines),
            values=["?"] * len(lines),
            reasons="bad",
        )
        for src, lines in (("mine", [2, 3]), ("other", [5, 6, 7]))
    ]
    pd.concat(q).to_parquet(tmp_path / "quarantine" / "service_panel.parquet")
    p = tmp_path / "s.yml"
    doc = {"name": "s", "tables": ["service_panel"]}
    p.write_text(yaml.safe_dump(doc))
    ctx = quality.open_report(p, shared_dir=tmp_path)
    quality.quarantined(ctx)
    assert ctx.results["quarantine"]["n"] == 5
    p.write_text(yaml.safe_dump({**doc, "filters": {"service_panel": {"source": "mine"}}}))
    ctx = quality.open_report(p, shared_dir=tmp_path)
    shown = str(quality.quarantined(ctx))
    assert ctx.results["quarantine"]["n"] == 2 and "2 rows quarantined" in shown
