"""The Excel KPI dashboard (``deliverables/kpi_dashboard.xlsx``).

Sheets
------
Dashboard        one printable page: KPI tiles (current, target, status), native line charts
                 of the main KPIs by period, the segment x KPI status table (conditional
                 formatting by RAG status) and the programme-impact sentence;
KPI vs target    headline KPIs, target, gap, baseline and status;
Scorecard        segment x KPI values, targets, baselines and status (long form);
KPI tracking     every KPI by period and segment (Excel table with filters);
Trend data       the series behind the dashboard's charts;
Programme impact the difference-in-differences estimate, its CI and the event study;
Migration        the segment transition matrix (accounts and revenue);
Recommendations  ranked, each with its evidence;
At-risk accounts when the strategy phase has scored churn risk;
Plan vs actual   a follow-up review only (review.plan_run): the earlier plan's KPIs, key
                 accounts, segments, coverage, actions and recommendations measured now;
Lost accounts    revenue already lost to the accounts that churned in the last 12 months, and the list;
Control charts   each tracked KPI by period with its centre line and control limits (table + native line chart);
Sensitivity      the tornado: each lever's change of the yearly impact at its low and high value (table + bar chart);
About            what each sheet shows, the RAG thresholds and targets, notes on missing data.

Every cell is written with :mod:`._xlsx` (client text never becomes a formula) and every
number comes from a run-folder table, read with ``run.read_table``: a table its phase
always writes and that is missing fails the run naming it; only the segment migration
(written on a condition) may be absent.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..metrics import (ALL_ACCOUNTS_ONLY_KPIS, KPI_DEFINITIONS, SEGMENT_RETENTION_NOTE, change_vs_baseline, describe_lost_split, describe_revenue_lost, kpi_label,
                       kpi_unit)
from ..models.churn import risk_band_label
from ..phases.business_case import recommendation_cost_text
from ..phases.review import ALL_ACCOUNTS
from ..metrics.capability import Capability, needs_data_text
from ..present.formats import POINT_UNITS, currency_symbol, excel_number_format, fmt_date, fmt_money, fmt_top, is_num, money_style
from ..present.theme import active_theme, tint
from ._kpi_history import SHEET as HISTORY_SHEET, kpi_history_sheet
from ._computed_views import control_chart_views, tornado_view
from ._kpi_tiles import BASELINE_STATUS, NO_TARGET_NOTE, baseline_tiles, programme_sentence
from ._plan_sheet import SHEET as PLAN_SHEET, plan_sheet
from ._xlsx import (FMT, POINTS_FMT, RELATIVE_FMT, THIN, rag_fill, autofit_columns, note_cell, save_workbook,
                    set_workbook_properties, style_header_row, title_block, widen_to_fit, write_cell, write_frame)
from .html_dashboard import SCORECARD_KPIS, TREND_KPIS, churn_unsupported_text, programme_size_data

__all__ = ["build_kpi_dashboard", "header_footer_text"]



def header_footer_text(text: str) -> str:
    """Text for an Excel page header/footer: ``&`` is a control code there, so it is doubled."""
    return str(text).replace("&", "&&")[:200]


def _unit_format(unit: str | None, currency: str) -> str:
    """Excel number format of a KPI value, as the deck and the HTML write it (full amounts)."""
    return excel_number_format(unit or "score", currency, compact=False)


_POINTS_FMT, _RELATIVE_FMT = POINTS_FMT, RELATIVE_FMT
_STATUS_BASIS = {"target": "Target", "baseline": "Baseline", "n/a": "–"}


def _signed_format(unit: str, currency: str) -> str:
    """Number format of a difference in a KPI's unit (shares and scores in points)."""
    if unit in POINT_UNITS:
        return _POINTS_FMT
    if unit == "currency":
        sym = '"' + currency_symbol(currency).replace('"', "") + '"'
        return f'+{sym}#,##0;-{sym}#,##0;{sym}0'
    if unit == "count":
        return "+#,##0;-#,##0;0"
    return "+0.00;-0.00;0.00"


def _kpi_view(df: pd.DataFrame, *, value_cols: list[str], currency: str
              ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """A KPI table for a client: the KPI's label instead of its key, differences and changes vs
    baseline in points for share/score KPIs (x100 for shares: 0.007 -> +0.7 pts) and relative
    for currency/count KPIs; returns (frame, per-row number formats by column)."""
    out = df.copy()
    units = [kpi_unit(k) for k in out["kpi"].astype(str)]
    fmts: dict[str, list[str]] = {c: [_unit_format(u, currency) for u in units] for c in value_cols if c in out}
    if "gap" in out:
        out["gap"] = [g * 100 if u == "share" else g for g, u in zip(out["gap"].astype(float), units)]
        fmts["gap"] = [_signed_format(u, currency) for u in units]
    if "vs_baseline" in out:
        change = []
        for k, u, v, b in zip(out["kpi"].astype(str), units, out.get("value", out.get("current")).astype(float),
                              out["baseline"].astype(float)):
            c, kind = change_vs_baseline(v, b, k)  # recomputed from value and baseline: one rule everywhere
            change.append(c * 100 if kind == "points" and u == "share" else c)
        out["vs_baseline"] = change
        fmts["vs_baseline"] = [_POINTS_FMT if u in POINT_UNITS else _RELATIVE_FMT for u in units]
    out["kpi"] = [kpi_label(k) for k in out["kpi"].astype(str)]
    if "status_basis" in out:
        out["status_basis"] = out["status_basis"].map(lambda x: _STATUS_BASIS.get(x, x))
    return out, fmts


def _page_setup(ws: Worksheet, *, client: str, title: str, landscape: bool = True, fit_height: int = 0,
                repeat_rows: str | None = None) -> None:
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = fit_height
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.print_options.horizontalCentered = True
    ws.oddHeader.left.text = header_footer_text(client)
    ws.oddHeader.right.text = header_footer_text(title)
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.right.text = "Page &P of &N"
    if repeat_rows:
        ws.print_title_rows = repeat_rows


def _note(ws: Worksheet, row: int, col: int, text: str) -> None:
    note_cell(ws, row, col, text)


def _tile(ws: Worksheet, row: int, col: int, tile: dict, currency: str) -> None:
    """A KPI tile: 2 columns x 4 rows (label, value, target, status)."""
    status = tile["status"] if tile["status"] in ("green", "amber", "red") else "n/a"
    fill = PatternFill("solid", fgColor=active_theme().light)
    for r in range(row, row + 4):
        for c in range(col, col + 2):
            cell = ws.cell(row=r, column=c)
            cell.fill = fill
            cell.border = Border(left=Side(style="thick", color=active_theme().rag(status))
                                 if c == col else None)
    for r, h in zip(range(row, row + 4), (15, 30, 15, 16)):
        ws.merge_cells(start_row=r, start_column=col, end_row=r, end_column=col + 1)
        ws.row_dimensions[r].height = h
    lab = write_cell(ws, row, col, tile["label"].upper())
    lab.font = Font(size=8, bold=True, color=active_theme().muted)
    fmt = _unit_format(tile["unit"], currency)
    val = write_cell(ws, row + 1, col, tile["current"], number_format=fmt)
    val.font = Font(size=18, bold=True, color=active_theme().primary)
    val.alignment = Alignment(horizontal="left")
    if tile.get("current") is None:
        write_cell(ws, row + 1, col, "–").font = Font(size=18, bold=True, color=active_theme().primary)
    if tile["target"] is None:
        tgt = write_cell(ws, row + 2, col, "No target set")
    else:
        tgt = write_cell(ws, row + 2, col, tile["target"], number_format=f'"Target "{fmt}')
    tgt.font = Font(size=9, color=active_theme().muted)
    tgt.alignment = Alignment(horizontal="left")
    st = write_cell(ws, row + 3, col, "BASELINE" if tile["status"] == BASELINE_STATUS else status.upper())
    st.font = Font(size=9, bold=True, color=active_theme().rag(status))
    if status != "n/a":
        for c in (col, col + 1):
            ws.cell(row=row + 3, column=c).fill = rag_fill(status)


def _axis_money(data: pd.DataFrame, columns: list[str], currency: str) -> str:
    """A money axis in one compact scale (``€800.0m``, as the deck's charts): a large client's
    full amounts (``€900,000,000``) take a third of a small chart's width."""
    top = pd.to_numeric(data[columns].stack(), errors="coerce").abs().max()
    return excel_number_format("currency", currency, max_abs=float(top) if is_num(top) else 0.0)


def _line_chart(ws_data: Worksheet, *, title: str, y_title: str, cols: list[int], first_row: int, last_row: int,
                number_format: str, width: float = 12.5, height: float = 7.5) -> LineChart:
    ch = LineChart()
    ch.title = title
    ch.style = 2
    ch.height, ch.width = height, width
    ch.y_axis.title = y_title
    ch.y_axis.numFmt = number_format
    ch.y_axis.majorGridlines = ch.y_axis.majorGridlines
    ch.x_axis.number_format = "yyyy-mm"
    ch.x_axis.title = None
    ch.x_axis.tickLblSkip = 4 if last_row - first_row >= 8 else 1
    ch.x_axis.tickMarkSkip = ch.x_axis.tickLblSkip
    ch.legend.position = "b"
    for c in cols:
        ch.add_data(Reference(ws_data, min_col=c, min_row=first_row - 1, max_row=last_row), titles_from_data=True)
    ch.set_categories(Reference(ws_data, min_col=1, min_row=first_row, max_row=last_row))
    colors = [active_theme().primary, active_theme().red, active_theme().accent]
    for i, s in enumerate(ch.series):
        s.graphicalProperties.line.solidFill = colors[i % len(colors)]
        s.graphicalProperties.line.width = 22000
        s.smooth = False
        if i == 1:
            s.graphicalProperties.line.dashStyle = "dash"
    # openpyxl >= 3.1 hides axes unless delete is set explicitly
    ch.x_axis.delete = False
    ch.y_axis.delete = False
    return ch


def build_kpi_dashboard(run) -> Path:
    """Write ``deliverables/kpi_dashboard.xlsx`` from the run's tables and return its path."""
    p = run.params
    cur = p.client.currency
    client = p.client.name
    notes: list[str] = []
    wb = Workbook()
    ws = wb.active
    ws.title = "Dashboard"
    ws.sheet_view.showGridLines = False
    set_workbook_properties(wb, title=f"{p.engagement.title} — KPI dashboard", client=client,
                            when=p.engagement.date or p.analysis.as_of_date, creator=p.engagement.consultant)
    sub = f"Data as of {fmt_date(p.analysis.as_of_date)}"
    if p.analysis.programme_start:
        sub += f" · programme started {fmt_date(p.analysis.programme_start)}"
    row = title_block(ws, f"{client} — KPI dashboard", f"{sub} · {p.engagement.consultant}", row=1, col=2)
    ws.column_dimensions["A"].width = 2
    for c in range(2, 14):
        ws.column_dimensions[get_column_letter(c)].width = 12.5

    # ------------------------------------------------------------ tiles
    kvt = run.read_table("kpi_vs_target")  # no rows without targets: the tiles show the baseline
    head = write_cell(ws, row, 2, "Headline KPIs against target (trailing twelve months)" if len(kvt)
                      else "Headline KPIs, the baseline (trailing twelve months)")
    head.font = Font(bold=True, size=11, color=active_theme().primary)
    row += 1
    if len(kvt):
        tiles = []
        for r in kvt.itertuples(index=False):
            unit = getattr(r, "unit", None)
            tiles.append({"label": kpi_label(r.kpi, short=True),
                          "unit": unit if isinstance(unit, str) else kpi_unit(r.kpi),
                          "current": r.current if pd.notna(r.current) else None, "target": r.target,
                          "status": r.status})
        for i, t in enumerate(tiles[:6]):
            _tile(ws, row, 2 + 2 * i, t, cur)
        row += 5
    elif tiles := baseline_tiles(run):  # no targets: today's values are the baseline, not rated
        for i, t in enumerate(tiles[:6]):
            _tile(ws, row, 2 + 2 * i, t, cur)
        row += 4
        _note(ws, row, 2, NO_TARGET_NOTE)
        row += 2
    else:
        _note(ws, row, 2, "The headline KPIs could not be computed from the data provided.")
        row += 2

    # ------------------------------------------------------------ where key-account management fits
    prog = programme_size_data(run, money=money_style("kpi_dashboard"))
    if prog is not None:
        h = write_cell(ws, row, 2, "Where key-account management fits")
        h.font = Font(bold=True, size=11, color=active_theme().primary)
        row += 1
        t = write_cell(ws, row, 2, prog["title"])
        t.font = Font(bold=prog["capacity_binds"], size=11,
                      color=active_theme().red if prog["capacity_binds"] else active_theme().text)
        row += 1
        for line in prog["takeaways"][:2]:
            _note(ws, row, 2, line)
            row += 1
        row += 1

    # ------------------------------------------------------------ trend data + charts
    tr = run.read_table("kpi_tracking")
    wd = wb.create_sheet("Trend data")
    chart_row = row
    if len(tr):
        a = tr[tr["segment"] == ALL_ACCOUNTS]
        piv = a.pivot_table(index="period_start", columns="kpi", values="value", aggfunc="first").sort_index()
        tgt = a.dropna(subset=["target"]).groupby("kpi")["target"].first()
        data = pd.DataFrame({"period_start": piv.index})
        spec = [(k, kpi_label(k, short=True)) for k in TREND_KPIS]
        for k, label in spec:
            if k in piv:
                data[label] = piv[k].to_numpy()
        if "average_order_value" in tgt:
            data["AOV target"] = float(tgt["average_order_value"])
        data = data.dropna(subset=[c for c in data.columns if c != "period_start"], how="all")
        title_block(wd, "Trend data", "All accounts, by period (feeds the dashboard charts)")
        lab = dict(spec)
        fmt_of = {"currency": "money", "count": "int", "share": "pct"}
        last, _ = write_frame(wd, data, start_row=4, formats={"period_start": "date", "AOV target": "money",
                                                              **{lab[k]: fmt_of[kpi_unit(k)] for k in TREND_KPIS}},
                              headers={"period_start": "Period"}, table="TrendData")
        autofit_columns(wd, skip_rows=[1, 2])
        cols = {c: i + 1 for i, c in enumerate(data.columns)}
        charts = []
        if lab["revenue"] in cols:
            charts.append(_line_chart(wd, title=f"{lab['revenue']} by period", y_title=cur, cols=[cols[lab["revenue"]]],
                                      first_row=5, last_row=last, number_format=_axis_money(data, [lab["revenue"]], cur)))
        if lab["average_order_value"] in cols:
            c2 = [cols[lab["average_order_value"]]] + ([cols["AOV target"]] if "AOV target" in cols else [])
            charts.append(_line_chart(wd, title=f"{lab['average_order_value']}" + (" vs target" if "AOV target" in cols
                                                                                   else " by period"),
                                      y_title=cur, cols=c2, first_row=5, last_row=last,
                                      number_format=_axis_money(data, [data.columns[c - 1] for c in c2], cur)))
        if lab["ordering_accounts"] in cols:
            charts.append(_line_chart(wd, title=f"{lab['ordering_accounts']} by period", y_title="Accounts",
                                      cols=[cols[lab["ordering_accounts"]]], first_row=5, last_row=last,
                                      number_format="#,##0"))
        anchors = ["B", "F", "J"]
        for ch, col in zip(charts, anchors):
            ch.width = 10.0
            ws.add_chart(ch, f"{col}{chart_row}")
        row = chart_row + 16
    else:
        _note(ws, row, 2, "Trend charts are not available: the review of KPIs by period did not run on this data.")
        notes.append("Charts: no KPI by period in this run.")
        row += 2

    # ------------------------------------------------------------ segment x KPI status table
    sc = run.read_table("kpi_scorecard")
    h = write_cell(ws, row, 2, "KPI status by segment (trailing twelve months)")
    h.font = Font(bold=True, size=11, color=active_theme().primary)
    row += 1
    if len(sc):
        # a KPI with no value in any segment is no column of results: it goes to the "needs data" line
        kp = [k for k in SCORECARD_KPIS if k in set(sc.loc[sc["value"].map(is_num), "kpi"])]
        sc_needs = needs_data_text([k for k in SCORECARD_KPIS if k in set(sc["kpi"]) and k not in kp])
        segs = list(dict.fromkeys(sc["segment"]))
        write_cell(ws, row, 2, "Segment")
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=3)
        for j, k in enumerate(kp):
            write_cell(ws, row, 4 + j, kpi_label(k, short=True))
        style_header_row(ws, row, 2, 3 + len(kp))
        ws.row_dimensions[row].height = 44
        status_col = 30  # hidden status grid (AD onwards) drives the conditional formatting
        for j, k in enumerate(kp):
            write_cell(ws, row, status_col + j, f"Status: {kpi_label(k, short=True)}")
        first = row + 1
        for i, s in enumerate(segs):
            r = first + i
            c = write_cell(ws, r, 2, s)
            c.font = Font(bold=(s == ALL_ACCOUNTS))
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=3)
            for j, k in enumerate(kp):
                m = sc[(sc["segment"] == s) & (sc["kpi"] == k)]
                v = m["value"].iloc[0] if len(m) else None
                cell = write_cell(ws, r, 4 + j, v, number_format=_unit_format(kpi_unit(k), cur))
                cell.border = Border(bottom=THIN)
                cell.alignment = Alignment(horizontal="right")
                write_cell(ws, r, status_col + j, m["status"].iloc[0] if len(m) else "n/a")
        last_r = first + len(segs) - 1
        rng = f"D{first}:{get_column_letter(3 + len(kp))}{last_r}"
        off = get_column_letter(status_col)
        for status in ("green", "amber", "red"):
            ws.conditional_formatting.add(rng, FormulaRule(formula=[f'{off}{first}="{status}"'], fill=rag_fill(status),
                                                           font=Font(color=active_theme().rag(status))))
        for j in range(len(kp)):
            ws.column_dimensions[get_column_letter(status_col + j)].hidden = True
        widen_to_fit(ws, range(4, 4 + len(kp)), range(first, last_r + 1))  # €2,609,270,083, not ###
        row = last_r + 1
        _note(ws, row, 2, "Green/amber/red against the client's target where one is set, otherwise against the "
                          "segment at the baseline date.")
        row += 1
        if ret_note := _retention_note(sc[sc["kpi"].isin(kp)]):  # segments' retention cells are left blank
            _note(ws, row, 2, ret_note)
            row += 1
        if sc_needs:
            _note(ws, row, 2, sc_needs)
            row += 1
        row += 1
    else:
        _note(ws, row, 2, "The KPI status by segment is not available: the segment review did not run on this data.")
        notes.append("Segment status table: no segment KPI in this run.")
        row += 2

    # ------------------------------------------------------------ impact sentence
    imp = run.read_table("programme_impact")
    h = write_cell(ws, row, 2, "Programme impact")
    h.font = Font(bold=True, size=11, color=active_theme().primary)
    row += 1
    no_programme = programme_sentence(run)
    text = no_programme or (str(imp["sentence"].iloc[0]) if len(imp) else "The programme-impact analysis has no result.")
    note = imp["accounts_note"].iloc[0] if len(imp) and "accounts_note" in imp and no_programme is None else None
    if isinstance(note, str) and note.strip():
        text += " " + note
    # one row per line (merged wrapped cells are clipped by some renderers when printing)
    for line in textwrap.wrap(text, width=125) or [""]:
        write_cell(ws, row, 2, line).font = Font(size=11)
        row += 1
    row += 1
    ws.print_area = f"A1:N{row}"
    _page_setup(ws, client=client, title="KPI dashboard", fit_height=1)

    # ------------------------------------------------------------ detail sheets
    _detail_sheets(wb, run, notes)
    kpi_history_sheet(wb, run)  # the headline KPIs across the client's reviews
    plan_sheet(wb, run, notes)  # a follow-up review: the earlier plan measured now
    _operating_sheets(wb, run)
    _about_sheet(wb, run, notes)
    for sheet in wb.worksheets:
        if sheet.title != "Dashboard":
            single = sheet.title in {"Programme impact", "Migration", "About", "KPI vs target", "Trend data",
                                     HISTORY_SHEET, "Sensitivity"}
            _page_setup(sheet, client=client, title=sheet.title,
                        repeat_rows=None if single or sheet.title == PLAN_SHEET else "4:4",
                        fit_height=1 if single else 0)
    path = run.deliverable_path("kpi_dashboard.xlsx")
    save_workbook(wb, path, when=p.engagement.date or p.analysis.as_of_date)
    return path


_HEADERS = {"kpi": "KPI", "label": "KPI", "current": "Current", "target": "Target", "gap": "Gap to target",
            "status": "Status", "baseline": "Baseline", "vs_baseline": "Change vs baseline", "segment": "Segment",
            "value": "Value", "n": "Accounts", "status_basis": "Status against", "period_start": "Period",
            "trend": "Trend", "rank": "#", "recommendation": "Recommendation", "evidence": "Evidence",
            "value_basis": "What the value measures", "account_id": "Account ID", "account": "Account",
            "risk_score": "Churn probability", "risk_band": "Risk band", "revenue_at_risk": "Revenue at risk"}


def _retention_note(df: pd.DataFrame) -> str:
    """The one note on retention by segment, when ``df`` (segment x KPI rows) has segments and a
    KPI reported for all accounts only: its segment rows are left out, and the page says why."""
    if not {"segment", "kpi"} <= set(df.columns) or df["segment"].nunique() < 2:
        return ""
    return SEGMENT_RETENTION_NOTE if df["kpi"].isin(ALL_ACCOUNTS_ONLY_KPIS).any() else ""


def _detail(wb: Workbook, name: str, title: str, subtitle: str, df: pd.DataFrame, *, formats: dict,
            headers: dict | None = None, status_col: str | None = None, table: str | None = None,
            row_formats: dict[str, list[str]] | None = None) -> Worksheet:
    ws = wb.create_sheet(name)
    title_block(ws, title, subtitle)
    last, last_col = write_frame(ws, df, start_row=4, formats=formats, headers={**_HEADERS, **(headers or {})},
                                 table=table or name)
    for col, fmts in (row_formats or {}).items():  # per-row number formats (a KPI's unit)
        j = list(df.columns).index(col) + 1
        for i, f in enumerate(fmts):
            ws.cell(row=5 + i, column=j).number_format = f
    if status_col and status_col in df.columns and len(df):
        j = list(df.columns).index(status_col) + 1
        letter = get_column_letter(j)
        for status in ("green", "amber", "red"):
            ws.conditional_formatting.add(f"{letter}5:{letter}{last}",
                                          CellIsRule(operator="equal", formula=[f'"{status}"'], fill=rag_fill(status)))
    autofit_columns(ws, skip_rows=[1, 2])
    return ws


def _measured(df: pd.DataFrame, value_col: str) -> tuple[pd.DataFrame, str]:
    """The rows of a KPI table with a value, and the "needs data" line for the KPIs with none anywhere
    (with the input that unlocks them): a row of n/a values is never shown as a result."""
    if df.empty or not {"kpi", value_col} <= set(df.columns):
        return df, ""
    has = df[value_col].map(is_num)
    missing = set(df.loc[~has, "kpi"].astype(str)) - set(df.loc[has, "kpi"].astype(str))
    needs = needs_data_text([k for k in dict.fromkeys(df["kpi"].astype(str)) if k in missing])
    return df[has].reset_index(drop=True), (". " + needs.rstrip(".") if needs else "")


def _detail_sheets(wb: Workbook, run, notes: list[str]) -> None:
    p = run.params
    cur = p.client.currency
    money = excel_number_format("currency", cur, compact=False)
    kvt = run.read_table("kpi_vs_target")
    cols = [c for c in ["kpi", "current", "target", "gap", "status", "baseline", "vs_baseline"] if c in kvt]
    kv, kv_needs = _measured(kvt[cols], "current")
    head = run.read_table("kpi_headline") if run.has_table("kpi_headline") else None
    if head is not None and {"kpi", "ci_low", "ci_high", "n"} <= set(head.columns):  # what qualifies each KPI
        q = head.drop_duplicates("kpi").set_index("kpi")
        kv = kv.assign(ci_low=kv["kpi"].map(q["ci_low"]), ci_high=kv["kpi"].map(q["ci_high"]),
                       small_base=[f"yes: {n:,.0f}" if pd.notna(n) and n < p.thresholds.min_denominator else ""
                                   for n in kv["kpi"].map(q["n"])])
    view, fmts = _kpi_view(kv, value_cols=["current", "target", "baseline", "ci_low", "ci_high"], currency=cur)
    lvl = f"{p.thresholds.confidence:.0%}"
    no_targets = (Capability.of(run).statement("kpi_vs_target") or kv_needs.lstrip(". ")) if kv.empty else ""
    if no_targets:  # no targets: say so and what unlocks it, never an empty table's "(none)" row
        ws = wb.create_sheet("KPI vs target")
        _note(ws, title_block(ws, "Headline KPIs against target", "Trailing twelve months"), 1, no_targets)
        ws.column_dimensions["A"].width = 120
    else:
        _detail(wb, "KPI vs target", "Headline KPIs against target and baseline",
                "Trailing twelve months; baseline = the same KPI at the baseline date; changes of shares and "
                f"scores in points, of money and counts in %; {lvl} range where the KPI has one; small base = fewer "
                f"than {p.thresholds.min_denominator} accounts or responses, read with care" + kv_needs, view,
                formats={}, row_formats=fmts, status_col="status", table="KpiVsTarget",
                headers={"ci_low": f"{lvl} range, low", "ci_high": f"{lvl} range, high", "small_base": "Small base"})
    sc = run.read_table("kpi_scorecard")
    cols = [c for c in ["segment", "kpi", "value", "n", "baseline", "vs_baseline", "target", "gap", "status",
                        "status_basis"] if c in sc]
    sc_ret = _retention_note(sc)
    sc, sc_needs = _measured(sc[cols], "value")
    view, fmts = _kpi_view(sc, value_cols=["value", "baseline", "target"], currency=cur)
    _detail(wb, "Scorecard", "Segment scorecard", "Segment x KPI, trailing twelve months, vs target or "
            "baseline; changes of shares and scores in points, of money and counts in %" + sc_needs
            + (f". {sc_ret}" if sc_ret else ""), view,
            formats={"n": "int"}, row_formats=fmts, status_col="status", table="Scorecard")
    tr = run.read_table("kpi_tracking")
    if {"n", "value"} <= set(tr.columns):  # a period whose KPI is undefined (no base) is blank, as on Trend data
        tr = tr.assign(n=tr["n"].where(tr["value"].notna()))
    cols = ["period_start", "segment", "kpi", "value", "n", "baseline", "vs_baseline", "target", "status",
            "status_basis", "trend"]
    view, fmts = _kpi_view(tr[[c for c in cols if c in tr]], value_cols=["value", "baseline", "target"],
                           currency=cur)
    _detail(wb, "KPI tracking", "KPIs by period and segment",
            "Status vs target where defined per period, else vs the pre-programme baseline; trend = last year "
            "of periods vs the year before; changes of shares in points, of money and counts in %"
            + (f". {tr_ret}" if (tr_ret := _retention_note(tr)) else ""), view,
            formats={"period_start": "date", "n": "int"}, row_formats=fmts, status_col="status",
            table="KpiTracking")
    imp = run.read_table("programme_impact")
    if len(imp) and programme_sentence(run) is None:  # no programme: no estimate sheet
        r = imp.iloc[0]
        rows = [("Supported by the data", "yes" if bool(r["supported"]) else "no"),
                ("Reason (when not supported)", r.get("reason", "")),
                ("Estimated uplift", r.get("uplift")), ("CI low", r.get("uplift_ci_low")),
                ("CI high", r.get("uplift_ci_high")), ("Confidence level", r.get("confidence")),
                (_P_EFFECT, r.get("p_value")), (_P_PRETREND, r.get("pretrend_p_value")),
                ("Placebo estimate (fake start, pre-period only)", r.get("placebo_estimate")),
                (_P_PLACEBO, r.get("placebo_p_value")),
                *([("Accounts in the client's programme", r.get("n_programme")),
                   ("Programme accounts in the estimate", r.get("n_treated")),
                   ("From the programme to the estimate", r.get("accounts_note", ""))]
                  # without a programme flag in the data there is no programme to count (not zero accounts)
                  if pd.notna(r.get("n_programme")) and r.get("n_programme") > 0 else []),
                ("Control accounts", r.get("n_control")),
                ("Account-periods", r.get("n_obs")), ("Pre-programme periods used", r.get("n_pre_periods")),
                ("Periods since start", r.get("n_post_periods"))]
        ws = wb.create_sheet("Programme impact")
        title_block(ws, "Programme impact (difference-in-differences)",
                    "Programme accounts vs matched comparable accounts, before and after the programme start")
        write_cell(ws, 4, 1, "Measure")
        write_cell(ws, 4, 2, "Value")
        style_header_row(ws, 4, 1, 2)
        pct_rows = {"Estimated uplift", "CI low", "CI high", "Confidence level"}
        dec_rows = {_P_EFFECT, _P_PRETREND, _P_PLACEBO, "Placebo estimate (fake start, pre-period only)"}
        for i, (k, v) in enumerate(rows):
            write_cell(ws, 5 + i, 1, k).alignment = Alignment(wrap_text=True, vertical="top")  # never cut off
            # counts with separators (74,516 control accounts, not 74516; 14,196 in the estimate, not 14196.000)
            fmt = FMT["pct"] if k in pct_rows else FMT["dec3"] if k in dec_rows else FMT["int"] if is_num(v) else None
            val = write_cell(ws, 5 + i, 2, v, number_format=fmt)
            if isinstance(v, str) and len(v) > 16:  # a sentence: across B:F, wrapped, not off the page
                ws.merge_cells(start_row=5 + i, start_column=2, end_row=5 + i, end_column=6)
                val.alignment = Alignment(wrap_text=True, vertical="top")
            # explicit heights: LibreOffice does not grow a row for wrapped text
            lines = max(-(-len(k) // 54), -(-len(v) // 76) if isinstance(v, str) else 1, 1)
            ws.row_dimensions[5 + i].height = 15 * lines
        c = write_cell(ws, 6 + len(rows), 1, str(r["sentence"]))
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=6 + len(rows), start_column=1, end_row=9 + len(rows), end_column=6)
        es = run.read_table("programme_event_study")
        if len(es):
            write_frame(ws, es, start_row=12 + len(rows), formats={"period_start": "date", "coef": "dec3",
                                                                   "ci_low": "dec3", "ci_high": "dec3"},
                        headers={"rel_period": "Periods since start", "period_start": "Period",
                                 "coef": "Effect (log revenue)", "ci_low": "CI low", "ci_high": "CI high"},
                        table="EventStudy", freeze=False)
            ws.row_dimensions[12 + len(rows)].height = 30
        ws.column_dimensions["A"].width = 56
        for col in "BCDEF":
            ws.column_dimensions[col].width = 16
    mig = run.read_table("segment_migration", missing_ok=True)  # written only when the baseline has the column
    if mig is not None and len(mig):
        ws = wb.create_sheet("Migration")
        title_block(ws, "Segment migration since the baseline", "Rows: segment at baseline; columns: segment now")
        r0 = 4
        for value, label, fmt in (("accounts", "Accounts", FMT["int"]), ("revenue", kpi_label("revenue_12m", short=True), money)):
            piv = mig.pivot(index="from_segment", columns="to_segment", values=value)
            piv = piv.reindex(index=list(dict.fromkeys(mig["from_segment"])),
                              columns=list(dict.fromkeys(mig["to_segment"])))
            write_cell(ws, r0, 1, f"{label}: baseline → now")
            for j, c in enumerate(piv.columns):
                write_cell(ws, r0, 2 + j, c)
            style_header_row(ws, r0, 1, 1 + len(piv.columns))
            for i, (idx, vals) in enumerate(piv.iterrows()):
                write_cell(ws, r0 + 1 + i, 1, idx).font = Font(bold=True)
                for j, v in enumerate(vals):
                    cell = write_cell(ws, r0 + 1 + i, 2 + j, v, number_format=fmt)
                    if idx == piv.columns[j]:
                        cell.fill = PatternFill("solid", fgColor=tint(active_theme().accent, 0.85))
            r0 += len(piv) + 3
        autofit_columns(ws, skip_rows=[1, 2])
        ws.column_dimensions["A"].width = 36
    recs = run.read_table("recommendations")
    if "segment" in recs:  # the segment each one concerns (the HTML's segment filter reads it); blank = all
        recs = recs.assign(segment=recs["segment"].where(recs["segment"].fillna("").astype(str).str.strip() != "",
                                                         ALL_ACCOUNTS))
    if "cost_assumed" in recs:  # a cost the client has not given is no figure: its hours and what prices them
        unpriced = recs["cost_assumed"].fillna(False).astype(bool)
        hours = recs["cost_hours"] if "cost_hours" in recs else pd.Series(None, index=recs.index, dtype=object)
        recs = recs.assign(
            cost_assumed=["your figures" if not a else recommendation_cost_text(c, h, a, cur)
                          for c, h, a in zip(recs["cost"], hours, unpriced)],
            cost=recs["cost"].where(~unpriced))
    ws = _detail(wb, "Recommendations", "Optimisation recommendations",
                 "Ranked by the money at stake for each action; each value says what it measures (revenue at "
                 "risk, uplift, expected value) — values of different kinds are not added up"
                 + ("; cost a year = the account-manager hours of the accounts it touches x the cost of an hour, "
                    "plus their share of the tools (part of the programme's cost, not on top of it)"
                    if "cost" in recs else ""),
                 shown := recs[[c for c in ["rank", "segment", "recommendation", "evidence", "value", "value_basis",
                                            "cost", "cost_assumed", "owner", "due_date"] if c in recs]],
                 formats={"rank": "int", "value": money, "cost": money, "due_date": "date"},
                 headers={"value": "Value at stake", "cost": "Cost a year", "cost_assumed": "Cost basis",
                          "owner": "Owner", "due_date": "Due by"},
                 table="Recommendations")
    if overlap := _cost_overlap_text(recs, cur):  # under the subtitle, where a reader adds up the cost column
        _note(ws, 3, 1, overlap)
    for c in ("recommendation", "evidence"):
        ws.column_dimensions[get_column_letter(shown.columns.get_loc(c) + 1)].width = 70
    for i, rec in enumerate(recs.itertuples(index=False)):
        r = 5 + i
        for col in range(1, len(shown.columns) + 1):
            ws.cell(row=r, column=col).alignment = Alignment(wrap_text=True, vertical="top")
        lines = max(len(str(rec.recommendation)), len(str(rec.evidence))) // 62 + 1
        ws.row_dimensions[r].height = 15 * lines + 3
    risk = run.read_table("churn_risk", columns=("account_id", "risk_score", "revenue_at_risk"))
    if risk.empty:
        notes.append(f"At-risk accounts: {churn_unsupported_text(run)}")  # the run's one reason
    else:
        names = run.account_display_names() if run.has_data("accounts") else pd.Series(dtype=object)
        r = risk.copy()
        r.insert(1, "account", r["account_id"].astype(str).map(names).fillna(r["account_id"].astype(str)))
        r = r[r["revenue_at_risk"].fillna(0) > 0].sort_values(["revenue_at_risk", "account_id"],
                                                              ascending=[False, True])
        shown = r.head(max(p.review.dashboard_at_risk_rows * 4, 100))
        shown = shown.assign(risk_band=shown["risk_band"].map(lambda b: risk_band_label(b, p.strategy.risk_band_shares)))
        cols = [c for c in ["account_id", "account", "risk_score", "risk_band", "revenue_at_risk"] if c in r]
        _detail(wb, "At-risk accounts", "Accounts at risk", f"Largest revenue at risk first: the "
                f"{fmt_top(len(shown), len(r))} accounts with revenue at risk (churn-risk model of the strategy phase)",
                shown[cols], formats={"risk_score": "pct", "revenue_at_risk": money}, table="AtRisk")
    _lost_sheet(wb, run, money)
    _control_chart_sheet(wb, run, cur)
    _sensitivity_sheet(wb, run, cur)


def _cost_overlap_text(recs: pd.DataFrame, currency: str) -> str:
    """Where recommendations touch the same accounts their costs overlap: the list's cost with each
    account counted once (``cost - cost_overlap``, :func:`kam_analysis.phases.business_case.
    recommendation_costs`), never the column's sum; "" when nothing overlaps."""
    if not {"cost", "cost_overlap"} <= set(recs) or not (recs["cost_overlap"].fillna(0) > 0.005).any():
        return ""
    if recs["cost"].isna().any():  # a cost the client has not given is no figure, and so is no total
        return ""
    style = money_style("kpi_dashboard")
    total, summed = float((recs["cost"] - recs["cost_overlap"].fillna(0)).sum()), float(recs["cost"].sum())
    return (f"Costs overlap where recommendations touch the same accounts: together they cost "
            f"{fmt_money(total, currency, style=style)} a year, each account counted once, not the "
            f"{fmt_money(summed, currency, style=style)} the cost column adds up to.")


def _control_chart_sheet(wb: Workbook, run, currency: str) -> None:
    """Control charts of the tracked KPIs: per KPI its table (period, value, centre, limits, signal)
    and a native line chart beside it; is a change a signal or noise?"""
    views = control_chart_views(run)
    if not views:
        return
    ws = wb.create_sheet("Control charts")
    title_block(ws, "Control charts", "Is a change real or noise? A point outside the limits, or a long run on one "
                "side of the centre line, is a real change; all accounts")
    row = 4
    for v in views:
        h = write_cell(ws, row, 1, v["label"])
        h.font = Font(bold=True, size=11, color=active_theme().primary)
        _note(ws, row + 1, 1, f"{v['basis']}; {v['signals_note']}")
        head = row + 2
        for j, name in enumerate(("Period", "Value", "Centre line", "Upper limit", "Lower limit", "Signal")):
            write_cell(ws, head, 1 + j, name)
        style_header_row(ws, head, 1, 6)
        fmt = _unit_format(v["unit"], currency)
        for i, pt in enumerate(v["points"]):
            r = head + 1 + i
            write_cell(ws, r, 1, pt["period"])
            for j, k in enumerate(("value", "center", "ucl", "lcl")):
                write_cell(ws, r, 2 + j, pt[k], number_format=fmt)
            write_cell(ws, r, 6, "yes" if pt["signal"] else "")
        last = head + len(v["points"])
        ch = LineChart()
        ch.title = v["label"]
        ch.height, ch.width = 7.5, 16
        ch.y_axis.number_format = fmt
        ch.y_axis.majorGridlines = None
        ch.add_data(Reference(ws, min_col=2, max_col=5, min_row=head, max_row=last), titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=1, min_row=head + 1, max_row=last))
        th = active_theme()
        for s, colour, dash in zip(ch.series, (th.primary, th.muted, th.red, th.red), (None, "dash", "sysDot", "sysDot")):
            s.graphicalProperties.line.solidFill = colour
            s.graphicalProperties.line.width = 22000 if dash is None else 12000
            if dash:
                s.graphicalProperties.line.dashStyle = dash
            s.smooth = False
        ws.add_chart(ch, f"H{head}")
        row = max(last, row + 15) + 2
    autofit_columns(ws, skip_rows=[1, 2])
    ws.column_dimensions["A"].width = 14


def _sensitivity_sheet(wb: Workbook, run, currency: str) -> None:
    """The tornado: each lever's change of the yearly impact at its low and high value, widest first,
    as a table and a native bar chart."""
    v = tornado_view(run)
    if v is None:
        return
    ws = wb.create_sheet("Sensitivity")
    title_block(ws, "Scenario sensitivity", v["note"])
    head = 4
    names = ("Lever", "At its low value", "At its high value", f"Yearly {v['word']} impact, low",
             f"Yearly {v['word']} impact, high")
    for j, name in enumerate(names):
        write_cell(ws, head, 1 + j, name)
    style_header_row(ws, head, 1, len(names))
    money = excel_number_format("currency", currency, compact=False)
    change = _signed_format("currency", currency)
    levers = v["levers"][::-1]  # Excel draws the first category at the bottom: widest on top
    for i, lv in enumerate(levers):
        r = head + 1 + i
        write_cell(ws, r, 1, lv["label"])
        write_cell(ws, r, 2, lv["low"] - v["base"], number_format=change)
        write_cell(ws, r, 3, lv["high"] - v["base"], number_format=change)
        write_cell(ws, r, 4, lv["low"], number_format=money)
        write_cell(ws, r, 5, lv["high"], number_format=money)
    last = head + len(levers)
    _note(ws, last + 2, 1, f"Base case: {v['word']} impact of {currency_symbol(currency)}{v['base']:,.0f} a year.")
    ch = BarChart()
    ch.type, ch.grouping, ch.overlap = "bar", "clustered", 100
    ch.title = v["title"]
    ch.height, ch.width = 7.5, 16
    ch.x_axis.tickLblPos = "low"  # lever names left of the bars
    ch.y_axis.number_format = change
    ch.add_data(Reference(ws, min_col=2, max_col=3, min_row=head, max_row=last), titles_from_data=True)
    ch.set_categories(Reference(ws, min_col=1, min_row=head + 1, max_row=last))
    for s, colour in zip(ch.series, (active_theme().red, active_theme().accent)):
        s.graphicalProperties.solidFill = colour
        s.graphicalProperties.line.solidFill = colour
    ws.add_chart(ch, f"A{last + 4}")
    autofit_columns(ws, skip_rows=[1, 2])


def _lost_sheet(wb: Workbook, run, money: str) -> None:
    """Revenue already lost to the accounts that churned in the last 12 months: the figure,
    the number of accounts (dormant and lapsed) in labelled cells, then the accounts, largest first.
    Its own sheet: never added to revenue at risk."""
    p = run.params
    lost = run.read_table("revenue_lost", columns=("accounts_lost_12m", "revenue_lost_12m", "dormant_accounts",
                                                   "lapsed_accounts", "history_complete", "note")).iloc[0]
    said = describe_revenue_lost(lost, p.client.currency, style=money_style("kpi_dashboard"))
    ws = wb.create_sheet("Lost accounts")
    title_block(ws, kpi_label("revenue_lost_12m", short=True),
                f"{said[:1].upper()}{said[1:]}; not part of revenue at risk, which is for accounts still active")
    rows = [(kpi_label("revenue_lost_12m"), lost["revenue_lost_12m"], money),
            (kpi_label("accounts_lost_12m"), int(lost["accounts_lost_12m"]), FMT["int"])]
    for i, (label, value, fmt) in enumerate(rows):
        cell = write_cell(ws, 4 + i, 1, label)
        cell.font, cell.alignment = Font(bold=True), Alignment(wrap_text=True, vertical="top")
        write_cell(ws, 4 + i, 2, value, number_format=fmt).alignment = Alignment(vertical="top")
        ws.row_dimensions[4 + i].height = 30 if len(label) > 44 else 15
    text = (f"Accounts lost: {describe_lost_split(lost, churn_days=p.analysis.churn_days)}. Revenue already lost = "
            "what each bought in the 12 months up to its last order, returns netted off.")
    if not bool(lost["history_complete"]):
        text += f" A lower bound: {lost['note']}."
    write_cell(ws, 7, 1, text).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=7, start_column=1, end_row=8, end_column=6)
    ws.row_dimensions[7].height = 30
    accts = run.read_table("lost_accounts", columns=("account_id", "last_order_date", "days_since_last_order",
                                                     "lifecycle", "revenue_lost_12m"))
    if len(accts):
        names = run.account_display_names() if run.has_data("accounts") else pd.Series(dtype=object)
        accts = accts.sort_values(["revenue_lost_12m", "account_id"], ascending=[False, True])
        ids = accts["account_id"].astype(str)
        accts.insert(1, "account", ids.map(names).fillna(ids))
        accts["lifecycle"] = accts["lifecycle"].astype(str).str.capitalize()
        shown = accts.head(max(p.review.dashboard_at_risk_rows * 4, 100))
        write_cell(ws, 10, 1, f"Largest revenue already lost first: the {fmt_top(len(shown), len(accts))} accounts "
                   "lost").font = Font(bold=True)
        one_segment = "segment" in shown and accts["segment"].nunique() <= 1  # all 'inactive': says nothing
        cols = [c for c in ("account_id", "account", "segment", "lifecycle", "last_order_date",
                            "days_since_last_order", "revenue_lost_12m") if c in shown
                and not (c == "segment" and one_segment)]
        write_frame(ws, shown[cols], start_row=11, formats={"last_order_date": "date", "days_since_last_order": "int",
                                                            "revenue_lost_12m": money},
                    headers={**_HEADERS, "lifecycle": "Status", "last_order_date": "Last order",
                             "days_since_last_order": "Days since",
                             "revenue_lost_12m": kpi_label("revenue_lost_12m", short=True)}, table="LostAccounts",
                    freeze=False)
    autofit_columns(ws, skip_rows=[1, 2, 7, 10])
    ws.column_dimensions["A"].width = 44


# the three test probabilities of the impact estimate, in words (the method note keeps the statistics' names)
_P_EFFECT = "Probability of an effect this large by chance alone"
_P_PRETREND = "Pre-programme check: probability the groups moved in parallel (low = already diverging)"
_P_PLACEBO = "Placebo check: probability of the fake-start effect by chance (low = a warning)"


def _operating_sheets(wb: Workbook, run) -> None:
    """Who owns each programme KPI and the dated operating rhythm of the next 12 months."""
    own = run.read_table("kpi_ownership")
    if len(own):
        df = own.assign(label=[kpi_label(k) if k in KPI_DEFINITIONS else lab for k, lab in zip(own["kpi"], own["label"])])
        _detail(wb, "KPI owners", "Who owns each programme KPI", "Owner and review cadence of every KPI the "
                "programme tracks", df[[c for c in ("label", "owner", "review") if c in df]],
                formats={}, headers={"label": "KPI", "owner": "Owner", "review": "Reviewed"}, table="KpiOwners")
    cal = run.read_table("operating_calendar")
    if len(cal):
        _detail(wb, "Operating calendar", "Operating rhythm of the next 12 months",
                "Every dated review and report, its owner and audience",
                cal[[c for c in ("date", "activity", "frequency", "owner", "audience", "kpis") if c in cal]],
                formats={"date": "date"}, headers={"date": "Date", "activity": "Activity", "frequency": "Frequency",
                                                   "owner": "Owner", "audience": "Audience", "kpis": "KPIs"},
                table="OperatingCalendar")


def _about_sheet(wb: Workbook, run, notes: list[str]) -> None:
    p = run.params
    ws = wb.create_sheet("About")
    title_block(ws, "About this dashboard", f"{p.engagement.title} · {p.engagement.consultant}")
    rows = [("Client", p.client.name), ("As-of date", fmt_date(p.analysis.as_of_date)),
            ("Programme start", fmt_date(p.analysis.programme_start) if p.analysis.programme_start else "not set"),
            ("Period", p.analysis.period),
            ("Currency", p.client.currency), ("RAG amber threshold (shortfall vs target)", p.thresholds.rag.amber),
            ("RAG red threshold (shortfall vs target)", p.thresholds.rag.red)]
    fmts = {f"Target: {kpi_label(k)}": _unit_format(kpi_unit(k), p.client.currency) for k in p.targets}
    rows += [(f"Target: {kpi_label(k)}", v) for k, v in p.targets.items()]
    write_cell(ws, 4, 1, "Setting")
    write_cell(ws, 4, 2, "Value")
    style_header_row(ws, 4, 1, 2)
    for i, (k, v) in enumerate(rows):
        write_cell(ws, 5 + i, 1, k)
        # a target in its KPI's unit (85.0%, €450), as the tiles show it, not 0.85
        write_cell(ws, 5 + i, 2, v, number_format=FMT["pct"] if "threshold" in k else fmts.get(k))
    r = 7 + len(rows)
    write_cell(ws, r, 1, "Notes on the data").font = Font(bold=True, color=active_theme().primary)
    for i, n in enumerate(notes or ["Every section had its data."]):
        write_cell(ws, r + 1 + i, 1, n)
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 40
