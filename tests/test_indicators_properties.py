"""Property tests: normalisations keep (or reverse) order, min-max hits its range, equal weights
with the arithmetic mean give the plain average, and permuting units permutes every result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ucc_research.indicators import build
from ucc_research.indicators.normalise import normalise_array

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
vectors = arrays(np.float64, st.integers(4, 25), elements=finite).filter(
    lambda v: np.ptp(v) > 1e-3 * max(1.0, np.abs(v).max())
)
MONOTONE = (
    "minmax",
    "zscore",
    "rank",
    "percentile",
    "borda",
    "dist_to_max",
    "goalposts",
    "dist_to_target",
)


@settings(max_examples=25, deadline=None)
@given(x=vectors, method=st.sampled_from(MONOTONE), direction=st.sampled_from([1.0, -1.0]))
def test_normalisation_is_monotone_in_the_direction(x, method, direction):
    lo, hi = np.quantile(x, [0.2, 0.8])
    hi = hi if hi > lo else lo + 1.0
    y = normalise_array(
        x[:, None],
        method,
        direction=np.array([direction]),
        target=np.array([np.max(x) if direction > 0 else np.min(x)]),
        gposts=np.array([[lo], [hi]]),
    )[:, 0]
    order = np.argsort(x * direction, kind="stable")
    xs, ys = (x * direction)[order], y[order]
    # better raw value (after direction) never gets a lower score, strictly higher where
    # the method is strictly monotone
    assert np.all(np.diff(ys) >= -1e-9 * max(1.0, np.abs(ys).max()))
    strict = np.diff(xs) > 1e-6 * np.ptp(xs)  # gaps that survive floating-point scaling
    if method in ("minmax", "zscore", "rank", "percentile", "borda", "dist_to_max"):
        assert np.all(np.diff(ys)[strict] > 0)


@settings(max_examples=25, deadline=None)
@given(
    x=vectors,
    lo=st.floats(-100, 100),
    width=st.floats(0.5, 200),
    direction=st.sampled_from([1.0, -1.0]),
)
def test_minmax_lands_in_its_range(x, lo, width, direction):
    hi = lo + width
    y = normalise_array(x[:, None], "minmax", direction=np.array([direction]), range=[lo, hi])[:, 0]
    assert y.min() >= lo - 1e-9 * width and y.max() <= hi + 1e-9 * width
    assert np.isclose(y.min(), lo) and np.isclose(y.max(), hi)
    best = np.argmax(x * direction)
    assert np.isclose(y[best], hi)


def _frame(values: np.ndarray, codes=None):
    n, k = values.shape
    codes = codes or [f"U{i:02d}" for i in range(n)]
    data = pd.DataFrame(values, columns=[f"i{j}" for j in range(k)])
    data.insert(0, "uCode", codes)
    meta = pd.DataFrame(
        {
            "iCode": [f"i{j}" for j in range(k)] + ["Index"],
            "Level": [1] * k + [2],
            "Parent": ["Index"] * k + [None],
            "Direction": [1] * k + [1],
            "Weight": [1.0] * (k + 1),
        }
    )
    return data, meta


matrices = (
    st.integers(4, 12)
    .flatmap(
        lambda n: st.integers(2, 6).flatmap(
            lambda k: arrays(np.float64, (n, k), elements=st.floats(-1e3, 1e3, allow_nan=False))
        )
    )
    .filter(lambda a: (np.ptp(a, axis=0) > 1e-3).all())
)


@settings(max_examples=15, deadline=None)
@given(values=matrices)
def test_equal_weights_arith_mean_is_plain_average(values):
    data, meta = _frame(values)
    coin = build(data, meta, {"weight": "equal"})
    norm = coin.stages["normalised"]
    np.testing.assert_allclose(coin.scores["Index"], norm.mean(axis=1), rtol=1e-12, atol=1e-9)


@pytest.mark.filterwarnings("ignore:normalise. scores undefined")  # winsorising tiny samples
@settings(max_examples=15, deadline=None)
@given(values=matrices, seed=st.integers(0, 2**16), holes=st.integers(0, 3))
# Skew exactly at the threshold (-2 with one outlier in four): the decision to winsorise must not
# depend on the order of the units' rounding errors. Found by hypothesis.
@example(
    values=np.array([[0, 653.01171875], [653.01171875, 0]] + [[653.01171875] * 2] * 2),
    seed=0,
    holes=0,
)
@example(
    values=np.array(
        [[0, 0], [0, 653.01171875], [653.01171875] * 2, [2.22507386e-313, 653.01171875]]
    ),
    seed=0,
    holes=0,
)
def test_permuting_units_permutes_results(values, seed, holes):
    rng = np.random.default_rng(seed)
    values = values.copy()
    for _ in range(holes):  # a few missing values, imputed by the mean
        values[rng.integers(values.shape[0]), rng.integers(values.shape[1])] = np.nan
    data, meta = _frame(values)
    spec = {"impute": "mean", "treat": {"method": "winsorise", "winmax": 2}, "normalise": "minmax"}
    perm = rng.permutation(len(data))
    a = build(data, meta, spec)
    b = build(data.iloc[perm].reset_index(drop=True), meta, spec)
    sa = a.scores.set_index(["uCode", "uName"])
    sb = b.scores.set_index(["uCode", "uName"]).loc[sa.index]
    np.testing.assert_allclose(
        sa.to_numpy(float), sb.to_numpy(float), rtol=1e-12, atol=1e-9, equal_nan=True
    )
    ra = a.ranks.set_index(["uCode", "uName"])
    rb = b.ranks.set_index(["uCode", "uName"]).loc[ra.index]
    np.testing.assert_array_equal(ra.to_numpy(float), rb.to_numpy(float))
