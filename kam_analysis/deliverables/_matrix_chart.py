"""The segmentation workbook's portfolio-matrix chart: a native Excel scatter, one series per quadrant.

Its points sit on the hidden 'Chart data' sheet, one x/y block of columns per quadrant. A
quadrant of more than :data:`MATRIX_CHART_POINTS` accounts shows its largest accounts by
revenue: at 200,000 accounts the chart held 121,276 points, drew four solid blocks and slowed
the sheet; every account stays on the Accounts sheet.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..present.theme import active_theme
from . import _xlsx_stream
from ._xlsx import write_cell, write_values

__all__ = ["MATRIX_CHART_POINTS", "matrix_chart"]

#: points per quadrant on the chart; a larger quadrant shows its largest accounts by revenue
MATRIX_CHART_POINTS = 500


def matrix_chart(ws: Worksheet, data_ws: Worksheet, seg: pd.DataFrame, names: list[str], *, anchor: str) -> str:
    """Add the scatter of ``seg`` (relative strength across, attractiveness up) at ``anchor`` of
    ``ws``, its points on ``data_ws``; return the note saying which accounts it shows when a
    quadrant is cut to its largest (empty when every account is a point)."""
    data_col, r0 = 1, 2
    write_cell(data_ws, 1, 1, "Data of the portfolio-matrix chart: relative strength (x) and attractiveness (y)")
    chart = ScatterChart()
    chart.title = "Accounts on the portfolio matrix"
    chart.style = 13
    chart.x_axis.title = "Relative strength (0-1)"
    chart.y_axis.title = "Attractiveness (0-1)"
    chart.x_axis.scaling.min, chart.x_axis.scaling.max = 0, 1
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.x_axis.numFmt = chart.y_axis.numFmt = "0.0"
    chart.x_axis.delete = chart.y_axis.delete = False
    colors = list(active_theme().quadrant_palette)
    on = seg.dropna(subset=["relative_strength", "attractiveness"])
    on = on[on["quadrant"].isin(names)]
    note = ""
    if len(on) and on.groupby("quadrant").size().max() > MATRIX_CHART_POINTS:
        on = on.sort_values(["revenue_12m", "account_id"], ascending=[False, True], na_position="last")
        shown = len(on.groupby("quadrant").head(MATRIX_CHART_POINTS))
        note = (f"Chart: the {MATRIX_CHART_POINTS:,} largest accounts of each quadrant by revenue ({shown:,} of "
                f"{len(on):,}); every account is on the Accounts sheet.")
    blocks = []
    for k, q in enumerate(names):
        # at most MATRIX_CHART_POINTS a quadrant, and never beyond Excel's last row
        sub = on.loc[on["quadrant"] == q, ["relative_strength", "attractiveness"]]
        sub = sub.head(min(MATRIX_CHART_POINTS, _xlsx_stream.EXCEL_MAX_ROWS - r0))
        blocks.append(sub.round(4).to_numpy(dtype=float))
        c0 = data_col + 2 * k
        write_cell(data_ws, r0, c0, f"{q}: strength")
        write_cell(data_ws, r0, c0 + 1, f"{q}: attractiveness")
    height = max((len(b) for b in blocks), default=0)
    if height:  # one block of columns, each quadrant's points from the top, padded with empty cells
        grid = np.full((height, 2 * len(blocks)), np.nan)
        for k, b in enumerate(blocks):
            grid[:len(b), 2 * k:2 * k + 2] = b
        write_values(data_ws, pd.DataFrame(grid), start_row=r0 + 1, start_col=data_col, number_format="0.000")
    for k, (q, sub) in enumerate(zip(names, blocks)):
        c0 = data_col + 2 * k
        if len(sub):
            xs = Reference(data_ws, min_col=c0, min_row=r0 + 1, max_row=r0 + len(sub))
            ys = Reference(data_ws, min_col=c0 + 1, min_row=r0 + 1, max_row=r0 + len(sub))
            s = Series(ys, xs, title_from_data=False, title=q)
            s.marker.symbol = "circle"
            s.marker.size = 5
            s.marker.graphicalProperties.solidFill = colors[k]
            s.marker.graphicalProperties.line.solidFill = colors[k]
            s.graphicalProperties.line.noFill = True
            chart.series.append(s)
    chart.height, chart.width = 11, 15
    chart.legend.position = "b"
    ws.add_chart(chart, anchor)
    for j in range(1, 9):
        data_ws.column_dimensions[get_column_letter(j)].width = 24
    return note
