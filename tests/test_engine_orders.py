"""The assessment's order-level work in DuckDB (``metrics.engine.OrderSource``).

``metrics.engine.OrderSource`` keeps the orders in the engine (issue 15: no order-level
frame in pandas); ``compute_account_kpis``, ``compute_period_kpis`` (period-on-period
retention) and ``compute_cohort_retention`` take it, and a pandas order frame goes into the
same SQL through ``OrderSource.from_frame`` (one definition of each KPI). Checked by hand on
order lines: refunds (a refund-only order, a refund before the first purchase), one
account, an order whose lines span several days (and a window edge), no margin. Period
retention's pandas path (by group too) is compared with DuckDB (money sums to the last
bits, see CHECK); the CLV summary (one SQL for order lines and a pandas frame) is checked
by hand.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.metrics.engine import OrderSource, duckdb_connect
from tests.conftest import order_frame

#: counts, dates, flags and labels must be equal; money sums may differ in the last bits only: the
#: engine sums the order lines exactly (DECIMAL) and rounds once, the frame path added the
#: rounded order totals in pandas (Kahan summation, not always correctly rounded) -- 10% of the
#: demo's account totals differ by one or two units in the last place
CHECK = dict(check_exact=False, rtol=1e-13, atol=1e-9)


def _source(lines: pd.DataFrame, tmp_path, name: str) -> OrderSource:
    path = tmp_path / f"{name}.parquet"
    lines.to_parquet(path, index=False)
    return OrderSource(f"read_parquet('{path}')")


#: period retention groups: C has none (it counts in the all-accounts rows only), E never ordered,
#: group "z" has no active account, so its rows are zeros with a note
GROUPS = pd.Series({"A": "x", "B": "x", "D": "y", "E": "z"})


def _frame_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """The orders of a table of lines as a frame (period retention's pandas path reads one)."""
    return order_frame(lines)


def _compare_period(frame, source, *, as_of, churn_days, period="quarter"):
    """Period retention's pandas path against the engine (account KPIs and cohorts have only the engine)."""
    for per in (period, "month", "year"):
        old = metrics.compute_period_retention(frame, period=per, as_of=as_of, churn_days=churn_days)
        new = metrics.compute_period_retention(source, period=per, as_of=as_of, churn_days=churn_days)
        pd.testing.assert_frame_equal(new, old, **CHECK)
        for groups, label in ((GROUPS, "All"), (GROUPS, None)):  # by group, with and without all-accounts rows
            old = metrics.compute_period_retention(frame, period=per, as_of=as_of, churn_days=churn_days,
                                                   groups=groups, all_label=label)
            new = metrics.compute_period_retention(source, period=per, as_of=as_of, churn_days=churn_days,
                                                   groups=groups, all_label=label)
            pd.testing.assert_frame_equal(new, old, **CHECK)


def test_the_demo_in_the_engine(demo_run):
    p = demo_run.params.analysis
    source = OrderSource.from_run(demo_run)
    new = metrics.compute_account_kpis(source, as_of=p.as_of_date, churn_days=p.churn_days,
                                       accounts=demo_run.read_data("accounts"))
    assert len(new) > 100 and new["active"].sum() > 50 and new["revenue_12m"].gt(0).sum() > 50
    ap = demo_run.read_table("account_period")
    kw = dict(period=p.period, as_of=p.as_of_date, churn_days=p.churn_days)
    frame = order_frame(demo_run)
    old = metrics.compute_period_kpis(ap, orders=frame, **kw)
    new = metrics.compute_period_kpis(ap, orders=source, **kw)
    assert new["retention_base"].gt(0).sum() > 3
    pd.testing.assert_frame_equal(new, old, **CHECK)
    _compare_period(frame, source, as_of=p.as_of_date, churn_days=p.churn_days, period=p.period)


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


@pytest.mark.parametrize("churn_days", [90, 150, 365])
def test_period_edge_cases_are_identical(tmp_path, churn_days):
    lines = _lines()
    as_of = pd.Timestamp("2024-05-31")
    _compare_period(_frame_orders(lines), _source(lines, tmp_path, "lines"), as_of=as_of, churn_days=churn_days)
    one = lines[lines["account_id"] == "A"]
    _compare_period(_frame_orders(one), _source(one, tmp_path, "one"), as_of=as_of, churn_days=churn_days)


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
