"""The notebooks run in JupyterLab as they are: executed with nbclient (as JupyterLab's
kernel does, without Papermill or the runner), in a kernel without ipywidgets, from the
parameter cell's defaults except the client (a small demo client instead of the full one).

Notebook 4 opened first prepares the phases before it in the scratch run; a changed
override makes the scratch run prepare again (a stale table would keep the old churn
definition); the override format the parameter cell documents is the one the loader takes.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, write_demo_params
from kam_analysis.config import load_params


def _with_parameters(src: Path, dst: Path, **values) -> Path:
    """The notebook with its parameter cell's values replaced, as a user edits it."""
    nb = nbformat.read(src, as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    lines = cell.source.splitlines()
    for i, line in enumerate(lines):
        name = line.split("=")[0].strip()
        if name in values:
            lines[i] = f"{name} = {values[name]!r}"
    cell.source = "\n".join(lines)
    nbformat.write(nb, dst)
    return dst


def _execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def test_the_documented_override_format_is_the_one_the_loader_takes(tmp_path):
    nb = nbformat.read(REPO / "notebooks" / "01_assessment.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert '"key.sub=value"' in cell.source
    params = load_params(write_demo_params(tmp_path, n_accounts=50), ["analysis.churn_days=30"])
    assert params.analysis.churn_days == 30


def test_duckdb_connections_open_in_a_kernel_without_ipywidgets(tmp_path):
    pytest.importorskip("ipykernel")
    try:
        import ipywidgets  # noqa: F401
        pytest.skip("ipywidgets is installed: DuckDB accepts the setting anyway")
    except ImportError:
        pass
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from kam_analysis.data.readers import connect_duckdb\n"
                                          "print(connect_duckdb().execute('SELECT 41 + 1').fetchone()[0])")]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0]["text"].strip() == "42"


@pytest.mark.slow
def test_notebooks_run_top_to_bottom_on_their_own_in_jupyterlab(tmp_path):
    params = write_demo_params(tmp_path, n_accounts=200, seed=5, name="Lab Client")
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    rel = "../" + params.name  # relative to the notebook, like the default "../params/demo.yaml"
    review = _with_parameters(REPO / "notebooks" / "04_review.ipynb", nb_dir / "04_review.ipynb", params_path=rel)
    nb = _execute(review)  # opened first: prepares assessment, segmentation and strategy itself
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    scratch = tmp_path / "outputs" / "lab-client" / "interactive"
    assert (scratch / "tables" / "recommendations.parquet").exists()
    assert {p.name for p in (scratch / "notebooks").glob("*.ipynb")} == {
        "01_assessment.ipynb", "02_segmentation.ipynb", "03_strategy.ipynb"}
    assert json.loads((scratch / "params.json").read_text())["analysis"]["churn_days"] != 30

    strategy = _with_parameters(REPO / "notebooks" / "03_strategy.ipynb", nb_dir / "03_strategy.ipynb",
                                params_path=rel, overrides=["analysis.churn_days=30"])
    nb = _execute(strategy)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream")
    assert "preparing it again" in text  # the changed override refreshed the scratch run
    assert json.loads((scratch / "params.json").read_text())["analysis"]["churn_days"] == 30
    assert not (scratch / "tables" / "recommendations.parquet").exists()  # review's stale tables are gone
