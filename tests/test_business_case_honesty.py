"""What the business case and its neighbours may claim, on planted cases.

* benefit and cost cover the same accounts: a client with few key accounts gets a return
  bounded by a figure computed by hand from the covered accounts' revenue;
* without margin the benefit is revenue: no slide text of the business case says "profit";
* the churn title never names a driver whose 95% range includes 1;
* recommendation owners are roles the client has; the CLV slide shows the lifecycle rule's
  live share, not the model's median chance still active.
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from kam_analysis.phases.business_case import (compute_business_case, compute_programme_cost, margin_known,
                                               programme_hours, programme_revenue_share)

# segment A: 10 accounts of 100 revenue each, the plan covers 2 key accounts (40 h each); segment B:
# 5 accounts of 200 each, none covered (digital)
PLAN = pd.DataFrame({
    "account_id": [f"A{i}" for i in range(10)] + [f"B{i}" for i in range(5)],
    "segment": ["A"] * 10 + ["B"] * 5,
    "is_key": [True, True] + [False] * 13,
    "hours_per_account": [40.0, 40.0] + [0.0] * 13,
    "hours_allocated": [40.0, 40.0] + [0.0] * 13,
    "revenue_12m": [100.0] * 10 + [200.0] * 5,
})
# the whole-base scenario: 10% uplift on every segment's revenue (A 1,000 -> 100; B 1,000 -> 100)
LEVERS = pd.DataFrame({"scenario": ["base", "base"], "segment": ["A", "B"], "lever": ["aov_growth"] * 2,
                       "lever_value": [0.1, 0.1], "revenue_impact": [100.0, 100.0], "profit_impact": [100.0, 100.0]})
SCEN = pd.DataFrame({"scenario": ["base"], "gross_profit_impact": [200.0]})


def _cost(plan=PLAN):
    return compute_programme_cost(plan, cost_per_hour=1.0, tools_cost_per_year=0.0, setup_cost=0.0)


def test_benefit_counts_only_the_accounts_the_cost_pays_for():
    bc = compute_business_case(SCEN, _cost(), ramp_up=[1.0], impact_by_lever=LEVERS, coverage_plan=PLAN).iloc[0]
    # the 2 covered accounts carry 200 of segment A's 1,000: 20% of A's 100 impact = 20; B none
    assert bc["profit_full_year"] == pytest.approx(20.0)
    assert bc["whole_base_full_year"] == pytest.approx(200.0)
    assert bc["programme_accounts"] == 2 and bc["programme_revenue_share"] == pytest.approx(200 / 2000)
    # cost: 80 hours x 1 = 80; ROI = (20 - 80) / 80
    assert bc["cost_over_horizon"] == pytest.approx(80.0)
    assert bc["roi"] == pytest.approx(-0.75)
    # the bound a reader can check: benefit <= covered revenue x the largest segment uplift rate (10%)
    assert bc["profit_full_year"] <= 200.0 * 0.10 + 1e-9
    # the whole-base benefit against the same cost would claim (200 - 80) / 80 = +150%: not what is credited
    whole = compute_business_case(SCEN, _cost(), ramp_up=[1.0]).iloc[0]
    assert whole["roi"] == pytest.approx(1.5) and bc["roi"] < whole["roi"]


def test_without_capacity_the_programme_is_costed_and_credited_at_the_hours_it_needs():
    plan = PLAN.assign(hours_allocated=0.0)  # no manager capacity known: the plan staffs nobody
    hours, basis = programme_hours(plan)
    assert basis == "needed" and hours.sum() == 80
    cost = _cost(plan).set_index("item")
    assert cost.loc["manager_time", "quantity"] == 80 and "needs" in cost.loc["manager_time", "label"]
    share = programme_revenue_share(plan).set_index("segment")["share"]
    assert share["A"] == pytest.approx(0.2) and share["B"] == 0
    bc = compute_business_case(SCEN, cost.reset_index(), ramp_up=[1.0], impact_by_lever=LEVERS,
                               coverage_plan=plan).iloc[0]
    assert bc["profit_full_year"] == pytest.approx(20.0)


def test_margin_basis_follows_the_baseline():
    assert margin_known(pd.DataFrame({"segment": ["A"], "note": [""]}))
    assert not margin_known(pd.DataFrame({"segment": ["A"], "note": ["no gross margin in the data: ..."]}))
    bc = compute_business_case(SCEN, _cost(), ramp_up=[1.0], margin_known=False)
    assert (bc["benefit_basis"] == "revenue").all()


# ------------------------------------------------------------------ the deck, on a copied demo run
def _run_copy(demo_run, tmp_path):
    from kam_analysis.data.runfolder import Run

    shutil.copytree(demo_run.dir, tmp_path / "run", dirs_exist_ok=True)
    return Run(tmp_path / "run", demo_run.params)


def _slide_texts(run, builder) -> list[tuple[str, list[str]]]:
    """(title, every text on the slide) of the slides ``builder`` makes, rendered as in the deck."""
    from kam_analysis.deliverables.deck import _render, _style
    from kam_analysis.deliverables._pptx import DeckTemplate
    from kam_analysis.deliverables.deck_story._base import DeckData

    p = run.params
    deck = DeckTemplate(p.branding.template, style=_style(p), apply_colors=p.branding.apply_colors_to_template)
    specs = builder(DeckData(run))
    for spec in specs:
        _render(deck, spec)
    out = []
    for spec, slide in zip(specs, deck.prs.slides):
        texts = []
        for sh in slide.shapes:
            if sh.has_text_frame:
                texts.append(sh.text_frame.text)
            if getattr(sh, "has_table", False) and sh.has_table:
                texts += [c.text for r in sh.table.rows for c in r.cells]
        out.append((spec.title, texts))
    return out


#: the client's own costs, chosen so no figure of theirs equals an assumed one
CLIENT_COSTS = {"cost_per_hour": 75.0, "tools_cost_per_year": 12_000.0, "setup_cost": 30_000.0}
NO_COSTS = dict.fromkeys(CLIENT_COSTS)


def _write_business_case(run, *, basis: str, n_key: int = 2, payback: float = 1.0, costs: dict = NO_COSTS):
    cost = compute_programme_cost(PLAN, **costs)
    run.write_table("programme_cost", cost)
    bc = compute_business_case(SCEN.assign(gross_profit_impact=[50_000.0]), cost, ramp_up=[0.5, 1.0, 1.0],
                               impact_by_lever=LEVERS.assign(revenue_impact=[50_000.0, 50_000.0],
                                                             profit_impact=[50_000.0, 50_000.0]),
                               coverage_plan=PLAN, margin_known=basis == "gross profit")
    run.write_table("business_case", bc.assign(payback_months=payback))
    ids = run.read_table("account_summary")["account_id"].astype(str)
    run.write_table("segments", pd.DataFrame({
        "account_id": ids, "is_key": [i < n_key for i in range(len(ids))], "attractiveness": 0.5,
        "relative_strength": 0.5, "quadrant": "Strategic"}))
    return bc


def _notes(run, fn) -> str:
    from kam_analysis.deliverables.deck_story._base import DeckData

    return " ".join(spec.notes for spec in fn(DeckData(run)))


def test_no_profit_word_in_the_business_case_without_margin(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.decisions import s_business_case, s_decisions

    run = _run_copy(demo_run, tmp_path)
    for costs in (NO_COSTS, CLIENT_COSTS):
        _write_business_case(run, basis="revenue", costs=costs)
        slides = _slide_texts(run, s_business_case) + _slide_texts(run, s_decisions)
        assert len(slides) == 2
        for title, texts in slides:
            blob = " ".join([title, *texts])
            assert "profit" not in blob.lower(), blob
            assert "ROI +" not in blob and "returns" not in title  # no revenue multiple dressed as a return
        bc_title, bc_texts = slides[0]
        assert "revenue" in bc_title and "margin" in bc_title
        assert any("gross margin or cost of goods" in t for t in bc_texts)
        assert any("Benefit counted only in the 2 accounts with planned manager hours" in t for t in bc_texts)
        dec = " ".join(slides[1][1])
        if costs is CLIENT_COSTS:
            assert "revenue covers the cost in 1 month;" in dec  # 1 month, not "1 months"
        else:  # no cost the client has not given, so no payback either
            assert "Needs your cost figures" in dec and "covers the cost" not in dec


def test_a_cost_the_client_has_not_given_is_never_a_figure_on_the_page(demo_run, tmp_path):
    """The standard: an input the client did not give never becomes a euro figure, a return or a
    payback on a client page. At the documented assumptions the page gives the benefit and the
    manager hours and asks for the costs; the illustration is in the speaker notes only."""
    from kam_analysis.config import ASSUMED_PROGRAMME_COSTS
    from kam_analysis.deliverables.deck_story.decisions import s_business_case, s_decisions
    from kam_analysis.present.formats import fmt_money

    run = _run_copy(demo_run, tmp_path)
    bc = _write_business_case(run, basis="gross profit", payback=7.0)
    b = bc.iloc[0]
    (bc_title, bc_texts), (dec_title, dec_texts) = _slide_texts(run, s_business_case) + _slide_texts(run, s_decisions)
    page = " ".join([bc_title, *bc_texts, dec_title, *dec_texts])
    a = ASSUMED_PROGRAMME_COSTS  # (the planted whole-base scenario is €50k a year, as the assumed set-up)
    cost_figures = [fmt_money(b["cost_over_horizon"]), fmt_money(b["net_over_horizon"]), fmt_money(a["cost_per_hour"]),
                    fmt_money(a["tools_cost_per_year"]), f"{fmt_money(a['setup_cost'])} one-off"]
    assert not [f for f in cost_figures if f in page], page
    assert not re.search(r"ROI [+-]?\d|payback in \d", page) and "assumed" not in page, page
    assert fmt_money(b["profit_over_horizon"]) in bc_title and "need your cost figures" in bc_title
    assert "return needs your costs" in dec_title
    assert "80 hours a year; needs your cost of an hour" in page  # the plan's 2 x 40 hours: a fact, not a cost
    assert any("Your cost of an account-manager hour (80 hours a year in the plan), your tools budget a year and "
               "your one-off set-up cost price the programme" in t for t in dec_texts)
    # the notes travel with the file: they say why, and carry no figure built on an assumed cost either
    notes = _notes(run, s_business_case) + _notes(run, s_decisions)
    assert "No cost, return or payback is stated" in notes
    assert not [f for f in cost_figures if f in notes] and not re.search(r"ROI [+-]?\d|payback in \d", notes), notes

    # with the client's own costs the page states the cost and the return
    bc = _write_business_case(run, basis="gross profit", payback=7.0, costs=CLIENT_COSTS)
    (bc_title, bc_texts), (dec_title, dec_texts) = _slide_texts(run, s_business_case) + _slide_texts(run, s_decisions)
    assert "payback in 7 months" in bc_title and fmt_money(bc["cost_over_horizon"].iloc[0]) in bc_title
    assert any("ROI = net / cost." in t for t in bc_texts)
    assert "the programme" in dec_title and "need" not in dec_title  # its return, at the client's costs
    assert "No cost, return or payback is stated" not in _notes(run, s_decisions)


def test_no_programme_decision_and_no_key_account_owner_without_key_accounts(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.decisions import _programme_decision
    from kam_analysis.phases.recommendations import compute_recommendations

    from kam_analysis.deliverables.deck_story.decisions import _recommendation_decisions, s_business_case

    run = _run_copy(demo_run, tmp_path)
    _write_business_case(run, basis="revenue", n_key=0)
    d = DeckData(run)
    assert _programme_decision(d) is None
    assert s_business_case(d) == [] and any(t == "Business case" for t, _ in d.skipped)
    run.write_table("recommendations", pd.DataFrame({
        "rank": [1], "rule": ["whitespace"], "recommendation": ["Run a cross-sell push"], "evidence": [""],
        "value": [10.0], "value_basis": [""], "segment": ["S"], "owner": ["Sales team, with marketing"],
        "due_date": [pd.Timestamp("2025-06-01")]}))
    (row,) = _recommendation_decisions(DeckData(run), 1)
    assert "programme" not in row[2] and "Key-account" not in row[3]
    rule = pd.DataFrame({"rule": ["whitespace", "segment_target_gap", "stalled_playbook"],
                         "recommendation": ["x", "y", "z"], "evidence": "", "value": [3.0, 2.0, 1.0],
                         "value_basis": "", "segment": "S"})
    for has_key in (True, False):
        owners = compute_recommendations(rule, plan_date="2025-01-01", has_key_accounts=has_key)["owner"]
        assert owners.str.contains("Key-account|KAM").any() == has_key


def _churn_drivers(run, rows):
    run.write_table("churn_model_status", pd.DataFrame({"analysis": ["churn"], "supported": [True], "reason": [""]}))
    run.write_table("churn_drivers", pd.DataFrame(rows, columns=["feature", "label", "odds_ratio", "ci_low", "ci_high",
                                                                 "p_value", "interpretation"]))


def test_churn_title_names_only_a_driver_whose_interval_excludes_one(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.strategy import s_churn_drivers

    run = _run_copy(demo_run, tmp_path)
    # the strongest odds ratio (0.47) spans 1; the weaker 1.60 is clear of it
    _churn_drivers(run, [
        ("n_orders", "Order count (per doubling of orders)", 0.47, 0.15, 1.45, 0.19, ""),
        ("days_since", "Days since last order (per 30 days)", 1.60, 1.20, 2.10, 0.001, ""),
    ])
    (title, _), = _slide_texts(run, s_churn_drivers)
    assert title.startswith("Days since last order is the strongest clear churn driver")
    assert "Order count" not in title and "(per" not in title and "…" not in title
    _churn_drivers(run, [("n_orders", "Order count (per doubling of orders)", 0.47, 0.15, 1.45, 0.19, ""),
                         ("days_since", "Days since last order", 1.10, 0.90, 1.30, 0.30, "")])
    (title, _), = _slide_texts(run, s_churn_drivers)
    assert title.startswith("No account feature clearly drives churn")


def test_clv_slide_shows_the_live_share_not_the_model_chance_alive(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.segmentation import live_share, s_clv
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.metrics import lifecycle_status

    run = _run_copy(demo_run, tmp_path)
    summ = run.read_table("account_summary")
    ids = summ["account_id"].astype(str)
    # the model says every account is certainly alive (the one-time-buyer artefact)
    run.write_table("segments", pd.DataFrame({"account_id": ids, "is_key": False, "attractiveness": 0.5,
                                              "relative_strength": 0.5,
                                              "quadrant": np.where(np.arange(len(ids)) % 3 == 0, "Strategic", "Star"),
                                              "clv": 100.0, "p_alive": 1.0}))
    want = float((lifecycle_status(summ) == "live").mean())
    assert want < 1  # the demo has lapsed accounts: 100% alive would contradict it
    assert live_share(DeckData(run)) == pytest.approx(want)
    (title, texts), = _slide_texts(run, s_clv)
    blob = " ".join(texts)
    assert "100%" not in blob and "chance still active" not in blob.lower()
    assert f"Live accounts (an order in the last {run.params.analysis.churn_days} days): {want:.0%}" in blob


def test_no_gain_credited_when_the_uplift_lies_outside_the_programme_accounts(demo_run, tmp_path):
    """The B2B demo's case: own-history uplift only in segments the plan gives no hours: no ROI at all."""
    from kam_analysis.deliverables.deck_story.decisions import s_business_case, s_decisions

    run = _run_copy(demo_run, tmp_path)
    _write_business_case(run, basis="revenue")
    cost = run.read_table("programme_cost")
    levers = LEVERS.assign(revenue_impact=[0.0, 50_000.0], profit_impact=[0.0, 50_000.0])  # all in segment B
    bc = compute_business_case(SCEN.assign(gross_profit_impact=[50_000.0]), cost, ramp_up=[0.5, 1.0, 1.0],
                               impact_by_lever=levers, coverage_plan=PLAN, margin_known=False)
    assert (bc["profit_full_year"] == 0).all() and (bc["whole_base_full_year"] == 50_000).all()
    run.write_table("business_case", bc)
    (bc_title, _), (dec_title, dec_texts) = _slide_texts(run, s_business_case) + _slide_texts(run, s_decisions)
    assert bc_title.startswith("The data credits no gain") and "set targets for the key accounts" in bc_title
    assert dec_title.startswith("One decision for the board: the data credits no gain")
    assert not any("ROI" in t or "%" in t for t in dec_texts)
    assert not any("Fund the KAM programme" in t for t in dec_texts)  # not a funding decision without a gain
    assert any(t.startswith("1. Set key-account targets before funding the programme") for t in dec_texts)


def test_sensitivity_slide_calls_a_revenue_impact_revenue(demo_run, tmp_path):
    from kam_analysis.deliverables.deck_story.computed import s_sensitivity

    run = _run_copy(demo_run, tmp_path)
    run.write_table("sensitivity", pd.DataFrame({
        "lever": ["aov_growth", "frequency_growth"], "label": ["Average order value (+%)", "Order frequency (+%)"],
        "low_multiplier": 0.5, "high_multiplier": 1.5, "profit_low": [80.0, 90.0], "profit_base": [100.0, 100.0],
        "profit_high": [130.0, 110.0], "swing": [50.0, 20.0]}))
    for basis, word in (("revenue", "revenue"), ("gross profit", "profit")):
        _write_business_case(run, basis=basis)
        (title, texts), = _slide_texts(run, s_sensitivity)
        assert title.startswith(f"Average order value moves the {word} impact most"), title
        if basis == "revenue":
            assert "profit" not in " ".join([title, *texts]).lower()
