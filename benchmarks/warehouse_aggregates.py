"""Time the account-level aggregates computed in PostgreSQL, with and without the temporary table.

    python benchmarks/warehouse_aggregates.py --orders benchmarks/data/large_10m/orders.parquet --rows 1000000

The first ``--rows`` lines of a large client's orders are loaded into PostgreSQL (the server
of ``KAM_TEST_POSTGRES_URL``; ``benchmarks/extract.py``'s loader) and
``kam_analysis.data.warehouse.engine_aggregates`` runs twice on them in this process: as now
(the clean order lines materialised once in a temporary table the four aggregates read) and as
before (``_materialise`` replaced by the bare expression: each aggregate re-reads the source and
re-cleans the ids). Reports wall seconds, the source table's 8 KiB pages the server read
(``pg_statio_user_tables``: shared-buffer hits plus reads), and the bytes that left the database
(the account-level results; the same both ways). Writes ``warehouse_aggregates.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def pages(url: str) -> int:
    import psycopg

    time.sleep(1.5)  # a backend's statistics reach the views when it ends (and at most once a second)
    with psycopg.connect(url, autocommit=True) as con:
        return int(con.execute("SELECT coalesce(heap_blks_read, 0) + coalesce(heap_blks_hit, 0) FROM "
                               "pg_statio_user_tables WHERE schemaname = 'kam_extract' AND relname = 'lines'"
                               ).fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    import yaml

    from extract import lines_parquet, load_postgres
    from kam_analysis.config import load_params
    from kam_analysis.data import warehouse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--json", default=str(HERE / "warehouse_aggregates.json"))
    args = ap.parse_args(argv)
    url = os.environ["KAM_TEST_POSTGRES_URL"]
    load_postgres(url, lines_parquet(args.orders, args.rows))
    raw = {"client": {"name": "Aggregates Bench"},
           "data": {"transactions": {"warehouse": {"backend": "postgres", "table": "kam_extract.lines",
                                                   "connection": "KAM_TEST_POSTGRES_URL"},
                                     "columns": {"order_id": "order_no", "account_id": "customer_id",
                                                 "order_date": "order_date", "net_revenue": "net_sales_eur",
                                                 "gross_margin": "gross_margin_eur", "category": "product_category",
                                                 "channel": "sales_channel"}}},
           "analysis": {"as_of_date": "2025-12-31"}, "output": {"root": "/tmp/kam_agg_bench"}}
    p = Path("/tmp/kam_agg_bench.yaml")
    p.write_text(yaml.safe_dump(raw))
    params = load_params(p)
    real = warehouse._materialise
    res = {"rows": args.rows, "load_before": os.getloadavg()}
    for version in ("before", "after"):
        warehouse._materialise = real if version == "after" else (lambda backend, clean: (clean, lambda: None))
        p0 = pages(url)
        t0 = time.perf_counter()
        out = warehouse.engine_aggregates(params)
        wall = time.perf_counter() - t0
        res[version] = {"wall_s": round(wall, 1), "source_pages_read": pages(url) - p0,
                        "bytes_left": out["bytes"], "accounts": out["per_account"].num_rows}
        print(version, res[version], flush=True)
    res["load_after"] = os.getloadavg()
    res["source_table_pages"] = res["after"]["source_pages_read"]
    Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
