"""The build pipeline and its result, :class:`Coin` (named after COINr's object).

A build runs, in this order, each step optional::

    screen -> denominate -> impute -> treat -> normalise -> weight -> aggregate

The spec (dict or YAML) names each step's method and settings with COINr's names; the spec
*as run* (every default filled in) is kept in ``coin.spec`` and written to ``log.json``, so
``build(idata, imeta, coin.spec)`` replays the build exactly and :meth:`Coin.rebuild` replays
it with changed settings (re-using the stages before the first changed step).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ucc_research.errors import SpecError
from ucc_research.indicators import aggregate as _agg
from ucc_research.indicators import denominate as _den
from ucc_research.indicators import impute as _imp
from ucc_research.indicators import normalise as _norm
from ucc_research.indicators import treat as _treat
from ucc_research.indicators import weight as _w
from ucc_research.indicators.meta import Framework, validate_data, validate_meta
from ucc_research.indicators.stats import get_stats, screen_units, unit_availability

STEPS = ("screen", "denominate", "impute", "treat", "normalise", "weight", "aggregate")
STAGES = ("raw", "denominated", "imputed", "treated", "normalised", "aggregated")

_STEP_DEFAULTS: dict[str, dict[str, Any]] = {
    "screen": {"method": "none"},
    "denominate": {"method": "none"},
    "impute": {"method": "none"},
    "treat": {"method": "none"},
    "normalise": {"method": "minmax", "range": [0, 100]},
    "weight": {"method": "meta"},
    "aggregate": {"method": "arith_mean"},
}
# settings filled in for each method (so the spec as run is explicit)
_METHOD_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "screen": {
        m: {"dat_thresh": 0.66, "zero_thresh": 1.0, "include": [], "exclude": []}
        for m in ("byNA", "byzeros", "byNAandzeros")
    },
    "denominate": {"meta": {"scale": {}}},
    "impute": {
        "group_mean": {},
        "group_median": {},
        "within_pillar": {"group_level": 2},
        "latest": {"max_time": None},
    },
    "treat": {
        m: {k: v for k, v in _treat.SETTINGS.items()} | {"indiv": {}}
        for m in ("winsorise", "boxcox", "log_CT", "log_CT_orig")
    },
    "normalise": {
        "minmax": {"range": [0, 100]},
        "zscore": {"m_sd": [0, 1]},
        "goalposts": {"range": [0, 100], "trunc": True},
        "dist_to_target": {"cap_max": False},
        "dist_to_ref": {"cap_max": False},
    },
    "weight": {
        "pca": {"levels": None, "pca_type": "squared"},
        "optimise": {"levels": None, "optype": "balance"},
    },
    "aggregate": {},
}
_ALLOWED = {
    "screen": {"method", "dat_thresh", "zero_thresh", "include", "exclude"},
    "denominate": {"method", "scale", "denomby"},
    "impute": {"method", "group", "group_level", "max_time"},
    "treat": {"method", "indiv", *_treat.SETTINGS},
    "normalise": {"method", "indiv", "directions", "global", *_norm.SETTINGS},
    "weight": {"method", *_w.SETTINGS},
    "aggregate": {"method", "by_code", "p", "dat_thresh", "zero_shift"},
}
_METHODS = {
    "screen": ("none", "byNA", "byzeros", "byNAandzeros"),
    "denominate": ("none", "meta"),
    "impute": _imp.METHODS,
    "treat": _treat.METHODS,
    "normalise": _norm.METHODS,
    "weight": _w.METHODS,
}


#: COINr's function names for methods, accepted in a spec and translated to ours.
METHOD_ALIASES: dict[str, dict[str, str]] = {
    "impute": {
        "i_mean": "mean",
        "i_median": "median",
        "i_mean_grp": "group_mean",
        "i_median_grp": "group_median",
    },
    "normalise": {
        "n_minmax": "minmax",
        "n_zscore": "zscore",
        "n_rank": "rank",
        "n_prank": "percentile",
        "n_borda": "borda",
        "n_goalposts": "goalposts",
        "n_dist2targ": "dist_to_target",
        "n_dist2max": "dist_to_max",
        "n_dist2ref": "dist_to_ref",
        "n_fracmax": "fracmax",
    },
    "aggregate": {
        "a_amean": "arith_mean",
        "a_gmean": "geom_mean",
        "a_hmean": "harm_mean",
        "a_genmean": "gen_mean",
        "a_copeland": "copeland",
    },
}


def _alias(step: str, method: Any) -> Any:
    """Our name for a COINr method name (``n_minmax`` -> ``minmax``); other values unchanged."""
    aliases = METHOD_ALIASES.get(step, {})
    if isinstance(method, str):
        return aliases.get(method, method)
    if isinstance(method, Mapping):
        return {k: _alias(step, v) for k, v in method.items()}
    if isinstance(method, (list, tuple)):
        return [_alias(step, v) for v in method]
    return method


def _plain(obj: Any) -> Any:
    """JSON-friendly copy: tuples -> lists, numpy scalars -> Python, keys -> str."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, pd.Series):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _step_spec(step: str, value: Any) -> dict[str, Any]:
    if value is None or value is False:
        value = {"method": "none"} if step not in ("normalise", "weight", "aggregate") else {}
    if value is True:
        value = {
            "denominate": {"method": "meta"},
            "impute": {"method": "mean"},
            "treat": {"method": "winsorise"},
            "screen": {"method": "byNA"},
        }.get(step, {})
    if isinstance(value, str):
        value = {"method": value}
    if not isinstance(value, Mapping):
        raise SpecError(
            f"spec: {step} must be true/false, a method name or a mapping, got {value!r}"
        )
    value = dict(value)
    if step == "aggregate" and "f_ag" in value:  # COINr's own name
        value["method"] = value.pop("f_ag")
    if "method" in value:
        value["method"] = _alias(step, value["method"])
    extra = set(value) - _ALLOWED[step]
    if extra:
        raise SpecError(
            f"spec: unknown setting(s) {sorted(extra)} in {step}; allowed: {sorted(_ALLOWED[step])}"
        )
    method = value.get("method", _STEP_DEFAULTS[step]["method"])
    if step != "aggregate" and method not in _METHODS[step]:
        raise SpecError(f"spec: {step} method {method!r} is not one of {', '.join(_METHODS[step])}")
    if step == "aggregate":
        entries = (
            [method]
            if isinstance(method, str)
            else list(method.values())
            if isinstance(method, Mapping)
            else list(method)
        )
        bad = [m for m in entries if m not in _agg.METHODS]
        if bad:
            raise SpecError(f"spec: aggregate method(s) {bad} not among {', '.join(_agg.METHODS)}")
    defaults = _METHOD_DEFAULTS[step].get(method, {}) if isinstance(method, str) else {}
    out = {"method": method, **copy.deepcopy(defaults), **value}
    if step == "aggregate":
        out.setdefault("by_code", {})
        out.setdefault("p", 1.0)
        out.setdefault("dat_thresh", None)
        out.setdefault("zero_shift", None)
    if step == "normalise":
        out.setdefault("global", True)
        out.setdefault("indiv", {})
    return _plain(out)


def read_yaml_file(path: str | Path, what: str) -> Any:
    """The YAML document in ``path`` (an empty file reads as ``{}``).

    Parameters
    ----------
    path : the file.
    what : what the file holds, for the error (``"spec"``, ``"vary"``).

    Raises
    ------
    SpecError
        The file is missing or is not valid YAML.

    Examples
    --------
    >>> read_yaml_file("no/such/file.yml", "spec")
    Traceback (most recent call last):
    ...
    ucc_research.errors.SpecError: spec file 'no/such/file.yml' not found
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{what} file {str(path)!r} not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SpecError(f"{what} file {str(path)!r} is not valid YAML: {exc}") from None


def load_spec(spec: None | str | Path | Mapping[str, Any] = None) -> dict[str, Any]:
    """Read and complete a build spec (YAML file, dict or None for COINr's default build).

    Parameters
    ----------
    spec : None, path or mapping
        Keys among ``screen, denominate, impute, treat, normalise, weight, aggregate``.
        COINr's method names (``n_minmax``, ``a_amean``, ``i_mean_grp``, ...; see
        :data:`METHOD_ALIASES`) are accepted and recorded under our names.

    Returns
    -------
    dict
        Every step with its method and all settings (JSON-serialisable).

    Examples
    --------
    >>> load_spec({"treat": {"method": "winsorise"}})["treat"]["winmax"]
    5
    >>> load_spec({"normalise": "n_zscore", "aggregate": "a_gmean"})["normalise"]["method"]
    'zscore'
    """
    if spec is None:
        spec = {}
    elif isinstance(spec, (str, Path)):
        spec = read_yaml_file(spec, "spec")
    if not isinstance(spec, Mapping):
        raise SpecError(f"spec must be a mapping of steps, got {type(spec).__name__}")
    extra = set(spec) - set(STEPS)
    if extra:
        raise SpecError(f"spec: unknown step(s) {sorted(extra)}; steps are {', '.join(STEPS)}")
    return {step: _step_spec(step, spec.get(step)) for step in STEPS}


def _merge(old: dict[str, Any], new: Any) -> Any:
    if isinstance(new, Mapping) and ("method" not in new or new["method"] == old.get("method")):
        return {**old, **new}
    return new


def _snap(x: np.ndarray) -> np.ndarray:
    """Round to 12 significant digits: scores equal up to floating-point noise (summation
    order) are ties, so permuting the units never reorders tied units."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = 10.0 ** np.floor(np.log10(np.abs(x)))
    mag = np.where(np.isfinite(mag) & (mag > 0), mag, 1.0)
    return np.round(x / mag, 11) * mag


def rank_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Rank every column, 1 = highest; ties share the lower rank (R ``rank(-x, ties = "min")``).

    Ranks are within each ``Time`` when the index has a ``Time`` level. They are integers
    (pandas ``Int64``); a missing score has a missing rank (``<NA>``).

    Examples
    --------
    >>> rank_scores(pd.DataFrame({"I": [50.0, 70.0, 50.0, None]}))["I"].tolist()
    [2, 1, 2, <NA>]
    """
    snapped = pd.DataFrame(
        _snap(scores.to_numpy(dtype=float)), index=scores.index, columns=scores.columns
    )
    if "Time" in scores.index.names:
        r = snapped.groupby(level="Time").rank(method="min", ascending=False)
    else:
        r = snapped.rank(method="min", ascending=False)
    return r.astype("Int64")


class Coin:
    """A built composite indicator: every stage, the records of each step and the results.

    Attributes
    ----------
    spec : dict
        The full spec as run (JSON-serialisable; written as ``log.json``).
    meta : DataFrame
        Validated iMeta, indexed by iCode.
    units : DataFrame
        Unit attributes (uName, groups, denominators) of the units kept.
    stages : dict
        ``raw``, ``denominated``, ``imputed``, ``treated``, ``normalised``, ``aggregated``:
        DataFrames indexed by ``uCode`` (or ``uCode``, ``Time``).
    records : dict
        What each step did (``screen``, ``denominate``, ``impute``, ``treat``, ...).
    weights : dict
        ``{level: Series}``: the weights used, rescaled to sum 1 within each parent.
    effective_weights : Series
        Each code's share of its top-level aggregate.
    """

    def __init__(
        self, *, spec, meta, units, raw_units, stages, records, weights_raw, screened
    ) -> None:
        self.spec = spec
        self.meta = meta
        self.units = units
        self._raw_units = raw_units
        self._screened = screened  # raw data of the units kept by screening
        self.stages = stages
        self.records = records
        self.weights_raw = weights_raw
        self.framework = Framework(meta)
        self.weights = _w.normalised_weights(meta, weights_raw)
        self.effective_weights = _w.effective_weights(meta, weights_raw)
        self._scores: pd.DataFrame | None = None
        self._ranks: pd.DataFrame | None = None

    def __repr__(self) -> str:
        agg = self.stages["aggregated"]
        return (
            f"Coin({agg.index.get_level_values('uCode').nunique()} units, "
            f"{len(self.framework.indicators)} indicators, {self.framework.n_levels} levels, "
            f"normalise={self.spec['normalise']['method']}, aggregate={self.spec['aggregate']['method']})"
        )

    @property
    def panel(self) -> bool:
        return "Time" in self.stages["raw"].index.names

    def unit_names(self) -> pd.Series:
        """Each unit's name (iData ``uName``; the code where it has none), by ``uCode``."""
        index = self.stages["aggregated"].index
        codes = pd.Series(index.get_level_values("uCode").astype(str), index=index)
        if "uName" not in self.units.columns:
            return codes
        names = self.units["uName"].reindex(index)
        return names.where(names.notna(), codes).astype(str)

    def _with_names(self, table: pd.DataFrame) -> pd.DataFrame:
        out = table.reset_index()
        out.insert(table.index.nlevels, "uName", self.unit_names().to_numpy())
        return out

    @property
    def scores(self) -> pd.DataFrame:
        """uCode (+Time), uName, then every indicator's and aggregate's final score."""
        if self._scores is None:
            self._scores = self._with_names(self.stages["aggregated"])
        return self._scores

    @property
    def ranks(self) -> pd.DataFrame:
        """Same shape as :attr:`scores`: integer ranks, 1 = best, ties share the lower rank
        (COINr); a unit without a score has a missing rank."""
        if self._ranks is None:
            self._ranks = self._with_names(rank_scores(self.stages["aggregated"]))
        return self._ranks

    def unit_availability(self, stage: str = "raw") -> pd.DataFrame:
        """Per unit (and Time): missing values, zeros and the share of available indicators."""
        if stage not in STAGES:
            raise SpecError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
        return unit_availability(self.stages[stage][self.framework.indicators])

    def stats(self, stage: str = "raw", **kwargs: Any) -> pd.DataFrame:
        """COINr ``get_stats`` of a stage's indicator columns."""
        if stage not in STAGES:
            raise SpecError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
        data = self.stages[stage][self.framework.indicators]
        return get_stats(data, **kwargs)

    def _group_of(self, group: str | None) -> pd.Series | None:
        if group is None:
            return None
        if group not in self.units.columns:
            raise SpecError(f"group column {group!r} does not exist in iData")
        return self.units[group].reindex(self.stages["aggregated"].index)

    def results(self, level: int | None = None, group: str | None = None) -> pd.DataFrame:
        """Tidy long table: uCode, [Time], uName, iCode, iName, Level, score, rank (+ group).

        Parameters
        ----------
        level : int, optional
            Only codes at this level (1 = indicators).
        group : str, optional
            A group column of iData: adds ``group``, ``group_rank`` (rank within the group)
            and ``group_n``.
        """
        agg = self.stages["aggregated"]
        ranks = self.ranks.set_index(list(agg.index.names))
        codes = self.framework.framework_codes
        if level is not None:
            if level not in range(1, self.framework.n_levels + 1):
                raise SpecError(f"level {level!r} is not in 1..{self.framework.n_levels}")
            codes = self.framework.codes(level)
        keys = list(agg.index.names)
        long = agg[codes].stack(future_stack=True).rename("score").reset_index()
        long.columns = [*keys, "iCode", "score"]
        long["rank"] = ranks[codes].stack(future_stack=True).array
        rows = pd.MultiIndex.from_frame(long[keys]) if len(keys) > 1 else pd.Index(long["uCode"])
        if "uName" in self.units.columns:
            long.insert(len(keys), "uName", self.units["uName"].reindex(rows).to_numpy())
        long["iName"] = self.meta.loc[long["iCode"], "iName"].to_numpy()
        long["Level"] = self.meta.loc[long["iCode"], "Level"].astype(int).to_numpy()
        long["Parent"] = self.meta.loc[long["iCode"], "Parent"].to_numpy()
        g = self._group_of(group)
        if g is not None:
            long["group"] = g.reindex(rows).to_numpy()
            by = ["group", "iCode"] + (["Time"] if self.panel else [])
            snapped = long.assign(score=_snap(long["score"].to_numpy(dtype=float)))
            long["group_rank"] = (
                snapped.groupby(by, dropna=False)["score"]
                .rank(method="min", ascending=False)
                .astype("Int64")
            )
            long["group_n"] = long.groupby(by, dropna=False)["score"].transform("count")
        return long

    def profile(
        self, uCode: str, group: str | None = None, n: int = 5, time: Any = None
    ) -> pd.DataFrame:
        """Strengths and weaknesses of one unit (COINr ``get_str_weak`` with group context).

        Every indicator and aggregate of the unit with its score, rank, the mean score of the
        comparison set (all units, or the unit's group) and the difference from it. The ``n``
        indicators with the best ranks are labelled ``strength``, the ``n`` worst ``weakness``
        (ranks within the group when ``group`` is given).
        """
        agg = self.stages["aggregated"]
        codes_u = agg.index.get_level_values("uCode")
        if uCode not in set(codes_u):
            raise SpecError(f"unit {uCode!r} is not a uCode of this coin")
        res = self.results(group=group)
        if self.panel:
            t = res["Time"].max() if time is None else time
            res = res[res["Time"] == t]
        me = res[res["uCode"] == uCode].set_index("iCode")
        if group is not None:
            g = me["group"].iloc[0]
            comp = res[res["group"] == g]
            rank_col = "group_rank"
        else:
            comp = res
            rank_col = "rank"
        means = comp.groupby("iCode")["score"].mean()
        out = me[["iName", "Level", "Parent", "score", "rank"]].copy()
        out["n_units"] = comp.groupby("iCode")["score"].count().reindex(out.index)
        if group is not None:
            out["group"] = me["group"]
            out["group_rank"] = me["group_rank"]
        out["comparison_mean"] = means.reindex(out.index)
        out["diff_from_mean"] = out["score"] - out["comparison_mean"]
        out["category"] = ""
        ind = out[(out["Level"] == 1) & out["score"].notna()].sort_values(
            [rank_col, "score"], ascending=[True, False]
        )
        out.loc[ind.index[:n], "category"] = "strength"
        weak = ind.sort_values([rank_col, "score"], ascending=[False, True]).index[:n]
        out.loc[[c for c in weak if out.at[c, "category"] == ""], "category"] = "weakness"
        return out.reset_index()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every result as a named table: what :meth:`export` writes."""
        out = {
            "scores": self.scores,
            "ranks": self.ranks,
            "results": self.results(),
            "meta": self.meta.reset_index(),
            "weights": self.effective_weights.rename("effective_weight")
            .rename_axis("iCode")
            .reset_index(),
        }
        for stage in STAGES:
            out[f"stage_{stage}"] = self._with_names(self.stages[stage])
        return out

    def export(self, path: str | Path, name: str = "coin") -> list[Path]:
        """Write every table as CSV and all of them in one Excel workbook (COINr ``export_to_excel``).

        Parameters
        ----------
        path : str or Path
            Folder to write into (created if needed).
        name : str
            File name of the workbook (``<name>.xlsx``).

        Returns
        -------
        list of Path
            ``scores.csv``, ``ranks.csv``, ``results.csv`` (long), ``meta.csv``,
            ``weights.csv``, ``stage_<stage>.csv`` for each stage, ``<name>.xlsx`` (one sheet
            per table) and ``log.json`` (the spec as run).

        Examples
        --------
        >>> import tempfile
        >>> idata = pd.DataFrame({"uCode": ["A", "B"], "x": [1.0, 2], "y": [3.0, 1]})
        >>> imeta = pd.DataFrame({"iCode": ["x", "y", "I"], "Level": [1, 1, 2],
        ...                       "Parent": ["I", "I", None]})
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     [p.name for p in build(idata, imeta).export(tmp)][:3]
        ['scores.csv', 'ranks.csv', 'results.csv']
        """
        from ucc_research import io
        from ucc_research.indicators.export import write_tables

        folder = Path(path)
        written = write_tables(folder, self.tables(), name)
        written.append(io.write_json(folder / "log.json", self.spec))
        return written

    def rebuild(self, **changes: Any) -> Coin:
        """Replay the build with changed settings, e.g. ``rebuild(normalise={"method": "zscore"})``.

        A step given as a mapping with the same (or no) ``method`` updates that step's
        settings; a different method replaces them. ``weights=`` is a shortcut for
        ``weight={"method": "meta", "weights": ...}`` (a mapping code -> weight) or a named set.
        Stages before the first changed step are re-used.
        """
        if "weights" in changes:
            w = changes.pop("weights")
            if isinstance(w, str):
                changes["weight"] = {**self.spec["weight"], "method": "named", "name": w}
            else:
                changes["weight"] = {"method": "meta", "weights": _plain(dict(w))}
        extra = set(changes) - set(STEPS)
        if extra:
            raise SpecError(
                f"rebuild: unknown step(s) {sorted(extra)}; steps are {', '.join(STEPS)}"
            )
        new = {
            s: (_merge(self.spec[s], changes[s]) if s in changes else self.spec[s]) for s in STEPS
        }
        new_spec = load_spec(new)
        return _run(self.meta, self.stages["raw"], self._raw_units, new_spec, previous=self)


def _first_changed(old: dict, new: dict) -> int:
    for i, s in enumerate(STEPS):
        if json.dumps(old[s], sort_keys=True) != json.dumps(new[s], sort_keys=True):
            return i
    return len(STEPS)


def build(
    idata: pd.DataFrame,
    imeta: pd.DataFrame,
    spec: None | str | Path | Mapping[str, Any] = None,
) -> Coin:
    """Build a composite indicator from COINr-format iData and iMeta.

    Parameters
    ----------
    idata : DataFrame
        ``uCode``, optional ``uName``, ``Time``, group/denominator columns and one column per
        indicator (several ``Time`` values = panel).
    imeta : DataFrame
        ``iCode``, ``Level``, ``Parent``, ``Type``, ``Direction``, ``Weight``, optional
        ``iName``, ``Denominator``, ``Target``, ``goalpost_lower``, ``goalpost_upper``.
    spec : None, dict or path to YAML
        Steps and settings (see :func:`load_spec`); None = COINr's minimal build (min-max
        0-100, iMeta weights, arithmetic mean).

    Returns
    -------
    Coin

    Examples
    --------
    >>> idata = pd.DataFrame({"uCode": ["A", "B", "C"], "x": [1.0, 2, 3], "y": [3.0, 1, 2]})
    >>> imeta = pd.DataFrame({"iCode": ["x", "y", "I"], "Level": [1, 1, 2],
    ...                       "Parent": ["I", "I", None], "Direction": [1, -1, 1]})
    >>> build(idata, imeta).scores  # y has Direction -1: its highest value scores 0
      uCode uName      x      y     I
    0     A     A    0.0    0.0   0.0
    1     B     B   50.0  100.0  75.0
    2     C     C  100.0   50.0  75.0
    """
    meta = validate_meta(imeta)
    values, units = validate_data(idata, meta)
    return _run(meta, values, units, load_spec(spec))


def _run(meta, raw, raw_units, spec, previous: Coin | None = None) -> Coin:
    start = 0
    if previous is not None:
        start = _first_changed(previous.spec, spec)
    stages: dict[str, pd.DataFrame] = {"raw": raw}
    records: dict[str, Any] = {}
    prev_stages = previous.stages if previous is not None else {}
    prev_records = previous.records if previous is not None else {}

    def reuse(step_idx: int) -> bool:
        return previous is not None and step_idx < start

    # screen
    if reuse(0):
        data, units = previous._screened, previous.units
        records["screen"] = prev_records["screen"]
    else:
        s = spec["screen"]
        if s["method"] == "none":
            data, units = raw, raw_units
            records["screen"] = {"method": "none", "removed_units": []}
        else:
            data, rec = screen_units(
                raw,
                dat_thresh=s["dat_thresh"],
                zero_thresh=s["zero_thresh"],
                unit_screen=s["method"],
                include=s["include"],
                exclude=s["exclude"],
            )
            units = raw_units.loc[data.index]
            records["screen"] = rec
    screened = data

    steps = [
        ("denominate", "denominated"),
        ("impute", "imputed"),
        ("treat", "treated"),
        ("normalise", "normalised"),
    ]
    for i, (step, stage) in enumerate(steps, start=1):
        if reuse(i):
            data = prev_stages[stage]
            records[step] = prev_records[step]
        else:
            data, records[step] = _apply(step, spec[step], data, meta, units)
        stages[stage] = data

    data_driven = spec["weight"]["method"] in ("pca", "optimise")
    if reuse(5) and not (data_driven and start == 6):  # data-driven weights use the aggregation
        weights = previous.weights_raw
        records["weight"] = prev_records["weight"]
    else:
        weights, records["weight"] = _weights(spec, data, meta)
    if reuse(6):
        stages["aggregated"] = prev_stages["aggregated"]
        records["aggregate"] = prev_records["aggregate"]
    else:
        a = spec["aggregate"]
        stages["aggregated"], records["aggregate"] = _agg.aggregate(
            data,
            meta,
            weights=weights,
            method=a["method"],
            by_code=a["by_code"],
            p=a["p"],
            dat_thresh=a["dat_thresh"],
            zero_shift=a["zero_shift"],
        )
    return Coin(
        spec=spec,
        meta=meta,
        units=units,
        raw_units=raw_units,
        stages=stages,
        records=records,
        weights_raw=weights,
        screened=screened,
    )


def _apply(step: str, s: dict, data: pd.DataFrame, meta: pd.DataFrame, units: pd.DataFrame):
    method = s["method"]
    if step == "denominate":
        if method == "none":
            return data, {"method": "none", "denominated": {}}
        denomby = s.get("denomby")
        needed = set((denomby or {}).values()) | {
            d for d in meta.get("Denominator", pd.Series(dtype=object)).dropna()
        }
        absent = sorted(d for d in needed if d not in units.columns)
        if absent:
            raise SpecError(f"denominate: denominator column(s) {absent} not found in iData")
        out, rec = _den.denominate(data, meta, denoms=units, denomby=denomby, scale=s["scale"])
        return out, {"method": method, **rec}
    if step == "impute":
        return _imp.impute(
            data,
            meta,
            method=method,
            group=s.get("group"),
            groups=units,
            group_level=s.get("group_level", 2),
            max_time=s.get("max_time"),
        )
    if step == "treat":
        if method == "none":
            return data, {"method": "none"}
        settings = {k: v for k, v in s.items() if k in _treat.SETTINGS}
        out, rec = _treat.treat(data, meta, method=method, indiv=s["indiv"], **settings)
        return out, {"method": method, **rec}
    if step == "normalise":
        settings = {k: v for k, v in s.items() if k in _norm.SETTINGS}
        out, rec = _norm.normalise(
            data,
            meta,
            method=method,
            indiv=s.get("indiv"),
            directions=s.get("directions"),
            global_=bool(s.get("global", True)),
            **settings,
        )
        return out, rec
    raise SpecError(f"unknown build step {step!r}")  # STAGES and this dispatch disagree


def _weights(spec: dict, data: pd.DataFrame, meta: pd.DataFrame):
    s = spec["weight"]
    method = s["method"]
    static_method = method if method not in ("pca", "optimise") else "meta"
    base = _w.static_weights(
        meta,
        static_method,
        weights=s.get("weights"),
        sets=s.get("sets"),
        name=s.get("name"),
        budget=s.get("budget"),
    )
    if method in ("pca", "optimise"):
        w, rec = _w.data_driven_weights(
            data,
            meta,
            base,
            method,
            levels=s.get("levels"),
            pca_type=s.get("pca_type", "squared"),
            optype=s.get("optype", "balance"),
            agg=spec["aggregate"],
        )
        return w, rec
    return base, {"method": method}
