"""Section 6 of the deck: playbooks, coverage, churn risk, whitespace, impact and account plans."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...metrics.capability import NOT_BY_QUADRANT
from ...models.churn import EARLY_WARNING_FEATURES, MATERIAL_ODDS_RATIO, backtest_sentence, horizon_words, risk_band_label
from ...phases.coverage import accounts_with_manager_time
from ...phases.review import ALL_ACCOUNTS
from ...present.theme import tint
from .._pptx import SlideCanvas
from ...metrics import describe_lost_split, describe_revenue_lost, kpi_explanation, kpi_label
from ...present.formats import excel_number_format, fmt_count, fmt_date, fmt_list, fmt_share, fmt_top, is_num
from ._base import (_churn_backtested, _churn_unsupported, DeckData, no_key_account_reason, selects_no_key_account, _lc_first, _q, _rows_per_page, SlideSpec,
                    _takeaway, _text)


def s_playbooks(d: DeckData) -> list[SlideSpec]:
    if d.refused("portfolio_matrix", topic="Segment playbooks"):  # a playbook per quadrant of too small a base
        return []
    t = d.table("segment_playbook", ("segment", "objective", "engagement_model"), topic="Segment playbooks")
    if t is None:
        return []
    if "engagement_label" in t.columns:  # a readable label for the model's code
        t = t.assign(engagement_model=t["engagement_label"].where(t["engagement_label"].notna(), t["engagement_model"]))
    mix = "engagement_mix" in t.columns and t["engagement_mix"].notna().all()
    if mix:  # what the accounts get once their value caps the playbook, not the playbook's nominal model
        t = t.assign(engagement_model=t["engagement_mix"])
        if "cadence_mix" in t.columns and t["cadence_mix"].notna().all():  # a review cadence needs manager time
            t = t.assign(contact_cadence=t["cadence_mix"])
    cols = [("segment", "Segment", 1.0), ("accounts", "Accounts", 0.8), ("revenue_share", kpi_label("revenue_share", short=True), 0.9),
            ("objective", "Objective", 2.6), ("engagement_model", "Engagement (accounts)" if "engagement_mix" in t.columns
                                               else "Engagement model", 2.2),
            ("contact_cadence", "Contact cadence", 1.9), ("investment_level", "Investment", 0.9)]
    cols = [c for c in cols if c[0] in t.columns]
    fmt = {"accounts": fmt_count, "revenue_share": fmt_share}
    rows = [[fmt.get(c, lambda v: _text(v, 110))(r[c]) for c, _, _ in cols] for _, r in t.iterrows()]
    first = t.iloc[0]
    if mix:
        n_key = int(t["key_accounts"].sum()) if "key_accounts" in t.columns else 0
        title = ("Only the key accounts get a dedicated manager; every other account gets the service its value "
                 "can carry" if n_key else
                 "No account gets a dedicated manager: each gets the service its value can carry")
    else:
        title = f"{_text(first['segment'], 30)} accounts get a {_text(first['engagement_model'], 60).lower()}"
        if "revenue_share" in t.columns and is_num(first["revenue_share"]):
            title += f", in line with their {fmt_share(first['revenue_share'])} share of revenue"
    specs = []
    pages = _rows_per_page(len(rows), 6)
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), [h for _, h, _ in cols], rows[sl], widths=[w for _, _, w in cols],
                    align=["r" if c_ in fmt else "l" for c_, _, _ in cols], bold_cols=[0], max_pt=13)
        specs.append(SlideSpec("strategy", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""),
                               draw, topic="Segment playbooks", source=d.source("segment_playbook"),
                               footnote="Playbooks: the engagement's standard KAM playbooks, adapted to the client where agreed.",
                               notes="Segment playbooks: objective, engagement model, cadence and investment per "
                                     "segment, joined to the segment's accounts and revenue. Playbooks file: "
                                     "templates/playbooks.yaml or the client's own (strategy.playbooks)."))
    return specs


def all_accounts_row(t: pd.DataFrame) -> pd.DataFrame:
    """A per-segment table summed into one "All accounts" row (its counts, hours and money; rates
    are recomputed, text columns dropped)."""
    num = t.select_dtypes("number").drop(columns=["coverage_rate"], errors="ignore").sum().to_frame().T
    if "coverage_rate" in t.columns and "covered" in num and "accounts" in num:
        num["coverage_rate"] = num["covered"] / num["accounts"].where(num["accounts"] > 0)
    return num.assign(segment=ALL_ACCOUNTS)[["segment", *num.columns]]


def s_coverage(d: DeckData) -> list[SlideSpec]:
    t = d.table("coverage_by_segment", ("segment", "accounts", "covered", "hours_needed", "hours_allocated"),
                topic="Coverage and capacity")
    if t is None:
        return []
    # quadrants of too small a base describe an account or two: the plan is shown for all accounts,
    # and the slide says why it is not split (the phase-status slide counts the matrix as refused)
    by_quadrant = d.refusal("portfolio_matrix", NOT_BY_QUADRANT)
    if by_quadrant:
        t = all_accounts_row(t)
    n_acc, n_cov = int(t["accounts"].sum()), int(t["covered"].sum())
    cov = n_cov / n_acc if n_acc else None
    stake = t["value_at_stake"].sum() if "value_at_stake" in t.columns else None
    hours = float(t["hours_allocated"].sum())
    with_hours = [_text(s, 30) for s in t.loc[t["hours_allocated"] > 0, "segment"]]
    needed = float(t["hours_needed"].sum())
    if not d.has_input("managers") and needed > 0:  # no capacity given: the plan sizes the need, allocates nothing
        on = "" if by_quadrant else \
            f", on {fmt_list([_text(s, 30) for s in t.loc[t['hours_needed'] > 0, 'segment']])} accounts"
        title = f"Full coverage needs {fmt_count(needed)} manager hours a year{on}; the team's capacity is not known yet"
    elif n_cov < n_acc:  # a capacity gap: say what it leaves out, and what it puts at stake when that is known
        title = (f"The team's capacity leaves {fmt_count(n_acc - n_cov)} of {fmt_count(n_acc)} accounts without "
                 f"the service their plan needs" + (f"; {d.money(stake)} of value is at stake"
                                                    if is_num(stake) and stake > 0 else ""))
    elif hours > 0:
        title = (f"The team's capacity carries the plan: {fmt_count(hours)} manager hours a year" +
                 ("" if by_quadrant else f", all on {fmt_list(with_hours)} accounts"))
    else:
        title = "No account needs dedicated manager time: every account is served by its tier"
    # "covered" = served as the plan says, digitally for most: the line says how many get manager time
    # (allocated hours when the plan allocates any; without a capacity it only sizes the need)
    counts, allocated = accounts_with_manager_time(None if by_quadrant else d.peek("coverage_plan"))
    word = "with manager time" if allocated else "needing manager time"

    def with_time(seg) -> str:
        return f" ({fmt_count(counts.get(str(seg), (0, 0))[0])} {word})" if counts else ""

    take = [f"{_text(r['segment'], 30)}: {fmt_count(r['covered'])}/{fmt_count(r['accounts'])} covered"
            f"{with_time(r['segment'])}, {fmt_count(r['hours_allocated'])} of {fmt_count(r['hours_needed'])} hours"
            if r["hours_needed"] > 0 or r["hours_allocated"] > 0 else
            f"{_text(r['segment'], 30)}: {fmt_count(r['accounts'])} accounts, served without manager time"
            for _, r in t.iterrows()]
    if cov is not None:
        # one decimal when whole percents would round a gap away ('100%' with 6 accounts uncovered)
        take.insert(0, f"Coverage {fmt_share(cov, decimals=0 if n_cov == n_acc or cov < 0.995 else 1)} of accounts")
    if by_quadrant:  # the whole reason is the slide's note
        take.append(f"{NOT_BY_QUADRANT}: {d.brief_refusal('portfolio_matrix')}")

    no_hours = needed <= 0 and hours <= 0
    if no_hours:  # nothing to chart (bars of zeros): say what the plan is instead
        free = d.table("manager_load", ("capacity_hours",), topic="Coverage by account manager")
        cap_hours = float(free["capacity_hours"].sum()) if free is not None and len(free) else 0.0
        statement = [[("No account's service model calls for dedicated account-manager time", True)],
                     "Every account is served through its segment's tier, so the plan assigns no manager hours "
                     "and there is no capacity gap to close."]
        if cap_hours > 0:
            statement.append(f"The account managers' {fmt_count(cap_hours)} hours a year are not drawn on by this plan.")

    def draw(c: SlideCanvas):
        if no_hours:
            c.text_box(c.region("Chart"), statement, size=16, anchor="m")
        else:
            c.bar_chart(c.region("Chart"), [_text(x, 30) for x in t["segment"]],
                        {"Hours needed": t["hours_needed"].tolist(), "Hours allocated": t["hours_allocated"].tolist()},
                        number_format="#,##0", colors=[tint(c.style.primary, 0.55), c.style.primary])
        _takeaway(c, take[:6])

    return [SlideSpec("strategy", "Chart", title, draw, topic="Coverage and capacity",
                      source=d.source("coverage_by_segment"), footnote=by_quadrant,
                      notes="Coverage plan: account-manager hours allocated to maximise expected value subject to "
                            "capacity (linear programme); hours needed from each engagement model.")]


def driver_is_clear(t: pd.DataFrame) -> pd.Series:
    """Per churn driver: True when its effect is worth acting on — the model's ``material`` (clear at
    95% and at least :data:`~kam_analysis.models.churn.MATERIAL_ODDS_RATIO` per unit); for a table
    without it, when distinguishable from none: the confidence interval of the odds ratio
    excludes 1 (else ``p_value`` < 0.05; else ``significant``; else False)."""
    if "material" in t.columns:
        return t["material"].fillna(False).astype(bool)
    if {"ci_low", "ci_high"} <= set(t.columns):
        lo, hi = pd.to_numeric(t["ci_low"], errors="coerce"), pd.to_numeric(t["ci_high"], errors="coerce")
        return ((lo > 1) | (hi < 1)).fillna(False)
    if "p_value" in t.columns:
        return (pd.to_numeric(t["p_value"], errors="coerce") < 0.05).fillna(False)
    if "significant" in t.columns:
        return t["significant"].fillna(False).astype(bool)
    return pd.Series(False, index=t.index)


def s_churn_drivers(d: DeckData) -> list[SlideSpec]:
    if why := _churn_unsupported(d):
        d.skipped.append(("Churn-risk drivers", f"churn model not supported by the data: {_text(why, 160)}"))
        return []
    t = d.table("churn_drivers", ("feature", "odds_ratio"), topic="Churn-risk drivers")
    if t is None:
        return []
    t = t[t["odds_ratio"].map(is_num)].copy()
    if t.empty:
        return []
    t["_eff"] = np.abs(np.log(t["odds_ratio"].astype(float).clip(lower=1e-6)))
    n_drivers = len(t)
    t = t.sort_values("_eff", ascending=False).head(8)
    sig = driver_is_clear(t)
    clear = t[sig]
    if clear.empty:  # every interval includes 1: name no driver
        title = ("No account feature clearly drives churn: every odds ratio's 95% range includes no effect"
                 if not ("significant" in t.columns and t["significant"].fillna(False).astype(bool).any()) else
                 f"No account feature moves churn enough to act on: the measurable effects are each under "
                 f"{MATERIAL_ODDS_RATIO - 1:.0%} per step")
    else:
        def name_of(r) -> str:
            n = r["label"] if "label" in t.columns and isinstance(r.get("label"), str) else r["feature"]
            return _text(str(n).split(" (")[0].replace("_", " "), 60)  # the unit in brackets belongs to the chart

        def odds(r) -> str:
            rng = (f", 95% range {r['ci_low']:.2f}–{r['ci_high']:.2f}"
                   if is_num(r.get("ci_low")) and is_num(r.get("ci_high")) else "")
            return f"odds ratio {r['odds_ratio']:.2f}{rng}"

        top = clear.iloc[0]
        name = name_of(top)
        if top["feature"] in EARLY_WARNING_FEATURES:  # a symptom: say so, and name what a manager can act on
            act = clear[~clear["feature"].isin(EARLY_WARNING_FEATURES)]
            title = (f"{name[:1].upper() + name[1:]} is the clearest early-warning sign of churn (odds ratio "
                     f"{top['odds_ratio']:.2f}); " + (
                         f"of what a manager can act on, {_lc_first(name_of(act.iloc[0]))} weighs most "
                         f"(odds ratio {act.iloc[0]['odds_ratio']:.2f})" if len(act) else
                         "nothing a manager can act on moves churn enough to matter"))
        else:
            title = f"{name[:1].upper() + name[1:]} is the strongest clear churn driver ({odds(top)})"
    take = []
    for _, r in pd.concat([t[sig], t[~sig]]).head(4).iterrows():
        if "interpretation" in t.columns and isinstance(r.get("interpretation"), str) and r["interpretation"].strip():
            txt = _text(r["interpretation"], 170)
        else:
            txt = f"{_text(r['feature'], 40)}: odds ratio {r['odds_ratio']:.2f}"
        if "CI" not in txt and "ci_low" in t.columns and is_num(r.get("ci_low")) and is_num(r.get("ci_high")):
            txt += f" (95% CI {r['ci_low']:.2f}–{r['ci_high']:.2f})"
        take.append(txt)

    def draw(c: SlideCanvas):
        names = t["label"] if "label" in t.columns else t["feature"]
        cats = [_text(x, 60).replace("_", " ") for x in names]
        cols = [(c.style.na if not ok else c.style.red if v > 1 else c.style.accent)
                for v, ok in zip(t["odds_ratio"], sig)]
        c.bar_chart(c.region("Chart"), cats, {"Odds ratio": t["odds_ratio"].tolist()}, number_format="0.00",
                    horizontal=True, point_colors=cols, colors=[c.style.primary])
        _takeaway(c, take, heading="What drives churn")

    return [SlideSpec("strategy", "Chart", title, draw, topic="Churn-risk drivers", source=d.source("churn_drivers"),
                      footnote=f"Odds ratio > 1 raises the odds of churning within "
                               f"{horizon_words(d.params.strategy.churn_horizon_days)} (red); < 1 lowers them "
                               f"(teal); grey = no effect at 95% confidence, or one under {MATERIAL_ODDS_RATIO - 1:.0%} per step." + (
                                   f" The {fmt_top(len(t), n_drivers)} drivers by strength shown." if len(t) < n_drivers
                                   else ""),
                      notes="Churn-risk model: logistic regression of churn in the next period on account features; "
                            "odds ratios with confidence intervals; " + (
                                "back-tested on a later period it was not trained on." if _churn_backtested(d) else
                                "not back-tested: the order history is too short to hold out a later period."))]


def _backtest_words(d: DeckData) -> str:
    """The churn model's back-test quality in words a client reads (no AUC, no Brier score)."""
    if not _churn_backtested(d):
        return ""
    return backtest_sentence(d.peek("churn_backtest"), d.params.strategy.churn_horizon_days)


def s_churn_risk(d: DeckData) -> list[SlideSpec]:
    if why := _churn_unsupported(d):
        d.skipped.append(("Revenue at risk", f"churn model not supported by the data: {_text(why, 160)}"))
        return []
    t = d.table("churn_risk", ("account_id", "risk_band", "revenue_at_risk"), topic="Revenue at risk")
    if t is None:
        return []
    g = t.groupby("risk_band")["revenue_at_risk"].sum()
    order = [b for b in ("high", "medium", "low", "High", "Medium", "Low") if b in g.index] + \
        [b for b in g.index if b not in ("high", "medium", "low", "High", "Medium", "Low")]
    g = g.loc[order]
    empty = [str(b).lower() for b in g.index if not (is_num(g[b]) and g[b] > 0)]
    g = g[[b for b in g.index if is_num(g[b]) and g[b] > 0]]  # a band with nothing at risk is not a bar
    if g.empty:
        d.skipped.append(("Revenue at risk", "the churn-risk model puts no revenue at risk"))
        return []
    left_out = (f" Band{'s' if len(empty) > 1 else ''} with no revenue at risk left out: {', '.join(empty)}"
                + (" (accounts already lapsed)." if "lapsed" in empty else ".")) if empty else ""
    tot = g.sum()
    hi = g.iloc[0]
    first = risk_band_label(str(g.index[0]).lower(), d.params.strategy.risk_band_shares)
    title = f"{d.money(tot)} of revenue is at risk; {fmt_share(hi / tot, decimals=0) if tot else 'n/a'} of it in the {first} risk band"
    n_risk = int((t["revenue_at_risk"].fillna(0) > 0).sum())
    top = t[t["revenue_at_risk"].fillna(0) > 0].sort_values("revenue_at_risk", ascending=False).head(5)
    take = [f"{d.name_of(r['account_id'])}: {d.money(r['revenue_at_risk'])}" for _, r in top.iterrows()]

    def draw(c: SlideCanvas):
        bands = d.params.strategy.risk_band_shares
        c.bar_chart(c.region("Chart"), [risk_band_label(str(x), bands).capitalize() for x in g.index],
                    {"Revenue at risk": g.tolist()},
                    number_format=excel_number_format("currency", d.cur, max_abs=float(g.abs().max())),
                    colors=[c.style.red])
        _takeaway(c, take, heading=f"Largest revenue at risk ({fmt_top(len(top), n_risk)} accounts)")

    return [SlideSpec("strategy", "Chart", title, draw, topic="Revenue at risk", source=d.source("churn_risk"),
                      # the left-out bands go to the notes: with the back-test the line outran the footnote
                      footnote=("Revenue at risk = churn probability x last-12-month revenue." + (
                          " " + _backtest_words(d) if _backtest_words(d) else left_out)).strip(),
                      notes="Revenue at risk = churn probability x last-12-month revenue, by risk band." + left_out)]


_LOST = kpi_label("revenue_lost_12m", short=True)


def s_revenue_lost(d: DeckData) -> list[SlideSpec]:
    """Revenue already lost to the accounts that churned in the last 12 months: its own figure,
    next to (never added to) revenue at risk; written whether or not the churn model is supported."""
    t = d.table("revenue_lost", ("accounts_lost_12m", "revenue_lost_12m", "dormant_accounts", "lapsed_accounts",
                                 "history_complete", "note"), topic=_LOST)
    if t is None:
        return []
    r = t.iloc[0]
    said = describe_revenue_lost(r, d.cur)
    said = said[:1].upper() + said[1:]
    if int(r["accounts_lost_12m"]) == 0:
        d.skip(_LOST, said)
        return []
    lost = d.table("lost_accounts", ("account_id", "last_order_date", "revenue_lost_12m"), topic=_LOST)
    if lost is None:
        return []
    lost = lost.sort_values(["revenue_lost_12m", "account_id"], ascending=[False, True])
    by_segment = "segment" in lost.columns and lost["segment"].nunique() > 1
    if by_segment:
        order = [q for q in _q(d) if q in set(lost["segment"])]
        g = lost.groupby("segment")["revenue_lost_12m"].agg(["sum", "size"])
        g = g.reindex(order + [s for s in g.index if s not in order])
    else:  # one segment (accounts that churned are all inactive): by the quarter they churned
        q = pd.to_datetime(lost["churn_date"] if "churn_date" in lost.columns else lost["last_order_date"])
        g = lost.groupby(q.dt.to_period("Q"))["revenue_lost_12m"].agg(["sum", "size"]).sort_index()
        g.index = [f"Churned Q{x.quarter} {x.year}" for x in g.index]
    by = [f"{_text(k, 30)}: {d.money(v['sum'])} ({fmt_count(v['size'])} accounts)" for k, v in g.iterrows()]
    top = lost.head(5)
    take = [f"{d.name_of(a['account_id'])}: {d.money(a['revenue_lost_12m'])}, last order "
            f"{fmt_date(a['last_order_date'])}" for _, a in top.iterrows()]
    n = int(r["accounts_lost_12m"])
    churn_days = d.params.analysis.churn_days
    lower = "" if bool(r["history_complete"]) else f" A lower bound: {_text(r['note'], 200)}."

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), [str(x) for x in g.index], {_LOST: g["sum"].tolist()},
                    number_format=excel_number_format("currency", d.cur, max_abs=float(g["sum"].abs().max())),
                    colors=[c.style.muted])
        _takeaway(c, take, heading=f"Largest revenue already lost ({fmt_top(len(top), n)} accounts)")

    return [SlideSpec("strategy", "Chart", said, draw, topic=_LOST, source=d.source("revenue_lost", "lost_accounts"),
                      footnote=(f"Accounts lost: {describe_lost_split(r, churn_days=churn_days)}. " + (
                          "Revenue already lost = their revenue in the 12 months up to their last order." if not lower
                          else
                          "A lower bound: the order history is too short to see every account lost.")),
                      notes=(f"Revenue already lost: {kpi_explanation('revenue_lost_12m', churn_days=churn_days)}. "
                             f"Accounts lost: {kpi_explanation('accounts_lost_12m', churn_days=churn_days)}. "
                             "Never part of revenue at risk. By " + ("segment" if by_segment else "quarter they churned") + ": "
                             + "; ".join(by) + "." + lower))]


def s_whitespace(d: DeckData) -> list[SlideSpec]:
    t = d.table("whitespace", ("account_id", "category", "expected_value"), topic="Cross-sell whitespace")
    if t is None:
        return []
    t = t[t["expected_value"].map(is_num)].sort_values(["expected_value", "account_id"], ascending=[False, True])
    if t.empty:
        return []
    top = t.head(10)
    title = (f"{fmt_count(len(t))} cross-sell opportunities worth {d.money(t['expected_value'].sum())}; the "
             f"{fmt_top(len(top), len(t))} are worth {d.money(top['expected_value'].sum())}")
    rows = [[d.name_of(r["account_id"]), _text(r["category"], 40), d.money(r["expected_value"])]
            for _, r in top.iterrows()]

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["Account", "Category not yet bought", "Expected value"], rows,
                widths=[2, 2, 1], align=["l", "l", "r"], bold_cols=[0], max_pt=14)

    return [SlideSpec("strategy", "Table", title, draw, topic="Cross-sell whitespace", source=d.source("whitespace"),
                      notes="Whitespace: categories an account does not buy that similar accounts do (every buying account, key or not); expected "
                            "value from co-purchase lift and segment penetration.")]


def _figure(d: DeckData, *names: str):
    """The first of the phase's saved figures (``figures/<name>.png``) that exists, or None."""
    for name in names:
        path = d.run.figures_dir / f"{name}.png"
        if path.is_file():
            return path
    return None


def s_whitespace_map(d: DeckData) -> list[SlideSpec]:
    """The phase's whitespace heat map (no native chart type fits an account x category matrix)."""
    fig = _figure(d, "whitespace_heatmap")
    if fig is None:
        return []
    if d.params.output.pseudonymise:  # a picture may carry real account names the deck cannot replace
        d.skip("Whitespace heat map", "left out: the figure may show real account names, and this deck is "
                   "pseudonymised", detail="parameter output.pseudonymise")
        return []
    t = d.table("whitespace", ("account_id", "category", "expected_value"), topic="Whitespace heat map")
    if t is None:
        return []
    t = t[t["expected_value"].map(is_num)]
    g = t.groupby("category")["expected_value"].agg(["sum", "size"]).sort_values("sum", ascending=False)
    if g.empty:
        return []
    top = g.index[0]
    title = (f"{_text(top, 30)} is the largest whitespace: {d.money(g.loc[top, 'sum'])} of expected value across "
             f"{fmt_count(g.loc[top, 'size'])} opportunities")
    take = [f"{_text(cat, 30)}: {d.money(r['sum'])} ({fmt_count(r['size'])} opportunities)" for cat, r in g.head(5).iterrows()]

    def draw(c: SlideCanvas):
        c.picture(fig, c.region("Chart"))
        _takeaway(c, take, heading=f"Expected value by category ({fmt_top(len(take), len(g))})")

    return [SlideSpec("strategy", "Chart", title, draw, topic="Whitespace heat map",
                      source=d.source("whitespace"),
                      footnote="Heat map drawn by the strategy phase (print resolution); category totals from the "
                               "cross-sell opportunities.",
                      notes="Whitespace heat map: penetration of each category among similar accounts against the "
                            "key accounts that do not buy it; expected value per opportunity from the cross-sell model. "
                            "Figure whitespace_heatmap, table whitespace.")]


#: lever -> (short name, how its value reads): the assumed improvements as the impact page lists them
_LEVER_WORDS = {"retention_pts": ("retention", "pts"), "aov_growth": ("order value", "%"),
                "frequency_growth": ("order frequency", "%"), "cross_sell_capture": ("cross-sell", "% of whitespace")}


def lever_assumptions(targets: pd.DataFrame | None) -> tuple[bool, str]:
    """(whether every improvement counted is a playbook's standard one, the improvements in words:
    "retention +1 to +3 pts, order value +1% to +5%, ..." over the segments where each counts).
    A playbook default is an assumption, not the client's target: the impact page says so."""
    if targets is None or targets.empty or not {"lever", "value", "source"} <= set(targets.columns):
        return False, ""
    t = targets[pd.to_numeric(targets["value"], errors="coerce").fillna(0) > 0]
    if t.empty:
        return False, ""
    defaults = bool((t["source"].astype(str) == "playbook default").all())
    parts = []
    for lever, (name, unit) in _LEVER_WORDS.items():
        v = t.loc[t["lever"] == lever, "value"].astype(float)
        if v.empty:
            continue
        lo, hi = v.min(), v.max()
        if unit == "pts":
            rng = f"+{lo * 100:.0f} pts" if round(lo * 100) == round(hi * 100) else f"+{lo * 100:.0f} to +{hi * 100:.0f} pts"
        elif unit == "%":
            rng = f"+{lo:.0%}" if round(lo * 100) == round(hi * 100) else f"+{lo:.0%} to +{hi:.0%}"
        else:
            rng = (f"{lo:.0%}" if round(lo * 100) == round(hi * 100) else f"{lo:.0%} to {hi:.0%}") + " of whitespace"
        parts.append(f"{name} {rng}")
    return defaults, ", ".join(parts)


def s_impact(d: DeckData) -> list[SlideSpec]:
    t = d.table("impact_scenarios", ("scenario", "revenue_impact"), topic="Impact scenarios")
    if t is None:
        return []
    order = {"low": 0, "base": 1, "high": 2}
    t = t.assign(_o=t["scenario"].astype(str).str.lower().map(order).fillna(9)).sort_values("_o")
    series = {"Revenue impact": t["revenue_impact"].tolist()}
    # without margin data a profit impact would only repeat the revenue impact under another name
    show_profit = "profit_impact" in t.columns and d.has_input("margin")
    if show_profit:
        series["Gross profit impact"] = t["profit_impact"].tolist()  # revenue x margin rate: before cost to serve
    base = t[t["scenario"].astype(str).str.lower() == "base"]
    own = "cap_share" in t.columns and t["cap_share"].map(is_num).any()  # no client targets: own history, capped
    cap = float(t["cap_share"].dropna().iloc[0]) if own else None
    defaults, levers = (False, "") if own else lever_assumptions(d.peek("segment_targets"))
    what = ("Closing part of the gap to the client's own best segments" if own else
            "The playbooks' standard improvements" if defaults else "Reaching the targets")
    if len(base):
        title = (f"{what} {'would add' if defaults else 'adds'} {d.money(base['revenue_impact'].iloc[0])} of revenue in the base case "
                 f"(range {d.money(t['revenue_impact'].min())} to {d.money(t['revenue_impact'].max())})")
    else:
        title = f"{what} adds {d.money(t['revenue_impact'].min())} to {d.money(t['revenue_impact'].max())} of revenue"
    foot = (f"No targets were set: each segment closes part of its gap to the client's top-quartile segment "
            f"(retention, order value, order frequency), and no scenario exceeds {fmt_share(cap, decimals=0)} of "
            "last-12-month revenue. No industry benchmark or playbook default is used." if own else "")
    m = d.params.strategy.scenario_multipliers
    spread = (f"Low and high cases apply {m['low'] / m['base']:g}x and {m['high'] / m['base']:g}x the base case's "
              "improvement to every lever: an assumption, not a forecast range."
              if {"low", "base", "high"} <= set(m) and m["base"] else "")
    if not own:  # the own-history footnote is full: the spread goes to the notes there
        foot = spread
    cols = ["revenue_impact", "profit_impact"] if show_profit else ["revenue_impact"]
    mx = float(np.nanmax(np.abs(t[cols].to_numpy(dtype=float))))

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), [str(x).capitalize() for x in t["scenario"]], series,
                    number_format=excel_number_format("currency", d.cur, max_abs=mx), colors=[c.style.primary, c.style.accent])
        _takeaway(c, [f"{str(r['scenario']).capitalize()}: {d.money(r['revenue_impact'])} revenue" +
                      (f", {d.money(r['profit_impact'])} gross profit" if show_profit else "")
                      for _, r in t.iterrows()] + ([f"No targets set: from the client's own history, at most "
                                                    f"{fmt_share(cap, decimals=0)} of revenue"] if own else [])
                 + ([f"{'Assumed, the playbooks' + chr(39) + ' standard (not your targets)' if defaults else 'Improvements counted'}"
                     f", by segment: {levers}"] if levers else []))

    return [SlideSpec("strategy", "Chart", title, draw, topic="Impact scenarios", source=d.source("impact_scenarios"),
                      footnote=foot,
                      notes=("Impact scenarios from the client's own history (no targets were given): levers close "
                             "part of each segment's gap to the top-quartile segment, scaled down in proportion when "
                             "a scenario would exceed the cap on its share of revenue; low/base/high multiply every "
                             "lever." if own else "Impact scenarios: revenue and gross profit if each segment "
                             "reaches its lever improvements (" + ("the playbooks' standard ones: " + levers if defaults
                                                                   else "the client's, a benchmark gap's or a "
                                                                        "playbook's, as the strategy notebook lists "
                                                                        "them") + "), low/base/high assumptions.")
                      + (" " + spread if spread else ""))]


def s_account_plans(d: DeckData) -> list[SlideSpec]:
    """The key accounts' plans: an overview of the top accounts (situation, own objective, next action),
    then one page for each of the first three with its 3-5 actions, owners, dates and targets."""
    plans, seg = d.peek("account_plans", ("account_id", "objective")), d.peek("segments", ("is_key",))
    if plans is not None and plans.empty and seg is not None and selects_no_key_account(d):
        # the appendix says why in the client's words, not 'the data gave no result for it'
        d.skip("Account plans", no_key_account_reason(d)[0] + ", so there is no key-account plan to write")
        return []
    t = d.table("account_plans", ("account_id", "objective"), topic="Account plans")
    if t is None:
        return []
    if "rank" in t.columns:
        t = t.sort_values("rank")
    n_all = len(t)
    top = t.head(min(d.params.strategy.top_n_account_plans, 8))
    acts = d.peek("account_plan_actions")

    def nxt(r) -> str:
        if not isinstance(r.get("next_action"), str) or not r["next_action"]:
            return ""
        who = _text(r.get("next_action_owner"), 40).split(" (")[0]
        due = r.get("next_action_due")
        return _text(r["next_action"], 110) + (f" ({who}" if who else " (") + (
            f", by {fmt_date(due)})" if due is not None and not pd.isna(due) else ")")

    has_sit = "situation" in t.columns
    rows = [[d.name_of(r["account_id"]), d.money(r["revenue_12m"])] + ([_text(r["situation"], 60)] if has_sit else [])
            + [_text(r["objective"], 150), nxt(r)] for _, r in top.iterrows()]
    which = fmt_top(len(top), n_all)
    which = which if len(top) >= n_all else f"the {which}"  # "all 2", "the top 8 of 15"
    sits = t["situation"].astype(str).str.split("; ").str[0].value_counts() if has_sit else pd.Series(dtype=int)
    # ranked by predicted lifetime value where the segmentation has one, not by the revenue the table shows
    by = ("by lifetime value" if "value_basis" in t.columns and (t["value_basis"].astype(str) == "clv").all()
          else "by revenue" if "value_basis" in t.columns and (t["value_basis"].astype(str) == "revenue_12m").all()
          else "by value")
    title = (f"Each key account gets its own plan; of {which} {by}, "
             f"{fmt_count(int((top['situation'].astype(str).str.split('; ').str[0] == sits.index[0]).sum()))} "
             f"start with {sits.index[0]}" if has_sit and len(sits) else f"Account plans for {which} key accounts {by}")

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["Account", "Revenue (12m)"] + (["Situation"] if has_sit else []) +
                ["Objective", "Next action"], rows,
                widths=[1.4, 0.9] + ([1.2] if has_sit else []) + [2.6, 2.6],
                align=["l", "r"] + (["l"] if has_sit else []) + ["l", "l"], bold_cols=[0], max_pt=12)

    out = [SlideSpec("strategy", "Table", title, draw, topic="Account plans", source=d.source("account_plans"),
                     footnote=f"Every key account's plan, with each action's owner, due date and target, is in the "
                              f"segmentation workbook ({fmt_count(n_all)} accounts), ready to import into the CRM.",
                     notes="Account plans: each key account's situation is read from its data in order of urgency — "
                           "retention risk (high churn-risk band or revenue down over 10% on the year), service issue "
                           "(latest NPS 6 or below), whitespace (cross-sell potential of 15% of revenue or more), growth "
                           "headroom (revenue up 10% or more), relationship strength (NPS 9-10) — and the first sets "
                           "the objective; each situation adds its actions, the playbook fills up to three.")]
    if acts is None or acts.empty or "target" not in acts.columns:
        return out
    for _, r in top.head(3).iterrows():
        a = acts[acts["account_id"].astype(str) == str(r["account_id"])].sort_values("due_date")
        if a.empty:
            continue
        arows = [[_text(x["action"], 120), _text(x["owner"], 50), fmt_date(x["due_date"]), _text(x["target"], 110)]
                 for _, x in a.iterrows()]
        facts = [f"Revenue (12m): {d.money(r['revenue_12m'])}" + (
            f", {fmt_share(r['revenue_trend'], decimals=0, signed=True)} on the year"
            if is_num(r.get("revenue_trend")) else "")]
        if is_num(r.get("nps_latest")):
            facts.append(f"Latest NPS score: {r['nps_latest']:.0f}")
        if isinstance(r.get("risk_band"), str) and r["risk_band"] != "not scored":
            band = risk_band_label(r["risk_band"], d.params.strategy.risk_band_shares)
            # the probability beside its rank: 'low' alone read as safe beside a detractor score
            facts.append(f"Churn risk: {fmt_share(r['risk_score'], decimals=0)} chance, {band}"
                         if is_num(r.get("risk_score")) else f"Churn risk: {band}")
        if is_num(r.get("whitespace_value")) and r["whitespace_value"] > 0:
            facts.append(f"Cross-sell potential: {d.money(r['whitespace_value'])} a year")
        if has_sit:
            facts.append(f"Situation: {_text(r['situation'], 80)}")
        name = d.name_of(r["account_id"])

        def draw_one(c: SlideCanvas, arows=arows, facts=facts):
            c.table(c.region("Chart"), ["Action", "Owner", "Due", "Target"], arows, widths=[2.6, 1.4, 0.9, 2.2],
                    align=["l", "l", "l", "l"], max_pt=12)
            _takeaway(c, facts, heading="Where the account stands")

        out.append(SlideSpec("strategy", "Chart", f"{name}: {_lc_first(_text(r['objective'], 140))}", draw_one,
                             topic="Account plan", source=d.source("account_plans", "account_plan_actions"),
                             notes=f"Account plan for {name} (rank {int(r['rank']) if 'rank' in r else ''} by value): "
                                   "objective from its situation; actions with owner, due date and measurable target."))
    return out
