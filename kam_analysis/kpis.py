"""KPIs, each defined once, with its formula in the docstring.

All functions take account-level frames from the run folder (``account_summary``,
``account_period``) — never transaction-level data, which stays in DuckDB.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["compute_period_kpis", "compute_headline_kpis"]


def compute_period_kpis(account_period: pd.DataFrame, *, period_col: str = "period_start",
                        account_col: str = "account_id", revenue_col: str = "revenue",
                        orders_col: str = "orders") -> pd.DataFrame:
    """Revenue, orders, active accounts and average order value by period.

    Formulas
    --------
    * ``revenue`` = sum of net revenue (returns included, as negative lines);
    * ``orders`` = number of orders with positive net revenue;
    * ``active_accounts`` = accounts with at least one such order in the period;
    * ``average_order_value`` = revenue / orders;
    * ``orders_per_account`` = orders / active_accounts;
    * ``revenue_growth`` = revenue / previous period's revenue - 1 (NaN for the first).
    """
    df = account_period
    g = df.groupby(period_col, sort=True)
    out = pd.DataFrame({
        "revenue": g[revenue_col].sum(),
        "orders": g[orders_col].sum(),
        "active_accounts": df[df[orders_col] > 0].groupby(period_col)[account_col].nunique(),
    }).fillna({"active_accounts": 0})
    out["active_accounts"] = out["active_accounts"].astype("int64")
    out["average_order_value"] = out["revenue"] / out["orders"].replace(0, np.nan)
    out["orders_per_account"] = out["orders"] / out["active_accounts"].replace(0, np.nan)
    out["revenue_growth"] = out["revenue"].pct_change(fill_method=None)
    return out.reset_index().rename(columns={period_col: "period_start"})


def compute_headline_kpis(account_summary: pd.DataFrame) -> pd.DataFrame:
    """Headline KPIs over the trailing twelve months to the as-of date.

    Formulas
    --------
    * ``revenue_12m`` = net revenue in the last 12 months;
    * ``active_accounts`` = accounts active under the churn definition (``active``);
    * ``retention_rate`` = accounts that ordered in the previous 12 months and again in
      the last 12 / accounts that ordered in the previous 12 months;
    * ``revenue_growth_yoy`` = revenue_12m / revenue_prev_12m - 1;
    * ``average_order_value`` = revenue_12m / orders_12m;
    * ``repeat_purchase_rate`` = accounts with 2+ orders in the last 12 months / accounts
      with 1+ orders in the last 12 months.
    """
    s = account_summary
    prev = s["orders_prev_12m"] > 0
    last = s["orders_12m"] > 0
    rows = [
        ("revenue_12m", s["revenue_12m"].sum(), "currency"),
        ("active_accounts", float(s["active"].sum()), "count"),
        ("retention_rate", (prev & last).sum() / prev.sum() if prev.sum() else np.nan, "share"),
        ("revenue_growth_yoy", s["revenue_12m"].sum() / s["revenue_prev_12m"].sum() - 1
         if s["revenue_prev_12m"].sum() else np.nan, "share"),
        ("average_order_value", s["revenue_12m"].sum() / s["orders_12m"].sum() if s["orders_12m"].sum() else np.nan,
         "currency"),
        ("repeat_purchase_rate", (s["orders_12m"] >= 2).sum() / last.sum() if last.sum() else np.nan, "share"),
    ]
    return pd.DataFrame(rows, columns=["kpi", "value", "unit"])
