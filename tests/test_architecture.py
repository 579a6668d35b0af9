"""The package's layering, as docs/architecture.md describes it, enforced.

Every import in ``kam_analysis`` — at module level or inside a function — is read from
the source. A module may import its own layer or a lower one, never a higher one; there
is no import cycle between modules; no module is longer than the agreed size.
"""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PKG_DIR = Path(__file__).resolve().parents[1] / "kam_analysis"

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("kam_analysis.exceptions", "kam_analysis.safety")),
    ("config", ("kam_analysis.config",)),
    ("present", ("kam_analysis.present",)),
    ("data", ("kam_analysis.data",)),
    ("metrics", ("kam_analysis.metrics",)),
    ("models", ("kam_analysis.models",)),
    ("phases", ("kam_analysis.phases",)),
    ("output", ("kam_analysis.charts", "kam_analysis.reporting", "kam_analysis.deliverables")),
    ("app", ("kam_analysis.runner", "kam_analysis.cli", "kam_analysis.__main__", "kam_analysis")),
]
MAX_LINES = 900


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG_DIR.rglob("*.py"):
        parts = list(f.relative_to(PKG_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_name, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")
    return rank


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that ``module`` imports anywhere in its source (most specific name)."""
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def add(name: str) -> None:
        # the most specific known module: "a.b.c" if it is a module, else its parent
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("kam_analysis"):
                    add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("kam_analysis"):
                continue
            for a in node.names:
                full = f"{target}.{a.name}"
                add(full if full in known else target)
    found.discard(module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: imports_of(m, p, set(mods)) for m, p in mods.items()}


def test_every_module_has_a_layer(graph):
    for m in graph:
        layer_of(m)


def test_imports_only_go_down(graph):
    bad = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
           for m, deps in sorted(graph.items()) for d in sorted(deps) if layer_of(d) > layer_of(m)]
    assert not bad, "layer violations:\n" + "\n".join(bad)


def test_no_import_cycles(graph):
    # a package's __init__ re-exporting its own submodules is not a cycle of concern;
    # every other edge counts, including imports inside functions
    edges = {m: {d for d in deps if not (m == d.rpartition(".")[0] and (PKG_DIR.parent / m.replace(".", "/")).is_dir())}
             for m, deps in graph.items()}
    try:
        tuple(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_modules_stay_small():
    big = {str(p.relative_to(PKG_DIR.parent)): n for p in PKG_DIR.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split by concept): {big}"


def test_the_checker_sees_a_violation(tmp_path):
    """The checker itself: an upward import inside a function is found."""
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from ..phases import review\n")
    deps = imports_of("kam_analysis.metrics.x", src, {"kam_analysis.phases", "kam_analysis.phases.review"})
    assert deps == {"kam_analysis.phases.review"}
    assert layer_of("kam_analysis.phases.review") > layer_of("kam_analysis.metrics.x")
