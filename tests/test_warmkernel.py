"""Kernels started ahead (kam_analysis/warmkernel.py): each phase begins on a kernel that was
started, and ran its notebook's imports, while the phase before it ran; the executed
notebooks are those of a cold start, and no kernel outlives the run on any path."""
from __future__ import annotations

import os
import signal
import time

import nbformat
import psutil
import pytest

from conftest import write_demo_params
from test_runner import OPEN, PARAMS_CELL, TABLES_CELL
from kam_analysis import faults
from kam_analysis.cli import main
from kam_analysis.exceptions import DataValidationError, RunError
from kam_analysis.runner import PHASES, run_engagement
from kam_analysis.warmkernel import WarmKernel, notebook_imports

#: ``tabnanny`` is imported by nothing else: seen loaded before the cell that imports it, it was imported ahead
PROBE = ("import sys\nprint('seen', 'tabnanny' in sys.modules, sorted(k for k in globals() if k.startswith('_kam')),"
         ")")


def _probe_notebooks(folder, fail: str | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    for phase, spec in PHASES.items():
        nb = nbformat.v4.new_notebook()
        p = nbformat.v4.new_code_cell(PARAMS_CELL)
        p.metadata["tags"] = ["parameters"]
        cells = [p, nbformat.v4.new_code_cell(PROBE), nbformat.v4.new_code_cell(OPEN),
                 nbformat.v4.new_code_cell(TABLES_CELL.format(phase=phase, mark=1)),
                 nbformat.v4.new_code_cell("import tabnanny\nfrom os import path as _p")]
        if phase == fail:
            cells.append(nbformat.v4.new_code_cell("raise ValueError('planted')"))
        nb.cells = cells
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / spec.notebook)
    return folder


def _kernels() -> list[psutil.Process]:
    """The kernels (and kernel fork servers) this test process started that are still running."""
    return [c for c in psutil.Process().children(recursive=True)  # a forked kernel has its server's command line
            if c.is_running() and c.status() != psutil.STATUS_ZOMBIE
            and ("ipykernel_launcher" in " ".join(c.cmdline()) or "kam_analysis.kernelfork" in " ".join(c.cmdline()))]


@pytest.fixture()
def client(tmp_path):
    return write_demo_params(tmp_path, n_accounts=60, seed=3, name="Warm Test")


def test_notebook_imports_lists_top_level_imports_once(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import a.b as x, c\nfrom d.e import f, g\nfrom . import h\nif 1:\n    import i"),
                nbformat.v4.new_code_cell("%matplotlib inline\nimport j"), nbformat.v4.new_markdown_cell("import k"),
                nbformat.v4.new_code_cell("import c\nfrom d.e import *")]
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert notebook_imports(tmp_path / "n.ipynb") == ["a.b", "c", "d.e", "d.e.f", "d.e.g"]


def test_every_phase_runs_on_a_kernel_started_ahead_and_its_notebook_is_as_cold(client, tmp_path):
    result = run_engagement(client, notebooks_dir=_probe_notebooks(tmp_path / "nb"), deliverables=False, progress=None)
    assert [p["kernel_started_ahead"] for p in result.manifest["phases"]] == [True] * len(PHASES)
    assert [p["kernel_forked"] for p in result.manifest["phases"]] == [True] * len(PHASES)
    for spec in PHASES.values():
        nb = nbformat.read(result.run_dir / "notebooks" / spec.notebook, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        # the warm-up imported tabnanny ahead, left no name behind, and did not count as an execution:
        # the notebook's cells are numbered from 1 as on a fresh kernel
        assert code[2].outputs[0]["text"].strip() == "seen True []", code[2].outputs
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert _kernels() == []


def test_a_failed_run_leaves_no_kernel_running(client, tmp_path):
    with pytest.raises(RunError, match="planted"):
        run_engagement(client, notebooks_dir=_probe_notebooks(tmp_path / "nb", fail="segmentation"),
                       deliverables=False, progress=None)
    assert _kernels() == []  # strategy's kernel, started ahead, was stopped too


def test_a_data_error_stops_the_kernel_started_for_the_first_phase(client, tmp_path):
    assert main(["validate", str(client)]) == 0  # generates the demo client's files
    orders = client.parent / "data" / "orders.csv"
    orders.write_text(orders.read_text().replace("Customer ID", "Cust", 1))
    with pytest.raises(DataValidationError):
        run_engagement(client, notebooks_dir=_probe_notebooks(tmp_path / "nb"), deliverables=False, progress=None)
    assert _kernels() == []


def test_a_kernel_that_died_while_waiting_is_not_used(tmp_path):
    nbs = _probe_notebooks(tmp_path / "nb")
    warm = WarmKernel(nbs / PHASES["assessment"].notebook, kernel="python3", cwd=nbs,
                      extra_arguments=["--IPKernelApp.log_level=ERROR"], manager_class=faults.kernel_manager_class([]))
    try:
        deadline = time.monotonic() + 120
        while warm.km is None or not getattr(warm.km.provisioner, "pid", None):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(warm.km.provisioner.pid, signal.SIGKILL)
        assert warm.take() is None  # the phase then starts its own kernel
    finally:
        warm.shutdown()
    assert _kernels() == []


def test_warm_kernels_can_be_turned_off_and_a_bad_setting_stops_the_run(client, tmp_path, monkeypatch):
    nbs = _probe_notebooks(tmp_path / "nb")
    monkeypatch.setenv("KAM_WARM_KERNELS", "yes")
    with pytest.raises(RunError, match="KAM_WARM_KERNELS='yes' is not 0 or 1"):
        run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    assert not (client.parent / "outputs" / "warm-test").exists()
    monkeypatch.setenv("KAM_WARM_KERNELS", "0")
    monkeypatch.setenv("KAM_FORK_KERNELS", "2")
    with pytest.raises(RunError, match="KAM_FORK_KERNELS='2' is not 0 or 1"):
        run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    monkeypatch.setenv("KAM_FORK_KERNELS", "0")  # nor forked from the preloaded server: a cold kernel
    result = run_engagement(client, notebooks_dir=nbs, deliverables=False, progress=None)
    assert [p["kernel_started_ahead"] for p in result.manifest["phases"]] == [False] * len(PHASES)
    assert [p["kernel_forked"] for p in result.manifest["phases"]] == [False] * len(PHASES)
    nb = nbformat.read(result.run_dir / "notebooks" / PHASES["segmentation"].notebook, as_version=4)
    assert nb.cells[2].outputs[0]["text"].strip() == "seen False []"  # a cold kernel: tabnanny not loaded yet
