"""The business case: what the programme costs, and what each scenario returns on it.

**Benefit and cost cover the same accounts.** The programme's accounts are those the
coverage plan puts account-manager hours on (``hours_allocated`` > 0); when the plan
allocates none because no manager capacity is known, they are the accounts whose playbook
needs hours, costed at the hours they need (:func:`programme_hours`). The cost is those
hours x the cost of an hour, plus tools and set-up; the benefit credited to the programme
is each scenario's impact *in those accounts only*: per segment, the segment's impact x the
share of the segment's last-12-month revenue those accounts carry
(:func:`programme_revenue_share`). The rest of the base (digital coverage, uncovered
accounts) gets no manager time, so its share of the scenario is not the programme's return.

The programme's cost is the account-manager time above (x the cost of an hour), the tools it
needs each year and a one-off set-up. Each comes from the parameters (``strategy.cost_per_hour``,
``strategy.tools_cost_per_year``, ``strategy.setup_cost``); one the client has not given
is :data:`~kam_analysis.config.ASSUMED_PROGRAMME_COSTS` and is marked ``assumed`` so every
page that shows it can say so. The impact builds up over the programme years
(``strategy.ramp_up``: the share of the full-year impact realised in year 1, 2, ...), the
costs run from day one, and the set-up is paid at the start.

The benefit is in gross profit when the orders carry margin, else in revenue
(``benefit_basis``): a revenue "return" is not a profit return, and every page says so.

Per scenario: the benefit (gross profit or revenue) over the horizon, the cost over the horizon, the net,
the return on the cost (ROI = net / cost) and the payback month (the first month in
which the cumulative net turns positive; none within the horizon when it never does).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import ASSUMED_PROGRAMME_COSTS
from ..present.formats import fmt_count, fmt_money, is_num

__all__ = ["COST_ITEMS", "COST_INPUT_WORDS", "PLAN_ACCOUNTS_CLAUSE", "compute_business_case", "compute_programme_cost", "cost_needs",
           "missing_cost_inputs", "programme_hours", "programme_revenue_share", "margin_known",
           "recommendation_cost_text", "recommendation_costs"]

#: cost item -> (label, parameter, kind)
COST_ITEMS: dict[str, tuple[str, str, str]] = {
    "manager_time": ("Account-manager time the coverage plan allocates", "cost_per_hour", "per year"),
    "tools": ("CRM, data and tools", "tools_cost_per_year", "per year"),
    "setup": ("One-off set-up (training, CRM set-up, account-plan workshops)", "setup_cost", "one-off"),
}

#: the business case's accounts, by one name on every page: the accounts the coverage plan puts
#: manager hours on (key and growth tiers), never "the programme's accounts", which reads as the
#: client's own programme (its flag; a different group, the one the impact estimate follows)
PLAN_ACCOUNTS_CLAUSE = "with planned manager hours"

#: cost parameter -> the figure a client page asks for when the client has not given it. A cost
#: the client has not given is never a euro figure, a return or a payback on a client page: the
#: page says which of these it needs (the documented assumptions only illustrate, in the notes)
COST_INPUT_WORDS: dict[str, str] = {"cost_per_hour": "the cost of an account-manager hour",
                                    "tools_cost_per_year": "the tools budget a year",
                                    "setup_cost": "the one-off set-up cost"}


def missing_cost_inputs(cost: pd.DataFrame) -> list[str]:
    """The cost figures the client has not given, in client words (``programme_cost``'s assumed items,
    in :data:`COST_ITEMS` order); [] when every cost is the client's."""
    if cost is None or cost.empty or "assumed" not in cost:
        return []
    params = [str(p).removeprefix("strategy.") for p in cost.loc[cost["assumed"].astype(bool), "parameter"]]
    return [COST_INPUT_WORDS[p] for p in COST_INPUT_WORDS if p in params]


def cost_needs(missing: list[str]) -> str:
    """'your cost of an account-manager hour and your tools budget a year' (what unlocks a cost), or ''."""
    if not missing:
        return ""
    words = ["your " + m.removeprefix("the ") for m in missing]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def recommendation_cost_text(cost, hours, assumed, currency: str, *, style: str = "compact") -> str:
    """A recommendation's own cost as every deliverable says it: "€12k a year" at the client's costs;
    at a cost the client has not given, the manager hours it takes (part of the coverage plan's, not
    on top of them) and what prices them ("120 of the plan's manager hours a year; the cost needs
    your figures"), never a euro figure; "" without a cost."""
    if not is_num(cost):
        return ""
    if not bool(assumed):
        return f"{fmt_money(cost, currency, style=style)} a year"
    h = float(hours) if is_num(hours) else 0.0
    if h > 0:
        return f"{fmt_count(h)} of the plan's manager hours a year; the cost needs your figures"
    return "a share of the tools budget; the cost needs your figures"


def programme_hours(coverage_plan: pd.DataFrame) -> tuple[pd.Series, str]:
    """The hours the programme costs, per account of the coverage plan, and on what basis.

    ``hours_allocated`` when the plan allocates any ("allocated"); else (no manager capacity
    known, so the plan could staff nothing) ``hours_per_account`` of every account whose
    playbook needs hours ("needed"): the programme is then costed as the full plan it asks for.
    """
    alloc = pd.to_numeric(coverage_plan["hours_allocated"], errors="coerce").fillna(0.0)
    if alloc.sum() > 0 or "hours_per_account" not in coverage_plan:
        return alloc, "allocated"
    return pd.to_numeric(coverage_plan["hours_per_account"], errors="coerce").fillna(0.0).clip(lower=0), "needed"


def programme_revenue_share(coverage_plan: pd.DataFrame) -> pd.DataFrame:
    """Per segment: the share of its last-12-month revenue carried by the programme's accounts.

    Returns
    -------
    DataFrame
        segment, accounts, programme_accounts, revenue_12m, programme_revenue_12m, share
        (programme / all; 0 for a segment with no revenue).
    """
    hours, _ = programme_hours(coverage_plan)
    rev = pd.to_numeric(coverage_plan["revenue_12m"], errors="coerce").fillna(0.0).clip(lower=0)
    df = pd.DataFrame({"segment": coverage_plan["segment"].to_numpy(), "in": (hours > 0).to_numpy(),
                       "rev": rev.to_numpy()})
    df["prev"] = df["rev"].where(df["in"], 0.0)
    g = df.groupby("segment", sort=False).agg(accounts=("in", "size"), programme_accounts=("in", "sum"),
                                              revenue_12m=("rev", "sum"), programme_revenue_12m=("prev", "sum"))
    g["share"] = (g["programme_revenue_12m"] / g["revenue_12m"].where(g["revenue_12m"] > 0)).fillna(0.0)
    return g.reset_index()


def compute_programme_cost(coverage_plan: pd.DataFrame, *, cost_per_hour: float | None,
                           tools_cost_per_year: float | None, setup_cost: float | None) -> pd.DataFrame:
    """The programme's cost items.

    Parameters
    ----------
    coverage_plan : DataFrame
        The coverage plan (``hours_allocated``, ``hours_per_account``): the hours the programme
        costs are :func:`programme_hours`.
    cost_per_hour, tools_cost_per_year, setup_cost : float or None
        The client's figures; None uses the documented assumption and marks the item ``assumed``.

    Returns
    -------
    DataFrame
        ``programme_cost``: item, label, kind ("per year" or "one-off"), quantity (hours for
        manager time, else 1), unit_cost, amount, assumed, parameter.
    """
    per_account, basis = programme_hours(coverage_plan)
    hours = float(per_account.sum())
    given = {"cost_per_hour": cost_per_hour, "tools_cost_per_year": tools_cost_per_year, "setup_cost": setup_cost}
    rows = []
    for item, (label, param, kind) in COST_ITEMS.items():
        unit = given[param]
        assumed = unit is None
        unit = float(ASSUMED_PROGRAMME_COSTS[param] if assumed else unit)
        qty = hours if item == "manager_time" else 1.0
        if item == "manager_time" and basis == "needed":
            label = "Account-manager time the plan needs (no manager capacity given)"
        rows.append({"item": item, "label": label, "kind": kind, "quantity": qty, "unit_cost": unit,
                     "amount": qty * unit, "assumed": assumed, "parameter": f"strategy.{param}"})
    return pd.DataFrame(rows)


def compute_business_case(scenarios: pd.DataFrame, cost: pd.DataFrame, *, ramp_up: list[float],
                          impact_by_lever: pd.DataFrame | None = None, coverage_plan: pd.DataFrame | None = None,
                          margin_known: bool = True) -> pd.DataFrame:
    """ROI and payback of each impact scenario over the programme years.

    Parameters
    ----------
    scenarios : DataFrame
        ``impact_scenarios`` (scenario, gross_profit_impact or profit_impact: the full-year
        gross-profit impact of reaching the targets, whole base).
    cost : DataFrame
        :func:`compute_programme_cost`.
    ramp_up : list of float
        Share of the full-year impact realised in each programme year.
    impact_by_lever, coverage_plan : DataFrame, optional
        Given together, the benefit is limited to the programme's accounts: per scenario,
        sum over segments of the segment's impact x :func:`programme_revenue_share`. Without
        them the whole base's impact is used (only right when the cost covers every account).
    margin_known : bool
        False when the orders carry no margin: the impact is revenue, ``benefit_basis`` says so.

    Returns
    -------
    DataFrame
        ``business_case``: scenario, years, profit_full_year (the benefit credited to the
        programme at full run-rate, in ``benefit_basis``), running_cost_per_year, setup_cost,
        profit_over_horizon, cost_over_horizon, net_over_horizon, roi, payback_months (NaN:
        not within the horizon), assumed_costs (True when any cost item is the documented
        assumption), benefit_basis ("gross profit" or "revenue"), whole_base_full_year (the
        scenario's impact on the whole base, for reference), programme_accounts,
        programme_revenue_share (share of the base's 12-month revenue in the programme's accounts).
    """
    col = "gross_profit_impact" if "gross_profit_impact" in scenarios else "profit_impact"
    running = float(cost.loc[cost["kind"] == "per year", "amount"].sum())
    setup = float(cost.loc[cost["kind"] == "one-off", "amount"].sum())
    years = len(ramp_up)
    ramp = np.repeat(np.asarray(ramp_up, dtype=float), 12) / 12.0  # share of a full year per month
    share = n_acc = rev_share = None
    if impact_by_lever is not None and coverage_plan is not None:
        ps = programme_revenue_share(coverage_plan)
        share = ps.set_index("segment")["share"]
        n_acc = int(ps["programme_accounts"].sum())
        tot = float(ps["revenue_12m"].sum())
        rev_share = float(ps["programme_revenue_12m"].sum()) / tot if tot > 0 else np.nan
        lev_col = "profit_impact" if "profit_impact" in impact_by_lever else "revenue_impact"
    rows = []
    for _, r in scenarios.iterrows():
        whole = float(r[col]) if pd.notna(r[col]) else np.nan
        if share is not None:
            il = impact_by_lever[impact_by_lever["scenario"] == r["scenario"]]
            seg = il.groupby("segment")[lev_col].sum()
            full = float((seg * seg.index.map(share).fillna(0.0).to_numpy()).sum()) if np.isfinite(whole) else np.nan
        else:
            full = whole
        monthly_net = full * ramp - running / 12.0
        cum = -setup + np.cumsum(monthly_net)
        paid = np.flatnonzero(cum >= 0)
        profit = full * float(np.sum(ramp_up))
        spend = setup + running * years
        net = profit - spend
        rows.append({"scenario": r["scenario"], "years": years, "profit_full_year": full,
                     "running_cost_per_year": running, "setup_cost": setup, "profit_over_horizon": profit,
                     "cost_over_horizon": spend, "net_over_horizon": net,
                     "roi": net / spend if spend > 0 else np.nan,
                     "payback_months": float(paid[0] + 1) if len(paid) and np.isfinite(full) else np.nan,
                     "assumed_costs": bool(cost["assumed"].any()),
                     "benefit_basis": "gross profit" if margin_known else "revenue",
                     "whole_base_full_year": whole,
                     "programme_accounts": n_acc if n_acc is not None else np.nan,
                     "programme_revenue_share": rev_share if rev_share is not None else np.nan})
    return pd.DataFrame(rows)


def margin_known(baseline: pd.DataFrame) -> bool:
    """True when the segment baseline's impact is in gross profit (the orders carry margin)."""
    return "note" not in baseline or not baseline["note"].fillna("").astype(str).str.strip().ne("").any()


def recommendation_costs(touched: list, coverage_plan: pd.DataFrame | None, *, cost_per_hour: float | None,
                         tools_cost_per_year: float | None) -> pd.DataFrame:
    """What each recommendation costs a year, from the programme's cost parameters.

    A recommendation costs a year of the account-manager hours the coverage plan sets for the
    accounts it touches (``hours_per_account``, the hours their playbook needs; none for an account
    served digitally or outside the plan) x the cost of an hour, plus those accounts' share of the
    tools budget (``tools_cost_per_year`` x accounts touched / accounts in the plan): the CRM and
    data every action runs on. A cost parameter the client has not given is
    :data:`~kam_analysis.config.ASSUMED_PROGRAMME_COSTS`, and the cost is marked ``cost_assumed``.
    It is part of the programme's cost (the business case), not on top of it.

    Two recommendations that touch the same accounts count those accounts' hours and tools share
    twice: ``cost_overlap`` is the part of a recommendation's cost an earlier one in the list (a
    higher rank) already counts, so ``(cost - cost_overlap).sum()`` is what the list costs with
    each account counted once — the total a page states, never the sum of the costs.

    Parameters
    ----------
    touched : list of iterables of account ids
        Per recommendation (in table order), the accounts it touches.
    coverage_plan : DataFrame or None
        ``account_id``, ``hours_per_account``; None: no plan, no hours (tools share only, of the
        accounts touched over the accounts touched by any recommendation).

    Returns
    -------
    DataFrame
        accounts_touched, cost_hours, cost_manager_time, cost_tools, cost, cost_overlap, cost_assumed
        (one row per recommendation, in the order given).
    """
    rate = float(ASSUMED_PROGRAMME_COSTS["cost_per_hour"] if cost_per_hour is None else cost_per_hour)
    tools = float(ASSUMED_PROGRAMME_COSTS["tools_cost_per_year"] if tools_cost_per_year is None
                  else tools_cost_per_year)
    assumed = cost_per_hour is None or tools_cost_per_year is None
    sets = [set(map(str, t)) for t in touched]
    if coverage_plan is not None and len(coverage_plan) and {"account_id", "hours_per_account"} <= set(coverage_plan):
        plan = coverage_plan.assign(_id=coverage_plan["account_id"].astype(str)).drop_duplicates("_id")
        hours = pd.to_numeric(plan["hours_per_account"], errors="coerce").fillna(0.0).clip(lower=0)
        hours.index = plan["_id"].to_numpy()
        base = len(plan)
    else:
        hours = pd.Series(dtype=float)
        base = len(set().union(*sets)) if sets else 0

    def parts(ids: set) -> tuple[float, float]:  # (manager hours, tools share) of a set of accounts
        return (float(hours.reindex(sorted(ids)).fillna(0.0).sum()) if ids else 0.0,
                tools * min(len(ids) / base, 1.0) if base else 0.0)

    rows, seen = [], set()
    for ids in sets:
        (h, t), (h_seen, t_seen) = parts(ids), parts(ids & seen)
        rows.append({"accounts_touched": len(ids), "cost_hours": h, "cost_manager_time": h * rate, "cost_tools": t,
                     "cost": h * rate + t, "cost_overlap": h_seen * rate + t_seen, "cost_assumed": assumed})
        seen |= ids
    return pd.DataFrame(rows, columns=["accounts_touched", "cost_hours", "cost_manager_time", "cost_tools", "cost",
                                       "cost_overlap", "cost_assumed"])
