"""The business case: programme cost items and ROI / payback per scenario, computed by hand."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from kam_analysis.config import ASSUMED_PROGRAMME_COSTS
from kam_analysis.phases.business_case import compute_business_case, compute_programme_cost

PLAN = pd.DataFrame({"account_id": ["A", "B", "C"], "is_key": [True, True, False],
                     "hours_allocated": [100.0, 50.0, 400.0]})


def test_cost_counts_every_allocated_hour_and_the_clients_figures():
    c = compute_programme_cost(PLAN, cost_per_hour=80, tools_cost_per_year=1000, setup_cost=5000).set_index("item")
    assert c.loc["manager_time", "quantity"] == 550  # every segment's playbook hours: the scenarios count them all
    assert c.loc["manager_time", "amount"] == 550 * 80
    assert c.loc["tools", "amount"] == 1000 and c.loc["setup", "amount"] == 5000
    assert not c["assumed"].any()
    assert c.loc["setup", "kind"] == "one-off" and c.loc["tools", "kind"] == "per year"


def test_a_cost_not_given_is_the_documented_assumption_and_says_so():
    c = compute_programme_cost(PLAN, cost_per_hour=None, tools_cost_per_year=0, setup_cost=None).set_index("item")
    assert c.loc["manager_time", "unit_cost"] == ASSUMED_PROGRAMME_COSTS["cost_per_hour"]
    assert bool(c.loc["manager_time", "assumed"]) and bool(c.loc["setup", "assumed"])
    assert not bool(c.loc["tools", "assumed"]) and c.loc["tools", "amount"] == 0  # zero is the client's figure


def test_roi_and_payback_by_hand():
    cost = compute_programme_cost(PLAN.iloc[:2], cost_per_hour=80, tools_cost_per_year=0, setup_cost=6000)  # 12,000
    sc = pd.DataFrame({"scenario": ["low", "base"], "gross_profit_impact": [6000.0, 48000.0]})
    bc = compute_business_case(sc, cost, ramp_up=[0.5, 1.0]).set_index("scenario")
    # base: profit 48,000 x 1.5 = 72,000; cost 6,000 + 2 x 12,000 = 30,000; net 42,000; ROI 1.4
    assert bc.loc["base", "profit_over_horizon"] == pytest.approx(72000)
    assert bc.loc["base", "cost_over_horizon"] == pytest.approx(30000)
    assert bc.loc["base", "roi"] == pytest.approx(1.4)
    # year 1 monthly net = 2,000 - 1,000 = 1,000: the 6,000 set-up is back after 6 months
    assert bc.loc["base", "payback_months"] == 6
    # low: monthly net 250 - 1,000 in year 1, 500 - 1,000 in year 2: never pays back, ROI negative
    assert math.isnan(bc.loc["low", "payback_months"])
    assert bc.loc["low", "roi"] == pytest.approx((9000 - 30000) / 30000)
    assert not bc["assumed_costs"].any()


def test_ramp_up_is_validated():
    from kam_analysis.config import StrategySection

    with pytest.raises(ValueError, match="ramp_up"):
        StrategySection(ramp_up=[0.5, 1.5])


def test_a_recommendation_costs_the_manager_hours_and_tools_share_of_the_accounts_it_touches():
    from kam_analysis.phases.business_case import recommendation_costs

    plan = pd.DataFrame({"account_id": ["A", "B", "C", "D"], "hours_per_account": [10.0, 20.0, 0.0, 5.0]})
    c = recommendation_costs([["A", "B"], ["C"], [], ["A", "X"]], plan, cost_per_hour=100.0,
                             tools_cost_per_year=8_000.0)
    # A+B: 30 h x 100 + 8,000 x 2/4; C (digital, no hours): tools share only; none: nothing; X is not in the plan
    assert c["cost_hours"].tolist() == [30.0, 0.0, 0.0, 10.0]
    assert c["cost"].tolist() == [3_000 + 4_000, 2_000, 0.0, 1_000 + 4_000]
    assert c["accounts_touched"].tolist() == [2, 1, 0, 2]
    assert not c["cost_assumed"].any()
    # the last touches A again: A's 10 h and its tools share are counted by the first already
    assert c["cost_overlap"].tolist() == [0.0, 0.0, 0.0, 10 * 100 + 8_000 / 4]
    # the list with each account counted once: A, B, C and X -> 30 h x 100 + 8,000 x 4/4
    assert (c["cost"] - c["cost_overlap"]).sum() == 30 * 100 + 8_000 == \
        recommendation_costs([["A", "B", "C", "X"]], plan, cost_per_hour=100.0, tools_cost_per_year=8_000.0)[
            "cost"].iloc[0]
    d = recommendation_costs([["A"]], plan, cost_per_hour=None, tools_cost_per_year=8_000.0)
    assert d["cost_assumed"].all()
    assert d["cost"].iloc[0] == 10 * ASSUMED_PROGRAMME_COSTS["cost_per_hour"] + 2_000


def test_recommendations_carry_their_cost_and_the_accounts_it_is_counted_on():
    from types import SimpleNamespace

    from kam_analysis.phases.recommendations import ACCOUNT_IDS, compute_recommendations, with_costs

    a = pd.DataFrame([{"rule": "whitespace", "segment": "", "recommendation": "x", "evidence": "e", "value": 50.0,
                       "value_basis": "", ACCOUNT_IDS: "A; B"},
                      {"rule": "segment_target_gap", "segment": "Star", "recommendation": "y", "evidence": "e",
                       "value": 40.0, "value_basis": "", ACCOUNT_IDS: None}])
    recs = compute_recommendations(a)
    segs = pd.DataFrame({"account_id": ["A", "B", "C"], "quadrant": ["Star", "Other", "Star"]})
    plan = pd.DataFrame({"account_id": ["A", "B", "C"], "hours_per_account": [10.0, 0.0, 4.0]})
    p = SimpleNamespace(strategy=SimpleNamespace(cost_per_hour=50.0, tools_cost_per_year=None))
    out = with_costs(recs, segments=segs, segment_col="quadrant", coverage_plan=plan, params=p)
    assert ACCOUNT_IDS not in out
    tools = ASSUMED_PROGRAMME_COSTS["tools_cost_per_year"]
    assert out["accounts_touched"].tolist() == [2, 2]  # A, B named; Star = A, C
    assert out["cost"].tolist() == pytest.approx([10 * 50 + tools * 2 / 3, 14 * 50 + tools * 2 / 3])
    assert out["cost_assumed"].all()  # the tools cost is the documented assumption
