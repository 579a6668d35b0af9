"""The key-account programme sized to the client, as the phases and the deck apply it
(phases.key_accounts, playbooks.compute_account_engagement, the deck's sizing slide and
finding; the rule itself is tested in test_metrics_key_accounts.py; docs/key_accounts.md)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


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


def programme_size_text_for(d):
    from kam_analysis.deliverables.deck_story._base import default_floor_rule
    from kam_analysis.deliverables.deck_story.segmentation import programme_size_text, sizing_figures

    return programme_size_text(sizing_figures(d.run.read_table("key_account_sizing")),
                               d.run.read_table("coverage_tiers"), money=d.money, churn_days=180,
                               default_rule=default_floor_rule(d.params))


def test_no_capacity_headline_when_capacity_is_enough_or_unknown(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.segmentation import s_programme_size
    from kam_analysis.deliverables.deck_story.summary import _f_capacity

    d = _deck_with_sizing(demo_run, tmp_path / "a", warranted=20, managers=8, capacity=240, selected=20)
    (spec,) = s_programme_size(d)
    assert _f_capacity(d) is None and spec.title.startswith("Key-account management fits 20 of 1,000 live accounts")
    d = _deck_with_sizing(demo_run, tmp_path / "b", warranted=0, managers=None, capacity=None, selected=0)
    (spec,) = s_programme_size(d)
    assert _f_capacity(d) is None
    # the demo gives no cost of a manager hour: the threshold is the default rule, and the page says so
    assert demo_run.params.strategy.cost_per_hour is None
    assert spec.title == ("No live account reaches the default key-account threshold (€50k a year): every account "
                          "is served by a tier for now")
    assert "the client's cost of a manager hour would set it" in " ".join(
        programme_size_text_for(d)["takeaways"])
    from kam_analysis.deliverables.deck_story.segmentation import programme_size_text, sizing_figures
    z = sizing_figures(d.run.read_table("key_account_sizing"))
    tiers = d.run.read_table("coverage_tiers")
    text = programme_size_text(z, tiers, money=d.money, churn_days=180, default_rule="1% of the live accounts' revenue")
    assert "A default, not the client's figure: 1% of the live accounts' revenue" in text["takeaways"][1]
    # with the client's own cost per hour the threshold is the client's: the plain sentence
    text = programme_size_text(z, tiers, money=d.money, churn_days=180, default_rule=None)
    assert text["title"].startswith("Key-account management fits none of the 1,000 live accounts")
    assert "default" not in " ".join(text["takeaways"])


def test_the_dashboards_carry_the_capacity_gap_headline(demo_run, tmp_path):
    """Both dashboards show ``programme_size_data`` (the KPI dashboard writes its title on the summary sheet)."""
    from kam_analysis.deliverables.html_dashboard import programme_size_data

    d = _deck_with_sizing(demo_run, tmp_path, warranted=80, managers=2, capacity=60, selected=60)
    prog = programme_size_data(d.run)
    assert prog["capacity_binds"] and prog["title"].startswith("80 accounts can carry a dedicated manager, but 2 "
                                                               "managers can serve only 60 of them")
    assert [r["accounts"] for r in prog["rows"]] == [60, 100, 840, 400]


def test_no_fund_the_programme_decision_without_key_accounts(demo_run, tmp_path):
    """A base where no account can carry a dedicated manager gets no 'fund the KAM programme' decision."""
    import shutil

    from kam_analysis.data.runfolder import Run
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.decisions import _programme_decision

    shutil.copytree(demo_run.dir, tmp_path / "run", dirs_exist_ok=True)
    run = Run(tmp_path / "run", demo_run.params)
    run.write_table("programme_cost", pd.DataFrame({
        "item": ["manager_time"], "label": ["Manager time"], "kind": ["per year"], "quantity": [400.0],
        "unit_cost": [60.0], "amount": [24_000.0], "assumed": [True], "parameter": ["strategy.cost_per_hour"]}))
    run.write_table("business_case", pd.DataFrame({
        "scenario": ["base"], "years": [3], "profit_full_year": [100_000.0], "running_cost_per_year": [24_000.0],
        "setup_cost": [0.0], "profit_over_horizon": [250_000.0], "cost_over_horizon": [72_000.0],
        "net_over_horizon": [178_000.0], "roi": [2.47], "payback_months": [9.0], "assumed_costs": [True]}))
    ids = run.read_table("account_summary")["account_id"].astype(str)
    for n_key, expect in ((2, True), (0, False)):
        run.write_table("segments", pd.DataFrame({
            "account_id": ids, "is_key": [i < n_key for i in range(len(ids))], "attractiveness": 0.5,
            "relative_strength": 0.5, "quadrant": "Strategic"}))
        got = _programme_decision(DeckData(run))
        assert (got is not None) == expect
        if expect:
            assert got[0][0].startswith("Fund the KAM programme") and "2 key accounts" in got[0][0]


def test_no_key_account_reads_the_same_on_every_page(demo_run, tmp_path):
    """A run that selects no key account: under the default threshold (no cost of a manager hour)
    the account plans wait for that input on the phase-status page, the data request asks for it
    and the appendix says why in the same words; with the client's own cost, no key account is a
    finding: phase 4 is complete and nothing is requested."""
    import shutil

    from kam_analysis.data.runfolder import Run
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.assessment import data_request_rows
    from kam_analysis.deliverables.deck_story.context import s_framework
    from kam_analysis.deliverables.deck_story.strategy import s_account_plans

    import re

    from kam_analysis.data.tables import TABLES

    def waiting(title: str) -> int:
        m = re.search(r"(\d+) (?:of their \d+ results )?waits? for data", title)
        return int(m.group(1)) if m else 0

    shutil.copytree(demo_run.dir, tmp_path / "run", dirs_exist_ok=True)
    own = demo_run.params.model_copy(update={"strategy": demo_run.params.strategy.model_copy(
        update={"cost_per_hour": 75.0})})
    waits = {}
    for params, default in ((demo_run.params, True), (own, False)):
        run = Run(tmp_path / "run", params)
        ids = run.read_table("account_summary")["account_id"]
        seg = pd.DataFrame({c: [0.5] * len(ids) for c in TABLES["segments"].required}).assign(
            account_id=ids.to_numpy(), is_key=False, quadrant="Status")
        run.write_table("segments", seg)
        run.write_table("account_plans", pd.DataFrame({c: pd.Series(dtype="object")
                                                       for c in TABLES["account_plans"].required}))
        d = DeckData(run)
        (frame,) = s_framework(d)
        waits[default] = waiting(frame.title)
        assert s_account_plans(d) == []
        why = dict(d.skipped)["Account plans"]
        rows, extra = data_request_rows(d, run.read_table("analysis_support"))
        asked = [r for r in rows if r[0].startswith("The fully loaded cost of an account-manager hour")]
        if default:
            assert why.startswith("no account reaches the default key-account threshold (1% of the live "
                                  "accounts' revenue); the client's cost of a manager hour would set it")
            assert len(asked) == 1 and extra == 1 and "account plans" in asked[0][1]
        else:
            assert why.startswith("no account brings enough revenue to carry a dedicated manager")
            assert not asked and extra == 0
    # the account plans wait for the cost of a manager hour only while the threshold is the default
    assert waits[True] == waits[False] + 1


def test_the_sizing_page_says_where_todays_programme_lands():
    """Counted by hand: 5 accounts in the client's programme (2 key here, 1 growth, 2 inactive), one key
    account outside it; the sentence names each tier by the client's name and says none qualifies when
    no programme account is key."""
    import pandas as pd

    from kam_analysis.deliverables.deck_story.segmentation import programme_fit_text
    from kam_analysis.metrics import programme_by_tier

    segs = pd.DataFrame({"account_id": list("abcdefg"),
                         "currently_key": [True, True, True, True, True, False, False],
                         "coverage_tier_key": ["key", "key", "growth", "inactive", "inactive", "key", "core"],
                         "is_key": [True, True, False, False, False, True, False]})
    fit = programme_by_tier(segs)
    assert fit == {"programme": 5, "by_tier": {"key": 2, "growth": 1, "core": 0, "inactive": 2}, "new_key": 1}
    tiers = pd.DataFrame({"tier": ["key", "growth", "core", "inactive"],
                          "label": ["Key accounts", "Growth accounts", "Core accounts", "Dormant"]})
    assert programme_fit_text(fit, tiers) == ("Of today's programme of 5 accounts, 2 are key accounts, 1 growth "
                                              "account and 2 dormant here; the selection adds 1 account from outside it")
    none_key = segs.assign(coverage_tier_key=["growth"] * 5 + ["core", "core"], is_key=False)
    assert programme_fit_text(programme_by_tier(none_key), tiers) == (
        "Of today's programme of 5 accounts, none qualifies for a dedicated manager here: 5 are growth accounts")
    assert programme_by_tier(segs.assign(currently_key=False)) is None
    assert programme_by_tier(segs.drop(columns="currently_key")) is None


def test_the_default_threshold_names_the_rule_that_set_it():
    """A small base: the assumed cost of an hour (not 1% of revenue) set the consumer client's $24k
    threshold, and the page said '1% of the live accounts' revenue' (about $11.7k)."""
    import pandas as pd

    from kam_analysis.config import load_params
    from kam_analysis.deliverables.deck_story._base import default_floor_rule
    from kam_analysis.metrics.key_accounts import value_per_hour_floor

    params = load_params("params/demo.yaml")
    floor, note = value_per_hour_floor(1_174_197.74, key_hours=40, min_revenue_share=0.01, max_cost_share=0.10,
                                       assumed_cost_per_hour=60.0)
    assert floor == pytest.approx(600.0)  # 60 / 10% a year per hour: 40 h need 24,000
    sizing = pd.DataFrame({"metric": ["key_floor"], "value": [floor * 40], "note": [f"40 h a year; {note}"]})
    assert default_floor_rule(params, sizing) == ("manager time at an assumed €60 an hour may cost at most 10% of an "
                                                  "account's revenue")
    _, share_note = value_per_hour_floor(8_531_917.0, key_hours=40, min_revenue_share=0.01, max_cost_share=0.10,
                                         assumed_cost_per_hour=60.0)
    sizing = sizing.assign(note=[f"40 h a year; {share_note}"])
    assert default_floor_rule(params, sizing) == "1% of the live accounts' revenue"
    assert default_floor_rule(params.model_copy(update={"strategy": params.strategy.model_copy(
        update={"cost_per_hour": 75.0})}), sizing) is None
