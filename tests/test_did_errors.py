"""Bad input to staggered_did: each problem gives a SpecError that says what is wrong and what to
do; what R did drops (unbalanced units, units treated from the first period) is dropped with a
warning that gives the count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research.errors import SpecError
from ucc_research.impact.did import staggered_did


def _panel(n_units: int = 40, seed: int = 0, cohorts=(0, 3, 4)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    periods = np.arange(1, 6)
    g = np.resize(np.asarray(cohorts, dtype=float), n_units)
    unit = np.repeat(np.arange(n_units), len(periods))
    t = np.tile(periods, n_units)
    gg = np.repeat(g, len(periods))
    y = rng.normal(size=len(t)) + ((gg > 0) & (t >= gg)) * 1.0
    x = np.repeat(rng.normal(size=n_units), len(periods))
    return pd.DataFrame({"id": unit, "t": t, "g": gg, "y": y, "x": x})


def _fit(d: pd.DataFrame, **kw):
    return staggered_did(d, "y", "id", "t", "g", **kw)


def test_missing_unit_or_period_rows():
    d = _panel()
    d.loc[3, "t"] = np.nan
    with pytest.raises(SpecError, match=r"missing time \('t'\)"):
        _fit(d)
    d = _panel().astype({"id": float})
    d.loc[5, "id"] = np.nan
    with pytest.raises(SpecError, match=r"missing unit \('id'\)"):
        _fit(d)


def test_duplicated_unit_period_rows():
    d = _panel()
    with pytest.raises(SpecError, match=r"share a 'id'-'t' pair.*\(0, 1\)"):
        _fit(pd.concat([d, d.iloc[[0]]]))


def test_cohort_varying_within_unit():
    d = _panel()
    d.loc[(d["id"] == 1) & (d["t"] == 5), "g"] = 4
    with pytest.raises(SpecError, match=r"varies within 1 unit.*irreversible"):
        _fit(d)


def test_non_numeric_outcome_time_and_cohort():
    d = _panel()
    with pytest.raises(SpecError, match=r"outcome column 'y' must be numeric.*'n/a'"):
        _fit(d.assign(y=d["y"].astype(str).where(d.index > 0, "n/a")))
    with pytest.raises(SpecError, match="time column 't' must be numeric"):
        _fit(d.assign(t="p" + d["t"].astype(str)))
    with pytest.raises(SpecError, match="cohort column 'g' must be numeric"):
        _fit(d.assign(g=d["g"].astype(str)))


def test_no_never_treated_units_for_never_treated_control():
    d = _panel(cohorts=(3, 4))
    with pytest.raises(SpecError, match="no never-treated units.*not_yet_treated"):
        _fit(d)


def test_no_control_for_a_cell():
    # every unit adopts in period 4 and none is never treated: nobody to compare with
    d = _panel(cohorts=(4,))
    with (
        pytest.raises(SpecError, match="no control units: every unit adopts in period 4"),
    ):
        _fit(d, control="not_yet_treated")


def test_not_yet_treated_without_never_treated_uses_last_cohort_as_control():
    d = _panel(cohorts=(3, 4))
    with pytest.warns(UserWarning, match=r"periods from 4 on are dropped.*last cohort \(4\)"):
        res = _fit(d, control="not_yet_treated")
    assert set(res.att_gt["cohort"]) == {3.0}
    assert res.att_gt["time"].max() == 3


def test_too_few_units():
    d = _panel(n_units=10, cohorts=(0, 3, 3, 3, 3, 4, 4, 4, 4, 4))  # one never-treated unit
    with pytest.raises(SpecError, match=r"too few control units.*1 control unit\(s\) for 2"):
        _fit(d, covariates=["x"])
    with (
        pytest.warns(UserWarning, match="already treated in the first period"),
        pytest.raises(SpecError, match="only 1 usable unit"),
    ):
        _fit(_panel(n_units=2, cohorts=(0, 1)))


def test_bad_arguments():
    d = _panel()
    with pytest.raises(SpecError, match="control must be one of"):
        _fit(d, control="never")
    with pytest.raises(SpecError, match="method must be one of"):
        _fit(d, method="ols")
    with pytest.raises(SpecError, match="base_period"):
        _fit(d, base_period="fixed")
    with pytest.raises(SpecError, match="anticipation"):
        _fit(d, anticipation=-1)
    with pytest.raises(SpecError, match="column 'z' not in the data"):
        staggered_did(d, "z", "id", "t", "g")
    with pytest.raises(SpecError, match="covariate column"):
        _fit(d, covariates=["nope"])
    with pytest.raises(SpecError, match="uses 'nope'"):
        _fit(d, covariates="~ x + nope")
    with pytest.raises(SpecError, match="kind must be one of"):
        _fit(d).aggregate("overall")


def test_unbalanced_panel_drops_units_with_a_warning():
    d = _panel()
    full = _fit(d[~d["id"].isin([5, 7])])
    holes = d.drop(index=d.index[(d["id"] == 5) & (d["t"] == 2)])
    holes.loc[(holes["id"] == 7) & (holes["t"] == 4), "y"] = np.nan
    with pytest.warns(UserWarning, match=r"dropped 2 unit\(s\) not observed in all 5 periods"):
        res = _fit(holes)
    assert res.n_units == 38
    np.testing.assert_allclose(res.att_gt["att"], full.att_gt["att"], atol=1e-12)
    np.testing.assert_allclose(res.att_gt["se"], full.att_gt["se"], atol=1e-12)
    assert any("dropped 2 unit(s)" in n for n in res.notes)


def test_units_treated_in_first_period_are_dropped_with_a_warning():
    d = _panel(cohorts=(0, 3, 4, 1))
    with pytest.warns(UserWarning, match=r"dropped 10 unit\(s\) already treated in the first"):
        res = _fit(d)
    assert res.n_units == 30
    assert set(res.att_gt["cohort"]) == {3.0, 4.0}
    # with anticipation=2, cohort 3 has no untreated period either
    with pytest.warns(UserWarning, match=r"dropped 20 unit\(s\).*anticipation 2"):
        res = _fit(d, anticipation=2)
    assert set(res.att_gt["cohort"]) == {4.0}
