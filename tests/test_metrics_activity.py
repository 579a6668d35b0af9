"""The activity rule (metrics.activity) on a tiny client whose answers are computed by hand.

As-of date T = 2024-12-31, churn_days = 180, so active = last counted order in
(2024-07-04, 2024-12-31]. Every account ordered on 2023-12-01, so all five are active at
the retention base date T - 12 months = 2023-12-31 (A also ordered on 2023-06-01, so the
history covers the base window).

=======  ===========================================  ============  =======  =====
account  orders (net revenue)                          last counted  recency  active
=======  ===========================================  ============  =======  =====
A        2023-06-01 +100, 2023-12-01 +100, 2024-12-21  2024-12-21         10  yes
B        2023-12-01 +200, credit note 2024-11-01 -50   2023-12-01        396  no
C        2023-12-01 +100, 2024-07-04 +100 (T - 180)    2024-07-04        180  no
D        2023-12-01 +100, 2024-07-05 +150 (T - 179)    2024-07-05        179  yes
E        2023-12-01 +100, 2024-03-01 +60               2024-03-01        305  no
=======  ===========================================  ============  =======  =====

B's refund-only credit note is not its last order (it would give recency 60 and make the
RFM recency score 4 instead of 1); C, exactly churn_days back, has churned everywhere.
Retention 2023-12-31 -> 2024-12-31: base 5, retained A and D = 0.4.

RFM (5 bins, ``ceil(pct rank x 5)``, ties share their mean rank):
R by recency (fewer days better): B 396 -> 1, E 305 -> 2, C 180 -> 3, D 179 -> 4, A 10 -> 5;
F by counted orders: B 1 -> 1, C/D/E 2 (mean rank 3 -> 0.6) -> 3, A 3 -> 5;
M by revenue: B 150 -> 1, E 160 -> 2, C 200 -> 3, D 250 -> 4, A 300 -> 5.
"""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.config import load_params
from kam_analysis.data.prepare import active_sql, counted_order_sql, prepare_run_data
from kam_analysis.data.runfolder import Run
from kam_analysis.phases.segmentation import compute_rfm
from tests.data_helpers import write_params
from tests.conftest import order_frame

T = pd.Timestamp("2024-12-31")
TRANSACTIONS = """account_id,order_id,order_date,net_revenue
A,A0,2023-06-01,100
A,A1,2023-12-01,100
A,A2,2024-12-21,100
B,B1,2023-12-01,200
B,B2,2024-11-01,-50
C,C1,2023-12-01,100
C,C2,2024-07-04,100
D,D1,2023-12-01,100
D,D2,2024-07-05,150
E,E1,2023-12-01,100
E,E2,2024-03-01,60
"""
RECENCY = {"A": 10, "B": 396, "C": 180, "D": 179, "E": 305}
ACTIVE = {"A": True, "B": False, "C": False, "D": True, "E": False}
RFM = {"A": "555", "B": "111", "C": "333", "D": "434", "E": "232"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    params = load_params(write_params(tmp, transactions=TRANSACTIONS, as_of="2024-12-31",
                                      extra={"analysis": {"as_of_date": "2024-12-31", "churn_days": 180}}))
    prepare_run_data(params, tmp / "run")
    run = Run(tmp / "run", params)
    orders = order_frame(run)
    return run, orders


def test_summary_takes_the_last_counted_order_and_the_half_open_window(tiny):
    run, _ = tiny
    s = run.read_table("account_summary").set_index("account_id")
    assert s.loc["B", "last_order_date"] == pd.Timestamp("2023-12-01")  # not the credit note
    assert s["recency_days"].to_dict() == RECENCY
    assert s["active"].to_dict() == ACTIVE
    assert s["n_orders"].to_dict() == {"A": 3, "B": 1, "C": 2, "D": 2, "E": 2}


def test_python_rule_agrees_with_the_summary(tiny):
    run, orders = tiny
    last = metrics.last_counted_order(orders, as_of=T)
    assert last["B"] == pd.Timestamp("2023-12-01")
    assert metrics.recency_days(last, as_of=T).to_dict() == RECENCY
    assert metrics.is_active(last, as_of=T, churn_days=180).to_dict() == ACTIVE
    assert sorted(metrics.active_accounts_at(orders, T, churn_days=180)) == ["A", "D"]
    kpis = metrics.compute_account_kpis(orders, as_of=T, churn_days=180).set_index("account_id")
    assert kpis["active"].to_dict() == ACTIVE
    assert kpis["last_order_date"].to_dict() == last.to_dict()


def test_rfm_uses_the_last_counted_order(tiny):
    run, _ = tiny
    s = run.read_table("account_summary")
    rfm = compute_rfm(s, segments={"scale": 5, "segments": [{"name": "All"}]}, bins=5,
                      recency_column="recency_days", frequency_column="n_orders", monetary_column="revenue")
    assert dict(zip(rfm["account_id"], rfm["rfm_score"])) == RFM


def test_retention_agrees_with_activity(tiny):
    _, orders = tiny
    r = metrics.compute_retention(orders, start="2023-12-31", end=T, churn_days=180)
    assert (r["base"], r["retained"], r["churned"], r["new"], r["reactivated"]) == (5, 2, 3, 0, 0)
    assert r["retention_rate"] == pytest.approx(0.4)
    kpis = metrics.compute_account_kpis(orders, as_of=T, churn_days=180)
    h = metrics.compute_headline_kpis(kpis, min_denominator=1).set_index("kpi")["value"]
    assert h["retention_rate"] == pytest.approx(0.4)
    assert h["churn_rate"] == pytest.approx(0.6)
    assert h["active_accounts"] == 2


def test_sql_and_python_spellings_agree_at_the_boundary():
    con = duckdb.connect()
    days = [0, 1, 179, 180, 181, None]
    rows = con.execute(
        "SELECT d, " + active_sql("last_d", as_of="DATE '2024-12-31'", churn_days=180) + " AS active FROM "
        "(SELECT CASE WHEN d IS NULL THEN NULL ELSE DATE '2024-12-31' - CAST(d AS INTEGER) END AS last_d, d "
        "FROM unnest([0, 1, 179, 180, 181, NULL]) AS u(d))").fetchall()
    sql = {r[0]: r[1] for r in rows}
    last = pd.Series([T - pd.Timedelta(days=d) if d is not None else pd.NaT for d in days])
    py = metrics.is_active(last, as_of=T, churn_days=180).tolist()
    assert [sql[d] for d in days] == py == [True, True, True, False, False, False]
    assert metrics.is_active(T + pd.Timedelta(days=1), as_of=T, churn_days=180) is False  # after T: not yet
    counted = con.execute(f"SELECT {counted_order_sql('r')} FROM unnest([-50.0, 0.0, 0.01]) AS u(r)").fetchall()
    assert [c[0] for c in counted] == metrics.is_counted_order(pd.Series([-50.0, 0.0, 0.01])).tolist()


def test_retention_by_group_is_the_headline_rule_per_group(tiny):
    _, orders = tiny
    kpis = metrics.compute_account_kpis(orders, as_of=T, churn_days=180)
    kpis["grp"] = kpis["account_id"].map({"A": "X", "B": "X", "C": "Y", "D": "Y", "E": "Y"})
    r = metrics.compute_retention_by_group(kpis, by="grp", order=["Y"]).set_index("group")
    assert list(r.index) == ["Y", "X"]
    # X = {A, B}: both active a year ago, A still -> 1/2; Y = {C, D, E}: only D (C is 180 days back) -> 1/3
    assert (r.at["X", "base"], r.at["X", "retained"], r.at["Y", "base"], r.at["Y", "retained"]) == (2, 1, 3, 1)
    assert r.at["X", "retained_revenue_12m"] == 100.0  # A's last-12-month revenue
    seg = metrics.compute_segment_kpis(kpis, dimensions=["grp"], min_denominator=1)
    v = seg[seg["kpi"] == "retention_rate"].set_index("group")["value"]
    assert v["X"] == pytest.approx(r.at["X", "retention_rate"]) == pytest.approx(0.5)
    assert v["Y"] == pytest.approx(r.at["Y", "retention_rate"]) == pytest.approx(1 / 3)


@pytest.mark.parametrize("where", ["frame", "engine"])
def test_period_retention_by_group_uses_the_same_rule(tiny, where):
    run, orders = tiny
    source = metrics.OrderSource.from_frame(orders) if where == "frame" else metrics.OrderSource.from_run(run)
    p = metrics.compute_period_retention(source, period="year", as_of=T, churn_days=180,
                                         groups=pd.Series({"A": "X", "B": "X", "C": "Y", "D": "Y", "E": "Y"}),
                                         all_label="All").set_index(["period_start", "group"])
    y24 = pd.Timestamp("2024-01-01")
    # the year 2024: base = active on 2023-12-31 (all five), retained at T = A and D, as compute_retention says
    assert (p.at[(y24, "All"), "base"], p.at[(y24, "All"), "retained"]) == (5, 2)
    assert p.at[(y24, "All"), "period_retention_rate"] == pytest.approx(
        metrics.compute_retention(orders, start="2023-12-31", end=T, churn_days=180)["retention_rate"])
    assert p.at[(y24, "X"), "period_retention_rate"] == pytest.approx(0.5)
    assert p.at[(y24, "Y"), "period_retention_rate"] == pytest.approx(1 / 3)
    assert "history" in p.at[(pd.Timestamp("2023-01-01"), "All"), "note"]
