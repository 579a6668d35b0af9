"""The segmentation workbook (.xlsx) the client receives, built from the run folder's tables.

Sheets: README (what each sheet is, date, parameters), Accounts (an Excel table of every
account with scores, quadrant, RFM, cluster, CLV, P(alive), and a drop-down override
column with a reason column for the client's feedback), Summary (quadrant profiles with
native charts), Portfolio matrix (the 2×2 and a native scatter), RFM, Clusters, CLV,
Weights & parameters, Overrides log and Data quality.

Every number comes from a table the segmentation phase wrote; every client string is
written as text through :func:`~kam_analysis.deliverables._xlsx.write_cell`.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.formatting.rule import ColorScaleRule, DataBarRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.datavalidation import DataValidation

from ..data.orders import order_rule_client
from ..metrics import kpi_label
from ..present.formats import fmt_share
from ..metrics.capability import NOT_BY_QUADRANT, SUPPORT_WORDS, Capability
from ..present.labels import P_ALIVE, client_words, input_label, label, labels
from ..present.theme import active_theme
from . import _xlsx_stream
from ._matrix_chart import matrix_chart
from ._xlsx import (FMT, THIN, autofit_columns, save_workbook, set_workbook_properties,
                    stored_rows, title_block, write_cell, write_frame)

__all__ = ["build_segmentation_workbook", "WORKBOOK_SHEETS"]

WORKBOOK_SHEETS = {
    "README": "This page: what the workbook contains, the date and the key parameters.",
    "Accounts": "Every account: selection score and its parts, portfolio quadrant, stability, RFM segment, "
                "cluster, predicted CLV and the chance it is still active. Filter and sort freely. Use the last two columns to "
                "propose a different quadrant and say why.",
    "Summary": "One row per portfolio quadrant: accounts, revenue and profit share, behaviour, engagement intent.",
    "Portfolio matrix": "The KAM portfolio matrix (attractiveness x relative strength) and every account on it.",
    "RFM": "Recency-frequency-monetary segments: size, value and the recency x frequency grid.",
    "Clusters": "Behavioural clusters found in the data, their profile and how the number was chosen.",
    "CLV": "Predictive customer lifetime value: model parameters, the holdout check and CLV by quadrant.",
    "Weights & parameters": "The criteria and weights behind both matrix axes and every setting used.",
    "Overrides log": "Every consultant override of the data's quadrant, with its reason.",
    "Data quality": "Data problems found on loading and which analyses the data supports.",
    "Account plans": "Every key account's plan, one row per action: situation, objective, action, owner, due date "
                     "and target. The header is in row 1 and nothing is merged, so the sheet imports into a CRM as "
                     "tasks.",
}
#: what the sheets that split or name quadrants show on a base too small for the portfolio matrix
NO_MATRIX_SHEETS = {
    "Accounts": "Every account: selection score and its parts, coverage tier, RFM segment, cluster, predicted CLV "
                "and the chance it is still active. Filter and sort freely.",
    "Summary": "Why there is no summary by portfolio quadrant, and what would unlock it.",
    "Portfolio matrix": "Why there is no portfolio matrix, and what would unlock it.",
    "CLV": "Predictive customer lifetime value: model parameters, the holdout check and the highest CLVs.",
    "Overrides log": "Why there is no quadrant to override.",
}



def _pin_at_zero(ch, values=()) -> None:
    """A bar chart's value axis starts at 0 (LibreOffice may start it near the smallest bar, which
    draws 133 as a third of 156), unless a plotted value is negative; counts and means are never."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not vals or min(vals) >= 0:
        ch.y_axis.scaling.min = 0


def _yes_no(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "Yes" if bool(v) else "No")


def _quote(text: str) -> str:
    """A string literal for an Excel formula (quotes doubled)."""
    return '"' + str(text).replace('"', '""') + '"'


def _note(ws, row: int, text: str, *, col: int = 1, italic: bool = True) -> int:
    c = write_cell(ws, row, col, text)
    c.font = Font(italic=italic, size=9, color=active_theme().muted)
    return row + 1


def _section(ws, row: int, text: str, *, col: int = 1) -> int:
    c = write_cell(ws, row, col, text)
    c.font = Font(bold=True, size=12, color=active_theme().primary)
    return row + 1


def _frame(ws, df: pd.DataFrame, **kw) -> tuple[int, int]:
    """write_frame, with a taller header row when a header will wrap."""
    last = write_frame(ws, df, **kw)
    headers = kw.get("headers") or {}
    if any(len(str(headers.get(c, c))) > 14 for c in df.columns):
        ws.row_dimensions[kw.get("start_row", 1)].height = 30
    return last


def _colour_series(chart, colours: list[str]) -> None:
    """House colours for a bar chart's series (in order)."""
    for s, colour in zip(chart.series, colours):
        s.graphicalProperties.solidFill = colour
        s.graphicalProperties.line.solidFill = colour


def _fit(ws, title_rows=(1, 2), **kw) -> None:
    autofit_columns(ws, skip_rows=title_rows, **kw)


def _clv_basis(run) -> str:
    """The value basis the CLV was given in (segmentation_settings: revenue when the data has no margin)."""
    st = run.read_table("segmentation_settings")
    if st is not None and {"setting", "value"} <= set(st.columns):
        hit = st.loc[st["setting"] == "clv_value_basis", "value"]
        if len(hit):
            return str(hit.iloc[0])
    return run.params.segmentation.clv.value_basis


# --------------------------------------------------------------------------- sheets
def _readme(ws, run, ctx) -> None:
    p = run.params
    row = title_block(ws, "Account segmentation workbook",
                      f"{p.client.name} · {p.engagement.title} · prepared by {p.engagement.consultant}")
    facts = [("Client", p.client.name), ("Date", ctx["date"]), ("Data as of", p.analysis.as_of_date),
             ("Accounts", ctx["n_accounts"]),
             (kpi_label("key_accounts_selected", short=True), ctx["n_key"]),
             ("Currency", p.client.currency)]
    for k, v in facts:
        write_cell(ws, row, 1, k).font = Font(bold=True)
        write_cell(ws, row, 2, v, number_format=FMT["date"] if isinstance(v, dt.date) else
                   (FMT["int"] if isinstance(v, int) else None)).alignment = Alignment(horizontal="left")
        row += 1
    if ctx.get("accounts_file"):
        shown, total, excel = ctx["accounts_file"]
        row = _note(ws, row, f"The Accounts sheet lists the {shown:,} accounts with the best selection score of "
                             f"{total:,} ({_full_list_note(total, excel=excel)}).", italic=False)
    row += 1
    row = _section(ws, row, "What each sheet shows")
    shows = {**WORKBOOK_SHEETS, **(NO_MATRIX_SHEETS if ctx["no_quadrants"] else {})}
    sheets = pd.DataFrame({"Sheet": list(shows), "What it shows": list(shows.values())})
    last, _ = _frame(ws, sheets, start_row=row, table="ReadmeSheets", style="TableStyleLight9", freeze=False)
    for r in range(row + 1, last + 1):
        ws.cell(r, 2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(r, 1).alignment = Alignment(vertical="top")
        if len(str(ws.cell(r, 2).value or "")) > 105:
            ws.row_dimensions[r].height = 30
    row = last + 2
    row = _section(ws, row, "How the segmentation was made")
    for line in [x for x in [
        "Only live accounts (an order in the last "
        f"{p.analysis.churn_days} days) are scored and placed on the matrix; the others are "
        f"'{p.segmentation.key_accounts.tier_names.inactive}', a group of their own.",
        "Selection score (0-1) = weighted sum of criteria on value, growth potential and strategic importance, "
        f"each scaled 0-1 by {p.segmentation.normalisation} rank among live accounts. Key accounts = the live "
        "accounts whose revenue can carry a dedicated manager, best score first, as many as the managers can "
        "serve (see 'Weights & parameters').",
        "Portfolio matrix: account attractiveness (= selection score) x relative strength of the relationship "
        "(NPS, CSAT, tenure, category breadth, order regularity). Thresholds: see 'Weights & parameters'.",
        "Stability = share of Monte Carlo draws of perturbed weights in which the account keeps its quadrant.",
        "CLV = BG/NBD expected orders x Gamma-Gamma expected order value over "
        f"{p.segmentation.clv.horizon_months} months, discounted at {p.segmentation.clv.annual_discount_rate:.0%} "
        f"a year, in {_clv_basis(run).replace('_', ' ')}.",
        "To propose a different quadrant for an account, pick it in 'Your override' on the Accounts sheet and "
        "give a reason in 'Your reason'; the consultant applies it in the next run and logs it.",
    ] if not (ctx["no_quadrants"] and "quadrant" in x)] + [ctx["no_quadrants"]] * bool(ctx["no_quadrants"]):
        c = write_cell(ws, row, 1, "• " + line)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[row].height = 30 if len(line) > 130 else 16
        row += 1
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 110
    ws.sheet_view.showGridLines = False


def _accounts(ws, run, ctx) -> None:
    seg = ctx["segments"]
    acc = run.read_data("accounts") if run.has_data("accounts") else pd.DataFrame({"account_id": seg["account_id"]})
    acc = acc.assign(account_id=acc["account_id"].astype(str))
    names = run.account_display_names()
    cur = run.params.client.currency
    df = pd.DataFrame({"account_id": seg["account_id"].astype(str)})
    df["account"] = df["account_id"].map(names).fillna(df["account_id"])
    show_attrs = not run.params.output.pseudonymise
    for c, h in (("region", "Region"), ("segment", "Customer type"), ("account_manager", "Account manager")):
        if c in acc and (show_attrs or c != "account_manager"):
            df[c] = df["account_id"].map(acc.set_index("account_id")[c])
    df["is_key"] = _yes_no(seg["is_key"])
    quadrants = not ctx["no_quadrants"]  # a base too small for the matrix: no quadrant to show or override
    for c in ("coverage_tier", "selection_rank", "selection_score", "score_value", "score_growth", "score_strategic",
              "relative_strength", "quadrant_model", "quadrant", "override_reason", "stability", "rfm_segment",
              "rfm_score", "cluster", "cluster_label", "revenue_12m", "gross_margin_12m", "clv", "p_alive",
              "expected_purchases"):
        if c in seg and (quadrants or c not in ("quadrant_model", "quadrant", "override_reason", "stability")):
            df[c] = seg[c].to_numpy()
    if "currently_key" in seg:
        df["currently_key"] = _yes_no(seg["currently_key"])
    if quadrants:  # the client's feedback columns
        df["your_override"] = df["your_reason"] = None
    headers = {"account_id": "Account ID", "account": "Account", "region": "Region", "segment": "Customer type",
               "account_manager": "Account manager", "is_key": "Key account", "coverage_tier": "Coverage tier",
               "selection_rank": "Rank",
               "selection_score": "Selection score", "score_value": "Value", "score_growth": "Growth",
               "score_strategic": "Strategic", "relative_strength": "Relative strength",
               "quadrant_model": "Quadrant (data)", "quadrant": "Quadrant", "override_reason": "Override reason",
               "stability": "Stability", "rfm_segment": "RFM segment", "rfm_score": "RFM score",
               "cluster": "Cluster", "cluster_label": "Cluster profile", "revenue_12m": f"Revenue 12m ({cur})",
               "gross_margin_12m": f"Gross margin 12m ({cur})", "clv": f"Predicted CLV ({cur})",
               "p_alive": P_ALIVE, "expected_purchases": "Expected orders",
               "currently_key": "In client's KAM programme", "your_override": "Your override",
               "your_reason": "Your reason"}
    formats = {"selection_rank": "int", "selection_score": "dec3", "score_value": "dec3", "score_growth": "dec3",
               "score_strategic": "dec3", "relative_strength": "dec3", "stability": "0%", "cluster": "0",
               "revenue_12m": "money", "gross_margin_12m": "money", "clv": "money", "p_alive": "0%",
               "expected_purchases": "dec1", "account_id": "text", "rfm_score": "text"}
    df = df.sort_values("selection_rank", kind="stable") if "selection_rank" in df else df
    excel_room = _xlsx_stream.EXCEL_MAX_ROWS - 4  # the title, subtitle and blank row above the header, and the header
    room = min(excel_room, run.params.output.workbook_accounts)
    if len(df) > room:  # beyond Excel's last row or the set size: the best-scored accounts here, all in a CSV file
        full = run.deliverable_path(f"{run.params.slug}_accounts.csv")
        _full_list_csv(df.drop(columns=["your_override", "your_reason"], errors="ignore"), headers, full)
        ctx["accounts_file"] = (room, len(df), room == excel_room)
        sub = (f"The {room:,} accounts with the best selection score of {len(df):,} "
               f"({_full_list_note(len(df), excel=room == excel_room)}) · "
               "filters on every column" + (" · propose changes in the last two columns" if quadrants else ""))
        df = df.head(room)
    else:
        sub = (f"{len(df):,} accounts · sorted by selection score · filters on every column" +
               (" · propose changes in the last two columns" if quadrants else f" · {ctx['no_quadrants_brief']}"))
    row = title_block(ws, "Accounts", sub)
    last_row, last_col = _frame(ws, df, start_row=row, formats=formats, headers=headers, table="Accounts",
                                     style="TableStyleMedium2", stream=True)
    first = row + 1
    col = {c: get_column_letter(i + 1) for i, c in enumerate(df.columns)}
    rng = lambda c: f"{col[c]}{first}:{col[c]}{last_row}"  # noqa: E731
    th = active_theme()
    low, mid, high = th.rag_scale()
    green_scale = ColorScaleRule(start_type="num", start_value=0, start_color=low, mid_type="num",
                                 mid_value=0.5, mid_color=mid, end_type="num", end_value=1, end_color=high)
    for c in ("selection_score", "relative_strength", "stability", "p_alive"):
        if c in col:
            ws.conditional_formatting.add(rng(c), green_scale)
    for c in ("score_value", "score_growth", "score_strategic"):
        if c in col:
            low, high = th.sequential_scale()
            ws.conditional_formatting.add(rng(c), ColorScaleRule(start_type="min", start_color=low, end_type="max",
                                                                 end_color=high))
    for c in ("clv", "revenue_12m"):
        if c in col:
            ws.conditional_formatting.add(rng(c), DataBarRule(start_type="min", end_type="max", color=active_theme().accent))
    for c in ("quadrant", "quadrant_model"):
        if c in col:
            for q, fill in active_theme().quadrant_fills(ctx["names"]).items():
                ws.conditional_formatting.add(rng(c), FormulaRule(
                    formula=[f"${col[c]}{first}={_quote(q)}"], fill=PatternFill("solid", bgColor=fill)))
    if "rfm_segment" in col:
        for seg_name, tone in ctx["rfm_tones"].items():
            if th.tone_fill(tone):
                ws.conditional_formatting.add(rng("rfm_segment"), FormulaRule(
                    formula=[f"${col['rfm_segment']}{first}={_quote(seg_name)}"],
                    fill=PatternFill("solid", bgColor=th.tone_fill(tone))))
    if "cluster" in col:
        for k in sorted(set(pd.to_numeric(df["cluster"], errors="coerce").dropna().astype(int))):
            for c in ("cluster", "cluster_label"):
                ws.conditional_formatting.add(rng(c), FormulaRule(
                    formula=[f"${col['cluster']}{first}={k}"],
                    fill=PatternFill("solid", bgColor=th.category_fills[(k - 1) % len(th.category_fills)])))
    for c in ("is_key", "currently_key", "cluster", "rfm_score", "selection_rank"):
        if c in col:
            j = df.columns.get_loc(c) + 1
            for r in stored_rows(ws, first, last_row):  # the streamed rows repeat the last one's style
                ws.cell(r, j).alignment = Alignment(horizontal="center")
    ws.freeze_panes = ws.cell(row=first, column=3)
    _fit(ws, max_width=48)
    ws.row_dimensions[row].height = 32
    ws.auto_filter.ref = None  # the table carries its own filter
    if not quadrants:
        return
    # the client's feedback columns: a drop-down of quadrant names and free text
    dv = DataValidation(type="list", formula1=ctx["quadrant_list_ref"], allow_blank=True, showDropDown=False,
                        error="Choose one of the four quadrant names", errorTitle="Quadrant", showErrorMessage=True,
                        prompt="Propose a different quadrant for this account", promptTitle="Your override",
                        showInputMessage=True)
    ws.add_data_validation(dv)
    dv.add(rng("your_override"))
    for c in ("your_override", "your_reason"):
        ws.cell(row, df.columns.get_loc(c) + 1).fill = PatternFill("solid", fgColor=active_theme().accent)
    ws.column_dimensions[col["your_override"]].width = 16
    ws.column_dimensions[col["your_reason"]].width = 40


def _full_list_note(total: int, *, excel: bool = True) -> str:
    """What a sheet cut at Excel's last row (``excel``) or at the set workbook size says about the
    rest, in client language (no file name: the user guide names the file,
    ``<client>_accounts.csv`` beside the workbook)."""
    why = (f"an Excel sheet holds {_xlsx_stream.EXCEL_MAX_ROWS:,} rows" if excel else
           "the workbook keeps the best-scored accounts so it opens quickly and can be sent")
    return (f"{why}; the full list of {total:,} accounts, with the same columns, is delivered as a data file "
            "alongside this workbook")


def _full_list_csv(df: pd.DataFrame, headers: dict, path: Path) -> None:
    """Every account, with the Accounts sheet's column names, as a CSV file beside the workbook."""
    from ..data.runfolder import _csv_bytes  # the run folder's CSV writer (Arrow, RFC 4180)
    from ..safety import neutralise_frame_for_csv

    out = neutralise_frame_for_csv(df.rename(columns=headers))
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_bytes(_csv_bytes(out))
    tmp.replace(path)


def _summary(ws, run, ctx) -> None:
    prof = ctx["profiles"]
    cur = run.params.client.currency
    if ctx["no_quadrants"]:  # a base too small for the matrix: no quadrant to summarise, and why
        _note(ws, title_block(ws, "Segment summary", "By portfolio quadrant"), ctx["no_quadrants"], italic=False)
        ws.column_dimensions["A"].width = 120
        return
    row = title_block(ws, "Segment summary", "One row per portfolio quadrant · revenue and profit over the last "
                      "12 months · profit = gross margin less cost to serve")
    value_cols = [c for c in ("segment", "accounts", "key_accounts", "account_share", "revenue_12m",
                              "revenue_share", "profit_12m", "profit_share", "clv_total", "intent") if c in prof]
    behaviour_cols = [c for c in ("segment", "avg_revenue_12m", "avg_orders_12m", "median_recency_days",
                                  "avg_tenure_years", "avg_categories", "nps_mean", "avg_p_alive", "avg_stability",
                                  "top_rfm_segment", "top_cluster") if c in prof]
    headers = {"segment": "Quadrant", "accounts": "Accounts", "key_accounts": "Key accounts",
               "account_share": "Share of accounts", "revenue_12m": f"Revenue 12m ({cur})",
               "revenue_share": kpi_label("revenue_share", short=True), "profit_12m": f"Profit 12m ({cur})",
               "profit_share": "Share of profit", "avg_revenue_12m": f"Avg revenue / account ({cur})",
               "avg_orders_12m": "Avg orders 12m", "median_recency_days": "Median days since last order",
               "avg_tenure_years": "Avg tenure (years)", "avg_categories": "Avg categories",
               "nps_mean": "Avg NPS score (0-10)", "clv_total": f"Predicted CLV ({cur})",
               "avg_p_alive": f"Avg {P_ALIVE.lower()}", "avg_stability": "Avg stability",
               "top_rfm_segment": "Most common RFM segment", "top_cluster": "Most common cluster",
               "intent": "Engagement intent"}
    formats = {"accounts": "int", "key_accounts": "int", "account_share": "pct", "revenue_12m": "money",
               "revenue_share": "pct", "profit_12m": "money", "profit_share": "pct", "avg_revenue_12m": "money",
               "avg_orders_12m": "dec1", "median_recency_days": "int", "avg_tenure_years": "dec1",
               "avg_categories": "dec1", "nps_mean": "dec1", "clv_total": "money", "avg_p_alive": "pct",
               "avg_stability": "pct"}
    row = _section(ws, row, "Size, value and engagement intent")
    last, _ = _frame(ws, prof[value_cols], start_row=row, formats=formats, headers=headers, table="SegmentSummary",
                     freeze=False)
    ws.row_dimensions[row].height = 32
    r2 = _section(ws, last + 2, "Typical behaviour")
    last2, _ = _frame(ws, prof[behaviour_cols], start_row=r2, formats=formats, headers=headers,
                      table="SegmentBehaviour", freeze=False)
    ws.row_dimensions[r2].height = 45
    _fit(ws, max_width=16, title_rows=(1, 2, row - 1, r2 - 1))
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions[get_column_letter(value_cols.index("intent") + 1)].width = 62
    for r in range(row + 1, last + 1):  # explicit heights: LibreOffice grows no row for wrapped text
        c = ws.cell(r, value_cols.index("intent") + 1)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[r].height = 15 * max(1, -(-len(str(c.value or "")) // 58))
    cols = value_cols
    # chart: share of accounts vs share of revenue and profit per quadrant
    ch = BarChart()
    ch.type = "col"
    ch.title = "Share of accounts, revenue and profit by quadrant"
    ch.y_axis.title = "Share"
    ch.y_axis.numFmt = "0%"
    ch.y_axis.majorGridlines = None
    cats = Reference(ws, min_col=1, min_row=row + 1, max_row=last)
    for c in ("account_share", "revenue_share", "profit_share"):
        if c in cols:
            j = cols.index(c) + 1
            ch.add_data(Reference(ws, min_col=j, min_row=row, max_row=last), titles_from_data=True)
    ch.set_categories(cats)
    _pin_at_zero(ch, [ws.cell(r, cols.index(c) + 1).value for c in ("account_share", "revenue_share", "profit_share")
                      if c in cols for r in range(row + 1, last + 1)])
    _colour_series(ch, active_theme().series[:2] + [active_theme().highlight])
    ch.x_axis.tickLblPos = "low"  # category names below negative profit bars
    ch.height, ch.width = 8, 16
    ch.y_axis.delete = False
    ch.x_axis.delete = False
    ch.legend.position = "b"
    ws.add_chart(ch, f"A{last2 + 3}")
    ch2 = BarChart()
    ch2.type = "bar"
    ch2.title = "Accounts by quadrant (key accounts)"
    ch2.x_axis.title = None
    for c in ("accounts", "key_accounts"):
        j = cols.index(c) + 1
        ch2.add_data(Reference(ws, min_col=j, min_row=row, max_row=last), titles_from_data=True)
    ch2.set_categories(cats)
    _pin_at_zero(ch2)
    _colour_series(ch2, [active_theme().extra[0], active_theme().primary])
    ch2.dataLabels = DataLabelList()
    ch2.dataLabels.showVal = True
    ch2.dataLabels.showSerName = False
    ch2.dataLabels.showCatName = False
    ch2.dataLabels.showLegendKey = False
    ch2.height, ch2.width = 8, 14
    ch2.y_axis.delete = False
    ch2.x_axis.delete = False
    ch2.y_axis.majorGridlines = None
    ch2.legend.position = "b"
    ws.add_chart(ch2, f"G{last2 + 3}")


def _matrix(ws, run, ctx, data_ws) -> None:
    refused = Capability.of(run).refusal("portfolio_matrix")  # below its minimum size: the reason, no matrix
    if refused:
        _note(ws, title_block(ws, "KAM portfolio matrix", "Account attractiveness x relative strength"), refused,
              italic=False)
        return
    prof = ctx["profiles"].set_index("segment")
    names = ctx["names"]
    seg = ctx["segments"]
    row = title_block(ws, "KAM portfolio matrix", "Account attractiveness (selection score) x relative strength "
                      "of the relationship · McDonald & Rogers / Cranfield")
    thin = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
    # layout: row labels in A, two boxes in B and C
    write_cell(ws, row, 2, "Low relative strength").font = Font(bold=True, color=active_theme().muted)
    write_cell(ws, row, 3, "High relative strength").font = Font(bold=True, color=active_theme().muted)
    grid = [(names[1], names[0]), (names[3], names[2])]
    for i, (left, right) in enumerate(grid):
        r = row + 1 + i
        lab = write_cell(ws, r, 1, "High attractiveness" if i == 0 else "Low attractiveness")
        lab.font = Font(bold=True, color=active_theme().muted)
        lab.alignment = Alignment(vertical="center", wrap_text=True)
        for j, q in enumerate((left, right)):
            p = prof.loc[q] if q in prof.index else None
            lines = [q]
            if p is not None:
                lines += [f"{int(p['accounts']):,} accounts ({int(p.get('key_accounts', 0)):,} key)",
                          f"{fmt_share(p['revenue_share'])} of revenue · "
                          + (f"{fmt_share(p['profit_share'])} of profit" if pd.notna(p.get("profit_share")) else
                             "profit n/a"),
                          str(p.get("intent", ""))]
            c = write_cell(ws, r, 2 + j, "\n".join(lines))
            c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
            c.fill = PatternFill("solid", fgColor=active_theme().quadrant_fills(names)[q])
            c.border = thin
            c.font = Font(size=11, color=active_theme().primary)
        ws.row_dimensions[r].height = 96
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 46
    ws.column_dimensions["C"].width = 46
    note = matrix_chart(ws, data_ws, seg, names, anchor=f"A{row + 4}")
    if note:  # a large portfolio: which accounts the chart shows, of how many
        _note(ws, row + 3, note)
    ws.sheet_view.showGridLines = False


def _rfm(ws, run, ctx) -> None:
    prof = run.read_table("rfm_profiles")
    cur = run.params.client.currency
    row = title_block(ws, "RFM segments", "Recency, frequency and monetary scores by quantile (5 = best) · "
                      "segment names from the recency x frequency grid")
    if prof is None:
        _note(ws, row, "No RFM table in this run.")
        return
    headers = {"rfm_segment": "RFM segment", "accounts": "Accounts", "account_share": "Share of accounts",
               "revenue_12m": f"Revenue 12m ({cur})", "revenue_share": kpi_label("revenue_share", short=True), "r_score": "Avg R",
               "f_score": "Avg F", "m_score": "Avg M", "median_orders": "Median orders",
               "median_recency_days": "Median days since last order", "description": "What it means"}
    formats = {"accounts": "int", "account_share": "pct", "revenue_12m": "money", "revenue_share": "pct",
               "r_score": "dec1", "f_score": "dec1", "m_score": "dec1", "median_orders": "int",
               "median_recency_days": "int"}
    last, _ = _frame(ws, prof, start_row=row, formats=formats, headers=headers, table="RFMSegments")
    first = row + 1
    for r in range(first, last + 1):
        tone = ctx["rfm_tones"].get(ws.cell(r, 1).value)
        if active_theme().tone_fill(tone):
            ws.cell(r, 1).fill = PatternFill("solid", fgColor=active_theme().tone_fill(tone))
    ws.conditional_formatting.add(f"E{first}:E{last}", DataBarRule(start_type="num", start_value=0,
                                                                    end_type="max", color=active_theme().accent))
    ws.row_dimensions[row].height = 32
    # the R x F grid
    seg = ctx["segments"]
    bins = run.params.segmentation.rfm.bins
    grid = pd.crosstab(seg["r_score"], seg["f_score"]).reindex(index=range(bins, 0, -1),
                                                               columns=range(1, bins + 1)).fillna(0).astype(int)
    r = last + 3
    r = _section(ws, r, "Accounts by recency score (rows, 5 = most recent) and frequency score (columns)")
    write_cell(ws, r, 1, "R \\ F").font = Font(bold=True)
    for j, f in enumerate(grid.columns):
        write_cell(ws, r, 2 + j, f"F = {f}").font = Font(bold=True)
    for i, rs in enumerate(grid.index):
        write_cell(ws, r + 1 + i, 1, f"R = {rs}").font = Font(bold=True)
        for j, f in enumerate(grid.columns):
            c = write_cell(ws, r + 1 + i, 2 + j, int(grid.loc[rs, f]), number_format=FMT["int"])
            c.alignment = Alignment(horizontal="center")
            c.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
    ref = f"B{r + 1}:{get_column_letter(1 + bins)}{r + bins}"
    low, high = active_theme().sequential_scale()
    ws.conditional_formatting.add(ref, ColorScaleRule(start_type="min", start_color=low, end_type="max", end_color=high))
    _fit(ws, max_width=70)


def _clusters(ws, run, ctx) -> None:
    from ..phases.segmentation import FEATURE_LABELS

    prof = run.read_table("cluster_profiles")
    sil = run.read_table("cluster_silhouette")
    cur = run.params.client.currency
    row = title_block(ws, "Behavioural clusters", "k-means on standardised account behaviour · the number of "
                      "clusters with the best silhouette is kept · z = standard deviations from the average")
    if prof is None:
        _note(ws, row, "No cluster table in this run.")
        return
    keep = ["cluster", "cluster_label", "accounts", "account_share", "revenue_12m", "revenue_share"]
    headers = {"cluster": "Cluster", "cluster_label": "Profile", "accounts": "Accounts",
               "account_share": "Share of accounts", "revenue_12m": f"Revenue 12m ({cur})",
               "revenue_share": kpi_label("revenue_share", short=True)}
    formats = {"cluster": "0", "accounts": "int", "account_share": "pct", "revenue_12m": "money",
               "revenue_share": "pct"}
    last, _ = _frame(ws, prof[keep], start_row=row, formats=formats, headers=headers, table="Clusters",
                          freeze=False)
    row = last + 2
    # feature profiles, one column per cluster: the average value and the z-score
    means = [c for c in prof.columns if c.startswith("mean_")]
    zs = [c for c in prof.columns if c.startswith("z_")]
    heads = [f"{int(k)}. {lab}" for k, lab in zip(prof["cluster"], prof["cluster_label"])]
    for block, cols, title, strip in (("ClusterMeans", means, "Average value per cluster", 5),
                                      ("ClusterZ", zs, "Distance from the average account, in standard deviations "
                                                       "(z-score; red = above, blue = below)", 2)):
        if not cols:
            continue
        row = _section(ws, row, title)
        feats = [c[strip:] for c in cols]
        t = pd.DataFrame({"feature": [FEATURE_LABELS.get(f, (f,))[0] for f in feats]})
        for j, h in enumerate(heads):
            t[f"c{j}"] = prof[cols].iloc[j].to_numpy(dtype=float)
        hdr = {"feature": "Feature", **{f"c{j}": h for j, h in enumerate(heads)}}
        last, lastc = _frame(ws, t, start_row=row, headers=hdr, table=block, freeze=False,
                                  formats={f"c{j}": ("0.0;-0.0" if block == "ClusterZ" else "#,##0.00")
                                           for j in range(len(heads))})
        if block == "ClusterZ":
            low, mid, high = active_theme().diverging_scale()
            ws.conditional_formatting.add(f"B{row + 1}:{get_column_letter(lastc)}{last}", ColorScaleRule(
                start_type="num", start_value=-1.5, start_color=low, mid_type="num", mid_value=0,
                mid_color=mid, end_type="num", end_value=1.5, end_color=high))
        ws.row_dimensions[row].height = 30
        row = last + 2
    last = row - 2
    r = last + 3
    if sil is not None and len(sil):
        r = _section(ws, r, "How many clusters? Mean silhouette by k (higher = better separated)")
        s = sil.assign(chosen=_yes_no(sil["chosen"]))
        l2, _ = _frame(ws, s, start_row=r, formats={"k": "0", "silhouette": "dec3"},
                            headers={"k": "k", "silhouette": "Silhouette", "chosen": "Chosen"},
                            table="ClusterSilhouette", freeze=False)
        ch = BarChart()
        ch.title = "Silhouette by number of clusters"
        ch.add_data(Reference(ws, min_col=2, min_row=r, max_row=l2), titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=1, min_row=r + 1, max_row=l2))
        _colour_series(ch, [active_theme().accent])
        _pin_at_zero(ch, s["silhouette"].tolist())
        ch.x_axis.title = "Number of clusters (k)"
        ch.y_axis.title = "Mean silhouette"
        ch.y_axis.numFmt = "0.00"
        ch.x_axis.delete = ch.y_axis.delete = False
        ch.legend = None
        ch.height, ch.width = 7, 12
        ws.add_chart(ch, f"E{r}")
    ws.freeze_panes = None
    _fit(ws, max_width=34)
    ws.column_dimensions["A"].width = 28


def _clv(ws, run, ctx) -> None:
    cur = run.params.client.currency
    params = run.read_table("clv_params")
    hold = run.read_table("clv_holdout")
    settings = ctx["settings"]
    row = title_block(ws, "Predictive customer lifetime value",
                      "BG/NBD (orders and drop-out) and Gamma-Gamma (order value), fitted by maximum likelihood "
                      "· Fader, Hardie & Lee (2005)")
    row = _note(ws, row, settings.get("clv_note", ""), italic=False) + 1
    meaning = {"r": "shape of order-rate heterogeneity", "alpha": "scale of order-rate heterogeneity (weeks)",
               "a": "drop-out probability: beta shape a", "b": "drop-out probability: beta shape b",
               "p": "shape of order-value variation within an account", "q": "shape of mean order value across "
               "accounts", "v": "scale of mean order value across accounts (gamma)",
               "log_likelihood": "log-likelihood at the estimate", "n_accounts": "accounts fitted",
               "horizon_months": "CLV horizon (months)", "annual_discount_rate": "annual discount rate",
               "time_unit_days": "model time unit (days)"}
    if params is not None and len(params):
        row = _section(ws, row, "Model parameters")
        p = params.assign(meaning=params["parameter"].map(meaning).fillna(""),
                          parameter=[x if "_" not in str(x) else label(x) for x in params["parameter"]])
        last, _ = _frame(ws, p, start_row=row, formats={"value": "#,##0.000"},
                         headers={"model": "Model", "parameter": "Parameter", "value": "Estimate",
                                  "meaning": "Meaning"}, table="CLVParameters", freeze=False)
        whole = {"n_accounts": FMT["int"], "horizon_months": FMT["int"], "time_unit_days": FMT["int"],
                 "annual_discount_rate": FMT["pct"]}  # 196,806 accounts, not 196,806.000
        for r, key in zip(range(row + 1, last + 1), params["parameter"]):
            ws.cell(r, 4).alignment = Alignment(indent=1)
            ws.cell(r, 3).number_format = whole.get(str(key), ws.cell(r, 3).number_format)
        row = last + 2
    if hold is not None and len(hold):
        row = _section(ws, row, f"Holdout check: actual vs predicted orders in the last "
                                f"{run.params.segmentation.clv.holdout_weeks} weeks (model fitted without them)")
        h0 = row
        last, _ = _frame(ws, hold, start_row=row, formats={"accounts": "int", "actual": "#,##0.00",
                                                                 "predicted": "#,##0.00", "error": "+0.00;-0.00"},
                              headers={"frequency_group": "Repeat orders in calibration", "accounts": "Accounts",
                                       "actual": "Actual (mean)", "predicted": "Predicted (mean)",
                                       "error": "Predicted - actual"}, table="CLVHoldout", freeze=False)
        ws.row_dimensions[h0].height = 30
        ch = BarChart()
        ch.title = "Holdout orders per account: actual vs predicted"
        n_groups = len(hold) - 1  # the last row is the total
        for j in (3, 4):
            ch.add_data(Reference(ws, min_col=j, min_row=h0, max_row=h0 + n_groups), titles_from_data=True)
        ch.set_categories(Reference(ws, min_col=1, min_row=h0 + 1, max_row=h0 + n_groups))
        _colour_series(ch, active_theme().series[:2])
        _pin_at_zero(ch)
        ch.x_axis.title = "Repeat orders in the calibration period"
        ch.y_axis.title = "Mean orders in holdout"
        ch.y_axis.numFmt = "0.0"
        ch.x_axis.delete = ch.y_axis.delete = False
        ch.legend.position = "b"
        ch.height, ch.width = 8, 14
        ws.add_chart(ch, f"G{h0}")
        row = max(last + 2, h0 + 17)
    seg = ctx["segments"]
    quadrants = not ctx["no_quadrants"]  # a base too small for the matrix: no CLV by quadrant
    if seg["clv"].notna().any() and quadrants:
        row = _section(ws, row, f"Predicted CLV by quadrant ({cur})")
        g = seg.groupby("quadrant")["clv"]
        by = pd.DataFrame({"quadrant": ctx["names"]})
        by["accounts_with_clv"] = by["quadrant"].map(g.count()).fillna(0).astype(int)
        by["clv_total"] = by["quadrant"].map(g.sum()).fillna(0.0)
        by["clv_mean"] = by["quadrant"].map(g.mean())
        by["clv_median"] = by["quadrant"].map(g.median())
        by["avg_p_alive"] = by["quadrant"].map(seg.groupby("quadrant")["p_alive"].mean())
        last, _ = _frame(ws, by, start_row=row, formats={"accounts_with_clv": "int", "clv_total": "money",
                                                               "clv_mean": "money", "clv_median": "money",
                                                               "avg_p_alive": "pct"},
                              headers={"quadrant": "Quadrant", "accounts_with_clv": "Accounts with a CLV",
                                       "clv_total": "Total CLV", "clv_mean": "Mean CLV", "clv_median": "Median CLV",
                                       "avg_p_alive": f"Avg {P_ALIVE.lower()}"}, table="CLVByQuadrant", freeze=False)
        row = last + 2
    if seg["clv"].notna().any():
        row = _section(ws, row, "Top 20 accounts by predicted CLV")
        names = run.account_display_names()
        top = seg.dropna(subset=["clv"]).sort_values("clv", ascending=False).head(20)
        top = pd.DataFrame({"account": top["account_id"].map(names).fillna(top["account_id"]).to_numpy(),
                            "quadrant": top["quadrant"].to_numpy(), "clv": top["clv"].to_numpy(),
                            "p_alive": top["p_alive"].to_numpy(),
                            "expected_purchases": top["expected_purchases"].to_numpy(),
                            "revenue_12m": top["revenue_12m"].to_numpy()})
        if not quadrants:  # no quadrant to name
            top = top.drop(columns=["quadrant"])
        last, _ = _frame(ws, top, start_row=row,
                              formats={"clv": "money", "p_alive": "pct", "expected_purchases": "dec1",
                                       "revenue_12m": "money"},
                              headers={"account": "Account", "quadrant": "Quadrant", "clv": f"Predicted CLV ({cur})",
                                       "p_alive": P_ALIVE, "expected_purchases": "Expected orders",
                                       "revenue_12m": f"Revenue 12m ({cur})"}, table="CLVTop", freeze=False)
    ws.freeze_panes = None
    _fit(ws, max_width=44, title_rows=(1, 2, 4))
    ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 30)


def _weights(ws, run, ctx) -> None:
    w = run.read_table("selection_weights")
    row = title_block(ws, "Weights & parameters", "What the scores are made of, and every setting used in this run")
    if w is not None:
        row = _section(ws, row, "Criteria of the two matrix axes (weights rescaled over the criteria the data has)")
        w = w.assign(higher_is_better=_yes_no(w["higher_is_better"]), criterion=w["criterion"].map(label),
                     column=w["column"].map(label))
        last, _ = _frame(ws, w, start_row=row, formats={"weight": "dec2", "weight_used": "pct"},
                              headers={"axis": "Axis", "criterion": "Criterion", "column": "Account feature",
                                       "group": "Group", "weight": "Weight set", "weight_used": "Weight used",
                                       "higher_is_better": "Higher is better", "status": "Status"},
                              table="Weights", freeze=False)
        ws.conditional_formatting.add(f"F{row + 1}:F{last}", DataBarRule(start_type="num", start_value=0,
                                                                         end_type="num", end_value=1,
                                                                         color=active_theme().accent))
        row = last + 2
    row = _section(ws, row, "Settings")
    s = pd.DataFrame(list(ctx["settings"].items()), columns=["setting", "value"])
    s["setting"] = s["setting"].map(label)
    s["value"] = [labels(v) if isinstance(v, str) and "_" in v else v for v in s["value"]]
    last, _ = _frame(ws, s, start_row=row, headers={"setting": "Setting", "value": "Value"},
                          table="Settings", freeze=False)
    row = last + 2
    row = _section(ws, row, "Quadrant names (the Accounts sheet's override drop-down uses this list)")
    write_cell(ws, row, 1, "Quadrant").font = Font(bold=True)
    for i, q in enumerate(ctx["names"]):
        write_cell(ws, row + 1 + i, 1, q)
    ctx["quadrant_list_ref"] = f"='Weights & parameters'!$A${row + 1}:$A${row + 4}"
    ws.freeze_panes = None
    _fit(ws, max_width=70)


def _overrides(ws, run, ctx) -> None:
    log = run.read_table("segment_overrides")
    row = title_block(ws, "Overrides log", "Quadrants the consultant set against the data, with the reason "
                      "(the overrides returned in this workbook's Accounts sheet or agreed in the engagement)")
    if ctx["no_quadrants"] or log is None or log.empty:  # no quadrant (too small a base), or none overridden
        _note(ws, row, ctx["no_quadrants"] or "No overrides in this run: every quadrant is the data's assignment.",
              italic=False)
        ws.column_dimensions["A"].width = 80
        return
    names = run.account_display_names()
    df = pd.DataFrame({"account_id": log["account_id"].astype(str),
                       "account": log["account_id"].astype(str).map(names).fillna(log["account_id"].astype(str)),
                       "quadrant_model": log["quadrant_model"], "quadrant": log["quadrant"],
                       "changed": _yes_no(log["changed"]), "reason": log["reason"], "source": log["source"]})
    _frame(ws, df, start_row=row, formats={"account_id": "text"},
                headers={"account_id": "Account ID", "account": "Account", "quadrant_model": "Quadrant (data)",
                         "quadrant": "Quadrant (applied)", "changed": "Changed", "reason": "Reason",
                         "source": "Source"}, table="OverridesLog")
    _fit(ws, max_width=60)


def _data_quality(ws, run, ctx) -> None:
    v = run.validation()
    row = title_block(ws, "Data quality", "What was found when the client's files were loaded, and which "
                      "analyses the data supports")
    stats = v.get("stats", {})
    if stats:
        row = _section(ws, row, "Rows read and kept")
        st = pd.DataFrame([{"table": input_label(t), "rows_read": s.get("rows_read"),
                            "rows_kept": s.get("rows_kept", s.get("rows_read"))} for t, s in stats.items()])
        last, _ = _frame(ws, st, start_row=row, formats={"rows_read": "int", "rows_kept": "int"},
                              headers={"table": "Data", "rows_read": "Rows read", "rows_kept": "Rows kept"},
                              table="RowsLoaded", freeze=False)
        row = last + 2
        orders = order_rule_client(stats.get("transactions", {}))
        if orders:
            row = _note(ws, row, orders + ".", italic=False) + 1
    row = _section(ws, row, "Problems found")
    probs = v.get("problems", [])
    if probs:
        # in client words: no file path or parameter key (the consultant has both in validation.json)
        pr = pd.DataFrame([{"severity": p.get("severity"), "message": client_words(p.get("message")),
                            "column": p.get("column"), "rows": p.get("count"), "fix": client_words(p.get("fix"))}
                           for p in probs])
        last, _ = _frame(ws, pr, start_row=row, formats={"rows": "int"},
                              headers={"severity": "Severity", "message": "Problem",
                                       "column": "Column", "rows": "Rows affected", "fix": "What to do"},
                              table="DataProblems", freeze=False)
        for r in range(row + 1, last + 1):
            for c in (2, 5):
                ws.cell(r, c).alignment = Alignment(wrap_text=True, vertical="top")
        row = last + 2
    else:
        row = _note(ws, row, "No problems found.", italic=False) + 1
    row = _section(ws, row, "Which analyses the data supports")
    if run.has_table("analysis_support"):  # the run's capability profile: the one table that decides
        d = run.read_table("analysis_support")
        d = pd.DataFrame({"Analysis": d["label"], "Status": d["status"].map(SUPPORT_WORDS).fillna(d["status"]),
                          "Why": d["caveat"].fillna("").map(client_words),
                          "What would unlock it": d["unlock"].fillna(""),
                          "KPIs it supports": [", ".join(kpi_label(k.strip()) for k in str(v).split(",") if k.strip())
                                               for v in d.get("kpis", pd.Series("", index=d.index)).fillna("")]})
        last, _ = _frame(ws, d, start_row=row, table="DataReadiness", freeze=False)
        row = last + 2
    else:
        row = _note(ws, row, "This run has no record of what its data supports.", italic=False) + 1
    note = ctx["settings"].get("clv_note")
    if note:
        row = _section(ws, row + 1, "Segmentation notes")
        _note(ws, row, note, italic=False)
    ws.freeze_panes = None
    _fit(ws, max_width=70)


#: the account-plan sheet's columns: the CRM import layout (one task per row, header in row 1)
PLAN_COLUMNS = {"account_id": "Account ID", "account_name": "Account", "account_manager": "Account manager",
                "segment": "Segment", "situation": "Situation", "objective": "Objective", "action": "Action",
                "owner": "Owner", "due_date": "Due date", "target": "Target", "status": "Status"}


def _account_plans(ws, run, ctx) -> None:
    plans, acts = run.read_table("account_plans"), run.read_table("account_plan_actions")
    if acts.empty:
        write_cell(ws, 1, 1, "No account plans in this run: no key account to plan for.")
        ws.column_dimensions["A"].width = 80
        return
    keep = [c for c in ("account_id", "account_manager", "segment", "situation", "objective") if c in plans]
    df = acts.drop(columns=[c for c in ("account_manager", "segment", "situation", "objective") if c in acts])
    df = df.merge(plans[keep].assign(account_id=plans["account_id"].astype(str)), how="left",
                  on="account_id") if len(keep) > 1 else df
    if "rank" in plans:
        order = dict(zip(plans["account_id"].astype(str), plans["rank"]))
        df = df.assign(_r=df["account_id"].astype(str).map(order)).sort_values(["_r", "due_date"], kind="stable")
    names = run.account_display_names() if run.has_data("accounts") else pd.Series(dtype=object)
    df["account_name"] = df["account_id"].astype(str).map(names).fillna(df["account_name"])
    df["status"] = "Open"
    cols = [c for c in PLAN_COLUMNS if c in df]
    _frame(ws, df[cols].reset_index(drop=True), start_row=1, formats={"account_id": "text", "due_date": "date"},
           headers=PLAN_COLUMNS, table="AccountPlans")
    ws.freeze_panes = "C2"
    ws.print_title_rows = "1:1"
    _fit(ws, title_rows=(), max_width=28)
    for j, c in enumerate(cols, start=1):  # the long texts wrap, so the sheet prints legibly on A4 landscape
        if c in ("objective", "action", "target", "situation"):
            ws.column_dimensions[get_column_letter(j)].width = 22 if c == "situation" else 38
            for r in range(2, len(df) + 2):
                ws.cell(r, j).alignment = Alignment(wrap_text=True, vertical="top")
    width = {j: ws.column_dimensions[get_column_letter(j)].width or 10 for j in range(1, len(cols) + 1)}
    for r in range(2, len(df) + 2):  # explicit heights: LibreOffice does not grow a row for wrapped text
        lines = max(len(str(ws.cell(r, j).value or "")) // max(int(width[j]) - 2, 1) + 1 for j in width)
        ws.row_dimensions[r].height = 15 * min(lines, 6)


# --------------------------------------------------------------------------- build
def build_segmentation_workbook(run) -> Path:
    """Write ``deliverables/<client-slug>_segmentation.xlsx`` from the run's phase-2 tables.

    Every table is read with ``run.read_table``: a run without the segmentation's tables
    (``segments``, ``segment_profiles`` ...) fails with a RunError naming the table, the
    phase that writes it and the command that does, never a silently missing workbook.
    """
    p = run.params
    seg = run.read_table("segments")
    seg["account_id"] = seg["account_id"].astype(str)
    settings = run.read_table("segmentation_settings")
    from ..phases.rfm import load_rfm_segments
    from ..phases.segmentation import rfm_segments_path

    try:
        rfm_tones = {s["name"]: s.get("tone", "") for s in load_rfm_segments(rfm_segments_path(p))["segments"]}
    except Exception:  # noqa: BLE001 - colours only; the notebook has already validated the file
        rfm_tones = {}
    when = p.engagement.date or p.analysis.as_of_date
    ctx = {"segments": seg, "profiles": run.read_table("segment_profiles"),
           "names": p.segmentation.quadrant_names.ordered(), "n_accounts": int(len(seg)),
           # "" or, on a base too small for the matrix, why no sheet splits or names quadrants
           "no_quadrants": Capability.of(run).refusal("portfolio_matrix", NOT_BY_QUADRANT),
           "no_quadrants_brief": f"{NOT_BY_QUADRANT.lower()}: {Capability.of(run).brief('portfolio_matrix')}",
           "n_key": int(seg["is_key"].sum()), "date": when, "rfm_tones": rfm_tones,
           "settings": dict(zip(settings["setting"], settings["value"])) if settings is not None else {}}
    wb = Workbook()
    sheets = {name: (wb.active if i == 0 else wb.create_sheet()) for i, name in enumerate(WORKBOOK_SHEETS)}
    for name, ws in sheets.items():
        ws.title = name
    # the parameters sheet first: it holds the quadrant list the Accounts drop-down points at
    _weights(sheets["Weights & parameters"], run, ctx)
    _accounts(sheets["Accounts"], run, ctx)
    _readme(sheets["README"], run, ctx)  # after Accounts: it says where a list too long for Excel is
    _summary(sheets["Summary"], run, ctx)
    data_ws = wb.create_sheet("Chart data")
    data_ws.sheet_state = "hidden"
    _matrix(sheets["Portfolio matrix"], run, ctx, data_ws)
    _rfm(sheets["RFM"], run, ctx)
    _clusters(sheets["Clusters"], run, ctx)
    _clv(sheets["CLV"], run, ctx)
    _overrides(sheets["Overrides log"], run, ctx)
    _data_quality(sheets["Data quality"], run, ctx)
    _account_plans(sheets["Account plans"], run, ctx)
    for ws in wb.worksheets:
        ws.sheet_properties.tabColor = active_theme().primary if ws.title in ("README", "Accounts") else active_theme().light
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0 if ws.title in ("Accounts", "Overrides log", "Data quality",
                                                      "Account plans") else 1
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.paperSize = ws.PAPERSIZE_A3 if ws.title == "Accounts" else ws.PAPERSIZE_A4
        if ws.title == "Accounts":  # 28 columns: two A3 pages wide, the account's id and name on both
            ws.page_setup.fitToWidth = 2
            ws.print_title_cols = "A:B"
        tables = list(ws.tables.values())
        if tables and ws.title != "README" and ws.print_title_rows is None:  # a long table's header on every page
            header = range_boundaries(tables[0].ref)[1]
            ws.print_title_rows = f"{header}:{header}"
    wb.active = 0
    set_workbook_properties(wb, title=f"{p.engagement.title}: account segmentation", client=p.client.name,
                            when=when, creator=p.engagement.consultant)
    path = run.deliverable_path(f"{p.slug}_segmentation.xlsx")
    save_workbook(wb, path, when=when)
    return path
