"""The business case: what the programme costs, and what each scenario returns on it.

The programme's cost is the account-manager time the coverage plan allocates (every
segment's playbook hours, since the impact scenarios count every segment's levers, x the
cost of an hour), the tools it needs each
year and a one-off set-up. Each comes from the parameters (``strategy.cost_per_hour``,
``strategy.tools_cost_per_year``, ``strategy.setup_cost``); one the client has not given
is :data:`~kam_analysis.config.ASSUMED_PROGRAMME_COSTS` and is marked ``assumed`` so every
page that shows it can say so. The impact builds up over the programme years
(``strategy.ramp_up``: the share of the full-year impact realised in year 1, 2, ...), the
costs run from day one, and the set-up is paid at the start.

Per scenario: the gross profit over the horizon, the cost over the horizon, the net,
the return on the cost (ROI = net / cost) and the payback month (the first month in
which the cumulative net turns positive; none within the horizon when it never does).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import ASSUMED_PROGRAMME_COSTS

__all__ = ["COST_ITEMS", "compute_business_case", "compute_programme_cost"]

#: cost item -> (label, parameter, kind)
COST_ITEMS: dict[str, tuple[str, str, str]] = {
    "manager_time": ("Account-manager time the coverage plan allocates", "cost_per_hour", "per year"),
    "tools": ("CRM, data and tools", "tools_cost_per_year", "per year"),
    "setup": ("One-off set-up (training, CRM set-up, account-plan workshops)", "setup_cost", "one-off"),
}


def compute_programme_cost(coverage_plan: pd.DataFrame, *, cost_per_hour: float | None,
                           tools_cost_per_year: float | None, setup_cost: float | None) -> pd.DataFrame:
    """The programme's cost items.

    Parameters
    ----------
    coverage_plan : DataFrame
        The coverage plan (``hours_allocated``): the hours the plan puts on accounts, every segment.
    cost_per_hour, tools_cost_per_year, setup_cost : float or None
        The client's figures; None uses the documented assumption and marks the item ``assumed``.

    Returns
    -------
    DataFrame
        ``programme_cost``: item, label, kind ("per year" or "one-off"), quantity (hours for
        manager time, else 1), unit_cost, amount, assumed, parameter.
    """
    hours = float(coverage_plan["hours_allocated"].fillna(0).sum())
    given = {"cost_per_hour": cost_per_hour, "tools_cost_per_year": tools_cost_per_year, "setup_cost": setup_cost}
    rows = []
    for item, (label, param, kind) in COST_ITEMS.items():
        unit = given[param]
        assumed = unit is None
        unit = float(ASSUMED_PROGRAMME_COSTS[param] if assumed else unit)
        qty = hours if item == "manager_time" else 1.0
        rows.append({"item": item, "label": label, "kind": kind, "quantity": qty, "unit_cost": unit,
                     "amount": qty * unit, "assumed": assumed, "parameter": f"strategy.{param}"})
    return pd.DataFrame(rows)


def compute_business_case(scenarios: pd.DataFrame, cost: pd.DataFrame, *, ramp_up: list[float]) -> pd.DataFrame:
    """ROI and payback of each impact scenario over the programme years.

    Parameters
    ----------
    scenarios : DataFrame
        ``impact_scenarios`` (scenario, gross_profit_impact or profit_impact: the full-year
        gross-profit impact of reaching the targets).
    cost : DataFrame
        :func:`compute_programme_cost`.
    ramp_up : list of float
        Share of the full-year impact realised in each programme year.

    Returns
    -------
    DataFrame
        ``business_case``: scenario, years, profit_full_year, running_cost_per_year,
        setup_cost, profit_over_horizon, cost_over_horizon, net_over_horizon, roi,
        payback_months (NaN: not within the horizon), assumed_costs (True when any cost
        item is the documented assumption).
    """
    col = "gross_profit_impact" if "gross_profit_impact" in scenarios else "profit_impact"
    running = float(cost.loc[cost["kind"] == "per year", "amount"].sum())
    setup = float(cost.loc[cost["kind"] == "one-off", "amount"].sum())
    years = len(ramp_up)
    ramp = np.repeat(np.asarray(ramp_up, dtype=float), 12) / 12.0  # share of a full year per month
    rows = []
    for _, r in scenarios.iterrows():
        full = float(r[col]) if pd.notna(r[col]) else np.nan
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
                     "assumed_costs": bool(cost["assumed"].any())})
    return pd.DataFrame(rows)
