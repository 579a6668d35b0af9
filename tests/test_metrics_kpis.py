"""KPI engine: every KPI on tiny hand-made frames whose answers were worked out by hand,
plus planted-truth recovery on simulated data and end-to-end consistency on the demo."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kam_analysis import metrics
from kam_analysis.metrics.engine import OrderSource

AS_OF = "2025-12-31"


# --------------------------------------------------------------------------- the hand-worked client
# W = (2024-12-31, 2025-12-31], P = (2023-12-31, 2024-12-31], churn_days = 90
#   A: two orders in P (100, 200), two in W (300, 100) and a refund-only order in W (-50)
#   B: a single order, in W (400)  -> new account
#   C: one order in P (50), nothing since -> in the retention base, churned
#   D: an order before P (80... here 200 incl. later) and one in W -> reactivated
#   E: in the accounts file, never ordered
def _orders(margin: bool = True) -> pd.DataFrame:
    rows = [
        ("A", "a1", "2024-06-15", 100.0), ("A", "a2", "2024-11-20", 200.0), ("A", "a3", "2025-02-10", 300.0),
        ("A", "a4", "2025-11-01", 100.0), ("A", "r1", "2025-11-05", -50.0),
        ("B", "b1", "2025-12-15", 400.0),
        ("C", "c1", "2024-10-15", 50.0),
        ("D", "d1", "2023-05-01", 80.0), ("D", "d2", "2025-12-01", 120.0),
    ]
    df = pd.DataFrame(rows, columns=["account_id", "order_id", "order_date", "revenue"])
    df["order_date"] = pd.to_datetime(df["order_date"])
    df["gross_margin"] = df["revenue"] * 0.4 if margin else np.nan
    return df


def _accounts() -> pd.DataFrame:
    return pd.DataFrame({"account_id": list("ABCDE"), "segment": ["Trade", "Trade", "Consumer", "Consumer", "Consumer"],
                         "key_account": [True, False, False, False, False],
                         "cost_to_serve": [100.0, 50.0, 30.0, 60.0, 10.0]})


def _surveys() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["A", "A", "B", "C", "E"],
        "survey_date": pd.to_datetime(["2025-03-01", "2025-10-01", "2025-12-20", "2024-11-01", "2025-06-01"]),
        "nps": [3.0, 9.0, 6.0, 10.0, 8.0],
        "csat": [2.0, 5.0, 4.0, 5.0, 3.0]})


@pytest.fixture()
def acct() -> pd.DataFrame:
    return metrics.compute_account_kpis(_orders(), as_of=AS_OF, churn_days=90, accounts=_accounts(), surveys=_surveys())


def _h(headline: pd.DataFrame, kpi: str, col: str = "value"):
    return headline.set_index("kpi").at[kpi, col]


def test_account_frame_by_hand(acct):
    a = acct.set_index("account_id")
    assert list(a.index) == list("ABCDE")
    assert a["revenue_12m"].to_dict() == {"A": 350.0, "B": 400.0, "C": 0.0, "D": 120.0, "E": 0.0}
    assert a["revenue_prev_12m"].to_dict() == {"A": 300.0, "B": 0.0, "C": 50.0, "D": 0.0, "E": 0.0}
    # the refund-only order moves revenue, not the order count
    assert a["orders_12m"].to_dict() == {"A": 2, "B": 1, "C": 0, "D": 1, "E": 0}
    assert a["active"].to_dict() == {"A": True, "B": True, "C": False, "D": True, "E": False}
    assert a["active_at_start"].to_dict() == {"A": True, "B": False, "C": True, "D": False, "E": False}
    assert a["is_new_12m"].to_dict() == {"A": False, "B": True, "C": False, "D": False, "E": False}
    assert a.loc["A", "gross_margin_12m"] == pytest.approx(140.0)
    assert a.loc["A", "profit_12m"] == pytest.approx(40.0)
    assert np.isnan(a.loc["C", "profit_12m"])  # no order line in W: no cost to serve charged
    assert a.loc["A", "nps_12m"] == 9.0  # the latest response in W wins
    assert np.isnan(a.loc["C", "nps_12m"]) and a.loc["C", "nps_prev_12m"] == 10.0


def test_headline_kpis_by_hand(acct):
    h = metrics.compute_headline_kpis(acct, confidence=0.95, min_denominator=2)
    assert {"kpi", "label", "value", "unit", "ci_low", "ci_high", "n", "note"} <= set(h.columns)
    assert _h(h, "revenue_12m") == 870.0
    assert _h(h, "revenue_prev_12m") == 350.0
    assert _h(h, "revenue_growth_yoy") == pytest.approx(870 / 350 - 1, abs=1e-12)
    assert _h(h, "orders_12m") == 4
    assert _h(h, "ordering_accounts_12m") == 3
    assert _h(h, "active_accounts") == 3
    assert _h(h, "new_accounts_12m") == 1
    # base = {A, C} active at 2024-12-31; A still active, C churned; B (new) and D (reactivated) excluded
    assert _h(h, "retention_rate") == 0.5 and _h(h, "retention_rate", "n") == 2
    assert _h(h, "churn_rate") == 0.5
    lo, hi = _h(h, "retention_rate", "ci_low"), _h(h, "retention_rate", "ci_high")
    from statsmodels.stats.proportion import proportion_confint

    assert (lo, hi) == pytest.approx(proportion_confint(1, 2, alpha=0.05, method="wilson"))
    assert _h(h, "average_order_value") == 217.5
    assert _h(h, "orders_per_account") == pytest.approx(4 / 3)
    assert _h(h, "repeat_purchase_rate") == pytest.approx(1 / 3)
    assert _h(h, "gross_margin_12m") == pytest.approx(348.0)
    assert _h(h, "profit_12m") == pytest.approx(40 + 110 - 12)
    assert _h(h, "unprofitable_account_share") == pytest.approx(1 / 3)
    assert _h(h, "clv_historical") == pytest.approx((260 + 160 + 20 + 80) / 4)
    assert "margin-based" in _h(h, "clv_historical", "note")
    # surveys: latest in W per account: A 9, B 6, E 8 -> 1 promoter, 1 detractor of 3
    assert _h(h, "nps") == 0.0 and _h(h, "nps", "n") == 3
    assert _h(h, "nps_revenue_weighted") == pytest.approx(100 * (350 - 400) / 750)
    assert _h(h, "csat_top2") == pytest.approx(2 / 3)
    assert _h(h, "csat_mean") == pytest.approx(4.0)
    assert _h(h, "survey_coverage") == pytest.approx(2 / 3)
    assert _h(h, "key_accounts") == 1
    assert _h(h, "key_account_revenue_share") == pytest.approx(350 / 870)
    # concentration over A 350, B 400, D 120
    assert _h(h, "top10_share") == pytest.approx(400 / 870)
    assert _h(h, "top20_share") == pytest.approx(400 / 870)
    assert _h(h, "gini") == pytest.approx(560 / 2610)
    assert _h(h, "hhi") == pytest.approx(296900 / 756900)


def test_small_base_is_flagged_not_hidden(acct):
    h = metrics.compute_headline_kpis(acct, min_denominator=30)
    assert _h(h, "retention_rate") == 0.5
    assert "small base (n=2 < 30)" in _h(h, "retention_rate", "note")


def test_no_margin_gives_revenue_based_clv_and_no_profit():
    a = metrics.compute_account_kpis(_orders(margin=False), as_of=AS_OF, churn_days=90, accounts=_accounts())
    h = metrics.compute_headline_kpis(a)
    assert _h(h, "clv_historical") == pytest.approx((650 + 400 + 50 + 200) / 4)
    assert "revenue-based" in _h(h, "clv_historical", "note")
    assert np.isnan(_h(h, "profit_12m")) and "no gross margin" in _h(h, "profit_12m", "note")


def test_missing_surveys_and_attributes():
    a = metrics.compute_account_kpis(_orders(), as_of=AS_OF, churn_days=90)
    h = metrics.compute_headline_kpis(a)
    for k in ("nps", "csat_top2", "csat_mean", "survey_coverage", "nps_revenue_weighted"):
        assert np.isnan(_h(h, k)) and _h(h, k, "note") == "not computed: no survey data"
    assert np.isnan(_h(h, "key_account_revenue_share"))
    assert "no key_account" in _h(h, "key_account_revenue_share", "note")
    # margin without cost_to_serve: gross margin yes, profit no
    assert _h(h, "gross_margin_12m") == pytest.approx(348.0)
    assert np.isnan(_h(h, "profit_12m")) and "cost_to_serve" in _h(h, "profit_12m", "note")
    assert np.isnan(_h(h, "kam_maturity_score"))


def test_short_history_is_not_supported():
    o = _orders()
    o = o[o["order_date"] >= "2025-06-01"]
    a = metrics.compute_account_kpis(o, as_of=AS_OF, churn_days=90)
    h = metrics.compute_headline_kpis(a)
    assert np.isnan(_h(h, "retention_rate")) and "history too short" in _h(h, "retention_rate", "note")
    assert np.isnan(_h(h, "revenue_growth_yoy")) and "24 months" in _h(h, "revenue_growth_yoy", "note")


def test_nps_with_interval():
    r = metrics.compute_nps(pd.Series([10, 9, 8, 7, 6, 0, np.nan]))
    assert r["n"] == 6 and r["value"] == pytest.approx(0.0)
    se = 100 * math.sqrt((4 / 6) / 6)
    z = stats.norm.ppf(0.975)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((-z * se, z * se))
    assert r["promoters"] == pytest.approx(1 / 3) and r["passives"] == pytest.approx(1 / 3)
    empty = metrics.compute_nps(pd.Series([np.nan]))
    assert empty["n"] == 0 and np.isnan(empty["value"])


# --------------------------------------------------------------------------- periods
def _period_frames():
    orders = pd.DataFrame({
        "account_id": ["X", "Y", "X", "Y", "X", "X"],
        "order_id": ["1", "2", "3", "4", "5", "6"],
        "order_date": pd.to_datetime(["2025-02-01", "2025-03-01", "2025-08-01", "2025-09-15", "2025-11-01",
                                      "2025-11-02"]),
        "revenue": [100.0, 50.0, -20.0, 30.0, 100.0, 100.0]})
    ap = pd.DataFrame({"account_id": ["X", "Y", "X", "Y", "X"],
                       "period_start": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-07-01", "2025-07-01",
                                                       "2025-10-01"]),
                       "revenue": [100.0, 50.0, -20.0, 30.0, 200.0], "orders": [1, 1, 0, 1, 2],
                       "gross_margin": np.nan})
    return orders, ap


def test_period_kpis_by_hand_with_an_empty_period():
    orders, ap = _period_frames()
    p = metrics.compute_period_kpis(ap, period="quarter", as_of=AS_OF, orders=orders, churn_days=150)
    assert list(p["period_start"].dt.strftime("%Y-%m-%d")) == ["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"]
    assert list(p["revenue"]) == [150.0, 0.0, 10.0, 200.0]
    assert list(p["orders"]) == [2, 0, 1, 2]
    assert list(p["ordering_accounts"]) == [2, 0, 1, 1]
    np.testing.assert_array_equal(p["average_order_value"], [75.0, np.nan, 10.0, 100.0])
    np.testing.assert_array_equal(p["revenue_growth"], [np.nan, -1.0, np.nan, 19.0])
    # retention: Q1/Q2 lack 150 days of history; Q3 base {X, Y} -> Y only; Q4 base {Y} -> Y
    np.testing.assert_array_equal(p["period_retention_rate"], [np.nan, np.nan, 0.5, 1.0])
    np.testing.assert_array_equal(p["period_churn_rate"], [np.nan, np.nan, 0.5, 0.0])
    assert "history" in p["note"].iloc[0] and p["note"].iloc[2] == ""
    assert p["complete"].all()


def test_partial_last_period_is_marked():
    orders, ap = _period_frames()
    p = metrics.compute_period_kpis(ap, period="quarter", as_of="2025-11-15")
    assert list(p["complete"]) == [True, True, True, False]
    assert "partial" in p["note"].iloc[-1]


def test_period_starts():
    d = pd.Series(pd.to_datetime(["2025-05-17", "2025-12-31"]))
    assert list(metrics.period_starts(d, "month").dt.strftime("%Y-%m-%d")) == ["2025-05-01", "2025-12-01"]
    assert list(metrics.period_starts(d, "quarter").dt.strftime("%Y-%m-%d")) == ["2025-04-01", "2025-10-01"]
    assert list(metrics.period_starts(d, "year").dt.strftime("%Y-%m-%d")) == ["2025-01-01", "2025-01-01"]


def test_retention_counts_new_and_reactivated():
    r = metrics.compute_retention(_orders(), start="2024-12-31", end=AS_OF, churn_days=90)
    assert r == {"base": 2, "retained": 1, "churned": 1, "new": 1, "reactivated": 1, "retention_rate": 0.5,
                 "churn_rate": 0.5}


# --------------------------------------------------------------------------- concentration, whale, cohorts
def test_concentration_by_hand():
    x = pd.Series([10.0, 0.0, -5.0, 20.0, 30.0, 40.0])
    s = metrics.compute_concentration_summary(x).set_index("metric")["value"]
    assert s["top10_share"] == pytest.approx(0.4) and s["top20_share"] == pytest.approx(0.4)
    assert s["gini"] == pytest.approx(0.25)
    assert s["hhi"] == pytest.approx(0.30)
    assert s["effective_accounts"] == pytest.approx(1 / 0.3)
    assert s["accounts_for_80pct"] == pytest.approx(0.75)
    c = metrics.compute_concentration_curve(x)
    assert list(c["account_share"]) == [0, 0.25, 0.5, 0.75, 1.0]
    assert list(c["revenue_share"]) == pytest.approx([0, 0.4, 0.7, 0.9, 1.0])
    eq = metrics.compute_concentration_summary(pd.Series([5.0] * 8)).set_index("metric")["value"]
    assert eq["gini"] == pytest.approx(0.0) and eq["hhi"] == pytest.approx(1 / 8)


def test_concentration_curve_is_thinned_for_large_clients():
    c = metrics.compute_concentration_curve(pd.Series(np.arange(1, 10_001, dtype=float)), max_points=100)
    assert len(c) == 101 and c["revenue_share"].iloc[-1] == pytest.approx(1.0)
    assert c["account_share"].iloc[0] == 0 and c["account_share"].iloc[-1] == 1


def test_whale_curve_by_hand(acct):
    w = metrics.compute_whale_curve(acct)
    assert list(w["cumulative_profit"]) == pytest.approx([0, 110, 150, 138])
    assert list(w["cumulative_profit_share"]) == pytest.approx([0, 110 / 138, 150 / 138, 1.0])
    assert list(w["account_share"]) == pytest.approx([0, 1 / 3, 2 / 3, 1])


def test_cohort_retention_by_hand():
    orders, _ = _period_frames()
    z = pd.DataFrame({"account_id": ["Z", "Z"], "order_id": ["7", "8"],
                      "order_date": pd.to_datetime(["2025-05-01", "2025-12-01"]), "revenue": [60.0, -10.0]})
    c = metrics.compute_cohort_retention(pd.concat([orders, z]), period="quarter", as_of=AS_OF, min_denominator=2)
    q1 = c[c["cohort_label"] == "2025-Q1"].set_index("period_index")
    assert list(q1["accounts"]) == [2, 2, 2, 2]
    assert list(q1["active_accounts"]) == [2, 0, 1, 1]
    assert list(q1["retention"]) == [1.0, 0.0, 0.5, 0.5]
    assert list(q1["revenue"]) == [150.0, 0.0, 10.0, 200.0]
    assert list(q1["revenue_retention"]) == pytest.approx([1.0, 0.0, 10 / 150, 200 / 150])
    assert q1["left_censored"].all() and not q1["small_cohort"].any()
    q2 = c[c["cohort_label"] == "2025-Q2"].set_index("period_index")
    assert list(q2.index) == [0, 1, 2]  # nothing after the as-of period
    assert list(q2["active_accounts"]) == [1, 0, 0]  # the refund-only order is not activity
    assert list(q2["revenue_retention"]) == pytest.approx([1.0, 0.0, -10 / 60])
    assert not q2["left_censored"].any() and q2["small_cohort"].all()


# --------------------------------------------------------------------------- segments, tiers, comparisons
def test_value_tier_by_hand(acct):
    tier = metrics.compute_value_tier(acct, tiers={"Top": 0.34, "Rest": 0.66})
    assert dict(zip(acct["account_id"], tier)) == {"A": "Rest", "B": "Top", "C": "No orders (12m)", "D": "Rest",
                                                   "E": "No orders (12m)"}


def test_segmentation_tiers_are_the_value_tier_by_hand():
    """One definition of a value tier: the segmentation's tiers (workbook, tier summary, review
    baseline) are the assessment's. 10 buying accounts and 4 without revenue in 12 months: the
    top 20% are the 2 largest buyers (not 20% of 14 = 3, which would pull in a tail buyer), and
    the 4 non-buyers are in no tier."""
    from kam_analysis.phases import segmentation
    rev = [900, 800, 700, 600, 500, 400, 300, 200, 100, 50, 0, 0, -20, 0]
    acct = pd.DataFrame({"account_id": [f"A{i:02d}" for i in range(len(rev))], "revenue_12m": rev})
    tiers = {"Top": 0.2, "Middle": 0.3, "Tail": 0.5}
    seg = segmentation.compute_value_tiers(acct.sample(frac=1, random_state=1), tiers=tiers)
    got = dict(zip(seg["account_id"], seg["tier"].astype(str)))
    assert got == dict(zip(acct["account_id"], metrics.compute_value_tier(acct, tiers=tiers)))
    assert [got[f"A{i:02d}"] for i in range(len(rev))] == (
        ["Top"] * 2 + ["Middle"] * 3 + ["Tail"] * 5 + [metrics.NO_ORDERS_TIER] * 4)
    assert list(seg["value_rank"]) == list(range(1, len(rev) + 1))
    assert list(seg["tier"].cat.categories) == ["Top", "Middle", "Tail", metrics.NO_ORDERS_TIER]


def test_segment_kpis_by_hand(acct):
    s = metrics.compute_segment_kpis(acct, dimensions=["segment", "key_account", "region"], min_denominator=2)
    assert {"dimension", "group", "kpi", "value", "n", "note"} <= set(s.columns)
    assert set(s["dimension"]) == {"segment", "key_account"}  # region is not in the data: skipped
    v = s.set_index(["dimension", "group", "kpi"])["value"]
    assert v[("segment", "Trade", "revenue_12m")] == 750.0
    assert v[("segment", "Trade", "revenue_share")] == pytest.approx(750 / 870)
    assert v[("segment", "Trade", "retention_rate")] == 1.0
    assert v[("segment", "Consumer", "retention_rate")] == 0.0
    assert v[("segment", "Consumer", "accounts")] == 3
    assert v[("key_account", "Key account", "average_order_value")] == 175.0
    small = s.set_index(["dimension", "group", "kpi"])["small_n"]
    assert small[("segment", "Trade", "retention_rate")]  # base of 1 < 2


def test_segment_difference_detected_only_beyond_noise():
    # planted: group G1 retains 90%, G2 60%, 400 accounts each -> distinguishable;
    # G3 equal to the rest -> not
    rng = np.random.default_rng(3)
    n = 400
    rows = []
    for grp, p in (("G1", 0.9), ("G2", 0.6)):
        for i in range(n):
            rows.append((f"{grp}-{i}", grp, rng.random() < p))
    a = pd.DataFrame(rows, columns=["account_id", "segment", "kept"])
    a = a.assign(active_at_start=True, active=a["kept"], orders_12m=1, orders_prev_12m=1, revenue_12m=100.0,
                 revenue_prev_12m=100.0, in_book_12m=True, is_new_12m=False, active_at_prev_start=True,
                 gross_margin_12m=np.nan, profit_12m=np.nan, clv_historical=100.0, nps_12m=np.nan, csat_12m=np.nan,
                 nps_prev_12m=np.nan, csat_prev_12m=np.nan, responded_12m=False, n_orders=1)
    s = metrics.compute_segment_kpis(a, dimensions=["segment"])
    r = s[s["kpi"] == "retention_rate"].set_index("group")
    assert r.loc["G1", "distinguishable"] and r.loc["G2", "distinguishable"]
    a2 = a.copy()
    a2["segment"] = np.where(np.arange(len(a2)) % 2 == 0, "odd", "even")
    s2 = metrics.compute_segment_kpis(a2, dimensions=["segment"])
    r2 = s2[s2["kpi"] == "retention_rate"].set_index("group")
    assert r2["p_value"].min() > 0.05 and not r2["distinguishable"].any()


def test_comparisons_have_tests(acct):
    c = metrics.compute_kpi_comparisons(acct)
    assert {"kpi", "current", "previous", "difference", "p_value", "distinguishable"} <= set(c.columns)
    r = c.set_index("kpi")
    assert r.loc["repeat_purchase_rate", "current"] == pytest.approx(1 / 3)
    assert r.loc["repeat_purchase_rate", "previous"] == pytest.approx(1 / 2)  # A 2 orders, C 1 order in P
    assert r.loc["average_order_value", "previous"] == pytest.approx(350 / 3)


# --------------------------------------------------------------------------- planted truths
def test_recovers_planted_churn_hazard():
    """Accounts order every month until they churn with a known monthly hazard h: the
    12-month retention of accounts active a year ago must recover (1 - h)^12."""
    rng = np.random.default_rng(11)
    h, n, months = 0.03, 6000, 36
    life = rng.geometric(h, n)  # months alive before churn (>= 1)
    start = pd.Timestamp("2023-01-15")
    acc, dates = [], []
    for i in range(n):
        for m in range(min(life[i], months)):
            acc.append(f"A{i}")
            dates.append(start + pd.DateOffset(months=m))
    o = pd.DataFrame({"account_id": acc, "order_date": pd.to_datetime(dates), "revenue": 10.0})
    o["order_id"] = np.arange(len(o)).astype(str)
    as_of = pd.Timestamp("2025-12-31")
    a = metrics.compute_account_kpis(o, as_of=as_of, churn_days=45)
    hd = metrics.compute_headline_kpis(a)
    expected = (1 - h) ** 12
    got, lo, hi = (_h(hd, "retention_rate", c) for c in ("value", "ci_low", "ci_high"))
    assert abs(got - expected) < 0.03
    assert lo < expected < hi


def test_recovers_planted_lognormal_gini():
    """Revenue ~ lognormal(sigma): population Gini = 2 Phi(sigma / sqrt 2) - 1."""
    rng = np.random.default_rng(5)
    sigma = 1.0
    x = pd.Series(rng.lognormal(0, sigma, 200_000))
    g = metrics.compute_concentration_summary(x).set_index("metric").at["gini", "value"]
    assert g == pytest.approx(2 * stats.norm.cdf(sigma / math.sqrt(2)) - 1, abs=0.005)


# --------------------------------------------------------------------------- the demo client, end to end
def _raw_orders(demo_params: Path) -> pd.DataFrame:
    """The demo's raw orders file, read independently of the pipeline (client column names)."""
    raw = pd.read_csv(demo_params.parent / "data" / "orders.csv")
    raw["date"] = pd.to_datetime(raw["Order Date"], format="%d/%m/%Y")
    o = raw.groupby(["Customer ID", "Order No"]).agg(date=("date", "min"), rev=("Net Sales (EUR)", "sum")).reset_index()
    return o[o["date"] <= pd.Timestamp(AS_OF)]


def test_demo_concentration_matches_the_raw_files(demo_run, demo_params):
    o = _raw_orders(demo_params)
    w = o[o["date"] > pd.Timestamp(AS_OF) - pd.DateOffset(months=12)]
    rev = w.groupby("Customer ID")["rev"].sum()
    x = np.sort(rev[rev > 0].to_numpy())
    n = len(x)
    # independent formulas: Gini by mean absolute difference; top 20% by ceil
    gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean())
    top20 = x[::-1][: math.ceil(0.2 * n)].sum() / x.sum()
    a = metrics.compute_account_kpis(OrderSource.from_run(demo_run), as_of=AS_OF, churn_days=180,
                                  accounts=demo_run.read_data("accounts"))
    s = metrics.compute_concentration_summary(a["revenue_12m"]).set_index("metric")["value"]
    assert s["gini"] == pytest.approx(gini, abs=1e-9)
    assert s["top20_share"] == pytest.approx(top20, abs=1e-9)
    # the planted long tail: a heavily concentrated base (lognormal values x gamma rates)
    assert s["top20_share"] > 0.6


def test_demo_churn_matches_the_raw_files_and_the_generator(demo_run, demo_params):
    from kam_analysis import PLANTED

    o = _raw_orders(demo_params)
    pos = o[o["rev"] > 0]
    T = pd.Timestamp(AS_OF)
    start = T - pd.DateOffset(months=12)

    def active(d):
        m = (pos["date"] > d - pd.Timedelta(days=180)) & (pos["date"] <= d)
        return set(pos.loc[m, "Customer ID"])

    base, end = active(start), active(T)
    expected = 1 - len(base & end) / len(base)
    a = metrics.compute_account_kpis(OrderSource.from_run(demo_run), as_of=AS_OF, churn_days=180,
                                  accounts=demo_run.read_data("accounts"))
    h = metrics.compute_headline_kpis(a)
    assert _h(h, "churn_rate") == pytest.approx(expected, abs=1e-12)
    # generator: a true monthly churn hazard of at least base_monthly_churn means at least
    # 1 - (1 - h)^12 of the base truly stops within the year; the 180-day rule adds
    # alive-but-quiet accounts, so the observed churn is at least that, and well below 1
    floor = 1 - (1 - PLANTED["base_monthly_churn"]) ** 12
    assert floor - 0.03 < _h(h, "churn_rate") < 0.6
    # key accounts: the generator designates round(key_account_share x n) accounts
    n = len(demo_run.read_data("accounts"))
    assert _h(h, "key_accounts") == round(PLANTED["key_account_share"] * n)


def test_boolean_attribute_with_blanks_is_labelled(acct):
    a = acct.copy()
    a["key_account"] = pd.Series([True, False, None, False, None], dtype="object")
    s = metrics.compute_segment_kpis(a, dimensions=["key_account"])
    assert set(s["group"]) == {"Key account", "Other", "(missing)"}
    n = s[s["kpi"] == "accounts"].set_index("group")["value"]
    assert n.to_dict() == {"(missing)": 2, "Key account": 1, "Other": 2}


def test_nps_bands_have_one_definition():
    """Promoters 9-10, detractors 0-6, passives 7-8: the NPS, the churn model's detractor feature and
    the account plans' service-issue / relationship-strength reasons all read metrics.stats."""
    from kam_analysis.metrics.stats import compute_nps, is_detractor, is_promoter
    from kam_analysis.phases.account_plans import account_situations

    assert [bool(is_detractor(s)) for s in (0, 6, 7)] == [True, True, False]
    assert [bool(is_promoter(s)) for s in (8, 9, 10)] == [False, True, True]
    n = compute_nps(pd.Series([6.0, 7.0, 8.0, 9.0]))
    assert (n["detractors"], n["passives"], n["promoters"], n["value"]) == (0.25, 0.5, 0.25, 0.0)
    def situations(nps):
        return account_situations(risk_band="low", revenue_trend=0.0, nps_latest=nps, whitespace_value=0.0,
                                  revenue_12m=1000.0)

    assert situations(6.0) == ["service_issue"] and situations(7.0) == ["steady"]
    assert situations(9.0) == ["relationship_strength"] and situations(8.0) == ["steady"]


# --------------------------------------------------------------------------- one revenue share
def test_revenue_shares_are_of_all_accounts_revenue_inactive_included():
    """A segment's share of revenue: the group's 12-month revenue over every account's (the
    inactive group too), so a complete grouping adds up to 100%; a group with no account is
    kept at 0 when asked for, and a share of a non-positive total is n/a, not a division."""
    a = pd.DataFrame({"account_id": list("ABCDEF"),
                      "seg": ["Strategic", "Strategic", "Star", "Inactive", "Inactive", "Star"],
                      "revenue_12m": [500.0, 300.0, 100.0, 60.0, 0.0, 40.0]})
    g = metrics.compute_revenue_shares(a, "seg", order=["Strategic", "Star", "Status", "Inactive"])
    assert list(g.index) == ["Strategic", "Star", "Status", "Inactive"]
    assert list(g["accounts"]) == [2, 2, 0, 2]
    assert list(g["revenue_12m"]) == pytest.approx([800, 140, 0, 60])
    # 800 of 1,000, not 800 of the live 940
    assert list(g["revenue_share"]) == pytest.approx([0.8, 0.14, 0.0, 0.06])
    assert list(g["account_share"]) == pytest.approx([2 / 6, 2 / 6, 0, 2 / 6])
    assert g["revenue_share"].sum() == pytest.approx(1.0)
    assert metrics.revenue_share(800.0, 1000.0) == pytest.approx(0.8)
    assert math.isnan(metrics.revenue_share(5.0, 0.0)) and math.isnan(metrics.revenue_share(5.0, -10.0))
    neg = a.assign(revenue_12m=[-10.0, 0, 0, 0, 0, 0])
    assert metrics.compute_revenue_shares(neg, "seg")["revenue_share"].isna().all()


def test_top_share_counts_are_one_definition():
    """'The top 10% of accounts' counts the same accounts in the concentration summary and the value
    tiers (metrics.concentration.top_count: nearest count, halves up, at least one): 1,065 buying
    accounts -> 107 and 213 (the summary's ceil gave 107 and 213, the tiers' round 106 and 213);
    5 accounts at 10% -> 1 (Python's round(0.5) gave 0, an empty top tier)."""
    import numpy as np
    import pandas as pd

    from kam_analysis.metrics import compute_concentration_summary
    from kam_analysis.metrics.account import compute_value_tier

    n = 1065
    rev = pd.Series(np.arange(n, 0, -1, dtype=float) * 10.0)
    kpis = pd.DataFrame({"account_id": [f"A{i:04d}" for i in range(n)], "revenue_12m": rev})
    tier = compute_value_tier(kpis, tiers={"Top": 0.1, "Upper": 0.1, "Rest": 0.8})
    assert (tier == "Top").sum() == 107 and (tier.isin(["Top", "Upper"])).sum() == 213
    summary = compute_concentration_summary(rev).set_index("metric")["value"]
    assert summary["top10_share"] == pytest.approx(rev[tier == "Top"].sum() / rev.sum())
    assert summary["top20_share"] == pytest.approx(rev[tier.isin(["Top", "Upper"])].sum() / rev.sum())
    five = compute_value_tier(kpis.head(5), tiers={"Top": 0.1, "Rest": 0.9})
    assert (five == "Top").sum() == 1
