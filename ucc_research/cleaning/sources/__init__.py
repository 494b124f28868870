"""Source adapters: one per raw source, each ``adapt(raw_dir: Path) -> SourceResult``.

The registry maps a source name to ``"module:function"``; modules are imported only when the
source is prepared.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from ucc_research.cleaning.base import SourceResult

SOURCES: dict[str, str] = {
    "usercentricities": "ucc_research.cleaning.sources.usercentricities:adapt",
    "egov_benchmark_2024": "ucc_research.cleaning.sources.egov_benchmark:adapt",
    "canada_service_inventory_2024": "ucc_research.cleaning.sources.canada_inventory:adapt",
    "baltimore_311": "ucc_research.cleaning.sources.requests_311:adapt_baltimore",
    "nyc_311": "ucc_research.cleaning.sources.requests_311:adapt_nyc",
    "egdi": "ucc_research.cleaning.sources.egdi:adapt",
    "demo": "ucc_research.cleaning.sources.demo:adapt",
}


def get_adapter(name: str) -> Callable[[Path], SourceResult]:
    if name not in SOURCES:
        from ucc_research.errors import SpecError

        raise SpecError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    module_name, func = SOURCES[name].split(":")
    return getattr(importlib.import_module(module_name), func)
