"""One report: check parameters, execute a notebook with papermill, render it to HTML.

These functions run in the batch runner's workers (process pool or Dask); they import papermill
and nbconvert lazily so that importing :mod:`ucc_research.reports` stays cheap.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import html
import json
import math
import sys
import unicodedata
from pathlib import Path
from typing import Any

from ucc_research.errors import SpecError


class ReportTimeout(Exception):
    """A report that ran longer than its time limit (the study's ``report_timeout``)."""


#: Kernel the reports run on; :func:`ensure_kernel` registers it for the running interpreter.
KERNEL_NAME = "ucc_research"

# Names a unit's file stem must not take (they are the run's own files and folders).
_RESERVED = {"index", "run", "results", "failed", "_shared", ".staging", "con", "prn", "aux", "nul"}


def safe_name(unit_id: str, reserved: set[str] | frozenset[str] = frozenset()) -> str:
    """A file-name stem for a unit id that is safe on every platform and never a path.

    Letters and digits of any script, ``-`` and ``_`` are kept; anything else (``/``, ``..``,
    quotes, ``<``, spaces, control characters) becomes ``_``. When the result differs from the id,
    or collides with a reserved name, a short hash of the id is appended so that two different
    ids never share a file.

    Examples
    --------
    >>> safe_name("DEMO-001")
    'DEMO-001'
    >>> safe_name("../etc/passwd")
    'etc_passwd-e96c47ea'
    >>> safe_name("index")  # the run's own index.html
    'index-e540cdd1'
    """
    unit_id = str(unit_id)
    norm = unicodedata.normalize("NFC", unit_id)
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in norm).strip("_-")[:60]
    taken = _RESERVED | {r.lower() for r in reserved}
    if cleaned and cleaned == unit_id and cleaned.lower() not in taken:
        return cleaned
    digest = hashlib.sha1(unit_id.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned or 'unit'}-{digest}"


def _declared_type(info: dict[str, Any]) -> str | None:
    """The type of a parameter: its annotation if any, else the type of its default literal."""
    name = (info.get("inferred_type_name") or "None").strip()
    if name not in ("None", ""):
        return name
    try:
        value = ast.literal_eval(info.get("default", "None"))
    except (ValueError, SyntaxError):
        return None
    return None if value is None else type(value).__name__


_ACCEPTS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list, tuple),
    "dict": (dict,),
}


def notebook_parameters(path: str | Path) -> dict[str, str | None]:
    """The parameters a notebook declares (its cell tagged ``parameters``) and their types.

    Returns a mapping name -> type name (``"str"``, ``"int"``, ...; None when untyped).
    """
    import papermill

    path = Path(path)
    declared = papermill.inspect_notebook(str(path))
    if not declared:
        raise SpecError(
            f"{path}: no cell tagged 'parameters'; a report must declare its parameters"
        )
    return {name: _declared_type(info) for name, info in declared.items()}


def check_parameters(
    path: str | Path, parameters: dict[str, Any], declared: dict[str, str | None] | None = None
) -> None:
    """Refuse parameters the notebook does not declare, or of the wrong type, before running it.

    ``declared`` is :func:`notebook_parameters` of ``path`` when the caller has it already.

    Raises
    ------
    SpecError
        Naming the notebook, the parameter, and the closest declared name or the expected type.
    """
    declared = notebook_parameters(path) if declared is None else declared
    problems = []
    for name, value in parameters.items():
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown parameter {name!r}{hint}; declared: {sorted(declared)}")
            continue
        expected = declared[name]
        accepts = _ACCEPTS.get(expected or "")
        if accepts is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in accepts
        if wrong_bool or not isinstance(value, accepts):
            problems.append(
                f"parameter {name!r} must be {expected}, got {type(value).__name__} {value!r}"
            )
    if problems:
        raise SpecError(f"{Path(path).name}: " + "; ".join(problems))


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Make sure a Jupyter kernel ``name`` runs the current interpreter; install it if not.

    The spec goes into ``sys.prefix`` (the project's virtual environment), which Jupyter
    searches, so fresh machines and CI need no ``ipykernel install --user`` step.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
        if (
            spec.argv
            and Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
            and _QUIET_KERNEL in spec.argv
        ):
            return name
    except NoSuchKernel:
        pass
    from ipykernel import kernelspec

    where = kernelspec.install(
        kernel_name=name, display_name=f"Python ({name})", prefix=sys.prefix, user=False
    )
    spec_file = Path(where) / "kernel.json"
    doc = json.loads(spec_file.read_text(encoding="utf-8"))
    doc["argv"] = [*doc["argv"], _QUIET_KERNEL]
    spec_file.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return name


# The kernel's own log lines (a warning per start that the local TCP transport is unencrypted, a
# KeyboardInterrupt logged at shutdown) would fill the console of every batch run; errors in the
# notebook's cells are unaffected and still land in the report.
_QUIET_KERNEL = "--IPKernelApp.log_level=CRITICAL"


def _error_banner(nb: Any, exc: BaseException) -> None:
    """Put the error itself (not only papermill's link to it) at the top of a failed notebook."""
    import nbformat

    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = nbformat.v4.new_markdown_cell(
        '<div style="border:2px solid #c00;padding:0.6em;background:#fee">'
        "<strong>This report failed.</strong> "
        f"<code>{html.escape(str(ename))}</code>: <pre>{html.escape(str(evalue))}</pre></div>"
    )
    cell.metadata["tags"] = ["ucc-error"]
    nb.cells.insert(0, cell)


def to_html(nb: Any, title: str) -> str:
    """Render an executed notebook as one self-contained HTML page with the code hidden."""
    from ucc_research.reports import html as report_html

    return report_html.render(nb, title)


def execute(
    notebook: str | Path,
    output: str | Path,
    parameters: dict[str, Any],
    *,
    kernel_name: str = KERNEL_NAME,
    cwd: str | Path | None = None,
    title: str = "report",
    timeout: float | None = None,
    kernel: Any = None,
) -> tuple[Any, BaseException | None]:
    """Execute ``notebook`` with ``parameters`` into ``output``; never raises for a cell error.

    Returns the executed notebook (with the error shown at its top when a cell failed) and the
    exception, or None. ``output`` is written by papermill when the notebook ends (or fails), so
    pass a temporary path and rename it when satisfied.

    ``timeout`` bounds the whole report in seconds: each cell may use what the cells before it
    left of the budget; when it runs out the cell is stopped and the error is a
    :class:`ReportTimeout`.

    ``kernel`` is a :class:`~ucc_research.reports.kernels.WarmKernel` to run on (already reset
    for this report, in ``cwd``); None starts a fresh kernel for this notebook alone.
    """
    import time

    import nbformat
    import papermill

    engine_kwargs: dict[str, Any] = {}
    if kernel is not None:
        from ucc_research.reports import kernels

        kernels.register_engine()
        engine_kwargs.update(engine_name=kernels.ENGINE, warm_kernel=kernel)
        cwd = None  # the warm kernel is already there; papermill would chdir this process
    deadline = None
    if timeout is not None:
        if not timeout > 0:
            raise SpecError(f"timeout must be a positive number of seconds, got {timeout!r}")
        deadline = time.monotonic() + timeout
        # nbclient asks for each cell's limit just before running it: the budget left
        engine_kwargs["timeout_func"] = lambda cell: max(1, math.ceil(deadline - time.monotonic()))
    error: BaseException | None = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(cwd) if cwd else None,
            # written once at the end (or at the failing cell), not after every cell: saving
            # (with nbformat's schema check) twice per cell cost a tenth of a report's time
            request_save_on_cell_execute=False,
            **engine_kwargs,
        )
    except Exception as exc:  # a failing report must not stop the batch
        error = exc
        from nbclient.exceptions import CellTimeoutError

        if deadline is not None and (
            isinstance(exc, CellTimeoutError) or time.monotonic() >= deadline
        ):
            error = ReportTimeout(
                f"the report ran longer than its limit of {timeout:g} s (study setting "
                f"report_timeout) and was stopped"
            )
    if Path(output).is_file():
        nb = nbformat.read(str(output), as_version=4)
    else:  # papermill failed before writing anything (e.g. the kernel did not start)
        nb = nbformat.read(str(notebook), as_version=4)
    if error is not None:
        _error_banner(nb, error)
    nb.metadata["title"] = title
    return nb, error


def is_cell_error(error: BaseException) -> bool:
    """True for an error raised by a notebook's own cell (its kernel is fine and reusable);
    False for a timeout, a dead kernel or a failure of the machinery."""
    from papermill.exceptions import PapermillExecutionError

    return isinstance(error, PapermillExecutionError)
