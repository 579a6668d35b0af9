"""Read client files into DuckDB as raw text columns.

Every client file becomes a DuckDB view whose columns are the client's own names and
whose values are text (``VARCHAR``) or the file's native types (Parquet). Parsing and
checking happen in :mod:`kam_analysis.data.validate`, in SQL, so a 10-million-row
extract never has to fit in pandas.

Rules (documented in the README, "Reading client files"):

* CSV: encoding detected (UTF-8 with or without BOM, else Latin-1) unless given;
  delimiter detected by DuckDB's sniffer unless given; header on the first row unless
  ``header_row`` is given.
* Excel (.xlsx/.xlsm/.xls): first sheet unless ``sheet`` is given; the header row is the
  first row containing all mapped required columns unless ``header_row`` is given.
* Parquet: read as is.
"""
from __future__ import annotations

import codecs
from pathlib import Path

import duckdb

from ..config import FileSpec
from ..exceptions import DataValidationError, Problem

__all__ = ["read_raw", "detect_encoding", "sql_ident", "sql_str"]

_EXCEL = {".xlsx", ".xlsm", ".xls"}
_CSV = {".csv", ".txt", ".tsv"}
_PARQUET = {".parquet", ".pq"}


def sql_ident(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_str(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + str(value).replace("'", "''") + "'"


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """``"utf-8"`` when the sample decodes as UTF-8 (BOM or not), else ``"latin-1"``.

    UTF-16 files (with a BOM) are reported as ``"utf-16"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(sample_bytes)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if exc.start >= len(head) - 4:
            return "utf-8"
        return "latin-1"


def _problem(spec: FileSpec, table: str, message: str, fix: str, **kw) -> DataValidationError:
    return DataValidationError([Problem(rule=kw.pop("rule", "unreadable_file"), message=message, fix=fix,
                                        file=str(spec.path), **kw)])


def read_raw(con: duckdb.DuckDBPyConnection, spec: FileSpec, *, table: str, view: str,
             required_client_columns: list[str] | None = None) -> list[str]:
    """Create DuckDB view ``view`` over the client file; return its column names.

    Raises
    ------
    DataValidationError
        The file is missing, empty, or cannot be parsed as its type.
    """
    path = Path(spec.path)
    if not path.is_file():
        raise _problem(spec, table, f"The {table} file does not exist", rule="missing_file",
                       fix=f"check data.{table}.path in the parameter file (it is resolved relative to the params file)")
    if path.stat().st_size == 0:
        raise _problem(spec, table, f"The {table} file is empty (0 bytes)", rule="empty_table",
                       fix="re-export the file from the client system; it has no header and no rows")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            con.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * FROM read_parquet({sql_str(str(path))})")
        elif suffix in _EXCEL:
            df = _read_excel(spec, table, required_client_columns or [])
            con.register(f"{view}_df", df)
            con.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * FROM {sql_ident(view + '_df')}")
        elif suffix in _CSV or suffix == "":
            _read_csv(con, spec, view)
        else:
            raise _problem(spec, table, f"File type '{suffix}' is not supported", rule="unsupported_file",
                           fix="give the client file as CSV, Excel (.xlsx) or Parquet")
        cols = [d[0] for d in con.execute(f"SELECT * FROM {sql_ident(view)} LIMIT 0").description]
    except DataValidationError:
        raise
    except (duckdb.Error, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise _problem(spec, table, f"The {table} file could not be read: {first}",
                       fix="check the file opens in Excel; for CSV set data."
                           f"{table}.delimiter / encoding in the parameter file") from None
    return cols


def _read_csv(con: duckdb.DuckDBPyConnection, spec: FileSpec, view: str) -> None:
    path = Path(spec.path)
    enc = (spec.encoding or detect_encoding(path)).lower().replace("_", "-")
    if enc in ("utf-8-sig", "utf8", "utf8-sig"):
        enc = "utf-8"
    if enc in ("iso-8859-1", "latin1", "cp1252", "windows-1252"):
        enc = "latin-1"
    opts = [f"encoding={sql_str(enc)}", "all_varchar=true", "header=true", "null_padding=true",
            "strict_mode=false", "sample_size=-1" if path.stat().st_size < 50_000_000 else "sample_size=200000"]
    if spec.delimiter:
        opts.append(f"delim={sql_str(spec.delimiter)}")
    if spec.header_row and spec.header_row > 1:
        opts.append(f"skip={int(spec.header_row) - 1}")
    con.execute(
        f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * FROM read_csv({sql_str(str(path))}, {', '.join(opts)})"
    )


def _read_excel(spec: FileSpec, table: str, required: list[str]):
    import pandas as pd

    sheet = spec.sheet if spec.sheet is not None else 0
    try:
        grid = pd.read_excel(spec.path, sheet_name=sheet, header=None, dtype=object)
    except ValueError as exc:  # unknown sheet
        raise _problem(spec, table, f"Sheet {sheet!r} not found in the {table} workbook ({exc})",
                       rule="missing_sheet", fix=f"set data.{table}.sheet to one of the workbook's sheet names") from None
    if spec.header_row:
        hdr = spec.header_row - 1
    else:
        hdr = 0
        wanted = {r.strip().lower() for r in required}
        for i in range(min(len(grid), 50)):
            values = {str(v).strip().lower() for v in grid.iloc[i].tolist() if v is not None and str(v) != "nan"}
            if wanted and wanted <= values:
                hdr = i
                break
    if hdr >= len(grid):
        raise _problem(spec, table, f"The {table} sheet has no rows", rule="empty_table",
                       fix="check the sheet name and that the table is not empty")
    header = [str(v).strip() if v is not None and str(v) != "nan" else f"column_{j + 1}"
              for j, v in enumerate(grid.iloc[hdr].tolist())]
    body = grid.iloc[hdr + 1:].copy()
    body.columns = header
    body = body.dropna(how="all")
    # Dates and numbers become text in a stable format so one parser handles every source.
    def _to_text(v):
        if v is None or (isinstance(v, float) and v != v):
            return None
        if hasattr(v, "isoformat"):
            return v.isoformat()
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    for c in body.columns:
        body[c] = body[c].map(_to_text).astype(object)
    return body.reset_index(drop=True)
