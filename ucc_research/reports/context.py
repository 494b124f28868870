"""What every report cell shares: the study, its cached study-level analyses, names, results.

A notebook opens one :class:`ReportContext` in its first cell and passes it to the section
functions (``ucc_research.reports.city``, ``what_works``, ``transfer``, ``robustness``,
``quality``). Paths resolve the same way in JupyterLab and under ``ucc run``: the study is a name
in ``studies/`` or a path, and the study-level cache is ``outputs/<study>/_shared`` unless the
runner passes another folder. Opened in the lab, the cache is computed on first use (the same
:func:`~ucc_research.reports.shared.prepare_shared` that ``ucc run`` calls), so every template
runs as it is with its defaults.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ucc_research import __version__, config, io
from ucc_research.reports.display import NotShown, Table, slug, write_table_csv
from ucc_research.reports.shared import NotApplicable, Shared, prepare_shared
from ucc_research.reports.study import Study, load_study

#: Below these, a cell or section says why it is not shown instead of drawing noise.
MIN_REQUESTS = 30  # requests (or transactions) behind a share
MIN_COMPARISON = 3  # other units behind a comparison band or median
MIN_TREND_PERIODS = 12  # periods (months) behind a trend


def shown_if_applicable(section: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a report section: when its data cannot support it (:class:`NotApplicable`),
    it shows :class:`~ucc_research.reports.display.NotShown` with the one-sentence reason.

    Examples
    --------
    >>> @shown_if_applicable
    ... def trend(ctx):
    ...     raise NotApplicable("the service panel has a single period, so there is no trend")
    >>> type(trend(None)).__name__, trend.__name__
    ('NotShown', 'trend')
    """

    @functools.wraps(section)
    def shown(ctx: ReportContext, *args: Any, **kwargs: Any) -> Any:
        try:
            return section(ctx, *args, **kwargs)
        except NotApplicable as exc:
            return NotShown(str(exc))

    return shown


def default_shared_dir(study: Study) -> Path:
    """``outputs/<study>/_shared``: where ``ucc run`` puts the study-level analyses."""
    return config.outputs_dir() / study.name / "_shared"


def ensure_shared(study: Study, shared_dir: str | Path | None = None) -> Shared:
    """The study's cached analyses; computed first when the notebook runs on its own.

    ``ucc run`` prepares the cache before any report and passes its folder; in the lab (no
    folder given) the cache is checked against the data, study and code and rebuilt if stale.
    """
    if shared_dir:
        return Shared(shared_dir)
    from ucc_research.reports.inputs import prepare_inputs
    from ucc_research.reports.runner import data_fingerprint

    prepare_inputs(study)  # the study's own files, as ucc run reads them (unchanged: no work)
    folder = default_shared_dir(study)
    prepare_shared(study, folder, data_fp=data_fingerprint(study))
    return Shared(folder)


@dataclass
class ReportContext:
    """One report being built: its study, shared analyses, where its files go, what it found.

    Attributes
    ----------
    study : Study
    shared : Shared
    stem : the report's file stem (``DEMO-001``, ``what_works``): its CSVs go in
        ``<out_dir>/csv/<stem>/``.
    out_dir : the study's output folder (``outputs/<study>``).
    parameters : the notebook's parameters (shown in "About this report").
    results : full-precision numbers, written to ``results/<stem>.json`` by :meth:`save`.
    used : methods the report used, for its Methods section.
    """

    study: Study
    shared: Shared
    stem: str
    out_dir: Path
    parameters: dict[str, Any]
    results: dict[str, Any] = field(default_factory=lambda: {"headline": {}})
    used: list[str] = field(default_factory=list)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _names: dict[str, str] | None = field(default=None, repr=False)

    # -- names ---------------------------------------------------------------------------------
    def name(self, unit: Any) -> str:
        """A unit's readable name (``Ghent``), its id where the study has no name for it."""
        if self._names is None:
            self._names = self.study.unit_names()
        return self._names.get(str(unit), str(unit))

    @property
    def unit_label(self) -> str:
        return self.study.unit_label

    # -- memo: one computation per report, shared by the findings and the sections ------------
    def memo(self, key: str, compute) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- tables and results --------------------------------------------------------------------
    def table(self, data: pd.DataFrame, title: str, note: str = "", **kwargs: Any) -> Table:
        """A :class:`Table` whose rows are also written as CSV beside the report."""
        data = data.reset_index(drop=True)
        rel = Path("csv") / self.stem / f"{slug(title)}.csv"
        write_table_csv(self.out_dir / rel, data)
        return Table(data, title, note, csv_href=rel.as_posix(), **kwargs)

    def record(self, key: str, value: Any) -> None:
        self.results[key] = value

    def headline(self, **values: Any) -> None:
        """Numbers for the study's index page (one row per report)."""
        self.results["headline"].update(values)

    def uses(self, *methods: str) -> None:
        self.used.extend(m for m in methods if m not in self.used)

    def save(self, path: str | Path | None = None) -> None:
        """Write the full-precision results (``results/<stem>.json``) atomically."""
        target = path or (self.out_dir / "results" / f"{self.stem}.json")
        plain = json.loads(json.dumps(self.results, default=io._json_default, allow_nan=True))
        io.write_json(target, _finite(plain))

    @property
    def fingerprint(self) -> str:
        return str(self.shared.manifest.get("data_fingerprint", ""))

    @property
    def version(self) -> str:
        return __version__


def _finite(obj: Any) -> Any:
    """Infinities (e.g. the never-treated cohort) as "inf"/"-inf": strict JSON has none."""
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def open_context(
    study: str | Path | Study,
    stem: str,
    shared_dir: str | Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> ReportContext:
    """Open a report: load the study, its shared analyses (computed if missing) and out folder."""
    st = study if isinstance(study, Study) else load_study(study)
    shared = ensure_shared(st, shared_dir or None)
    out_dir = Path(shared_dir).parent if shared_dir else config.outputs_dir() / st.name
    return ReportContext(st, shared, stem, out_dir, dict(parameters or {}))
