"""Impact models: which e-services work best, why, and what a transferred good practice changed.

Public functions are imported lazily (``from ucc_research.impact import staggered_did``), so a
report that only needs a synthetic control does not import pyfixest or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "staggered_did": "ucc_research.impact.did",
    "event_study_plot": "ucc_research.impact.did",
    "att_gt_heatmap": "ucc_research.impact.did",
    "twfe": "ucc_research.impact.bacon",
    "bacon_decomposition": "ucc_research.impact.bacon",
    "fe_regression": "ucc_research.impact.panel",
    "synthetic_control": "ucc_research.impact.synth",
    "synthetic_did": "ucc_research.impact.sdid",
    "augmented_synthetic_control": "ucc_research.impact.sdid",
    "compare_estimators": "ucc_research.impact.sdid",
    "describe_agreement": "ucc_research.impact.sdid",
    "hull_diagnostic": "ucc_research.impact.diagnostics",
    "randomization_inference": "ucc_research.impact.ri",
    "choose_synth_unit": "ucc_research.impact.diagnostics",
    "mixed_model": "ucc_research.impact.mixed",
    "drivers_analysis": "ucc_research.impact.drivers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ucc_research.impact' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Tab completion offers the lazy exports too (``impact.st<TAB>`` gives staggered_did)."""
    return sorted(set(globals()) | set(_EXPORTS))
