"""Uncertainty and sensitivity analysis of a built index (COINr ``get_sensitivity``).

Any recorded setting of the build can be varied: weights (random perturbation), and any step
(``denominate``, ``impute``, ``treat``, ``normalise``, ``aggregate``) among a list of
alternatives; an indicator or aggregate can be dropped. Inputs are sampled with a scrambled,
seeded Sobol' sequence (quasi-random), so a run is reproducible and needs no interaction.

The variations (``vary``) are a dict, or a YAML file with the same content::

    weights: {noise: 0.25, levels: [1, 2]}   # each weight times U(1 - 0.25, 1 + 0.25); levels
                                             # default: every level below the top
    normalise:                               # alternatives; each replaces the build's step
      - {method: minmax, range: [1, 100]}    # (same or no method: only these settings change)
      - {method: zscore, m_sd: [10, 2]}
    aggregate: [arith_mean, geom_mean]       # a method name is short for {method: ...}
    treat: [{winmax: 1}, {winmax: 3}, {winmax: 5}]
    drop: [LPI, Flights]                     # exclude none or one of these codes (or
                                             # {level: 1}: any one code of that level)

Each key is one uncertain input (one variable of the sensitivity indices). A uniform
coordinate ``u`` in [0, 1) picks alternative ``floor(u K)`` of ``K`` (COINr's ``cut``); weights
get one coordinate per perturbed code. :data:`DEFAULT_VARY` is the default: weights +-25%,
normalisation min-max [1, 100] or z-score (10, 2), arithmetic or geometric mean (the choices of
COINr's sensitivity vignette, chosen so that the geometric mean has positive inputs).

When weights vary, or codes are dropped, every run uses fixed weights: the nominal build's
weights (``coin.weights_raw``) times the perturbation factors, with zero for a dropped code
(dropping by zero weight equals removing the code for every aggregation method here, and for
every column-wise imputation/treatment/normalisation; an imputation that borrows from sibling
indicators still sees the dropped one).

Two engines give identical ranks (tested): ``"replay"`` rebuilds the coin once per run
(:meth:`Coin.rebuild`, re-using unchanged stages); ``"vectorised"`` builds each distinct
combination of the discrete choices once and aggregates all its runs together as batched
matrix products (:mod:`ucc_research.indicators._vectorised`), orders of magnitude faster.
``"auto"`` (default) uses the vectorised engine when every aggregation method allows it
(arithmetic, geometric, harmonic, generalised mean).

Scores are compared at 12 significant digits before ranking (ties share the lower rank, as
COINr), so that float summation order cannot split exact ties differently in the two engines.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ucc_research.errors import SpecError, UccWarning
from ucc_research.indicators._vectorised import VECTORISED_METHODS, Hierarchy, batch_aggregate
from ucc_research.indicators.aggregate import level_methods
from ucc_research.indicators.coin import load_spec, read_yaml_file
from ucc_research.indicators.sensitivity import (
    check_runs,
    mean_abs_rank_shift,
    rank_desc,
    rank_stats,
    saltelli_design,
    sensitivity_indices,
    sobol_unit_sample,
)

__all__ = [
    "DEFAULT_VARY",
    "UncertainInput",
    "UncertaintyResult",
    "parse_vary",
    "uncertainty_analysis",
    "sensitivity_analysis",
    "rank_intervals",
    "remove_one_at_a_time",
    "synthetic_index_inputs",
]

DEFAULT_VARY: dict[str, Any] = {
    "weights": {"noise": 0.25},
    "normalise": [{"method": "minmax", "range": [1, 100]}, {"method": "zscore", "m_sd": [10, 2]}],
    "aggregate": [{"method": "arith_mean"}, {"method": "geom_mean"}],
}
STEP_KEYS = ("denominate", "impute", "treat", "normalise", "aggregate")
SIG_DIGITS = 12


@dataclass(frozen=True)
class UncertainInput:
    """One uncertain input: a step's alternatives, the weight perturbation or the dropped code.

    Attributes
    ----------
    name : str
        ``weights``, ``drop`` or a step name.
    alternatives : tuple
        Step settings (mappings), or codes for ``drop`` (``None`` = drop nothing).
    noise : float
        Relative half-width of the uniform weight perturbation (``weights`` only).
    codes : tuple of str
        Codes whose weights are perturbed (``weights`` only).
    """

    name: str
    alternatives: tuple = ()
    noise: float = 0.0
    codes: tuple[str, ...] = ()

    @property
    def n_cols(self) -> int:
        """Number of sample coordinates this input uses."""
        return len(self.codes) if self.name == "weights" else 1

    def labels(self) -> list[str]:
        """Readable names of the discrete alternatives."""
        if self.name == "drop":
            return ["none" if a is None else str(a) for a in self.alternatives]
        return [_label(a) for a in self.alternatives]

    def pick(self, u: np.ndarray) -> np.ndarray:
        """Index of the alternative chosen by each coordinate ``u`` in [0, 1)."""
        k = len(self.alternatives)
        return np.minimum((np.asarray(u) * k).astype(int), k - 1)


def _label(alt: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in alt.items() if k != "method"}
    head = str(alt.get("method", ""))
    if not rest:
        return head
    body = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(rest.items()))
    return f"{head}({body})" if head else body


def parse_vary(vary: Mapping[str, Any] | str | Path | None, coin) -> list[UncertainInput]:
    """Check and expand a ``vary`` specification (dict or YAML file) against a coin.

    Parameters
    ----------
    vary : mapping, path to YAML, or None
        See the module docstring; None gives :data:`DEFAULT_VARY`.
    coin : Coin
        The nominal build (its framework decides which codes and levels exist).

    Returns
    -------
    list of UncertainInput
        In the order of ``vary``'s keys.
    """
    if vary is None:
        vary = DEFAULT_VARY
    elif isinstance(vary, (str, Path)):
        vary = read_yaml_file(vary, "vary")
    if not isinstance(vary, Mapping) or not vary:
        raise SpecError("vary must be a non-empty mapping of inputs to vary")
    hier = Hierarchy.from_meta(coin.meta)
    inputs = []
    for name, value in vary.items():
        if name == "weights":
            inputs.append(_parse_weights(value, hier))
        elif name == "drop":
            inputs.append(_parse_drop(value, hier))
        elif name in STEP_KEYS:
            if not isinstance(value, Sequence) or isinstance(value, str) or len(value) < 2:
                raise SpecError(f"vary: {name} needs a list of at least two alternatives")
            alts = []
            for i, alt in enumerate(value):
                if isinstance(alt, str):
                    alt = {"method": alt}
                if not isinstance(alt, Mapping):
                    raise SpecError(f"vary: {name} alternative {i + 1} must be a mapping or a name")
                try:  # a bad alternative is an error now, not a failure in every run using it
                    load_spec({**coin.spec, name: _merged_step(coin.spec[name], alt)})
                except SpecError as exc:
                    raise SpecError(f"vary: {name} alternative {i + 1}: {exc}") from None
                alts.append(dict(alt))
            inputs.append(UncertainInput(name, tuple(alts)))
        else:
            raise SpecError(
                f"vary: unknown input {name!r}; use weights, drop or one of {', '.join(STEP_KEYS)}"
            )
    return inputs


def _parse_weights(value: Any, hier: Hierarchy) -> UncertainInput:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"noise": value}
    if not isinstance(value, Mapping):
        raise SpecError("vary: weights must be a mapping like {noise: 0.25, levels: [1, 2]}")
    extra = set(value) - {"noise", "levels"}
    if extra:
        raise SpecError(f"vary: unknown weights setting(s) {sorted(extra)}; use noise, levels")
    noise = float(value.get("noise", 0.25))
    if not 0 < noise < 1:
        raise SpecError(f"vary: weights noise must be in (0, 1), got {noise}")
    levels = value.get("levels") or [lev for lev in hier.levels if lev < hier.top]
    bad = [lev for lev in levels if lev not in hier.levels or lev == hier.top]
    if bad:
        raise SpecError(f"vary: weight levels {bad} invalid; use levels 1..{hier.top - 1}")
    codes = tuple(c for lev in sorted(levels) for c in hier.levels[lev])
    return UncertainInput("weights", noise=noise, codes=codes)


def _parse_drop(value: Any, hier: Hierarchy) -> UncertainInput:
    if isinstance(value, Mapping):
        if set(value) != {"level"}:
            raise SpecError("vary: drop must be a list of codes or {level: N}")
        lev = value["level"]
        if lev not in hier.levels or lev == hier.top:
            raise SpecError(f"vary: drop level {lev!r} invalid; use 1..{hier.top - 1}")
        codes = list(hier.levels[lev])
    elif isinstance(value, Sequence) and not isinstance(value, str) and value:
        codes = [str(c) for c in value]
    else:
        raise SpecError("vary: drop must be a non-empty list of codes or {level: N}")
    for c in codes:
        lev = hier.level_of(c)
        if lev == hier.top:
            raise SpecError(f"vary: cannot drop the top-level code {c!r}")
        siblings = [k for k in hier.levels[lev] if hier.parent[k] == hier.parent[c]]
        if len(siblings) < 2:
            raise SpecError(f"vary: cannot drop {c!r}, the only child of {hier.parent[c]!r}")
    return UncertainInput("drop", (None, *codes))


@dataclass
class UncertaintyResult:
    """Outcome of :func:`uncertainty_analysis` / :func:`sensitivity_analysis`.

    Attributes
    ----------
    target : str
        Code analysed.
    nominal : DataFrame
        ``uCode`` (+ ``Time``), ``score``, ``rank`` of the nominal build.
    runs : DataFrame
        One row per run: ``run`` and the alternative chosen for every discrete input (weights
        factors are in ``weight_factors``).
    weight_factors : DataFrame or None
        Runs x perturbed codes: the multiplicative weight factors.
    scores, ranks : DataFrame
        Units (rows, index ``uCode`` or (``uCode``, ``Time``)) x runs (``r_1`` ...).
    rank_stats : DataFrame
        ``uCode``, ``nominal_rank``, ``median_rank``, ``q05``, ``q95``, ``mean_rank`` over the
        runs (sensitivity analysis: over the ``2N`` runs of ``A`` and ``B``, as COINr).
    failed : DataFrame
        ``run``, ``reason`` of runs that could not be built (their scores are NaN).
    sensitivity : DataFrame or None
        ``Variable, Si, STi`` (+ bootstrap quantiles) for a sensitivity analysis.
    engine : str
        ``vectorised`` or ``replay``.
    inputs : list of UncertainInput
        The parsed ``vary`` (sample columns in this order).
    """

    target: str
    nominal: pd.DataFrame
    runs: pd.DataFrame
    weight_factors: pd.DataFrame | None
    scores: pd.DataFrame
    ranks: pd.DataFrame
    rank_stats: pd.DataFrame
    failed: pd.DataFrame
    engine: str
    sensitivity: pd.DataFrame | None = None
    inputs: list[UncertainInput] = field(default_factory=list)


def _snap(x: np.ndarray) -> np.ndarray:
    """Round each run's scores to ``SIG_DIGITS`` significant digits (see the module notes)."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmax(np.abs(x), axis=-1, keepdims=True)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    digits = SIG_DIGITS - np.ceil(np.log10(scale))
    factor = 10.0**digits
    return np.round(x * factor) / factor


def _rank_runs(scores: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    """Ranks (runs, rows) within each block of rows (one block per Time in a panel)."""
    snapped = _snap(scores)
    ranks = np.full_like(snapped, np.nan)
    for b in blocks:
        ranks[:, b] = rank_desc(snapped[:, b], axis=1)
    return ranks


def _blocks(index: pd.Index) -> list[np.ndarray]:
    if "Time" in (index.names or []):
        times = index.get_level_values("Time")
        return [np.flatnonzero(times == t) for t in pd.unique(times)]
    return [np.arange(len(index))]


class _Plan:
    """Decoded runs: discrete choices, weight matrices and the rebuild changes of each run."""

    def __init__(self, coin, inputs: list[UncertainInput], sample: np.ndarray) -> None:
        self.coin = coin
        self.inputs = inputs
        self.hier = Hierarchy.from_meta(coin.meta)
        n = sample.shape[0]
        self.choice: dict[str, np.ndarray] = {}
        self.fixed_weights = any(i.name in ("weights", "drop") for i in inputs)
        w0 = coin.weights_raw.reindex(self.hier.codes).to_numpy(dtype=float)
        self.weights = np.tile(w0, (n, 1))
        self.factors = None
        col = 0
        for inp in inputs:
            u = sample[:, col : col + inp.n_cols]
            col += inp.n_cols
            if inp.name == "weights":
                pos = [self.hier.codes.index(c) for c in inp.codes]
                self.factors = 1 + inp.noise * (2 * u - 1)
                self.weights[:, pos] *= self.factors
                self.factor_codes = inp.codes
            else:
                self.choice[inp.name] = inp.pick(u[:, 0])
        if "drop" in self.choice:
            drop = next(i for i in inputs if i.name == "drop")
            for r, k in enumerate(self.choice["drop"]):
                if drop.alternatives[k] is not None:
                    self.weights[r, self.hier.codes.index(drop.alternatives[k])] = 0.0
        # pipeline order, so that variants can be built by extending shorter ones
        self.steps = sorted(
            (i for i in inputs if i.name in STEP_KEYS), key=lambda i: STEP_KEYS.index(i.name)
        )

    def changes(self, r: int) -> dict[str, Any]:
        """The :meth:`Coin.rebuild` arguments of run ``r`` (the replay)."""
        ch = {i.name: dict(i.alternatives[self.choice[i.name][r]]) for i in self.steps}
        if self.fixed_weights:
            # the top code's weight is unused and may be blank in iMeta
            w = zip(self.hier.codes, self.weights[r].tolist(), strict=True)
            ch["weights"] = {c: v for c, v in w if np.isfinite(v)}
        return ch

    def runs_table(self) -> pd.DataFrame:
        n = self.weights.shape[0]
        out = pd.DataFrame({"run": [f"r_{i + 1}" for i in range(n)]})
        for inp in self.inputs:
            if inp.name != "weights":
                labels = inp.labels()
                out[inp.name] = [labels[k] for k in self.choice[inp.name]]
        return out

    def factors_table(self) -> pd.DataFrame | None:
        if self.factors is None:
            return None
        idx = pd.Index([f"r_{i + 1}" for i in range(self.factors.shape[0])], name="run")
        return pd.DataFrame(self.factors, index=idx, columns=list(self.factor_codes))


def _rebuild(coin, changes: dict[str, Any]):
    """One run of the replay: the rebuilt coin, or the reason it could not be built."""
    try:
        return coin.rebuild(**changes), None
    except SpecError as exc:
        return None, str(exc)


def _vectorisable(plan: _Plan) -> bool:
    specs = [plan.coin.spec["aggregate"]]
    agg = next((i for i in plan.steps if i.name == "aggregate"), None)
    if agg is not None:
        specs = [_merged_step(plan.coin.spec["aggregate"], a) for a in agg.alternatives]
    for s in specs:
        m = s.get("method", "arith_mean")
        entries = [m] if isinstance(m, str) else list(m.values() if isinstance(m, Mapping) else m)
        entries += list((s.get("by_code") or {}).values())
        if any(e not in VECTORISED_METHODS for e in entries):
            return False
    return True


def _run_replay(plan: _Plan, target: str, rows: pd.Index) -> tuple[np.ndarray, dict[int, str]]:
    n = plan.weights.shape[0]
    scores = np.full((n, len(rows)), np.nan)
    failed: dict[int, str] = {}
    for r in range(n):
        c, err = _rebuild(plan.coin, plan.changes(r))
        if err is not None:
            failed[r] = err
            continue
        scores[r] = c.stages["aggregated"][target].reindex(rows).to_numpy(dtype=float)
    return scores, failed


def _level_settings(spec_agg: Mapping[str, Any], n_levels: int):
    """Aggregation method and ``dat_thresh`` of each level, expanded as the build does."""
    methods = level_methods(spec_agg["method"], n_levels)
    thr = spec_agg.get("dat_thresh")
    if thr is None or isinstance(thr, (int, float)):
        thresh = dict.fromkeys(methods, thr)
    else:
        thresh = dict(zip(methods, list(thr), strict=True))
    return methods, thresh


def _merged_step(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A step's settings after a change, as :meth:`Coin.rebuild` documents it."""
    if "method" not in new or new["method"] == old.get("method"):
        return {**old, **new}
    return dict(new)


def _run_vectorised(plan: _Plan, target: str, rows: pd.Index):
    n = plan.weights.shape[0]
    scores = np.full((n, len(rows)), np.nan)
    failed: dict[int, str] = {}
    pre = list(plan.steps)
    agg_input = None
    data_driven = plan.coin.spec["weight"]["method"] in ("pca", "optimise")
    if pre and pre[-1].name == "aggregate" and (plan.fixed_weights or not data_driven):
        agg_input = pre.pop()  # aggregation is done here; data-driven weights need a rebuild
    cache: dict[tuple, tuple] = {(): (plan.coin, None)}

    def variant(prefix: tuple) -> tuple:
        if prefix not in cache:
            if agg_input is None and data_driven:
                # data-driven weights: the very call of the replay, so that the weights are
                # recomputed (or re-used) exactly as there
                changes = {pre[j].name: dict(pre[j].alternatives[k]) for j, k in prefix}
                cache[prefix] = _rebuild(plan.coin, changes)
            else:  # extend the variant without the last change, re-using its earlier stages
                parent, err = variant(prefix[:-1])
                j, k = prefix[-1]
                change = {pre[j].name: dict(pre[j].alternatives[k])}
                cache[prefix] = (None, err) if err else _rebuild(parent, change)
        return cache[prefix]

    groups: dict[tuple, list[int]] = {}
    for r in range(n):
        key = tuple((j, int(plan.choice[inp.name][r])) for j, inp in enumerate(pre))
        a = int(plan.choice[agg_input.name][r]) if agg_input is not None else -1
        groups.setdefault((key, a), []).append(r)
    for (key, a), reps in groups.items():
        coin_v, err = variant(key)
        if err is not None:
            failed.update(dict.fromkeys(reps, err))
            continue
        agg = coin_v.spec["aggregate"]
        if agg_input is not None:
            merged = _merged_step(agg, agg_input.alternatives[a])
            try:
                agg = load_spec({"aggregate": merged})["aggregate"]
            except SpecError as exc:
                failed.update(dict.fromkeys(reps, str(exc)))
                continue
        if plan.fixed_weights:
            w = plan.weights[reps]
        else:  # the variant's own weights (data-driven weights are recomputed per variant)
            w0 = coin_v.weights_raw.reindex(plan.hier.codes).to_numpy(dtype=float)
            w = np.tile(w0, (len(reps), 1))
        x = coin_v.stages["normalised"][plan.hier.levels[1]].reindex(rows).to_numpy(dtype=float)
        methods, thresh = _level_settings(agg, plan.hier.top)
        res = batch_aggregate(
            x,
            plan.hier,
            w,
            target=target,
            methods=methods,
            by_code=agg.get("by_code"),
            p=float(agg.get("p", 1.0)),
            dat_thresh=thresh,
            zero_shift=agg.get("zero_shift"),
            unit_labels=[str(u) for u in rows],
        )
        scores[reps] = res.scores
        failed.update({reps[i]: why for i, why in res.failed.items()})
    return scores, failed


def _analyse(coin, inputs, sample, target, engine) -> tuple[_Plan, np.ndarray, dict, str, Any]:
    plan = _Plan(coin, inputs, sample)
    agg = coin.stages["aggregated"]
    if target is None:
        target = plan.hier.levels[plan.hier.top][0]
    plan.hier.level_of(target)  # a framework code, or a clear error
    rows = agg.index
    if engine not in ("auto", "vectorised", "replay"):
        raise SpecError(f"engine must be 'auto', 'vectorised' or 'replay', got {engine!r}")
    if engine == "auto":
        engine = "vectorised" if _vectorisable(plan) else "replay"
    run = _run_vectorised if engine == "vectorised" else _run_replay
    scores, failed = run(plan, target, rows)
    return plan, scores, failed, engine, target


def _result(coin, plan, inputs, scores, failed, engine, target, stat_runs=None):
    agg = coin.stages["aggregated"]
    rows = agg.index
    blocks = _blocks(rows)
    nominal_scores = agg[target].to_numpy(dtype=float)
    nominal_rank = _rank_runs(nominal_scores[None, :], blocks)[0]
    ranks = _rank_runs(scores, blocks)
    cols = [f"r_{i + 1}" for i in range(scores.shape[0])]
    scores_df = pd.DataFrame(scores.T, index=rows, columns=cols)
    ranks_df = pd.DataFrame(ranks.T, index=rows, columns=cols)
    use = ranks.T if stat_runs is None else ranks.T[:, :stat_runs]
    stats = rank_stats(use, nominal_rank, units=[str(u) for u in rows.get_level_values("uCode")])
    stats = stats[["uCode", "nominal_rank", "median_rank", "q05", "q95", "mean_rank"]]
    if "Time" in (rows.names or []):
        stats.insert(1, "Time", rows.get_level_values("Time"))
    nominal = pd.DataFrame(
        {"score": nominal_scores, "rank": nominal_rank}, index=rows
    ).reset_index()
    failed_df = pd.DataFrame(
        [(f"r_{r + 1}", why) for r, why in sorted(failed.items())], columns=["run", "reason"]
    )
    if failed:
        warnings.warn(
            f"{len(failed)} of {scores.shape[0]} runs could not be built (see result.failed); "
            f"first: {failed_df['reason'].iloc[0]}",
            UccWarning,
            stacklevel=3,
        )
    return UncertaintyResult(
        target=target,
        nominal=nominal,
        runs=plan.runs_table(),
        weight_factors=plan.factors_table(),
        scores=scores_df,
        ranks=ranks_df,
        rank_stats=stats,
        failed=failed_df,
        engine=engine,
        inputs=inputs,
    )


def uncertainty_analysis(
    coin,
    vary: Mapping[str, Any] | str | Path | None = None,
    n: int = 200,
    *,
    seed: int | None = 1,
    target: str | None = None,
    engine: str = "auto",
) -> UncertaintyResult:
    """Uncertainty analysis: rebuild the index ``n`` times with sampled settings.

    Parameters
    ----------
    coin : Coin
        The nominal build.
    vary : mapping or path to YAML, optional
        What to vary (module docstring); default :data:`DEFAULT_VARY`.
    n : int
        Number of runs (a power of two keeps the Sobol' sequence balanced).
    seed : int, optional
        Seed of the scrambled Sobol' sequence (same seed, same runs).
    target : str, optional
        Code analysed (default: the top-level aggregate).
    engine : {"auto", "vectorised", "replay"}

    Returns
    -------
    UncertaintyResult
        With per-unit ``rank_stats`` (nominal, median, 5% and 95% rank over the runs).

    Examples
    --------
    >>> idata, imeta = synthetic_index_inputs(n_units=20, n_indicators=6, n_pillars=2, seed=3)
    >>> from ucc_research.indicators import build
    >>> res = uncertainty_analysis(build(idata, imeta, {"normalise": {"range": [1, 100]}}), n=32)
    >>> res.rank_stats.columns.tolist()
    ['uCode', 'nominal_rank', 'median_rank', 'q05', 'q95', 'mean_rank']
    """
    n = check_runs(n, "the number of runs n")  # before any work: an absurd n fails at once
    inputs = parse_vary(vary, coin)
    d = sum(i.n_cols for i in inputs)
    sample = sobol_unit_sample(n, d, seed)
    plan, scores, failed, engine, target = _analyse(coin, inputs, sample, target, engine)
    return _result(coin, plan, inputs, scores, failed, engine, target)


def sensitivity_analysis(
    coin,
    vary: Mapping[str, Any] | str | Path | None = None,
    n: int = 128,
    *,
    seed: int | None = 1,
    target: str | None = None,
    n_boot: int | None = 100,
    engine: str = "auto",
) -> UncertaintyResult:
    """Variance-based sensitivity analysis (Saltelli design, ``n (d + 2)`` runs).

    The output of each run is the mean absolute rank shift of the units against their nominal
    ranks (COINr's choice); the first-order (``Si``, Saltelli 2010) and total (``STi``, Jansen)
    indices of each input of ``vary`` (a weight perturbation counts as one input: a group index)
    are estimated with :func:`ucc_research.indicators.sensitivity.sensitivity_indices`, with
    seeded bootstrap intervals.

    Parameters
    ----------
    coin, vary, seed, target, engine
        As :func:`uncertainty_analysis`.
    n : int
        Base sample size ``N``.
    n_boot : int, optional
        Bootstrap resamples for the 5-95% intervals (None: no intervals).

    Returns
    -------
    UncertaintyResult
        ``sensitivity`` holds the indices; ``rank_stats`` are over the ``2N`` runs of ``A`` and
        ``B``.
    """
    n = check_runs(n, "the number of base samples n")
    inputs = parse_vary(vary, coin)
    if len(inputs) < 2:
        raise SpecError("sensitivity analysis needs at least two uncertain inputs in vary")
    d = sum(i.n_cols for i in inputs)
    sample = saltelli_design(n, d, groups=[i.n_cols for i in inputs], seed=seed)
    plan, scores, failed, engine, target = _analyse(coin, inputs, sample, target, engine)
    res = _result(coin, plan, inputs, scores, failed, engine, target, stat_runs=2 * n)
    if failed:
        raise SpecError(
            f"sensitivity indices need every run; {len(failed)} failed, first: "
            f"{res.failed['reason'].iloc[0]}"
        )
    nominal = res.nominal["rank"].to_numpy(dtype=float)
    y = mean_abs_rank_shift(res.ranks.to_numpy(dtype=float), nominal)
    res.sensitivity = sensitivity_indices(
        y, n, len(inputs), names=[i.name for i in inputs], n_boot=n_boot, seed=seed
    )
    return res


def rank_intervals(
    coin,
    n: int = 200,
    seed: int | None = 1,
    vary: Mapping[str, Any] | str | Path | None = None,
    *,
    target: str | None = None,
) -> pd.DataFrame:
    """Per-unit rank intervals for reports: nominal, median, 5% and 95% ranks over ``n`` runs.

    Parameters
    ----------
    coin : Coin
    n : int
        Number of runs.
    seed : int, optional
        Seed of the Sobol' sequence.
    vary : mapping or path to YAML, optional
        Default :data:`DEFAULT_VARY` (weights +-25%, min-max or z-score, arithmetic or
        geometric mean). The build's own normalisation is not one of the defaults (as in
        COINr's vignette), so a nominal rank can fall outside its interval; list it among the
        ``normalise`` alternatives to include it.
    target : str, optional
        Default: the top-level aggregate.

    Returns
    -------
    pandas.DataFrame
        ``uCode``, ``uName`` (+ ``Time`` for a panel, ranks within each year),
        ``nominal_rank`` (an integer), ``median_rank``, ``q05``, ``q95``, ``mean_rank`` (R's
        type-7 quantiles and means: they may fall between ranks), sorted by (year and) nominal
        rank;
        ``attrs`` holds ``n_runs``, ``n_failed``, ``seed`` and ``target``.
    """
    res = uncertainty_analysis(coin, vary, n, seed=seed, target=target)
    keys = (
        ["Time", "nominal_rank", "uCode"] if "Time" in res.rank_stats else ["nominal_rank", "uCode"]
    )
    out = res.rank_stats.sort_values(keys, kind="stable")
    out = out.reset_index(drop=True)
    out["nominal_rank"] = out["nominal_rank"].astype("Int64")
    names = coin.unit_names().groupby(level="uCode").first()
    out.insert(out.columns.get_loc("uCode") + 1, "uName", names.reindex(out["uCode"]).to_numpy())
    out.attrs.update(n_runs=n, n_failed=len(res.failed), seed=seed, target=res.target)
    return out


def remove_one_at_a_time(
    coin, level: int = 1, *, target: str | None = None, engine: str = "auto"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Impact on the ranks of removing each code of ``level`` in turn (COINr ``remove_elements``).

    A code is removed by giving it zero weight (see the module notes), all else nominal. Codes
    that are the only child of their parent cannot be removed and are skipped with a note in
    the summary (``status``).

    Returns
    -------
    summary : DataFrame
        ``iCode, status, mean_abs_rank_shift, max_abs_rank_shift`` (one row per code, in
        framework order).
    shifts : DataFrame
        Units x removed codes: rank after removal minus nominal rank (negative = moves up).
    """
    hier = Hierarchy.from_meta(coin.meta)
    if level not in hier.levels or level == hier.top:
        raise SpecError(f"level must be in 1..{hier.top - 1}, got {level!r}")
    codes = hier.levels[level]
    removable = [
        c for c in codes if sum(hier.parent[k] == hier.parent[c] for k in hier.levels[level]) > 1
    ]
    if not removable:
        raise SpecError(f"no code at level {level} has a sibling; nothing can be removed")
    inp = UncertainInput("drop", tuple(removable))
    # one run per code: u in the middle of its slot picks it
    sample = ((np.arange(len(removable)) + 0.5) / len(removable))[:, None]
    plan, scores, failed, engine, target = _analyse(coin, [inp], sample, target, engine)
    res = _result(coin, plan, [inp], scores, failed, engine, target)
    nominal = res.nominal["rank"].to_numpy(dtype=float)
    shift = res.ranks.to_numpy(dtype=float) - nominal[:, None]
    shifts = pd.DataFrame(shift, index=res.ranks.index, columns=removable)
    summary = pd.DataFrame({"iCode": codes})
    summary["status"] = ["removed" if c in removable else "only child: kept" for c in codes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary["mean_abs_rank_shift"] = [
            np.nanmean(np.abs(shifts[c])) if c in removable else np.nan for c in codes
        ]
        summary["max_abs_rank_shift"] = [
            np.nanmax(np.abs(shifts[c])) if c in removable else np.nan for c in codes
        ]
    return summary, shifts


def synthetic_index_inputs(
    n_units: int = 200,
    n_indicators: int = 50,
    n_pillars: int = 10,
    *,
    seed: int = 0,
    missing: float = 0.02,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SYNTHETIC iData/iMeta for tests and benchmarks: indicators -> pillars -> index (3 levels).

    Each pillar's indicators share a latent factor (correlation about 0.5), a third of the
    indicators are "lower is better" (``Direction`` -1), values are normal around 100 (sd about
    20) and a share ``missing`` of values is missing at random. Unit names say ``Synthetic``.

    Returns
    -------
    (iData, iMeta) : DataFrames in COINr format.
    """
    if n_indicators < 2 * n_pillars or n_pillars < 2:
        raise SpecError("need at least 2 pillars and 2 indicators per pillar")
    rng = np.random.default_rng(seed)
    pillar_of = np.arange(n_indicators) % n_pillars
    latent = rng.normal(size=(n_units, n_pillars))
    direction = np.where(np.arange(n_indicators) % 3 == 2, -1, 1)
    z = latent[:, pillar_of] + rng.normal(size=(n_units, n_indicators))
    values = 100 + 15 * z * direction
    values[rng.random(values.shape) < missing] = np.nan
    codes = [f"ind{i + 1:02d}" for i in range(n_indicators)]
    pillars = [f"P{j + 1:02d}" for j in range(n_pillars)]
    idata = pd.DataFrame(values, columns=codes)
    idata.insert(0, "uName", [f"Synthetic unit {i + 1:03d}" for i in range(n_units)])
    idata.insert(0, "uCode", [f"S{i + 1:03d}" for i in range(n_units)])
    imeta = pd.DataFrame(
        {
            "iCode": [*codes, *pillars, "Index"],
            "iName": [f"Synthetic indicator {c}" for c in codes]
            + [f"Synthetic pillar {p}" for p in pillars]
            + ["Synthetic index"],
            "Level": [1] * n_indicators + [2] * n_pillars + [3],
            "Parent": [pillars[j] for j in pillar_of] + ["Index"] * n_pillars + [None],
            "Direction": [*direction.tolist(), *[1] * (n_pillars + 1)],
            "Weight": 1.0,
            "Type": ["Indicator"] * n_indicators + ["Aggregate"] * (n_pillars + 1),
        }
    )
    return idata, imeta
