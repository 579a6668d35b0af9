"""The KPI engine: every KPI defined once, with its formula and conventions.

Conventions shared by every KPI (also in ``docs/kpi_dictionary.md``):

* **T** is ``analysis.as_of_date``. The *trailing window* ``W`` is the 12 months to T,
  ``(T - 12 months, T]``; the *previous window* ``P`` is ``(T - 24 months, T - 12 months]``.
* An **order** is an order id with its lines summed (returns are negative lines of
  the same or another order). Revenue sums every line, so refunds are netted off.
  An order *counts* (orders, AOV denominator, activity) only if its net revenue is
  positive: a refund-only order moves revenue, not the order count.
* An account is **active at date d** when it has a counted order in
  ``(d - churn_days, d]`` (``analysis.churn_days``); otherwise it is **churned** at d.
* **New accounts** (first counted order inside the window) are *not* in the retention
  base: retention measures whether accounts already active at the window start are
  still active at its end. Accounts that had lapsed at the window start and came back
  (*reactivated*) are not in the base either. Both are reported as separate counts.
* Shares are fractions (0.25, not 25 %); NPS is on its usual -100..100 scale.
* Intervals are two-sided at ``thresholds.confidence``: Wilson intervals for rates,
  t intervals for means, a linearised (account-clustered) interval for ratios such as
  average order value, the multinomial normal interval for NPS.
* A KPI the data cannot support is NaN with the reason in ``note``; a KPI whose
  denominator is below ``thresholds.min_denominator`` keeps its value and is flagged
  in ``note`` (``small base``).

Transaction-level work stays in DuckDB (:func:`load_orders` sums lines to orders);
everything after that is account-level pandas.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

__all__ = [
    "KPI",
    "KPI_DEFINITIONS",
    "kpi_label",
    "kpi_dictionary_markdown",
    "load_orders",
    "period_starts",
    "active_accounts_at",
    "compute_retention",
    "compute_period_kpis",
    "compute_account_kpis",
    "compute_account_kpis_as_of",
    "compute_value_tier",
    "compute_group_kpis",
    "compute_headline_kpis",
    "compute_segment_kpis",
    "compute_kpi_comparisons",
    "compute_nps",
    "compute_concentration_curve",
    "compute_concentration_summary",
    "compute_whale_curve",
    "compute_cohort_retention",
    "compute_survey_coverage",
]


# --------------------------------------------------------------------------- the dictionary
@dataclass(frozen=True)
class KPI:
    """One KPI's definition: the single source for labels, units, direction and formula."""

    name: str
    label: str
    unit: str  # currency / share / count / score / ratio
    higher_is_better: bool | None
    formula: str
    needs: str = "transactions"


KPI_DEFINITIONS: dict[str, KPI] = {k.name: k for k in [
    KPI("revenue_12m", "Net revenue, last 12 months", "currency", True,
        "sum of net revenue of every order line dated in W (refunds netted off)"),
    KPI("revenue_prev_12m", "Net revenue, previous 12 months", "currency", True,
        "sum of net revenue of every order line dated in P"),
    KPI("revenue_growth_yoy", "Revenue growth, year on year", "share", True,
        "revenue_12m / revenue_prev_12m - 1 (NaN when revenue_prev_12m <= 0 or history < 24 months)"),
    KPI("orders_12m", "Orders, last 12 months", "count", True,
        "number of orders dated in W with positive net revenue"),
    KPI("ordering_accounts_12m", "Ordering accounts, last 12 months", "count", True,
        "accounts with at least one counted order in W"),
    KPI("active_accounts", "Active accounts at the as-of date", "count", True,
        "accounts with a counted order in (T - churn_days, T]"),
    KPI("new_accounts_12m", "New accounts, last 12 months", "count", True,
        "accounts whose first counted order is in W"),
    KPI("retention_rate", "Account retention, 12 months", "share", True,
        "accounts active at T-12m that are still active at T / accounts active at T-12m (new and "
        "reactivated accounts excluded from the base)"),
    KPI("churn_rate", "Account churn, 12 months", "share", False,
        "1 - retention_rate: accounts active at T-12m with no counted order in (T - churn_days, T] / "
        "accounts active at T-12m"),
    KPI("average_order_value", "Average order value", "currency", True,
        "revenue_12m / orders_12m"),
    KPI("orders_per_account", "Orders per ordering account", "ratio", True,
        "orders_12m / ordering_accounts_12m"),
    KPI("repeat_purchase_rate", "Repeat purchase rate", "share", True,
        "accounts with 2+ counted orders in W / accounts with 1+ counted order in W"),
    KPI("gross_margin_12m", "Gross margin, last 12 months", "currency", True,
        "sum of gross margin (or net revenue - cost) of order lines in W", "margin"),
    KPI("gross_margin_rate", "Gross margin rate", "share", True,
        "gross_margin_12m / revenue_12m", "margin"),
    KPI("profit_12m", "Account profit after cost to serve, last 12 months", "currency", True,
        "sum over accounts with an order line in W of (gross margin in W - annual cost_to_serve)",
        "margin + cost_to_serve"),
    KPI("unprofitable_account_share", "Share of accounts that lose money", "share", False,
        "accounts with profit_12m < 0 / accounts with an order line in W", "margin + cost_to_serve"),
    KPI("clv_historical", "Historical customer lifetime value (mean per account)", "currency", True,
        "mean over accounts with a counted order of their cumulative gross margin to T (margin-based) "
        "or cumulative net revenue (revenue-based when the data has no margin); undiscounted"),
    KPI("nps", "Net Promoter Score", "score", True,
        "100 x (promoters (9-10) - detractors (0-6)) / respondents; latest response per account in W"),
    KPI("nps_revenue_weighted", "Net Promoter Score, revenue-weighted", "score", True,
        "100 x sum(w x [promoter - detractor]) / sum(w), w = max(revenue_12m, 0) of each respondent", "surveys"),
    KPI("csat_top2", "CSAT top-two-box", "share", True,
        "respondents scoring 4 or 5 (of 5) / respondents; latest response per account in W", "surveys"),
    KPI("csat_mean", "CSAT mean (1-5)", "score", True,
        "mean CSAT of the latest response per account in W", "surveys"),
    KPI("survey_coverage", "Survey coverage", "share", True,
        "ordering accounts in W with a survey response in W / ordering accounts in W", "surveys"),
    KPI("key_account_revenue_share", "Key-account share of revenue", "share", None,
        "revenue_12m of accounts flagged key_account / revenue_12m", "accounts.key_account"),
    KPI("key_accounts", "Key accounts (client's programme)", "count", None,
        "accounts flagged key_account", "accounts.key_account"),
    KPI("top10_share", "Revenue share of top 10% of accounts", "share", False,
        "revenue_12m of the ceil(0.1 n) largest accounts / revenue_12m, over the n accounts with "
        "revenue_12m > 0"),
    KPI("top20_share", "Revenue share of top 20% of accounts", "share", False,
        "as top10_share with ceil(0.2 n) accounts"),
    KPI("gini", "Gini coefficient of revenue", "ratio", False,
        "sum_i (2i - n - 1) x_(i) / (n sum x), x ascending, accounts with revenue_12m > 0"),
    KPI("hhi", "Herfindahl-Hirschman index of revenue", "ratio", False,
        "sum of squared revenue shares (0-1 scale; x 10,000 for the antitrust scale)"),
    KPI("kam_maturity_score", "KAM capability maturity (1-5)", "score", True,
        "mean self-assessed score over capability dimensions", "capability"),
]}


def kpi_label(kpi: str) -> str:
    """The display label of a KPI (the KPI key itself when it is not in the dictionary)."""
    d = KPI_DEFINITIONS.get(kpi)
    return d.label if d else kpi.replace("_", " ").capitalize()


def kpi_dictionary_markdown() -> str:
    """The KPI dictionary as a Markdown table (``docs/kpi_dictionary.md`` embeds it)."""
    lines = ["| kpi | label | unit | better | needs | formula |", "|---|---|---|---|---|---|"]
    for k in KPI_DEFINITIONS.values():
        better = {True: "higher", False: "lower", None: "-"}[k.higher_is_better]
        lines.append(f"| `{k.name}` | {k.label} | {k.unit} | {better} | {k.needs} | {k.formula} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- loading
def load_orders(run) -> pd.DataFrame:
    """Order-level frame from the run's clean transactions, summed in DuckDB.

    Returns ``account_id, order_id, order_date (datetime), revenue, gross_margin``:
    one row per order id, lines (including returns) summed. ``gross_margin`` is NaN
    when the data has no margin or cost.
    """
    import duckdb

    from ..data.prepare import exact_sum

    con = duckdb.connect()
    try:
        df = con.execute(
            f"SELECT account_id, order_id, CAST(min(order_date) AS TIMESTAMP) AS order_date, "
            f"CAST({exact_sum('net_revenue')} AS DOUBLE) AS revenue, "
            f"CAST({exact_sum('gross_margin')} AS DOUBLE) AS gross_margin "
            f"FROM {run.transactions_sql()} GROUP BY account_id, order_id ORDER BY order_date, order_id").df()
    finally:
        con.close()
    df["order_date"] = pd.to_datetime(df["order_date"])
    df["gross_margin"] = df["gross_margin"].astype("float64")
    return df


# --------------------------------------------------------------------------- helpers
_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}


def _ts(d) -> pd.Timestamp:
    return pd.Timestamp(d).normalize()


def period_starts(dates: pd.Series, period: str) -> pd.Series:
    """The start date of the month/quarter/year each date falls in."""
    if period not in _FREQ:
        raise ValueError(f"period must be one of {list(_FREQ)}, got {period!r}")
    return pd.to_datetime(dates).dt.to_period(_FREQ[period]).dt.start_time


def _alpha(confidence: float) -> float:
    return 1.0 - confidence


def _wilson(k: float, n: float, confidence: float) -> tuple[float, float]:
    if n <= 0:
        return (np.nan, np.nan)
    lo, hi = proportion_confint(int(k), int(n), alpha=_alpha(confidence), method="wilson")
    return float(lo), float(hi)


def _t_interval(x: pd.Series, confidence: float) -> tuple[float, float, float]:
    """Mean, CI low, CI high (t interval); NaN interval with fewer than 2 values."""
    x = pd.Series(x, dtype="float64").dropna()
    n = len(x)
    if n == 0:
        return np.nan, np.nan, np.nan
    m = float(x.mean())
    if n < 2:
        return m, np.nan, np.nan
    se = float(x.std(ddof=1)) / np.sqrt(n)
    h = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return m, m - h, m + h


def _ratio_estimate(num: pd.Series, den: pd.Series, confidence: float) -> tuple[float, float, float, float]:
    """Ratio of sums sum(num)/sum(den) over accounts, with a linearised CI.

    The variance treats accounts as the sampling units (orders of one account are not
    independent): ``var(R) = sum((num_i - R den_i)^2) / (n (n - 1) dbar^2)``.
    Returns ratio, ci_low, ci_high, standard error.
    """
    num = pd.Series(num, dtype="float64")
    den = pd.Series(den, dtype="float64")
    n = len(num)
    if n == 0 or den.sum() <= 0:
        return np.nan, np.nan, np.nan, np.nan
    r = float(num.sum() / den.sum())
    if n < 2:
        return r, np.nan, np.nan, np.nan
    resid = num - r * den
    se = float(np.sqrt((resid ** 2).sum() / (n * (n - 1))) / den.mean())
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return r, r - z * se, r + z * se, se


def compute_nps(scores: pd.Series, *, weights: pd.Series | None = None,
                confidence: float = 0.95) -> dict:
    """Net Promoter Score with a confidence interval.

    Formula
    -------
    ``NPS = 100 (p_P - p_D)`` with promoters scoring 9-10 and detractors 0-6 (7-8 are
    passives). The interval is ``NPS +/- z 100 sqrt((p_P + p_D - (p_P - p_D)^2) / n)``
    (normal approximation to the multinomial), clipped to [-100, 100]. With
    ``weights`` the shares are weighted (revenue-weighted NPS); no interval then.

    Returns
    -------
    dict
        ``value, ci_low, ci_high, n, promoters, passives, detractors`` (shares).
    """
    s = pd.Series(scores, dtype="float64")
    keep = s.notna()
    s = s[keep]
    n = int(len(s))
    if n == 0:
        return {"value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0,
                "promoters": np.nan, "passives": np.nan, "detractors": np.nan}
    prom = (s >= 9).astype(float)
    det = (s <= 6).astype(float)
    if weights is not None:
        w = pd.Series(weights, dtype="float64")[keep].clip(lower=0).fillna(0)
        if w.sum() <= 0:
            return {"value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n,
                    "promoters": np.nan, "passives": np.nan, "detractors": np.nan}
        pp, pd_ = float((w * prom).sum() / w.sum()), float((w * det).sum() / w.sum())
        return {"value": 100 * (pp - pd_), "ci_low": np.nan, "ci_high": np.nan, "n": n,
                "promoters": pp, "passives": 1 - pp - pd_, "detractors": pd_}
    pp, pd_ = float(prom.mean()), float(det.mean())
    value = 100 * (pp - pd_)
    se = 100 * np.sqrt(max(pp + pd_ - (pp - pd_) ** 2, 0.0) / n)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    lo, hi = (max(value - z * se, -100.0), min(value + z * se, 100.0)) if n >= 2 else (np.nan, np.nan)
    return {"value": value, "ci_low": lo, "ci_high": hi, "n": n, "promoters": pp,
            "passives": 1 - pp - pd_, "detractors": pd_, "se": se}


# --------------------------------------------------------------------------- activity / retention
def active_accounts_at(orders: pd.DataFrame, when, *, churn_days: int, account_col: str = "account_id",
                       date_col: str = "order_date", revenue_col: str = "revenue") -> pd.Index:
    """Accounts active at ``when``: a counted order (net revenue > 0) in ``(when - churn_days, when]``."""
    d = _ts(when)
    o = orders
    m = (o[revenue_col] > 0) & (o[date_col] > d - pd.Timedelta(days=churn_days)) & (o[date_col] <= d)
    return pd.Index(o.loc[m, account_col].unique())


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
    s, e = _ts(start), _ts(end)
    base = active_accounts_at(orders, s, **kw)
    at_end = active_accounts_at(orders, e, **kw)
    pos = orders[orders[revenue_col] > 0]
    first = pos.groupby(account_col)[date_col].min()
    new = first[(first > s) & (first <= e)].index
    retained = base.intersection(at_end)
    reactivated = at_end.difference(base).difference(new)
    nb = len(base)
    rate = len(retained) / nb if nb else np.nan
    return {"base": nb, "retained": len(retained), "churned": nb - len(retained), "new": len(new),
            "reactivated": len(reactivated), "retention_rate": rate,
            "churn_rate": 1 - rate if nb else np.nan}


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
    freq = _FREQ[period]
    as_of_ts = _ts(as_of) if as_of is not None else ap[period_col].max()
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
        data_start = _ts(orders["order_date"].min())
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


# --------------------------------------------------------------------------- account level
def _window(as_of: pd.Timestamp, months: int, back: int = 0) -> tuple[pd.Timestamp, pd.Timestamp]:
    end = as_of - pd.DateOffset(months=months * back)
    return end - pd.DateOffset(months=months), end


def _latest_response(surveys: pd.DataFrame, col: str, lo: pd.Timestamp, hi: pd.Timestamp,
                     account_col: str) -> pd.Series:
    s = surveys[(surveys["survey_date"] > lo) & (surveys["survey_date"] <= hi) & surveys[col].notna()]
    s = s.sort_values(["survey_date"], kind="stable")
    return s.groupby(account_col)[col].last()


def compute_account_kpis(orders: pd.DataFrame, *, as_of, churn_days: int, accounts: pd.DataFrame | None = None,
                         surveys: pd.DataFrame | None = None, months: int = 12,
                         account_col: str = "account_id") -> pd.DataFrame:
    """One row per account with the inputs every KPI is computed from.

    Parameters
    ----------
    orders : DataFrame
        Order level (:func:`load_orders`): account_id, order_date, revenue, gross_margin.
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
    T = _ts(as_of)
    w0, w1 = _window(T, months)
    p0, p1 = _window(T, months, back=1)
    o = orders.copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    if "gross_margin" not in o:
        o["gross_margin"] = np.nan
    has_margin = bool(o["gross_margin"].notna().any())
    pos = o["revenue"] > 0
    in_w = (o["order_date"] > w0) & (o["order_date"] <= w1)
    in_p = (o["order_date"] > p0) & (o["order_date"] <= p1)
    g = o.groupby(account_col)
    per = pd.DataFrame({
        "first_order_date": o[pos].groupby(account_col)["order_date"].min(),
        "last_order_date": o[pos].groupby(account_col)["order_date"].max(),
        "n_orders": o[pos].groupby(account_col).size(),
        "revenue_total": g["revenue"].sum(),
        "gross_margin_total": g["gross_margin"].sum(min_count=1),
        "revenue_12m": o[in_w].groupby(account_col)["revenue"].sum(),
        "revenue_prev_12m": o[in_p].groupby(account_col)["revenue"].sum(),
        "orders_12m": o[in_w & pos].groupby(account_col).size(),
        "orders_prev_12m": o[in_p & pos].groupby(account_col).size(),
        "gross_margin_12m": o[in_w].groupby(account_col)["gross_margin"].sum(min_count=1),
        "in_book_12m": o[in_w].groupby(account_col).size() > 0,
    })
    per.index.name = account_col
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
    kw = dict(churn_days=churn_days, account_col=account_col)
    out["active"] = out.index.isin(active_accounts_at(o, T, **kw))
    out["active_at_start"] = out.index.isin(active_accounts_at(o, w0, **kw))
    out["active_at_prev_start"] = out.index.isin(active_accounts_at(o, p0, **kw))
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
    out.attrs["data_start"] = _ts(o["order_date"].min()).strftime("%Y-%m-%d") if len(o) else None
    out.attrs["as_of"] = T.strftime("%Y-%m-%d")
    out.attrs["churn_days"] = int(churn_days)
    return out.reset_index()


def compute_account_kpis_as_of(run, as_of, *, orders: pd.DataFrame | None = None,
                               accounts: pd.DataFrame | None = None,
                               surveys: pd.DataFrame | None = None) -> pd.DataFrame:
    """The account KPI frame (:func:`compute_account_kpis`) as it stood on ``as_of``.

    The same engine on the run's data with everything after ``as_of`` excluded: orders
    dated after ``as_of`` (:func:`load_orders`) and survey responses dated after it are
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
    orders, accounts, surveys : DataFrame, optional
        Already loaded inputs (default: read from the run); they are filtered here.

    Returns
    -------
    DataFrame
        The columns and attrs of :func:`compute_account_kpis` at ``as_of``.
    """
    T = _ts(as_of)
    o = load_orders(run) if orders is None else orders
    o = o[pd.to_datetime(o["order_date"]) <= T]
    if accounts is None and run.has_data("accounts"):
        accounts = run.read_data("accounts")
    if surveys is None and run.has_data("surveys"):
        surveys = run.read_data("surveys")
    if surveys is not None and "survey_date" in surveys:
        surveys = surveys[pd.to_datetime(surveys["survey_date"]) <= T]
    return compute_account_kpis(o, as_of=T, churn_days=run.params.analysis.churn_days, accounts=accounts,
                                surveys=surveys)


def compute_value_tier(account_kpis: pd.DataFrame, *, tiers: dict[str, float], value_col: str = "revenue_12m",
                       account_col: str = "account_id", inactive_label: str = "No orders (12m)") -> pd.Series:
    """A descriptive value tier by trailing revenue, for the assessment's breakdowns.

    Accounts with ``value_col > 0`` are ranked (largest first, ties by account id) and
    cut by the shares in ``tiers`` (``segmentation.tiers``, top tier first): the first
    ``round(share_1 n)`` accounts get tier 1, and so on. Accounts without positive value
    get ``inactive_label``.
    """
    a = account_kpis
    tier = pd.Series(inactive_label, index=a.index, dtype="object")
    pos = a[a[value_col] > 0].sort_values([value_col, account_col], ascending=[False, True], kind="stable")
    n, cum, start = len(pos), 0.0, 0
    for name, share in tiers.items():
        cum += share
        end = int(round(cum * n))
        tier.loc[pos.index[start:end]] = name
        start = end
    if start < n:
        tier.loc[pos.index[start:]] = list(tiers)[-1]
    return tier


# --------------------------------------------------------------------------- group KPIs
# rate KPIs: name -> (base mask, success mask) over account_kpis rows
def _rate_masks(a: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    ordering = a["orders_12m"] > 0
    prev_ordering = a["orders_prev_12m"] > 0
    return {
        "retention_rate": (a["active_at_start"], a["active_at_start"] & a["active"]),
        "churn_rate": (a["active_at_start"], a["active_at_start"] & ~a["active"]),
        "repeat_purchase_rate": (ordering, a["orders_12m"] >= 2),
        "csat_top2": (a["csat_12m"].notna(), a["csat_12m"] >= 4),
        "survey_coverage": (ordering, ordering & a["responded_12m"]),
        # previous window, for comparisons
        "retention_rate_prev": (a["active_at_prev_start"], a["active_at_prev_start"] & a["active_at_start"]),
        "churn_rate_prev": (a["active_at_prev_start"], a["active_at_prev_start"] & ~a["active_at_start"]),
        "repeat_purchase_rate_prev": (prev_ordering, a["orders_prev_12m"] >= 2),
        "csat_top2_prev": (a["csat_prev_12m"].notna(), a["csat_prev_12m"] >= 4),
    }


def _row(kpi, value, lo=np.nan, hi=np.nan, n=np.nan, note="") -> dict:
    d = KPI_DEFINITIONS.get(kpi)
    return {"kpi": kpi, "label": kpi_label(kpi), "value": float(value) if value is not None else np.nan,
            "unit": d.unit if d else "", "ci_low": float(lo), "ci_high": float(hi),
            "n": float(n) if n is not None else np.nan, "note": note}


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def compute_group_kpis(account_kpis: pd.DataFrame, *, confidence: float = 0.95, min_denominator: int = 30,
                       survey_coverage_min: float = 0.3, history_ok: dict | None = None) -> pd.DataFrame:
    """Every account-level KPI for one group of accounts (all accounts, or one segment).

    Parameters
    ----------
    account_kpis : DataFrame
        Rows of :func:`compute_account_kpis` (a subset for a segment).
    confidence : float
        Level of the intervals.
    min_denominator : int
        Rates and means on fewer accounts/responses carry a ``small base`` note.
    survey_coverage_min : float
        NPS/CSAT on a coverage below this carry an ``unreliable`` note.
    history_ok : dict, optional
        ``{"retention": bool, "yoy": bool}``: whether the history supports the
        retention base and the previous window (False -> NaN with the reason).

    Returns
    -------
    DataFrame
        ``kpi, label, value, unit, ci_low, ci_high, n, note`` (formulas: see
        :data:`KPI_DEFINITIONS`).
    """
    a = account_kpis
    history_ok = history_ok or {"retention": True, "yoy": True}
    rows: list[dict] = []
    small = lambda n: f"small base (n={int(n)} < {min_denominator})" if n < min_denominator else ""  # noqa: E731
    ordering = a["orders_12m"] > 0
    rev = float(a["revenue_12m"].sum())
    rev_prev = float(a["revenue_prev_12m"].sum())
    orders = int(a["orders_12m"].sum())
    rows.append(_row("revenue_12m", rev, n=int(ordering.sum())))
    if history_ok.get("yoy", True):
        rows.append(_row("revenue_prev_12m", rev_prev, n=int((a["orders_prev_12m"] > 0).sum())))
        g = rev / rev_prev - 1 if rev_prev > 0 else np.nan
        rows.append(_row("revenue_growth_yoy", g, n=int((a["orders_prev_12m"] > 0).sum()),
                         note="" if rev_prev > 0 else "no revenue in the previous 12 months"))
    else:
        note = "history shorter than 24 months before the as-of date"
        rows.append(_row("revenue_prev_12m", np.nan, note=note))
        rows.append(_row("revenue_growth_yoy", np.nan, note=note))
    rows.append(_row("orders_12m", orders, n=int(ordering.sum())))
    rows.append(_row("ordering_accounts_12m", int(ordering.sum()), n=len(a)))
    rows.append(_row("active_accounts", int(a["active"].sum()), n=len(a),
                     note=f"a counted order in the last {a.attrs.get('churn_days', '')} days".replace("  ", " ")))
    rows.append(_row("new_accounts_12m", int(a["is_new_12m"].sum()), n=len(a)))
    masks = _rate_masks(a)
    for kpi in ("retention_rate", "churn_rate"):
        base, succ = masks[kpi]
        n = int(base.sum())
        if not history_ok.get("retention", True):
            rows.append(_row(kpi, np.nan, n=n, note=f"history too short: needs orders from "
                             f"{a.attrs.get('churn_days', '')} days before T-12m"))
            continue
        k = int(succ.sum())
        lo, hi = _wilson(k, n, confidence)
        conv = ("new and reactivated accounts excluded from the base" if kpi == "retention_rate"
                else "share of accounts active 12 months ago that have since churned")
        rows.append(_row(kpi, k / n if n else np.nan, lo, hi, n,
                         _join(conv, small(n), "" if n else "no account active 12 months ago")))
    # value KPIs
    aov, lo, hi, _ = _ratio_estimate(a.loc[a["in_book_12m"], "revenue_12m"], a.loc[a["in_book_12m"], "orders_12m"],
                                     confidence)
    rows.append(_row("average_order_value", aov, lo, hi, orders,
                     _join("CI clustered by account", "" if orders else "no orders in the last 12 months")))
    m, lo, hi = _t_interval(a.loc[ordering, "orders_12m"], confidence)
    rows.append(_row("orders_per_account", m, lo, hi, int(ordering.sum()), small(int(ordering.sum()))))
    base, succ = masks["repeat_purchase_rate"]
    n, k = int(base.sum()), int(succ.sum())
    lo, hi = _wilson(k, n, confidence)
    rows.append(_row("repeat_purchase_rate", k / n if n else np.nan, lo, hi, n, small(n)))
    # margin / profit
    has_margin = a.attrs.get("has_margin", a["gross_margin_12m"].notna().any())
    if has_margin:
        gm = float(a["gross_margin_12m"].sum())
        rows.append(_row("gross_margin_12m", gm, n=int(a["in_book_12m"].sum())))
        rows.append(_row("gross_margin_rate", gm / rev if rev > 0 else np.nan, n=int(a["in_book_12m"].sum())))
        if a.attrs.get("has_cost_to_serve", False):
            book = a["in_book_12m"]
            prof = a.loc[book, "profit_12m"]
            rows.append(_row("profit_12m", float(prof.sum()), n=int(book.sum()),
                             note="gross margin minus annual cost to serve of accounts with an order in W"))
            nb = int(book.sum())
            k = int((prof < 0).sum())
            lo, hi = _wilson(k, nb, confidence)
            rows.append(_row("unprofitable_account_share", k / nb if nb else np.nan, lo, hi, nb, small(nb)))
        else:
            note = "not computed: the data has no cost_to_serve (gross margin shown instead)"
            rows.append(_row("profit_12m", np.nan, note=note))
            rows.append(_row("unprofitable_account_share", np.nan, note=note))
    else:
        note = "not computed: the transactions have no gross margin or cost"
        for kpi in ("gross_margin_12m", "gross_margin_rate", "profit_12m", "unprofitable_account_share"):
            rows.append(_row(kpi, np.nan, note=note))
    basis = a.attrs.get("clv_basis", "margin" if has_margin else "revenue")
    m, lo, hi = _t_interval(a["clv_historical"], confidence)
    rows.append(_row("clv_historical", m, lo, hi, int(a["clv_historical"].notna().sum()),
                     f"{basis}-based: cumulative {'gross margin' if basis == 'margin' else 'net revenue'} "
                     "per account to the as-of date, undiscounted"))
    # surveys
    has_surveys = a.attrs.get("has_surveys", a["responded_12m"].any())
    base, succ = masks["survey_coverage"]
    n_cov = int(base.sum())
    coverage = succ.sum() / n_cov if n_cov else np.nan
    if not has_surveys:
        note = "not computed: no survey data"
        for kpi in ("nps", "nps_revenue_weighted", "csat_top2", "csat_mean", "survey_coverage"):
            rows.append(_row(kpi, np.nan, note=note))
    else:
        unreliable = (f"unreliable: survey coverage {coverage:.0%} < {survey_coverage_min:.0%}"
                      if np.isfinite(coverage) and coverage < survey_coverage_min else "")
        lo, hi = _wilson(int(succ.sum()), n_cov, confidence)
        rows.append(_row("survey_coverage", coverage, lo, hi, n_cov,
                         _join("response rate needs invitation data; coverage shown", unreliable)))
        if a["nps_12m"].notna().any() or a.attrs.get("has_nps", False):
            r = compute_nps(a["nps_12m"], confidence=confidence)
            rows.append(_row("nps", r["value"], r["ci_low"], r["ci_high"], r["n"],
                             _join(small(r["n"]), unreliable, "" if r["n"] else "no NPS responses in W")))
            rw = compute_nps(a["nps_12m"], weights=a["revenue_12m"], confidence=confidence)
            rows.append(_row("nps_revenue_weighted", rw["value"], n=rw["n"],
                             note=_join("weights = revenue_12m", small(rw["n"]), unreliable)))
        else:
            for kpi in ("nps", "nps_revenue_weighted"):
                rows.append(_row(kpi, np.nan, note="not computed: the surveys have no NPS score"))
        if a["csat_12m"].notna().any() or a.attrs.get("has_csat", False):
            base, succ = masks["csat_top2"]
            n, k = int(base.sum()), int(succ.sum())
            lo, hi = _wilson(k, n, confidence)
            rows.append(_row("csat_top2", k / n if n else np.nan, lo, hi, n, _join(small(n), unreliable)))
            m, lo, hi = _t_interval(a["csat_12m"], confidence)
            rows.append(_row("csat_mean", m, lo, hi, n, _join(small(n), unreliable)))
        else:
            for kpi in ("csat_top2", "csat_mean"):
                rows.append(_row(kpi, np.nan, note="not computed: the surveys have no CSAT score"))
    if "key_account" in a and a["key_account"].notna().any():
        key = a["key_account"].fillna(False).astype(bool)
        rows.append(_row("key_accounts", int(key.sum()), n=len(a)))
        rows.append(_row("key_account_revenue_share",
                         a.loc[key, "revenue_12m"].sum() / rev if rev > 0 else np.nan, n=int(key.sum())))
    else:
        note = "not computed: the accounts data has no key_account flag"
        rows.append(_row("key_accounts", np.nan, note=note))
        rows.append(_row("key_account_revenue_share", np.nan, note=note))
    return pd.DataFrame(rows)


def compute_headline_kpis(account_kpis: pd.DataFrame, *, confidence: float = 0.95, min_denominator: int = 30,
                          survey_coverage_min: float = 0.3, capability: pd.DataFrame | None = None) -> pd.DataFrame:
    """Headline KPIs at the as-of date: account KPIs, concentration and maturity.

    The group KPIs of all accounts (:func:`compute_group_kpis`), the revenue
    concentration (:func:`compute_concentration_summary`: top10_share, top20_share,
    gini, hhi) and, with a capability self-assessment, ``kam_maturity_score``.
    Whether the history supports the previous window and the retention base is
    decided here from the first order date (``attrs['data_start']``).

    Returns
    -------
    DataFrame
        ``kpi, label, value, unit, ci_low, ci_high, n, note``.
    """
    a = account_kpis
    hist = _history_ok(a)
    out = compute_group_kpis(a, confidence=confidence, min_denominator=min_denominator,
                             survey_coverage_min=survey_coverage_min, history_ok=hist)
    conc = compute_concentration_summary(a["revenue_12m"])
    rows = [_row(r.metric, r.value, n=r.n, note=r.note) for r in conc.itertuples()
            if r.metric in ("top10_share", "top20_share", "gini", "hhi")]
    if capability is not None and len(capability):
        s = pd.to_numeric(capability["score"], errors="coerce").dropna()
        rows.append(_row("kam_maturity_score", s.mean(), n=len(s), note="mean of self-assessed dimension scores"))
    else:
        rows.append(_row("kam_maturity_score", np.nan, note="not computed: no capability self-assessment"))
    return pd.concat([out, pd.DataFrame(rows)], ignore_index=True)


def _dates(a: pd.DataFrame) -> tuple[pd.Timestamp | None, pd.Timestamp | None, int]:
    start, T = a.attrs.get("data_start"), a.attrs.get("as_of")
    return (pd.Timestamp(start) if start else None, pd.Timestamp(T) if T else None,
            int(a.attrs.get("churn_days", 0)))


def _history_ok(a: pd.DataFrame) -> dict:
    """Whether the history supports the retention base at T-12m and the previous window.

    Retention needs the base window ``(T - 12m - churn_days, T - 12m]`` inside the data;
    the previous window needs data from ``T - 24m`` (a month of slack allowed, so an
    extract starting a few days late still counts).
    """
    start, T, cd = _dates(a)
    if start is None or T is None:
        return {"retention": True, "yoy": True}
    return {"retention": start <= T - pd.DateOffset(months=12) - pd.Timedelta(days=cd - 1),
            "yoy": start <= T - pd.DateOffset(months=24) + pd.Timedelta(days=31)}


# --------------------------------------------------------------------------- segments and comparisons
_COMPARED = ("retention_rate", "churn_rate", "repeat_purchase_rate", "csat_top2", "survey_coverage",
             "average_order_value", "orders_per_account", "csat_mean", "nps", "clv_historical")


def _stat(a: pd.DataFrame, kpi: str, confidence: float, prev: bool = False) -> tuple[float, float, int]:
    """(estimate, standard error, n) of a comparable KPI over the accounts in ``a``."""
    sfx = "_prev" if prev else ""
    masks = _rate_masks(a)
    if f"{kpi}{sfx}" in masks:
        base, succ = masks[f"{kpi}{sfx}"]
        n = int(base.sum())
        if n == 0:
            return np.nan, np.nan, 0
        p = succ.sum() / n
        return float(p), float(np.sqrt(p * (1 - p) / n)), n
    if kpi == "average_order_value":
        r, c = ("revenue_prev_12m", "orders_prev_12m") if prev else ("revenue_12m", "orders_12m")
        m = a[c] > 0 if prev else a["in_book_12m"]
        v, _, _, se = _ratio_estimate(a.loc[m, r], a.loc[m, c], confidence)
        return v, se, int(a.loc[m, c].sum())
    if kpi == "orders_per_account":
        c = "orders_prev_12m" if prev else "orders_12m"
        x = a.loc[a[c] > 0, c].astype(float)
    elif kpi == "csat_mean":
        x = a["csat_prev_12m" if prev else "csat_12m"].dropna()
    elif kpi == "clv_historical":
        x = a["clv_historical"].dropna()
    elif kpi == "nps":
        r = compute_nps(a["nps_prev_12m" if prev else "nps_12m"], confidence=confidence)
        return r["value"], r.get("se", np.nan), r["n"]
    else:
        raise KeyError(kpi)
    n = len(x)
    return (float(x.mean()) if n else np.nan, float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan, n)


def _two_sample(kpi: str, a1: pd.DataFrame, a2: pd.DataFrame, confidence: float, prev2: bool = False):
    """p-value of the difference between group 1 and group 2 (proportion z-test for rates,
    Welch t-test for means, z-test on standard errors for AOV and NPS)."""
    masks1, masks2 = _rate_masks(a1), _rate_masks(a2)
    if kpi in masks1:
        b1, s1 = masks1[kpi]
        b2, s2 = masks2[f"{kpi}_prev"] if prev2 else masks2[kpi]
        n1, n2 = int(b1.sum()), int(b2.sum())
        k1, k2 = int(s1.sum()), int(s2.sum())
        if min(n1, n2) == 0 or (k1 + k2 in (0, n1 + n2)):
            return np.nan
        _, p = proportions_ztest([k1, k2], [n1, n2])
        return float(p)
    v1, se1, n1 = _stat(a1, kpi, confidence)
    v2, se2, n2 = _stat(a2, kpi, confidence, prev=prev2)
    if min(n1, n2) < 2 or not np.isfinite(se1) or not np.isfinite(se2) or se1 + se2 == 0:
        return np.nan
    z = (v1 - v2) / np.sqrt(se1 ** 2 + se2 ** 2)
    return float(2 * stats.norm.sf(abs(z)))


def _group_labels(col: pd.Series) -> pd.Series:
    """Group labels of an attribute: booleans (key_account) as Key account / Other, blanks as (missing)."""
    vals = set(col.dropna().unique())
    if vals and vals <= {True, False}:
        col = col.map({True: "Key account", False: "Other"})
    return col.astype("object").where(col.notna(), "(missing)").astype(str)


def compute_segment_kpis(account_kpis: pd.DataFrame, *, dimensions: list[str], confidence: float = 0.95,
                         min_denominator: int = 30, survey_coverage_min: float = 0.3) -> pd.DataFrame:
    """KPIs by group of every account attribute in ``dimensions``, each group tested against the rest.

    For each dimension present in ``account_kpis`` (absent ones are skipped) and each
    group, the KPIs of :func:`compute_group_kpis` plus ``accounts`` and
    ``revenue_share`` (group revenue_12m / total). For the comparable KPIs (rates,
    means, AOV, NPS) ``p_value`` tests the group against all other accounts (two-sample
    proportion z-test for rates, Welch-type z/t test for means and ratios) and
    ``distinguishable`` is ``p_value < 1 - confidence``. ``small_n`` flags groups whose
    denominator is below ``min_denominator``.

    Returns
    -------
    DataFrame
        ``dimension, group, kpi, label, value, unit, ci_low, ci_high, n, p_value,
        distinguishable, small_n, note``.
    """
    a = account_kpis
    alpha = 1 - confidence
    total_rev = a["revenue_12m"].sum()
    frames = []
    for dim in dimensions:
        if dim not in a or a[dim].isna().all():
            continue
        col = _group_labels(a[dim])
        for grp in sorted(col.unique()):
            m = (col == grp).to_numpy()
            sub, rest = a[m], a[~m]
            sub.attrs, rest.attrs = dict(a.attrs), dict(a.attrs)
            k = compute_group_kpis(sub, confidence=confidence, min_denominator=min_denominator,
                                   survey_coverage_min=survey_coverage_min, history_ok=_history_ok(a))
            extra = pd.DataFrame([_row("accounts", len(sub), n=len(sub)),
                                  _row("revenue_share", sub["revenue_12m"].sum() / total_rev if total_rev > 0
                                       else np.nan, n=int((sub["orders_12m"] > 0).sum()))])
            extra.loc[:, "unit"] = ["count", "share"]
            extra.loc[:, "label"] = ["Accounts", "Share of revenue, last 12 months"]
            k = pd.concat([extra, k], ignore_index=True)
            k["p_value"] = [(_two_sample(kpi, sub, rest, confidence) if kpi in _COMPARED and len(rest) else np.nan)
                            for kpi in k["kpi"]]
            k.insert(0, "group", grp)
            k.insert(0, "dimension", dim)
            frames.append(k)
    cols = ["dimension", "group", "kpi", "label", "value", "unit", "ci_low", "ci_high", "n", "p_value",
            "distinguishable", "small_n", "note"]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    out["distinguishable"] = out["p_value"].lt(alpha)
    out["small_n"] = out["kpi"].isin(_COMPARED) & out["n"].lt(min_denominator)
    return out[cols]


def compute_kpi_comparisons(account_kpis: pd.DataFrame, *, confidence: float = 0.95,
                            min_denominator: int = 30) -> pd.DataFrame:
    """Last 12 months against the previous 12 months, with a test of the difference.

    For each comparable KPI: ``current`` (window W), ``previous`` (window P),
    ``difference`` (current - previous), its interval and ``p_value`` (two-sample
    proportion z-test for rates; z-test on the estimates' standard errors for means,
    AOV and NPS), ``distinguishable`` = p < 1 - confidence. The two windows largely
    share accounts, so the tests treat them as independent samples: they are
    conservative for rates of the same accounts. ``clv_historical`` is cumulative and
    is not compared.
    """
    a = account_kpis
    hist = _history_ok(a)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    for kpi in ("retention_rate", "churn_rate", "repeat_purchase_rate", "average_order_value",
                "orders_per_account", "nps", "csat_top2", "csat_mean"):
        cur, se1, n1 = _stat(a, kpi, confidence)
        prv, se2, n2 = _stat(a, kpi, confidence, prev=True)
        note = ""
        if kpi in ("retention_rate", "churn_rate") and not hist["retention"]:
            cur = np.nan
        if (kpi in ("retention_rate", "churn_rate") and not _history_prev_retention(a)) or not hist["yoy"]:
            prv, note = np.nan, "history too short for the previous window"
        p = _two_sample(kpi, a, a, confidence, prev2=True) if np.isfinite(prv) and np.isfinite(cur) else np.nan
        diff = cur - prv
        se = np.sqrt(se1 ** 2 + se2 ** 2) if np.isfinite(se1) and np.isfinite(se2) else np.nan
        if min(n1, n2) < min_denominator:
            note = _join(note, f"small base (n={min(n1, n2)} < {min_denominator})")
        rows.append({"kpi": kpi, "label": kpi_label(kpi), "unit": KPI_DEFINITIONS[kpi].unit, "current": cur,
                     "previous": prv, "difference": diff, "ci_low": diff - z * se, "ci_high": diff + z * se,
                     "n_current": n1, "n_previous": n2, "p_value": p,
                     "distinguishable": bool(np.isfinite(p) and p < 1 - confidence), "note": note})
    return pd.DataFrame(rows)


def _history_prev_retention(a: pd.DataFrame) -> bool:
    start, T, cd = _dates(a)
    if start is None or T is None:
        return True
    return start <= T - pd.DateOffset(months=24) - pd.Timedelta(days=cd - 1)


# --------------------------------------------------------------------------- surveys by segment
def compute_survey_coverage(account_kpis: pd.DataFrame, *, by: str, confidence: float = 0.95,
                            survey_coverage_min: float = 0.3) -> pd.DataFrame:
    """Survey coverage by group: ordering accounts in W that responded in W.

    Returns ``group, ordering_accounts, respondents, coverage, ci_low, ci_high,
    below_threshold``. (A response *rate* needs the number invited, which the survey
    data does not carry; coverage is the share of the customer base heard from.)
    """
    a = account_kpis
    col = _group_labels(a[by])
    rows = []
    for grp in sorted(col.unique()):
        s = a[(col == grp).to_numpy()]
        n = int((s["orders_12m"] > 0).sum())
        k = int(((s["orders_12m"] > 0) & s["responded_12m"]).sum())
        lo, hi = _wilson(k, n, confidence)
        cov = k / n if n else np.nan
        rows.append({"group": grp, "ordering_accounts": n, "respondents": k, "coverage": cov, "ci_low": lo,
                     "ci_high": hi, "below_threshold": bool(np.isfinite(cov) and cov < survey_coverage_min)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- concentration
def _positive_sorted(values: pd.Series) -> np.ndarray:
    x = pd.Series(values, dtype="float64").dropna().to_numpy()
    return np.sort(x[x > 0])[::-1]


def compute_concentration_curve(values: pd.Series, *, max_points: int = 1000) -> pd.DataFrame:
    """Pareto (Lorenz-type) curve: cumulative share of revenue by share of accounts, largest first.

    Over accounts with a positive value. Starts at (0, 0); at most ``max_points + 1``
    evenly spaced ranks are kept (always the first and last), so the table stays small
    for a large client.

    Returns ``rank, account_share, revenue_share``.
    """
    x = _positive_sorted(values)
    n = len(x)
    if n == 0:
        return pd.DataFrame({"rank": [0], "account_share": [0.0], "revenue_share": [0.0]})
    cum = np.concatenate([[0.0], np.cumsum(x) / x.sum()])
    ranks = np.arange(n + 1)
    if n > max_points:
        ranks = np.unique(np.round(np.linspace(0, n, max_points + 1)).astype(int))
    return pd.DataFrame({"rank": ranks, "account_share": ranks / n, "revenue_share": cum[ranks]})


def compute_concentration_summary(values: pd.Series) -> pd.DataFrame:
    """Concentration metrics of positive values (revenue_12m by account).

    Formulas (x sorted, n accounts with x > 0)
    ------------------------------------------
    * ``top10_share`` / ``top20_share`` = sum of the ``ceil(0.1 n)`` / ``ceil(0.2 n)``
      largest x / sum x;
    * ``gini`` = sum_i (2i - n - 1) x_(i) / (n sum x), x ascending (0 = equal, max (n-1)/n);
    * ``hhi`` = sum (x_i / sum x)^2 (0-1 scale; 1/n when all equal);
    * ``effective_accounts`` = 1 / hhi (the number of equal-sized accounts with the same HHI);
    * ``accounts_for_80pct`` = share of accounts that together make 80 % of revenue.

    Returns ``metric, value, n, note``.
    """
    x = _positive_sorted(values)
    n = len(x)
    excluded = int((pd.Series(values, dtype="float64").fillna(0) <= 0).sum())
    note = f"{excluded} accounts with no positive revenue excluded" if excluded else ""
    if n == 0:
        return pd.DataFrame({"metric": ["top10_share", "top20_share", "gini", "hhi", "effective_accounts",
                                        "accounts_for_80pct"], "value": np.nan, "n": 0, "note": "no revenue"})
    tot = x.sum()
    asc = x[::-1]
    i = np.arange(1, n + 1)
    gini = float(((2 * i - n - 1) * asc).sum() / (n * tot))
    s = x / tot
    hhi = float((s ** 2).sum())
    cum = np.cumsum(s)
    k80 = int(np.searchsorted(cum, 0.8 - 1e-12) + 1)
    rows = [("top10_share", x[: int(np.ceil(0.1 * n))].sum() / tot),
            ("top20_share", x[: int(np.ceil(0.2 * n))].sum() / tot),
            ("gini", gini), ("hhi", hhi), ("effective_accounts", 1 / hhi), ("accounts_for_80pct", k80 / n)]
    return pd.DataFrame({"metric": [r[0] for r in rows], "value": [float(r[1]) for r in rows], "n": n,
                         "note": note})


def compute_whale_curve(account_kpis: pd.DataFrame, *, profit_col: str = "profit_12m",
                        account_col: str = "account_id", max_points: int = 1000) -> pd.DataFrame:
    """Whale curve: cumulative profit with accounts ranked from most to least profitable.

    Over accounts with a non-missing profit (accounts with an order in W). The curve
    rises above 100 % of total profit and falls back as loss-making accounts are
    added; the peak shows how much profit the unprofitable tail destroys.

    Returns ``rank, account_share, cumulative_profit`` (currency) and
    ``cumulative_profit_share`` (cumulative / total profit; NaN when total <= 0);
    at most ``max_points + 1`` ranks, starting at (0, 0).
    """
    p = account_kpis[[account_col, profit_col]].dropna(subset=[profit_col])
    p = p.sort_values([profit_col, account_col], ascending=[False, True], kind="stable")
    x = p[profit_col].to_numpy(dtype="float64")
    n = len(x)
    if n == 0:
        return pd.DataFrame(columns=["rank", "account_share", "cumulative_profit", "cumulative_profit_share"])
    cum = np.concatenate([[0.0], np.cumsum(x)])
    ranks = np.arange(n + 1)
    if n > max_points:
        ranks = np.unique(np.round(np.linspace(0, n, max_points + 1)).astype(int))
    total = cum[-1]
    return pd.DataFrame({"rank": ranks, "account_share": ranks / n if n else 0.0, "cumulative_profit": cum[ranks],
                         "cumulative_profit_share": cum[ranks] / total if total > 0 else np.nan})


# --------------------------------------------------------------------------- cohorts
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
    freq = _FREQ[period]
    o["p"] = o[date_col].dt.to_period(freq)
    first = pos.assign(p=pos[date_col].dt.to_period(freq)).groupby(account_col)["p"].min().rename("cohort_p")
    o = o.join(first, on=account_col, how="inner")
    o["k"] = (o["p"] - o["cohort_p"]).map(lambda d: d.n)
    o = o[o["k"] >= 0]
    last_p = (_ts(as_of) if as_of is not None else o[date_col].max()).to_period(freq)
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
