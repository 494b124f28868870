"""ucc_research: which city e-services work best, and why.

Three cores, each a subpackage:

- :mod:`ucc_research.cleaning`: raw files to validated tidy tables (nothing silently lost);
- :mod:`ucc_research.indicators`: composite indicators in the OECD/JRC (COINr) tradition;
- :mod:`ucc_research.impact`: fixed-effects panels, staggered DiD, synthetic control, mixed
  models and drivers analysis.

:mod:`ucc_research.reports` runs the parameterised notebooks per city (papermill) and renders
the HTML reports.

The functions a study uses most are importable from the top level, in one style, each loaded on
first use (importing the package stays cheap):

>>> from ucc_research import build, staggered_did, synthetic_control
>>> build.__module__, staggered_did.__module__
('ucc_research.indicators.coin', 'ucc_research.impact.did')
"""

__version__ = "0.1.0"

_SUBPACKAGES = ("cleaning", "indicators", "impact", "reports")

#: The curated top-level API: name -> the subpackage that exports it (one per pipeline step).
_API = {
    "prepare": "cleaning.prepare",
    "read_table": "cleaning.readers",
    "build": "indicators",
    "rank_intervals": "indicators",
    "sensitivity_analysis": "indicators",
    "preset": "indicators",
    "fe_regression": "impact",
    "staggered_did": "impact",
    "randomization_inference": "impact",
    "synthetic_control": "impact",
    "synthetic_did": "impact",
    "augmented_synthetic_control": "impact",
    "choose_synth_unit": "impact",
    "mixed_model": "impact",
    "drivers_analysis": "impact",
    "load_study": "reports.study",
    "run_study": "reports.runner",
}

__all__ = ["__version__", *_SUBPACKAGES, *_API]


def __getattr__(name: str):
    """The subpackages and the curated functions, imported on first access."""
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """Tab completion offers the subpackages and the curated functions before they load."""
    return sorted(set(globals()) | set(_SUBPACKAGES) | set(_API))
