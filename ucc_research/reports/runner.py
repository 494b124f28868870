"""``ucc run``: execute a study's notebooks, per city and once per study, into HTML reports.

For a study ``S`` the runner writes into ``outputs/S/`` (or ``--out``)::

    _shared/                   study-level analyses computed once (see reports.shared)
    <stem>.ipynb, <stem>.html  one executed notebook and its code-hidden HTML per report
    results/<stem>.json        full-precision results recorded by the notebook
    failed/<stem>.ipynb|.html  a failed report, its error shown at the top
    index.html                 every report with its headline numbers and links
    tables/                    the study-level tables as CSV, and all of them in one workbook
    run.json                   parameters, fingerprints, timings and status per report

Reports run in parallel on a local process pool (``--jobs``) or on an existing Dask cluster
(``--scheduler`` / ``$UCC_DASK_SCHEDULER``). Each worker keeps one warm kernel that has imported
the stack and is reset before every report (:mod:`~ucc_research.reports.kernels`);
``--fresh-kernels`` (``$UCC_FRESH_KERNELS=1``) starts a kernel per report instead. Every file is
written under a temporary name and renamed, so a killed run leaves only complete reports;
re-running skips reports whose notebook, parameters and inputs are unchanged (their
fingerprint), so the next run completes what is missing.

Safety: the study is checked whole (:func:`~ucc_research.reports.study.check_study`) before
anything runs; a run holds a lock on its output folder (a second run of the same folder is
refused with one line); the pool's workers stop when the run's process dies, even by
``kill -9``; every report has a time limit (the study's ``report_timeout``), after which it is
recorded as failed and the run goes on; a study-level analysis that raises fails the run
(exit status 1, the section and the reason printed, recorded and shown in ``index.html``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ucc_research import __version__, config, io
from ucc_research.errors import AnalysisError, SpecError, StudyError
from ucc_research.reports import notebook as nbmod
from ucc_research.reports.study import (
    DEFAULT_REPORT_TIMEOUT,
    Study,
    check_study,
    current_unit_ids,
    load_study,
)

#: Parameters the runner fills in itself when a notebook declares them.
PLUMBING = ("study", "city", "shared_dir", "results_path")
#: Most reports run at once (``--jobs``).
MAX_JOBS = 1024
#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = 5.0
#: Reports per worker from which a run uses warm kernels by default (see :func:`run_study`).
WARM_MIN_REPORTS = 3


@dataclass(frozen=True)
class ReportTask:
    """One notebook to execute: a city report or a cross-city report.

    ``parameters`` excludes ``results_path`` (set per attempt by :func:`run_task`).
    """

    key: str
    kind: str  # "city" or "study"
    unit: str | None
    notebook: str
    notebook_name: str
    stem: str
    out_dir: str
    parameters: dict[str, Any]
    fingerprint: str
    wants_results: bool
    kernel_name: str = nbmod.KERNEL_NAME
    timeout: float = DEFAULT_REPORT_TIMEOUT
    warm: bool = True  # on the worker's warm kernel (False: a fresh kernel for this report)


@dataclass
class RunSummary:
    """What :func:`run_study` did: one record per report, and where the index is."""

    study: str
    out_dir: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    analysis_failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["status"] == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.analysis_failures

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_fingerprint() -> str:
    """SHA-256 of the package's Python sources: a changed analysis re-runs the reports."""
    return io.fingerprint(sorted(config.PACKAGE_DIR.rglob("*.py")))


def _task_fingerprint(notebook_sha: str, parameters: dict[str, Any], data_fp: str) -> str:
    # paths that only say where files go (shared_dir) are left out: moving the output folder
    # must not invalidate the reports, but any other parameter, the notebook or the data does
    payload = {
        "notebook": notebook_sha,
        "parameters": {k: v for k, v in parameters.items() if k != "shared_dir"},
        "data": data_fp,
        "version": __version__,
    }
    return hashlib.sha256(io.to_json(payload).encode()).hexdigest()


def data_fingerprint(study: Study) -> str:
    """SHA-256 of the study's input tables (``data/processed/<table>.parquet``)."""
    paths = []
    for table in study.tables:
        p = study.table_path(table)
        if not p.exists():  # a file, or a dataset folder (request logs)
            raise SpecError(
                f"study {study.name!r}: input table {table!r} not found at {p}; "
                "run `ucc prepare` first"
            )
        paths.append(p)
    return io.fingerprint(paths)


def build_tasks(
    study: Study,
    out_dir: Path,
    *,
    data_fp: str,
    only: Sequence[str] | None = None,
    kernel_name: str = nbmod.KERNEL_NAME,
) -> list[ReportTask]:
    """Every report of the study, with parameters checked against each notebook.

    Raises
    ------
    SpecError
        For an unknown city in ``only``, a notebook without a ``city`` parameter in
        ``per_city``, or an unknown/misspelt/mistyped parameter; nothing has run yet.
    """
    units = study.unit_ids() if study.per_city else []
    if only:
        missing = [c for c in only if c not in set(units)]
        if missing:
            raise SpecError(f"study {study.name!r}: --only names unknown cities {missing}")
        units = [u for u in units if u in set(only)]
    shared_dir = str(out_dir / "_shared")
    cross_names = {Path(n).stem for n in study.cross_city}
    tasks: list[ReportTask] = []
    stems: dict[str, str] = {}

    declared_by_path: dict[Path, dict[str, str | None]] = {}

    def make(kind: str, nb_name: str, unit: str | None) -> ReportTask:
        path = study.notebook_path(nb_name)
        if path not in declared_by_path:  # one inspection per notebook, not per city
            declared_by_path[path] = nbmod.notebook_parameters(path)
        declared = declared_by_path[path]
        user = dict(study.parameters.get(Path(nb_name).stem, {}))
        clash = sorted(set(user) & set(PLUMBING))
        if clash:
            raise SpecError(f"study {study.name!r}: parameters {clash} are set by the runner")
        nbmod.check_parameters(path, user, declared=declared)
        if kind == "city" and "city" not in declared:
            raise SpecError(f"{path.name}: a per-city notebook must declare a 'city' parameter")
        plumbing = {"study": str(study.path), "city": unit, "shared_dir": shared_dir}
        params = {k: v for k, v in plumbing.items() if k in declared and v is not None}
        params.update(user)
        nb_stem = Path(nb_name).stem
        if kind == "city":
            base = nbmod.safe_name(unit, reserved=cross_names)
            stem = base if len(study.per_city) == 1 else f"{base}__{nb_stem}"
        else:
            stem = nb_stem
        if stem in stems:
            raise SpecError(f"study {study.name!r}: two reports would share the name {stem!r}")
        key = f"city:{unit}:{nb_stem}" if kind == "city" else f"study:{nb_stem}"
        stems[stem] = key
        return ReportTask(
            key=key,
            kind=kind,
            unit=unit,
            notebook=str(path),
            notebook_name=nb_stem,
            stem=stem,
            out_dir=str(out_dir),
            parameters=params,
            fingerprint=_task_fingerprint(_sha256_file(path), params, data_fp),
            wants_results="results_path" in declared,
            kernel_name=kernel_name,
            timeout=study.report_timeout,
        )

    for nb_name in study.cross_city:
        tasks.append(make("study", nb_name, None))
    for unit in units:
        for nb_name in study.per_city:
            tasks.append(make("city", nb_name, unit))
    return tasks


_KERNEL_READY: set[str] = set()


def _outputs(task: ReportTask) -> dict[str, Path]:
    out = Path(task.out_dir)
    return {
        "ipynb": out / f"{task.stem}.ipynb",
        "html": out / f"{task.stem}.html",
        "results": out / "results" / f"{task.stem}.json",
        "failed_ipynb": out / "failed" / f"{task.stem}.ipynb",
        "failed_html": out / "failed" / f"{task.stem}.html",
    }


def _title(task: ReportTask) -> str:
    return f"{task.notebook_name}: {task.unit}" if task.unit is not None else task.notebook_name


def _base_record(task: ReportTask) -> dict[str, Any]:
    return {
        "key": task.key,
        "kind": task.kind,
        "unit": task.unit,
        "notebook": task.notebook_name,
        "stem": task.stem,
        "parameters": task.parameters,
        "fingerprint": task.fingerprint,
    }


def run_task(task: ReportTask) -> dict[str, Any]:
    """Execute one report and commit its files; returns its record for ``run.json``.

    Runs in a worker (process pool or Dask): on the worker's warm kernel (reset for this report,
    see :mod:`~ucc_research.reports.kernels`) unless ``task.warm`` is False, then on a fresh
    kernel of its own. A failing notebook is recorded, never raised.
    """
    if task.warm:
        from ucc_research.reports import kernels

        return kernels.run_in_slot(lambda slot: _run_task(task, slot))
    return _run_task(task, None)


def _run_task(task: ReportTask, slot: Any) -> dict[str, Any]:
    start = time.perf_counter()
    staging = Path(task.out_dir) / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    attempt = uuid.uuid4().hex[:12]
    tmp_nb = staging / f"{task.stem}.{attempt}.ipynb"
    tmp_results = staging / f"{task.stem}.{attempt}.json"
    params = dict(task.parameters)
    if task.wants_results:
        params["results_path"] = str(tmp_results)
    record = _base_record(task)
    timings: dict[str, Any] = {}
    record["timings"] = timings
    try:
        nb, error = _execute(task, slot, tmp_nb, params, timings)
        if error is None and task.wants_results and not tmp_results.is_file():
            error = SpecError(f"{task.notebook_name} ran but did not write its results_path")
        record.update(_commit(task, nb, error, tmp_results))
    except Exception as exc:  # the runner itself failed for this report: record, go on
        if slot is not None:
            slot.discard()  # the kernel's state is unknown: the next report gets a fresh one
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            html=None,
        )
    finally:
        tmp_nb.unlink(missing_ok=True)
        tmp_results.unlink(missing_ok=True)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _execute(
    task: ReportTask, slot: Any, tmp_nb: Path, params: dict[str, Any], timings: dict[str, Any]
) -> tuple[Any, BaseException | None]:
    """Run the notebook on the slot's warm kernel (or a fresh one without a slot); ``timings``
    gets the seconds spent getting the kernel ready (started, or reset) and executing."""
    if task.kernel_name not in _KERNEL_READY:
        nbmod.ensure_kernel(task.kernel_name)
        _KERNEL_READY.add(task.kernel_name)
    t0 = time.perf_counter()
    kernel = slot.kernel_for(task.kernel_name, task.out_dir) if slot is not None else None
    timings["kernel"] = round(time.perf_counter() - t0, 3)
    # "started": this report started its worker's kernel; "reused": it ran on one already used
    timings["kernel_state"] = (
        "fresh" if kernel is None else "reused" if kernel.reports else "started"
    )
    nb, error = nbmod.execute(
        task.notebook,
        tmp_nb,
        params,
        kernel_name=task.kernel_name,
        cwd=task.out_dir,
        title=_title(task),
        timeout=task.timeout,
        kernel=kernel,
    )
    timings["execute"] = round(time.perf_counter() - t0 - timings["kernel"], 3)
    if kernel is not None and error is not None and not nbmod.is_cell_error(error):
        slot.discard()  # dead, stopped at its time limit or half-way: a fresh kernel next
    return nb, error


def _commit(
    task: ReportTask, nb: Any, error: BaseException | None, tmp_results: Path
) -> dict[str, Any]:
    """Write the report's files (or its failed copy) and return the record's status fields."""
    import nbformat

    paths = _outputs(task)
    title = _title(task)
    if error is None:
        headline: dict[str, Any] = {}
        if task.wants_results:
            results = json.loads(tmp_results.read_text(encoding="utf-8"))
            headline = results.get("headline", {}) if isinstance(results, dict) else {}
            paths["results"].parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_results, paths["results"])
        page = nbmod.to_html(nb, title)
        with io.atomic_open(paths["ipynb"]) as fh:
            nbformat.write(nb, fh)
        io.write_text(paths["html"], page)  # last: its presence marks a complete report
        for stale in ("failed_ipynb", "failed_html"):
            paths[stale].unlink(missing_ok=True)
        return {"status": "ok", "headline": headline, "html": paths["html"].name}
    with io.atomic_open(paths["failed_ipynb"]) as fh:
        nbformat.write(nb, fh)
    io.write_text(paths["failed_html"], nbmod.to_html(nb, f"FAILED {title}"))
    for stale in ("html", "ipynb", "results"):
        paths[stale].unlink(missing_ok=True)
    return {
        "status": "failed",
        "error": f"{getattr(error, 'ename', type(error).__name__)}: "
        f"{getattr(error, 'evalue', str(error))}",
        "html": f"failed/{paths['failed_html'].name}",
    }


def run_task_isolated(task: ReportTask) -> dict[str, Any]:
    """:func:`run_task` in a thread of its own, for Dask workers.

    A Dask worker runs tasks in a pool of long-lived threads; papermill's synchronous wrappers
    keep an event loop per thread, and a second report in the same thread can find that loop
    still marked running ("This event loop is already running"). A fresh thread per report has
    no such state.
    """
    import threading

    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(record=run_task(task)), daemon=True)
    thread.start()
    thread.join()
    return box["record"]


def _is_current(task: ReportTask, previous: dict[str, Any] | None) -> bool:
    if not previous or previous.get("status") != "ok":
        return False
    if previous.get("fingerprint") != task.fingerprint:
        return False
    paths = _outputs(task)
    needed = ["ipynb", "html"] + (["results"] if task.wants_results else [])
    return all(paths[k].is_file() for k in needed)


def _load_manifest(out_dir: Path) -> dict[str, Any]:
    """The previous ``run.json``; anything that is not a run record (``[]``, garbage, a record
    of the wrong shape) counts as no previous run, so every report runs again."""
    path = out_dir / "run.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    reports = doc.get("reports")
    if not isinstance(reports, dict):
        return {**doc, "reports": {}}
    ok = {k: r for k, r in reports.items() if isinstance(r, dict) and r.get("key") == k}
    return {**doc, "reports": ok}


def writable_dir(path: str | Path, what: str = "output folder") -> Path:
    """Create ``path`` if needed and check that files can be written in it.

    Raises
    ------
    SpecError
        One line: the path is a file, cannot be created or is not writable.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpecError(f"{what} {str(p)!r} exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with io.atomic_open(p / f".ucc-write-check-{os.getpid()}") as fh:
            fh.write("")
        (p / f".ucc-write-check-{os.getpid()}").unlink()
    except OSError as exc:
        raise SpecError(f"{what} {str(p)!r} is not writable: {exc.strerror or exc}") from None
    return p


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Refuse a Dask scheduler address that does not answer within ``timeout`` seconds.

    TCP addresses (``tcp://``, ``tls://`` or ``HOST:PORT``) are tried with a plain connection;
    other transports (``inproc://`` of an in-process cluster) are left to Dask.
    """
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp", "tls"):
        return
    target = rest
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError(f"scheduler address {address!r} must look like tcp://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise SpecError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s: {reason}"
        ) from None


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.lock`` for the run: a second run of the same folder is refused.

    The lock is an advisory ``flock``, released by the kernel when the process ends however it
    ends, so a killed run never leaves a stale lock behind.
    """
    import fcntl

    path = out_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise SpecError(
                f"{out_dir} is in use by another `ucc run` ({holder}); wait for it to finish "
                "or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _watch_parent(parent: int) -> None:
    """In a pool worker: when the run's process is gone, stop this worker and its kernels."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            try:
                import psutil

                for child in psutil.Process().children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
            finally:
                os._exit(1)


def _worker_init(parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _iter_local(tasks: list[ReportTask], jobs: int):
    if jobs <= 1 or len(tasks) <= 1:
        try:
            for t in tasks:
                yield run_task(t)
        finally:  # this process goes on after the run: its warm kernel does not
            from ucc_research.reports import kernels

            kernels.shutdown_all()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: the parent may hold pyarrow/BLAS thread pools that fork would copy
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)),
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(os.getpid(),),
    ) as pool:
        futures = {pool.submit(run_task, t): t for t in tasks}
        for fut in as_completed(futures):
            yield _result_or_failure(fut, futures[fut])


def _iter_dask(tasks: list[ReportTask], scheduler: str):
    from distributed import Client, as_completed

    with Client(scheduler, timeout=CONNECT_TIMEOUT) as client:
        futures = client.map(
            run_task_isolated, tasks, pure=False, key=[f"ucc-{t.stem}" for t in tasks]
        )
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        for fut in as_completed(futures):
            yield _result_or_failure(fut, by_key[fut.key])


def _result_or_failure(fut: Any, task: ReportTask) -> dict[str, Any]:
    try:
        return fut.result()
    except Exception as exc:  # the worker died or the task could not be shipped
        return {
            **_base_record(task),
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "html": None,
            "seconds": None,
        }


def _prepare_shared(study: Study, out_dir: Path, data_fp: str, force: bool):
    """``prepare_shared``, and the analyses that failed: ``(info or None, failures)``.

    ``prepare_shared`` raises :class:`AnalysisError` naming the analysis that raised; a declared
    "not applicable" is not a failure. Any other exception is a bug and propagates.
    """
    from ucc_research.reports import shared

    try:
        info = shared.prepare_shared(study, out_dir / "_shared", data_fp=data_fp, force=force)
    except AnalysisError as exc:  # the run fails: recorded, printed and shown, never hidden
        failure = {"section": exc.section, "error": exc.reason, "traceback": traceback.format_exc()}
        return None, [failure]
    return info, []


def export_tables(out_dir: Path, study: Study, shared_info: dict[str, Any]) -> list[Path]:
    """Write the study-level tables (``_shared/*.parquet``) as CSV and one Excel workbook.

    ``tables/<table>.csv`` (UTF-8 with BOM, so spreadsheet programs read accents) and
    ``tables/<study>.xlsx`` with one sheet per table, for reviewers without Python.
    """
    import pandas as pd

    from ucc_research.indicators.export import write_tables

    names = [
        f.removesuffix(".parquet")
        for c in shared_info.get("components", {}).values()
        if c.get("status") == "ok"
        for f in c.get("files", [])
        if f.endswith(".parquet")
    ]
    frames = {n: pd.read_parquet(out_dir / "_shared" / f"{n}.parquet") for n in sorted(names)}
    if not frames:  # a study whose analyses produced no table: no empty workbook
        return []
    return write_tables(out_dir / "tables", frames, study.name)


def run_study(
    study: Study | str | Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    only: Sequence[str] | None = None,
    force: bool = False,
    out: str | Path | None = None,
    progress: bool = True,
    kernel_name: str = nbmod.KERNEL_NAME,
    fresh_kernels: bool | None = None,
) -> RunSummary:
    """Run every report of a study; never stops at a failing report.

    Parameters
    ----------
    study : a :class:`Study`, a study file or the name of one in ``studies/``.
    jobs : reports run at once on the local process pool (default: the number of cores).
    scheduler : address of an existing Dask scheduler; the reports run there instead.
    only : run only these cities (cross-city reports run too).
    force : re-run reports even when their fingerprint is unchanged.
    out : output folder (default ``outputs/<study>``).
    progress : show a progress bar (tqdm) over the reports.
    kernel_name : the Jupyter kernel the notebooks run on (registered if missing).
    fresh_kernels : True: every report on a kernel of its own; False: on its worker's warm
        kernel (the same reports). Default (None): ``$UCC_FRESH_KERNELS`` (``1`` or ``0``), else
        warm when the workers have at least :data:`WARM_MIN_REPORTS` reports each (starting a
        kernel that imports the whole stack costs about as much as three fresh kernels), and
        always on Dask (its workers keep their kernels from run to run).

    Returns
    -------
    RunSummary
        ``.ok`` is False when any report or study-level analysis failed; ``.index`` is the
        ``index.html`` written.

    Raises
    ------
    StudyError, SpecError
        Before anything runs: a study with problems, impossible arguments, an output folder
        that cannot be written or is in use by another run, an unreachable scheduler.

    Examples
    --------
    Running the reports needs the prepared data (``ucc prepare``), a Jupyter kernel and
    minutes; ``summary.index`` is then the absolute path of ``outputs/demo/index.html``::

        summary = run_study("demo", jobs=2)
        summary.ok, summary.index
    """
    t0 = time.perf_counter()
    if not isinstance(study, Study):
        study = load_study(study)
    jobs = jobs or os.cpu_count() or 1
    if not 1 <= jobs <= MAX_JOBS:
        raise SpecError(f"--jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    if scheduler:
        check_scheduler(scheduler)
    check_study(study)  # every reference, notebook, parameter and city: nothing has run yet
    if only:
        missing = [c for c in only if c not in set(current_unit_ids(study))]
        if missing:
            raise SpecError(f"study {study.name!r}: --only names unknown cities {missing}")
    env = os.environ.get("UCC_FRESH_KERNELS", "").strip()
    if fresh_kernels is None and env in ("0", "1"):
        fresh_kernels = env == "1"
    opts = _RunOptions(jobs, scheduler, tuple(only or ()), force, progress, kernel_name)
    opts = dataclasses.replace(opts, warm=None if fresh_kernels is None else not fresh_kernels)
    out_dir = Path(out) if out else config.outputs_dir() / study.name
    out_dir = writable_dir(out_dir.resolve())
    with output_lock(out_dir):
        return _run_locked(study, out_dir, t0, opts)


@dataclass(frozen=True)
class _RunOptions:
    jobs: int
    scheduler: str | None
    only: tuple[str, ...]
    force: bool
    progress: bool
    kernel_name: str
    warm: bool | None = True  # None: warm when it pays (see run_study)


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _run_locked(study: Study, out_dir: Path, t0: float, opts: _RunOptions) -> RunSummary:
    from ucc_research.reports import index as index_mod
    from ucc_research.reports.inputs import prepare_inputs

    prepare_inputs(study)
    data_fp = data_fingerprint(study)
    base = {
        "study": study.name,
        "study_file": str(study.path),
        "package_version": __version__,
        "data_fingerprint": data_fp,
        "synthetic": study.synthetic,
        "jobs": opts.jobs,
        "scheduler": opts.scheduler,
        "started": _stamp(),
    }
    shared_info, failures = _prepare_shared(study, out_dir, data_fp, opts.force)
    manifest = {**base, "shared": shared_info, "analysis_failures": failures, "reports": {}}
    if failures:
        manifest.update(finished=_stamp(), seconds=round(time.perf_counter() - t0, 3))
        io.write_json(out_dir / "run.json", manifest)
        index_mod.write_index(out_dir / "index.html", study, manifest)
        return RunSummary(study.name, out_dir, {}, manifest["seconds"], analysis_failures=failures)
    # the reports depend on the inputs, the shared analyses and the package's code
    inputs_fp = hashlib.sha256(f"{shared_info['fingerprint']}:{code_fingerprint()}".encode())
    tasks, todo, records = _plan(study, out_dir, inputs_fp.hexdigest(), opts)
    manifest["reports"] = records
    manifest["warm_kernels"] = bool(todo) and todo[0].warm

    def save() -> None:
        io.write_json(out_dir / "run.json", manifest)

    save()
    export_tables(out_dir, study, shared_info)
    if todo:
        _run_reports(study, todo, records, save, opts)
    manifest.update(finished=_stamp(), seconds=round(time.perf_counter() - t0, 3))
    # keep the order of the study (cross-city first, then cities) whatever order they finished in
    manifest["reports"] = {t.key: records[t.key] for t in tasks if t.key in records}
    save()
    index_mod.write_index(out_dir / "index.html", study, manifest)
    return RunSummary(study.name, out_dir, manifest["reports"], manifest["seconds"])


def _plan(
    study: Study, out_dir: Path, inputs_fp: str, opts: _RunOptions
) -> tuple[list[ReportTask], list[ReportTask], dict[str, dict[str, Any]]]:
    """Every report, those to run now, and the records of those kept from the last run."""
    kw = {"data_fp": inputs_fp, "kernel_name": opts.kernel_name}
    tasks = build_tasks(study, out_dir, only=opts.only or None, **kw)
    selected = {t.key for t in tasks}
    if opts.only:  # the other cities stay listed with their previous reports
        tasks = build_tasks(study, out_dir, **kw)
    nbmod.ensure_kernel(opts.kernel_name)
    _KERNEL_READY.add(opts.kernel_name)
    # leftovers of a killed run (this folder is locked: no other run is writing them)
    for leftover in (out_dir / ".staging").glob("*"):
        leftover.unlink(missing_ok=True)
    previous = _load_manifest(out_dir).get("reports", {})
    todo = [
        t
        for t in tasks
        if t.key in selected and (opts.force or not _is_current(t, previous.get(t.key)))
    ]
    records = {
        t.key: dict(previous[t.key], reused=True)
        for t in tasks
        if t not in todo and t.key in previous
    }
    warm = opts.warm
    if warm is None:
        warm = bool(opts.scheduler) or len(todo) >= WARM_MIN_REPORTS * min(opts.jobs, len(todo))
    todo = [dataclasses.replace(t, warm=warm) for t in todo]
    return tasks, todo, records


def _run_reports(
    study: Study,
    todo: list[ReportTask],
    records: dict[str, dict[str, Any]],
    save: Any,
    opts: _RunOptions,
) -> None:
    """Run ``todo`` on the pool or on Dask, recording (and saving) each report as it ends."""
    from tqdm.auto import tqdm

    if opts.scheduler:
        results = _iter_dask(todo, opts.scheduler)
    else:
        results = _iter_local(todo, opts.jobs)
    bar = tqdm(
        total=len(todo), desc=f"{study.name} reports", unit="report", disable=not opts.progress
    )
    for record in results:
        record["reused"] = False
        records[record["key"]] = record
        save()  # after every report: a killed run keeps what it finished
        bar.update(1)
        if record["status"] == "failed":
            bar.write(f"failed: {record['key']}: {record.get('error', '')[:200]}")
    bar.close()


def cli_run(args: Any) -> int:
    """``ucc run STUDY [--jobs N] [--scheduler ADDRESS] [--only CITY ...] [--force] [--out DIR]
    [--fresh-kernels]``.

    Exit status 0 when every report and study-level analysis succeeded, 1 when any failed
    (they are listed), 2 for a study or arguments refused before anything ran.
    """
    scheduler = args.scheduler or os.environ.get("UCC_DASK_SCHEDULER") or None
    summary = run_study(
        args.study,
        jobs=args.jobs,
        scheduler=scheduler,
        only=args.only,
        force=args.force,
        out=args.out,
        fresh_kernels=True if getattr(args, "fresh_kernels", False) else None,
    )
    for f in summary.analysis_failures:
        print(f"{summary.study}: FAILED study-level analysis {f['section']!r}: {f['error']}")
    if summary.analysis_failures:
        print(f"{summary.study}: no report was run; see {summary.out_dir / 'run.json'}")
        print(f"index: {summary.index}")
        return 1
    n = len(summary.records)
    reused = sum(1 for r in summary.records.values() if r.get("reused"))
    print(
        f"{summary.study}: {n - len(summary.failed)}/{n} reports ok "
        f"({reused} unchanged, reused) in {summary.seconds:.1f} s"
    )
    for r in summary.failed:
        where = summary.out_dir / r["html"] if r.get("html") else summary.out_dir / "run.json"
        print(f"  FAILED {r['key']}: {r.get('error', '')[:300]}\n         see {where}")
    print(f"tables: {summary.out_dir / 'tables'}")
    print(f"index: {summary.index}")
    return 0 if summary.ok else 1


def cli_study_check(args: Any) -> int:
    """``ucc study check STUDY``: exit 0 and a summary, or 1 and one line per problem."""
    try:
        study = load_study(args.study)
        summary = check_study(study)
    except StudyError as exc:
        for line in exc.problems:
            print(line)
        print(f"INVALID: {len(exc.problems)} problem(s); nothing was run")
        return 1
    print(f"{study.path}: OK")
    for line in summary:
        print(f"  {line}")
    return 0


def cli_study_prepare(args: Any) -> int:
    """``ucc study prepare STUDY``: read, validate and write the study's own inputs."""
    from ucc_research.reports.inputs import format_quality, prepare_inputs

    study = load_study(args.study)
    records = prepare_inputs(study, force=args.force)
    if not records:
        print(f"{study.path}: the study names no inputs")
        return 0
    print(format_quality(records))
    print(f"written to {study.inputs_dir}")
    return 0


def cli_study_schema(args: Any) -> int:
    """``ucc study schema``: print the study schema as Markdown (docs/study_schema.md)."""
    from ucc_research.reports.study import schema_markdown

    print(schema_markdown(), end="")
    return 0


__all__ = [
    "ReportTask",
    "RunSummary",
    "build_tasks",
    "check_scheduler",
    "cli_run",
    "export_tables",
    "output_lock",
    "run_study",
    "run_task",
    "writable_dir",
]
