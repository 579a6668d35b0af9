"""The assessment's order-level work in DuckDB (``metrics.engine.OrderSource``).

``metrics.engine.OrderSource`` keeps the orders in the engine (issue 15: no order-level
frame in pandas); ``compute_account_kpis``, ``compute_period_kpis`` (period-on-period
retention) and ``compute_cohort_retention`` take it, and a pandas order frame goes into the
same SQL through ``OrderSource.from_frame`` (one definition of each KPI). Checked by hand on
order lines: refunds (a refund-only order, a refund before the first purchase), one
account, an order whose lines span several days (and a window edge), no margin. Period
retention (by group too) is checked by hand on order lines (a return line, a credit note, a
zero-revenue line, an order across a quarter's end, the churn window's edge) and on the demo
against the activity rule in pandas (``compute_retention``); the CLV summary (one SQL for
order lines and a pandas frame) is checked by hand.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.metrics.engine import OrderSource, duckdb_connect
from tests.conftest import order_frame


def _source(lines: pd.DataFrame, tmp_path, name: str) -> OrderSource:
    path = tmp_path / f"{name}.parquet"
    lines.to_parquet(path, index=False)
    return OrderSource(f"read_parquet('{path}')")


def test_the_demo_in_the_engine(demo_run):
    p = demo_run.params.analysis
    source = OrderSource.from_run(demo_run)
    new = metrics.compute_account_kpis(source, as_of=p.as_of_date, churn_days=p.churn_days,
                                       accounts=demo_run.read_data("accounts"))
    assert len(new) > 100 and new["active"].sum() > 50 and new["revenue_12m"].gt(0).sum() > 50
    ap = demo_run.read_table("account_period")
    kpis = metrics.compute_period_kpis(ap, orders=source, period=p.period, as_of=p.as_of_date,
                                       churn_days=p.churn_days)
    assert kpis["retention_base"].gt(0).sum() > 3
    # each period's retention is the activity rule in pandas (compute_retention) between the day
    # before the period and its end (the as-of date for the last, partial one)
    orders = order_frame(demo_run)
    for _, r in kpis[kpis["retention_base"] > 0].iterrows():
        want = metrics.compute_retention(orders, start=r["period_start"] - pd.Timedelta(days=1),
                                         end=r["period_end"], churn_days=p.churn_days)
        assert r["retention_base"] == want["base"] and r["period_retention_rate"] == want["retention_rate"]


# ---------------------------------------------------------------- period retention by hand
def _retention_lines() -> pd.DataFrame:
    """Order lines of three accounts (churn_days 90; an account is active at d when its last counted
    order, net revenue > 0, is 0 to 89 days before d)."""
    rows = [
        # A: O1's return line leaves 100 (counted); O3's lines fall on 29 Sep and 2 Oct: one order dated 29 Sep
        ("A", "O1", "2023-01-01", 120.0), ("A", "O1", "2023-01-01", -20.0), ("A", "O2", "2023-06-05", 80.0),
        ("A", "O3", "2023-09-29", 50.0), ("A", "O3", "2023-10-02", 25.0), ("A", "O4", "2024-03-01", 40.0),
        # B: a credit note (a return only) and a zero-revenue line: neither counts
        ("B", "O5", "2023-02-15", 60.0), ("B", "O6", "2023-05-20", 30.0), ("B", "O7", "2023-08-10", -30.0),
        ("B", "O8", "2023-09-15", 0.0),
        # C: O10 is exactly 90 days before 30 Sep; O11's return line, two days later, nets it to zero (no order)
        ("C", "O9", "2023-03-20", 200.0), ("C", "O10", "2023-07-02", 90.0), ("C", "O11", "2024-01-10", 50.0),
        ("C", "O11", "2024-01-12", -50.0), ("C", "O12", "2024-04-01", 10.0)]
    lines = pd.DataFrame(rows, columns=["account_id", "order_id", "order_date", "net_revenue"])
    lines["order_date"] = pd.to_datetime(lines["order_date"])
    lines["gross_margin"] = np.nan
    return lines


#: the groups: C has none (it counts in the all-accounts rows only); E never ordered, so group z has
#: no active account in any period
GROUPS = pd.Series({"A": "x", "B": "x", "E": "z"})
SHORT = "retention needs 90 days of history before the period"
NONE_ACTIVE = "no account active before the period"
#: Quarterly retention of _retention_lines(), as of 15 May 2024, churn_days 90. Active accounts (days
#: since the last counted order) at each quarter's base date (the day before it) and end:
#:   2023-03-31  A (1 Jan: 30+28+31 = 89 < 90) B (15 Feb: 44) C (20 Mar: 11)          -> A B C
#:   2023-06-30  A (5 Jun: 25) B (20 May: 41); C (20 Mar: 102) no                      -> A B
#:   2023-09-30  A (O3 dated 29 Sep: 1); B (20 May: 133; the credit note of 10 Aug and the
#:               zero line of 15 Sep do not count) no; C (2 Jul: 29+31+30 = 90, not < 90) no -> A
#:   2023-12-31  A (29 Sep: 1+31+30+31 = 93) no, B and C no                            -> none
#:   2024-03-31  A (1 Mar: 30); C (O11 nets to 0: not counted; 2 Jul) no               -> A
#:   2024-05-15  A (1 Mar: 30+30+15 = 75) C (1 Apr: 44, reactivated: outside any base)  -> A C
#: 2023-Q1's base date, 31 Dec 2022, has no 90 days of history (the data start on 1 Jan 2023; 2023-Q2's
#: base date is 89 days after it, just enough). base = active at the base date, retained = of those,
#: active at the end; rate = retained / base:
#:   2023-Q2  all 3 -> 2 (A B) = 2/3; x (A B) 2 -> 2 = 1
#:   2023-Q3  all 2 (A B) -> 1 (A) = 1/2; x the same
#:   2023-Q4  all 1 (A) -> 0 = 0; x the same
#:   2024-Q1  nobody active on 31 Dec 2023
#:   2024-Q2  all 1 (A) -> 1 (A, still active on 15 May) = 1; x the same
BY_HAND = pd.DataFrame([
    # period       All (base, retained, note)    x                       z
    ("2023-01-01", (0, 0, SHORT),              (0, 0, SHORT),          (0, 0, SHORT)),
    ("2023-04-01", (3, 2, ""),                 (2, 2, ""),             (0, 0, NONE_ACTIVE)),
    ("2023-07-01", (2, 1, ""),                 (2, 1, ""),             (0, 0, NONE_ACTIVE)),
    ("2023-10-01", (1, 0, ""),                 (1, 0, ""),             (0, 0, NONE_ACTIVE)),
    ("2024-01-01", (0, 0, NONE_ACTIVE),        (0, 0, NONE_ACTIVE),    (0, 0, NONE_ACTIVE)),
    ("2024-04-01", (1, 1, ""),                 (1, 1, ""),             (0, 0, NONE_ACTIVE)),
], columns=["period_start", "All", "x", "z"])


def _expected(groups: list) -> pd.DataFrame:
    rows = []
    for _, r in BY_HAND.iterrows():
        for g in groups:
            base, kept, note = r["All" if g is None else g]
            rate = kept / base if base else np.nan
            rows.append({"period_start": pd.Timestamp(r["period_start"]), "group": g, "base": base,
                         "retained": kept, "period_retention_rate": rate, "period_churn_rate": 1 - rate,
                         "note": note})
    return pd.DataFrame(rows)


def _retention_both(tmp_path, **kw):
    """Period retention of _retention_lines() from a Parquet relation of the lines and from the lines as a frame."""
    lines = _retention_lines()
    kw = dict(as_of="2024-05-15", churn_days=90, **kw)
    return (metrics.compute_period_retention(_source(lines, tmp_path, "lines"), **kw),
            metrics.compute_period_retention(lines, revenue_col="net_revenue", **kw))


def test_period_retention_by_hand(tmp_path):
    for got in _retention_both(tmp_path, period="quarter"):
        pd.testing.assert_frame_equal(got, _expected([None]), check_dtype=False)
    for got in _retention_both(tmp_path, period="quarter", groups=GROUPS, all_label="All"):
        pd.testing.assert_frame_equal(got, _expected(["All", "x", "z"]), check_dtype=False)
    for got in _retention_both(tmp_path, period="quarter", groups=GROUPS):   # groups only: no all-accounts rows
        pd.testing.assert_frame_equal(got, _expected(["x", "z"]), check_dtype=False)


def test_period_retention_by_hand_in_months(tmp_path):
    for got in _retention_both(tmp_path, period="month"):
        got = got.set_index("period_start")
        assert len(got) == 17                                  # January 2023 to May 2024
        # August 2023: A (5 Jun: 56 days), B (20 May: 72) and C (2 Jul: 29) active on 31 Jul; on 31 Aug A
        # (87) and C (60) still are, B (103; its credit note of 10 Aug does not count) is not: 2 of 3
        assert tuple(got.loc["2023-08-01", ["base", "retained"]]) == (3, 2)
        # October 2023: A (29 Sep) active on 30 Sep and on 31 Oct (32 days): 1 of 1
        assert tuple(got.loc["2023-10-01", ["base", "retained"]]) == (1, 1)
        # May 2024 ends at the as-of date, 15 May: A (1 Mar: 60 days on 30 Apr, 75 on 15 May) and C
        # (1 Apr: 29, then 44) stay active: 2 of 2 (on 31 May A's 91 days would have churned it)
        assert tuple(got.loc["2024-05-01", ["base", "retained"]]) == (2, 2)
        # February 2024: nobody active on 31 Jan (A's 29 Sep is 124 days back, C's zero order of 10 Jan
        # does not count); April 2024: A (1 Mar: 30 days on 31 Mar, 60 on 30 Apr): 1 of 1
        assert got.at["2024-02-01", "base"] == 0 and got.at["2024-02-01", "note"] == NONE_ACTIVE
        assert tuple(got.loc["2024-04-01", ["base", "retained"]]) == (1, 1)
        # the history is short (under 90 days before the base date) up to March 2023
        assert (got.loc[:"2023-03-01", "note"] == SHORT).all() and got.at["2023-04-01", "note"] == ""


def _lines():
    d = pd.to_datetime
    return pd.DataFrame({
        # A: a refund before its first purchase, an order whose lines span the window edge and
        # three days, a refund-only credit note as its latest document; B: one order a year;
        # C: only refunds; D: exactly churn_days back at the as-of date
        "account_id": ["A", "A", "A", "A", "A", "A", "B", "B", "C", "D", "D"],
        "order_id": ["r0", "1", "2", "2", "2", "3", "4", "5", "6", "7", "8"],
        "order_date": d(["2022-12-20", "2023-01-10", "2023-06-30", "2023-07-01", "2023-07-03", "2024-05-01",
                         "2022-03-03", "2023-03-03", "2023-08-08", "2023-01-05", "2023-12-03"]),
        "net_revenue": [-15.0, 100.10, 40.0, 60.35, -5.0, -20.0, 70.0, 80.25, -9.99, 30.0, 12.5],
        "gross_margin": [-5.0, 30.0, 10.0, None, 1.0, -6.0, 20.0, 25.0, -3.0, 9.0, 4.0]})


def test_hand_computed_account_row(tmp_path):
    """A's order 2 (lines on 30 June, 1 and 3 July) is one order dated 30 June, summed exactly."""
    a = metrics.compute_account_kpis(_source(_lines(), tmp_path, "l"), as_of="2024-05-31", churn_days=365)
    a = a.set_index("account_id")
    assert a.at["A", "n_orders"] == 2                 # orders 1 and 2; r0 and 3 are refunds
    # W = (2023-05-31, 2024-05-31]: order 2 (100.35 - 5 = 95.35) and the credit note 3 (-20)
    assert a.at["A", "revenue_12m"] == 75.35 and a.at["A", "orders_12m"] == 1
    assert a.at["A", "revenue_prev_12m"] == 85.10     # P: r0 (-15) and order 1 (100.10)
    assert a.at["A", "revenue_total"] == 160.45       # exact decimal sum, rounded once
    assert a.at["A", "last_order_date"] == pd.Timestamp("2023-06-30")
    assert bool(a.at["D", "active"]) is (pd.Timestamp("2023-12-03") > pd.Timestamp("2024-05-31") - pd.Timedelta(days=365))
    assert a.at["C", "n_orders"] == 0 and not a.at["C", "active"]


def test_hand_computed_cohorts_on_lines(tmp_path):
    """Cohorts of the order lines, from a Parquet relation and from the same lines as a frame."""
    lines = _lines()
    for orders, kw in ((_source(lines, tmp_path, "c"), {}), (lines, {"revenue_col": "net_revenue"})):
        y = metrics.compute_cohort_retention(orders, period="year", as_of="2024-05-31", min_denominator=2, **kw)
        y = y.set_index(["cohort_label", "period_index"])
        # B from 2022 (left-censored); A (its 2022 refund r0 precedes its first order) and D from 2023; C never
        assert list(y.index) == [("2022", 0), ("2022", 1), ("2022", 2), ("2023", 0), ("2023", 1)]
        assert y.loc[("2022", 1), "revenue"] == 80.25 and y.loc[("2022", 2), "active_accounts"] == 0
        assert y.loc[("2023", 0), "accounts"] == 2 and y.loc[("2023", 0), "revenue"] == 237.95
        assert y.loc[("2023", 1), "active_accounts"] == 0 and y.loc[("2023", 1), "revenue"] == -20.0
        assert y.loc[("2023", 1), "revenue_retention"] == pytest.approx(-20.0 / 237.95)
        assert y["left_censored"].tolist() == [True, True, True, False, False]
        q = metrics.compute_cohort_retention(orders, period="quarter", as_of="2024-05-31", min_denominator=2, **kw)
        q = q[q["cohort_label"] == "2023-Q1"].set_index("period_index")
        # A's order 2 (lines 30 June - 3 July) is dated 30 June: all of it in Q2, none in Q3
        assert q.at[1, "revenue"] == 95.35 and q.at[1, "active_accounts"] == 1 and q.at[2, "revenue"] == 0.0
        assert q.at[3, "active_accounts"] == 1 and q.at[3, "revenue"] == 12.5   # D in 2023-Q4


def test_memory_limit_is_set_and_overridable(monkeypatch):
    con = duckdb_connect()
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0].replace(" ", "") in ("1.8GiB", "2.0GB",
                                                                                                  "1.9GiB", "1.8 GiB")
    con.close()
    monkeypatch.setenv("KAM_DUCKDB_MEMORY_LIMIT", "700MB")
    con = duckdb_connect()
    assert "MiB" in con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.close()
    monkeypatch.setenv("KAM_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="KAM_DUCKDB_MEMORY_LIMIT"):
        duckdb_connect()


# ---------------------------------------------------------------- CLV purchase-day summary
#: the purchase days of _lines(): A 2023-01-10 (100.10), 06-30 (40.0), 07-01 (60.35) -- its refund r0,
#: the -5 line of 07-03 and the credit note 3 net to <= 0 on their days: no purchase; B 2022-03-03 (70.0),
#: 2023-03-03 (80.25); D 2023-01-05 (30.0), 12-03 (12.5); C only refunds: never a purchase
def _clv_both(tmp_path, **kw):
    """The summary of _lines() from a relation of order lines and from the same lines as a frame."""
    from kam_analysis.models import clv

    lines = _lines()
    by_rel = clv.compute_clv_summary_from_run(None, relation=_source(lines, tmp_path, "clv").relation, **kw)
    by_frame = clv.compute_clv_summary(lines, value_col="net_revenue", order_lines=True, **kw)
    return by_rel.set_index("account_id"), by_frame.set_index("account_id")


def test_clv_summary_by_hand_in_weeks(tmp_path):
    for s in _clv_both(tmp_path, observation_end="2024-05-31"):
        assert list(s.index) == ["A", "B", "D"]
        assert list(s.columns) == ["frequency", "recency", "T", "monetary_value"]
        # A: 3 purchase days = 2 repeats; t_x = 10 Jan -> 1 Jul 2023 = 172 days, T = 10 Jan 2023 -> 31 May 2024
        assert s.at["A", "frequency"] == 2 and s.at["A", "recency"] == pytest.approx(172 / 7)
        assert s.at["A", "T"] == pytest.approx(507 / 7)
        assert s.at["A", "monetary_value"] == pytest.approx((40.0 + 60.35) / 2)   # repeat days only
        assert s.at["B", "frequency"] == 1 and s.at["B", "recency"] == pytest.approx(365 / 7)
        assert s.at["B", "T"] == pytest.approx(820 / 7) and s.at["B", "monetary_value"] == 80.25
        assert s.at["D", "recency"] == pytest.approx(332 / 7) and s.at["D", "T"] == pytest.approx(512 / 7)
        assert s.at["D", "monetary_value"] == 12.5


def test_clv_summary_by_hand_with_a_holdout_in_days(tmp_path):
    rel, frame = _clv_both(tmp_path, observation_end="2024-05-31", calibration_end="2023-06-30", time_unit_days=1.0)
    for s in (rel, frame):
        assert list(s.index) == ["A", "B", "D"]
        # A: 10 Jan and 30 Jun in calibration (x = 1, m = 40), 1 Jul in the holdout
        assert tuple(s.loc["A", ["frequency", "recency", "T", "monetary_value"]]) == (1, 171.0, 171.0, 40.0)
        assert s.at["A", "frequency_holdout"] == 1 and s.at["A", "monetary_holdout"] == 60.35
        assert tuple(s.loc["B", ["frequency", "recency", "T", "monetary_value"]]) == (1, 365.0, 484.0, 80.25)
        assert s.at["B", "frequency_holdout"] == 0 and s.at["B", "monetary_holdout"] == 0.0
        # D: one purchase in calibration (no repeat: recency and m are 0), its second in the holdout
        assert tuple(s.loc["D", ["frequency", "recency", "T", "monetary_value"]]) == (0, 0.0, 176.0, 0.0)
        assert s.at["D", "frequency_holdout"] == 1 and s.at["D", "monetary_holdout"] == 12.5
        assert (s["duration_holdout"] == 336.0).all()          # 30 Jun 2023 -> 31 May 2024
    pd.testing.assert_frame_equal(rel, frame)                   # one SQL, whichever way the lines come in


def test_clv_summary_of_the_run_stops_at_its_as_of_date(demo_run):
    from kam_analysis.models import clv

    as_of = pd.Timestamp(demo_run.params.analysis.as_of_date)
    full = clv.compute_clv_summary_from_run(demo_run, observation_end=as_of)
    assert len(full) > 100 and full["frequency"].gt(3).sum() > 20 and full["account_id"].map(type).eq(str).all()
    assert (full["recency"] <= full["T"]).all() and full["monetary_value"].ge(0).all()
    # an observation end after the as-of date adds no purchases, only age
    later = clv.compute_clv_summary_from_run(demo_run, observation_end=as_of + pd.Timedelta(weeks=2))
    pd.testing.assert_series_equal(later["frequency"], full["frequency"])
    np.testing.assert_allclose(later["T"], full["T"] + 2.0)


def test_a_phase_kernel_gets_one_blas_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    from kam_analysis import runner
    from kam_analysis.exceptions import KAMError

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    try:
        assert runner.limit_blas_threads() == 1
        assert blas_threads() in (set(), {1})   # set() only where numpy has no threaded BLAS
        monkeypatch.setenv("KAM_BLAS_THREADS", "0")
        assert runner.limit_blas_threads() is None
        monkeypatch.setenv("KAM_BLAS_THREADS", "two")
        with pytest.raises(KAMError, match="KAM_BLAS_THREADS"):
            runner.limit_blas_threads()
    finally:
        if runner._BLAS_LIMIT is not None:
            runner._BLAS_LIMIT.restore_original_limits()


# ---------------------------------------------------------------------------- an order frame in the engine
def _five():
    """Five order rows; W = (2023-06-30, 2024-06-30], P = (2022-06-30, 2023-06-30]."""
    return pd.DataFrame({
        "account_id": ["A", "A", "A", "B", "B"],
        "order_date": pd.to_datetime(["2023-03-15", "2024-05-01", "2024-06-10", "2022-01-10", "2024-01-20"]),
        "revenue": [100.0, 50.5, -20.0, 80.0, 40.25],        # A's 2024-06-10 is a refund (not an order)
        "gross_margin": [30.0, 10.0, -5.0, 20.0, np.nan]})


def test_from_frame_account_kpis_by_hand():
    df = _five()
    before = df.copy()
    a = metrics.compute_account_kpis(OrderSource.from_frame(df), as_of="2024-06-30", churn_days=90)
    pd.testing.assert_frame_equal(df, before)          # the caller's frame is untouched
    a = a.set_index("account_id")
    assert list(a.index) == ["A", "B"]
    assert a.at["A", "n_orders"] == 2 and a.at["B", "n_orders"] == 2
    assert a.at["A", "revenue_total"] == 130.5 and a.at["B", "revenue_total"] == 120.25
    assert a.at["A", "revenue_12m"] == 30.5 and a.at["A", "orders_12m"] == 1
    assert a.at["A", "revenue_prev_12m"] == 100.0 and a.at["A", "orders_prev_12m"] == 1
    assert a.at["B", "revenue_12m"] == 40.25 and a.at["B", "revenue_prev_12m"] == 0.0
    assert a.at["A", "gross_margin_12m"] == 5.0 and a.at["A", "gross_margin_total"] == 35.0
    assert a.at["B", "gross_margin_12m"] == 0.0 and a.at["B", "gross_margin_total"] == 20.0  # NaN margin = none
    assert a.at["A", "last_order_date"] == pd.Timestamp("2024-05-01")      # the refund is not the last order
    assert a.at["A", "first_order_date"] == pd.Timestamp("2023-03-15")
    # active = last counted order in (T - 90 days, T]: A on 2024-05-01 yes, B on 2024-01-20 no
    assert bool(a.at["A", "active"]) and not bool(a.at["B", "active"])
    assert not bool(a.at["A", "active_at_start"])      # 2023-03-15 is more than 90 days before 2023-06-30
    assert not a["is_new_12m"].any()
    assert a.attrs["data_start"] == "2022-01-10" and a.attrs["has_margin"] and a.attrs["clv_basis"] == "margin"


def test_from_frame_orders_margin_and_column_names():
    df = _five().rename(columns={"account_id": "cust", "order_date": "day", "revenue": "net"})
    df["doc"] = ["o1", "o2", "o2", "o3", "o4"]           # A's refund is a line of order o2: one order of 30.5
    src = OrderSource.from_frame(df.drop(columns="gross_margin"), account_col="cust", date_col="day",
                                 revenue_col="net", order_col="doc")
    a = metrics.compute_account_kpis(src, as_of="2024-06-30", churn_days=90).set_index("account_id")
    assert a.at["A", "orders_12m"] == 1 and a.at["A", "revenue_12m"] == 30.5 and a.at["A", "n_orders"] == 2
    assert a.at["A", "last_order_date"] == pd.Timestamp("2024-05-01")
    # no margin column: no margin KPIs, the CLV basis is revenue
    assert not a.attrs["has_margin"] and a["gross_margin_12m"].isna().all()
    assert a.at["A", "clv_historical"] == 130.5
    # up_to leaves out the later orders; the frame is registered again in each connection
    early = metrics.compute_account_kpis(src.up_to("2023-12-31"), as_of="2023-12-31", churn_days=90)
    assert early.set_index("account_id").at["A", "revenue_total"] == 100.0
    with pytest.raises(ValueError, match="'order_date'"):
        OrderSource.from_frame(df)


def test_from_frame_cohorts_by_hand():
    c = metrics.compute_cohort_retention(OrderSource.from_frame(_five()), period="year", as_of="2024-06-30",
                                         min_denominator=2)
    c = c.set_index(["cohort_label", "period_index"])
    # B's cohort is 2022 (left-censored: the data starts then), A's 2023
    assert list(c.index) == [("2022", 0), ("2022", 1), ("2022", 2), ("2023", 0), ("2023", 1)]
    assert c.loc[("2022", 1), "active_accounts"] == 0 and c.loc[("2022", 2), "revenue"] == 40.25
    assert c.loc[("2023", 1), "revenue"] == 30.5 and c.loc[("2023", 1), "revenue_retention"] == 0.305
    assert c.loc[("2023", 1), "retention"] == 1.0
    assert c["left_censored"].tolist() == [True, True, True, False, False] and c["small_cohort"].all()
def test_validation_and_kernels_share_one_memory_cap(monkeypatch):
    """The runner's validation/preparation connection and a kernel's connection take the same cap."""
    from kam_analysis.data.readers import connect_duckdb

    monkeypatch.setenv("KAM_DUCKDB_MEMORY_LIMIT", "900MB")
    a, b = connect_duckdb(), duckdb_connect()
    try:
        caps = {c.execute("SELECT current_setting('memory_limit')").fetchone()[0] for c in (a, b)}
    finally:
        a.close(), b.close()
    assert len(caps) == 1 and "MiB" in caps.pop()


def test_a_bad_memory_setting_stops_a_run_with_a_clear_message(tmp_path, monkeypatch, capsys):
    """``kam validate`` with an unusable KAM_DUCKDB_MEMORY_LIMIT: exit code, the variable and the fix, no traceback."""
    from kam_analysis.cli import main
    from conftest import write_demo_params

    params = write_demo_params(tmp_path, n_accounts=60)
    monkeypatch.setenv("KAM_DUCKDB_MEMORY_LIMIT", "lots")
    code = main(["validate", str(params)])
    out = capsys.readouterr()
    assert code != 0
    text = out.out + out.err
    assert "KAM_DUCKDB_MEMORY_LIMIT" in text and "2GB" in text and "Traceback" not in text


@pytest.mark.parametrize("churn_days", [20, 90, 200])
def test_period_retention_is_the_activity_rule_on_random_orders(churn_days):
    """Each period's base and retained, overall and by group, are compute_retention's (the activity rule in
    pandas) between the day before the period and its end, on 3,000 random orders of 200 accounts (10% refunds,
    several orders a day, accounts without a group, a group label no account has ordered under)."""
    rng = np.random.default_rng(churn_days)
    n = 3000
    frame = pd.DataFrame({"account_id": rng.integers(0, 200, n).astype(str),
                          "order_date": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1300, n), unit="D"),
                          "revenue": np.where(rng.random(n) < 0.1, -5.0, rng.random(n) * 100)})
    groups = pd.Series(rng.choice(["a", "b"], 150), index=[str(i) for i in range(150)])
    groups["never"] = "c"
    as_of = pd.Timestamp("2024-06-15")
    got = metrics.compute_period_retention(OrderSource.from_frame(frame), period="quarter", as_of=as_of,
                                           churn_days=churn_days, groups=groups, all_label="All")
    assert len(got) == 4 * got["period_start"].nunique() and got["base"].sum() > 500
    for _, r in got.iterrows():
        if r["note"].startswith("retention needs"):
            assert r["base"] == 0 and np.isnan(r["period_retention_rate"])
            continue
        members = frame if r["group"] == "All" else frame[frame["account_id"].isin(groups.index[groups == r["group"]])]
        end = min(r["period_start"] + pd.offsets.QuarterEnd(0), as_of)
        want = metrics.compute_retention(members, start=r["period_start"] - pd.Timedelta(days=1), end=end,
                                         churn_days=churn_days)
        assert (r["base"], r["retained"]) == (want["base"], want["retained"]), (r["period_start"], r["group"])


def test_the_runs_orders_file_is_the_lines_summed_per_order(demo_run):
    """A run writes its orders once (data/orders.parquet) and the queries read it; the file
    holds exactly what grouping the lines gives, and every query answers the same from either."""
    from dataclasses import replace

    source = OrderSource.from_run(demo_run)
    assert source.orders is not None and "orders.parquet" in source.orders
    lines = replace(source, orders=None)  # the fallback: the lines grouped in each query
    con = duckdb_connect()
    try:
        on_file = con.execute(f"SELECT * FROM {source.orders} ORDER BY ALL").df()
        grouped = con.execute(f"WITH {lines.orders_cte()} SELECT * FROM orders ORDER BY ALL").df()
    finally:
        con.close()
    assert len(on_file) == demo_run.validation()["stats"]["transactions"]["orders"]
    pd.testing.assert_frame_equal(on_file, grouped, check_exact=True)
    T = pd.Timestamp(demo_run.params.analysis.as_of_date)
    half = T - pd.DateOffset(months=6)
    for src in (source.up_to(half), source):  # with and without a cut-off date
        other = replace(src, orders=None)
        pd.testing.assert_frame_equal(src.query("SELECT count(*) AS n, sum(rev) AS r FROM orders"),
                                      other.query("SELECT count(*) AS n, sum(rev) AS r FROM orders"))
    bounds = [(T - pd.DateOffset(months=12), T), (half - pd.DateOffset(months=12), half)]
    pd.testing.assert_frame_equal(source.period_activity(bounds, churn_days=180),
                                  lines.period_activity(bounds, churn_days=180), check_exact=True)
    # every column int64 whatever order DuckDB returns the rows in (the index once kept DuckDB's INTEGER)
    assert (source.period_activity(bounds, churn_days=180).dtypes == "int64").all()
    assert source.up_to(half).date_range() == lines.up_to(half).date_range()
