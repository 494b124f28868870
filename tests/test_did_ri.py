"""Randomisation inference over adoption timing: agreement with staggered_did, and its size and
coverage in small SYNTHETIC panels (a seeded, CI-sized version of benchmarks/sim_ri.py)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from ucc_research.errors import SpecError
from ucc_research.impact import randomization_inference, staggered_did

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from sim_ri import panel  # noqa: E402  (the benchmark's data-generating process)


@pytest.fixture(scope="module")
def fit():
    warnings.simplefilter("ignore")
    return staggered_did(panel(36, 3, effect=0.5), "y", "unit", "time", "cohort")


def test_estimates_are_staggered_did_s(fit):
    ri = fit.randomization_inference(n_perm=199, seed=1)
    dyn = fit.aggregate("dynamic").table
    assert ri.event_study["att"].to_numpy() == pytest.approx(dyn["att"].to_numpy(), abs=1e-12)
    assert ri.estimate == pytest.approx(fit.aggregate("simple").estimate, abs=1e-12)
    assert ri.att_gt["att"].to_numpy() == pytest.approx(fit.att_gt["att"].to_numpy())
    assert ri.conf_int[0] < ri.estimate < ri.conf_int[1]
    assert 1 / 200 <= ri.p_value <= 1
    assert (ri.event_study["band_low"] <= ri.event_study["ci_low"] + 1e-12).all()
    tidy = ri.tidy()
    assert tidy.loc[0, "term"] == "ATT" and np.isnan(tidy["std_error"]).all()


def test_deterministic_given_seed_and_from_data(fit):
    a = randomization_inference(fit, n_perm=99, seed=4)
    df = panel(36, 3, effect=0.5)
    b = randomization_inference(df, "y", "unit", "time", "cohort", n_perm=99, seed=4)
    assert a.pretest_p == b.pretest_p and np.array_equal(a.perm_att, b.perm_att)


def test_ci_inverts_the_test_under_a_constant_effect(fit):
    # Shifting every treated post-adoption outcome by c shifts the interval by exactly c.
    df = panel(36, 3, effect=0.5)
    shifted = df.copy()
    post = (shifted["cohort"] > 0) & (shifted["time"] >= shifted["cohort"])
    shifted.loc[post, "y"] += 2.0
    a = randomization_inference(df, "y", "unit", "time", "cohort", n_perm=199, seed=0)
    b = randomization_inference(shifted, "y", "unit", "time", "cohort", n_perm=199, seed=0)
    assert b.estimate == pytest.approx(a.estimate + 2.0)
    assert b.conf_int[0] == pytest.approx(
        a.conf_int[0] + 2.0, abs=0.02 * (a.conf_int[1] - a.conf_int[0])
    )
    assert b.conf_int[1] == pytest.approx(
        a.conf_int[1] + 2.0, abs=0.02 * (a.conf_int[1] - a.conf_int[0])
    )


def test_size_and_pre_adoption_coverage_in_small_panels():
    """36 cities, cohorts of about five: the chi-squared pre-test over-rejects badly, the
    permutation test does not, and the permutation pre-adoption bands cover zero."""
    warnings.simplefilter("ignore")
    chi, perm, cover, cover_an = [], [], [], []
    for seed in range(80):
        res = staggered_did(panel(36, seed), "y", "unit", "time", "cohort")
        ri = randomization_inference(res, n_perm=99, seed=seed)
        perm.append(ri.pretest_p < 0.05)
        try:
            chi.append(res.pretest().p < 0.05)
        except SpecError:
            pass
        pre = res.att_gt["cohort"] > res.att_gt["time"]
        cells = ri.att_gt[pre]
        cover += ((cells["ci_low"] <= 0) & (cells["ci_high"] >= 0)).tolist()
        an = res.att_gt[pre]
        cover_an += ((an["ci_low"] <= 0) & (an["ci_high"] >= 0)).tolist()
    assert np.mean(chi) > 0.4  # the problem being solved (72% in the benchmark)
    assert np.mean(perm) <= 0.11  # 5% nominal; 80 draws: binomial sd 2.4%
    assert np.mean(cover) >= 0.93
    assert np.mean(cover) > np.mean(cover_an)


def test_few_units_are_stated():
    warnings.simplefilter("ignore")
    df = panel(5, 0)
    df["cohort"] = df["unit"].map({0: 0, 1: 0, 2: 4, 3: 4, 4: 0})
    ri = randomization_inference(df, "y", "unit", "time", "cohort", n_perm=99)
    assert ri.n_assignments == 10  # 5! / (3! 2!)
    assert any("only 10 distinct assignments" in n for n in ri.notes)
    assert ri.p_value >= 0.05 and ri.pretest_p >= 0.05


def test_refusals(fit):
    with pytest.raises(SpecError, match="n_perm must be an integer of at least 99"):
        randomization_inference(fit, n_perm=10)
    with pytest.raises(SpecError, match="need data, not a result"):
        randomization_inference(fit, "y")
    df = panel(36, 3).assign(x=np.random.default_rng(0).normal(size=36 * 6))
    df["x"] = df.groupby("unit")["x"].transform("first")
    with_x = staggered_did(df, "y", "unit", "time", "cohort", covariates=["x"])
    with pytest.raises(SpecError, match="without covariates"):
        randomization_inference(with_x)
