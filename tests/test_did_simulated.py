"""Staggered DiD on simulated panels with known truth, CI coverage, the bootstrap, and the
SYNTHETIC demo panel (ucc_research.demo) with its known transfer effects."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.impact.did import att_gt_heatmap, event_study_plot, staggered_did


def tau(e: np.ndarray) -> np.ndarray:
    """True dynamic effect path: 1 on impact, +0.5 per period after."""
    return np.where(e >= 0, 1.0 + 0.5 * e, 0.0)


def simulate(
    seed: int,
    n: int = 600,
    n_periods: int = 8,
    cohorts=(0, 3, 5, 7),
    confounded: bool = False,
    anticipation_effect: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, n_periods + 1)
    x = rng.normal(size=n)
    if confounded:  # units with high x adopt more often and have steeper trends
        p_treat = 1 / (1 + np.exp(-(x - 0.3)))
        treated = rng.random(n) < p_treat
        g = np.where(treated, rng.choice(np.asarray(cohorts[1:], float), size=n), 0.0)
    else:
        g = rng.choice(np.asarray(cohorts, float), size=n)
    e = t[None, :] - g[:, None]
    effect = np.where(g[:, None] > 0, tau(e), 0.0)
    effect += np.where((g[:, None] > 0) & (e == -1), anticipation_effect, 0.0)
    y = (
        rng.normal(size=n)[:, None]
        + 0.2 * t[None, :]
        + (0.4 * x[:, None] * t[None, :] if confounded else 0.0)
        + effect
        + rng.normal(size=(n, n_periods))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_periods),
            "time": np.tile(t, n),
            "cohort": np.repeat(g, n_periods),
            "x": np.repeat(x, n_periods),
            "y": y.ravel(),
            "effect": effect.ravel(),
        }
    )


def _true_simple(d: pd.DataFrame) -> float:
    post = d[(d.cohort > 0) & (d.time >= d.cohort)]
    return float(post["effect"].mean())


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
def test_recovers_the_dynamic_effect_path_within_the_simultaneous_band(control):
    d = simulate(11)
    res = staggered_did(d, "y", "unit", "time", "cohort", control=control, bootstrap=True, seed=5)
    dyn = res.aggregate("dynamic")
    tab = dyn.table
    truth = tau(tab["event_time"].to_numpy())
    assert np.all((tab["band_low"] <= truth) & (truth <= tab["band_high"]))
    assert np.all(tab["band_high"] - tab["band_low"] >= tab["ci_high"] - tab["ci_low"])
    assert dyn.conf_int[0] <= tau(np.arange(6)).mean() <= dyn.conf_int[1]
    simple = res.aggregate("simple")
    assert simple.conf_int[0] <= _true_simple(d) <= simple.conf_int[1]
    # the estimates are informative: the effect path is clearly away from zero after adoption
    assert np.all(tab.loc[tab.event_time >= 0, "ci_low"] > 0)


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_covariates_restore_conditional_parallel_trends(method):
    d = simulate(12, n=1500, confounded=True)
    truth = _true_simple(d)
    naive = staggered_did(d, "y", "unit", "time", "cohort", method=method).aggregate("simple")
    adj = staggered_did(d, "y", "unit", "time", "cohort", covariates="~x", method=method).aggregate(
        "simple"
    )
    assert adj.conf_int[0] <= truth <= adj.conf_int[1]
    assert not naive.conf_int[0] <= truth <= naive.conf_int[1]


def test_anticipation():
    d = simulate(13, anticipation_effect=0.8)
    naive = staggered_did(d, "y", "unit", "time", "cohort").aggregate("dynamic").table
    ant = staggered_did(d, "y", "unit", "time", "cohort", anticipation=1, bootstrap=True, seed=2)
    tab = ant.aggregate("dynamic").table.set_index("event_time")
    # with anticipation=1 the base period is g-2: e=-1 shows the anticipation, e>=0 the effect
    truth = pd.Series(tau(tab.index.to_numpy()), index=tab.index)
    truth.loc[-1] = 0.8
    assert np.all((tab["band_low"] <= truth) & (truth <= tab["band_high"]))
    # ignoring anticipation biases the on-impact effect down by the anticipation effect
    e0 = naive.set_index("event_time").loc[0]
    assert e0["ci_high"] < 1.0
    assert set(ant.att_gt.loc[ant.att_gt.post, "base_period"]) == {1.0, 3.0, 5.0}


def test_confidence_interval_coverage():
    """200 seeded draws of a small panel: 95% intervals of the simple ATT and of one ATT(g,t)
    cover the truth in 95% of draws (binomial 99.9% band for 200 draws: about 0.90-0.99)."""
    hits_simple = hits_cell = 0
    draws = 200
    for seed in range(draws):
        d = simulate(1000 + seed, n=80, n_periods=4, cohorts=(0, 3, 4))
        res = staggered_did(d, "y", "unit", "time", "cohort")
        s = res.aggregate("simple")
        hits_simple += s.conf_int[0] <= _true_simple(d) <= s.conf_int[1]
        cell = res.att_gt.query("cohort == 3 and time == 4").iloc[0]
        hits_cell += cell.ci_low <= 1.5 <= cell.ci_high
    for hits in (hits_simple, hits_cell):
        assert 0.90 <= hits / draws <= 0.99


def test_bootstrap_is_seeded_and_close_to_analytic():
    d = pd.read_csv(config.shared_data_dir() / "mpdta" / "mpdta.csv")
    args = ("lemp", "countyreal", "year", "first.treat")
    analytic = staggered_did(d, *args)
    b1 = staggered_did(d, *args, bootstrap=True, seed=7)
    b2 = staggered_did(d, *args, bootstrap=True, seed=7)
    b3 = staggered_did(d, *args, bootstrap=True, seed=8)
    pd.testing.assert_frame_equal(b1.att_gt, b2.att_gt)
    assert not np.allclose(b1.att_gt["se"], b3.att_gt["se"])
    np.testing.assert_allclose(b1.att_gt["att"], analytic.att_gt["att"])
    np.testing.assert_allclose(b1.att_gt["se"], analytic.att_gt["se"], rtol=0.12)
    mam = staggered_did(d, *args, bootstrap=True, boot_weights="mammen", n_boot=2000)
    np.testing.assert_allclose(mam.att_gt["se"], analytic.att_gt["se"], rtol=0.12)
    for kind in ("simple", "group", "dynamic", "calendar"):
        assert b1.aggregate(kind).std_error == pytest.approx(
            analytic.aggregate(kind).std_error, rel=0.12
        )
    # a simultaneous band over 12 cells needs a larger critical value than 1.96
    assert b1.crit_val > 2.2


def test_clusters():
    d = pd.read_csv(config.shared_data_dir() / "mpdta" / "mpdta.csv")
    args = ("lemp", "countyreal", "year", "first.treat")
    base = staggered_did(d, *args)
    same = staggered_did(d, *args, cluster="countyreal")  # units are clusters anyway
    np.testing.assert_allclose(same.att_gt["se"], base.att_gt["se"], rtol=1e-12)
    # clusters of whole units: analytic SE = sqrt(sum_c (sum_i psi_i)^2) / n
    d = d.assign(region=d["countyreal"] // 1000)
    reg = staggered_did(d, *args, cluster="region")
    s = pd.DataFrame(base.inf_func).groupby(np.unique(d["countyreal"]) // 1000).sum()
    np.testing.assert_allclose(
        reg.att_gt["se"], np.sqrt((s.to_numpy() ** 2).sum(axis=0)) / base.n_units, rtol=1e-12
    )
    boot = staggered_did(d, *args, cluster="region", bootstrap=True)
    assert np.all(np.isfinite(boot.att_gt["se"]))


def test_recovers_the_demo_panels_true_transfer_effects():
    """The SYNTHETIC demo (helper F's generator): the good practice's true dynamic effects lie in
    the simultaneous band, and the true overall ATTs in the 95% intervals."""
    from ucc_research import demo

    data = demo.generate(seed=demo.DEFAULT_SEED, n_services=1)
    panel = demo.transfer_panel(data)
    truth = demo.transfer_truth(data, "year")
    for outcome in ("digital_share", "satisfaction"):
        res = staggered_did(panel, outcome, "unit", "time", "cohort", bootstrap=True, seed=1)
        dyn = res.aggregate("dynamic")
        true_e = pd.DataFrame(truth[outcome]["att_by_event_time"]).set_index("event_time")["att"]
        tab = dyn.table.set_index("event_time").loc[true_e.index]
        assert np.all((tab["band_low"] <= true_e) & (true_e <= tab["band_high"])), outcome
        for kind in ("simple", "group", "dynamic", "calendar"):
            agg = res.aggregate(kind)
            assert agg.conf_int[0] <= truth[outcome]["overall"][kind] <= agg.conf_int[1]


def test_figures_and_tidy_output():
    import matplotlib

    matplotlib.use("Agg")
    d = simulate(14, n=200)
    res = staggered_did(d, "y", "unit", "time", "cohort")
    ax = event_study_plot(res.aggregate("dynamic"))
    pre, post = ax.containers[0], ax.containers[1]  # errorbar containers: pre then post
    assert list(pre.lines[0].get_xdata()) == [-5, -4, -3, -2, -1]
    assert list(post.lines[0].get_xdata()) == [0, 1, 2, 3, 4, 5]
    hm = att_gt_heatmap(res)
    assert np.ma.count(hm.collections[0].get_array()) == len(res.att_gt)
    tidy = res.aggregate("group").tidy()
    assert list(tidy["term"]) == ["overall", "cohort=3", "cohort=5", "cohort=7"]
    assert "Callaway & Sant'Anna" in res.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res.aggregate("calendar").summary()
