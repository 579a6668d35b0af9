"""The phase notebooks stay thin: parameters cell, no logic, no outputs committed."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from kam_analysis.runner import PHASES

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = [NB_DIR / p.notebook for p in PHASES.values()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_tagged_parameters_cell_first_among_code(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert code[0] is tagged[0]
    names = {t.id for node in ast.parse(tagged[0].source).body for t in getattr(node, "targets", [])}
    assert names == {"params_path", "run_dir", "overrides"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_defines_no_functions_or_classes(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                               ast.ClassDef, ast.Lambda))]
        assert not defs, f"{path.name}: move this logic into kam_analysis:\n{cell.source[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_explains_itself(path):
    nb = nbformat.read(path, as_version=4)
    md = [c for c in nb.cells if c.cell_type == "markdown"]
    assert md and md[0].source.startswith("# ")
    assert len(md) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_rich_output_goes_through_the_escaping_helpers(path):
    """Markdown comes from kam_analysis.reporting (client text escaped), never IPython's own;
    no raw HTML display and no unescaped Styler (``.style``) built in a notebook."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("IPython"):
                assert {a.name for a in node.names} <= {"display"}, f"{path.name}: {ast.unparse(node)}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("style", "to_html"), f"{path.name}: {ast.unparse(node)[:80]}"
            if isinstance(node, ast.Name):
                assert node.id not in ("HTML", "Javascript"), f"{path.name}: uses {node.id}"
