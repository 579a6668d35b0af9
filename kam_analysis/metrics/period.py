"""KPIs by period (month, quarter, year): the time series of the assessment and the dashboards."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .activity import PERIOD_FREQ, to_day
from .engine import OrderSource, as_order_source

__all__ = ["compute_period_retention", "compute_period_kpis"]


def compute_period_retention(orders: OrderSource | pd.DataFrame, *, period: str, as_of, churn_days: int,
                             groups: pd.Series | None = None, all_label: str | None = None,
                             account_col: str = "account_id", date_col: str = "order_date",
                             revenue_col: str = "revenue") -> pd.DataFrame:
    """Account retention period on period (``period_retention_rate``), overall or by group.

    The retention rule of :func:`kam_analysis.metrics.activity.compute_retention` over one
    period: for a period starting ``s`` and ending ``e`` (capped at ``as_of``), ``base`` =
    accounts active (:func:`~kam_analysis.metrics.activity.is_active`) the day before
    ``s``; ``retained`` = base accounts still active at ``e``; ``period_retention_rate`` =
    retained / base and ``period_churn_rate`` = 1 - that. New and reactivated accounts are
    outside the base. It is *not* the 12-month ``retention_rate`` (a different window), so
    it carries its own name and label. Where the history before the base date is shorter
    than ``churn_days`` the rate is NaN and ``note`` says so.

    Parameters
    ----------
    orders : OrderSource or DataFrame
        The orders in the engine (:class:`~kam_analysis.metrics.engine.OrderSource`: one
        row per period and group leaves DuckDB), or a small order-level frame (account,
        date, net revenue: ``account_col`` / ``date_col`` / ``revenue_col``) read through
        :meth:`~kam_analysis.metrics.engine.OrderSource.from_frame` by the same query.
    period : str
        ``month``, ``quarter`` or ``year``.
    as_of : date
        Periods up to the one holding ``as_of``.
    churn_days : int
        The activity window.
    groups : Series, optional
        Group label by account id (e.g. today's segment); accounts without one are left out
        of the groups (they still count in ``all_label``).
    all_label : str, optional
        Label of the all-accounts rows (default: all-accounts rows only when ``groups`` is
        None, labelled ``None``).

    Returns
    -------
    DataFrame
        ``period_start, group, base, retained, period_retention_rate, period_churn_rate, note``.
    """
    cols = ["period_start", "group", "base", "retained", "period_retention_rate", "period_churn_rate", "note"]
    freq = PERIOD_FREQ[period]
    T = to_day(as_of)
    orders = as_order_source(orders, account_col=account_col, date_col=date_col, revenue_col=revenue_col)
    data_start, first = orders.date_range()
    if data_start is None:
        return pd.DataFrame(columns=cols)
    data_start = to_day(data_start)
    first = first if first is not None else data_start
    idx = pd.period_range(first.to_period(freq), T.to_period(freq), freq=freq)
    bounds = [(p.start_time.normalize() - pd.Timedelta(days=1), min(p.end_time.normalize(), T)) for p in idx]
    labels: list[tuple[object, int]] = []  # (label, group number; -1 = all accounts)
    codes = None
    if groups is None or all_label is not None:
        labels.append((all_label, -1))
    if groups is not None:
        g = pd.Series(groups).dropna()
        g.index = g.index.astype(str)
        names = sorted(g.unique(), key=str)
        labels += [(name, k) for k, name in enumerate(names)]
        codes = g.map({name: k for k, name in enumerate(names)}).astype("int64")
    counts = orders.period_activity(bounds, churn_days=churn_days, groups=codes).set_index(["i", "g"])
    rows = []
    for i, (p, (base_date, _)) in enumerate(zip(idx, bounds)):
        short = data_start > base_date - pd.Timedelta(days=churn_days - 1)
        for name, k in labels:
            nb, nk = (int(x) for x in counts.loc[(i, k), ["base", "retained"]])
            rate = np.nan if short or nb == 0 else nk / nb
            note = (f"retention needs {churn_days} days of history before the period" if short
                    else "" if nb else "no account active before the period")
            rows.append({"period_start": p.start_time, "group": name, "base": 0 if short else nb,
                         "retained": 0 if short else nk, "period_retention_rate": rate,
                         "period_churn_rate": 1 - rate if np.isfinite(rate) else np.nan, "note": note})
    return pd.DataFrame(rows, columns=cols)


def compute_period_kpis(account_period: pd.DataFrame, *, period: str = "quarter", as_of=None,
                        orders: OrderSource | pd.DataFrame | None = None, churn_days: int = 180,
                        period_col: str = "period_start", account_col: str = "account_id",
                        revenue_col: str = "revenue", orders_col: str = "orders",
                        margin_col: str = "gross_margin") -> pd.DataFrame:
    """KPIs by period (month, quarter or year), every period from the first to the as-of period.

    Formulas
    --------
    * ``revenue`` = net revenue of the period's orders (refunds netted off);
    * ``orders`` = orders with positive net revenue; ``ordering_accounts`` = accounts with
      at least one such order in the period (ordering accounts);
    * ``average_order_value`` = revenue / orders (NaN for a period with no orders);
    * ``orders_per_account`` = orders / ordering_accounts;
    * ``revenue_growth`` = revenue / previous period's revenue - 1 (period over period);
    * ``revenue_growth_yoy`` = revenue / revenue of the period one year earlier - 1;
    * ``period_retention_rate``, ``period_churn_rate``, ``retention_base``: account
      retention period on period (:func:`compute_period_retention`). Needs ``orders``;
      NaN (with a note) where the history before the base date is shorter than
      ``churn_days``.

    A period with no orders is a row of zeros (not dropped). The last period is marked
    ``complete = False`` when it ends after the as-of date.
    """
    ap = account_period.copy()
    ap[period_col] = pd.to_datetime(ap[period_col])
    freq = PERIOD_FREQ[period]
    as_of_ts = to_day(as_of) if as_of is not None else ap[period_col].max()
    first = ap[period_col].min() if len(ap) else as_of_ts.to_period(freq).start_time
    idx = pd.period_range(first.to_period(freq), as_of_ts.to_period(freq), freq=freq).start_time
    g = ap.groupby(period_col)
    out = pd.DataFrame(index=pd.Index(idx, name="period_start"))
    out["revenue"] = g[revenue_col].sum().reindex(idx).fillna(0.0).to_numpy()
    out["orders"] = g[orders_col].sum().reindex(idx).fillna(0).astype("int64").to_numpy()
    act = ap[ap[orders_col] > 0].groupby(period_col)[account_col].nunique()
    out["ordering_accounts"] = act.reindex(idx).fillna(0).astype("int64").to_numpy()
    if margin_col in ap and ap[margin_col].notna().any():
        out["gross_margin"] = g[margin_col].sum().reindex(idx).fillna(0.0).to_numpy()
    out["average_order_value"] = out["revenue"] / out["orders"].replace(0, np.nan)
    out["orders_per_account"] = out["orders"] / out["ordering_accounts"].replace(0, np.nan)
    prev = out["revenue"].shift(1)
    out["revenue_growth"] = np.where(prev > 0, out["revenue"] / prev - 1, np.nan)
    per_year = {"month": 12, "quarter": 4, "year": 1}[period]
    prev_y = out["revenue"].shift(per_year)
    out["revenue_growth_yoy"] = np.where(prev_y > 0, out["revenue"] / prev_y - 1, np.nan)
    ends = (pd.PeriodIndex(idx, freq=freq).end_time.normalize())
    out["period_end"] = np.minimum(ends, as_of_ts)
    out["complete"] = ends <= as_of_ts
    notes = np.where(out["complete"], "", "partial period (ends after the as-of date)")
    out["period_retention_rate"] = np.nan
    out["period_churn_rate"] = np.nan
    out["retention_base"] = 0
    if orders is not None and (isinstance(orders, OrderSource) or len(orders)):
        r = compute_period_retention(orders, period=period, as_of=as_of_ts, churn_days=churn_days,
                                     account_col=account_col).set_index("period_start").reindex(idx)
        out["period_retention_rate"] = r["period_retention_rate"].to_numpy(dtype=float)
        out["period_churn_rate"] = r["period_churn_rate"].to_numpy(dtype=float)
        out["retention_base"] = r["base"].fillna(0).astype("int64").to_numpy()
        notes = np.array(["; ".join(x for x in (n, m) if isinstance(x, str) and x)
                          for n, m in zip(notes, r["note"].to_numpy())], dtype=object)
    out["note"] = notes
    return out.reset_index()
