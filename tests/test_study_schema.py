"""The study schema: every wrong or hostile study file is refused with one clear line, first.

``tests/studies/base.yml`` is a valid study over tiny tables written here; each file in
``tests/studies/bad/`` (mistakes: misspelt nested keys, wrong types, dangling references) and
``tests/studies/hostile/`` (attacks: encodings, alias bombs, duplicate keys, tags) is that study
with one defect, and its first line holds the regular expression its refusal must match. The
corpus grows with every defect found: add a file, no code.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from ucc_research import cli
from ucc_research.errors import StudyError
from ucc_research.reports.runner import run_study
from ucc_research.reports.study import SCHEMA, check_study, load_study, schema_markdown

HERE = Path(__file__).parent / "studies"
BAD = sorted((HERE / "bad").glob("*.yml"))
HOSTILE = sorted((HERE / "hostile").glob("*.yml"))


def _expectation(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ")


def _toy_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('study: str = ""\ncity: str = ""\nscale: int = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(city * scale)")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Tiny processed tables, the toy notebook and the corpus copied beside it."""
    processed = tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(processed))
    monkeypatch.setenv("UCC_OUTPUTS_DIR", str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)
    units = ["A", "B", "C", "D"]
    pd.DataFrame({"city_id": units, "source": "demo"}).to_parquet(processed / "units.parquet")
    pd.DataFrame(
        {
            "uCode": units,
            "Group_size": ["s", "s", "l", "l"],
            "x": [1.0, 2.0, None, 4.0],
            "y": [4.0, 1.0, 2.0, 3.0],
            "z": [0.5, 0.7, 0.1, 0.9],
        }
    ).to_parquet(processed / "idata.parquet")
    pd.DataFrame(
        {
            "iCode": ["x", "y", "z", "P1", "P2", "I", "Group_size"],
            "Level": [1, 1, 1, 2, 2, 3, None],
            "Parent": ["P1", "P1", "P2", "I", "I", None, None],
            "Direction": [1, 1, -1, 1, 1, 1, None],
            "Weight": [1.0, 1, 1, 1, 1, 1, None],
            "Type": ["Indicator"] * 3 + ["Aggregate"] * 3 + ["Group"],
        }
    ).to_parquet(processed / "imeta.parquet")
    pd.DataFrame(
        {
            "city_id": ["A", "A", "B", "B"],
            "period": ["2020", "2021", "2020", "2021"],
            "service_id": "s1",
            "adopted_period": [None, None, "2021", "2021"],
            "digital_share": [0.1, 0.2, 0.3, 0.5],
        }
    ).to_parquet(processed / "panel.parquet")
    _toy_notebook(tmp_path / "toy.ipynb")
    for folder in ("bad", "hostile"):
        shutil.copytree(HERE / folder, tmp_path / folder)
        _toy_notebook(tmp_path / folder / "toy.ipynb")
    shutil.copy(HERE / "base.yml", tmp_path / "base.yml")
    return tmp_path


def test_the_base_study_passes_every_check(project, capsys):
    study = load_study(project / "base.yml")
    summary = check_study(study)
    assert "4 city reports" in summary
    assert cli.main(["study", "check", str(project / "base.yml")]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("base.yml: OK")


@pytest.mark.parametrize("path", BAD + HOSTILE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_wrong_study_is_refused_with_one_line_before_anything_runs(project, path, capsys):
    target = project / path.parent.name / path.name
    expect = _expectation(path)
    assert cli.main(["study", "check", str(target)]) == 1
    lines = capsys.readouterr().out.splitlines()
    problems, last = lines[:-1], lines[-1]
    assert last == "INVALID: 1 problem(s); nothing was run"
    assert len(problems) == 1, problems
    assert problems[0].startswith(str(target)), problems[0]
    assert re.search(expect, problems[0]), (expect, problems[0])

    # `ucc run` refuses it the same way (exit 2, the same line), before anything is written
    assert cli.main(["run", str(target), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert re.search(expect, err), (expect, err)
    assert not (project / "outputs").exists()
    assert not list(project.rglob("PWNED"))


def test_huge_and_deeply_nested_files_are_refused_quickly(project):
    huge = project / "huge.yml"
    huge.write_text("name: toy\ndescription: " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(StudyError, match=r"huge\.yml: 1,048,6\d\d bytes; a study file is at most"):
        load_study(huge)
    deep = project / "deep.yml"
    deep.write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    with pytest.raises(StudyError, match="deep.yml"):
        load_study(deep)
    utf16 = project / "utf16.yml"
    utf16.write_text("name: toy\n", encoding="utf-16")
    with pytest.raises(StudyError, match=r"utf16\.yml:1: not UTF-8 \(byte 0xff\)"):
        load_study(utf16)


def test_several_problems_are_all_listed_one_line_each(project, capsys):
    text = (project / "base.yml").read_text(encoding="utf-8")
    text = text.replace("  spec:\n", "  specs:\n").replace("peer_group:", "peergroup:")
    path = project / "two.yml"
    path.write_text(text, encoding="utf-8")
    assert cli.main(["study", "check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "INVALID: 2 problem(s); nothing was run"
    assert any("framework.specs: unknown key (did you mean 'spec'?)" in line for line in out)
    assert any(
        "framework.peergroup: unknown key (did you mean 'peer_group'?)" in line for line in out
    )


def test_the_shipped_studies_pass_their_key_checks():
    for path in sorted((Path(__file__).parents[1] / "studies").glob("*.yml")):
        study = load_study(path)
        assert study.name == path.stem


def test_schema_document_is_in_step_with_the_code():
    doc = Path(__file__).parents[1] / "docs" / "study_schema.md"
    assert doc.read_text(encoding="utf-8") == schema_markdown(), (
        "docs/study_schema.md is stale: run `ucc study schema > docs/study_schema.md`"
    )

    def paths(keys, prefix=""):
        for name, key in keys.items():
            yield prefix + name
            if key.keys:
                yield from paths(key.keys, f"{prefix}{name}.")
            elif key.each is not None and key.each.keys:
                yield from paths(key.each.keys, f"{prefix}{name}.<name>.")

    for p in paths(SCHEMA):
        assert f"| `{p}` |" in doc.read_text(encoding="utf-8"), p
    # the keys the reports read are documented (issue 10: these were documented nowhere)
    for p in ("framework.n_strengths", "framework.uncertainty.vary", "impact.what_works.fe"):
        assert p in set(paths(SCHEMA))


def test_panel_mapping_resolves_defaults(project):
    study = load_study(project / "base.yml")
    panel = study.panel
    assert panel["table"] == "panel" and panel["adoption"] == "adopted_period"
    # another table: only what is named, the optional columns default to none
    assert panel["service"] is None and panel["features"] == []
    text = (project / "base.yml").read_text(encoding="utf-8")
    default = project / "default_panel.yml"
    default.write_text(
        text.replace(
            "  panel: {table: panel, unit: city_id, time: period, adoption: adopted_period}\n", ""
        ),
        encoding="utf-8",
    )
    panel = load_study(default).panel
    assert panel["table"] == "service_panel" and panel["unit"] == "city_id"
    assert panel["service"] == "service_id" and panel["origin"] == "transferred_from"
    assert "eid_login" in panel["features"]


def test_run_refuses_before_any_analysis(project, monkeypatch):
    """A notebook or parameter error is found before the study-level analyses run."""
    from ucc_research.reports import shared

    ran = []
    monkeypatch.setattr(shared, "COMPONENTS", {"spy": lambda study: ran.append(1) or {}})
    with pytest.raises(StudyError, match="unknown parameter 'scael'"):
        run_study(project / "bad" / "param_unknown.yml", progress=False)
    assert ran == []
