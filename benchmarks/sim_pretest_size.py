"""Size of the DiD Wald pre-test with few units per cohort (a SYNTHETIC simulation, not a timing).

Parallel trends hold by construction (unit and period effects, a random-walk error unrelated to
adoption); four cohorts adopt in periods 3-6 of 6 and 40% never adopt. Prints, for each number of
units, how often the chi-squared Wald pre-test (R did's) and a Hotelling-F version of it reject at
5%. The transfer-impact report's caution for small cohorts rests on these figures; the
permutation test that holds its size with so few cities is measured by ``sim_ri.py``.

    .venv/bin/python benchmarks/sim_pretest_size.py [--units 36 150] [--reps 1000]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ucc_research.errors import SpecError
from ucc_research.impact import staggered_did

PERIODS = 6
COHORTS = np.array([0, 3, 4, 5, 6])
SHARES = [0.4, 0.15, 0.15, 0.15, 0.15]


def panel(n_units: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohort = rng.choice(COHORTS, n_units, p=SHARES)
    unit_fe, period_fe = rng.normal(size=n_units), rng.normal(size=PERIODS)
    walk = 0.3 * np.cumsum(rng.normal(scale=0.5, size=(n_units, PERIODS)), axis=1)
    y = unit_fe[:, None] + period_fe[None, :] + walk + rng.normal(size=(n_units, PERIODS))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), PERIODS),
            "time": np.tile(np.arange(1, PERIODS + 1), n_units),
            "cohort": np.repeat(cohort, PERIODS),
            "y": y.ravel(),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--units", type=int, nargs="+", default=[36, 150])
    ap.add_argument("--reps", type=int, default=1000)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # R did's notes on small groups, repeated every draw
    print(f"{'units':>6}{'runs':>6}{'cells (mean)':>14}{'chi2 rejects':>14}{'F rejects':>11}")
    for n in args.units:
        chi, f, cells, runs = 0, 0, [], 0
        for seed in range(args.reps):
            res = staggered_did(panel(n, seed), "y", "unit", "time", "cohort")
            try:
                w, k, p = res.pretest()
            except SpecError:  # a draw with no testable cell: not counted
                continue
            runs += 1
            cells.append(k)
            units = res.n_units
            chi += p < 0.05
            if units > k:
                f += stats.f.sf(w * (units - k) / (k * (units - 1)), k, units - k) < 0.05
        print(f"{n:>6}{runs:>6}{np.mean(cells):>14.1f}{chi / runs:>14.3f}{f / runs:>11.3f}")


if __name__ == "__main__":
    main()
