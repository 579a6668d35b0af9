"""Revenue already lost (metrics.lost) on a tiny client whose answers are computed by hand.

As-of date T = 2024-12-31, churn_days = 180: active = last counted order in
(2024-07-04, 2024-12-31]; lost in the last 12 months = last counted order in
(2023-07-04, 2024-07-04] (T - 12 months - 180 days = 2023-12-31 - 180 days = 2023-07-04).
Lifecycle (metrics.capability.lifecycle_status): dormant = an order in
W = (2023-12-31, 2024-12-31], lapsed = none.

=======  ==================================================  ============  ======  ==============
account  orders (net revenue)                                 last counted  lost    revenue lost
=======  ==================================================  ============  ======  ==============
A        2024-12-01 +100                                      2024-12-01    no      (active)
B        2023-05-01 +80, 2023-09-01 -30 (refund),             2024-03-01    yes     80 - 30 + 200 = 250 (dormant)
         2024-03-01 +200, 2024-11-01 -50 (refund-only note)
C        2023-07-04 +1000, 2024-01-10 +300,                    2024-07-04    yes     300 + 100 = 400 (dormant)
         2024-07-04 +100 (exactly churn_days back)
D        2024-07-05 +150 (T - 179 days)                       2024-07-05    no      (active)
E        2023-07-04 +500 (churned more than 12 months ago)    2023-07-04    no      -
F        2023-07-05 +70 (one day inside the window)           2023-07-05    yes     70 (lapsed)
G        2024-05-01 -40 (only a refund)                       none          no      -
=======  ==================================================  ============  ======  ==============

B's refund-only credit note of 2024-11-01 is not its last order: otherwise B would be
active (55 days back) and its lost revenue would vanish; the note is also outside B's
revenue window (2023-03-01, 2024-03-01], while the refund of 2023-09-01 inside it is netted
off. C, exactly churn_days back, has churned (the activity rule's half-open window), and its
order of 2023-07-04 — exactly 12 months before its last — is outside its window. Revenue
already lost = 250 + 400 + 70 = 720 across 3 accounts, 2 dormant and 1 lapsed.
"""
from __future__ import annotations

import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.metrics.definitions import KPI_DEFINITIONS, kpi_explanation

T = pd.Timestamp("2024-12-31")
ORDERS = pd.DataFrame([
    ("A", "2024-12-01", 100.0),
    ("B", "2023-05-01", 80.0), ("B", "2023-09-01", -30.0), ("B", "2024-03-01", 200.0), ("B", "2024-11-01", -50.0),
    ("C", "2023-07-04", 1000.0), ("C", "2024-01-10", 300.0), ("C", "2024-07-04", 100.0),
    ("D", "2024-07-05", 150.0),
    ("E", "2023-07-04", 500.0),
    ("F", "2023-07-05", 70.0),
    ("G", "2024-05-01", -40.0),
], columns=["account_id", "order_date", "revenue"]).assign(order_date=lambda d: pd.to_datetime(d["order_date"]))


def _lines(orders: pd.DataFrame, tmp_path) -> metrics.OrderSource:
    """The orders as the run stores them: order lines in Parquet, B's 2024-03-01 order split over two lines
    (a return on a later day: still one order, dated its first line's day, of net revenue 200)."""
    lines = orders.rename(columns={"revenue": "net_revenue"}).assign(
        order_id=[f"o{i}" for i in range(len(orders))], gross_margin=None)
    b = lines.index[(lines["account_id"] == "B") & (lines["order_date"] == pd.Timestamp("2024-03-01"))]
    lines.loc[b, "net_revenue"] = 230.0
    ret = lines.loc[b].assign(order_date=pd.Timestamp("2024-03-05"), net_revenue=-30.0)
    path = tmp_path / "lines.parquet"
    pd.concat([lines, ret]).to_parquet(path, index=False)
    return metrics.OrderSource(f"read_parquet('{path}')")


@pytest.fixture(scope="module", params=["frame", "lines"])
def source(request, tmp_path_factory):
    """The tiny client's orders as a pandas frame (OrderSource.from_frame) and as order lines in Parquet."""
    return ORDERS if request.param == "frame" else _lines(ORDERS, tmp_path_factory.mktemp("lost"))


@pytest.fixture(scope="module")
def lost(source):
    return metrics.compute_lost_accounts(source, as_of=T, churn_days=180)


def test_window_is_the_twelve_months_before_the_activity_window():
    lo, hi = metrics.lost_window(T, churn_days=180)
    assert (lo, hi) == (pd.Timestamp("2023-07-04"), pd.Timestamp("2024-07-04"))


def test_group_and_revenue_lost_by_hand(lost):
    assert lost["account_id"].tolist() == ["C", "B", "F"]  # largest revenue lost first
    got = lost.set_index("account_id")
    assert got["revenue_lost_12m"].to_dict() == {"C": 400.0, "B": 250.0, "F": 70.0}
    assert got.loc["B", "last_order_date"] == pd.Timestamp("2024-03-01")  # not the credit note
    assert got["days_since_last_order"].to_dict() == {"C": 180, "B": 305, "F": 545}
    # C stopped being active on T itself; F 180 days after 2023-07-05
    assert got.loc["C", "churn_date"] == T
    assert got.loc["F", "churn_date"] == pd.Timestamp("2024-01-01")
    assert got["lifecycle"].to_dict() == {"C": "dormant", "B": "dormant", "F": "lapsed"}


def test_lost_accounts_are_exactly_the_inactive_ones_that_were_active_in_the_last_year(lost):
    """The group is disjoint from the active accounts (revenue at risk) by the one activity rule."""
    last = metrics.last_counted_order(ORDERS, as_of=T)
    active = metrics.is_active(last, as_of=T, churn_days=180)
    assert set(active[active].index) == {"A", "D"}
    assert not set(lost["account_id"]) & set(active[active].index)
    # active at T - 12 months or later: on the day before it churned (F: exactly T - 12 months)
    for a in lost["account_id"]:
        day_before = lost.set_index("account_id").loc[a, "churn_date"] - pd.Timedelta(days=1)
        assert day_before >= T - pd.DateOffset(months=12)
        assert metrics.is_active(last[a], as_of=day_before, churn_days=180)


def test_headline_row_and_history_flag(lost):
    row = metrics.compute_revenue_lost(lost, as_of=T, churn_days=180, data_start="2023-05-01").iloc[0]
    assert row["accounts_lost_12m"] == 3 and row["revenue_lost_12m"] == 720.0
    assert (row["dormant_accounts"], row["lapsed_accounts"]) == (2, 1)
    assert metrics.describe_lost_split(row, churn_days=180) == (
        "2 dormant (last order within 12 months) and 1 lapsed (last order over 12 months ago); an account churns "
        "after 180 days without an order")
    assert (row["last_order_after"], row["last_order_until"]) == (pd.Timestamp("2023-07-04"), pd.Timestamp("2024-07-04"))
    # the history would have to start by 2022-07-04 for no lost account or month to be missing
    assert not row["history_complete"] and "lower bound" in row["note"]
    full = metrics.compute_revenue_lost(lost, as_of=T, churn_days=180, data_start="2022-07-04").iloc[0]
    assert full["history_complete"] and full["note"] == ""
    assert metrics.describe_revenue_lost(full, "EUR") == "€720 already lost to 3 accounts that churned in the last 12 months"
    assert metrics.describe_revenue_lost(row, "GBP").startswith("at least £720 already lost to 3 accounts")
    none = metrics.compute_revenue_lost(lost.iloc[:0], as_of=T, churn_days=180, data_start="2022-01-01").iloc[0]
    assert none["accounts_lost_12m"] == 0 and none["revenue_lost_12m"] == 0.0
    assert metrics.describe_revenue_lost(none) == "no account churned in the last 12 months"


@pytest.mark.parametrize("where", ["frame", "lines"])
def test_orders_after_the_as_of_date_are_ignored_and_segments_attached(where, tmp_path):
    later = pd.concat([ORDERS, pd.DataFrame({"account_id": ["B"], "order_date": [pd.Timestamp("2025-01-10")],
                                             "revenue": [999.0]})], ignore_index=True)
    segs = pd.DataFrame({"account_id": list("ABCDEFG"), "quadrant": ["S1"] * 3 + ["S2"] * 4})
    src = later if where == "frame" else _lines(later, tmp_path)
    got = metrics.compute_lost_accounts(src, as_of=T, churn_days=180, segments=segs).set_index("account_id")
    assert got["revenue_lost_12m"].to_dict() == {"C": 400.0, "B": 250.0, "F": 70.0}
    assert got["segment"].to_dict() == {"C": "S1", "B": "S1", "F": "S2"}


def test_the_query_learns_the_start_of_the_history(tmp_path):
    """compute_revenue_lost's data_start is OrderSource.date_range(): found by the lost-accounts pass itself."""
    src = _lines(ORDERS, tmp_path)
    metrics.compute_lost_accounts(src, as_of=T, churn_days=180)
    assert src._facts["date_range"] == (pd.Timestamp("2023-05-01"), pd.Timestamp("2023-05-01"))
    refund_first = pd.concat([ORDERS, pd.DataFrame({"account_id": ["G"], "order_date": [pd.Timestamp("2023-01-02")],
                                                    "revenue": [-5.0]})], ignore_index=True)
    src = metrics.OrderSource.from_frame(refund_first)
    metrics.compute_lost_accounts(src, as_of=T, churn_days=180)
    # the earliest order is G's credit note; the earliest counted one still B's
    assert src._facts["date_range"] == (pd.Timestamp("2023-01-02"), pd.Timestamp("2023-05-01"))
    assert src.date_range() == metrics.OrderSource.from_frame(refund_first).date_range()


def test_no_lost_account_gives_an_empty_table_with_its_columns():
    recent = ORDERS[ORDERS["account_id"].isin(["A", "D"])]
    got = metrics.compute_lost_accounts(recent, as_of=T, churn_days=180)
    assert got.empty and list(got.columns) == metrics.lost.LOST_COLUMNS
    assert metrics.compute_revenue_lost(got, as_of=T, churn_days=180, data_start=None).iloc[0]["note"] == "no orders"


def test_registry_defines_both_figures_apart_from_revenue_at_risk():
    lost, n = KPI_DEFINITIONS["revenue_lost_12m"], KPI_DEFINITIONS["accounts_lost_12m"]
    assert (lost.unit, lost.higher_is_better, n.unit, n.higher_is_better) == ("currency", False, "count", False)
    assert "revenue at risk" in lost.formula and "180 days" in kpi_explanation("accounts_lost_12m", churn_days=180)
