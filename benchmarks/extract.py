"""Time the warehouse extract (order lines leaving the engine for the run's Parquet), before and after.

    python benchmarks/extract.py --engine spark --orders benchmarks/data/large_10m/orders.parquet --rows 1000000
    python benchmarks/extract.py --engine postgres --orders ... --rows 1000000   # KAM_TEST_POSTGRES_URL, else a throwaway server

The first ``--rows`` lines of a large client's orders (snake_case columns, the order date as
a date) are a Spark view (local mode, 2 cores) or a PostgreSQL table;
``kam_analysis.data.warehouse._extract`` writes them to Parquet as a run does. Two versions
are timed, each in a fresh process (a warm-up extract of 1,000 rows first): the code now and
the code at ``--before``. Spark: now, Arrow batches built where Spark computes the partition
(``mapInArrow``) and fetched one partition at a time; before, every row fetched as a Python
``Row`` through ``toLocalIterator`` and re-assembled into Arrow. PostgreSQL: now,
``COPY ... TO STDOUT`` as CSV parsed by Arrow; before, Ibis's server-side cursor (a Python
tuple per row). Each reports wall and CPU seconds of the extract (the driver's Python, and
for Spark the JVM with its Python workers) and the driver's peak RSS growth. Writes
``<engine>_extract.json`` and its own section of ``results.md``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
from _sections import SECTION_END, section_open, write_section  # noqa: E402

BEFORE = "eb604e5"  # kam_analysis/data/warehouse.py before the Arrow extract


def lines_parquet(orders: str, rows: int) -> str:
    """The first ``rows`` order lines with snake_case columns and the order date as a date, once."""
    import duckdb

    out = Path(tempfile.gettempdir()) / f"kam_extract_bench_{rows}.parquet"
    if not out.exists():
        con = duckdb.connect()
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{orders}')").fetchall()]
        sel = ", ".join((f'CAST("{c}" AS DATE)' if c == "Order Date" else f'"{c}"') + " AS " + snake(c) for c in cols)
        con.execute(f"COPY (SELECT {sel} FROM read_parquet('{orders}') LIMIT {rows}) TO '{out}'")
        con.close()
    return str(out)


def snake(name: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def module(version: str, commit: str):
    if version == "before":
        from components import old_module

        return old_module("kam_analysis.data.warehouse", "kam_analysis/data/warehouse.py", commit)
    from kam_analysis.data import warehouse

    return warehouse


def timed_extract(wh, con, expr, children: bool) -> dict:
    import psutil

    me = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        wh._extract(con, expr.limit(1000), Path(tmp) / "warm.parquet")
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        cpu0 = sum(p.cpu_times().user + p.cpu_times().system for p in me.children(recursive=True))
        w, c = time.perf_counter(), time.process_time()
        n_bytes, n_rows, _ = wh._extract(con, expr, Path(tmp) / "x.parquet")
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        kids_cpu = sum(p.cpu_times().user + p.cpu_times().system for p in me.children(recursive=True)) - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"rows": n_rows, "arrow_bytes": n_bytes, "wall_seconds": round(wall, 2), "driver_cpu_seconds": round(cpu, 2),
            "engine_cpu_seconds": round(kids_cpu, 2) if children else None,
            "driver_peak_rss_growth_bytes": max(peak - base_rss, 0), "driver_peak_rss_bytes": peak}


def one_postgres(version: str, orders: str, rows: int, commit: str) -> dict:
    import ibis
    from urllib.parse import urlsplit

    wh = module(version, commit)
    u = urlsplit(os.environ["KAM_EXTRACT_BENCH_URL"])
    con = ibis.postgres.connect(host=u.hostname, port=u.port, user=u.username, password=u.password,
                                database=u.path.lstrip("/"))
    t = con.table("lines", database="kam_extract")
    res = timed_extract(wh, con, t.select(*t.columns, __kam_key__=t.order_no.cast("string")), children=False)
    con.disconnect()
    return {"version": version, **res}


def load_postgres(url: str, path: str) -> None:
    import duckdb
    import psycopg

    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    pg = {"VARCHAR": "text", "DATE": "date", "DOUBLE": "double precision", "BIGINT": "bigint"}
    ddl = ", ".join(f"{c} {pg[str(t)]}" for c, t in zip(rel.columns, rel.types))
    csv = Path(tempfile.gettempdir()) / "kam_extract_bench.csv"
    con.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{csv}' (HEADER false)")
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP SCHEMA IF EXISTS kam_extract CASCADE")
        db.execute("CREATE SCHEMA kam_extract")
        db.execute(f"CREATE TABLE kam_extract.lines ({ddl})")
        with db.cursor().copy("COPY kam_extract.lines FROM STDIN (FORMAT csv)") as copy, open(csv, "rb") as f:
            while chunk := f.read(8 << 20):
                copy.write(chunk)
        db.execute("ANALYZE kam_extract.lines")
    csv.unlink()


def one_spark(version: str, orders: str, rows: int, commit: str) -> dict:
    import ibis
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    wh = module(version, commit)
    spark = (SparkSession.builder.master("local[2]").appName("kam-extract-bench")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "2g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.read.parquet(lines_parquet(orders, rows)).createOrReplaceTempView("lines")
    con = ibis.pyspark.connect(spark)
    t = con.table("lines")
    res = timed_extract(wh, con, t.select(*t.columns, __kam_key__=t.order_no.cast("string")), children=True)
    spark.stop()
    return {"version": version, **res}


ENGINES = {
    "spark": {"title": "Spark", "where": "a Spark view (local mode, 2 cores)",
              "before": "rows through `toLocalIterator`", "after": "Arrow batches through `mapInArrow`",
              "engine_cpu": "CPU, Spark (JVM + workers)"},
    "postgres": {"title": "PostgreSQL", "where": "a PostgreSQL table (a server on the same machine)",
                 "before": "Ibis's server-side cursor (a tuple per row)", "after": "`COPY ... TO STDOUT` read by Arrow",
                 "engine_cpu": None},
}


def render(res: dict) -> str:
    e = ENGINES[res["engine"]]
    head = "| extract | wall | CPU, driver (Python) | " + (f"{e['engine_cpu']} | " if e["engine_cpu"] else "")
    lines = [section_open(f"{res['engine']}_extract"), "",
             f"## The {e['title']} extract, before and after (`benchmarks/extract.py`)",
             "", f"Measured {res['at']} with `python benchmarks/extract.py {res['argv']}`: the first "
             f"{res['rows']:,} order lines of the large client as {e['where']}, written to Parquet by the run's "
             "extract (with the row key column a run adds), each version in a fresh process. Load average "
             f"{', '.join(map(str, res['load_before']))} before and {', '.join(map(str, res['load_after']))} after "
             "(2 shared cores: other agents were running, so wall times are upper bounds; CPU seconds are the "
             "steadier figure).", "",
             head + "driver peak RSS growth | rows | Arrow size |",
             "|---|---|---|" + ("---|" if e["engine_cpu"] else "") + "---|---|---|"]
    names = {"before": f"{e['before']} (before, {res['before_commit']})", "after": f"{e['after']} (now)"}
    for r in res["runs"]:
        eng = f"{r['engine_cpu_seconds']:.1f} s | " if e["engine_cpu"] else ""
        lines.append(f"| {names[r['version']]} | {r['wall_seconds']:.1f} s | {r['driver_cpu_seconds']:.1f} s | {eng}"
                     f"{r['driver_peak_rss_growth_bytes'] / 2**20:,.0f} MB | {r['rows']:,} | "
                     f"{r['arrow_bytes'] / 2**20:,.0f} MB |")
    lines += ["", SECTION_END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=sorted(ENGINES), default="spark")
    ap.add_argument("--orders", required=True, help="a large client's orders.parquet")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--before", default=BEFORE, help="the commit whose extract is the 'before'")
    ap.add_argument("--one", choices=("before", "after"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(HERE / "results.md"))
    args = ap.parse_args(argv)
    if args.one:
        fn = one_spark if args.engine == "spark" else one_postgres
        print(json.dumps(fn(args.one, args.orders, args.rows, args.before)))
        return 0
    res = {"engine": args.engine, "argv": " ".join(argv if argv is not None else sys.argv[1:]), "rows": args.rows,
           "before_commit": args.before, "runs": []}
    env, folder = dict(os.environ), None
    lines = lines_parquet(args.orders, args.rows)  # here, not in a timed process (its memory would count)
    if args.engine == "postgres":
        from warehouse_run import start_server, stop_server

        url = os.environ.get("KAM_TEST_POSTGRES_URL")
        if not url:
            url, folder = start_server()
        load_postgres(url, lines)
        env["KAM_EXTRACT_BENCH_URL"] = url
    try:
        res["load_before"] = [round(x, 2) for x in os.getloadavg()]
        for version in ("before", "after"):
            print(f"extracting {args.rows:,} rows from {args.engine} ({version}) ...", flush=True)
            out = subprocess.run([sys.executable, __file__, "--engine", args.engine, "--orders", args.orders,
                                  "--rows", str(args.rows), "--before", args.before, "--one", version],
                                 capture_output=True, text=True, cwd=REPO, env=env)
            if out.returncode:
                print(out.stderr[-3000:])
                return out.returncode
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {r['wall_seconds']} s wall, driver CPU {r['driver_cpu_seconds']} s, "
                  f"RSS growth {r['driver_peak_rss_growth_bytes'] / 2**20:.0f} MB", flush=True)
            res["runs"].append(r)
    finally:
        if folder:
            stop_server(folder)
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    res["at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    (HERE / f"{args.engine}_extract.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    write_section(Path(args.out), f"{args.engine}_extract", render(res))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
