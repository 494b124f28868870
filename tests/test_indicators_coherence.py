"""Coherence statistics: hand formulas, closed forms, reference implementations, ASEM data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.linalg import hadamard
from sklearn.decomposition import PCA

from ucc_research import config
from ucc_research.errors import SpecError
from ucc_research.indicators.coherence import (
    across_level_correlations,
    coherence,
    cronbach_alpha,
    cronbach_by_aggregate,
    pairwise_correlations,
    pca_by_aggregate,
    within_correlations,
)


@pytest.fixture(scope="module")
def asem():
    folder = config.shared_data_dir() / "coinr_asem"
    meta = pd.read_csv(folder / "ASEM_iMeta.csv")
    data = pd.read_csv(folder / "ASEM_COIN_v06" / "Data_Aggregated.csv")
    return data.rename(columns={"UnitCode": "uCode"}), meta


def test_cronbach_alpha_matches_hand_formula_on_small_matrix():
    x = np.array([[1, 5, 2], [5, 4, 5], [2, 1, 1], [3, 2, 3], [4, 4, 3], [2, 1, 2]], dtype=float)
    k = 3
    by_hand = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    assert cronbach_alpha(x) == pytest.approx(by_hand, abs=1e-12)


def test_cronbach_alpha_known_values():
    # Orthogonal +-1 columns of a Hadamard matrix: a common factor f plus independent noises of
    # equal variance gives items with correlation exactly 0.5, so alpha = k r / (1 + (k - 1) r).
    h = hadamard(8).astype(float)
    f, noise = h[:, 1], h[:, 2:5]
    items = f[:, None] + noise
    assert np.allclose(np.corrcoef(items, rowvar=False)[np.triu_indices(3, 1)], 0.5)
    assert cronbach_alpha(items) == pytest.approx(3 * 0.5 / (1 + 2 * 0.5), abs=1e-12)
    # Two uncorrelated items of equal variance: alpha = 0 exactly; two opposite items: alpha < 0.
    assert cronbach_alpha(h[:, 1:3]) == pytest.approx(0.0, abs=1e-12)
    assert cronbach_alpha(np.c_[f, -f + 0.1 * h[:, 2]]) < 0


def test_cronbach_pairwise_vs_complete_with_missing_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3)) + rng.normal(size=(30, 1))
    x[[2, 7], 0] = np.nan
    complete = x[~np.isnan(x).any(axis=1)]
    assert cronbach_alpha(x, use="complete") == pytest.approx(cronbach_alpha(complete), abs=1e-12)
    # pairwise: the R formula k^2 mean(inter-item cov) / sum(cov) on pandas' pairwise covariance
    cov = pd.DataFrame(x).cov().to_numpy()
    sig_ij = (cov.sum() - np.trace(cov)) / 6
    assert cronbach_alpha(x) == pytest.approx(9 * sig_ij / cov.sum(), abs=1e-12)
    assert cronbach_alpha(x) != pytest.approx(cronbach_alpha(x, use="complete"), abs=1e-6)


def test_pearson_and_spearman_p_values_match_the_t_formula():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(25, 2)), columns=["a", "b"])
    df["b"] += 0.5 * df["a"]
    df.loc[3, "a"] = np.nan
    ok = df.dropna()
    n = len(ok)
    for method, transform in [("pearson", lambda s: s), ("spearman", lambda s: s.rank())]:
        row = pairwise_correlations(df, ["a", "b"], method=method).iloc[0]
        r = np.corrcoef(transform(ok["a"]), transform(ok["b"]))[0, 1]
        t = r * np.sqrt((n - 2) / (1 - r**2))
        assert row["n"] == n
        assert row["r"] == pytest.approx(r, abs=1e-12)
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), n - 2), rel=1e-9)


def test_within_correlations_on_asem_match_pandas_and_flags(asem):
    data, meta = asem
    w = within_correlations(data, meta, level=1, redundant=0.9)
    # every pair of siblings exactly once: sum over pillars of k (k - 1) / 2
    kids = meta[meta["Level"] == 1].groupby("Parent")["iCode"].apply(list)
    assert len(w) == sum(len(k) * (len(k) - 1) // 2 for k in kids)
    full = data.set_index("uCode")[meta.loc[meta["Level"] == 1, "iCode"]].corr()
    np.testing.assert_allclose(w["r"], [full.at[a, b] for a, b in zip(w["var_1"], w["var_2"])])
    assert (w["negative"] == (w["r"] < 0)).all() and (w["redundant"] == (w["r"].abs() > 0.9)).all()
    # TBTs pulls against the rest of its pillar (Instit) in the ASEM data
    tbts = w[(w["parent"] == "Instit") & ((w["var_1"] == "TBTs") | (w["var_2"] == "TBTs"))]
    assert tbts["negative"].all() and (tbts["p_value"] < 0.01).sum() >= 3


def test_across_levels_marks_ancestors(asem):
    data, meta = asem
    a = across_level_correlations(data, meta, level=1, other_level=3)
    assert len(a) == 49 * 2
    parent = meta.set_index("iCode")["Parent"]
    for row in a.sample(10, random_state=0).itertuples():
        assert row.is_ancestor == (parent[parent[row.var_1]] == row.var_2)
    # an indicator correlates with its own pillar: LPI with Physical
    a2 = across_level_correlations(data, meta, level=1, other_level=2, method="spearman")
    lpi = a2[(a2["var_1"] == "LPI") & a2["is_ancestor"]]
    assert list(lpi["var_2"]) == ["Physical"] and lpi["r"].iloc[0] > 0.5


def test_pca_matches_sklearn_on_standardised_data(asem):
    data, meta = asem
    var, load = pca_by_aggregate(data, meta, level=1)
    kids = meta.loc[meta["Parent"] == "Social", "iCode"].tolist()
    x = data[kids].to_numpy(float)
    z = (x - x.mean(0)) / x.std(0, ddof=1)
    ref = PCA().fit(z)
    ours = var[var["parent"] == "Social"].sort_values("component")
    np.testing.assert_allclose(
        ours["variance_explained"], ref.explained_variance_ratio_, atol=1e-10
    )
    np.testing.assert_allclose(ours["eigenvalue"], ref.explained_variance_, atol=1e-10)
    pc1 = load[(load["parent"] == "Social") & (load["component"] == 1)]["loading"].to_numpy()
    assert abs(abs(pc1 @ ref.components_[0]) - 1) < 1e-10  # same axis, sign convention aside
    assert pc1.sum() >= 0


def test_pca_two_identical_children_is_one_component():
    meta = pd.DataFrame({"iCode": ["a", "b", "P"], "Level": [1, 1, 2], "Parent": ["P", "P", None]})
    df = pd.DataFrame({"a": [1.0, 3, 2, 5], "b": [2.0, 6, 4, 10]})
    var, _ = pca_by_aggregate(df, meta)
    np.testing.assert_allclose(var["variance_explained"], [1.0, 0.0], atol=1e-12)


def test_coherence_bundle_flags_and_alpha_by_aggregate(asem):
    data, meta = asem
    res = coherence(data, meta, level=1, redundant=0.6)
    assert set(res.flags["flag"]) == {"negative", "redundant", "negative_with_parent"}
    sib = res.flags[res.flags["flag"] != "negative_with_parent"]
    flagged = res.within[res.within["negative"] | res.within["redundant"]]
    assert len(sib) == res.within["negative"].sum() + res.within["redundant"].sum()
    assert set(zip(sib["var_1"], sib["var_2"])) == set(zip(flagged["var_1"], flagged["var_2"]))
    # TBTs (technical barriers to trade) pulls against its own pillar, and it alone
    own = res.flags[res.flags["flag"] == "negative_with_parent"]
    assert list(zip(own["var_1"], own["parent"])) == [("TBTs", "Instit")]
    assert own["p_value"].iloc[0] < 1e-4
    alpha = cronbach_by_aggregate(data, meta, level=1).set_index("parent")
    pd.testing.assert_frame_equal(res.alpha.set_index("parent"), alpha)
    social = data[meta.loc[meta["Parent"] == "Social", "iCode"]]
    assert alpha.at["Social", "alpha"] == pytest.approx(cronbach_alpha(social), abs=1e-12)
    assert res.pca.groupby("parent")["variance_explained"].sum().round(10).eq(1).all()


def test_bad_input_is_reported_clearly(asem):
    data, meta = asem
    with pytest.raises(SpecError, match="not one of"):
        pairwise_correlations(data, ["LPI", "Ship"], method="kendall")
    with pytest.raises(SpecError, match="'Nope'"):
        pairwise_correlations(data, ["LPI", "Nope"])
    bad = data.astype({"LPI": object})
    bad.loc[4, "LPI"] = "n/a"
    with pytest.raises(SpecError, match="'LPI'.*'n/a'"):
        within_correlations(bad, meta)
    with pytest.raises(SpecError, match="Parent"):
        coherence(data, meta.drop(columns="Parent"))
    with pytest.raises(SpecError, match="two items"):
        cronbach_alpha(np.ones((5, 1)))


def test_a_built_coin_is_accepted_directly():
    from ucc_research.indicators import build
    from ucc_research.indicators.uncertainty import synthetic_index_inputs

    idata, imeta = synthetic_index_inputs(n_units=30, n_indicators=8, n_pillars=2, seed=2)
    coin = build(idata, imeta)
    from_coin = coherence(coin, method="spearman")
    from_table = coherence(coin.stages["aggregated"].reset_index(), imeta, method="spearman")
    pd.testing.assert_frame_equal(from_coin.within, from_table.within)
    pd.testing.assert_frame_equal(from_coin.alpha, from_table.alpha)
    assert from_coin.within["n"].lt(30).any()  # pairwise-complete: synthetic values are missing
