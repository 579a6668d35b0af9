"""The deck's "Since the last review" section, on a follow-up review only: what the plan run
committed, what happened on the new data, and what changes now.

Every figure comes from the review phase's follow-up tables (``plan_*``) through
:mod:`..followup_story`, which words them once for the deck and the HTML dashboard. A run
without them (a first review) has no section: every builder returns no slide.
"""
from __future__ import annotations

import pandas as pd

from .._pptx import Box, SlideCanvas
from ...present.formats import (POINT_UNITS, excel_number_format, fmt_change, fmt_count, fmt_date, fmt_share,
                                fmt_top, fmt_value)
from .._kpi_history import history_data, largest_move
from ...present.theme import tint
from ..followup_story import (ACTION_BUCKETS, KPI_ROWS, OUTCOMES, PLAN_TABLES, STATUS_RAG, FollowUp,
                              load_followup, person, short_name)
from ._base import _bullets, DeckData, IN, SlideSpec, Source, _lc_first, _takeaway, _text, _tiles

SECTION = "since"
KEY_ACCOUNTS_ON_CHART = 12


def followup(d: DeckData) -> FollowUp | None:
    """The run's follow-up (None on a first review), read once per deck."""
    if "_followup" not in d.__dict__:
        def read(name, cols):
            return d.peek(name, cols) if d.run.has_table(name) else None
        names = d.names().to_dict() if d.run.has_table("plan_key_accounts") else {}
        d._followup = load_followup(read, d.params, names)
        if d._followup is None and d.run.has_table("plan_summary"):  # a follow-up whose plan has no key accounts
            why = ("the last review committed no key account to follow" if d.run.has_table("plan_key_accounts")
                   else "the last review's plan has no record of its key accounts")
            d.skip("Since the last review", why,
                   detail="no committed key accounts in the plan run (table plan_key_accounts absent or empty)")
    return d._followup


def _source(d: DeckData, f: FollowUp, *tables: str, data: str | None = None):
    """"Client order data to 31 Dec 2025; the plan of the review of 30 Jun 2025; KAM analysis"."""
    plan = f"the plan of the review of {fmt_date(f.plan_as_of)}" if f.plan_as_of else "the last review's plan"
    return Source(f"{data or d.client + ' order data to ' + fmt_date(d.as_of)}; {plan}; KAM analysis", tables)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# ------------------------------------------------------------------ 1 the plan in one page
def s_since_plan(d: DeckData) -> list[SlideSpec]:
    f = followup(d)
    if f is None:
        return []
    n = len(f.key_accounts)
    then, _ = f.revenue_then_now()
    ft = f.tiles()  # as the HTML block shows them
    tiles = [(t["value"], t["label"], None if t["status"] == "n/a" else t["status"]) for t in ft]
    subs = [t["sub"] for t in ft]
    kr, a = f.kpi_rows(), f.action_rows()
    committed = [f"{fmt_count(n)} key accounts with {f.money(then)} of revenue a year"] if n else []
    if kr is not None:
        committed.append(f"{fmt_count((kr['status'] != 'no target').sum())} KPI targets")
    if a is not None:
        committed.append(f"{fmt_count(len(a))} account-plan actions for {fmt_count(a['owner'].nunique())} owners")
    rec = f.recommendations
    if rec is not None:
        committed.append(f"{fmt_count(len(rec))} recommendations")
    when = f" ({fmt_date(f.plan_as_of)})" if f.plan_as_of else ""
    body = [[("Committed at the last review" + when + ": ", True), (", ".join(committed[:-1]) + (
        " and " if len(committed) > 1 else "") + committed[-1], False)],
            ] + ([[("Key-account revenue: ", True), (f.revenue_sentence().removeprefix("Key-account revenue ") +
                                                   " (last 12 months, at the plan and now)", False)]] if n else [])
    if (mh := f.migration_headline()) is not None:
        body.append([("Segments: ", True), (mh, False)])
    if (cv := f.coverage_text()) is not None:
        body.append([("Coverage delivered: ", True), (cv, False)])
    if lo := f.left_out():
        body.append([("Left out, as the last review has no record of them: ", True), ("; ".join(lo), False)])
    title = f.headline()

    def draw(c_: SlideCanvas):
        _tiles(c_, c_.region("Numbers"), tiles[:5], sub=subs[:5])
        _bullets(c_, c_.region("Body"), body, size=15)

    t = d.params.review
    return [SlideSpec(SECTION, "Key Numbers", title, draw, topic="The plan since the last review",
                      source=_source(d, f, *PLAN_TABLES[:3]),
                      footnote="Grew: revenue over the last 12 months up by more than "
                               f"{fmt_share(t.followup_grown, decimals=0)} on the 12 months to the "
                               f"plan; lost: no order in the last {fmt_count(d.params.analysis.churn_days)} days.",
                      notes="Follow-up review: the key accounts, KPI targets and actions the last review committed "
                            "to are measured on the new data with the same definitions; an account's outcome compares "
                            "its trailing-12-month revenue now with the same figure at the end of the last review's data.")]


# ------------------------------------------------------------------ 2 KPIs against the committed targets
def s_since_kpis(d: DeckData) -> list[SlideSpec]:
    f = followup(d)
    if f is None:
        return []
    rows, left = f.kpi_rows_shown(KPI_ROWS)
    if rows is None:
        d.skip("KPIs against the plan's targets", "the plan committed no KPI to follow")
        return []
    head = f.kpi_headline()
    title = _cap(head) if head else "No KPI target was committed: the KPIs since the plan, unrated"
    show_traj = rows["trajectory"].astype(bool).any()
    header = ["KPI", "At the plan", "Target", "Now", "Change since the plan"] + (["Trajectory"] if show_traj else []) + [
        "Status"]
    table = [[r["label"], r["plan"], r["target"], r["actual"], r["change"]] + ([r["trajectory"]] if show_traj else [])
             + [_cap(r["status"])] for _, r in rows.iterrows()]
    fills = {}
    theme_rag = {}
    for i, (_, r) in enumerate(rows.iterrows()):
        theme_rag[i] = STATUS_RAG.get(r["status"], "n/a")

    def draw(c: SlideCanvas):
        for i, rag in theme_rag.items():
            fills[(i, len(header) - 1)] = c.style.rag_fill(rag)
        c.table(c.region("Table"), header, table, widths=[2.0, 1.1, 1.1, 1.1, 1.3] + ([2.2] if show_traj else []) + [1.0],
                align=["l", "r", "r", "r", "r"] + (["l"] if show_traj else []) + ["c"], fills=fills, bold_cols=[0],
                max_pt=14)

    return [SlideSpec(SECTION, "Table", title, draw, topic="KPIs against the plan's targets",
                      source=_source(d, f, "plan_kpis"),
                      footnote="Rates and scores change in points, money and counts relative to the plan. Met: "
                               "target reached; on track: the gap closes at least as fast as the time passes; off "
                               "track: slower." + (f" {fmt_count(left)} more KPIs without a target are in the KPI "
                                                   "dashboard." if left else ""),
                      notes="Each KPI is recomputed on the new data with the last review's definition and compared with "
                            "the value at the plan and the committed target; the trajectory compares the share of the "
                            "gap closed with the share of the time elapsed.")]


# ------------------------------------------------------------------ 2b the KPIs across every review
#: the most reviews the page shows as columns (the latest; more: the footnote says so)
HISTORY_COLUMNS = 6


def s_since_history(d: DeckData) -> list[SlideSpec]:
    """The headline KPIs at every review of the client (``kpi_history``, as both dashboards show
    them), titled with the KPI that moved most; no page before a second review."""
    f = followup(d)
    if f is None or not d.run.has_table("kpi_history"):
        return []
    h = history_data(d.run)
    if h["first_review"] or not h["table"]:
        return []
    n = len(h["reviews"])
    cols = list(range(max(0, n - HISTORY_COLUMNS), n))
    labels = [h["review_labels"][i] for i in cols]
    rows = []
    for e in h["table"]:
        vals = [v for v in e["values"] if v is not None]
        change = ""
        if len(vals) >= 2:
            change = (fmt_change(vals[-1] - vals[0], e["unit"], d.cur) if (e["unit"] or "") in POINT_UNITS
                      else fmt_share(round(vals[-1] / vals[0] - 1, 3) + 0.0, signed=True) if vals[0] else "n/a")
        rows.append([e["label"]] + [fmt_value(e["values"][i], e["unit"], d.cur) if e["values"][i] is not None
                                    else "n/a" for i in cols] + [change])
    mv = largest_move(h["table"])
    if mv is None:
        title = f"The headline KPIs held across the {fmt_count(n)} reviews, {h['review_labels'][0]} to {labels[-1]}"
    else:
        how = (fmt_change(mv["change"], mv["unit"], d.cur) if mv["kind"] == "points"
               else fmt_share(mv["change"], signed=True))
        title = (f"Across the {fmt_count(n)} reviews, {_lc_first(mv['label'])} moved most: "
                 f"{fmt_value(mv['first'], mv['unit'], d.cur)} to {fmt_value(mv['last'], mv['unit'], d.cur)} ({how})")
    header = ["KPI", *labels, "Change"]

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), header, rows, widths=[2.2] + [1.1] * len(labels) + [1.1],
                align=["l"] + ["r"] * (len(labels) + 1), bold_cols=[0], max_pt=14)

    foot = ("Each KPI as that review measured it: all accounts, last 12 months to the review's date. Change: first "
            "to last review, rates in points, money and counts relative; moved most compares relative changes.")
    if len(cols) < n:
        foot += f" The last {fmt_count(len(cols))} of {fmt_count(n)} reviews; every one is in the dashboards."
    foot += "".join(" " + x for x in h["notes"])
    return [SlideSpec(SECTION, "Table", title, draw, topic="KPIs across reviews",
                      source=_source(d, f, "kpi_history"), footnote=foot,
                      notes="The headline KPIs of every successful review of this client, read from each review's own "
                            "results (the run history), so a value is what that review reported.")]


# ------------------------------------------------------------------ 3 key accounts
def s_since_key_accounts(d: DeckData) -> list[SlideSpec]:
    f = followup(d)
    if f is None:
        return []
    ka = f.key_account_rows()
    if ka.empty:
        d.skip("Key accounts since the plan", "the last review committed no key account")
        return []
    shown = ka.head(KEY_ACCOUNTS_ON_CHART)
    c = f.outcome_counts()
    title = f.revenue_sentence() + ": " + ", ".join(f"{fmt_count(c[o])} {o}" for o in OUTCOMES if c[o])
    take = []
    for o in OUTCOMES:
        g = ka[ka["outcome"] == o]
        if g.empty:
            continue
        t0, t1 = g["revenue_plan"].sum(), g["revenue_now"].sum()
        line = [(f"{_cap(o)} ({fmt_count(len(g))}): ", True), (f"{f.money(t0)} then, {f.money(t1)} now", False)]
        if o in ("lost", "declined"):
            named = [short_name(r["name"], 40) + (f", {f.last_order_text(r)}" if f.last_order_text(r) else "")
                     for _, r in g.head(3).iterrows()]
            sep = "; " if any(f.last_order_text(r) for _, r in g.head(3).iterrows()) else ", "
            line.append(("; " + sep.join(named) + (" and others" if len(g) > 3 else ""), False))
        take.append(line)
    for head, text in (("Still key: ", f.still_key_text()), ("Cross-sell: ", f.whitespace_text())):
        if text:
            take.append([(head, True), (text, False)])
    money_fmt = excel_number_format("currency", d.cur, max_abs=float(max(shown["revenue_plan"].max(),
                                                                        shown["revenue_now"].max(), 0)))

    def draw(cv: SlideCanvas):
        cats = [short_name(x, 38) for x in shown["name"]]
        cv.bar_chart(cv.region("Chart"), cats, {"At the plan": shown["revenue_plan"].tolist(),
                                                "Now": shown["revenue_now"].tolist()},
                     number_format=money_fmt, horizontal=True, colors=[tint(cv.style.primary, 0.55), cv.style.primary])
        _takeaway(cv, take, heading="Outcome since the plan")

    foot = "Revenue over the last 12 months, at the plan's date and now."
    if len(shown) < len(ka):
        foot += f" The chart shows the {fmt_top(len(shown), len(ka))} key accounts by revenue at the plan; the outcome " \
                "counts cover every one."
    return [SlideSpec(SECTION, "Chart", title, draw, topic="Key accounts since the plan",
                      source=_source(d, f, "plan_key_accounts"), footnote=foot,
                      notes="Each key account the plan committed to, followed on the new data: grown or declined "
                            "when its trailing-12-month revenue moved by more than the review's thresholds, lost when "
                            "it has not ordered within the churn window; names carry the account id where two share "
                            "a name.")]


# ------------------------------------------------------------------ 4 actions by owner
def s_since_actions(d: DeckData) -> list[SlideSpec]:
    f = followup(d)
    if f is None:
        return []
    a = f.action_rows()
    if a is None:
        d.skip("Actions since the plan", "the plan committed no account-plan action")
        return []
    title = _cap(f.actions_headline())
    owners = f.actions_by_owner().head(10)
    take: list = []
    if f.actions_returned:
        series = {_cap(b): owners[b].tolist() for b in ACTION_BUCKETS if b in owners.columns}
        rag = [STATUS_RAG[b] for b in ACTION_BUCKETS if b in owners.columns]
        over = a[a["bucket"] == "overdue"].sort_values("due_date")
        for _, r in over.head(3).iterrows():
            take.append([(f"{short_name(r['name'], 34)}: ", True),
                         (f"{_text(r['action'], 70)} ({person(r['owner'])}, due {fmt_date(r['due_date'])})", False)])
        nr = int((a["bucket"] == "not reported").sum())
        if nr:
            take.append([("Not reported: ", True), (f"{fmt_count(nr)} action{'s' if nr != 1 else ''} the returned file "
                                                     "does not mention", False)])
        if not take:
            take.append([("No action is overdue.", False)])
    else:
        due = pd.to_datetime(a["due_date"], errors="coerce").dt.date <= f.as_of
        g = a.assign(_due=due).groupby("owner")["_due"].agg(["sum", "size"]).reindex(owners.index)
        series = {"Due by now": g["sum"].tolist(), "Due later": (g["size"] - g["sum"]).tolist()}
        rag = None
        take = [[("No status returned: ", True),
                 ("the owners have not yet said which actions are done, in progress or dropped", False)],
                [("What it unlocks: ", True),
                 (f"with the status of the {fmt_count(len(a))} actions returned, this page shows what was done, "
                  "what is overdue and whom to reassign it to", False)]]
    rec = f.recommendations
    if rec is not None and f.actions_returned:
        st = rec["status"].astype(str).str.lower()
        take.append([("Recommendations: ", True),
                     (f"{fmt_count((st == 'done').sum())} of {fmt_count(len(rec))} done", False)])

    def draw(c: SlideCanvas):
        colors = ([c.style.rag(x) if x != "n/a" else tint(c.style.na, 0.3) for x in rag] if rag is not None else
                  [c.style.primary, tint(c.style.primary, 0.6)])
        if rag is not None:  # not started, dropped and not reported: three greys, lightest for the unknown
            greys = iter([c.style.na, tint(c.style.na, 0.35), tint(c.style.na, 0.65)])
            colors = [col if x != "n/a" else next(greys) for col, x in zip(colors, rag)]
        cats = [person(o) for o in owners.index]
        cats = cats if len(set(cats)) == len(cats) else list(owners.index)  # the role tells two namesakes apart
        c.bar_chart(c.region("Chart"), [_text(o, 36) for o in cats], series, number_format="0",
                    horizontal=True, stacked=True, colors=colors, label_format="0;-0;;")  # no label on an empty part
        _takeaway(c, take[:5], heading="Overdue first" if f.actions_returned else "Action status")

    foot = ("Overdue: past its due date and not done, by the status the owner returned; an action the returned file "
            "does not mention is 'not reported', never counted as done or overdue." if f.actions_returned else
            "Actions by owner and due date, from the last review's account plans; no status has been returned.")
    if len(owners) < a["owner"].nunique():
        foot += f" The {fmt_top(len(owners), a['owner'].nunique())} owners by number of actions."
    return [SlideSpec(SECTION, "Chart", title, draw, topic="Actions since the plan",
                      source=_source(d, f, "plan_actions", "plan_recommendations",
                                     data=f"{d.client}'s returned action statuses" if f.actions_returned else
                                     f"No action status returned by {fmt_date(d.as_of)}"),
                      footnote=foot,
                      notes="Each action of the plan's account plans, matched by its id to the returned actions file "
                            "(status, date, comment); overdue = reported in progress or not started and due before the end "
                            "of this review's data.")]


# ------------------------------------------------------------------ 5 migration against the committed segmentation
def s_since_migration(d: DeckData) -> list[SlideSpec]:
    f = followup(d)
    if f is None:
        return []
    piv = f.migration_matrix()
    if piv is None:
        d.skip("Segments since the plan", "the plan's segmentation could not be followed")
        return []
    q = d.params.segmentation.quadrant_names.ordered()

    def ordered(names) -> list:
        first = [x for x in q if x in set(names)]
        return first + sorted(set(names) - set(first), key=str)

    rows_l, cols_l = ordered(piv.index), ordered(piv.columns)
    piv = piv.reindex(index=rows_l, columns=cols_l, fill_value=0)
    seg = f.segments.set_index(f.segments["segment"].astype(str)) if f.segments is not None else None
    extra = ["Still buying", "Revenue then → now"] if seg is not None else []
    rows = []
    for a in rows_l:
        r = [_text(a, 24)] + [fmt_count(v) for v in piv.loc[a]]
        if seg is not None:
            s = seg.loc[a] if a in seg.index else None
            r += ([fmt_share(s["retention"], decimals=0), f"{f.money(s['revenue_plan'])} → {f.money(s['revenue_now'])}"]
                  if s is not None else ["", ""])
        rows.append(r)
    mx = piv.to_numpy().max() or 1
    title = _cap(f.migration_headline())

    def draw(c: SlideCanvas):
        fills, colors = {}, {}
        for i, a in enumerate(rows_l):
            for j, b in enumerate(cols_l, start=1):
                v = piv.loc[a, b]
                fills[(i, j)] = tint(c.style.primary, 1 - 0.8 * v / mx) if a == b else tint(c.style.accent,
                                                                                            1 - 0.7 * v / mx)
                colors[(i, j)] = "FFFFFF" if v / mx > 0.55 else c.style.text
        c.table(c.region("Table"), ["At the plan \\ now"] + [_text(x, 24) for x in cols_l] + extra, rows,
                widths=[1.4] + [1] * len(cols_l) + ([1.0, 1.8] if extra else []),
                align=["l"] + ["c"] * len(cols_l) + (["r", "r"] if extra else []), fills=fills, font_colors=colors,
                bold_cols=[0], max_pt=14)

    return [SlideSpec(SECTION, "Table", title, draw, topic="Segments since the plan",
                      source=_source(d, f, "plan_migration", "plan_segments"),
                      footnote="Rows: the segment each account was given at the plan; columns: its segment now; "
                               "diagonal = accounts that stayed." + (" Still buying: share of the segment's buying "
                                                                      "accounts that still buy." if extra else ""),
                      notes="Migration against the committed segmentation: each account's segment at the last review, "
                            "as committed, against its segment now; today's criteria are never applied to the past.")]


# ------------------------------------------------------------------ 6 what changes now
def s_since_changes(d: DeckData) -> list[SlideSpec]:
    f = followup(d)
    if f is None:
        return []
    items, total = f.changes_shown()
    if not items:
        items = [("Keep the plan", "every committed key account, KPI and action is where the plan expected it")]
    title = f.changes_headline()

    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1] * max(len(items), 4), gap=int(0.12 * IN))
        for i, ((head, text), r) in enumerate(zip(items, rows)):
            c.text_box(Box(r.x, r.y, int(0.55 * IN), r.h), [f"{i + 1}"], size=18, bold=True, fill=c.style.primary,
                       color="FFFFFF", align="c", anchor="m", fit=False, max_len=4)
            c.text_box(Box(r.x + int(0.7 * IN), r.y, r.w - int(0.7 * IN), r.h),
                       [[(head + ": ", True), (_text(text, 300), False)]], size=15, anchor="m", color=c.style.text,
                       min_pt=10)

    foot = (f"The {fmt_top(len(items), total)} changes, most urgent first; every one is in the dashboard."
            if len(items) < total else "")
    return [SlideSpec(SECTION, "Title and Content", title, draw, topic="What changes now",
                      source=_source(d, f, *PLAN_TABLES), footnote=foot,
                      notes="What changes now is derived from the follow-up figures only: lost and declining key "
                            "accounts, overdue or unreported actions, KPIs off track, the largest segment move and "
                            "coverage not delivered; nothing is added that the data does not show.")]


FOLLOWUP_STORY = [s_since_plan, s_since_kpis, s_since_history, s_since_key_accounts, s_since_actions, s_since_migration,
                  s_since_changes]
