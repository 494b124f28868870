"""Drivers analysis: importance ranks, grouped importance of correlated copies, grouped CV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research.errors import SpecError
from ucc_research.impact import drivers_analysis
from ucc_research.impact.drivers import correlation_clusters

FAST = {"max_iter": 60}  # small boosting models keep the tests fast


def _data(seed: int = 0, n: int = 800, n_cities: int = 25) -> pd.DataFrame:
    """SYNTHETIC rows: y depends strongly on x1, weakly on x3, not at all on x2."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"city": rng.integers(0, n_cities, n)})
    for c in ("x1", "x2", "x3"):
        d[c] = rng.normal(size=n)
    d["y"] = 2 * d["x1"] + 0.5 * d["x3"] + rng.normal(0, 0.5, n)
    return d


@pytest.fixture(scope="module")
def base():
    return drivers_analysis(_data(), "y", ["x1", "x2", "x3"], groups="city", seed=1,
                            n_repeats=3, gb_params=FAST)  # fmt: skip


def test_importance_ranks_the_real_driver_first(base):
    imp = base.importance.set_index("feature")["importance"]
    assert imp.idxmax() == "x1"
    assert imp["x1"] > 10 * imp["x3"] > 0
    assert abs(imp["x2"]) < 0.02  # irrelevant feature: ~no loss of R2 when shuffled
    assert base.cv_r2_pooled > 0.8


def test_folds_keep_each_city_in_one_fold(base):
    folds = base.folds
    assert folds.index.is_unique and len(folds) == 25
    assert set(folds) == set(range(5))


def test_regression_estimates_are_shown_beside(base):
    t = base.tidy().set_index("term")
    assert t.loc["x1", "estimate"] == pytest.approx(2.0, abs=0.1)
    assert t.loc["x2", "conf_low"] < 0 < t.loc["x2", "conf_high"]
    text = base.summary()
    assert "regression estimate" in text and "not a causal effect" in text
    assert base.regression.formula == "y ~ x1 + x2 + x3"  # no FE: city context stays estimable
    assert base.regression.cluster == "city"


def test_fe_formula_part_is_appended_to_the_features():
    d = _data(n=300)
    d["period"] = np.arange(len(d)) % 4
    res = drivers_analysis(d, "y", ["x1", "x2"], groups="city", fe_formula="city + period",
                           n_repeats=2, gb_params=FAST)  # fmt: skip
    assert res.regression.formula == "y ~ x1 + x2 | city + period"
    assert res.tidy().set_index("term").loc["x1", "estimate"] == pytest.approx(2.0, abs=0.15)


def test_grouped_importance_of_perfect_copies_equals_single_feature(base):
    d = _data()
    d["x1_copy"] = d["x1"]
    res = drivers_analysis(d, "y", ["x1", "x1_copy", "x2", "x3"], groups="city", seed=1,
                           n_repeats=3, gb_params=FAST)  # fmt: skip
    assert res.clusters["x1"] == res.clusters["x1_copy"] != res.clusters["x2"]
    grouped = res.importance.set_index("feature").loc["x1", "grouped_importance"]
    single = base.importance.set_index("feature").loc["x1", "importance"]
    assert grouped == pytest.approx(single, rel=0.1)
    assert "x1, x1_copy" in res.summary()


def test_correlation_clusters_threshold():
    rng = np.random.default_rng(3)
    a = rng.normal(size=300)
    x = pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=300), "c": rng.normal(size=300)})
    cl = correlation_clusters(x, threshold=0.7)
    assert cl["a"] == cl["b"] != cl["c"]
    assert correlation_clusters(x, threshold=0.999).nunique() == 3


def test_partial_dependence_follows_the_true_slope(base):
    pdp = base.partial_dependence
    x1 = pdp[pdp["feature"] == "x1"]
    slope = np.polyfit(x1["value"], x1["average_prediction"], 1)[0]
    assert slope == pytest.approx(2.0, rel=0.25)
    x2 = pdp[pdp["feature"] == "x2"]
    assert np.ptp(x2["average_prediction"]) < 0.3 * np.ptp(x1["average_prediction"])


def test_bad_input():
    d = _data(n=100)
    with pytest.raises(SpecError, match="'x9' not in the data"):
        drivers_analysis(d, "y", ["x1", "x9"], groups="city")
    bad = d.assign(y=d["y"].astype(str))
    with pytest.raises(SpecError, match="outcome 'y' must be numeric"):
        drivers_analysis(bad, "y", ["x1"], groups="city")
    with pytest.raises(SpecError, match="feature 'label' must be numeric"):
        drivers_analysis(d.assign(label="a"), "y", ["x1", "label"], groups="city")


def test_plot_shows_importance_beside_regression(base):
    import matplotlib

    matplotlib.use("Agg")
    ax_imp, ax_fe = base.plot()
    labels = [t.get_text() for t in ax_imp.get_yticklabels()]
    assert labels == [t.get_text() for t in ax_fe.get_yticklabels()]
    assert labels[-1] == "x1"  # sorted by importance, largest on top
    assert len(ax_imp.patches) == 3
