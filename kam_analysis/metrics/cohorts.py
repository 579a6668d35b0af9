"""Acquisition cohorts: retention and net revenue retention by periods since the first order."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .activity import PERIOD_FREQ, to_day

__all__ = ["compute_cohort_retention"]


def compute_cohort_retention(orders: pd.DataFrame, *, period: str = "quarter", as_of=None,
                             min_denominator: int = 30, account_col: str = "account_id",
                             date_col: str = "order_date", revenue_col: str = "revenue") -> pd.DataFrame:
    """Acquisition-cohort retention matrix and cohort net revenue retention.

    Formulas
    --------
    * ``cohort`` = start of the period of the account's first counted order;
    * ``period_index`` = periods since the cohort period (0 = acquisition period);
    * ``accounts`` = accounts in the cohort; ``active_accounts`` = cohort accounts with
      a counted order in that period; ``retention = active_accounts / accounts``;
    * ``revenue`` = the cohort's net revenue in that period (refunds netted);
      ``revenue_retention = revenue / revenue in period 0`` (net revenue retention of
      the cohort, expansion included).

    Cells after the as-of period are absent. The first cohort holds every account
    already buying when the data starts (``left_censored = True``): its "acquisition"
    period is the data's first period, not the real one. ``small_cohort`` flags cohorts
    below ``min_denominator`` accounts. A period with no orders is a row with zero
    active accounts, not a missing row.

    Returns
    -------
    DataFrame
        ``cohort, cohort_label, period_index, accounts, active_accounts, retention,
        revenue, revenue_retention, left_censored, small_cohort``.
    """
    cols = ["cohort", "cohort_label", "period_index", "accounts", "active_accounts", "retention", "revenue",
            "revenue_retention", "left_censored", "small_cohort"]
    o = orders[[account_col, date_col, revenue_col]].copy()
    o[date_col] = pd.to_datetime(o[date_col])
    pos = o[o[revenue_col] > 0]
    if pos.empty:
        return pd.DataFrame(columns=cols)
    freq = PERIOD_FREQ[period]
    o["p"] = o[date_col].dt.to_period(freq)
    first = pos.assign(p=pos[date_col].dt.to_period(freq)).groupby(account_col)["p"].min().rename("cohort_p")
    o = o.join(first, on=account_col, how="inner")
    o["k"] = (o["p"] - o["cohort_p"]).map(lambda d: d.n)
    o = o[o["k"] >= 0]
    last_p = (to_day(as_of) if as_of is not None else o[date_col].max()).to_period(freq)
    data_first = o["p"].min()
    size = first.value_counts()
    act = o[o[revenue_col] > 0].groupby(["cohort_p", "k"])[account_col].nunique()
    rev = o.groupby(["cohort_p", "k"])[revenue_col].sum()
    rows = []
    for cp in sorted(size.index):
        n = int(size[cp])
        max_k = (last_p - cp).n
        r0 = float(rev.get((cp, 0), 0.0))
        for k in range(0, max_k + 1):
            a_ = int(act.get((cp, k), 0))
            r = float(rev.get((cp, k), 0.0))
            label = {"M": f"{cp.year}-{cp.month:02d}", "Q": f"{cp.year}-Q{cp.quarter}", "Y": f"{cp.year}"}[freq]
            rows.append({"cohort": cp.start_time, "cohort_label": label, "period_index": k, "accounts": n,
                         "active_accounts": a_, "retention": a_ / n, "revenue": r,
                         "revenue_retention": r / r0 if r0 > 0 else np.nan,
                         "left_censored": cp == data_first, "small_cohort": n < min_denominator})
    return pd.DataFrame(rows, columns=cols)
