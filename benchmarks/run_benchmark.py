"""Benchmark the engagement: demo client and large synthetic clients (1M and 10M orders).

    python benchmarks/run_benchmark.py                 # demo + 1M + 10M (the 10M run takes minutes)
    python benchmarks/run_benchmark.py --sizes 1000000  # demo + 1M only
    python benchmarks/run_benchmark.py --no-demo --sizes 10000000
    python benchmarks/run_benchmark.py --no-demo --sizes 50000000:1000000 --section large-50m  # its own section

For each engagement it runs ``kam run`` in a child process and samples, every 0.2 s,
the resident memory (RSS) of the whole process tree (the runner plus its Jupyter
kernels) with psutil. It reads the per-step timings the runner records in
``manifest.json`` (``prepare_seconds``, ``phases[].seconds``, ``deliverables[].seconds``),
times a bare notebook start (kernel start, and kernel start + ``import kam_analysis``:
the floor under every phase), and writes everything to ``benchmarks/results.json`` and
``benchmarks/results.md`` together with the machine it ran on.

Large clients are generated once into ``benchmarks/data/`` (git-ignored) with the
demo generator's large-client mode (``kam demo-data --accounts 200000 --orders N
--format parquet``); generation time and memory are reported too.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # benchmarks/_sections.py, also when loaded by path
from _sections import SECTION_END, kept_sections, section_open, write_section  # noqa: E402
DATA = HERE / "data"
KAM = [sys.executable, "-m", "kam_analysis.cli"]


# --------------------------------------------------------------------------- measuring
class ProcessSampler:
    """Peak memory of processes and all their descendants, sampled in a thread every ``interval`` s.

    ``memory(process)`` says what to sum: one process's figures in bytes, by name (``rss`` below;
    the PostgreSQL benchmark sums PSS too). At each sample each figure is summed over the processes
    alive then: ``peak[name]`` keeps the largest sum, ``peak_single[name]`` the largest single
    process, ``peak_processes`` the most processes at once, ``loads`` the 1-minute load average at
    each sample (how busy the shared cores were). Sampling ends when a root process ends.
    """

    def __init__(self, pids: list[int], memory, interval: float = 0.2):
        self.pids, self.memory, self.interval = list(pids), memory, interval
        self.peak: dict[str, int] = defaultdict(int)
        self.peak_single: dict[str, int] = defaultdict(int)
        self.peak_processes = 0
        self.samples = 0
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        roots = []
        for pid in self.pids:
            try:
                roots.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pass
        while roots and not self._stop.is_set():
            try:
                procs = [p for r in roots for p in (r, *r.children(recursive=True))]
            except psutil.NoSuchProcess:
                break
            totals: dict[str, int] = defaultdict(int)
            for p in procs:
                try:
                    figures = self.memory(p)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                for name, value in figures.items():
                    totals[name] += value
                    self.peak_single[name] = max(self.peak_single[name], value)
            for name, total in totals.items():
                self.peak[name] = max(self.peak[name], total)
            self.peak_processes = max(self.peak_processes, len(procs))
            self.samples += 1
            self.loads.append(os.getloadavg()[0])
            self._stop.wait(self.interval)

    def __enter__(self) -> "ProcessSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def rss(process: psutil.Process) -> dict[str, int]:
    """A process's resident memory: what :class:`ProcessSampler` sums for the kam process tree."""
    return {"rss": process.memory_info().rss}


def pss_and_rss(process: psutil.Process) -> dict[str, int]:
    """A process's memory as PSS (pages shared with other processes split between them: the fork
    server's libraries in its forked kernels, PostgreSQL's shared buffers in its backends, counted
    once in a sum) and as RSS (each shared page counted in every process that maps it)."""
    m = process.memory_full_info()
    return {"pss": getattr(m, "pss", m.rss), "rss": m.rss}


def run_measured(cmd: list[str], *, env: dict | None = None, log: Path | None = None) -> dict:
    """Run ``cmd``; return wall seconds, exit code, peak tree/single-process RSS and peak tree PSS (bytes)."""
    t0 = time.perf_counter()
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)  # benchmarks/data/ is not in a fresh checkout
    out = open(log, "w") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        with ProcessSampler([proc.pid], pss_and_rss) as s:
            code = proc.wait()
    finally:
        if log:
            out.close()
    return {"seconds": round(time.perf_counter() - t0, 2), "exit_code": code,
            "peak_rss_tree_bytes": s.peak["rss"], "peak_rss_single_bytes": s.peak_single["rss"],
            "peak_pss_tree_bytes": s.peak["pss"], "samples": s.samples,
            "load_average_mean": round(statistics.fmean(s.loads), 2) if s.loads else None,
            "load_average_max": round(max(s.loads), 2) if s.loads else None}


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import duckdb
    import pandas

    return {"cpu_model": cpu or "unknown", "logical_cores": psutil.cpu_count(logical=True),
            "physical_cores": psutil.cpu_count(logical=False),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1), "os": platform.platform(),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pandas.__version__,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def notebook_imports() -> str:
    """The import lines of the engagement's notebooks, as one cell: the floor every phase notebook pays
    (read from the notebooks, so a renamed module cannot leave this benchmark importing a stale one)."""
    import nbformat

    lines: dict[str, None] = {}
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                code = line.split("#", 1)[0].rstrip()
                if code.startswith(("import ", "from ")) and not code.endswith(("(", "\\", ",")):
                    lines[code] = None
    return "\n".join(lines)


def bare_notebook_start(reps: int = 3) -> dict:
    """Seconds to execute a one-cell notebook with papermill: empty, and importing kam_analysis."""
    import nbformat
    import papermill as pm

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, source in (("kernel_only", "1 + 1"),
                              ("kernel_plus_imports", notebook_imports())):
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            src = Path(tmp) / f"{label}.ipynb"
            nbformat.write(nb, src)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                pm.execute_notebook(str(src), str(Path(tmp) / f"{label}_out.ipynb"), progress_bar=False,
                                    log_output=False, kernel_name="python3")
                times.append(time.perf_counter() - t0)
            out[label] = {"median_seconds": round(statistics.median(times), 2), "runs": [round(t, 2) for t in times]}
    return out


# --------------------------------------------------------------------------- engagements
DEFAULT_ACCOUNTS = 200_000


def _count(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 else f"{n // 1000}k"


def _tag(n_orders: int, fmt: str, accounts: int = DEFAULT_ACCOUNTS) -> str:
    tag = _count(n_orders) if accounts == DEFAULT_ACCOUNTS else f"{_count(n_orders)}_{_count(accounts)}_accounts"
    return tag if fmt == "parquet" else f"{tag}_{fmt}"


def parse_sizes(text: str, accounts: int) -> list[tuple[int, int]]:
    """``--sizes``: comma-separated order counts, each optionally ``ORDERS:ACCOUNTS``
    (e.g. ``50000000:1000000``); without accounts a size gets ``--accounts``."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            orders, _, acc = part.partition(":")
            out.append((int(orders), int(acc) if acc else accounts))
    return out


def large_params(n_orders: int, accounts: int, fmt: str = "parquet") -> Path:
    """Write the large client's params file (its data from :func:`generate`); return the params path."""
    tag = _tag(n_orders, fmt, accounts)
    folder = DATA / f"large_{tag}"
    params_path = DATA / f"large_{tag}.yaml"
    raw = yaml.safe_load((REPO / "params" / "demo.yaml").read_text())
    raw["client"]["name"] = f"Large Client ({n_orders / 1e6:g} million orders, {accounts:,} accounts)"  # on every page
    raw["data"].pop("demo", None)
    raw["data"]["transactions"]["path"] = str(folder / f"orders.{fmt}")
    for table, name in (("accounts", "customers.csv"), ("surveys", "nps_survey.csv"),
                        ("capability", "kam_capability.csv")):
        raw["data"][table]["path"] = str(folder / name)
    raw["output"] = {"root": str(DATA / "outputs")}
    DATA.mkdir(parents=True, exist_ok=True)
    params_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return params_path


def generate(n_orders: int, accounts: int, fmt: str = "parquet") -> dict | None:
    tag = _tag(n_orders, fmt, accounts)
    folder = DATA / f"large_{tag}"
    if (folder / f"orders.{fmt}").exists():
        return None
    print(f"generating {n_orders:,} orders for {accounts:,} accounts ({fmt}) ...", flush=True)
    return run_measured([*KAM, "demo-data", str(folder), "--accounts", str(accounts), "--orders", str(n_orders),
                         "--format", fmt], log=DATA / f"generate_{tag}_{fmt}.log")


def engagement(label: str, params_path: Path, extra: list[str] | None = None) -> dict:
    print(f"running {label} ...", flush=True)
    log = DATA / f"run_{label}.log"
    res = run_measured([*KAM, "run", str(params_path), *(extra or [])], log=log)
    text = log.read_text()
    run_dir = Path(text.strip().splitlines()[-1]) if res["exit_code"] == 0 else None
    res["label"] = label
    if run_dir and (run_dir / "manifest.json").exists():
        m = json.loads((run_dir / "manifest.json").read_text())
        res["run_dir"] = str(run_dir)
        res["prepare_seconds"] = m.get("prepare_seconds")
        res["phases"] = {p["phase"]: p["seconds"] for p in m.get("phases", [])}
        res["deliverables"] = {d["name"]: d.get("seconds") for d in m.get("deliverables", [])
                               if d.get("status") == "success"}
        res["deliverables_status"] = {d["name"]: d["status"] for d in m.get("deliverables", [])}
        res["rows"] = m.get("validation", {}).get("stats", {})
        res["input_bytes"] = sum(i["bytes"] for i in m.get("inputs", []))
    else:
        res["error_tail"] = text[-2000:]
    print(f"  {label}: {res['seconds']:.1f} s, peak tree RSS {res['peak_rss_tree_bytes'] / 2**30:.2f} GiB, "
          f"exit {res['exit_code']}", flush=True)
    return res


def deliverables_at_scale(n_accounts: int, base_run: Path | None) -> dict:
    """Each deliverable built on a synthetic run folder of ``n_accounts`` (see scale_run.py):
    a small run's one-row-per-account tables repeated, so the deliverables are timed at scale
    without running the whole engagement there. The base run is the demo engagement's."""
    if base_run is None:
        res = engagement("demo (base of the scaled run folder)", REPO / "params" / "demo.yaml",
                         ["--set", f"output.root={DATA / 'outputs'}"])
        base_run = Path(res["run_dir"])
    print(f"timing the deliverables at {n_accounts:,} accounts ...", flush=True)
    log = DATA / f"deliverables_{n_accounts}.log"
    dst = DATA / f"scaled_{n_accounts}"
    load_before = [round(x, 2) for x in os.getloadavg()]
    res = run_measured([sys.executable, str(HERE / "scale_run.py"), str(base_run), str(dst), "--accounts",
                        str(n_accounts), "--time"], log=log)
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    import pyarrow.parquet as pq

    base_accounts = pq.ParquetFile(base_run / "tables" / "segments.parquet").metadata.num_rows
    return {"accounts": n_accounts, "base_run": str(base_run), "base_accounts": base_accounts,
            "records": recs, "peak_rss_tree_bytes": res["peak_rss_tree_bytes"], "exit_code": res["exit_code"],
            "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _scale_section(d: dict) -> list[str]:
    recs = [r for r in d["records"] if r.get("name") and "status" in r]
    page = next((r for r in d["records"] if r.get("name") == "html_dashboard_in_chromium"), None)
    lines = ["", f"## Deliverables at {d['accounts']:,} accounts (synthetic run folder)", "",
             f"Measured {d['at']} with `python benchmarks/run_benchmark.py {d.get('argv', '')}`: "
             f"a run of the demo client ({d['base_accounts']:,} accounts) whose one-row-per-account tables are "
             f"repeated to {d['accounts']:,} accounts (`benchmarks/scale_run.py`), each deliverable built on it "
             "in one process. Load average {0} before and {1} after on this shared 2-core machine (other agents "
             "were running): wall time is inflated by the load, CPU time much less so.".format(
                 ", ".join(map(str, d["load_average_before"])), ", ".join(map(str, d["load_average_after"]))),
             "", "| deliverable | wall | CPU | file | memory growth |", "|---|---|---|---|---|"]
    for r in recs:
        size = f"{r['bytes'] / 2**20:.1f} MB" if r.get("bytes") else "–"
        lines.append(f"| {r['name']} | {_s(r.get('seconds'))} | {_s(r.get('cpu_seconds'))} | {size} | "
                     f"{r.get('rss_growth_gib', 0):.2f} GiB |")
    lines.append(f"\nPeak memory of the process (all deliverables in turn): {_gib(d['peak_rss_tree_bytes'])}.")
    if page:
        lines.append(f"\nThe HTML dashboard in headless Chromium: drawn {page.get('load_ms', 0):,} ms after "
                     f"navigation, re-drawn for one segment in {page.get('filter_ms', 0):,} ms, "
                     f"{page.get('elements', 0):,} elements, JavaScript errors: {len(page.get('js_errors', []))}.")
    return lines


# --------------------------------------------------------------------------- report
def _gib(b: float | None) -> str:
    return "–" if not b else f"{b / 2**30:.2f} GiB"


def _s(x: float | None) -> str:
    return "–" if x is None else f"{x:,.1f} s"


def write_report(results: dict, md_path: Path) -> None:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {results['finished_at']} with `python benchmarks/run_benchmark.py {shlex.join(results['argv'])}`.",
        "",
        f"**Machine:** {m['cpu_model']}, {m['logical_cores']} logical cores ({m['physical_cores']} physical), "
        f"{m['ram_gib']} GiB RAM, {m['os']}; Python {m['python']}, DuckDB {m['duckdb']}, pandas {m['pandas']}. "
        f"Load average at start: {', '.join(map(str, m['load_average_at_start']))} (the machine was shared, "
        "so wall times are upper bounds).",
        "",
        "## Floor: a bare notebook start",
        "",
        "| what | median | runs |",
        "|---|---|---|",
    ]
    for k, v in results["notebook_start"].items():
        lines.append(f"| {k.replace('_', ' ')} | {v['median_seconds']:.2f} s | {', '.join(map(str, v['runs']))} |")
    floor = results["notebook_start"].get("kernel_plus_imports", {}).get("median_seconds")
    if floor:
        lines += ["", f"Four phase notebooks cost at least 4 × {floor:.1f} s = {4 * floor:.1f} s before any "
                      "analysis runs; that is the floor the runner cannot go under with one kernel per phase."]
    runs = results["engagements"]
    lines += ["", "## Engagements (`kam run`, whole process tree)", "",
              "| engagement | orders (rows) | accounts | wall | prepare (validate + aggregate) | "
              + " | ".join(runs[0].get("phases", {}).keys() if runs else []) + " | deliverables | peak RSS (tree) | "
              "peak RSS (largest process) |",
              "|" + "---|" * (8 + len(runs[0].get("phases", {}) if runs else []))]
    for r in runs:
        rows = r.get("rows", {})
        phases = " | ".join(_s(v) for v in r.get("phases", {}).values())
        deliv = sum(v for v in r.get("deliverables", {}).values() if v) if r.get("deliverables") else None
        lines.append(
            f"| {r['label']} | {rows.get('transactions', {}).get('rows_read', 0):,} | "
            f"{rows.get('accounts', {}).get('rows_read', 0):,} | {_s(r['seconds'])} | {_s(r.get('prepare_seconds'))} | "
            f"{phases} | {_s(deliv)} | {_gib(r['peak_rss_tree_bytes'])} | {_gib(r['peak_rss_single_bytes'])} |")
    dl = [r for r in runs if r.get("deliverables")]
    if dl:
        names = sorted({k for r in dl for k in r["deliverables"]})
        lines += ["", "### Deliverables (seconds each)", "", "| engagement | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for r in dl:
            lines.append(f"| {r['label']} | " + " | ".join(_s(r["deliverables"].get(n)) for n in names) + " |")
    for g in results.get("growth", []):
        lines += ["", f"## Growth from {g['from']} to {g['to']} ({g['order_ratio']:.1f}× the order rows)", "",
                  "| step | ratio |", "|---|---|"]
        for k, v in g["ratios"].items():
            lines.append(f"| {k} | {v:.2f}× |")
    if results.get("deliverables_at_scale"):
        lines += _scale_section(results["deliverables_at_scale"])
    gens = results.get("generation", {})
    if gens:
        lines += ["", "## Generating the large clients (`kam demo-data`)", "", "| client | wall | peak RSS |",
                  "|---|---|---|"]
        for k, v in gens.items():
            lines.append(f"| {k} | {_s(v['seconds'])} | {_gib(v['peak_rss_tree_bytes'])} |")
    lines.append("")
    md_path.write_text("\n".join(lines) + kept_sections(md_path), encoding="utf-8")


def own_section(results: dict, name: str) -> str:
    """results.md's marked section ``name`` for the engagements of one ``--section`` run."""
    m = results["machine"]
    lines = [section_open(name), "", f"## Measured on its own: {name}", "",
             f"Run {results['finished_at']} with `"
             + results.get("command", f"python benchmarks/run_benchmark.py {shlex.join(results['argv'])}") + "` "
             f"on {m['cpu_model']}, {m['logical_cores']} logical cores, {m['ram_gib']} GiB RAM. Anything else "
             "running shares the cores: the 1-minute load average during each step is given (2.0 would "
             "mean both cores busy), so wall times are upper bounds.", ""]
    floor = results.get("notebook_start", {}).get("kernel_plus_imports", {}).get("median_seconds")
    if floor:  # the floor under the demo: four phase notebooks, each a kernel start and kam's imports
        lines += [f"A bare notebook start (kernel start + `import kam_analysis`, Papermill, median of 3) took "
                  f"{floor:.2f} s, so four phases cost at least {4 * floor:.1f} s; 1.5x that is "
                  f"{6 * floor:.1f} s.", ""]
    for k, v in results.get("generation", {}).items():
        lines.append(f"- Generating {k} (`kam demo-data`, written month by month): {_s(v['seconds'])}, "
                     f"peak RSS {_gib(v['peak_rss_tree_bytes'])}, load average {v.get('load_average_mean')} "
                     f"(max {v.get('load_average_max')}).")
    for r in results["engagements"]:
        rows = r.get("rows", {})
        lines += ["", f"### {r['label']}", "",
                  f"{rows.get('transactions', {}).get('rows_read', 0):,} order lines, "
                  f"{rows.get('accounts', {}).get('rows_read', 0):,} accounts: **{_s(r['seconds'])}** "
                  f"({r['seconds'] / 60:.1f} min) wall, peak RSS **{_gib(r['peak_rss_tree_bytes'])}** for the whole "
                  f"process tree ({_gib(r['peak_rss_single_bytes'])} the largest process"
                  + (f"; PSS {_gib(r['peak_pss_tree_bytes'])}, which counts the pages the forked kernels share "
                     "with their server once" if r.get("peak_pss_tree_bytes") else "") + "), exit code "
                  f"{r['exit_code']}; load average {r.get('load_average_mean')} on average during the run "
                  f"(max {r.get('load_average_max')}).", "", "| step | seconds |", "|---|---|",
                  f"| prepare (validate + aggregate) | {_s(r.get('prepare_seconds'))} |"]
        lines += [f"| phase {k} | {_s(v)} |" for k, v in r.get("phases", {}).items()]
        lines += [f"| deliverable {k} | {_s(v)} |" for k, v in r.get("deliverables", {}).items()]
        failed = {k: v for k, v in r.get("deliverables_status", {}).items() if v != "success"}
        if failed:
            lines.append(f"\nDeliverables not built: {', '.join(f'{k} ({v})' for k, v in failed.items())}.")
        if r.get("error_tail"):
            lines += ["", "The run failed; the end of its log:", "", "```", r["error_tail"][-1500:], "```"]
    return "\n".join(lines) + "\n\n" + SECTION_END


def growth(a: dict, b: dict) -> dict | None:
    if not (a.get("phases") and b.get("phases")):
        return None
    ra = a["rows"]["transactions"]["rows_read"]
    rb = b["rows"]["transactions"]["rows_read"]
    ratios = {"wall": b["seconds"] / a["seconds"], "prepare": b["prepare_seconds"] / a["prepare_seconds"]}
    for k in a["phases"]:
        if k in b["phases"] and a["phases"][k]:
            ratios[f"phase {k}"] = b["phases"][k] / a["phases"][k]
    ratios["peak RSS (tree)"] = b["peak_rss_tree_bytes"] / max(a["peak_rss_tree_bytes"], 1)
    return {"from": a["label"], "to": b["label"], "order_ratio": rb / ra, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,10000000",
                    help="comma-separated order counts of large clients, each optionally ORDERS:ACCOUNTS "
                         "(50 million orders for 1 million accounts: 50000000:1000000)")
    ap.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS, help="accounts of the large clients")
    ap.add_argument("--section", metavar="NAME",
                    help="write these engagements as results.md's marked section NAME, keeping the rest of "
                         "the file (for a size measured on its own, e.g. the 50-million-order client)")
    ap.add_argument("--formats", default="parquet", help="comma-separated orders file formats: parquet,csv")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo engagement")
    ap.add_argument("--no-deliverables", action="store_true", help="pass --no-deliverables to kam run")
    ap.add_argument("--out", default=str(HERE / "results"), help="results file stem (.md and .json)")
    ap.add_argument("--deliverables-at", type=int, default=0, metavar="ACCOUNTS",
                    help="also time each deliverable on a synthetic run folder of this many accounts")
    ap.add_argument("--only-deliverables-at", type=int, default=0, metavar="ACCOUNTS",
                    help="only that, kept beside the other figures of an earlier results.json")
    ap.add_argument("--base-run", help="the small run folder to grow (default: a fresh demo run)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.only_deliverables_at:
        DATA.mkdir(parents=True, exist_ok=True)
        results = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {
            "argv": [], "machine": machine(), "notebook_start": {}, "engagements": [],
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        d = deliverables_at_scale(args.only_deliverables_at, Path(args.base_run) if args.base_run else None)
        d["machine"] = machine()
        d["argv"] = " ".join(argv if argv is not None else sys.argv[1:])
        results["deliverables_at_scale"] = d
        out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        write_report(results, out.with_suffix(".md"))
        print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")
        return d["exit_code"]
    env_note = os.environ.get("PYTHONPATH")
    results: dict = {"argv": argv if argv is not None else sys.argv[1:], "machine": machine(),
                     "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "pythonpath": env_note, "engagements": [], "generation": {}}
    print("timing a bare notebook start ...", flush=True)
    results["notebook_start"] = bare_notebook_start()
    extra = ["--no-deliverables"] if args.no_deliverables else []
    if not args.no_demo:
        results["engagements"].append(
            engagement("demo", REPO / "params" / "demo.yaml", extra + ["--set", f"output.root={DATA / 'outputs'}"]))
    sizes = parse_sizes(args.sizes, args.accounts)
    large = []
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        for n, accounts in sizes:
            load_before = [round(x, 2) for x in os.getloadavg()]
            gen = generate(n, accounts, fmt)
            if gen:
                gen["load_average_before"] = load_before
                gen["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
                results["generation"][f"{n:,} orders, {accounts:,} accounts ({fmt})"] = gen
            label = (f"large {n / 1e6:g}M orders ({fmt})" if accounts == DEFAULT_ACCOUNTS
                     else f"large {n / 1e6:g}M orders, {accounts / 1e6:g}M accounts ({fmt})")
            r = engagement(label, large_params(n, accounts, fmt), extra)
            results["engagements"].append(r)
            large.append(r)
        same = [r for r in large if r["label"].endswith(f"({fmt})")]
        if len(same) >= 2:
            g = growth(same[0], same[-1])
            if g:
                results.setdefault("growth", []).append(g)
    if args.deliverables_at:
        demo = next((r for r in results["engagements"] if r["label"] == "demo" and r.get("run_dir")), None)
        results["deliverables_at_scale"] = deliverables_at_scale(
            args.deliverables_at, Path(args.base_run) if args.base_run else (Path(demo["run_dir"]) if demo else None))
        results["deliverables_at_scale"]["argv"] = " ".join(results["argv"])
    results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if args.section:
        out.with_name(f"{out.name}_{args.section}").with_suffix(".json").write_text(
            json.dumps(results, indent=2, default=str), encoding="utf-8")
        write_section(out.with_suffix(".md"), args.section, own_section(results, args.section))
        print(f"wrote section {args.section} of {out.with_suffix('.md')}")
        return 0 if all(r["exit_code"] == 0 for r in results["engagements"]) else 1
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    write_report(results, out.with_suffix(".md"))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")
    return 0 if all(r["exit_code"] == 0 for r in results["engagements"]) else 1


if __name__ == "__main__":
    sys.exit(main())
