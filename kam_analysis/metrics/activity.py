"""Active, churned, retained, reactivated, new: the activity rule, defined once.

* An order *counts* (orders, activity, first and last order, cohorts) when its net
  revenue is positive (:func:`is_counted_order`): a refund-only credit note changes
  revenue, never the order count, and is never an account's last order.
* An account is **active at date d** when its last counted order on or before d is in the
  half-open window ``(d - churn_days, d]`` (:func:`is_active`); otherwise it has
  **churned** at d. In days: active iff ``0 <= recency_days < churn_days``, so an account
  whose last order is exactly ``churn_days`` back has churned.
* **Retention** from ``start`` to ``end`` (:func:`compute_retention`): of the accounts
  active at ``start``, the share still active at ``end``. *New* accounts (first counted
  order in ``(start, end]``) and *reactivated* ones (not active at ``start``, ordered
  before, active at ``end``) are counted apart, outside the base.

The account summary (``account_summary``) is aggregated in DuckDB by the data layer
before any phase runs; the data layer may not import this one, so the SQL spelling of the
same rule lives in :func:`kam_analysis.data.prepare.counted_order_sql` and
:func:`kam_analysis.data.prepare.active_sql` and nowhere else, and
``tests/test_metrics_activity.py`` checks that both spellings agree on the boundary cases.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PERIOD_FREQ", "to_day", "period_starts", "is_counted_order", "last_counted_order", "recency_days",
           "is_active", "active_accounts_at", "compute_retention"]


PERIOD_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


def to_day(d) -> pd.Timestamp:
    """A date as a midnight timestamp (the unit every window is measured in)."""
    return pd.Timestamp(d).normalize()


def period_starts(dates: pd.Series, period: str) -> pd.Series:
    """The start date of the month/quarter/year each date falls in."""
    if period not in PERIOD_FREQ:
        raise ValueError(f"period must be one of {list(PERIOD_FREQ)}, got {period!r}")
    return pd.to_datetime(dates).dt.to_period(PERIOD_FREQ[period]).dt.start_time



def is_counted_order(revenue):
    """Whether an order counts (orders, activity, first and last order): net revenue > 0.

    ``revenue`` is an order's net revenue (its lines summed, refunds included): a scalar
    or a Series. The SQL twin is :func:`kam_analysis.data.prepare.counted_order_sql`.
    """
    return revenue > 0


def last_counted_order(orders: pd.DataFrame, *, as_of=None, account_col: str = "account_id",
                       date_col: str = "order_date", revenue_col: str = "revenue") -> pd.Series:
    """Each account's last counted order date on or before ``as_of`` (all dates when None).

    A refund-only credit note after the last real order is not the last order. Accounts
    with no counted order are absent.
    """
    o = orders[is_counted_order(orders[revenue_col])]
    if as_of is not None:
        o = o[pd.to_datetime(o[date_col]) <= to_day(as_of)]
    return pd.to_datetime(o[date_col]).groupby(o[account_col]).max()


def recency_days(last_order_date, *, as_of):
    """Whole days from the last counted order to ``as_of`` (NaN when the account never ordered)."""
    d = pd.to_datetime(last_order_date)
    delta = to_day(as_of) - d
    return delta.dt.days.astype("float64") if isinstance(delta, pd.Series) else (
        np.nan if pd.isna(delta) else float(delta.days))


def is_active(last_order_date, *, as_of, churn_days: int):
    """Active at ``as_of``: the last counted order is in ``(as_of - churn_days, as_of]``.

    Half-open: an account whose last counted order is exactly ``churn_days`` before
    ``as_of`` has churned; equivalently active iff ``0 <= recency_days < churn_days``. A
    missing date (never ordered) is not active. Scalar or Series. The SQL twin is
    :func:`kam_analysis.data.prepare.active_sql`.
    """
    d = pd.to_datetime(last_order_date)
    T = to_day(as_of)
    if isinstance(d, pd.Series):
        return ((d > T - pd.Timedelta(days=churn_days)) & (d <= T)).fillna(False).astype(bool)
    return bool(pd.notna(d) and T - pd.Timedelta(days=churn_days) < d <= T)


def active_accounts_at(orders: pd.DataFrame, when, *, churn_days: int, account_col: str = "account_id",
                       date_col: str = "order_date", revenue_col: str = "revenue") -> pd.Index:
    """Accounts active at ``when`` (:func:`is_active` of their last counted order up to ``when``)."""
    last = last_counted_order(orders, as_of=when, account_col=account_col, date_col=date_col,
                              revenue_col=revenue_col)
    return pd.Index(last.index[is_active(last, as_of=when, churn_days=churn_days).to_numpy()])


def compute_retention(orders: pd.DataFrame, *, start, end, churn_days: int, account_col: str = "account_id",
                      date_col: str = "order_date", revenue_col: str = "revenue") -> dict:
    """Account retention between two dates under the churn definition.

    Formula
    -------
    ``base`` = accounts active at ``start``; ``retained`` = base accounts active at
    ``end``; ``retention_rate = retained / base``; ``churn_rate = 1 - retention_rate``.
    Active at d = a counted order (net revenue > 0) in ``(d - churn_days, d]``.
    New accounts (first counted order in ``(start, end]``) and reactivated accounts
    (inactive at ``start`` but with an earlier order, active again at ``end``) are not in
    the base; they are returned as counts.

    Returns
    -------
    dict
        ``base, retained, churned, new, reactivated, retention_rate, churn_rate``.
    """
    kw = dict(churn_days=churn_days, account_col=account_col, date_col=date_col, revenue_col=revenue_col)
    s, e = to_day(start), to_day(end)
    base = active_accounts_at(orders, s, **kw)
    at_end = active_accounts_at(orders, e, **kw)
    pos = orders[is_counted_order(orders[revenue_col])]
    first = pos.groupby(account_col)[date_col].min()
    new = first[(first > s) & (first <= e)].index
    retained = base.intersection(at_end)
    reactivated = at_end.difference(base).difference(new)
    nb = len(base)
    rate = len(retained) / nb if nb else np.nan
    return {"base": nb, "retained": len(retained), "churned": nb - len(retained), "new": len(new),
            "reactivated": len(reactivated), "retention_rate": rate,
            "churn_rate": 1 - rate if nb else np.nan}
