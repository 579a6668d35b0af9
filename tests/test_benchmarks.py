"""The benchmark script's own parts that can go stale without a run (it is not run by the suite)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_sizes_name_their_accounts_and_a_size_can_be_its_own_section(tmp_path):
    rb = _benchmark_module()
    assert rb.parse_sizes("1000000, 50000000:1000000", 200_000) == [(1_000_000, 200_000), (50_000_000, 1_000_000)]
    # the 200,000-account clients keep their folders; another account count gets its own
    assert rb._tag(10_000_000, "parquet", 200_000) == "10m" and rb._tag(10_000_000, "csv") == "10m_csv"
    assert rb._tag(50_000_000, "parquet", 1_000_000) == "50m_1m_accounts"
    run = {"label": "large 50M orders, 1M accounts (parquet)", "seconds": 1500.0, "exit_code": 0,
           "peak_rss_tree_bytes": 5 * 2**30, "peak_rss_single_bytes": 3 * 2**30, "load_average_mean": 1.5,
           "load_average_max": 2.5, "prepare_seconds": 300.0, "phases": {"assessment": 200.0},
           "deliverables": {"deck": 10.0}, "deliverables_status": {"deck": "success", "html_dashboard": "failed"},
           "rows": {"transactions": {"rows_read": 51_504_999}, "accounts": {"rows_read": 1_000_000}}}
    results = {"machine": {"cpu_model": "X", "logical_cores": 2, "ram_gib": 23.5}, "finished_at": "T",
               "argv": ["--sizes", "50000000:1000000", "--section", "large-50m"], "engagements": [run],
               "generation": {}}
    md = tmp_path / "results.md"
    md.write_text("# Benchmark results\n\nother figures\n")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _sections import write_section

    write_section(md, "large-50m", rb.own_section(results, "large-50m"))
    text = md.read_text()
    assert "other figures" in text and "51,504,999 order lines, 1,000,000 accounts" in text
    assert "**1,500.0 s** (25.0 min) wall, peak RSS **5.00 GiB**" in text and "load average 1.5" in text
    assert "| phase assessment | 200.0 s |" in text and "Deliverables not built: html_dashboard (failed)" in text


def test_the_sampler_sums_what_it_is_given_over_a_process_and_its_children():
    rb = _benchmark_module()
    # a parent holding 40 MiB starts a child holding 80 MiB; both hold it for a second once the child has it
    child = "b = bytearray(80 * 2**20); print('ready', flush=True); import time; time.sleep(30)"
    parent = (f"import subprocess, sys, time; b = bytearray(40 * 2**20); "
              f"c = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE); "
              f"c.stdout.readline(); time.sleep(1.0); c.kill(); c.wait()")
    proc = subprocess.Popen([sys.executable, "-c", parent])
    counted = []

    def rss_and_one(p):
        counted.append(p.pid)
        return {**rb.rss(p), "one": 1}

    with rb.ProcessSampler([proc.pid], rss_and_one, interval=0.05) as s:
        proc.wait(timeout=60)
    assert s.samples >= 2 and s.peak_processes == 2 and s.peak["one"] == 2 and s.peak_single["one"] == 1
    assert s.peak_single["rss"] >= 80 * 2**20  # the child alone
    assert s.peak["rss"] >= 120 * 2**20 > s.peak_single["rss"]  # the two summed
    assert proc.pid in counted and len(set(counted)) == 2
    with rb.ProcessSampler([proc.pid], rss_and_one) as gone:  # the process has ended: nothing to sample
        pass
    assert gone.samples == 0 and gone.peak["rss"] == 0


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.exists("/proc/self/smaps_rollup"), reason="Linux PSS")
def test_pss_counts_pages_a_fork_shares_with_its_parent_once():
    """A parent touching 100 MiB forks a child that only reads them: RSS summed counts them twice,
    PSS once (what the fork server and its kernels share)."""
    rb = _benchmark_module()
    code = ("import os, time, sys\nb = bytearray(os.urandom(100 * 2**20))\npid = os.fork()\n"
            "if pid == 0:\n    s = sum(b[::4096]); time.sleep(2.5); os._exit(0)\n"
            "time.sleep(0.5); print('forked', flush=True); os.waitpid(pid, 0)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"forked"
    with rb.ProcessSampler([proc.pid], rb.pss_and_rss, interval=0.1) as s:
        proc.wait(timeout=60)
    assert s.peak_processes == 2
    assert s.peak["rss"] >= 190 * 2**20  # each process maps the 100 MiB
    assert 95 * 2**20 <= s.peak["pss"] <= 150 * 2**20  # shared once between the two
