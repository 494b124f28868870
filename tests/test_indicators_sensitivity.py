"""Sensitivity estimators: COINr's stored vignette results and analytic test functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.errors import SpecError
from ucc_research.indicators.sensitivity import (
    mean_abs_rank_shift,
    rank_desc,
    rank_stats,
    saltelli_design,
    sensitivity_indices,
)

N_SA, D_SA = 100, 4  # COINr vignette: N = 100, four uncertain inputs
SA_NAMES = ["Winmax", "Normalisation", "Weights", "Aggregation"]


@pytest.fixture(scope="module")
def vignette():
    folder = config.shared_data_dir() / "coinr_asem" / "vignette_SA"
    return {name: pd.read_csv(folder / f"{name}.csv") for name in [
        "SA_results_Ranks", "SA_results_Sensitivity", "SA_results_RankStats",
        "UA_results_Ranks", "UA_results_RankStats",
    ]}  # fmt: skip


def _runs(ranks: pd.DataFrame) -> np.ndarray:
    cols = [c for c in ranks.columns if c.startswith("r_")]
    assert cols == [f"r_{i}" for i in range(1, len(cols) + 1)]
    return ranks[cols].to_numpy(float)


def test_reproduces_coinr_sensitivity_indices_from_stored_ranks(vignette):
    ranks = vignette["SA_results_Ranks"]
    y = mean_abs_rank_shift(_runs(ranks), ranks["Nominal"].to_numpy(float))
    got = sensitivity_indices(y, N_SA, D_SA, names=SA_NAMES)
    ref = vignette["SA_results_Sensitivity"]
    assert list(got["Variable"]) == list(ref["Variable"])
    np.testing.assert_allclose(got["Si"], ref["Si"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["STi"], ref["STi"], rtol=0, atol=1e-10)


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate(vignette):
    ranks = vignette["SA_results_Ranks"]
    y = mean_abs_rank_shift(_runs(ranks), ranks["Nominal"].to_numpy(float))
    a = sensitivity_indices(y, N_SA, D_SA, names=SA_NAMES, n_boot=200, seed=7)
    b = sensitivity_indices(y, N_SA, D_SA, names=SA_NAMES, n_boot=200, seed=7)
    c = sensitivity_indices(y, N_SA, D_SA, names=SA_NAMES, n_boot=200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["STi_q5"], c["STi_q5"])
    assert (a["Si_q5"] <= a["Si"]).all() and (a["Si"] <= a["Si_q95"]).all()
    assert (a["STi_q5"] <= a["STi"]).all() and (a["STi"] <= a["STi_q95"]).all()
    # Different resampling scheme and random numbers than COINr, but the same sampling
    # uncertainty: every total-index interval must overlap COINr's stored one.
    ref = vignette["SA_results_Sensitivity"]
    assert ((a["STi_q5"] <= ref["STi_q95"]) & (ref["STi_q5"] <= a["STi_q95"])).all()


def test_reproduces_coinr_rank_stats_sa_first_2n_runs(vignette):
    ranks = vignette["SA_results_Ranks"]
    stats = rank_stats(_runs(ranks)[:, : 2 * N_SA], ranks["Nominal"], units=ranks["uCode"])
    ref = vignette["SA_results_RankStats"]
    assert list(stats["uCode"]) == list(ref["uCode"])
    for ours, theirs in [("nominal_rank", "Nominal"), ("mean_rank", "Mean"),
                         ("median_rank", "Median"), ("q05", "Q5"), ("q95", "Q95")]:  # fmt: skip
        np.testing.assert_allclose(stats[ours], ref[theirs], rtol=0, atol=1e-12, err_msg=ours)


def test_reproduces_coinr_rank_stats_ua(vignette):
    ranks = vignette["UA_results_Ranks"]
    stats = rank_stats(_runs(ranks), ranks["Nominal"], units=ranks["uCode"])
    ref = vignette["UA_results_RankStats"]
    np.testing.assert_allclose(stats["median_rank"], ref["Median"], atol=1e-12)
    np.testing.assert_allclose(stats["q05"], ref["Q5"], atol=1e-12)
    np.testing.assert_allclose(stats["q95"], ref["Q95"], atol=1e-12)
    np.testing.assert_allclose(stats["mean_rank"], ref["Mean"], atol=1e-12)


def _mc_standard_errors(y: np.ndarray, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain Monte Carlo standard errors of the two estimators (means of N terms each).

    The design is quasi-random, whose error shrinks faster than 1/sqrt(N), so these are
    conservative: 4 standard errors give a false-failure rate below 1e-4.
    """
    ya, yb, yab = y[:n], y[n : 2 * n], y[2 * n :].reshape(d, n).T
    var = np.var(np.r_[ya, yb], ddof=1)
    se_s = np.std(yb[:, None] * (yab - ya[:, None]), axis=0, ddof=1) / np.sqrt(n) / var
    se_t = np.std((ya[:, None] - yab) ** 2, axis=0, ddof=1) / np.sqrt(n) / (2 * var)
    return se_s, se_t


def test_ishigami_indices_within_monte_carlo_error():
    a, b = 7.0, 0.1
    n, d = 2**15, 3
    x = -np.pi + 2 * np.pi * saltelli_design(n, d, seed=11)
    y = np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    # Analytic variances (Ishigami & Homma 1990; Sobol' & Levitan 1999).
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * np.pi**8 / 225
    v = v1 + v2 + v13
    true_s = np.array([v1, v2, 0.0]) / v
    true_t = np.array([v1 + v13, v2, v13]) / v
    np.testing.assert_allclose(true_s, [0.3139, 0.4424, 0.0], atol=1e-4)  # published values
    np.testing.assert_allclose(true_t, [0.5576, 0.4424, 0.2437], atol=1e-4)
    est = sensitivity_indices(y, n, d)
    se_s, se_t = _mc_standard_errors(y, n, d)
    assert (
        se_s.max() < 0.01 and se_t.max() < 0.01
    )  # the tolerance is tight enough to mean something
    assert (np.abs(est["Si"] - true_s) < 4 * se_s).all(), (est, se_s)
    assert (np.abs(est["STi"] - true_t) < 4 * se_t).all(), (est, se_t)


def test_linear_additive_model_groups_give_group_indices():
    # y = sum a_i x_i, x_i ~ U(0, 1): Si = STi = a_i^2 / sum a^2; a group's index is its sum.
    coef = np.array([1.0, 2.0, 0.5, 3.0])
    n = 2**12
    x = saltelli_design(n, 4, groups=[1, 2, 1], seed=5)
    assert x.shape == (n * 5, 4)
    y = x @ coef
    share = coef**2 / (coef**2).sum()
    true = np.array([share[0], share[1] + share[2], share[3]])
    est = sensitivity_indices(y, n, 3, names=["x1", "x2+x3", "x4"])
    se_s, se_t = _mc_standard_errors(y, n, 3)
    assert (np.abs(est["Si"] - true) < 4 * se_s).all()
    assert (np.abs(est["STi"] - true) < 4 * se_t).all()


def test_design_is_seeded_and_has_the_saltelli_structure():
    x1 = saltelli_design(16, 3, seed=2)
    np.testing.assert_array_equal(x1, saltelli_design(16, 3, seed=2))
    assert not np.array_equal(x1, saltelli_design(16, 3, seed=3))
    a, b = x1[:16], x1[16:32]
    for i in range(3):
        block = x1[32 + 16 * i : 32 + 16 * (i + 1)]
        np.testing.assert_array_equal(block[:, i], b[:, i])
        np.testing.assert_array_equal(np.delete(block, i, axis=1), np.delete(a, i, axis=1))


def test_rank_desc_matches_r_rank_min_ties_keep_na():
    # R: rank(-c(3, 1, NA, 3, 5), ties.method = "min", na.last = "keep") -> 2 4 NA 2 1
    got = rank_desc(np.array([3.0, 1.0, np.nan, 3.0, 5.0]))
    np.testing.assert_array_equal(got, [2.0, 4.0, np.nan, 2.0, 1.0])
    batch = rank_desc(np.array([[1.0, 2.0], [2.0, 1.0], [0.0, 0.0]]), axis=0)
    np.testing.assert_array_equal(batch, [[2, 1], [1, 2], [3, 3]])


def test_bad_input_is_reported_clearly():
    with pytest.raises(SpecError, match="N \\(d \\+ 2\\)"):
        sensitivity_indices(np.zeros(10), 4, 2)
    with pytest.raises(SpecError, match="does not vary"):
        sensitivity_indices(np.ones(16), 4, 2)
    y = np.arange(16.0)
    y[5] = np.nan
    with pytest.raises(SpecError, match="runs \\[6\\]"):
        sensitivity_indices(y, 4, 2)
    with pytest.raises(SpecError, match="add up"):
        saltelli_design(8, 3, groups=[1, 1])
