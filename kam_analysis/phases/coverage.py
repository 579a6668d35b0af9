"""The coverage and capacity plan: what each account is worth, who is available, who covers whom.

The optimisation itself is a model (:mod:`kam_analysis.models.coverage`); this module
feeds it the run's accounts, playbook hours and managers and summarises the plan.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, list_values
from ..models.coverage import assign_managers, compute_naive_coverage, optimise_coverage
from .playbooks import compute_account_engagement

__all__ = ["compute_account_value", "resolve_capacity", "compute_coverage_plan", "accounts_with_manager_time"]


def compute_account_value(segments: pd.DataFrame, account_summary: pd.DataFrame, *, account_col: str = "account_id",
                          clv_col: str = "clv", revenue_col: str = "revenue_12m") -> tuple[pd.DataFrame, str]:
    """The value each account is worth to the plan, and a sentence saying which basis.

    ``value`` = the predicted customer lifetime value (``segments.clv``) where phase 2
    wrote one; accounts without a CLV (and every account when the column is absent) use
    their last-12-month revenue instead, and the note says so.

    Returns
    -------
    (DataFrame, str)
        ``account_id, value, value_basis`` and the note.
    """
    df = segments[[account_col]].merge(account_summary[[account_col, revenue_col]], on=account_col, how="left")
    hist = df[revenue_col].fillna(0.0).clip(lower=0)
    if clv_col in segments.columns and segments[clv_col].notna().any():
        clv = segments.set_index(account_col)[clv_col].reindex(df[account_col]).to_numpy(dtype=float)
        has = np.isfinite(clv)
        value = np.where(has, np.clip(clv, 0, None), hist)
        basis = np.where(has, "clv", "revenue_12m")
        n_fb = int((~has).sum())
        note = ("Value = predicted customer lifetime value (CLV) from the segmentation"
                + (f"; {n_fb:,} account(s) without a CLV use last-12-month revenue." if n_fb else "."))
    else:
        value, basis = hist.to_numpy(), np.full(len(df), "revenue_12m", dtype=object)
        note = ("Value = last-12-month revenue: the segments table has no CLV column, so historical value "
                "stands in for lifetime value.")
    return pd.DataFrame({account_col: df[account_col], "value": value, "value_basis": basis}), note



def resolve_capacity(accounts: pd.DataFrame | None, *, managers: dict[str, float] | None = None,
                     hours_per_manager: float = 1200.0, headcount: int | None = None,
                     non_manager_labels: list[str] = (), manager_col: str = "account_manager"
                     ) -> tuple[dict[str, float], str]:
    """Account managers available and their annual hours.

    In order: ``strategy.managers`` from the params; else the named managers in the
    accounts table (``account_manager``, ignoring ``non_manager_labels`` such as
    "Digital desk"), each with ``hours_per_manager``; else ``headcount`` anonymous
    managers ("Manager 1", ...).

    With none of these, no capacity is known: an empty dict (zero hours) and a note
    saying so — the plan then reports what full coverage would need.

    Raises
    ------
    ParameterError
        Negative hours.
    """
    if hours_per_manager is None or not hours_per_manager > 0:
        raise ParameterError(f"strategy.hours_per_manager = {hours_per_manager!r}; it must be a positive number "
                             "of hours per year")
    if managers:
        bad = {k: v for k, v in managers.items() if v is None or not v >= 0}
        if bad:
            raise ParameterError(f"strategy.managers has negative or missing capacity {bad}; fix: give each manager "
                                 "a number of hours per year >= 0")
        return {str(k): float(v) for k, v in managers.items()}, "strategy.managers in the params"
    skip = {s.strip().lower() for s in non_manager_labels}
    if accounts is not None and manager_col in accounts:
        names = accounts[manager_col].dropna().astype(str).str.strip()
        names = sorted({n for n in names if n and n.lower() not in skip})
        if names:
            return ({n: float(hours_per_manager) for n in names},
                    f"{len(names)} named managers in the accounts table x {hours_per_manager:,.0f} h")
    if headcount is not None:
        if headcount < 0:
            raise ParameterError(f"strategy.headcount = {headcount}; it must be >= 0")
        return ({f"Manager {i + 1}": float(hours_per_manager) for i in range(headcount)},
                f"strategy.headcount = {headcount} x {hours_per_manager:,.0f} h")
    # Nothing says who is available: plan with zero capacity rather than invent a team. The
    # coverage tables then show the hours and headcount full coverage needs.
    return {}, ("no account-manager capacity known: the accounts table names no managers and the params set "
                "neither strategy.managers nor strategy.headcount (set one to plan with a team)")



def compute_coverage_plan(segments: pd.DataFrame, account_summary: pd.DataFrame, playbooks: dict, *,
                          managers: dict[str, float], segment_col: str = "quadrant", account_col: str = "account_id",
                          tolerance: float = 0.10, order: list[str] | None = None) -> dict[str, Any]:
    """The coverage and capacity plan.

    Joins each account to its engagement (:func:`~kam_analysis.phases.playbooks.compute_account_engagement`:
    its segment's playbook, with the hours capped at what its coverage tier can carry), values it
    (:func:`compute_account_value`), chooses the accounts to cover with
    :func:`optimise_coverage` under the managers' total hours, compares with covering by
    revenue rank (:func:`compute_naive_coverage`) and assigns covered accounts to
    managers (:func:`assign_managers`).

    Returns
    -------
    dict
        ``coverage_plan`` (per account: account_id, segment, is_key, engagement_model,
        hours_per_account, expected_uplift, value, value_basis, expected_gain = value x
        uplift, revenue_12m, covered, hours_allocated, account_manager, assigned_manager,
        status), ``coverage_by_segment`` (segment, engagement_model, accounts, covered,
        uncovered, coverage_rate, hours_needed, hours_allocated, value, value_covered,
        expected_gain_covered, value_at_stake, revenue_12m_uncovered), ``capacity_summary``
        (metric, label, value, unit, note), ``manager_load`` and ``value_note``.
    """
    books = playbooks["playbooks"]
    cols = [account_col, segment_col] + (["is_key"] if "is_key" in segments else [])
    df = segments[cols].copy()
    df[segment_col] = df[segment_col].astype(str)
    missing = sorted(set(df[segment_col]) - set(books))
    if missing:
        raise ParameterError(f"segment(s) {list_values(missing)} have no playbook; fix: add them to the playbooks file")
    value, note = compute_account_value(segments, account_summary, account_col=account_col)
    df = df.merge(value, on=account_col, how="left")
    summ_cols = [c for c in (account_col, "revenue_12m", "account_manager") if c in account_summary]
    df = df.merge(account_summary[summ_cols], on=account_col, how="left")
    if "is_key" not in df:
        df["is_key"] = False
    models = playbooks["engagement_models"]
    eng = compute_account_engagement(segments, playbooks, segment_col=segment_col, account_col=account_col)
    df = df.merge(eng, on=account_col, how="left")
    df["expected_gain"] = df["value"] * df["expected_uplift"]
    df["revenue_12m"] = df["revenue_12m"].fillna(0.0)
    capacity = float(sum(managers.values()))
    opt = optimise_coverage(df, capacity=capacity)
    df["covered"] = opt
    naive = compute_naive_coverage(df, capacity=capacity)
    df["hours_allocated"] = np.where(df["covered"], df["hours_per_account"], 0.0)
    if "account_manager" not in df:
        df["account_manager"] = None
    df["assigned_manager"], load = assign_managers(df, managers=managers, tolerance=tolerance)
    needs = df["hours_per_account"] > 0
    df["status"] = np.select([~needs, df["covered"]], ["digital (no KAM hours)", "covered"], "uncovered")
    df = df.rename(columns={segment_col: "segment"})

    g = df.groupby("segment")
    seg = pd.DataFrame({
        "accounts": g.size(), "covered": g["covered"].sum(), "hours_needed": g["hours_per_account"].sum(),
        "hours_allocated": g["hours_allocated"].sum(), "value": g["value"].sum(),
        "value_covered": df[df["covered"]].groupby("segment")["value"].sum(),
        "expected_gain_covered": df[df["covered"]].groupby("segment")["expected_gain"].sum(),
        "value_at_stake": df[~df["covered"]].groupby("segment")["expected_gain"].sum(),
        "revenue_12m_uncovered": df[~df["covered"]].groupby("segment")["revenue_12m"].sum(),
    })
    order = [s for s in (order or list(books)) if s in seg.index] + [s for s in seg.index if s not in (order or books)]
    seg = seg.reindex(order).fillna(0.0)
    seg["accounts"] = seg["accounts"].astype(int)
    seg["covered"] = seg["covered"].astype(int)
    seg["uncovered"] = seg["accounts"] - seg["covered"]
    seg["coverage_rate"] = seg["covered"] / seg["accounts"].where(seg["accounts"] > 0)
    seg.insert(0, "engagement_model", [models[books[s]["engagement_model"]].get("label", books[s]["engagement_model"])
                                       for s in seg.index])
    seg = seg.reset_index(names="segment")[
        ["segment", "engagement_model", "accounts", "covered", "uncovered", "coverage_rate", "hours_needed",
         "hours_allocated", "value", "value_covered", "expected_gain_covered", "value_at_stake",
         "revenue_12m_uncovered"]]

    hours_needed = float(df["hours_per_account"].sum())
    per_mgr = capacity / len(managers) if managers else float("nan")
    headcount_full = math.ceil(hours_needed / per_mgr - 1e-9) if per_mgr and per_mgr > 0 else float("nan")
    gain_opt = float(df.loc[df["covered"], "expected_gain"].sum())
    gain_naive = float(df.loc[naive.to_numpy(), "expected_gain"].sum())
    rows = [
        ("managers", "Account managers available", len(managers), "count", ""),
        ("capacity_hours", "Account-manager hours available per year", capacity, "hours", ""),
        ("hours_needed", "Hours a full-coverage plan needs per year", hours_needed, "hours",
         "every account gets its playbook's hours"),
        ("hours_allocated", "Hours allocated by the plan", float(df["hours_allocated"].sum()), "hours", ""),
        ("utilisation", "Capacity used", float(df["hours_allocated"].sum()) / capacity if capacity else float("nan"),
         "share", ""),
        ("headcount_full_coverage", "Managers needed for full coverage", headcount_full, "count",
         f"at {per_mgr:,.0f} h per manager" if np.isfinite(per_mgr) else ""),
        ("additional_headcount", "Additional managers for full coverage",
         max(headcount_full - len(managers), 0) if np.isfinite(headcount_full) else float("nan"), "count", ""),
        ("accounts_needing_hours", "Accounts whose playbook needs manager hours", int(needs.sum()), "count", ""),
        ("accounts_covered", "Of which covered by the plan", int((df["covered"] & needs).sum()), "count", ""),
        ("accounts_uncovered", "Of which left uncovered", int((~df["covered"] & needs).sum()), "count", ""),
        ("expected_gain_covered", "Expected value added by covered accounts", gain_opt, "currency",
         f"value x expected uplift of the playbook; optimisation: {opt.attrs.get('method', 'exact')}"),
        ("value_at_stake", "Expected value forgone on uncovered accounts",
         float(df.loc[~df["covered"], "expected_gain"].sum()), "currency", ""),
        ("expected_gain_naive", "Expected value when covering by revenue rank", gain_naive, "currency",
         "the rule of thumb: biggest accounts first"),
        ("optimiser_gain", "Extra value of the optimised plan over revenue rank", gain_opt - gain_naive, "currency", ""),
    ]
    summary = pd.DataFrame(rows, columns=["metric", "label", "value", "unit", "note"])
    summary.loc[summary["metric"] == "expected_gain_covered", "note"] += "; " + note
    plan_cols = ["account_id", "segment", "is_key", "engagement_model", "engagement_model_key", "hours_per_account",
                 "expected_uplift",
                 "value", "value_basis", "expected_gain", "revenue_12m", "covered", "hours_allocated",
                 "account_manager", "assigned_manager", "status"]
    return {"coverage_plan": df.rename(columns={account_col: "account_id"})[plan_cols], "coverage_by_segment": seg,
            "capacity_summary": summary, "manager_load": load, "value_note": note}


def accounts_with_manager_time(coverage_plan: pd.DataFrame | None) -> tuple[dict[str, tuple[int, int]], bool]:
    """Per segment, (accounts the coverage plan gives manager time, accounts), and whether that is
    time allocated (True) or only the time the playbooks need (False: no capacity was given, so
    the plan allocates none). The one count behind the coverage page, the recommendations'
    channel and owner and the segments served digitally. ({}, False) without a plan."""
    if coverage_plan is None or coverage_plan.empty or not {"segment", "hours_per_account"} <= set(coverage_plan):
        return {}, False
    alloc = pd.to_numeric(coverage_plan["hours_allocated"], errors="coerce").fillna(0.0) \
        if "hours_allocated" in coverage_plan else pd.Series(0.0, index=coverage_plan.index)
    allocated = bool((alloc > 0).any())
    hours = alloc if allocated else pd.to_numeric(coverage_plan["hours_per_account"], errors="coerce").fillna(0.0)
    seg = coverage_plan["segment"].astype(str)
    with_time, total = (hours > 0).groupby(seg).sum(), seg.value_counts()
    return {s_: (int(with_time.get(s_, 0)), int(total[s_])) for s_ in total.index}, allocated
