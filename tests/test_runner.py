"""The batch runner (`ucc run`) on a tiny notebook: failures, resume, kills, hostile names, Dask.

The notebook here is a stand-in for the real reports (those are tested in test_notebooks.py):
it records the city it was given and fails for one city, so every property of the runner can
be checked in a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from ucc_research import cli
from ucc_research.errors import SpecError
from ucc_research.reports import notebook as nbmod
from ucc_research.reports.index import render_index
from ucc_research.reports.runner import run_study
from ucc_research.reports.study import load_study

HOSTILE = [
    '\'"); import os; os.system("touch PWNED") #',
    "<script>alert(1)</script>",
    "../../evil",
    "Київ",
]
UNITS = ["BOOM", *HOSTILE]

TOY_CODE = """\
import json, os, time
from IPython.display import HTML, display
import html as _html
if city == "BOOM":
    raise ValueError("boom for " + city)
if city == "SLOW" and os.path.exists(marker):
    with open(results_path, "w", encoding="utf-8") as fh:
        fh.write("{")  # half-way: a file in the staging folder while the report runs
    time.sleep(60)
display(HTML("<h1>" + _html.escape(city) + "</h1>"))
with open(results_path, "w", encoding="utf-8") as fh:
    json.dump({"city": city, "headline": {"length": len(city) * scale}}, fh)
"""


def notebook_file(path: Path, parameters: str, code: str) -> Path:
    """Write a notebook of two cells: ``parameters`` (tagged) and ``code``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path


def _toy_notebook(path: Path) -> Path:
    params = (
        'study: str = ""\ncity: str = ""\nresults_path: str = ""\nscale: int = 1\nmarker: str = ""'
    )
    return notebook_file(path, params, TOY_CODE)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throw-away project: a units table, the toy notebook and a study naming them."""
    processed = tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(processed))
    monkeypatch.setenv("UCC_OUTPUTS_DIR", str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)

    def make(units=UNITS, parameters=None, **extra):
        pd.DataFrame({"city_id": units}).to_parquet(processed / "units.parquet")
        nb = _toy_notebook(tmp_path / "toy.ipynb")
        doc = {
            "name": "toy",
            "title": "Toy study",
            "synthetic": True,
            "tables": ["units"],
            "units": {"table": "units", "column": "city_id"},
            "notebooks": {"per_city": [str(nb)]},
            "parameters": {"toy": {"marker": str(tmp_path / "slow.marker"), **(parameters or {})}},
            **extra,
        }
        path = tmp_path / "toy.yml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return path

    return make


@pytest.mark.slow
def test_failure_isolation_hostile_names_and_index(project, tmp_path, capsys):
    study = project()
    assert cli.main(["run", str(study), "--jobs", "2"]) == 1  # exit status: not all succeeded
    printed = capsys.readouterr().out
    assert "FAILED city:BOOM:toy" in printed and "index.html" in printed
    summary = run_study(study, jobs=2, progress=False)  # nothing to do but collect the records
    assert all(r["reused"] for r in summary.records.values() if r["status"] == "ok")
    out = summary.out_dir

    # one failing city does not stop the others, and is the only failure
    assert [r["unit"] for r in summary.failed] == ["BOOM"]
    assert not summary.ok
    ok = [r for r in summary.records.values() if r["status"] == "ok"]
    assert len(ok) == len(UNITS) - 1

    # every name reaches the notebook unchanged, as a string (injected as a Python literal)
    for r in ok:
        results = json.loads((out / "results" / f"{r['stem']}.json").read_text("utf-8"))
        assert results["city"] == r["unit"]
        assert results["headline"] == {"length": len(r["unit"])}
    assert not list(tmp_path.rglob("PWNED"))

    # file names stay inside the output folder and carry no quotes, slashes or markup
    for r in summary.records.values():
        assert set(r["stem"]) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_Київ"
        )
        assert (out / r["html"]).resolve().is_relative_to(out)
    assert len({r["stem"] for r in summary.records.values()}) == len(UNITS)

    # the failed notebook is linked and shows its error at the top
    failed = summary.failed[0]
    page = (out / failed["html"]).read_text("utf-8")
    assert failed["html"].startswith("failed/")
    assert page.find("This report failed") < page.find("boom for BOOM")
    assert "ValueError" in failed["error"]
    index = (out / "index.html").read_text("utf-8")
    assert 'href="failed/BOOM.html"' in index
    assert "<script>alert(1)</script>" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    # the city's own report escapes the name too (the notebook used html.escape)
    script = next(r for r in ok if r["unit"].startswith("<script>"))
    assert "<h1><script>" not in (out / script["html"]).read_text("utf-8")
    for page in out.rglob("*.html"):  # titles, banners and error boxes included
        assert "<script>alert(1)</script>" not in page.read_text("utf-8"), page.name

    manifest = json.loads((out / "run.json").read_text("utf-8"))
    assert manifest["reports"].keys() == summary.records.keys()
    assert all(r["seconds"] > 0 for r in manifest["reports"].values())


@pytest.mark.slow
def test_resume(project, tmp_path):
    study = project(units=["A", "B"])
    summary = run_study(study, jobs=1, progress=False)
    assert summary.ok and not any(r["reused"] for r in summary.records.values())

    # unchanged inputs: nothing runs again
    summary = run_study(study, jobs=1, progress=False)
    assert all(r["reused"] for r in summary.records.values())

    # a deleted report is missing, so it is made again
    (summary.out_dir / "B.html").unlink()
    summary = run_study(study, jobs=1, progress=False)
    assert {r["unit"]: r["reused"] for r in summary.records.values()}["B"] is False

    # a changed parameter re-runs everything, and --force re-runs everything
    study = project(units=["A", "B"], parameters={"scale": 2})
    summary = run_study(study, jobs=1, progress=False)
    assert summary.ok and not any(r["reused"] for r in summary.records.values())
    assert json.loads((summary.out_dir / "results" / "A.json").read_text())["headline"] == {
        "length": 2
    }
    summary = run_study(study, jobs=1, force=True, only=["A"], progress=False)
    # --only re-runs just that city; the others stay listed from the previous run
    assert {r["unit"]: r["reused"] for r in summary.records.values()} == {"A": False, "B": True}


def test_unknown_or_mistyped_parameter_is_an_error_before_anything_runs(project, tmp_path):
    study = project(parameters={"scael": 2})
    with pytest.raises(SpecError, match=r"unknown parameter 'scael' \(did you mean 'scale'\?\)"):
        run_study(study, progress=False)
    assert not (tmp_path / "outputs" / "toy" / "run.json").exists()
    study = project(parameters={"scale": "2"})
    with pytest.raises(SpecError, match="parameter 'scale' must be int, got str"):
        run_study(study, progress=False)
    assert cli.main(["run", str(study)]) == 2


@pytest.mark.slow
def test_killed_run_leaves_no_half_report_and_next_run_completes(project, tmp_path):
    study = project(units=["A", "SLOW", "Z"])
    marker = tmp_path / "slow.marker"
    marker.touch()
    out = tmp_path / "outputs" / "toy"
    # warm kernels (the default only from 3 reports a worker): the path to prove safe
    env = dict(
        os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), UCC_FRESH_KERNELS="0"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ucc_research", "run", str(study), "--jobs", "1"],
        start_new_session=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # A is done and SLOW is running
            if (out / "A.html").exists() and list((out / ".staging").glob("SLOW.*")):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run did not reach the slow report")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernels, mid-report
        proc.wait()
    assert not (out / "SLOW.html").exists() and not (out / "SLOW.ipynb").exists()
    assert not (out / "results" / "SLOW.json").exists()
    assert not (out / "Z.html").exists()

    marker.unlink()
    summary = run_study(study, jobs=1, progress=False)
    assert summary.ok
    assert {r["unit"]: r["reused"] for r in summary.records.values()} == {
        "A": True,
        "SLOW": False,
        "Z": False,
    }
    assert not list((out / ".staging").iterdir())


@pytest.mark.slow
def test_dask_path_runs_the_same_reports(project, monkeypatch):
    from distributed import LocalCluster

    study = project(units=["A", "BOOM", "Київ"])
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as c:
        # the scheduler named by the environment, as on a cluster set-up
        monkeypatch.setenv("UCC_DASK_SCHEDULER", c.scheduler_address)
        assert cli.main(["run", str(study)]) == 1
        manifest = json.loads((Path(study).parent / "outputs/toy/run.json").read_text("utf-8"))
    assert manifest["scheduler"] == c.scheduler_address
    records = manifest["reports"].values()
    status = {r["unit"]: r["status"] for r in records}
    errors = {r["unit"]: (r.get("error"), r.get("traceback")) for r in records}
    assert status == {"A": "ok", "BOOM": "failed", "Київ": "ok"}, errors
    out = Path(study).parent / "outputs" / "toy"
    results = json.loads((out / "results" / "Київ.json").read_text("utf-8"))
    assert results["city"] == "Київ"


def test_safe_name_never_escapes_and_never_collides():
    names = [*HOSTILE, "index", "INDEX", "a/b", "a_b", "", ".", "..", "con"]
    stems = [nbmod.safe_name(n) for n in names]
    assert len(set(stems)) == len(names)
    for s in stems:
        assert s and "/" not in s and "\\" not in s and not s.startswith(".")
        assert s.lower() not in {"index", "run", "con"}
    assert nbmod.safe_name("DEMO-001") == "DEMO-001"
    assert nbmod.safe_name("Київ") == "Київ"


def test_ensure_kernel_points_at_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    name = nbmod.ensure_kernel()
    spec = KernelSpecManager().get_kernel_spec(name)
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    assert "--IPKernelApp.log_level=CRITICAL" in spec.argv  # batch runs keep a readable console
    assert "{connection_file}" in spec.argv


def test_index_escapes_every_field(project):
    study = load_study(project())
    evil = "<img src=x onerror=alert(1)>"
    manifest = {
        "reports": {
            "k": {
                "kind": "city",
                "unit": evil,
                "notebook": "toy",
                "status": "failed",
                "error": evil,
                "html": f"failed/{evil}.html",
                "headline": {evil: 1.23456},
            },
            "ok": {
                "kind": "city",
                "unit": evil,
                "notebook": "toy",
                "status": "ok",
                "html": f"{evil}.html",
                "headline": {evil: 1.23456, "answer": evil},
            },
        }
    }
    page = render_index(study, manifest)
    assert "<img" not in page
    assert "1.23" in page and "SYNTHETIC" in page


# --- issue 10 item 2 and issue 15 items 3-5: failures are loud, runs are safe ------------------


def _boom(study):
    raise ValueError("kaput in the index")


def test_a_study_level_analysis_that_raises_fails_the_run(project, monkeypatch, capsys):
    from ucc_research.reports import shared

    study = project(units=["A"])
    monkeypatch.setattr(shared, "COMPONENTS", {**shared.COMPONENTS, "index": _boom})
    assert cli.main(["run", str(study), "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "toy: FAILED study-level analysis 'index': ValueError: kaput in the index" in out
    run_dir = Path(study).parent / "outputs" / "toy"
    manifest = json.loads((run_dir / "run.json").read_text("utf-8"))
    assert manifest["analysis_failures"][0]["section"] == "index"
    assert "kaput in the index" in manifest["analysis_failures"][0]["error"]
    assert manifest["reports"] == {}  # no report was built on a failed analysis
    page = (run_dir / "index.html").read_text("utf-8")
    assert "Failed study-level analyses" in page and "kaput in the index" in page
    assert not (run_dir / "A.html").exists()


def test_a_spec_error_inside_an_analysis_fails_the_run_with_its_section(
    project, monkeypatch, capsys
):
    """A misspelt impute group raises SpecError inside the index analysis: exit 1, named."""
    from ucc_research.reports import shared

    def index(study):
        raise SpecError("impute group 'Group_Size' not in iData")

    monkeypatch.setattr(shared, "COMPONENTS", {**shared.COMPONENTS, "index": index})
    study = project(units=["A"])
    summary = run_study(study, jobs=1, progress=False)
    assert not summary.ok
    assert summary.analysis_failures[0]["section"] == "index"
    assert summary.analysis_failures[0]["error"] == (
        "SpecError: impute group 'Group_Size' not in iData"
    )
    assert (
        "def index" in summary.analysis_failures[0]["traceback"]
        or "index" in (summary.analysis_failures[0]["traceback"])
    )
    assert cli.main(["run", str(study), "--jobs", "1", "--force"]) == 1
    assert "FAILED study-level analysis 'index': SpecError: impute group" in capsys.readouterr().out


def test_a_bug_outside_the_analyses_is_not_turned_into_a_report_line(project, monkeypatch):
    """Only an analysis failing is recorded as such; anything else propagates with its traceback."""
    from ucc_research.reports import shared

    def prepare_shared(study, shared_dir, *, data_fp, force=False):
        raise RuntimeError("a bug in the runner's own plumbing")

    monkeypatch.setattr(shared, "prepare_shared", prepare_shared)
    with pytest.raises(RuntimeError, match="plumbing"):
        run_study(project(units=["A"]), jobs=1, progress=False)


@pytest.mark.slow
def test_a_report_past_its_time_limit_is_failed_and_the_run_goes_on(project, tmp_path):
    study = project(units=["A", "SLOW", "Z"], report_timeout=4)
    (tmp_path / "slow.marker").touch()
    t0 = time.monotonic()
    summary = run_study(study, jobs=1, progress=False)
    assert time.monotonic() - t0 < 50  # the slow cell sleeps 60 s
    status = {r["unit"]: r["status"] for r in summary.records.values()}
    assert status == {"A": "ok", "SLOW": "failed", "Z": "ok"}
    slow = next(r for r in summary.records.values() if r["unit"] == "SLOW")
    assert slow["error"].startswith("ReportTimeout: the report ran longer than its limit of 4 s")
    assert (summary.out_dir / "failed" / "SLOW.html").is_file()


def test_a_second_run_of_the_same_folder_is_refused_and_touches_nothing(project, capsys):
    from ucc_research.reports.runner import output_lock

    study = project(units=["A"])
    out = Path(study).parent / "outputs" / "toy"
    out.mkdir(parents=True)
    staging = out / ".staging"
    staging.mkdir()
    (staging / "A.inflight.ipynb").write_text("{}")  # the first run's file being written
    with output_lock(out):
        assert cli.main(["run", str(study), "--jobs", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is in use by another `ucc run` (pid " in err[0]
    assert (staging / "A.inflight.ipynb").exists()
    assert not (out / "run.json").exists()
    assert run_study(study, jobs=1, progress=False).ok  # the lock is released afterwards


@pytest.mark.parametrize("content", ["[]", "garbage{", '{"reports": []}', '{"reports": {"k": 1}}'])
def test_a_broken_run_json_does_not_break_later_runs(project, content):
    study = project(units=["A"])
    out = Path(study).parent / "outputs" / "toy"
    out.mkdir(parents=True)
    (out / "run.json").write_text(content, encoding="utf-8")
    summary = run_study(study, jobs=1, progress=False)
    assert summary.ok and [r["reused"] for r in summary.records.values()] == [False]
    assert json.loads((out / "run.json").read_text("utf-8"))["reports"].keys() == {"city:A:toy"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{file}"], "exists and is not a folder"),
        (["--out", "/proc/ucc-out"], "is not writable"),
        (["--jobs", "0"], "--jobs must be between 1 and 1024, got 0"),
        (["--jobs", "1000000000"], "--jobs must be between 1 and 1024"),
        (
            ["--scheduler", "tcp://127.0.0.1:1"],
            "cannot reach the Dask scheduler at tcp://127.0.0.1:1",
        ),
        (["--scheduler", "no-port"], "must look like tcp://HOST:PORT"),
        (["--only", "NOWHERE"], "--only names unknown cities ['NOWHERE']"),
    ],
)
def test_impossible_run_arguments_are_refused_with_one_line(
    project, tmp_path, capsys, argv, message
):
    study = project(units=["A"])
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    argv = [a.format(file=a_file) for a in argv]
    assert cli.main(["run", str(study), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "{file}"], "exists and is not a folder"),
        (["--out", "/proc/ucc-demo"], "is not writable"),
        (["--seed", "-1"], "--seed must be between 0 and 2**32 - 1"),
    ],
)
def test_impossible_demo_arguments_are_refused_with_one_line(tmp_path, capsys, argv, message):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert cli.main(["demo", *[a.format(file=a_file) for a in argv]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("target", ["{file}", "/proc/ucc-out"])
@pytest.mark.parametrize(
    "command", [["prepare"], ["index", "build", "--data", "d.csv", "--meta", "m.csv"]]
)
def test_prepare_and_index_build_refuse_an_impossible_out_with_one_line(
    tmp_path, capsys, command, target
):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert cli.main([*command, "--out", target.format(file=a_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("exists and is not a folder" in err[0] or "not writable" in err[0])
    assert a_file.read_text() == "x"  # nothing written


def test_a_refused_prepare_leaves_no_out_folder_behind(tmp_path, capsys):
    out = tmp_path / "new" / "processed"
    assert cli.main(["prepare", "--raw", str(tmp_path / "no-raw"), "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()  # the --out check created and removed it


@pytest.mark.slow
def test_pool_workers_and_their_kernels_die_with_the_run(project, tmp_path):
    import psutil

    study = project(units=["SLOW", "A", "SLOW2"])
    (tmp_path / "slow.marker").touch()
    # warm kernels (the default only from 3 reports a worker): the path to prove safe
    env = dict(
        os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), UCC_FRESH_KERNELS="0"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ucc_research", "run", str(study), "--jobs", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = tmp_path / "outputs" / "toy"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # SLOW is running in a worker
            if list((out / ".staging").glob("SLOW.*")) and (out / "A.html").exists():
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run did not reach the slow report")
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 2  # pool workers and at least one kernel
    finally:
        proc.kill()  # SIGKILL of the parent alone: no clean-up code of it runs
        proc.wait()
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert not alive, [p.cmdline()[:3] for p in alive]


def test_run_writes_the_study_tables_as_csv_and_one_workbook(project, monkeypatch):
    from ucc_research.reports import shared

    table = pd.DataFrame({"city_id": ["Київ", "A"], "score": [1.5, 2.25]})

    def scores(study):
        return {"toy_scores": table, "toy_info": {"n": 2}}

    monkeypatch.setattr(shared, "COMPONENTS", {"scores": scores})
    summary = run_study(project(units=["A"]), jobs=1, progress=False)
    assert summary.ok
    folder = summary.out_dir / "tables"
    assert sorted(p.name for p in folder.iterdir()) == ["toy.xlsx", "toy_scores.csv"]
    pd.testing.assert_frame_equal(pd.read_csv(folder / "toy_scores.csv"), table)
    pd.testing.assert_frame_equal(
        pd.read_excel(folder / "toy.xlsx", sheet_name="toy_scores"), table
    )
