"""The KPI dashboard's "Plan vs actual" sheet of a follow-up review (``review.plan_run``).

What the earlier plan committed to, measured on this run's data: the review phase's
``plan_*`` tables (docs/followup.md), shown in client words — the plan in figures, the KPIs
against the plan's targets, the key accounts then and now, the committed segments followed
and their migration, coverage delivered, the actions and recommendations with their returned
status. Money in the workbook's full figures; status colours are the follow-up story's
(:data:`~kam_analysis.deliverables.followup_story.STATUS_RAG`), as on the deck and the HTML.
A run without the tables (no follow-up) gets no sheet.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from ..data.planrun import NOT_REPORTED
from ..metrics import KPI_DEFINITIONS, kpi_label, kpi_unit
from ..present.formats import POINT_UNITS, excel_number_format, fmt_date
from ..present.theme import active_theme
from ._xlsx import (FMT, POINTS_FMT, RELATIVE_FMT, autofit_columns, note_cell, rag_fill, title_block, write_cell,
                    write_frame)
from .followup_story import STATUS_RAG
from .html_dashboard import SCORECARD_KPIS

__all__ = ["SHEET", "plan_sheet"]

#: columns of free text, wrapped in their cell
_LONG_TEXT = frozenset({"action", "comment", "title", "status_note", "account", "kpi_note"})

#: the sheet's name
SHEET = "Plan vs actual"

_PLAN_BLOCKS = ("plan_summary", "plan_kpis", "plan_key_accounts", "plan_segments", "plan_migration", "plan_coverage",
                "plan_actions", "plan_recommendations")


def _plan_block(ws: Worksheet, row: int, title: str, df: pd.DataFrame, *, formats: dict, headers: dict,
                table: str, status_col: str | None = None, row_formats: dict[str, list[str]] | None = None) -> int:
    """One titled table of the Plan vs actual sheet at ``row``; returns the next free row."""
    write_cell(ws, row, 1, title).font = Font(bold=True, size=11, color=active_theme().primary)
    last, _ = write_frame(ws, df, start_row=row + 1, formats=formats, headers=headers, table=table, freeze=False)
    for col, fmts in (row_formats or {}).items():
        if col not in df.columns:  # an optional column the plan run did not write (e.g. midpoint_value)
            continue
        j = list(df.columns).index(col) + 1
        for i, f in enumerate(fmts):
            ws.cell(row=row + 2 + i, column=j).number_format = f
    for j, c in enumerate(df.columns, start=1):  # numbers (and dates) right-aligned under a right-aligned header
        numeric = pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_datetime64_any_dtype(df[c])
        ws.cell(row=row + 1, column=j).alignment = Alignment(vertical="center", wrap_text=True,
                                                             horizontal="right" if numeric else "left",
                                                             indent=0 if numeric else 1)
        for i in range(len(df)):  # text gets a little air from the number before it; all top-aligned
            ws.cell(row=row + 2 + i, column=j).alignment = (
                Alignment(horizontal="right", vertical="top") if numeric
                else Alignment(indent=1, vertical="top", wrap_text=c in _LONG_TEXT))
    if status_col and len(df):
        j = list(df.columns).index(status_col) + 1
        for i, v in enumerate(df[status_col].astype(str)):
            rag = STATUS_RAG.get(v, "n/a")
            if rag in ("green", "amber", "red"):
                ws.cell(row=row + 2 + i, column=j).fill = rag_fill(rag)
    return last + 2


def plan_sheet(wb: Workbook, run, notes: list[str]) -> None:
    """The "Plan vs actual" sheet of a follow-up review: what the earlier plan committed to, measured on
    this run's data (the review phase's ``plan_*`` tables; docs/followup.md). No sheet without them."""
    t = {n: run.read_table(n, missing_ok=True) for n in _PLAN_BLOCKS}
    if t["plan_summary"] is None:
        return
    p = run.params
    cur = p.client.currency
    money = excel_number_format("currency", cur, compact=False)
    summ = t["plan_summary"].set_index("metric")

    def fig(metric, col="value"):
        return summ[col].get(metric) if metric in summ.index else None

    ws = wb.create_sheet(SHEET)
    plan_as_of = fig("plan_as_of", "text")
    months = fig("months_since")
    sub = (f"The plan made on data up to {fmt_date(pd.Timestamp(plan_as_of).date())}, measured on data up to "
           f"{fmt_date(p.analysis.as_of_date)}" if plan_as_of else "The earlier plan, measured on today's data")
    if months is not None and pd.notna(months):
        sub += f" ({months:g} months later)"
    title_block(ws, "Plan vs actual", sub)
    row = 4
    figures = [(m, lab) for m, lab in (
        ("key_accounts", "Key accounts in the plan"), ("key_accounts_grown", "Grown"),
        ("key_accounts_stable", "Stable"), ("key_accounts_declined", "Declined"), ("key_accounts_lost", "Lost"),
        ("revenue_key_plan", "Their revenue at the plan (12 months)"),
        ("revenue_key_now", "Their revenue now (12 months)"), ("kpis_with_target", "KPIs with a target"),
        ("kpis_met", "Targets met"), ("kpis_on_track", "On track"), ("kpis_off_track", "Off track"),
        ("actions", "Account-plan actions"), ("actions_done", "Done"), ("actions_in_progress", "In progress"),
        ("actions_overdue", "Overdue"), ("actions_not_reported", "Not reported"),
        ("recommendations", "Recommendations"), ("recommendations_done", "Done")) if m in summ.index]
    fr = pd.DataFrame({"figure": [lab for _, lab in figures], "value": [fig(m) for m, _ in figures]})
    row = _plan_block(ws, row, "The plan in figures", fr, formats={}, headers={"figure": "Figure", "value": "Value"},
                      table="PlanFigures", row_formats={"value": [money if m.startswith("revenue") else FMT["int"]
                                                                  for m, _ in figures]})
    if t["plan_kpis"] is not None and len(t["plan_kpis"]):
        k = t["plan_kpis"]
        k = k[k["status"] != "no target"] if (k["status"] != "no target").any() else k[k["kpi"].isin(SCORECARD_KPIS)]
        units = [kpi_unit(x) if x in KPI_DEFINITIONS else "score" for x in k["kpi"].astype(str)]
        change = [c * 100 if kind == "points" and u == "share" else c
                  for c, kind, u in zip(k["change"].astype(float), k["change_kind"], units)]
        view = pd.DataFrame({"kpi": [kpi_label(x) if x in KPI_DEFINITIONS else lab for x, lab in zip(k["kpi"], k["label"])],
                             "plan_value": k["plan_value"].to_numpy(), "target": k["target"].to_numpy(),
                             "actual": k["actual"].to_numpy(), "change": change,
                             "gap_closed": k["gap_closed"].to_numpy(), "status": k["status"].to_numpy()})
        if "midpoint_value" in k and k["midpoint_value"].notna().any():  # the path's middle point
            view.insert(3, "midpoint_value", k["midpoint_value"].to_numpy())
            mid_head = f"Halfway ({fmt_date(pd.Timestamp(k['midpoint_date'].dropna().iloc[0]).date())})"
        else:
            mid_head = "Halfway"
        if "note" in k and k["note"].fillna("").astype(str).str.strip().any():  # why a KPI is not measured
            view["kpi_note"] = k["note"].fillna("").to_numpy()
        vf = [excel_number_format(u or "score", cur, compact=False) for u in units]
        row = _plan_block(ws, row, "KPIs against the targets of the plan", view, formats={"gap_closed": "pct"},
                          headers={"kpi": "KPI", "plan_value": "At the plan", "target": "Target", "actual": "Now",
                                   "change": "Change since the plan", "gap_closed": "Share of the gap closed",
                                   "status": "Status", "kpi_note": "Note", "midpoint_value": mid_head},
                          table="PlanKpis", status_col="status",
                          row_formats={"plan_value": vf, "target": vf, "actual": vf, "midpoint_value": vf,
                                       "change": [POINTS_FMT if u in POINT_UNITS else RELATIVE_FMT for u in units]})
    if t["plan_key_accounts"] is not None:
        a = t["plan_key_accounts"]
        names = run.account_display_names() if run.has_data("accounts") else pd.Series(dtype=object)
        view = pd.DataFrame({"account": a["account_id"].astype(str).map(names).fillna(a["account_name"]).to_numpy(),
                             "plan_segment": a["plan_segment"].to_numpy(), "current_segment": a["current_segment"].to_numpy(),
                             "revenue_plan": a["revenue_plan"].to_numpy(), "revenue_now": a["revenue_now"].to_numpy(),
                             "change": a["change"].to_numpy(), "outcome": a["outcome"].to_numpy()})
        if "last_order_date" in a:  # why a lost account can still have revenue in the last 12 months
            view["last_order_date"] = pd.to_datetime(a["last_order_date"]).dt.tz_localize(None).to_numpy()
        row = _plan_block(ws, row, "Key accounts of the plan: revenue then and now", view,
                          formats={"revenue_plan": money, "revenue_now": money, "change": RELATIVE_FMT,
                                   "last_order_date": "date"},
                          headers={"account": "Account", "plan_segment": "Segment in the plan",
                                   "current_segment": "Segment now", "revenue_plan": "Revenue at the plan (12 months)",
                                   "revenue_now": "Revenue now (12 months)", "change": "Change",
                                   "outcome": "Outcome", "last_order_date": "Last order"},
                          table="PlanKeyAccounts", status_col="outcome")
    if t["plan_segments"] is not None:
        sg = t["plan_segments"]
        row = _plan_block(ws, row, "Segments of the plan: their accounts followed", sg[[
            "segment", "accounts", "accounts_active", "retention", "revenue_plan", "revenue_now"]],
            formats={"accounts": "int", "accounts_active": "int", "retention": "pct", "revenue_plan": money,
                     "revenue_now": money},
            headers={"segment": "Segment in the plan", "accounts": "Accounts", "accounts_active": "Still buying",
                     "retention": "Retention since the plan", "revenue_plan": "Revenue at the plan (12 months)",
                     "revenue_now": "Revenue now (12 months)"}, table="PlanSegments")
    if t["plan_migration"] is not None and len(t["plan_migration"]):
        m = t["plan_migration"]
        piv = m.pivot_table(index="plan_segment", columns="current_segment", values="accounts", aggfunc="sum",
                            fill_value=0)
        piv = piv.reindex(index=list(dict.fromkeys(m["plan_segment"])), columns=list(dict.fromkeys(m["current_segment"])),
                          fill_value=0).rename_axis(None, axis=1).reset_index()
        row = _plan_block(ws, row, "Where the accounts of each segment of the plan are now (accounts)", piv,
                          formats={c: "int" for c in piv.columns if c != "plan_segment"},
                          headers={"plan_segment": "Segment in the plan → now"}, table="PlanMigration")
    if t["plan_coverage"] is not None and len(t["plan_coverage"]):
        c = t["plan_coverage"]
        row = _plan_block(ws, row, "Coverage: the accounts each manager was given, and served today", c[[
            x for x in ("manager", "accounts_planned", "accounts_delivered", "hours_planned", "status")
            if x in c and (x != "status" or c["accounts_delivered"].isna().all())]]  # the note says why not measured
            .rename(columns={"status": "status_note"}),
            formats={"accounts_planned": "int", "accounts_delivered": "int", "hours_planned": "int"},
            headers={"manager": "Manager", "accounts_planned": "Accounts in the plan",
                     "accounts_delivered": "Served by that manager today", "hours_planned": "Hours a year in the plan",
                     "status_note": "Note"}, table="PlanCoverage")
    if t["plan_actions"] is not None and len(t["plan_actions"]):
        ac = t["plan_actions"]
        names = run.account_display_names() if run.has_data("accounts") else pd.Series(dtype=object)
        view = pd.DataFrame({"account": ac["account_id"].astype(str).map(names).fillna(ac["account_name"]).to_numpy(),
                             "action": ac["action"].to_numpy(), "owner": ac["owner"].to_numpy(),
                             "due_date": pd.to_datetime(ac["due_date"]).to_numpy(), "status": ac["status"].to_numpy(),
                             "status_date": pd.to_datetime(ac["status_date"]).to_numpy(),
                             "overdue": np.where(ac["overdue"].fillna(False).astype(bool), "overdue", ""),
                             "comment": ac["comment"].to_numpy()})
        row = _plan_block(ws, row, "Account-plan actions and their status", view,
                          formats={"due_date": "date", "status_date": "date"},
                          headers={"account": "Account", "action": "Action", "owner": "Owner", "due_date": "Due by",
                                   "status": "Status", "status_date": "Status date", "overdue": "Overdue",
                                   "comment": "Comment"}, table="PlanActions", status_col="status")
        if (ac["status"] == NOT_REPORTED).all():
            note_cell(ws, row - 1, 1, "No status came back for these actions: the status file the client returns "
                                  "with the plan's actions would show which were done and which are overdue.")
            row += 1
    if t["plan_recommendations"] is not None and len(t["plan_recommendations"]):
        rc = t["plan_recommendations"]
        row = _plan_block(ws, row, "Recommendations of the plan and their status", rc[[
            x for x in ("title", "owner", "due_date", "status", "status_date", "comment") if x in rc]],
            formats={"due_date": "date", "status_date": "date"},
            headers={"title": "Recommendation", "owner": "Owner", "due_date": "Due by", "status": "Status",
                     "status_date": "Status date", "comment": "Comment"}, table="PlanRecommendations",
            status_col="status")
    left = summ[summ.index.str.startswith("left_out_")]
    for _, r in left.iterrows():
        notes.append(f"Plan vs actual: the earlier plan has no record of {r['text']}, so it is left out.")
    autofit_columns(ws, skip_rows=[1, 2], max_width=30)  # several tables share the columns: none too wide
    ws.column_dimensions["A"].width = 36
    for cells in ws.iter_rows(min_row=4):  # a wrapped text gets the lines it needs (no renderer grows a row)
        lines = 1
        for c in cells:
            if c.alignment is not None and c.alignment.wrap_text and isinstance(c.value, str) and c.row > 4:
                width = ws.column_dimensions[c.column_letter].width or 10
                lines = max(lines, -(-len(c.value) // max(int(width * 1.1) - 2, 8)))
        if lines > 1:
            ws.row_dimensions[cells[0].row].height = 13 * lines + 2
