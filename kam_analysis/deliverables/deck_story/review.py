"""Section 7 of the deck: KPI tracking, programme impact, migration and recommendations."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...present.theme import active_theme, tint
from .._pptx import SlideCanvas
from ...present.formats import fmt_change, fmt_count, fmt_date, fmt_share, fmt_value, fmt_top, is_num
from ...phases.review import baseline_date
from .decisions import recommendation_cost_text
from ._base import (impact_diverged, _bullets, DeckData, _first_clause, _impact_text, _impact_values, _lc_first, _q, _rows_per_page,
                    SlideSpec, _text, _tiles)


DECK_RECOMMENDATIONS = 5  # the deck lists the largest; the KPI dashboard and the HTML dashboard list all


def s_kpi_dashboard(d: DeckData) -> list[SlideSpec]:
    if not d.supports("kpi_vs_target"):
        return []  # no targets: the review-baseline slide shows the KPIs, the data request asks for targets
    t = d.table("kpi_vs_target", ("kpi", "current", "target", "status"), topic="KPI dashboard")
    if t is None:
        return []
    t = t[t["current"].map(is_num)]
    if t.empty:
        return []
    rank = {"red": 0, "amber": 1, "green": 2}
    t = t.assign(_o=t["status"].map(rank).fillna(3)).sort_values("_o", kind="stable")
    rated = t[t["status"].isin(list(rank))]
    n_on, n_tracked = int((rated["status"] == "green").sum()), len(rated)  # as the executive summary counts them
    n_all, t = len(t), t.head(5)
    title = f"{n_on} of {n_tracked} tracked KPIs are on target" + (
        f"; {_lc_first(d.label_of(t.iloc[0]['kpi']))} needs attention" if t.iloc[0]["status"] in ("red", "amber") else "")
    tiles, subs = [], []
    for _, r in t.iterrows():
        u = d.unit_of(r["kpi"])
        tiles.append((fmt_value(r["current"], u, d.cur), d.label_of(r["kpi"]), r["status"]))
        subs.append(f"Target {fmt_value(r['target'], u, d.cur)} · {str(r['status']).upper()}")
    body = []
    for _, r in t.iterrows():
        if r["status"] in ("red", "amber") and "gap" in t.columns:
            u = d.unit_of(r["kpi"])
            body.append([(f"{d.label_of(r['kpi'])}: ", True),
                         (f"{fmt_change(r['gap'], u, d.cur)} against target", False)])  # points, as on every page

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), tiles, sub=subs)
        if body:
            _bullets(c, c.region("Body"), body[:4], size=15)
        else:
            c.region("Body")

    return [SlideSpec("review", "Key Numbers", title, draw, topic="KPI dashboard", source=d.source("kpi_vs_target"),
                      footnote="Bar colour = status against target (green / amber / red)." + (
                          f" The {fmt_top(len(t), n_all)} KPIs with a target, worst status first." if len(t) < n_all
                          else ""),
                      notes="KPI tracking against the client's targets; status from the shortfall relative to "
                            "the target, with the amber and red thresholds of the engagement settings "
                            "(thresholds.rag).")]


def _impact_groups(r) -> list[list]:
    """Who the estimate compares, reconciled with the programme's size by the table's own
    sentence (``accounts_note``: "114 of the 160 accounts in the client's programme are in the
    estimate; left out: ...")."""
    treated = fmt_count(r["n_treated"]) + " " if is_num(r.get("n_treated")) else ""
    control = fmt_count(r["n_control"]) + " " if is_num(r.get("n_control")) else ""
    out = [[("Comparison: ", True), (f"{treated}programme accounts against {control}comparable accounts outside the "
                                      "programme, before and after the programme start", False)]]
    note = r.get("accounts_note")
    if isinstance(note, str) and note.strip():
        out.append([("Accounts: ", True), (_text(note, 400), False)])
    return out


def s_programme_impact(d: DeckData) -> list[SlideSpec]:
    t = d.table("programme_impact", ("supported", "estimate", "ci_low", "ci_high", "sentence"),
                topic="Programme impact")
    if t is None:
        return []
    r = t.iloc[0]
    val, lo, hi, unit = _impact_values(r)
    if not bool(r["supported"]) or val is None:
        return []  # reported on the data-readiness slide with its reason
    ci = f"{fmt_value(lo, unit, signed=True)} to {fmt_value(hi, unit, signed=True)}"
    p = ""
    if "p_value" in t.columns and is_num(r.get("p_value")):
        p = "p < 0.001" if r["p_value"] < 0.001 else f"p = {r['p_value']:.3f}"  # speaker notes only
    level = r.get("confidence") if is_num(r.get("confidence")) else d.params.thresholds.confidence
    conf = fmt_share(level, decimals=0)
    if impact_diverged(r):  # the comparison fails its own check: no effect, measured or null, is claimed
        title = (f"The programme's effect cannot be measured reliably yet: its accounts and the comparison were "
                 f"already diverging before it started (estimate {_impact_text(r)})")
    elif is_num(lo) and is_num(hi) and float(lo) <= 0 <= float(hi):
        # an interval across zero is no measured effect: the title does not claim one
        title = f"No measurable programme effect yet: the estimate is {_impact_text(r)} ({conf} interval {ci})"
    elif unit == "share":
        title = (f"Programme accounts grew revenue an estimated {_impact_text(r)} more than comparable accounts "
                 f"({conf} interval {ci})")
    else:
        title = f"The programme effect is estimated at {_impact_text(r)} ({conf} interval {ci})"
    body = [[("In plain words: ", True), (_text(r["sentence"], 560), False)],
            [("Estimate: ", True), (f"{_impact_text(r)} ({conf} interval {ci})", False)]]
    if is_num(lo) and is_num(hi):
        clear = float(lo) > 0 or float(hi) < 0
        body.append([("Reading: ", True), ("the interval excludes zero, so the effect is distinguishable from noise"
                                            if clear else "the interval includes zero, so the data cannot rule out no "
                                                          "effect", False)])
    if "parallel_trends" in t.columns and r.get("parallel_trends") is not None and not pd.isna(r.get("parallel_trends")):
        pt = bool(r["parallel_trends"])
        body.append([("Pre-programme check: ", True),
                     ("key and comparison accounts moved in parallel before the start, which supports the comparison"
                      if pt else "the groups were already diverging before the start; read the estimate with caution",
                      False)])
    body += _impact_groups(r)

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), [(_impact_text(r), "Programme effect (estimate)", None),
                                        (ci, f"{conf} confidence interval", None)])
        _bullets(c, c.region("Body"), body, size=16)

    return [SlideSpec("review", "Key Numbers", title, draw, topic="Programme impact", source=d.source("programme_impact"),
                      footnote="Difference-in-differences: accounts in the client's KAM programme vs comparable "
                               "accounts outside it, before vs after the programme start; cluster-robust standard errors.",
                      notes="Programme impact by difference-in-differences with account and period effects; the "
                            "effect is shown as a revenue uplift (the exponential of the log-revenue effect, minus one)." +
                            (f" Test of no effect: {p}." if p else ""))]


def s_review_baseline(d: DeckData) -> list[SlideSpec]:
    """Without a key-account programme (membership and start) there is nothing to measure a
    programme against: the review states the baseline the next review will compare with —
    today's headline KPIs and key-account selection — and what to send to track progress."""
    if d.supports("programme_impact") and d.supports("migration"):
        return []
    h = d.peek("kpi_headline")
    if h is None or h.empty:
        return []
    h = h[h["value"].map(is_num)]
    order = ["revenue_12m", "active_accounts", "retention_rate", "average_order_value", "repeat_purchase_rate", "nps"]
    h = h[h["kpi"].isin(order)].assign(_o=lambda x: x["kpi"].map(order.index)).sort_values("_o").head(5)
    if h.empty:
        return []
    tiles = [(fmt_value(r["value"], r["unit"], d.cur), d.label_of(r["kpi"]), None) for _, r in h.iterrows()]
    when = d.as_of.strftime("%d %B %Y").lstrip("0")
    body = [[("Baseline: ", True), (f"the key figures above, over the 12 months to {when}", False)]]
    segs = d.peek("segments")
    if not d.supports("portfolio_matrix"):  # a base too small for the matrix: no quadrant to count
        body.append([("Segmentation today: ", True),
                     (f"no portfolio quadrants, as {d._capability_of().caveat('portfolio_matrix')}", False)])
    elif segs is not None and {"is_key", "quadrant"} <= set(segs.columns):
        n_key = int(segs["is_key"].astype(bool).sum())
        sizes = segs["quadrant"].astype(str).value_counts()
        body.append([("Segmentation today: ", True),
                     (f"{fmt_count(n_key)} key accounts selected; " + ", ".join(
                         f"{q} {fmt_count(sizes.get(q, 0))}" for q in _q(d)) + " accounts", False)])
    body.append([("Next review: ", True), ("compares these figures and segments with the same measures then; to "
                                           "measure a programme's effect, record which accounts join it and when",
                                           False)])
    why = d.support("programme_impact")

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), tiles)
        _bullets(c, c.region("Body"), body, size=15)

    return [SlideSpec("review", "Key Numbers",
                      f"This review sets the baseline the next review will measure progress against ({when})", draw,
                      topic="Review baseline", source=d.source("kpi_headline", "segments"),
                      footnote="No key-account programme is recorded in the data, so no programme effect" + (
                          ", playbook result or segment migration" if not d.supports("migration") else
                          " or playbook result") + " is claimed.",
                      notes="The review compares KPIs and segments with a baseline. Without programme membership and "
                            f"a start date (analysis support: programme impact {why.replace('_', ' ')}), today's "
                            "figures are the baseline the next review compares against.")]


def s_migration(d: DeckData) -> list[SlideSpec]:
    if not d.supports("migration"):
        return []  # no programme: the review-baseline slide says what the next review compares with
    t = d.table("segment_migration", ("from_segment", "to_segment", "accounts"), topic="Segment migration")
    if t is None:
        return []
    piv = t.pivot_table(index="from_segment", columns="to_segment", values="accounts", aggfunc="sum", fill_value=0)

    def ordered(names) -> list:
        first = [q for q in _q(d) if q in set(names)]
        return first + sorted(set(names) - set(first), key=str)

    row_labels, col_labels = ordered(piv.index), ordered(piv.columns)
    piv = piv.reindex(index=row_labels, columns=col_labels, fill_value=0)
    common = [x for x in row_labels if x in set(col_labels)]  # segments present at both dates
    core = piv.loc[common, common].to_numpy()
    base, stay = core.sum(), np.trace(core)
    moved = base - stay
    new = piv.loc[[x for x in row_labels if x not in set(common)]].to_numpy().sum()
    a = d.params.analysis  # the baseline is dated: a follow-up review also shows migration since its plan
    bdate = baseline_date(as_of=a.as_of_date, programme_start=a.programme_start,
                          configured=d.params.review.baseline_date)
    since = (f"the programme start ({fmt_date(bdate)})" if bdate == a.programme_start else
             f"the baseline of {fmt_date(bdate)}")
    title = (f"{fmt_count(moved)} of {fmt_count(base)} accounts ({fmt_share(moved / base, decimals=0) if base else 'n/a'})"
             f" changed segment since {since}" + (f"; {fmt_count(new)} accounts are new or re-entered" if new else ""))
    rows, fills, colors = [], {}, {}
    labels = col_labels
    mx = piv.to_numpy().max() or 1
    for i, a in enumerate(row_labels):
        rows.append([_text(a, 24)] + [fmt_count(v) for v in piv.loc[a]])
        for j, b in enumerate(col_labels, start=1):
            v = piv.loc[a, b]
            fills[(i, j)] = tint(d.params.branding.primary_color, 1 - 0.8 * v / mx) if a == b else tint(
                d.params.branding.accent_color, 1 - 0.7 * v / mx)
            colors[(i, j)] = "FFFFFF" if v / mx > 0.55 else active_theme().text

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["From \\ to"] + [_text(x, 24) for x in labels], rows,
                widths=[1.4] + [1] * len(labels), align=["l"] + ["c"] * len(labels), fills=fills, font_colors=colors,
                bold_cols=[0], max_pt=14)

    return [SlideSpec("review", "Table", title, draw, topic="Segment migration", source=d.source("segment_migration"),
                      footnote="Rows: segment at the baseline; columns: segment now; diagonal = accounts that stayed.",
                      notes="Segment migration: transition matrix of accounts between the baseline and the current "
                            "segmentation.")]


def s_recommendations(d: DeckData) -> list[SlideSpec]:
    """Ranked recommendations. Each value is shown with its basis (revenue at risk, uplift,
    expected value): values of different kinds are never added up, so the title names the count
    and the largest, not a total."""
    t = d.table("recommendations", ("rank", "recommendation", "evidence"), topic="Recommendations")
    if t is None:
        return []
    total = len(t)
    t = t.sort_values("rank").head(DECK_RECOMMENDATIONS)
    has_v = "value" in t.columns
    has_b = has_v and "value_basis" in t.columns

    has_o = "owner" in t.columns
    has_c = "cost" in t.columns

    def owner(r) -> str:
        due = r.get("due_date")
        return _text(r.get("owner"), 50) + (f", by {fmt_date(due)}" if due is not None and not pd.isna(due) else "")

    rows = [[fmt_count(r["rank"]), _text(r["recommendation"], 200)] + ([owner(r)] if has_o else []) +
            [_text(r["evidence"], 260)] +
            ([d.money(r["value"]) + (f" {_text(r['value_basis'], 60)}" if has_b else "")] if has_v else []) +
            ([recommendation_cost_text(d, r) or "–"] if has_c else [])
            for _, r in t.iterrows()]
    first = t.iloc[0]
    lead = _lc_first(_first_clause(first["recommendation"], 70))
    title = (f"{total} recommendation{'s' if total != 1 else ''}" if len(t) == total else
             f"The {fmt_top(len(t), total)} recommendations") + f"; the largest: {lead}"
    if has_v and is_num(first["value"]):
        basis = _text(first["value_basis"], 60) if has_b and _text(first["value_basis"], 60) else "at stake"
        title += f" ({d.money(first['value'])} {basis})"
    pages = _rows_per_page(len(rows), 5)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["#", "Recommendation"] + (["Owner and timing"] if has_o else []) + ["Evidence"]
                    + (["Value at stake"] if has_v else []) + (["Cost a year"] if has_c else []), rows[sl],
                    widths=[0.4, 2.4] + ([1.2] if has_o else []) + [2.5 if has_c else 2.8] + ([1.3] if has_v else [])
                    + ([1.1] if has_c else []),
                    align=["c", "l"] + (["l"] if has_o else []) + ["l"] + (["l"] if has_v else []) + (["l"] if has_c else []),
                    max_pt=13)
        out.append(SlideSpec("review", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw,
                             topic="Recommendations", source=d.source("recommendations"),
                             footnote=(f"The {fmt_top(len(t), total)} by value; all are in the two dashboards. "
                                       if len(t) < total else "") +
                                      ("Each value is of the kind named beside it; they are not a total." if has_v
                                       else "") +
                                      (" Cost a year: manager hours of the accounts it touches at the hourly cost, plus "
                                       "their tools share." if has_c else ""),
                             notes="Rule-based recommendations ranked by value at stake; each names its evidence. "
                                   "Values are of different kinds (revenue at risk of churn, revenue uplift, expected "
                                   "cross-sell value) and are not summed."))
    return out

