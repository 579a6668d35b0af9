"""Key-account sets (metrics.key_accounts) on a tiny client counted by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.metrics.key_accounts import compute_key_account_sizing, value_per_hour_floor

# selected by the scoring: a, b, c; in the programme: b, c, d (e's flag is missing: not in it)
SEGMENTS = pd.DataFrame({"account_id": list("abcde"), "is_key": [True, True, True, False, False]})
ACCOUNTS = pd.DataFrame({"account_id": list("abcde"), "key_account": [False, True, True, True, None]})


def test_three_sets_and_their_overlap():
    k = metrics.compute_key_account_sets(SEGMENTS, ACCOUNTS)
    assert k == {"accounts": 5, "selected": 3, "has_programme_flag": True, "in_programme": 3, "both": 2,
                 "selected_only": 1, "programme_only": 1, "union": 4}
    assert k["selected"] + k["programme_only"] == k["union"] == k["in_programme"] + k["selected_only"]


def test_without_a_programme_flag_the_programme_counts_are_unknown_not_zero():
    k = metrics.compute_key_account_sets(SEGMENTS, ACCOUNTS.drop(columns="key_account"))
    assert k["selected"] == 3 and k["has_programme_flag"] is False
    assert k["in_programme"] is None and k["union"] is None


def test_programme_flag_as_text_reads_like_validation():
    acc = pd.DataFrame({"account_id": list("abcdef"), "key_account": ["Y", "no", "TRUE", "1", None, "x"]})
    assert metrics.in_programme(acc).to_dict() == {"a": True, "b": False, "c": True, "d": True, "e": False,
                                                   "f": True}


def test_headline_key_accounts_is_the_programme_set():
    a = pd.DataFrame({"account_id": list("abcde"), "revenue_12m": [10.0, 20.0, 30.0, 40.0, 0.0],
                      "orders_12m": [1, 1, 1, 1, 0], "orders_prev_12m": 0, "revenue_prev_12m": 0.0,
                      "active": True, "active_at_start": False, "active_at_prev_start": False, "is_new_12m": True,
                      "in_book_12m": True, "gross_margin_12m": float("nan"), "clv_historical": 1.0,
                      "nps_12m": float("nan"), "csat_12m": float("nan"), "nps_prev_12m": float("nan"),
                      "csat_prev_12m": float("nan"), "responded_12m": False,
                      "key_account": [False, True, True, True, None]})
    h = metrics.compute_group_kpis(a).set_index("kpi")["value"]
    assert h["key_accounts"] == metrics.compute_key_account_sets(SEGMENTS, ACCOUNTS)["in_programme"] == 3
    assert h["key_account_revenue_share"] == (20 + 30 + 40) / 100


# --------------------------------------------------------------------------- sizing (docs/key_accounts.md)
# Planted truths: a concentrated client gets few key accounts; a mass-consumer base gets none and
# is served by tiers; the list never exceeds what value and capacity support; the capacity gap is
# reported when managers x hours fall short; no inactive (lapsed) account is selected.
KEY_H, GROWTH_H = 40.0, 10.0


def _size(frame, *, capacity_hours=None, min_share=0.01, cost=0.0, managers=None):
    live_rev = frame.loc[frame["live"], "revenue_12m"].sum()
    floor, _ = value_per_hour_floor(live_rev, key_hours=KEY_H, min_revenue_share=min_share, cost_per_hour=cost)
    return compute_key_account_sizing(frame, key_hours=KEY_H, growth_hours=GROWTH_H, floor=floor,
                                      capacity_hours=capacity_hours, hours_per_manager=1200.0, managers=managers)


def _frame(values, live=None, score=None):
    n = len(values)
    return pd.DataFrame({"account_id": [f"A{i:05d}" for i in range(n)], "revenue_12m": values,
                         "live": np.ones(n, bool) if live is None else live,
                         "selection_score": np.linspace(1, 0, n) if score is None else score})


def test_value_floor_by_hand():
    assert value_per_hour_floor(1_000_000, key_hours=40, min_revenue_share=0.01)[0] == pytest.approx(250.0)
    # with a cost per hour: 60 / 10% = 600 a year per hour, whatever the revenue
    assert value_per_hour_floor(1_000_000, key_hours=40, min_revenue_share=0.01, cost_per_hour=60,
                                max_cost_share=0.1)[0] == pytest.approx(600.0)
    assert value_per_hour_floor(0.0, key_hours=40, min_revenue_share=0.01)[0] == float("inf")


def test_strong_concentration_gives_few_key_accounts():
    # five whales hold 60% of revenue, 995 small accounts the rest
    values = np.r_[np.full(5, 120_000.0), np.full(995, 400_000.0 / 995)]
    per, s = _size(_frame(values))
    assert s["warranted"] == 5 and s["selected"] == 5
    assert set(per.loc[per["is_key"], "account_id"]) == {f"A{i:05d}" for i in range(5)}
    assert (per.loc[~per["is_key"], "coverage_tier"] == "core").all()


def test_mass_consumer_base_gets_tiers_and_no_dedicated_manager():
    rng = np.random.default_rng(1)
    values = rng.lognormal(3.5, 1.2, 20_000)  # 20,000 small accounts, the largest well under 1% of revenue
    assert values.max() < 0.01 * values.sum()
    per, s = _size(_frame(values), capacity_hours=2 * 1200.0, managers=2)
    assert s["warranted"] == 0 and s["selected"] == 0 and not per["is_key"].any()
    assert per["coverage_tier"].value_counts().index[0] == "core"
    # an account that can carry a pooled team needs a quarter of the dedicated manager's floor
    assert s["growth_floor"] == pytest.approx(s["key_floor"] * GROWTH_H / KEY_H)


def test_capacity_binds_and_the_gap_is_reported():
    # 60 accounts of equal value, each 1/60 > 1% of revenue: all warranted; 8 managers x 150 h = 30 key accounts
    per, s = _size(_frame(np.full(60, 1000.0)), capacity_hours=8 * 150.0, managers=8)
    assert s["warranted"] == 60 and s["capacity_accounts"] == 30 and s["selected"] == 30
    assert s["capacity_binds"] and s["capacity_gap"] == 30
    assert s["managers_needed"] == 2  # 60 x 40 h / 1,200 h
    # the best-scored warranted accounts are chosen; those beyond capacity drop to the growth tier
    assert per["is_key"].iloc[:30].all() and not per["is_key"].iloc[30:].any()
    assert (per["coverage_tier"].iloc[30:] == "growth").all()


def test_capacity_unknown_does_not_cap_and_enough_capacity_does_not_bind():
    per, s = _size(_frame(np.full(60, 1000.0)))
    assert s["capacity_accounts"] is None and s["selected"] == 60 and not s["capacity_binds"]
    per, s = _size(_frame(np.full(60, 1000.0)), capacity_hours=10 * 1200.0, managers=10)
    assert s["selected"] == 60 and s["capacity_gap"] == 0 and not s["capacity_binds"]


def test_no_lapsed_account_is_selected_and_the_list_stays_within_value_and_capacity():
    rng = np.random.default_rng(7)
    values = rng.pareto(1.2, 3000) * 1000
    live = rng.random(3000) > 0.35
    big_lapsed = np.argsort(-values)[:10]
    live[big_lapsed] = False  # the ten largest accounts stopped buying
    per, s = _size(_frame(values, live=live), capacity_hours=4 * 1200.0, managers=4)
    key = per["is_key"].to_numpy()
    assert not key[~live].any()
    assert (per.loc[~live, "coverage_tier"] == "inactive").all()
    assert key.sum() <= s["capacity_accounts"] and key.sum() <= s["warranted"]
    assert (values[key] >= s["key_floor"]).all()
    # the floor is on live revenue only
    assert s["key_floor"] == pytest.approx(0.01 * values[live].sum())




def test_without_a_cost_the_assumed_cost_only_makes_the_floor_stricter():
    # 1% of 200,000 over 40 h = 50 per hour; the assumed 60 / 10% = 600 per hour is stricter
    f, basis = value_per_hour_floor(200_000, key_hours=40, min_revenue_share=0.01, assumed_cost_per_hour=60)
    assert f == pytest.approx(600.0) and "assumed" in basis
    # 1% of 10m over 40 h = 2,500 per hour: the share floor stands
    assert value_per_hour_floor(10e6, key_hours=40, min_revenue_share=0.01,
                                assumed_cost_per_hour=60)[0] == pytest.approx(2500.0)
    # the client's own cost replaces both
    assert value_per_hour_floor(10e6, key_hours=40, min_revenue_share=0.01, cost_per_hour=30,
                                assumed_cost_per_hour=60)[0] == pytest.approx(300.0)
