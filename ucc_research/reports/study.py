"""Study files (``studies/<name>.yml``): which data, framework, notebooks and cities a run covers.

A study is a small YAML document::

    name: demo                       # also the output folder: outputs/<name>/
    title: Demo study (SYNTHETIC)
    synthetic: true                  # shown in every banner; true when any input is synthetic
    sources: [demo]                  # data sources named in the banner
    tables: [cities, service_panel, takeup_by_group, iData_demo, iMeta_demo]
    filters: {service_panel: {source: demo}}   # rows of shared tables that belong to the study
    units: {table: iData_demo, column: uCode, label: city}
    framework:                       # optional: the composite indicator
      data: iData_demo
      meta: iMeta_demo
      spec: {normalise: {method: minmax, range: [0, 100]}}
      uncertainty: {n: 200, seed: 1}
      peer_group: size_group         # optional iData group column
    impact: {outcome: digital_share, satisfaction: satisfaction}
    notebooks:
      cross_city: [what_works, transfer_impact, index_robustness, data_quality]
      per_city: [city_report]
    cities: all                      # or a list of unit ids
    parameters:                      # extra typed parameters, per notebook
      transfer_impact: {synth_city: DEMO-003}

``tables`` are read from ``data/processed/<table>.parquet``; their bytes make up the study's
data fingerprint, so a changed input re-runs its reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ucc_research import config
from ucc_research.errors import SpecError

if TYPE_CHECKING:
    import pandas as pd

_KEYS = {
    "name",
    "title",
    "description",
    "synthetic",
    "sources",
    "tables",
    "units",
    "framework",
    "impact",
    "notebooks",
    "cities",
    "parameters",
    "filters",
}


@dataclass(frozen=True)
class Study:
    """A parsed, validated study file.

    Attributes
    ----------
    name : the study's name (``outputs/<name>/``).
    path : the YAML file it was read from.
    title, description : shown in the report banners.
    synthetic : True when any input is synthetic (the banner says SYNTHETIC).
    sources : data sources named in the banner.
    tables : processed tables the reports read (fingerprinted).
    units : ``{"table", "column", "label"}``: where the list of units (cities or countries) is.
    framework : composite-indicator settings (empty when the study has none).
    impact : impact-model settings (empty when the study has none).
    cross_city, per_city : notebook names (``notebooks/<name>.ipynb``) or paths.
    cities : ``"all"`` or an explicit list of unit ids.
    parameters : notebook name -> extra parameters passed to it.
    filters : table -> {column: value or list of values}: the rows of a table the study uses.
    """

    name: str
    path: Path
    title: str = ""
    description: str = ""
    synthetic: bool = False
    sources: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    framework: dict[str, Any] = field(default_factory=dict)
    impact: dict[str, Any] = field(default_factory=dict)
    cross_city: tuple[str, ...] = ()
    per_city: tuple[str, ...] = ()
    cities: str | tuple[str, ...] = "all"
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    filters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def read_table(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """``data/processed/<table>.parquet``, keeping the rows the study's ``filters`` select."""
        import pandas as pd

        path = self.table_path(table)
        if not path.is_file():
            raise SpecError(
                f"study {self.name!r}: table {table!r} not found at {path}; run `ucc prepare` first"
            )
        conditions = self.filters.get(table, {})
        cols = None if columns is None else sorted(set(columns) | set(conditions))
        df = pd.read_parquet(path, columns=cols)
        for column, wanted in conditions.items():
            if column not in df.columns:
                raise SpecError(f"study {self.name!r}: filter column {column!r} not in {table}")
            wanted = wanted if isinstance(wanted, list) else [wanted]
            df = df[df[column].isin(wanted)]
        df = df.reset_index(drop=True)
        return df if columns is None else df[columns]

    def notebook_path(self, notebook: str) -> Path:
        """Path of a notebook named in the study: a bare name is looked up in ``notebooks/``."""
        p = Path(notebook)
        if p.suffix != ".ipynb":
            p = config.project_root() / "notebooks" / f"{notebook}.ipynb"
        elif not p.is_absolute():
            p = (self.path.parent / p).resolve()
        if not p.is_file():
            raise SpecError(f"study {self.name!r}: notebook {notebook!r} not found at {p}")
        return p

    def table_path(self, table: str) -> Path:
        return config.processed_dir() / f"{table}.parquet"

    def unit_ids(self) -> list[str]:
        """The units the per-city notebooks run for, in the study's order.

        ``cities: all`` reads the distinct values of ``units.column`` in ``units.table`` (sorted);
        an explicit list is checked against that table so a misspelt city is an error.
        """
        table, column = self.units.get("table"), self.units.get("column")
        if not table or not column:
            if self.cities == "all":
                raise SpecError(
                    f"study {self.name!r}: 'cities: all' needs units: {{table, column}}"
                )
            return list(self.cities)
        values = self.read_table(table, columns=[column])[column].dropna().astype(str)
        known = sorted(values.unique())
        if self.cities == "all":
            return known
        unknown = [c for c in self.cities if c not in set(known)]
        if unknown:
            raise SpecError(
                f"study {self.name!r}: cities {unknown} are not in {table}.{column} "
                f"(known: {known[:10]}{' ...' if len(known) > 10 else ''})"
            )
        return list(self.cities)

    def unit_names(self) -> dict[str, str]:
        """Unit id -> readable name, from the ``cities`` table when the study lists it.

        Reports show ``Milan (ucc_milan)`` rather than the bare id; a study without the
        ``cities`` table (or a unit missing from it) shows the id alone.
        """
        if "cities" not in self.tables:
            return {}
        names = self.read_table("cities", columns=["city_id", "name"]).dropna()
        return dict(zip(names["city_id"].astype(str), names["name"].astype(str), strict=True))

    def unit_display(self, unit: str, names: dict[str, str] | None = None) -> str:
        """``"Name (id)"`` when the unit has a name other than its id, else the id."""
        name = (self.unit_names() if names is None else names).get(str(unit))
        return f"{name} ({unit})" if name and name != str(unit) else str(unit)

    @property
    def unit_label(self) -> str:
        return self.units.get("label", "city")


def _as_tuple(value: Any, what: str, study: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise SpecError(f"study {study!r}: {what} must be a list of names, got {value!r}")
    return tuple(str(v) for v in value)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path : a YAML file, or the bare name of a study in ``studies/`` (``"demo"``).

    Returns
    -------
    Study

    Raises
    ------
    SpecError
        When the file is missing, is not a mapping, has unknown keys or wrongly typed values.

    Examples
    --------
    >>> study = load_study("demo")  # studies/demo.yml
    >>> study.name, study.synthetic, study.per_city
    ('demo', True, ('city_report',))
    """
    p = Path(path)
    if p.suffix not in (".yml", ".yaml") and not p.exists():
        p = config.project_root() / "studies" / f"{path}.yml"
    if not p.is_file():
        raise SpecError(f"study file not found: {p}")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{p}: a study must be a mapping of keys, got {type(doc).__name__}")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise SpecError(f"{p}: unknown study keys {unknown} (allowed: {sorted(_KEYS)})")
    name = doc.get("name") or p.stem
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise SpecError(f"{p}: name must be letters, digits, '-' or '_', got {name!r}")
    notebooks = doc.get("notebooks") or {}
    if not isinstance(notebooks, dict) or set(notebooks) - {"cross_city", "per_city"}:
        raise SpecError(f"{p}: notebooks must be a mapping with keys cross_city and per_city")
    cities = doc.get("cities", "all")
    if cities != "all":
        cities = _as_tuple(cities, "cities", name)
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict) or not all(
        isinstance(v, dict) for v in parameters.values()
    ):
        raise SpecError(f"{p}: parameters must map notebook names to mappings of parameters")
    for key in ("framework", "impact", "units"):
        if not isinstance(doc.get(key) or {}, dict):
            raise SpecError(f"{p}: {key} must be a mapping, got {doc[key]!r}")
    filters = doc.get("filters") or {}
    if not isinstance(filters, dict) or not all(isinstance(v, dict) for v in filters.values()):
        raise SpecError(f"{p}: filters must map table names to {{column: value(s)}}")
    if not isinstance(doc.get("synthetic", False), bool):
        raise SpecError(f"{p}: synthetic must be true or false, got {doc['synthetic']!r}")
    return Study(
        name=name,
        path=p.resolve(),
        title=str(doc.get("title") or name),
        description=str(doc.get("description") or ""),
        synthetic=doc.get("synthetic", False),
        sources=_as_tuple(doc.get("sources"), "sources", name),
        tables=_as_tuple(doc.get("tables"), "tables", name),
        units=dict(doc.get("units") or {}),
        framework=dict(doc.get("framework") or {}),
        impact=dict(doc.get("impact") or {}),
        cross_city=_as_tuple(notebooks.get("cross_city"), "notebooks.cross_city", name),
        per_city=_as_tuple(notebooks.get("per_city"), "notebooks.per_city", name),
        cities=cities,
        parameters={str(k): dict(v) for k, v in parameters.items()},
        filters={str(k): dict(v) for k, v in filters.items()},
    )
