"""Synthetic control: the Synth vignette (Basque Country) and simulated panels with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research import config
from ucc_research.errors import SpecError
from ucc_research.impact import synthetic_control
from ucc_research.impact.synth import _simplex_qp

BASQUE = "Basque Country (Pais Vasco)"
SECTORS = [
    "sec.agriculture",
    "sec.energy",
    "sec.industry",
    "sec.construction",
    "sec.services.venta",
    "sec.services.nonventa",
]
VIGNETTE = dict(
    predictors=["school.illit", "school.prim", "school.med", "school.high", "school.post.high"]
    + ["invest"],
    predictor_period=range(1964, 1970),
    special_predictors=[("gdpcap", range(1960, 1970), "mean")]
    + [(c, range(1961, 1970, 2), "mean") for c in SECTORS]
    + [("popdens", [1969], "mean")],
    optimize_period=range(1960, 1970),
)


@pytest.fixture(scope="module")
def basque() -> pd.DataFrame:
    return pd.read_csv(config.shared_data_dir() / "basque" / "basque.csv")


@pytest.fixture(scope="module")
def basque_fit(basque):
    # R Synth's own V search (its two starts and two optimisers): reproduces its solution.
    return synthetic_control(
        basque, "gdpcap", "regionname", "year", BASQUE, 1975, n_starts=2, placebo=False,
        search="synth", **VIGNETTE
    )  # fmt: skip


@pytest.fixture(scope="module")
def basque_thorough(basque):
    return synthetic_control(
        basque, "gdpcap", "regionname", "year", BASQUE, 1975, placebo=False, **VIGNETTE
    )


def test_basque_reproduces_synth_weights(basque_fit):
    w = basque_fit.weights
    assert w["Cataluna"] == pytest.approx(0.8508, abs=0.02)
    assert w["Madrid (Comunidad De)"] == pytest.approx(0.1492, abs=0.02)
    others = w.drop(["Cataluna", "Madrid (Comunidad De)"])
    assert others.max() < 0.01
    assert w.sum() == pytest.approx(1.0, abs=1e-9)


def test_basque_att_and_fit_match_reference(basque_fit):
    # pysyncon / Synth reference: ATT 1975-1997 = -0.6996, MSPE over 1960-1969 = 0.008865.
    assert basque_fit.estimate == pytest.approx(-0.6996, rel=0.03)
    assert basque_fit.loss_v == pytest.approx(0.008865, rel=0.02)
    gap = basque_fit.gap
    assert gap.loc[1975:].mean() == pytest.approx(basque_fit.estimate)
    assert basque_fit.v.sum() == pytest.approx(1.0)
    assert (basque_fit.v >= 0).all()
    bal = basque_fit.predictor_balance
    assert bal.loc["gdpcap", "synthetic"] == pytest.approx(bal.loc["gdpcap", "treated"], rel=0.02)


SYNTH_LOSS_V = 0.008865  # R Synth's loss.v on the vignette spec (pysyncon reproduces it)


def test_thorough_search_reaches_at_most_synths_loss_on_basque(basque_fit, basque_thorough):
    # R Synth's solution is a local optimum: the thorough search goes below its loss, never above.
    assert basque_fit.loss_v == pytest.approx(SYNTH_LOSS_V, rel=1e-3)
    assert basque_thorough.loss_v <= basque_fit.loss_v
    assert basque_thorough.loss_v == pytest.approx(0.0042861, rel=1e-3)
    assert basque_thorough.loss_v >= basque_thorough.loss_bound  # no V beats the outcome fit
    assert basque_thorough.loss_bound == pytest.approx(basque_fit.loss_bound)
    starts = basque_thorough.starts
    assert {"start", "method", "converged", "first_run_converged", "loss_v"} <= set(starts)
    assert list(starts["start"].unique()[:3]) == ["equal", "regression", "outcome fit"]
    assert {"nelder-mead", "bfgs"} <= set(starts["method"])
    assert starts["method"].str.contains("powell|restarts").any()  # the polished end points
    assert starts["loss_v"].min() == pytest.approx(basque_thorough.loss_v)
    w = basque_thorough.weights
    assert w["Cataluna"] == pytest.approx(0.6328, abs=0.002)
    assert w["Baleares (Islas)"] == pytest.approx(0.2193, abs=0.002)


def test_more_starts_never_do_worse_and_are_reported(basque):
    # Without the Spain aggregate the V search is harder: the equal start alone stalls.
    donors = [u for u in basque["regionname"].unique() if u not in (BASQUE, "Spain (Espana)")]
    args = (basque, "gdpcap", "regionname", "year", BASQUE, 1975)
    one = synthetic_control(*args, donors=donors, n_starts=1, placebo=False, **VIGNETTE)
    many = synthetic_control(*args, donors=donors, n_starts=4, placebo=False, **VIGNETTE)
    assert many.loss_v <= one.loss_v + 1e-12
    # Synth's single Nelder-Mead run from the equal start stalls far above; restarts recover.
    first = one.starts.iloc[0]
    assert first["loss_v_first_run"] > 10 * SYNTH_LOSS_V and not first["first_run_converged"]
    assert one.loss_v <= SYNTH_LOSS_V
    assert many.starts["start"].nunique() == 4  # each start with NM and BFGS, 2 polished
    assert len(many.starts) == 4 * 2 + 2
    assert many.starts["loss_v"].min() == pytest.approx(many.loss_v)
    assert many.starts["start"].iloc[0] == "equal"
    assert "Spain (Espana)" not in many.weights.index


@pytest.mark.parametrize("seed", range(12))
def test_simplex_qp_satisfies_kkt(seed):
    rng = np.random.default_rng(seed)
    k, j = rng.integers(2, 8), rng.integers(2, 15)
    d = rng.normal(size=(k, j)) + rng.normal(size=(k, 1))
    q = d.T @ d
    w = _simplex_qp(q)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    grad, mu = q @ w, w @ q @ w
    tol = 1e-8 * np.abs(q).max()
    assert np.all(grad >= mu - tol)  # no donor outside the support would lower the loss
    assert np.allclose(grad[w > 1e-9], mu, atol=tol)  # stationarity on the support
    # Same optimum from a warm start anywhere on the simplex.
    w2 = _simplex_qp(q, rng.dirichlet(np.ones(j)))
    assert w2 @ q @ w2 == pytest.approx(mu, rel=1e-8, abs=1e-12)


T0 = 8  # first treated period of the simulated panels (8 pre-periods, 6 post)


def _sim_panel(effect: float = 2.0, seed: int = 4, n_units: int = 6, n_t: int = 14):
    """SYNTHETIC panel: a treated unit close to 0.6*u1 + 0.4*u2 before treatment.

    Four factors and five donors: the donors' loadings are affinely independent, so the weights
    that reproduce the treated unit are unique.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_t)
    factors = np.column_stack([np.ones(n_t), np.sin(t / 2), t / n_t, np.cos(t / 1.5)])
    loadings = rng.normal(size=(n_units, 4)) + np.array([5, 0, 0, 0])
    y = loadings @ factors.T + 0.01 * rng.normal(size=(n_units, n_t))
    treated = 0.6 * y[1] + 0.4 * y[2] + 0.01 * rng.normal(size=n_t)
    treated = treated + np.where(t >= T0, effect, 0.0)
    units = ["treated"] + [f"u{i}" for i in range(1, n_units)]
    ys = np.vstack([treated, y[1:]])
    return pd.DataFrame(
        {"unit": np.repeat(units, n_t), "period": np.tile(t, n_units), "y": ys.ravel()}
    )


def test_simulated_weights_effect_and_placebo_pvalue():
    df = _sim_panel()
    res = synthetic_control(df, "y", "unit", "period", "treated", T0, n_starts=2, seed=3)
    assert res.weights["u1"] == pytest.approx(0.6, abs=0.03)
    assert res.weights["u2"] == pytest.approx(0.4, abs=0.03)
    assert res.estimate == pytest.approx(2.0, abs=0.05)
    assert res.pre_rmspe < 0.05
    # The only real effect: the treated unit's post/pre ratio is the largest of the 6.
    assert res.placebos.p_value == pytest.approx(1 / 6)
    assert res.placebos.table["rank"].iloc[0] == 1
    assert list(res.placebos.gaps.columns[:1]) == ["treated"]
    tidy = res.tidy()
    assert tidy.loc[tidy["term"] == "ATT", "estimate"].item() == pytest.approx(res.estimate)
    assert "p-value = 0.1667" in res.summary()


def test_no_effect_gives_no_significance():
    res = synthetic_control(
        _sim_panel(effect=0.0), "y", "unit", "period", "treated", T0, n_starts=1
    )
    assert abs(res.estimate) < 0.1
    assert res.placebos.p_value > 0.1


def test_deterministic_given_seed():
    df = _sim_panel(seed=5)
    a = synthetic_control(
        df, "y", "unit", "period", "treated", T0, n_starts=3, seed=7, placebo=False
    )
    b = synthetic_control(
        df, "y", "unit", "period", "treated", T0, n_starts=3, seed=7, placebo=False
    )
    pd.testing.assert_series_equal(a.weights, b.weights)


def test_leave_one_out_replaces_a_dropped_donor():
    df = _sim_panel()
    # u5 becomes a near copy of u1, so dropping u1 should move its weight to u5.
    u1 = df.loc[df["unit"] == "u1", "y"].to_numpy()
    df.loc[df["unit"] == "u5", "y"] = u1 + 0.01
    res = synthetic_control(df, "y", "unit", "period", "treated", T0, n_starts=1, placebo=False)
    loo = res.leave_one_out(min_weight=0.2)
    assert set(loo.table["dropped"]) == {d for d, w in res.weights.items() if w > 0.2}
    row = loo.table.set_index("dropped")
    dropped_u1 = "u1" if "u1" in row.index else "u5"
    assert row.loc[dropped_u1, "att"] == pytest.approx(2.0, abs=0.1)
    assert "(none)" in loo.gaps.columns


def test_fixed_v_skips_optimisation():
    df = _sim_panel()
    res = synthetic_control(df, "y", "unit", "period", "treated", T0, v=np.ones(T0), placebo=False)
    assert res.v.to_numpy() == pytest.approx(np.full(T0, 1 / T0))
    assert res.weights["u1"] == pytest.approx(0.6, abs=0.03)


# ---------------------------------------------------------------- bad input
def test_treated_unit_absent():
    with pytest.raises(SpecError, match="treated unit 'Atlantis'"):
        synthetic_control(_sim_panel(), "y", "unit", "period", "Atlantis", T0)


def test_fewer_pre_periods_than_predictors():
    df = _sim_panel()
    df["x"] = np.random.default_rng(0).normal(size=len(df))
    with pytest.raises(SpecError, match="predictors but only 3 pre-treatment periods"):
        synthetic_control(
            df, "y", "unit", "period", "treated", 3, predictors=["x"],
            special_predictors=[("y", [0]), ("y", [1]), ("y", [2])],
        )  # fmt: skip


def test_non_numeric_outcome():
    df = _sim_panel()
    df["y"] = df["y"].astype(str)
    with pytest.raises(SpecError, match="outcome 'y' must be numeric"):
        synthetic_control(df, "y", "unit", "period", "treated", T0)


def test_missing_unit_period_row():
    df = _sim_panel()
    df = df[~((df["unit"] == "u3") & (df["period"] == 5))]
    with pytest.raises(SpecError, match=r"missing for unit-period\(s\) \('u3', 5\)"):
        synthetic_control(df, "y", "unit", "period", "treated", T0)


def test_duplicated_unit_period_row():
    df = _sim_panel()
    df = pd.concat([df, df.iloc[[7]]], ignore_index=True)
    with pytest.raises(SpecError, match="duplicated unit-period rows"):
        synthetic_control(df, "y", "unit", "period", "treated", T0)


def test_unknown_column():
    with pytest.raises(SpecError, match="'income' not in the data"):
        synthetic_control(_sim_panel(), "y", "unit", "period", "treated", T0, predictors=["income"])


def test_plots_draw_paths_gaps_and_every_placebo():
    import matplotlib

    matplotlib.use("Agg")
    res = synthetic_control(_sim_panel(), "y", "unit", "period", "treated", T0, n_starts=1)
    assert [ln.get_label() for ln in res.plot("paths").get_lines()[:2]] == ["treated", "synthetic"]
    gap_line = res.plot("gap").get_lines()[0]
    assert np.allclose(gap_line.get_ydata(), res.gap.to_numpy())
    ax = res.plot("placebo")
    n_units = len(res.placebos.table)
    assert len(ax.get_lines()) >= n_units  # one path per unit (+ reference lines)
    with pytest.raises(SpecError, match="unknown plot kind"):
        res.plot("spaghetti")


def test_placebo_table_fits_the_treated_unit_like_the_placebos():
    # Exchangeability: with fewer placebo starts, the treated unit's row uses that procedure too.
    df = _sim_panel(seed=6)
    res = synthetic_control(df, "y", "unit", "period", "treated", T0, n_starts=3,
                            placebo_n_starts=1)  # fmt: skip
    one = synthetic_control(df, "y", "unit", "period", "treated", T0, n_starts=1, placebo=False)
    row = res.placebos.table.iloc[0]
    assert row["unit"] == "treated" and res.placebos.n_starts == 1
    assert row["pre_rmspe"] == pytest.approx(one.pre_rmspe)
    assert "(1 start(s) per fit)" in res.summary()


def test_iso_string_periods_give_the_same_fit_as_numbers():
    df = _sim_panel()
    as_str = df.assign(period=[f"2020-{p + 1:02d}" for p in df["period"]])
    a = synthetic_control(df, "y", "unit", "period", "treated", T0, n_starts=1, placebo=False)
    b = synthetic_control(as_str, "y", "unit", "period", "treated", f"2020-{T0 + 1:02d}",
                          n_starts=1, placebo=False)  # fmt: skip
    assert b.weights.to_numpy() == pytest.approx(a.weights.to_numpy())
    assert b.estimate == pytest.approx(a.estimate)
    assert list(b.gap.index[:2]) == ["2020-01", "2020-02"]


def _known_optimum_panel(seed: int, n_donors: int = 12, n_t: int = 14) -> pd.DataFrame:
    """SYNTHETIC factor-model panel whose V-search optimum is known.

    Predictors: the outcome in the even pre-periods (which are also the optimisation periods)
    and four covariates on which the treated unit lies outside the donors' range. A ``V`` on the
    outcome predictors alone (proportional to their squared scales) makes the inner solution the
    best outcome fit, so the optimum equals ``loss_bound``; covariate weight pulls away from it.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_t)
    factors = np.column_stack([np.ones(n_t), t / n_t, np.sin(t), rng.normal(size=n_t)])
    loadings = rng.normal(size=(n_donors + 1, 4)) + np.array([5, 0, 0, 0])
    y = loadings @ factors.T + 0.3 * rng.normal(size=(n_donors + 1, n_t))
    units = [f"u{i}" for i in range(n_donors + 1)]
    df = pd.DataFrame(
        {"unit": np.repeat(units, n_t), "t": np.tile(t, n_donors + 1), "y": y.ravel()}
    )
    for j in range(4):
        c = rng.normal(size=n_donors + 1)
        c[0] = c.max() + 3 * c.std()
        df[f"x{j}"] = np.repeat(c, n_t)
    return df


KNOWN = dict(
    special_predictors=[("y", [t]) for t in range(0, 10, 2)] + [(f"x{j}", [0]) for j in range(4)],
    optimize_period=range(0, 10, 2),
    placebo=False,
)


@pytest.mark.parametrize("seed", range(6))
def test_thorough_search_reaches_a_known_optimum(seed):
    df = _known_optimum_panel(seed)
    res = synthetic_control(df, "y", "unit", "t", "u0", 10, **KNOWN)
    synth = synthetic_control(df, "y", "unit", "t", "u0", 10, n_starts=2, search="synth", **KNOWN)
    assert res.loss_v == pytest.approx(res.loss_bound, rel=1e-6)
    assert res.loss_v <= synth.loss_v * (1 + 1e-9)
    # From the equal start alone, Synth's first Nelder-Mead run is short of the optimum here.
    assert res.starts["loss_v_first_run"].iloc[0] >= res.loss_v


def test_unknown_search_refused():
    with pytest.raises(SpecError, match="search must be one of"):
        synthetic_control(_sim_panel(), "y", "unit", "period", "treated", T0, search="fast")


def _with_adoption(df: pd.DataFrame) -> pd.DataFrame:
    # u3 adopts inside the window, u4 after it (period 20 > last period 13); others never.
    first = {"treated": T0, "u3": 10, "u4": 20}
    return df.assign(adopted=df["unit"].map(first))


def test_adoption_column_leaves_out_donors_treated_in_the_window():
    df = _with_adoption(_sim_panel())
    with pytest.warns(UserWarning) as record:
        res = synthetic_control(df, "y", "unit", "period", "treated", T0, adoption="adopted",
                                n_starts=1, placebo=False)  # fmt: skip
    assert "u3" not in res.weights.index and "u4" in res.weights.index
    messages = [str(r.message) for r in record]
    assert any("left out 1 donor(s)" in m and "'u3'" in m for m in messages)
    assert any("('u4', 20)" in m and "themselves treated" in m for m in messages)
    assert res.estimate == pytest.approx(2.0, abs=0.05)


def test_named_treated_donor_warns_and_stays():
    df = _with_adoption(_sim_panel())
    donors = ["u1", "u2", "u3"]
    with pytest.warns(UserWarning, match=r"\('u3', 10\)"):
        res = synthetic_control(df, "y", "unit", "period", "treated", T0, adoption="adopted",
                                donors=donors, n_starts=1, placebo=False)  # fmt: skip
    assert list(res.weights.index) == donors


def test_adoption_must_be_constant_within_unit():
    df = _with_adoption(_sim_panel())
    df.loc[(df["unit"] == "u3") & (df["period"] == 2), "adopted"] = 11
    with pytest.raises(SpecError, match=r"unit\(s\) 'u3' have several"):
        synthetic_control(df, "y", "unit", "period", "treated", T0, adoption="adopted")
