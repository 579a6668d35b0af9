"""KPIs by period (month, quarter, year): the time series of the assessment and the dashboards."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .activity import PERIOD_FREQ, compute_retention, to_day

__all__ = ["compute_period_kpis"]


def compute_period_kpis(account_period: pd.DataFrame, *, period: str = "quarter", as_of=None,
                        orders: pd.DataFrame | None = None, churn_days: int = 180,
                        period_col: str = "period_start", account_col: str = "account_id",
                        revenue_col: str = "revenue", orders_col: str = "orders",
                        margin_col: str = "gross_margin") -> pd.DataFrame:
    """KPIs by period (month, quarter or year), every period from the first to the as-of period.

    Formulas
    --------
    * ``revenue`` = net revenue of the period's orders (refunds netted off);
    * ``orders`` = orders with positive net revenue; ``active_accounts`` = accounts with
      at least one such order in the period (ordering accounts);
    * ``average_order_value`` = revenue / orders (NaN for a period with no orders);
    * ``orders_per_account`` = orders / active_accounts;
    * ``revenue_growth`` = revenue / previous period's revenue - 1 (period over period);
    * ``revenue_growth_yoy`` = revenue / revenue of the period one year earlier - 1;
    * ``retention_rate`` = accounts active (churn definition) at the previous period's
      end that are still active at this period's end / accounts active at the previous
      period's end; ``churn_rate`` = 1 - retention_rate. Needs ``orders``; NaN (with a
      note) where the history before the base date is shorter than ``churn_days``.

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
    out["active_accounts"] = act.reindex(idx).fillna(0).astype("int64").to_numpy()
    if margin_col in ap and ap[margin_col].notna().any():
        out["gross_margin"] = g[margin_col].sum().reindex(idx).fillna(0.0).to_numpy()
    out["average_order_value"] = out["revenue"] / out["orders"].replace(0, np.nan)
    out["orders_per_account"] = out["orders"] / out["active_accounts"].replace(0, np.nan)
    prev = out["revenue"].shift(1)
    out["revenue_growth"] = np.where(prev > 0, out["revenue"] / prev - 1, np.nan)
    per_year = {"month": 12, "quarter": 4, "year": 1}[period]
    prev_y = out["revenue"].shift(per_year)
    out["revenue_growth_yoy"] = np.where(prev_y > 0, out["revenue"] / prev_y - 1, np.nan)
    ends = (pd.PeriodIndex(idx, freq=freq).end_time.normalize())
    out["period_end"] = np.minimum(ends, as_of_ts)
    out["complete"] = ends <= as_of_ts
    notes = np.where(out["complete"], "", "partial period (ends after the as-of date)")
    out["retention_rate"] = np.nan
    out["churn_rate"] = np.nan
    out["retention_base"] = 0
    if orders is not None and len(orders):
        data_start = to_day(orders["order_date"].min())
        for i, ps in enumerate(idx):
            base_date = ps - pd.Timedelta(days=1)
            if data_start > base_date - pd.Timedelta(days=churn_days - 1):
                notes[i] = "; ".join(x for x in (notes[i], f"retention needs {churn_days} days of history "
                                                 "before the period") if x)
                continue
            r = compute_retention(orders, start=base_date, end=out["period_end"].iloc[i], churn_days=churn_days,
                                  account_col=account_col)
            out.iloc[i, out.columns.get_loc("retention_rate")] = r["retention_rate"]
            out.iloc[i, out.columns.get_loc("churn_rate")] = r["churn_rate"]
            out.iloc[i, out.columns.get_loc("retention_base")] = r["base"]
    out["note"] = notes
    return out.reset_index()
