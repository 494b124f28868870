"""Study files (``studies/<name>.yml``): which data, framework, notebooks and cities a run covers.

A study is a small YAML document; every key it may hold is declared once, in :data:`SCHEMA`,
and documented in ``docs/study_schema.md`` (generated from :data:`SCHEMA` by
:func:`schema_markdown`; a test keeps the two in step). A short example::

    name: demo                       # also the output folder: outputs/<name>/
    title: Demo study (SYNTHETIC)
    synthetic: true
    tables: [cities, service_panel, iData_demo, iMeta_demo]
    units: {table: iData_demo, column: uCode, label: city}
    framework:
      data: iData_demo
      meta: iMeta_demo
      spec: {normalise: {method: minmax, range: [0, 100]}}
      uncertainty: {n: 200, seed: 1}
    impact: {outcomes: [digital_share, satisfaction]}
    notebooks: {cross_city: [what_works], per_city: [city_report]}
    cities: all

The file is checked in two passes, each reporting every problem it finds, one line each:

- :func:`load_study` reads the file safely (UTF-8 only, no YAML aliases, no duplicate keys, a
  size limit) and checks every key at every level: unknown keys (with a did-you-mean), types,
  allowed values, the build spec (with the indicators package's own :func:`load_spec`);
- :func:`check_study` checks what the study refers to: tables, columns, notebooks and their
  parameters, cities. ``ucc run`` runs both before any analysis; ``ucc study check`` runs
  them alone.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ucc_research import config, io
from ucc_research.errors import SpecError, StudyError, UccError

if TYPE_CHECKING:
    import pandas as pd

#: Largest study file read (bytes): a study is a page of settings, not data.
MAX_STUDY_BYTES = 1 << 20
#: Default seconds a report may run before it is stopped and recorded as failed.
DEFAULT_REPORT_TIMEOUT = 600
#: Table kinds a study's own input may declare (``table``: any table, no schema).
INPUT_KINDS = ("service_panel", "iData", "iMeta", "cities", "requests", "table")
#: The ``service_panel`` columns the panel analyses use unless ``impact.panel`` says otherwise.
PANEL_DEFAULTS: dict[str, Any] = {
    "table": "service_panel",
    "unit": "city_id",
    "time": "period",
    "service": "service_id",
    "adoption": "adopted_period",
    "origin": "transferred_from",
    "features": None,  # the service features of the service_panel contract
    "groups": None,
}

# --- the schema -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One key of the study schema.

    ``kind`` is one of ``str``, ``int``, ``number``, ``bool``, ``names`` (a name or a list of
    names), ``cities`` (``all`` or a list of ids), ``mapping`` (fixed ``keys``, or free keys whose
    values follow ``each``) and ``any``.
    """

    kind: str
    doc: str
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    keys: Mapping[str, Key] | None = None
    each: Key | None = None
    refers: str = ""


_NAMES = "a name or a list of names"
_ANY = Key("any", "a value or a list of values")

SCHEMA: dict[str, Key] = {
    "name": Key(
        "str",
        "Study name, also the output folder `outputs/<name>/`: letters, digits, `-`, `_`.",
        default="the file name",
    ),
    "title": Key("str", "Title shown in every banner and on the index page.", default="name"),
    "description": Key("str", "A paragraph shown under the title.", default=""),
    "synthetic": Key(
        "bool", "True when any input is synthetic: every banner then says SYNTHETIC.", False
    ),
    "sources": Key("names", "Data sources named in the banners.", default=[]),
    "tables": Key(
        "names",
        "Processed tables the study reads (`data/processed/<table>.parquet`); their bytes are "
        "the study's data fingerprint. The study's own `inputs` are added automatically.",
        default=[],
        refers="tables",
    ),
    "inputs": Key(
        "mapping",
        "The study's own files, by table name: read by the dialect-detecting reader, validated "
        "against their kind's schema (rows failing are quarantined and counted) and written to "
        "`data/processed/studies/<name>/<table>.parquet`.",
        default={},
        each=Key(
            "mapping",
            "One input file.",
            keys={
                "path": Key(
                    "str",
                    "CSV, Excel or parquet file; relative paths are relative to the study file.",
                    required=True,
                    refers="files",
                ),
                "kind": Key(
                    "str",
                    "Schema the rows must pass; `table` checks nothing but readability.",
                    required=True,
                    choices=INPUT_KINDS,
                ),
                "sep": Key(
                    "str", "Field separator (default: detected).", choices=(",", ";", "\t", "|")
                ),
                "encoding": Key("str", "Text encoding (default: detected)."),
                "decimal": Key("str", "Decimal mark (default: detected).", choices=(".", ",")),
                "sheet": Key("str", "Sheet name, for Excel workbooks (default: the first)."),
            },
        ),
    ),
    "filters": Key(
        "mapping",
        "Table -> {column: value or list of values}: the rows of a shared table the study uses.",
        default={},
        each=Key("mapping", "Column -> value(s) kept.", each=_ANY),
        refers="tables, columns",
    ),
    "units": Key(
        "mapping",
        "Where the list of units (cities or countries) is.",
        default={},
        keys={
            "table": Key("str", "Table holding the unit ids.", refers="tables"),
            "column": Key("str", "Column of the unit ids.", refers="columns"),
            "label": Key("str", "What a unit is called in the reports.", default="city"),
        },
    ),
    "framework": Key(
        "mapping",
        "The composite indicator (omit for a study without one).",
        default={},
        keys={
            "data": Key("str", "iData table.", required=True, refers="tables"),
            "meta": Key("str", "iMeta table.", required=True, refers="tables"),
            "spec": Key(
                "mapping",
                "Build spec, checked by `ucc_research.indicators.load_spec` (steps screen, "
                "denominate, impute, treat, normalise, weight, aggregate; COINr's method names "
                "are accepted).",
                default="COINr's default build",
                refers="columns",
            ),
            "uncertainty": Key(
                "mapping",
                "Rank intervals of the index (omit for none).",
                keys={
                    "n": Key("int", "Replications.", default=200, minimum=2, maximum=100_000),
                    "seed": Key("int", "Seed of the Sobol' sample.", default=1, minimum=0),
                    "vary": Key(
                        "mapping",
                        "What varies (weights, drop, or alternatives of a step), checked by "
                        "`ucc_research.indicators.uncertainty.parse_vary`.",
                        default="weights +-25%, min-max or z-score, arithmetic or geometric mean",
                        refers="codes",
                    ),
                },
            ),
            "peer_group": Key("str", "iData group column: peers for each unit.", refers="columns"),
            "official": Key(
                "str",
                "The source's published scores, the headline of every unit report, reproduced "
                "by the published rule (`ucc_research.reports.official`).",
                choices=("ucc_dashboard_2022", "egov_2024"),
            ),
            "n_strengths": Key(
                "int", "Strengths and weaknesses listed per unit.", default=3, minimum=1, maximum=50
            ),
        },
    ),
    "impact": Key(
        "mapping",
        "Impact-model settings (omit for a study without any).",
        default={},
        keys={
            "outcomes": Key(
                "names",
                "Outcome columns of the panel analysed by transfer impact and feature effects.",
                default=["digital_share", "satisfaction"],
                refers="columns",
            ),
            "what_works": Key(
                "mapping",
                "The what-works analysis (default: the service panel).",
                default={},
                keys={
                    "data": Key("str", "Table analysed.", default="service_panel", refers="tables"),
                    "outcomes": Key(
                        "names",
                        "Outcome columns.",
                        default=["digital_share", "satisfaction"],
                        refers="columns",
                    ),
                    "features": Key(
                        "names",
                        "Feature columns.",
                        default="the service_panel features",
                        refers="columns",
                    ),
                    "fe": Key(
                        "str",
                        "Fixed effects of the regression (pyfixest syntax, e.g. `a^b + c`); "
                        "empty for none.",
                        default="city_id^service_id + period",
                        refers="columns",
                    ),
                    "cluster": Key(
                        "str", "Cluster column of the standard errors.", "city_id", refers="columns"
                    ),
                    "groups": Key(
                        "str", "Grouping column of the mixed model.", "city_id", refers="columns"
                    ),
                    "yearly": Key("bool", "Average each unit x service per year first.", True),
                },
            ),
            "synth_min_pre_periods": Key(
                "int",
                "Fewest periods before adoption for a synthetic control.",
                minimum=1,
                maximum=10_000,
            ),
            "panel": Key(
                "mapping",
                "Columns of the staggered-adoption panel (transfer impact, what works, "
                "inclusion). With the default table every column defaults to the service_panel "
                "one; with another table `unit`, `time` and `adoption` are required and the "
                "others default to none.",
                default={},
                keys={
                    "table": Key("str", "Panel table.", "service_panel", refers="tables"),
                    "unit": Key("str", "Unit id column.", "city_id", refers="columns"),
                    "time": Key("str", "Period column.", "period", refers="columns"),
                    "service": Key(
                        "str", "Service id column (optional).", "service_id", refers="columns"
                    ),
                    "adoption": Key(
                        "str",
                        "Period of adoption (missing = never adopted).",
                        "adopted_period",
                        refers="columns",
                    ),
                    "origin": Key(
                        "str",
                        "City a practice came from (optional).",
                        "transferred_from",
                        refers="columns",
                    ),
                    "features": Key(
                        "names",
                        "Feature columns (optional).",
                        "the service_panel features",
                        refers="columns",
                    ),
                    "groups": Key("str", "Grouping column (optional).", refers="columns"),
                },
            ),
        },
    ),
    "notebooks": Key(
        "mapping",
        "The reports: names in `notebooks/` (`city_report`) or paths to `.ipynb` files.",
        default={},
        keys={
            "cross_city": Key("names", "Run once per study.", default=[], refers="notebooks"),
            "per_city": Key(
                "names",
                "Run once per unit; each must declare a `city` parameter.",
                default=[],
                refers="notebooks",
            ),
        },
    ),
    "cities": Key(
        "cities",
        "`all` (every unit of `units`) or a list of unit ids.",
        default="all",
        refers="units",
    ),
    "parameters": Key(
        "mapping",
        "Notebook name -> extra parameters, checked against the notebook's parameters cell.",
        default={},
        each=Key("mapping", "Parameter -> value.", each=_ANY),
        refers="notebooks",
    ),
    "report_timeout": Key(
        "number",
        "Seconds one report may run; after that it is stopped, recorded as failed and the run "
        "goes on.",
        default=DEFAULT_REPORT_TIMEOUT,
        minimum=1,
        maximum=7 * 24 * 3600,
    ),
}


# --- safe YAML --------------------------------------------------------------------------------


class _StudyLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (no alias bombs) and duplicate keys (no silent merges)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not allowed in a study file; "
                "write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "YAML merge keys (<<) are not allowed", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def read_study_yaml(path: str | Path) -> Any:
    """Parse a study file safely: UTF-8, at most :data:`MAX_STUDY_BYTES`, no aliases/duplicates.

    Raises
    ------
    StudyError
        One line naming the file and, where known, the line.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_STUDY_BYTES:
            raise StudyError([f"{p}: {size:,} bytes; a study file is at most {MAX_STUDY_BYTES:,}"])
        raw = p.read_bytes()
    except OSError as exc:
        raise StudyError([f"{p}: cannot be read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StudyError(
            [f"{p}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); save the study file as UTF-8"]
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        return yaml.load(text, Loader=_StudyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        what = exc.problem or exc.context or "not valid YAML"
        raise StudyError([f"{where}: {what}"]) from None
    except yaml.YAMLError as exc:
        raise StudyError([f"{p}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    except RecursionError:
        raise StudyError([f"{p}: nested too deeply to be a study file"]) from None


# --- structural check -------------------------------------------------------------------------


def _did_you_mean(word: str, options: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _check_value(value: Any, key: Key, path: str, problems: list[str]) -> None:
    """Append one line per problem of ``value`` at ``path`` against ``key``."""
    if value is None:
        if key.required:
            problems.append(f"{path}: is required")
        return
    kind = key.kind
    if kind == "any":
        if isinstance(value, dict):
            problems.append(f"{path}: must be a value or a list of values, got a mapping")
        return
    if kind == "str":
        if not isinstance(value, str):
            problems.append(f"{path}: must be text, got {_type_name(value)} {_short(value)}")
            return
    elif kind == "bool":
        if not isinstance(value, bool):
            problems.append(f"{path}: must be true or false, got {_short(value)}")
        return
    elif kind in ("int", "number"):
        ok = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if (
            isinstance(value, bool)
            or not ok
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            want = "a whole number" if kind == "int" else "a number"
            problems.append(f"{path}: must be {want}, got {_type_name(value)} {_short(value)}")
            return
        if key.minimum is not None and value < key.minimum:
            problems.append(f"{path}: must be at least {key.minimum:g}, got {value}")
        if key.maximum is not None and value > key.maximum:
            problems.append(f"{path}: must be at most {key.maximum:,g}, got {value:,}")
        return
    elif kind in ("names", "cities"):
        if kind == "cities" and value == "all":
            return
        if isinstance(value, str):
            if kind == "cities":
                problems.append(f"{path}: must be 'all' or a list of unit ids, got {_short(value)}")
            return
        if not isinstance(value, list) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
        ):
            problems.append(f"{path}: must be {_NAMES}, got {_short(value)}")
        elif len({str(v) for v in value}) < len(value):
            dup = sorted({str(v) for v in value if [str(w) for w in value].count(str(v)) > 1})
            problems.append(f"{path}: lists {dup} more than once")
        return
    elif kind == "mapping":
        if not isinstance(value, dict):
            problems.append(f"{path}: must be a mapping, got {_type_name(value)} {_short(value)}")
            return
        if key.keys is not None:
            for k in value:
                if k not in key.keys:
                    problems.append(
                        f"{path}.{k}: unknown key{_did_you_mean(k, key.keys)}; "
                        f"allowed: {', '.join(key.keys)}"
                    )
            for k, sub in key.keys.items():
                if k in value:
                    _check_value(value[k], sub, f"{path}.{k}", problems)
                elif sub.required:
                    problems.append(f"{path}.{k}: is required")
        elif key.each is not None:
            for k, v in value.items():
                if not isinstance(k, str):
                    problems.append(f"{path}: key {_short(k)} must be text")
                    continue
                _check_value(v, key.each, f"{path}.{k}", problems)
        return
    if key.choices and value not in key.choices:
        problems.append(
            f"{path}: {_short(value)} is not one of "
            f"{', '.join(map(repr, key.choices))}{_did_you_mean(value, key.choices)}"
        )


def _check_semantics(doc: dict[str, Any], problems: list[str]) -> None:
    """Checks across keys that need no data: the build spec, names, required pairs."""
    name = doc.get("name")
    if isinstance(name, str) and not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name):
        problems.append(f"name: must be letters, digits, '-' or '_', got {_short(name)}")
    safe = re.compile(r"[A-Za-z0-9_-]{1,100}")
    for table in doc.get("tables") or []:
        if not safe.fullmatch(str(table)):
            problems.append(f"tables: {_short(table)} must be letters, digits, '-' or '_'")
    for table in doc.get("inputs") or {}:
        if not safe.fullmatch(str(table)):
            problems.append(f"inputs: the name {_short(table)} must be letters, digits, '-' or '_'")
    for table, spec in (doc.get("inputs") or {}).items():
        if isinstance(spec, dict) and isinstance(spec.get("encoding"), str):
            import codecs

            try:
                codecs.lookup(spec["encoding"])
            except LookupError:
                problems.append(f"inputs.{table}.encoding: unknown encoding {spec['encoding']!r}")
    fw = doc.get("framework")
    if isinstance(fw, dict) and isinstance(fw.get("spec"), dict):
        from ucc_research.indicators import load_spec

        try:
            load_spec(fw["spec"])
        except SpecError as exc:
            problems.append(f"framework.spec: {str(exc).removeprefix('spec: ')}")
    notebooks = doc.get("notebooks") if isinstance(doc.get("notebooks"), dict) else {}
    stems = [
        Path(str(n)).stem
        for part in ("cross_city", "per_city")
        for n in (notebooks.get(part) or [])
        if isinstance(notebooks.get(part), list)
    ]
    for part in ("cross_city", "per_city"):
        if isinstance(notebooks.get(part), str):
            stems.append(Path(notebooks[part]).stem)
    params = doc.get("parameters")
    if isinstance(params, dict):
        for nb in params:
            if isinstance(nb, str) and nb not in stems:
                problems.append(
                    f"parameters.{nb}: no such notebook in this study{_did_you_mean(nb, stems)}; "
                    f"notebooks: {', '.join(stems) or 'none'}"
                )
    units = doc.get("units") if isinstance(doc.get("units"), dict) else {}
    if bool(units.get("table")) != bool(units.get("column")):
        problems.append("units: give both table and column")
    per_city = notebooks.get("per_city")
    if per_city and doc.get("cities", "all") == "all" and not units.get("table"):
        problems.append("cities: 'all' needs units: {table, column} to list the units")
    impact = doc.get("impact") if isinstance(doc.get("impact"), dict) else {}
    panel = impact.get("panel")
    if isinstance(panel, dict) and panel.get("table", "service_panel") != "service_panel":
        for k in ("unit", "time", "adoption"):
            if not panel.get(k):
                problems.append(
                    f"impact.panel.{k}: is required when the panel table is not service_panel"
                )


# --- the study --------------------------------------------------------------------------------


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
    tables : tables the reports read (fingerprinted), the study's own ``inputs`` included.
    units : ``{"table", "column", "label"}``: where the list of units (cities or countries) is.
    framework : composite-indicator settings (empty when the study has none).
    impact : impact-model settings (empty when the study has none).
    cross_city, per_city : notebook names (``notebooks/<name>.ipynb``) or paths.
    cities : ``"all"`` or an explicit list of unit ids.
    parameters : notebook name -> extra parameters passed to it.
    filters : table -> {column: value or list of values}: the rows of a table the study uses.
    inputs : table name -> ``{path, kind, sep, encoding, decimal, sheet}``: the study's own files.
    report_timeout : seconds one report may run.
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
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    report_timeout: float = DEFAULT_REPORT_TIMEOUT

    def read_table(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The table's parquet file, keeping the rows the study's ``filters`` select.

        A table named in ``inputs`` is read from the study's own processed folder
        (``data/processed/studies/<name>/``, written by :func:`prepare_inputs`), any other from
        ``data/processed/``.
        """

        path = self.table_path(table)
        if not path.exists():
            how = "`ucc study prepare`" if table in self.inputs else "`ucc prepare`"
            raise SpecError(
                f"study {self.name!r}: table {table!r} not found at {path}; run {how} first"
            )
        conditions = self.filters.get(table, {})
        cols = None if columns is None else sorted(set(columns) | set(conditions))
        df = _filtered(io.read_parquet(path, columns=cols), conditions, self.name, table)
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

    @property
    def inputs_dir(self) -> Path:
        """Where the study's own inputs are written: ``data/processed/studies/<name>/``."""
        return config.processed_dir() / "studies" / self.name

    def table_path(self, table: str) -> Path:
        if table in self.inputs:
            return self.inputs_dir / f"{table}.parquet"
        folder = config.processed_dir() / table  # a dataset (request logs), see io.read_parquet
        return folder if folder.is_dir() else config.processed_dir() / f"{table}.parquet"

    def input_path(self, table: str) -> Path:
        """The source file of one of the study's ``inputs`` (relative to the study file)."""
        p = Path(self.inputs[table]["path"])
        return p if p.is_absolute() else (self.path.parent / p)

    @property
    def panel(self) -> dict[str, Any]:
        """The panel analyses' column mapping, every key resolved (see ``impact.panel``).

        Returns
        -------
        dict
            ``table, unit, time, service, adoption, origin, groups`` (column names or None) and
            ``features`` (a list). With the default table each key falls back to the
            ``service_panel`` column; with another table the optional keys fall back to None
            (``features`` to ``[]``).

        Examples
        --------
        >>> Study(name="s", path=Path("s.yml")).panel["adoption"]
        'adopted_period'
        """
        given = dict(self.impact.get("panel") or {})
        table = given.get("table", PANEL_DEFAULTS["table"])
        if table == PANEL_DEFAULTS["table"]:
            out = {**PANEL_DEFAULTS, **given}
            if out["features"] is None:
                from ucc_research.cleaning.schemas import SERVICE_FEATURES

                out["features"] = list(SERVICE_FEATURES)
        else:
            out = {k: None for k in PANEL_DEFAULTS} | {"features": []} | given
        if isinstance(out["features"], str):
            out["features"] = [out["features"]]
        out["features"] = list(out["features"] or [])
        return out

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
            hint = _did_you_mean(unknown[0], known)
            raise SpecError(
                f"study {self.name!r}: cities {unknown} are not in {table}.{column}{hint} "
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


def _filtered(df: pd.DataFrame, conditions: dict[str, Any], study: str, table: str) -> pd.DataFrame:
    """The rows of ``df`` whose columns hold the wanted value(s) (a study's ``filters``)."""
    for column, wanted in conditions.items():
        if column not in df.columns:
            raise SpecError(f"study {study!r}: filter column {column!r} not in {table}")
        wanted = wanted if isinstance(wanted, list) else [wanted]
        df = df[df[column].isin(wanted)]
    return df.reset_index(drop=True)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix not in (".yml", ".yaml") and not p.exists():
        p = config.project_root() / "studies" / f"{path}.yml"
    return p


def load_study(path: str | Path) -> Study:
    """Read a study file safely and check every key at every level.

    Parameters
    ----------
    path : a YAML file, or the bare name of a study in ``studies/`` (``"demo"``).

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        Listing every problem, one line each (``<file>: framework.specs: unknown key (did you
        mean 'spec'?); ...``): a missing or unsafe file, unknown keys, wrong types or values, an
        invalid build spec. References to data and notebooks are checked by :func:`check_study`.

    Examples
    --------
    >>> study = load_study("demo")  # studies/demo.yml
    >>> study.name, study.synthetic, study.per_city
    ('demo', True, ('city_report',))
    """
    p = _resolve(path)
    if not p.is_file():
        raise StudyError([f"study file not found: {p}"])
    doc = read_study_yaml(p)
    if doc is None:
        raise StudyError([f"{p}: the file is empty; a study needs at least its notebooks"])
    if not isinstance(doc, dict):
        raise StudyError([f"{p}: a study must be a mapping of keys, got {_type_name(doc)}"])
    problems: list[str] = []
    _check_value(doc, Key("mapping", "study", keys=SCHEMA), "", problems)
    problems = [q.removeprefix(".").removeprefix(": ") for q in problems]
    if not problems:
        _check_semantics(doc, problems)
    if problems:
        raise StudyError([f"{p}: {q}" for q in problems])
    notebooks = doc.get("notebooks") or {}
    inputs = {str(k): dict(v) for k, v in (doc.get("inputs") or {}).items()}
    tables = _as_tuple(doc.get("tables"))
    tables = tables + tuple(t for t in inputs if t not in tables)
    cities = doc.get("cities", "all")
    return Study(
        name=doc.get("name") or p.stem,
        path=p.resolve(),
        title=str(doc.get("title") or doc.get("name") or p.stem),
        description=str(doc.get("description") or ""),
        synthetic=doc.get("synthetic", False),
        sources=_as_tuple(doc.get("sources")),
        tables=tables,
        units=dict(doc.get("units") or {}),
        framework=dict(doc.get("framework") or {}),
        impact=dict(doc.get("impact") or {}),
        cross_city=_as_tuple(notebooks.get("cross_city")),
        per_city=_as_tuple(notebooks.get("per_city")),
        cities=cities if cities == "all" else _as_tuple(cities),
        parameters={str(k): dict(v) for k, v in (doc.get("parameters") or {}).items()},
        filters={str(k): dict(v) for k, v in (doc.get("filters") or {}).items()},
        inputs=inputs,
        report_timeout=float(doc.get("report_timeout", DEFAULT_REPORT_TIMEOUT)),
    )


# --- references -------------------------------------------------------------------------------


class _Columns:
    """Column names of the study's tables, read once (parquet schema, or the input file)."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self._cache: dict[str, list[str] | None] = {}
        self.missing: dict[str, str] = {}
        self.frames: dict[str, pd.DataFrame] = {}  # the study's own inputs, read in memory
        self.quality: dict[str, dict[str, Any]] = {}  # and what reading them kept

    def __call__(self, table: str) -> list[str] | None:
        if table not in self._cache:
            self._cache[table] = self._read(table)
        return self._cache[table]

    def _read(self, table: str) -> list[str] | None:
        study = self.study
        if table in study.inputs:
            from ucc_research.reports.inputs import read_input

            try:
                self.frames[table], _, self.quality[table] = read_input(study, table)
            except UccError as exc:
                self.missing[table] = str(exc)
                return None
            return list(self.frames[table].columns)
        path = study.table_path(table)
        if not path.exists():
            self.missing[table] = f"not found at {path}; run `ucc prepare` first"
            return None
        return io.parquet_columns(path)


def _fe_columns(fe: str) -> list[str]:
    return [t for t in re.split(r"[\s+^]+", fe or "") if t]


def check_study(study: Study, *, notebooks: bool = True) -> list[str]:
    """Check what a study refers to: tables, columns, iMeta codes, notebooks, parameters, cities.

    Runs before any analysis (``ucc run``) and alone (``ucc study check``). Reads only table
    schemas, the framework's iData/iMeta and the notebooks' parameter cells.

    Parameters
    ----------
    study : a loaded study (:func:`load_study` has checked its keys).
    notebooks : also inspect the notebooks' parameters (needs papermill).

    Returns
    -------
    list of str
        One line per check passed, a summary for ``ucc study check``.

    Raises
    ------
    StudyError
        Every problem found, one line each, naming the study file and the key.
    """
    ck = _References(study)
    for table in study.tables:
        ck.columns(table)
    for table, reason in ck.columns.missing.items():
        ck.problems.append(f"tables: {table!r} {reason}")
    for table, conditions in study.filters.items():
        if ck.need_table(table, f"filters.{table}") is not None:
            ck.need_columns(table, list(conditions), f"filters.{table}")
    if study.units.get("table"):
        if ck.need_table(study.units["table"], "units.table") is not None:
            ck.need_columns(study.units["table"], study.units["column"], "units.column")
    _check_framework_refs(ck)
    _check_impact_refs(ck)
    problems = ck.problems
    if notebooks:
        problems.extend(_check_notebooks(study))
    n_units = None
    if study.cities != "all" or study.per_city:
        if study.units.get("table") and not problems:
            try:
                n_units = len(_unit_ids(study, ck.columns.frames))
            except SpecError as exc:
                problems.append(f"cities: {str(exc).split(': ', 1)[-1]}")
    if problems:
        raise StudyError([f"{study.path}: {q}" for q in problems])
    return _check_summary(study, ck.columns, n_units)


class _References:
    """What :func:`check_study` collects: the tables' columns and every problem found."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.columns = _Columns(study)
        self.problems: list[str] = []

    def need_table(self, table: str, where: str) -> list[str] | None:
        """The table's columns, or None and a problem when the study has no such table."""
        tables = self.study.tables
        if table not in tables:
            self.problems.append(
                f"{where}: table {table!r} is not among the study's tables"
                f"{_did_you_mean(table, tables)}; tables: {', '.join(tables)}"
            )
            return None
        return self.columns(table)

    def need_columns(self, table: str | None, names: Any, where: str) -> None:
        """A problem for each of ``names`` that is not a column of ``table``."""
        if not table or not names:
            return
        cols = self.columns(table) if table in self.study.tables else None
        if cols is None:
            return
        for name in [names] if isinstance(names, str) else names:
            if str(name) not in cols:
                self.problems.append(
                    f"{where}: column {name!r} is not in {table}{_did_you_mean(name, cols)}"
                )


def _check_framework_refs(ck: _References) -> None:
    """The framework's tables and columns, then its iData/iMeta codes."""
    fw = ck.study.framework
    if not fw:
        return
    data_cols = ck.need_table(fw["data"], "framework.data")
    meta_ok = ck.need_table(fw["meta"], "framework.meta") is not None
    ck.need_columns(fw["data"], fw.get("peer_group"), "framework.peer_group")
    spec = fw.get("spec") or {}
    impute = spec.get("impute") if isinstance(spec.get("impute"), dict) else {}
    ck.need_columns(fw["data"], impute.get("group"), "framework.spec.impute.group")
    if data_cols is not None and meta_ok and not ck.columns.missing:
        ck.problems.extend(_check_framework_data(ck.study, ck.columns.frames))


def _check_impact_refs(ck: _References) -> None:
    """The impact panel's columns, its outcomes and the what-works analysis' columns."""
    study = ck.study
    impact, panel = study.impact, study.panel
    panel_table = panel["table"]
    uses_panel = bool(impact) or panel_table in study.tables
    if impact.get("panel"):
        if ck.need_table(panel_table, "impact.panel.table") is not None:
            for k in impact["panel"]:  # the columns named; defaults may be absent (not used)
                if k != "table":
                    ck.need_columns(panel_table, panel[k], f"impact.panel.{k}")
    if uses_panel and panel_table in study.tables:
        ck.need_columns(panel_table, impact.get("outcomes"), "impact.outcomes")
    ww = impact.get("what_works")
    if ww:
        data = ww.get("data", "service_panel")
        if ck.need_table(data, "impact.what_works.data") is not None:
            for k in ("outcomes", "features", "cluster", "groups"):
                ck.need_columns(data, ww.get(k), f"impact.what_works.{k}")
            ck.need_columns(data, _fe_columns(ww.get("fe", "")), "impact.what_works.fe")


def _check_summary(study: Study, columns: _Columns, n_units: int | None) -> list[str]:
    """One line per check passed, for ``ucc study check``."""
    fw = study.framework
    summary = [
        f"{len(study.tables)} tables ({', '.join(study.tables) or 'none'})",
        f"{len(study.cross_city)} cross-city and {len(study.per_city)} per-city notebooks",
    ]
    if study.per_city and n_units is not None:
        summary.append(f"{n_units} {study.unit_label} reports")
    if fw:
        summary.append(f"framework on {fw['data']} / {fw['meta']}")
    for table, q in columns.quality.items():
        summary.append(
            f"own input {table} ({q['kind']}, {q['file']}): {q['rows_in']} rows, "
            f"{q['rows_kept']} kept, {q['rows_quarantined']} to be quarantined"
        )
    return summary


def _unit_ids(study: Study, frames: dict[str, pd.DataFrame]) -> list[str]:
    """:meth:`Study.unit_ids`, reading the study's own inputs from memory (not yet written)."""
    table = study.units.get("table")
    if table not in frames:
        return study.unit_ids()
    df = _filtered(frames[table], study.filters.get(table, {}), study.name, table)
    known = sorted(df[study.units["column"]].dropna().astype(str).unique())
    if study.cities == "all":
        return known
    unknown = [c for c in study.cities if c not in set(known)]
    if unknown:
        raise SpecError(
            f"study {study.name!r}: cities {unknown} are not in {table}.{study.units['column']}"
            f"{_did_you_mean(unknown[0], known)}"
        )
    return list(study.cities)


def current_unit_ids(study: Study) -> list[str]:
    """:meth:`Study.unit_ids`, with the study's own units input read from its file (so it is
    right before ``prepare_inputs`` has written it, and never stale)."""
    table = study.units.get("table")
    if table in study.inputs:
        from ucc_research.reports.inputs import read_input

        return _unit_ids(study, {table: read_input(study, table)[0]})
    return study.unit_ids()


def _check_framework_data(study: Study, frames: dict[str, pd.DataFrame]) -> list[str]:
    """iData/iMeta through the indicators package's own checks, and ``uncertainty.vary``."""
    from types import SimpleNamespace

    from ucc_research.indicators import load_spec
    from ucc_research.indicators.meta import validate_data, validate_meta
    from ucc_research.indicators.uncertainty import parse_vary

    def table(name: str) -> pd.DataFrame:
        if name in frames:
            return _filtered(frames[name], study.filters.get(name, {}), study.name, name)
        return study.read_table(name)

    fw = study.framework
    try:
        meta = validate_meta(table(fw["meta"]))
    except SpecError as exc:
        return [f"framework.meta: {exc}"]
    try:
        validate_data(table(fw["data"]), meta)
    except SpecError as exc:
        return [f"framework.data: {exc}"]
    vary = (fw.get("uncertainty") or {}).get("vary")
    if vary is not None:
        try:
            parse_vary(vary, SimpleNamespace(meta=meta, spec=load_spec(fw.get("spec"))))
        except SpecError as exc:
            return [f"framework.uncertainty.vary: {str(exc).removeprefix('vary: ')}"]
    return []


def _check_notebooks(study: Study) -> list[str]:
    """Every notebook exists and declares the parameters the study gives it (and ``city``)."""
    from ucc_research.reports import notebook as nbmod

    problems = []
    plumbing = {"study", "city", "shared_dir", "results_path"}
    for part, names in (("cross_city", study.cross_city), ("per_city", study.per_city)):
        for name in names:
            try:
                path = study.notebook_path(name)
            except SpecError:
                known = sorted(
                    p.stem for p in (config.project_root() / "notebooks").glob("*.ipynb")
                )
                problems.append(
                    f"notebooks.{part}: no notebook {name!r}{_did_you_mean(name, known)}"
                )
                continue
            try:
                declared = nbmod.notebook_parameters(path)
                given = study.parameters.get(Path(name).stem, {})
                clash = sorted(set(given) & plumbing)
                if clash:
                    problems.append(f"parameters.{Path(name).stem}: {clash} are set by the runner")
                nbmod.check_parameters(
                    path, {k: v for k, v in given.items() if k not in plumbing}, declared
                )
            except SpecError as exc:
                problems.append(f"parameters.{Path(name).stem}: {exc}")
                continue
            if part == "per_city" and "city" not in declared:
                problems.append(f"notebooks.per_city: {name!r} declares no 'city' parameter")
    return problems


# --- documentation ----------------------------------------------------------------------------


def _doc_rows(keys: Mapping[str, Key], prefix: str, rows: list[str]) -> None:
    for name, key in keys.items():
        path = f"{prefix}{name}"
        kind = {"names": "name or list", "cities": "`all` or list"}.get(key.kind, key.kind)
        if key.kind == "mapping" and key.keys is None and key.each is not None:
            kind = "mapping of mappings" if key.each.kind == "mapping" else "mapping"
        limits = []
        if key.required:
            limits.append("required")
        if key.choices:
            limits.append("one of " + ", ".join(f"`{c!r}`" for c in key.choices))
        if key.minimum is not None:
            limits.append(f">= {key.minimum:g}")
        if key.maximum is not None:
            limits.append(f"<= {key.maximum:g}")
        if key.refers:
            limits.append(f"checked against: {key.refers}")
        default = "" if key.default is None else f"`{key.default}`"
        cells = [f"`{path}`", kind, default, f"{key.doc} {'; '.join(limits)}".strip()]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if key.keys is not None:
            _doc_rows(key.keys, f"{path}.", rows)
        elif key.each is not None and key.each.keys is not None:
            _doc_rows(key.each.keys, f"{path}.<name>.", rows)


def schema_markdown() -> str:
    """``docs/study_schema.md``: every key of a study file (generated from :data:`SCHEMA`)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    _doc_rows(SCHEMA, "", rows)
    return "\n".join(
        [
            "# Study files: the schema",
            "",
            "<!-- generated by ucc_research.reports.study.schema_markdown(); "
            "`ucc study schema > docs/study_schema.md` rewrites it, and a test checks it -->",
            "",
            "A study (`studies/<name>.yml`) says which data, framework, notebooks and cities a "
            "run covers. `ucc study check STUDY.yml` checks it without running anything; "
            "`ucc run` runs the same check first. Every problem is refused with one line naming "
            "the file and the key:",
            "",
            "- the file must be UTF-8, at most 1 MiB, with no YAML aliases (`*name`), merge keys "
            "or duplicate keys;",
            "- unknown keys at any level (with a did-you-mean), wrong types and values out of "
            "range are refused;",
            "- `framework.spec` is checked by the indicators package (`load_spec`), and "
            "`framework.uncertainty.vary` by `parse_vary` against the study's iMeta;",
            "- tables, columns, notebooks, notebook parameters and cities must exist.",
            "",
            *rows,
            "",
        ]
    )
