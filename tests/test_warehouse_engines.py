"""The engagement run from real engines: a PostgreSQL server and Spark in local mode.

The small demo client (300 accounts) is loaded into each engine with typed, snake_case
columns; the whole engagement runs from it (deliverables aside) and every table and every
clean data file must equal the run made from the client's files. The PostgreSQL URL holds
a password: it must reach neither the terminal nor any file of the run folder.

Needs a server and Java: CI starts a throwaway PostgreSQL cluster
(``scripts/start-test-postgres.sh``, exporting ``KAM_TEST_POSTGRES_URL``) and installs
Debian's Java runtime (``make system-deps``). Without them these tests are skipped locally,
and fail under ``KAM_REQUIRE_SYSTEM_DEPS=1`` (CI). Spark starts once per session.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from conftest import write_demo_params
from warehouse_helpers import demo_tables, load_postgres, load_spark, warehouse_params

pytestmark = pytest.mark.slow

PG_VAR = "KAM_TEST_POSTGRES_URL"
#: columns naming the run itself, not the client's data
RUN_IDENTITY = ("run_id", "run_date")


def _missing(what: str):
    msg = f"{what} (CI: .ci/run provides it; locally see scripts/start-test-postgres.sh and make system-deps)"
    if os.environ.get("KAM_REQUIRE_SYSTEM_DEPS") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def _run(params: Path, capfd) -> tuple[Path, str]:
    """``kam run`` without deliverables (the tables are what is compared); the run folder and the terminal
    (everything written to file descriptors 1 and 2, the drivers' and Spark's output too)."""
    from kam_analysis import run_engagement

    capfd.readouterr()
    result = run_engagement(params, deliverables=False)
    out = capfd.readouterr()
    assert result.ok, result
    return Path(result.run_dir), out.out + out.err


@pytest.fixture(scope="module")
def file_client(tmp_path_factory):
    """The demo client's files and params, and its run from the files (the reference)."""
    from kam_analysis import run_engagement

    tmp = tmp_path_factory.mktemp("files")
    params = write_demo_params(tmp, n_accounts=300, name="Warehouse Demo")
    result = run_engagement(params, deliverables=False, progress=None)
    assert result.ok, result
    return params, Path(result.run_dir), demo_tables(params)


@pytest.fixture(scope="session")
def spark_session():
    if shutil.which("java") is None:
        _missing("Java is not installed (default-jre-headless)")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _missing("pyspark is not installed")
    # the workers run this Python (the extract streams Arrow through them: pyarrow), as kam's own session does
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[1]").appName("kam-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _assert_same_tables(reference: Path, run: Path) -> None:
    names = sorted(p.relative_to(reference) for p in (reference / "tables").glob("*.parquet"))
    names += sorted(p.relative_to(reference) for p in (reference / "data").glob("*.parquet"))
    assert len(names) > 20
    theirs = sorted(p.relative_to(run) for p in [*(run / "tables").glob("*.parquet"), *(run / "data").glob("*.parquet")])
    assert theirs == sorted(names)
    for name in names:
        # which run made a row (the KPI history's run id and date) differs by construction
        a, b = (pd.read_parquet(folder / name).drop(columns=list(RUN_IDENTITY), errors="ignore")
                for folder in (reference, run))
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=str(name))


def test_the_engagement_runs_from_postgresql_with_every_table_equal(file_client, tmp_path, capfd):
    url = os.environ.get(PG_VAR)
    if not url:
        _missing(f"no PostgreSQL server ({PG_VAR} is not set)")
    password = urlsplit(url).password
    assert password and len(password) >= 8
    file_params, reference, tables = file_client
    names = load_postgres(url, tables)
    params = warehouse_params(file_params, tmp_path / "pg.yaml", backend="postgres", connection=PG_VAR,
                              tables=names)
    assert password not in params.read_text()
    run, terminal = _run(params, capfd)
    _assert_same_tables(reference, run)
    manifest = (run / "manifest.json").read_text()
    import json

    wh = json.loads(manifest)["warehouse"]
    assert wh["transactions"]["source"] == "postgres table kam_demo.transactions"
    assert wh["transactions"]["rows"] == len(tables["transactions"]) and wh["transactions"]["bytes_received"] > 0
    assert wh["transactions"]["aggregated_in_engine"] is True and wh["transactions"]["aggregates_bytes"] > 0
    # the password is nowhere: not on the terminal, not in any file the run wrote
    assert password not in terminal
    for f in run.rglob("*"):
        if f.is_file():
            assert password.encode() not in f.read_bytes(), f


def test_the_engagement_runs_from_spark_with_every_table_equal(file_client, spark_session, tmp_path, capfd):
    file_params, reference, tables = file_client
    names = load_spark(spark_session, tables)
    params = warehouse_params(file_params, tmp_path / "spark.yaml", backend="pyspark", connection=None, tables=names)
    run, _terminal = _run(params, capfd)
    _assert_same_tables(reference, run)
    import json

    assert json.loads((run / "manifest.json").read_text())["warehouse"]["transactions"]["aggregated_in_engine"] is True


def test_spark_rows_are_streamed_in_batches_not_collected(spark_session, tmp_path, monkeypatch):
    """Ibis collects a Spark result whole (through pandas); the extract instead builds Arrow batches where
    Spark computes each partition and fetches them one partition at a time: the driver receives one blob
    per batch, never a Python row per line, and the batches are cut to BATCH_ROWS."""
    import datetime as dt
    from decimal import Decimal

    import ibis
    import pyarrow.parquet as pq

    from kam_analysis.data import warehouse

    monkeypatch.setattr(warehouse, "BATCH_ROWS", 400)
    lines = spark_session.range(0, 2000, numPartitions=4).selectExpr(
        "id", "cast(id AS string) AS s", "date_add(date'2024-01-01', cast(id % 300 AS int)) AS d",
        "cast(id AS decimal(12, 2)) / 4 AS amount", "timestamp_ntz'2024-03-01 10:30:00' AS ts")
    lines.createOrReplaceTempView("kam_lines")
    frame_class = type(lines)
    fetched = []
    real = frame_class.toLocalIterator

    def counting(self, *args, **kwargs):
        for row in real(self, *args, **kwargs):
            fetched.append(row)
            yield row

    monkeypatch.setattr(frame_class, "toLocalIterator", counting)
    con = ibis.pyspark.connect(spark_session)
    n_bytes, n_rows, _ = warehouse._extract(con, con.table("kam_lines"), tmp_path / "x.parquet")
    f = pq.ParquetFile(tmp_path / "x.parquet")
    assert n_rows == 2000 == f.metadata.num_rows and n_bytes > 0
    # 4 partitions of 500 lines: two blobs each (400 + 100) reach the driver, re-cut into 5 batches of 400
    assert len(fetched) == 8
    assert [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)] == [400] * 5
    got = f.read().to_pylist()
    assert [r["id"] for r in got] == list(range(2000))
    assert got[1234] == {"id": 1234, "s": "1234", "d": dt.date(2024, 1, 1) + dt.timedelta(days=1234 % 300),
                         "amount": Decimal("308.50"), "ts": dt.datetime(2024, 3, 1, 10, 30)}


def test_postgres_rows_leave_through_copy_exactly_as_through_a_cursor(tmp_path, monkeypatch):
    """The PostgreSQL extract reads ``COPY ... TO STDOUT`` as CSV with Arrow (no Python tuple per row): every
    value, NULL and awkward text equals what Ibis's cursor returns, and a zoned timestamp takes the cursor."""
    import datetime as dt

    import ibis
    import psycopg
    import pyarrow.parquet as pq

    from kam_analysis.data import warehouse

    url = os.environ.get(PG_VAR)
    if not url:
        _missing(f"no PostgreSQL server ({PG_VAR} is not set)")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS kam_copy CASCADE")
        con.execute("CREATE SCHEMA kam_copy")
        con.execute("CREATE TABLE kam_copy.lines (id bigint, s text, x double precision, n integer, b boolean, "
                    "d date, ts timestamp, amount numeric(12, 2), zoned timestamptz)")
        con.execute("""INSERT INTO kam_copy.lines VALUES
            (1, 'plain', 0.1, 7, true, '2024-02-29', '2024-03-01 10:30:00.123456', 308.50, '2024-03-01 10:30+02'),
            (2, '', 1e-300, -3, false, '1999-12-31', '2024-03-01 00:00:00', -0.01, NULL),
            (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (4, 'a, "quoted"' || chr(10) || 'line', 123456789.123456789, 0, true, '2025-01-01', NULL, 0, NULL),
            (5, 'ünïcode €', -2.5e15, 2147483647, NULL, '2000-01-01', '1970-01-01 00:00:01', 9999999999.99, NULL)""")
    backend = ibis.postgres.connect(**{k: v for k, v in (
        ("host", urlsplit(url).hostname), ("port", urlsplit(url).port), ("user", urlsplit(url).username),
        ("password", urlsplit(url).password), ("database", urlsplit(url).path.lstrip("/")))})
    try:
        t = backend.table("lines", database="kam_copy")
        plain = t.select(*[c for c in t.columns if c != "zoned"]).order_by("id")
        assert warehouse._copyable(plain.schema().to_pyarrow()) and not warehouse._copyable(t.schema().to_pyarrow())
        cursor_reads = []
        real = type(backend).to_pyarrow_batches
        monkeypatch.setattr(type(backend), "to_pyarrow_batches",
                            lambda self, *a, **k: cursor_reads.append(1) or real(self, *a, **k))
        n_bytes, n_rows, _ = warehouse._extract(backend, plain, tmp_path / "copy.parquet")
        assert cursor_reads == []  # read through COPY
        via_cursor = backend.to_pyarrow(plain)
        got = pq.read_table(tmp_path / "copy.parquet")
        assert n_rows == 5 and n_bytes > 0
        assert got.schema == via_cursor.schema
        assert got.to_pylist() == via_cursor.to_pylist()
        assert got.column("s").to_pylist()[:4] == ["plain", "", None, 'a, "quoted"\nline']
        # account-level results come back the same way; a column whose SQL computes another type than Ibis
        # reports (a quarter truncated to a date is a timestamp in PostgreSQL) is cast to the reported type
        agg = t.group_by("b").aggregate(revenue=t.x.cast("decimal(38, 4)").sum(), first=t.d.min(), n=t.id.count(),
                                        quarter=t.d.truncate("Q").cast("date").max()).order_by("b")
        assert warehouse._fetch(backend, agg).to_pylist() == backend.to_pyarrow(agg).to_pylist()
        assert warehouse._fetch(backend, agg).column("quarter").to_pylist() == [
            dt.date(1999, 10, 1), dt.date(2025, 1, 1), dt.date(2000, 1, 1)]
        # a zoned timestamp is not read from text: the cursor path, values equal too
        cursor_reads.clear()
        warehouse._extract(backend, t.order_by("id"), tmp_path / "zoned.parquet")
        assert cursor_reads == [1]
        assert pq.read_table(tmp_path / "zoned.parquet").to_pylist() == backend.to_pyarrow(t.order_by("id")).to_pylist()
    finally:
        backend.disconnect()


def test_a_wrong_password_is_refused_without_showing_it(tmp_path, capfd, monkeypatch):
    """The real server refuses a planted wrong password: kam validate exits 2 naming the variable, and the
    password is not on the terminal."""
    from kam_analysis.cli import main

    url = os.environ.get(PG_VAR)
    if not url:
        _missing(f"no PostgreSQL server ({PG_VAR} is not set)")
    planted = "Wr0ng-Pl4nted-pw"
    parts = urlsplit(url)
    monkeypatch.setenv("KAM_WRONG_PG", f"postgresql://{parts.username}:{planted}@{parts.hostname}:{parts.port}/postgres")
    params = tmp_path / "params.yaml"
    params.write_text(f"""client: {{name: Wrong Password}}
data:
  transactions:
    warehouse: {{backend: postgres, table: kam_demo.transactions, connection: KAM_WRONG_PG}}
analysis: {{as_of_date: 2025-12-31}}
output: {{root: {tmp_path / 'outputs'}}}
""")
    capfd.readouterr()
    assert main(["validate", str(params)]) == 2
    out = capfd.readouterr()
    text = out.out + out.err
    assert "Could not connect to the postgres source (the URL in KAM_WRONG_PG)" in text
    assert "password authentication failed" in text and planted not in text


# --------------------------------------------------------------------------- small PostgreSQL tables
def _pg_orders(url: str, schema: str, amount_type: str, rows: list[tuple]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"CREATE TABLE {schema}.orders (order_no text, cust text, day date, amount {amount_type})")
        with con.cursor() as cur:
            cur.executemany(f"INSERT INTO {schema}.orders VALUES (%s, %s, %s, %s::{amount_type})", rows)


def _pg_params(tmp_path: Path, source: dict) -> Path:
    import yaml

    raw = {"client": {"name": "Warehouse Client"},
           "data": {"transactions": {"warehouse": {"backend": "postgres", "connection": PG_VAR, **source},
                                     "columns": {"account_id": "cust", "order_id": "order_no", "order_date": "day",
                                                 "net_revenue": "amount"}}},
           "analysis": {"as_of_date": "2025-06-30", "churn_days": 180},
           "output": {"root": str(tmp_path / "outputs")}}
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def test_postgres_order_lines_are_read_and_cleaned_once_into_a_temporary_table(tmp_path, monkeypatch):
    """The account-level aggregates read the source once: the order lines are cleaned into one temporary
    table the four aggregates read (a volatile function in the source query counts the rows the engine
    reads: once per line, where the four queries over the source read each line four times or more), and
    the table is dropped before the connection closes, when the aggregation succeeds and when it fails."""
    import datetime as dt

    import psycopg

    from kam_analysis.config import load_params
    from kam_analysis.data import warehouse
    from kam_analysis.exceptions import DataValidationError

    url = os.environ.get(PG_VAR)
    if not url:
        _missing(f"no PostgreSQL server ({PG_VAR} is not set)")
    rows = [(f"O{i}", f"A{i % 7}", dt.date(2024, 1, 1) + dt.timedelta(days=i % 500), 10.5 + i) for i in range(60)]
    rows.append(("O3", "A3", dt.date(2024, 1, 4), 1.25))  # a second line of order O3
    _pg_orders(url, "kam_once", "double precision", rows)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SEQUENCE kam_once.reads")
        con.execute("CREATE FUNCTION kam_once.tick() RETURNS boolean VOLATILE LANGUAGE plpgsql AS "
                    "$$ BEGIN PERFORM nextval('kam_once.reads'); RETURN true; END $$")
    params = load_params(_pg_params(tmp_path, {"query": "SELECT * FROM kam_once.orders WHERE kam_once.tick()"}))
    temp_tables = []
    real_disconnect = warehouse._disconnect

    def disconnect(backend):
        with backend.con.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r'")
            temp_tables.append(cur.fetchone()[0])
        real_disconnect(backend)

    monkeypatch.setattr(warehouse, "_disconnect", disconnect)

    def reads() -> int:
        with psycopg.connect(url, autocommit=True) as con:
            last, called = con.execute("SELECT last_value, is_called FROM kam_once.reads").fetchone()
            con.execute("ALTER SEQUENCE kam_once.reads RESTART")
            return last if called else 0

    reads()
    created = []
    real_materialise = warehouse._materialise
    monkeypatch.setattr(warehouse, "_materialise",
                        lambda backend, clean: created.append(1) or real_materialise(backend, clean))
    out = warehouse.engine_aggregates(params)
    assert created == [1] and reads() == len(rows)  # every line read once, by the one temporary table
    assert temp_tables == [0]  # dropped before the connection closed
    per = {r["account_id"]: r for r in out["per_account"].to_pylist()}
    assert per["A3"]["n_orders"] == len([r for r in rows[:60] if r[1] == "A3"])
    assert float(per["A3"]["revenue"]) == sum(r[3] for r in rows if r[1] == "A3")
    # a failure while fetching: the temporary table is dropped all the same
    real_fetch = warehouse._fetch
    calls = []

    def failing(backend, expr):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the server went away")
        return real_fetch(backend, expr)

    monkeypatch.setattr(warehouse, "_fetch", failing)
    with pytest.raises(DataValidationError, match="failed while aggregating: the server went away"):
        warehouse.engine_aggregates(params)
    assert temp_tables == [0, 0]
    # the same aggregates over the source itself (no temporary table) are equal, reading each line 4+ times
    monkeypatch.setattr(warehouse, "_fetch", real_fetch)
    monkeypatch.setattr(warehouse, "_materialise", lambda backend, clean: (clean, lambda: None))
    reads()
    direct = warehouse.engine_aggregates(params)
    assert reads() >= 4 * len(rows)
    for name in ("per_account", "breadth", "period", "category"):
        keys = [c for c in ("account_id", "period_start", "category") if c in out[name].column_names]
        assert out[name].sort_by([(k, "ascending") for k in keys]).equals(
            direct[name].sort_by([(k, "ascending") for k in keys])), name


@pytest.mark.parametrize("amount_type", ["numeric(20, 12)", "numeric"])
def test_a_postgres_numeric_with_twelve_decimals_arrives_exactly(tmp_path, monkeypatch, amount_type):
    """An amount typed numeric with 12 decimals (declared, or an unconstrained numeric that Ibis types
    decimal(38, 9)) arrives with its value, through the extract and the aggregates in the engine."""
    import datetime as dt

    from kam_analysis.config import load_params
    from kam_analysis.data.prepare import prepare_run_data

    url = os.environ.get(PG_VAR)
    if not url:
        _missing(f"no PostgreSQL server ({PG_VAR} is not set)")
    amounts = ["1234.567890123456", "0.000000000001", "-12.345678901234", "99999999.999999999999"]
    rows = [(f"O{i}", f"A{i % 2}", dt.date(2025, 1, 1) + dt.timedelta(days=i), a) for i, a in enumerate(amounts)]
    _pg_orders(url, "kam_numeric", amount_type, rows)
    params = load_params(_pg_params(tmp_path, {"table": "kam_numeric.orders"}))
    report = prepare_run_data(params, tmp_path / "run")
    lines = pd.read_parquet(tmp_path / "run" / "data" / "transactions.parquet").set_index("order_id")
    for i, a in enumerate(amounts):
        assert float(lines.loc[f"O{i}", "net_revenue"]) == float(a), (i, a)
    summary = pd.read_parquet(tmp_path / "run" / "tables" / "account_summary.parquet").set_index("account_id")
    assert report.stats["transactions"]["aggregated_in_engine"] is True
    # money sums are exact to 4 decimals (data.prepare.exact_sum), as for a file
    assert summary.loc["A0", "revenue"] == pytest.approx(round(float(amounts[0]) + float(amounts[2]), 4), abs=1e-9)
    assert summary.loc["A1", "revenue"] == pytest.approx(round(float(amounts[1]) + float(amounts[3]), 4), abs=1e-9)
