"""Section 1 of the deck: title, executive summary and key numbers."""
from __future__ import annotations


from .._pptx import Box, SlideCanvas
from ...metrics import kpi_explanation, kpi_label, revenue_share
from ...present.formats import fmt_count, fmt_date, fmt_share, fmt_value, is_num
from ._base import (floor_rule, impact_diverged, _bullets, buying_tiers, _churn_unsupported, DeckData, Finding, _first_clause, _impact_text, _impact_values, IN,
                    _lc_first, SlideSpec, _text, _tiles)


def s_title(d: DeckData) -> list[SlideSpec]:
    e = d.params.engagement
    when = (e.date or d.as_of).strftime("%d %B %Y").lstrip("0")
    mark = d.params.branding.confidentiality

    def draw(c: SlideCanvas):
        c.set_text("Title", _text(e.title, 120), max_pt=40, min_pt=24)
        c.set_text("Subtitle", d.client, max_pt=22, min_pt=14)
        c.set_text("Date", " · ".join(x for x in [when, _text(e.consultant, 80), _text(mark, 60)] if x),
                   max_pt=14, min_pt=10)
        logo = d.params.branding.logo
        if logo is not None and logo.is_file():
            w = c.deck.width
            c.picture(logo, Box(w - int(2.6 * IN), int(0.4 * IN), int(2.0 * IN), int(0.8 * IN)))

    return [SlideSpec("summary", "Title", _text(e.title, 120), draw, topic="title",
                      notes="Framework deck built from the engagement run's tables; every number comes from them (the run's "
                            "manifest lists this file with its checksum).")]


def s_exec_summary(d: DeckData) -> list[SlideSpec]:
    findings, seen = [], set()
    for f in (fn(d) for fn in FINDINGS):
        if f is not None and f.number not in seen and not any(f.number in g.text for g in findings):
            findings.append(f)
            seen.add(f.number)
    findings = findings[:5]
    if not findings:
        d.skip("Executive summary", "no headline results in this engagement")
        return []

    def draw(c: SlideCanvas):
        box = c.region("Body")
        n = len(findings)
        rows = box.split_v([1] * n, gap=int(0.12 * IN))
        for i, (f, r) in enumerate(zip(findings, rows)):
            num_w = int(2.6 * IN)
            c.text_box(Box(r.x, r.y, int(0.5 * IN), r.h), [str(i + 1)], size=22, bold=True, color=c.style.accent,
                       anchor="m", fit=False)
            c.text_box(Box(r.x + int(0.55 * IN), r.y, num_w, r.h), [f.number], size=24, bold=True,
                       color=c.style.primary, anchor="m", min_pt=14)
            c.text_box(Box(r.x + int(0.6 * IN) + num_w, r.y, r.w - num_w - int(0.6 * IN), r.h), [f.text], size=16,
                       color=c.style.text, anchor="m", min_pt=10)
            if i < n - 1:
                c.rule(r.x, r.y + r.h + int(0.06 * IN), r.w, c.style.grid, 0.75)

    shorts = [f.short for f in findings if f.short][:2]
    title = "; ".join(shorts) if shorts else "Executive summary"
    title = title[0].upper() + title[1:]
    return [SlideSpec("summary", "Title and Content", title, draw, topic="Executive summary",
                      source=d.source("kpi_headline", "segments", "kpi_vs_target"),
                      notes="Headline findings, each generated from a run table: " +
                            "; ".join(f"{f.number} — {f.text}" for f in findings))]


def _f_revenue(d: DeckData) -> Finding | None:
    rev, g = d.headline("revenue_12m"), d.headline("revenue_growth_yoy")
    if rev is None:
        return None
    tail = f", {'up' if g >= 0 else 'down'} {fmt_share(abs(g))} on the previous year" if g is not None else ""
    short = (f"revenue {'up' if g >= 0 else 'down'} {fmt_share(abs(g))} to {d.money(rev)}" if g is not None
             else f"revenue of {d.money(rev)} in the last 12 months")
    return Finding(d.money(rev), f"Net revenue in the last 12 months{tail}.", short)


def _f_concentration(d: DeckData) -> Finding | None:
    cs = d.peek("concentration_summary")
    if cs is not None and {"metric", "value"} <= set(cs.columns):
        v = cs.loc[cs["metric"] == "top20_share", "value"]
        if len(v) and is_num(v.iloc[0]):
            return Finding(fmt_share(v.iloc[0]), "of revenue comes from the top 20% of accounts.",
                           f"the top 20% of accounts bring {fmt_share(v.iloc[0])} of it")
    ts = d.peek("tier_summary")
    if ts is not None and {"tier", "accounts", "revenue_share"} <= set(ts.columns) and len(ts):
        ts, _ = buying_tiers(ts)
        top = ts.iloc[0]
        share_acc = top["accounts"] / ts["accounts"].sum()
        return Finding(fmt_share(top["revenue_share"]),
                       f"of revenue comes from the {_text(top['tier'], 30)} tier, {fmt_share(share_acc, decimals=0)} "
                       "of buying accounts.",
                       f"{fmt_share(share_acc, decimals=0)} of accounts bring {fmt_share(top['revenue_share'])} of it")
    return None


def _f_targets(d: DeckData) -> Finding | None:
    t = d.peek("kpi_vs_target")
    if t is None or not {"kpi", "status"} <= set(t.columns):
        return None
    rated = t[t["status"].isin(["green", "amber", "red"])]
    if rated.empty:
        return None
    off = rated[rated["status"] != "green"]
    text = f"of {len(rated)} KPIs with a target are on target"
    if len(off):
        worst = off.sort_values("status", key=lambda s: s.map({"red": 0, "amber": 1})).iloc[0]
        text += f"; {_lc_first(d.label_of(worst['kpi']))} is {worst['status']}"
        if is_num(worst.get("current")) and is_num(worst.get("target")):
            u = d.unit_of(worst["kpi"])
            text += f" at {fmt_value(worst['current'], u, d.cur)} vs {fmt_value(worst['target'], u, d.cur)}"
    return Finding(f"{len(rated) - len(off)} of {len(rated)}", text + ".",
                   f"{len(rated) - len(off)} of {len(rated)} KPIs on target")


def _f_capacity(d: DeckData) -> Finding | None:
    """The capacity gap, when the managers cannot serve every account whose value warrants one."""
    from .segmentation import capacity_sentence, sizing_values

    z = sizing_values(d)
    if z is None or not (z.get("capacity_gap", 0) > 0 and is_num(z.get("capacity_accounts"))):
        return None
    text, short = capacity_sentence(d, z)
    return Finding(f"{fmt_count(z['capacity_accounts'])} of {fmt_count(z['warranted'])}", text + ".", short)


def _f_key_accounts(d: DeckData) -> Finding | None:
    s = d.peek("segments")
    if s is None or not {"is_key", "revenue_12m"} <= set(s.columns):
        return None
    tot = s["revenue_12m"].sum()
    if not tot:
        return None
    key = s[s["is_key"].astype(bool)]
    if key.empty and "account_status" in s.columns:
        live = int((s["account_status"] == "live").sum())
        return Finding("0", f"of {fmt_count(live)} live accounts bring enough revenue to carry a dedicated key account "
                       "manager: every account is served by a tier (pooled team or digital).",
                       "no account can carry a dedicated manager")
    share = fmt_share(revenue_share(key['revenue_12m'].sum(), tot))
    # at the default threshold the count is provisional: the summary says so, as the sizing page does
    at = (" at the default threshold, until your cost of a manager hour sets it"
          if floor_rule(d) else "")
    return Finding(fmt_count(len(key)), f"key accounts selected, holding {share} of last-12-month revenue: the live "
                   f"accounts whose value can carry a dedicated manager{at}.",
                   f"{fmt_count(len(key))} key accounts hold {share} of revenue")


def _f_impact(d: DeckData) -> Finding | None:
    """The programme effect, composed from the table's numbers (not the long ``sentence``, which
    does not fit a summary line): "more revenue growth in programme accounts than in comparable
    accounts (95% CI +14.8% to +37.9%)"."""
    p = d.peek("programme_impact")
    if p is None or not {"supported", "estimate"} <= set(p.columns) or p.empty:
        return None
    r = p.iloc[0]
    if not bool(r["supported"]) or not is_num(r["estimate"]):
        return None
    val, lo, hi, unit = _impact_values(r)
    level = r.get("confidence") if is_num(r.get("confidence")) else d.params.thresholds.confidence
    ci = (f" ({fmt_share(level, decimals=0)} CI {fmt_value(lo, unit, signed=True)} to "
          f"{fmt_value(hi, unit, signed=True)})") if is_num(lo) and is_num(hi) else ""
    if impact_diverged(r):
        text = (f"estimated programme effect on revenue, not reliable yet: programme and comparison accounts were "
                f"already diverging before the start{ci}.")
    elif is_num(lo) and is_num(hi) and float(lo) <= 0 <= float(hi):
        text = f"estimated programme effect on revenue, not distinguishable from no effect{ci}."
    elif unit == "share":
        text = f"more revenue growth in programme accounts than in comparable accounts{ci}."
    else:
        text = f"estimated programme effect on revenue, programme vs comparable accounts{ci}."
    return Finding(_impact_text(r), text)


def _f_risk(d: DeckData) -> Finding | None:
    r = d.peek("churn_risk")
    if r is None or "revenue_at_risk" not in r.columns or r.empty or _churn_unsupported(d):
        return None
    v = r["revenue_at_risk"].sum()
    return Finding(d.money(v), "of revenue is at risk of churn (churn-risk model).") if is_num(v) else None


def _f_lost(d: DeckData) -> Finding | None:
    """Revenue already lost to the accounts that stopped buying: its own finding, apart from revenue at risk."""
    r = d.peek("revenue_lost", ("accounts_lost_12m", "revenue_lost_12m", "history_complete"))
    if r is None or r.empty or int(r["accounts_lost_12m"].iloc[0]) == 0:
        return None
    r = r.iloc[0]
    n = int(r["accounts_lost_12m"])
    lower = "" if bool(r["history_complete"]) else " (at least: the order history is too short to see them all)"
    return Finding(d.money(r["revenue_lost_12m"]),
                   f"already lost to {fmt_count(n)} account{'s' if n != 1 else ''} that churned in the last 12 months"
                   f"{lower}, apart from the revenue at risk of active accounts.")


def _f_recommendation(d: DeckData) -> Finding | None:
    r = d.peek("recommendations")
    if r is None or not {"rank", "recommendation", "value"} <= set(r.columns) or r.empty:
        return None
    top = r.sort_values("rank").iloc[0]
    if not is_num(top["value"]):
        return None
    basis = _text(top.get("value_basis"), 60) if "value_basis" in r.columns else ""
    return Finding(d.money(top["value"]), f"{basis or 'at stake'} behind the top recommendation: "
                   f"{_lc_first(_first_clause(top['recommendation']))}.")


def _f_followup(d: DeckData) -> Finding | None:
    """On a follow-up review, what became of the key accounts the last review committed to."""
    from .followup import followup

    f = followup(d)
    if f is None:
        return None
    n, c = len(f.key_accounts), f.outcome_counts()
    if not n:  # a plan without key accounts: its KPIs' or actions' headline
        head = f.headline()
        return Finding("Since", f"the last review: {head[:1].lower() + head[1:]}.", f"since the last review: "
                       f"{head[:1].lower() + head[1:]}")
    text = f"key accounts committed at the last review{' (' + fmt_date(f.plan_as_of) + ')' if f.plan_as_of else ''} grew"
    if c["lost"]:
        text += (f"; {fmt_count(c['lost'])} {'was' if c['lost'] == 1 else 'were'} lost, with "
                 f"{f.money(f.outcome_revenue('lost'))} of revenue a year at the plan")
    if (a := f.actions_headline()) is not None:  # the KPIs against target are the summary's own finding
        text += f"; {a[:1].lower() + a[1:]}"
    short = f"{fmt_count(c['grown'])} of {fmt_count(n)} key accounts grew since the last review"
    return Finding(f"{fmt_count(c['grown'])} of {fmt_count(n)}", text + ".", short)


FINDINGS = [_f_followup, _f_revenue, _f_concentration, _f_capacity, _f_key_accounts, _f_targets, _f_impact, _f_risk, _f_lost,
            _f_recommendation]


def _qualifier(d: DeckData, r) -> str:
    """What qualifies a headline KPI beside it: its interval, and a small-base flag when it rests on
    fewer accounts or responses than ``thresholds.min_denominator``."""
    out = []
    if is_num(r.get("ci_low")) and is_num(r.get("ci_high")):
        lvl = fmt_share(d.params.thresholds.confidence, decimals=0)
        out.append(f"{lvl} range {fmt_value(r['ci_low'], r['unit'], d.cur)}–{fmt_value(r['ci_high'], r['unit'], d.cur)}")
    if is_num(r.get("n")) and r["n"] < d.params.thresholds.min_denominator:
        out.append(f"small base: {fmt_count(r['n'])}, read with care")
    return "; ".join(out)


def s_key_numbers(d: DeckData) -> list[SlideSpec]:
    t = d.table("kpi_headline", ("kpi", "value", "unit"), topic="Headline KPIs")
    if t is None:
        return []
    t = t[t["value"].map(is_num)]
    order = ["revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate", "average_order_value",
             "repeat_purchase_rate", "nps"]
    t = t.assign(_o=t["kpi"].map(lambda k: order.index(k) if k in order else 99)).sort_values("_o", kind="stable")
    tiles = t.head(5)
    if tiles.empty:
        return []
    notes_col = "note" in t.columns
    body = []  # status against target is the review section's KPI slide; this one says what each number is
    if notes_col:
        for _, r in tiles.iterrows():
            if isinstance(r["note"], str) and r["note"].strip() and "CI" not in r["note"]:  # method: notes only
                body.append([(f"{d.label_of(r['kpi'])}: ", True), (_text(r["note"], 160), False)])
    act, ret, aov = d.headline("active_accounts"), d.headline("retention_rate"), d.headline("average_order_value")
    if act is not None and ret is not None:
        title = (f"{fmt_count(act)} accounts are active and {fmt_share(ret, decimals=0)} of last year's accounts "
                 "stayed" + (f"; an order averages {d.money(aov)}" if aov is not None else ""))
    else:
        first = tiles.iloc[0]
        title = f"{d.label_of(first['kpi'])} stands at {fmt_value(first['value'], first['unit'], d.cur)}"

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), [(fmt_value(r["value"], r["unit"], d.cur),
                                         d.label_of(r["kpi"]), None) for _, r in tiles.iterrows()],
               sub=[_qualifier(d, r) for _, r in tiles.iterrows()])
        if body:
            _bullets(c, c.region("Body"), body[:5], size=15)
        else:
            c.region("Body")

    return [SlideSpec("summary", "Key Numbers", title, draw, topic="Headline KPIs",
                      source=d.source("kpi_headline", "kpi_vs_target"),
                      notes="Headline KPIs over the trailing twelve months to the as-of date. " + "; ".join(
                          f"{kpi_label(k)}: {kpi_explanation(k, churn_days=d.params.analysis.churn_days)}"
                          for k in tiles["kpi"]) + ".")]

