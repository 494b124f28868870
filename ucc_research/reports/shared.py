"""Study-level analyses computed once per study, before the per-city reports ("prepare study").

The uncertainty analysis of the index, the impact estimates of transferred practices and the
city-by-service summaries are the same for every city of a study; computing them once and
caching them in ``outputs/<study>/_shared/`` keeps each city report near the cost of starting
its kernel. Each analysis is a *component*: a small function of the study that returns named
tables (written as parquet) or mappings (written as JSON). A component that the study's data
cannot support records why, in one sentence, and the reports say so instead of showing nothing.

The cache is keyed by the data fingerprint, the study file and the package's source code; a
change to any of them recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research import __version__, io
from ucc_research.cleaning.schemas import SERVICE_FEATURES
from ucc_research.errors import AnalysisError
from ucc_research.reports.study import Study


class NotApplicable(Exception):
    """A component the study's data cannot support; the message is the one-sentence reason."""


def read_table(study: Study, table: str) -> pd.DataFrame:
    """A processed table the study names in ``tables``, with the study's row filters applied."""
    if table not in study.tables:
        raise NotApplicable(f"the study does not use the {table} table")
    return study.read_table(table)


# --- components -------------------------------------------------------------------------------


def _services(study: Study) -> dict[str, Any]:
    """City x service outcomes pooled over each service's latest 12 months."""
    from ucc_research.reports import analysis

    if "service_panel" not in study.tables:
        raise NotApplicable("the study has no service-level panel (service_panel)")
    panel = read_table(study, "service_panel")
    latest = analysis.latest_service_outcomes(panel)
    return {"services_latest": latest}


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


def _index(study: Study) -> dict[str, Any]:
    """The composite index: scores, ranks, long results and every unit's profile."""
    from ucc_research.indicators import build

    fw = study.framework
    if not fw.get("data") or not fw.get("meta"):
        raise NotApplicable("the study has no composite indicator framework")
    coin = build(read_table(study, fw["data"]), read_table(study, fw["meta"]), fw.get("spec"))
    top = coin.framework.codes(coin.framework.n_levels)[0]
    peer = fw.get("peer_group")
    units = sorted(coin.scores["uCode"].astype(str).unique())
    profiles = []
    for u in units:
        prof = coin.profile(u, n=int(fw.get("n_strengths", 3)))
        prof.insert(0, "uCode", u)
        if peer:
            p = coin.profile(u, group=peer).set_index("iCode")
            prof["peer_group"] = p["group"].reindex(prof["iCode"]).to_numpy()
            prof["peer_rank"] = p["group_rank"].reindex(prof["iCode"]).to_numpy()
            prof["peer_n"] = p["n_units"].reindex(prof["iCode"]).to_numpy()
            prof["peer_mean"] = p["comparison_mean"].reindex(prof["iCode"]).to_numpy()
        profiles.append(prof)
    meta = coin.meta.reset_index()[["iCode", "iName", "Level", "Parent", "Direction"]]
    info = {
        "top": top,
        "top_name": str(coin.meta.loc[top, "iName"]),
        "n_levels": coin.framework.n_levels,
        "panel": coin.panel,
        "latest_time": coin.scores["Time"].max() if coin.panel else None,
        "n_units": len(units),
        "peer_group": peer,
        "spec": coin.spec,
    }
    out: dict[str, Any] = {
        "index_scores": coin.scores,
        "index_ranks": coin.ranks,
        "index_meta": meta,
        "index_profiles": pd.concat(profiles, ignore_index=True),
        "index_info": info,
    }
    unc = fw.get("uncertainty")
    if unc:
        from ucc_research.indicators.uncertainty import rank_intervals

        ri = rank_intervals(
            coin, n=int(unc.get("n", 200)), seed=int(unc.get("seed", 1)), vary=unc.get("vary")
        )
        out["rank_intervals"] = ri
        info["uncertainty"] = {k: ri.attrs.get(k) for k in ("n_runs", "n_failed", "seed", "target")}
        info["uncertainty"]["vary"] = unc.get("vary") or "default"
    return out


def _transfer(study: Study) -> dict[str, Any]:
    """Staggered DiD (Callaway & Sant'Anna) of each transferred practice, city x year."""
    from ucc_research.impact import staggered_did
    from ucc_research.reports import analysis

    if study.panel["table"] not in study.tables:
        raise NotApplicable("the study has no panel to follow transferred practices in")
    panel = analysis.canonical_panel(study)
    services = analysis.transferred_services(panel)
    if not services:
        raise NotApplicable("no city in the data adopted a transferred good practice")
    outcomes = [o for o in study.impact.get("outcomes", ["digital_share", "satisfaction"])]
    rows, dynamic = [], []
    for service in services:
        tp = analysis.transfer_panel(panel, service)
        for outcome in outcomes:
            res = staggered_did(tp, outcome, "city_id", "year", "cohort", control="never_treated")
            simple = res.aggregate("simple")
            dyn = res.aggregate("dynamic")
            rows.append(
                {
                    "service_id": service,
                    "transferred_from": tp.attrs["origin"],
                    "outcome": outcome,
                    "att": simple.estimate,
                    "se": simple.std_error,
                    "ci_low": simple.conf_int[0],
                    "ci_high": simple.conf_int[1],
                    "n_adopters": int((tp.groupby("city_id")["cohort"].first() > 0).sum()),
                    "n_never": int((tp.groupby("city_id")["cohort"].first() == 0).sum()),
                }
            )
            d = dyn.table.copy()
            d.insert(0, "outcome", outcome)
            d.insert(0, "service_id", service)
            dynamic.append(d)
    adopters = analysis.adoption_status(panel, services)
    return {
        "transfer_att": pd.DataFrame(rows),
        "transfer_dynamic": pd.concat(dynamic, ignore_index=True),
        "transfer_adoption": adopters,
    }


def _features(study: Study) -> dict[str, Any]:
    """Within city-service effects of each service feature (FE regression, period FE)."""
    from ucc_research.impact import fe_regression

    if "service_panel" not in study.tables:
        raise NotApplicable("the study has no service-level panel with service features")
    panel = read_table(study, "service_panel")
    features = [f for f in SERVICE_FEATURES if f in panel and panel[f].notna().any()]
    if not features:
        raise NotApplicable("the service panel records no service features")
    rows = []
    for outcome in study.impact.get("outcomes", ["digital_share", "satisfaction"]):
        data = panel.dropna(subset=[outcome, *features])
        fit = fe_regression(
            data,
            f"{outcome} ~ {' + '.join(features)} | city_id^service_id + period",
            cluster="city_id",
            bootstrap=None,
        )
        t = fit.tidy()
        t.insert(0, "outcome", outcome)
        t["n_obs"] = len(data)
        rows.append(t)
    return {"feature_effects": pd.concat(rows, ignore_index=True)}


def _official(study: Study) -> dict[str, Any]:
    """The scores and ranks as the source publishes them (``framework.official``)."""
    from ucc_research.reports import official

    source = study.framework.get("official")
    if not source:
        raise NotApplicable("the source publishes no official scores for these units")
    return {"official_scores": official.published_scores(study, source)}


COMPONENTS: dict[str, Callable[[Study], dict[str, Any]]] = {
    "official": _official,
    "index": _index,
    "services": _services,
    "trend": _trend,
    "inclusion": _inclusion,
    "transfer": _transfer,
    "features": _features,
}


def _cache_key(study: Study, data_fp: str) -> str:
    payload = {
        "data": data_fp,
        "study": hashlib.sha256(study.path.read_bytes()).hexdigest(),
        "version": __version__,
        "code": io.fingerprint(sorted(Path(__file__).resolve().parents[1].rglob("*.py"))),
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
        except Exception as exc:
            # fail loudly: a bug or a wrong study setting stops the run, naming the analysis
            raise AnalysisError(study.name, name, f"{type(exc).__name__}: {exc}") from exc
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
    A study's folder (``outputs/<study>/_shared``) is written by :func:`prepare_shared`; here
    a small one is written by hand:

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = Path(tmp.name)
    >>> manifest = {"components": {
    ...     "services": {"status": "ok", "reason": "", "files": ["services_latest.parquet"]},
    ...     "trend": {"status": "not_applicable", "reason": "the study has one period only",
    ...               "files": []}}}
    >>> _ = (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    >>> latest = pd.DataFrame({"city_id": ["A", "B"], "digital_share": [0.4, 0.7]})
    >>> latest.to_parquet(folder / "services_latest.parquet")
    >>> shared = Shared(folder)
    >>> shared.available("services")
    (True, '')
    >>> shared.available("trend")
    (False, 'the study has one period only')
    >>> shared.available("transfer")
    (False, 'the study-level transfer analysis was not computed')
    >>> shared.table("services_latest")
      city_id  digital_share
    0       A            0.4
    1       B            0.7
    >>> tmp.cleanup()
    """

    def __init__(self, shared_dir: str | Path) -> None:
        self.dir = Path(shared_dir)
        path = self.dir / "manifest.json"
        self.manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        self._tables: dict[str, pd.DataFrame] = {}

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
        """A shared table (read once per report; callers get a copy they may change)."""
        if name not in self._tables:
            self._tables[name] = pd.read_parquet(self.dir / f"{name}.parquet")
        return self._tables[name].copy()

    def json(self, name: str) -> Any:
        return json.loads((self.dir / f"{name}.json").read_text(encoding="utf-8"))
