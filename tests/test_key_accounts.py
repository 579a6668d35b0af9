"""The key-account programme sized to the client (metrics.key_accounts, docs/key_accounts.md).

Planted truths: a concentrated client gets few key accounts; a mass-consumer base gets none
and is served by tiers; the list never exceeds what value and capacity support; the
capacity gap is reported when managers x hours fall short; no lapsed account is selected.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kam_analysis.metrics.key_accounts import compute_key_account_sizing, value_per_hour_floor

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


def test_a_strategic_account_that_is_not_key_gets_no_dedicated_manager():
    from kam_analysis.config import TEMPLATES_DIR
    from kam_analysis.phases.playbooks import compute_account_engagement, load_playbooks

    books = load_playbooks(TEMPLATES_DIR / "playbooks.yaml", inactive="Inactive accounts")
    seg = pd.DataFrame({"account_id": ["k", "g", "c", "x"],
                        "quadrant": ["Strategic", "Strategic", "Strategic", "Inactive accounts"],
                        "coverage_tier_key": ["key", "growth", "core", "inactive"]})
    e = compute_account_engagement(seg, books).set_index("account_id")
    assert e.loc["k", "engagement_model_key"] == "dedicated_kam" and e.loc["k", "hours_per_account"] == 40
    assert e.loc["g", "engagement_model_key"] == "pooled_team" and e.loc["g", "hours_per_account"] == 10
    assert e.loc["c", "engagement_model_key"] == "digital" and e.loc["c", "hours_per_account"] == 0
    assert e.loc["x", "hours_per_account"] == 0 and e.loc["x", "expected_uplift"] == 0
    # a capped account expects no more uplift than the playbooks built on its model (Status: pooled, 4%)
    assert e.loc["g", "expected_uplift"] == pytest.approx(0.04)


# --------------------------------------------------------------------------- the deck says it
def _deck_with_sizing(demo_run, tmp_path, *, warranted, managers, capacity, selected):
    import shutil

    from kam_analysis.data.runfolder import Run
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.phases.key_accounts import sizing_table

    shutil.copytree(demo_run.dir, tmp_path / "run", dirs_exist_ok=True)
    run = Run(tmp_path / "run", demo_run.params)
    sizing = {"live_accounts": 1000, "inactive_accounts": 400, "live_revenue": 5e6, "key_floor": 50_000.0,
              "growth_floor": 12_500.0, "warranted": warranted, "capacity_accounts": capacity, "selected": selected,
              "capacity_gap": warranted - min(warranted, capacity if capacity is not None else warranted),
              "managers": managers, "managers_needed": int(np.ceil(warranted * 40 / 1200)),
              "capacity_binds": capacity is not None and warranted > capacity, "floor_basis": "1% of live revenue",
              "capacity_source": "test", "key_hours": 40.0, "growth_hours": 10.0}
    run.write_table("key_account_sizing", sizing_table(sizing))
    run.write_table("coverage_tiers", pd.DataFrame({
        "tier": ["key", "growth", "core", "inactive"],
        "label": ["Key accounts", "Growth accounts", "Core accounts", "Inactive accounts"],
        "accounts": [selected, 100, 900 - selected, 400], "account_share": [0.1, 0.1, 0.5, 0.3],
        "revenue_12m": [3e6, 1e6, 1e6, 2e5], "revenue_share": [0.58, 0.19, 0.19, 0.04],
        "hours_per_account": [40.0, 10.0, 0.0, 0.0]}))
    return DeckData(run)


def test_capacity_gap_is_the_headline_when_managers_fall_short(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.segmentation import s_programme_size
    from kam_analysis.deliverables.deck_story.summary import _f_capacity

    # 80 accounts warrant a dedicated manager; 2 managers x 1,200 h serve 60 of them; 80 need 3 managers
    d = _deck_with_sizing(demo_run, tmp_path, warranted=80, managers=2, capacity=60, selected=60)
    (spec,) = s_programme_size(d)
    assert spec.title == ("80 accounts can carry a dedicated manager, but 2 managers can serve only 60 of them: "
                          "1 more manager needed")
    f = _f_capacity(d)
    assert f is not None and f.number == "60 of 80" and "1 more manager needed" in f.text


def test_no_capacity_headline_when_capacity_is_enough_or_unknown(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.segmentation import s_programme_size
    from kam_analysis.deliverables.deck_story.summary import _f_capacity

    d = _deck_with_sizing(demo_run, tmp_path / "a", warranted=20, managers=8, capacity=240, selected=20)
    (spec,) = s_programme_size(d)
    assert _f_capacity(d) is None and spec.title.startswith("Key-account management fits 20 of 1,000 live accounts")
    d = _deck_with_sizing(demo_run, tmp_path / "b", warranted=0, managers=None, capacity=None, selected=0)
    (spec,) = s_programme_size(d)
    assert _f_capacity(d) is None
    assert spec.title.startswith("Key-account management fits none of the 1,000 live accounts")
