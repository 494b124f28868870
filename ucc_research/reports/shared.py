"""Study-level analyses computed once per study, before the per-city reports ("prepare study").

The uncertainty analysis of the index, the impact estimates of transferred practices and the
city-by-service summaries are the same for every city of a study; computing them once and
caching them in ``outputs/<study>/_shared/`` keeps each city report near the cost of starting
its kernel. Each analysis is a *component*: a small function of the study that returns named
tables (written as parquet) or mappings (written as JSON). A component that the study's data
cannot support records why, in one sentence, and the reports say so instead of showing nothing.

The cache is keyed by the data fingerprint, the study file and the package version; a change to
any of them recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research import __version__, io
from ucc_research.reports.study import Study


class NotApplicable(Exception):
    """A component the study's data cannot support; the message is the one-sentence reason."""


def read_table(study: Study, table: str) -> pd.DataFrame:
    """A processed table the study names in ``tables`` (a clear error if it did not list it)."""
    if table not in study.tables:
        raise NotApplicable(f"the study does not use the {table} table")
    return pd.read_parquet(study.table_path(table))


# --- components -------------------------------------------------------------------------------


def _services(study: Study) -> dict[str, Any]:
    """City x service outcomes in the latest period, and each service's spread across cities."""
    from ucc_research.reports import analysis

    if "service_panel" not in study.tables:
        raise NotApplicable("the study has no service-level panel (service_panel)")
    panel = read_table(study, "service_panel")
    latest = analysis.latest_service_outcomes(panel)
    return {"services_latest": latest, "services_summary": analysis.service_summary(latest)}


def _trend(study: Study) -> dict[str, Any]:
    """Digital share and satisfaction per city and period (the service panel averaged)."""
    from ucc_research.reports import analysis

    if "service_panel" not in study.tables:
        raise NotApplicable("the study has no panel over time (service_panel)")
    panel = read_table(study, "service_panel")
    if panel["period"].nunique() < 2:
        raise NotApplicable("the service panel has a single period, so there is no trend")
    return {"trend": analysis.city_trend(panel)}


def _inclusion(study: Study) -> dict[str, Any]:
    """Take-up gaps between age groups and genders, per city."""
    from ucc_research.reports import analysis

    if "takeup_by_group" not in study.tables:
        raise NotApplicable("the data has no take-up by age group or gender (takeup_by_group)")
    return {"inclusion": analysis.inclusion_gaps(read_table(study, "takeup_by_group"))}


COMPONENTS: dict[str, Callable[[Study], dict[str, Any]]] = {
    "services": _services,
    "trend": _trend,
    "inclusion": _inclusion,
}


def _cache_key(study: Study, data_fp: str) -> str:
    payload = {
        "data": data_fp,
        "study": hashlib.sha256(study.path.read_bytes()).hexdigest(),
        "version": __version__,
        "components": sorted(COMPONENTS),
    }
    return hashlib.sha256(io.to_json(payload).encode()).hexdigest()


def prepare_shared(
    study: Study, shared_dir: str | Path, *, data_fp: str, force: bool = False
) -> dict[str, Any]:
    """Compute (or reuse) the study-level analyses into ``shared_dir``.

    Returns
    -------
    dict
        ``{"fingerprint": ..., "components": {name: {"status", "reason", "files", "seconds"}}}``;
        the fingerprint covers the inputs and every artefact, so reports built on them re-run
        when any changes. Also written to ``shared_dir/manifest.json``.
    """
    import time

    shared_dir = Path(shared_dir)
    key = _cache_key(study, data_fp)
    manifest_path = shared_dir / "manifest.json"
    if manifest_path.is_file() and not force:
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("cache_key") == key:
            return old
    components: dict[str, dict[str, Any]] = {}
    for name, func in COMPONENTS.items():
        t0 = time.perf_counter()
        try:
            artefacts = func(study)
        except NotApplicable as exc:
            components[name] = {"status": "not_applicable", "reason": str(exc), "files": []}
            continue
        except Exception as exc:  # recorded and shown in the reports; the run goes on
            components[name] = {
                "status": "unavailable",
                "reason": f"{type(exc).__name__}: {exc}",
                "files": [],
            }
            continue
        files = []
        for art_name, value in artefacts.items():
            if isinstance(value, pd.DataFrame):
                io.write_parquet(shared_dir / f"{art_name}.parquet", value)
                files.append(f"{art_name}.parquet")
            else:
                io.write_json(shared_dir / f"{art_name}.json", value)
                files.append(f"{art_name}.json")
        components[name] = {
            "status": "ok",
            "reason": "",
            "files": files,
            "seconds": round(time.perf_counter() - t0, 3),
        }
    produced = [shared_dir / f for c in components.values() for f in c["files"]]
    content_fp = io.fingerprint(produced) if produced else ""
    manifest = {
        "cache_key": key,
        "data_fingerprint": data_fp,
        "fingerprint": hashlib.sha256(f"{data_fp}:{content_fp}".encode()).hexdigest(),
        "components": components,
    }
    shared_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(manifest_path, manifest)
    return manifest


class Shared:
    """Read access to a study's ``_shared/`` folder, for the notebooks.

    Examples
    --------
    >>> shared = Shared("outputs/demo/_shared")  # doctest: +SKIP
    >>> shared.available("services")
    (True, '')
    >>> shared.table("services_latest").head()  # doctest: +SKIP
    """

    def __init__(self, shared_dir: str | Path) -> None:
        self.dir = Path(shared_dir)
        path = self.dir / "manifest.json"
        self.manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def available(self, component: str) -> tuple[bool, str]:
        """(True, "") when ``component`` was computed, else (False, one-sentence reason)."""
        info = self.manifest.get("components", {}).get(component)
        if info is None:
            return False, f"the study-level {component} analysis was not computed"
        if info["status"] == "ok":
            return True, ""
        if info["status"] == "not_applicable":
            return False, info["reason"]
        return False, f"the {component} analysis failed ({info['reason']})"

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.dir / f"{name}.parquet")

    def json(self, name: str) -> Any:
        return json.loads((self.dir / f"{name}.json").read_text(encoding="utf-8"))
