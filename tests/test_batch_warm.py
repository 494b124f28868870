"""Warm kernels in `ucc run`: nothing leaks from one report to the next, a crashed or hung kernel is
replaced, papermill's parameters and error cell stay, and warm and fresh kernels give the same
reports (the shipped notebooks on the tiny demo of tests/conftest.py).

The notebooks here are small stand-ins run in a known order on one worker (``jobs=1``: the
cross-city notebooks of a study run one after another on the same kernel).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from tests.test_runner import notebook_file
from ucc_research.reports import kernels
from ucc_research.reports.runner import run_study

PARAMS = 'study: str = ""\nresults_path: str = ""\nshared_dir: str = ""'

# Everything a notebook can change in its kernel that a fresh kernel would not have.
DIRTY = """\
%matplotlib inline
import logging, os, random, sys, warnings
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
sys.path.insert(0, os.path.dirname(study))
import ucc_leaky_module  # a notebook's own module, from its folder
from matplotlib_inline.backend_inline import set_matplotlib_formats
set_matplotlib_formats("svg")
LEAK = 42
plt.rcParams["lines.linewidth"] = 7.5
plt.figure()
pd.set_option("display.max_rows", 3)
np.set_printoptions(precision=2)
np.seterr(all="raise")
np.random.seed(0)
random.seed(0)
warnings.simplefilter("error")
logging.getLogger().setLevel(logging.DEBUG)
logging.getLogger("ucc_leak").addHandler(logging.NullHandler())
os.environ["UCC_LEAK"] = "1"
os.chdir("/")
get_ipython().events.register("post_execute", lambda: None)
sys.setrecursionlimit(12345)
with open(results_path, "w") as fh:
    fh.write("{}")
"""

PROBE = """\
%matplotlib inline
import importlib, json, logging, os, random, sys, warnings
for name in PRELOAD:  # the stack, imported by a fresh kernel as a warm one did at its start
    importlib.import_module(name)
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import ucc_research.reports.kernels as _k
sys.path.insert(0, os.path.dirname(study))
import ucc_leaky_module
state = json.loads(_k._kernel_probe())
state.update(
    leak="LEAK" in globals(),
    linewidth=plt.rcParams["lines.linewidth"],
    figures=plt.get_fignums(),
    max_rows=pd.get_option("display.max_rows"),
    precision=np.get_printoptions()["precision"],
    seterr=np.geterr(),
    np_draw=float(np.random.rand()),
    draw=random.random(),
    root_level=logging.getLogger().level,
    leak_handlers=len(logging.getLogger("ucc_leak").handlers),
    env="UCC_LEAK" in os.environ,
    post_execute=len(get_ipython().events.callbacks["post_execute"]),
    svg=any("Figure" in str(t) for t in
            get_ipython().display_formatter.formatters["image/svg+xml"].type_printers),
    recursion=sys.getrecursionlimit(),
    module_value=ucc_leaky_module.VALUE,
    pid=os.getpid(),
)
with open(results_path, "w") as fh:
    json.dump(state, fh)
"""


def _notebook(path: Path, code: str) -> Path:
    return notebook_file(path, PARAMS, code.replace("PRELOAD", repr(kernels.PRELOAD)))


@pytest.fixture
def make_study(tmp_path, monkeypatch):
    """A study of cross-city notebooks ``{name: code}``, run in the order given."""
    processed = tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(processed))
    monkeypatch.setenv("UCC_OUTPUTS_DIR", str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"city_id": ["A"]}).to_parquet(processed / "units.parquet")

    def make(notebooks: dict[str, str], **extra) -> Path:
        names = [str(_notebook(tmp_path / f"{n}.ipynb", code)) for n, code in notebooks.items()]
        doc = {
            "name": "warm",
            "title": "Warm kernels",
            "synthetic": True,
            "tables": ["units"],
            "units": {"table": "units", "column": "city_id"},
            "notebooks": {"cross_city": names},
            **extra,
        }
        path = tmp_path / "warm.yml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return path

    return make


def _results(summary, stem: str) -> dict:
    return json.loads((summary.out_dir / "results" / f"{stem}.json").read_text("utf-8"))


def test_nothing_leaks_from_one_report_to_the_next(make_study, tmp_path):
    (tmp_path / "ucc_leaky_module.py").write_text("VALUE = 1\n")
    fresh_run = run_study(
        make_study({"probe": PROBE}), jobs=1, progress=False, force=True, fresh_kernels=True
    )
    assert fresh_run.ok, fresh_run.failed
    fresh = _results(fresh_run, "probe")
    summary = run_study(
        make_study({"dirty": DIRTY, "probe": PROBE}), jobs=1, progress=False, fresh_kernels=False
    )
    assert summary.ok, summary.failed
    warm = _results(summary, "probe")
    assert summary.out_dir == fresh_run.out_dir

    # the three: a global, a matplotlib rcParam, a pandas option; and the rest
    assert warm["leak"] is False
    assert warm["linewidth"] == fresh["linewidth"] == 1.5
    assert warm["max_rows"] == fresh["max_rows"] == 60
    assert warm["figures"] == [] and warm["precision"] == 8
    assert warm["seterr"] == fresh["seterr"] and warm["seterr"]["divide"] == "warn"
    assert warm["root_level"] == fresh["root_level"] and warm["leak_handlers"] == 0
    assert not warm["env"] and warm["recursion"] == fresh["recursion"]
    assert warm["post_execute"] == fresh["post_execute"]
    assert warm["svg"] is fresh["svg"] is False  # the svg figures asked for are gone
    assert warm["cwd"] == fresh["cwd"] == str(summary.out_dir)
    # the global random states are re-seeded from the OS, not left at the previous seed
    import random as pyrandom

    import numpy as np

    assert warm["np_draw"] != np.random.RandomState(0).rand()
    assert warm["draw"] != pyrandom.Random(0).random()
    # a reset kernel looks like a fresh one, option by option
    for key in ("user_ns", "path", "rc", "pandas", "np_print", "warnings", "execution_count"):
        assert warm[key] == fresh[key], key
    assert warm["environ"] == fresh["environ"]
    assert warm["module_value"] == fresh["module_value"] == 1


@pytest.mark.slow
def test_a_changed_module_of_the_notebook_is_imported_again(make_study, tmp_path):
    module = tmp_path / "ucc_leaky_module.py"
    module.write_text("VALUE = 1\n")
    bump = "import pathlib\npathlib.Path(results_path).write_text('{}')\n"
    bump = (
        "import os, sys\nsys.path.insert(0, os.path.dirname(study))\n"
        "import ucc_leaky_module\nassert ucc_leaky_module.VALUE == 1\n"
        f"open({str(module)!r}, 'w').write('VALUE = 3\\n')\n" + bump
    )
    study = make_study({"first": bump, "probe": PROBE})
    summary = run_study(study, jobs=1, progress=False, fresh_kernels=False)
    assert summary.ok, summary.failed
    assert _results(summary, "probe")["module_value"] == 3


PID = "import json, os\njson.dump({'pid': os.getpid()}, open(results_path, 'w'))\n"


@pytest.mark.slow
def test_a_crashed_or_hung_kernel_is_replaced_and_the_others_go_on(make_study):
    study = make_study(
        {
            "before": PID,
            "crash": "import os\nos._exit(1)\n",
            "after_crash": PID,
            "hang": "import time\ntime.sleep(60)\n",
            "after_hang": PID,
            "cell_error": "raise ValueError('a cell error')\n",
            "after_error": PID,
        },
        report_timeout=5,
    )
    t0 = time.monotonic()
    summary = run_study(study, jobs=1, progress=False, fresh_kernels=False)
    assert time.monotonic() - t0 < 55  # the hung report was stopped at its limit
    rec = {r["notebook"]: r for r in summary.records.values()}
    assert {n: r["status"] for n, r in rec.items()} == {
        "before": "ok",
        "crash": "failed",
        "after_crash": "ok",
        "hang": "failed",
        "after_hang": "ok",
        "cell_error": "failed",
        "after_error": "ok",
    }
    assert rec["crash"]["error"].startswith("DeadKernelError"), rec["crash"]
    assert rec["hang"]["error"].startswith("ReportTimeout: the report ran longer than its limit")
    assert "ValueError: a cell error" in rec["cell_error"]["error"]
    pid = {n: _results(summary, n)["pid"] for n in ("before", "after_crash", "after_hang")}
    pid["after_error"] = _results(summary, "after_error")["pid"]
    assert len({pid["before"], pid["after_crash"], pid["after_hang"]}) == 3  # new kernels
    assert pid["after_error"] == pid["after_hang"]  # a cell error keeps the (reset) kernel
    state = {n: r["timings"]["kernel_state"] for n, r in rec.items()}
    assert state["after_crash"] == state["after_hang"] == "started"
    assert state["cell_error"] == state["after_error"] == "reused"
    for name in ("crash", "hang", "cell_error"):
        assert (summary.out_dir / "failed" / f"{name}.html").is_file()


def _cells(path: Path) -> list[tuple[str, list[str], str]]:
    nb = nbformat.read(str(path), as_version=4)
    # each attempt writes its results under a name of its own
    return [
        (
            c.cell_type,
            c.metadata.get("tags", []),
            re.sub(r"\.[0-9a-f]{12}\.json", ".json", c.source),
        )
        for c in nb.cells
    ]


def test_parameters_and_the_error_cell_are_papermills_with_warm_and_fresh_kernels(make_study):
    code = "x = 1\nraise ValueError('boom for ' + study)\n"
    study = make_study({"boom": code})
    failed = {}
    for warm in (True, False):
        summary = run_study(study, jobs=1, progress=False, force=True, fresh_kernels=not warm)
        (record,) = summary.records.values()
        assert record["status"] == "failed" and "ValueError: boom for " in record["error"]
        failed[warm] = _cells(summary.out_dir / "failed" / "boom.ipynb")
    cells = failed[True]
    assert cells == failed[False]
    kind, tags, banner = cells[0]
    assert "ucc-error" in tags and "This report failed" in banner and "boom for" in banner
    assert any("papermill-error-cell-tag" in t for _, t, _ in cells)  # papermill's own link
    injected = [src for _, t, src in cells if "injected-parameters" in t]
    assert len(injected) == 1 and f"study = {str(study)!r}".replace("'", '"') in injected[0]


def _kernel_orphans(since: float) -> list[int]:
    import psutil

    venv = str(Path(sys.executable).parent)
    found = []
    for p in psutil.process_iter(["pid", "ppid", "cmdline", "create_time"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "ipykernel" in cmd and venv in cmd and p.info["create_time"] >= since:
            if p.info["ppid"] == 1:
                found.append(p.info["pid"])
    return found


@pytest.mark.slow
def test_pool_workers_shut_their_kernels_down_at_exit(make_study):
    since = time.time()
    study = make_study({f"r{i}": PID for i in range(4)})
    summary = run_study(study, jobs=2, progress=False, fresh_kernels=False)
    assert summary.ok
    pids = {_results(summary, f"r{i}")["pid"] for i in range(4)}
    assert len(pids) <= 2  # two workers, a kernel each: four reports
    states = [r["timings"]["kernel_state"] for r in summary.records.values()]
    assert states.count("started") == len(pids) and states.count("reused") == 4 - len(pids)
    time.sleep(1)
    assert not _kernel_orphans(since)
    import psutil

    assert not [p for p in pids if psutil.pid_exists(p)]


def _comparable_html(page: str, out_dir: Path) -> str:
    page = page.replace(str(out_dir), "<out>")
    # papermill gives the cell it injects a new random id in every run, warm or fresh
    return re.sub(r"cell-id=[0-9a-f]{8}", "cell-id", page)


def test_warm_and_fresh_kernels_give_the_same_reports(demo_reports, tmp_path, monkeypatch):
    """The shipped notebooks (demo_reports ran them warm, two workers): the same numbers and
    HTML on a kernel per report."""
    warm, _ = demo_reports
    root = warm.out_dir.parents[1]
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(root / "processed"))
    out = tmp_path / "fresh"
    shutil.copytree(warm.out_dir / "_shared", out / "_shared")  # computed once, not compared
    fresh = run_study(root / "demo.yml", jobs=2, progress=False, out=out, fresh_kernels=True)
    assert fresh.ok and warm.ok
    assert json.loads((warm.out_dir / "run.json").read_text())["warm_kernels"] is True
    assert json.loads((out / "run.json").read_text())["warm_kernels"] is False
    assert fresh.records.keys() == warm.records.keys()
    for key, record in warm.records.items():
        stem = record["stem"]
        a = (warm.out_dir / "results" / f"{stem}.json").read_text("utf-8")
        b = (out / "results" / f"{stem}.json").read_text("utf-8")
        assert a.replace(str(warm.out_dir), "<out>") == b.replace(str(out), "<out>"), key
        html_a = (warm.out_dir / f"{stem}.html").read_text("utf-8")
        html_b = (out / f"{stem}.html").read_text("utf-8")
        assert _comparable_html(html_a, warm.out_dir) == _comparable_html(html_b, out), key
    assert os.listdir(out / "results")


@pytest.mark.slow
def test_by_default_warm_kernels_only_where_they_pay(make_study, monkeypatch):
    monkeypatch.delenv("UCC_FRESH_KERNELS", raising=False)
    runs = {}
    for n in (2, 3):  # reports on one worker: below and at WARM_MIN_REPORTS
        summary = run_study(make_study({f"r{i}": PID for i in range(n)}), jobs=1, progress=False)
        manifest = json.loads((summary.out_dir / "run.json").read_text("utf-8"))
        states = [r["timings"]["kernel_state"] for r in summary.records.values()]
        runs[n] = (manifest["warm_kernels"], states)
    assert runs[2] == (False, ["fresh", "fresh"])
    assert runs[3] == (True, ["started", "reused", "reused"])
    monkeypatch.setenv("UCC_FRESH_KERNELS", "1")  # the switch wins over the rule
    summary = run_study(make_study({f"r{i}": PID for i in range(3)}), jobs=1, progress=False)
    assert [r["timings"]["kernel_state"] for r in summary.records.values()] == ["fresh"] * 3
