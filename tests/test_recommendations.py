"""Tests for kam_analysis.phases.recommendations: each rule on hand-built evidence, and the ranked table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kam_analysis.phases import recommendations


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
    assert r["evidence"].iloc[0].startswith("KPI scorecard: ") and "60.0%" in r["evidence"].iloc[0]
    assert recommendations.rule_segment_target_gaps(sc.iloc[[1, 2]], rev).empty
    growth = _scorecard([("Star", "revenue_growth_yoy", -0.02, 0.1, 0.08, "red", "target")])
    g = recommendations.rule_segment_target_gaps(growth, rev)
    assert g["value"].iloc[0] == pytest.approx(1000 * 0.10)
    assert g["value_basis"].iloc[0] == "revenue uplift if the KPI reached target"
    # average order value 40 vs target 50 at today's volume: 1000 x 10 / 40
    aov = _scorecard([("Star", "average_order_value", 40.0, 45.0, 50.0, "red", "target")])
    assert recommendations.rule_segment_target_gaps(aov, rev)["value"].iloc[0] == pytest.approx(250.0)
    # the inactive accounts get no 'lift the KPI to target' (nothing to review with a dormant account)
    assert recommendations.rule_segment_target_gaps(aov, rev, skip=["Star"]).empty



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
    ev = r["evidence"].iloc[0]
    assert "churn-risk model: revenue at risk in the segment" in ev and "€150" in ev
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
    assert "Alpha Ltd" in r["recommendation"].iloc[0] and r["evidence"].iloc[0].startswith("Churn-risk model: ")
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
    assert r["evidence"].iloc[0].startswith("Churn-risk model and coverage plan: ")
    assert "2 high-churn-risk" in r["recommendation"].iloc[0]
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
    # the cohort is the baseline's members, and the words say so (the scorecard follows today's)
    assert r["recommendation"].iloc[0] == ("Revisit the Key playbook: the accounts that were Key at the baseline have "
                                           "not grown; check cadence, offer and coverage")
    assert "now vs €1,000 then (-10.0%)" in r["evidence"].iloc[0]
    r3 = recommendations.rule_stalled_playbooks(sc.assign(n=[212, 80, 40]), ["Key"])
    assert "the 212 accounts that were Key at the baseline have not grown" in r3["recommendation"].iloc[0]
    assert "part of a fall may be drift toward the average" in r3["evidence"].iloc[0]  # regression to the mean
    # one account is said as one, and a cohort below the minimum base is not judged at all
    one = recommendations.rule_stalled_playbooks(sc.assign(n=[1, 80, 40]), ["Key"])
    assert "the account that was Key at the baseline has not grown" in one["recommendation"].iloc[0]
    assert recommendations.rule_stalled_playbooks(sc.assign(n=[29, 80, 40]), ["Key"], min_accounts=30).empty
    assert len(recommendations.rule_stalled_playbooks(sc.assign(n=[30, 80, 40]), ["Key"], min_accounts=30)) == 1



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
    # a stable id per recommendation, the key of the client's returned actions file
    assert r["recommendation_id"].tolist() == [f"REC-r-s{i:02d}" for i in range(20, 0, -1)]
    assert r["recommendation_id"].is_unique
    assert "recommendation_id" in recommendations.compute_recommendations().columns


def _gap(segment, kpi, value):
    return pd.DataFrame([{"rule": "segment_target_gap", "segment": segment, "kpi": kpi,
                          "recommendation": f"Lift {kpi} in {segment}", "evidence": "KPI scorecard: x", "value": value}])


def test_recommendation_ids_follow_what_a_recommendation_is_about_not_its_rank():
    """A returned status must stay on its recommendation next quarter, when ranks have changed."""
    q1 = recommendations.compute_recommendations(
        _gap("Strategic", "retention_rate", 900.0), _gap("Strategic", "average_order_value", 500.0),
        pd.DataFrame([{"rule": "whitespace", "segment": "", "recommendation": "cross-sell", "evidence": "w",
                       "value": 100.0}]))
    q2 = recommendations.compute_recommendations(  # next quarter: the order flipped, one new finding
        _gap("Strategic", "retention_rate", 50.0), _gap("Strategic", "average_order_value", 500.0),
        pd.DataFrame([{"rule": "whitespace", "segment": "", "recommendation": "cross-sell", "evidence": "w",
                       "value": 800.0}]),
        pd.DataFrame([{"rule": "stalled_playbook", "segment": "Develop / grow", "kpi": "revenue_12m",
                       "recommendation": "revisit", "evidence": "p", "value": 10.0}]))
    id1 = dict(zip(q1["recommendation"], q1["recommendation_id"]))
    id2 = dict(zip(q2["recommendation"], q2["recommendation_id"]))
    assert id1 == {"Lift retention_rate in Strategic": "REC-retention-strategic",
                   "Lift average_order_value in Strategic": "REC-order-value-strategic", "cross-sell": "REC-whitespace"}
    assert q1["rank"].tolist() != q2.set_index("recommendation").loc[q1["recommendation"], "rank"].tolist()
    assert all(id2[k] == v for k, v in id1.items())  # same finding, same id, whatever its rank
    assert id2["revisit"] == "REC-playbook-develop-grow"
    assert recommendations.recommendation_id("segment_target_gap", "Status", "revenue_growth_yoy") == "REC-growth-status"
    assert q2["kpi"].tolist()[:2] == ["", "average_order_value"]  # the KPI is kept in the table


def test_recommendation_ids_are_unique_within_a_run_and_derivable_for_old_runs():
    twice = pd.DataFrame({"rule": ["whitespace", "whitespace", "uncovered_high_risk"], "segment": ["", "", ""]})
    assert recommendations.recommendation_ids(twice).tolist() == ["REC-whitespace", "REC-whitespace-2",
                                                                  "REC-uncovered-risk"]
    # an old plan run's table has no kpi column: rule and segment, repeats numbered
    old = pd.DataFrame({"rank": [1, 2], "rule": ["segment_target_gap"] * 2, "segment": ["Status", "Status"]})
    assert recommendations.recommendation_ids(old).tolist() == ["REC-target-gap-status", "REC-target-gap-status-2"]


def test_each_recommendation_has_an_owner_and_a_due_date_from_its_rule():
    import datetime as dt

    from kam_analysis.phases.recommendations import RULE_OWNERS, compute_recommendations

    a = pd.DataFrame([{"rule": "whitespace", "recommendation": "x", "evidence": "e", "value": 10.0,
                       "value_basis": "b", "segment": ""},
                      {"rule": "uncovered_high_risk", "recommendation": "y", "evidence": "e", "value": 20.0,
                       "value_basis": "b", "segment": ""}])
    r = compute_recommendations(a, plan_date=dt.date(2026, 1, 1)).set_index("rule")
    assert r.loc["uncovered_high_risk", "owner"] == RULE_OWNERS["uncovered_high_risk"][0]
    assert r.loc["uncovered_high_risk", "due_date"] == pd.Timestamp("2026-01-31")
    assert r.loc["whitespace", "due_date"] == pd.Timestamp("2026-04-01")
    assert "owner" not in compute_recommendations(a).columns  # no plan date, no made-up dates


def test_the_id_words_name_kpis_of_the_dictionary():
    from kam_analysis.metrics.definitions import KPI_DEFINITIONS
    assert set(recommendations._KPI_WORDS) <= set(KPI_DEFINITIONS)


def test_a_segment_without_manager_time_gets_digital_levers_and_its_playbooks_owner():
    """The demo told the Streamline segment (all served digitally) to put NPS levers 'on the next
    business-review agenda', owned by a 'key-account lead' it does not have."""
    plan = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "segment": ["Star", "Star", "Streamline", "Streamline"],
                         "hours_per_account": [30.0, 0.0, 0.0, 0.0]})
    books = pd.DataFrame({"segment": ["Star", "Streamline"], "accountable": ["Head of key accounts", "E-commerce manager"]})
    owners = recommendations.digital_segment_owners(plan, books)
    assert owners == {"Streamline": "E-commerce manager"}
    assert recommendations.digital_segment_owners(None, books) == {}
    sc = _scorecard([("Streamline", "retention_rate", 0.60, 0.7, 0.80, "red", "target"),
                     ("Star", "retention_rate", 0.60, 0.7, 0.80, "red", "target")])
    r = recommendations.rule_segment_target_gaps(sc, pd.Series({"Streamline": 1000.0, "Star": 2000.0}),
                                                 digital=owners).set_index("segment")["recommendation"]
    assert r["Streamline"].endswith("into the segment's digital journeys")
    assert r["Star"].endswith("on the next business-review agenda")


def test_a_mixed_segment_reviews_only_its_accounts_with_manager_time():
    """Star: 166 of its 190 accounts are served digitally, so its levers go on the business-review agenda
    of the 24 with manager time and into the digital journeys of the rest."""
    plan = pd.DataFrame({"account_id": list("abcd"), "segment": ["Star", "Star", "Star", "Core"],
                         "hours_per_account": [30.0, 30.0, 0.0, 0.0], "hours_allocated": [30.0, 0.0, 0.0, 0.0]})
    from kam_analysis.phases.coverage import accounts_with_manager_time

    counts, allocated = accounts_with_manager_time(plan)
    assert counts == {"Star": (1, 3), "Core": (0, 1)} and allocated  # allocated hours where the plan allocates any
    needed, allocated = accounts_with_manager_time(plan.assign(hours_allocated=0.0))
    assert needed == {"Star": (2, 3), "Core": (0, 1)} and not allocated  # no capacity: the hours the playbooks need
    sc = _scorecard([("Star", "retention_rate", 0.60, 0.7, 0.80, "red", "target")])
    r = recommendations.rule_segment_target_gaps(sc, pd.Series({"Star": 1000.0}), managed=counts)
    assert r["recommendation"].iloc[0].endswith("on the next business-review agenda of its 1 account with manager "
                                                "time and into the digital journeys of the rest")
