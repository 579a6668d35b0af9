"""Segment migration: the segmentation at the baseline date, and how accounts moved since.

The baseline segmentation applies today's method and parameters to the account summary
as it stood at the baseline date, so a move between segments reflects the account, not a
change of method.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = [
    "compute_summary_as_of",
    "compute_baseline_segments",
    "compute_segment_migration",
    "compute_key_status_changes",
]


def compute_summary_as_of(run, as_of: dt.date) -> pd.DataFrame:
    """The account summary as it stood on ``as_of`` (an earlier date than the run's).

    The same aggregation as the run's ``account_summary``
    (:func:`kam_analysis.data.prepare.compute_account_summary`) with orders and survey
    responses after ``as_of`` left out; it feeds :func:`compute_baseline_segments` (KPIs at
    the baseline come from :func:`kam_analysis.metrics.compute_account_kpis_as_of`). Accounts
    without an order by ``as_of`` are left out.
    """
    from ..metrics.engine import duckdb_connect

    from ..data.prepare import compute_account_summary

    con = duckdb_connect()  # memory-capped (KAM_DUCKDB_MEMORY_LIMIT)
    try:
        s = compute_account_summary(con, run.params, run.data_dir, as_of=as_of)
    finally:
        con.close()
    return s[s["first_order_date"].notna()].reset_index(drop=True)



def compute_segment_migration(baseline: pd.DataFrame, current: pd.DataFrame, *, segment_col: str = "quadrant",
                              account_col: str = "account_id", revenue_col: str = "revenue_12m",
                              baseline_revenue: pd.DataFrame | None = None,
                              current_revenue: pd.DataFrame | None = None,
                              new_label: str = "New since baseline", gone_label: str = "No longer segmented",
                              order: list[str] | None = None) -> pd.DataFrame:
    """Transition matrix of accounts between the baseline and the current segmentation.

    Accounts present only now are ``new_label`` at baseline; accounts present only at
    baseline are ``gone_label`` now. Revenue is each account's ``revenue_col`` from
    ``baseline_revenue`` / ``current_revenue`` (frames with ``account_col, revenue_col``);
    missing revenue counts as 0.

    Returns
    -------
    DataFrame
        ``from_segment, to_segment, accounts, revenue`` (current revenue of the moved
        accounts), ``revenue_baseline``, ``revenue_change`` (= revenue - revenue_baseline),
        ``share_of_from`` (accounts / accounts in ``from_segment``), ``moved`` (from != to);
        every from x to pair of the segments seen, zeros included, in ``order``.
    """
    b = baseline[[account_col, segment_col]].rename(columns={segment_col: "from_segment"})
    c = current[[account_col, segment_col]].rename(columns={segment_col: "to_segment"})
    m = b.merge(c, on=account_col, how="outer")
    m["from_segment"] = m["from_segment"].astype(object).where(m["from_segment"].notna(), new_label)
    m["to_segment"] = m["to_segment"].astype(object).where(m["to_segment"].notna(), gone_label)
    m["from_segment"] = m["from_segment"].astype(str)
    m["to_segment"] = m["to_segment"].astype(str)
    for frame, name in ((current_revenue, "revenue"), (baseline_revenue, "revenue_baseline")):
        if frame is not None:
            m = m.merge(frame[[account_col, revenue_col]].rename(columns={revenue_col: name}), on=account_col,
                        how="left")
        else:
            m[name] = 0.0
        m[name] = m[name].fillna(0.0).astype(float)
    seen = list(dict.fromkeys([*(order or []), *sorted(set(m["from_segment"]) | set(m["to_segment"]))]))
    froms = [s for s in seen if s in set(m["from_segment"]) or (s in (order or []) and s != gone_label)]
    tos = [s for s in seen if s in set(m["to_segment"]) or (s in (order or []) and s != new_label)]
    g = m.groupby(["from_segment", "to_segment"]).agg(accounts=(account_col, "size"), revenue=("revenue", "sum"),
                                                      revenue_baseline=("revenue_baseline", "sum"))
    full = pd.MultiIndex.from_product([froms, tos], names=["from_segment", "to_segment"])
    g = g.reindex(full, fill_value=0).reset_index()
    g["accounts"] = g["accounts"].astype("int64")
    g["revenue_change"] = g["revenue"] - g["revenue_baseline"]
    tot = g.groupby("from_segment")["accounts"].transform("sum")
    g["share_of_from"] = g["accounts"] / tot.where(tot > 0)
    g["moved"] = g["from_segment"] != g["to_segment"]
    return g



def compute_key_status_changes(baseline: pd.DataFrame, current: pd.DataFrame, *, key_col: str = "is_key",
                               segment_col: str = "quadrant", account_col: str = "account_id",
                               baseline_revenue: pd.DataFrame | None = None,
                               current_revenue: pd.DataFrame | None = None,
                               revenue_col: str = "revenue_12m") -> pd.DataFrame:
    """Accounts whose key status changed between the baseline and now.

    Returns
    -------
    DataFrame
        ``account_id, change`` ("fell out of key status" / "became key"),
        ``baseline_segment, current_segment, revenue_baseline, revenue_current``,
        sorted by baseline revenue (largest losses first).
    """
    cols = [account_col, key_col] + ([segment_col] if segment_col in baseline else [])
    b = baseline[cols].rename(columns={key_col: "baseline_key", segment_col: "baseline_segment"})
    cols = [account_col, key_col] + ([segment_col] if segment_col in current else [])
    c = current[cols].rename(columns={key_col: "current_key", segment_col: "current_segment"})
    m = b.merge(c, on=account_col, how="outer")
    m["baseline_key"] = m["baseline_key"].astype("boolean").fillna(False).astype(bool)
    m["current_key"] = m["current_key"].astype("boolean").fillna(False).astype(bool)
    m = m[m["baseline_key"] != m["current_key"]].copy()
    m["change"] = np.where(m["baseline_key"], "fell out of key status", "became key")
    for frame, name in ((baseline_revenue, "revenue_baseline"), (current_revenue, "revenue_current")):
        if frame is not None:
            m = m.merge(frame[[account_col, revenue_col]].rename(columns={revenue_col: name}), on=account_col,
                        how="left")
        else:
            m[name] = np.nan
    for c_ in ("baseline_segment", "current_segment"):
        if c_ not in m:
            m[c_] = None
    m = m.sort_values(["change", "revenue_baseline", account_col], ascending=[False, False, True], kind="stable")
    return m[[account_col, "change", "baseline_segment", "current_segment", "revenue_baseline",
              "revenue_current"]].reset_index(drop=True)



def compute_baseline_segments(baseline_summary: pd.DataFrame, *, params,
                              sizing_inputs: dict | None = None) -> pd.DataFrame:
    """The segmentation as it stood at the baseline date.

    Applies the segmentation module's portfolio matrix and value tiers (the same functions
    and parameters as the current segmentation) to the account summary at the baseline
    date, so a move between segments reflects the account, not a change of method.
    Only the accounts live at the baseline date are scored, the others form the inactive
    group; with ``sizing_inputs``
    (:func:`~kam_analysis.phases.key_accounts.resolve_sizing_inputs`) the key accounts
    follow the sizing rule on the baseline's revenue (today's managers and hours).
    Returns ``account_id, quadrant, is_key, tier, revenue_12m`` (+ matrix axes). When no
    account had bought by the baseline date (a history shorter than the review window)
    there is nothing to segment: the frame is empty with those columns, so every current
    account reads as new since the baseline.
    """
    from . import segmentation

    seg = params.segmentation
    if baseline_summary.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype="object"), "quadrant": pd.Series(dtype="object"),
                             "is_key": pd.Series(dtype="bool"), "tier": pd.Series(dtype="object"),
                             "revenue_12m": pd.Series(dtype="float64")})
    quad = segmentation.compute_portfolio_quadrants(baseline_summary, names=seg.quadrant_names, seg=seg,
                                                    sizing_inputs=sizing_inputs)
    tiers = segmentation.compute_value_tiers(baseline_summary, tiers=seg.tiers)
    out = quad.merge(tiers, on="account_id", how="left")
    out["tier"] = out["tier"].astype(str)
    return out
