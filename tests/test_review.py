"""Tests for kam_analysis.phases.review: tracking, SPC, programme impact, migration, recommendations."""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest

from kam_analysis import PLANTED
from kam_analysis.models.impact import ProgrammeImpact
from kam_analysis.models.spc import compute_spc
from kam_analysis.phases import assessment, migration, recommendations, review
from kam_analysis import metrics
from kam_analysis.metrics import compute_account_kpis, compute_headline_kpis


# --------------------------------------------------------------------------- status and trend
def test_trend_direction_compares_last_window_with_previous():
    assert review.trend_direction([10, 10, 12, 12], window=2, flat_band=0.02) == "up"  # +20%
    assert review.trend_direction([10, 10, 9, 9], window=2, flat_band=0.02) == "down"
    assert review.trend_direction([10, 10, 10.1, 10.1], window=2, flat_band=0.02) == "flat"  # +1%
    assert review.trend_direction([10, 12, 11], window=2, flat_band=0.02) == "n/a"  # too short


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
                                           orders=TINY_ORDERS, churn_days=90)
    v = k.set_index(["segment", "kpi", "period_start"])["value"]
    p2, p3 = pd.Timestamp("2024-04-01"), pd.Timestamp("2024-07-01")
    assert v[("All accounts", "revenue", p2)] == 180.0
    assert v[("All accounts", "average_order_value", p2)] == pytest.approx(180 / 5)
    # retention p2: base {a,b,c}, kept {a,c} -> 2/3; p3: base {a,c}, kept {a} -> 1/2 (b's refund
    # on 20 Aug does not change its last order)
    assert v[("All accounts", "period_retention_rate", p2)] == pytest.approx(2 / 3)
    assert v[("All accounts", "period_retention_rate", p3)] == pytest.approx(1 / 2)
    # segment S = {a, b}: p2 revenue 120 from 1 account; retention p2 = {a}/{a,b} = 1/2
    assert v[("S", "revenue_per_account", p2)] == 120.0
    assert v[("S", "period_retention_rate", p2)] == pytest.approx(0.5)
    assert v[("T", "ordering_accounts", p3)] == 1.0
    # a period ending after as-of is dropped
    k2 = review.compute_period_segment_kpis(ap, seg, period="quarter", as_of=dt.date(2024, 8, 15))
    assert k2["period_start"].max() == p2


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


# --------------------------------------------------------------------------- SPC
def test_individuals_chart_limits_by_hand():
    x = [10, 12, 11, 13, 10, 12, 30]
    s = pd.DataFrame({"period_start": pd.date_range("2023-01-01", periods=7, freq="QS"), "value": x})
    mask = np.array([True] * 6 + [False])
    r = compute_spc(s, kind="individuals", baseline_mask=mask, min_baseline=6)
    centre = np.mean(x[:6])
    mr = np.mean(np.abs(np.diff(x[:6])))  # (2+1+2+3+2)/5 = 2
    assert r["center"].iloc[0] == pytest.approx(centre)
    assert r["ucl"].iloc[0] == pytest.approx(centre + 2.66 * mr)
    assert r["lcl"].iloc[0] == pytest.approx(centre - 2.66 * mr)
    assert r["signal"].tolist() == [False] * 6 + [True]
    assert r["limits_from"].iloc[0] == "baseline"


def test_p_chart_limits_and_run_rule():
    n = np.array([100, 100, 400, 100, 100, 100, 100, 100, 100, 100])
    p = np.array([0.50, 0.52, 0.48, 0.55, 0.56, 0.57, 0.55, 0.56, 0.58, 0.57])
    s = pd.DataFrame({"period_start": pd.date_range("2023-01-01", periods=10, freq="MS"), "value": p, "n": n})
    r = compute_spc(s, kind="p", baseline_mask=np.array([True] * 3 + [False] * 7), min_baseline=2,
                           run_length=7)
    pbar = (p[:3] * n[:3]).sum() / n[:3].sum()
    assert r["center"].iloc[0] == pytest.approx(pbar)
    assert r["ucl"].iloc[2] == pytest.approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / 400))
    assert r["ucl"].iloc[0] > r["ucl"].iloc[2]  # wider limits with a smaller denominator
    # 7 points above the centre line from index 3 on -> the 7th of them signals a run
    assert not r["signal"].iloc[:9].any()
    assert r.loc[9, "rule"] in {"run of 7", "outside limits"} and r["signal"].iloc[9]


# --------------------------------------------------------------------------- programme impact (DiD)
def simulate_panel(*, effect: float, n: int = 600, periods: int = 16, start: int = 10, pre_trend: float = 0.0,
                   seed: int = 0):
    """Account x quarter log revenue with account and period effects and a planted programme effect.

    Programme accounts are the top 15% by account effect (selection on level, as in real
    programmes); after period ``start`` their log revenue rises by ``effect``. With
    ``pre_trend`` they also drift upward by that much per period all along (a violation of
    parallel trends). Some account-periods are inactive (no row).
    """
    rng = np.random.default_rng(seed)
    alpha = rng.normal(7, 1, n)
    key = alpha > np.quantile(alpha, 0.85)
    gamma = np.cumsum(rng.normal(0.02, 0.05, periods))
    ps = pd.date_range("2021-01-01", periods=periods, freq="QS")
    i, t = np.repeat(np.arange(n), periods), np.tile(np.arange(periods), n)
    y = (alpha[i] + gamma[t] + effect * (key[i] & (t >= start)) + pre_trend * t * key[i]
         + rng.normal(0, 0.3, n * periods))
    active = rng.random(n * periods) >= 0.15
    ap = pd.DataFrame({"account_id": [f"A{k:04d}" for k in i[active]], "period_start": ps[t[active]],
                       "revenue": np.exp(y[active])})
    acc = pd.DataFrame({"account_id": [f"A{i:04d}" for i in range(n)], "key_account": key})
    return ap, acc, ps[start].date()


def test_did_recovers_planted_effect():
    effect = math.log(1.15)
    ap, acc, start = simulate_panel(effect=effect)
    m = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert m.supported_
    assert m.ci_low_ <= effect <= m.ci_high_
    assert abs(m.estimate_ - effect) < 0.05
    assert m.ci_low_ > 0 and m.p_value_ < 0.05
    assert m.uplift_ == pytest.approx(math.expm1(m.estimate_))
    assert m.pretrend_p_value_ > 0.05
    assert abs(m.placebo_estimate_) < 0.05 and m.placebo_p_value_ > 0.05  # no effect before the start
    assert "more than" in m.sentence_
    es = m.event_study_.set_index("rel_period")
    assert es.loc[-1, "coef"] == 0 and es.loc[2, "coef"] > 0.05  # post effects visible
    t = m.summary()
    assert t.loc[0, "supported"] and list(t.columns[:5]) == ["supported", "estimate", "ci_low", "ci_high", "p_value"]


def test_did_reports_no_effect_on_placebo_data():
    ap, acc, start = simulate_panel(effect=0.0, seed=1)
    m = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert m.supported_
    assert m.ci_low_ < 0 < m.ci_high_
    assert m.p_value_ > 0.05
    assert "no measurable difference" in m.sentence_


def test_did_flags_diverging_pre_trends():
    ap, acc, start = simulate_panel(effect=0.0, pre_trend=0.08, seed=2)
    m = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert m.pretrend_p_value_ < 0.05
    assert m.placebo_estimate_ > 0 and m.placebo_p_value_ < 0.05
    assert "already diverging" in m.sentence_


def test_did_accounts_for_every_programme_account():
    """From the client's programme list to the estimate: each programme account left out is
    counted under its reason, and the counts add up to the programme."""
    ap, acc, start = simulate_panel(effect=0.1, n=300, seed=3)
    ps = sorted(ap["period_start"].unique())
    planted = pd.DataFrame({"account_id": ["P_NONE1", "P_NONE2", "P_EDGE", "P_NEW1", "P_NEW2", "P_NEW3"],
                            "key_account": True})
    extra = pd.DataFrame([("P_EDGE", ps[3], 900.0)]  # one period only: both its first and its last, dropped
                         + [(f"P_NEW{k}", ps[p], 800.0) for k in (1, 2, 3) for p in range(11, 16)],  # joined after
                         columns=["account_id", "period_start", "revenue"])
    m = ProgrammeImpact(programme_start=start).fit(pd.concat([ap, extra]), pd.concat([acc, planted]))
    assert m.supported_
    n_key = int(acc["key_account"].sum())
    assert m.n_programme_ == n_key + 6
    assert (m.n_excluded_no_revenue_, m.n_excluded_partial_periods_, m.n_excluded_no_pre_history_) == (2, 1, 3)
    assert m.n_treated_ == n_key  # every simulated programme account bought in the matching window
    assert m.n_control_ <= m.n_control_pool_ == int((~acc["key_account"]).sum())
    assert m.accounts_note_ == (
        f"{n_key} of the {n_key + 6} accounts in the client's programme are in the estimate; left out: 2 with no "
        "revenue in the data; 1 with revenue only in partly covered periods (an account's first or last period, or "
        "the one the programme started in); 3 that did not buy in the first 4 of the 9 periods before the "
        "programme (the matching window), so have no history to be matched on.")
    row = m.summary().iloc[0]
    assert row["n_programme"] == row["n_treated"] + row["n_excluded_no_revenue"] + row[
        "n_excluded_partial_periods"] + row["n_excluded_no_pre_history"]
    assert row["accounts_note"] == m.accounts_note_
    full = ProgrammeImpact(programme_start=start).fit(ap, acc)
    assert full.accounts_note_ == f"All {n_key} accounts in the client's programme are in the estimate."


def test_did_says_why_when_data_cannot_support_it():
    ap, acc, start = simulate_panel(effect=0.1, n=120, periods=8, start=5)
    no_date = ProgrammeImpact(programme_start=None).fit(ap, acc)
    assert not no_date.supported_ and "programme start" in no_date.reason_
    assert np.isnan(no_date.estimate_) and "cannot be estimated" in no_date.sentence_
    no_flag = ProgrammeImpact(programme_start=start).fit(ap, acc.drop(columns="key_account"))
    assert not no_flag.supported_ and "key_account" in no_flag.reason_
    early = ProgrammeImpact(programme_start=dt.date(2021, 4, 1)).fit(ap, acc)
    assert not early.supported_ and re.search(r"only \d complete period", early.reason_)
    late = ProgrammeImpact(programme_start=dt.date(2022, 10, 1), min_post_periods=2).fit(ap, acc)
    assert not late.supported_ and "since the programme start" in late.reason_
    no_control = ProgrammeImpact(programme_start=start).fit(ap, acc.assign(key_account=True))
    assert not no_control.supported_ and "control group" in no_control.reason_
    assert bool(no_control.summary().loc[0, "supported"]) is False


def test_did_recovers_the_demo_programme_uplift(tmp_path_factory):
    """The demo client (params/demo.yaml: 2,000 accounts, seed 42) plants +15% order value
    for key accounts after the programme start; the estimate's CI must contain log(1.15)."""
    from conftest import write_demo_params

    from kam_analysis import open_run

    tmp = tmp_path_factory.mktemp("demo2000")
    run = open_run(write_demo_params(tmp, n_accounts=2000, seed=42), tmp / "run")
    m = review.programme_impact_from_params(run.read_table("account_period"), run.read_table("account_summary"),
                                            params=run.params)
    assert m.supported_, m.reason_
    truth = math.log(1 + PLANTED["programme_uplift"])
    assert m.ci_low_ <= truth <= m.ci_high_
    assert m.ci_low_ > 0 and m.n_treated_ >= 100


def test_did_declines_on_too_few_programme_accounts(demo_run):
    """The 400-account demo has about 30 key accounts, fewer with history: no number, a reason."""
    m = review.programme_impact_from_params(demo_run.read_table("account_period"),
                                            demo_run.read_table("account_summary"), params=demo_run.params)
    assert not m.supported_
    assert re.search(r"only \d+ programme account\(s\).*at least 30", m.reason_)
    assert np.isnan(m.summary().loc[0, "estimate"])


# --------------------------------------------------------------------------- migration
def test_migration_matrix_matches_hand_built_case():
    base = pd.DataFrame({"account_id": ["a", "b", "c", "d", "f"], "quadrant": ["S", "S", "T", "T", "S"]})
    cur = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"], "quadrant": ["S", "T", "T", "S", "T"]})
    rev_now = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"], "revenue_12m": [10.0, 20, 30, 40, 50]})
    rev_then = pd.DataFrame({"account_id": ["a", "b", "c", "d", "f"], "revenue_12m": [5.0, 25, 30, 10, 7]})
    m = migration.compute_segment_migration(base, cur, current_revenue=rev_now, baseline_revenue=rev_then,
                                         order=["S", "T"])
    g = m.set_index(["from_segment", "to_segment"])
    assert g.loc[("S", "S"), "accounts"] == 1 and g.loc[("S", "T"), "accounts"] == 1
    assert g.loc[("T", "S"), "accounts"] == 1 and g.loc[("T", "T"), "accounts"] == 1
    assert g.loc[("New since baseline", "T"), "accounts"] == 1  # e
    assert g.loc[("S", "No longer segmented"), "accounts"] == 1  # f
    assert g.loc[("S", "T"), "revenue"] == 20 and g.loc[("S", "T"), "revenue_baseline"] == 25
    assert g.loc[("T", "S"), "revenue_change"] == 30
    assert g.loc[("S", "S"), "share_of_from"] == pytest.approx(1 / 3)
    assert g.loc[("New since baseline", "S"), "accounts"] == 0  # zero cells are present
    assert m["accounts"].sum() == 6
    assert not g.loc[("T", "T"), "moved"] and g.loc[("T", "S"), "moved"]


def test_key_status_changes():
    base = pd.DataFrame({"account_id": ["a", "b", "c"], "is_key": [True, True, False], "quadrant": ["S", "S", "T"]})
    cur = pd.DataFrame({"account_id": ["a", "b", "c"], "is_key": [True, False, True], "quadrant": ["S", "T", "S"]})
    rev = pd.DataFrame({"account_id": ["a", "b", "c"], "revenue_12m": [1.0, 2.0, 3.0]})
    k = migration.compute_key_status_changes(base, cur, baseline_revenue=rev, current_revenue=rev)
    assert k.set_index("account_id")["change"].to_dict() == {"b": "fell out of key status", "c": "became key"}
    assert k.iloc[0]["account_id"] == "b"  # fall-outs first
    assert k.set_index("account_id").loc["b", "current_segment"] == "T"


# --------------------------------------------------------------------------- baseline summary
def test_summary_as_of_reproduces_account_summary_at_as_of(demo_run):
    s = demo_run.read_table("account_summary")
    b = migration.compute_summary_as_of(demo_run, demo_run.params.analysis.as_of_date)
    m = s.merge(b, on="account_id", suffixes=("", "_b"))
    assert len(m) == s["n_orders"].gt(0).sum() or len(m) == s["first_order_date"].notna().sum()
    for c in ("revenue_12m", "revenue_prev_12m", "orders_12m", "n_categories", "tenure_days"):
        assert np.allclose(m[c].astype(float), m[c + "_b"].astype(float)), c
    earlier = migration.compute_summary_as_of(demo_run, dt.date(2024, 7, 1))
    assert pd.to_datetime(earlier["last_order_date"]).max() <= pd.Timestamp("2024-07-01")
    assert len(earlier) < len(b)


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
    assert v.loc[("S", "average_order_value"), "status"] == "green"  # above 45
    assert v.loc[("T", "average_order_value"), "status"] == "red"  # 10 vs 45
    assert v.loc[("All accounts", "average_order_value"), "status"] == "amber"  # 40: 11% short of 45
    # retention (engine definition: active at T-12m and at T): S 2/2, T 0/1, all 2/3; churn is its complement
    assert v.loc[("S", "retention_rate"), "value"] == 1.0 and v.loc[("T", "retention_rate"), "value"] == 0.0
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
    orders = metrics.load_orders(demo_run)
    surveys = demo_run.read_data("surveys")
    # the assessment's account_kpis (notebook 01: engine on all orders, accounts, surveys)
    today = metrics.compute_account_kpis(orders, as_of=p.as_of_date, churn_days=p.churn_days,
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


# --------------------------------------------------------------------------- recommendation rules
def _scorecard(rows):
    return pd.DataFrame(rows, columns=["segment", "kpi", "value", "baseline", "target", "status", "status_basis"])


def test_rule_segment_target_gaps_fires_only_on_red_target_gaps():
    sc = _scorecard([("Star", "retention_rate", 0.60, 0.7, 0.80, "red", "target"),
                     ("Strategic", "retention_rate", 0.79, 0.8, 0.80, "green", "target"),
                     ("Status", "revenue_12m", 10.0, 100.0, np.nan, "red", "baseline"),
                     ("All accounts", "retention_rate", 0.6, 0.7, 0.8, "red", "target")])
    rev = pd.Series({"Star": 1000.0, "Strategic": 5000.0, "Status": 10.0})
    r = recommendations.rule_segment_target_gaps(sc, rev)
    assert r["segment"].tolist() == ["Star"]
    # no churn_risk table: revenue x retention shortfall in points = 1000 x (0.80 - 0.60)
    assert r["value"].iloc[0] == pytest.approx(1000 * 0.20)
    assert r["value_basis"].iloc[0] == "revenue at risk of churn"
    assert "kpi_scorecard" in r["evidence"].iloc[0] and "60.0%" in r["evidence"].iloc[0]
    assert recommendations.rule_segment_target_gaps(sc.iloc[[1, 2]], rev).empty
    growth = _scorecard([("Star", "revenue_growth_yoy", -0.02, 0.1, 0.08, "red", "target")])
    g = recommendations.rule_segment_target_gaps(growth, rev)
    assert g["value"].iloc[0] == pytest.approx(1000 * 0.10)
    assert g["value_basis"].iloc[0] == "revenue uplift if the KPI reached target"
    # average order value 40 vs target 50 at today's volume: 1000 x 10 / 40
    aov = _scorecard([("Star", "average_order_value", 40.0, 45.0, 50.0, "red", "target")])
    assert recommendations.rule_segment_target_gaps(aov, rev)["value"].iloc[0] == pytest.approx(250.0)


def test_rule_segment_target_gap_values_an_nps_gap_at_the_segments_revenue_at_risk():
    # the old rule valued a 100% NPS shortfall at the whole segment revenue (1000); the value is now
    # the churn model's revenue at risk of the segment's accounts (a 120 + b 30; c is in another segment)
    sc = _scorecard([("Star", "nps", -5.0, 6.0, 30.0, "red", "target"),
                     ("Star", "retention_rate", 0.9, 0.9, 0.95, "amber", "target")])
    rev = pd.Series({"Star": 1000.0})
    risk = pd.DataFrame({"account_id": ["a", "b", "c"], "revenue_at_risk": [120.0, 30.0, 500.0]})
    segs = pd.DataFrame({"account_id": ["a", "b", "c"], "quadrant": ["Star", "Star", "Core"]})
    r = recommendations.rule_segment_target_gaps(sc, rev, churn_risk=risk, segments=segs)
    assert r["value"].tolist() == [150.0] and r["value_basis"].tolist() == ["revenue at risk of churn"]
    assert "churn_risk" in r["evidence"].iloc[0] and "€150" in r["evidence"].iloc[0]
    # without the churn model: revenue x retention shortfall vs its target, 1000 x (0.95 - 0.90)
    r2 = recommendations.rule_segment_target_gaps(sc, rev)
    assert r2["value"].iloc[0] == pytest.approx(50.0) and r2["value"].iloc[0] < rev["Star"]


def test_rule_uncovered_risk_fires_only_for_uncovered_high_risk():
    risk = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "risk_score": [0.9, 0.8, 0.9, 0.2],
                         "risk_band": ["high", "high", "high", "low"], "revenue_at_risk": [500.0, 300, 200, 900]})
    acc = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                        "account_manager": [None, "Digital desk", "Amelia Hart", None]})
    names = pd.Series({"a": "Alpha Ltd", "b": "Beta SA"})
    r = recommendations.rule_uncovered_risk(risk, acc, no_coverage=["digital DESK"], names=names)
    assert len(r) == 1 and r["value"].iloc[0] == 800.0  # a + b; c is covered, d is low risk
    assert "Alpha Ltd" in r["recommendation"].iloc[0] and "churn_risk" in r["evidence"].iloc[0]
    covered = acc.assign(account_manager=["Tom", "Eva", "Amelia Hart", None])
    assert recommendations.rule_uncovered_risk(risk, covered, no_coverage=["digital desk"]).empty


def test_rule_uncovered_risk_reads_the_coverage_plan_first():
    risk = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "risk_band": ["high"] * 4,
                         "revenue_at_risk": [500.0, 300, 200, 100]})
    acc = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                        "account_manager": ["Tom", "Digital desk", None, None]})
    # the plan: a loses its manager (uncovered), b is served digitally (covered by the plan),
    # c gets a manager; d is not in the plan -> today's manager (none) decides
    plan = pd.DataFrame({"account_id": ["a", "b", "c"], "covered": [False, True, True],
                         "assigned_manager": [None, None, "Eva"]})
    r = recommendations.rule_uncovered_risk(risk, acc, coverage_plan=plan, no_coverage=["Digital desk"])
    assert r["value"].iloc[0] == 600.0  # a + d
    assert "coverage_plan" in r["evidence"].iloc[0] and "2 high-churn-risk" in r["recommendation"].iloc[0]
    # a plan without the covered flag: the assigned manager decides (empty or a no-coverage label)
    plan2 = plan.drop(columns="covered").assign(assigned_manager=["Digital desk", "Ann", None])
    r2 = recommendations.rule_uncovered_risk(risk, acc, coverage_plan=plan2, no_coverage=["digital desk"])
    assert r2["value"].iloc[0] == 500.0 + 200 + 100  # a (label), c (empty), d (fallback)
    # without a plan, today's managers: b (Digital desk), c, d uncovered
    assert recommendations.rule_uncovered_risk(risk, acc, no_coverage=["digital desk"])["value"].iloc[0] == 600.0
    assert recommendations.rule_uncovered_risk(risk, None).empty  # nothing to decide coverage from


def test_rule_whitespace_values_the_top_n_of_the_whole_set():
    ws = pd.DataFrame({"account_id": ["a", "b", "c"], "category": ["Footwear", "Footwear", "Home"],
                       "expected_value": [100.0, 50.0, 80.0]})
    r = recommendations.rule_whitespace(ws, top_n=2)
    assert r["value"].iloc[0] == 180.0 and "Footwear" in r["recommendation"].iloc[0]
    assert "top 2 of 3 opportunities, expected value €180 of €230" in r["evidence"].iloc[0]
    assert "led by Footwear (€100 of their €180)" in r["recommendation"].iloc[0]
    assert recommendations.rule_whitespace(ws.iloc[0:0]).empty


def test_rule_stalled_playbooks_fires_when_segment_did_not_grow():
    sc = _scorecard([("Key", "revenue_12m", 900.0, 1000.0, np.nan, "amber", "baseline"),
                     ("Growth", "revenue_12m", 1200.0, 1000.0, np.nan, "green", "baseline"),
                     ("Core", "revenue_12m", 1010.0, 1000.0, np.nan, "green", "baseline")])
    r = recommendations.rule_stalled_playbooks(sc, ["Key", "Growth"])
    assert r["segment"].tolist() == ["Key"] and r["value"].iloc[0] == 100.0
    # with a 5% improvement expected, Core (+1%) is stalled too: value = 0 lost + 5% of 1000
    r2 = recommendations.rule_stalled_playbooks(sc, ["Key", "Growth", "Core"], min_improvement=0.05)
    assert set(r2["segment"]) == {"Key", "Core"}
    assert r2.set_index("segment").loc["Core", "value"] == pytest.approx(50.0)
    assert recommendations.rule_stalled_playbooks(sc, ["Growth"]).empty
    assert set(r2["value_basis"]) == {"revenue short of the expected improvement"}


def test_recommendations_are_ranked_by_value():
    a = pd.DataFrame([{"rule": "x", "segment": "", "recommendation": "small", "evidence": "t: 1", "value": 10.0}])
    b = pd.DataFrame([{"rule": "y", "segment": "", "recommendation": "big", "evidence": "t: 2", "value": 99.0},
                      {"rule": "y", "segment": "", "recommendation": "nan", "evidence": "t: 3", "value": np.nan}])
    r = recommendations.compute_recommendations(a, b, pd.DataFrame())
    assert r["recommendation"].tolist() == ["big", "small"] and r["rank"].tolist() == [1, 2]
    assert "value_basis" in r.columns and r["value_basis"].tolist() == ["", ""]
    assert recommendations.compute_recommendations().empty


def test_every_recommendation_is_kept_so_the_count_is_the_tables_rows():
    many = [pd.DataFrame([{"rule": "r", "segment": f"S{i:02d}", "recommendation": f"do {i}", "evidence": "t: x",
                           "value": float(i)}]) for i in range(1, 21)]
    r = recommendations.compute_recommendations(*many)
    assert len(r) == 20 and r["rank"].tolist() == list(range(1, 21))  # no cap: a deliverable says "top N of 20"
    assert r["recommendation"].iloc[0] == "do 20" and r["recommendation"].iloc[-1] == "do 1"





def test_scorecard_without_the_segment_column_gives_all_accounts_only():
    now, _ = _tiny_engine_frames()
    sc = review.compute_segment_scorecard(now, now[["account_id"]], targets={}, amber=0.05, red=0.15,
                                          segment_col="rfm_segment")
    assert set(sc["segment"]) == {"All accounts"}
    every = review.compute_segment_scorecard(now, now[["account_id"]], targets={}, amber=0.05, red=0.15, kpis=None)
    assert {"gini", "churn_rate", "csat_top2"} <= set(every["kpi"])  # kpis=None: all the engine computes
    assert sc.set_index("kpi").loc["revenue_growth_yoy", "value"] == pytest.approx(160 / 150 - 1)
    assert np.isnan(sc.set_index("kpi").loc["revenue_12m", "baseline"])  # no baseline frame given


def test_empty_baseline_means_every_current_account_is_new():
    """No account had bought by the baseline date: nothing to segment, so all accounts are new since then."""
    from kam_analysis.config import Params

    params = Params.model_validate({"client": {"name": "X"}, "data": {"transactions": {"path": "o.csv"}},
                                    "analysis": {"as_of_date": "2025-12-31"}})
    empty = pd.DataFrame(columns=["account_id", "revenue_12m", "tenure_days", "n_categories"])
    base = migration.compute_baseline_segments(empty, params=params)
    assert base.empty and {"account_id", "quadrant", "is_key", "tier", "revenue_12m"} <= set(base.columns)
    current = pd.DataFrame({"account_id": ["a", "b"], "quadrant": ["Strategic", "Star"], "revenue_12m": [10.0, 5.0]})
    mig = migration.compute_segment_migration(base, current)
    moved = mig[mig["accounts"] > 0]
    assert set(moved["from_segment"]) == {"New since baseline"}
    assert moved["accounts"].sum() == 2 and set(moved["to_segment"]) == {"Strategic", "Star"}
