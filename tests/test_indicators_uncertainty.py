"""Uncertainty analysis: vectorised engine == replay == C1's step functions, known outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.errors import SpecError
from ucc_research.indicators import build
from ucc_research.indicators._vectorised import Hierarchy, batch_aggregate
from ucc_research.indicators.aggregate import aggregate
from ucc_research.indicators.meta import validate_meta
from ucc_research.indicators.sensitivity import rank_desc
from ucc_research.indicators.uncertainty import (
    parse_vary,
    rank_intervals,
    remove_one_at_a_time,
    sensitivity_analysis,
    synthetic_index_inputs,
    uncertainty_analysis,
)

SPEC = {"normalise": {"method": "minmax", "range": [1, 100]}}


@pytest.fixture(scope="module")
def inputs():
    return synthetic_index_inputs(n_units=25, n_indicators=8, n_pillars=3, seed=4)


@pytest.fixture(scope="module")
def coin(inputs):
    return build(*inputs, SPEC)


def test_synthetic_inputs_are_labelled_and_shaped(inputs):
    idata, imeta = inputs
    assert idata["uName"].str.startswith("Synthetic").all()
    assert imeta["iName"].str.startswith("Synthetic").all()
    assert list(imeta["Level"].value_counts().sort_index()) == [8, 3, 1]
    assert (
        idata.drop(columns=["uCode", "uName"]).isna().to_numpy().any()
    )  # missing values exercised


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ({2: "arith_mean", 3: "arith_mean"}, {}),
        ({2: "geom_mean", 3: "harm_mean"}, {}),
        ("gen_mean", {"p": 2.0}),
        ("arith_mean", {"dat_thresh": 0.9}),
        ("geom_mean", {"zero_shift": 1.0, "by_code": {"P01": "arith_mean"}}),
    ],
)
def test_batch_aggregate_equals_step_function_run_by_run(coin, method, extra):
    meta = coin.meta
    hier = Hierarchy.from_meta(meta)
    x = coin.stages["normalised"][hier.levels[1]]
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.5, size=(6, len(hier.codes)))
    w[2, hier.codes.index("ind04")] = 0.0  # a dropped indicator
    from ucc_research.indicators.aggregate import level_methods

    methods = level_methods(method, hier.top)
    thr = extra.get("dat_thresh")
    res = batch_aggregate(
        x.to_numpy(), hier, w, target="Index", methods=methods, by_code=extra.get("by_code"),
        p=extra.get("p", 1.0), dat_thresh=dict.fromkeys(methods, thr),
        zero_shift=extra.get("zero_shift"),
    )  # fmt: skip
    assert not res.failed
    for r in range(w.shape[0]):
        ref, _ = aggregate(x, meta, weights=pd.Series(w[r], index=hier.codes), method=method,
                           **extra)  # fmt: skip
        np.testing.assert_allclose(res.scores[r], ref["Index"], rtol=1e-12, atol=1e-12)


def test_batch_aggregate_reports_out_of_domain_runs(coin):
    meta = coin.meta
    hier = Hierarchy.from_meta(meta)
    x = coin.stages["normalised"][hier.levels[1]].to_numpy().copy()
    x[3, 0] = 0.0  # a zero under a geometric mean
    w = np.ones((2, len(hier.codes)))
    res = batch_aggregate(x, hier, w, target="Index", methods={2: "geom_mean", 3: "arith_mean"},
                          unit_labels=list(coin.stages["normalised"].index))  # fmt: skip
    assert sorted(res.failed) == [0, 1] and np.isnan(res.scores).all()
    assert "'ind01'" in res.failed[0] and "'S004'" in res.failed[0]
    with pytest.raises(SpecError, match="median"):
        batch_aggregate(x, hier, w, target="Index", methods={2: "median", 3: "arith_mean"})


VARY_ALL = {
    "weights": {"noise": 0.3},
    "normalise": [{"range": [1, 100]}, {"method": "zscore", "m_sd": [50, 10]}],
    "aggregate": ["arith_mean", "geom_mean", "harm_mean"],
    "treat": [{"method": "none"}, {"method": "winsorise", "winmax": 2}],
    "drop": ["ind02", "P03"],
}


def test_vectorised_ranks_equal_replay_ranks(coin):
    vec = uncertainty_analysis(coin, VARY_ALL, 16, seed=5, engine="vectorised")
    rep = uncertainty_analysis(coin, VARY_ALL, 16, seed=5, engine="replay")
    assert vec.engine == "vectorised" and rep.engine == "replay"
    assert vec.failed.empty and rep.failed.empty
    pd.testing.assert_frame_equal(vec.runs, rep.runs)
    assert set(vec.runs["drop"]) == {"none", "ind02", "P03"}
    np.testing.assert_allclose(vec.scores.to_numpy(), rep.scores.to_numpy(), rtol=1e-11)
    np.testing.assert_array_equal(vec.ranks.to_numpy(), rep.ranks.to_numpy())
    pd.testing.assert_frame_equal(vec.rank_stats, rep.rank_stats)


def test_failed_runs_are_reported_identically(coin):
    vary = {"normalise": [{"range": [0, 100]}, {"range": [1, 100]}], "aggregate": ["geom_mean"] * 2}
    with pytest.warns(UserWarning, match="could not be built"):
        vec = uncertainty_analysis(coin, vary, 16, seed=1, engine="vectorised")
    with pytest.warns(UserWarning, match="could not be built"):
        rep = uncertainty_analysis(coin, vary, 16, seed=1, engine="replay")
    zero_based = vec.runs["normalise"] == "range=[0, 100]"
    assert set(vec.failed["run"]) == set(vec.runs.loc[zero_based, "run"]) == set(rep.failed["run"])
    assert vec.failed["reason"].str.contains("positive").all()
    assert vec.scores.loc[:, list(vec.failed["run"])].isna().all().all()
    assert vec.scores.drop(columns=list(vec.failed["run"])).notna().all().all()


def test_rank_stats_match_two_independent_builds(coin):
    # Only the aggregation varies: with 2^6 scrambled Sobol' points, exactly half the runs use
    # each method, so the rank statistics follow from two ordinary builds.
    res = uncertainty_analysis(coin, {"aggregate": ["arith_mean", "geom_mean"]}, 64, seed=3)
    assert (res.runs["aggregate"].value_counts() == 32).all()
    ranks = {
        m: rank_desc(coin.rebuild(aggregate={"method": m}).stages["aggregated"]["Index"].to_numpy())
        for m in ("arith_mean", "geom_mean")
    }
    per_run = np.column_stack([ranks[m] for m in res.runs["aggregate"]])
    np.testing.assert_array_equal(res.ranks.to_numpy(), per_run)
    both = np.column_stack([np.repeat(ranks["arith_mean"][:, None], 32, 1),
                            np.repeat(ranks["geom_mean"][:, None], 32, 1)])  # fmt: skip
    np.testing.assert_allclose(res.rank_stats["median_rank"], np.median(both, axis=1))
    np.testing.assert_allclose(res.rank_stats["q05"], np.quantile(both, 0.05, axis=1))
    np.testing.assert_allclose(res.rank_stats["nominal_rank"], ranks["arith_mean"])
    nominal = coin.ranks.set_index("uCode")["Index"].astype(float)
    np.testing.assert_array_equal(res.rank_stats["nominal_rank"], nominal.to_numpy())


def test_rank_intervals_is_seeded_sorted_and_consistent(coin):
    a = rank_intervals(coin, 32, 7)
    b = rank_intervals(coin, 32, 7)
    c = rank_intervals(coin, 32, 8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert list(a.columns) == [
        "uCode",
        "uName",
        "nominal_rank",
        "median_rank",
        "q05",
        "q95",
        "mean_rank",
    ]
    assert a["nominal_rank"].is_monotonic_increasing
    assert ((a["q05"] <= a["median_rank"]) & (a["median_rank"] <= a["q95"])).all()
    assert a.attrs["n_runs"] == 32 and a.attrs["target"] == "Index"


def test_tiny_weight_noise_leaves_well_separated_ranks_unchanged():
    idata = pd.DataFrame({"uCode": list("ABCDE"), "x": [1.0, 2, 3, 4, 5], "y": [1.0, 2, 3, 4, 5]})
    imeta = pd.DataFrame({"iCode": ["x", "y", "I"], "Level": [1, 1, 2], "Parent": ["I", "I", None]})
    c = build(idata, imeta, SPEC)
    res = uncertainty_analysis(c, {"weights": {"noise": 0.01}, "aggregate": ["arith_mean",
                                                                             "geom_mean"]}, 16)  # fmt: skip
    for col in ("median_rank", "q05", "q95"):
        np.testing.assert_array_equal(res.rank_stats[col], [5, 4, 3, 2, 1])


def test_sensitivity_of_an_inert_input_is_exactly_zero(coin):
    vary = {"aggregate": ["arith_mean", "geom_mean"], "treat": [{"method": "none"}] * 2}
    res = sensitivity_analysis(coin, vary, 8, seed=2, n_boot=50)
    assert res.ranks.shape[1] == 8 * 4
    s = res.sensitivity.set_index("Variable")
    assert s.at["treat", "Si"] == 0 and s.at["treat", "STi"] == 0
    # the output depends on aggregation alone: A_B^aggregate runs reproduce B exactly
    np.testing.assert_array_equal(res.ranks.iloc[:, 16:24].to_numpy(),
                                  res.ranks.iloc[:, 8:16].to_numpy())  # fmt: skip
    assert s.at["aggregate", "STi"] > 0.5
    # rank statistics over the 2N runs of A and B only, as COINr
    ab = res.ranks.iloc[:, :16].to_numpy()
    np.testing.assert_array_equal(res.rank_stats["median_rank"], np.median(ab, axis=1))
    rep = sensitivity_analysis(coin, vary, 8, seed=2, n_boot=50, engine="replay")
    pd.testing.assert_frame_equal(res.sensitivity, rep.sensitivity)


def test_remove_one_at_a_time_equals_building_without_the_indicator(inputs, coin):
    summary, shifts = remove_one_at_a_time(coin, level=1)
    assert list(summary["iCode"]) == Hierarchy.from_meta(coin.meta).levels[1]
    idata, imeta = inputs
    nominal = rank_desc(coin.stages["aggregated"]["Index"].to_numpy())
    for code in ("ind01", "ind05"):
        smaller = build(idata.drop(columns=code), imeta[imeta["iCode"] != code], SPEC)
        without = rank_desc(smaller.stages["aggregated"]["Index"].to_numpy())
        np.testing.assert_array_equal(shifts[code].to_numpy(), without - nominal)
        row = summary.set_index("iCode").loc[code]
        assert row["mean_abs_rank_shift"] == pytest.approx(np.mean(np.abs(without - nominal)))
    rep_summary, rep_shifts = remove_one_at_a_time(coin, level=2, engine="replay")
    vec_summary, vec_shifts = remove_one_at_a_time(coin, level=2)
    pd.testing.assert_frame_equal(rep_shifts, vec_shifts)


def test_vary_yaml_file_and_errors(coin, tmp_path):
    path = tmp_path / "vary.yml"
    path.write_text("weights: {noise: 0.1, levels: [2]}\naggregate: [arith_mean, geom_mean]\n")
    inputs = parse_vary(path, coin)
    assert [i.name for i in inputs] == ["weights", "aggregate"]
    assert inputs[0].codes == ("P01", "P02", "P03") and inputs[0].n_cols == 3
    for bad, msg in [
        ({"colour": ["red", "blue"]}, "unknown input 'colour'"),
        ({"weights": {"noise": 1.5}}, "noise must be in"),
        ({"weights": {"levels": [3]}}, "levels \\[3\\] invalid"),
        ({"normalise": [{"method": "minmax"}]}, "at least two"),
        ({"drop": ["Index"]}, "top-level"),
        ({"normalise": ["minmax", "nonsense"]}, "normalise alternative 2: .*'nonsense'"),
        ({"treat": [{"winmax": 2}, {"wimax": 3}]}, "treat alternative 2: .*'wimax'"),
        ({"drop": ["nope"]}, "'nope' is not an indicator"),
    ]:
        with pytest.raises(SpecError, match=msg):
            parse_vary(bad, coin)
    with pytest.raises(SpecError, match="not found"):
        parse_vary(tmp_path / "missing.yml", coin)
    with pytest.raises(SpecError, match="is not an indicator or aggregate"):
        uncertainty_analysis(coin, {"aggregate": ["arith_mean", "geom_mean"]}, 4, target="zzz")
    only = validate_meta(pd.DataFrame({"iCode": ["x", "y", "A", "B", "I"], "Level": [1, 1, 2, 2, 3],
                                       "Parent": ["A", "B", "I", "I", None]}))  # fmt: skip
    c = build(pd.DataFrame({"uCode": list("abc"), "x": [1.0, 2, 3], "y": [3.0, 1, 2]}), only)
    with pytest.raises(SpecError, match="only child"):
        parse_vary({"drop": ["x"]}, c)


def test_asem_sensitivity_agrees_with_coinr_vignette():
    """End to end against COINr's stored sensitivity analysis of the ASEM example.

    Same coin and the same four uncertain inputs as the vignette (winmax 1..5; min-max [1, 100] or
    z-score (10, 2); weights +-25% at levels 2 and 3; arithmetic or geometric mean). The draws
    differ (COINr: R's runif, N = 100; here Sobol', N = 64), so the indices agree within their
    sampling uncertainty: each bootstrap 5-95% interval of STi overlaps COINr's, and the inputs
    rank the same way (aggregation matters most, winsorisation least).
    """
    asem = config.shared_data_dir() / "coinr_asem"
    spec = {
        "denominate": True,
        "impute": {"method": "group_mean", "group": "EurAsia_group"},
        "treat": {"method": "winsorise", "winmax": 5, "skew_thresh": 2, "kurt_thresh": 3.5},
        "normalise": {"method": "minmax", "range": [0, 100]},
        "aggregate": {"method": "arith_mean"},
    }
    coin = build(pd.read_csv(asem / "ASEM_iData.csv"), pd.read_csv(asem / "ASEM_iMeta.csv"), spec)
    vary = {
        "treat": [{"winmax": k} for k in range(1, 6)],
        "normalise": [
            {"method": "minmax", "range": [1, 100]},
            {"method": "zscore", "m_sd": [10, 2]},
        ],
        "weights": {"noise": 0.25, "levels": [2, 3]},
        "aggregate": ["arith_mean", "geom_mean"],
    }
    res = sensitivity_analysis(coin, vary, 64, seed=1, n_boot=200)
    ours = res.sensitivity
    ref = pd.read_csv(asem / "vignette_SA" / "SA_results_Sensitivity.csv")
    assert ((ours["STi_q5"] <= ref["STi_q95"]) & (ref["STi_q5"] <= ours["STi_q95"])).all(), ours
    assert ours["STi"].idxmax() == ref["STi"].idxmax() == 3
    assert ours["STi"].idxmin() == ref["STi"].idxmin() == 0
    stats = pd.read_csv(asem / "vignette_SA" / "SA_results_RankStats.csv")
    m = res.rank_stats.merge(stats, on="uCode", validate="one_to_one")
    assert len(m) == 51 and (m["nominal_rank"] == m["Nominal"]).all()
    assert (m["median_rank"] - m["Median"]).abs().max() <= 4  # 128 vs 200 runs of rank noise


def test_panel_ranks_within_each_year_and_engines_agree(inputs):
    idata, imeta = synthetic_index_inputs(n_units=10, n_indicators=6, n_pillars=2, seed=1)
    later = idata.copy()
    later.iloc[:, 2:] = later.iloc[:, 2:] * 1.1 + 3
    panel = pd.concat([idata.assign(Time=2022), later.assign(Time=2023)], ignore_index=True)
    c = build(panel, imeta, SPEC)
    vec = uncertainty_analysis(c, None, 8, engine="vectorised")
    rep = uncertainty_analysis(c, None, 8, engine="replay")
    np.testing.assert_array_equal(vec.ranks.to_numpy(), rep.ranks.to_numpy())
    for _, block in vec.ranks.groupby(level="Time"):
        assert sorted(block["r_1"]) == list(range(1, 11))  # a full ranking per year
    nominal = c.ranks.set_index(["uCode", "Time"])["Index"].astype(float)
    stats = vec.rank_stats.set_index(["uCode", "Time"])
    pd.testing.assert_series_equal(stats["nominal_rank"], nominal, check_names=False)
    table = rank_intervals(c, 8)
    assert list(table["Time"]) == [2022] * 10 + [2023] * 10


def test_data_driven_weights_are_recomputed_per_variant_in_both_engines():
    idata, imeta = synthetic_index_inputs(n_units=20, n_indicators=6, n_pillars=2, seed=1)
    c = build(idata, imeta, {**SPEC, "weight": {"method": "optimise"}})
    vary = {"normalise": [{"range": [1, 100]}, {"method": "zscore", "m_sd": [50, 10]}],
            "aggregate": ["arith_mean", "geom_mean"]}  # fmt: skip
    vec = uncertainty_analysis(c, vary, 8, engine="vectorised")
    rep = uncertainty_analysis(c, vary, 8, engine="replay")
    np.testing.assert_allclose(vec.scores.to_numpy(), rep.scores.to_numpy(), rtol=1e-11)
    np.testing.assert_array_equal(vec.ranks.to_numpy(), rep.ranks.to_numpy())


def test_copeland_falls_back_to_the_replay(coin):
    c = coin.rebuild(aggregate={"method": "copeland"})
    vary = {"weights": {"noise": 0.2}, "normalise": [{"range": [1, 100]}, {"range": [1, 10]}]}
    auto = uncertainty_analysis(c, vary, 4)  # copeland ranks units by pairwise wins: rebuilt
    rep = uncertainty_analysis(c, vary, 4, engine="replay")
    np.testing.assert_array_equal(auto.ranks.to_numpy(), rep.ranks.to_numpy())
    pd.testing.assert_frame_equal(auto.rank_stats, rep.rank_stats)
    with pytest.raises(SpecError, match="no vectorised form"):
        uncertainty_analysis(c, vary, 4, engine="vectorised")
