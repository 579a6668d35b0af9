"""The fast code paths of issue 15 give the tables the slow ones gave.

Cohort retention (integer period arithmetic instead of Period objects per order) and the
churn training frames (transactions read once for every cut-off instead of once per
cut-off) are compared with frozen copies of the implementations they replaced, on the
small demo client and on hand-made edge cases (refunds, orders spread over several days,
lines without a category, an as-of date before the data).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.metrics.activity import PERIOD_FREQ, to_day
from kam_analysis.models import churn
from tests.conftest import order_frame


# ---------------------------------------------------------------- the replaced implementations
def cohort_retention_reference(orders, *, period="quarter", as_of=None, min_denominator=30,
                               account_col="account_id", date_col="order_date", revenue_col="revenue"):
    """compute_cohort_retention as it was: Period arithmetic per order, one dict per cell."""
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
        r0 = float(rev.get((cp, 0), 0.0))
        for k in range(0, (last_p - cp).n + 1):
            a_ = int(act.get((cp, k), 0))
            r = float(rev.get((cp, k), 0.0))
            label = {"M": f"{cp.year}-{cp.month:02d}", "Q": f"{cp.year}-Q{cp.quarter}", "Y": f"{cp.year}"}[freq]
            rows.append({"cohort": cp.start_time, "cohort_label": label, "period_index": k, "accounts": n,
                         "active_accounts": a_, "retention": a_ / n, "revenue": r,
                         "revenue_retention": r / r0 if r0 > 0 else np.nan,
                         "left_censored": cp == data_first, "small_cohort": n < min_denominator})
    return pd.DataFrame(rows, columns=cols)


def churn_frame_reference(transactions, *, cutoff, horizon_days, activity_days, data_end=None):
    """The SQL part of build_churn_frame as it was: one pass over the order lines per cut-off."""
    import duckdb

    from kam_analysis.data.prepare import active_sql, counted_order_sql, exact_sum

    con = duckdb.connect()
    try:
        if isinstance(transactions, pd.DataFrame):
            con.register("src_tx", transactions)
            src, has_cat = "src_tx", "category" in transactions.columns
        else:
            src = transactions
            has_cat = "category" in [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        c = f"DATE '{pd.Timestamp(cutoff).date()}'"
        counted = counted_order_sql("rev")
        end = f"DATE '{(pd.Timestamp(cutoff) + pd.Timedelta(days=horizon_days)).date()}'"
        cat_expr = (f"count(DISTINCT category) FILTER (WHERE order_date > {c} - INTERVAL 12 MONTH AND net_revenue > 0)"
                    if has_cat else "NULL")
        return con.execute(f"""
            WITH tx AS (SELECT account_id, order_id, order_date, net_revenue{', category' if has_cat else ''}
                        FROM {src} WHERE order_date <= {end}),
            o AS (SELECT account_id, order_id, min(order_date) AS d, {exact_sum('net_revenue')} AS rev FROM tx GROUP BY ALL),
            hist AS (
                SELECT account_id,
                       max(d) FILTER (WHERE {counted}) AS last_d, min(d) FILTER (WHERE {counted}) AS first_d,
                       count(*) FILTER (WHERE {counted} AND d > {c} - INTERVAL 6 MONTH) AS o_recent,
                       count(*) FILTER (WHERE {counted} AND d <= {c} - INTERVAL 6 MONTH
                                                 AND d > {c} - INTERVAL 12 MONTH) AS o_prior,
                       count(*) FILTER (WHERE {counted} AND d > {c} - INTERVAL 12 MONTH) AS orders_12m,
                       CAST(coalesce(sum(rev) FILTER (WHERE d > {c} - INTERVAL 12 MONTH), 0) AS DOUBLE) AS revenue_12m
                FROM o WHERE d <= {c} GROUP BY account_id),
            cat AS (SELECT account_id, {cat_expr} AS category_breadth FROM tx WHERE order_date <= {c} GROUP BY 1),
            fut AS (SELECT account_id, count(*) FILTER (WHERE {counted}) AS o_future FROM o
                    WHERE d > {c} AND d <= {end} GROUP BY account_id)
            SELECT h.*, cat.category_breadth, coalesce(fut.o_future, 0) AS o_future
            FROM hist h LEFT JOIN cat USING (account_id) LEFT JOIN fut USING (account_id)
            WHERE {active_sql('h.last_d', as_of=c, churn_days=activity_days)}
            ORDER BY account_id""").df()
    finally:
        con.close()


def _frame_from_reference(sql_df, cutoff, *, has_cat, observed):
    """The pandas part of the old build_churn_frame (unchanged by the rewrite) on the reference SQL."""
    cut = pd.Timestamp(cutoff)
    out = pd.DataFrame({"account_id": sql_df["account_id"].astype(str), "cutoff": cut,
                        "revenue_12m": sql_df["revenue_12m"].astype(float)})
    out["recency_months"] = (cut - pd.to_datetime(sql_df["last_d"])).dt.days / 30.44
    out["orders_12m_log2"] = np.log2(sql_df["orders_12m"].clip(lower=1).astype(float))
    out["frequency_trend"] = np.log2((sql_df["o_recent"] + 1.0) / (sql_df["o_prior"] + 1.0))
    out["tenure_years"] = (cut - pd.to_datetime(sql_df["first_d"])).dt.days / 365.25
    if has_cat:
        out["category_breadth"] = sql_df["category_breadth"].fillna(0).astype(float)
    out["churned"] = (sql_df["o_future"].to_numpy() == 0).astype(float) if observed else np.nan
    return out


# ---------------------------------------------------------------- cohorts
#: compute_cohort_retention runs in DuckDB (a frame through OrderSource.from_frame) and sums money
#: exactly (DECIMAL, rounded once); the reference adds doubles in pandas: revenue may differ in the
#: last bits, everything else must be equal
MONEY = dict(check_exact=False, rtol=1e-13, atol=1e-9)


@pytest.fixture(scope="module")
def demo_orders(demo_run):
    return order_frame(demo_run)


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_cohort_retention_equals_the_period_object_version_on_the_demo(demo_orders, demo_run, period):
    as_of = demo_run.params.analysis.as_of_date
    for kw in ({"as_of": as_of}, {"as_of": None}, {"as_of": pd.Timestamp(as_of) - pd.DateOffset(years=1)}):
        new = metrics.compute_cohort_retention(demo_orders, period=period, min_denominator=30, **kw)
        old = cohort_retention_reference(demo_orders, period=period, min_denominator=30, **kw)
        assert len(new) > 3
        pd.testing.assert_frame_equal(new, old, **MONEY)


def test_cohort_retention_equals_the_old_version_on_edge_cases():
    o = pd.DataFrame({"account_id": ["A", "A", "B", "B", "C", "D", "D"],
                      "order_date": pd.to_datetime(["2023-12-31", "2024-01-01", "2023-11-05", "2024-07-01",
                                                    "2024-02-02", "2023-01-01", "2024-03-03"]),
                      "revenue": [-20.0, 50.0, 10.0, -5.0, -7.0, 0.0, 3]}, index=[9, 3, 5, 1, 0, 2, 7])
    for period in ("month", "quarter", "year"):
        for as_of in (None, "2024-12-31", "2022-06-30"):
            pd.testing.assert_frame_equal(metrics.compute_cohort_retention(o, period=period, as_of=as_of),
                                          cohort_retention_reference(o, period=period, as_of=as_of), **MONEY)
    # an as-of date before every order: no cell; only refunds: no cohort
    assert metrics.compute_cohort_retention(o, as_of="2022-06-30").empty
    assert metrics.compute_cohort_retention(o[o["revenue"] <= 0]).empty


# ---------------------------------------------------------------- churn frames
def _compare_churn(transactions, cutoffs, *, horizon_days, activity_days, data_end, has_cat):
    new = churn.build_churn_frames(transactions, cutoffs=cutoffs, horizon_days=horizon_days,
                                   activity_days=activity_days, data_end=data_end)
    assert sorted(new) == sorted(pd.Timestamp(c) for c in cutoffs)
    for c in (pd.Timestamp(c).date() for c in cutoffs):  # the old code was called with dates
        observed = pd.Timestamp(c) + pd.Timedelta(days=horizon_days) <= pd.Timestamp(data_end)
        old = _frame_from_reference(churn_frame_reference(transactions, cutoff=c, horizon_days=horizon_days,
                                                          activity_days=activity_days), c,
                                    has_cat=has_cat, observed=observed)
        pd.testing.assert_frame_equal(new[pd.Timestamp(c)], old, check_exact=True)
        # the single-cut-off entry point gives the same frame
        one = churn.build_churn_frame(transactions, cutoff=c, horizon_days=horizon_days,
                                      activity_days=activity_days, data_end=data_end)
        pd.testing.assert_frame_equal(one, old, check_exact=True)
    return new


def test_churn_frames_equal_one_pass_per_cutoff_on_the_demo(demo_run):
    as_of = pd.Timestamp(demo_run.params.analysis.as_of_date)
    cutoffs = [as_of - pd.Timedelta(days=d) for d in (0, 180, 271, 360, 451, 542)]
    frames = _compare_churn(demo_run.transactions_sql(), cutoffs, horizon_days=180, activity_days=365,
                            data_end=as_of.date(), has_cat=True)
    assert min(len(f) for f in frames.values()) > 50
    assert frames[cutoffs[1]]["churned"].between(0, 1).all() and frames[as_of]["churned"].isna().all()


def test_churn_frames_equal_the_old_ones_on_edge_cases():
    # order 2 has lines on two days straddling a cut-off's outcome end; order 5 is a refund;
    # account C has lines without a category; E bought only in the outcome window
    d = pd.to_datetime
    tx = pd.DataFrame({
        "account_id": ["A", "A", "A", "A", "B", "B", "B", "C", "C", "D", "E"],
        "order_id": ["1", "2", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
        "order_date": d(["2023-03-01", "2023-09-29", "2023-10-03", "2024-01-15", "2023-06-01", "2023-08-01",
                         "2023-12-01", "2023-05-05", "2023-09-09", "2022-01-01", "2023-08-15"]),
        "net_revenue": [100.0, 40.0, 60.0, 80.0, 30.0, -30.0, 45.5, 12.0, 13.0, 9.0, 20.0],
        "category": ["x", "y", "y", "x", "x", "x", "z", None, None, "x", "y"]})
    cutoffs = [dt.date(2023, 7, 1), dt.date(2023, 8, 1), dt.date(2023, 9, 30)]
    _compare_churn(tx, cutoffs, horizon_days=2, activity_days=365, data_end=dt.date(2024, 3, 1), has_cat=True)
    _compare_churn(tx, cutoffs, horizon_days=92, activity_days=200, data_end=dt.date(2023, 11, 1), has_cat=True)
    _compare_churn(tx.drop(columns="category"), cutoffs, horizon_days=92, activity_days=365,
                   data_end=dt.date(2024, 3, 1), has_cat=False)
