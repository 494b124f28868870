"""Speed of the SYNTHETIC demo: generation, writing and reading back through the source adapter.

Run: ``.venv/bin/python benchmarks/bench_demo.py [--repeat N]``. Prints one table with the
best-of-N wall time of each step at the default size (36 cities x 20 services x 96 months) and
at a small test size, rows produced, the size of the written folder and rows per second.
Not part of the tests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ucc_research import demo
from ucc_research.cleaning.sources.demo import adapt

SIZES = {
    "default": {},
    "small (tests)": {"n_cities": 8, "n_services": 3, "years": (2018, 2021)},
}


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for label, kwargs in SIZES.items():
        t_gen, data = _best(lambda kw=kwargs: demo.generate(**kw), args.repeat)
        n = len(data.service_panel)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "demo"
            t_write, paths = _best(
                lambda kw=kwargs, f=folder: demo.write_demo(f, **kw), args.repeat
            )
            size = sum(p.stat().st_size for p in paths)
            t_adapt, _ = _best(lambda t=tmp: adapt(Path(t)), args.repeat)
        rows.append((label, n, t_gen, t_write, t_adapt, size / 1e6, n / t_gen))
    header = (
        f"{'size':<14} {'panel rows':>10} {'generate s':>10} {'write s':>8} "
        f"{'adapt s':>8} {'MB':>6} {'rows/s (gen)':>13}"
    )
    print(header)
    print("-" * len(header))
    for label, n, tg, tw, ta, mb, rate in rows:
        print(f"{label:<14} {n:>10,} {tg:>10.2f} {tw:>8.2f} {ta:>8.2f} {mb:>6.1f} {rate:>13,.0f}")
    print(f"(best of {args.repeat}; write includes generation)")


if __name__ == "__main__":
    main()
