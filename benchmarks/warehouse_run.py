"""Benchmark the engagement read from PostgreSQL, next to the same client read from files.

    python benchmarks/warehouse_run.py --client benchmarks/data/large_10m.yaml
    python benchmarks/warehouse_run.py --client benchmarks/data/large_10m.yaml --keep-server   # reuse later

1. Starts a throwaway PostgreSQL cluster with ``scripts/start-test-postgres.sh`` (Debian's
   ``postgresql``; a free port, a random password, removed at the end) — or uses the server
   whose URL is in ``KAM_BENCH_POSTGRES_URL``.
2. Loads the client's four tables (the files its params name) into schema ``kam_bench`` with
   typed, snake_case columns, as a client's database would hold them: DuckDB writes each table
   as CSV and psycopg streams it through ``COPY ... FROM STDIN``. The load is timed too.
3. Runs ``kam run`` on params whose ``data.<table>.warehouse`` names those tables (the URL in
   an environment variable, never in the params), and measures the wall time, the peak memory
   of the kam process tree (runner + kernels, RSS sampled every 0.2 s as in ``run_benchmark.py``),
   the peak memory of the PostgreSQL server's processes (PSS, which shares the server's shared
   buffers between its processes instead of counting them once per process; RSS too), and what
   left the database: the manifest's rows and bytes per table (Arrow size of the extract) and
   the bytes of the account-level results aggregated in the engine.

Writes ``benchmarks/warehouse_run.json`` and its own section of ``benchmarks/results.md``
(``run_benchmark.py`` keeps it). The load average before and after is recorded: on a shared
machine wall time is an upper bound.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # benchmarks/ on the path, also when loaded by path
from _sections import SECTION_END, section_open, write_section  # noqa: E402
from run_benchmark import KAM, ProcessSampler, machine, pss_and_rss, rss  # noqa: E402

SCHEMA = "kam_bench"
URL_VAR = "KAM_BENCH_POSTGRES_URL"
TABLES = ("transactions", "accounts", "surveys", "capability")
PG_TYPES = {"VARCHAR": "text", "DATE": "date", "DOUBLE": "double precision", "BIGINT": "bigint",
            "INTEGER": "integer", "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "FLOAT": "real"}


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# --------------------------------------------------------------------------- server
def start_server() -> tuple[str, str]:
    """A throwaway cluster from scripts/start-test-postgres.sh: (URL, its folder)."""
    out = subprocess.run(["bash", str(REPO / "scripts" / "start-test-postgres.sh")], check=True,
                         capture_output=True, text=True).stdout
    env = dict(re.findall(r"export (\w+)='([^']*)'", out))
    return env["KAM_TEST_POSTGRES_URL"], env["KAM_TEST_POSTGRES_DIR"]


def stop_server(folder: str) -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "start-test-postgres.sh"), "stop", folder], check=False)


def server_pids(url: str) -> list[int]:
    """The postmaster's pid (its children are the backends) of the server listening on the URL's port."""
    import psycopg

    with psycopg.connect(url) as con:
        data_dir = con.execute("SHOW data_directory").fetchone()[0]
    try:
        return [int(Path(data_dir, "postmaster.pid").read_text().split()[0])]
    except OSError:  # a remote server: its memory is not on this machine
        return []


# --------------------------------------------------------------------------- load
def load(url: str, client: dict, work: Path) -> dict:
    """Each table of the client's params into ``kam_bench.<table>``: typed columns, snake_case names."""
    import duckdb
    import psycopg

    stats: dict = {}
    work.mkdir(parents=True, exist_ok=True)
    duck = duckdb.connect()
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        for name in TABLES:
            t0 = time.perf_counter()
            path = client["data"][name]["path"]
            src = (f"read_parquet('{path}')" if path.endswith(".parquet")
                   else f"read_csv('{path}', sample_size=-1)")
            rel = duck.sql(f"SELECT * FROM {src}")
            cols, types = rel.columns, [str(t) for t in rel.types]
            # a timestamp at midnight throughout is a date, as a client's order table holds it
            select = []
            for c, t in zip(cols, types):
                q = '"' + c.replace('"', '""') + '"'
                if t.startswith("TIMESTAMP") and duck.execute(
                        f"SELECT count(*) FROM {src} WHERE {q} <> date_trunc('day', {q})").fetchone()[0] == 0:
                    select.append(f"CAST({q} AS DATE) AS {q}")
                    types[cols.index(c)] = "DATE"
                else:
                    select.append(q)
            csv = work / f"{name}.csv"
            duck.execute(f"COPY (SELECT {', '.join(select)} FROM {src}) TO '{csv}' (HEADER false)")
            ddl = ", ".join(f'"{snake(c)}" {PG_TYPES.get(t, "text")}' for c, t in zip(cols, types))
            con.execute(f"CREATE TABLE {SCHEMA}.{name} ({ddl})")
            with con.cursor().copy(f"COPY {SCHEMA}.{name} FROM STDIN (FORMAT csv)") as copy, open(csv, "rb") as f:
                while chunk := f.read(8 << 20):
                    copy.write(chunk)
            con.execute(f"ANALYZE {SCHEMA}.{name}")
            rows = con.execute(f"SELECT count(*) FROM {SCHEMA}.{name}").fetchone()[0]
            size = con.execute(f"SELECT pg_total_relation_size('{SCHEMA}.{name}')").fetchone()[0]
            stats[name] = {"rows": rows, "table_bytes": size, "csv_bytes": csv.stat().st_size,
                           "seconds": round(time.perf_counter() - t0, 1)}
            csv.unlink()
            print(f"  loaded {name}: {rows:,} rows, {size / 2**20:,.0f} MB in {stats[name]['seconds']} s", flush=True)
    duck.close()
    return stats


def warehouse_params(client: dict, out: Path, output_root: Path) -> Path:
    import copy

    raw = copy.deepcopy(client)
    raw["client"]["name"] = raw["client"]["name"] + " (PostgreSQL)"
    raw["data"].pop("demo", None)
    for t in TABLES:
        spec = raw["data"][t]
        raw["data"][t] = {"warehouse": {"backend": "postgres", "table": f"{SCHEMA}.{t}", "connection": URL_VAR},
                          "columns": {k: snake(v) for k, v in spec.get("columns", {}).items()}}
    raw["output"] = {"root": str(output_root)}
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


# --------------------------------------------------------------------------- measure
def measured_run(params: Path, url: str, log: Path, extra: list[str]) -> dict:
    env = {**os.environ, URL_VAR: url}
    pids = server_pids(url)
    load_before = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    with open(log, "w") as out, ProcessSampler(pids, pss_and_rss, interval=0.5) as server:
        proc = subprocess.Popen([*KAM, "run", str(params), *extra], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        with ProcessSampler([proc.pid], rss) as tree:
            code = proc.wait()
    res = {"seconds": round(time.perf_counter() - t0, 2), "exit_code": code,
           "peak_rss_tree_bytes": tree.peak["rss"], "peak_rss_single_bytes": tree.peak_single["rss"],
           "server_peak_pss_bytes": server.peak["pss"], "server_peak_rss_bytes": server.peak["rss"],
           "server_peak_processes": server.peak_processes, "load_average_before": load_before,
           "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    text = log.read_text()
    if code == 0:
        run_dir = Path(text.strip().splitlines()[-1])
        m = json.loads((run_dir / "manifest.json").read_text())
        res.update(run_dir=str(run_dir), prepare_seconds=m.get("prepare_seconds"),
                   phases={p["phase"]: p["seconds"] for p in m.get("phases", [])},
                   deliverables={d["name"]: d.get("seconds") for d in m.get("deliverables", [])},
                   warehouse=m.get("warehouse", {}))
    else:
        res["error_tail"] = text[-3000:]
    # the URL holds the password: it must not be in the log the benchmark keeps
    assert url not in text, "the connection URL reached the terminal"
    return res


# --------------------------------------------------------------------------- report
def _gib(b) -> str:
    return f"{b / 2**30:.2f} GiB" if b else "–"


def _mb(b) -> str:
    if b is None:
        return "–"
    return f"{b / 2**20:,.0f} MB" if b >= 10 * 2**20 else f"{b / 2**20:,.2f} MB"


def render(res: dict, file_run: dict | None) -> str:
    r, m = res["run"], res["machine"]
    wh = r.get("warehouse", {})
    lines = [section_open("warehouse_run"), "",
             "## The same client from PostgreSQL (`benchmarks/warehouse_run.py`)", "",
             f"Measured {res['at']} with `python benchmarks/warehouse_run.py {res['argv']}` on {m['cpu_model']}, "
             f"{m['logical_cores']} logical cores, {m['ram_gib']} GiB RAM; PostgreSQL {res['server_version']} on the "
             "same machine (a throwaway cluster from `scripts/start-test-postgres.sh`, fsync off). Load average "
             f"{', '.join(map(str, r['load_average_before']))} before and {', '.join(map(str, r['load_average_after']))} "
             "after " + ("(2.0 would mean both cores busy; anything else running on the machine shares them, so "
                         "the wall time is an upper bound)." if max(r["load_average_before"][:1] or [0]) < 1.5 else
                         ": the 2 cores were shared with other work, so the wall time is an upper bound and is "
                         "not directly comparable with a run on an idle machine."), "",
             f"Loading the client into PostgreSQL (DuckDB → CSV → `COPY FROM STDIN`, not part of the run): "
             + ", ".join(f"{k} {v['rows']:,} rows in {v['seconds']:.0f} s ({_mb(v['table_bytes'])} on disk)"
                         for k, v in res["load"].items()) + ".", "",
             "| run | wall | prepare | peak RSS, kam process tree | peak, PostgreSQL processes (PSS / RSS) |",
             "|---|---|---|---|---|",
             f"| {res['label']} | {r['seconds'] / 60:.1f} min ({r['seconds']:.0f} s) | "
             f"{r.get('prepare_seconds') or 0:.0f} s | {_gib(r['peak_rss_tree_bytes'])} | "
             f"{_gib(r['server_peak_pss_bytes'])} / {_gib(r['server_peak_rss_bytes'])} |"]
    if file_run:
        lines.append(f"| {file_run['label']} | {file_run['seconds'] / 60:.1f} min ({file_run['seconds']:.0f} s) | "
                     f"{file_run.get('prepare_seconds') or 0:.0f} s | {_gib(file_run['peak_rss_tree_bytes'])} | – |")
    lines += ["", "What left the database (the run's `manifest.json`, `warehouse`; bytes are the Arrow size "
              "received, not the bytes on the wire):", "",
              "| table | rows in the extract | bytes received | aggregated in the engine | account-level results |",
              "|---|---|---|---|---|"]
    for name, w in wh.items():
        agg = w.get("aggregated_in_engine")
        lines.append(f"| {name} | {w.get('rows') or 0:,} | {_mb(w.get('bytes_received'))} | "
                     f"{'yes' if agg else ('no' if agg is False else '–')} | {_mb(w.get('aggregates_bytes'))} |")
    total = sum((w.get("bytes_received") or 0) + (w.get("aggregates_bytes") or 0) for w in wh.values())
    lines += ["", f"In all {_mb(total)} left the database. The order lines still leave it (the mapped columns of "
              "every clean line, written to the run's Parquet): the checks of repeated lines and unknown accounts, "
              "CLV, churn, migration, cohort retention and the review read them locally in DuckDB "
              "(docs/warehouses.md, \"Still read locally\"). The account-level tables are aggregated in PostgreSQL.",
              ""]
    if res.get("note"):
        lines += [res["note"], ""]
    if r.get("phases"):
        lines += ["| step | seconds |", "|---|---|"]
        lines += [f"| prepare (validate in the engine, extract, aggregate) | {r.get('prepare_seconds') or 0:.1f} |"]
        lines += [f"| phase {k} | {v:.1f} |" for k, v in r["phases"].items()]
        lines += [f"| {k} | {v:.1f} |" for k, v in (r.get("deliverables") or {}).items() if v]
        lines.append("")
    lines.append(SECTION_END)
    return "\n".join(lines)


def file_run_of(res: dict) -> dict | None:
    """The file-based run of the same client (the same number of order lines) in ``results.json`` or a
    section's ``results_<section>.json`` (run_benchmark.py), the latest one, with when it finished."""
    n = res["load"].get("transactions", {}).get("rows")
    found = []
    for path in [HERE / "results.json", *sorted(HERE.glob("results_*.json"))]:
        results = json.loads(path.read_text())
        for e in results.get("engagements", []):
            if e.get("exit_code") == 0 and e.get("rows", {}).get("transactions", {}).get("rows_read") == n:
                found.append((results.get("finished_at", ""), e, results))
    if not found:
        return None
    finished, run, results = max(found, key=lambda f: f[0])
    load = results.get("machine", {}).get("load_average_at_start", [])
    return {**run, "label": f"{run['label']}, {finished[:10]}, load average {', '.join(map(str, load))} at start"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", required=True, help="params of a file-based client (e.g. benchmarks/data/large_10m.yaml)")
    ap.add_argument("--label", default=None, help="the client's name in the report (default: from the orders)")
    ap.add_argument("--no-deliverables", action="store_true", help="pass --no-deliverables to kam run")
    ap.add_argument("--skip-load", action="store_true", help=f"the tables are already in {SCHEMA} ({URL_VAR} set)")
    ap.add_argument("--keep-server", action="store_true", help="leave the throwaway server running (prints its URL)")
    ap.add_argument("--out", default=str(HERE / "results.md"))
    ap.add_argument("--json", default=str(HERE / "warehouse_run.json"))
    ap.add_argument("--render", action="store_true",
                    help="only rewrite the results.md section from the saved JSON (after a new file-based run)")
    args = ap.parse_args(argv)
    if args.render:
        res = json.loads(Path(args.json).read_text())
        write_section(Path(args.out), "warehouse_run", render(res, file_run_of(res)))
        return 0
    client = yaml.safe_load(Path(args.client).read_text())
    work = HERE / "data" / "warehouse_run"
    work.mkdir(parents=True, exist_ok=True)
    url, folder = os.environ.get(URL_VAR), None
    if not url:
        url, folder = start_server()
        print(f"started a throwaway PostgreSQL cluster in {folder}", flush=True)
    try:
        import psycopg

        with psycopg.connect(url) as con:
            version = con.execute("SHOW server_version").fetchone()[0]
        res: dict = {"argv": " ".join(argv if argv is not None else sys.argv[1:]), "machine": machine(),
                     "server_version": version}
        previous = json.loads(Path(args.json).read_text()) if Path(args.json).exists() else {}
        res["load"] = previous.get("load", {}) if args.skip_load else load(url, client, work)
        n = res["load"].get("transactions", {}).get("rows", 0)
        res["label"] = args.label or (f"{n / 1e6:.1f} M order lines" if n >= 1e6 else f"{n:,} order lines")
        params = warehouse_params(client, work / "params.yaml", work / "outputs")
        print("running kam run from PostgreSQL ...", flush=True)
        res["run"] = measured_run(params, url, work / "run.log", ["--no-deliverables"] if args.no_deliverables else [])
        res["at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        r = res["run"]
        print(f"  {r['seconds']:.0f} s, exit {r['exit_code']}, kam tree {_gib(r['peak_rss_tree_bytes'])}, "
              f"server PSS {_gib(r['server_peak_pss_bytes'])}", flush=True)
        Path(args.json).write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
        if r["exit_code"] == 0:
            write_section(Path(args.out), "warehouse_run", render(res, file_run_of(res)))
            print(f"wrote {args.out} and {args.json}")
        else:
            print(r.get("error_tail", ""))
        return r["exit_code"]
    finally:
        if folder and not args.keep_server:
            stop_server(folder)
        elif folder:
            secret = Path(folder) / "url"  # the URL holds the password: a file only root can read, never the terminal
            secret.write_text(url)
            secret.chmod(0o600)
            print(f"the server is still running: export {URL_VAR}=\"$(cat {secret})\" to reuse it (--skip-load); "
                  f"stop it with bash scripts/start-test-postgres.sh stop {folder}")


if __name__ == "__main__":
    sys.exit(main())
