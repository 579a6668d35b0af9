"""Readers: encodings, delimiters, header rows, Excel sheets and merged cells, quoting."""
from __future__ import annotations

import codecs
import datetime as dt

import duckdb
import openpyxl
import pytest

from kam_analysis.config import FileSpec
from kam_analysis.data.readers import ROW_COLUMN, detect_encoding, read_raw, sql_ident, sql_str
from kam_analysis.exceptions import DataValidationError

REQ = ["account_id", "order_id"]


def _read(path, **spec):
    con = duckdb.connect()
    info: dict = {}
    cols = read_raw(con, FileSpec(path=path, **spec), table="transactions", view="raw", required_client_columns=REQ,
                    info=info)
    rows = con.execute("SELECT * FROM raw").fetchall()
    return cols, rows, info


def test_sql_quoting():
    assert sql_ident('a"b') == '"a""b"'
    assert sql_str("it's") == "'it''s'"
    con = duckdb.connect()
    assert con.execute(f"SELECT {sql_str(chr(39) + '; DROP TABLE x; --')}").fetchone()[0] == "'; DROP TABLE x; --"


@pytest.mark.parametrize("raw,expected", [
    ("Müller".encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + "Müller".encode("utf-8"), "utf-8"),
    ("Müller".encode("latin-1"), "latin-1"),
    ("Müller".encode("utf-16"), "utf-16"),
    (b"plain ascii", "utf-8"),
])
def test_detect_encoding(tmp_path, raw, expected):
    p = tmp_path / "f.csv"
    p.write_bytes(raw)
    assert detect_encoding(p) == expected


def test_multibyte_character_cut_at_sample_end_is_still_utf8(tmp_path):
    p = tmp_path / "f.csv"
    p.write_bytes(b"a" * 9 + "é".encode())
    assert detect_encoding(p, sample_bytes=10) == "utf-8"


def test_csv_header_found_below_title_lines(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("Order extract;;\nExported 2025-01-03;;\n\naccount_id;order_id;amount\nA1;O1;1,5\nA2;O2;3\n")
    cols, rows, info = _read(p)
    assert cols == ["account_id", "order_id", "amount"]
    assert rows == [("A1", "O1", "1,5"), ("A2", "O2", "3")]
    assert info["header_row"] == 4 and info["delimiter"] == ";"


def test_csv_header_row_given(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("junk\naccount_id,order_id\nA1,O1\n")
    cols, rows, _ = _read(p, header_row=2)
    assert cols == ["account_id", "order_id"] and rows == [("A1", "O1")]


def test_csv_short_rows_are_padded(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("account_id,order_id,category\nA1,O1\nA2,O2,Apparel\n")
    _, rows, _ = _read(p)
    assert rows == [("A1", "O1", None), ("A2", "O2", "Apparel")]


def test_csv_unsupported_encoding_is_a_clear_error(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("account_id,order_id\nA1,O1\n")
    with pytest.raises(DataValidationError, match="encoding 'ebcdic' is not supported; use utf-8, latin-1 or utf-16"):
        _read(p, encoding="ebcdic")


def _xlsx(path, rows, merge=None, sheet="Sheet"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    for m in merge or []:
        ws.merge_cells(m)
    wb.save(path)
    return path


def test_excel_header_detection_rows_and_dates(tmp_path):
    p = _xlsx(tmp_path / "f.xlsx", [["Title"], [], ["account_id", "order_id", "order_date"],
                                     ["A1", "O1", dt.datetime(2024, 1, 15)], [None, None, None],
                                     ["A2", "O2", 45000.0]], merge=["A1:C1"])
    cols, rows, info = _read(p)
    assert cols == ["account_id", "order_id", "order_date", ROW_COLUMN]
    assert rows == [("A1", "O1", "2024-01-15T00:00:00", 4), ("A2", "O2", "45000", 6)]
    assert info["header_row"] == 3


def test_excel_merged_cells_fill_every_cell(tmp_path):
    p = _xlsx(tmp_path / "f.xlsx", [["account_id", "order_id"], ["A1", "O1"], [None, "O2"], ["A2", "O3"]],
              merge=["A2:A3"])
    _, rows, _ = _read(p)
    assert [r[:2] for r in rows] == [("A1", "O1"), ("A1", "O2"), ("A2", "O3")]


def test_excel_duplicate_headers_are_numbered(tmp_path):
    p = _xlsx(tmp_path / "f.xlsx", [["account_id", "order_id", "x", "x", None], ["A1", "O1", 1, 2, 3]])
    cols, _, _ = _read(p)
    assert cols[:5] == ["account_id", "order_id", "x", "x_2", "column_5"]


def test_excel_missing_sheet_lists_the_sheets(tmp_path):
    p = _xlsx(tmp_path / "f.xlsx", [["account_id", "order_id"]], sheet="Data")
    with pytest.raises(DataValidationError, match=r"Sheet 'Orders' not found in the transactions workbook") as ei:
        _read(p, sheet="Orders")
    assert "one of: Data" in str(ei.value)
    with pytest.raises(DataValidationError, match=r"Sheet 3 not found"):
        _read(p, sheet=3)


def test_corrupt_workbook_is_a_clear_error(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["account_id", "order_id"])
    p = tmp_path / "f.xlsx"
    wb.save(p)
    p.write_bytes(p.read_bytes()[:600])  # cut short, as by a failed download
    with pytest.raises(DataValidationError, match="The transactions workbook could not be opened"):
        _read(p)


def test_parquet_native_types(tmp_path):
    import pandas as pd

    p = tmp_path / "f.parquet"
    pd.DataFrame({"account_id": ["A1"], "order_id": ["O1"], "v": [1.5]}).to_parquet(p)
    cols, rows, info = _read(p)
    assert cols == ["account_id", "order_id", "v", ROW_COLUMN] and rows == [("A1", "O1", 1.5, 1)]
    assert info["header_row"] == 0


def test_corrupt_parquet_is_a_clear_error(tmp_path):
    p = tmp_path / "f.parquet"
    p.write_bytes(b"PAR1 not really")
    with pytest.raises(DataValidationError, match="The transactions file could not be read"):
        _read(p)


@pytest.mark.parametrize("raw,expected", [
    ("account_id,name\nA1,Müller\n".encode("utf-16-le"), "utf-16"),
    ("account_id,name\nA1,Müller\n".encode("utf-16-be"), "utf-16-be"),
])
def test_utf16_without_byte_order_mark_is_sniffed(tmp_path, raw, expected):
    p = tmp_path / "f.csv"
    p.write_bytes(raw)
    assert detect_encoding(p) == expected


def test_utf16_big_endian_refused_with_the_fix(tmp_path):
    p = tmp_path / "f.csv"
    p.write_bytes("account_id,order_id\nA1,O1\n".encode("utf-16-be"))
    with pytest.raises(DataValidationError, match=r"f\.csv is UTF-16 big-endian text[\s\S]*save it again as 'CSV UTF-8'"):
        _read(p)


def test_a_folder_given_as_the_file(tmp_path):
    with pytest.raises(DataValidationError, match=r"The transactions path is a folder, not a file[\s\S]*"
                                                  r"set data\.transactions\.path to the file inside it"):
        _read(tmp_path)


def test_permission_denied_is_said_so(tmp_path, monkeypatch):
    import builtins

    from kam_analysis.data import readers

    p = tmp_path / "f.csv"
    p.write_text("account_id,order_id\nA1,O1\n")

    def locked(file, *args, **kwargs):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(readers, "open", locked, raising=False)
    with pytest.raises(DataValidationError, match=r"The transactions file cannot be opened: permission denied[\s\S]*"
                                                  r"give your user read access") as exc:
        _read(p)
    assert "delimiter" not in str(exc.value)


@pytest.mark.parametrize("magic,what", [(b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
                                        (b"PK\x03\x04\x14\x00", "a zip archive or an Excel \\(.xlsx\\) workbook"),
                                        (b"\x01\x02\x00\x03\x00garbage\x00\x00", "a binary file")])
def test_binary_file_named_csv(tmp_path, magic, what):
    p = tmp_path / "f.csv"
    p.write_bytes(magic + bytes(range(256)))
    with pytest.raises(DataValidationError, match=f"The transactions file is not a text file: it looks like {what}"):
        _read(p)


def test_a_stray_nul_byte_does_not_make_a_text_file_binary(tmp_path):
    p = tmp_path / "f.csv"
    p.write_bytes(b"account_id,order_id\nA1,O1\x00\nA2,O2\n")
    cols, rows, _ = _read(p)
    assert cols == ["account_id", "order_id"] and len(rows) == 2
