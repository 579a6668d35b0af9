"""Load the small demo client into a database or Spark, and write its warehouse params.

Every engine gets the same typed tables: the demo's CSV files read by DuckDB's type
detection (dates as dates, amounts as numbers), with snake_case column names as a client's
database would have them. The params map the contract onto those columns, so the warehouse
run and the file run of the same client can be compared table by table.
"""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

TABLES = ("transactions", "accounts", "surveys", "capability")


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def demo_tables(file_params: Path) -> dict[str, pa.Table]:
    """The demo client's four files as typed Arrow tables with snake_case columns (generated if missing)."""
    from kam_analysis.config import load_params
    from kam_analysis.data.prepare import ensure_demo_data

    params = load_params(file_params)
    ensure_demo_data(params)
    out = {}
    con = duckdb.connect()
    try:
        for name in TABLES:
            path = getattr(params.data, name).path
            tbl = con.sql(f"SELECT * FROM read_csv('{path}', sample_size=-1)").to_arrow_table()
            out[name] = tbl.rename_columns([snake(c) for c in tbl.column_names])
    finally:
        con.close()
    return out


def warehouse_params(file_params: Path, out: Path, *, backend: str, connection: str | None,
                     tables: dict[str, str], name: str | None = None) -> Path:
    """The file client's params with each table read from ``tables[name]`` in ``backend``."""
    raw = yaml.safe_load(file_params.read_text())
    raw["data"].pop("demo", None)
    for t in TABLES:
        spec = raw["data"][t]
        src = {"backend": backend, "table": tables[t]}
        if connection:
            src["connection"] = connection
        raw["data"][t] = {"warehouse": src, "columns": {k: snake(v) for k, v in spec.get("columns", {}).items()}}
    if name:
        raw["client"]["name"] = name
    # a client folder of its own: the review's KPI history reads the client's earlier runs
    raw["output"] = {"root": str(out.parent / f"outputs-{backend}")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out


def load_duckdb_file(path: Path, tables: dict[str, pa.Table], prefix: str = "kam_") -> dict[str, str]:
    con = duckdb.connect(str(path))
    try:
        for name, tbl in tables.items():
            con.register("src", tbl)
            con.execute(f"CREATE OR REPLACE TABLE {prefix}{name} AS SELECT * FROM src")
            con.unregister("src")
    finally:
        con.close()
    return {name: f"{prefix}{name}" for name in tables}


def load_postgres(url: str, tables: dict[str, pa.Table], schema: str = "kam_demo") -> dict[str, str]:
    """Create ``schema`` afresh in the PostgreSQL server at ``url`` and load the tables into it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.execute(f"CREATE SCHEMA {schema}")
        pg_type = {"string": "text", "date32[day]": "date", "double": "double precision", "int64": "bigint",
                   "bool": "boolean"}
        for name, tbl in tables.items():
            cols = ", ".join(f'"{f.name}" {pg_type[str(f.type)]}' for f in tbl.schema)
            con.execute(f"CREATE TABLE {schema}.{name} ({cols})")
            with con.cursor().copy(f"COPY {schema}.{name} FROM STDIN") as copy:
                for row in tbl.to_pylist():
                    copy.write_row(list(row.values()))
    return {name: f"{schema}.{name}" for name in tables}


def load_spark(session, tables: dict[str, pa.Table], prefix: str = "kam_") -> dict[str, str]:
    """Register the tables as views of the Spark session (local mode)."""
    for name, tbl in tables.items():
        session.createDataFrame(tbl.to_pandas()).createOrReplaceTempView(f"{prefix}{name}")
    return {name: f"{prefix}{name}" for name in tables}
