"""The ``ucc`` command line (also ``python -m ucc_research``).

Each sub-command is a thin wrapper: it parses arguments and calls one function of the package,
imported lazily so that ``ucc validate`` does not pay for importing the impact models.
Errors meant for people (:class:`ucc_research.errors.UccError`) are printed as one line and give
exit status 2; a failed validation gives exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ucc_research import __version__
from ucc_research.config import configure_arrow_pool
from ucc_research.errors import UccError

# sub-command -> "module:function"; each function takes the parsed Namespace and returns an exit code
_HANDLERS = {
    "prepare": "ucc_research.cleaning.prepare:cli_prepare",
    "validate": "ucc_research.cleaning.validate:cli_validate",
    "demo": "ucc_research.demo.cli:cli_demo",
    "index build": "ucc_research.indicators.cli:cli_build",
    "run": "ucc_research.reports.runner:cli_run",
    "study check": "ucc_research.reports.runner:cli_study_check",
    "study prepare": "ucc_research.reports.runner:cli_study_prepare",
    "study schema": "ucc_research.reports.runner:cli_study_schema",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ucc", description="ucc_research: city e-services research environment"
    )
    parser.add_argument("--version", action="version", version=f"ucc_research {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_data_commands(sub)
    _add_index_commands(sub)
    _add_study_commands(sub)
    return parser


def _add_data_commands(sub: Any) -> None:
    """``ucc prepare``, ``ucc validate`` and ``ucc demo``."""
    p = sub.add_parser("prepare", help="build data/processed/ from data/raw/")
    p.add_argument("--raw", help="raw data folder (default: data/raw or $UCC_RAW_DIR)")
    p.add_argument("--out", help="processed folder (default: data/processed or $UCC_PROCESSED_DIR)")
    p.add_argument("--only", nargs="+", metavar="SOURCE", help="prepare only these sources")
    p.add_argument("--jobs", type=int, default=1, help="sources prepared at once (default 1)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address ($UCC_DASK_SCHEDULER)")
    p.set_defaults(handler="prepare")

    p = sub.add_parser(
        "validate", help="check one file against a tidy-table schema; writes nothing"
    )
    p.add_argument(
        "--kind",
        required=True,
        choices=["cities", "requests", "service_panel", "iData", "iMeta"],
    )
    p.add_argument("file")
    p.add_argument("--source", help="source name recorded in the problem list")
    p.add_argument("--sheet", help="sheet name, for Excel workbooks")
    _dialect_args(p)
    p.add_argument("--max-problems", type=int, default=50, help="problems listed (default 50)")
    p.set_defaults(handler="validate")

    p = sub.add_parser("demo", help="write the SYNTHETIC demo data and its truth.json")
    p.add_argument("--out", help="output folder (default: data/raw/demo)")
    p.add_argument("--seed", type=int, default=20240601)
    p.set_defaults(handler="demo")


def _add_index_commands(sub: Any) -> None:
    """``ucc index build``."""
    p = sub.add_parser("index", help="composite indicators")
    index_sub = p.add_subparsers(dest="index_command", required=True)
    b = index_sub.add_parser("build", help="build a composite index from iData and iMeta")
    b.add_argument("--data", required=True, help="iData file (CSV, xlsx or parquet)")
    b.add_argument("--meta", required=True, help="iMeta file (CSV, xlsx or parquet)")
    b.add_argument("--sheet", help="sheet of a workbook (default: the first sheet)")
    b.add_argument("--meta-sheet", help="sheet of the iMeta workbook (default: --sheet)")
    _dialect_args(b)
    b.add_argument("--spec", help="build spec (YAML); default: COINr's default build")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument(
        "--uncertainty",
        type=int,
        default=0,
        metavar="N",
        help="also run N uncertainty replications",
    )
    b.add_argument("--seed", type=int, default=1, help="seed of the uncertainty analysis")
    b.set_defaults(handler="index build")


def _add_study_commands(sub: Any) -> None:
    """``ucc run`` and ``ucc study check|prepare|schema``."""
    p = sub.add_parser("run", help="run a study: notebooks per city through papermill")
    p.add_argument("study", help="study YAML file (studies/<name>.yml)")
    p.add_argument("--jobs", type=int, default=None, help="parallel reports (default: cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address ($UCC_DASK_SCHEDULER)")
    p.add_argument("--only", nargs="+", metavar="CITY", help="run only these cities")
    p.add_argument("--force", action="store_true", help="re-run reports whose inputs are unchanged")
    p.add_argument("--out", help="output folder (default: outputs/<study>)")
    p.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="a new kernel per report instead of each worker's warm kernel ($UCC_FRESH_KERNELS=1)",
    )
    p.set_defaults(handler="run")

    p = sub.add_parser("study", help="check a study file, or read its own input files")
    study_sub = p.add_subparsers(dest="study_command", required=True)
    s = study_sub.add_parser(
        "check", help="check a study file (keys, data, notebooks, cities); runs nothing"
    )
    s.add_argument("study", help="study YAML file (studies/<name>.yml)")
    s.set_defaults(handler="study check")
    s = study_sub.add_parser(
        "prepare", help="read, validate and write the study's own input files (inputs:)"
    )
    s.add_argument("study", help="study YAML file (studies/<name>.yml)")
    s.add_argument("--force", action="store_true", help="read inputs even when unchanged")
    s.set_defaults(handler="study prepare")
    s = study_sub.add_parser("schema", help="print the study schema (docs/study_schema.md)")
    s.set_defaults(handler="study schema")


def _check_args(args: argparse.Namespace) -> None:
    """Refuse impossible arguments before anything runs (exit 2, one line)."""
    from ucc_research.errors import SpecError
    from ucc_research.reports.runner import MAX_JOBS, writable_dir

    if args.handler == "run":
        if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
            raise SpecError(f"--jobs must be between 1 and {MAX_JOBS}, got {args.jobs}")
        if args.out:
            writable_dir(args.out, "--out")
    if args.handler in ("prepare", "index build") and getattr(args, "out", None):
        _check_out_leaving_no_trace(args.out, writable_dir)
    if args.handler == "demo":
        if not 0 <= args.seed < 2**32:
            raise SpecError(f"--seed must be between 0 and 2**32 - 1, got {args.seed}")
        if args.out:
            writable_dir(args.out, "--out")


def _check_out_leaving_no_trace(out: str, writable_dir) -> None:
    """``writable_dir`` for a command that may still refuse its input: the folders the check
    created are removed again, so a refused run leaves nothing behind."""
    path = Path(out).absolute()
    created = [p for p in (path, *path.parents) if not p.exists()]
    writable_dir(path, "--out")
    for folder in created:  # deepest first; each is empty (the check removed its probe file)
        folder.rmdir()


def _dialect_args(p: argparse.ArgumentParser) -> None:
    """``--sep`` and ``--encoding``: what the reader would otherwise detect in a text file."""
    p.add_argument("--sep", help="field separator of a text file (default: detected)")
    p.add_argument("--encoding", help="encoding of a text file, e.g. cp1252 (default: detected)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, func_name = _HANDLERS[args.handler].split(":")
    try:
        configure_arrow_pool()  # faster fresh allocations than pyarrow's default; see there
        _check_args(args)
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args) or 0)
    except UccError as exc:
        print(f"ucc {args.handler}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
