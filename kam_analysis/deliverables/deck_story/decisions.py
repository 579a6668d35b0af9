"""The decisions the client must take, with their value, cost and return, and the business case.

The executive summary opens with them: (1) fund the KAM programme — the base case's
benefit in the accounts the programme covers, the programme's cost and its return and
payback (the business case table); without margin on the orders the benefit is revenue, so
no return (ROI) is shown, only a revenue payback labelled as such and the input that would
give a profit return; with no key account there is no programme to fund; (2)
and (3) the two largest recommendations, each with the value at stake, who owns it and
by when, and what it costs when the recommendation table says. A cost the client has
not given never becomes a euro figure, a return or a payback on a page: the page gives the
benefit and the manager hours, and asks for the figures that would cost them
(:func:`~kam_analysis.phases.business_case.missing_cost_inputs`); not even the speaker notes
(which travel with the file) carry a figure built on an assumed cost.
"""
from __future__ import annotations

import pandas as pd

from .._pptx import Box, SlideCanvas
from ...phases.business_case import PLAN_ACCOUNTS_CLAUSE, cost_needs, missing_cost_inputs, recommendation_cost_text as _rec_cost_text
from ...present.formats import fmt_count, fmt_date, fmt_share, is_num
from ._base import DeckData, IN, SlideSpec, _first_clause, _takeaway, _text, floor_rule, no_key_account_reason
from .strategy import lever_assumptions


def _business_case(d: DeckData) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    bc, cost = d.peek("business_case"), d.peek("programme_cost")
    if bc is None or cost is None or bc.empty or cost.empty:
        return None
    order = {"low": 0, "base": 1, "high": 2}
    bc = bc.assign(_o=bc["scenario"].astype(str).str.lower().map(order).fillna(9)).sort_values("_o")
    return bc, cost


def cost_ask(cost: pd.DataFrame) -> str:
    """What a page asks for when a cost is not the client's: 'Your cost of an account-manager hour
    (1,240 hours a year in the plan) and the tools budget a year price the programme; until then no
    cost, return or payback is stated.', or ''."""
    missing = missing_cost_inputs(cost)
    if not missing:
        return ""
    hours = cost.loc[cost["item"] == "manager_time", "quantity"]
    h = float(hours.iloc[0]) if len(hours) and is_num(hours.iloc[0]) else 0.0
    need = cost_needs(missing)
    if h > 0 and "account-manager hour" in need:
        need = need.replace("account-manager hour", f"account-manager hour ({fmt_count(h)} hours a year in the plan)", 1)
    return f"{need[:1].upper()}{need[1:]} price the programme; until then no cost, return or payback is stated."


def illustration_note(d: DeckData, b, cost: pd.DataFrame, years: int) -> str:
    """Speaker notes when a cost is not the client's: why no cost, return or payback is stated, and
    where the consultant finds them at the documented assumptions; '' when every cost is the
    client's. The notes travel with the file to the client, so they carry no figure built on an
    assumed cost either."""
    missing = missing_cost_inputs(cost)
    if not missing:
        return ""
    return ("No cost, return or payback is stated: " + cost_needs(missing)
            + " are not given yet. The run's business_case and programme_cost tables hold them at the "
              "documented assumptions (config.ASSUMED_PROGRAMME_COSTS), for the consultant only.")


def _months(v) -> str:
    return f"{fmt_count(v)} month{'' if round(float(v)) == 1 else 's'}"


def _payback(v, years: int) -> str:
    return f"payback in {_months(v)}" if is_num(v) else f"no payback within {years} years"


def _revenue_basis(b) -> bool:
    """True when the business case's benefit is revenue (no margin on the orders)."""
    return str(b.get("benefit_basis", "gross profit")) == "revenue"


#: without margin the benefit is revenue: no return is stated, and this says what would give one
NO_MARGIN_RETURN = "a return on the cost (ROI) needs gross margin or cost of goods on the order lines"


#: when the scenarios credit nothing to the programme's accounts: why, and the input that values it
NO_GAIN = "the scenarios' uplift lies in accounts that get no manager time"
NO_GAIN_UNLOCK = "set targets for the key accounts to value the programme"


def _no_gain(b) -> bool:
    """True when the benefit credited to the programme's accounts is nil though the whole base has one."""
    full, whole = b.get("profit_full_year"), b.get("whole_base_full_year")
    return is_num(full) and float(full) <= 0 and is_num(whole) and float(whole) > 0


def _scope(b) -> str:
    """'in the 46 accounts the plan gives manager hours' or '' (one name for the business case's
    accounts: "the programme's accounts" read as the client's own programme, a different group)."""
    n = b.get("programme_accounts")
    if not is_num(n):
        return ""
    return f"in the {fmt_count(n)} account{'' if int(n) == 1 else 's'} {PLAN_ACCOUNTS_CLAUSE}"


def _n_key(d: DeckData) -> int | None:
    """How many key accounts the run selected (None when the run has no segments table)."""
    segs = d.peek("segments")
    return int(segs["is_key"].fillna(False).astype(bool).sum()) if segs is not None and "is_key" in segs else None


def _programme_decision(d: DeckData) -> tuple[list[str], str, str] | None:
    """(row cells, title clause, note) for 'fund the programme', from the business case."""
    got = _business_case(d)
    if got is None:
        return None
    bc, cost = got
    base = bc[bc["scenario"].astype(str).str.lower() == "base"]
    if base.empty or not is_num(base["profit_full_year"].iloc[0]):
        return None
    b = base.iloc[0]
    years = int(b["years"])
    n_key = _n_key(d)
    if n_key == 0:  # no account's value carries a dedicated manager: there is no KAM programme to fund
        return None
    at = " (default threshold)" if floor_rule(d) else ""
    who = (f": {fmt_count(n_key)} key accounts{at} and the coverage plan for the rest" if n_key
           else " and its coverage plan")
    assumed = bool(b["assumed_costs"])
    revenue = _revenue_basis(b)
    scope = _scope(b)
    word = "revenue" if revenue else "gross profit"
    standard = lever_assumptions(d.peek("segment_targets"))[0]  # the playbooks' improvements, not the client's
    value = (f"{d.money(b['profit_over_horizon'])} {word} over {years} years "
             f"(base case{' at the playbooks' + chr(39) + ' standard improvements' if standard else ''}"
             f"{', ' + scope if scope else ''})")
    cost_cell = "Needs your cost figures" if assumed else f"{d.money(b['cost_over_horizon'])} over {years} years"
    if _no_gain(b):  # the scenarios' uplift is all outside the accounts the programme pays for
        value = f"None credited {scope or 'to the programme'}: {NO_GAIN}"
        ret = f"{NO_GAIN_UNLOCK[:1].upper()}{NO_GAIN_UNLOCK[1:]}"
        clause = (f"the data credits no gain to the accounts {PLAN_ACCOUNTS_CLAUSE}"
                  + ("" if assumed else f" ({d.money(b['cost_over_horizon'])} over {years} years)"))
    elif assumed:  # a cost the client has not given: the benefit, and what would price it; no return
        ret = "Return and payback follow from your costs" + (f"; {NO_MARGIN_RETURN}" if revenue else "")
        clause = (f"the accounts {PLAN_ACCOUNTS_CLAUSE} add {d.money(b['profit_over_horizon'])} of {word} over {years} years "
                  "in the base case; its return needs your costs")
    elif revenue:  # a revenue multiple is not a return: payback on revenue, labelled, and what unlocks a return
        ret = (f"revenue covers the cost {'in ' + _months(b['payback_months']) if is_num(b['payback_months']) else f'not within {years} years'}"
               f"; {NO_MARGIN_RETURN}")
        clause = (f"the accounts {PLAN_ACCOUNTS_CLAUSE} add {d.money(b['profit_over_horizon'])} of revenue over {years} years "
                  f"for {d.money(b['cost_over_horizon'])}")
    else:
        rois = [r for r in bc["roi"] if is_num(r)]
        ret = f"ROI {fmt_share(b['roi'], decimals=0, signed=True)}, {_payback(b['payback_months'], years)}"
        if len(rois) > 1:
            ret += (f" (range {fmt_share(min(rois), decimals=0, signed=True)} to "
                    f"{fmt_share(max(rois), decimals=0, signed=True)})")
        clause = (f"funding the programme returns {fmt_share(b['roi'], decimals=0)} over {years} years"
                  if b["roi"] > 0 else f"the programme does not pay back within {years} years in the base case")
    # with no gain credited to the accounts it pays for, the decision is to value the programme first
    label = "Set key-account targets before funding the programme" if _no_gain(b) else "Fund the KAM programme"
    row = [f"{label}{who}", value, cost_cell, ret]
    return row, clause, cost_ask(cost), illustration_note(d, b, cost, years)


def recommendation_cost_text(d: DeckData, rec) -> str:
    """A recommendation's own cost as a slide says it (:func:`~kam_analysis.phases.business_case.
    recommendation_cost_text`: never a euro figure at a cost the client has not given)."""
    return _rec_cost_text(rec.get("cost"), rec.get("cost_hours"), rec.get("cost_assumed"), d.cur)


def _recommendation_decisions(d: DeckData, n: int) -> list[list[str]]:
    r = d.peek("recommendations")
    if r is None or r.empty or "rank" not in r:
        return []
    # without key accounts there is no programme whose manager time would carry the work
    cost = "within the programme's manager time" if _n_key(d) != 0 else "within the sales team's time"
    out = []
    for _, x in r.sort_values("rank").head(n).iterrows():
        value = (f"{d.money(x['value'])} {_text(x.get('value_basis'), 50)}".strip() if is_num(x.get("value"))
                 else "not valued")
        when = []
        if isinstance(x.get("owner"), str) and x["owner"].strip():
            when.append(_text(x["owner"], 40))
        if x.get("due_date") is not None and not pd.isna(x.get("due_date")):
            when.append(f"by {fmt_date(x['due_date'])}")
        ret = ", ".join(when) or "—"
        out.append([_first_clause(x["recommendation"], 80), value, recommendation_cost_text(d, x) or cost, ret])
    return out


def s_decisions(d: DeckData) -> list[SlideSpec]:
    """The executive summary's first slide: three decisions with value, cost and return."""
    prog = _programme_decision(d)
    rows = ([prog[0]] if prog else []) + _recommendation_decisions(d, 3 - (1 if prog else 0))
    if not rows:
        d.skipped.append(("Decisions", "no business case or recommendation in this run"))
        return []
    note, illustration = (prog[2], prog[3]) if prog else ("", "")
    n = len(rows)
    title = (f"{({1: 'One', 2: 'Two', 3: 'Three'}).get(n, fmt_count(n))} decision{'s' if n > 1 else ''} for the board"
             + (f": {prog[1]}" if prog else ""))

    def draw(c: SlideCanvas):
        box = c.region("Body")
        c.table(Box(box.x, box.y, box.w, min(box.h - int(0.9 * IN), int(0.95 * IN) * (n + 1))),
                ["Decision", "Value", "Cost", "Return / owner and timing"],
                [[f"{i + 1}. {r[0]}", *r[1:]] for i, r in enumerate(rows)],
                widths=[2.6, 2.0, 1.6, 2.0], align=["l", "l", "l", "l"], bold_cols=[0], max_pt=15)
        if note:
            c.text_box(Box(box.x, box.y + box.h - int(0.8 * IN), box.w, int(0.7 * IN)),
                       [[("What the cost needs  ", True, c.style.primary), (note, False, c.style.text)]],
                       size=13, fill=c.style.light, anchor="m", inset=0.15, min_pt=9)

    return [SlideSpec("summary", "Title and Content", title, draw, topic="Decisions",
                      source=d.source("business_case", "programme_cost", "recommendations"),
                      notes="The decisions the client must take. 1: the business case — the base scenario's gross "
                            "profit (revenue when the orders carry no margin) over the programme years (impact "
                            "ramping up), counted only in the accounts the plan puts manager hours on, against the "
                            "programme's cost "
                            "(account-manager hours the coverage plan allocates x cost per hour, tools per year, one-off set-up); "
                            "ROI = net / cost; payback = first month the cumulative net turns positive. Others: the "
                            "largest recommendations by value. "
                            + (illustration or "All costs are the client's figures."))]


def s_business_case(d: DeckData) -> list[SlideSpec]:
    """Strategy section: ROI and payback per scenario, and what the programme costs."""
    got = _business_case(d)
    if got is None:
        return []
    bc, cost = got
    bc = bc[bc["profit_full_year"].map(is_num)]
    if bc.empty:
        d.skipped.append(("Business case", "the impact scenarios have no profit figure (no margin in the data)"))
        return []
    years = int(bc["years"].iloc[0])
    base = bc[bc["scenario"].astype(str).str.lower() == "base"]
    b = base.iloc[0] if len(base) else bc.iloc[0]
    if _n_key(d) == 0:
        d.skipped.append(("Business case", no_key_account_reason(d)[0] + ", so there is no KAM programme to cost"))
        return []
    if is_num(b.get("programme_accounts")) and int(b["programme_accounts"]) == 0:
        d.skipped.append(("Business case", "the plan puts manager hours on no account, so there is no programme "
                                           "to cost or credit"))
        return []
    revenue = _revenue_basis(b)
    assumed = bool(b["assumed_costs"])
    scope = _scope(b)
    word = "revenue" if revenue else "gross profit"
    if _no_gain(b):
        title = (f"The data credits no gain to the accounts {PLAN_ACCOUNTS_CLAUSE}"
                 + ("" if assumed else f", for {d.money(b['cost_over_horizon'])} over {years} years")
                 + f": {NO_GAIN_UNLOCK}")
    else:
        title = ""
    if assumed:  # a cost the client has not given: the benefit only, and what would price it
        title = title or (f"In the base case the accounts {PLAN_ACCOUNTS_CLAUSE} add {d.money(b['profit_over_horizon'])} of "
                          f"{word} over {years} years; " + ("its cost needs your cost figures and a return needs "
                                                            "margin data" if revenue else
                                                            "its cost and return need your cost figures"))
        head = ["Scenario", f"{word.capitalize()} a year at full run-rate", f"{word.capitalize()} over {years} years"]
        rows = [[str(r["scenario"]).capitalize(), d.money(r["profit_full_year"]), d.money(r["profit_over_horizon"])]
                for _, r in bc.iterrows()]
        widths, align = [1.2, 2.0, 2.0], ["l", "r", "r"]
    elif revenue:  # no margin: revenue and a revenue payback, never a 'return'
        title = title or (f"In the base case the accounts {PLAN_ACCOUNTS_CLAUSE} add {d.money(b['profit_over_horizon'])} of revenue "
                          f"over {years} years for {d.money(b['cost_over_horizon'])}; a return needs margin data")
        head = ["Scenario", "Revenue a year at full run-rate", f"Revenue over {years} years",
                f"Cost over {years} years", "Revenue covers cost in"]
        rows = [[str(r["scenario"]).capitalize(), d.money(r["profit_full_year"]), d.money(r["profit_over_horizon"]),
                 d.money(r["cost_over_horizon"]),
                 _months(r["payback_months"]) if is_num(r["payback_months"]) else f"not within {years} years"]
                for _, r in bc.iterrows()]
        widths, align = [0.9, 1.6, 1.5, 1.5, 1.6], ["l", "r", "r", "r", "r"]
    else:
        title = title or (
            f"In the base case the programme returns {fmt_share(b['roi'], decimals=0, signed=True)} on "
            f"{d.money(b['cost_over_horizon'])} over {years} years, {_payback(b['payback_months'], years)}")
        head = ["Scenario", "Profit a year at full run-rate", f"Profit over {years} years", f"Cost over {years} years",
                "Net", "ROI", "Payback"]
        rows = [[str(r["scenario"]).capitalize(), d.money(r["profit_full_year"]), d.money(r["profit_over_horizon"]),
                 d.money(r["cost_over_horizon"]), d.money(r["net_over_horizon"]),
                 fmt_share(r["roi"], decimals=0, signed=True),
                 _payback(r["payback_months"], years).removeprefix("payback in ")]
                for _, r in bc.iterrows()]
        widths, align = [0.9, 1.3, 1.2, 1.2, 1.1, 0.7, 1.2], ["l", "r", "r", "r", "r", "r", "r"]
    take = [f"{_text(r['label'], 70)}: " + (_unpriced(r) if bool(r["assumed"]) else f"{d.money(r['amount'])} {r['kind']}")
            for _, r in cost.iterrows()]
    if scope:
        whole = b.get("whole_base_full_year")
        take.insert(0, f"Benefit counted only {scope}"
                    + (f" (the whole base's scenario: {d.money(whole)} a year)" if is_num(whole) else ""))
    if revenue:
        take.append(f"No margin on the orders: {NO_MARGIN_RETURN}")

    def draw(c: SlideCanvas):
        box = c.region("Chart")
        c.table(Box(box.x, box.y, box.w, min(box.h, int(0.55 * IN) * (len(rows) + 1))),
                head, rows, widths=widths, align=align, bold_cols=[0], max_pt=13)
        _takeaway(c, take[:7], heading="What the programme costs")

    ramp = ", ".join(f"{x:.0%}" for x in d.params.strategy.ramp_up)
    return [SlideSpec("strategy", "Chart", title, draw, topic="Business case",
                      source=d.source("business_case", "programme_cost"),
                      footnote=f"Impact builds up over the years ({ramp} of a full year); costs run from day one; "
                               + ("the benefit is revenue: the orders carry no margin." if revenue
                                  else "the cost, return and payback need your cost figures." if assumed
                                  else "ROI = net / cost."),
                      notes="Business case: each scenario's impact (gross profit; revenue when the orders carry no "
                            "margin) in the accounts the plan puts manager hours on, at full run-rate, ramped up over the "
                            "programme years, against the programme's cost; payback is the first month the cumulative "
                            "net (set-up paid at the start) turns positive. "
                            + illustration_note(d, b, cost, years))]


def _unpriced(item) -> str:
    """A cost item the client has not given, as the business-case page lists it: its quantity when it
    has one, and that it needs the client's figure; never the assumed amount."""
    if item["item"] == "manager_time" and is_num(item["quantity"]):
        return f"{fmt_count(item['quantity'])} hours a year; needs your cost of an hour"
    return "needs your figure"
