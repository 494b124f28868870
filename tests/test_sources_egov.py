"""EU eGovernment Benchmark 2024 adapter: the official workbook against its published figures."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.cleaning.schemas import validate_frame
from ucc_research.cleaning.sources import egov_benchmark as egov
from ucc_research.errors import DataFileError, SpecError
from ucc_research.indicators.coin import build
from ucc_research.indicators.meta import validate_meta

#: The published scores are already 0-100: aggregate them as they are.
AS_PUBLISHED = {"normalise": {"method": "none"}, "aggregate": {"method": "arith_mean"}}

SHARED = "egov_benchmark_2024"


@pytest.fixture(scope="module")
def result():
    return egov.adapt(config.raw_dir())


@pytest.fixture(scope="module")
def biennial(result):
    return egov.country_scores(result.tables["egov_scores"]).set_index(["country", "year_end"])


def test_eu27_2022_23_published_figures_from_indicator_values(biennial):
    """Published EU27 headline figures of the 2024 report (data 2022+2023): overall 75.8,
    user centricity 93.0, transparency 67.0, rebuilt from the indicator values."""
    eu = biennial.loc[("AVERAGE_EU27", 2023)]
    user_centricity = (6 * eu["1.1"] + 1 * eu["1.2"] + 2 * eu["1.3"]) / 9
    transparency = np.mean([eu["2.1"], eu["2.2"], eu["2.3"]])
    overall = np.mean([user_centricity, transparency, eu["3"], eu["4"]])
    assert round(user_centricity, 1) == 93.0
    assert round(transparency, 1) == 67.0
    assert round(overall, 1) == 75.8


def test_eu27_average_is_the_mean_of_the_27_member_states(biennial):
    b = biennial.xs(2023, level="year_end")
    members = [egov.iso_country(c) for c in egov.EU27]
    np.testing.assert_allclose(
        b.loc[members, list(egov.INDICATORS)].mean(),
        b.loc["AVERAGE_EU27", list(egov.INDICATORS)].astype(float),
        atol=1e-9,
    )


def test_scores_agree_with_shipped_extract(result):
    ours = result.tables["egov_scores"]
    ref = pd.read_csv(
        config.shared_data_dir() / SHARED / "scores_long.csv",
        dtype={"indicator_code": str},
        keep_default_na=False,
        na_values={"value": [""]},
    )
    assert len(ours) == len(ref) == 41363
    keys = ["country_code", "indicator_code", "period_type", "scope", "year_start", "year_end"]
    m = ref.rename(columns={"country": "country_code"}).merge(
        ours, on=keys, how="outer", suffixes=("_ref", ""), indicator=True
    )
    assert (m["_merge"] == "both").all()
    np.testing.assert_allclose(m["value"], m["value_ref"], rtol=0, atol=1e-12)
    assert (m["value_flag"].fillna("") == m["value_flag_ref"]).all()


def test_services_agree_with_shipped_extract_and_readme_means(result):
    ours = result.tables["egov_services"]
    ref = pd.read_csv(config.shared_data_dir() / SHARED / "national_services_2022_2023.csv")
    assert len(ours) == len(ref) == 3296
    assert (ours["country_code"].to_numpy() == ref["country"].to_numpy()).all()
    # the extract kept trailing spaces of 292 service labels; the adapter strips them
    assert (ours["service"].to_numpy() == ref["service"].str.strip().to_numpy()).all()
    assert (ours["applicable"].to_numpy() == (ref["applicable"] == "Yes").to_numpy()).all()
    assert (ours["government_level"].fillna("") == ref["government_level"].fillna("")).all()
    for col in egov.SERVICE_SCORES:
        np.testing.assert_allclose(ours[col], ref[col], rtol=0, atol=1e-12, err_msg=col)
    # README: mean online availability by government level
    by = ours.groupby("government_level")["online_availability"].agg(["mean", "count"])
    assert by.loc["Central"].round(1).tolist() == [92.8, 2480]
    assert by.loc["Regional"].round(1).tolist() == [86.6, 202]
    assert by.loc["Local"].round(1).tolist() == [78.1, 321]


def test_country_codes_and_aggregates(result):
    scores = result.tables["egov_scores"]
    greece = scores[scores["country_code"] == "EL"]
    assert len(greece) > 0 and (greece["country"] == "GR").all()
    agg = scores[scores["unit_type"] == "aggregate"]
    assert set(agg["country_code"]) == {"AVERAGE_EU27", "EU27+"}
    cities = result.tables["cities"]
    assert len(cities) == 37 and "GR" in set(cities["city_id"])
    assert not cities["city_id"].isin(["EL", "AVERAGE_EU27", "EU27+"]).any()
    assert (cities["unit_type"] == "country").all()
    assert not result.tables["iData_egov"]["uCode"].isin(["AVERAGE_EU27", "EU27+"]).any()


def test_indicator_preset_rebuilds_user_centricity_and_transparency(result, biennial):
    meta = result.tables["iMeta_egov"]
    validate_meta(meta)
    assert meta.set_index("iCode").loc[["OA", "MF", "US"], "Weight"].tolist() == [6, 1, 2]
    idata = result.tables["iData_egov"]
    recent = idata[idata["Time"] >= 2021]  # from the 2020-21 biennial on (same method)
    agg = build(recent, meta, AS_PUBLISHED).scores.set_index(["uCode", "Time"])
    pub = biennial.loc[agg.index]
    for code, icode in [("1", "UserCentricity"), ("2", "Transparency")]:
        np.testing.assert_allclose(agg[icode], pub[code], rtol=0, atol=1e-9, err_msg=icode)
    # key enablers are scored at service level by the Benchmark, not as a mean of 3.1-3.4
    assert (agg["KeyEnablers"] - pub["3"]).abs().max() > 1


def test_pillar_preset_rebuilds_published_overall_for_every_country(result, biennial):
    meta = result.tables["iMeta_egov_pillars"]
    validate_meta(meta)
    idata = result.tables["iData_egov_pillars"]
    d = idata[idata["Time"] == 2023]
    assert len(d) == 37
    agg = build(d, meta, AS_PUBLISHED).scores.assign(Time=2023).set_index(["uCode", "Time"])
    np.testing.assert_allclose(agg["Overall"], biennial.loc[agg.index, "0"], rtol=0, atol=1e-9)


def test_conservation_spot_values_and_schemas(result):
    assert result.conservation_problems() == []
    assert len(result.quarantine) == 0
    assert sum(result.rows_in.values()) == 741 + 3296
    s = result.tables["egov_scores"].set_index(
        ["country_code", "indicator_code", "period_type", "scope", "year_start"]
    )
    assert s.loc[("AL", "0", "biennial_average", "all", 2022), "value"] == pytest.approx(
        49.51983361503037, abs=1e-12
    )
    flag = s.loc[("AVERAGE_EU27", "2.3", "biennial_average", "all", 2016)]
    assert np.isnan(flag["value"]) and flag["value_flag"] in {".", "#DIV/0!", ". "}
    for table, kind in [
        ("cities", "cities"),
        ("iData_egov", "iData"),
        ("iMeta_egov", "iMeta"),
        ("iData_egov_pillars", "iData"),
        ("iMeta_egov_pillars", "iMeta"),
    ]:
        _, q = validate_frame(result.tables[table], kind, file=table, source=egov.SOURCE)
        assert q.empty, (table, q)


def _tiny_workbook(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = egov.SCORES_SHEET
    ws.append([])
    ws.append([None, "1. Overall eGovernment Benchmark scores"])
    for _ in range(2):
        ws.append([])
    ws.append([None, None, None, "Overall Score", "Target group", None, "2023 Data collection"])
    ws.append([None, "Country", "Scoring", "Biennial average 2022 + 2023",
               "Business life events 2022 & 2023", "Citizen life events 2022 & 2023",
               "Average (2023)", "Moving (2023)"])  # fmt: skip
    ws.append([None, "EL", "1.1 Online availability", 80.5, 81, ".", 79, "#DIV/0!"])  # row 7
    ws.append([None, "EL", "9.9 Happiness", 1, 1, 1, 1, 1])  # row 8: unknown indicator
    s = wb.create_sheet(egov.SERVICES_SHEET)
    for _ in range(6):
        s.append([])
    s.append([None, *egov._SERVICE_COLUMNS])  # row 7: the header
    good = ["EL", "Moving", "1.1 Register", "Transactional", "National", 2023, "Yes", "No",
            "central", 100, 75, 20, ".", ".", "."]  # fmt: skip
    s.append([None, *good])  # row 8
    bad = list(good)
    bad[9] = "abc"
    s.append([None, *bad])  # row 9: score not a number
    wb.save(path)


def test_bad_workbook_rows_are_quarantined(tmp_path):
    folder = tmp_path / egov.FOLDER
    folder.mkdir()
    _tiny_workbook(folder / egov.WORKBOOK)
    res = egov.read_workbook(tmp_path)
    assert res.conservation_problems() == []
    q = res.quarantine.set_index("table")
    assert q.at["egov_scores", "line"] == 8 and q.at["egov_scores", "value"] == "9.9 Happiness"
    assert q.at["egov_services", "line"] == 9
    assert q.at["egov_services", "column"] == "Online availability"
    assert q.at["egov_services", "value"] == "abc"
    assert q["file"].str.endswith("::" + egov.SERVICES_SHEET).sum() == 1
    scores = res.tables["egov_scores"]
    assert scores["country"].unique().tolist() == ["GR"]
    assert scores.set_index("scope").loc["citizen", "value_flag"] == "."
    le = scores[scores["period_type"] == "life_event"].iloc[0]
    assert (le["scope"], le["year_start"], le["value_flag"]) == ("Moving", 2023, "#DIV/0!")
    assert res.tables["egov_services"]["government_level"].tolist() == ["Central"]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(DataFileError, match="workbook not found"):
        egov.read_workbook(tmp_path)
    with pytest.raises(SpecError, match="level"):
        egov.framework("service")
    with pytest.raises(SpecError, match="no scores for period_type"):
        egov.country_scores(pd.DataFrame(columns=["period_type", "scope"]), period_type="monthly")
