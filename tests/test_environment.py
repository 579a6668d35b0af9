"""pyproject.toml is the one source of dependencies; environment.yml must agree with it."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
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


def test_constraints_pin_every_dependency_within_pyproject_ranges():
    """constraints.txt (used by make and CI) pins each dependency to one version that
    pyproject.toml's range allows, and does not pin the package itself."""
    from packaging.requirements import Requirement

    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    assert "kam-analysis" not in pins
    for raw in py["dependencies"] + py["optional-dependencies"]["dev"]:
        req = Requirement(raw)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"constraints.txt does not pin {name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {req.specifier}"
    assert "-c constraints.txt" in (REPO / "Makefile").read_text()


def test_resources_are_found_in_a_wheel_install_layout(tmp_path):
    """A wheel puts templates/ and notebooks/ under <prefix>/share/kam-analysis/."""
    from kam_analysis.config import SHARE_DIR_NAME, _resource_root

    package = tmp_path / "lib" / "python3.11" / "site-packages" / "kam_analysis"
    package.mkdir(parents=True)
    assert _resource_root(package) == package.parent  # nothing installed: the source layout, for messages
    (tmp_path / SHARE_DIR_NAME / "templates").mkdir(parents=True)
    assert _resource_root(package) == tmp_path / SHARE_DIR_NAME
    assert _resource_root(REPO / "kam_analysis") == REPO  # the source checkout wins


@pytest.mark.slow
def test_a_wheel_install_can_start_a_new_client(tmp_path):
    """Build the wheel from a copy of the sources, lay it out as pip installs it into a
    prefix (site-packages and share/), and run kam new-client from another folder: the
    templates and notebooks travel with the package. (Not ``pip install --prefix``: it
    would uninstall the test environment's own editable install.)"""
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("kam_analysis", "templates", "notebooks"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE", "params/example_client.yaml"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, src / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "whl"),
                            str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = (tmp_path / "whl").glob("*.whl")
    prefix = tmp_path / "prefix"
    site = prefix / "lib" / "python3.11" / "site-packages"
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            data = name.split(".data/data/", 1)
            target = prefix / data[1] if len(data) == 2 else site / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
    for shipped in ("templates/new_client.yaml", "templates/kam_template.pptx", "templates/dashboard.html.j2",
                    "notebooks/04_review.ipynb", "params/example_client.yaml"):
        assert (prefix / "share" / "kam-analysis" / shipped).is_file(), shipped
    assert (site / "kam_analysis" / "metrics" / "kpi_dictionary.md.in").is_file()
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", "import sys, kam_analysis.cli as c, kam_analysis.config as k; "
                          "print(k.TEMPLATES_DIR); sys.exit(c.main(['new-client', 'Acme Retail']))"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stdout.splitlines()[0] == str(prefix / "share" / "kam-analysis" / "templates")
    assert "Acme Retail" in (work / "params" / "acme-retail.yaml").read_text()
