"""The deck's closing: next steps and the appendix (method notes, data sources, what was left out)."""
from __future__ import annotations

import re


from ...data.orders import order_rule_client
from ...phases.business_case import cost_needs, missing_cost_inputs
from ...present.formats import fmt_count, fmt_top, fmt_value
from ...present.labels import input_label
from .._pptx import Box, SlideCanvas
from ._base import (_bullets, DeckData, IN, _first_clause, _lc_first, _rows_per_page, SlideSpec, _text, floor_rule,
                    selects_no_key_account)
from .context import PHASES
from .followup import followup

#: the most next steps the page lists (more: its footnote says "top 7 of N")
STEPS_SHOWN = 7
#: the follow-up's most urgent changes that lead the next steps (all of them are on What changes now)
FOLLOWUP_STEPS = 3


def s_next_steps(d: DeckData) -> list[SlideSpec]:
    """Numbered next steps: on a follow-up review first what changes since the last review (in
    short: its page has the sentences), then the consultant's steps, KPI gaps not already
    re-planned, the top recommendations, phases to complete and data to provide."""
    f = followup(d)
    lead = [[("Since the last review: ", True), (_text(x, 160), False)]
            for x in (f.next_steps() if f else [])[:FOLLOWUP_STEPS]]
    replanned = f.replanned_kpis() if f else set()
    items = [[(_text(x, 200), False)] for x in d.params.engagement.next_steps]
    rec = d.peek("recommendations")
    if rec is not None and {"rank", "recommendation"} <= set(rec.columns):
        for _, r in rec.sort_values("rank").head(3).iterrows():
            items.append([("Recommendation: ", True), (_lc_first(_text(r["recommendation"], 200)), False)])
    for num, name, tables, *_ in PHASES:
        if not any(d.run.has_table(t) for t in tables):
            items.append([(f"Phase {num}: ", True), (f"complete {name.lower()} and add it to the next run", False)])
    missing = [(a, "survey file (NPS/CSAT)") for a in ("surveys",) if getattr(d.params.data, a) is None] + \
        [(a, "KAM capability self-assessment") for a in ("capability",) if getattr(d.params.data, a) is None] + \
        [(a, "account master file (region, segment, manager)") for a in ("accounts",) if getattr(d.params.data, a) is None]
    for _, what in missing:
        items.append([("Data: ", True), (f"provide the {what} to unlock the analyses it supports", False)])
    if d.params.analysis.programme_start is None:
        items.append([("Data: ", True), ("record the KAM programme start date so its impact can be measured", False)])
    kt = d.peek("kpi_vs_target")
    if kt is not None and {"kpi", "current", "target", "status"} <= set(kt.columns):
        for _, r in kt[kt["status"].isin(["red", "amber"]) & ~kt["kpi"].astype(str).isin(replanned)].iterrows():
            u = d.unit_of(r["kpi"])
            items.insert(len(d.params.engagement.next_steps),
                         [("KPI: ", True), (f"close the gap on {_lc_first(d.label_of(r['kpi']))} "
                                            f"({fmt_value(r['current'], u, d.cur)} against a target of "
                                            f"{fmt_value(r['target'], u, d.cur)})", False)])
    if selects_no_key_account(d) and floor_rule(d):  # no programme to cost: the hour's cost sets the threshold
        items.insert(len(d.params.engagement.next_steps),
                     [("Costs: ", True), ("send your cost of an account-manager hour, so the key-account threshold "
                                          "is yours, not a default", False)])
    elif missing_costs := missing_cost_inputs(d.peek("programme_cost")):
        # the board's decision waits on them: first after the consultant's own steps
        items.insert(len(d.params.engagement.next_steps),
                     [("Costs: ", True), (f"send your cost figures, so the programme's cost and return can be "
                                          f"stated: {cost_needs(missing_costs)}", False)])
    if not items:
        items.append([("Review: ", True), ("agree the targets and re-run the engagement at the next review date", False)])
    items = lead + items
    total = len(items)
    items = items[:STEPS_SHOWN]

    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1] * max(len(items), 5), gap=int(0.12 * IN))
        for i, (it, r) in enumerate(zip(items, rows)):
            c.text_box(Box(r.x, r.y, int(0.55 * IN), r.h), [f"{i + 1}"], size=18, bold=True, fill=c.style.primary,
                       color="FFFFFF", align="c", anchor="m", fit=False, max_len=4)
            c.text_box(Box(r.x + int(0.7 * IN), r.y, r.w - int(0.7 * IN), r.h), [it], size=16, anchor="m",
                       color=c.style.text, min_pt=10)

    first = _lc_first(items[0][-1][0].rstrip("."))
    if len(first) > 100:  # a title gives the step's lead clause, whole, never cut mid-phrase
        first = _first_clause(first, 100)
    if lead and len(items) > 1:
        title = f"{len(items)} next steps, starting with what changes since the last review: {first}"
    else:
        title = (f"{len(items)} next steps, starting with: {first}" if len(items) > 1 else f"Next step: {first}")
    foot = f"The {fmt_top(len(items), total)} next steps." if len(items) < total else ""
    if f is not None and len(f.next_steps()) > len(lead):
        foot = (foot + " " if foot else "") + (f"The {fmt_top(len(lead), len(f.next_steps()))} changes since the "
                                               "last review lead; What changes now lists every one.")
    return [SlideSpec("next", "Title and Content", title[:150], draw, topic="Next steps", footnote=foot,
                      source="KAM analysis: the consultant's next steps and the recommendations",
                      notes="Next steps: the consultant's agreed steps, the top recommendations, phases still to "
                            "complete and the data that would unlock more analysis.")]


def s_method_notes(d: DeckData, specs: list[SlideSpec]) -> list[SlideSpec]:
    seen, items = set(), []
    for s in specs:
        if s.section in ("summary", "next", "appendix") or not s.notes or s.topic in seen:
            continue
        seen.add(s.topic)
        # the first sentence of the speaker notes, without the parenthesised settings and tables
        # notes may name for the consultant (the appendix is a client page)
        first = re.sub(r"\s*\([^()]*\)", "", s.notes).split(". ")[0].rstrip(".").strip()
        head, _, rest = first.partition(": ")
        if rest and len(head.split()) <= 4 and head.split()[0].lower() == s.topic.split()[0].lower():
            first = rest[0].upper() + rest[1:]
        items.append([(f"{s.topic}: ", True), (first + ".", False)])
    if not items:
        return []
    pages = _rows_per_page(len(items), 13)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            _bullets(c, c.region("Body"), items[sl], size=13)
        out.append(SlideSpec("appendix", "Title and Content",
                             "Method notes" + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw,
                             topic="Method notes", notes="One line of method per analysis; full detail in each "
                                                         "slide's speaker notes and the executed notebooks."))
    return out


def s_data_sources(d: DeckData) -> list[SlideSpec]:
    v = d.run.validation()
    rows, files = [], []
    for table, st in v.get("stats", {}).items():
        spec = getattr(d.params.data, table, None)
        fname = _text(spec.path.name, 50) if spec is not None and getattr(spec, "path", None) else ""
        files.append(f"{table}: {fname}" if fname else table)
        kept = st.get("rows_kept", st.get("rows_read"))
        rows.append([input_label(table), fmt_count(st.get("rows_read")), fmt_count(kept)])
    a = d.params.analysis
    facts = [f"As-of date: {a.as_of_date:%d %b %Y}", f"Period: {a.period}", f"Churn definition: no order for {a.churn_days} days",
             ]
    if a.programme_start:
        facts.insert(1, f"Programme start: {a.programme_start:%d %b %Y}")
    orders = order_rule_client(v.get("stats", {}).get("transactions", {}))
    if orders:
        facts.append(orders)

    def draw(c: SlideCanvas):
        box = c.region("Table")
        left, right = box.split_h([2.2, 1], gap=int(0.4 * IN))
        if rows:
            c.table(Box(left.x, left.y, left.w, min(left.h, int(0.45 * IN) * (len(rows) + 1))),
                    ["Input", "Rows read", "Rows used"], rows, widths=[2, 1, 1],
                    align=["l", "r", "r"], max_pt=13)
        c.text_box(right, [[("Analysis settings", True, c.style.primary)], *[[(f, False)] for f in facts]], size=13,
                   fill=c.style.light, inset=0.15, color=c.style.text)

    return [SlideSpec("appendix", "Table", "Data sources and analysis settings", draw, topic="Data sources",
                      source="Data validation of this engagement's client files",
                      notes="Client files as validated: rows read, and rows kept after leaving out copies of a line "
                            "(rows repeating an order's line number), rows after the as-of date and unparseable rows; "
                            "identical rows without a line number are kept as repeat purchases. Files: " + "; ".join(files)
                            + ". Validation report: data/validation.json of the run.")]


def s_not_included(d: DeckData) -> list[SlideSpec]:
    seen, rows = set(), []
    for topic, why in d.skipped:
        if topic not in seen:
            seen.add(topic)
            rows.append([topic, why])
    if not rows:
        return []
    pages = _rows_per_page(len(rows), 14)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Analysis", "Status"], rows[sl], widths=[1.2, 2.5], max_pt=12, bold_cols=[0])
        out.append(SlideSpec("appendix", "Table", "Analyses not included in this deck" +
                             (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw, topic="Not included",
                             source="KAM analysis: the results this engagement produced",
                             notes=" ".join(["Slides the deck leaves out because their results are not in this run.",
                                             *[n + "." for n in d.skip_notes]])))
    return out

