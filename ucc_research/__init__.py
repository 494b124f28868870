"""ucc_research: which city e-services work best, and why.

Three cores, each a subpackage:

- :mod:`ucc_research.cleaning`: raw files to validated tidy tables (nothing silently lost);
- :mod:`ucc_research.indicators`: composite indicators in the OECD/JRC (COINr) tradition;
- :mod:`ucc_research.impact`: fixed-effects panels, staggered DiD, synthetic control, mixed
  models and drivers analysis.

:mod:`ucc_research.reports` runs the parameterised notebooks per city (papermill) and renders
the HTML reports.
"""

__version__ = "0.1.0"

_SUBPACKAGES = ("cleaning", "indicators", "impact", "reports")


def __getattr__(name: str):
    """``ucc_research.indicators`` and the other subpackages, imported on first access."""
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """Tab completion offers the subpackages before they are imported."""
    return sorted(set(globals()) | set(_SUBPACKAGES))
