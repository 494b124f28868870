"""Staggered DiD against R ``did`` 2.5.1 (and csdid / differences) on Callaway & Sant'Anna's mpdta.

The reference files are in ``<shared data>/mpdta`` (see its README.txt): analytic
influence-function SEs, varying base period, balanced panel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.impact import staggered_did

TOL = 1e-6
MPDTA = config.shared_data_dir() / "mpdta"

# scenario -> (control, method, covariates), as described in mpdta/README.txt
SCENARIOS = {
    "mpdta_nev_dr": ("never_treated", "dr", None),
    "mpdta_nyt_dr": ("not_yet_treated", "dr", None),
    "mpdta_nev_reg_cov": ("never_treated", "reg", "~lpop"),
    "mpdta_nev_ipw": ("never_treated", "ipw", None),
    "mpdta_nev_dr_cov": ("never_treated", "dr", "~lpop"),
    "mpdta_nev_ipw_cov": ("never_treated", "ipw", "~lpop"),
    "mpdta_nyt_dr_cov": ("not_yet_treated", "dr", "~lpop"),
}
R_SCENARIOS = ["mpdta_nev_dr", "mpdta_nyt_dr", "mpdta_nev_reg_cov", "mpdta_nev_ipw"]


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(MPDTA / "mpdta.csv")


@pytest.fixture(scope="module")
def results(mpdta):
    return {
        name: staggered_did(
            mpdta, "lemp", "countyreal", "year", "first.treat", covariates=x, control=c, method=m
        )
        for name, (c, m, x) in SCENARIOS.items()
    }


def _reference(kind: str) -> pd.DataFrame:
    if kind == "r_attgt":
        return pd.read_csv(MPDTA / "r_did_2.5.1_attgt_analytic.csv")
    if kind == "r_aggte":
        return pd.read_csv(MPDTA / "r_did_2.5.1_aggte_analytic.csv")
    if kind == "py_attgt":
        return pd.read_csv(MPDTA / "py_consensus_attgt.csv")
    return pd.read_csv(MPDTA / "py_consensus_aggte.csv")


def _check_attgt(res, ref: pd.DataFrame) -> None:
    got = res.att_gt.set_index(["cohort", "time"])
    ref = ref.set_index(["group", "t"])
    assert len(got) == len(ref)
    np.testing.assert_allclose(got.loc[ref.index, "att"], ref["att"], rtol=0, atol=TOL)
    np.testing.assert_allclose(got.loc[ref.index, "se"], ref["se"], rtol=0, atol=TOL)


def _check_aggte(res, ref: pd.DataFrame) -> None:
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = res.aggregate(kind)
        r = ref[ref["type"] == kind]
        assert agg.estimate == pytest.approx(r["overall_att"].iloc[0], abs=TOL)
        assert agg.std_error == pytest.approx(r["overall_se"].iloc[0], abs=TOL)
        if kind != "simple":
            np.testing.assert_allclose(agg.table[agg.key], r["egt"].astype(float))
            np.testing.assert_allclose(agg.table["att"], r["att_egt"], rtol=0, atol=TOL)
            np.testing.assert_allclose(agg.table["se"], r["se_egt"], rtol=0, atol=TOL)


@pytest.mark.parametrize("name", R_SCENARIOS)
def test_att_gt_matches_r_did(results, name):
    ref = _reference("r_attgt")
    _check_attgt(results[name], ref[ref["scenario"] == name])


@pytest.mark.parametrize("name", R_SCENARIOS)
def test_aggregations_match_r_did(results, name):
    ref = _reference("r_aggte")
    _check_aggte(results[name], ref[ref["scenario"] == name])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_matches_csdid_and_differences_consensus(results, name):
    att = _reference("py_attgt")
    _check_attgt(results[name], att[att["scenario"] == name])
    agg = _reference("py_aggte")
    _check_aggte(results[name], agg[agg["scenario"] == name])


@pytest.mark.parametrize("name", R_SCENARIOS)
def test_pretest_matches_r_did(results, name):
    ref = pd.read_csv(MPDTA / "r_did_2.5.1_pretest.csv").set_index("scenario").loc[name]
    w, df, p = results[name].pretest()
    assert w == pytest.approx(ref["W"], abs=TOL)
    assert df == 5  # five pre-treatment cells: (2006, 2004/2005), (2007, 2004/2005/2006)
    assert round(p, 5) == pytest.approx(ref["Wpval"], abs=1e-12)  # R rounds to 5 decimals


def test_published_vignette_numbers(mpdta):
    """README section A/C: the did vignette's balance_e=1 event study and ~lpop DR pre-test."""
    res = staggered_did(mpdta, "lemp", "countyreal", "year", "first.treat")
    bal = res.aggregate("dynamic", balance_e=1)
    assert bal.estimate == pytest.approx(-0.0288, abs=5e-5)
    np.testing.assert_allclose(bal.table["event_time"], [-2, -1, 0, 1])
    np.testing.assert_allclose(bal.table["att"], [0.0065, -0.0028, -0.0066, -0.0510], atol=5e-5)
    cov = staggered_did(mpdta, "lemp", "countyreal", "year", "first.treat", covariates="~lpop")
    assert round(cov.pretest().p, 5) == pytest.approx(0.23267, abs=1e-12)


def test_never_treated_codings_and_covariate_list_agree(mpdta):
    """0, NaN and inf for never treated, and ['lpop'] vs '~lpop', give identical estimates."""
    base = staggered_did(mpdta, "lemp", "countyreal", "year", "first.treat", covariates="~lpop")
    for code in (np.nan, np.inf):
        d = mpdta.assign(g=mpdta["first.treat"].replace(0, code))
        r = staggered_did(d, "lemp", "countyreal", "year", "g", covariates=["lpop"])
        np.testing.assert_allclose(r.att_gt["att"], base.att_gt["att"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.att_gt["se"], base.att_gt["se"], rtol=0, atol=1e-12)


def test_universal_base_period_is_the_saturated_event_study(mpdta):
    """README E: with a universal base, e=-2,-3,-4 cells equal the Sun-Abraham pre-periods and
    the reference period is 0; post-treatment cells do not depend on the base-period choice."""
    var = staggered_did(mpdta, "lemp", "countyreal", "year", "first.treat")
    uni = staggered_did(mpdta, "lemp", "countyreal", "year", "first.treat", base_period="universal")
    assert len(uni.att_gt) == 15
    post = uni.att_gt[uni.att_gt["post"]].reset_index(drop=True)
    np.testing.assert_allclose(post["att"], var.att_gt.loc[var.att_gt["post"], "att"], atol=1e-12)
    dyn = uni.aggregate("dynamic").table.set_index("event_time")["att"]
    assert dyn.loc[-1] == 0.0
    np.testing.assert_allclose(dyn.loc[[-4, -3, -2]], [0.0033, 0.0250, 0.0245], atol=5e-5)


def test_event_window_options(results):
    res = results["mpdta_nev_dr"]
    full = res.aggregate("dynamic")
    win = res.aggregate("dynamic", min_e=-1, max_e=1)
    np.testing.assert_allclose(win.table["event_time"], [-1, 0, 1])
    np.testing.assert_allclose(
        win.table["att"], full.table.set_index("event_time").loc[[-1, 0, 1], "att"]
    )
    assert win.estimate == pytest.approx(full.table["att"].iloc[3:5].mean())
