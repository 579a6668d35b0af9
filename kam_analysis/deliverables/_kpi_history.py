"""The headline KPIs across reviews (table ``kpi_history``) as both dashboards show them.

One point per review (as-of date; when a date was run twice, the later run's figures), each
value as that review measured it. With one review only, the dashboards say that this is
the first review instead of drawing a one-point trend.
"""
from __future__ import annotations

import pandas as pd

from ..metrics import kpi_label, kpi_unit
from ..metrics.definitions import KPI_DEFINITIONS
from ..present.formats import POINT_UNITS, fmt_date
from ._kpi_tiles import BASELINE_TILE_KPIS

__all__ = ["HISTORY_KPIS", "SHEET", "history_data", "kpi_history_sheet", "largest_move"]

#: the KPIs drawn across reviews: the dashboards' headline tiles
HISTORY_KPIS = BASELINE_TILE_KPIS


def _points(run) -> pd.DataFrame:
    h = run.read_table("kpi_history", columns=["run_id", "as_of_date", "kpi", "value", "current_run", "superseded",
                                                "note"])
    return h[~h["superseded"].astype(bool)].sort_values(["as_of_date", "kpi"], kind="stable")


def history_data(run, *, kpis: tuple[str, ...] = HISTORY_KPIS) -> dict:
    """What the dashboards show of ``kpi_history``.

    Returns
    -------
    dict
        ``first_review`` (bool), ``reviews`` (as-of dates, ISO, oldest first),
        ``review_labels`` (the same as the client reads them), ``sentence`` (what the block
        says), ``series`` (one per KPI with a value in two reviews or more: ``kpi``,
        ``label``, ``unit``, ``points`` [{``x``, ``label``, ``y``}]), ``table`` (every KPI of
        ``kpis`` with a value: ``kpi``, ``label``, ``unit``, ``values`` by review), ``notes``.
    """
    p = run.params
    h = _points(run)
    dates = sorted(pd.to_datetime(h["as_of_date"]).dropna().unique())
    iso = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates]
    labels = [fmt_date(d) for d in iso]
    out: dict = {"first_review": len(dates) < 2, "reviews": iso, "review_labels": labels, "series": [],
                 "table": [], "notes": []}
    if out["first_review"]:
        out["sentence"] = (f"This is the first review of {p.client.name}: today's headline KPIs are the starting "
                           "point that the next review compares with.")
    else:
        out["sentence"] = (f"{len(dates)} reviews, from {labels[0]} to {labels[-1]}: each KPI as that review "
                           "measured it, all accounts, last 12 months to each review's date.")
    by_date = {d: i for i, d in enumerate(iso)}
    for k in kpis:
        rows = h[(h["kpi"] == k) & h["value"].notna()]
        if rows.empty:
            continue
        values: list = [None] * len(iso)
        for r in rows.itertuples(index=False):
            values[by_date[pd.Timestamp(r.as_of_date).strftime("%Y-%m-%d")]] = float(r.value)
        entry = {"kpi": k, "label": kpi_label(k, short=True), "unit": kpi_unit(k) if k in KPI_DEFINITIONS else None,
                 "values": values}
        out["table"].append(entry)
        pts = [{"x": d, "label": lab, "y": v} for d, lab, v in zip(iso, labels, values) if v is not None]
        if len(pts) >= 2:
            out["series"].append({**{k2: entry[k2] for k2 in ("kpi", "label", "unit")}, "points": pts})
    other = h[~h["current_run"].astype(bool) & (h["note"].astype(str) != "")]
    if len(other):
        when = ", ".join(fmt_date(d) for d in sorted(pd.to_datetime(other["as_of_date"]).unique()))
        out["notes"].append(f"The review{'s' if other['as_of_date'].nunique() > 1 else ''} of {when} "
                            "used an earlier version of the analysis: a KPI's definition may have changed since "
                            "(the KPI dictionary lists each definition).")
    return out


def largest_move(table: list[dict]) -> dict | None:
    """The headline KPI that moved most from the first to the last review that measured it.

    ``table`` is :func:`history_data`'s ``table``. Levels (money, counts) compare by relative
    change, the largest first; rates and scores (``POINT_UNITS``) change in points, which do
    not compare with a relative change, so one of them is named only when no level moved.
    Returns ``kpi, label, unit, first, last, change, kind`` (``relative`` or ``points``), or
    None when no KPI has two values."""
    levels, points = [], []
    for e in table:
        vals = [v for v in e["values"] if v is not None]
        if len(vals) < 2:
            continue
        first, last = vals[0], vals[-1]
        if (e.get("unit") or "") in POINT_UNITS:
            points.append({**e, "first": first, "last": last, "change": last - first, "kind": "points"})
        elif first:
            levels.append({**e, "first": first, "last": last, "change": last / first - 1, "kind": "relative"})
    for group in (levels, points):
        moved = [m for m in group if m["change"]]
        if moved:
            return max(moved, key=lambda m: abs(m["change"]))
    return None


#: the sheet of the KPI dashboard that shows the headline KPIs across reviews
SHEET = "KPIs across reviews"


def kpi_history_sheet(wb, run) -> None:
    """The KPI dashboard's sheet: one row per headline KPI, one column per review, and the
    change since the previous review (points for shares and scores, else relative)."""
    import math

    from openpyxl.styles import Alignment, Font

    from ..metrics import change_vs_baseline
    from ..present.formats import excel_number_format
    from ..present.theme import active_theme
    from ._xlsx import autofit_columns, style_header_row, title_block, write_cell

    cur = run.params.client.currency
    d = history_data(run)
    ws = wb.create_sheet(SHEET)
    title_block(ws, "Headline KPIs across reviews", d["sentence"])
    heads = ["KPI"] + [f"Review of {lab}" for lab in d["review_labels"]]
    if not d["first_review"]:
        heads.append("Change since the previous review")
    for j, h in enumerate(heads, start=1):
        write_cell(ws, 4, j, h)
    style_header_row(ws, 4, 1, len(heads))
    for i, e in enumerate(d["table"], start=5):
        write_cell(ws, i, 1, e["label"])
        fmt = excel_number_format(e["unit"] or "ratio", cur, compact=False)
        for j, v in enumerate(e["values"], start=2):
            write_cell(ws, i, j, v if v is not None else "–", number_format=fmt if v is not None else None)
        if d["first_review"]:
            continue
        last, prev = e["values"][-1], e["values"][-2]
        cell_col = len(e["values"]) + 2
        if last is None or prev is None:
            write_cell(ws, i, cell_col, "–")
            continue
        change, kind = change_vs_baseline(last, prev, e["kpi"])
        if not math.isfinite(change):
            write_cell(ws, i, cell_col, "–")
        elif kind == "points":
            write_cell(ws, i, cell_col, change * 100 if e["unit"] == "share" else change,
                       number_format='+0.0" pts";-0.0" pts";0.0" pts"')
        else:
            write_cell(ws, i, cell_col, change, number_format="+0.0%;-0.0%;0.0%")
    row = 6 + len(d["table"])
    for n in d["notes"] + ["Each review's figures are as that review computed them from the data it had; none is "
                           "recomputed later. When a date was reviewed twice, the later review's figures count."]:
        c = write_cell(ws, row, 1, n)
        c.font = Font(italic=True, size=9, color=active_theme().muted)
        c.alignment = Alignment(wrap_text=False)
        row += 1
    autofit_columns(ws, skip_rows=[1, 2] + list(range(6 + len(d["table"]), row)))
    ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 30)
