"""Section 4 of the deck: assessment and benchmarking, and the data-limits slide that closes it."""
from __future__ import annotations

import math

import numpy as np

from ...present.theme import Theme, active_theme, tint
from .._pptx import Box, SlideCanvas
from ...present.formats import (excel_number_format, fmt_change, fmt_count, fmt_n, fmt_period, fmt_share, fmt_top, fmt_value,
                                 is_num)
from ...metrics import kpi_label
from ...phases.business_case import COST_INPUT_WORDS, cost_needs, missing_cost_inputs
from ...metrics.capability import needs_data_text
from ...metrics.benchmarks import ILLUSTRATIVE_LABEL, benchmark_label
from ._base import buying_tiers, _churn_unsupported, DeckData, no_key_account_reason, selects_no_key_account, IN, _lc_first, _rows_per_page, SlideSpec, _takeaway, _text


def change_words(x: float) -> str:
    """'rose 24%' / 'fell 2%', or 'held steady' when the change rounds to 0% (never 'fell 0%')."""
    shown = fmt_share(abs(x), decimals=0)
    return "held steady" if shown == fmt_share(0.0, decimals=0) else f"{'rose' if x >= 0 else 'fell'} {shown}"

#: periods in a year, for year-on-year comparisons of one period with the same period a year before
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


def _yoy_takeaways(t, period: str) -> list[str]:
    """Year-on-year change of the latest period, and of the same period a year before, so a
    slowdown shows (never the latest period against the first one shown)."""
    lag = PERIODS_PER_YEAR[period]
    rev = t["revenue"].astype(float).tolist()
    cats = [fmt_period(p, period) for p in t["period_start"]]

    def yoy(i: int):
        j = i - lag
        return rev[i] / rev[j] - 1 if j >= 0 and rev[j] > 0 else None

    last, prev = yoy(len(rev) - 1), yoy(len(rev) - 1 - lag)
    if last is None:
        return []
    out = [f"Year on year: {fmt_share(last, signed=True)} on {cats[-1 - lag]}"]
    if prev is not None:
        trend = "faster than" if last > prev else "slower than" if last < prev else "as"
        out.append(f"Growth {trend} a year before ({fmt_share(prev, signed=True)} in {cats[-1 - lag]} on "
                   f"{cats[-1 - 2 * lag]})")
    return out


def s_revenue_trend(d: DeckData) -> list[SlideSpec]:
    t = d.table("kpi_by_period", ("period_start", "revenue"), topic="Revenue trend")
    if t is None:
        return []
    t = t.sort_values("period_start")
    full = t[t["revenue"].map(is_num)]
    t = full.tail(16)
    if t.empty:
        return []
    period = d.params.analysis.period
    cats = [fmt_period(p, period) for p in t["period_start"]]
    vals = t["revenue"].astype(float).tolist()
    first, last = vals[0], vals[-1]
    rev, g = d.headline("revenue_12m"), d.headline("revenue_growth_yoy")
    if rev is not None and g is not None:
        title = f"Revenue {'grew' if g >= 0 else 'fell'} {fmt_share(abs(g))} year on year to {d.money(rev)} in the last 12 months"
    else:
        title = moved_title(f"Revenue per {period}", d.money(first), d.money(last))
    take = [f"{cats[-1]}: {d.money(last)} net revenue"] + _yoy_takeaways(full, period)
    best = int(np.argmax(vals))
    take.append(f"Highest {period}: {cats[best]} at {d.money(vals[best])}")
    if "ordering_accounts" in t.columns and is_num(t["ordering_accounts"].iloc[-1]):
        take.append(f"{fmt_count(t['ordering_accounts'].iloc[-1])} accounts ordered in {cats[-1]}")
    if "average_order_value" in t.columns and is_num(t["average_order_value"].iloc[-1]):
        take.append(f"Average order value {d.money(t['average_order_value'].iloc[-1])} in {cats[-1]}")

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), cats, {kpi_label("revenue", short=True): vals},
                    number_format=excel_number_format("currency", d.cur, max_abs=max(abs(v) for v in vals)),
                    labels=len(cats) <= 12, axis_title=f"Net revenue per {period} ({d.cur})",
                    colors=[c.style.primary], gap_width=50)
        _takeaway(c, take)

    return [SlideSpec("assessment", "Chart", title, draw, topic="Revenue trend", source=d.source("kpi_by_period"),
                      footnote="Net revenue after returns." + (" Last 16 periods shown." if len(t) == 16 else ""),
                      notes="Revenue by period = sum of net revenue of orders in the period (returns netted). "
                            "Period length: analysis.period in the params.")]


def s_activity(d: DeckData) -> list[SlideSpec]:
    """Ordering accounts and average order value by period, side by side (Two Content)."""
    t = d.table("kpi_by_period", ("period_start", "ordering_accounts", "average_order_value"),
                topic="Accounts and order value")
    if t is None:
        return []
    t = t.sort_values("period_start").tail(16)
    t = t[t["ordering_accounts"].map(is_num) & t["average_order_value"].map(is_num)]
    if len(t) < 2:
        return []
    period = d.params.analysis.period
    cats = [fmt_period(p, period) for p in t["period_start"]]
    acc, aov = t["ordering_accounts"].astype(float).tolist(), t["average_order_value"].astype(float).tolist()
    # year on year: the last period against the same period a year earlier (not first vs last of the chart)
    lag = {"month": 12, "quarter": 4, "year": 1}.get(period, 4)
    if len(t) <= lag:
        return []
    d_acc = acc[-1] / acc[-1 - lag] - 1 if acc[-1 - lag] else None
    d_aov = aov[-1] / aov[-1 - lag] - 1 if aov[-1 - lag] else None
    if d_acc is None or d_aov is None:
        return []
    title = (f"Year on year, ordering accounts {change_words(d_acc)} and order value {change_words(d_aov)} "
             f"({cats[-1]} against {cats[-1 - lag]})")

    def draw(c: SlideCanvas):
        for name, vals, fmt, color, label in (
                ("Left", acc, excel_number_format("count"), c.style.primary, f"Accounts ordering per {period}"),
                ("Right", aov, excel_number_format("currency", d.cur, max_abs=max(aov)), c.style.accent,
                 f"Average order value ({d.cur})")):
            box = c.region(name)
            c.text_box(Box(box.x, box.y, box.w, int(0.4 * IN)), [label], size=14, bold=True, color=c.style.primary,
                       fit=False)
            c.line_chart(Box(box.x, box.y + int(0.45 * IN), box.w, box.h - int(0.45 * IN)), cats, {label: vals},
                         number_format=fmt, colors=[color], minimum=0)

    return [SlideSpec("assessment", "Two Content", title, draw, topic="Accounts and order value",
                      source=d.source("kpi_by_period"),
                      footnote=f"Accounts with at least one order in the {period}; order value = revenue / orders.",
                      notes="Active accounts = accounts with at least one positive order in the period; average order "
                            "value = net revenue / orders in the period.")]


def _benchmark_cell(r, u, cur: str) -> str:
    """A benchmark as the scorecard shows it: labelled illustrative (never a bare placeholder),
    or 'not compared' when it is a money figure in another currency."""
    if not is_num(r.get("benchmark")):
        note = str(r.get("note") or "")
        return "not compared" if "not compared" in note else "–"
    text = fmt_value(r["benchmark"], u, cur)
    illus = r.get("benchmark_illustrative")
    return f"{text} ({ILLUSTRATIVE_LABEL})" if illus is None or bool(illus) else text


def s_scorecard(d: DeckData) -> list[SlideSpec]:
    bg = d.peek("benchmark_gaps")
    rag_note = (f"Status: green = within {fmt_share(d.params.thresholds.rag.amber, decimals=0)} of target, red = more "
                f"than {fmt_share(d.params.thresholds.rag.red, decimals=0)} short.")
    illus_sources: list[str] = []
    if bg is not None and {"kpi", "current", "benchmark", "target", "status"} <= set(bg.columns) and len(bg):
        src, tab = "benchmark_gaps", bg
        has_targets = bg["target"].map(is_num).any()
        header = ["KPI", "Current", "Benchmark", "Gap to benchmark"] + (["Target", "Gap to target"] if has_targets
                                                                        else []) + ["Status"]
        for _, r in bg.iterrows():
            if is_num(r["benchmark"]) and (r.get("benchmark_illustrative") is None or bool(r.get("benchmark_illustrative"))):
                lab = benchmark_label(illustrative=True, source=r.get("benchmark_source"))
                if lab not in illus_sources:
                    illus_sources.append(lab)

        def row(r):
            u = r["unit"] if "unit" in r and isinstance(r["unit"], str) else d.unit_of(r["kpi"])
            usable = str(r.get("status_basis")) == "benchmark"  # a sourced benchmark in the client's currency
            gb = r.get("gap_to_benchmark") if usable else None
            out = [kpi_label(r["kpi"]), fmt_value(r["current"], u, d.cur), _benchmark_cell(r, u, d.cur),
                   fmt_change(gb, u, d.cur) if is_num(gb) else "–"]
            if has_targets:
                gap = r.get("gap_to_target")
                out += [fmt_value(r["target"], u, d.cur) if is_num(r["target"]) else "–",
                        fmt_change(gap, u, d.cur) if is_num(gap) else "–"]
            st = str(r["status"])
            return out + [st.upper() if st in ("green", "amber", "red") else "not rated" if st == "not rated" else "n/a"]
    else:
        tab = d.table("kpi_vs_target", ("kpi", "current", "target", "gap", "status"), topic="KPI scorecard")
        if tab is None:
            return []
        src = "kpi_vs_target"
        header = ["KPI", "Current", "Target", "Gap to target", "Status"]

        def row(r):
            u = d.unit_of(r["kpi"])
            return [d.label_of(r["kpi"]), fmt_value(r["current"], u, d.cur), fmt_value(r["target"], u, d.cur),
                    fmt_change(r["gap"], u, d.cur), str(r["status"]).upper()]
    # a KPI the data cannot measure is no result: it leaves the table for a "needs data" line
    # naming the input that unlocks it
    cur_col = "current"
    measured = tab[cur_col].map(is_num)
    needs = needs_data_text(tab.loc[~measured, "kpi"])
    tab = tab[measured].reset_index(drop=True)
    if tab.empty:
        return []
    rows = [row(r) for _, r in tab.iterrows()]
    if src == "benchmark_gaps" and all(r[3] == "–" for r in rows):  # no sourced benchmark: a column of dashes says nothing
        header = header[:3] + header[4:]
        rows = [r[:3] + r[4:] for r in rows]
    status = tab["status"].astype(str).str.lower()
    n_red, n_amber = int((status == "red").sum()), int((status == "amber").sum())
    rated = int(status.isin(["green", "amber", "red"]).sum())
    unrated = int((status == "not rated").sum())
    # not rated though a target is set: too few accounts or responses (metrics.too_small_to_rate)
    small_n = int(((status == "not rated") & tab["target"].map(is_num)).sum()) if "target" in tab else 0
    if rated == 0 and small_n:
        title = (f"No KPI with a target has enough accounts or responses to rate: "
                 f"{fmt_n(small_n, 'KPI')} shown, not rated")
    elif rated == 0 and unrated:
        title = (f"No targets are set: {unrated} KPIs are shown against illustrative benchmarks for reference only, "
                 "none is rated" if illus_sources else f"No targets are set: {unrated} KPIs are shown, none is rated")
    elif rated == 0:
        title = "No KPI with a target can be measured from the data provided"
    elif n_red + n_amber == 0:
        title = f"All {rated} measurable KPIs meet their targets"
    else:
        worst = tab[status == "red"].iloc[0] if n_red else tab[status == "amber"].iloc[0]  # the title leads with a red
        against = ("target or benchmark" if src == "benchmark_gaps" and "status_basis" in tab
                   and (tab["status_basis"] == "benchmark").any() else "target")
        title = (f"{n_red + n_amber} of {rated} measurable KPIs fall short of their {against}; "
                 f"{_lc_first(d.label_of(worst['kpi']))} is {str(worst['status']).lower()}")
    if rated and small_n:  # the targets a handful of accounts cannot rate are said, not dropped
        title += f"; {fmt_n(small_n, 'other')} {'has' if small_n == 1 else 'have'} too few accounts or responses to rate"
    fills, colors = {}, {}
    for i, s in enumerate(status):
        if s in ("green", "amber", "red"):
            fills[(i, len(header) - 1)] = Theme().rag_fill(s)
            colors[(i, len(header) - 1)] = d_style_rag(s)
    if src == "benchmark_gaps":
        rag_note = (f"Status against target (or a sourced benchmark): green within "
                    f"{fmt_share(d.params.thresholds.rag.amber, decimals=0)}, red more than "
                    f"{fmt_share(d.params.thresholds.rag.red, decimals=0)} short." if rated else "")
    foot = rag_note
    if illus_sources:
        foot += " Illustrative benchmarks are template placeholders, not published figures: they rate no KPI."
    if small_n:
        foot += (f" Not rated against its target: fewer than {d.params.thresholds.min_denominator} accounts or "
                 "responses.")
    if unrated > small_n and not illus_sources:
        foot += " Not rated: no target and no sourced benchmark."
    if any(r[2] == "not compared" for r in rows if len(r) > 2):
        foot += " Not compared: the benchmark is in another currency than the client's."
    if needs:
        foot += " " + needs

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), header, rows, widths=[2.4] + [1.2] * (len(header) - 2) + [0.9],
                align=["l"] + ["r"] * (len(header) - 2) + ["c"], fills=fills, font_colors=colors, bold_cols=[0],
                max_pt=14)

    return [SlideSpec("assessment", "Table", title, draw, topic="KPI scorecard", source=d.source(src),
                      footnote=foot.strip(),
                      notes="KPI scorecard: current value (trailing 12 months) against the client's target and the "
                            "industry benchmark; gap = current - reference; RAG by relative shortfall against the "
                            "target, or a sourced benchmark in the client's currency. Illustrative benchmarks are "
                            "reference only and never rate a KPI." + (" Illustrative benchmarks: " + "; ".join(
                                illus_sources) + "." if illus_sources else ""))]


def d_style_rag(s: str) -> str:
    return Theme().rag(s)


def moved_title(what: str, first: str, last: str) -> str:
    """A slide title for a change between two formatted values: "held steady at" when they read
    the same (never "moved from £6.4m to £6.4m")."""
    if first == last:
        return f"{what} held steady at {last} over the period shown"
    return f"{what} moved from {first} to {last} over the period shown"


def concentration_equivalent(summ: dict) -> str | None:
    """The concentration takeaway a reader can picture: revenue is as concentrated as if it were
    shared equally by N accounts (N = 1 / HHI, ``effective_accounts``). With thousands of accounts
    the HHI itself reads 0.000 at three decimals, so the index stays in the speaker notes."""
    n = summ.get("effective_accounts")
    if n is None and summ.get("hhi"):
        n = 1.0 / float(summ["hhi"])
    if n is None or not math.isfinite(float(n)) or float(n) <= 0:
        return None
    return f"Revenue as concentrated as if {fmt_n(round(float(n)), 'account')} shared it equally"


def s_concentration(d: DeckData) -> list[SlideSpec]:
    cc = d.peek("concentration_curve")
    cs = d.peek("concentration_summary")
    if cc is not None and {"account_share", "revenue_share"} <= set(cc.columns) and len(cc):
        summ = {}
        if cs is not None and {"metric", "value"} <= set(cs.columns):
            summ = {r["metric"]: r["value"] for _, r in cs.iterrows() if is_num(r["value"])}
        cc = cc.sort_values("account_share")
        if len(cc) > 200:  # thin the curve for the chart; the shape is unchanged
            idx = np.unique(np.linspace(0, len(cc) - 1, 200).round().astype(int))
            cc = cc.iloc[idx]
        xs = [0.0, *cc["account_share"].astype(float)]
        ys = [0.0, *cc["revenue_share"].astype(float)]
        top20 = summ.get("top20_share")
        title = (f"The top 20% of accounts generate {fmt_share(top20)} of revenue" if top20 is not None
                 else "Revenue is concentrated in a minority of accounts")
        take = [f"Top {k}% of accounts: {fmt_share(summ[m])} of revenue" for k, m in ((10, "top10_share"),
                                                                                     (20, "top20_share")) if m in summ]
        if "gini" in summ:
            take.append(f"Gini coefficient {summ['gini']:.2f} (0 = equal, 1 = one account)")
        if (eff := concentration_equivalent(summ)) is not None:
            take.append(eff)

        def draw(c: SlideCanvas):
            c.xy_chart(c.region("Chart"), {"Cumulative revenue": (xs, ys), "Equal distribution": ([0, 1], [0, 1])},
                       x_format="0%", y_format="0%", x_title="Share of accounts (largest first)",
                       y_title="Share of revenue", colors=[c.style.primary, c.style.na], x_min=0, x_max=1, y_min=0,
                       y_max=1)
            _takeaway(c, take or ["Curve from the concentration table"])

        return [SlideSpec("assessment", "Chart", title, draw, topic="Revenue concentration",
                          source=d.source("concentration_curve", "concentration_summary"),
                          notes="Pareto curve: accounts ranked by revenue, cumulative share of revenue against "
                                "cumulative share of accounts. Gini and HHI from the same ranking; the equivalent number "
                                "of equal accounts is 1 / HHI (Herfindahl-Hirschman index)." + (
                                    f" HHI {summ['hhi']:.6f}." if "hhi" in summ else ""))]
    ts = d.table("tier_summary", ("tier", "accounts", "revenue_share"), topic="Revenue concentration")
    if ts is None:
        return []
    ts, idle = buying_tiers(ts)
    acc_share = (ts["accounts"] / ts["accounts"].sum()).tolist()
    tiers = [_text(x, 30) for x in ts["tier"]]
    top = ts.iloc[0]
    title = (f"The {tiers[0]} tier — {fmt_share(acc_share[0], decimals=0)} of buying accounts — generates "
             f"{fmt_share(top['revenue_share'])} of revenue")
    take = [f"{t}: {fmt_count(a)} accounts, {fmt_share(s)} of revenue" for t, a, s in
            zip(tiers, ts["accounts"], ts["revenue_share"])]
    if idle:
        take.append(f"{fmt_count(idle)} more accounts had no order in the last 12 months and are in no tier")

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), tiers, {"Share of buying accounts": acc_share,
                                              "Share of revenue (12 months)": ts["revenue_share"].tolist()},
                    number_format="0%", colors=[tint(c.style.primary, 0.55), c.style.primary])
        _takeaway(c, take)

    return [SlideSpec("assessment", "Chart", title, draw, topic="Revenue concentration",
                      source=d.source("tier_summary"),
                      footnote="Value tiers rank the accounts that ordered in the last 12 months by that revenue and cut "
                               "them by share of accounts.",
                      notes="Value tiers: accounts ranked by last-12-month revenue and cut by share of accounts.")]


def s_whale(d: DeckData) -> list[SlideSpec]:
    w = d.peek("whale_curve")
    if w is None or not {"account_share", "cumulative_profit"} <= set(w.columns) or w.empty:
        return []
    w = w[w["account_share"].map(is_num) & w["cumulative_profit"].map(is_num)].sort_values("account_share")
    if w.empty:
        return []
    peak_i = int(np.nanargmax(w["cumulative_profit"].to_numpy(dtype=float)))
    peak, final = float(w["cumulative_profit"].iloc[peak_i]), float(w["cumulative_profit"].iloc[-1])
    at = float(w["account_share"].iloc[peak_i])
    if len(w) > 200:
        w = w.iloc[np.unique(np.linspace(0, len(w) - 1, 200).round().astype(int))]
    head = f"Profit peaks at {d.money(peak)} with the most profitable {fmt_share(at, decimals=0)} of accounts"
    if peak - final <= 0:
        title = head + "; no account loses money"
    elif d.money(final) == d.money(peak):  # compact rounding would read 'peaks at €3.0m … erode it to €3.0m'
        title = head + f"; the other {fmt_share(1 - at, decimals=0)} give back {d.money(peak - final)}"
    else:
        title = head + f"; the rest erode it to {d.money(final)}"

    def draw(c: SlideCanvas):
        c.xy_chart(c.region("Chart"), {"Cumulative profit": (w["account_share"].tolist(), w["cumulative_profit"].tolist())},
                   x_format="0%", y_format=excel_number_format("currency", d.cur, max_abs=abs(peak)),
                   x_title="Share of accounts (most profitable first)", y_title=f"Cumulative profit ({d.cur})",
                   colors=[c.style.primary], x_min=0, x_max=1)
        _takeaway(c, [f"Peak profit {d.money(peak)} at {fmt_share(at, decimals=0)} of accounts",
                      f"Total profit {d.money(final)}", f"Profit given back by the tail: {d.money(peak - final)}"])

    return [SlideSpec("assessment", "Chart", title, draw, topic="Whale curve", source=d.source("whale_curve"),
                      # the profit basis on the page: a reader otherwise takes it for gross margin
                      footnote=f"Profit = {_lc_first(kpi_label('profit_12m'))}: gross margin minus each account's "
                               "annual cost to serve.",
                      notes="Whale curve: accounts ranked from most to least profitable (gross margin minus cost to "
                            "serve); cumulative profit against share of accounts.")]


def s_cohorts(d: DeckData) -> list[SlideSpec]:
    t = d.table("cohort_retention", ("cohort", "period_index", "retention"), topic="Cohort retention")
    if t is None:
        return []
    piv = t.pivot_table(index="cohort", columns="period_index", values="retention", aggfunc="first").sort_index()
    piv = piv.iloc[-10:, :9]
    cols = [c for c in piv.columns]
    k = 4 if 4 in piv.columns else cols[min(len(cols) - 1, 4)]
    col = piv[k].dropna()
    later = fmt_n(int(k), d.params.analysis.period)  # "4 quarters"
    title = (f"On average {fmt_share(col.mean(), decimals=0)} of an acquisition cohort still orders {later} later"
             if len(col) and k > 0 else "Cohort retention by acquisition period")  # period 0 is 100% by definition
    rows, fills, colors = [], {}, {}
    for i, (cohort, r) in enumerate(piv.iterrows()):
        label = fmt_period(cohort, d.params.analysis.period) if not isinstance(cohort, str) else _text(cohort, 20)
        rows.append([label] + [fmt_share(v, decimals=0) if is_num(v) else "" for v in r])
        for j, v in enumerate(r, start=1):
            if is_num(v):
                fills[(i, j)] = tint(d.params.branding.primary_color, 1 - 0.85 * max(0.0, min(1.0, float(v))))
                colors[(i, j)] = "FFFFFF" if v > 0.5 else active_theme().text

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["Cohort"] + [f"+{p}" for p in cols], rows, widths=[1.6] + [1] * len(cols),
                align=["l"] + ["c"] * len(cols), fills=fills, font_colors=colors, max_pt=13)

    return [SlideSpec("assessment", "Table", title, draw, topic="Cohort retention", source=d.source("cohort_retention"),
                      footnote="Share of each acquisition cohort's accounts ordering n periods after their first order; "
                               "last 10 cohorts, first 9 periods.",
                      notes="Cohort retention matrix: cohort = period of first order; retention = accounts of the "
                            "cohort active in period n / cohort size.")]


def s_capability(d: DeckData) -> list[SlideSpec]:
    t = d.table("capability_maturity", ("dimension", "score", "target"), topic="Capability maturity")
    if t is None:
        return []
    t = t[t["score"].map(is_num) & t["target"].map(is_num)]
    if t.empty:
        return []
    t = t.assign(_gap=t["target"].astype(float) - t["score"].astype(float))
    worst = t.sort_values("_gap", ascending=False).head(3)
    w0 = worst.iloc[0]
    title = (f"Largest capability gap: {_text(w0['dimension'], 50).lower()} scores {w0['score']:.1f} "
             f"against a target of {w0['target']:.1f}")
    dims = [_text(x, 34) for x in t["dimension"]]
    mx = float(np.nanmax([t["score"].max(), t["target"].max(), 5]))

    def draw(c: SlideCanvas):
        c.radar_chart(c.region("Chart"), dims, {"Current score": t["score"].tolist(), "Target": t["target"].tolist()},
                      number_format="0", maximum=mx, colors=[c.style.primary, c.style.accent])
        _takeaway(c, [f"{_text(r['dimension'], 50)}: {r['score']:.1f} vs {r['target']:.1f}" for _, r in worst.iterrows()],
                  heading=f"Widest gaps ({fmt_top(len(worst), len(t))} dimensions)")

    return [SlideSpec("assessment", "Chart", title, draw, topic="Capability maturity",
                      source=d.source("capability_maturity", data="KAM self-assessment"),
                      notes="KAM capability self-assessment: score per dimension (1-5) against the target score.")]


def data_request_rows(d: DeckData, support) -> tuple[list[list[str]], int]:
    """The data request's rows (what to send, what it unlocks, what it makes firmer): the run's
    ``analysis_support`` plus the inputs the deck's own pages found missing; and how many
    analyses those extra inputs would unlock (beyond ``analysis_support``'s unsupported ones)."""
    from ...metrics.capability import data_requests

    req = data_requests(support)
    rows = [[_text(r["send"], 200), _text(r["unlocks"], 360) or "–", _text(r["firms_up"], 220) or "–"]
            for _, r in req.iterrows()]
    covered = " ".join(req["unlocks"].str.lower())
    from ...metrics.capability import unreliable_kpis

    for kpi, why in unreliable_kpis(d.peek("kpi_headline")).items():  # the headline's own reliability note
        rows.append([f"More survey responses: {_text(why, 140)}", d.label_of(kpi), "–"])
    pi = d.peek("programme_impact")
    if (pi is not None and {"supported", "sentence"} <= set(pi.columns) and len(pi) and not bool(pi["supported"].iloc[0])
            and "programme impact" not in covered):
        why = pi["reason"].iloc[0] if "reason" in pi.columns and isinstance(pi["reason"].iloc[0], str) \
            and pi["reason"].iloc[0].strip() else pi["sentence"].iloc[0]
        rows.append([f"What the programme comparison lacks: {_text(why, 160)}", "Programme impact", "–"])
    churn_why = _churn_unsupported(d)
    if churn_why and "churn" not in covered:
        rows.append([f"A longer order history ({_text(churn_why, 140)})", "Churn-risk model and revenue at risk", "–"])
    for topic, why in d.limits:
        rows.append([_text(why, 160), _text(topic, 60), "–"])
    extra = 0
    if selects_no_key_account(d) and no_key_account_reason(d)[1]:  # the threshold is a default until the client sets it
        rows.append(["The fully loaded cost of an account-manager hour (the key-account threshold is a default "
                     "until then)", "Key-account selection, account plans and the business case", "–"])
        extra += 1
    elif missing := missing_cost_inputs(d.peek("programme_cost")):  # no cost, return or payback is stated without them
        ask = cost_needs(missing)
        unlocks = "The programme's cost, return and payback; each recommendation's cost"
        if COST_INPUT_WORDS["cost_per_hour"] in missing:
            unlocks += "; the key-account threshold (a default until then)"
        rows.append([f"{ask[:1].upper()}{ask[1:]}", unlocks, "–"])
        extra += 1
    return rows, extra


def s_data_limits(d: DeckData) -> list[SlideSpec]:
    """What the data could not support, as a data request the consultant can send the client:
    each input to send, the analyses it unlocks and those it makes firmer (from the run's
    ``analysis_support``). A run without that table gets the list of analyses and reasons."""
    support = d.peek("analysis_support")
    if support is None or support.empty:
        return _data_limits_list(d)
    rows, extra = data_request_rows(d, support)
    if not rows:
        return []
    n_out = int((support["status"] == "not_supported").sum()) + extra
    ins = f"{len(rows)} input{'s' if len(rows) != 1 else ''} would"
    title = (f"{n_out} {'analyses need' if n_out != 1 else 'analysis needs'} data the client has not sent yet: "
             f"{ins} unlock or firm {'them' if n_out != 1 else 'it'} up" if n_out else
             f"{ins} make the analysis firmer")
    pages = _rows_per_page(len(rows), 8)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["What to send", "What it unlocks", "What it makes firmer"], rows[sl],
                    widths=[1.6, 1.4, 1.2], bold_cols=[0], max_pt=13, max_len=360)
        out.append(SlideSpec("assessment", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""),
                             draw, topic="Data request", source=d.source("analysis_support", "data_profile",
                                                                        data="data and engagement inputs"),
                             footnote="Numbers the data cannot support are left out of this deck, not estimated. "
                                      "Send these to add them in the next run.",
                             notes="Data request: for every analysis the data did not support, or supported only "
                                   "with a caveat, the input that would unlock or firm it up. Analyses not "
                                   "supported: " + "; ".join(
                                       f"{r['label']} ({r['caveat']})" for _, r in
                                       support[support["status"] == "not_supported"].iterrows()) + "."))
    return out


def _data_limits_list(d: DeckData) -> list[SlideSpec]:
    """The analyses the data could not support, with the reason (runs without ``analysis_support``)."""
    rows = []
    p = d.params.data
    have_rows = {r[0].lower() for r in rows}
    inputs = [("surveys", "NPS and satisfaction", "no survey file was provided"),
              ("capability", "KAM capability maturity", "no capability self-assessment was provided"),
              ("accounts", "Account attributes (region, segment, manager)", "no account master file was provided")]
    for attr, analysis, why in inputs:
        if getattr(p, attr) is None and analysis.lower() not in have_rows:
            rows.append((analysis, why))
    v = d.run.validation()
    present = v.get("present_columns", {}).get("transactions")
    if present is not None and "gross_margin" not in present and not any("profit" in r[0].lower() for r in rows):
        rows.append(("Profitability and whale curve", "the transactions carry no gross margin"))
    pi = d.peek("programme_impact")
    if pi is not None and {"supported", "sentence"} <= set(pi.columns) and len(pi) and not bool(pi["supported"].iloc[0]):
        why = pi["reason"].iloc[0] if "reason" in pi.columns and isinstance(pi["reason"].iloc[0], str) \
            and pi["reason"].iloc[0].strip() else pi["sentence"].iloc[0]
        rows.append(("Programme impact", _text(why, 180)))
    kt = d.peek("kpi_vs_target")
    if kt is not None and {"kpi", "status"} <= set(kt.columns):
        for k in kt.loc[kt["status"].astype(str) == "n/a", "kpi"]:
            if not any(d.label_of(k).lower() in r[0].lower() for r in rows):
                rows.append((d.label_of(k), "a target is set, but the data provided does not measure this KPI"))
    churn_why = _churn_unsupported(d)
    if churn_why and not any("churn-risk" in r[0].lower() for r in rows):
        # first: a whole model left out matters more than a missing breakdown, and the list is capped
        rows.insert(0, ("Churn-risk model and revenue at risk", _text(churn_why, 180)))
    for topic, why in d.limits:
        rows.append((topic, why))
    if not rows:
        return []
    title = (f"{len(rows)} analyses could not be supported by the data and inputs provided"
             if len(rows) > 1 else f"One analysis could not be supported: {rows[0][0].lower()}")
    pages = _rows_per_page(len(rows), 7)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Analysis", "Why it is not shown"], [list(r) for r in rows[sl]],
                    widths=[1.3, 2.7], bold_cols=[0], max_pt=14)
        out.append(SlideSpec("assessment", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""),
                             draw, topic="Data readiness",
                             source=f"Engagement parameters and data validation, {d.client}",
                             footnote="Numbers the data cannot support are left out of this deck, not estimated.",
                             notes="Data readiness: analyses the data or the consultant's inputs could not support, "
                                   "with the reason. Provide the missing input to add them in the next run."))
    return out

