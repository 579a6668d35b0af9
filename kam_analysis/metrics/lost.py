"""Revenue already lost: the accounts that churned in the last 12 months, and what they bought.

The rule, defined once (and kept apart from *revenue at risk*, which is for accounts still
active at T; :mod:`kam_analysis.models.churn` scores only those):

* An account was **lost in the last 12 months** when its last counted order (net revenue
  > 0, :func:`~kam_analysis.metrics.activity.is_counted_order`) on or before T is in
  ``(T - 12 months - churn_days, T - churn_days]`` (:func:`lost_window`). In the activity
  rule's words: it has churned at T (not active; an account whose last counted order is
  exactly ``churn_days`` back has churned), and the day it churned — its last counted
  order + ``churn_days`` (``churn_date``) — falls in W = ``(T - 12 months, T]``, i.e. it was
  still active at T - 12 months or later. Accounts that churned earlier, and accounts that
  never placed a counted order, are not in the group. A refund-only credit note is never
  the last order.
* In the lifecycle of :func:`kam_analysis.metrics.capability.lifecycle_status` the group is
  every *dormant* account (not active, an order in the last 12 months) plus the *lapsed*
  accounts (no order in the last 12 months) whose last order falls in
  ``(T - 12 months - churn_days, T - 12 months]``; each account's status is in the
  ``lifecycle`` column and the two counts in the headline row.
* **Revenue already lost** of such an account = the net revenue of its order lines dated in
  the 12 months up to and including its last counted order, ``(last - 12 months, last]``
  (refunds in that window netted off): the annual revenue it brought when it stopped
  buying. A credit note dated after the last counted order is outside that window.
* ``revenue_lost_12m`` sums it over the group, ``accounts_lost_12m`` counts the group
  (registry: :data:`~kam_analysis.metrics.definitions.KPI_DEFINITIONS`).

When the order history starts after ``T - 12 months - churn_days - 12 months`` an account
that churned early in the window may be missing, or part of its 12 months unseen:
the figures are then a lower bound and ``history_complete`` is False.
"""
from __future__ import annotations

import pandas as pd

from ..data.prepare import counted_order_sql
from ..present.formats import fmt_count, fmt_date, fmt_money
from .activity import to_day
from .capability import lifecycle_status
from .engine import OrderSource, _ts, as_order_source

__all__ = ["lost_window", "compute_lost_accounts", "compute_revenue_lost", "describe_revenue_lost",
           "describe_lost_split", "LOST_COLUMNS", "REVENUE_LOST_COLUMNS"]

#: columns of :func:`compute_lost_accounts` (the ``lost_accounts`` table; ``segment`` when given segments)
LOST_COLUMNS = ["account_id", "last_order_date", "churn_date", "days_since_last_order", "lifecycle",
                "revenue_lost_12m"]
#: columns of :func:`compute_revenue_lost` (the one-row ``revenue_lost`` table)
REVENUE_LOST_COLUMNS = ["accounts_lost_12m", "revenue_lost_12m", "dormant_accounts", "lapsed_accounts",
                        "last_order_after", "last_order_until", "data_start", "history_complete", "note"]


def lost_window(as_of, *, churn_days: int, months: int = 12) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(lo, hi)``: an account was lost in the last ``months`` months iff its last counted order is in ``(lo, hi]``.

    ``hi = T - churn_days`` (on ``hi`` itself the account is exactly ``churn_days`` back: not
    active), ``lo = (T - months) - churn_days``.
    """
    T = to_day(as_of)
    gap = pd.Timedelta(days=int(churn_days))
    return T - pd.DateOffset(months=months) - gap, T - gap


def _empty(with_segment: bool) -> pd.DataFrame:
    out = pd.DataFrame({"account_id": pd.Series(dtype="object"),
                        "last_order_date": pd.Series(dtype="datetime64[ns]"),
                        "churn_date": pd.Series(dtype="datetime64[ns]"),
                        "days_since_last_order": pd.Series(dtype="int64"),
                        "lifecycle": pd.Series(dtype="object"),
                        "revenue_lost_12m": pd.Series(dtype="float64")})
    return out.assign(segment=pd.Series(dtype="object")) if with_segment else out


def compute_lost_accounts(orders: OrderSource | pd.DataFrame, *, as_of, churn_days: int, months: int = 12,
                          segments: pd.DataFrame | None = None, segment_col: str = "quadrant",
                          account_col: str = "account_id", date_col: str = "order_date",
                          revenue_col: str = "revenue") -> pd.DataFrame:
    """One row per account lost in the last ``months`` months, with the revenue lost.

    The orders stay in DuckDB: each account's last counted order, its revenue window and
    the lifecycle inputs are aggregated there, and one row per lost account leaves it.

    Parameters
    ----------
    orders : OrderSource or DataFrame
        The run's orders in the engine (:meth:`OrderSource.from_run
        <kam_analysis.metrics.engine.OrderSource.from_run>`), or a small order-level frame
        (account, date, net revenue; ``account_col`` / ``date_col`` / ``revenue_col``),
        read through :meth:`~kam_analysis.metrics.engine.OrderSource.from_frame` by the same
        query. Orders after ``as_of`` are ignored.
    as_of : date
        T.
    churn_days : int
        The activity window (``analysis.churn_days``).
    months : int
        How far back the loss may be (12), and the length of the revenue window.
    segments : DataFrame, optional
        Adds each account's ``segment`` (``segments[segment_col]``).

    Returns
    -------
    DataFrame
        ``account_id, last_order_date, churn_date`` (last counted order + ``churn_days``: the
        first day it is not active), ``days_since_last_order``, ``lifecycle`` (``dormant`` or
        ``lapsed``, :func:`~kam_analysis.metrics.capability.lifecycle_status`),
        ``revenue_lost_12m`` (the rule in this module's docstring), and ``segment`` with
        ``segments``; largest revenue lost first (ties by account id).
    """
    orders = as_order_source(orders, account_col=account_col, date_col=date_col, revenue_col=revenue_col)
    T = to_day(as_of)
    lo, hi = lost_window(T, churn_days=churn_days, months=months)
    pos = counted_order_sql("o.rev")
    # one pass over the orders (materialized: read by three steps); one row per lost account leaves
    # the engine, plus the earliest orders (OrderSource.date_range, so data_start costs no second pass)
    per = orders.query(f""",
        o AS MATERIALIZED (SELECT CAST(account_id AS VARCHAR) AS account_id, d, rev FROM orders),
        span AS (SELECT min(d) AS first_any, min(d) FILTER (WHERE {counted_order_sql("rev")}) AS first_counted FROM o),
        last AS (SELECT account_id, max(d) AS last FROM o WHERE {counted_order_sql("rev")} AND d <= {_ts(T)}
                 GROUP BY account_id HAVING max(d) > {_ts(lo)} AND max(d) <= {_ts(hi)}),
        lost AS (SELECT last.account_id, last.last AS last_order_date,
                        CAST(sum(o.rev) FILTER (WHERE o.d > last.last - INTERVAL {int(months)} MONTH
                                                AND o.d <= last.last) AS DOUBLE) AS revenue_lost_12m,
                        count(*) FILTER (WHERE {pos}) AS n_orders,
                        count(*) FILTER (WHERE {pos} AND o.d > {_ts(T - pd.DateOffset(months=months))}) AS orders_12m
                 FROM last JOIN o ON o.account_id = last.account_id AND o.d <= {_ts(T)}
                 GROUP BY last.account_id, last.last)
        SELECT * FROM span LEFT JOIN lost ON TRUE""")
    orders.remember_date_range(per["first_any"].iloc[0], per["first_counted"].iloc[0])
    per = per[per["account_id"].notna()]
    if per.empty:
        return _empty(segments is not None)
    per = per.set_index(per["account_id"].astype(str))
    last = pd.to_datetime(per["last_order_date"])
    # the lifecycle status by its one definition: none of these accounts is active at T
    status = lifecycle_status(pd.DataFrame({"active": False, "n_orders": per["n_orders"].astype("int64"),
                                            "orders_12m": per["orders_12m"].astype("int64")}, index=per.index))
    out = pd.DataFrame({
        "account_id": per.index.astype(str),
        "last_order_date": last.to_numpy(),
        "churn_date": (last + pd.Timedelta(days=int(churn_days))).to_numpy(),
        "days_since_last_order": (T - last).dt.days.astype("int64").to_numpy(),
        "lifecycle": status.to_numpy(),
        "revenue_lost_12m": per["revenue_lost_12m"].fillna(0.0).astype("float64").to_numpy(),
    })
    if segments is not None:
        seg = segments[[account_col, segment_col]].rename(columns={account_col: "account_id", segment_col: "segment"})
        out = out.merge(seg.assign(account_id=seg["account_id"].astype(str)), on="account_id", how="left")
    return out.sort_values(["revenue_lost_12m", "account_id"], ascending=[False, True],
                           kind="stable").reset_index(drop=True)


def compute_revenue_lost(lost: pd.DataFrame, *, as_of, churn_days: int, data_start, months: int = 12
                         ) -> pd.DataFrame:
    """The headline: revenue already lost and the number of accounts lost (one row).

    Parameters
    ----------
    lost : DataFrame
        :func:`compute_lost_accounts`.
    as_of, churn_days, months
        As for :func:`compute_lost_accounts`.
    data_start : date or None
        The first order date of the history (None or NaT: no orders).

    Returns
    -------
    DataFrame
        One row: ``accounts_lost_12m`` (accounts), ``revenue_lost_12m`` (their summed revenue
        lost), ``dormant_accounts`` / ``lapsed_accounts`` (how many of them are dormant and
        lapsed by :func:`~kam_analysis.metrics.capability.lifecycle_status`),
        ``last_order_after`` / ``last_order_until`` (the window ``(lo, hi]`` of
        :func:`lost_window`), ``data_start``, ``history_complete`` (the history reaches
        ``lo - months``, so neither an account nor a month of its revenue can be missing) and
        ``note`` (why the figures are a lower bound, when they are).
    """
    lo, hi = lost_window(as_of, churn_days=churn_days, months=months)
    start = to_day(data_start) if data_start is not None and pd.notna(data_start) else None
    need = lo - pd.DateOffset(months=months)
    complete = start is not None and start <= need
    note = "" if complete else (
        f"the order history starts on {fmt_date(start)}, after {fmt_date(need)}: accounts that churned early "
        f"in the last {months} months, or part of their last {months} months of orders, may be missing, so these "
        "figures are a lower bound" if start is not None else "no orders")
    status = lost["lifecycle"] if "lifecycle" in lost else pd.Series(dtype="object")
    return pd.DataFrame([{
        "accounts_lost_12m": int(len(lost)),
        "revenue_lost_12m": float(lost["revenue_lost_12m"].sum()) if len(lost) else 0.0,
        "dormant_accounts": int((status == "dormant").sum()), "lapsed_accounts": int((status == "lapsed").sum()),
        "last_order_after": lo, "last_order_until": hi,
        "data_start": start if start is not None else pd.NaT,
        "history_complete": bool(complete), "note": note,
    }], columns=REVENUE_LOST_COLUMNS)


def describe_revenue_lost(row, currency: str = "EUR", *, style: str = "compact") -> str:
    """The figure as every deliverable words it, from one ``revenue_lost`` row.

    ``"€1.2m already lost to 85 accounts that churned in the last 12 months"``;
    ``"at least "`` in front when the history is too short to see every such account
    (``history_complete`` False); ``"no account churned in the last 12 months"`` when
    none did. ``style`` is the deliverable's money style (:func:`~kam_analysis.present.formats.money_style`).
    """
    n = int(row["accounts_lost_12m"])
    complete = bool(row["history_complete"])
    if n == 0:
        return ("no account churned in the last 12 months" if complete else
                "no account churned in the last 12 months of the order history (too short to see every one)")
    return (f"{'' if complete else 'at least '}{fmt_money(row['revenue_lost_12m'], currency, style=style)} already lost to "
            f"{fmt_count(n)} account{'s' if n != 1 else ''} that churned in the last 12 months")


def describe_lost_split(row, *, churn_days: int) -> str:
    """How the accounts lost split into dormant and lapsed, in the client's words, with what
    'churned' means (a lapsed account's last order is over 12 months back, yet it churned —
    reached ``churn_days`` without an order — within the last 12 months)."""
    d, lp = int(row["dormant_accounts"]), int(row["lapsed_accounts"])
    return (f"{fmt_count(d)} dormant (last order within 12 months) and {fmt_count(lp)} lapsed (last order over "
            f"12 months ago); an account churns after {churn_days} days without an order")
