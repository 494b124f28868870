"""TWFE with CRV1 SEs (fixest convention) and the Goodman-Bacon decomposition, on mpdta and
on simulated panels where TWFE is known to mislead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.errors import SpecError
from ucc_research.impact.bacon import bacon_decomposition, twfe

MPDTA = config.shared_data_dir() / "mpdta"


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(MPDTA / "mpdta.csv")


def test_twfe_matches_fixest_on_mpdta(mpdta):
    """README D: feols(lemp ~ post | countyreal + year, cluster=~countyreal)."""
    res = twfe(mpdta, "lemp", "countyreal", "year", cohort="first.treat")
    assert res.estimate == pytest.approx(-0.036549, abs=5e-7)
    assert res.std_error == pytest.approx(0.013265, abs=5e-7)
    post = mpdta.assign(post=((mpdta["first.treat"] > 0) & (mpdta.year >= mpdta["first.treat"])))
    same = twfe(post.assign(post=post["post"].astype(int)), "lemp", "countyreal", "year", "post")
    assert same.estimate == pytest.approx(res.estimate, abs=1e-14)
    assert same.std_error == pytest.approx(res.std_error, abs=1e-14)


def test_with_inference_recomputes_the_vcov_as_pyfixest(mpdta):
    """Nested (groups of counties) and non-nested clusters named after fitting, and HC1: the
    same standard errors as a pyfixest fit with that vcov, the same coefficient."""
    import pyfixest as pf

    rng = np.random.default_rng(1)
    d = mpdta.assign(
        post=((mpdta["first.treat"] > 0) & (mpdta.year >= mpdta["first.treat"])).astype(float),
        state=mpdta.countyreal // 1000,
        random_cl=rng.integers(0, 40, len(mpdta)),
    )
    res = twfe(d, "lemp", "countyreal", "year", treatment="post")
    for vcov in ({"CRV1": "state"}, {"CRV1": "random_cl"}, "hetero", "iid"):
        ref = pf.feols("lemp ~ post | countyreal + year", data=d, vcov=vcov)
        ours = res.with_inference(vcov=vcov)
        assert ours.estimate == pytest.approx(res.estimate, abs=1e-15)
        assert ours.std_error == pytest.approx(float(ref.se().iloc[0]), rel=1e-10)
        assert ours.p_value == pytest.approx(float(ref.pvalue().iloc[0]), rel=1e-8)
    assert res.std_error == pytest.approx(0.013265, abs=5e-7)  # the original is unchanged
    with pytest.raises(SpecError, match="not in the data"):
        res.with_inference(vcov={"CRV1": "region"})


def test_bacon_matches_reference_and_sums_to_twfe(mpdta):
    res = bacon_decomposition(mpdta, "lemp", "countyreal", "year", cohort="first.treat")
    ref = pd.read_csv(MPDTA / "bacon_decomposition_twfe.csv")
    ref["control"] = ref["control_group"].replace("never_treated", "inf").astype(float)
    got = res.set_index(["treated", "control"])
    ref = ref.set_index(["treated_group", "control"])
    assert len(got) == len(ref) == 9
    got = got.loc[ref.index]
    assert list(got["type"]) == list(ref["comparison_type"])
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["weight"], ref["weight"], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(got["n_treated"], ref["n_treated"])
    np.testing.assert_array_equal(got["n_control"], ref["n_control"])
    # README D: weight and weighted average by comparison type
    by = res.groupby("type").apply(
        lambda f: pd.Series({"w": f.weight.sum(), "avg": np.average(f.estimate, weights=f.weight)})
    )
    assert by.loc["treated_vs_never", "w"] == pytest.approx(0.8628, abs=5e-5)
    assert by.loc["later_vs_earlier", "avg"] == pytest.approx(0.0046, abs=5e-5)
    # Goodman-Bacon's theorem: weights sum to one and reproduce the TWFE coefficient.
    coef = twfe(mpdta, "lemp", "countyreal", "year", cohort="first.treat").estimate
    assert res["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (res["weight"] * res["estimate"]).sum() == pytest.approx(coef, abs=1e-12)


def _simulated(seed: int, always_treated: bool, never_treated: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohorts = [3.0, 5.0, 7.0] + ([0.0] if never_treated else []) + ([1.0] if always_treated else [])
    n, periods = 60, np.arange(1, 9)
    g = rng.choice(cohorts, size=n)
    unit = np.repeat(np.arange(n), len(periods))
    t = np.tile(periods, n)
    gg = np.repeat(g, len(periods))
    treated = (gg > 0) & (t >= gg)
    # effect grows with time since adoption: the case where TWFE is biased
    effect = np.where(treated, 1.0 + 0.5 * (t - gg), 0.0)
    y = rng.normal(size=n)[unit] + 0.3 * t + effect + rng.normal(scale=0.5, size=len(t))
    return pd.DataFrame({"unit": unit, "t": t, "g": gg, "y": y})


@pytest.mark.parametrize(("always", "never"), [(False, True), (True, True), (True, False)])
def test_bacon_identity_on_simulated_panels(always, never):
    d = _simulated(3, always, never)
    res = bacon_decomposition(d, "y", "unit", "t", cohort="g")
    coef = twfe(d, "y", "unit", "t", cohort="g").estimate
    assert (res["weight"] > 0).all()
    assert res["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (res["weight"] * res["estimate"]).sum() == pytest.approx(coef, abs=1e-10)
    assert ("later_vs_always_treated" in set(res["type"])) == always
    assert ("treated_vs_never" in set(res["type"])) == never


def test_later_vs_earlier_comparisons_show_the_twfe_bias():
    """With growing effects the 'forbidden' comparisons are biased downwards, pulling TWFE below
    every true post-treatment effect (>= 1)."""
    d = _simulated(4, always_treated=False)
    res = bacon_decomposition(d, "y", "unit", "t", cohort="g")
    forbidden = res[res["type"] == "later_vs_earlier"]
    clean = res[res["type"] == "treated_vs_never"]
    assert np.average(forbidden.estimate, weights=forbidden.weight) < np.average(
        clean.estimate, weights=clean.weight
    )
    assert twfe(d, "y", "unit", "t", cohort="g").estimate < np.average(
        clean.estimate, weights=clean.weight
    )


def test_twfe_and_bacon_errors(mpdta):
    with pytest.raises(SpecError, match="exactly one of"):
        twfe(mpdta, "lemp", "countyreal", "year")
    with pytest.raises(SpecError, match="balanced panel"):
        bacon_decomposition(mpdta.iloc[1:], "lemp", "countyreal", "year", cohort="first.treat")
    with pytest.raises(SpecError, match="duplicated"):
        twfe(pd.concat([mpdta, mpdta.iloc[:1]]), "lemp", "countyreal", "year", cohort="first.treat")
    switch = mpdta.assign(d=((mpdta.year == 2005) & (mpdta.treat == 1)).astype(int))
    with pytest.raises(SpecError, match="absorbing"):
        bacon_decomposition(switch, "lemp", "countyreal", "year", treatment="d")
    with pytest.raises(SpecError, match="0/1"):
        twfe(mpdta.assign(d=2), "lemp", "countyreal", "year", treatment="d")


def test_twfe_wild_cluster_bootstrap_matches_fe_regression():
    """The TWFE coefficient's WCR bootstrap equals fe_regression's on the same regression (same
    draws), and its interval contains the estimate."""
    from ucc_research import demo
    from ucc_research.impact import fe_regression, twfe

    d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    tp = demo.transfer_panel(d)
    tp["d"] = ((tp["cohort"] > 0) & (tp["time"] >= tp["cohort"])).astype(float)
    tw = twfe(tp, "digital_share", "unit", "time", treatment="d")
    wb = tw.wild_cluster_bootstrap(n_boot=999, seed=3)
    fe = fe_regression(tp, "digital_share ~ d | unit + time", cluster="unit", bootstrap="wild",
                       n_boot=999, seed=3)  # fmt: skip
    row = fe.tidy().iloc[0]
    assert wb["weights"] == "rademacher"  # 15 clusters
    assert wb["p_value"] == pytest.approx(row["p_value_wild"], abs=1e-9)
    assert wb["conf_low"] == pytest.approx(row["conf_low_wild"], rel=1e-6)
    assert wb["conf_high"] == pytest.approx(row["conf_high_wild"], rel=1e-6)
    assert wb["conf_low"] < tw.estimate < wb["conf_high"]
