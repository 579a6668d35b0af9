"""pyproject.toml is the one source of dependencies; environment.yml must agree with it."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAME = {"duckdb": "python-duckdb"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_every_pyproject_dependency_is_in_environment_yml():
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in py["dependencies"] + py["optional-dependencies"]["dev"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            listed.add(_name(dep))
        else:
            listed |= {_name(d) for d in dep.get("pip", [])}
    missing = sorted(d for d in wanted if CONDA_NAME.get(d, d) not in listed)
    assert not missing, f"add to environment.yml: {missing}"


def test_environment_yml_lists_nothing_pyproject_lacks():
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {CONDA_NAME.get(_name(r), _name(r)) for r in py["dependencies"] + py["optional-dependencies"]["dev"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    extra = []
    for dep in env["dependencies"]:
        if isinstance(dep, str) and _name(dep) not in {"python", "pip"} and _name(dep) not in wanted:
            extra.append(dep)
    assert not extra, f"environment.yml has packages pyproject.toml does not: {extra}"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    head = (REPO / "README.md").read_text().splitlines()[:12]
    text = "\n".join(head)
    assert "make demo" in text and "make test" in text
    assert "make test" in (REPO / ".ci" / "run").read_text()
