"""The demo source adapter: every row of the SYNTHETIC files is kept or quarantined, typed."""

import numpy as np
import pandas as pd
import pytest

from ucc_research import config, demo
from ucc_research.cleaning.schemas import pandera_schema
from ucc_research.cleaning.sources import get_adapter
from ucc_research.errors import DataFileError

SMALL = {"n_cities": 8, "n_services": 3, "years": (2018, 2021)}


@pytest.fixture()
def small(tmp_path):
    demo.write_demo(tmp_path / "demo", seed=9, **SMALL)
    return tmp_path, demo.generate(seed=9, **SMALL)


def test_small_demo_round_trips_without_loss(small):
    raw, data = small
    res = get_adapter("demo")(raw)
    assert res.synthetic and res.source == "demo"
    assert res.conservation_problems() == [] and len(res.quarantine) == 0
    assert set(res.tables) == {
        "cities",
        "service_panel",
        "takeup_by_group",
        "iData_demo",
        "iMeta_demo",
    }
    assert res.rows_in == res.rows_kept
    assert res.rows_in["demo/demo_synthetic_service_panel.parquet"] == len(data.service_panel)
    for name in ("cities", "service_panel", "takeup_by_group"):
        assert res.tables[name]["synthetic"].all(), name
    sp = res.tables["service_panel"]
    num = ["transactions_total", "transactions_digital", "digital_share", "satisfaction"]
    assert np.array_equal(sp[num].to_numpy(float), data.service_panel[num].to_numpy(float))
    cities = res.tables["cities"]
    assert cities["internet_use"].dtype == "float64"
    assert np.allclose(cities["internet_use"], data.cities["internet_use"])
    tk = res.tables["takeup_by_group"]
    assert tk["population_in_group"].dtype == "int64"
    assert tk["digital_users"].sum() == data.takeup_by_group["digital_users"].sum()
    idata = res.tables["iData_demo"]
    assert np.allclose(
        idata["use_digital"].to_numpy(float), data.idata["use_digital"].to_numpy(float)
    )
    # the declared columns (and, for iData, every indicator column) pass the pandera schemas;
    # the cities schema keeps undeclared columns as text, the adapter types the covariates
    pandera_schema("cities").validate(cities)
    pandera_schema("iMeta").validate(res.tables["iMeta_demo"])
    pandera_schema("iData", list(idata.columns)).validate(idata)


def test_bad_rows_are_quarantined_with_line_column_and_reason(small):
    raw, _ = small
    folder = raw / "demo"
    cities = pd.read_csv(folder / "demo_synthetic_cities.csv", dtype=str, keep_default_na=False)
    cities.loc[1, "country"] = "ZZ"
    cities.loc[3, "internet_use"] = "lots"
    cities.loc[4, "share_65plus"] = "1.5"
    cities = pd.concat([cities, cities.iloc[[6]]], ignore_index=True)  # a duplicated city
    cities.to_csv(folder / "demo_synthetic_cities.csv", index=False)
    tk = pd.read_csv(
        folder / "demo_synthetic_takeup_by_group.csv", dtype=str, keep_default_na=False
    )
    tk.loc[0, "digital_users"] = str(int(tk.loc[0, "population_in_group"]) + 1)
    tk.loc[5, "age_group"] = "80+"
    tk.loc[7, "digital_share"] = "0.9999"
    tk.to_csv(folder / "demo_synthetic_takeup_by_group.csv", index=False)

    res = get_adapter("demo")(raw)
    assert res.conservation_problems() == []
    q = res.quarantine.set_index(["file", "line"])
    qc = q.loc["demo/demo_synthetic_cities.csv"]
    assert qc.loc[3, "column"] == "country"  # header is line 1: row 1 is line 3
    assert qc.loc[5, "column"] == "internet_use" and qc.loc[5, "reason"] == "not a number"
    assert qc.loc[6, "reason"] == "must be between 0 and 1"
    assert qc.loc[[8, 10], "reason"].str.startswith("duplicate key (city_id)").all()
    qt = q.loc["demo/demo_synthetic_takeup_by_group.csv"]
    assert "digital_users is greater than population_in_group" in qt.loc[[2], "reason"].tolist()
    assert qt.loc[[7], "column"].tolist() == ["age_group"]
    assert qt.loc[[9], "reason"].str.startswith("differs from digital_users").tolist() == [True]
    assert res.rows_in["demo/demo_synthetic_cities.csv"] == SMALL["n_cities"] + 1
    assert res.rows_kept["demo/demo_synthetic_cities.csv"] == SMALL["n_cities"] - 4
    assert len(res.tables["takeup_by_group"]) == len(tk) - 3


def test_missing_folder_or_column_is_a_clear_error(tmp_path, small):
    with pytest.raises(DataFileError, match="ucc demo"):
        get_adapter("demo")(tmp_path / "nowhere")
    raw, _ = small
    path = raw / "demo" / "demo_synthetic_takeup_by_group.csv"
    pd.read_csv(path).drop(columns="gender").to_csv(path, index=False)
    with pytest.raises(DataFileError, match="gender"):
        get_adapter("demo")(raw)


def test_shipped_demo_files_are_valid_and_complete():
    res = get_adapter("demo")(config.project_root() / "data" / "raw")
    assert res.conservation_problems() == [] and len(res.quarantine) == 0
    assert len(res.tables["cities"]) >= 30
    assert res.tables["service_panel"]["service_id"].nunique() == 20
    truth = demo.generate()  # the shipped files are the default generation
    assert len(res.tables["service_panel"]) == len(truth.service_panel)
    assert res.tables["service_panel"]["transactions_total"].sum() == (
        truth.service_panel["transactions_total"].sum()
    )
