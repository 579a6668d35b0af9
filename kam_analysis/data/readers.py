"""Read client files into DuckDB as raw text columns.

Every client file becomes a DuckDB view whose columns are the client's own names and
whose values are text (``VARCHAR``) or the file's native types (Parquet). Parsing and
checking happen in :mod:`kam_analysis.data.validate`, in SQL, so a 10-million-row
extract never has to fit in pandas.

Rules (docs/data_rules.md documents them for consultants):

* CSV: encoding detected (UTF-8 with or without BOM, UTF-16 with BOM, else Latin-1)
  unless given; the header is the first line (within the first 50) that names every
  mapped required column, else the first line, unless ``header_row`` is given; the
  delimiter is the one that splits that line into those names, else DuckDB's sniffer
  decides, unless ``delimiter`` is given. A file of only blank space is empty.
* Excel (.xlsx/.xlsm): first sheet unless ``sheet`` is given; the header row is the
  first row containing all mapped required columns unless ``header_row`` is given; a
  merged cell's value fills every cell it covers. Old .xls needs ``xlrd``.
* Parquet: read as is.
"""
from __future__ import annotations

import codecs
import csv
from pathlib import Path

import duckdb

from ..config import FileSpec
from ..exceptions import DataValidationError, Problem

__all__ = ["read_raw", "detect_encoding", "sql_ident", "sql_str", "ROW_COLUMN", "connect_duckdb"]

#: DuckDB memory cap for transaction-level work; beyond it DuckDB spills to disk.
MEMORY_LIMIT = "4GB"

#: Column the Excel and Parquet readers add: each record's row number in its sheet or file
#: (for messages; CSV rows are numbered while staging).
ROW_COLUMN = "__kam_sheet_row__"

_EXCEL = {".xlsx", ".xlsm", ".xls"}
_CSV = {".csv", ".txt", ".tsv"}
_PARQUET = {".parquet", ".pq"}


def connect_duckdb(tmp_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for client extracts of any size.

    Memory is capped at :data:`MEMORY_LIMIT` and larger intermediate results spill to
    ``tmp_dir`` (default: a per-process folder in the system temp dir), so a
    10-million-row file validates on a laptop; insertion order is not preserved (less
    memory) except where a step asks for it; no progress bar on the terminal.
    """
    import os
    import tempfile

    con = duckdb.connect()
    tmp = Path(tmp_dir) if tmp_dir else Path(tempfile.gettempdir()) / f"kam-duckdb-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {sql_str(str(tmp))}")
    con.execute(f"SET memory_limit = {sql_str(MEMORY_LIMIT)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


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


def _blank_text_file(path: Path) -> bool:
    """True for a small file holding nothing but a byte-order mark and white space."""
    if path.stat().st_size > 4096:
        return False
    raw = path.read_bytes()
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raw = raw.removeprefix(bom)
    return not raw.replace(b"\x00", b"").strip()


def read_raw(con: duckdb.DuckDBPyConnection, spec: FileSpec, *, table: str, view: str,
             required_client_columns: list[str] | None = None, info: dict | None = None) -> list[str]:
    """Create DuckDB view ``view`` over the client file; return its column names.

    Parameters
    ----------
    info : dict, optional
        Filled with what the reader found: ``header_row`` (1-based row of the column
        names in the file or sheet), ``delimiter`` and ``encoding`` for CSV.

    Raises
    ------
    DataValidationError
        The file is missing, empty, or cannot be parsed as its type.
    """
    info = {} if info is None else info
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
            # the file's own row numbers (1-based, for messages), read in parallel
            con.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * EXCLUDE (file_row_number), "
                        f"file_row_number + 1 AS {sql_ident(ROW_COLUMN)} "
                        f"FROM read_parquet({sql_str(str(path))}, file_row_number = true)")
            info["header_row"] = 0  # Parquet has no header line: row 1 is the first record
        elif suffix in _EXCEL:
            df = _read_excel(spec, table, required_client_columns or [], info)
            con.register(f"{view}_df", df)
            con.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * FROM {sql_ident(view + '_df')}")
        elif suffix in _CSV or suffix == "":
            if _blank_text_file(path):
                raise _problem(spec, table, f"The {table} file has no header and no rows (only blank space)",
                               rule="empty_table", fix="re-export the file from the client system")
            _read_csv(con, spec, view, required_client_columns or [], info)
        else:
            raise _problem(spec, table, f"File type '{suffix}' is not supported", rule="unsupported_file",
                           fix="give the client file as CSV, Excel (.xlsx) or Parquet")
        cols = [d[0] for d in con.execute(f"SELECT * FROM {sql_ident(view)} LIMIT 0").description]
    except DataValidationError:
        raise
    except (duckdb.Error, ValueError, OSError, UnicodeError, KeyError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise _problem(spec, table, f"The {table} file could not be read: {first}",
                       fix="check the file opens in Excel; for CSV set data."
                           f"{table}.delimiter / encoding in the parameter file") from None
    return cols


_DELIMITERS = (",", ";", "\t", "|")
_SMALL_CSV = 50_000_000  # bytes; larger CSVs are read in parallel (rows must be complete)


def _find_csv_header(path: Path, encoding: str, delimiter: str | None, required: list[str],
                     max_lines: int = 50) -> tuple[int, str] | None:
    """(0-based line, delimiter) of the first line naming every required column, or None."""
    if not required:
        return None
    wanted = {r.strip().lower() for r in required}
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    text = head.decode(encoding if encoding != "utf-8" else "utf-8-sig", errors="replace")
    lines = text.splitlines()[:max_lines]
    for i, line in enumerate(lines):
        for d in ([delimiter] if delimiter else _DELIMITERS):
            if d not in line and len(wanted) > 1:
                continue
            fields = next(csv.reader([line], delimiter=d), [])
            if wanted <= {f.strip().strip("\ufeff").lower() for f in fields}:
                return i, d
    return None


def _read_csv(con: duckdb.DuckDBPyConnection, spec: FileSpec, view: str, required: list[str], info: dict) -> None:
    path = Path(spec.path)
    enc = (spec.encoding or detect_encoding(path)).lower().replace("_", "-")
    if enc in ("utf-8-sig", "utf8", "utf8-sig"):
        enc = "utf-8"
    if enc in ("iso-8859-1", "latin1", "cp1252", "windows-1252", "iso-8859-15", "latin-9"):
        enc = "latin-1"
    if enc not in ("utf-8", "latin-1", "utf-16"):
        raise ValueError(f"encoding {spec.encoding!r} is not supported; use utf-8, latin-1 or utf-16")
    delimiter = spec.delimiter
    skip = int(spec.header_row) - 1 if spec.header_row else 0
    if not spec.header_row:
        found = _find_csv_header(path, enc, delimiter, required)
        if found is not None:
            skip, delimiter = found
    small = path.stat().st_size < _SMALL_CSV
    opts = [f"encoding={sql_str(enc)}", "all_varchar=true", "header=true", "strict_mode=false"]
    if small:
        # Short rows are padded with empty values; DuckDB can only do that (with quoted
        # newlines inside fields) on one thread, which is fine below _SMALL_CSV bytes.
        opts += ["sample_size=-1", "null_padding=true", "parallel=false", "quote='\"'", "escape='\"'"]
    else:
        opts += ["sample_size=200000"]
    if delimiter:
        opts.append(f"delim={sql_str(delimiter)}")
    if skip:
        opts.append(f"skip={skip}")
    info.update(header_row=skip + 1, delimiter=delimiter, encoding=enc)
    con.execute(
        f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * FROM read_csv({sql_str(str(path))}, {', '.join(opts)})"
    )


def _excel_grid(spec: FileSpec, table: str):
    """The sheet as a DataFrame of raw cell values; merged cells filled with their value."""
    import pandas as pd

    sheet = spec.sheet if spec.sheet is not None else 0
    path = Path(spec.path)
    if path.suffix.lower() == ".xls":
        try:
            return pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
        except ImportError:
            raise _problem(spec, table, f"The {table} file is an old-style .xls workbook",
                           rule="unsupported_file", fix="open it in Excel and save it as .xlsx (or export CSV)") from None
        except ValueError as exc:  # unknown sheet
            raise _problem(spec, table, f"Sheet {sheet!r} not found in the {table} workbook ({exc})",
                           rule="missing_sheet",
                           fix=f"set data.{table}.sheet to one of the workbook's sheet names") from None
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a broken file
        raise _problem(spec, table, f"The {table} workbook could not be opened: {type(exc).__name__}: {exc}"[:300],
                       fix="check the file opens in Excel; save it again as .xlsx or export CSV") from None
    try:
        if isinstance(sheet, int):
            if not 0 <= sheet < len(wb.worksheets):
                raise KeyError(sheet)
            ws = wb.worksheets[sheet]
        else:
            ws = wb[sheet]
    except KeyError:
        raise _problem(spec, table, f"Sheet {sheet!r} not found in the {table} workbook",
                       rule="missing_sheet", examples=tuple(wb.sheetnames[:8]),
                       fix=f"set data.{table}.sheet to one of: {', '.join(wb.sheetnames)}") from None
    # A merged cell shows one value over several cells; every cell it covers means that value.
    for rng in list(ws.merged_cells.ranges):
        value = ws.cell(rng.min_row, rng.min_col).value
        ws.unmerge_cells(str(rng))
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                ws.cell(r, c).value = value
    rows = list(ws.iter_rows(values_only=True))
    wb.close()
    return pd.DataFrame(rows, dtype=object, index=range(1, len(rows) + 1))


def _read_excel(spec: FileSpec, table: str, required: list[str], info: dict):
    import pandas as pd

    grid = _excel_grid(spec, table)
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
    info["header_row"] = hdr + 1
    header, seen = [], {}
    for j, v in enumerate(grid.iloc[hdr].tolist()):
        name = str(v).strip() if v is not None and str(v) != "nan" and str(v).strip() else f"column_{j + 1}"
        if name in seen:  # a header repeated (e.g. by a merged header cell): keep the first, number the rest
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        header.append(name)
    body = grid.iloc[hdr + 1:].copy()
    body.columns = header
    body = body.dropna(how="all")
    sheet_rows = [int(i) if isinstance(i, (int,)) or str(i).isdigit() else None for i in body.index]
    # Dates and numbers become text in a stable format so one parser handles every source.
    def _to_text(v):
        if v is None or (isinstance(v, float) and v != v):
            return None
        if hasattr(v, "isoformat"):
            return v.isoformat()
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    out = pd.DataFrame({c: pd.array([_to_text(v) for v in body[c].tolist()], dtype=object)
                        for c in body.columns}) if len(body.columns) else pd.DataFrame()
    if grid.index[0] == 1 and len(out.columns):  # openpyxl grid: keep each row's number in the sheet
        out[ROW_COLUMN] = pd.array(sheet_rows, dtype="Int64")
    return out.reset_index(drop=True)
