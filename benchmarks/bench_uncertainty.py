"""Speed of the uncertainty analysis: vectorised engine vs replaying the build once per run.

Data: SYNTHETIC, 200 units x 50 indicators x 3 levels (10 pillars, one index), fixed seed
(:func:`ucc_research.indicators.uncertainty.synthetic_index_inputs`). Runs vary the weights
(+-25% on every indicator and pillar), the normalisation (min-max [1, 100] or z-score (10, 2))
and the aggregation (arithmetic or geometric mean), sampled with a seeded Sobol' sequence.

The replay (``Coin.rebuild`` once per run, re-using unchanged stages) is timed on the first
``--replay-runs`` runs (default 100: the same Sobol' points as the vectorised run's first ones)
and extrapolated linearly to all runs; ``--replay-runs 1000`` times it in full. Ranks of the
replayed runs are compared with the vectorised ones.

Goal: vectorised under 5 s for 1,000 runs on the project's 2-core machine, at least 20x faster
than the replay, identical ranks.

    .venv/bin/python benchmarks/bench_uncertainty.py [--runs 1000] [--replay-runs 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from ucc_research.indicators import build
from ucc_research.indicators.uncertainty import synthetic_index_inputs, uncertainty_analysis

VARY = {
    "weights": {"noise": 0.25, "levels": [1, 2]},
    "normalise": [{"method": "minmax", "range": [1, 100]}, {"method": "zscore", "m_sd": [10, 2]}],
    "aggregate": ["arith_mean", "geom_mean"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--replay-runs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    k = min(args.replay_runs, args.runs)

    idata, imeta = synthetic_index_inputs(200, 50, 10, seed=args.seed)
    coin = build(idata, imeta, {"normalise": {"method": "minmax", "range": [1, 100]}})

    t0 = time.perf_counter()
    vec = uncertainty_analysis(coin, VARY, args.runs, seed=args.seed, engine="vectorised")
    t_vec = time.perf_counter() - t0

    t0 = time.perf_counter()
    rep = uncertainty_analysis(coin, VARY, k, seed=args.seed, engine="replay")
    t_rep = time.perf_counter() - t0

    # the replayed runs are the vectorised run's first k (same Sobol' points)
    same_runs = rep.runs.equals(vec.runs.iloc[:k]) and np.array_equal(
        rep.weight_factors.to_numpy(), vec.weight_factors.to_numpy()[:k]
    )
    rank_diff = np.nanmax(np.abs(rep.ranks.to_numpy() - vec.ranks.to_numpy()[:, :k]))
    score_diff = np.nanmax(np.abs(rep.scores.to_numpy() - vec.scores.to_numpy()[:, :k]))
    t_rep_all = t_rep * args.runs / k
    speedup = t_rep_all / t_vec

    print("Uncertainty analysis benchmark (SYNTHETIC data: 200 units x 50 indicators x 3 levels)")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, seed {args.seed}")
    print(f"varied: weights +-25% (60 codes), normalise x2, aggregate x2; {args.runs} runs")
    print()
    print(
        f"{'engine':<12}{'runs timed':>12}{'seconds':>10}{'ms/run':>9}{f'est. {args.runs} runs (s)':>22}"
    )
    print(
        f"{'vectorised':<12}{args.runs:>12}{t_vec:>10.2f}{1e3 * t_vec / args.runs:>9.2f}{t_vec:>22.2f}"
    )
    note = "" if k == args.runs else "  (extrapolated from the subset)"
    print(f"{'replay':<12}{k:>12}{t_rep:>10.2f}{1e3 * t_rep / k:>9.1f}{t_rep_all:>22.2f}{note}")
    print()
    print(f"speed-up (replay / vectorised, {args.runs} runs): {speedup:.1f}x")
    print(f"same runs in both engines: {same_runs}; failed runs: vectorised {len(vec.failed)}, "
          f"replay {len(rep.failed)}")  # fmt: skip
    print(f"max |rank difference| over {k} runs x 200 units: {rank_diff:g}")
    print(f"max |score difference|: {score_diff:.2e}")
    print()
    print(f"goal: vectorised < 5 s ........ {'met' if t_vec < 5 else 'NOT met'} ({t_vec:.2f} s)")
    print(
        f"goal: >= 20x faster ........... {'met' if speedup >= 20 else 'NOT met'} ({speedup:.0f}x)"
    )
    print(f"goal: identical ranks ......... {'met' if rank_diff == 0 and same_runs else 'NOT met'}")


if __name__ == "__main__":
    main()
