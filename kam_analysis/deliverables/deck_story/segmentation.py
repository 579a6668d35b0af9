"""Section 5 of the deck: portfolio matrix, segment profiles, key accounts, RFM, CLV and robustness."""
from __future__ import annotations

import pandas as pd


from ...metrics import kpi_label, lifecycle_status, programme_by_tier, revenue_share
from ...present.theme import tint
from .._pptx import SlideCanvas
from ...present.formats import excel_number_format, fmt_count, fmt_n, fmt_share, fmt_top, is_num
from ...present.labels import P_ALIVE
from ._base import DeckData, floor_rule, _q, SlideSpec, _takeaway, _text


def _quadrant_colors(d: DeckData, c: SlideCanvas, order: list[str]) -> list[str]:
    """Colours of the quadrants in ``order``, each its position's colour in the theme."""
    by_name = c.style.quadrant_colors(_q(d))
    return [by_name.get(q, c.style.muted) for q in order]


def s_portfolio_matrix(d: DeckData) -> list[SlideSpec]:
    if d.refused("portfolio_matrix", topic="Portfolio matrix"):
        return []
    s = d.table("segments", ("account_id", "attractiveness", "relative_strength", "quadrant"), topic="Portfolio matrix")
    if s is None:
        return []
    if "revenue_12m" not in s.columns:
        summ = d.peek("account_summary")
        if summ is None or "revenue_12m" not in summ.columns:
            d.skip("Portfolio matrix", "no last-12-month revenue to size the bubbles", detail="segments.revenue_12m")
            return []
        s = s.merge(summ[["account_id", "revenue_12m"]], on="account_id", how="left")
    s = s[s["attractiveness"].map(is_num) & s["relative_strength"].map(is_num)]
    quads = _q(d)
    order = [q for q in quads if q in set(s["quadrant"])] + sorted(set(s["quadrant"].astype(str)) - set(quads))
    pos = s[s["revenue_12m"] > 0].sort_values(["revenue_12m", "account_id"], ascending=[False, True])
    shown = pos.groupby("quadrant", sort=False).head(40)  # the 40 largest of each quadrant
    floor = 0.03 * float(shown["revenue_12m"].max()) if len(shown) else 0.0
    shown = shown.assign(_size=shown["revenue_12m"].clip(lower=floor))
    # the shares are the segment profiles' (one definition: of all accounts and all revenue, the
    # inactive group included), so this page and the profile table print the same figure
    sp = d.peek("segment_profiles", ("segment", "accounts", "revenue_share"))
    sp = sp.set_index(sp["segment"].astype(str)) if sp is not None else None
    q0 = order[0]
    title = "KAM portfolio matrix"
    take = []
    if sp is not None and q0 in sp.index and is_num(sp.loc[q0, "revenue_share"]):
        r_share = fmt_share(sp.loc[q0, "revenue_share"])
        if "account_share" in sp.columns and is_num(sp.loc[q0, "account_share"]):
            n_share = fmt_share(sp.loc[q0, "account_share"])
            joint = "and" if n_share == r_share else "but"  # 'but' only when the two shares differ
            title = f"{q0} accounts are {n_share} of accounts {joint} {r_share} of revenue"
        else:
            title = f"{q0} accounts hold {r_share} of revenue"
        take = [f"{q}: {fmt_count(sp.loc[q, 'accounts'])} accounts, {fmt_share(sp.loc[q, 'revenue_share'])} of revenue"
                for q in [*order, *[x for x in sp.index if x not in order]] if q in sp.index]
    if "is_key" in s.columns:
        take.append(f"{fmt_count(s['is_key'].astype(bool).sum())} accounts selected as key")

    def draw(c: SlideCanvas):
        series = {}
        for q in order:
            g = shown[shown["quadrant"] == q]
            if len(g):
                series[q] = (g["relative_strength"].tolist(), g["attractiveness"].tolist(), g["_size"].tolist())
        c.bubble_chart(c.region("Chart"), series, x_format="0%", y_format="0%",
                       x_title="Relative strength (percentile)", y_title="Account attractiveness (percentile)",
                       colors=_quadrant_colors(d, c, [q for q in order if q in series]), cross=(0.5, 0.5), bounds=(0, 1, 0, 1), scale=40)
        _takeaway(c, take)

    return [SlideSpec("segmentation", "Chart", title, draw, topic="Portfolio matrix",
                      source=d.source("segments"),
                      footnote=f"Live accounts only ({fmt_count(len(s))}); inactive accounts are off the matrix. Shares "
                               f"are of all accounts and all revenue. Bubble area = revenue (12m); the 40 largest of each "
                               f"quadrant shown ({fmt_count(len(shown))} of {fmt_count(len(s))}).",
                      notes="KAM portfolio matrix (McDonald & Rogers): relative strength across, attractiveness up, quadrants "
                            "at the engagement's thresholds; the consultant's overrides applied. Bubble "
                            "area floored at 3% of the largest so small accounts stay visible. Shares of accounts and of "
                            "revenue are the segment profiles' (all accounts, inactive included), as on every page.")]


def s_segment_profiles(d: DeckData) -> list[SlideSpec]:
    if d.refused("portfolio_matrix", topic="Segment profiles"):
        return []
    sp = d.peek("segment_profiles")
    if sp is not None and {"segment", "accounts", "revenue_share"} <= set(sp.columns) and len(sp):
        cols = [("segment", "Segment", "l", lambda v: _text(v, 30)),
                ("accounts", "Accounts", "r", fmt_count),
                ("revenue_12m", kpi_label("revenue_12m", short=True), "r", d.money),
                ("revenue_share", kpi_label("revenue_share", short=True), "r", fmt_share),
                ("profit_share", "Share of profit", "r", fmt_share),
                ("intent", "Engagement intent", "l", lambda v: _text(v, 120))]
        cols = [c for c in cols if c[0] in sp.columns]
        qo = {q: i for i, q in enumerate(_q(d))}
        sp = sp.assign(_o=sp["segment"].map(qo).fillna(len(qo))).sort_values("_o", kind="stable")
        rows = [[f(r[c]) for c, _, _, f in cols] for _, r in sp.iterrows()]
        top = sp.sort_values("revenue_share", ascending=False).iloc[0]
        title = (f"{_text(top['segment'], 30)} accounts hold {fmt_share(top['revenue_share'])} of revenue; "
                 "each segment gets its own engagement intent")

        def draw(c: SlideCanvas):
            c.table(c.region("Table"), [h for _, h, _, _ in cols], rows,
                    widths=[3 if c_[0] == "intent" else 1.2 for c_ in cols], align=[a for _, _, a, _ in cols],
                    bold_cols=[0], max_pt=14)

        neg = (sp[sp["profit_share"].map(is_num) & (sp["profit_share"].astype(float) < 0)]
               if "profit_share" in sp.columns else sp.iloc[0:0])
        foot = (f"A negative profit share ({', '.join(_text(x, 30) for x in neg['segment'])}): those accounts cost "
                "more to serve than the gross margin they bring, so the other segments earn more than 100% of the "
                "profit." if len(neg) else "")
        return [SlideSpec("segmentation", "Table", title, draw, topic="Segment profiles",
                          source=d.source("segment_profiles"), footnote=foot,
                          notes="Segment profiles: accounts, revenue and profit share per quadrant, and the intent "
                                "carried into the strategy.")]
    d.skip("Segment profiles", "no segment profiles in this run", detail="segment_profiles")
    return []


def s_key_accounts(d: DeckData) -> list[SlideSpec]:
    if d.refused("key_account_selection", topic="Key account list"):
        return []
    s = d.table("segments", ("account_id", "is_key", "revenue_12m"), topic="Key account list")
    if s is None:
        return []
    key = s[s["is_key"].astype(bool)].sort_values(["revenue_12m", "account_id"], ascending=[False, True])
    if key.empty:
        return []
    tot = s["revenue_12m"].sum()
    top = key.head(12)
    opt = [("quadrant", "Quadrant", "l", lambda v: _text(v, 20)), ("tier", "Tier", "l", lambda v: _text(v, 20)),
           ("rfm_segment", "RFM segment", "l", lambda v: _text(v, 24)), ("clv", "CLV", "r", d.money),
           ("p_alive", P_ALIVE, "r", lambda v: fmt_share(v, decimals=0)),
           ("stability", "Stability", "r", lambda v: fmt_share(v, decimals=0))]
    opt = [o for o in opt if o[0] in s.columns][:4]
    rows = [[d.name_of(r["account_id"]), d.money(r["revenue_12m"]),
             fmt_share(revenue_share(r["revenue_12m"], tot))] + [f(r[c]) for c, _, _, f in opt]
            for _, r in top.iterrows()]
    which = fmt_top(len(top), len(key))
    lead = which.capitalize() if len(top) >= len(key) else f"The {which}"  # "All 2", "The top 12 of 26"
    title = (f"{lead} key accounts generate {fmt_share(revenue_share(top['revenue_12m'].sum(), tot))} of revenue"
             if tot > 0 else f"{lead} key accounts")

    def draw(c: SlideCanvas):
        header = ["Account", kpi_label("revenue_12m", short=True), "Share"] + [h for _, h, _, _ in opt]
        c.table(c.region("Table"), header, rows, widths=[2.2, 1.1, 0.8] + [1] * len(opt),
                align=["l", "r", "r"] + [a for _, _, a, _ in opt], max_pt=12, bold_cols=[0])

    return [SlideSpec("segmentation", "Table", title, draw, topic="Key account list", source=d.source("segments"),
                      footnote=f"{fmt_count(len(key))} key accounts selected; the {fmt_top(len(top), len(key))} by "
                               "last-12-month revenue shown.",
                      notes="Key accounts are the accounts the selection scoring picks, within what their value and the "
                            "managers' hours can carry.")]


def s_rfm(d: DeckData) -> list[SlideSpec]:
    # the shares are the rfm_profiles table's (metrics.compute_revenue_shares), as in the workbook
    t = d.table("rfm_profiles", ("rfm_segment", "accounts", "account_share", "revenue_12m", "revenue_share"),
                topic="RFM segments")
    if t is None:
        return []
    t = t[(t["accounts"] > 0) & t["revenue_share"].map(is_num)]
    g = t.set_index("rfm_segment").sort_values("revenue_12m", ascending=False, kind="stable")
    n_seg, g = len(g), g.head(10)
    if g.empty:
        return []
    top = g.index[0]
    title = (f"'{_text(top, 30)}' accounts are {fmt_share(g.loc[top, 'account_share'])} of accounts and "
             f"{fmt_share(g.loc[top, 'revenue_share'])} of revenue")
    cats = [_text(x, 24) for x in g.index]

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), cats, {"Share of accounts": g["account_share"].tolist(),
                                             kpi_label("revenue_share", short=True): g["revenue_share"].tolist()},
                    number_format=excel_number_format("share", compact=False), horizontal=True,
                    colors=[tint(c.style.primary, 0.55), c.style.primary])
        _takeaway(c, [f"{cat}: {fmt_n(int(n), 'account')}" for cat, n in zip(cats[:5], g["accounts"][:5])],
                  heading=f"Largest by revenue ({fmt_top(min(5, len(cats)), n_seg)} segments)")

    return [SlideSpec("segmentation", "Chart", title, draw, topic="RFM segments", source=d.source("rfm_profiles"),
                      footnote=f"The {fmt_top(len(g), n_seg)} RFM segments by revenue shown." if len(g) < n_seg else "",
                      notes="RFM: recency, frequency and monetary scores by quantile, mapped to named segments.")]


def live_share(d: DeckData) -> float | None:
    """Share of accounts live by the one lifecycle rule (:func:`~kam_analysis.metrics.lifecycle_status`),
    or None without an account summary. The CLV slide shows it instead of the model's median
    chance still active, which BG/NBD puts at 100% for one-time buyers however long ago they bought."""
    summ = d.peek("account_summary")
    if summ is None or summ.empty or not {"active", "orders_12m", "n_orders"} <= set(summ.columns):
        return None
    return float((lifecycle_status(summ) == "live").mean())


def s_clv(d: DeckData) -> list[SlideSpec]:
    s = d.table("segments", ("account_id", "clv", "quadrant"), topic="Predictive CLV")
    if s is None:
        return []
    s = s[s["clv"].map(is_num)]
    if s.empty:
        return []
    g = s.groupby("quadrant")["clv"].sum()
    order = [q for q in _q(d) if q in g.index] + [q for q in g.index if q not in _q(d)]
    g = g.loc[order]
    tot = g.sum()
    top = g.idxmax()
    settings = d.peek("segmentation_settings")
    basis = "gross_margin"
    if settings is not None and {"setting", "value"} <= set(settings.columns):
        hit = settings.loc[settings["setting"] == "clv_value_basis", "value"]
        basis = str(hit.iloc[0]) if len(hit) else basis
    in_words = "gross margin" if basis == "gross_margin" else "revenue"
    title = (f"Predicted customer lifetime value (in {in_words}) totals {d.money(tot)}; "
             f"{fmt_share(g[top] / tot, decimals=0)} sits with {top} accounts")
    foot = ("Lifetime value in revenue, not margin: the orders carry no margin, so it overstates what low-margin "
            "accounts are worth." if basis == "revenue" else "Lifetime value in gross margin.")
    take = [f"{q}: {d.money(v)}" for q, v in g.items()]
    live = live_share(d)
    if live is not None:  # the lifecycle rule, not the model's P(alive): BG/NBD calls a one-time buyer alive
        take.append(f"Live accounts (an order in the last {d.params.analysis.churn_days} days): "
                    f"{fmt_share(live, decimals=0)}")
    cp = d.peek("clv_params")
    notes = ("Predictive CLV: BG/NBD for purchases and survival, Gamma-Gamma for spend, discounted over the horizon. "
             f"The model's {P_ALIVE.lower()} is not a headline: for an account that bought once it stays near 100% "
             "however long ago that was; the live share is the lifecycle rule's.")
    if cp is not None and {"model", "parameter", "value"} <= set(cp.columns):
        notes += " Fitted parameters: " + "; ".join(f"{r['model']} {r['parameter']} = {r['value']:.3g}"
                                                    for _, r in cp.iterrows() if is_num(r["value"]))

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), order, {"Predicted CLV": g.tolist()},
                    number_format=excel_number_format("currency", d.cur, max_abs=float(g.abs().max())),
                    colors=[c.style.primary])
        _takeaway(c, take)

    return [SlideSpec("segmentation", "Chart", title, draw, topic="Predictive CLV", source=d.source("segments", "clv_params"),
                      footnote=foot, notes=notes + f" Value basis: {in_words}.")]


def s_stability(d: DeckData) -> list[SlideSpec]:
    if d.refused("portfolio_matrix", topic="Robustness of assignments"):
        return []
    s = d.table("segments", ("account_id", "quadrant", "stability"), topic="Robustness of assignments")
    if s is None:
        return []
    s = s[s["stability"].map(is_num)]
    if s.empty:
        return []
    g = s.groupby("quadrant")["stability"].agg(["mean", "size", lambda x: (x >= 0.999).mean()])
    g.columns = ["mean", "n", "always"]
    order = [q for q in _q(d) if q in g.index] + [q for q in g.index if q not in _q(d)]
    g = g.loc[order]
    always = (s["stability"] >= 0.999).mean()
    title = f"{fmt_share(always, decimals=0)} of accounts keep their quadrant under every weight perturbation"
    take = [f"{q}: mean stability {fmt_share(r['mean'], decimals=0)}" for q, r in g.iterrows()]
    if "is_key" in s.columns:
        k = s[s["is_key"].astype(bool)]
        if len(k):
            take.append(f"Key accounts always in the same quadrant: {fmt_count((k['stability'] >= 0.999).sum())} of "
                        f"{fmt_count(len(k))}")

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), order, {"Always same quadrant": g["always"].tolist(),
                                              "Mean stability": g["mean"].tolist()},
                    number_format="0%", colors=[c.style.primary, c.style.accent], minimum=0, maximum=1)
        _takeaway(c, take)

    return [SlideSpec("segmentation", "Chart", title, draw, topic="Robustness of assignments",
                      source=d.source("segments"),
                      notes="Stability: share of seeded Monte Carlo perturbations of the selection weights in which "
                            "the account stays in its quadrant.")]



#: what each coverage tier gets, in the client's words (the deck and both dashboards)
TIER_SERVICE = {"key": "Dedicated key account manager and a joint account plan", "growth": "Pooled account team",
                "core": "Digital and inside sales; no account manager",
                "inactive": "Win-back campaign; no manager time"}


def sizing_figures(t: pd.DataFrame | None) -> dict | None:
    """The ``key_account_sizing`` table as metric -> value (None without the table)."""
    if t is None or t.empty or not {"metric", "value"} <= set(t.columns):
        return None
    return {m: v for m, v in zip(t["metric"], t["value"])}


def sizing_values(d: DeckData) -> dict | None:
    """The run's ``key_account_sizing`` figures as metric -> value (None without the table)."""
    return sizing_figures(d.peek("key_account_sizing", ("metric", "value")))


def capacity_text(z: dict) -> tuple[str, str]:
    """(headline, short) on what the managers can do against what the value supports."""
    w, sel = int(z["warranted"]), int(z["selected"])
    if is_num(z.get("capacity_accounts")) and z.get("capacity_gap", 0) > 0:
        extra = z.get("additional_managers")
        more = (f": {fmt_count(extra)} more manager{'s' if extra != 1 else ''} needed" if is_num(extra) and extra > 0
                else "")
        return (f"{fmt_count(w)} accounts can carry a dedicated manager, but {fmt_count(z['managers'])} managers can "
                f"serve only {fmt_count(z['capacity_accounts'])} of them{more}",
                f"the managers can serve {fmt_count(z['capacity_accounts'])} of {fmt_count(w)} accounts that warrant one")
    if not is_num(z.get("managers")):
        need = z.get("managers_needed")
        return ((f"The data does not say how many account managers there are; the {fmt_count(sel)} key accounts "
                 f"would need {fmt_count(need)}") if sel and is_num(need) else
                "The data does not say how many account managers there are", "")
    return (f"{fmt_count(z['managers'])} managers have the hours for up to {fmt_count(z['capacity_accounts'])} "
            f"accounts with a dedicated manager; the value supports {fmt_count(w)}", "")


def capacity_sentence(d: DeckData, z: dict) -> tuple[str, str]:
    """:func:`capacity_text` (kept for the executive summary's finding)."""
    return capacity_text(z)


def programme_fit_text(fit: dict | None, tiers: pd.DataFrame) -> str:
    """Where the client's current programme lands in the tiers the data supports, in one sentence
    ("Of today's programme of 160 accounts, 12 are key accounts here, 60 growth accounts, 56 core
    accounts and 32 inactive accounts; the selection adds 3 accounts from outside it"); '' without
    a programme. No count stands right before "key accounts" but the selection's own, so the page
    never seems to state a second number of key accounts. ``fit``:
    :func:`kam_analysis.metrics.programme_by_tier`; ``tiers``: ``coverage_tiers`` (the client's
    tier names)."""
    if not fit:
        return ""
    names = dict(zip(tiers["tier"].astype(str), tiers["label"].astype(str)))

    def one(t: str, n: int) -> str:  # "1 growth account", "60 growth accounts"
        name = names.get(t, t).lower()
        return f"{fmt_count(n)} {name[:-1] if n == 1 and name.endswith(' accounts') else name}"

    shown = [(t, n) for t, n in fit["by_tier"].items() if n]
    if not shown:
        return ""
    t0, n0 = shown[0]
    name0 = one(t0, n0).split(" ", 1)[1]
    parts = [f"{fmt_count(n0)} {'is' if n0 == 1 else 'are'} {name0}"] + [one(t, n) for t, n in shown[1:]]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    n = fit["programme"]
    whole = f"Of today's programme of {fmt_count(n)} account{'s' if n != 1 else ''}"
    out = (f"{whole}, none qualifies for a dedicated manager here: {listed}" if not fit["by_tier"].get("key")
           else f"{whole}, {listed} here")
    if fit.get("new_key"):
        k = fit["new_key"]
        out += f"; the selection adds {fmt_count(k)} account{'s' if k != 1 else ''} from outside it"
    return out


def programme_size_text(z: dict, tiers: pd.DataFrame, *, money, churn_days: int,
                        lost: pd.DataFrame | None = None, default_rule: str | None = None,
                        programme: dict | None = None) -> dict:
    """Title, takeaways and tier rows of "where key-account management fits", for every deliverable.

    ``z``: :func:`sizing_figures`; ``tiers``: the ``coverage_tiers`` table; ``money``: the
    client's money formatter; ``lost``: the ``revenue_lost`` table (the revenue already lost
    to the accounts that churned, said with the inactive group); ``default_rule``
    (:func:`default_floor_rule`): the threshold's rule when it is a default, never stated as
    the client's fact; ``programme``: :func:`kam_analysis.metrics.programme_by_tier`, where the
    client's current programme lands (a partner's first question when the data supports fewer
    key accounts than the client has). The title is the capacity gap when it binds.
    """
    live, sel = int(z["live_accounts"]), int(z["selected"])
    key = tiers[tiers["tier"] == "key"]
    key_share = key["revenue_share"].iloc[0] if len(key) else float("nan")
    cap, _ = capacity_text(z)
    if z.get("capacity_gap", 0) > 0 and is_num(z.get("capacity_accounts")):
        title = cap
    elif sel == 0 and default_rule:
        title = (f"No live account reaches the default key-account threshold ({money(z['key_floor'])} a year): "
                 "every account is served by a tier for now")
    elif sel == 0:
        title = (f"Key-account management fits none of the {fmt_count(live)} live accounts: none brings enough "
                 "revenue to carry a dedicated manager, so every account is served by a tier")
    else:
        title = (f"Key-account management fits {fmt_count(sel)} of {fmt_count(live)} live accounts "
                 f"({fmt_share(key_share)} of revenue); the others are served by tiers")
    floor = f"A dedicated manager needs an account with at least {money(z['key_floor'])} of revenue a year"
    if is_num(z.get("growth_floor")) and z["growth_floor"] < 1e300:
        floor += f"; a pooled team {money(z['growth_floor'])}"
    if default_rule:
        floor += (f". A default, not the client's figure: {default_rule}; the client's cost of a manager hour "
                  "would set it")
    inactive = (f"{fmt_count(live)} live accounts; {fmt_count(z['inactive_accounts'])} inactive (no order in the "
                f"last {churn_days} days), a group of their own, off the portfolio matrix")
    if lost is not None and len(lost) and int(lost["accounts_lost_12m"].iloc[0]) > 0:
        r = lost.iloc[0]
        inactive += (f"; {'at least ' if not bool(r['history_complete']) else ''}{money(r['revenue_lost_12m'])} of "
                     f"revenue already lost to the {fmt_count(r['accounts_lost_12m'])} that churned in the "
                     "last 12 months")
    take = [inactive, floor, cap]
    if fit := programme_fit_text(programme, tiers):
        take.append(fit)
    rows = [{"tier": r["label"], "accounts": r["accounts"], "revenue_share": r["revenue_share"],
             "service": TIER_SERVICE.get(r["tier"], ""), "hours": r["hours_per_account"]} for _, r in tiers.iterrows()]
    return {"title": title, "takeaways": take, "rows": rows, "capacity_binds": bool(z.get("capacity_gap", 0) > 0
                                                                                    and is_num(z.get("capacity_accounts")))}


def s_programme_size(d: DeckData) -> list[SlideSpec]:
    """Where key-account management fits: live and inactive accounts, the coverage tiers, capacity."""
    if d.refused("key_account_selection", topic="Key-account programme size"):
        return []
    z = sizing_values(d)
    if z is None:  # a run from before the sizing rule: nothing to say, nothing skipped
        return []
    t = d.table("coverage_tiers", ("tier", "label", "accounts", "revenue_share", "hours_per_account"),
                topic="Where key-account management fits")
    if t is None:
        return []
    segs = d.peek("segments")
    text = programme_size_text(z, t, money=d.money, churn_days=d.params.analysis.churn_days,
                               default_rule=floor_rule(d),
                               programme=programme_by_tier(segs) if segs is not None else None,
                               lost=d.peek("revenue_lost", ("accounts_lost_12m", "revenue_lost_12m", "history_complete")))
    title, take = text["title"], text["takeaways"]
    rows = [[_text(r["tier"], 30), fmt_count(r["accounts"]), fmt_share(r["revenue_share"]), r["service"],
             fmt_count(r["hours"])] for r in text["rows"]]

    def draw(c: SlideCanvas):
        c.table(c.region("Chart"), ["Tier", "Accounts", kpi_label("revenue_share", short=True), "Service", "Manager hours a year"], rows,
                widths=[1.3, 0.9, 0.9, 2.4, 0.9], align=["l", "r", "r", "l", "r"], bold_cols=[0], max_pt=13)
        _takeaway(c, take)

    floor_note = d.peek("key_account_sizing", ("metric", "note"))
    basis = ""
    if floor_note is not None:
        n = floor_note.loc[floor_note["metric"] == "key_floor", "note"]
        basis = _text(n.iloc[0], 200) if len(n) else ""
    return [SlideSpec("segmentation", "Chart", title, draw, topic="Where key-account management fits",
                      source=d.source("key_account_sizing", "coverage_tiers"),
                      notes="Sizing rule: only live accounts can be key accounts; an account "
                            "can carry a dedicated manager when its last-12-month revenue reaches the floor (" + basis
                            + "); the key accounts are the accounts above it with the best selection score, no more "
                            "than the managers' hours allow. Tiers: key (dedicated manager), growth (pooled team: "
                            "revenue carries its hours), core (digital, no manager hours), inactive (win-back).")]
