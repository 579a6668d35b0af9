"""The key-account programme sized to the client: who is live, how many key accounts value and
capacity support, and every account's coverage tier.

The rule is defined once in :mod:`kam_analysis.metrics.key_accounts` (documented in
``docs/key_accounts.md``); this module feeds it the run's inputs - the playbooks' engagement
hours, the managers and their hours (:func:`kam_analysis.phases.coverage.resolve_capacity`),
the cost per hour when the client gave one - and writes the result as the
``key_account_sizing`` table the deck and the dashboards quote.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..config import ASSUMED_PROGRAMME_COSTS
from ..metrics.group import compute_revenue_shares
from ..metrics.key_accounts import compute_key_account_sizing, value_per_hour_floor
from .coverage import resolve_capacity
from .playbooks import engagement_tier_hours, engagement_tier_models, load_playbooks

__all__ = ["resolve_sizing_inputs", "size_key_accounts", "sizing_table", "tier_label", "compute_coverage_tiers",
           "segment_order", "engagement_tier_hours", "engagement_tier_models"]


def tier_label(params, tier: str) -> str:
    """The client's name of a coverage tier (``segmentation.key_accounts.tier_names``)."""
    return getattr(params.segmentation.key_accounts.tier_names, tier)


def resolve_sizing_inputs(run) -> dict[str, Any]:
    """The run's inputs to the sizing rule: tier hours, managers, capacity and the value floor's parameters.

    Capacity is None (unknown) when neither the params nor the accounts data name any
    manager (:func:`~kam_analysis.phases.coverage.resolve_capacity` returns none).
    """
    p = run.params
    st = p.strategy
    books = load_playbooks(st.playbooks, overrides=st.playbook_overrides, engagement_hours=st.engagement_hours)
    accounts = run.read_data("accounts") if run.has_data("accounts") else None
    managers, source = resolve_capacity(accounts, managers=st.managers, hours_per_manager=st.hours_per_manager,
                                        headcount=st.headcount, non_manager_labels=st.non_manager_labels)
    return {"hours": engagement_tier_hours(books), "managers": managers, "capacity_source": source,
            "capacity_hours": float(sum(managers.values())) if managers else None,
            "hours_per_manager": (float(sum(managers.values())) / len(managers) if managers
                                  else float(st.hours_per_manager)),
            "cost_per_hour": float(st.cost_per_hour or 0.0), "sizing": p.segmentation.key_accounts,
            "max_share": p.segmentation.key_account_share}


def size_key_accounts(accounts: pd.DataFrame, inputs: dict[str, Any], *, account_col: str = "account_id"
                      ) -> tuple[pd.DataFrame, dict]:
    """:func:`~kam_analysis.metrics.key_accounts.compute_key_account_sizing` with the run's inputs.

    ``accounts``: account_id, revenue_12m, live, selection_score. Returns the per-account
    frame and the sizing dict (with ``floor_basis`` and ``capacity_source`` added).
    """
    cfg = inputs["sizing"]
    h = inputs["hours"]
    live_rev = float(accounts.loc[accounts["live"].astype(bool), "revenue_12m"].clip(lower=0).sum())
    floor, basis = value_per_hour_floor(live_rev, key_hours=h["key"], min_revenue_share=cfg.min_revenue_share,
                                        cost_per_hour=inputs["cost_per_hour"], max_cost_share=cfg.max_cost_share,
                                        assumed_cost_per_hour=ASSUMED_PROGRAMME_COSTS["cost_per_hour"])
    per, sizing = compute_key_account_sizing(
        accounts, key_hours=h["key"], growth_hours=h["growth"], floor=floor,
        capacity_hours=inputs["capacity_hours"], hours_per_manager=inputs["hours_per_manager"],
        managers=len(inputs["managers"]) if inputs["managers"] else None, max_share=inputs["max_share"],
        account_col=account_col)
    sizing.update(floor_basis=basis, capacity_source=inputs["capacity_source"], key_hours=h["key"],
                  growth_hours=h["growth"])
    return per, sizing


def sizing_table(sizing: dict) -> pd.DataFrame:
    """The ``key_account_sizing`` table: one row per figure (metric, label, value, unit, note)."""
    cap = sizing["capacity_accounts"]
    nan = float("nan")
    need, have = sizing["managers_needed"], sizing["managers"]
    extra = max(need - have, 0) if sizing["capacity_binds"] and need is not None and have is not None else nan
    rows = [
        ("live_accounts", "Live accounts (an order in the activity window)", sizing["live_accounts"], "count", ""),
        ("inactive_accounts", "Inactive accounts (lapsed or dormant), not scored", sizing["inactive_accounts"],
         "count", ""),
        ("live_revenue", "Revenue of live accounts, last 12 months", sizing["live_revenue"], "currency", ""),
        ("key_floor", "Revenue an account needs to carry a dedicated manager", sizing["key_floor"], "currency",
         f"{sizing['key_hours']:,.0f} h a year; {sizing['floor_basis']}"),
        ("growth_floor", "Revenue an account needs to carry a pooled account team", sizing["growth_floor"],
         "currency", f"{sizing['growth_hours']:,.0f} h a year" if sizing["growth_hours"] else "no pooled model"),
        ("warranted", "Live accounts whose value can carry a dedicated manager", sizing["warranted"], "count", ""),
        ("capacity_accounts", "Key accounts the managers can serve", nan if cap is None else cap, "count",
         sizing["capacity_source"]),
        ("managers", "Account managers available", nan if have is None else have, "count",
         sizing["capacity_source"]),
        ("managers_needed", "Managers the warranted key accounts need", nan if need is None else need, "count",
         f"at {sizing['key_hours']:,.0f} h per key account a year"),
        ("selected", "Key accounts selected", sizing["selected"], "count",
         "the warranted accounts with the best selection score, within capacity"),
        ("capacity_gap", "Warranted key accounts the managers cannot serve", sizing["capacity_gap"], "count",
         "capacity binds" if sizing["capacity_binds"] else ""),
        ("additional_managers", "Additional managers to serve every warranted key account", extra, "count", ""),
    ]
    return pd.DataFrame(rows, columns=["metric", "label", "value", "unit", "note"])


def compute_coverage_tiers(segments: pd.DataFrame, *, params, hours: dict[str, float],
                           tier_col: str = "coverage_tier_key") -> pd.DataFrame:
    """The ``coverage_tiers`` table: per tier (richest service first) its accounts, revenue and hours.

    Columns: tier (key of :data:`~kam_analysis.metrics.key_accounts.TIERS`), label (the
    client's name), accounts, account_share, revenue_12m, revenue_share, hours_per_account.
    """
    from ..metrics.key_accounts import TIERS

    g = compute_revenue_shares(segments, tier_col, order=list(TIERS))
    out = pd.DataFrame({"tier": list(TIERS), "label": [tier_label(params, t) for t in TIERS],
                        "accounts": g["accounts"].astype(int).to_numpy(),
                        "account_share": g["account_share"].to_numpy(),
                        "revenue_12m": g["revenue_12m"].to_numpy(),
                        "revenue_share": g["revenue_share"].to_numpy(),
                        "hours_per_account": [float(hours[t]) for t in TIERS]})
    return out


def segment_order(params) -> list[str]:
    """The portfolio segments in display order: the four quadrants, then the inactive group."""
    return params.segmentation.quadrant_names.ordered() + [params.segmentation.key_accounts.tier_names.inactive]
