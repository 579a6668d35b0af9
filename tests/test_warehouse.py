"""Warehouse sources: the setting, credentials kept secret, rules counted in the engine, extraction.

These use DuckDB as the engine (an embedded database file, through Ibis like any other);
tests/test_warehouse_engines.py runs the same client from PostgreSQL and Spark.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from kam_analysis.config import load_params
from kam_analysis.exceptions import ParameterError

from conftest import write_demo_params
from warehouse_helpers import demo_tables, load_duckdb_file, warehouse_params

PLANTED = "Pl4nted-S3cret-pw"


def _params(tmp_path: Path, source: dict, **analysis) -> Path:
    raw = {"client": {"name": "Warehouse Client"},
           "data": {"transactions": {"warehouse": source,
                                     "columns": {"account_id": "cust", "order_id": "order_no", "order_date": "day",
                                                 "net_revenue": "amount"}}},
           "analysis": {"as_of_date": "2025-06-30", "churn_days": 180, **analysis},
           "output": {"root": str(tmp_path / "outputs")}}
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def _duck(tmp_path: Path, rows: list[tuple]) -> Path:
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders (order_no VARCHAR, cust VARCHAR, day DATE, amount DOUBLE)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    con.close()
    return db


# --------------------------------------------------------------------------- the setting
def test_a_warehouse_source_names_an_environment_variable_never_the_url(tmp_path):
    p = _params(tmp_path, {"backend": "postgres", "table": "sales.orders",
                           "connection": f"postgresql://kam:{PLANTED}@db:5432/sales"})
    with pytest.raises(ParameterError) as err:
        load_params(p)
    text = str(err.value)
    assert "connection" in text and "NAME of an environment variable" in text
    assert PLANTED not in text and "@db:5432" not in text


@pytest.mark.parametrize("source, words", [
    ({"backend": "postgres", "table": "t", "query": "SELECT 1", "connection": "X"}, "either table"),
    ({"backend": "postgres", "connection": "X"}, "either table"),
    ({"backend": "postgres", "table": "t"}, "needs connection"),
    ({"backend": "oracle", "table": "t", "connection": "X"}, "backend"),
])
def test_a_warehouse_source_is_checked_before_anything_runs(tmp_path, source, words):
    with pytest.raises(ParameterError, match=words):
        load_params(_params(tmp_path, source))


def test_a_file_and_a_warehouse_or_file_options_on_a_warehouse_are_refused(tmp_path):
    p = _params(tmp_path, {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"})
    raw = yaml.safe_load(p.read_text())
    raw["data"]["transactions"]["path"] = "orders.csv"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParameterError, match="either path"):
        load_params(p)
    del raw["data"]["transactions"]["path"]
    raw["data"]["transactions"]["delimiter"] = ";"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParameterError, match="delimiter describe"):
        load_params(p)


def test_pyspark_needs_no_connection_and_the_label_names_the_table(tmp_path):
    params = load_params(_params(tmp_path, {"backend": "pyspark", "table": "lake.orders"}))
    spec = params.data.transactions
    assert spec.path is None and spec.source == "pyspark table lake.orders"


# --------------------------------------------------------------------------- secrets
def test_scrub_masks_the_url_password_and_tokens():
    from kam_analysis.data.warehouse import scrub, secrets_of

    url = f"postgresql://kam:{PLANTED}@db.example:5432/sales?sslmode=require&password={PLANTED}x"
    text = (f"could not connect to {url}: FATAL password {PLANTED} rejected; "
            f"retry sc://host:443/;token=abc{PLANTED} and mysql://u:other-secret@h/db")
    out = scrub(text, secrets_of(url))
    assert PLANTED not in out and "other-secret" not in out and "abc" not in out
    assert "***" in out and "could not connect" in out


def test_a_failed_connection_never_shows_the_password(tmp_path, monkeypatch, capfd):
    """kam validate and kam run on a PostgreSQL source that refuses the connection: exit 2, the
    message names the environment variable, and the planted password is nowhere on the terminal
    or under the output folder."""
    from kam_analysis.cli import main

    # a closed port on this machine: the driver fails at once
    monkeypatch.setenv("KAM_WH_URL", f"postgresql://kam:{PLANTED}@127.0.0.1:9/sales?connect_timeout=2")
    p = _params(tmp_path, {"backend": "postgres", "table": "sales.orders", "connection": "KAM_WH_URL"})
    for command in ("validate", "run"):
        assert main([command, str(p)]) == 2
        out = capfd.readouterr()
        text = out.out + out.err
        assert "Could not connect to the postgres source (the URL in KAM_WH_URL)" in text
        assert PLANTED not in text and "kam:" not in text
    written = [f for f in (tmp_path / "outputs").rglob("*") if f.is_file()] if (tmp_path / "outputs").exists() else []
    assert all(PLANTED not in f.read_text(errors="ignore") for f in written)


def test_an_unset_variable_says_how_to_set_it(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    monkeypatch.delenv("KAM_NOT_SET", raising=False)
    monkeypatch.setenv("KAM_CONNECTIONS", str(tmp_path / "none.yaml"))
    report = validate_data(load_params(_params(tmp_path, {"backend": "postgres", "table": "t",
                                                          "connection": "KAM_NOT_SET"})))
    report.close()
    [p] = report.errors
    assert p.rule == "warehouse_connection" and "KAM_NOT_SET" in p.message and "export KAM_NOT_SET=" in p.fix


def test_the_connection_may_come_from_the_consultants_own_file(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 3, 1), 100.0)])
    monkeypatch.delenv("KAM_WH", raising=False)
    (tmp_path / "connections.yaml").write_text(f"KAM_WH: duckdb://{db}\n")
    monkeypatch.setenv("KAM_CONNECTIONS", str(tmp_path / "connections.yaml"))
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders",
                                                          "connection": "KAM_WH"})))
    report.close()
    assert report.ok, report.summary()
    assert report.stats["transactions"]["warehouse_rows"] == 1


# --------------------------------------------------------------------------- rules in the engine
def test_row_rules_are_counted_in_the_engine_with_the_file_messages_and_keys(tmp_path, monkeypatch):
    """Missing accounts, a future date and rows after the as-of date: counted by the engine, said as for
    a file, each example named by its order number; nothing is extracted from a table with errors."""
    from kam_analysis.data.validate import validate_data

    future = dt.date.today() + dt.timedelta(days=30)
    rows = [("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", None, dt.date(2025, 1, 6), 20.0),
            ("O3", " n/a ", dt.date(2025, 1, 7), 30.0), ("O4", "A2", future, 40.0),
            ("O5", "A2", dt.date(2025, 8, 1), 50.0)]
    db = _duck(tmp_path, rows)
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders",
                                                          "connection": "KAM_WH"})))
    report.close()
    by_rule = {p.rule: p for p in report.problems}
    missing = by_rule["missing_value"]
    assert missing.count == 2 and missing.message == "2 rows have no account_id"
    assert missing.examples == ("order_no O2", "order_no O3") and missing.column == "cust"
    assert missing.file == "duckdb table orders" and str(missing).startswith(
        "[ERROR] 2 rows have no account_id (duckdb table orders, column 'cust')")
    fut = by_rule["future_date"]
    assert fut.count == 1 and fut.examples == (f"order_no O4: {future}",)
    assert by_rule["after_as_of"].count == 1 and by_rule["after_as_of"].severity == "warning"
    assert "transactions" not in report.views  # errors: nothing extracted
    assert "warehouse_rows" not in report.stats.get("transactions", {})


def test_order_id_rules_are_counted_in_the_engine_before_anything_leaves(tmp_path, monkeypatch):
    """An order number used by two accounts, and one with no number: found by the engine with the file's
    messages, examples named by id and key; nothing is extracted."""
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O1", "A2", dt.date(2025, 1, 5), 20.0),
                          ("O2", "A2", dt.date(2025, 2, 1), 30.0), ("", "A3", dt.date(2025, 2, 3), 5.0)])
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders",
                                                          "connection": "KAM_WH"})))
    report.close()
    by_rule = {p.rule: p for p in report.errors}
    dup = by_rule["duplicate_id"]
    assert dup.message == "1 order ids belong to more than one account" and dup.examples == ("O1 (accounts A1, A2)",)
    empty = by_rule["missing_value"]
    assert empty.message == "1 rows have no order_id" and empty.examples == ("cust/day A3 / 2025-02-03",)
    assert "warehouse_rows" not in report.stats.get("transactions", {})


def test_an_order_id_spanning_months_is_refused_in_the_engine(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    rows = [(f"C{i % 3}", f"A{i % 3}", dt.date(2024, 1 + i % 12, 1), 10.0) for i in range(30)]
    db = _duck(tmp_path, rows)
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders",
                                                          "connection": "KAM_WH"})))
    report.close()
    [err] = report.errors
    assert err.rule == "order_id_spans_dates" and err.message.startswith(
        "3 order ids ('order_no') have lines more than 31 days apart (30 of 30 rows)")
    assert err.examples[0] == "C0: 4 dates from 2024-01-01 to 2024-10-01"
    assert "warehouse_rows" not in report.stats.get("transactions", {})


def test_rules_run_on_the_extract_name_rows_by_their_key(tmp_path, monkeypatch):
    """Orders of an account missing from the accounts table: found on the extract, the example names the
    order's key in the client's table, not a row number of the extract."""
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", "A9", dt.date(2025, 2, 1), 30.0),
                          ("O3", "A9", dt.date(2025, 2, 2), 30.0)])
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE customers AS SELECT 'A1' AS cust")
    con.close()
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    p = _params(tmp_path, {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"})
    raw = yaml.safe_load(p.read_text())
    raw["data"]["accounts"] = {"warehouse": {"backend": "duckdb", "table": "customers", "connection": "KAM_WH"},
                               "columns": {"account_id": "cust"}}
    p.write_text(yaml.safe_dump(raw))
    report = validate_data(load_params(p))
    report.close()
    [orphan] = report.errors
    assert orphan.rule == "orphan_account" and orphan.count == 2
    assert orphan.examples == ("A9 (order_no O2, O3)",)
    assert report.stats["transactions"]["warehouse_rows"] == 3


def test_a_missing_column_is_named_with_the_sources_columns(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 1, 5), 10.0)])
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    p = _params(tmp_path, {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"})
    raw = yaml.safe_load(p.read_text())
    raw["data"]["transactions"]["columns"]["net_revenue"] = "amt"
    p.write_text(yaml.safe_dump(raw))
    report = validate_data(load_params(p))
    report.close()
    [miss] = report.errors
    assert miss.rule == "missing_column" and "looked for 'amt'" in miss.message
    assert 'net_revenue: "amount"' in miss.fix and "'order_no', 'cust', 'day', 'amount'" in miss.fix
    # only the schema was read: nothing left the engine
    assert "warehouse_rows" not in report.stats.get("transactions", {})


def test_a_missing_table_is_a_clear_error(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 1, 5), 10.0)])
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "table": "sales.nothing",
                                                          "connection": "KAM_WH"})))
    report.close()
    [p] = report.errors
    assert p.message.startswith("The duckdb table sales.nothing could not be read") and "warehouse.table" in p.fix


# --------------------------------------------------------------------------- the prepared run
def test_a_run_prepared_from_a_database_equals_the_file_run(tmp_path, monkeypatch):
    """The demo client's four tables in a DuckDB database file: the run's clean data and its
    account-level tables equal those prepared from the client's files; the bytes that left the
    database are recorded."""
    from kam_analysis.data.prepare import prepare_run_data

    (tmp_path / "files").mkdir()
    fp = write_demo_params(tmp_path / "files", n_accounts=300)
    names = load_duckdb_file(tmp_path / "wh.duckdb", demo_tables(fp))
    monkeypatch.setenv("KAM_WH", f"duckdb://{tmp_path / 'wh.duckdb'}")
    wp = warehouse_params(fp, tmp_path / "wh" / "params.yaml", backend="duckdb", connection="KAM_WH", tables=names)
    file_report = prepare_run_data(load_params(fp), tmp_path / "run_files")
    wh_report = prepare_run_data(load_params(wp), tmp_path / "run_wh")
    for sub in ("data/transactions", "data/accounts", "data/surveys", "data/capability", "tables/account_summary",
                "tables/account_period", "tables/account_category"):
        a = pd.read_parquet(tmp_path / "run_files" / f"{sub}.parquet")
        b = pd.read_parquet(tmp_path / "run_wh" / f"{sub}.parquet")
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=sub)
    st = wh_report.stats["transactions"]
    assert st["orders"] == file_report.stats["transactions"]["orders"]
    assert st["warehouse_rows"] == len(pd.read_parquet(tmp_path / "run_wh" / "data" / "transactions.parquet"))
    assert st["warehouse_bytes"] > 0
    # the account-level tables were aggregated in the engine: only account-level rows came back for them
    assert st["aggregated_in_engine"] is True and 0 < st["aggregates_bytes"]
    assert not any((tmp_path / "run_wh").rglob("*.duckdb")) and not (tmp_path / "run_wh" / ".duckdb_tmp").exists()


def test_the_aggregates_read_one_temporary_table_dropped_on_every_path(tmp_path, monkeypatch):
    """DuckDB as the engine: the clean lines are one temporary table the aggregates read (the order ids
    cleaned there: ' O1 ' and 'O1' are one order), dropped before the connection closes, also when a fetch
    fails (Ibis 12's own DROP fails on DuckDB 2: kam drops it by name)."""
    from kam_analysis.data import warehouse
    from kam_analysis.exceptions import DataValidationError

    rows = [("O1", "A1", dt.date(2025, 1, 5), 10.0), (" O1\x07", "A1", dt.date(2025, 1, 5), 2.5),
            ("O2", "A1", dt.date(2025, 3, 1), 20.0), ("O3", "A2", dt.date(2025, 2, 1), 7.25)]
    db = _duck(tmp_path, rows)
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    params = load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"}))
    seen, made = [], []
    real_disconnect, real_materialise, real_fetch = warehouse._disconnect, warehouse._materialise, warehouse._fetch

    def disconnect(backend):
        seen.append(backend.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0])
        real_disconnect(backend)

    def materialise(backend, clean):
        table, release = real_materialise(backend, clean)
        made.append(backend.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0])
        return table, release

    monkeypatch.setattr(warehouse, "_disconnect", disconnect)
    monkeypatch.setattr(warehouse, "_materialise", materialise)
    out = warehouse.engine_aggregates(params)
    assert made == [1] and seen == [0]
    per = {r["account_id"]: r for r in out["per_account"].to_pylist()}
    assert per["A1"]["n_orders"] == 2 and float(per["A1"]["revenue"]) == 32.5
    assert float(per["A2"]["revenue"]) == 7.25

    def failing(backend, expr):
        raise RuntimeError("engine stopped")

    monkeypatch.setattr(warehouse, "_fetch", failing)
    with pytest.raises(DataValidationError, match="failed while aggregating: engine stopped"):
        warehouse.engine_aggregates(params)
    assert made == [1, 1] and seen == [0, 0]
    monkeypatch.setattr(warehouse, "_fetch", real_fetch)


def test_an_amount_held_as_text_is_read_by_the_file_rules_and_aggregated_locally(tmp_path, monkeypatch):
    """A database column of text amounts ('1,234.50', '(12.00)'): it leaves the engine as text, the file
    rules read it, and the account tables are aggregated from the extract (not in the engine)."""
    from kam_analysis.data.prepare import prepare_run_data

    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders (order_no VARCHAR, cust VARCHAR, day DATE, amount VARCHAR)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                    [("O1", "A1", dt.date(2025, 3, 1), "1,234.50"), ("O2", "A1", dt.date(2025, 4, 1), "(12.00)"),
                     ("O3", "A2", dt.date(2025, 5, 1), "€ 80")])
    con.close()
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    params = load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"}))
    report = prepare_run_data(params, tmp_path / "run")
    assert report.stats["transactions"]["aggregated_in_engine"] is False
    summary = pd.read_parquet(tmp_path / "run" / "tables" / "account_summary.parquet").set_index("account_id")
    assert summary.loc["A1", "revenue"] == pytest.approx(1222.50) and summary.loc["A1", "n_orders"] == 1
    assert summary.loc["A2", "revenue"] == pytest.approx(80.0)


def test_the_extract_is_streamed_in_batches(tmp_path, monkeypatch):
    """The order lines are written one Arrow batch at a time (one row group each), never held whole."""
    import ibis
    import pyarrow.parquet as pq

    from kam_analysis.data import warehouse

    monkeypatch.setattr(warehouse, "BATCH_ROWS", 100)
    con = ibis.duckdb.connect()
    con.con.execute("CREATE TABLE lines AS SELECT range AS i, 'x' || range AS s FROM range(1050)")
    expr = con.table("lines")
    n_bytes, n_rows, _ = warehouse._extract(con, expr, tmp_path / "x.parquet")
    f = pq.ParquetFile(tmp_path / "x.parquet")
    assert n_rows == 1050 == f.metadata.num_rows
    assert f.metadata.num_row_groups >= 10 and max(f.metadata.row_group(i).num_rows for i in range(
        f.metadata.num_row_groups)) <= 100
    assert n_bytes >= 1050 * 8


def test_a_query_is_read_like_a_table(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", "A2", dt.date(2025, 2, 1), -5.0),
                          ("O3", "A2", dt.date(2025, 2, 2), 30.0)])
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "connection": "KAM_WH",
                                                          "query": "SELECT * FROM orders WHERE amount > 0"})))
    report.close()
    assert report.ok, report.summary()
    assert report.stats["transactions"]["warehouse_rows"] == 2 and report.stats["transactions"]["orders"] == 2


def test_kam_validate_says_what_left_the_database(tmp_path, monkeypatch, capsys):
    from kam_analysis.cli import main

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", "A2", dt.date(2025, 6, 1), 30.0)])
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    assert main(["validate", str(_params(tmp_path, {"backend": "duckdb", "table": "orders",
                                                     "connection": "KAM_WH"}))]) == 0
    out = capsys.readouterr().out
    assert "transactions: 2 rows read" in out and "2 clean rows left the database (0.0 MB)" in out


def test_phases_are_not_reused_over_a_database_whose_rows_may_have_changed(tmp_path, monkeypatch):
    """A file has a checksum; a database table has none: --phase never reuses earlier results over it."""
    import json

    from kam_analysis.exceptions import RunError
    from kam_analysis.runner import _input_hashes, _reusable_base

    monkeypatch.setenv("KAM_WH", f"duckdb://{tmp_path / 'wh.duckdb'}")
    p = _params(tmp_path, {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"})
    params = load_params(p)
    inputs = _input_hashes(params)
    assert inputs["transactions"] == {"table": "transactions", "path": "duckdb table orders", "bytes": None,
                                      "sha256": None, "warehouse": True}
    base = tmp_path / "base"
    base.mkdir()
    (base / "manifest.json").write_text(json.dumps({"inputs": list(inputs.values()),
                                                    "params": params.resolved_dump()}, default=str))
    with pytest.raises(RunError, match=r"transactions is read from a database \(duckdb table orders\), whose rows "
                                       r"may have changed since"):
        _reusable_base(base, params, ["assessment"], inputs=inputs, params_path=p, overrides=[])


def test_orders_all_after_the_as_of_date_are_an_error_not_an_empty_run(tmp_path, monkeypatch):
    from kam_analysis.data.validate import validate_data

    db = _duck(tmp_path, [("O1", "A1", dt.date(2025, 8, 5), 10.0), ("O2", "A2", dt.date(2025, 9, 1), 30.0)])
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    report = validate_data(load_params(_params(tmp_path, {"backend": "duckdb", "table": "orders",
                                                          "connection": "KAM_WH"})))
    report.close()
    [warning] = report.warnings
    [error] = report.errors
    assert warning.rule == "after_as_of" and warning.count == 2
    assert error.message == "No transactions remain on or before the as-of date 2025-06-30"


def test_a_connections_file_inside_the_repository_is_refused(tmp_path, monkeypatch):
    from kam_analysis.config import REPO_ROOT, SOURCE_CHECKOUT
    from kam_analysis.data.validate import validate_data

    if not SOURCE_CHECKOUT:
        pytest.skip("an installed package has no repository")
    inside = REPO_ROOT / "outputs" / f"connections-{tmp_path.name}.yaml"
    inside.parent.mkdir(exist_ok=True)
    inside.write_text(f"KAM_WH_IN_REPO: postgresql://kam:{PLANTED}@db/sales\n")
    try:
        monkeypatch.delenv("KAM_WH_IN_REPO", raising=False)
        monkeypatch.setenv("KAM_CONNECTIONS", str(inside))
        report = validate_data(load_params(_params(tmp_path, {"backend": "postgres", "table": "t",
                                                              "connection": "KAM_WH_IN_REPO"})))
        report.close()
    finally:
        inside.unlink()
    [p] = report.errors
    assert "inside the repository" in p.message and PLANTED not in str(p)
