"""Each step against reference implementations or hand-computed truth on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.decomposition import PCA

from ucc_research.errors import SpecError
from ucc_research.indicators import build, get_stats
from ucc_research.indicators.aggregate import aggregate_block, copeland
from ucc_research.indicators.impute import impute
from ucc_research.indicators.normalise import normalise
from ucc_research.indicators.treat import treat
from ucc_research.indicators.weight import effective_weights, pca_loadings, static_weights


def _meta(codes, directions=None):
    k = len(codes)
    return pd.DataFrame(
        {
            "iCode": [*codes, "Index"],
            "Level": [1] * k + [2],
            "Parent": ["Index"] * k + [None],
            "Direction": [*(directions or [1] * k), 1],
            "Weight": [1.0] * (k + 1),
            "Type": ["Indicator"] * k + ["Aggregate"],
        }
    ).set_index("iCode", drop=False)


# --- statistics ---------------------------------------------------------------------------


def test_stats_skew_kurt_equal_pandas_adjusted_estimators():
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.lognormal(size=(40, 3)), columns=["a", "b", "c"])
    df.iloc[3, 1] = np.nan
    st = get_stats(df)
    np.testing.assert_allclose(st["Skew"], df.skew(), rtol=1e-12)
    np.testing.assert_allclose(st["Kurt"], df.kurt(), rtol=1e-12)
    assert st.loc["b", "N.Avail"] == 39


# --- impute -------------------------------------------------------------------------------


def test_mean_imputation_keeps_a_constant_column_constant_in_any_unit_order():
    # Pairwise summation rounds differently as the missing values move: the mean of nine equal
    # tiny values came out one ulp off in some orders, and min-max then stretched that ulp to
    # 0-100 (hypothesis case). The fill must equal the constant exactly, whatever the order.
    v = 1.3827367453159623e-184
    col = np.full(12, v)
    col[[1, 4, 7]] = np.nan
    rng = np.random.default_rng(0)
    for order in [np.arange(12)] + [rng.permutation(12) for _ in range(20)]:
        x = pd.DataFrame({"a": col[order], "b": col[order]})
        x.index = pd.Index([f"U{i:02d}" for i in order], name="uCode")
        groups = pd.DataFrame({"g": ["p"] * 12}, index=x.index)
        for kw in ({"method": "mean"}, {"method": "group_mean", "group": "g", "groups": groups}):
            got, _ = impute(x, _meta(["a", "b"]), **kw)
            assert (got.to_numpy() == v).all(), kw


def test_group_mean_and_median_imputation():
    x = pd.DataFrame(
        {"a": [1.0, 3.0, np.nan, 10.0, 20.0, np.nan, 60.0]},
        index=pd.Index(list("ABCDEFG"), name="uCode"),
    )
    groups = pd.DataFrame({"g": ["p", "p", "p", "q", "q", "q", "q"]}, index=x.index)
    m = _meta(["a"])
    got, rec = impute(x, m, method="group_mean", group="g", groups=groups)
    assert got.loc["C", "a"] == 2.0 and got.loc["F", "a"] == 30.0
    assert rec["n_imputed"] == 2 and rec["n_remaining"] == 0
    got, _ = impute(x, m, method="group_median", group="g", groups=groups)
    assert got.loc["F", "a"] == 20.0


def test_within_pillar_imputation_uses_rescaled_row_mean():
    x = pd.DataFrame(
        {"a": [0.0, 5.0, 10.0], "b": [100.0, 50.0, np.nan], "c": [1.0, 3.0, 2.0]},
        index=pd.Index(list("ABC"), name="uCode"),
    )
    m = _meta(["a", "b", "c"], directions=[1, -1, 1])
    m.loc[["a", "b"], "Parent"] = "P"
    m.loc["c", "Parent"] = "Q"
    m = pd.concat(
        [
            m,
            pd.DataFrame(
                {
                    "iCode": ["P", "Q"],
                    "Level": [2, 2],
                    "Parent": ["Index"] * 2,
                    "Direction": [1, 1],
                    "Weight": [1.0, 1.0],
                    "Type": ["Aggregate"] * 2,
                },
                index=["P", "Q"],
            ),
        ]
    )
    m.loc["Index", "Level"] = 3
    got, _ = impute(x, m, method="within_pillar", group_level=2)
    # C: a scaled = 1 (best); b unknown -> scaled 1 (best) -> b = lowest value (direction -1) = 50
    assert got.loc["C", "b"] == pytest.approx(50.0)


def test_panel_imputation_latest_linear_constant():
    idx = pd.MultiIndex.from_product([["A"], [2018, 2019, 2020, 2021]], names=["uCode", "Time"])
    x = pd.DataFrame({"a": [np.nan, 2.0, np.nan, 8.0]}, index=idx)
    m = _meta(["a"])
    latest, _ = impute(x, m, method="latest")
    assert np.isnan(latest["a"].iloc[0]) and latest["a"].tolist()[1:] == [2.0, 2.0, 8.0]
    linear, _ = impute(x, m, method="linear")
    assert linear["a"].tolist() == [2.0, 2.0, 5.0, 8.0]
    const, _ = impute(x, m, method="constant")
    assert const["a"].tolist() == [2.0, 2.0, 2.0, 8.0]
    x2 = pd.DataFrame({"a": [1.0, np.nan, np.nan, np.nan]}, index=idx)
    limited, _ = impute(x2, m, method="latest", max_time=2)
    assert limited["a"].tolist()[:3] == [1.0, 1.0, 1.0] and np.isnan(limited["a"].iloc[3])


# --- treat --------------------------------------------------------------------------------


def test_winsorise_then_log_fallback_when_winmax_is_not_enough():
    x = np.r_[np.arange(1, 21.0), 500, 5000]  # fails; one point is not enough, two are
    df = pd.DataFrame({"a": x})
    out, rec = treat(df, winmax=1)
    row = rec["summary"].iloc[0]
    assert row["transform"] == "log_CT" and row["n_high"] == 0
    expected = np.log(x - x.min() + 0.01 * (x.max() - x.min()))
    np.testing.assert_allclose(out["a"], expected, rtol=1e-12)
    out2, rec2 = treat(df, winmax=5)
    assert rec2["summary"].iloc[0]["n_high"] == 2 and rec2["summary"].iloc[0]["transform"] == ""
    assert out2["a"].iloc[-2:].tolist() == [20.0, 20.0]
    assert rec2["flags"]["a"].iloc[-2:].tolist() == ["winhi", "winhi"]


def test_treat_overrides_none_force_and_boxcox():
    rng = np.random.default_rng(1)
    base = np.r_[rng.normal(size=30), 15.0]
    df = pd.DataFrame({"a": base, "b": base, "c": np.arange(31.0)})
    out, rec = treat(df, indiv={"a": "none", "c": {"force_win": True, "winmax": 2}})
    s = rec["summary"].set_index("iCode")
    assert (out["a"] == df["a"]).all() and s.loc["a", "treatment"] == "None"
    assert s.loc["b", "n_high"] == 1  # one point fixes this one
    assert s.loc["c", "n_winsorised"] == 2  # forced although it passes
    out, _ = treat(df[["b"]], method="boxcox", **{"lambda": 0.5})
    shifted = df["b"] - df["b"].min() + 1
    np.testing.assert_allclose(out["b"], sps.boxcox(shifted.to_numpy(), lmbda=0.5), rtol=1e-12)


# --- normalise ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "settings", "expected"),
    [
        ("minmax", {"range": [1, 10]}, [1.0, 3.25, 5.5, 10.0]),
        ("rank", {}, [1.0, 2.0, 3.0, 4.0]),
        ("borda", {}, [0.0, 1.0, 2.0, 3.0]),
        ("percentile", {}, [0.0, 1 / 3, 2 / 3, 1.0]),
        ("dist_to_max", {}, [0.0, 0.25, 0.5, 1.0]),
        ("fracmax", {}, [0.2, 0.4, 0.6, 1.0]),
        ("dist_to_target", {"cap_max": True}, [0.0, 1 / 3, 2 / 3, 1.0]),
        ("goalposts", {"gposts": {"a": [2, 4]}, "range": [0, 100]}, [0.0, 0.0, 50.0, 100.0]),
        ("dist_to_ref", {"ref": "C"}, [0.0, 0.5, 1.0, 2.0]),
    ],
)
def test_normalisation_formulas(method, settings, expected):
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 5.0]}, index=pd.Index(list("ABCD"), name="uCode"))
    m = _meta(["a"])
    m["Target"] = [4.0, np.nan]
    got, rec = normalise(x, m, method=method, **settings)
    np.testing.assert_allclose(got["a"], expected, rtol=1e-12)
    assert rec["direction"] == {"a": 1.0}


def test_zscore_and_negative_direction():
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 6.0]})
    m = _meta(["a"], directions=[-1])
    got, _ = normalise(x, m, method="zscore", m_sd=[10, 2])
    expected = 10 + 2 * (-x["a"] - (-x["a"]).mean()) / x["a"].std()
    np.testing.assert_allclose(got["a"], expected, rtol=1e-12)
    gp, _ = normalise(x, m, method="goalposts", gposts={"a": [2, 6]}, range=[0, 1])
    np.testing.assert_allclose(gp["a"], [1.0, 1.0, 0.75, 0.0])  # (u - x) / (u - l)


def test_panel_normalisation_global_or_per_year():
    idx = pd.MultiIndex.from_tuples(
        [("A", 1), ("B", 1), ("A", 2), ("B", 2)], names=["uCode", "Time"]
    )
    x = pd.DataFrame({"a": [0.0, 10.0, 5.0, 20.0]}, index=idx)
    m = _meta(["a"])
    glob, _ = normalise(x, m)
    assert glob["a"].tolist() == [0.0, 50.0, 25.0, 100.0]
    per, _ = normalise(x, m, global_=False)
    assert per["a"].tolist() == [0.0, 100.0, 0.0, 100.0]


# --- weights and aggregation --------------------------------------------------------------


def test_means_match_scipy():
    rng = np.random.default_rng(5)
    x = rng.uniform(1, 100, size=(6, 4))
    w = np.array([1.0, 2.0, 3.0, 0.5])
    np.testing.assert_allclose(
        aggregate_block(x, w, "arith_mean"), np.average(x, axis=1, weights=w)
    )
    np.testing.assert_allclose(aggregate_block(x, w, "geom_mean"), sps.gmean(x, axis=1, weights=w))
    np.testing.assert_allclose(aggregate_block(x, w, "harm_mean"), sps.hmean(x, axis=1, weights=w))
    np.testing.assert_allclose(
        aggregate_block(x, w, "gen_mean", p=3), sps.pmean(x, 3, axis=1, weights=w)
    )
    x[0, 1] = np.nan  # missing child: weights renormalised over the others
    np.testing.assert_allclose(
        aggregate_block(x, w, "arith_mean")[0], np.average(x[0, [0, 2, 3]], weights=w[[0, 2, 3]])
    )
    assert np.isnan(aggregate_block(x, w, "arith_mean", dat_thresh=0.8)[0])


def test_geometric_zero_shift_rule():
    x = np.array([[0.0, 100.0], [50.0, 50.0]])
    y = aggregate_block(x, np.ones(2), "geom_mean", zero_shift=1.0)
    np.testing.assert_allclose(y, [np.sqrt(1 * 101) - 1, 50.0])


def test_copeland_by_hand():
    # units: A beats B on both, B beats C on one and ties on the other
    x = np.array([[3.0, 3.0], [2.0, 1.0], [1.0, 1.0]])
    got = copeland(x, np.array([1.0, 1.0]))
    # A: vs B 1, vs C 1 -> 2 ; B: vs A 0, vs C 0.5 + 0.25 = 0.75 ; C: 0 + 0.25
    np.testing.assert_allclose(got, [2.0, 0.75, 0.25])


def test_pca_weights_match_sklearn_loadings():
    rng = np.random.default_rng(2)
    f = rng.normal(size=200)
    x = pd.DataFrame(
        {c: f * s + rng.normal(size=200) for c, s in zip("abc", [1, 2, 0.5], strict=True)}
    )
    load = pca_loadings(x)
    z = (x - x.mean()) / x.std(ddof=1)
    ref = PCA(n_components=1).fit(z).components_[0]
    ref = ref if ref.sum() > 0 else -ref
    np.testing.assert_allclose(load.to_numpy(), ref, atol=1e-10)
    assert load["b"] == load.max()  # the strongest loading on the common factor


def test_effective_weights_and_budget():
    m = pd.DataFrame(
        {
            "Type": ["Indicator"] * 3 + ["Aggregate"] * 3,
            "Level": [1, 1, 1, 2, 2, 3],
            "Parent": ["A", "A", "B", "I", "I", None],
            "Weight": [1.0, 3, 1, 1, 1, 1],
        },
        index=["a", "b", "c", "A", "B", "I"],
    )
    eff = effective_weights(m, m["Weight"])
    assert eff[["a", "b", "c"]].tolist() == [0.125, 0.375, 0.5]
    w = static_weights(m, "budget", budget=[{"a": 10, "b": 30}, {"a": 30, "b": 10}])
    assert w["a"] == w["b"] == 20.0
    with pytest.raises(SpecError, match=r"budget of expert 2 misses \['b'\]"):
        static_weights(m, "budget", budget=[{"a": 1, "b": 2}, {"a": 1}])


def test_methods_per_level_and_per_code():
    data = pd.DataFrame({"uCode": ["A", "B"], "a": [1.0, 4.0], "b": [4.0, 1.0], "c": [9.0, 1.0]})
    meta = pd.DataFrame(
        {
            "iCode": ["a", "b", "c", "P", "Q", "I"],
            "Level": [1, 1, 1, 2, 2, 3],
            "Parent": ["P", "P", "Q", "I", "I", None],
        }
    )
    coin = build(
        data,
        meta,
        {
            "normalise": "none",
            "aggregate": {"method": ["arith_mean", "geom_mean"], "by_code": {"P": "geom_mean"}},
        },
    )
    s = coin.scores.set_index("uCode")
    assert s.loc["A", "P"] == pytest.approx(2.0)  # sqrt(1 * 4)
    assert s.loc["A", "I"] == pytest.approx(np.sqrt(2.0 * 9.0))
    assert coin.records["aggregate"]["method"] == {
        "P": "geom_mean",
        "Q": "arith_mean",
        "I": "geom_mean",
    }


# --- build, rebuild, results --------------------------------------------------------------


def _toy():
    rng = np.random.default_rng(11)
    data = pd.DataFrame(rng.uniform(0, 10, size=(8, 4)), columns=["a", "b", "c", "d"])
    data.insert(0, "uCode", [f"U{i}" for i in range(8)])
    data.insert(1, "grp", ["x", "y"] * 4)
    data.loc[2, "b"] = np.nan
    meta = pd.DataFrame(
        {
            "iCode": ["a", "b", "c", "d", "P", "Q", "I", "grp"],
            "Level": [1, 1, 1, 1, 2, 2, 3, None],
            "Parent": ["P", "P", "Q", "Q", "I", "I", None, None],
            "Direction": [1, -1, 1, 1, 1, 1, 1, None],
            "Type": ["Indicator"] * 4 + ["Aggregate"] * 3 + ["Group"],
        }
    )
    return data, meta


def test_rebuild_equals_fresh_build_and_reuses_stages():
    data, meta = _toy()
    coin = build(data, meta, {"impute": "mean"})
    re = coin.rebuild(normalise={"method": "zscore"}, weights={"a": 2.0})
    fresh = build(
        data, meta, {"impute": "mean", "normalise": "zscore", "weight": {"weights": {"a": 2.0}}}
    )
    pd.testing.assert_frame_equal(re.scores, fresh.scores)
    assert re.stages["imputed"] is coin.stages["imputed"]
    assert re.spec == fresh.spec and re.spec["normalise"]["m_sd"] == [0, 1]
    assert re.weights[1]["a"] == pytest.approx(2 / 3)


def test_spec_as_run_replays_the_build():
    data, meta = _toy()
    coin = build(
        data, meta, {"impute": {"method": "group_median", "group": "grp"}, "treat": "winsorise"}
    )
    again = build(data, meta, coin.spec)
    pd.testing.assert_frame_equal(coin.scores, again.scores)
    assert coin.spec["treat"]["winmax"] == 5 and coin.spec["denominate"] == {"method": "none"}


def test_results_group_ranks_and_profile():
    data, meta = _toy()
    coin = build(data, meta, {"impute": "mean"})
    res = coin.results(level=3, group="grp")
    x = res[res["group"] == "x"]
    np.testing.assert_array_equal(x["group_rank"], x["score"].rank(method="min", ascending=False))
    assert set(res.columns) >= {"uCode", "iCode", "Level", "score", "rank", "group", "group_rank"}
    prof = coin.profile("U0", group="grp", n=1)
    ind = prof[prof["Level"] == 1]
    assert ind.loc[ind["category"] == "strength", "group_rank"].iloc[0] == ind["group_rank"].min()
    assert ind.loc[ind["category"] == "weakness", "group_rank"].iloc[0] == ind["group_rank"].max()
    np.testing.assert_allclose(prof["diff_from_mean"], prof["score"] - prof["comparison_mean"])


def test_screen_units_with_include_exclude():
    data, meta = _toy()
    data.loc[5, ["a", "b", "c"]] = np.nan
    coin = build(data, meta, {"screen": {"method": "byNA", "dat_thresh": 0.5, "exclude": ["U1"]}})
    kept = set(coin.scores["uCode"])
    assert "U5" not in kept and "U1" not in kept and len(kept) == 6
    assert coin.records["screen"]["removed_units"] == ["U1", "U5"]
    coin = build(data, meta, {"screen": {"method": "byNA", "dat_thresh": 0.5, "include": ["U5"]}})
    assert "U5" in set(coin.scores["uCode"])


def test_panel_build_ranks_within_each_year():
    data, meta = _toy()
    panel = pd.concat([data.assign(Time=2020), data.assign(Time=2021, a=data["a"] + 1)])
    coin = build(panel, meta, {"impute": "latest"})
    assert coin.panel and list(coin.scores.columns[:2]) == ["uCode", "Time"]
    r = coin.ranks
    for _, g in r.groupby("Time"):
        assert sorted(g["I"].tolist()) == list(range(1, 9))
    # global min-max: 2021 'a' is shifted up by 1, so 2021 scores are higher
    s = coin.scores.set_index(["uCode", "Time"])["a"].unstack()
    assert (s[2021] > s[2020]).all()
