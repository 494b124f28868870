"""UserCentriCities adapter: presets, city points and the dashboard's published scores."""

from __future__ import annotations

import shutil
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.cleaning.schemas import validate_frame
from ucc_research.cleaning.sources import usercentricities as ucc
from ucc_research.errors import SpecError
from ucc_research.indicators.coin import build
from ucc_research.indicators.meta import validate_meta


@pytest.fixture(scope="module")
def result():
    return ucc.adapt(config.raw_dir())


@pytest.fixture(scope="module")
def published():
    """The published ranking, read from the shared reference copy (not through the adapter)."""
    path = config.shared_data_dir() / "usercentricities" / "ucc_dashboard_published_scores.csv"
    return pd.read_csv(path).set_index("city")


def test_published_overall_pct_and_rank_order_reproduced(result, published):
    """The dashboard's % is reproduced exactly and our ranking orders the cities as published.

    The page ranks about 17 cities; only the 11 whose names were legible are in the data, so a
    published rank is the rank among all cities (Milan shares rank 1 with an illegible city,
    hence Rotterdam is 3rd). Our ranks are among the 11, so we check that every pair of cities
    is ordered the same way (better, worse or tied) as by the published ranks, and that the
    published % (``round(average * 100)``) matches exactly.
    """
    scores = ucc.dashboard_scores(ucc.city_points(config.raw_dir())).set_index("city")
    assert sorted(scores.index) == sorted(published.index)
    for city, row in published.iterrows():
        assert scores.at[city, "shown_pct"] == row["published_overall_pct"], city
    for a, b in combinations(published.index, 2):
        ours = np.sign(scores.at[a, "rank"] - scores.at[b, "rank"])
        theirs = np.sign(published.at[a, "published_rank"] - published.at[b, "published_rank"])
        assert ours == theirs, (a, b)
    # ties share a rank: Tallinn/Ghent (75 %), Helsinki/Kyiv (65 %), Porto/Espoo (58 %)
    for a, b in [("Tallinn", "Ghent"), ("Helsinki", "Kyiv"), ("Porto", "Espoo")]:
        assert scores.at[a, "rank"] == scores.at[b, "rank"]
    assert scores["rank"].tolist() == [1, 2, 3, 3, 5, 6, 7, 7, 9, 9, 11]
    # the same from the iData table's points columns
    from_idata = ucc.dashboard_scores(result.tables["iData_ucc_2022"])
    pd.testing.assert_frame_equal(from_idata, scores.reset_index())


def test_average_matches_readme_recomputation_within_last_digit(published):
    """The README's recomputed % used Python's float rounding; the dashboard (PHP) rounds half
    away from zero, so a 3rd-decimal tie (Madrid 0.7425) is 74.3 here, 74.2 there."""
    scores = ucc.dashboard_scores(ucc.city_points(config.raw_dir())).set_index("city")
    diff = (scores["overall_pct"] - published["recomputed_overall_pct"]).abs()
    assert diff.max() <= 0.1 + 1e-9
    assert scores.at["Madrid", "overall"] == 0.743
    assert scores.at["Milan", "overall_pct"] == pytest.approx(87.4)


def test_dashboard_rule_on_known_cases():
    # 1/8 = 0.125 rounds half up to 0.13 (binary-float round() would give 0.12)
    pts = pd.DataFrame({"city": ["A"], "subpillar": ["1.1"], "yes": [1], "n": [8]})
    assert ucc.dashboard_scores(pts).loc[0, "overall"] == 0.13
    # averages 0.803 and 0.797 differ but both show 80 %: they share rank 1; 70 % is 3rd
    pts = pd.DataFrame(
        {
            "city": ["A"] * 3 + ["B"] * 3 + ["C"] * 3,
            "subpillar": ["1", "2", "3"] * 3,
            "yes": [80, 80, 81, 80, 80, 79, 70, 70, 70],
            "n": [100] * 9,
        }
    )
    out = ucc.dashboard_scores(pts)
    assert out["overall"].tolist() == [0.803, 0.797, 0.7]
    assert out["shown_pct"].tolist() == [80, 80, 70]
    assert out["rank"].tolist() == [1, 1, 3]


def test_dashboard_scores_rejects_bad_points():
    with pytest.raises(SpecError, match="yes=3 outside 0..2"):
        ucc.dashboard_scores(
            pd.DataFrame({"city": ["A"], "subpillar": ["1.1"], "yes": [3], "n": [2]})
        )
    with pytest.raises(SpecError, match="same sub-pillars"):
        ucc.dashboard_scores(
            pd.DataFrame({"city": ["A", "B"], "subpillar": ["1", "2"], "yes": [1, 1], "n": [2, 2]})
        )


@pytest.mark.parametrize(
    ("year", "n_ind", "per_sub"),
    [
        (2023, 41, [4, 6, 3, 5, 5, 4, 3, 2, 3, 2, 2, 2]),
        (2022, 39, [4, 6, 3, 5, 5, 4, 3, 2, 2, 2, 2, 1]),
    ],
)
def test_framework_presets(year, n_ind, per_sub):
    meta = ucc.framework(year)
    validate_meta(meta)  # the indicators core accepts it (hierarchy, weights, types)
    assert meta.groupby("Level").size().tolist() == [n_ind, 12, 3, 1]
    ind = meta[meta["Level"] == 1]
    assert ind.groupby("Parent", sort=False).size().tolist() == per_sub
    has_26 = "SP2_6" in set(meta["iCode"])
    assert has_26 == (year == 2023)
    assert ("SP3_4" in set(meta["iCode"])) == (year == 2022)
    pillars = meta[meta["Level"] == 3].set_index("iCode")["Weight"]
    assert pillars.sum() == 12  # pillar weight = its number of sub-pillars


def test_framework_errors():
    with pytest.raises(SpecError, match="2021"):
        ucc.framework(2021)
    with pytest.raises(SpecError, match="level"):
        ucc.framework(2023, level="pillar")


def test_subpillar_preset_aggregates_to_mean_of_twelve(result):
    """An arithmetic aggregation over the sub-pillar preset is the plain mean of the 12 ratios
    (the dashboard's rule before its 2-decimal rounding)."""
    idata = result.tables["iData_ucc_2022"]
    meta = result.tables["iMeta_ucc_dashboard"]
    validate_meta(meta)
    spec = {"normalise": {"method": "none"}, "aggregate": {"method": "arith_mean"}}
    agg = build(idata, meta, spec).scores.set_index("uCode")
    subs = [c for c in idata.columns if c.startswith("SP")]
    expected = idata.set_index("uCode")[subs].mean(axis=1)
    np.testing.assert_allclose(agg["UCC"], expected, rtol=0, atol=1e-12)


def test_conservation_spot_values_and_schemas(result):
    assert result.conservation_problems() == []
    assert result.rows_in == {
        "usercentricities/ucc_indicators.csv": 42,
        "usercentricities/ucc_dashboard_published_scores.csv": 11,
    }
    assert len(result.quarantine) == 0
    idata = result.tables["iData_ucc_2022"].set_index("uName")
    assert idata.at["Milan", "x_yes_SP1_3"] == 2 and idata.at["Milan", "x_n_SP1_3"] == 3
    assert idata.at["Rotterdam", "SP3_2"] == 0.0
    assert idata.at["Murcia", "SP1_2"] == pytest.approx(5 / 6)
    cities = result.tables["cities"].set_index("name")
    assert cities.at["Kyiv", "country"] == "UA" and cities.at["Ghent", "country"] == "BE"
    for table, kind in [
        ("cities", "cities"),
        ("iData_ucc_2022", "iData"),
        ("iMeta_ucc_2022", "iMeta"),
        ("iMeta_ucc_2023", "iMeta"),
        ("iMeta_ucc_dashboard", "iMeta"),
    ]:
        _, q = validate_frame(result.tables[table], kind, file=table, source=ucc.SOURCE)
        assert q.empty, (table, q)


def test_bad_rows_are_quarantined_with_line_and_reason(tmp_path):
    src = config.raw_dir() / "usercentricities"
    dst = tmp_path / "usercentricities"
    shutil.copytree(src, dst)
    pts = (dst / "ucc_dashboard_published_scores.csv").read_text().splitlines()
    fields = pts[2].split(",")  # Rotterdam, line 3
    fields[pts[0].split(",").index("yes_1.1")] = "7"  # more points than the 4 possible
    pts[2] = ",".join(fields)
    pts.append(pts[1].replace("Milan", "Atlantis", 1))  # line 13: no known country
    (dst / "ucc_dashboard_published_scores.csv").write_text("\n".join(pts) + "\n")

    res = ucc.adapt(tmp_path)
    q = res.quarantine.set_index("line")
    assert q.at[3, "column"] == "yes_1.1" and q.at[3, "value"] == "7"
    assert "0..4" in q.at[3, "reason"]
    assert q.at[13, "value"] == "Atlantis" and "country" in q.at[13, "reason"]
    assert set(q["file"]) == {"usercentricities/ucc_dashboard_published_scores.csv"}
    assert res.conservation_problems() == []
    assert "Rotterdam" not in set(res.tables["iData_ucc_2022"]["uName"])
