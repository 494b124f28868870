"""FE panel regressions: CRV1 against R fixest and a hand computation; the wild cluster bootstrap."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ucc_research import config
from ucc_research.errors import SpecError
from ucc_research.impact import fe_regression
from ucc_research.impact.panel import wild_cluster_bootstrap


def _panel(seed: int = 0, g: int = 12, t: int = 6, beta: float = 0.5) -> pd.DataFrame:
    """SYNTHETIC city x period panel with city-level error correlation."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"city": np.repeat(np.arange(g), t), "period": np.tile(np.arange(t), g)})
    d["x1"] = rng.normal(size=len(d)) + np.repeat(rng.normal(size=g), t)
    d["x2"] = rng.normal(size=len(d)) + 0.1 * d["city"]
    shock = np.repeat(rng.normal(size=g), t)
    d["y"] = (
        beta * d["x1"] - 0.2 * d["x2"] + 0.3 * d["city"] + 0.1 * d["period"]
        + shock * (1 + 0.5 * d["x1"]) + rng.normal(size=len(d))
    )  # fmt: skip
    return d


def test_crv1_matches_hand_computation():
    d = _panel()
    res = fe_regression(d, "y ~ x1 + x2 | city + period", cluster="city", bootstrap=None)
    g, t = 12, 6
    # Explicit dummies: city (all levels, absorbing the intercept) and period (drop one).
    dummies = pd.get_dummies(d[["city", "period"]].astype(str)).to_numpy(float)
    x = np.column_stack([d[["x1", "x2"]].to_numpy(), dummies[:, :g], dummies[:, g + 1 :]])
    y = d["y"].to_numpy()
    xtx_inv = np.linalg.inv(x.T @ x)
    b = xtx_inv @ x.T @ y
    u = y - x @ b
    meat = np.zeros((x.shape[1], x.shape[1]))
    for c in range(g):
        s = x[d["city"].to_numpy() == c].T @ u[d["city"].to_numpy() == c]
        meat += np.outer(s, s)
    n = len(y)
    # fixest/reghdfe: K = slopes + non-nested FE (period: t-1) + 1; city FE nested in cluster.
    k = 2 + (t - 1) + 1
    v = (g / (g - 1)) * ((n - 1) / (n - k)) * xtx_inv @ meat @ xtx_inv
    se = np.sqrt(np.diag(v)[:2])
    assert res.tidy()["estimate"].to_numpy() == pytest.approx(b[:2], rel=1e-8)
    assert res.tidy()["std_error"].to_numpy() == pytest.approx(se, rel=1e-8)
    tcrit = stats.t.ppf(0.975, g - 1)
    assert res.tidy()["conf_low"].to_numpy() == pytest.approx(b[:2] - tcrit * se, rel=1e-6)
    assert res.tidy()["p_value"].to_numpy() == pytest.approx(
        2 * stats.t.sf(np.abs(b[:2] / se), g - 1), rel=1e-6
    )


def test_mpdta_matches_r_fixest():
    d = pd.read_csv(config.shared_data_dir() / "mpdta" / "mpdta.csv")
    d["post"] = ((d["first.treat"] > 0) & (d["year"] >= d["first.treat"])).astype(int)
    res = fe_regression(d, "lemp ~ post | countyreal + year", cluster="countyreal")
    row = res.tidy().iloc[0]
    # R: feols(lemp ~ post | countyreal + year, mpdta, cluster = ~countyreal)
    assert row["estimate"] == pytest.approx(-0.036549, abs=5e-7)
    assert row["std_error"] == pytest.approx(0.013265, abs=5e-7)
    assert res.n_clusters == 500 and res.bootstrap is None  # many clusters: no bootstrap
    assert "CRV1 by countyreal" in row["inference"]


def _naive_wcr_enumeration(x, y, groups, j):
    """Exact WCR p-value over all 2^G Rademacher sign vectors, by brute-force refits."""
    g_count = groups.max() + 1

    def crv_t(yy):
        xtx_inv = np.linalg.inv(x.T @ x)
        b = xtx_inv @ x.T @ yy
        u = yy - x @ b
        meat = sum(
            np.outer(x[groups == c].T @ u[groups == c], x[groups == c].T @ u[groups == c])
            for c in range(g_count)
        )
        return b[j] / np.sqrt((xtx_inv @ meat @ xtx_inv)[j, j])

    xo = np.delete(x, j, axis=1)
    fitted = xo @ np.linalg.lstsq(xo, y, rcond=None)[0]
    u_r = y - fitted
    t_obs = crv_t(y)
    ts = [
        crv_t(fitted + u_r * np.asarray(signs)[groups])
        for signs in itertools.product([-1.0, 1.0], repeat=g_count)
    ]
    return np.mean(np.abs(ts) >= abs(t_obs) - 1e-12)


def test_wild_bootstrap_matches_brute_force_enumeration():
    rng = np.random.default_rng(3)
    g_count, n = 7, 70
    groups = np.repeat(np.arange(g_count), n // g_count)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = 0.25 * x[:, 1] + np.repeat(rng.normal(size=g_count), n // g_count) + rng.normal(size=n)
    exact = _naive_wcr_enumeration(x, y, groups, 1)
    fast = wild_cluster_bootstrap(x, y, groups, 1, n_boot=20000, weights="rademacher", seed=1)
    assert fast == pytest.approx(exact, abs=0.012)  # Monte Carlo error of 20000 draws


def test_wild_bootstrap_close_to_crv1_with_many_clusters():
    d = _panel(seed=4, g=150, t=4, beta=0.12)
    res = fe_regression(d, "y ~ x1 + x2 | city + period", cluster="city", bootstrap="wild",
                        n_boot=1999, seed=2)  # fmt: skip
    p_crv, p_wild = res.tidy().loc[0, ["p_value", "p_value_wild"]]
    assert 0.005 < p_crv < 0.3  # an informative case, not one where both are ~0
    assert p_wild == pytest.approx(p_crv, abs=0.03)


def test_wild_bootstrap_size_under_null_with_few_clusters():
    rng = np.random.default_rng(11)
    g_count, per = 8, 10
    groups = np.repeat(np.arange(g_count), per)
    rejections = 0
    reps = 200
    for r in range(reps):
        # Heterogeneous cluster sizes of the effect make CRV1 over-reject; WCR should not.
        xc = rng.normal(size=g_count)
        x = np.column_stack([np.ones(g_count * per), xc[groups] + 0.5 * rng.normal(size=80)])
        y = np.repeat(rng.normal(size=g_count), per) * (1 + np.abs(xc[groups])) + rng.normal(
            size=80
        )
        p = wild_cluster_bootstrap(x, y, groups, 1, n_boot=199, weights="webb", seed=r)
        rejections += p < 0.05
    rate = rejections / reps
    assert 0.01 <= rate <= 0.10


def test_auto_bootstrap_with_few_clusters_is_announced():
    d = _panel(g=10)
    res = fe_regression(d, "y ~ x1 | city + period", cluster="city", n_boot=999, seed=1)
    assert res.bootstrap == "wild" and res.boot_weights == "webb"
    assert "p_value_wild" in res.tidy().columns
    assert "only 10 clusters (< 30)" in res.summary()
    again = fe_regression(d, "y ~ x1 | city + period", cluster="city", n_boot=999, seed=1)
    assert again.tidy()["p_value_wild"].item() == res.tidy()["p_value_wild"].item()
    off = fe_regression(d, "y ~ x1 | city + period", cluster="city", bootstrap=None)
    assert "WARNING: only 10 clusters" in off.summary()


def test_missing_rows_are_counted_not_silent():
    d = _panel()
    d.loc[[3, 8], "y"] = np.nan
    res = fe_regression(d, "y ~ x1 | city + period", cluster="city", bootstrap=None)
    assert res.n_obs == len(d) - 2 and res.n_dropped == 2
    assert "dropped for missing values: 2" in res.summary()


def test_coefficient_plot_has_one_point_per_term():
    import matplotlib

    matplotlib.use("Agg")
    res = fe_regression(_panel(), "y ~ x1 + x2 | city + period", cluster="city", bootstrap=None)
    ax = res.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x2", "x1"]


def test_ci_coverage_simulation():
    """95% CRV1 intervals cover the true slope about 95% of the time (40 clusters)."""
    rng = np.random.default_rng(2024)
    covered = 0
    reps = 40
    for _ in range(reps):
        d = _panel(seed=int(rng.integers(1_000_000)), g=40, t=5, beta=0.5)
        c = fe_regression(d, "y ~ x1 + x2 | city + period", cluster="city", bootstrap=None).tidy()
        covered += c.loc[0, "conf_low"] <= 0.5 <= c.loc[0, "conf_high"]
    # Binomial(40, 0.95) >= 34 with probability 0.986; a 90%-coverage method fails half the time.
    assert covered >= 34


def test_demo_true_feature_effects_inside_confidence_intervals():
    from ucc_research.cleaning.schemas import SERVICE_FEATURES as FEATURES
    from ucc_research.demo import generate

    demo = generate(seed=1, n_cities=36, n_services=10, years=(2018, 2021))
    rhs = " + ".join(FEATURES)
    for outcome in ("digital_share", "satisfaction"):
        res = fe_regression(
            demo.service_panel, f"{outcome} ~ {rhs} | city_id^service_id + period",
            cluster="city_id", bootstrap=None, alpha=0.05 / len(FEATURES),
        )  # fmt: skip
        truth = demo.truth["true_effects"][outcome]["average_effect"]
        c = res.tidy().set_index("term")
        for k in FEATURES:
            # Bonferroni: all eight intervals jointly at 95%.
            assert c.loc[k, "conf_low"] <= truth[k] <= c.loc[k, "conf_high"], (outcome, k)


def test_unknown_column_in_formula():
    with pytest.raises(SpecError, match="'eid_logn' not in the data"):
        fe_regression(_panel(), "y ~ x1 + eid_logn | city", cluster="city")


def test_non_numeric_outcome():
    d = _panel()
    d["y"] = d["y"].astype(str)
    with pytest.raises(SpecError, match="outcome 'y' must be numeric"):
        fe_regression(d, "y ~ x1 | city", cluster="city")


def test_bad_arguments():
    with pytest.raises(SpecError, match="bootstrap must be"):
        fe_regression(_panel(), "y ~ x1 | city", bootstrap="pairs")
    with pytest.raises(SpecError, match="formula must be a string"):
        fe_regression(_panel(), "y = x1")


def test_weighted_estimate_and_crv1_match_hand_wls():
    d = _panel(seed=6)
    d["w"] = np.random.default_rng(6).uniform(0.5, 2.0, len(d))
    res = fe_regression(d, "y ~ x1 | city + period", cluster="city", weights="w", bootstrap=None)
    g, t = 12, 6
    dummies = pd.get_dummies(d[["city", "period"]].astype(str)).to_numpy(float)
    x = np.column_stack([d["x1"].to_numpy(), dummies[:, :g], dummies[:, g + 1 :]])
    sw = np.sqrt(d["w"].to_numpy())
    xw, yw = x * sw[:, None], d["y"].to_numpy() * sw
    xtx_inv = np.linalg.inv(xw.T @ xw)
    b = xtx_inv @ xw.T @ yw
    u = yw - xw @ b
    city = d["city"].to_numpy()
    meat = sum(np.outer(xw[city == c].T @ u[city == c], xw[city == c].T @ u[city == c])
               for c in range(g))  # fmt: skip
    n, k = len(d), 1 + (t - 1) + 1
    se = np.sqrt((g / (g - 1)) * ((n - 1) / (n - k)) * (xtx_inv @ meat @ xtx_inv)[0, 0])
    assert res.tidy().loc[0, "estimate"] == pytest.approx(b[0], rel=1e-8)
    assert res.tidy().loc[0, "std_error"] == pytest.approx(se, rel=1e-8)


def test_drop_singletons_is_counted_and_bootstrap_stays_aligned():
    d = _panel()
    extra = pd.DataFrame({"city": [99], "period": [0], "x1": [0.3], "x2": [0.1], "y": [5.0]})
    d = pd.concat([d, extra], ignore_index=True)
    kept = fe_regression(d, "y ~ x1 | city + period", cluster="city", n_boot=999)
    dropped = fe_regression(d, "y ~ x1 | city + period", cluster="city", n_boot=999,
                            drop_singletons=True)  # fmt: skip
    assert kept.n_obs == len(d) and dropped.n_obs == len(d) - 1
    assert dropped.n_singletons == 1 and dropped.n_clusters == 12 and kept.n_clusters == 13
    assert "singletons dropped: 1" in dropped.summary()
    # A singleton's own fixed effect fits it exactly: the slope does not change.
    assert dropped.tidy().loc[0, "estimate"] == pytest.approx(kept.tidy().loc[0, "estimate"])
    assert 0 <= dropped.tidy().loc[0, "p_value_wild"] <= 1


def test_formula_functions_and_keywords_are_not_taken_for_columns():
    d = _panel()
    d["treat"] = (d["city"] < 6).astype(int)
    res = fe_regression(d, "y ~ i(period, treat, ref=0) | city", cluster="city", bootstrap=None)
    # one interaction per non-reference period, each the treated-minus-control change
    assert len(res.tidy()) == 5 and all("treat" in t for t in res.tidy()["term"])
    ref = fe_regression(d.assign(**{f"p{k}": (d["period"] == k) * d["treat"] for k in range(1, 6)}),
                        "y ~ p1 + p2 + p3 + p4 + p5 | city", cluster="city", bootstrap=None)  # fmt: skip
    np.testing.assert_allclose(res.tidy()["estimate"], ref.tidy()["estimate"], rtol=1e-8)
    with pytest.raises(SpecError, match="'treatd' not in the data"):
        fe_regression(d, "y ~ i(period, treatd, ref=0) | city", cluster="city")


def test_wild_confidence_interval_inverts_the_bootstrap_test():
    from ucc_research.impact.panel import wild_cluster_confint

    rng = np.random.default_rng(8)
    g_count, per = 9, 8
    groups = np.repeat(np.arange(g_count), per)
    x = np.column_stack([np.ones(g_count * per), rng.normal(size=g_count * per)])
    y = 0.4 * x[:, 1] + np.repeat(rng.normal(size=g_count), per) + rng.normal(size=g_count * per)
    kw = dict(n_boot=1999, weights="webb", seed=3)
    lo, hi = wild_cluster_confint(x, y, groups, 1, alpha=0.05, **kw)
    beta = np.linalg.lstsq(x, y, rcond=None)[0][1]
    assert lo < beta < hi
    eps = 1e-3 * (hi - lo)
    for bound, inside in ((lo, lo + eps), (hi, hi - eps)):
        outside = 2 * bound - inside
        assert wild_cluster_bootstrap(x, y, groups, 1, null=inside, **kw) > 0.05
        assert wild_cluster_bootstrap(x, y, groups, 1, null=outside, **kw) <= 0.05


def test_wild_ci_close_to_crv1_ci_with_many_clusters():
    d = _panel(seed=4, g=150, t=4, beta=0.12)
    res = fe_regression(d, "y ~ x1 | city + period", cluster="city", bootstrap="wild",
                        n_boot=1999, seed=2)  # fmt: skip
    c = res.tidy().iloc[0]
    width = c["conf_high"] - c["conf_low"]
    assert abs(c["conf_low_wild"] - c["conf_low"]) < 0.1 * width
    assert abs(c["conf_high_wild"] - c["conf_high"]) < 0.1 * width
    assert "conf_low_wild" in res.tidy().columns and "conf_low_wild" in res.summary()


_DETERMINISM_SCRIPT = """
import numpy as np, pandas as pd, sys
from ucc_research.impact import fe_regression
rng = np.random.default_rng(0)
c, s, t = np.meshgrid(np.arange(300), np.arange(20), np.arange(8), indexing="ij")
p = pd.DataFrame({"city_id": c.ravel(), "service_id": s.ravel(), "period": t.ravel()})
p["x1"] = rng.normal(size=len(p))
p["x2"] = rng.normal(size=len(p))
p["y"] = (0.3 * p["x1"] + 0.1 * p["x2"] + rng.normal(0, 1, 300)[p["city_id"]]
          + rng.normal(0, 0.2, len(p)))
r = fe_regression(p, "y ~ x1 + x2 | city_id + service_id + period", cluster="city_id",
                  bootstrap=None)
sys.stdout.write(r.tidy().to_csv(float_format="%.17g") + repr(r.r2_within))
"""


@pytest.mark.slow
def test_fe_results_are_byte_identical_across_processes():
    # pyfixest's demeaning differs run to run in the last bits on this 48,000-row panel (3
    # distinct coefficient vectors in 6 processes when measured); the stated 10-digit precision
    # makes the table byte-identical. Three processes (each ~5 s, most of it pyfixest's first
    # fit) are enough to see that variation.
    import subprocess
    import sys

    outs = {
        subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT], capture_output=True, text=True,
            check=True,
        ).stdout
        for _ in range(3)
    }  # fmt: skip
    assert len(outs) == 1
    out = outs.pop()
    assert "x1" in out and "0.3002211946" in out
