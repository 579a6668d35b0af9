"""Strategy: playbooks, coverage optimiser, whitespace, scenarios, account plans, calendar."""
from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
import yaml

from kam_analysis import ParameterError, load_params
from kam_analysis.models import coverage as coverage_model
from kam_analysis.phases import segmentation, strategy
from kam_analysis.config import TEMPLATES_DIR, QuadrantNames
from tests.conftest import write_demo_params

QUADRANTS = QuadrantNames().ordered()


@pytest.fixture(scope="module")
def playbooks():
    return strategy.load_playbooks(TEMPLATES_DIR / "playbooks.yaml", segments=QUADRANTS, inactive="Inactive accounts")


def _write_playbooks(tmp_path, books: dict, models=None):
    data = {"playbooks": books,
            "engagement_models": models or {"dedicated_kam": {"hours_per_account": 40}, "digital": {"hours_per_account": 0}}}
    path = tmp_path / "pb.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _book(model="dedicated_kam", uplift=0.1, **kw):
    return {"objective": "o", "engagement_model": model, "contact_cadence": "c", "investment_level": "High",
            "expected_uplift": uplift, **kw}


# --------------------------------------------------------------------------- playbooks
def test_template_playbooks_cover_the_default_quadrants(playbooks):
    books = playbooks["playbooks"]
    assert list(books) == QUADRANTS + ["Inactive accounts"]  # the inactive group: the template's win-back playbook
    assert books["Inactive accounts"]["hours_per_account"] == 0.0
    assert books["Streamline"]["hours_per_account"] == 0.0  # digital model: filled from engagement_models
    assert books["Strategic"]["hours_per_account"] == 40
    for pb in books.values():
        assert {"objective", "engagement_model", "service_level", "contact_cadence", "investment_level", "kpi_focus",
                "raci"} <= set(pb)


def test_playbook_for_segment_that_does_not_exist(tmp_path):
    path = _write_playbooks(tmp_path, {"Gold": _book(), "Silver": _book()})
    with pytest.raises(ParameterError, match=r"playbook for segment\(s\) 'Gold', 'Silver' that do not exist"):
        strategy.load_playbooks(path, segments=["Strategic"])


def test_segment_without_playbook(tmp_path):
    path = _write_playbooks(tmp_path, {"Strategic": _book()})
    with pytest.raises(ParameterError, match=r"'Star' have no playbook"):
        strategy.load_playbooks(path, segments=["Strategic", "Star"])


def test_override_for_missing_segment_and_unknown_field(playbooks):
    with pytest.raises(ParameterError, match=r"playbook_overrides has a playbook for segment 'Platinum'"):
        strategy.load_playbooks(TEMPLATES_DIR / "playbooks.yaml", segments=QUADRANTS,
                                overrides={"Platinum": {"objective": "x"}})
    with pytest.raises(ParameterError, match=r"unknown field\(s\) 'budget'"):
        strategy.load_playbooks(TEMPLATES_DIR / "playbooks.yaml", overrides={"Star": {"budget": 3}})


def test_overrides_replace_entries_and_engagement_hours():
    pb = strategy.load_playbooks(TEMPLATES_DIR / "playbooks.yaml", segments=QUADRANTS,
                                 overrides={"Status": {"objective": "Harvest", "expected_uplift": 0.07}},
                                 engagement_hours={"pooled_team": 12})
    assert pb["playbooks"]["Status"]["objective"] == "Harvest"
    assert pb["playbooks"]["Status"]["expected_uplift"] == 0.07
    assert pb["playbooks"]["Status"]["hours_per_account"] == 12.0
    with pytest.raises(ParameterError, match=r"engagement model 'field_sales'"):
        strategy.load_playbooks(TEMPLATES_DIR / "playbooks.yaml", engagement_hours={"field_sales": 3})


def test_playbook_value_out_of_range(tmp_path):
    path = _write_playbooks(tmp_path, {"Strategic": _book(uplift=1.5)})
    with pytest.raises(ParameterError, match=r"expected_uplift = 1.5 must be a number between 0 and 1"):
        strategy.load_playbooks(path)


def test_segment_playbook_joins_accounts(playbooks):
    seg = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "quadrant": ["Strategic", "Strategic", "Status", "Star"],
                        "is_key": [True, False, False, True]})
    summ = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "revenue_12m": [600.0, 200.0, 100.0, 100.0]})
    out = strategy.compute_segment_playbook(seg, summ, playbooks, order=QUADRANTS).set_index("segment")
    assert list(out.index) == QUADRANTS
    assert out.loc["Strategic", "accounts"] == 2 and out.loc["Strategic", "key_accounts"] == 1
    assert out.loc["Strategic", "revenue_share"] == pytest.approx(0.8)
    assert out.loc["Strategic", "hours_needed"] == 80.0  # 2 accounts x 40 h
    assert out.loc["Streamline", "accounts"] == 0
    assert out.loc["Strategic", "responsible"] == "Key account manager"
    assert out.loc["Status", "engagement_model"] == "Pooled account team"
    assert out.loc["Status", "engagement_model_key"] == "pooled_team"
    bad = seg.assign(quadrant=["Strategic", "Gold", "Status", "Star"])
    with pytest.raises(ParameterError, match=r"'Gold' in the segments table have no playbook"):
        strategy.compute_segment_playbook(bad, summ, playbooks)


# --------------------------------------------------------------------------- coverage optimiser
def _hand_accounts():
    return pd.DataFrame({
        "account_id": ["A", "B", "C", "D", "E"],
        "value": [1000.0, 900.0, 500.0, 400.0, 100.0],
        "revenue_12m": [1000.0, 900.0, 500.0, 400.0, 100.0],
        "expected_uplift": [0.1, 0.1, 0.2, 0.2, 0.05],
        "hours_per_account": [40.0, 40.0, 20.0, 20.0, 0.0],
    })


def _gain(df, covered):
    return float((df["value"] * df["expected_uplift"])[covered].sum())


def test_optimiser_respects_capacity_and_beats_revenue_rank():
    df = _hand_accounts()
    # capacity 40 h: revenue rank covers A (gain 100); the optimum is C + D (gain 180)
    opt = coverage_model.optimise_coverage(df, capacity=40)
    naive = coverage_model.compute_naive_coverage(df, capacity=40)
    assert list(df.loc[opt, "account_id"]) == ["C", "D", "E"]  # E is digital: always covered
    assert list(df.loc[naive, "account_id"]) == ["A", "E"]
    assert df.loc[opt, "hours_per_account"].sum() <= 40
    assert _gain(df, opt) == pytest.approx(180 + 5) and _gain(df, naive) == pytest.approx(100 + 5)
    # capacity 60 h: A + C (200) beats C + D (180)
    opt60 = coverage_model.optimise_coverage(df, capacity=60)
    assert set(df.loc[opt60, "account_id"]) == {"A", "C", "E"}
    assert df.loc[opt60, "hours_per_account"].sum() == 60


def test_optimiser_matches_brute_force_on_random_case():
    rng = np.random.default_rng(3)
    n = 14
    df = pd.DataFrame({"value": rng.lognormal(8, 1, n), "expected_uplift": rng.uniform(0.02, 0.2, n),
                       "hours_per_account": rng.choice([10.0, 20.0, 30.0, 40.0], n)})
    cap = 97.0
    opt = coverage_model.optimise_coverage(df, capacity=cap).to_numpy()
    gain = (df["value"] * df["expected_uplift"]).to_numpy()
    h = df["hours_per_account"].to_numpy()
    best = max(gain[list(c)].sum() for k in range(n + 1) for c in itertools.combinations(range(n), k)
               if h[list(c)].sum() <= cap) if n <= 14 else None
    assert h[opt].sum() <= cap
    assert gain[opt].sum() == pytest.approx(best, rel=1e-6)


def test_core_knapsack_for_large_clients_matches_full_solve():
    rng = np.random.default_rng(8)
    n = 1000
    df = pd.DataFrame({"value": rng.lognormal(7, 1.5, n), "expected_uplift": rng.choice([0.08, 0.12, 0.04], n),
                       "hours_per_account": rng.choice([40.0, 30.0, 10.0], n)})
    gain = (df["value"] * df["expected_uplift"]).to_numpy()
    full = coverage_model.optimise_coverage(df, capacity=2000, core_size=10_000)
    core = coverage_model.optimise_coverage(df, capacity=2000, core_size=100)
    assert full.attrs["method"] == "exact" and core.attrs["method"].startswith("exact on the 100 accounts")
    assert df.loc[core, "hours_per_account"].sum() <= 2000
    assert gain[core.to_numpy()].sum() == pytest.approx(gain[full.to_numpy()].sum(), rel=1e-4)


def test_negative_capacity_is_a_clear_error():
    with pytest.raises(ParameterError, match=r"capacity = -5 hours; capacity must be zero or positive"):
        coverage_model.optimise_coverage(_hand_accounts(), capacity=-5)
    with pytest.raises(ParameterError, match=r"strategy.managers has negative or missing capacity"):
        strategy.resolve_capacity(None, managers={"Ann": -100.0})


def test_resolve_capacity_reads_named_managers():
    acc = pd.DataFrame({"account_id": list("abcd"), "account_manager": ["Ann", "Bob", "Digital desk", None]})
    mgr, note = strategy.resolve_capacity(acc, hours_per_manager=1000, non_manager_labels=["Digital desk"])
    assert mgr == {"Ann": 1000.0, "Bob": 1000.0}
    assert "2 named managers" in note
    mgr, _ = strategy.resolve_capacity(acc.drop(columns="account_manager"), headcount=3, hours_per_manager=500)
    assert sum(mgr.values()) == 1500
    # nothing known: zero capacity and a note saying so, never an invented team
    mgr, note = strategy.resolve_capacity(acc.drop(columns="account_manager"))
    assert mgr == {} and "no account-manager capacity known" in note


def test_assign_managers_balances_load_and_keeps_relationships():
    plan = pd.DataFrame({"covered": [True] * 4 + [False], "hours_per_account": [40.0] * 5,
                         "account_manager": ["Ann", "Ann", "Ann", "Bob", "Ann"]})
    assigned, load = coverage_model.assign_managers(plan, managers={"Ann": 100.0, "Bob": 100.0}, tolerance=0.0)
    # team load 160/200 = 80%: with no tolerance each manager takes 80 h = 2 accounts
    load = load.set_index("manager")
    assert load["hours_assigned"].tolist() == [80.0, 80.0]
    assert assigned.iloc[3] == "Bob" and assigned.iloc[4] is None
    assert (assigned.iloc[:3] == "Ann").sum() == 2  # two of Ann's three stay with her
    assert load["accounts_kept"].sum() == 3


def test_coverage_plan_tables(playbooks):
    seg = pd.DataFrame({"account_id": list("abcdef"),
                        "quadrant": ["Strategic", "Strategic", "Star", "Star", "Status", "Streamline"],
                        "is_key": [True, True, True, False, False, False]})
    summ = pd.DataFrame({"account_id": list("abcdef"), "revenue_12m": [5000.0, 1000.0, 3000.0, 800.0, 500.0, 50.0],
                         "account_manager": ["Ann", "Ann", "Bob", None, None, None]})
    out = strategy.compute_coverage_plan(seg, summ, playbooks, managers={"Ann": 40.0, "Bob": 40.0}, order=QUADRANTS)
    plan = out["coverage_plan"].set_index("account_id")
    assert plan.loc[plan["covered"], "hours_allocated"].sum() <= 80
    # value per hour: a 5000*.08/40=10, c 3000*.12/30=12, b 2, d 3.2, e 500*.04/10=2 -> c and a fit (70 h)
    assert set(plan.index[plan["covered"] & (plan["hours_per_account"] > 0)]) == {"a", "c", "e"}
    assert plan.loc["f", "status"] == "digital (no KAM hours)"
    assert plan["value_basis"].eq("revenue_12m").all()  # no clv column: historical value
    summary = out["capacity_summary"].set_index("metric")["value"]
    assert summary["hours_needed"] == 40 * 2 + 30 * 2 + 10
    assert summary["headcount_full_coverage"] == 4  # ceil(150 / 40)
    seg_tab = out["coverage_by_segment"].set_index("segment")
    assert seg_tab.loc["Strategic", "value_at_stake"] == pytest.approx(1000 * 0.08)
    assert seg_tab["hours_allocated"].sum() == summary["hours_allocated"]


def test_coverage_uses_clv_when_present(playbooks):
    seg = pd.DataFrame({"account_id": ["a", "b"], "quadrant": ["Star", "Star"], "is_key": [True, True],
                        "clv": [9000.0, np.nan]})
    summ = pd.DataFrame({"account_id": ["a", "b"], "revenue_12m": [100.0, 200.0]})
    value, note = strategy.compute_account_value(seg, summ)
    assert value["value"].tolist() == [9000.0, 200.0]
    assert value["value_basis"].tolist() == ["clv", "revenue_12m"]
    assert "1 account(s) without a CLV" in note


def test_coverage_on_demo_respects_capacity(demo_run, playbooks):
    summ = demo_run.read_table("account_summary")
    seg = segmentation.compute_portfolio_quadrants(summ, names=QuadrantNames(), key_account_share=0.1)
    managers, _ = strategy.resolve_capacity(demo_run.read_data("accounts"), hours_per_manager=300,
                                            non_manager_labels=["Digital desk"])
    out = strategy.compute_coverage_plan(seg, summ, playbooks, managers=managers)
    load = out["manager_load"]
    assert (load["hours_assigned"] <= load["capacity_hours"] + 1e-9).all()
    s = out["capacity_summary"].set_index("metric")["value"]
    assert s["hours_allocated"] <= s["capacity_hours"]
    assert s["optimiser_gain"] >= -1e-6


# --------------------------------------------------------------------------- whitespace
def _tiny_wallet():
    rows = [("a1", "X", 100), ("a1", "Y", 100), ("a2", "X", 100), ("a2", "Y", 100), ("a3", "X", 100), ("a3", "Y", 100),
            ("a4", "X", 100), ("a4", "Y", 100), ("a4", "Z", 100), ("t", "X", 100), ("u", "Z", 100)]
    ac = pd.DataFrame(rows, columns=["account_id", "category", "revenue"])
    ids = ["a1", "a2", "a3", "a4", "t", "u"]
    seg = pd.DataFrame({"account_id": ids, "quadrant": "S", "is_key": [False] * 4 + [True, False]})
    summ = pd.DataFrame({"account_id": ids, "revenue_12m": [200, 200, 200, 300, 1000, 100]}).astype({"revenue_12m": float})
    return ac, seg, summ


def test_whitespace_recommends_what_similar_accounts_buy():
    ac, seg, summ = _tiny_wallet()
    ws = strategy.compute_whitespace(ac, segments=seg, account_summary=summ, targets=["t"], min_propensity=0.5,
                                     min_peers=1)
    assert ws[["account_id", "category"]].values.tolist() == [["t", "Y"]]  # Z: propensity 0.4 < 0.5
    r = ws.iloc[0]
    assert r["segment_penetration"] == pytest.approx(4 / 5)  # 4 of the 5 other accounts buy Y
    assert r["co_purchase_confidence"] == pytest.approx(4 / 5)  # of 5 X buyers, 4 buy Y
    assert r["lift"] == pytest.approx((4 / 5) / (4 / 6))
    assert r["peer_share_of_wallet"] == pytest.approx(0.5)  # median of 1/2, 1/2, 1/2, 1/3
    assert r["potential_value"] == pytest.approx(1000 * 0.5 / 0.5)
    assert r["expected_value"] == pytest.approx(0.8 * 1000)
    assert bool(r["is_key"]) is True


def test_whitespace_threshold_and_ranking():
    ac, seg, summ = _tiny_wallet()
    ws = strategy.compute_whitespace(ac, segments=seg, account_summary=summ, targets=["t", "u"], min_propensity=0.3,
                                     min_peers=1)
    t = ws[ws["account_id"] == "t"]
    assert t["category"].tolist() == ["Y", "Z"] and t["rank"].tolist() == [1, 2]
    assert t.set_index("category").loc["Z", "propensity"] == pytest.approx(2 / 5)
    u = ws[ws["account_id"] == "u"].set_index("category")
    assert u.loc["X", "segment_penetration"] == pytest.approx(1.0)  # all 5 others buy X
    assert u.loc["Y", "co_purchase_confidence"] == pytest.approx(1 / 2)  # Z buyers a4, u: a4 buys Y
    pen = strategy.compute_category_penetration(ac, seg).set_index("category")
    assert pen.loc["Y", "penetration"] == pytest.approx(4 / 6)


def test_whitespace_is_one_set_every_figure_counts():
    """An account without revenue in the last 12 months has nothing to gain: no opportunity. The
    headline, the scenarios' lever and the recommendation count the same set (M = its rows)."""
    from kam_analysis.phases import recommendations

    ac, seg, summ = _tiny_wallet()
    summ.loc[summ["account_id"] == "u", "revenue_12m"] = 0.0  # u: propensity for X and Y, but no wallet
    ws = strategy.compute_whitespace(ac, segments=seg, account_summary=summ, targets=["t", "u"], min_propensity=0.3,
                                     min_peers=1)
    # t: Y = 0.8 x 1000 x 0.5 / 0.5; Z = 0.4 (a4, u of the 5 others) x 1000 x s / (1 - s), s = median(1/3, 1) = 2/3
    assert ws[["account_id", "category"]].values.tolist() == [["t", "Y"], ["t", "Z"]]
    assert ws["expected_value"].tolist() == pytest.approx([800.0, 800.0])
    total = strategy.summarise_whitespace(ws)
    assert total == {"opportunities": 2, "accounts": 1, "expected_value": pytest.approx(1600.0),
                     "key_opportunities": 2, "key_accounts": 1, "key_expected_value": pytest.approx(1600.0)}
    assert strategy.whitespace_value_by_segment(ws) == {"S": pytest.approx(1600.0)}
    rec = recommendations.rule_whitespace(ws, top_n=1)
    assert rec["value"].iloc[0] == pytest.approx(800.0)
    assert "top 1 of 2 opportunities, expected value €800 of €1,600" in rec["evidence"].iloc[0]
    empty = pd.DataFrame(columns=["metric", "value"])
    h = strategy.build_strategy_headlines(
        capacity_summary=empty, churn_drivers=pd.DataFrame(columns=["significant", "odds_ratio"]),
        churn_backtest=empty, revenue_at_risk=pd.DataFrame(columns=["segment", "revenue_at_risk"]), whitespace=ws,
        impact_scenarios=pd.DataFrame(columns=["scenario"]), sensitivity=pd.DataFrame()).set_index("topic")
    assert h.loc["whitespace", "value"] == pytest.approx(1600.0)
    assert h.loc["whitespace", "headline"].startswith("2 cross-sell opportunities are worth €1,600 a year in "
                                                      "expectation, 2 of them (€1,600) in key accounts")


# --------------------------------------------------------------------------- targets and scenarios
def _baseline():
    return pd.DataFrame({"segment": ["A", "B"], "revenue_12m": [1000.0, 400.0], "base_accounts": [10, 5],
                         "retention_rate": [0.8, 0.98], "revenue_per_retained": [100.0, 80.0],
                         "margin_rate": [0.5, 0.25], "average_order_value": [50.0, 40.0],
                         "orders_per_account": [2.0, 1.0]})


def _levers():
    rows = [("A", "retention_pts", 0.05), ("A", "aov_growth", 0.10), ("A", "frequency_growth", 0.0),
            ("A", "cross_sell_capture", 0.5), ("B", "retention_pts", 0.05), ("B", "aov_growth", 0.0),
            ("B", "frequency_growth", 0.05), ("B", "cross_sell_capture", 0.0)]
    return pd.DataFrame(rows, columns=["segment", "lever", "value"])


def test_lever_impact_matches_hand_calculation():
    imp = strategy.compute_lever_impact(_baseline(), _levers(), whitespace_value={"A": 200.0}).set_index(
        ["segment", "lever"])
    assert imp.loc[("A", "retention_pts"), "revenue_impact"] == pytest.approx(0.05 * 10 * 100)  # 50
    assert imp.loc[("A", "aov_growth"), "revenue_impact"] == pytest.approx(100)
    assert imp.loc[("A", "cross_sell_capture"), "revenue_impact"] == pytest.approx(100)
    # B's retention can only rise 2 points (to 100%): 0.02 x 5 x 80 = 8
    assert imp.loc[("B", "retention_pts"), "revenue_impact"] == pytest.approx(8)
    assert imp.loc[("B", "frequency_growth"), "revenue_impact"] == pytest.approx(20)
    assert imp.loc[("A", "aov_growth"), "profit_impact"] == pytest.approx(50)
    assert imp.loc[("B", "frequency_growth"), "profit_impact"] == pytest.approx(5)


def test_scenarios_and_tornado_arithmetic():
    sc, by_lever = strategy.compute_impact_scenarios(
        _baseline(), _levers(), whitespace_value={"A": 200.0}, multipliers={"low": 0.5, "base": 1.0, "high": 1.5},
        weights={"low": 0.25, "base": 0.5, "high": 0.25}, programme_cost=20.0)
    sc = sc.set_index("scenario")
    # base: revenue A 250 + B 28 = 278; gross profit 125 + 7 = 132; net 112
    assert sc.loc["base", "revenue_impact"] == pytest.approx(278)
    assert sc.loc["base", "gross_profit_impact"] == pytest.approx(132)
    assert sc.loc["base", "profit_impact"] == pytest.approx(112)
    # low: A 25+50+50 = 125 (profit 62.5); B retention min(.025,.02)=.02 -> 8, freq 10 -> 18 (profit 4.5)
    assert sc.loc["low", "revenue_impact"] == pytest.approx(143)
    assert sc.loc["low", "profit_impact"] == pytest.approx(62.5 + 4.5 - 20)
    # high: A 75+150+150 = 375 (187.5); B 8 + 30 = 38 (9.5)
    assert sc.loc["high", "profit_impact"] == pytest.approx(187.5 + 9.5 - 20)
    assert sc["weighted_profit_impact"].sum() == pytest.approx(0.25 * 47 + 0.5 * 112 + 0.25 * 177)
    assert len(by_lever) == 3 * 8
    tor = strategy.compute_sensitivity(_baseline(), _levers(), whitespace_value={"A": 200.0},
                                       multipliers={"low": 0.5, "base": 1.0, "high": 1.5}, programme_cost=20.0)
    tor = tor.set_index("lever")
    # AOV lever: A 100 revenue x 0.5 margin = 50 profit at base; low/high move it by -25/+25
    assert tor.loc["aov_growth", "profit_low"] == pytest.approx(112 - 25)
    assert tor.loc["aov_growth", "swing"] == pytest.approx(50)
    assert tor.index[0] in {"aov_growth", "cross_sell_capture"}  # both swing 50, the largest
    assert tor.loc["retention_pts", "swing"] == pytest.approx(0.5 * 50)  # A: 25..75 revenue; B capped at 8


def test_scenario_weights_must_sum_to_one(tmp_path):
    with pytest.raises(ParameterError, match=r"scenario_weights must sum to 1, they sum to 0.900"):
        strategy.compute_impact_scenarios(_baseline(), _levers(), multipliers={"low": 0.5, "base": 1, "high": 1.5},
                                          weights={"low": 0.2, "base": 0.5, "high": 0.2})
    path = write_demo_params(tmp_path, extra={"strategy": {"scenario_weights": {"low": 0.3, "base": 0.3, "high": 0.3}}})
    with pytest.raises(ParameterError, match=r"scenario_weights must sum to 1"):
        load_params(path)


@pytest.mark.parametrize("strategy_params, message", [
    ({"managers": {"Ann": -40}}, r"strategy.managers.*hours must be zero or positive"),
    ({"hours_per_manager": -1}, r"strategy.hours_per_manager"),
    ({"scenario_multipliers": {"low": 2.0, "base": 1.0, "high": 1.5}}, r"low <= base <= high"),
    ({"risk_band_shares": {"high": 0.6, "medium": 0.5}}, r"risk_band_shares must be positive and sum to less than 1"),
])
def test_bad_strategy_params_are_clear_errors(tmp_path, strategy_params, message):
    path = write_demo_params(tmp_path, extra={"strategy": strategy_params})
    with pytest.raises(ParameterError, match=message):
        load_params(path)


def test_segment_baseline_by_hand():
    # a and b were active 12 months ago, only a still is (c is new); d (another segment) stayed.
    # Retention is the portfolio's (a, d kept of a, b, d: 2/3), applied to each segment's accounts
    # active today: measured on today's members it would be 100% for a segment of live accounts
    kpis = pd.DataFrame({"account_id": list("abcd"), "revenue_12m": [300.0, 0.0, 100.0, 50.0],
                         "orders_12m": [3, 0, 2, 1], "orders_prev_12m": [2, 1, 0, 1],
                         "gross_margin_12m": [120.0, 0.0, 30.0, 10.0],
                         "active_at_start": [True, True, False, True], "active": [True, False, True, True]})
    seg = pd.DataFrame({"account_id": list("abcd"), "quadrant": ["S", "S", "S", "T"]})
    base = strategy.compute_segment_baseline(kpis, seg).set_index("segment")
    b = base.loc["S"]
    assert (b["base_accounts"], b["retained"]) == (2, 1)  # a and c active today; round(2 x 2/3)
    assert b["retention_rate"] == pytest.approx(2 / 3) and base.loc["T", "retention_rate"] == pytest.approx(2 / 3)
    assert b["revenue_per_retained"] == pytest.approx((300 + 100) / 2)
    # the retention lever has room in a segment of live accounts (it had none at 100%)
    lev = pd.DataFrame({"segment": ["S"], "lever": ["retention_pts"], "value": [0.05]})
    imp = strategy.compute_lever_impact(base.reset_index(), lev)
    assert imp["revenue_impact"].iloc[0] == pytest.approx(0.05 * 2 * 200)
    assert b["average_order_value"] == pytest.approx(400 / 5)
    assert b["orders_per_account"] == pytest.approx(5 / 2)
    assert b["margin_rate"] == pytest.approx(150 / 400)  # 12-month margin / 12-month revenue


def test_targets_priority_params_benchmark_playbook(playbooks):
    base = _baseline().assign(segment=["Strategic", "Star"])
    gaps = pd.DataFrame({"kpi": ["retention_rate", "average_order_value"], "current": [0.7, 50.0],
                         "benchmark": [0.8, 60.0], "benchmark_illustrative": [False, False]})
    t = strategy.resolve_segment_targets(base, playbooks=playbooks, overrides={"Star": {"retention_pts": 0.04}},
                                         benchmark_gaps=gaps, gap_closure=0.5).set_index(["segment", "lever"])
    assert t.loc[("Star", "retention_pts"), "value"] == 0.04
    assert t.loc[("Star", "retention_pts"), "source"].startswith("params")
    assert t.loc[("Strategic", "retention_pts"), "value"] == pytest.approx(0.05)  # half of the 10-point gap
    assert t.loc[("Strategic", "aov_growth"), "value"] == pytest.approx(0.1)  # half of +20%
    assert t.loc[("Strategic", "cross_sell_capture"), "value"] == 0.25  # playbook default
    assert t.loc[("Strategic", "cross_sell_capture"), "source"] == "playbook default"
    with pytest.raises(ParameterError, match=r"segment_targets has targets for segment 'Gold'"):
        strategy.resolve_segment_targets(base, playbooks=playbooks, overrides={"Gold": {"aov_growth": 0.1}})
    with pytest.raises(ParameterError, match=r"unknown lever\(s\) 'price'"):
        strategy.resolve_segment_targets(base, playbooks=playbooks, overrides={"Star": {"price": 0.1}})


def test_an_illustrative_benchmark_never_sets_a_lever(playbooks):
    base = _baseline().assign(segment=["Strategic", "Star"])
    gaps = pd.DataFrame({"kpi": ["retention_rate", "average_order_value"], "current": [0.7, 50.0],
                         "benchmark": [0.8, 400.0], "benchmark_illustrative": [True, True]})
    t = strategy.resolve_segment_targets(base, playbooks=playbooks, benchmark_gaps=gaps,
                                         gap_closure=0.5).set_index(["segment", "lever"])
    assert not t["source"].str.contains("benchmark").any()  # the playbook defaults instead


def test_without_targets_levers_come_from_own_history_and_the_impact_is_capped(playbooks):
    """Four segments; each closes half its gap to the top quartile (75th percentile) of the
    segments' values; no playbook default, no benchmark, no cross-sell; the scenarios never
    exceed the cap, and the waterfall still adds up."""
    base = pd.DataFrame({"segment": ["Strategic", "Star", "Status", "Streamline"],
                         "revenue_12m": [1000.0, 400.0, 200.0, 100.0], "base_accounts": [10, 5, 4, 2],
                         "retention_rate": [0.9, 0.8, 0.6, 0.5], "revenue_per_retained": [100.0, 80.0, 50.0, 50.0],
                         "margin_rate": [1.0] * 4, "average_order_value": [100.0, 50.0, 40.0, 20.0],
                         "orders_per_account": [4.0, 2.0, 2.0, 1.0]})
    gaps = pd.DataFrame({"kpi": ["average_order_value"], "current": [50.0], "benchmark": [400.0],
                         "benchmark_illustrative": [False]})  # even a sourced benchmark is not used without targets
    t = strategy.resolve_segment_targets(base, playbooks=playbooks, benchmark_gaps=gaps, gap_closure=0.5,
                                         own_history=True).set_index(["segment", "lever"])
    q_ret = np.quantile([0.9, 0.8, 0.6, 0.5], 0.75)  # 0.825
    q_aov = np.quantile([100, 50, 40, 20], 0.75)  # 62.5
    assert t.loc[("Status", "retention_pts"), "value"] == pytest.approx(0.5 * (q_ret - 0.6))
    assert t.loc[("Strategic", "retention_pts"), "value"] == 0.0  # already above the top quartile
    assert t.loc[("Streamline", "aov_growth"), "value"] == pytest.approx(0.5 * (q_aov / 20 - 1))
    assert (t.xs("cross_sell_capture", level="lever")["value"] == 0).all()
    assert t["source"].str.contains("own history|not counted").all()
    mult = {"low": 0.5, "base": 1.0, "high": 1.5}
    w = {"low": 0.25, "base": 0.5, "high": 0.25}
    free, _ = strategy.compute_impact_scenarios(base, t.reset_index(), multipliers=mult, weights=w)
    cap = 0.10
    sc, by = strategy.compute_impact_scenarios(base, t.reset_index(), multipliers=mult, weights=w, cap_share=cap)
    sc = sc.set_index("scenario")
    assert free.set_index("scenario").at["high", "revenue_impact"] > cap * 1700  # the cap binds on this data
    assert (sc["revenue_impact"] <= cap * 1700 + 1e-9).all()
    assert bool(sc.at["high", "capped"]) and sc.at["high", "revenue_impact"] == pytest.approx(170.0)
    for scen, g in by.groupby("scenario"):
        assert g["revenue_impact"].sum() == pytest.approx(sc.at[scen, "revenue_impact"])
    tor = strategy.compute_sensitivity(base, t.reset_index(), multipliers=mult, cap_share=cap)
    assert (tor[["profit_low", "profit_base", "profit_high"]] <= cap * 1700 + 1e-9).all().all()


# --------------------------------------------------------------------------- account plans and calendar
def test_account_plans_pick_top_key_accounts_and_trigger_actions(playbooks):
    ac, seg, summ = _tiny_wallet()
    seg = seg.assign(quadrant="Strategic", is_key=[True, False, False, False, True, False])
    summ = summ.assign(revenue_prev_12m=[100.0, 0, 0, 0, 2000.0, 0], nps_latest=[9.0, np.nan, 8, 8, 4.0, 7],
                       account_manager=["Bob", None, None, None, "Ann", None])
    ws = strategy.compute_whitespace(ac, segments=seg, account_summary=summ, targets=["t"], min_propensity=0.5,
                                     min_peers=1)
    risk = pd.DataFrame({"account_id": ["t", "a1"], "risk_score": [0.6, 0.1], "risk_band": ["high", "low"]})
    plans, actions = strategy.build_account_plans(seg, summ, playbooks=playbooks, churn_risk=risk, whitespace=ws,
                                                  top_n=1, plan_date=dt.date(2026, 1, 1))
    assert plans["account_id"].tolist() == ["t"]  # the highest-value key account
    p = plans.iloc[0]
    assert p["revenue_trend"] == pytest.approx(1000 / 2000 - 1)
    assert p["risk_band"] == "high" and p["whitespace"].startswith("Y (") and p["opportunities"] == p["whitespace"]
    assert p["engagement_model"] == "Dedicated key account manager"
    assert p["actions"].startswith("Retention call with the executive sponsor; agree a recovery plan "
                                   "(Head of key accounts, by 15 Jan 2026); ")
    assert np.isnan(p["clv"]) and np.isnan(p["p_alive"])  # the segmentation has no CLV here
    triggers = set(actions["trigger"])
    assert {"high churn risk", "detractor (NPS score 4)", "revenue -50% year on year"} <= triggers
    assert 3 <= len(actions) <= 5 and actions["target"].str.len().gt(0).all()
    assert p["situation"].startswith("retention risk; service issue")
    assert p["objective"].startswith("Protect €2,000 of revenue: stop the decline (-50% on the year)")
    first = actions.iloc[0]
    assert first["trigger"] == "high churn risk" and first["due_date"] == pd.Timestamp("2026-01-15")
    assert (actions["due_date"].diff().dropna() >= pd.Timedelta(0)).all()
    assert actions.loc[actions["trigger"].str.startswith("detractor"), "owner"].iloc[0] == "Ann (Key account manager)"
    # stable ids "<account>-<n>" in due-date order: the key of the returned actions file
    assert actions["action_id"].tolist() == [f"t-{i}" for i in range(1, len(actions) + 1)]
    again = strategy.build_account_plans(seg, summ, playbooks=playbooks, churn_risk=risk, whitespace=ws,
                                         top_n=1, plan_date=dt.date(2026, 1, 1))[1]
    pd.testing.assert_frame_equal(actions, again)  # deterministic


def test_action_ids_number_each_accounts_actions_in_table_order():
    from kam_analysis.phases.account_plans import action_ids

    acts = pd.DataFrame({"account_id": ["B7", "B7", "A1", "A1", "A1"]})
    assert action_ids(acts).tolist() == ["B7-1", "B7-2", "A1-1", "A1-2", "A1-3"]


def test_operating_calendar_and_kpi_ownership(playbooks):
    cal = strategy.build_operating_calendar(playbooks, start=dt.date(2025, 12, 31))
    counts = cal.groupby("frequency").size()
    n_monthly = sum(1 for r in playbooks["operating_rhythm"] if r["frequency"] == "monthly")
    assert counts["monthly"] == 12 * n_monthly
    assert counts["annual"] == 1 and counts["semiannual"] == 2
    assert (cal["date"].dt.day_of_week < 5).all()
    assert cal["date"].min() >= pd.Timestamp("2026-01-01") and cal["date"].max() < pd.Timestamp("2027-01-01")
    assert (cal["phase"] == "phase 5 review").sum() == 2
    own = strategy.build_kpi_ownership(playbooks, targets={"retention_rate": 0.85},
                                       headline=pd.DataFrame({"kpi": ["retention_rate"], "value": [0.8]}))
    r = own.set_index("kpi").loc["retention_rate"]
    assert r["current"] == 0.8 and r["target"] == 0.85 and r["owner"] == "Head of key accounts"


def test_headlines_quote_the_tables():
    cap = pd.DataFrame({"metric": ["managers", "capacity_hours", "accounts_covered", "accounts_needing_hours",
                                   "headcount_full_coverage", "additional_headcount", "value_at_stake", "optimiser_gain"],
                        "value": [2, 2400, 30, 120, 8, 6, 150_000, 12_000]})
    drivers = pd.DataFrame({"feature": ["detractor", "tenure_years"], "odds_ratio": [2.1, 0.9], "significant": [True, False],
                            "interpretation": ["Detractors churn more.", "n/a"]})
    bt = pd.DataFrame({"metric": ["auc", "base_rate", "top_decile_rate", "top_decile_lift"],
                       "value": [0.71, 0.116, 0.36, 0.36 / 0.116]})
    rar = pd.DataFrame({"segment": ["Strategic", "Star"], "revenue_at_risk": [300_000.0, 100_000.0]})
    ws = pd.DataFrame({"account_id": ["a", "a", "b"], "is_key": [True, True, False], "category": ["X", "Y", "X"],
                       "expected_value": [5000.0, 7000.0, 1.0]})
    sc = pd.DataFrame({"scenario": ["low", "base", "high"], "profit_impact": [1e5, 2e5, 3e5],
                       "revenue_impact": [2e5, 4e5, 6e5]})
    tor = pd.DataFrame({"label": ["Cross-sell capture (% of whitespace)"], "swing": [90_000.0]})
    h = strategy.build_strategy_headlines(capacity_summary=cap, churn_drivers=drivers, churn_backtest=bt,
                                          revenue_at_risk=rar, whitespace=ws, impact_scenarios=sc, sensitivity=tor)
    text = dict(zip(h["topic"], h["headline"]))
    assert text["coverage"].startswith("2 account managers (2,400 h a year) can give 30 of the 120 accounts")
    assert "take 8 managers (6 more)" in text["coverage"]
    assert text["churn_driver"] == "Detractors churn more."
    # the back-test's rate beside its own base, in its own window (365 days: not the 12-month churn KPI's base)
    assert text["churn_backtest"] == ("Tested on a later period, the churn model ranked a churner above a stayer "
                                      "71% of the time (50% = chance); its riskiest tenth churned at 36% within a "
                                      "year, against 11.6% of all active accounts.")
    # the phases write money in full; a compact page (deck, HTML) rewrites it (present.formats.compact_money)
    assert "€400,000 of revenue is at risk" in text["revenue_at_risk"] and "75% of it in the Strategic" in text["revenue_at_risk"]
    assert text["whitespace"] == ("3 cross-sell opportunities are worth €12,001 a year in expectation, 2 of them "
                                  "(€12,000) in key accounts; the largest category is Y (€7,000).")
    assert "worth €200,000 a year in profit on €400,000 of revenue (low €100,000, high €300,000)" in text["impact"]
    assert "depends most on cross-sell capture" in text["sensitivity"]


def test_strategy_charts_are_titled_and_labelled(playbooks):
    import matplotlib.pyplot as plt

    from kam_analysis import charts

    cov = pd.DataFrame({"segment": ["Strategic", "Star"], "accounts": [10, 5], "covered": [4, 5],
                        "hours_needed": [400.0, 150.0], "hours_allocated": [160.0, 150.0]})
    drivers = pd.DataFrame({"label": ["Detractor", "Tenure"], "odds_ratio": [2.1, 0.9], "ci_low": [1.5, 0.7],
                            "ci_high": [3.0, 1.1], "significant": [True, False]})
    rar = pd.DataFrame({"segment": ["Strategic", "Star"], "revenue_at_risk": [300.0, 100.0], "share_at_risk": [0.1, 0.2]})
    ac, seg, summ = _tiny_wallet()
    ws = strategy.compute_whitespace(ac, segments=seg, account_summary=summ, targets=["t"], min_peers=1)
    _, by_lever = strategy.compute_impact_scenarios(_baseline(), _levers(), whitespace_value={"A": 200.0},
                                                    multipliers={"low": 0.5, "base": 1.0, "high": 1.5},
                                                    weights={"low": 0.25, "base": 0.5, "high": 0.25})
    tor = strategy.compute_sensitivity(_baseline(), _levers(), whitespace_value={"A": 200.0},
                                       multipliers={"low": 0.5, "base": 1.0, "high": 1.5})
    axes = [charts.plot_capacity_vs_demand(cov, capacity_hours=310), charts.plot_churn_drivers(drivers),
            charts.plot_risk_by_segment(rar), charts.plot_whitespace_heatmap(ac, ws, accounts=["t", "a4"]),
            charts.plot_impact_waterfall(by_lever), charts.plot_tornado(tor)]
    for ax in axes:
        assert ax.get_title()
        assert ax.get_xlabel() or ax.get_ylabel()
    assert "310 h available, 550 h needed" in axes[0].get_title()
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["Tenure", "Detractor"]
    assert [t.get_text() for t in axes[4].get_xticklabels()][-1] == "Total"
    plt.close("all")


def test_whitespace_without_opportunities_keeps_typed_columns():
    # one category only: nothing to cross-sell; the empty result must still filter like a full one
    ac = pd.DataFrame({"account_id": ["A1", "A2"], "category": ["x", "x"], "revenue": [100.0, 50.0]})
    segs = pd.DataFrame({"account_id": ["A1", "A2"], "quadrant": ["Star", "Star"], "is_key": [True, False]})
    summ = pd.DataFrame({"account_id": ["A1", "A2"], "revenue_12m": [100.0, 50.0]})
    ws = strategy.compute_whitespace(ac, segments=segs, account_summary=summ)
    assert ws.empty and ws["is_key"].dtype == bool and ws["expected_value"].dtype == float
    assert ws[ws["is_key"]]["expected_value"].sum() == 0.0 and "expected_value" in ws[ws["is_key"]].columns


def test_account_plans_differ_with_the_accounts_situation(playbooks):
    """Four key accounts with planted situations get four different objectives and action sets."""
    ids = ["risk", "detractor", "grower", "promoter"]
    seg = pd.DataFrame({"account_id": ids, "quadrant": "Strategic", "is_key": True,
                        "selection_score": [0.9, 0.8, 0.7, 0.6]})
    summ = pd.DataFrame({"account_id": ids, "revenue_12m": [5000.0, 4000.0, 3000.0, 2000.0],
                         "revenue_prev_12m": [8000.0, 4000.0, 2000.0, 2000.0], "nps_latest": [8.0, 3.0, 8.0, 10.0],
                         "gross_margin_12m": [1000.0, 800.0, 600.0, 400.0], "account_manager": "Ann"})
    risk = pd.DataFrame({"account_id": ids, "risk_score": [0.2, 0.2, 0.1, 0.1], "risk_band": "low"})
    plans, actions = strategy.build_account_plans(seg, summ, playbooks=playbooks, churn_risk=risk,
                                                  plan_date=dt.date(2026, 1, 1))
    p = plans.set_index("account_id")
    assert p.loc["risk", "situation"] == "retention risk"
    assert p.loc["detractor", "situation"] == "service issue"
    assert p.loc["grower", "situation"] == "growth headroom"
    assert p.loc["promoter", "situation"] == "relationship strength"
    assert p.loc["risk", "objective"].startswith("Protect €8,000 of revenue")
    assert "NPS score of 3" in p.loc["detractor", "objective"]
    assert "€3,300" in p.loc["grower", "objective"]  # +10% on 3,000
    assert "promoter" in p.loc["promoter", "objective"]
    assert p["objective"].nunique() == 4
    sets = actions.groupby("account_id")["action"].apply(frozenset)
    assert sets.nunique() == 4
    assert actions.groupby("account_id").size().between(3, 5).all()
    assert actions["target"].str.len().gt(0).all() and actions["owner"].str.len().gt(0).all()


def test_the_tornado_swings_the_base_the_business_case_credits():
    """Given each segment's share of revenue in the programme's accounts, every lever's swing is the
    impact in those accounts only (A half in the programme, B not at all), as the business case credits it."""
    mult = {"low": 0.5, "base": 1.0, "high": 1.5}
    whole = strategy.compute_sensitivity(_baseline(), _levers(), whitespace_value={"A": 200.0}, multipliers=mult)
    prog = strategy.compute_sensitivity(_baseline(), _levers(), whitespace_value={"A": 200.0}, multipliers=mult,
                                        programme_share={"A": 0.5, "B": 0.0})
    whole, prog = whole.set_index("lever"), prog.set_index("lever")
    assert prog.loc["aov_growth", "swing"] == pytest.approx(0.5 * 50)  # A only: half of A's 50
    assert prog.loc["retention_pts", "swing"] == pytest.approx(0.5 * 25)
    assert prog.loc["frequency_growth", "swing"] == pytest.approx(0.0)  # B's lever: B is not in the programme
    assert whole.loc["frequency_growth", "swing"] > 0
    assert set(prog["basis"]) == {"programme accounts"} and set(whole["basis"]) == {"whole base"}


def test_a_review_cadence_is_promised_only_to_accounts_with_manager_time():
    """The demo's Strategic playbook promised quarterly business reviews to 345 accounts, 254 of them
    served digitally, and the Status playbook its reviews to 190 accounts none of which carries
    manager time."""
    from kam_analysis.phases.playbooks import cadence_in_practice

    qbr = "Quarterly business review, monthly check-in"
    assert cadence_in_practice(qbr, 91, 345, 40.0) == (
        "Quarterly business review, monthly check-in (the 91 with manager time; digital for the other 254)")
    assert cadence_in_practice(qbr, 345, 345, 40.0) == qbr
    assert cadence_in_practice("Semi-annual review, quarterly touchpoint", 0, 190, 10.0) == (
        "Digital contact; semi-annual review, quarterly touchpoint once an account's value carries manager time")
    assert cadence_in_practice("Automated journeys, annual survey", 0, 344, 0.0) == "Automated journeys, annual survey"


def test_the_impact_page_says_its_improvements_are_the_playbooks_assumptions():
    """Every lever the demo counts is a playbook default: the page says 'assumed, not your targets' and
    gives each lever's range over the segments where it counts (a zero lever is not counted)."""
    from kam_analysis.deliverables.deck_story.strategy import lever_assumptions

    t = pd.DataFrame({"segment": ["A", "A", "A", "A", "B", "B", "B", "B"],
                      "lever": ["retention_pts", "aov_growth", "frequency_growth", "cross_sell_capture"] * 2,
                      "value": [0.03, 0.03, 0.03, 0.25, 0.01, 0.05, 0.0, 0.05],
                      "source": ["playbook default"] * 8})
    assert lever_assumptions(t) == (True, "retention +1 to +3 pts, order value +3% to +5%, order frequency +3%, "
                                          "cross-sell 5% to 25% of whitespace")
    client = t.assign(source=["params (strategy.segment_targets)"] + ["playbook default"] * 7)
    assert lever_assumptions(client)[0] is False
    assert lever_assumptions(t.assign(value=0.0)) == (False, "")
