"""Slides for what the phases compute and the client should see: the scenario sensitivity
(tornado), the KAM maturity stage, the coverage by account manager and the control charts
of the tracked KPIs."""
from __future__ import annotations

from .._pptx import SlideCanvas
from ...present.formats import excel_number_format, fmt_count, fmt_n, fmt_share, fmt_value, is_num
from .._computed_views import control_chart_views, tornado_view
from ._base import DeckData, SlideSpec, _takeaway, _text


def s_sensitivity(d: DeckData) -> list[SlideSpec]:
    """Tornado: how far each lever moves the base case's impact from its low to its high value
    (:func:`~kam_analysis.deliverables._computed_views.tornado_view`, as both dashboards show it)."""
    if d.table("sensitivity", ("label", "profit_low", "profit_base", "profit_high", "swing"),
               topic="Scenario sensitivity") is None:
        return []
    v = tornado_view(d.run)
    if v is None:
        return []
    word, base, levers = v["word"], v["base"], v["levers"]  # widest first
    top = levers[0]
    title = (f"{_text(top['label'], 50).split(' (')[0]} moves the {word} impact most: "
             f"{d.money(top['low'])} to {d.money(top['high'])} around the base case's {d.money(base)}")
    mx = max(max(abs(lv["high"] - base), abs(lv["low"] - base)) for lv in levers)
    take = [f"{_text(lv['label'], 50)}: {d.money(lv['low'])} to {d.money(lv['high'])}" for lv in levers]
    bars = levers  # the chart helper lists the first category on top: widest on top

    def draw(c: SlideCanvas):
        from pptx.enum.chart import XL_TICK_LABEL_POSITION

        chart = c.bar_chart(c.region("Chart"), [_text(lv["label"], 40) for lv in bars],
                            {"Lever at its low value": [lv["low"] - base for lv in bars],
                             "Lever at its high value": [lv["high"] - base for lv in bars]},
                            number_format=excel_number_format("currency", d.cur, max_abs=mx), horizontal=True,
                            colors=[c.style.red, c.style.accent])
        chart.category_axis.tick_label_position = XL_TICK_LABEL_POSITION.LOW  # labels left of the bars
        chart.plots[0].overlap = 100  # one bar per lever, low to the left and high to the right
        _takeaway(c, take, heading=v["title"])

    return [SlideSpec("strategy", "Chart", title, draw, topic="Scenario sensitivity", source=d.source("sensitivity"),
                      footnote=v["note"],
                      notes="Tornado: one lever at a time moved between its low and high scenario multiplier, the "
                            "others at base; the widest bar is the assumption the business case depends on most.")]


def s_maturity(d: DeckData) -> list[SlideSpec]:
    t = d.peek("maturity_stage")
    if t is None or t.empty or not is_num(t["overall_score"].iloc[0]):
        return []
    r = t.iloc[0]
    stage, target = _text(r["stage"], 30), _text(r.get("target_stage"), 30)
    title = (f"KAM maturity is at the '{stage}' stage ({fmt_count(r['stage_number'])} of {fmt_count(r['stages'])}); "
             f"the target is '{target}'" if target else f"KAM maturity is at the '{stage}' stage")
    body = [[("Where the organisation stands: ", True), (_text(r["description"], 220), False)],
            [("Overall score: ", True), (f"{r['overall_score']:.1f} of 5 against a target of "
                                         f"{r['overall_target']:.1f}" if is_num(r.get("overall_target"))
                                         else f"{r['overall_score']:.1f} of 5", False)]]
    if isinstance(r.get("next_stage"), str) and r["next_stage"]:
        body.append([("Next stage: ", True), (r["next_stage"], False)])
    if isinstance(r.get("weakest_dimension"), str) and r["weakest_dimension"]:
        body.append([("Weakest dimension: ", True), (r["weakest_dimension"] + (
            f", {abs(float(r['largest_gap'])):.1f} points below target" if is_num(r.get("largest_gap")) else ""),
                                                      False)])

    def draw(c: SlideCanvas):
        from ._base import _bullets
        _bullets(c, c.region("Body"), body, size=17)

    return [SlideSpec("assessment", "Title and Content", title, draw, topic="KAM maturity stage",
                      source=d.source("maturity_stage", data="KAM self-assessment"),
                      notes="Maturity stage: the average capability score mapped to the five stages of key-account "
                            "relationship development (exploratory, basic, cooperative, interdependent, integrated).")]


def s_manager_coverage(d: DeckData) -> list[SlideSpec]:
    t = d.table("manager_load", ("manager", "capacity_hours", "hours_assigned", "utilisation", "accounts"),
                topic="Coverage by account manager")
    if t is None:
        return []
    if not (t["hours_assigned"].fillna(0) > 0).any():
        return []  # a table of zeros: the coverage slide already says the plan assigns no manager hours
    t = t.sort_values(["hours_assigned", "manager"], ascending=[False, True])
    over = t[t["utilisation"] > 1.0]
    full = int((t["utilisation"] >= 0.995).sum())
    title = (f"{fmt_count(full)} of {fmt_count(len(t))} account managers are fully booked by the coverage plan"
             if full else f"The coverage plan uses {fmt_share(t['hours_assigned'].sum() / t['capacity_hours'].sum(), decimals=0)} "
                          "of the account managers' time")
    rows = [[_text(r["manager"], 40), fmt_count(r["accounts"]),
             fmt_count(r["accounts_kept"]) if "accounts_kept" in t and is_num(r.get("accounts_kept")) else "–",
             f"{fmt_count(r['hours_assigned'])} of {fmt_count(r['capacity_hours'])}", fmt_share(r["utilisation"], decimals=0)]
            for _, r in t.iterrows()]

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["Account manager", "Accounts", "Of which kept from today's book", "Hours a year",
                                    "Time used"], rows, widths=[2, 1, 1.5, 1.5, 1], align=["l", "r", "r", "r", "r"],
                bold_cols=[0], max_pt=13)

    return [SlideSpec("strategy", "Table", title, draw, topic="Coverage by account manager",
                      source=d.source("manager_load"),
                      footnote="Accounts kept = accounts the manager already covers today; the plan moves as few as "
                               "it can." + (f" {fmt_n(len(over), 'manager')} above capacity." if len(over) else ""),
                      notes="Coverage assignment by manager: the optimiser's hours per manager against each "
                            "manager's capacity, keeping today's account-manager relationships where possible.")]


def s_control_charts(d: DeckData) -> list[SlideSpec]:
    """One control chart per tracked KPI that has limits (the first two; both dashboards show every
    one, from the same :func:`~kam_analysis.deliverables._computed_views.control_chart_views`)."""
    out = []
    for v in control_chart_views(d.run)[:2]:
        unit, label = v["unit"], v["label"]
        pts = [p for p in v["points"] if p["value"] is not None]
        signals = [p for p in pts if p["signal"]]
        if signals:
            last = signals[-1]
            up = [p for p in signals if p["center"] is not None and p["value"] > p["center"]]
            way = ("rise" if len(up) == len(signals) else "fall" if not up else "")
            lead = (f"{label} has moved {'up' if way == 'rise' else 'down'}: "
                    f"{fmt_n(len(signals), 'period')} signal{'s' if len(signals) == 1 else ''} a real {way}"
                    if way else f"{label}: {fmt_n(len(signals), 'period')} outside normal variation")
            title = f"{lead}, the latest {last['period']} at {fmt_value(last['value'], unit, d.cur)}"
        else:
            title = f"{label} stays within its normal variation: no period signals a real change"
        mx = max(abs(x) for p in pts for x in (p["value"], p["ucl"]) if x is not None)

        def draw(c: SlideCanvas, v=v, pts=pts, mx=mx, unit=unit, signals=signals):
            c.line_chart(c.region("Chart"), [p["period"] for p in pts],
                         {"Value": [p["value"] for p in pts], "Centre line": [p["center"] for p in pts],
                          "Upper limit": [p["ucl"] for p in pts], "Lower limit": [p["lcl"] for p in pts]},
                         number_format=excel_number_format(unit if unit in ("currency", "share") else "ratio", d.cur,
                                                           max_abs=mx),
                         colors=[c.style.primary, c.style.muted, c.style.red, c.style.red], labels_last=False)
            _takeaway(c, [v["basis"],
                          "A point outside the limits, or a long run on one side of the centre line, is a real "
                          "change, not noise"] +
                      [f"{p['period']}: {fmt_value(p['value'], unit, d.cur)}" for p in signals[-5:]],
                      heading="How to read it")

        out.append(SlideSpec("review", "Chart", title, draw, topic="Control charts", source=d.source("spc_limits"),
                             notes="Statistical process control: " + (
                                 "Laney p' chart for a rate (the binomial limits widened by the period-to-period "
                                 "variation, so a large account base is not flagged every period)"
                                 if v["chart"] == "p" else "individuals (XmR) chart") +
                                   "; centre line and 3-sigma limits from the pre-programme periods; signals by the "
                                   "Western Electric rules."))
    return out
