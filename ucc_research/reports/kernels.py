"""Warm kernels for ``ucc run``: one long-lived kernel per worker, a clean state per report.

Starting a kernel (~0.6 s) and importing pandas, matplotlib and the package (~1 s) used to be
paid again by every report. Here each worker keeps one kernel that has imported the stack
(:data:`PRELOAD`) and runs its share of the notebooks in it, through papermill's engine
interface (engine :data:`ENGINE`), so papermill's parameter injection, error cell and output
notebook are those of a fresh kernel.

Before every notebook the kernel is put back to the state it had when it was started
(:func:`_kernel_reset`, run inside the kernel): IPython's user namespace, history and output
cache (a new session, execution counts from 1); matplotlib's figures, rcParams and the inline
backend's figure formats; pandas options; numpy print and error options; the global random
states of ``numpy`` and ``random`` (re-seeded from the OS, as a fresh process is); warnings
filters and the "shown once" registries; logging levels and handlers; ``sys.path``; the
environment (the worker's, as a fresh kernel would inherit it); the working folder; IPython's
event callbacks; and modules a notebook imported from outside the installed packages (they are
imported again from their files). The package's own caches are keyed by value (no file is cached
by name), and a worker whose package source changed since its kernel started gets a new kernel.

A kernel that dies, or whose report ran past its time limit, is shut down and replaced by a
fresh one; a report whose cell raised keeps the kernel (its state is reset like any other).

Workers keep their kernels in :class:`KernelSlot` objects: each slot owns a thread with its own
event loop, so a kernel is always driven from one thread, whether the worker is a process of the
local pool (one slot) or a Dask worker running reports in several threads (a slot per thread
that needs one). Kernels are shut down when the worker exits; the pool's parent watch kills them
with the worker when the run's process dies.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

#: Name of the papermill engine that runs a notebook on a :class:`WarmKernel`.
ENGINE = "ucc_warm"

#: Modules a warm kernel imports before its first report: what the report notebooks import,
#: directly or inside the section functions (their import-time warnings filters and options
#: are then part of the state every report starts from, as after its own imports).
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "matplotlib",
    "matplotlib.pyplot",
    "scipy.optimize",
    "scipy.stats",
    "statsmodels.api",
    "ucc_research.reports.city",
    "ucc_research.reports.common",
    "ucc_research.reports.context",
    "ucc_research.reports.display",
    "ucc_research.reports.quality",
    "ucc_research.reports.robustness",
    "ucc_research.reports.transfer",
    "ucc_research.reports.what_works",
)

#: Seconds a kernel may take to start and import :data:`PRELOAD`, and a reset may take.
START_TIMEOUT = 120.0
RESET_TIMEOUT = 60.0

T = TypeVar("T")


class KernelError(RuntimeError):
    """A warm kernel that could not start, or whose reset failed (it is then replaced)."""


# ----------------------------------------------------------------------------------------------
# Inside the kernel: capture the state once after the imports, restore it before every report.
# ----------------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _loggers() -> dict[str, Any]:
    import logging

    found: dict[str, Any] = {"": logging.getLogger()}
    for name, lg in logging.Logger.manager.loggerDict.items():
        if isinstance(lg, logging.Logger):
            found[name] = lg
    return found


def _pandas_options() -> dict[str, Any]:
    import pandas as pd

    return {key: pd.get_option(key) for key in pd._config.config._registered_options}


def _module_call(call: str) -> str:
    """Code calling this module's ``call`` in the kernel, without a name in its namespace."""
    return f"__import__({__name__!r}, fromlist=['_']).{call}"


def _kernel_start(preload: list[str]) -> None:
    """In a new kernel: import ``preload``, run ``%matplotlib inline``, remember the state."""
    import gc
    import importlib
    import logging
    import sys
    import warnings

    from IPython import get_ipython

    for name in preload:
        importlib.import_module(name)
    shell = get_ipython()
    if "matplotlib.pyplot" in sys.modules and "inline" in os.environ.get("MPLBACKEND", ""):
        # what every report's first cell does (and pyplot does at the first figure): the state
        # after it is the one to keep, so that each report's own magic finds it set up
        shell.run_line_magic("matplotlib", "inline")
    import matplotlib
    import numpy as np

    _STATE.update(
        modules=set(sys.modules),
        path=list(sys.path),
        warnings=list(warnings.filters),
        recursion=sys.getrecursionlimit(),
        rc=dict(matplotlib.rcParams),
        pandas=_pandas_options() if "pandas" in sys.modules else {},
        np_print=np.get_printoptions(),
        np_err=np.geterr(),
        loggers={
            name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
            for name, lg in _loggers().items()
        },
        log_disable=logging.root.manager.disable,
        events={name: list(cbs) for name, cbs in shell.events.callbacks.items()},
        inline=_inline_formats(),
        matplotlib_interactive=matplotlib.is_interactive(),
        attributes=[(obj, name, getattr(obj, name, _MISSING)) for obj, name in _attributes()],
    )
    # the imported stack is permanent: the full collection of every reset skips it (0.2 s less)
    gc.collect()
    gc.freeze()


_MISSING = object()


def _attributes() -> list[tuple[Any, str]]:
    """Objects' attributes that ``%matplotlib inline`` sets once per kernel (IPython's and
    pyplot's flags and wrappers): put back so that every report's own magic sets them again."""
    import sys

    from IPython import get_ipython

    shell = get_ipython()
    found: list[tuple[Any, str]] = [(shell, "pylab_gui_select")]
    execution = shell.magics_manager.registry.get("ExecutionMagics")
    if execution is not None:
        found.append((execution, "default_runner"))
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        found += [(plt, "draw_if_interactive"), (plt, "_REPL_DISPLAYHOOK"), (plt.show, "_needmain")]
    return found


def _inline_formats() -> tuple[Any, Any] | None:
    import sys

    if "matplotlib_inline.backend_inline" not in sys.modules:
        return None
    from matplotlib_inline.config import InlineBackend

    cfg = InlineBackend.instance()
    return set(cfg.figure_formats), dict(cfg.print_figure_kwargs)


def _own_module(module: Any, keep: tuple[str, ...]) -> bool:
    """True for a module loaded from outside the installed packages (a notebook's own code)."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return not os.path.abspath(file).startswith(keep)


def _kernel_reset(cwd: str, environ: dict[str, str]) -> None:
    """In a warm kernel, before a report: put back the state :func:`_kernel_start` captured."""
    import logging
    import random
    import sys
    import warnings

    import matplotlib
    import numpy as np
    from IPython import get_ipython

    shell = get_ipython()
    shell.reset(new_session=True)  # user namespace, history, output cache, execution count
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    sys.path[:] = _STATE["path"]
    keep = tuple(
        os.path.abspath(p) + os.sep
        for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).parents[1])}
    )
    for name in [n for n in sys.modules if n not in _STATE["modules"]]:
        if _own_module(sys.modules[name], keep):
            del sys.modules[name]
    sys.setrecursionlimit(_STATE["recursion"])
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    dict.update(matplotlib.rcParams, _STATE["rc"])  # as matplotlib's own rc_context restores
    matplotlib.interactive(_STATE["matplotlib_interactive"])
    for obj, name, value in _STATE["attributes"]:
        if value is _MISSING:
            if hasattr(obj, name):
                delattr(obj, name)
        else:
            setattr(obj, name, value)
    if _STATE["inline"] is not None:
        from matplotlib_inline.backend_inline import select_figure_formats
        from matplotlib_inline.config import InlineBackend

        formats, kwargs = _STATE["inline"]
        cfg = InlineBackend.instance()
        cfg.figure_formats, cfg.print_figure_kwargs = set(formats), dict(kwargs)
        select_figure_formats(shell, formats, **kwargs)
    if "pandas" in sys.modules:
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated options warn when set
            for key, value in _STATE["pandas"].items():
                if pd.get_option(key) != value:
                    pd.set_option(key, value)
    np.set_printoptions(**_STATE["np_print"])
    np.seterr(**_STATE["np_err"])
    np.random.seed()  # noqa: NPY002  (the legacy global state, from the OS as a fresh process)
    random.seed()
    warnings.resetwarnings()  # also forgets which warnings were shown "once"
    warnings.filters[:] = _STATE["warnings"]
    logging.disable(_STATE["log_disable"])
    saved = _STATE["loggers"]
    for name, lg in _loggers().items():
        level, handlers, propagate, disabled = saved.get(name, (logging.NOTSET, [], True, False))
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate, lg.disabled = propagate, disabled
    for name, callbacks in shell.events.callbacks.items():
        callbacks[:] = _STATE["events"].get(name, [])


def _kernel_probe() -> str:
    """The kernel's state as JSON (for tests: a reset kernel must look like a fresh one)."""
    import sys
    import warnings

    import matplotlib
    import numpy as np
    from IPython import get_ipython

    shell = get_ipython()
    return json.dumps(
        {
            "user_ns": sorted(k for k in shell.user_ns if not k.startswith("_")),
            "cwd": os.getcwd(),
            "environ": dict(os.environ),
            "path": sys.path,
            "rc": {k: repr(v) for k, v in matplotlib.rcParams.items()},
            "pandas": {k: repr(v) for k, v in _pandas_options().items()},
            "np_print": repr(np.get_printoptions()),
            "warnings": repr(warnings.filters),
            "execution_count": shell.execution_count,
        }
    )


# ----------------------------------------------------------------------------------------------
# In the worker: the kernel, its slot (a thread with an event loop) and the papermill engine.
# ----------------------------------------------------------------------------------------------


class WarmKernel:
    """A kernel that has imported :data:`PRELOAD` and runs reports one after another.

    Create, use and shut it down from one thread (its :class:`KernelSlot`): its client's
    sockets belong to that thread's event loop.

    Parameters
    ----------
    kernel_name : the Jupyter kernel spec (``ucc_research``).
    cwd : the working folder it starts in.
    preload : modules imported once, before the first report.
    """

    def __init__(
        self, kernel_name: str, cwd: str | Path, preload: tuple[str, ...] = PRELOAD
    ) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.kernel_name = kernel_name
        self.identity = _identity(kernel_name)
        self.km = AsyncKernelManager(kernel_name=kernel_name)
        self.kc: Any = None
        self.reports = 0
        worker_env = dict(os.environ)
        # the same history setting nbclient gives the kernels it starts
        run_sync(self.km.start_kernel)(
            extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(cwd)
        )
        try:
            self.kc = self.km.client()
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=START_TIMEOUT)
            self.kc.allow_stdin = False
            # in a cell (not in the expression): imports see the kernel as a notebook does
            env = json.loads(
                self.evaluate(
                    "__import__('json').dumps(dict(__import__('os').environ))",
                    setup=_module_call(f"_kernel_start({list(preload)!r})"),
                    timeout=START_TIMEOUT,
                )
            )
        except BaseException:
            self.shutdown()
            raise
        # what the kernel adds to the environment it inherits (MPLBACKEND, ...), kept per report
        self.added_env = {k: v for k, v in env.items() if worker_env.get(k) != v}

    def evaluate(self, expression: str, *, setup: str = "", timeout: float = RESET_TIMEOUT) -> Any:
        """Run ``setup`` silently, then return the value of ``expression`` (a Python literal)."""
        from jupyter_core.utils import run_sync

        return run_sync(self._evaluate)(expression, setup, timeout)

    async def _evaluate(self, expression: str, setup: str, timeout: float) -> Any:
        import time

        msg_id = self.kc.execute(
            setup,
            silent=True,
            store_history=False,
            user_expressions={"value": expression},
            allow_stdin=False,
        )
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not await self.km.is_alive():
                raise KernelError(f"kernel {self.kernel_name!r} did not answer within {timeout} s")
            try:
                reply = await self.kc.get_shell_msg(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        value = content.get("user_expressions", {}).get("value", {})
        for part in (content, value):
            if part.get("status") == "error":
                raise KernelError(
                    f"kernel {self.kernel_name!r}: {part.get('ename')}: {part.get('evalue')}"
                )
        return ast.literal_eval(value["data"]["text/plain"])  # the value's repr

    def reset(self, cwd: str | Path) -> None:
        """Give the next report the state of a fresh kernel started in ``cwd``."""
        environ = {**os.environ, **self.added_env}
        self.evaluate(
            "0",
            setup=_module_call(f"_kernel_reset({str(cwd)!r}, {environ!r})"),
        )

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return bool(run_sync(self.km.is_alive)())

    def shutdown(self) -> None:
        """Stop the kernel (at once: it holds nothing worth a graceful end) and its channels."""
        from jupyter_core.utils import run_sync

        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km.has_kernel:
            run_sync(self.km.shutdown_kernel)(now=True)
        run_sync(self.km.cleanup_resources)()


def _identity(kernel_name: str) -> tuple[str, str, str]:
    """What a warm kernel must share with the report: its kernel spec, the package's source
    (a changed analysis needs new imports) and ``PYTHONPATH`` (it fixes ``sys.path``)."""
    from ucc_research.reports.runner import code_fingerprint

    return kernel_name, code_fingerprint(), os.environ.get("PYTHONPATH", "")


class KernelSlot:
    """A thread that owns at most one :class:`WarmKernel` and runs jobs on it in turn."""

    def __init__(self) -> None:
        self.kernel: WarmKernel | None = None
        self.closed = False
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="ucc-kernel-slot", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            job, box, done = self._jobs.get()
            try:
                box["value"] = job(self)
            except BaseException as exc:  # handed back to the caller's thread, raised there
                box["error"] = exc
            finally:
                done.set()
            if job is _stop:
                return

    def call(self, job: Callable[[KernelSlot], T], timeout: float | None = None) -> T:
        """Run ``job(slot)`` in the slot's thread and return its value (or raise its error)."""
        box: dict[str, Any] = {}
        done = threading.Event()
        self._jobs.put((job, box, done))
        if not done.wait(timeout):
            raise KernelError(f"kernel slot busy for more than {timeout} s")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def kernel_for(self, kernel_name: str, cwd: str | Path) -> WarmKernel:
        """The slot's kernel, reset for a report in ``cwd``; started or replaced when needed.

        Call from the slot's thread (inside a job).
        """
        k = self.kernel
        if k is not None and (k.identity != _identity(kernel_name) or not k.alive()):
            self.discard()
        if self.kernel is None:
            self.kernel = WarmKernel(kernel_name, cwd)
        try:
            self.kernel.reset(cwd)
        except KernelError:  # a kernel that cannot be reset is replaced, once
            self.discard()
            self.kernel = WarmKernel(kernel_name, cwd)
            self.kernel.reset(cwd)
        return self.kernel

    def kill(self) -> None:
        """Kill the kernel's process at once, from any thread (the slot's may be stuck)."""
        import signal

        k = self.kernel
        pid = getattr(getattr(k.km, "provisioner", None), "pid", None) if k else None
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def discard(self) -> None:
        """Shut the kernel down; the next report gets a fresh one. From the slot's thread."""
        k, self.kernel = self.kernel, None
        if k is not None:
            k.shutdown()


def _stop(slot: KernelSlot) -> None:
    slot.discard()


_IDLE: list[KernelSlot] = []
_ALL: list[KernelSlot] = []
_LOCK = threading.Lock()


def run_in_slot(job: Callable[[KernelSlot], T]) -> T:
    """Run ``job(slot)`` on an idle slot of this process (a new one if all are busy)."""
    with _LOCK:
        if _IDLE:
            slot = _IDLE.pop()
        else:
            slot = KernelSlot()
            if not _ALL:
                atexit.unregister(shutdown_all)
                atexit.register(shutdown_all)
            _ALL.append(slot)
    try:
        return slot.call(job)
    finally:
        with _LOCK:
            if not slot.closed:  # shut down meanwhile: its thread ends after this job
                _IDLE.append(slot)


def shutdown_all(timeout: float = 10.0) -> None:
    """Shut down every warm kernel of this process (when a run or the process ends).

    A slot still busy after ``timeout`` seconds (a run interrupted mid-report) has its kernel
    killed from here: kernels run in a session of their own, so nothing else would stop them.
    """
    with _LOCK:
        slots = list(_ALL)
        _ALL.clear()
        _IDLE.clear()
    for s in slots:
        s.closed = True
        try:
            s.call(_stop, timeout=timeout)
        except KernelError:
            s.kill()


def register_engine() -> None:
    """Register :data:`ENGINE` with papermill (idempotent)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import Engine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    if ENGINE in papermill_engines._engines:
        return

    class WarmEngine(Engine):
        """papermill's nbclient engine, on the worker's :class:`WarmKernel` (``warm_kernel=``)."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            warm_kernel=None,
            **kwargs,
        ):
            if warm_kernel is None:
                raise KernelError(f"papermill engine {ENGINE!r} needs warm_kernel=")
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, km=warm_kernel.km, **final_kwargs)
            client.kc = warm_kernel.kc  # the kernel's own client: not stopped after the notebook
            warm_kernel.reports += 1
            return client.execute()

    papermill_engines.register(ENGINE, WarmEngine)


__all__ = [
    "ENGINE",
    "PRELOAD",
    "KernelError",
    "KernelSlot",
    "WarmKernel",
    "register_engine",
    "run_in_slot",
    "shutdown_all",
]
