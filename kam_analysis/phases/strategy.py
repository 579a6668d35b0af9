"""Strategy and operational planning (phases 3-4): the headlines and the display of their figures.

From the segmentation to a plan the client can run, one module per concept:
:mod:`~kam_analysis.phases.playbooks` (the playbook each portfolio segment gets and the
operating rhythm), :mod:`~kam_analysis.phases.coverage` (who covers which account with how
many hours; the optimiser is :mod:`kam_analysis.models.coverage`),
:mod:`~kam_analysis.phases.whitespace` (what to sell to whom),
:mod:`~kam_analysis.phases.targets` (what reaching the targets is worth: scenarios and a
tornado) and :mod:`~kam_analysis.phases.account_plans`. The churn-risk model lives in
:mod:`kam_analysis.models.churn`. This module writes the phase's headlines.

Everything configurable (playbooks, hours, uplifts, default levers, actions, the
operating rhythm) comes from ``templates/playbooks.yaml`` and ``params.strategy``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# The phase's public surface: the functions the strategy notebook calls, each defined once
# in its concept module and listed here so the notebook reads ``strategy.<function>``.
from .account_plans import build_account_plans
from .business_case import compute_business_case, compute_programme_cost, margin_known, programme_revenue_share
from .coverage import compute_account_value, compute_coverage_plan, resolve_capacity
from .playbooks import build_kpi_ownership, build_operating_calendar, compute_segment_playbook, load_playbooks
from .targets import compute_impact_scenarios, compute_lever_impact, compute_segment_baseline, \
    compute_sensitivity, resolve_segment_targets
from .whitespace import compute_category_penetration, compute_whitespace, summarise_whitespace, \
    whitespace_value_by_segment
from ..models.churn import backtest_sentence
from ..metrics import describe_revenue_lost
from ..present.formats import fmt_money, fmt_value

__all__ = [
    "programme_revenue_share",
    "load_playbooks",
    "compute_segment_playbook",
    "compute_account_value",
    "resolve_capacity",
    "compute_coverage_plan",
    "compute_whitespace",
    "compute_category_penetration",
    "summarise_whitespace",
    "whitespace_value_by_segment",
    "compute_segment_baseline",
    "resolve_segment_targets",
    "compute_lever_impact",
    "compute_impact_scenarios",
    "compute_sensitivity",
    "compute_programme_cost",
    "compute_business_case",
    "margin_known",
    "build_account_plans",
    "build_kpi_ownership",
    "build_operating_calendar",
    "format_metrics",
    "build_strategy_headlines",
    "record_churn_model",
]


def record_churn_model(run, result: dict) -> pd.DataFrame:
    """Write the churn model's status (table ``churn_model_status``) and, when its own checks refused
    it or its back-test (too few accounts stopped buying to learn from), record that refusal in the
    run's ``analysis_support``: the profile's 20-account minimum cannot foresee how many accounts
    stop buying, and every deliverable (deck, workbooks, HTML) and the notebook then give the one
    reason, with the input that would unlock it. Returns the status table."""
    from ..metrics.capability import compute_analysis_support, with_refusal
    from ..models.churn import compute_churn_model_status

    status = compute_churn_model_status(result)
    run.write_table("churn_model_status", status)
    if not (run.has_table("analysis_support") and run.has_table("data_profile")):
        return status
    support = run.read_table("analysis_support")
    # the churn rows as the profile decides them (a re-run of this phase starts from them again) ...
    rule = compute_analysis_support(run.read_table("data_profile"), run.params).set_index("analysis")
    keys = ["churn_model", "churn_backtest"]
    new = support.set_index("analysis")
    new.loc[keys, rule.columns.drop("label")] = rule.loc[keys, rule.columns.drop("label")]
    new = new.reset_index()
    # ... then the model's own refusal, if its checks found too little to learn from
    refusal, bt_refusal = result.get("refusal"), result.get("backtest_refusal")
    if refusal:
        new = with_refusal(new, "churn_model", refusal["caveat"], refusal["need"])
        bt_refusal = {"caveat": "there is no churn-risk model to back-test: " + refusal["caveat"],
                      "need": refusal["need"]}
    if bt_refusal:
        new = with_refusal(new, "churn_backtest", bt_refusal["caveat"], bt_refusal["need"])
    if not new[support.columns].equals(support):
        run.write_table("analysis_support", new[support.columns])
    return status


def format_metrics(metrics: pd.DataFrame, *, currency: str = "EUR", value_col: str = "value",
                   unit_col: str = "unit") -> pd.DataFrame:
    """A metric table (label, value, unit, note) with each value formatted by its unit
    (:func:`kam_analysis.present.formats.fmt_value`), for reading in the notebook."""
    out = metrics.copy()
    out[value_col] = [fmt_value(v, u, currency) for v, u in zip(out[value_col], out[unit_col])]
    cols = [c for c in ("label", value_col, "note") if c in out]
    return out[cols]


def build_strategy_headlines(*, capacity_summary: pd.DataFrame, churn_drivers: pd.DataFrame,
                             churn_backtest: pd.DataFrame, revenue_at_risk: pd.DataFrame, whitespace: pd.DataFrame,
                             impact_scenarios: pd.DataFrame, sensitivity: pd.DataFrame, currency: str = "EUR",
                             horizon_days: int = 365, revenue_lost: pd.DataFrame | None = None) -> pd.DataFrame:
    """The phase's findings as short sentences, each with its number and source table.

    Every number is read from the tables passed in, so the deck and the notebook say the
    same thing.

    Returns
    -------
    DataFrame
        topic, headline, value, unit, source_table (one row per finding; a finding the
        data cannot support is left out).
    """
    def m(v):
        return fmt_money(v, currency, style="full")  # exact; a compact page rewrites it

    months = round(horizon_days / 30.44)
    rows = []
    cap = capacity_summary.set_index("metric")["value"]
    if {"managers", "accounts_covered", "accounts_needing_hours"} <= set(cap.index):
        extra = cap.get("additional_headcount", np.nan)
        more = (f"; covering all of them would take {cap['headcount_full_coverage']:,.0f} managers "
                f"({extra:,.0f} more)" if np.isfinite(extra) and extra > 0 else "")
        rows.append(("coverage", f"{cap['managers']:,.0f} account managers ({cap['capacity_hours']:,.0f} h a year) can "
                     f"give {cap['accounts_covered']:,.0f} of the {cap['accounts_needing_hours']:,.0f} accounts whose "
                     f"playbook needs manager time their full playbook{more}.",
                     cap["accounts_covered"] / cap["accounts_needing_hours"] if cap["accounts_needing_hours"] else np.nan,
                     "share", "capacity_summary"))
        rows.append(("value_at_stake", f"The accounts left uncovered forgo {m(cap['value_at_stake'])} of expected value "
                     f"a year; allocating hours by value per hour adds {m(cap['optimiser_gain'])} over covering the "
                     "largest accounts first.", cap["value_at_stake"], "currency", "capacity_summary"))
    material = churn_drivers["material"] if "material" in churn_drivers else churn_drivers["significant"]
    sig = churn_drivers[material.fillna(False).astype(bool) & (churn_drivers["odds_ratio"] > 1)]
    if len(sig):
        top = sig.sort_values("odds_ratio", ascending=False).iloc[0]
        rows.append(("churn_driver", top["interpretation"], top["odds_ratio"], "ratio", "churn_drivers"))
    if said := backtest_sentence(churn_backtest, horizon_days):
        rows.append(("churn_backtest", said.replace("the model", "the churn model", 1),
                     float(churn_backtest.set_index("metric")["value"]["auc"]), "ratio", "churn_backtest"))
    if len(revenue_at_risk) and revenue_at_risk["revenue_at_risk"].sum() > 0:
        r = revenue_at_risk.sort_values("revenue_at_risk", ascending=False)
        tot = r["revenue_at_risk"].sum()
        rows.append(("revenue_at_risk", f"{m(tot)} of revenue is at risk of churn over the next {months} months, "
                     f"{r['revenue_at_risk'].iloc[0] / tot:.0%} of it in the {r['segment'].iloc[0]} segment.",
                     tot, "currency", "revenue_at_risk_by_segment"))
    if revenue_lost is not None and len(revenue_lost) and revenue_lost["accounts_lost_12m"].iloc[0] > 0:
        lost = revenue_lost.iloc[0]  # apart from revenue at risk: these accounts are no longer active
        text = describe_revenue_lost(lost, currency, style="full")
        rows.append(("revenue_lost", f"{text[:1].upper()}{text[1:]}, apart from the revenue at risk of active "
                     "accounts.", lost["revenue_lost_12m"], "currency", "revenue_lost"))
    if len(whitespace):
        ws = summarise_whitespace(whitespace)
        cat = whitespace.groupby("category")["expected_value"].sum().sort_values(ascending=False)
        key = (f", {ws['key_opportunities']:,} of them ({m(ws['key_expected_value'])}) in key accounts"
               if ws["key_opportunities"] else "")
        rows.append(("whitespace", f"{ws['opportunities']:,} cross-sell opportunities are worth "
                     f"{m(ws['expected_value'])} a year in expectation{key}; the largest category is "
                     f"{cat.index[0]} ({m(cat.iloc[0])}).", ws["expected_value"], "currency", "whitespace"))
    sc = impact_scenarios.set_index("scenario")
    own = "cap_share" in sc.columns and sc["cap_share"].notna().any()
    if {"low", "base", "high"} <= set(sc.index) and own:
        cap = float(sc["cap_share"].dropna().iloc[0])
        rows.append(("impact", f"With no targets set, closing part of each segment's gap to the client's own best "
                     f"segments is worth {m(sc.loc['base', 'revenue_impact'])} of revenue a year (low "
                     f"{m(sc.loc['low', 'revenue_impact'])}, high {m(sc.loc['high', 'revenue_impact'])}), capped at "
                     f"{cap:.0%} of revenue.", sc.loc["base", "revenue_impact"], "currency", "impact_scenarios"))
    elif {"low", "base", "high"} <= set(sc.index):
        rows.append(("impact", f"Reaching the segment targets is worth {m(sc.loc['base', 'profit_impact'])} a year in "
                     f"profit on {m(sc.loc['base', 'revenue_impact'])} of revenue (low {m(sc.loc['low', 'profit_impact'])}"
                     f", high {m(sc.loc['high', 'profit_impact'])}).", sc.loc["base", "profit_impact"], "currency",
                     "impact_scenarios"))
    if len(sensitivity):
        t = sensitivity.iloc[0]
        rows.append(("sensitivity", f"The plan's value depends most on {t['label'].split(' (')[0].lower()}: between its "
                     f"low and high assumption profit moves by {m(t['swing'])}.", t["swing"], "currency", "sensitivity"))
    return pd.DataFrame(rows, columns=["topic", "headline", "value", "unit", "source_table"])
