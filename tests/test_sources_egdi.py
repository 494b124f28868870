"""UN EGDI adapter: names joined to ISO codes, nothing dropped, EGDI = mean of its components."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from ucc_research import config
from ucc_research.cleaning.sources import egdi

FILES = [f"egdi/egdi-{y}.csv" for y in egdi.CODED_YEARS] + [
    "egdi/EGOV_DATA_2022.csv",
    "egdi/EGOV_DATA_2024_modified.csv",
]


@pytest.fixture(scope="module")
def result():
    return egdi.adapt(config.raw_dir())


@pytest.fixture(scope="module")
def table(result):
    return result.tables["egdi"]


def test_egdi_is_the_mean_of_osi_tii_hci(table):
    """EGDI = (OSI + TII + HCI)/3 within the published rounding for 2012-2024 (0.34/0.33/0.33
    in 2010). The only exceptions are the three countries published with EGDI 0 in 2012
    although their TII and HCI are positive (their OSI is 0)."""
    gaps = egdi.identity_gaps(table, tol=1e-4)
    assert set(zip(gaps["iso3"], gaps["year"], strict=True)) == {
        ("CAF", 2012),
        ("GIN", 2012),
        ("LBY", 2012),
    }
    assert (gaps["egdi"] == 0).all() and (gaps["osi"] == 0).all()
    # equal thirds do not fit 2010 (hence the documented weights)
    y2010 = table[table["year"] == 2010].dropna(subset=["egdi", "osi", "tii", "hci"])
    thirds = (y2010["egdi"] - y2010[["osi", "tii", "hci"]].mean(axis=1)).abs()
    assert thirds.max() > 3e-3


def test_every_edition_complete_and_joined_to_codes(table):
    assert table.groupby("year").size().to_dict() == {
        y: 193 for y in (2010, 2012, 2014, 2016, 2018, 2022, 2024)
    }
    assert table["iso3"].notna().all() and table["iso2"].notna().all()
    assert not table["country"].str.endswith(" ").any()
    assert "Region" not in table.columns and "region" not in table.columns
    # the same 193 countries in every edition, incl. the renamed ones
    per_year = table.groupby("year")["iso3"].apply(frozenset)
    assert per_year.nunique() == 1
    t = table.set_index(["iso3", "year"])
    assert (
        t.at[("TUR", 2024), "country"] == "Türkiye" and t.at[("TUR", 2018), "country"] == "Turkey"
    )
    assert t.at[("MKD", 2022), "iso2"] == "MK"
    assert t.at[("GRC", 2024), "iso2"] == "GR" and t.at[("DEU", 2010), "iso2"] == "DE"


def test_spot_values_from_the_files(table):
    t = table.set_index(["iso3", "year"])
    ireland22 = t.loc[("IRL", 2022)]
    assert ireland22["egdi"] == 0.8567 and ireland22["rank"] == 30 and ireland22["tii"] == 0.8287
    ireland24 = t.loc[("IRL", 2024)]
    assert ireland24["egdi"] == 0.91377 and ireland24["rank"] == 20 and ireland24["epi"] == 0.9178
    assert t.at[("IRQ", 2010), "rank"] == 136  # "136.0" in the 2010 file
    assert str(table["rank"].dtype) == "Int64"
    # 2010 has empty cells: kept as missing, not dropped (South Sudan was not yet surveyed)
    assert pd.isna(t.at[("KIR", 2010), "hci"]) and t.at[("KIR", 2010), "egdi"] == 0
    assert t.loc[("SSD", 2010), ["egdi", "osi", "hci", "tii", "epi", "rank"]].isna().all()


def test_conservation(result):
    assert result.conservation_problems() == []
    assert set(result.rows_in) == set(FILES)
    assert all(n == 193 for n in result.rows_in.values())
    assert len(result.quarantine) == 0


def test_unmatched_name_is_quarantined_not_dropped(tmp_path):
    shutil.copytree(config.raw_dir() / "egdi", tmp_path / "egdi")
    path = tmp_path / "egdi" / "EGOV_DATA_2022.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '2022,"Atlantis ",12,0.5,0.5,0.5,0.5,0.5\n', encoding="utf-8")
    res = egdi.adapt(tmp_path)
    q = res.quarantine
    assert len(q) == 1
    row = q.iloc[0]
    assert (row["file"], int(row["line"]), row["column"]) == (
        "egdi/EGOV_DATA_2022.csv",
        195,
        "country",
    )
    assert row["value"] == "Atlantis " and "no ISO code" in row["reason"]
    assert res.rows_in["egdi/EGOV_DATA_2022.csv"] == 194
    assert res.conservation_problems() == []


def test_bad_values_are_quarantined(tmp_path):
    shutil.copytree(config.raw_dir() / "egdi", tmp_path / "egdi")
    path = tmp_path / "egdi" / "egdi-2018.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("0.3376", "1.3376", 1)  # Iraq's EGDI above 1
    lines[2] = "XXX" + lines[2][3:]  # not an ISO3 code
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = egdi.adapt(tmp_path)
    q = res.quarantine.set_index("line")
    assert q.at[2, "column"] == "egdi" and q.at[2, "reason"] == "index outside 0-1"
    assert q.at[3, "column"] == "country-code" and q.at[3, "value"] == "XXX"
    assert res.conservation_problems() == []
    assert res.rows_kept["egdi/egdi-2018.csv"] == 191
