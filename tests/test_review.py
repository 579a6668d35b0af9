"""Tests for kam_analysis.phases.review: KPI tracking against target and baseline, and the segment scorecard."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from kam_analysis.phases import assessment, review
from kam_analysis import metrics
from kam_analysis.metrics.engine import OrderSource
from kam_analysis.metrics import compute_account_kpis, compute_headline_kpis
from tests.conftest import order_frame


# --------------------------------------------------------------------------- status and trend
def test_trend_direction_compares_last_window_with_previous():
    assert review.trend_direction([10, 10, 12, 12], window=2, flat_band=0.02) == "up"  # +20%
    assert review.trend_direction([10, 10, 9, 9], window=2, flat_band=0.02) == "down"
    assert review.trend_direction([10, 10, 10.1, 10.1], window=2, flat_band=0.02) == "flat"  # +1%
    assert review.trend_direction([10, 12, 11], window=2, flat_band=0.02) == "n/a"  # too short
    # a negative growth rate getting worse falls: -20% -> -80% is down, -80% -> -20% up
    assert review.trend_direction([-0.2, -0.2, -0.8, -0.8], window=2, flat_band=0.02) == "down"
    assert review.trend_direction([-0.8, -0.8, -0.2, -0.2], window=2, flat_band=0.02) == "up"
    assert review.trend_direction([-0.1, -0.1, 0.1, 0.1], window=2, flat_band=0.02) == "up"


# --------------------------------------------------------------------------- KPIs by period and segment
def _tiny_period_frame():
    p1, p2, p3 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01")
    ap = pd.DataFrame([
        ("a", p1, 100.0, 2), ("b", p1, 50.0, 1), ("c", p1, 30.0, 1),
        ("a", p2, 120.0, 3), ("c", p2, 60.0, 2),
        ("a", p3, 90.0, 1), ("b", p3, 40.0, 1), ("d", p3, 10.0, 1),
    ], columns=["account_id", "period_start", "revenue", "orders"])
    seg = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "quadrant": ["S", "S", "T", "T"]})
    return ap, seg


# orders for the retention rule (churn_days 90): active the day before Q2 {a, b, c} (orders on
# 15 Feb), at the end of Q2 {a, c} (15 May); active the day before Q3 {a, c}, at its end {a, b, d}
TINY_ORDERS = pd.DataFrame([
    ("a", "2023-10-01", 10.0), ("a", "2024-02-15", 50.0), ("b", "2024-02-15", 50.0), ("c", "2024-02-15", 30.0),
    ("a", "2024-05-15", 120.0), ("c", "2024-05-15", 60.0),
    ("a", "2024-08-15", 90.0), ("b", "2024-08-15", 40.0), ("d", "2024-08-15", 10.0), ("b", "2024-08-20", -40.0),
], columns=["account_id", "order_date", "revenue"]).assign(order_date=lambda d: pd.to_datetime(d["order_date"]))


def test_period_segment_kpis_by_hand():
    ap, seg = _tiny_period_frame()
    k = review.compute_period_segment_kpis(ap, seg, period="quarter", as_of=dt.date(2024, 9, 30),
                                           orders=metrics.OrderSource.from_frame(TINY_ORDERS), churn_days=90)
    v = k.set_index(["segment", "kpi", "period_start"])["value"]
    p2, p3 = pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01")
    assert v[("All accounts", "revenue", p2)] == 180.0
    assert v[("All accounts", "average_order_value", p2)] == pytest.approx(180 / 5)
    # retention p2: base {a,b,c}, kept {a,c} -> 2/3; p3: base {a,c}, kept {a} -> 1/2 (b's refund
    # on 20 Aug does not change its last order)
    assert v[("All accounts", "period_retention_rate", p2)] == pytest.approx(2 / 3)
    assert v[("All accounts", "period_retention_rate", p3)] == pytest.approx(1 / 2)
    # segment S = {a, b}: p2 revenue 120 from 1 account; retention is for all accounts only
    assert v[("S", "revenue_per_account", p2)] == 120.0
    assert set(k.loc[k["kpi"] == "period_retention_rate", "segment"]) == {"All accounts"}
    assert v[("T", "ordering_accounts", p3)] == 1.0
    # a period ending after as-of is dropped
    k2 = review.compute_period_segment_kpis(ap, seg, period="quarter", as_of=dt.date(2024, 8, 15))
    assert k2["period_start"].max() == p2


def test_retention_is_not_split_by_segments_drawn_from_todays_activity():
    """Planted: today's quadrants hold today's active accounts, the rest are "Inactive accounts"
    (as the segmentation draws them). By those segments the latest period's retention would be
    100% and 0% by construction; only All accounts carries it, with its true value."""
    # churn 90 days, as of 30 Sep 2024: active today (order since 2 Jul) = {a, d}; b and c lapsed
    orders = pd.DataFrame([("a", "2024-05-10", 10.0), ("b", "2024-03-20", 10.0), ("c", "2024-06-10", 10.0),
                           ("a", "2024-08-01", 10.0), ("d", "2024-09-01", 10.0)],
                          columns=["account_id", "order_date", "revenue"]).assign(
        order_date=lambda d: pd.to_datetime(d["order_date"]))
    ap = (orders.assign(period_start=orders["order_date"].dt.to_period("Q").dt.start_time, orders=1)
          .groupby(["account_id", "period_start"], as_index=False)[["revenue", "orders"]].sum())
    today = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                          "quadrant": ["Star", "Inactive accounts", "Inactive accounts", "Strategic"]})
    k = review.compute_period_segment_kpis(ap, today, period="quarter", as_of=dt.date(2024, 9, 30),
                                           orders=OrderSource.from_frame(orders), churn_days=90)
    ret = k[k["kpi"] == "period_retention_rate"]
    assert set(ret["segment"]) == {"All accounts"}
    # Q3 base: active on 30 Jun = {a (10 May), c (10 Jun)} (b's 20 Mar is 102 days old); at 30 Sep a is
    # still active (1 Aug), c is not -> 1/2. By today's quadrants: Star {a} 1/1 = 100%, Inactive {c} 0%
    q3 = ret.set_index("period_start")["value"][pd.Timestamp("2024-07-01")]
    assert q3 == pytest.approx(0.5)
    # the other KPIs are still by segment
    assert {"Star", "Strategic", "Inactive accounts"} <= set(k.loc[k["kpi"] == "revenue", "segment"])
    # the status and trend machinery copes: no segment row of retention, no "needs data" row for it
    t = review.compute_kpi_tracking(k, programme_start=dt.date(2024, 4, 1), targets={}, amber=0.05, red=0.15,
                                    trend_window=1, flat_band=0.02)
    assert set(t.loc[t["kpi"] == "period_retention_rate", "segment"]) == {"All accounts"}


def test_kpi_tracking_baseline_target_and_status():
    ap, seg = _tiny_period_frame()
    k = review.compute_period_segment_kpis(ap, seg, period="quarter", orders=TINY_ORDERS, churn_days=90)
    t = review.compute_kpi_tracking(k, programme_start=dt.date(2024, 7, 1), targets={"average_order_value": 40},
                                    amber=0.05, red=0.15, trend_window=1, flat_band=0.02)
    row = t[(t.segment == "All accounts") & (t.kpi == "revenue")].set_index("period_start")
    # baseline = mean of the pre-programme periods (p1 180, p2 180) = 180; p3 = 140 -> 22% short -> red
    assert row["baseline"].iloc[0] == pytest.approx(180.0)
    assert row.loc[pd.Timestamp("2024-07-01"), "status"] == "red"
    assert row.loc[pd.Timestamp("2024-07-01"), "status_basis"] == "baseline"
    assert row.loc[pd.Timestamp("2024-07-01"), "trend"] == "down"
    aov = t[(t.segment == "All accounts") & (t.kpi == "average_order_value")].set_index("period_start")
    # AOV is compared with its target: p3 = 140 / 3 = 46.7 vs 40 -> green; p1 = 180/4 = 45 -> green
    assert (aov["status_basis"] == "target").all()
    assert aov.loc[pd.Timestamp("2024-07-01"), "status"] == "green"
    # a segment's order value is measured against its own baseline: the target is the portfolio's
    seg_aov = t[(t.segment != "All accounts") & (t.kpi == "average_order_value")]
    assert len(seg_aov) and seg_aov["target"].isna().all() and not (seg_aov["status_basis"] == "target").any()
    none = review.compute_kpi_tracking(k, programme_start=None, targets={}, amber=0.05, red=0.15, trend_window=1,
                                       flat_band=0.02)
    assert none["baseline"].isna().all() and none["note"].str.contains("no programme start").all()
    # revenue (currency) changes relatively: 140 / 180 - 1; retention (share) in points
    assert row.loc[pd.Timestamp("2024-07-01"), "vs_baseline"] == pytest.approx(140 / 180 - 1)
    assert (row["vs_baseline_kind"] == "relative").all()
    ret = t[(t.segment == "All accounts") & (t.kpi == "period_retention_rate")]
    assert (ret["vs_baseline_kind"] == "points").all()
    # baseline = p2's 2/3 (p1 has no account active before it); p3 = 1/2 -> -1/6 points
    assert ret.set_index("period_start").loc[pd.Timestamp("2024-07-01"), "vs_baseline"] == pytest.approx(0.5 - 2 / 3)


def _tiny_engine_frames():
    """Three accounts, by hand (T = 2024-12-31, churn 180 days, baseline B = 2024-06-30).

    a: P 60 + 20, W 40 + 60 (2 orders); b: P 50, W 50; c: P 20, W 10 (2024-02-01, churned
    by T). All three active at T-12m (orders in (2023-07-04, 2023-12-31]); a, b active at T.
    NPS: a answers 10 then 6 (latest 6: detractor), b 9, c 10 (c's only answer).
    At B: revenue in (2023-06-30, 2024-06-30]: a 20 + 40, b 50, c 20 + 10; NPS a 10, b 9, c 10.
    """
    orders = pd.DataFrame([
        ("a", "a1", "2023-01-15", 60.0), ("a", "a2", "2023-11-01", 20.0), ("a", "a3", "2024-03-01", 40.0),
        ("a", "a4", "2024-10-01", 60.0), ("b", "b1", "2023-09-01", 50.0), ("b", "b2", "2024-11-15", 50.0),
        ("c", "c1", "2023-10-01", 20.0), ("c", "c2", "2024-02-01", 10.0)],
        columns=["account_id", "order_id", "order_date", "revenue"]).assign(
        order_date=lambda d: pd.to_datetime(d["order_date"]), gross_margin=np.nan)
    surveys = pd.DataFrame({"account_id": ["a", "a", "b", "c"], "nps": [10, 6, 9, 10],
                            "survey_date": pd.to_datetime(["2024-05-01", "2024-09-01", "2024-06-01", "2024-03-01"])})
    T, B = pd.Timestamp("2024-12-31"), pd.Timestamp("2024-06-30")
    now = compute_account_kpis(orders, as_of=T, churn_days=180, surveys=surveys)
    base = compute_account_kpis(orders[orders["order_date"] <= B], as_of=B, churn_days=180,
                                surveys=surveys[surveys["survey_date"] <= B])
    return now, base


def test_segment_scorecard_uses_the_kpi_engine_and_baseline():
    now, base = _tiny_engine_frames()
    seg = pd.DataFrame({"account_id": ["a", "b", "c"], "quadrant": ["S", "S", "T"]})
    sc = review.compute_segment_scorecard(now, seg, targets={"average_order_value": 45, "nps": 40, "churn_rate": 0.3},
                                          amber=0.05, red=0.15, baseline_kpis=base)
    v = sc.set_index(["segment", "kpi"])
    assert v.loc[("S", "revenue_12m"), "value"] == 150 and v.loc[("S", "revenue_12m"), "baseline"] == 110
    assert v.loc[("S", "revenue_12m"), "vs_baseline"] == pytest.approx(150 / 110 - 1)
    assert v.loc[("S", "revenue_12m"), "n"] == 2 and v.loc[("S", "revenue_12m"), "status_basis"] == "baseline"
    assert v.loc[("S", "average_order_value"), "value"] == pytest.approx(50)  # 150 / 3 orders
    # the order-value target is the portfolio's: a segment's order value scales with its accounts, so
    # segments are measured against their own baseline (S 50 vs 110/3 orders at baseline ...), not 45
    for q in ("S", "T"):
        assert math.isnan(v.loc[(q, "average_order_value"), "target"]), q
        assert v.loc[(q, "average_order_value"), "status_basis"] == "baseline", q
    assert v.loc[("All accounts", "average_order_value"), "target"] == 45
    assert v.loc[("All accounts", "average_order_value"), "status"] == "amber"  # 40: 11% short of 45
    # a score's target is every segment's: NPS 40 applies to S and T
    assert v.loc[("S", "nps"), "target"] == 40 and v.loc[("S", "nps"), "status_basis"] == "target"
    # retention (engine definition: active at T-12m and at T): all 2/3; churn is its complement. By
    # segment it would be S 2/2, T 0/1 — today's membership, not a finding — so no segment carries it
    assert ("S", "retention_rate") not in v.index and ("T", "retention_rate") not in v.index
    assert not sc[(sc["segment"] != "All accounts") & sc["kpi"].isin(metrics.ALL_ACCOUNTS_ONLY_KPIS)].size
    assert v.loc[("All accounts", "churn_rate"), "value"] == pytest.approx(1 / 3)
    assert v.loc[("All accounts", "churn_rate"), "status"] == "amber"  # lower is better: 11% above 0.3
    assert set(sc["kpi"]) == set(review.SCORECARD_KPIS) | {"churn_rate"}  # the default KPIs + those with a target
    # NPS is the engine's: latest answer per account (a's 6, b's 9) -> S = 0, not the 33 of all answers
    assert v.loc[("S", "nps"), "value"] == pytest.approx(0.0) and v.loc[("S", "nps"), "baseline"] == 100
    assert v.loc[("S", "nps"), "status"] == "red" and v.loc[("T", "nps"), "value"] == 100
    # a score's change vs baseline is in points (0 - 100 = -100 points), never a relative -100%
    assert v.loc[("S", "nps"), "vs_baseline"] == pytest.approx(-100.0)
    assert v.loc[("S", "nps"), "vs_baseline_kind"] == "points"
    assert v.loc[("S", "revenue_12m"), "vs_baseline_kind"] == "relative"
    # All accounts is the whole frame and equals the headline KPIs
    head = compute_headline_kpis(now).set_index("kpi")["value"]
    for kpi in ("revenue_12m", "retention_rate", "average_order_value", "nps", "revenue_growth_yoy"):
        assert v.loc[("All accounts", kpi), "value"] == pytest.approx(head[kpi]), kpi
    assert list(dict.fromkeys(sc["segment"])) == ["All accounts", "S", "T"]
    # baseline members: c was in S at the baseline -> S's baseline is a + b + c
    bseg = pd.DataFrame({"account_id": ["a", "b", "c"], "quadrant": ["S", "S", "S"]})
    sc2 = review.compute_segment_scorecard(now, seg, targets={}, amber=0.05, red=0.15, baseline_kpis=base,
                                           baseline_segments=bseg).set_index(["segment", "kpi"])
    assert sc2.loc[("S", "revenue_12m"), "baseline"] == 140
    assert np.isnan(sc2.loc[("T", "revenue_12m"), "baseline"])  # no T at the baseline


def test_account_kpis_as_of_reproduces_the_engine_and_cuts_at_the_date(demo_run):
    p = demo_run.params.analysis
    orders = order_frame(demo_run)  # the reference: window sums in pandas
    surveys = demo_run.read_data("surveys")
    # the assessment's account_kpis (notebook 01: engine on all orders, accounts, surveys)
    today = metrics.compute_account_kpis(OrderSource.from_run(demo_run), as_of=p.as_of_date, churn_days=p.churn_days,
                                      accounts=demo_run.read_data("accounts"), surveys=surveys)
    again = metrics.compute_account_kpis_as_of(demo_run, p.as_of_date)
    pd.testing.assert_frame_equal(today, again)
    assert today.attrs == again.attrs
    B = pd.Timestamp(p.programme_start)
    base = metrics.compute_account_kpis_as_of(demo_run, p.programme_start).set_index("account_id")
    assert base.attrs["as_of"] == B.strftime("%Y-%m-%d")
    assert pd.to_datetime(base["last_order_date"]).max() <= B  # nothing after the baseline date
    w = orders[(orders["order_date"] > B - pd.DateOffset(months=12)) & (orders["order_date"] <= B)]
    rev = w.groupby("account_id")["revenue"].sum()
    assert np.allclose(base.loc[rev.index, "revenue_12m"], rev)
    assert base["revenue_total"].sum() == pytest.approx(orders.loc[orders["order_date"] <= B, "revenue"].sum())
    sd = pd.to_datetime(surveys["survey_date"])
    sv = surveys[(sd > B - pd.DateOffset(months=12)) & (sd <= B)]
    assert base["responded_12m"].sum() == sv["account_id"].nunique()
    assert base["revenue_12m"].sum() < today["revenue_12m"].sum() * 1.5  # a different, earlier window
    assert (base["revenue_12m"].to_numpy() != today.set_index("account_id").loc[base.index, "revenue_12m"]).any()


def test_kpi_vs_target_and_benchmark_gaps_give_the_same_status(demo_run):
    """Same KPI, target and thresholds -> the same RAG in the review and the assessment,
    including lower-is-better KPIs (churn, concentration)."""
    p = demo_run.params
    a = metrics.compute_account_kpis_as_of(demo_run, p.analysis.as_of_date)
    head = compute_headline_kpis(a)
    h = head.set_index("kpi")["value"]
    targets = dict(p.targets, churn_rate=float(h["churn_rate"]) * 0.9, top10_share=float(h["top10_share"]) * 1.2,
                   gini=float(h["gini"]) * 0.8)
    rag = p.thresholds.rag
    gaps = assessment.compute_benchmark_gaps(head, benchmarks=pd.DataFrame(columns=["kpi", "benchmark"]),
                                             targets=targets, amber=rag.amber, red=rag.red)
    base = compute_headline_kpis(metrics.compute_account_kpis_as_of(demo_run, p.analysis.programme_start))
    kvt = review.compute_kpi_vs_target(head, targets, amber=rag.amber, red=rag.red, baseline=base)
    m = kvt.merge(gaps, on="kpi", suffixes=("", "_gap"))
    assert len(m) == len(targets)
    assert (m["status"] == m["status_gap"]).all(), m[["kpi", "status", "status_gap"]]
    s = m.set_index("kpi")["status"]
    assert s["churn_rate"] == "amber" and s["top10_share"] == "green" and s["gini"] == "red"
    assert kvt["baseline"].notna().all()
    assert kvt.set_index("kpi").loc["average_order_value", "baseline"] == pytest.approx(
        base.set_index("kpi").loc["average_order_value", "value"])


def test_scorecard_without_the_segment_column_gives_all_accounts_only():
    now, _ = _tiny_engine_frames()
    sc = review.compute_segment_scorecard(now, now[["account_id"]], targets={}, amber=0.05, red=0.15,
                                          segment_col="rfm_segment")
    assert set(sc["segment"]) == {"All accounts"}
    every = review.compute_segment_scorecard(now, now[["account_id"]], targets={}, amber=0.05, red=0.15, kpis=None)
    assert {"gini", "churn_rate", "csat_top2"} <= set(every["kpi"])  # kpis=None: all the engine computes
    assert sc.set_index("kpi").loc["revenue_growth_yoy", "value"] == pytest.approx(160 / 150 - 1)
    assert np.isnan(sc.set_index("kpi").loc["revenue_12m", "baseline"])  # no baseline frame given




def test_a_base_too_small_for_the_matrix_tracks_all_accounts_only():
    from kam_analysis.metrics.capability import Capability
    from kam_analysis.phases.review import ALL_ACCOUNTS, compute_segment_scorecard, tracked_segments

    segs = pd.DataFrame({"account_id": ["a", "b", "c"], "quadrant": ["Strategic", "Star", "Status"]})
    kpis, _ = _tiny_engine_frames()
    refused = Capability(pd.DataFrame({"analysis": ["portfolio_matrix"], "status": ["not_supported"],
                                       "caveat": ["only 3 live accounts: too few"], "unlock": [""],
                                       "unlock_item": ["accounts_live"], "minimum": ["at least 20 live accounts"]}))
    ok = Capability(None)
    assert "quadrant" not in tracked_segments(segs, "quadrant", refused)
    assert tracked_segments(segs, "quadrant", ok) is segs
    segs_t = segs.assign(tier=["key", "core", "core"])
    assert tracked_segments(segs_t, "tier", refused) is segs_t  # only the quadrants are the matrix's
    sc = compute_segment_scorecard(kpis, tracked_segments(segs, "quadrant", refused), targets={}, amber=0.05,
                                   red=0.15, kpis=None)
    assert set(sc["segment"]) == {ALL_ACCOUNTS}
