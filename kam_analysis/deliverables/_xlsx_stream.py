"""Streamed rows for the big sheets of a workbook (200,000 accounts and more).

openpyxl keeps every cell as a Python object with its own style and writes them one by
one: 200,000 accounts x 29 columns cost about 80 s and 2.5 GiB. A table's data rows
beyond the first :data:`MATERIALISED_ROWS` are therefore not given to openpyxl at all:
:func:`defer_rows` records them on the worksheet, and when the workbook is saved
(:func:`kam_analysis.deliverables._xlsx.save_workbook`) :func:`stream_sheet` writes them as
XML straight into the sheet's ``<sheetData>``, column by column, each cell with the style
(number format, alignment, font) of the same column in the last row openpyxl wrote. The
sheet's table, filters, conditional formats, data validation, frozen panes, column widths
and print setup are openpyxl's as before, over the full range; only the cell XML of the
tail is written here.

Every value is written as :func:`~kam_analysis.deliverables._xlsx.write_cell` writes it:
text always as text (an inline string, never a formula), control characters stripped, NaN
and infinities as empty cells, numbers as numbers, booleans as booleans, dates as Excel
serial dates.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import IO, Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from ..safety import clean_text

__all__ = ["EXCEL_MAX_ROWS", "MATERIALISED_ROWS", "clear_streamed_range", "defer_rows", "deferred", "stream_sheet",
           "stored_rows"]

#: Excel's last row: a sheet cannot hold more
EXCEL_MAX_ROWS = 1_048_576
#: data rows of a table written through openpyxl (the rest are streamed); column widths are
#: measured on these rows, and styles set on them are the ones the streamed rows repeat
MATERIALISED_ROWS = 2_000
_MAX_CELL = 32_767  # Excel's limit on characters in a cell
_ATTR = "_kam_deferred_rows"
_ROWS_PER_CHUNK = 4_000


def defer_rows(ws, values: pd.DataFrame, *, first_row: int, start_col: int, template_row: int,
               empty_cells: bool = True) -> None:
    """Record ``values`` (its columns in order, any dtype) to be written from ``first_row`` on at save time.

    Each cell takes the style of the cell in ``template_row`` (the last row openpyxl wrote)
    and the same column. No openpyxl cell may lie in the rows it takes (cells below are fine:
    the block is written before them). An empty value gives an
    empty cell in that style (as write_frame writes one), or no cell without ``empty_cells``.
    """
    if first_row + len(values) - 1 > EXCEL_MAX_ROWS:
        raise ValueError(f"sheet '{ws.title}' would end at row {first_row + len(values) - 1:,}, beyond Excel's "
                         f"{EXCEL_MAX_ROWS:,} rows; the caller must keep the top rows and say where the rest is")
    if not hasattr(ws, _ATTR):
        setattr(ws, _ATTR, [])
    getattr(ws, _ATTR).append({"values": values, "first_row": first_row, "start_col": start_col,
                               "template_row": template_row, "empty_cells": empty_cells})


def deferred(ws) -> list[dict]:
    """The blocks of rows :func:`defer_rows` recorded on ``ws`` (empty for a normal sheet)."""
    return getattr(ws, _ATTR, None) or []


def clear_streamed_range(ws) -> None:
    """Drop the empty, unstyled cells openpyxl created where streamed rows go (reading a range,
    as column sizing does, creates them); any other cell there is an error. Call before saving."""
    for b in deferred(ws):
        first, last = b["first_row"], b["first_row"] + len(b["values"]) - 1
        inside = [k for k in ws._cells if first <= k[0] <= last]
        for k in inside:
            cell = ws._cells[k]
            if cell.value is not None or cell.has_style:
                raise ValueError(f"sheet '{ws.title}' has cell {cell.coordinate} where its streamed rows "
                                 f"{first:,}-{last:,} go: style the rows through stored_rows()")
            del ws._cells[k]


def stored_rows(ws, first: int, last: int) -> range:
    """The rows from ``first`` to ``last`` that openpyxl holds (styling a streamed row is
    done by styling the template row before it: the streamed rows repeat its styles)."""
    held = min(last, ws.max_row)
    return range(first, held + 1)


# --------------------------------------------------------------------------- cell XML
def _text(v: Any) -> str:
    # a carriage return as a character reference: a raw one would be read back as a line feed
    return escape(clean_text(str(v), max_len=_MAX_CELL), {"\r": "&#13;"})


def _one(ref: str, s: str, v: Any) -> str:
    """One cell of any type, as write_cell would store it ('' for an empty, unstyled cell)."""
    if _missing(v):
        return f'<c r="{ref}"{s}/>' if s else ""
    if isinstance(v, (bool, np.bool_)):
        return f'<c r="{ref}"{s} t="b"><v>{int(bool(v))}</v></c>'
    if isinstance(v, (int, np.integer)):
        return f'<c r="{ref}"{s}><v>{int(v)}</v></c>'
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f'<c r="{ref}"{s}><v>{f!r}</v></c>' if math.isfinite(f) else (f'<c r="{ref}"{s}/>' if s else "")
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime().replace(tzinfo=None)
    if isinstance(v, (dt.datetime, dt.date)):
        return f'<c r="{ref}"{s}><v>{to_excel(v)!r}</v></c>'
    t = _text(v)
    space = ' xml:space="preserve"' if t != t.strip() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{t}</t></is></c>'


def _column(col: pd.Series, letter: str, rows: list[str], style: int, empty_cells: bool) -> list[str]:
    """The cell XML of one column, vectorised for the common number / text / yes-no columns."""
    s = f' s="{style}"' if style else ""
    head = f'<c r="{letter}'
    empty = f'"{s}/>' if s and empty_cells else None
    if col.dtype == bool:  # numpy booleans (a nullable boolean column takes the general path)
        return [f'{head}{r}"{s} t="b"><v>{int(v)}</v></c>' for r, v in zip(rows, col.tolist())]
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        vals = col.to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(vals).tolist()
        if pd.api.types.is_integer_dtype(col.dtype):
            texts = list(map(str, col.tolist()))
        else:
            texts = list(map(float.__repr__, vals.tolist()))
        open_ = f'"{s}><v>'
        if empty is None:
            return [f'{head}{r}{open_}{t}</v></c>' if k else "" for r, t, k in zip(rows, texts, ok)]
        return [f'{head}{r}{open_}{t}</v></c>' if k else f'{head}{r}{empty}' for r, t, k in zip(rows, texts, ok)]
    values = col.tolist()
    if all(v is None or isinstance(v, str) or (isinstance(v, float) and v != v) for v in values):
        cache: dict[str, str] = {}
        out = []
        for r, v in zip(rows, values):
            if not isinstance(v, str):
                out.append(f'{head}{r}{empty}' if empty else "")
                continue
            t = cache.get(v)
            if t is None:
                t = _text(v)
                t = cache[v] = (' xml:space="preserve">' if t != t.strip() else ">") + t + "</t></is></c>"
            out.append(f'{head}{r}"{s} t="inlineStr"><is><t{t}')
        return out
    return [_one(f"{letter}{r}", s if empty_cells or not _missing(v) else "", None if _missing(v) else v)
            for r, v in zip(rows, values)]


def _missing(v: Any) -> bool:
    return v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and not math.isfinite(v))


def _rows_xml(block: dict, styles: list[int]) -> Any:
    """The ``<row>`` elements of one deferred block, in chunks of text."""
    frame, first, c0 = block["values"], block["first_row"], block["start_col"]
    for a in range(0, len(frame), _ROWS_PER_CHUNK):
        part = frame.iloc[a:a + _ROWS_PER_CHUNK]
        rows = list(map(str, range(first + a, first + a + len(part))))
        cols = [_column(part.iloc[:, j], get_column_letter(c0 + j), rows, styles[j], block["empty_cells"])
                for j in range(part.shape[1])]
        yield "".join(f'<row r="{r}">' + "".join(cells) + "</row>" for r, *cells in zip(rows, *cols))


_DIMENSION = re.compile(rb'<dimension ref="[^"]*"\s*/>')
_ROW = re.compile(rb'<row r="(\d+)"')


def stream_sheet(ws, xml: bytes, out: IO[bytes]) -> None:
    """Write openpyxl's sheet ``xml`` to ``out`` with the deferred rows inside ``<sheetData>``,
    each block before the first row openpyxl wrote below it (a table with notes under it).

    Call after the workbook's styles are final (the template cells' style ids are read here).
    """
    blocks = sorted(deferred(ws), key=lambda b: b["first_row"])
    styles = [[ws.cell(b["template_row"], b["start_col"] + j).style_id for j in range(b["values"].shape[1])]
              for b in blocks]
    last_row = max(ws.max_row, *(b["first_row"] + len(b["values"]) - 1 for b in blocks))
    last_col = max(ws.max_column, *(b["start_col"] + b["values"].shape[1] - 1 for b in blocks))
    xml = _DIMENSION.sub(f'<dimension ref="A1:{get_column_letter(last_col)}{last_row}"/>'.encode(), xml, count=1)
    if b"<sheetData/>" in xml:  # an empty sheetData is written self-closed
        xml = xml.replace(b"<sheetData/>", b"<sheetData></sheetData>", 1)
    head, rest = xml.split(b"<sheetData>", 1)
    body, tail = rest.split(b"</sheetData>", 1)
    rows = [(int(m.group(1)), m.start()) for m in _ROW.finditer(body)]
    out.write(head + b"<sheetData>")
    pos = 0
    for b, st in zip(blocks, styles):
        first, last = b["first_row"], b["first_row"] + len(b["values"]) - 1
        clash = [r for r, _ in rows if first <= r <= last]
        if clash:
            raise ValueError(f"sheet '{ws.title}' has cells in row {clash[0]:,}, where its streamed rows "
                             f"{first:,}-{last:,} go")
        at = next((off for r, off in rows if r > last), len(body))
        out.write(body[pos:at])
        pos = at
        for chunk in _rows_xml(b, st):
            out.write(chunk.encode("utf-8"))
    out.write(body[pos:] + b"</sheetData>" + tail)
