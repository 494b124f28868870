"""SDID, SC, DID and augmented SC: the published Proposition 99 numbers and simulated panels with
known effects (treated units inside and outside the donors' convex hull, staggered adoption)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthdid import load_california_prop99  # test-only dev dependency (synthdid-py)

from ucc_research.errors import SpecError
from ucc_research.impact import augmented_synthetic_control, compare_estimators, synthetic_did


@pytest.fixture(scope="module")
def smoking() -> pd.DataFrame:
    return load_california_prop99()


ARGS = ("PacksPerCapita", "State", "Year")


@pytest.mark.parametrize(
    ("method", "published", "reference"),
    [
        # Arkhangelsky et al. (2021, AER) Table 1, and the R package synthdid 0.0.9 to 5 decimals
        ("did", -27.3, -27.34911),
        ("sc", -19.6, -19.61966),
        ("sdid", -15.6, -15.60383),
    ],
)
def test_prop99_reproduces_published_estimates(smoking, method, published, reference):
    res = synthetic_did(smoking, *ARGS, treatment="treated", method=method, se="none")
    assert round(res.estimate, 1) == published
    assert res.estimate == pytest.approx(reference, abs=5e-5)
    assert res.cohorts["cohort"].tolist() == [1989]
    assert res.n_controls == 38
    w = res.unit_weights[1989]
    assert w.sum() == pytest.approx(1.0) and (w >= -1e-12).all()


def test_prop99_sdid_weights_and_placebo_se(smoking):
    res = synthetic_did(smoking, *ARGS, treatment="treated", n_reps=30, seed=1)
    # synthdid: effective N0 = 16.4 of 38 (1 / sum omega^2) and T0 = 2.8 of 19 for lambda.
    omega = res.unit_weights[1989].to_numpy()
    lam = res.time_weights[1989].to_numpy()
    assert 1 / np.sum(omega**2) == pytest.approx(16.4, abs=0.05)
    assert 1 / np.sum(lam**2) == pytest.approx(2.8, abs=0.05)
    # Placebo draws: the estimator re-run on never-treated units with no effect.
    assert res.draws.size == 30
    assert abs(res.draws.mean()) < res.std_error
    assert 5 < res.std_error < 15  # published placebo se 8.4 (paper) / about 10 (synthdid example)
    assert res.conf_int[0] < res.estimate < res.conf_int[1]
    tidy = res.tidy()
    assert tidy.loc[0, "term"] == "ATT" and tidy.loc[0, "estimate"] == pytest.approx(res.estimate)


def test_prop99_ascm_between_sc_and_sdid_and_lambda_infinite_is_sc(smoking):
    asc = synthetic_did(smoking, *ARGS, treatment="treated", method="ascm", se="none")
    assert -20 < asc.estimate < -10
    assert asc.ridge[1989] > 0
    w = asc.unit_weights[1989]
    assert w.sum() == pytest.approx(1.0)  # the ridge correction sums to zero


# ------------------------------------------------------------------ simulations with known truth
def _factor_panel(seed, n=30, t=16, t0=10, effect=-1.0, outside=False, cohorts=None):
    """SYNTHETIC interactive-fixed-effects panel (unit loadings on a trend and a cycle).

    With ``outside``, the treated units' trend loading exceeds every control's: no convex mix of
    controls reproduces them (outside the donors' hull).
    """
    rng = np.random.default_rng(seed)
    times = np.arange(t)
    f = np.column_stack([times / t, np.sin(times / 2)])
    load = rng.uniform(0, 1, size=(n, 2))
    alpha = rng.normal(10, 1, size=n)
    cohorts = cohorts or {t0: 1}
    treated = []
    start = 0
    first = np.full(n, np.nan)
    for g, k in cohorts.items():
        idx = list(range(start, start + k))
        first[idx] = g
        treated += idx
        start += k
    if outside:
        load[treated, 0] = 1.8 + 0.1 * rng.uniform(size=len(treated))
    y = alpha[:, None] + 3 * load @ f.T + 0.05 * rng.normal(size=(n, t))
    for i in treated:
        y[i, int(first[i]) :] += effect
    return pd.DataFrame(
        {
            "city": np.repeat(np.arange(n), t),
            "period": np.tile(times, n),
            "y": y.ravel(),
            "first": np.repeat(first, t),
        }
    )


@pytest.mark.parametrize("seed", range(4))
def test_outside_hull_ascm_and_sdid_recover_the_effect_sc_does_not(seed):
    df = _factor_panel(seed, outside=True)
    est = {
        m: synthetic_did(df, "y", "city", "period", adoption="first", method=m, se="none").estimate
        for m in ("sc", "sdid", "ascm")
    }
    assert abs(est["ascm"] + 1) < 0.15
    assert abs(est["sc"] + 1) > 2 * abs(est["ascm"] + 1)


@pytest.mark.parametrize("seed", range(3))
def test_inside_hull_all_estimators_agree_with_the_truth(seed):
    df = _factor_panel(seed)
    table = compare_estimators(df, "y", "city", "period", adoption="first",
                               methods=("sc", "sdid", "ascm"), se="none")  # fmt: skip
    assert (table["estimate"] + 1).abs().max() < 0.25


def test_staggered_adoption_weights_cohorts_by_treated_unit_periods():
    cohorts = {8: 3, 10: 4, 12: 3}
    df = _factor_panel(5, n=40, cohorts=cohorts, effect=-1.0)
    res = synthetic_did(df, "y", "city", "period", adoption="first", se="jackknife")
    table = res.cohorts.set_index("cohort")
    assert table["n_treated"].to_dict() == cohorts
    assert table["n_post"].to_dict() == {8: 8, 10: 6, 12: 4}
    size = pd.Series({8: 24, 10: 24, 12: 12})
    assert table["weight"].to_numpy() == pytest.approx((size / size.sum()).to_numpy())
    assert res.estimate == pytest.approx(float((table["weight"] * table["att"]).sum()))
    assert abs(res.estimate + 1) < 0.1
    assert res.conf_int[0] < -1 < res.conf_int[1]
    assert res.n_controls == 30
    assert res.draws.size == 40  # one leave-one-out estimate per unit
    assert set(res.effects["cohort"]) == set(cohorts)


def test_placebo_se_for_staggered_adoption_is_deterministic_given_seed():
    df = _factor_panel(6, n=20, cohorts={9: 2, 11: 2})
    a = synthetic_did(df, "y", "city", "period", adoption="first", n_reps=8, seed=3)
    b = synthetic_did(df, "y", "city", "period", adoption="first", n_reps=8, seed=3)
    assert a.std_error == b.std_error and np.array_equal(a.draws, b.draws)
    assert "se" in a.cohorts and a.cohorts["se"].notna().all()
    assert abs(a.draws.mean()) < 3 * a.std_error  # placebo effects centre on zero


def test_ascm_wrapper_and_ridge_choice():
    df = _factor_panel(0, outside=True)
    res = augmented_synthetic_control(df, "y", "city", "period", adoption="first", se="none")
    assert res.method == "ascm" and res.ridge[10] > 0
    assert res.summary().startswith("Augmented synthetic control (ridge)")
    assert "cohort 10: 1 unit(s), 10 pre / 6 post periods" in res.summary()
    assert (res.unit_weights[10] < 0).any()  # extrapolation outside the hull needs negative weights


# ------------------------------------------------------------------ bad input
def test_needs_exactly_one_of_treatment_and_adoption(smoking):
    with pytest.raises(SpecError, match="exactly one of treatment"):
        synthetic_did(smoking, *ARGS)


def test_jackknife_refused_with_a_single_treated_unit(smoking):
    with pytest.raises(SpecError, match="cohort\\(s\\) 1989 have 1"):
        synthetic_did(smoking, *ARGS, treatment="treated", se="jackknife")


def test_non_absorbing_treatment_refused(smoking):
    bad = smoking.copy()
    bad.loc[(bad["State"] == "California") & (bad["Year"] == 1995), "treated"] = 0
    with pytest.raises(SpecError, match="switches off for unit\\(s\\) 'California'"):
        synthetic_did(bad, *ARGS, treatment="treated")


def test_unbalanced_panel_refused(smoking):
    with pytest.raises(SpecError, match="missing for unit-period"):
        synthetic_did(smoking.iloc[1:], *ARGS, treatment="treated")


def test_unknown_method_refused(smoking):
    with pytest.raises(SpecError, match="method must be one of"):
        synthetic_did(smoking, *ARGS, treatment="treated", method="magic")


def test_units_treated_from_the_start_are_left_out_and_noted():
    df = _factor_panel(1, cohorts={10: 1})
    df["period"] += 1  # periods 1..16, so 0 can mean never treated
    df["first"] += 1
    df.loc[df["city"] == 5, "first"] = 1  # treated from the first period: no pre-period
    df.loc[df["city"] == 6, "first"] = 0  # 0 = never treated
    res = synthetic_did(df, "y", "city", "period", adoption="first", se="none")
    assert res.n_controls == 28 and 6 in res.unit_weights.index
    assert 5 not in res.unit_weights.index
    assert any("left out 1 unit(s) treated from the first period" in n and "5" in n
               for n in res.notes)  # fmt: skip


def test_ascm_leaves_out_cohorts_too_short_to_choose_its_penalty():
    df = _factor_panel(2, n=30, cohorts={2: 2, 9: 3})
    res = synthetic_did(df, "y", "city", "period", adoption="first", method="ascm", se="none")
    assert res.cohorts["cohort"].tolist() == [9]
    assert any("cohort 2 left out: 2 pre-period(s), fewer than 3" in n for n in res.notes)
    sdid = synthetic_did(df, "y", "city", "period", adoption="first", se="none")
    assert sdid.cohorts["cohort"].tolist() == [2, 9]


def test_se_auto_falls_back_to_the_jackknife_when_controls_are_few():
    df = _factor_panel(3, n=14, cohorts={9: 4, 11: 4})  # 8 treated, 6 never treated
    res = synthetic_did(df, "y", "city", "period", adoption="first")
    assert res.se_method == "jackknife" and np.isfinite(res.std_error)
    assert any("the placebo needs more never-treated units (6) than treated (8)" in n
               for n in res.notes)  # fmt: skip


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_jackknife_matches_the_r_port(method):
    """Three treated units in one block: estimate and jackknife SE equal synthdid-py's (a port
    of R synthdid, whose estimates it matches to 5 decimals on Prop 99)."""
    import synthdid as ref

    df = _factor_panel(4, n=30, cohorts={10: 3})
    df["treated"] = (df["first"].notna() & (df["period"] >= df["first"])).astype(int)
    ours = synthetic_did(df, "y", "city", "period", treatment="treated", method=method,
                         se="jackknife")  # fmt: skip
    p = ref.panel_matrices(df[["city", "period", "y", "treated"]], unit="city", time="period",
                           outcome="y", treatment="treated")  # fmt: skip
    estimator = {"sdid": ref.synthdid_estimate, "sc": ref.sc_estimate, "did": ref.did_estimate}
    tau = estimator[method](p.Y, p.N0, p.T0)
    assert ours.estimate == pytest.approx(float(tau), rel=1e-8)
    assert ours.std_error == pytest.approx(tau.se(method="jackknife"), rel=1e-8)


def test_describe_agreement_with_a_did_row():
    from ucc_research.impact import describe_agreement

    df = _factor_panel(0, n=30, cohorts={10: 3})
    table = compare_estimators(df, "y", "city", "period", adoption="first",
                               methods=("sdid", "sc"), se="jackknife")  # fmt: skip
    cs = pd.DataFrame([{"label": "CS DiD", "estimate": -1.0, "std_error": 0.05}])
    text = describe_agreement(pd.concat([cs, table], ignore_index=True))
    assert text.startswith("The 3 estimates range from")
    assert "synthetic difference-in-differences agrees with CS DiD" in text
    far = cs.assign(estimate=5.0)
    assert "does not" in describe_agreement(pd.concat([far, table], ignore_index=True))
    with pytest.raises(SpecError, match="reference 'OLS' is not in the table"):
        describe_agreement(table, reference="OLS")


def test_adoption_values_not_comparable_with_periods_refused():
    df = _factor_panel(0).assign(first=lambda d: np.where(d["city"] == 0, "2010", None))
    with pytest.raises(SpecError, match="value '2010' of unit 0 cannot be compared"):
        synthetic_did(df, "y", "city", "period", adoption="first")
