"""Composite indicators, COINr-compatible: build, results, presets, and analyses of a build.

>>> from ucc_research.indicators import build, load_spec, Coin

The build engine (``build``, ``Coin``, one module per step: ``denominate``, ``impute``,
``treat``, ``normalise``, ``weight``, ``aggregate``) is imported eagerly; the analyses
(``uncertainty``, ``sensitivity``, ``coherence``) are exported lazily, so importing the package
stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from ucc_research.indicators.coin import STAGES, STEPS, Coin, build, load_spec, rank_scores
from ucc_research.indicators.stats import get_stats, kurt, screen_units, skew

# public name -> module that defines it (imported on first access)
_LAZY = {
    **dict.fromkeys(
        (
            "saltelli_design",
            "sensitivity_indices",
            "rank_stats",
            "rank_desc",
            "mean_abs_rank_shift",
            "sobol_unit_sample",
        ),
        "sensitivity",
    ),
    **dict.fromkeys(
        (
            "CoherenceResult",
            "pairwise_correlations",
            "within_correlations",
            "across_level_correlations",
            "cronbach_alpha",
            "cronbach_by_aggregate",
            "pca_by_aggregate",
        ),
        "coherence",
    ),
    **dict.fromkeys(
        ("uncertainty_analysis", "sensitivity_analysis", "rank_intervals", "remove_one_at_a_time"),
        "uncertainty",
    ),
    "preset": "presets",
    **dict.fromkeys(("plot_bar", "plot_framework", "plot_uncertainty"), "plots"),
    # submodules (``indicators.coherence.coherence`` is the function of that name)
    **dict.fromkeys(("presets", "coherence", "uncertainty", "sensitivity", "plots"), None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:  # a submodule (``indicators.coherence.coherence`` is the function)
        return importlib.import_module(f"{__name__}.{name}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    """Tab completion offers the lazy exports too (``indicators.rank_<TAB>``)."""
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "STAGES",
    "STEPS",
    "Coin",
    "build",
    "get_stats",
    "kurt",
    "load_spec",
    "rank_scores",
    "screen_units",
    "skew",
    *_LAZY,
]
