"""Canada service inventory adapter: codes kept apart from zeros, take-up against the README."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.cleaning.sources import canada_inventory as ca
from ucc_research.errors import DataFileError

FOLDER = "canada_service_inventory_2024"


@pytest.fixture(scope="module")
def result():
    return ca.adapt(config.raw_dir())


@pytest.fixture(scope="module")
def services(result):
    return result.tables["canada_services"]


@pytest.fixture(scope="module")
def raw():
    """The file read independently with the csv module (not through the project's reader)."""
    path = config.shared_data_dir() / FOLDER / "si_2024.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)))


def test_readme_median_digital_takeup(services):
    """README: median take-up 0.785 over 936 external services with > 0 applications."""
    sel = services[services["external"] & (services["num_applications_total"] > 0)]
    assert len(sel) == 936
    assert round(float(sel["digital_takeup"].median()), 3) == 0.785


def test_codes_become_missing_with_status_never_zero(services, raw):
    assert len(services) == len(raw) == 1752
    for col in ca.COUNT_COLUMNS:
        text = raw[col].str.strip()
        status = services[f"{col}_status"]
        assert (status == "not_collected").sum() == (text == "ND").sum(), col
        assert (status == "not_offered").sum() == (text == "NA").sum(), col
        coded = status != "reported"
        assert services.loc[coded, col].isna().all(), col
        # 0 stays 0 (the file also writes zero as "00" once)
        assert (services[col] == 0).sum() == (pd.to_numeric(text, errors="coerce") == 0).sum()
    # spot: line 2 of the file (ATSSC Law Library): phone enquiries ND, fax NA, total 314
    row = services.set_index("service_id").loc["3595"]
    assert row["num_phone_enquiries_status"] == "not_collected"
    assert row["num_applications_by_fax_status"] == "not_offered"
    assert row["num_applications_by_email"] == 300 and row["num_applications_total"] == 314


def test_channels_add_up_to_total_and_takeup_definition(services):
    channels = [c for c in ca.COUNT_COLUMNS if c.startswith("num_applications_")]
    reported = services[channels].fillna(0).sum(axis=1)
    assert (reported == services["num_applications_total"]).all()
    t = services
    ok = (t["num_applications_total"] > 0) & (t["num_applications_online_status"] == "reported")
    expected = t.loc[ok, "num_applications_online"] / t.loc[ok, "num_applications_total"]
    np.testing.assert_allclose(t.loc[ok, "digital_takeup"], expected.astype(float))
    assert t.loc[~ok, "digital_takeup"].isna().all()


def test_values_follow_the_data_dictionary(services):
    dictionary = ca.data_dictionary(config.shared_data_dir())
    for col in ca.COUNT_COLUMNS:
        text = dictionary[col]["description"]["en"]
        assert "ND means" in text and "NA means" in text, col
    os_choices = dictionary["os_application"]["choices"]
    assert set(os_choices) == {"Y", "N", "NA"}
    assert "not applicable" in os_choices["NA"]["en"]
    allowed = ca.allowed_codes(dictionary)
    for col in ("service_type", "service_scope", "client_target_groups"):
        codes = set(services[col].dropna().str.split(",").explode())
        assert codes <= allowed[col], col
    for col in ca.OS_COLUMNS:
        assert str(services[col].dtype) == "boolean"
    s = services.set_index("service_id")
    assert not s.at["3595", "os_issuance"] and s.at["3595", "digital_takeup"] == 1 / 314
    # 3596: online channel not offered and no applications: take-up missing, not 0
    assert s.at["3596", "num_applications_online_status"] == "not_offered"
    assert pd.isna(s.at["3596", "digital_takeup"])
    assert (services["os_online_count"] <= services["os_applicable_count"]).all()


def test_conservation(result):
    assert result.conservation_problems() == []
    assert result.rows_in == {f"{FOLDER}/si_2024.csv": 1752}
    assert len(result.quarantine) == 0
    assert result.detected[f"{FOLDER}/si_2024.csv"]["bom"] is True


def test_bad_values_quarantined_with_physical_line(tmp_path):
    src = config.raw_dir() / FOLDER
    dst = tmp_path / FOLDER
    dst.mkdir()
    shutil.copy(src / "service_data_dict.json", dst)
    with open(src / "si_2024.csv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [next(reader) for _ in range(3)]
        header = reader.fieldnames
    rows[0]["service_description_en"] = "two\nlines"  # record 1 spans lines 2-3
    rows[1]["num_applications_online"] = "-5"  # record 2 starts on line 4
    rows[2]["os_application"] = "Maybe"  # record 3 on line 5
    with open(dst / "si_2024.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    res = ca.adapt(tmp_path)
    q = res.quarantine.set_index("line")
    assert sorted(q.index) == [4, 5]
    assert q.at[4, "column"] == "num_applications_online" and q.at[4, "value"] == "-5"
    assert "'ND' or 'NA'" in q.at[4, "reason"]
    assert q.at[5, "column"] == "os_application" and "data dictionary" in q.at[5, "reason"]
    assert res.conservation_problems() == []
    assert len(res.tables["canada_services"]) == 1


def test_missing_dictionary_is_a_clear_error(tmp_path):
    (tmp_path / FOLDER).mkdir()
    with pytest.raises(DataFileError, match="data dictionary not found"):
        ca.adapt(tmp_path)
    (tmp_path / FOLDER / "service_data_dict.json").write_text(json.dumps({"resources": []}))
    with pytest.raises(DataFileError, match="not a service-inventory data dictionary"):
        ca.adapt(tmp_path)
