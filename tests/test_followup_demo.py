"""End to end: the demo's plan run, its follow-up snapshot six months later, and the follow-up
review recovering what the snapshot planted (issue 16).

One module-scoped pair of runs on a small Maison Demo (500 accounts, no deliverables): the
plan run, then ``params/demo-review.yaml`` pointed at the same output folder, whose data and
returned actions file are generated from the plan run on first use. The planted truths are
read from the generator's ``planted.json``; the follow-up's ``plan_*`` tables must recover
them: the grown, declined, stable and lost key accounts, the migrating segment and every
action's reported status.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, write_demo_params

pytestmark = pytest.mark.slow

QUADRANTS = ["Strategic", "Star", "Status", "Streamline"]


def _followup_params(tmp: Path) -> Path:
    """params/demo-review.yaml with its data and outputs under ``tmp`` (the plan run's output root)."""
    raw = yaml.safe_load((REPO / "params" / "demo-review.yaml").read_text())
    data = tmp / "followup"
    for table in ("transactions", "accounts", "surveys", "capability"):
        raw["data"][table]["path"] = str(data / Path(raw["data"][table]["path"]).name)
    raw["review"]["actions_file"] = str(data / Path(raw["review"]["actions_file"]).name)
    raw["output"] = {"root": str(tmp / "outputs")}
    path = tmp / "demo-review.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    from kam_analysis import run_engagement
    from kam_analysis.data.runfolder import Run
    from kam_analysis.config import load_params

    tmp = tmp_path_factory.mktemp("followup-demo")
    plan_params = write_demo_params(tmp, n_accounts=500, seed=42, name="Maison Demo")
    followup_params = _followup_params(tmp)
    plan = run_engagement(plan_params, deliverables=False)
    later = run_engagement(followup_params, deliverables=False)
    planted = json.loads((tmp / "followup" / "planted.json").read_text())
    run = Run(later.run_dir, load_params(followup_params))
    tables = {name: run.read_table(name) for name in
              ("plan_summary", "plan_key_accounts", "plan_segments", "plan_migration", "plan_actions",
               "plan_recommendations")}
    return {"plan": plan.run_dir, "later": later.run_dir, "planted": planted, **tables}


def test_the_follow_up_measures_the_demo_run(review):
    assert review["planted"]["plan_run"] == Path(review["plan"]).name
    assert review["planted"]["as_of"] == "2026-06-30"
    summary = review["plan_summary"].set_index("metric")
    plan_run = summary.loc["plan_run", "text"] if "text" in summary else summary.loc["plan_run", "value"]
    assert plan_run == Path(review["plan"]).name
    assert summary.loc["months_since", "value"] == pytest.approx(6, abs=0.1)


def test_key_account_outcomes_are_the_planted_ones(review):
    ka = review["plan_key_accounts"].set_index("account_id")
    planted = review["planted"]["key_accounts"]
    expected = {a: outcome for outcome in ("grown", "declined", "stable", "lost") for a in planted[outcome]}
    assert len(ka) == planted["committed"] == len(expected)
    assert ka["outcome"].to_dict() == expected
    converted = review["planted"]["whitespace_converted"]
    assert converted  # the plan named cross-sell for the grown accounts, and they bought it
    for a, cats in converted.items():
        assert ka.loc[a, "whitespace_converted"] >= len(cats), a
        assert set(cats) <= set(ka.loc[a, "whitespace_categories"].split(", ")), a
    ratio = ka["revenue_now"] / ka["revenue_plan"]
    for a, r in review["planted"]["revenue_ratio"].items():
        assert ratio[a] == pytest.approx(r, rel=1e-3), a


def test_the_planted_segment_migrates(review):
    mig, m = review["plan_migration"], review["planted"]["migration"]
    flows = mig[mig["plan_segment"].isin(QUADRANTS) & mig["current_segment"].isin(QUADRANTS)
                & (mig["plan_segment"] != mig["current_segment"])]
    members = mig.groupby("plan_segment")["accounts"].sum()
    moved = flows.set_index(["plan_segment", "current_segment"])["accounts"]
    share = moved / members.reindex(flows["plan_segment"]).to_numpy()
    # most movers cross (a few with a low strategic rating stay below the split); the median split
    # is relative, so as many accounts slip the other way, spread over the other quadrants
    assert moved[(m["from"], m["to"])] >= 0.6 * len(m["accounts"])
    assert share.idxmax() == (m["from"], m["to"])  # the largest move of any committed quadrant
    assert share[(m["from"], m["to"])] >= 0.3
    seg = review["plan_segments"].set_index("segment")
    growth = (seg["revenue_now"] / seg["revenue_plan"]).reindex(QUADRANTS)
    assert growth.idxmax() == m["from"]  # the movers' spending shows in their committed segment


def test_action_statuses_are_the_returned_ones(review):
    acts = review["plan_actions"].set_index("action_id")
    planted = review["planted"]["actions"]
    assert len(acts) == sum(len(v) for v in planted.values())
    for status, ids in planted.items():
        assert (acts.loc[ids, "status"] == status).all(), status
    assert set(acts.index[acts["status"] == "done"]) == set(planted["done"])
    recs = review["plan_recommendations"].set_index("recommendation_id")["status"]
    assert recs.reindex(list(review["planted"]["recommendations"])).to_dict() == review["planted"]["recommendations"]


def test_the_deck_and_the_dashboard_tell_the_planted_story(review, tmp_path):
    """The deck's "Since the last review" section and the HTML block carry the planted counts."""
    from pptx import Presentation

    from client_text import deck_texts, html_texts, internal_names
    from kam_analysis.config import load_params
    from kam_analysis.data.runfolder import Run
    from kam_analysis.deliverables.deck import build_deck
    from kam_analysis.deliverables.html_dashboard import build_html_dashboard
    from kam_analysis.present.formats import fmt_money

    params = load_params(Path(review["later"]).parents[2] / "demo-review.yaml")
    run = Run(review["later"], params)
    deck, page = build_deck(run), build_html_dashboard(run)
    p = review["planted"]
    n, grown, lost = p["key_accounts"]["committed"], len(p["key_accounts"]["grown"]), len(p["key_accounts"]["lost"])
    ka = review["plan_key_accounts"]
    lost_rev = fmt_money(ka.loc[ka["account_id"].isin(p["key_accounts"]["lost"]), "revenue_plan"].sum())
    titles = [s.shapes.title.text_frame.text for s in Presentation(str(deck)).slides if s.shapes.title is not None]
    start = titles.index("Since the last review")
    assert titles[start + 1] == (f"{grown} of {n} key accounts grew; {lost} {'was' if lost == 1 else 'were'} lost, "
                                 f"with {lost_rev} of revenue a year at the plan")
    done, total = len(p["actions"]["done"]), sum(len(v) for v in p["actions"].values())
    # the section: its header, six pages and, from the second review on, the KPIs across reviews
    assert any(t.startswith("Across the ") and " reviews, " in t for t in titles[start:start + 8])
    assert any(t.startswith(f"{done} of {total} committed actions are done") for t in titles[start:start + 8])
    assert any(t.startswith(f"What changes now: replace {lost} lost key account") for t in titles[start:start + 8])
    assert f"{grown} of {n} key accounts grew" in page.read_text(encoding="utf-8")
    pages = {i + 1 for i in range(start, start + 8)}
    found = [(w, t, h) for w, t in deck_texts(deck) if int(w.split()[1]) in pages and (h := internal_names(t))]
    found += [(w, t, h) for w, t in html_texts(page) if (h := internal_names(t))]
    assert not found, found
