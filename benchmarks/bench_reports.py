"""SYNTHETIC demo city reports: `ucc run` on warm kernels, on fresh kernels, and a papermill loop.

Prints, from one run, a table of the wall time for the same city reports (the study-level
shared step is computed once beforehand and left out of every figure):

- ``ucc run --jobs J`` (each worker keeps one warm kernel, reset between reports),
- ``ucc run --jobs J --fresh-kernels`` (a new kernel per report, as before issue 14),
- a sequential loop of the ``papermill`` command line over the same notebook and parameters,

their ratios (goals: warm at least 6x faster than the loop), and per report (means over the
reports, from ``run.json`` as the runner timed them in a worker) the time against the report's
own compute: the summed cell execution times papermill records in each executed notebook
(goal: within 1.2x), with an empty notebook through papermill (kernel start) for scale.

    python benchmarks/bench_reports.py [--cities 40] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _ucc_run(study: Path, out: Path, shared: Path, jobs: int, env: dict, *extra: str) -> float:
    """Seconds of one ``ucc run`` into ``out``, the shared step copied in beforehand."""
    shutil.copytree(shared, out / "_shared")
    t0 = time.perf_counter()
    subprocess.run(
        [str(BIN / "ucc"), "run", str(study), "--jobs", str(jobs), "--out", str(out), *extra],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def _per_report(out: Path, steady: bool = False) -> tuple[float, float]:
    """Mean seconds of a report in its worker (run.json) and of its own cells' execution;
    ``steady``: only the reports that found their worker's kernel already used (warm)."""
    manifest = json.loads((out / "run.json").read_text())
    records = [r for r in manifest["reports"].values() if r["kind"] == "city"]
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    if steady:
        records = [r for r in records if r["timings"]["kernel_state"] == "reused"]
    seconds = sum(r["seconds"] for r in records) / len(records)
    compute = []
    for r in records:
        nb = nbformat.read(str(out / f"{r['stem']}.ipynb"), as_version=4)
        cells = [c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells]
        compute.append(sum(cells))
    return seconds, sum(compute) / len(compute)


def _papermill_loop(nb: Path, study: Path, cities: list[str], shared: Path, kernel: str, env):
    loop_dir = Path(tempfile.mkdtemp(prefix="bench_loop_"))
    t0 = time.perf_counter()
    for c in cities:
        params = {
            "study": str(study),
            "city": c,
            "shared_dir": str(shared),
            "results_path": str(loop_dir / f"{c}.json"),
        }
        args = [x for k, v in params.items() for x in ("-p", k, v)]
        subprocess.run(
            [str(BIN / "papermill"), str(nb), str(loop_dir / f"{c}.ipynb"), "-k", kernel, *args]
            + ["--no-progress-bar"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - t0


def _empty_notebook(tmp: Path, kernel: str) -> float:
    import papermill

    empty = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["tags"] = ["parameters"]
    empty.cells = [cell]
    empty.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(empty, str(tmp / "empty.ipynb"))
    t0 = time.perf_counter()
    for _ in range(3):
        papermill.execute_notebook(
            str(tmp / "empty.ipynb"),
            str(tmp / "empty_out.ipynb"),
            parameters={"x": 2},
            kernel_name=kernel,
            progress_bar=False,
        )
    return (time.perf_counter() - t0) / 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cities", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    from ucc_research import demo
    from ucc_research.cleaning.prepare import prepare
    from ucc_research.reports.notebook import ensure_kernel
    from ucc_research.reports.runner import data_fingerprint
    from ucc_research.reports.shared import prepare_shared
    from ucc_research.reports.study import load_study

    tmp = Path(tempfile.mkdtemp(prefix="bench_reports_"))
    env = dict(
        os.environ, UCC_PROCESSED_DIR=str(tmp / "processed"), UCC_OUTPUTS_DIR=str(tmp / "outputs")
    )
    env.pop("UCC_FRESH_KERNELS", None)
    os.environ.update(env)
    demo.write_demo(tmp / "raw" / "demo", n_cities=args.cities, n_services=6, years=(2018, 2022))
    prepare(tmp / "raw", tmp / "processed", only=["demo"])
    doc = yaml.safe_load((ROOT / "studies" / "demo.yml").read_text())
    doc["notebooks"] = {"per_city": ["city_report"]}
    doc["parameters"] = {}
    study_path = tmp / "demo.yml"
    study_path.write_text(yaml.safe_dump(doc))
    kernel = ensure_kernel()
    study = load_study(study_path)
    shared = tmp / "shared"
    t0 = time.perf_counter()
    prepare_shared(study, shared, data_fp=data_fingerprint(study))
    t_shared = time.perf_counter() - t0
    cities = study.unit_ids()
    n = len(cities)

    t_warm = _ucc_run(study_path, tmp / "warm", shared, args.jobs, env)
    t_fresh = _ucc_run(study_path, tmp / "fresh", shared, args.jobs, env, "--fresh-kernels")
    nb = ROOT / "notebooks" / "city_report.ipynb"
    t_loop = _papermill_loop(nb, study_path, cities, tmp / "warm" / "_shared", kernel, env)
    t_empty = _empty_notebook(tmp, kernel)
    warm_report, warm_own = _per_report(tmp / "warm")
    steady_report, steady_own = _per_report(tmp / "warm", steady=True)
    fresh_report, fresh_own = _per_report(tmp / "fresh")

    print(f"{n} SYNTHETIC city reports, --jobs {args.jobs} (shared step: {t_shared:.1f} s, once)")
    print(f"{'what':<46}{'seconds':>9}{'per report':>12}{'loop / this':>13}")
    rows = [
        (f"ucc run --jobs {args.jobs} (warm kernels)", t_warm),
        (f"ucc run --jobs {args.jobs} --fresh-kernels", t_fresh),
        ("papermill CLI loop (sequential)", t_loop),
    ]
    for what, t in rows:
        print(f"{what:<46}{t:>9.1f}{t / n:>12.2f}{t_loop / t:>12.2f}x")
    print(
        f"warm / fresh kernels: {t_fresh / t_warm:.2f}x faster; loop / warm: "
        f"{t_loop / t_warm:.2f}x (goal >= 6x)"
    )
    print()
    print(f"{'one report in a worker (means)':<46}{'report':>9}{'own cells':>12}{'ratio':>13}")
    for what, report, own in (
        ("warm kernel, all (incl. each kernel's start)", warm_report, warm_own),
        ("warm kernel, after each worker's first", steady_report, steady_own),
        ("fresh kernel", fresh_report, fresh_own),
    ):
        print(f"{what:<46}{report:>9.2f}{own:>12.2f}{report / own:>13.2f}")
    print(
        f"warm: per report / own cells = {warm_report / warm_own:.2f} with each worker's kernel "
        f"start, {steady_report / steady_own:.2f} after it (goal <= 1.2)"
    )
    print(f"empty notebook through papermill (kernel start): {t_empty:.2f} s")
    print(f"work folder: {tmp}")


if __name__ == "__main__":
    main()
