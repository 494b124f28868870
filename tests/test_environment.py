"""The project's set-up files agree with each other: pyproject.toml, the lock files, environment.yml."""

import importlib.metadata
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
LOCK_BENCH = ROOT / "requirements" / "lock-bench.txt"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _wanted(*extras: str) -> list[Requirement]:
    """The project's requirements: runtime plus the given extras."""
    project = _project()
    lines = project["dependencies"] + [
        r for extra in extras for r in project["optional-dependencies"][extra]
    ]
    return [Requirement(r) for r in lines]


def _lock(path: Path) -> dict:
    """``{name: (version, hashes, via)}`` for the entries of a lock that apply to this interpreter.

    A universal lock may hold one package twice under exclusive markers (one per platform or
    Python); only the entry whose marker holds here counts, and it must be unique.
    """
    entries, current = {}, None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line:
            continue
        if raw.startswith("    # via ") or raw.startswith("    #   "):
            if current is not None:
                current[2].add(line.removeprefix("# via ").removeprefix("#").strip())
            continue
        if line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            current[1].append(line.split(":", 1)[1].rstrip(" \\"))
            continue
        req = Requirement(line.rstrip(" \\"))
        (spec,) = req.specifier  # exactly one pin per entry
        assert spec.operator == "==", f"{path.name}: {line!r} is not an exact pin"
        current = (spec.version, [], set())
        if req.marker is None or req.marker.evaluate():
            name = canonicalize_name(req.name)
            assert name not in entries, f"{path.name}: {name} is pinned twice for this platform"
            entries[name] = current
    return entries


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    # Packages that conda-forge lacks come from PyPI through the pip section.
    pip = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    conda |= {_name(r) for r in (pip[0] if pip else []) if not r.startswith("-")}
    assert conda == wanted


def test_environment_yml_pins_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_readme_dependency_list_names_every_dependency():
    readme = (ROOT / "README.md").read_text().lower()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    missing = [r for r in map(_name, project["dependencies"]) if f"`{r}`" not in readme]
    assert missing == []


def test_lock_pins_every_dependency_of_pyproject_at_a_version_pyproject_allows():
    lock = _lock(LOCK)
    for req in _wanted("dev"):
        name = canonicalize_name(req.name)
        assert name in lock, f"{LOCK.name} lacks {req.name}: run `make lock`"
        version, hashes, _ = lock[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, outside pyproject's {req}: run `make lock`"
        )
        assert hashes, f"{LOCK.name}: {name} has no hash"
    # ... and nothing that pyproject no longer asks for (uv records who asked for each pin)
    direct = {n for n, (_, _, via) in lock.items() if "ucc-research (pyproject.toml)" in via}
    assert direct == {canonicalize_name(r.name) for r in _wanted("dev")}


def test_lock_holds_what_each_dependency_needs_with_the_extras_pyproject_asks_for():
    """Closure: every requirement of every locked distribution (under the extras pyproject names
    for it) is locked too. Reads the installed metadata, so it also checks the environment was
    installed from this lock."""
    lock = _lock(LOCK)
    extras = {canonicalize_name(r.name): r.extras for r in _wanted("dev")}
    missing = []
    for name, (version, _, _) in lock.items():
        dist = importlib.metadata.distribution(name)
        assert dist.version == version, (
            f"{name} {dist.version} is installed, the lock has {version}"
        )
        for line in dist.requires or []:
            req = Requirement(line)
            wanted = req.marker is None or any(
                req.marker.evaluate({"extra": extra}) for extra in {"", *extras.get(name, ())}
            )
            if wanted and canonicalize_name(req.name) not in lock:
                missing.append(f"{name} needs {req}")
    assert missing == []


def test_bench_lock_adds_the_bench_extra_at_the_main_lock_versions():
    lock, bench = _lock(LOCK), _lock(LOCK_BENCH)
    assert set(lock) <= set(bench)
    assert {n: bench[n][0] for n in lock} == {n: v for n, (v, _, _) in lock.items()}
    for req in _wanted("dev", "bench"):
        assert req.specifier.contains(bench[canonicalize_name(req.name)][0], prereleases=True)


def test_environment_yml_pins_the_locked_versions():
    lock = _lock(LOCK)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = [d for d in env["dependencies"] if isinstance(d, str)]
    specs += [r for d in env["dependencies"] if isinstance(d, dict) for r in d.get("pip", [])]
    pins = {}
    for spec in specs:
        if spec.startswith("-") or _name(spec) in ("python", "pip"):
            continue
        name, sep, version = spec.replace(" ", "").partition("==")
        assert sep, f"environment.yml: {spec!r} is not pinned with =="
        pins[canonicalize_name(name)] = version
    assert pins == {n: lock[n][0] for n in pins}
