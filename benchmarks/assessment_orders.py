"""The assessment's order-level work and CLV's purchase-day summary, in DuckDB.

    python benchmarks/assessment_orders.py --orders benchmarks/data/large_10000000/orders.parquet

Issue 15: the assessment built an order-level pandas frame (``load_orders``: 10 M orders,
briefly 3.4 GiB through ``.df()``) for the account KPIs, period-on-period retention and
cohort retention, and CLV summarised 9.4 M purchase days in pandas, twice. Both now stay in
DuckDB (``metrics.engine.OrderSource``, ``models.clv.compute_clv_summary_from_run``). Each
path runs in a fresh child process on the orders of a large demo client (``kam demo-data
OUT --accounts 200000 --orders 10000000 --format parquet``), and reports wall and CPU
seconds (the process's, DuckDB's threads included) and the peak resident memory of that
process (``ru_maxrss``) next to its resident memory after the imports. The load average is
recorded before and after: the machine is shared, so CPU seconds and peak memory are the
comparable figures. Results go to ``results.md`` (section ``assessment_orders``) and
``assessment_orders.json``. The pandas paths they replaced (``load_orders``, an order-level
frame, and ``load_purchase_days`` with a pandas summary) are deleted: each KPI and the CLV
summary have one definition, in DuckDB, which a pandas frame goes through too
(``OrderSource.from_frame``, ``compute_clv_summary``); their measured rows stay in
results.md as the "before" figures until the next run of this script rewrites the section.

* ``orders (engine)``: ``compute_account_kpis``, ``compute_period_retention`` (quarters)
  and ``compute_cohort_retention`` (quarters) on an ``OrderSource``.
* ``clv (engine)``: ``compute_clv_summary_from_run`` twice (the fit and the 26-week holdout
  (the default), as the segmentation does).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from _sections import SECTION_END, section_open, write_section  # noqa: E402 (benchmarks/ is on the path)
AS_OF, CHURN_DAYS, HOLDOUT_WEEKS = "2025-12-31", 180, 26
MODES = ("orders_engine", "clv_engine")


def relation(orders: Path) -> str:
    p = str(orders).replace("'", "''")
    return (f"(SELECT \"Customer ID\" AS account_id, \"Order No\" AS order_id, CAST(\"Order Date\" AS DATE) AS "
            f"order_date, \"Net Sales (EUR)\" AS net_revenue, \"Gross Margin (EUR)\" AS gross_margin "
            f"FROM read_parquet('{p}'))")


def child(mode: str, orders: Path) -> dict:
    import pandas as pd

    from kam_analysis import metrics
    from kam_analysis.metrics.engine import OrderSource
    from kam_analysis.models import clv

    rel = relation(orders)
    run = types.SimpleNamespace(params=types.SimpleNamespace(analysis=types.SimpleNamespace(as_of_date=AS_OF)),
                                transactions_sql=lambda: rel)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    as_of = pd.Timestamp(AS_OF)
    cal = as_of - pd.Timedelta(weeks=HOLDOUT_WEEKS)
    info = {}
    if mode.startswith("orders"):
        src = OrderSource(rel)
        a = metrics.compute_account_kpis(src, as_of=as_of, churn_days=CHURN_DAYS)
        r = metrics.compute_period_retention(src, period="quarter", as_of=as_of, churn_days=CHURN_DAYS)
        c = metrics.compute_cohort_retention(src, period="quarter", as_of=as_of)
        info = {"accounts": len(a), "periods": len(r), "cohort_cells": len(c),
                "revenue_12m": float(a["revenue_12m"].sum()), "active": int(a["active"].sum()),
                "retained": int(r["retained"].sum())}
    else:
        s = clv.compute_clv_summary_from_run(run, observation_end=as_of)
        h = clv.compute_clv_summary_from_run(run, observation_end=as_of, calibration_end=cal)
        info.update({"accounts": len(s), "repeat_days": int(s["frequency"].sum()),
                     "holdout_days": int(h["frequency_holdout"].sum())})
    r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    return {"wall": w1 - w0, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "peak_rss_gib": r1.ru_maxrss / 2**20, "rss_after_imports_gib": rss0 / 2**20, **info}


def render(res: dict) -> str:
    m = res["machine"]
    lines = [section_open("assessment_orders"), "",
             "## The assessment's orders and CLV's purchase days: pandas frame against DuckDB (issue 15)", "",
             f"Measured {res['when']} with `python benchmarks/assessment_orders.py --orders {res['orders']}` "
             f"({res.get('rows', '?'):,} order lines of a large demo client; each path in a fresh process; the DuckDB "
             f"paths under the kernels' memory cap, {res.get('memory_limit', '2GB')}). **Machine:** {m}. "
             f"**Load average** (1, 5, 15 min): {res['load_before']} before, {res['load_after']} after — "
             "the 2 cores were shared with other agents, so wall times are inflated; CPU seconds (DuckDB's threads "
             "included) and peak memory are the comparable figures.", "",
             "| work | path | wall | CPU | peak RSS (process) | RSS after imports | result |",
             "|---|---|---|---|---|---|---|"]
    for mode in MODES:
        r = res["modes"].get(mode)
        if not r:
            continue
        work, path = mode.split("_")
        what = ("account KPIs + period retention + cohort retention" if work == "orders"
                else "CLV summary, fit + 26-week holdout")
        keys = [k for k in r if k not in ("wall", "cpu", "peak_rss_gib", "rss_after_imports_gib")]
        lines.append(f"| {what} | {'pandas frame (before)' if path == 'frame' else 'DuckDB (now)'} | "
                     f"{r['wall']:.1f} s | {r['cpu']:.1f} s | {r['peak_rss_gib']:.2f} GiB | "
                     f"{r['rss_after_imports_gib']:.2f} GiB | "
                     + ", ".join(f"{k} {r[k]:,.0f}" if isinstance(r[k], (int, float)) else f"{k} {r[k]}"
                                 for k in keys) + " |")
    lines += [""] + [f"{n}" for n in res.get("notes", [])] + (["" ] if res.get("notes") else []) + [SECTION_END]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=Path, required=True, help="orders.parquet of a large demo client")
    ap.add_argument("--only", nargs="*", choices=MODES, default=list(MODES))
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.orders)))
        return 0
    import pyarrow.parquet as pq

    res = {"orders": str(args.orders), "rows": pq.ParquetFile(args.orders).metadata.num_rows, "modes": {},
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
                      f"{platform.platform()}; Python {platform.python_version()}",
           "load_before": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
           "memory_limit": os.environ.get("KAM_DUCKDB_MEMORY_LIMIT", "2GB")}
    for mode in args.only:
        out = subprocess.run([sys.executable, __file__, "--orders", str(args.orders), "--child", mode],
                             capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            return out.returncode
        res["modes"][mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(mode, res["modes"][mode], flush=True)
    res["load_after"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    (args.out / "assessment_orders.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    write_section(args.out / "results.md", "assessment_orders", render(res))
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
