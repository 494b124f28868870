"""The demo's files: :data:`FILES`, :func:`write_demo` and :func:`load`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research import io
from ucc_research.demo.catalogue import DEFAULT_SEED
from ucc_research.demo.data import DemoData
from ucc_research.demo.model import generate
from ucc_research.demo.readme import render_readme

#: Table (attribute of :class:`DemoData`) -> file name in the demo folder.
FILES = {
    "cities": "demo_synthetic_cities.csv",
    "services": "demo_synthetic_services.csv",
    "service_panel": "demo_synthetic_service_panel.parquet",
    "takeup_by_group": "demo_synthetic_takeup_by_group.csv",
    "idata": "demo_synthetic_iData.csv",
    "imeta": "demo_synthetic_iMeta.csv",
    "potential_outcomes": "demo_synthetic_potential_outcomes.csv",
}


def write_demo(
    out_dir: str | Path | None = None, seed: int = DEFAULT_SEED, **kwargs: Any
) -> list[Path]:
    """Generate the SYNTHETIC demo data and write it atomically to ``out_dir``.

    Parameters
    ----------
    out_dir : path, optional
        Output folder (default ``config.raw_dir() / "demo"``).
    seed : int
        Seed passed to :func:`generate`.
    **kwargs
        Other arguments of :func:`generate`.

    Returns
    -------
    list of Path, the files written (tables, ``truth.json``, ``README.md``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_demo(tmp, seed=1, n_cities=6, n_services=1, years=(2018, 2020))
    ...     back = load(tmp)
    >>> [p.name for p in paths][-2:], back.truth["generator"]["seed"]
    (['truth.json', 'README.md'], 1)
    >>> back.service_panel["service_id"].unique().tolist()
    ['FAM-BENEFIT']
    """
    from ucc_research import config

    out = Path(out_dir) if out_dir is not None else config.raw_dir() / "demo"
    data = generate(seed=seed, **kwargs)
    written = []
    for attr, name in FILES.items():
        df = getattr(data, attr)
        path = out / name
        if name.endswith(".parquet"):
            written.append(io.write_parquet(path, df))
        else:
            written.append(io.write_csv(path, df))
    written.append(io.write_json(out / "truth.json", data.truth))
    written.append(io.write_text(out / "README.md", render_readme(data.truth, FILES)))
    return written


def load(folder: str | Path | None = None) -> DemoData:
    """Read the SYNTHETIC demo files written by :func:`write_demo` back into a :class:`DemoData`.

    Parameters
    ----------
    folder : path, optional
        Default ``config.raw_dir() / "demo"`` (the shipped files).

    Returns
    -------
    DemoData, with ``truth`` from ``truth.json``.

    Raises
    ------
    DataFileError
        A file is missing (generate the folder with ``ucc demo``).

    Examples
    --------
    >>> d = load()  # the shipped folder, data/raw/demo
    >>> d.truth["generator"]["n_cities"], d.cities["synthetic"].all()
    (36, np.True_)
    """
    import json

    from ucc_research import config
    from ucc_research.errors import DataFileError

    folder = Path(folder) if folder is not None else config.raw_dir() / "demo"
    frames = {}
    for attr, name in FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataFileError(path, "demo file not found; generate the folder with `ucc demo`")
        if name.endswith(".parquet"):
            frames[attr] = pd.read_parquet(path)
        else:
            frames[attr] = pd.read_csv(path, keep_default_na=False, na_values=[""])
    truth_path = folder / "truth.json"
    if not truth_path.is_file():
        raise DataFileError(truth_path, "truth.json not found; generate the folder with `ucc demo`")
    frames["potential_outcomes"]["event_time_months"] = frames["potential_outcomes"][
        "event_time_months"
    ].astype("Int64")
    for col in ("Level", "Direction"):
        frames["imeta"][col] = frames["imeta"][col].astype("Int64")
    for col in ("Weight", "Target"):
        frames["imeta"][col] = frames["imeta"][col].astype("Float64")
    return DemoData(**frames, truth=json.loads(truth_path.read_text(encoding="utf-8")))
