"""``ucc demo``: write the SYNTHETIC demo folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ucc_research.demo.catalogue import DEFAULT_SEED
from ucc_research.demo.files import write_demo


def cli_demo(args: argparse.Namespace) -> int:
    """``ucc demo --out DIR [--seed N]``: write the demo folder and list its files.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     cli_demo(argparse.Namespace(out=tmp, seed=1))  # doctest: +ELLIPSIS
    SYNTHETIC demo data (seed 1) written to ...: 9 files, ... MB
      demo_synthetic_cities.csv
    ...
      README.md
    0
    """
    from ucc_research import config

    out = Path(args.out) if getattr(args, "out", None) else config.raw_dir() / "demo"
    seed = getattr(args, "seed", None)
    paths = write_demo(out, seed=DEFAULT_SEED if seed is None else int(seed))
    total = sum(p.stat().st_size for p in paths)
    print(
        f"SYNTHETIC demo data (seed {seed}) written to {out}: {len(paths)} files, {total / 1e6:.1f} MB"
    )
    for p in paths:
        print(f"  {p.name}")
    return 0
