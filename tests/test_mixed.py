"""Mixed models: known variance components, the ANOVA identity for balanced data, boundary fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research.errors import SpecError
from ucc_research.impact import mixed_model
from ucc_research.impact.mixed import icc


def _nested(seed=0, cities=60, services=5, periods=2, sd_city=1.0, sd_service=0.6, sd_e=0.8):
    """SYNTHETIC services nested in cities: y = 2 + 0.5 x + u_city + v_service(city) + e."""
    rng = np.random.default_rng(seed)
    c, s, _ = np.meshgrid(np.arange(cities), np.arange(services), np.arange(periods), indexing="ij")
    c, s = c.ravel(), s.ravel()
    u = rng.normal(0, sd_city, cities)
    v = rng.normal(0, sd_service, (cities, services))
    x = rng.normal(size=c.size)
    y = 2 + 0.5 * x + u[c] + v[c, s] + rng.normal(0, sd_e, c.size)
    return pd.DataFrame({"city_id": c, "service_id": s, "x": x, "y": y})


def test_recovers_nested_variance_components_and_fixed_effects():
    d = _nested()
    res = mixed_model(
        d, "y ~ x", groups="city_id", vc_formula={"service": "0 + C(service_id)"},
        methods=("lbfgs", "powell"),
    )  # fmt: skip
    assert res.converged and not res.boundary
    v = res.variances
    assert v["city_id"] == pytest.approx(1.0, abs=0.4)  # 60 cities: se of the variance ~0.2
    assert v["service"] == pytest.approx(0.36, abs=0.12)
    assert v["residual"] == pytest.approx(0.64, abs=0.1)
    fx = res.fixed.set_index("term")
    assert abs(fx.loc["x", "estimate"] - 0.5) < 3 * fx.loc["x", "std_error"]
    assert abs(fx.loc["Intercept", "estimate"] - 2.0) < 3 * fx.loc["Intercept", "std_error"]
    total = v["city_id"] + v["service"] + v["residual"]
    assert res.icc["city_id"] == pytest.approx(v["city_id"] / total)
    assert res.icc["service"] == pytest.approx(v["service"] / total)
    assert list(res.attempts["method"]) == ["lbfgs", "powell"]


def test_balanced_one_way_reml_equals_anova_estimator():
    # For balanced one-way data REML equals the ANOVA (method of moments) estimator when positive.
    rng = np.random.default_rng(5)
    g, n = 25, 4
    grp = np.repeat(np.arange(g), n)
    y = 1.0 + rng.normal(0, 0.7, g)[grp] + rng.normal(0, 1.0, g * n)
    d = pd.DataFrame({"g": grp, "y": y})
    means = d.groupby("g")["y"].mean()
    msb = n * ((means - y.mean()) ** 2).sum() / (g - 1)
    msw = ((d["y"] - means[grp].to_numpy()) ** 2).sum() / (g * (n - 1))
    tau2, sigma2 = (msb - msw) / n, msw
    res = mixed_model(d, "y ~ 1", groups="g", methods=("lbfgs", "bfgs"))
    assert res.variances["g"] == pytest.approx(tau2, rel=1e-4)
    assert res.variances["residual"] == pytest.approx(sigma2, rel=1e-4)
    assert res.icc["g"] == pytest.approx(tau2 / (tau2 + sigma2), rel=1e-4)


def test_icc_formula():
    out = icc({"city": 1.0, "service": 0.5}, residual=0.5)
    assert out["city"] == pytest.approx(0.5) and out["service"] == pytest.approx(0.25)


def test_boundary_fit_is_reported():
    # No between-city variation at all: the noise and x are centred within each city, so the
    # between-city mean square is ~0 and the city variance must sit on the boundary (zero).
    rng = np.random.default_rng(2)
    d = pd.DataFrame({"city_id": np.repeat(np.arange(30), 6)})
    for col in ("x", "e"):
        raw = pd.Series(rng.normal(size=len(d)))
        d[col] = raw - raw.groupby(d["city_id"]).transform("mean")
    d["y"] = 2 + 0.5 * d["x"] + d["e"]
    res = mixed_model(d, "y ~ x", groups="city_id")
    assert res.boundary
    assert res.variances["city_id"] < 0.01 * res.variances["residual"]
    assert "BOUNDARY (singular) fit: variance of city_id" in res.summary()
    assert len(res.attempts) == 5  # every optimiser's status is kept
    assert res.method in set(res.attempts.loc[res.attempts["converged"], "method"])


def test_tidy_has_fixed_and_variance_rows():
    res = mixed_model(_nested(cities=20), "y ~ x", groups="city_id", methods=("lbfgs",))
    t = res.tidy()
    assert set(t["kind"]) == {"fixed", "variance"}
    assert t.loc[t["term"] == "var(residual)", "estimate"].item() == pytest.approx(
        res.variances["residual"]
    )


def test_unknown_column_and_non_numeric_outcome():
    d = _nested(cities=10)
    with pytest.raises(SpecError, match="'z' not in the data"):
        mixed_model(d, "y ~ z", groups="city_id")
    d["y"] = d["y"].astype(str)
    with pytest.raises(SpecError, match="outcome 'y' must be numeric"):
        mixed_model(d, "y ~ x", groups="city_id")
    with pytest.raises(SpecError, match="methods must be"):
        mixed_model(_nested(cities=10), "y ~ x", groups="city_id", methods=("newton",))


def test_caterpillar_plot_has_one_point_per_group():
    import matplotlib

    matplotlib.use("Agg")
    d = _nested(cities=15)
    res = mixed_model(d, "y ~ x", groups="city_id", methods=("lbfgs",))
    ax = res.plot()
    blups = res.random_effects().iloc[:, 0]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.sort(blups.to_numpy()))
    # The predicted intercepts order the cities as their true effects do (shrunken, not equal).
    truth = np.random.default_rng(0).normal(0, 1.0, 15)
    assert np.corrcoef(blups.sort_index().to_numpy(), truth)[0, 1] > 0.9


def test_small_units_alone_do_not_make_a_boundary_fit():
    # A shares-like outcome: city variance 0.0036 and ICC 0.4 (an interior optimum). statsmodels
    # warns "MLE may be on the boundary" for any variance below 0.01 in the outcome's units;
    # the flag must follow the variance's share of the total, so it is the same at any scale.
    rng = np.random.default_rng(7)
    cities, per = 40, 8
    c = np.repeat(np.arange(cities), per)
    u = rng.normal(0, 0.06, cities)  # city variance 0.0036
    y = 0.3 + u[c] + rng.normal(0, np.sqrt(0.0054), c.size)  # residual 0.0054: ICC 0.4
    d = pd.DataFrame({"city_id": c, "y": y})
    small = mixed_model(d, "y ~ 1", groups="city_id")
    big = mixed_model(d.assign(y=d["y"] * 100), "y ~ 1", groups="city_id")
    assert "boundary" in " ".join(small.attempts["warnings"])  # statsmodels did warn
    assert not small.boundary and not big.boundary
    assert small.icc["city_id"] == pytest.approx(big.icc["city_id"], rel=1e-4)
    assert 0.25 < small.icc["city_id"] < 0.55
    assert "BOUNDARY" not in small.summary()
