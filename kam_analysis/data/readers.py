"""Read client files into DuckDB as raw text columns.

Every client file becomes a DuckDB view whose columns are the client's own names and
whose values are text (``VARCHAR``) or the file's native types (Parquet). Parsing and
checking happen in :mod:`kam_analysis.data.validate`, in SQL, so a 10-million-row
extract never has to fit in pandas.

Rules (docs/data_rules.md documents them for consultants):

* CSV: encoding detected (UTF-8 with or without BOM, UTF-16 with or without BOM, else
  Latin-1) unless given; a binary file (image, PDF, zip) is refused as not text; the header is the first line (within the first 50) that names every
  mapped required column, else the first line, unless ``header_row`` is given; the
  delimiter is the one that splits that line into those names, else DuckDB's sniffer
  decides, unless ``delimiter`` is given. A file of only blank space is empty.
* Excel (.xlsx/.xlsm): first sheet unless ``sheet`` is given (when only another sheet
  holds the columns, the error names it); formulas never calculated are refused; the header row is the
  first row containing all mapped required columns unless ``header_row`` is given; a
  merged cell's value fills every cell it covers. Old .xls needs ``xlrd``.
* Parquet: read as is; the time zone of each zoned timestamp column is reported.
"""
from __future__ import annotations

import codecs
import csv
from pathlib import Path

import duckdb

from ..config import FileSpec
from ..exceptions import DataValidationError, Problem, SettingError

__all__ = ["read_raw", "detect_encoding", "csv_record_lines", "header_key", "sql_ident", "sql_str", "ROW_COLUMN",
           "connect_duckdb", "DEFAULT_MEMORY_LIMIT", "set_memory_limit", "return_freed_memory"]

#: DuckDB's memory cap for every connection the package opens (validation and preparation in
#: the runner, and each phase kernel's queries) unless ``KAM_DUCKDB_MEMORY_LIMIT`` says
#: otherwise; beyond it DuckDB spills to disk. One cap for both, so the runner's preparation
#: is no longer the largest process of a run (it peaked at 3.7 GiB under a separate 4 GB cap).
DEFAULT_MEMORY_LIMIT = "2GB"


def return_freed_memory() -> None:
    """Hand the memory pandas and Arrow have freed back to the operating system.

    Arrow's allocator (mimalloc in the wheels) keeps freed pages for reuse: after the
    runner's preparation of the 50-million-order client it held 0.7 GiB it would never use
    again (the process fell from 0.96 to 0.25 GiB with this call) while the phase kernels,
    which need the memory, ran beside it. glibc's ``malloc_trim`` does the same for
    pandas' and NumPy's heap; it is skipped where there is no glibc.
    """
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def set_memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    """Apply the memory cap (``KAM_DUCKDB_MEMORY_LIMIT``, default :data:`DEFAULT_MEMORY_LIMIT`); return it.

    Raises :class:`~kam_analysis.exceptions.SettingError` (a ``ValueError``) naming the variable and the expected form when DuckDB does not
    understand the value (the connection is closed).
    """
    import os

    limit = os.environ.get("KAM_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT).strip() or DEFAULT_MEMORY_LIMIT
    try:
        con.execute(f"SET memory_limit = {sql_str(limit)}")
    except duckdb.Error as exc:  # a malformed value: say which setting and what it should look like
        con.close()
        raise SettingError(f"KAM_DUCKDB_MEMORY_LIMIT={limit!r} is not a memory size DuckDB understands; "
                         "fix: a size such as 2GB or 1500MB") from exc
    return limit

#: Column the Excel and Parquet readers add: each record's row number in its sheet or file
#: (for messages; CSV rows are numbered while staging).
ROW_COLUMN = "__kam_sheet_row__"

_EXCEL = {".xlsx", ".xlsm", ".xls"}
_CSV = {".csv", ".txt", ".tsv"}
_PARQUET = {".parquet", ".pq"}


def connect_duckdb(tmp_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for client extracts of any size.

    Memory is capped (:func:`set_memory_limit`) and larger intermediate results spill to
    ``tmp_dir`` (default: a per-process folder in the system temp dir), so a
    10-million-row file validates on a laptop; insertion order is not preserved (less
    memory) except where a step asks for it; no progress bar on the terminal.

    The spill folder is not created here: DuckDB creates it only when it spills and
    removes it when the connection closes, so a run or ``kam validate`` leaves no empty
    temporary folder behind.
    """
    import os
    import tempfile

    con = duckdb.connect()
    tmp = Path(tmp_dir) if tmp_dir else Path(tempfile.gettempdir()) / f"kam-duckdb-{os.getpid()}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {sql_str(str(tmp))}")
    set_memory_limit(con)
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        # in a Jupyter kernel without ipywidgets DuckDB refuses to change the setting at all
        # (and draws no bar there): the notebooks run in JupyterLab with its defaults
        pass
    # time-zone-aware timestamps are dated by the rule in validate, never by the machine's zone
    con.execute("SET TimeZone = 'UTC'")
    return con


def header_key(name: object) -> str:
    """A column name as matched against the mapping: case and white space ignored."""
    return "".join(str(name).replace("\ufeff", "").split()).lower()


def sql_ident(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_str(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + str(value).replace("'", "''") + "'"


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """The text encoding of a CSV: ``"utf-8"``, ``"utf-16"`` (little-endian) or ``"latin-1"``.

    UTF-8 with or without a byte-order mark is ``"utf-8"``; UTF-16 is recognised by its
    byte-order mark or, without one, by the NUL byte of every second byte that plain
    text in UTF-16 has (``"utf-16"`` little-endian, ``"utf-16-be"`` big-endian); anything
    else that is not valid UTF-8 is ``"latin-1"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(sample_bytes)
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    sniffed = _utf16_without_bom(head)
    if sniffed:
        return sniffed
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if exc.start >= len(head) - 4:
            return "utf-8"
        return "latin-1"


def _utf16_without_bom(head: bytes) -> str | None:
    """``"utf-16"`` / ``"utf-16-be"`` when most odd (even) bytes are NUL and the others are not."""
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if nul_odd > 0.6 and nul_even < 0.1:
        return "utf-16"
    if nul_even > 0.6 and nul_odd < 0.1:
        return "utf-16-be"
    return None


#: Signatures of files that are not text, so a renamed image or workbook is named as such.
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip archive or an Excel (.xlsx) workbook"),
          (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Office document"), (b"PAR1", "a Parquet file"),
          (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"))


def _not_text(path: Path) -> str | None:
    """What a file given as CSV really is when it is not text (None when it is text)."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if _utf16_without_bom(head) or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    # text has almost no control bytes (a stray NUL or bell is removed while reading);
    # a binary file has about one in ten
    controls = sum(head.count(bytes([b])) for b in (*range(0, 9), *range(14, 27), *range(28, 32)))
    if head and controls / len(head) > 0.05:
        return "a binary file"
    return None


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
    if path.is_dir():
        raise _problem(spec, table, f"The {table} path is a folder, not a file", rule="missing_file",
                       fix=f"set data.{table}.path to the file inside it (e.g. {path.name}/orders.csv)")
    if not path.exists():
        raise _problem(spec, table, f"The {table} file does not exist", rule="missing_file",
                       fix=f"check data.{table}.path in the parameter file (it is resolved relative to the params file)")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise _problem(spec, table, f"The {table} file cannot be opened: permission denied", rule="unreadable_file",
                       fix="give your user read access to the file (or copy it into a folder of your own) "
                           "and close it in any program that locks it") from None
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
            info["timezones"] = _parquet_timezones(path)
        elif suffix in _EXCEL:
            df = _read_excel(spec, table, required_client_columns or [], info)
            con.register(f"{view}_df", df)
            con.execute(f"CREATE OR REPLACE VIEW {sql_ident(view)} AS SELECT * FROM {sql_ident(view + '_df')}")
        elif suffix in _CSV or suffix == "":
            what = _not_text(path)
            if what:
                raise _problem(spec, table, f"The {table} file is not a text file: it looks like {what}",
                               rule="unsupported_file",
                               fix=f"give data.{table}.path the client's CSV export (or the workbook with its own "
                                   ".xlsx extension)")
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


def _parquet_timezones(path: Path) -> dict[str, str]:
    """Column -> the time zone a Parquet timestamp column was written in (as the file records it)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency of the Parquet writer
        return {}
    schema = pq.read_schema(path)
    return {f.name: f.type.tz for f in schema if getattr(f.type, "tz", None)}


_DELIMITERS = (",", ";", "\t", "|")
_SMALL_CSV = 50_000_000  # bytes; larger CSVs are read in parallel (rows must be complete)


def _head_lines(path: Path, encoding: str) -> list[str]:
    """The first lines of a text file (its first 64 kB), decoded."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if encoding == "utf-16":
        text = head.removeprefix(codecs.BOM_UTF16_LE).decode("utf-16-le", errors="replace")
    else:
        text = head.decode(encoding if encoding != "utf-8" else "utf-8-sig", errors="replace")
    return text.splitlines()


def _header_names(path: Path, encoding: str, delimiter: str | None, line: int) -> list[str] | None:
    """The names on the header line as written (before any renaming of repeated names)."""
    lines = _head_lines(path, encoding)
    if line >= len(lines):
        return None
    splits = [[f.strip().strip("\ufeff") for f in next(csv.reader([lines[line]], delimiter=d), [])]
              for d in ([delimiter] if delimiter else _DELIMITERS)]
    return max(splits, key=len) if splits else None


def _find_csv_header(path: Path, encoding: str, delimiter: str | None, required: list[str],
                     max_lines: int = 50) -> tuple[int, str, list[str]] | None:
    """(0-based line, delimiter, the line's names) of the first line naming every required column, or None."""
    if not required:
        return None
    wanted = {header_key(r) for r in required}
    for i, line in enumerate(_head_lines(path, encoding)[:max_lines]):
        for d in ([delimiter] if delimiter else _DELIMITERS):
            if d not in line and len(wanted) > 1:
                continue
            fields = [f.strip().strip("\ufeff") for f in next(csv.reader([line], delimiter=d), [])]
            if wanted <= {header_key(f) for f in fields}:
                return i, d, fields
    return None


def _read_csv(con: duckdb.DuckDBPyConnection, spec: FileSpec, view: str, required: list[str], info: dict) -> None:
    path = Path(spec.path)
    enc = (spec.encoding or detect_encoding(path)).lower().replace("_", "-")
    if enc in ("utf-8-sig", "utf8", "utf8-sig"):
        enc = "utf-8"
    if enc in ("iso-8859-1", "latin1", "cp1252", "windows-1252", "iso-8859-15", "latin-9"):
        enc = "latin-1"
    if enc in ("utf-16-le", "utf16", "utf16le"):
        enc = "utf-16"
    if enc in ("utf-16-be", "utf16be"):
        raise _problem(spec, "", f"The file {path.name} is UTF-16 big-endian text, which cannot be read",
                       rule="unreadable_file", fix="save it again as 'CSV UTF-8' (or UTF-16 little-endian)")
    if enc not in ("utf-8", "latin-1", "utf-16"):
        raise ValueError(f"encoding {spec.encoding!r} is not supported; use utf-8, latin-1 or utf-16")
    delimiter = spec.delimiter
    skip = int(spec.header_row) - 1 if spec.header_row else 0
    if not spec.header_row:
        found = _find_csv_header(path, enc, delimiter, required)
        if found is not None:
            skip, delimiter, info["header_names"] = found
    if "header_names" not in info:
        info["header_names"] = _header_names(path, enc, delimiter, skip)
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


def csv_record_lines(path: Path, info: dict, n_records: int) -> list[int] | None:
    """The file line on which each data record of a CSV read by :func:`read_raw` starts.

    ``None`` when every line below the header is one record (the usual case, found by
    counting line breaks), so record *k* is on line ``header_row + k``. Otherwise (blank
    lines, which DuckDB skips, or line breaks inside quoted fields) the file is read once
    more with Python's csv module to number the records' lines.
    """
    enc, header_row = info.get("encoding"), int(info.get("header_row", 1))
    if enc is None:
        return None
    newline = "\n".encode("utf-16-le") if enc == "utf-16" else b"\n"
    n_lines, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            n_lines += chunk.count(newline)
            last = chunk
    if last and not last.endswith(newline):
        n_lines += 1
    if n_lines <= header_row + n_records:
        return None
    py_enc = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16"}[enc]
    if enc == "utf-16":
        with open(path, "rb") as fh:
            py_enc = "utf-16" if fh.read(2) == codecs.BOM_UTF16_LE else "utf-16-le"
    lines: list[int] = []
    with open(path, encoding=py_enc, newline="") as fh:
        for _ in range(header_row):  # lines above the table, and the header
            fh.readline()
        reader = csv.reader(fh, delimiter=info.get("delimiter") or ",", quotechar='"', doublequote=True)
        start = header_row
        for row in reader:
            if row and any(f.strip() for f in row) or len(row) > 1:
                lines.append(start + 1)
            start = header_row + reader.line_num
    return lines if len(lines) == n_records else None


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

    import zipfile

    with open(path, "rb") as fh:
        zipped = fh.read(4) == b"PK\x03\x04"  # a workbook, perhaps damaged: openpyxl says what is wrong
    if not zipped and not zipfile.is_zipfile(path):
        what = _not_text(path)
        raise _problem(spec, table, f"The {table} file is not an Excel workbook: it looks like "
                                    f"{what or 'a text (CSV) file'}", rule="unsupported_file",
                       fix="give the file its real extension (.csv for a text export) or save it from Excel as .xlsx")
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
    title = ws.title
    wb.close()
    grid = pd.DataFrame(rows, dtype=object, index=range(1, len(rows) + 1))
    grid.attrs["uncalculated"] = _uncalculated_formulas(path, title, rows)
    grid.attrs["sheet"] = title
    return grid


def _uncalculated_formulas(path: Path, sheet: str, values: list[tuple]) -> list[tuple[int, str]]:
    """(row, cell) of each formula cell whose result was never calculated and saved.

    A workbook written by a program rather than saved by Excel keeps a formula's text
    but no result, so the cell reads as empty. Only checked when the file holds formulas.
    """
    import zipfile

    import openpyxl
    from openpyxl.utils import get_column_letter

    def has_formula(xml: bytes) -> bool:
        return b"<f>" in xml or b"<f " in xml

    with zipfile.ZipFile(path) as zf:
        if not any(has_formula(zf.read(n))
                   for n in zf.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")):
            return []
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        out = []
        for r, row in enumerate(wb[sheet].iter_rows(values_only=True), start=1):
            for c, v in enumerate(row, start=1):
                if isinstance(v, str) and v.startswith("=") and (
                        r > len(values) or c > len(values[r - 1]) or values[r - 1][c - 1] is None):
                    out.append((r, f"{get_column_letter(c)}{r}"))
        return out
    finally:
        wb.close()


def _sheets_with_columns(path: Path, wanted: set[str], max_rows: int = 50) -> list[str]:
    """Names of the workbook's sheets with a row (within the first 50) naming every wanted column."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        found = []
        for ws in wb.worksheets:
            for row in ws.iter_rows(max_row=max_rows, values_only=True):
                if wanted <= {header_key(v) for v in row if v is not None}:
                    found.append(ws.title)
                    break
        return found
    finally:
        wb.close()


def _read_excel(spec: FileSpec, table: str, required: list[str], info: dict):
    import pandas as pd

    grid = _excel_grid(spec, table)
    wanted = {header_key(r) for r in required}
    if spec.header_row:
        hdr = spec.header_row - 1
    else:
        hdr = None
        for i in range(min(len(grid), 50)):
            values = {header_key(v) for v in grid.iloc[i].tolist() if v is not None and str(v) != "nan"}
            if wanted and wanted <= values:
                hdr = i
                break
        if hdr is None and wanted and spec.sheet is None and Path(spec.path).suffix.lower() != ".xls":
            others = [n for n in _sheets_with_columns(Path(spec.path), wanted) if n != grid.attrs.get("sheet")]
            if others:
                raise _problem(spec, table, f"The {table} columns are not on the workbook's first sheet "
                                            f"'{grid.attrs.get('sheet')}'; sheet{'s' if len(others) > 1 else ''} "
                                            f"{', '.join(repr(o) for o in others)} "
                                            f"{'hold' if len(others) > 1 else 'holds'} them",
                               rule="missing_sheet", examples=tuple(others[:8]),
                               fix=f"set data.{table}.sheet: \"{others[0]}\" in the parameter file")
        hdr = hdr or 0
    if hdr >= len(grid):
        raise _problem(spec, table, f"The {table} sheet has no rows", rule="empty_table",
                       fix="check the sheet name and that the table is not empty")
    info["header_row"] = hdr + 1
    uncalculated = [cell for r, cell in grid.attrs.get("uncalculated", []) if r > hdr + 1]
    if uncalculated:
        n = len(uncalculated)
        raise _problem(spec, table, f"{n:,} formula cell{'s' if n != 1 else ''} in the {table} sheet "
                                    f"'{grid.attrs.get('sheet')}' {'have' if n != 1 else 'has'} no calculated value "
                                    "(the workbook was written by a program and never calculated)",
                       rule="uncalculated_formulas", count=n, examples=tuple(uncalculated[:5]),
                       fix="open the workbook in Excel (or LibreOffice), let it calculate, save it, and run again; "
                           "or export the sheet as CSV")
    info["header_names"] = [str(v).strip() for v in grid.iloc[hdr].tolist()
                            if v is not None and str(v) != "nan" and str(v).strip()]
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
