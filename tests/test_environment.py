"""The project's set-up files agree with each other."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


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
