"""Totals rows in a file that stores its numbers and dates as numbers and dates (Parquet).

Only text can be a totals label, so only the text and id columns are searched for one
(casting every number and date of a 50-million-row file to text cost minutes); the
amount rule (the largest amount equals the sum of the others) still applies to numbers.
"""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from data_helpers import validate


def _orders(tmp_path, accounts, revenue):
    n = len(accounts)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"account_id": accounts, "order_id": [f"O{i}" for i in range(n)],
                             "order_date": [dt.datetime(2024, 1, 1 + i) for i in range(n)],
                             "net_revenue": pa.array(revenue, pa.float64())}), path)
    return {"path": path}


def test_a_label_in_a_typed_files_id_column_is_a_totals_row(tmp_path):
    report = validate(tmp_path, transactions=_orders(tmp_path, ["A1", "A2", "A3", "Grand total"],
                                                     [10.0, 20.0, 30.0, 5.0]))
    rules = [p for p in report.errors if p.rule == "totals_row"]
    assert len(rules) == 1 and "row 4: account_id is 'Grand total'"  # a Parquet file's 4th row in str(rules[0])


def test_a_typed_sum_row_is_a_totals_row_and_plain_numbers_are_not(tmp_path):
    report = validate(tmp_path, transactions=_orders(tmp_path, ["A1", "A2", "A3", "A4"], [10.0, 20.0, 30.0, 60.0]))
    assert [str(p) for p in report.errors if p.rule == "totals_row"] and "is the sum of all other rows" in str(
        next(p for p in report.errors if p.rule == "totals_row"))
    clean = validate(tmp_path / "b", transactions=_orders(tmp_path / "b", ["A1", "A2", "A3", "A4"],
                                                          [10.0, 20.0, 30.0, 70.0]))
    assert not [p for p in clean.errors if p.rule == "totals_row"]
