"""Every validation message, byte for byte: one client per family of faults, snapshotted.

The rules' wording is what a consultant reads; a refactoring of how the rules run must not
change a word of it. Each scenario below plants one of each fault of a family (a file of
transactions with a missing account, an unreadable date, a number too large ...; a database
table with the same faults counted in its engine), and the test compares every problem
(rule, severity, file, column, count, message, examples, fix) with
``tests/data/rule_messages.json``. The date of today, which two messages name, is replaced
by ``<today>``.

After a deliberate change of wording, rewrite the snapshot with
``KAM_UPDATE_SNAPSHOT=1 pytest tests/test_rule_messages.py`` and review its diff.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pytest
import yaml

from data_helpers import ACCOUNTS, TRANSACTIONS, validate

SNAPSHOT = Path(__file__).parent / "data" / "rule_messages.json"

# one of each row-level fault of the transactions, with an order id spread over a few days, an account
# missing from the accounts file and a totals row
FAULTY_TRANSACTIONS = """account_id,order_id,order_date,net_revenue,gross_margin
A1,O1,2024-01-15,100.00,10
A1,O2,2024-03-10,250.50,20
,O3,2024-02-01,80,5
A2,O4,not a date,1200,7
A2,O5,2024-02-03,12abc,3
A3,O6,1899-12-30,40,2
A3,O7,2024-04-01,1e16,2
A3,O8,2999-01-01,10,1
A3,O9,2024-07-15,10,1
A1,O11,2024-05-02,10,1
A1,O11,2024-05-04,10,1
A9,O12,2024-05-05,10,1
A9,O13,2024-05-06,10,1
Total,,,3000,
"""

FAULTY_ACCOUNTS = """account_id,account_name,strategic_importance,cost_to_serve,key_account
A1,Alpha Ltd,4,100,yes
A2,Beta GmbH,9,-5,maybe
A2,Beta GmbH again,2,10,no
A3,Gamma SA,5,,no
"""

FAULTY_SURVEYS = """account_id,survey_date,nps,csat
A1,2024-06-01,9.5,5
A2,2024-06-02,11,0
A7,2024-06-03,8,4
"""

FAULTY_CAPABILITY = """dimension,score,target
Account planning,2,4
Account planning,3,4
Governance,high,9
"""


def _file_scenarios(tmp: Path) -> dict:
    """name -> the validate() keywords of a client with the faults."""
    lines = "account_id,order_id,order_date,net_revenue,line_id\n" + "".join(
        f"A1,O1,2024-01-0{d},{v},{ln}\n" for d, v, ln in ((1, 10, 1), (1, 10, 1), (1, 11, 2), (1, 12, 2)))
    repeat = TRANSACTIONS + "A1,O1,2024-01-15,100.00\n"
    return {
        "every_table": dict(transactions=FAULTY_TRANSACTIONS, accounts=FAULTY_ACCOUNTS, surveys=FAULTY_SURVEYS,
                            capability=FAULTY_CAPABILITY),
        "order_id_of_two_accounts": dict(transactions=TRANSACTIONS + "A2,O1,2024-01-15,5\n"),
        "mixed_dates": dict(transactions="account_id,order_id,order_date,net_revenue\n"
                                         "A1,O1,25/03/2024,10\nA1,O2,03/25/2024,10\nA2,O3,01/02/2024,5\n"),
        "ambiguous_dates": dict(transactions="account_id,order_id,order_date,net_revenue\n"
                                             "A1,O1,01/02/2024,10\nA1,O2,03/04/2024,10\n"),
        "ambiguous_dots": dict(transactions="account_id,order_id,order_date,net_revenue\n"
                                            "A1,O1,2024-01-02,25.000\nA1,O2,2024-01-03,1.500\n"),
        "thousands_dots": dict(transactions="account_id,order_id,order_date,net_revenue\n"
                                            "A1,O1,2024-01-02,25.000\nA1,O2,2024-01-03,1.234.567\n"),
        "ambiguous_commas": dict(transactions={"content": "account_id;order_id;order_date;net_revenue\n"
                                                          "A1;O1;2024-01-02;25,000\nA1;O2;2024-01-03;1,500\n"}),
        "repeat_lines": dict(transactions=repeat),
        "line_ids": dict(transactions=lines),
        "order_id_is_account": dict(transactions={"content": TRANSACTIONS,
                                                  "columns": {"order_id": "account_id"}}),
        "order_id_spans_months": dict(transactions="account_id,order_id,order_date,net_revenue\n" + "".join(
            f"A{i % 2},C{i % 2},2024-{1 + i % 6:02d}-01,10\n" for i in range(12))),
        "missing_order_id": dict(transactions="account_id,order_id,order_date,net_revenue\n"
                                              "A1,O1,2024-01-02,10\nA1,,2024-01-03,10\n"),
        "no_live_account": dict(transactions=TRANSACTIONS, extra={"analysis": {"as_of_date": "2026-06-30"}}),
        "columns": dict(transactions={"content": TRANSACTIONS.replace("net_revenue", "Amount EUR"),
                                      "columns": {"net_revenue": "Net Amount", "revenue": "x"}},
                        accounts={"content": ACCOUNTS, "columns": {"region": "Country"}}),
        "wrong_delimiter": dict(transactions={"content": TRANSACTIONS.replace(",", ";"), "delimiter": ","}),
        "duplicate_column": dict(transactions="account_id,order_id,order_date,net_revenue,Net_Revenue\n"
                                              "A1,O1,2024-01-02,10,10\n"),
        "empty": dict(transactions="account_id,order_id,order_date,net_revenue\n"),
        "low_coverage": dict(transactions=TRANSACTIONS + "A4,O5,2024-05-21,10\n",
                             surveys="account_id,survey_date,nps\nA1,2024-06-01,9\n"),
        "surveys_without_scores": dict(surveys="account_id,survey_date\nA1,2024-06-01\n"),
        "missing_several": dict(transactions="account_id,order_id,order_date,net_revenue\n"
                                             "A1,O1,2024-01-02,10\n,O2,,\n"),
        "as_of_after_data": dict(transactions=TRANSACTIONS, as_of="2024-03-31"),
    }


CUSTOMERS = [("A1", 4.0, 1.0), ("A2", 2.0, 0.0)]


def _warehouse_scenarios(tmp: Path) -> dict:
    """name -> rows of the orders table, and of the customers and responses tables (None: not read)."""
    future = dt.date(2999, 1, 3)  # a fixed future date: today + 30 days changed the snapshot's example every day
    return {
        "row_rules": ([("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", None, dt.date(2025, 1, 6), 20.0),
                      ("O3", " n/a ", dt.date(2025, 1, 7), 30.0), ("O4", "A2", future, 40.0),
                      ("O5", "A2", dt.date(2025, 8, 1), 50.0), ("O6", "A2", dt.date(1899, 12, 30), 5.0),
                      ("O7", "A2", dt.date(2025, 2, 1), 1e16), ("O8", "A2", dt.date(2025, 2, 2), float("inf"))], None, None),
        "order_ids": ([("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O1", "A2", dt.date(2025, 1, 5), 20.0),
                      ("O2", "A2", dt.date(2025, 2, 1), 30.0), ("", "A3", dt.date(2025, 2, 3), 5.0),
                      ("O3", "A3", dt.date(2025, 2, 3), 5.0), ("O3", "A3", dt.date(2025, 2, 5), 5.0)], None, None),
        "spans_months": ([(f"C{i % 3}", f"A{i % 3}", dt.date(2024, 1 + i % 12, 1), 10.0) for i in range(30)],
                         None, None),
        "orphans_on_the_extract": ([("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", "A9", dt.date(2025, 2, 1), 30.0),
                                    ("O3", "A9", dt.date(2025, 2, 2), 30.0)], CUSTOMERS,
                                   [("A1", dt.date(2025, 3, 1), 9.0), ("A8", dt.date(2025, 3, 2), 7.0)]),
        "accounts_and_surveys": ([("O1", "A1", dt.date(2025, 1, 5), 10.0), ("O2", "A2", dt.date(2025, 2, 1), 30.0)],
                                 [("A1", 9.0, 1.0), ("A2", 2.5, -1.0), ("A2", 3.0, 1.0)],
                                 [("A1", dt.date(2025, 3, 1), 9.5), ("A2", dt.date(2025, 3, 2), 11.0)]),
    }


def _warehouse_report(tmp: Path, rows: list[tuple], customers, responses, monkeypatch):
    from kam_analysis.config import load_params
    from kam_analysis.data.validate import validate_data

    db = tmp / "wh.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders (order_no VARCHAR, cust VARCHAR, day DATE, amount DOUBLE)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", rows)
    con.execute("CREATE TABLE customers (cust VARCHAR, importance DOUBLE, cost DOUBLE)")
    if customers:
        con.executemany("INSERT INTO customers VALUES (?, ?, ?)", customers)
    con.execute("CREATE TABLE responses (cust VARCHAR, day DATE, score DOUBLE)")
    if responses:
        con.executemany("INSERT INTO responses VALUES (?, ?, ?)", responses)
    con.close()
    monkeypatch.setenv("KAM_WH", f"duckdb://{db}")
    data = {"transactions": {"warehouse": {"backend": "duckdb", "table": "orders", "connection": "KAM_WH"},
                             "columns": {"account_id": "cust", "order_id": "order_no", "order_date": "day",
                                         "net_revenue": "amount"}}}
    if responses is not None:
        data["surveys"] = {"warehouse": {"backend": "duckdb", "table": "responses", "connection": "KAM_WH"},
                           "columns": {"account_id": "cust", "survey_date": "day", "nps": "score"}}
    if customers is not None:
        data["accounts"] = {"warehouse": {"backend": "duckdb", "table": "customers", "connection": "KAM_WH"},
                            "columns": {"account_id": "cust", "strategic_importance": "importance",
                                        "cost_to_serve": "cost"}}
    raw = {"client": {"name": "Warehouse Client"}, "data": data,
           "analysis": {"as_of_date": "2025-06-30", "churn_days": 180}, "output": {"root": str(tmp / "outputs")}}
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return validate_data(load_params(p))


def _shown(report, tmp: Path) -> list[dict]:
    today = str(dt.date.today())

    def norm(text):
        return None if text is None else str(text).replace(str(tmp), "<tmp>").replace(today, "<today>")

    return [{"rule": p.rule, "severity": p.severity, "file": norm(p.file), "column": norm(p.column),
             "count": p.count, "message": norm(p.message), "examples": [norm(e) for e in p.examples],
             "fix": norm(p.fix)} for p in report.problems]


def _file_messages(tmp_path_factory) -> dict:
    out = {}
    for name, kw in _file_scenarios(Path("/")).items():
        tmp = tmp_path_factory.mktemp(name)
        report = validate(tmp, **kw)
        out[f"file:{name}"] = _shown(report, tmp)
        report.close()
    return out


def _warehouse_messages(tmp_path_factory, monkeypatch) -> dict:
    out = {}
    for name, (rows, customers, responses) in _warehouse_scenarios(Path("/")).items():
        tmp = tmp_path_factory.mktemp(name)
        report = _warehouse_report(tmp, rows, customers, responses, monkeypatch)
        out[f"warehouse:{name}"] = _shown(report, tmp)
        report.close()
    return out


def _compare(got: dict, kind: str) -> None:
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8")) if SNAPSHOT.exists() else {}
    if os.environ.get("KAM_UPDATE_SNAPSHOT"):
        want = {k: v for k, v in want.items() if not k.startswith(kind)} | got
        SNAPSHOT.write_text(json.dumps(dict(sorted(want.items())), indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    want = {k: v for k, v in want.items() if k.startswith(kind)}
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name


def test_every_file_message_is_unchanged(tmp_path_factory):
    got = _file_messages(tmp_path_factory)
    _compare(got, "file:")
    # the snapshot holds every rule of the data layer at least once (a scenario that stopped planting its
    # fault would silently shrink it)
    rules = {p["rule"] for problems in got.values() for p in problems}
    assert rules >= {"missing_value", "unparseable", "implausible_date", "implausible_number", "out_of_range",
                     "not_whole", "future_date", "after_as_of", "duplicate_id", "orphan_account", "unknown_account",
                     "low_coverage", "totals_row", "mixed_date_formats", "ambiguous_dates", "ambiguous_number",
                     "thousands_separator", "repeat_lines", "duplicate_rows", "order_id_is_account",
                     "order_id_spans_dates", "no_live_account", "missing_column", "unknown_mapping",
                     "wrong_delimiter", "duplicate_column", "empty_table"}, rules


def test_every_warehouse_message_is_unchanged(tmp_path_factory, monkeypatch):
    """The same rules counted in a database's engine (DuckDB through Ibis), examples named by key."""
    got = _warehouse_messages(tmp_path_factory, monkeypatch)
    _compare(got, "warehouse:")
    rules = {p["rule"] for problems in got.values() for p in problems}
    assert rules >= {"missing_value", "implausible_date", "implausible_number", "out_of_range", "not_whole",
                     "future_date", "after_as_of", "duplicate_id", "orphan_account", "unknown_account",
                     "order_id_spans_dates"}, rules
