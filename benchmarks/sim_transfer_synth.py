"""Per-city effects of the transferred practice in the SYNTHETIC demo: SC vs SDID vs ASCM.

For every adopting city of ``demo.generate(seed)`` (never-adopters as donors), prints the error
against the true per-city effect of plain synthetic control (outcome lags as predictors, the
default thorough V search), synthetic DiD and the augmented synthetic control, with the hull
diagnostic's verdict; then the RMSE by method, overall and by verdict, and the city that
``choose_synth_unit`` picks. This is what the transfer report's synthetic-control section rests on.

    .venv/bin/python benchmarks/sim_transfer_synth.py [--seed SEED (demo default)] [--outcome digital_share]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from ucc_research import demo
from ucc_research.errors import SpecError
from ucc_research.impact import (
    choose_synth_unit,
    hull_diagnostic,
    synthetic_control,
    synthetic_did,
)


def truth_by_city(d: demo.DemoData, outcome: str) -> pd.Series:
    """Each adopter's true effect at the panel's level: the mean over its post-adoption years of
    the yearly mean of ``y1 - y0`` (as ``demo.transfer_truth`` aggregates it)."""
    po = d.potential_outcomes
    po = po[(po["service_id"] == d.truth["good_practice"]["service_id"]) & ~po["is_origin"]]
    po = po.assign(te=po[f"{outcome}_y1"] - po[f"{outcome}_y0"])
    lvl = demo._transfer_level(po, ["te"], "year")
    return lvl[lvl["post"]].groupby("unit")["te"].mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    ap.add_argument("--outcome", default="digital_share")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    d = demo.generate(seed=args.seed)
    tp = demo.transfer_panel(d)
    y = args.outcome
    truth = truth_by_city(d, y)
    first = tp.groupby("unit")["cohort"].first()
    never = first[first == 0].index.tolist()
    rows = []
    t0 = time.perf_counter()
    for city, g in first[first > 0].items():
        sub = tp[tp["unit"].isin(never + [city])].copy()
        sub["first"] = np.where(sub["unit"] == city, g, np.nan)
        n_pre = int((sub["time"].unique() < g).sum())
        sc = synthetic_control(sub, y, "unit", "time", city, g, donors=never, placebo=False)
        sd = synthetic_did(sub, y, "unit", "time", adoption="first", se="none")
        try:
            asc = synthetic_did(sub, y, "unit", "time", adoption="first", method="ascm", se="none")
            asc_att = asc.estimate
        except SpecError:  # fewer than 3 pre-periods: ASCM's penalty cannot be chosen
            asc_att = np.nan
        diag = hull_diagnostic(sub, y, "unit", "time", city, g, donors=never, att=sc.estimate)
        rows.append(
            {
                "city": city,
                "cohort": g,
                "n_pre": n_pre,
                "truth": truth[city],
                "sc": sc.estimate - truth[city],
                "sdid": sd.estimate - truth[city],
                "ascm": asc_att - truth[city],
                "verdict": diag.verdict,
            }
        )
    secs = time.perf_counter() - t0
    tab = pd.DataFrame(rows)
    pd.set_option("display.width", 140)
    print(f"SYNTHETIC demo seed {args.seed}, outcome {y!r}: {len(tab)} adopters, "
          f"{len(never)} never-adopting donors ({secs:.1f} s)")  # fmt: skip
    print(tab.round(4).to_string(index=False))

    def rmse(s: pd.Series) -> float:
        return float(np.sqrt(np.mean(np.square(s.dropna()))))

    print("\nerror against the true per-city effect (RMSE; wrong sign = estimate and truth differ"
          " in sign; ASCM needs 3 pre-periods: cities with 2 are left out of its column)")  # fmt: skip
    print(f"{'':<22}{'n':>4}{'SC':>9}{'SDID':>9}{'ASCM':>9}")
    groups = [("all adopters", tab), ("3+ pre-periods", tab[tab["n_pre"] >= 3])] + [
        (f"verdict {v}", tab[tab["verdict"] == v]) for v in ("ok", "caution", "do not trust")
    ]
    for name, part in groups:
        if len(part):
            print(f"{name:<22}{len(part):>4}" + "".join(f"{rmse(part[m]):>9.4f}"
                                                      for m in ("sc", "sdid", "ascm")))  # fmt: skip
    for m in ("sc", "sdid", "ascm"):
        wrong = int(((tab[m] + tab["truth"]) * tab["truth"] < 0).sum())
        print(f"wrong sign, {m.upper():<5}: {wrong} of {len(tab)}")
    choice = choose_synth_unit(tp, y, "unit", "time", "cohort")
    pick = choice.unit
    row = tab.set_index("city").loc[pick]
    print(f"\nchoose_synth_unit picks {pick!r} (cohort {row['cohort']}, {row['n_pre']} pre-periods,"
          f" verdict {row['verdict']}): SC error {row['sc']:+.4f}, SDID {row['sdid']:+.4f}, "
          f"ASCM {row['ascm']:+.4f}")  # fmt: skip
    earliest = tab.sort_values(["cohort", "city"]).iloc[0]
    print(f"the earliest-cohort default would pick {earliest['city']!r} ({earliest['n_pre']} "
          f"pre-periods): SC error {earliest['sc']:+.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
