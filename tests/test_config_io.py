"""Paths follow the environment; writers are atomic and deterministic."""

import json
import math

import pandas as pd
import pytest

from ucc_research import config, io


def test_paths_follow_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("UCC_ROOT", str(tmp_path))
    assert config.raw_dir() == tmp_path / "data" / "raw"
    assert config.processed_dir() == tmp_path / "data" / "processed"
    assert config.outputs_dir() == tmp_path / "outputs"
    monkeypatch.setenv("UCC_PROCESSED_DIR", str(tmp_path / "elsewhere"))
    assert config.processed_dir() == tmp_path / "elsewhere"


def test_default_root_is_the_project(monkeypatch):
    monkeypatch.delenv("UCC_ROOT", raising=False)
    assert (config.project_root() / "pyproject.toml").exists()


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.json"
    io.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), io.atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_json_is_deterministic_and_strict(tmp_path):
    text = io.to_json({"b": math.nan, "a": [1.5, float("nan")], "NaN": "NaN"})
    assert text == io.to_json({"a": [1.5, float("nan")], "NaN": "NaN", "b": math.nan})
    assert json.loads(text) == {"a": [1.5, None], "b": None, "NaN": "NaN"}


def test_fingerprint_changes_with_content(tmp_path):
    f = tmp_path / "x.csv"
    pd.DataFrame({"a": [1]}).to_csv(f, index=False)
    before = io.fingerprint([tmp_path])
    assert before == io.fingerprint([f])
    f.write_text("a\n2\n")
    assert io.fingerprint([tmp_path]) != before


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        target = io.write_text(tmp_path / "report.html", "<p>ok</p>")
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.fixture
def restore_arrow_pool():
    import pyarrow as pa

    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_arrow_pool_is_jemalloc_unless_pyarrow_is_told_otherwise(monkeypatch, restore_arrow_pool):
    import pyarrow as pa

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.system_memory_pool())
    chosen = config.configure_arrow_pool()
    assert chosen in ("jemalloc", "system") and pa.default_memory_pool().backend_name == chosen
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pass
    else:
        assert chosen == "jemalloc"
    # a choice made through pyarrow's own variable is respected
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    assert config.configure_arrow_pool() == "mimalloc"


def test_the_ucc_command_sets_the_pool_before_any_work(monkeypatch, tmp_path, restore_arrow_pool):
    from ucc_research import cli

    seen = []
    monkeypatch.setattr(cli, "configure_arrow_pool", lambda: seen.append("pool"))
    path = tmp_path / "c.csv"
    path.write_text("city_id,name,country,population,synthetic,source\nX,Ex,FR,1,true,s\n")
    assert cli.main(["validate", "--kind", "cities", str(path)]) == 0
    assert seen == ["pool"]
