"""The safe cell writer and house style shared by every Excel deliverable.

Rules every workbook follows:

* text from client data is written as a string cell (``data_type = "s"``), never as a
  formula, whatever it starts with (``= + - @``); control characters are stripped;
* NaN/inf become empty cells, never the text "nan";
* tables are real Excel tables (filters, banded rows) with frozen headers, number formats
  per column and widths that fit their content;
* workbook metadata (created/modified, creator) comes from the run, so two runs on the
  same inputs produce the same cell content.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from copy import copy
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from ..present.formats import excel_number_format
from ..present.theme import Theme, active_theme
from ..safety import clean_text
from . import _xlsx_stream
from ._xlsx_stream import EXCEL_MAX_ROWS, clear_streamed_range, defer_rows, deferred, stream_sheet, stored_rows

__all__ = [
    "FMT", "THIN", "rag_fill", "write_cell", "write_frame", "autofit_columns", "style_header_row",
    "set_workbook_properties", "save_workbook", "table_name", "title_block", "EXCEL_MAX_ROWS", "stored_rows",
    "write_values", "POINTS_FMT", "RELATIVE_FMT", "note_cell", "widen_to_fit",
]


FMT = {
    "money": '#,##0;[Red]-#,##0',
    "money2": '#,##0.00;[Red]-#,##0.00',
    "int": "#,##0",
    "pct": excel_number_format("share", compact=False),  # a share as fmt_share writes it: 69.4%
    "dec1": "0.0",
    "dec2": "0.00",
    "dec3": "0.000",
    "date": "yyyy-mm-dd",
    "text": "@",
}
#: the thin cell border of both workbooks, in the theme's grid colour (the same in every client theme)
THIN = Side(style="thin", color=Theme().grid)


def rag_fill(status: str) -> PatternFill:
    """The light cell fill of a RAG status in the active theme."""
    return PatternFill("solid", fgColor=active_theme().rag_fill(status))


_MAX_CELL = 32_767  # Excel's limit on characters in a cell


def write_cell(ws: Worksheet, row: int, col: int, value: Any, *, number_format: str | None = None) -> Cell:
    """Write one value safely and return the cell.

    Strings are always stored as text (never interpreted as a formula); NaN, NaT, NA, None
    and infinities give an empty cell; numpy scalars become Python numbers; timestamps
    become naive datetimes.
    """
    cell = ws.cell(row=row, column=col)
    if value is None or value is pd.NaT or value is pd.NA:
        cell.value = None
    elif isinstance(value, (float, np.floating)):
        cell.value = float(value) if math.isfinite(float(value)) else None
    elif isinstance(value, (bool, np.bool_)):
        cell.value = bool(value)
    elif isinstance(value, (int, np.integer)):
        cell.value = int(value)
    elif isinstance(value, pd.Timestamp):
        cell.value = value.to_pydatetime().replace(tzinfo=None)
    elif isinstance(value, (dt.datetime, dt.date)):
        cell.value = value
    else:
        text = clean_text(str(value), max_len=_MAX_CELL)
        cell.value = text
        cell.data_type = "s"  # openpyxl would otherwise treat a leading '=' as a formula
    if number_format:
        cell.number_format = number_format
    return cell


def table_name(name: str) -> str:
    """A valid, unique-looking Excel table name from any text."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "T_" + s
    return s[:250]


def style_header_row(ws: Worksheet, row: int, first_col: int, last_col: int) -> None:
    for c in range(first_col, last_col + 1):
        cell = ws.cell(row=row, column=c)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=active_theme().primary)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        cell.border = Border(bottom=THIN)


def write_frame(ws: Worksheet, df: pd.DataFrame, *, start_row: int = 1, start_col: int = 1,
                formats: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                table: str | None = None, style: str = "TableStyleMedium2", freeze: bool = True,
                stream: bool = False) -> tuple[int, int]:
    """Write ``df`` with a header row; optionally as an Excel table. Returns (last_row, last_col).

    ``formats`` maps column -> a key of :data:`FMT` or an Excel number format;
    ``headers`` maps column -> display header (client-readable names).

    With ``stream`` (the sheets of every account), only the first
    :data:`~kam_analysis.deliverables._xlsx_stream.MATERIALISED_ROWS` data rows become
    openpyxl cells; the rest are streamed into the file when it is saved, with the styles of
    the last of those rows (:mod:`kam_analysis.deliverables._xlsx_stream`). Style such a
    table's rows over :func:`stored_rows` after writing it, never over every row; a table
    whose rows get different styles one by one is written without ``stream``.
    """
    formats = formats or {}
    headers = headers or {}
    cols = list(df.columns)
    for j, c in enumerate(cols):
        write_cell(ws, start_row, start_col + j, headers.get(c, str(c)))
    style_header_row(ws, start_row, start_col, start_col + max(len(cols) - 1, 0))
    values = df.to_numpy(dtype=object)
    fmts = [FMT.get(formats.get(c, ""), formats.get(c)) for c in cols]
    # Setting number_format looks the style up per cell; on big sheets copy the style
    # array of the column's first formatted cell instead (same result, several times faster).
    templates: list = [None] * len(cols)
    held = min(values.shape[0], _xlsx_stream.MATERIALISED_ROWS) if stream else values.shape[0]
    for i in range(held):
        for j in range(values.shape[1]):
            if templates[j] is None:
                cell = write_cell(ws, start_row + 1 + i, start_col + j, values[i, j], number_format=fmts[j])
                if fmts[j]:
                    templates[j] = cell._style
            else:
                cell = write_cell(ws, start_row + 1 + i, start_col + j, values[i, j])
                cell._style = copy(templates[j])
    if held < values.shape[0]:
        defer_rows(ws, df.iloc[held:], first_row=start_row + 1 + held, start_col=start_col,
                   template_row=start_row + held)
    last_row = start_row + max(len(df), 1)
    last_col = start_col + len(cols) - 1
    if table and len(cols):
        if len(df) == 0:  # an Excel table needs at least one data row
            write_cell(ws, start_row + 1, start_col, "(none)")
        ref = f"{get_column_letter(start_col)}{start_row}:{get_column_letter(last_col)}{last_row}"
        t = Table(displayName=table_name(table), ref=ref)
        t.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
        # the column names from the header cells, as openpyxl would set them on save, but
        # without its ws[ref], which creates every cell of the table (48 s at 200,000 rows)
        t._initialise_columns()
        for j, col in enumerate(t.tableColumns):
            col.name = str(ws.cell(start_row, start_col + j).value)
        ws.add_table(t)
    if freeze:
        ws.freeze_panes = ws.cell(row=start_row + 1, column=start_col)
    return last_row, last_col


def write_values(ws: Worksheet, frame: pd.DataFrame, *, start_row: int, start_col: int = 1,
                 number_format: str | None = None) -> None:
    """Write a frame's values (no header, no table); empty values leave no cell.

    As in :func:`write_frame`, rows beyond the first
    :data:`~kam_analysis.deliverables._xlsx_stream.MATERIALISED_ROWS` are streamed when the
    workbook is saved, with the number format of the last row written here.
    """
    values = frame.to_numpy(dtype=object)
    held = min(len(values), _xlsx_stream.MATERIALISED_ROWS)
    for i in range(held):
        for j in range(values.shape[1]):
            v = values[i, j]
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                continue
            write_cell(ws, start_row + i, start_col + j, v, number_format=number_format)
    if held < len(values):
        defer_rows(ws, frame.iloc[held:], first_row=start_row + held, start_col=start_col,
                   template_row=start_row + held - 1, empty_cells=False)


def autofit_columns(ws: Worksheet, *, min_width: float = 8, max_width: float = 60,
                    skip_rows: Iterable[int] = (), sample_rows: int = 2000) -> None:
    """Set each column's width to fit its longest displayed value (within limits).

    Widths are measured on the first ``sample_rows`` rows: enough for every sheet of a
    normal engagement, and it keeps a 200,000-account sheet from costing a minute.
    """
    skip = set(skip_rows)
    widths: dict[int, float] = {}
    for row in ws.iter_rows(max_row=min(ws.max_row, sample_rows)):
        for cell in row:
            if cell.value is None or cell.row in skip:
                continue
            widths[cell.column] = max(widths.get(cell.column, 0), _needed_width(cell))
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = max(min_width, min(max_width, w))


def _needed_width(cell: Cell) -> float:
    """The column width ``cell``'s displayed value needs (roughly, in Excel's character units)."""
    v = cell.value
    fmt = cell.number_format or ""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        text = f"{v:,.0f}" if "0.0" not in fmt else f"{v:,.2f}"
        if "%" in fmt:
            text = f"{v:.1%}"
        text += "".join(re.findall(r'"([^"]*)"', fmt.split(";")[0]))  # a currency symbol, a unit
    elif isinstance(v, (dt.datetime, dt.date)):
        text = "2024-12-31"
    else:
        text = str(v)
    longest = max((len(line) for line in text.split("\n")), default=0)
    bold = cell.font is not None and cell.font.b
    return longest * (1.15 if bold else 1.05) + 2


def widen_to_fit(ws: Worksheet, columns: Iterable[int], rows: Iterable[int], *, max_width: float = 60) -> None:
    """Widen (never narrow) ``columns`` so that every value in ``rows`` shows: a full amount
    of a large client (``€2,609,270,083``) otherwise prints as ``###`` in a column sized
    for the layout."""
    rows = list(rows)
    for col in columns:
        need = max((_needed_width(ws.cell(row=r, column=col)) for r in rows
                    if ws.cell(row=r, column=col).value is not None), default=0)
        dim = ws.column_dimensions[get_column_letter(col)]
        if need > (dim.width or 8.43):
            dim.width = min(max_width, need)


#: Excel number formats of a change: in points (shares x100 and scores), and relative
POINTS_FMT = '+0.0" pts";-0.0" pts";0.0" pts"'
RELATIVE_FMT = "+0.0%;-0.0%;0.0%"


def note_cell(ws: Worksheet, row: int, col: int, text: str) -> Cell:
    """A note in house style (small, italic, muted) at ``(row, col)``."""
    c = write_cell(ws, row, col, text)
    c.font = Font(italic=True, size=9, color=active_theme().muted)
    return c


def title_block(ws: Worksheet, title: str, subtitle: str = "", *, row: int = 1, col: int = 1) -> int:
    """A sheet title (and subtitle) in house style; returns the next free row."""
    c = write_cell(ws, row, col, title)
    c.font = Font(bold=True, size=16, color=active_theme().primary)
    if subtitle:
        s = write_cell(ws, row + 1, col, subtitle)
        s.font = Font(italic=True, size=10, color=active_theme().muted)
        return row + 3
    return row + 2


def set_workbook_properties(wb, *, title: str, client: str, when: dt.datetime | dt.date, creator: str) -> None:
    """Workbook metadata from the run (not the wall clock), for reproducible files."""
    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time(0, 0))
    wb.properties.title = clean_text(title, max_len=250)
    wb.properties.subject = clean_text(client, max_len=250)
    wb.properties.creator = clean_text(creator, max_len=250)
    wb.properties.lastModifiedBy = clean_text(creator, max_len=250)
    wb.properties.created = when
    wb.properties.modified = when


def explicit_fonts(wb, name: str | None = None) -> None:
    """Give every styled cell, and the workbook's default style, an explicit font name (the theme's
    body font, Calibri by default: LibreOffice substitutes the metric-compatible Carlito), so
    no text falls back to a viewer's default serif. Chart and table styles keep their own."""
    from copy import copy

    name = name or active_theme().body_font
    for style in wb._fonts:  # the workbook's font table, default font first
        if style.name is None:
            style.name = name
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.has_style and c.font is not None and c.font.name != name:
                    f = copy(c.font)
                    f.name = name
                    c.font = f


def save_workbook(wb, path, *, when: dt.datetime | dt.date) -> None:
    """Save ``wb`` atomically with every timestamp pinned to ``when`` (the run's date).

    Every cell gets an explicit font first (:func:`explicit_fonts`).

    openpyxl stamps ``dcterms:modified`` with the wall clock at save time and zip
    entries carry the current time; both are replaced so that the same run inputs give
    the same file contents.
    """
    import io
    import os
    import tempfile
    import zipfile
    from pathlib import Path

    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        when = dt.datetime.combine(when, dt.time(0, 0))
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    explicit_fonts(wb)
    for ws in wb.worksheets:
        clear_streamed_range(ws)
    buf = io.BytesIO()
    wb.save(buf)
    # sheets with streamed rows (after wb.save, ws.path names each sheet's part)
    streamed = {ws.path.lstrip("/"): ws for ws in wb.worksheets if deferred(ws)}
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
                zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                  rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
                entry = zipfile.ZipInfo(info.filename,
                                        date_time=(max(when.year, 1980), when.month, when.day, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = info.external_attr
                if info.filename in streamed:
                    ws = streamed[info.filename]
                    cells = sum(b["values"].size for b in deferred(ws))
                    # default deflate: level 1 would save ~2 s of CPU at 200,000 accounts for a 20% bigger file
                    with dst.open(entry, "w", force_zip64=cells > 20_000_000) as part:
                        stream_sheet(ws, data, part)
                else:
                    dst.writestr(entry, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
