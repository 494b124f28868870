"""Batched aggregation: many weight sets over one normalised data set, as matrix products.

The uncertainty engine precomputes each normalised variant once and then aggregates every
replication at once. For the children ``x`` (units x children) of the aggregates at one level and
replication weights ``W`` (replications x children), with ``M`` the 0/1 child-to-parent matrix:

* arithmetic mean: ``(x0 @ (W * M)) / (avail @ (W * M))`` where ``x0`` is ``x`` with missing
  values set to 0 and ``avail`` marks present values (weights renormalised over available
  children, as COINr and :mod:`ucc_research.indicators.aggregate`);
* geometric mean: ``exp((log x)0 @ (W * M) / (avail @ (W * M)))``;
* harmonic mean: ``(avail @ (W * M)) / ((1 / x)0 @ (W * M))``;
* generalised mean: ``((x^p)0 @ (W * M) / (avail @ (W * M)))^(1/p)``.

The formulas, missing-value rules, ``dat_thresh`` and ``zero_shift`` are those of
:func:`ucc_research.indicators.aggregate.aggregate_block`; a replication whose geometric or
harmonic mean meets a non-positive (or zero) child fails as the step-by-step build does, and is
reported rather than dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ucc_research.errors import SpecError

VECTORISED_METHODS = ("arith_mean", "geom_mean", "harm_mean", "gen_mean")


@dataclass(frozen=True)
class Hierarchy:
    """Framework codes level by level and the child-to-parent matrices between levels."""

    levels: dict[int, list[str]]  # level -> codes, in a fixed order
    parent: dict[str, str | None]

    @classmethod
    def from_meta(cls, meta) -> Hierarchy:
        fw = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
        levels: dict[int, list[str]] = {}
        for code, lev in fw["Level"].items():
            levels.setdefault(int(lev), []).append(str(code))
        parent = {
            str(c): (None if p is None or p != p else str(p)) for c, p in fw["Parent"].items()
        }
        return cls(dict(sorted(levels.items())), parent)

    @property
    def codes(self) -> list[str]:
        return [c for lev in self.levels for c in self.levels[lev]]

    @property
    def top(self) -> int:
        return max(self.levels)

    def level_of(self, code: str) -> int:
        for lev, codes in self.levels.items():
            if code in codes:
                return lev
        raise SpecError(f"{code!r} is not an indicator or aggregate code of iMeta")

    def membership(self, level: int) -> np.ndarray:
        """0/1 matrix (children at ``level - 1``) x (aggregates at ``level``)."""
        kids, parents = self.levels[level - 1], self.levels[level]
        pos = {p: j for j, p in enumerate(parents)}
        m = np.zeros((len(kids), len(parents)))
        for i, k in enumerate(kids):
            m[i, pos[self.parent[k]]] = 1.0
        return m


@dataclass
class BatchResult:
    """Scores of one code for every replication, and the replications that failed."""

    scores: np.ndarray  # (replications, units)
    failed: dict[int, str]  # replication index -> reason


def batch_aggregate(
    x: np.ndarray,
    hierarchy: Hierarchy,
    weights: np.ndarray,
    *,
    target: str,
    methods: Mapping[int, str],
    by_code: Mapping[str, str] | None = None,
    p: float = 1.0,
    dat_thresh: Mapping[int, float | None] | None = None,
    zero_shift: float | None = None,
    unit_labels: Sequence[str] | None = None,
) -> BatchResult:
    """Aggregate one normalised data set under many weight sets up to ``target``.

    Parameters
    ----------
    x : array, shape (units, indicators)
        Normalised indicators, columns in ``hierarchy.levels[1]`` order.
    hierarchy : Hierarchy
    weights : array, shape (replications, codes)
        Weights of every framework code, columns in ``hierarchy.codes`` order.
    target : str
        Code whose scores are returned (any level).
    methods : mapping level -> method
        Aggregation method of each level from 2 up.
    by_code : mapping aggregate code -> method, optional
    p, dat_thresh, zero_shift
        As :func:`ucc_research.indicators.aggregate.aggregate`; ``dat_thresh`` per level.
    unit_labels : sequence of str, optional
        Unit codes, used in failure messages.

    Returns
    -------
    BatchResult
    """
    by_code = dict(by_code or {})
    dat_thresh = dict(dat_thresh or {})
    n_rep = weights.shape[0]
    col = {c: j for j, c in enumerate(hierarchy.codes)}
    target_level = hierarchy.level_of(target)
    failed: dict[int, str] = {}
    labels = list(unit_labels) if unit_labels is not None else None
    cur = np.asarray(x, dtype=float)[None, :, :]  # (1 or R, U, K): children of the next level
    for lev in range(2, target_level + 1):
        kids, parents = hierarchy.levels[lev - 1], hierarchy.levels[lev]
        w_kids = weights[:, [col[k] for k in kids]]  # (R, K)
        memb = hierarchy.membership(lev)  # (K, P)
        out = np.full((n_rep, cur.shape[1], len(parents)), np.nan)
        meth_of = {q: by_code.get(q, methods[lev]) for q in parents}
        for meth in dict.fromkeys(meth_of.values()):
            if meth not in VECTORISED_METHODS:
                raise SpecError(
                    f"aggregation method {meth!r} has no vectorised form "
                    f"(only {', '.join(VECTORISED_METHODS)}); use engine='replay'"
                )
            pcols = [j for j, q in enumerate(parents) if meth_of[q] == meth]
            m_sub = memb[:, pcols]
            kid_rows = m_sub.sum(axis=1) > 0
            _check_domain(cur, kid_rows, meth, p, zero_shift, kids, lev, n_rep, failed, labels)
            out[:, :, pcols] = _aggregate(cur, w_kids, m_sub, meth, p, zero_shift)
        thresh = dat_thresh.get(lev)
        if thresh is not None:
            avail = (~np.isnan(cur)).astype(float)
            share = (avail @ memb) / memb.sum(axis=0)
            out = np.where(share < thresh, np.nan, out)
        cur = out
    j = hierarchy.levels[target_level].index(target)
    scores = np.broadcast_to(cur[:, :, j], (n_rep, cur.shape[1])).copy()
    if failed:
        scores[list(failed)] = np.nan
    return BatchResult(scores, failed)


def _aggregate(cur, w_kids, memb, meth, p, zero_shift):
    """Scores (R, U, P) of the aggregates in ``memb``'s columns."""
    xv = cur + zero_shift if zero_shift is not None else cur
    avail = ~np.isnan(xv)
    wm = w_kids[:, :, None] * memb[None, :, :]  # (R, K, P)
    sw = avail.astype(float) @ wm  # (R, U, P)
    with np.errstate(invalid="ignore", divide="ignore"):
        if meth == "arith_mean":
            y = np.where(avail, xv, 0.0) @ wm / sw
        elif meth == "geom_mean" or (meth == "gen_mean" and p == 0):
            y = np.exp(np.log(np.where(avail, xv, 1.0)) @ wm / sw)
        elif meth == "harm_mean":
            y = sw / (np.where(avail, 1.0 / np.where(avail, xv, 1.0), 0.0) @ wm)
        else:  # gen_mean
            y = (np.where(avail, xv, 1.0) ** p * avail @ wm / sw) ** (1.0 / p)
    y = np.where(sw > 0, y, np.nan)
    return y - zero_shift if zero_shift is not None else y


def _check_domain(cur, kid_rows, meth, p, zero_shift, kids, lev, n_rep, failed, labels):
    """Record replications where a geometric/harmonic mean meets a value outside its domain."""
    if meth == "geom_mean" or (meth == "gen_mean" and (p <= 0 or p != round(p))):
        need = "positive"
    elif meth == "harm_mean":
        need = "nonzero"
    else:
        return
    xs = cur[:, :, kid_rows] + (zero_shift or 0.0)
    bad = ((xs <= 0) if need == "positive" else (xs == 0)) & ~np.isnan(xs)
    kid_codes = [k for k, keep in zip(kids, kid_rows, strict=True) if keep]
    for r in np.flatnonzero(bad.any(axis=(1, 2))):
        i, k = (int(v[0]) for v in np.nonzero(bad[r]))
        unit = labels[i] if labels is not None else i
        reason = (
            f"{meth} at level {lev} needs {need} values but {kid_codes[k]!r} is "
            f"{float(cur[r, i, kid_rows][k])!r} for unit {unit!r}"
        )
        # shared children (level 2): every replication of this data set fails the same way
        for rep in range(n_rep) if cur.shape[0] == 1 else [int(r)]:
            failed.setdefault(rep, reason)
