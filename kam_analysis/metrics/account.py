"""Account level: one row per account with the inputs of every KPI, from orders kept in DuckDB."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .activity import is_active, to_day
from .engine import OrderSource, as_order_source
from .concentration import top_count

__all__ = ["compute_account_kpis", "compute_account_kpis_as_of", "compute_value_tier", "write_account_kpis", "NO_ORDERS_TIER"]

#: the value tier of an account without positive revenue in the last 12 months (it is not ranked)
NO_ORDERS_TIER = "No orders (12m)"


def _window(as_of: pd.Timestamp, months: int, back: int = 0) -> tuple[pd.Timestamp, pd.Timestamp]:
    end = as_of - pd.DateOffset(months=months * back)
    return end - pd.DateOffset(months=months), end


def _latest_response(surveys: pd.DataFrame, col: str, lo: pd.Timestamp, hi: pd.Timestamp,
                     account_col: str) -> pd.Series:
    s = surveys[(surveys["survey_date"] > lo) & (surveys["survey_date"] <= hi) & surveys[col].notna()]
    s = s.sort_values(["survey_date"], kind="stable")
    return s.groupby(account_col)[col].last()



def compute_account_kpis(orders: OrderSource | pd.DataFrame, *, as_of, churn_days: int,
                         accounts: pd.DataFrame | None = None,
                         surveys: pd.DataFrame | None = None, months: int = 12,
                         account_col: str = "account_id") -> pd.DataFrame:
    """One row per account with the inputs every KPI is computed from.

    Parameters
    ----------
    orders : OrderSource or DataFrame
        The run's orders in the engine (:class:`~kam_analysis.metrics.engine.OrderSource`,
        aggregated in DuckDB: only account rows leave it), or an order-level frame
        (account_id, order_date, revenue, optional gross_margin and order_id) for small
        data, which goes into the engine through
        :meth:`~kam_analysis.metrics.engine.OrderSource.from_frame`: the same SQL either way.
    as_of : date
        T.
    churn_days : int
        Activity window of the churn definition.
    accounts : DataFrame, optional
        Account attributes (segment, region, account_manager, key_account,
        cost_to_serve, ...); every account in it appears, ordering or not.
    surveys : DataFrame, optional
        account_id, survey_date, nps, csat.
    months : int
        Window length (12).

    Returns
    -------
    DataFrame
        The attributes plus: ``first_order_date`` / ``last_order_date`` (counted orders),
        ``n_orders``, ``revenue_total``, ``gross_margin_total``, ``revenue_12m``,
        ``revenue_prev_12m``, ``orders_12m``, ``orders_prev_12m``, ``gross_margin_12m``,
        ``in_book_12m`` (any order line in W), ``active`` (at T), ``active_at_start``
        (at T-12m), ``active_at_prev_start`` (at T-24m), ``is_new_12m``,
        ``profit_12m`` (gross_margin_12m - cost_to_serve for accounts in the book; NaN
        without margin), ``clv_historical`` (gross_margin_total, or revenue_total
        without margin), ``nps_12m`` / ``csat_12m`` (latest response in W),
        ``nps_prev_12m`` / ``csat_prev_12m`` (latest in P), ``responded_12m``.
    """
    T = to_day(as_of)
    w0, w1 = _window(T, months)
    p0, p1 = _window(T, months, back=1)
    # aggregated in DuckDB (a frame too, through OrderSource.from_frame): no order-level frame in pandas
    source = as_order_source(orders, account_col=account_col)
    per, info = source.account_aggregates(T=T, w0=w0, w1=w1, p0=p0, p1=p1, account_col=account_col)
    has_margin, data_start = info["has_margin"], info["data_start"]
    last = {"T": per.pop("last_T"), "w0": per.pop("last_w0"), "p0": per.pop("last_p0")}
    per["in_book_12m"] = per["in_book_12m"].astype(bool)
    active_at = {k: pd.Index(v.index[is_active(v, as_of=d, churn_days=churn_days).to_numpy()])
                 for (k, v), d in zip(last.items(), (T, w0, p0))}
    if accounts is not None and len(accounts.columns) > 0:
        acc = accounts.copy()
        acc[account_col] = acc[account_col].astype(str)
        ids = pd.Index(acc[account_col]).union(per.index.astype(str))
        out = acc.set_index(account_col).reindex(ids)
        out.index.name = account_col
        out = out.join(per)
    else:
        out = per.copy()
    for c in ("n_orders", "orders_12m", "orders_prev_12m"):
        out[c] = out[c].fillna(0).astype("int64")
    for c in ("revenue_total", "revenue_12m", "revenue_prev_12m"):
        out[c] = out[c].fillna(0.0)
    out["in_book_12m"] = out["in_book_12m"].fillna(False).astype(bool)
    if has_margin:
        out["gross_margin_12m"] = out["gross_margin_12m"].fillna(0.0)
    else:
        out["gross_margin_12m"] = np.nan
        out["gross_margin_total"] = np.nan
    out["active"] = out.index.isin(active_at["T"])
    out["active_at_start"] = out.index.isin(active_at["w0"])
    out["active_at_prev_start"] = out.index.isin(active_at["p0"])
    out["is_new_12m"] = (out["first_order_date"] > w0) & (out["first_order_date"] <= w1)
    if has_margin:
        cts = out["cost_to_serve"] if "cost_to_serve" in out else 0.0
        cts = pd.Series(cts, index=out.index, dtype="float64").fillna(0.0)
        out["profit_12m"] = np.where(out["in_book_12m"], out["gross_margin_12m"] - cts, np.nan)
        out["clv_historical"] = np.where(out["n_orders"] > 0, out["gross_margin_total"].fillna(0.0), np.nan)
    else:
        out["profit_12m"] = np.nan
        out["clv_historical"] = np.where(out["n_orders"] > 0, out["revenue_total"], np.nan)
    out.attrs["clv_basis"] = "margin" if has_margin else "revenue"
    out.attrs["has_margin"] = has_margin
    out.attrs["has_cost_to_serve"] = bool("cost_to_serve" in out and out["cost_to_serve"].notna().any())
    for c in ("nps_12m", "csat_12m", "nps_prev_12m", "csat_prev_12m"):
        out[c] = np.nan
    out["responded_12m"] = False
    out.attrs["has_surveys"] = bool(surveys is not None and len(surveys) > 0)
    if surveys is not None and len(surveys):
        sv = surveys.copy()
        sv[account_col] = sv[account_col].astype(str)
        sv["survey_date"] = pd.to_datetime(sv["survey_date"])
        for col in ("nps", "csat"):
            if col in sv:
                out[f"{col}_12m"] = _latest_response(sv, col, w0, w1, account_col).reindex(out.index)
                out[f"{col}_prev_12m"] = _latest_response(sv, col, p0, p1, account_col).reindex(out.index)
        resp = sv[(sv["survey_date"] > w0) & (sv["survey_date"] <= w1)][account_col].unique()
        out["responded_12m"] = out.index.isin(resp)
        out.attrs["has_nps"] = bool("nps" in sv and sv["nps"].notna().any())
        out.attrs["has_csat"] = bool("csat" in sv and sv["csat"].notna().any())
    # attrs stay JSON-safe (they travel into the Parquet metadata of the run-folder table)
    out.attrs["data_start"] = to_day(data_start).strftime("%Y-%m-%d") if data_start is not None else None
    out.attrs["as_of"] = T.strftime("%Y-%m-%d")
    out.attrs["churn_days"] = int(churn_days)
    return out.reset_index()


def compute_account_kpis_as_of(run, as_of, *, orders: OrderSource | pd.DataFrame | None = None,
                               accounts: pd.DataFrame | None = None,
                               surveys: pd.DataFrame | None = None) -> pd.DataFrame:
    """The account KPI frame (:func:`compute_account_kpis`) as it stood on ``as_of``.

    The same engine on the run's data with everything after ``as_of`` excluded: orders
    dated after ``as_of`` (the run's orders, aggregated in DuckDB) and survey responses dated after it are
    dropped, then :func:`compute_account_kpis` runs with ``T = as_of`` and the run's
    ``analysis.churn_days``. Account attributes are today's (the accounts file has no
    history), so every account of the accounts file appears, with zeros when it had not
    ordered yet. With ``as_of`` = ``analysis.as_of_date`` this is the assessment's
    ``account_kpis`` table (without its ``value_tier`` column), so a KPI at the baseline
    date and today differ only by the data, never by the definition.

    Parameters
    ----------
    run : Run
        The run folder (clean transactions, accounts, surveys).
    as_of : date
        The earlier as-of date.
    orders : OrderSource or DataFrame, optional
        The orders (default: the run's, in the engine); a frame goes through
        :meth:`~kam_analysis.metrics.engine.OrderSource.from_frame`.
    accounts, surveys : DataFrame, optional
        Already loaded inputs (default: read from the run); they are filtered here.

    Returns
    -------
    DataFrame
        The columns and attrs of :func:`compute_account_kpis` at ``as_of``.
    """
    T = to_day(as_of)
    o = (OrderSource.from_run(run) if orders is None else as_order_source(orders)).up_to(T)
    if accounts is None and run.has_data("accounts"):
        accounts = run.read_data("accounts")
    if surveys is None and run.has_data("surveys"):
        surveys = run.read_data("surveys")
    if surveys is not None and "survey_date" in surveys:
        surveys = surveys[pd.to_datetime(surveys["survey_date"]) <= T]
    return compute_account_kpis(o, as_of=T, churn_days=run.params.analysis.churn_days, accounts=accounts,
                                surveys=surveys)


def compute_value_tier(account_kpis: pd.DataFrame, *, tiers: dict[str, float], value_col: str = "revenue_12m",
                       account_col: str = "account_id", inactive_label: str = NO_ORDERS_TIER) -> pd.Series:
    """The value tier of every account: the one definition, used by the assessment's
    breakdowns, the segmentation's tier summary and the review's baseline tiers.

    Accounts with ``value_col > 0`` (the buying accounts) are ranked (largest first, ties
    by account id) and cut by the shares in ``tiers`` (``segmentation.tiers``, top tier
    first): the first :func:`~kam_analysis.metrics.concentration.top_count` ``(share_1, n)`` of
    the ``n`` buying accounts get tier 1, the first ``top_count(share_1 + share_2, n)`` tiers 1
    and 2, and so on (the count every "top 20% of accounts" on a page uses). Accounts without positive value are not ranked: they get ``inactive_label``, so a
    client's dormant accounts never inflate its top tier.
    """
    a = account_kpis
    tier = pd.Series(inactive_label, index=a.index, dtype="object")
    pos = a[a[value_col] > 0].sort_values([value_col, account_col], ascending=[False, True], kind="stable")
    n, cum, start = len(pos), 0.0, 0
    for name, share in tiers.items():
        cum += share
        end = top_count(cum, n)
        tier.loc[pos.index[start:end]] = name
        start = end
    if start < n:
        tier.loc[pos.index[start:]] = list(tiers)[-1]
    return tier


def write_account_kpis(run) -> pd.DataFrame:
    """Compute and write ``account_kpis`` for the run (prepare step), with each account's value tier.

    One row per account with the inputs of every KPI, as of ``analysis.as_of_date``
    (:func:`compute_account_kpis` on the run's orders, accounts and surveys). Written before
    the phases run because both the assessment and the segmentation read it, so neither
    waits for the other.
    """
    a = run.params.analysis
    kpis = compute_account_kpis(OrderSource.from_run(run), as_of=a.as_of_date, churn_days=a.churn_days,
                                accounts=run.read_data("accounts"),
                                surveys=run.read_data("surveys") if run.has_data("surveys") else None)
    kpis["value_tier"] = compute_value_tier(kpis, tiers=run.params.segmentation.tiers)
    run.write_table("account_kpis", kpis)
    return kpis
