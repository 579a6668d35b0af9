"""Acquisition cohorts: retention and net revenue retention by periods since the first order."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .activity import PERIOD_FREQ, to_day
from .engine import OrderSource, as_order_source

__all__ = ["compute_cohort_retention"]


def compute_cohort_retention(orders: OrderSource | pd.DataFrame, *, period: str = "quarter", as_of=None,
                             min_denominator: int = 30, account_col: str = "account_id",
                             date_col: str = "order_date", revenue_col: str = "revenue") -> pd.DataFrame:
    """Acquisition-cohort retention matrix and cohort net revenue retention.

    ``orders`` is an :class:`~kam_analysis.metrics.engine.OrderSource` or an order-level
    frame (``account_col``, ``date_col``, ``revenue_col``; lines of one ``order_id`` are
    one order), which goes into the engine through
    :meth:`~kam_analysis.metrics.engine.OrderSource.from_frame`: the cells are computed
    in DuckDB either way.

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
    if period not in PERIOD_FREQ:
        raise ValueError(f"period must be one of {list(PERIOD_FREQ)}, got {period!r}")
    # periods as integers (months since 1970 divided by the period's length in months): no Period objects
    step = _MONTHS[period]
    # the cells are aggregated in DuckDB (a frame too, through OrderSource.from_frame)
    source = as_order_source(orders, account_col=account_col, date_col=date_col, revenue_col=revenue_col)
    cells = source.cohort_cells(step=step, last_period=_period_of(to_day(as_of), step) if as_of is not None
                                else None)
    if cells["last_p"] is None:
        return pd.DataFrame(columns=cols)
    return _grid(cells["act"], cells["rev"], cells["size"], last_p=cells["last_p"], data_first=cells["data_first"],
                 period=period, step=step, min_denominator=min_denominator, cols=cols)


def _grid(act: pd.Series, rev: pd.Series, size: pd.Series, *, last_p: int, data_first: int, period: str, step: int,
          min_denominator: int, cols: list[str]) -> pd.DataFrame:
    """The cohort x period matrix from its cells: active accounts and revenue by (cohort, k), cohort sizes."""
    n_periods = np.maximum(last_p - size.index.to_numpy() + 1, 0)
    out = pd.DataFrame({"c": np.repeat(size.index.to_numpy(), n_periods),
                        "period_index": np.concatenate([np.arange(n) for n in n_periods]).astype(np.int64)
                        if len(n_periods) else np.array([], dtype=np.int64),
                        "accounts": np.repeat(size.to_numpy(), n_periods).astype(np.int64)})
    if out.empty:
        return pd.DataFrame(columns=cols)
    key = pd.MultiIndex.from_arrays([out["c"], out["period_index"]])
    out["active_accounts"] = act.reindex(key).fillna(0).to_numpy().astype(np.int64)
    out["retention"] = out["active_accounts"] / out["accounts"]
    out["revenue"] = rev.reindex(key).fillna(0.0).to_numpy().astype(float)
    r0 = rev.reindex(pd.MultiIndex.from_arrays([out["c"], np.zeros(len(out), dtype=np.int64)])).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["revenue_retention"] = np.where(r0 > 0, out["revenue"].to_numpy() / r0, np.nan)
    out["left_censored"] = out["c"] == data_first
    out["small_cohort"] = out["accounts"] < min_denominator
    # one Period object per cohort (a few dozen), for its start and label
    freq = PERIOD_FREQ[period]
    cohorts = [pd.Period(pd.Timestamp(m), freq=freq) for m in (size.index.to_numpy() * step).astype("datetime64[M]")]
    out["cohort"] = out["c"].map(dict(zip(size.index, (cp.start_time for cp in cohorts))))
    out["cohort_label"] = out["c"].map(dict(zip(size.index, (_label(cp, freq) for cp in cohorts))))
    return out[cols]


#: length of each analysis period in months
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _period_of(day: pd.Timestamp, step: int) -> int:
    return int(np.datetime64(day, "M").astype(np.int64) // step)


def _label(cp: pd.Period, freq: str) -> str:
    return {"M": f"{cp.year}-{cp.month:02d}", "Q": f"{cp.year}-Q{cp.quarter}", "Y": f"{cp.year}"}[freq]
