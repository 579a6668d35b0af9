"""The benchmark script's own parts that can go stale without a run (it is not run by the suite)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("run_benchmark", REPO / "benchmarks" / "run_benchmark.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_notebook_start_benchmark_imports_what_the_notebooks_import():
    # it once imported modules that had been renamed (kam_analysis.kpis), and `make benchmark` failed at its first step
    src = _benchmark_module().notebook_imports()
    assert "from kam_analysis.phases import" in src and "from kam_analysis import metrics" in src
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_each_script_rewrites_only_its_own_section_of_the_results(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _sections import SECTION_END, kept_sections, section_open, write_section

    md = tmp_path / "results.md"
    write_section(md, "components", f"{section_open('components')}\nold\n{SECTION_END}")
    write_section(md, "assessment_orders", f"{section_open('assessment_orders')}\nmine\n{SECTION_END}")
    write_section(md, "components", f"{section_open('components')}\nnew\n{SECTION_END}")
    text = md.read_text()
    assert "new" in text and "old" not in text and text.count(SECTION_END) == 2 and "mine" in text
    assert kept_sections(md).count(SECTION_END) == 2  # run_benchmark.py keeps both when it rewrites the file
