"""Hull / pre-fit diagnostic and the choice of the synthetic-control unit, on simulated panels
with a known effect (treated inside and outside the donors' convex hull)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ucc_research.errors import SpecError
from ucc_research.impact import choose_synth_unit, hull_diagnostic, synthetic_control

T0 = 10


def _panel(seed: int, shift: float, n_donors: int = 15, n_t: int = 16, effect: float = 0.1):
    """SYNTHETIC demo-like panel: donors' levels spread on [0.1, 0.45]; the treated city's level
    is ``shift`` (inside the spread when between, outside when below 0.1), effect from T0."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_t)
    levels = np.concatenate([[shift], rng.uniform(0.12, 0.44, n_donors)])
    slopes = rng.uniform(0.004, 0.01, n_donors + 1)
    y = levels[:, None] + slopes[:, None] * t + 0.004 * rng.normal(size=(n_donors + 1, n_t))
    y[0, T0:] += effect
    units = ["T"] + [f"D{i:02d}" for i in range(n_donors)]
    return pd.DataFrame({"city": np.repeat(units, n_t), "year": np.tile(t, n_donors + 1),
                         "y": y.ravel()})  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_outside_the_hull_is_flagged_and_sc_is_off_there(seed):
    inside = _panel(seed, shift=0.3)
    outside = _panel(seed, shift=0.02)
    d_in = hull_diagnostic(inside, "y", "city", "year", "T", T0)
    d_out = hull_diagnostic(outside, "y", "city", "year", "T", T0)
    assert d_in.verdict == "ok"
    assert d_out.verdict == "do not trust"
    assert d_out.measures["n_below"] == T0 and d_out.measures["outside_share"] == 1.0
    assert "augmented_synthetic_control" in d_out.reason
    # The verdict tracks the synthetic control's error against the known effect 0.1.
    kw = dict(n_starts=1, placebo=False)
    fit_in = synthetic_control(inside, "y", "city", "year", "T", T0, **kw)
    fit_out = synthetic_control(outside, "y", "city", "year", "T", T0, **kw)
    assert abs(fit_in.estimate - 0.1) < 0.01 < abs(fit_out.estimate - 0.1)
    # The fit carries the same diagnostic (with its own ATT).
    assert fit_in.hull.verdict == "ok" and fit_out.hull.verdict == "do not trust"
    assert "DO NOT TRUST" in fit_out.summary()


def test_misfit_compared_with_the_effect():
    df = _panel(0, shift=0.3)
    small = hull_diagnostic(df, "y", "city", "year", "T", T0, att=1e-4)
    assert small.verdict == "do not trust" and "of the estimated effect" in small.reason
    assert hull_diagnostic(df, "y", "city", "year", "T", T0, att=0.1).verdict == "ok"


def _staggered(seed: int = 0):
    """SYNTHETIC panel: 12 never-treated, an early adopter (2 pre-periods), a low outlier
    (outside the hull) and two good candidates with 6 and 9 pre-periods."""
    rng = np.random.default_rng(seed)
    t = np.arange(14)
    rows = []
    spec = [("early", 0.3, 2), ("low", -0.2, 9), ("six", 0.28, 6), ("nine", 0.31, 9)]
    spec += [(f"N{i:02d}", lvl, np.nan) for i, lvl in enumerate(rng.uniform(0.1, 0.5, 12))]
    for name, lvl, g in spec:
        y = lvl + 0.01 * t + 0.003 * rng.normal(size=t.size)
        rows += [(name, yr, v, g) for yr, v in zip(t, y)]
    return pd.DataFrame(rows, columns=["city", "year", "y", "first"])


def test_choose_prefers_fit_then_pre_period_length_not_the_earliest_cohort():
    choice = choose_synth_unit(_staggered(), "y", "city", "year", "first")
    assert choice.unit == "nine"
    table = choice.table.set_index("unit")
    assert table.loc["early", "verdict"] == "not eligible" and table.loc["early", "rank"] == 0
    assert table.loc["low", "verdict"] == "do not trust"
    assert table.loc["nine", "rank"] == 1 and table.loc["six", "rank"] == 2
    assert "9 pre-periods" in choice.reason


def test_choose_with_no_eligible_candidate_says_why():
    choice = choose_synth_unit(_staggered(), "y", "city", "year", "first", min_pre=20)
    assert choice.unit is None and "no adopter has 20 pre-periods" in choice.reason


def test_choose_refuses_unknown_candidates_and_too_few_donors():
    df = _staggered()
    with pytest.raises(SpecError, match="'N00' are not adopters"):
        choose_synth_unit(df, "y", "city", "year", "first", candidates=["N00"])
    few = df[df["city"].isin(["six", "nine", "N00"])]
    with pytest.raises(SpecError, match="at least 2 never-treated units"):
        choose_synth_unit(few, "y", "city", "year", "first")


def test_demo_transfer_city_outside_the_hull():
    """The SYNTHETIC demo's DEMO-003 lies below the never-adopting cities before adoption: plain
    SC (one donor) misses its true effect (0.1049) by more than half; the diagnostic says so
    (misfit 0.8 of the estimate), and SDID and
    ASCM, which it points to, come within 0.025 (benchmarks/sim_transfer_synth.py, all cities)."""
    from ucc_research import demo
    from ucc_research.impact import augmented_synthetic_control, synthetic_did

    d = demo.generate()
    tp = demo.transfer_panel(d)
    first = tp.groupby("unit")["cohort"].first()
    never = first[first == 0].index.tolist()
    sub = tp[tp["unit"].isin(never + ["DEMO-003"])].copy()
    sub["first"] = np.where(sub["unit"] == "DEMO-003", 2021, np.nan)
    kw = dict(donors=never, placebo=False)
    sc = synthetic_control(sub, "digital_share", "unit", "time", "DEMO-003", 2021, **kw)
    diag = hull_diagnostic(sub, "digital_share", "unit", "time", "DEMO-003", 2021,
                           donors=never, att=sc.estimate)  # fmt: skip
    assert diag.verdict == "do not trust" and diag.measures["n_below"] >= 1
    assert diag.measures["rmspe_to_effect"] > 0.5 and diag.measures["top_weight"] > 0.99
    truth = 0.1049  # demo potential outcomes, mean over 2021-2025 (see the benchmark)
    sdid = synthetic_did(sub, "digital_share", "unit", "time", adoption="first", se="none")
    ascm = augmented_synthetic_control(sub, "digital_share", "unit", "time", adoption="first",
                                       se="none")  # fmt: skip
    assert abs(sc.estimate - truth) > 0.05
    assert abs(sdid.estimate - truth) < 0.025 and abs(ascm.estimate - truth) < 0.025
    # The default choice is not the earliest cohort (2 pre-periods) but a well-fitting adopter.
    choice = choose_synth_unit(tp, "digital_share", "unit", "time", "cohort")
    row = choice.table.set_index("unit").loc[choice.unit]
    assert row["verdict"] == "ok" and row["n_pre"] >= 4


def test_choose_refuses_cohorts_not_comparable_with_periods():
    df = _staggered().assign(first=lambda d: d["first"].map(lambda v: None if v != v else str(v)))
    with pytest.raises(SpecError, match="cannot be compared with the periods of 'year'"):
        choose_synth_unit(df, "y", "city", "year", "first")
