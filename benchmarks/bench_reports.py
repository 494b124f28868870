"""40 SYNTHETIC demo city reports: `ucc run --jobs 2` against a sequential papermill loop.

Prints, from one run: the time of `ucc run --jobs 2` (including the study-level shared step),
the time of a loop of the `papermill` command line over the same notebook and parameters, their
ratio, and the time of an empty notebook through papermill (the per-report floor: kernel start).

    python benchmarks/bench_reports.py [--cities 40] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cities", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    from ucc_research import demo
    from ucc_research.cleaning.prepare import prepare
    from ucc_research.reports.notebook import ensure_kernel

    tmp = Path(tempfile.mkdtemp(prefix="bench_reports_"))
    env = dict(
        os.environ, UCC_PROCESSED_DIR=str(tmp / "processed"), UCC_OUTPUTS_DIR=str(tmp / "outputs")
    )
    os.environ.update(env)
    demo.write_demo(tmp / "raw" / "demo", n_cities=args.cities, n_services=6, years=(2018, 2022))
    prepare(tmp / "raw", tmp / "processed", only=["demo"])
    doc = yaml.safe_load((ROOT / "studies" / "demo.yml").read_text())
    doc["notebooks"] = {"per_city": ["city_report"]}
    doc["parameters"] = {}
    study = tmp / "demo.yml"
    study.write_text(yaml.safe_dump(doc))
    kernel = ensure_kernel()

    t0 = time.perf_counter()
    subprocess.run(
        [str(BIN / "ucc"), "run", str(study), "--jobs", str(args.jobs)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    t_run = time.perf_counter() - t0

    from ucc_research.reports.study import load_study

    cities = load_study(study).unit_ids()
    shared = tmp / "outputs" / "demo" / "_shared"
    nb = ROOT / "notebooks" / "city_report.ipynb"
    loop_dir = tmp / "loop"
    loop_dir.mkdir()
    t0 = time.perf_counter()
    for c in cities:
        subprocess.run(
            [
                str(BIN / "papermill"),
                str(nb),
                str(loop_dir / f"{c}.ipynb"),
                "-k",
                kernel,
                "-p",
                "study",
                str(study),
                "-p",
                "city",
                c,
                "-p",
                "shared_dir",
                str(shared),
                "-p",
                "results_path",
                str(loop_dir / f"{c}.json"),
                "--no-progress-bar",
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    t_loop = time.perf_counter() - t0

    empty = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["tags"] = ["parameters"]
    empty.cells = [cell]
    empty.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(empty, str(tmp / "empty.ipynb"))
    import papermill

    t0 = time.perf_counter()
    for _ in range(3):
        papermill.execute_notebook(
            str(tmp / "empty.ipynb"),
            str(tmp / "empty_out.ipynb"),
            parameters={"x": 2},
            kernel_name=kernel,
            progress_bar=False,
        )
    t_empty = (time.perf_counter() - t0) / 3

    n = len(cities)
    # Per report, as the runner timed it (run.json), against the floor plus the report's own
    # compute: the summed cell execution times papermill records in each executed notebook.
    import json

    out = tmp / "outputs" / "demo"
    manifest = json.loads((out / "run.json").read_text())
    records = [r for r in manifest["reports"].values() if r["kind"] == "city"]
    per_report = sum(r["seconds"] for r in records) / len(records)
    compute = []
    for r in records:
        nb_run = nbformat.read(str(out / f"{r['stem']}.ipynb"), as_version=4)
        compute.append(
            sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb_run.cells)
        )
    own = sum(compute) / len(compute)
    print(f"{'what':<44}{'seconds':>10}{'per report':>12}")
    print(
        f"{f'ucc run --jobs {args.jobs} ({n} reports, incl. shared)':<44}{t_run:>10.1f}{t_run / n:>12.2f}"
    )
    print(f"{'papermill CLI loop (sequential)':<44}{t_loop:>10.1f}{t_loop / n:>12.2f}")
    print(f"{'empty notebook (floor, papermill API)':<44}{t_empty:>10.2f}")
    print(f"ratio loop / ucc run: {t_loop / t_run:.2f}x (goal >= 2x)")
    print(f"{'one report in a worker (mean of run.json)':<44}{per_report:>10.2f}")
    print(f"{'  its cells executing (report compute)':<44}{own:>10.2f}")
    bound = t_empty + own
    print(
        f"per report / (floor + compute): {per_report:.2f} / {bound:.2f} = "
        f"{per_report / bound:.2f} (goal <= 1.5)"
    )
    print(f"work folder: {tmp}")


if __name__ == "__main__":
    main()
