"""Bad input gives a SpecError that names the code and the problem."""

from __future__ import annotations

import pandas as pd
import pytest

from ucc_research.errors import SpecError
from ucc_research.indicators import build, load_spec


def _data():
    return pd.DataFrame(
        {
            "uCode": ["A", "B", "C", "D"],
            "grp": ["x", "x", "y", "y"],
            "i1": [1.0, 2.0, 3.0, 4.0],
            "i2": [4.0, 0.0, 2.0, 1.0],
            "i3": [1.0, 5.0, 2.0, 2.0],
        }
    )


def _meta(changes=None):
    m = pd.DataFrame(
        {
            "iCode": ["i1", "i2", "i3", "P1", "P2", "Index", "grp"],
            "Level": [1, 1, 1, 2, 2, 3, None],
            "Parent": ["P1", "P1", "P2", "Index", "Index", None, None],
            "Direction": [1, 1, -1, 1, 1, 1, None],
            "Weight": [1.0, 1, 1, 1, 1, 1, None],
            "Type": ["Indicator"] * 3 + ["Aggregate"] * 3 + ["Group"],
        }
    )
    for (code, col), value in (changes or {}).items():
        m.loc[m["iCode"] == code, col] = value
    return m


def test_valid_inputs_build():
    coin = build(_data(), _meta())
    assert list(coin.scores.columns) == ["uCode", "uName", "i1", "i2", "i3", "P1", "P2", "Index"]


def test_indicator_in_imeta_but_not_in_idata():
    meta = pd.concat(
        [
            _meta(),
            pd.DataFrame({"iCode": ["i9"], "Level": [1], "Parent": ["P2"], "Type": ["Indicator"]}),
        ]
    )
    with pytest.raises(SpecError, match=r"'i9'.*not found among iData columns"):
        build(_data(), meta)


def test_idata_column_not_in_imeta():
    data = _data().assign(extra=1.0)
    with pytest.raises(SpecError, match=r"'extra'.*not in iMeta"):
        build(data, _meta())
    # as in COINr, x_ columns are carried along without an iMeta row
    coin = build(_data().assign(x_note="a"), _meta())
    assert coin.units["x_note"].tolist() == ["a"] * 4 and "x_note" not in coin.scores


def test_cycle_in_hierarchy():
    meta = _meta({("Index", "Parent"): "P1"})
    with pytest.raises(
        SpecError, match=r"cycle in the hierarchy: .*P1 -> Index -> P1|Index -> P1 -> Index"
    ):
        build(_data(), meta)


def test_orphan_without_parent():
    meta = _meta({("i3", "Parent"): None})
    with pytest.raises(SpecError, match=r"'i3'.*no Parent \(orphan\)"):
        build(_data(), meta)


def test_parent_that_does_not_exist():
    meta = _meta({("i3", "Parent"): "P9"})
    with pytest.raises(SpecError, match=r"Parent 'P9' of 'i3' is not an aggregate code"):
        build(_data(), meta)


def test_childless_aggregate():
    meta = _meta({("i3", "Parent"): "P1"})
    with pytest.raises(SpecError, match=r"aggregate 'P2' has no children"):
        build(_data(), meta)


def test_weights_sum_to_zero_in_imeta():
    meta = _meta({("i1", "Weight"): 0.0, ("i2", "Weight"): 0.0})
    with pytest.raises(SpecError, match=r"weights of the children of 'P1' sum to zero"):
        build(_data(), meta)


def test_weights_sum_to_zero_in_spec():
    with pytest.raises(SpecError, match=r"children of 'P1' sum to zero"):
        build(_data(), _meta(), {"weight": {"weights": {"i1": 0, "i2": 0}}})


def test_direction_not_plus_minus_one():
    meta = _meta({("i2", "Direction"): 2})
    with pytest.raises(SpecError, match=r"Direction of 'i2' is 2.*must be \+1 or -1"):
        build(_data(), meta)


def test_non_numeric_indicator_value():
    data = _data()
    data["i2"] = data["i2"].astype(object)
    data.loc[2, "i2"] = "n/a*"
    with pytest.raises(
        SpecError, match=r"indicator 'i2' has non-numeric value 'n/a\*' for unit 'C'"
    ):
        build(data, _meta())


def test_group_column_that_does_not_exist():
    with pytest.raises(SpecError, match=r"group column 'region' does not exist"):
        build(_data(), _meta(), {"impute": {"method": "group_mean", "group": "region"}})
    coin = build(_data(), _meta())
    with pytest.raises(SpecError, match=r"group column 'region' does not exist"):
        coin.results(group="region")


def test_geometric_mean_with_zero_names_code_and_unit():
    # min-max onto [0, 100] puts a 0 in every indicator
    with pytest.raises(
        SpecError, match=r"geom_mean of 'P1' needs positive values but 'i1' is 0 for unit 'A'"
    ):
        build(_data(), _meta(), {"aggregate": {"method": "geom_mean"}})


def test_harmonic_mean_with_zero():
    with pytest.raises(SpecError, match=r"harm_mean of 'P1' needs nonzero values"):
        build(_data(), _meta(), {"aggregate": "harm_mean"})


def test_geometric_mean_with_negative_zscores():
    with pytest.raises(SpecError, match=r"geom_mean of 'P1' needs positive values"):
        build(_data(), _meta(), {"normalise": "zscore", "aggregate": "geom_mean"})


def test_unknown_step_setting_and_method():
    with pytest.raises(SpecError, match=r"unknown step\(s\) \['normalize'\]"):
        load_spec({"normalize": "minmax"})
    with pytest.raises(SpecError, match=r"unknown setting\(s\) \['winmx'\] in treat"):
        load_spec({"treat": {"method": "winsorise", "winmx": 3}})
    with pytest.raises(SpecError, match=r"normalise method 'minmaxx' is not one of"):
        load_spec({"normalise": "minmaxx"})
    with pytest.raises(SpecError, match=r"aggregate method\(s\) \['mean'\]"):
        load_spec({"aggregate": "mean"})


def test_duplicate_codes_and_units():
    meta = pd.concat([_meta(), _meta().iloc[[0]]])
    with pytest.raises(SpecError, match=r"duplicated iCode\(s\) \['i1'\]"):
        build(_data(), meta)
    data = pd.concat([_data(), _data().iloc[[1]]])
    with pytest.raises(SpecError, match=r"duplicated uCode"):
        build(data, _meta())


def test_missing_denominator_column():
    meta = _meta()
    meta["Denominator"] = [None, "Pop", None, None, None, None, None]
    with pytest.raises(SpecError, match=r"denominator column\(s\) \['Pop'\] not found"):
        build(_data(), meta, {"denominate": True})


def test_bad_reference_unit_and_missing_target():
    with pytest.raises(SpecError, match=r"reference unit 'ZZ' is not a uCode"):
        build(_data(), _meta(), {"normalise": {"method": "dist_to_ref", "ref": "ZZ"}})
    with pytest.raises(SpecError, match=r"needs a Target column"):
        build(_data(), _meta(), {"normalise": "dist_to_target"})


def test_unknown_unit_in_screen_and_profile():
    with pytest.raises(SpecError, match=r"unit 'ZZ' in include/exclude is not a uCode"):
        build(_data(), _meta(), {"screen": {"method": "byNA", "exclude": ["ZZ"]}})
    with pytest.raises(SpecError, match=r"unit 'ZZ' is not a uCode"):
        build(_data(), _meta()).profile("ZZ")
