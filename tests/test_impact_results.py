"""One result convention for every impact estimator (ucc_research.impact.base).

Each estimator's result has tidy() with the same first columns, a summary() that is text and
renders as HTML, the headline estimate/std_error/p_value/conf_int taken from tidy()'s headline
row, coef by term and n_obs; with_inference() gives the same numbers as estimating again with
those inference options (or refuses, saying why).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research import demo
from ucc_research.errors import SpecError
from ucc_research.impact import (
    drivers_analysis,
    fe_regression,
    mixed_model,
    randomization_inference,
    staggered_did,
    synthetic_control,
    synthetic_did,
    twfe,
)
from ucc_research.impact.base import TIDY_COLUMNS, ImpactResult, Summary


@pytest.fixture(scope="module")
def tp() -> pd.DataFrame:
    d = demo.generate(seed=1, n_cities=16, n_services=2, years=(2017, 2022))  # SYNTHETIC
    return demo.transfer_panel(d)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    c, s, t = np.meshgrid(np.arange(12), np.arange(4), np.arange(3), indexing="ij")
    p = pd.DataFrame({"city": c.ravel(), "service": s.ravel(), "period": t.ravel()})
    p["x1"] = rng.normal(size=len(p))
    p["x2"] = rng.integers(0, 2, len(p))
    p["y"] = 0.5 * p["x1"] + 0.2 * p["x2"] + rng.normal(0, 1, 12)[p["city"]]
    p["y"] += rng.normal(0, 0.3, len(p))
    return p


@pytest.fixture(scope="module")
def synth_panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    years = np.arange(2000, 2012)
    paths = {u: 10 + np.cumsum(rng.normal(0.3, 1, years.size)) for u in "ABCDE"}
    paths["T"] = 0.6 * paths["A"] + 0.4 * paths["B"] - 2.0 * (years >= 2008)
    return pd.DataFrame(
        [(u, yr, y) for u, p in paths.items() for yr, y in zip(years, p)],
        columns=["city", "year", "y"],
    )


def _results(tp, features, synth_panel) -> dict[str, ImpactResult]:
    did = staggered_did(tp, "digital_share", "unit", "time", "cohort")
    return {
        "fe": fe_regression(features, "y ~ x1 + x2 | period", cluster="city", bootstrap=None),
        "twfe": twfe(tp, "digital_share", "unit", "time", cohort="cohort"),
        "did": did,
        "event_study": did.aggregate("dynamic"),
        "ri": randomization_inference(did, n_perm=99),
        "sdid": synthetic_did(tp, "digital_share", "unit", "time", adoption="cohort", n_reps=20),
        "sc": synthetic_control(synth_panel, "y", "city", "year", "T", 2008, n_starts=2),
        "mixed": mixed_model(features, "y ~ x1 + x2", groups="city"),
        "drivers": drivers_analysis(features, "y", ["x1", "x2"], groups="city", cv=3,
                                    n_repeats=1, gb_params={"max_iter": 20}),
    }  # fmt: skip


@pytest.fixture(scope="module")
def results(tp, features, synth_panel) -> dict[str, ImpactResult]:
    return _results(tp, features, synth_panel)


def test_every_result_follows_the_convention(results):
    for name, res in results.items():
        tab = res.tidy()
        assert tuple(tab.columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS, name
        assert tab["term"].is_unique, name
        row = tab.iloc[0] if name != "did" else res.aggregate("simple").tidy().iloc[0]
        assert res.estimate == pytest.approx(float(row["estimate"]), nan_ok=True), name
        assert np.isfinite(res.estimate), name
        assert res.p_value == pytest.approx(float(row["p_value"]), nan_ok=True), name
        assert res.coef.index.tolist() == tab["term"].tolist(), name
        assert isinstance(res.n_obs, int) and res.n_obs > 0, name
        s = res.summary()
        assert isinstance(s, Summary) and str(s) == repr(res), name
        html = res._repr_html_()
        assert html.startswith("<div><strong>") and "<table" in html, name
        # the statistic is the estimate over its standard error wherever there is one
        se = tab["std_error"].to_numpy(float)
        ok = np.isfinite(se) & (se > 0)
        np.testing.assert_allclose(
            tab["statistic"].to_numpy(float)[ok], tab["estimate"].to_numpy(float)[ok] / se[ok],
            rtol=1e-6, err_msg=name,
        )  # fmt: skip


def test_confidence_intervals_contain_their_estimates(results):
    for name in ("fe", "twfe", "event_study", "ri", "sdid", "mixed"):
        lo, hi = results[name].conf_int
        assert lo < results[name].estimate < hi, name


def test_staggered_did_with_inference_equals_a_bootstrap_fit(tp, results):
    boot = results["did"].with_inference(bootstrap=True, n_boot=199, seed=3)
    direct = staggered_did(tp, "digital_share", "unit", "time", "cohort", bootstrap=True,
                           n_boot=199, seed=3)  # fmt: skip
    pd.testing.assert_frame_equal(boot.att_gt, direct.att_gt)
    assert boot.aggregate("dynamic").std_error == direct.aggregate("dynamic").std_error
    assert results["did"].att_gt["att"].equals(boot.att_gt["att"])  # estimates unchanged
    with pytest.raises(SpecError, match="need a new staggered_did fit"):
        results["did"].with_inference(cluster="region")


def test_randomisation_with_inference_equals_new_permutations(results):
    again = results["ri"].with_inference(n_perm=199, seed=5)
    direct = randomization_inference(results["did"], n_perm=199, seed=5)
    assert again.n_perm == 199
    assert again.conf_int == direct.conf_int and again.p_value == direct.p_value


def test_sdid_with_inference_equals_a_jackknife_fit(tp, results):
    jk = results["sdid"].with_inference(se="jackknife")
    direct = synthetic_did(tp, "digital_share", "unit", "time", adoption="cohort", se="jackknife")
    assert jk.se_method == "jackknife"
    assert jk.std_error == pytest.approx(direct.std_error, rel=1e-12)
    assert jk.estimate == pytest.approx(results["sdid"].estimate, rel=1e-12)


def test_synthetic_control_with_inference_reruns_the_placebos(synth_panel, results):
    one = results["sc"].with_inference(placebo_n_starts=1)
    direct = synthetic_control(synth_panel, "y", "city", "year", "T", 2008, n_starts=2,
                               placebo_n_starts=1)  # fmt: skip
    assert one.p_value == direct.p_value and one.placebos.n_starts == 1
    assert np.isnan(one.std_error)  # placebo inference: no standard error


def test_fe_with_inference_matches_pyfixest(features, results):
    import pyfixest as pf

    hetero = results["fe"].with_inference(vcov="hetero")
    ref = pf.feols("y ~ x1 + x2 | period", data=features, vcov="hetero")
    np.testing.assert_allclose(hetero.tidy()["std_error"], ref.se().to_numpy(), rtol=1e-8)
    assert "HC1" in hetero.inference and hetero.n_clusters is None
    assert (hetero.coef == results["fe"].coef).all()


def test_mixed_model_says_it_cannot_change_inference(results):
    with pytest.raises(SpecError, match="cannot change its inference"):
        results["mixed"].with_inference(vcov="hetero")
