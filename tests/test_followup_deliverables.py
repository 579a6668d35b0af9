"""The follow-up review in the deliverables: the deck's "Since the last review" section and the
HTML dashboard's block, built from hand-made follow-up tables (docs/tables.md, plan_*) with
planted outcomes, and absent on a first review.

Planted: 10 committed key accounts — 6 grown, 1 stable, 1 declined, 2 lost (two of them share
a name); 4 KPIs — 1 met, 1 on track, 1 off track (retention, 71% against 80%), 1 without a
target; 12 actions of 3 owners — 5 done, 2 in progress, 3 overdue, 1 dropped, 1 not reported;
one segment move of 3 accounts from the first quadrant to the second.
"""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from pptx import Presentation

from _review_fixtures import build_review_run
from client_text import deck_texts, internal_names
from kam_analysis.metrics import kpi_label
from kam_analysis.data.runfolder import Run
from kam_analysis.deliverables.deck import build_deck
from kam_analysis.deliverables.html_dashboard import build_html_dashboard, collect_dashboard_data
from kam_analysis.present.formats import fmt_money

PLAN_AS_OF = dt.date(2025, 6, 30)
OUTCOMES = ["grown"] * 6 + ["stable", "declined", "lost", "lost"]
REV_PLAN = [300_000.0, 250_000.0, 200_000.0, 180_000.0, 160_000.0, 150_000.0, 140_000.0, 120_000.0, 110_000.0,
            90_000.0]
REV_NOW = [400_000.0, 320_000.0, 260_000.0, 220_000.0, 200_000.0, 190_000.0, 141_000.0, 80_000.0, 0.0, 0.0]
ACTION_STATUS = (["done"] * 5 + ["in progress"] * 2 + ["in progress", "not started", "not started"] + ["dropped"] +
                 ["not reported"])
ACTION_OVERDUE = [False] * 5 + [False, False] + [True, True, True] + [False, False]
OWNERS = ["Amelia Hart", "Jonas Weber", "Chloé Martin"]


@pytest.fixture(scope="module")
def first_run(demo_run, tmp_path_factory):
    """The review tables of the dashboard tests, with the deck tests' segmentation and phase tables on top."""
    from test_deck import _phase_tables, _spine_tables

    run = build_review_run(demo_run, tmp_path_factory.mktemp("first") / "run")
    _spine_tables(run)
    _phase_tables(run)
    return run


def _plan_tables(run: Run, *, returned: bool = True) -> dict:
    """Write the follow-up tables with the planted outcomes; return what was planted."""
    segs = run.read_table("segments")
    q = run.params.segmentation.quadrant_names.ordered()
    key = segs.sort_values("attractiveness", ascending=False)["account_id"].astype(str).head(10).tolist()
    names = [f"Account {i}" for i in range(10)]
    names[8] = names[9] = "Dupont SA"  # the two lost accounts share a name, in the client's accounts file too
    acc = run.read_data("accounts")
    acc["account_name"] = acc["account_name"].where(~acc["account_id"].astype(str).isin(key[8:]), "Dupont SA")
    acc.to_parquet(run.data_dir / "accounts.parquet", index=False)
    now_seg = [q[0]] * 7 + [q[1], "Lost", "Lost"]
    w = run.write_table
    w("plan_key_accounts", pd.DataFrame({
        "account_id": key, "account_name": names, "plan_segment": [q[0]] * 10, "current_segment": now_seg,
        "revenue_plan": REV_PLAN, "revenue_now": REV_NOW, "change": np.array(REV_NOW) / np.array(REV_PLAN) - 1,
        "outcome": OUTCOMES, "still_key": [True] * 7 + [False] * 3, "whitespace_plan": [2] * 10,
        "whitespace_converted": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        "last_order_date": pd.to_datetime(["2026-06-20"] * 8 + ["2026-02-14", "2025-12-20"])}))
    w("plan_summary", pd.DataFrame({"metric": ["plan_as_of", "months_since", "left_out_whitespace"],
                                    "label": ["Plan as of", "Months since", "Left out"], "value": [np.nan, 6.0, np.nan],
                                    "unit": ["date", "months", "text"], "note": ["", "", ""],
                                    "text": [PLAN_AS_OF.isoformat(), "", "the cross-sell opportunities it named"]}))
    w("plan_kpis", pd.DataFrame({
        "kpi": ["revenue_12m", "average_order_value", "retention_rate", "nps"],
        "plan_value": [5.0e6, 900.0, 0.75, 30.0], "target": [5.2e6, 1000.0, 0.80, np.nan],
        "actual": [5.3e6, 950.0, 0.71, 33.0], "change": [0.06, 50 / 900, -0.04, 3.0],
        "change_kind": ["relative", "relative", "points", "points"], "label": [kpi_label(k) for k in (
            "revenue_12m", "average_order_value", "retention_rate", "nps")],
        "gap_closed": [1.5, 0.5, -0.8, np.nan],
        "status": ["met", "on track", "off track", "no target"]}))
    seg_names = [q[0], q[1]]
    w("plan_segments", pd.DataFrame({"segment": seg_names, "accounts": [40, 60], "accounts_active": [36, 51],
                                     "revenue_plan": [2.0e6, 1.0e6], "revenue_now": [2.1e6, 0.9e6],
                                     "retention": [0.9, 0.85]}))
    w("plan_migration", pd.DataFrame({"plan_segment": [q[0], q[0], q[0], q[1], q[1]],
                                      "current_segment": [q[0], q[1], "Lost", q[1], "Lost"],
                                      "accounts": [34, 4, 2, 57, 3], "revenue_now": [2.0e6, 1e5, 0.0, 9e5, 0.0]}))
    w("plan_coverage", pd.DataFrame({"manager": OWNERS, "accounts_planned": [4, 3, 3],
                                     "accounts_delivered": [4, 2, 3], "hours_planned": [400.0, 300.0, 300.0]}))
    status = ACTION_STATUS if returned else ["not reported"] * 12
    overdue = ACTION_OVERDUE if returned else [False] * 12
    due = [PLAN_AS_OF + dt.timedelta(days=30 * (i % 9 + 1)) for i in range(12)]
    w("plan_actions", pd.DataFrame({
        "action_id": [f"{key[i % 10]}-{i}" for i in range(12)], "account_id": [key[i % 10] for i in range(12)],
        "account_name": [names[i % 10] for i in range(12)], "action": [f"Quarterly business review {i}" for i in range(12)],
        "owner": [OWNERS[i % 3] for i in range(12)], "due_date": due, "status": status,
        "status_date": [pd.NaT] * 12, "comment": [""] * 12, "overdue": overdue}))
    w("plan_recommendations", pd.DataFrame({"recommendation_id": ["REC-1", "REC-2"],
                                            "title": ["Cover the Star accounts", "Win back detractors"],
                                            "status": ["done", "not reported"] if returned else ["not reported"] * 2}))
    return {"key": key, "quadrants": q}


@pytest.fixture(scope="module")
def followup_run(first_run, tmp_path_factory):
    import shutil

    dest = tmp_path_factory.mktemp("followup") / "run"
    shutil.copytree(first_run.dir, dest)
    run = Run(dest, first_run.params)
    run.planted = _plan_tables(run)
    return run


@pytest.fixture(scope="module")
def unreturned_run(first_run, tmp_path_factory):
    import shutil

    dest = tmp_path_factory.mktemp("unreturned") / "run"
    shutil.copytree(first_run.dir, dest)
    run = Run(dest, first_run.params)
    _plan_tables(run, returned=False)
    return run


def _deck(run) -> list[tuple[str, str, list[str]]]:
    """(layout, title, texts) per slide."""
    out = []
    for s in Presentation(str(build_deck(run))).slides:
        title = s.shapes.title.text_frame.text if s.shapes.title is not None else ""
        texts = [sh.text_frame.text for sh in s.shapes if sh.has_text_frame]
        texts += [c.text for sh in s.shapes if sh.has_table for r in sh.table.rows for c in r.cells]
        out.append((s.slide_layout.name, title, texts))
    return out


def _since(slides) -> list[tuple[str, str, list[str]]]:
    start = next(i for i, (lay, t, _) in enumerate(slides) if lay == "Section" and t == "Since the last review")
    end = next(i for i in range(start + 1, len(slides)) if slides[i][0] == "Section")
    return slides[start + 1:end]


@pytest.fixture(scope="module")
def followup_deck(followup_run):
    return _deck(followup_run)


def eur(v) -> str:
    return fmt_money(v, "EUR")


# ------------------------------------------------------------------ a first review has no such section
def test_a_first_review_has_no_since_section_and_no_block(first_run):
    slides = _deck(first_run)
    assert not any("since the last review" in t.lower() for _, t, _ in slides)
    assert not any("Since the last review" in x for _, _, texts in slides for x in texts)
    assert collect_dashboard_data(first_run)["followup"] is None
    assert 'id="since"' not in build_html_dashboard(first_run).read_text()


# ------------------------------------------------------------------ the deck
def test_the_section_follows_the_summary_with_six_pages(followup_deck):
    sections = [t for lay, t, _ in followup_deck if lay == "Section"]
    assert sections[0] == "Since the last review"  # the first section after the executive summary
    assert len(_since(followup_deck)) == 6


def test_titles_carry_the_planted_counts_and_money(followup_run, followup_deck):
    q = followup_run.planted["quadrants"]
    titles = [t for _, t, _ in _since(followup_deck)]
    lost = eur(REV_PLAN[8] + REV_PLAN[9])
    assert titles[0] == f"6 of 10 key accounts grew; 2 were lost, with {lost} of revenue a year at the plan"
    assert titles[1] == "1 of 3 KPI targets met, 1 on track; account retention is off track at 71.0% against 80.0%"
    then, now = sum(REV_PLAN), sum(REV_NOW)
    assert titles[2] == (f"Key-account revenue rose {now / then - 1:.0%} to {eur(now)} (from {eur(then)}): "
                         "6 grown, 1 stable, 1 declined, 2 lost")
    assert titles[3] == "5 of 12 committed actions are done; 3 are overdue; 1 not reported"
    assert titles[4] == (f"9 of the 100 accounts (9%) have left their committed segment; the largest move: 4 from "
                         f"{q[0]} to {q[1]}"), titles[4]
    assert titles[5] == ("What changes now: replace 2 lost key accounts, re-plan 1 declining key account and reassign "
                         "3 overdue actions")


def test_no_note_or_source_line_is_cut(followup_deck):
    for _, title, texts in _since(followup_deck):
        for t in texts:
            for line in t.splitlines():
                if line.startswith(("Note:", "Source:")):
                    assert not line.endswith("…"), (title, line)


def test_kpi_changes_are_in_points_and_money_in_one_format(followup_deck):
    _, _, texts = _since(followup_deck)[1]
    assert "-4.0 pts" in texts and "+3.0 pts" in texts  # retention (a rate) and NPS (a score) in points
    assert eur(5.3e6) in texts and "+6.0%" in texts and "+5.6%" in texts  # money relative to the plan
    assert "None set" in texts or "none set" in texts  # the KPI without a committed target


def test_lost_accounts_of_one_name_carry_their_ids_and_the_changes_name_them(followup_run, followup_deck):
    key = followup_run.planted["key"]
    _, _, texts = _since(followup_deck)[2]
    body = " ".join(texts)
    assert f"Dupont SA ({key[8]})" in body and f"Dupont SA ({key[9]})" in body
    _, _, changes = _since(followup_deck)[5]
    text = " ".join(changes)
    assert f"Dupont SA ({key[8]})" in text and f"Dupont SA ({key[9]})" in text
    assert "Reassign overdue actions: 3 actions past due and not done" in text


def test_a_lost_account_shows_its_last_order_beside_its_revenue(followup_run, followup_deck):
    """Lost (no order in the churn window) yet with revenue in the last 12 months: the last order
    date says why, on the deck page, the dashboard block and the Plan vs actual sheet."""
    from openpyxl import Workbook

    from kam_analysis.deliverables._plan_sheet import plan_sheet
    key = followup_run.planted["key"]
    body = " ".join(_since(followup_deck)[2][2])
    assert f"Dupont SA ({key[8]}), last order 14 Feb 2026" in body
    assert ", last order 20 Dec 2025" in body
    assert body.count("last order") == 2  # only the lost accounts: a grown one's date says nothing
    rows = collect_dashboard_data(followup_run)["followup"]["key_accounts"]
    assert sorted(r["last_order"] for r in rows if r["last_order"]) == ["last order 14 Feb 2026",
                                                                        "last order 20 Dec 2025"]
    assert all(r["last_order"] == "" for r in rows if r["outcome"] != "lost")
    assert "Lost · last order 14 Feb 2026" in build_html_dashboard(followup_run).read_text()
    wb = Workbook()
    plan_sheet(wb, followup_run, [])
    ws = wb["Plan vs actual"]
    cells = {(c.row, c.column): c.value for r in ws.iter_rows() for c in r if c.value is not None}
    (hr, hc), = [k for k, v in cells.items() if v == "Last order"]
    dates = [cells.get((hr + i, hc)) for i in range(1, 11)]
    assert pd.Timestamp("2026-02-14") in dates and pd.Timestamp("2025-12-20") in dates
    assert ws.cell(row=hr + 1, column=hc).number_format == "yyyy-mm-dd"


def test_still_key_cross_sell_and_coverage_are_counted(followup_deck):
    plan, accounts = _since(followup_deck)[0], _since(followup_deck)[2]
    text = " ".join(accounts[2])
    assert "7 of the 10 are key accounts by today's selection too" in text
    assert "3 of the 20 cross-sell categories the plan named for these accounts were bought since" in text
    assert "9 of the 10 accounts the coverage plan gave 3 managers have that manager today" in " ".join(plan[2])
    assert ("Left out, as the last review has no record of them: the cross-sell opportunities it named"
            in " ".join(plan[2]))


def test_the_executive_summary_leads_with_the_follow_up(followup_deck):
    titles = [t for _, t, _ in followup_deck]
    first_section = next(i for i, (lay, _, _) in enumerate(followup_deck) if lay == "Section")
    summ = [(t, x) for _, t, x in followup_deck[:first_section] if t.startswith("6 of 10 key accounts grew since")]
    assert len(summ) == 1, titles[:first_section]
    assert any("key accounts committed at the last review (30 Jun 2025) grew; 2 were lost, with "
               f"{eur(REV_PLAN[8] + REV_PLAN[9])} of revenue a year at the plan; 5 of 12 committed actions are done"
               in x for x in summ[0][1]), summ


def test_without_returned_statuses_nothing_is_called_done_or_overdue(unreturned_run):
    since = _since(_deck(unreturned_run))
    titles = [t for _, t, _ in since]
    assert titles[3].startswith("No status has come back for the 12 committed actions of 3 owners")
    text = " ".join(x for _, _, texts in since for x in texts)
    assert "Return the action statuses" in text and "which were done, which are overdue" in text
    assert "Actions done" not in text and "overdue action" not in titles[5]
    f = collect_dashboard_data(unreturned_run)["followup"]
    assert f["actions_headline"].startswith("No status has come back") and not f["actions_returned"]
    assert [t["label"] for t in f["tiles"]][-1] == "Actions committed"
    page = build_html_dashboard(unreturned_run).read_text()
    assert "<th class=\"num\">Actions committed</th>" in page and ">Overdue<" not in page.split('id="since"')[1][:20000]


def test_the_since_pages_speak_client_language(followup_run, followup_deck, tmp_path):
    path = followup_run.dir / "deliverables"
    deck = next(path.glob("*.pptx"))
    texts = deck_texts(deck)
    slides = Presentation(str(deck)).slides
    lo = next(i for i, s in enumerate(slides, 1) if s.shapes.title is not None
              and s.shapes.title.text_frame.text == "Since the last review")
    mine = [(w, t) for w, t in texts if lo <= int(w.split()[1]) <= lo + 6]
    assert mine
    hits = [(w, t, h) for w, t in mine if (h := internal_names(t))]
    assert not hits, hits


# ------------------------------------------------------------------ the HTML dashboard
def test_the_dashboard_tells_the_same_story(followup_run):
    f = collect_dashboard_data(followup_run)["followup"]
    assert f["headline"].startswith("6 of 10 key accounts grew; 2 were lost")
    assert [t["value"] for t in f["tiles"]][:3] == ["10", "6", "2"]
    assert f["actions_headline"] == "5 of 12 committed actions are done; 3 are overdue; 1 not reported"
    assert f["changes_title"] == ("What changes now: replace 2 lost key accounts, re-plan 1 declining key account and "
                                  "reassign 3 overdue actions")
    page = build_html_dashboard(followup_run).read_text()
    assert 'id="since"' in page and "What changes now" in page
    assert "7 of the 10 are key accounts by today&#39;s selection too." in page
    block = page.split('<section id="since">')[1].split("<h2>Headline KPIs")[0]
    visible = re.sub(r"<[^>]+>", " ", block)
    assert not internal_names(visible), internal_names(visible)


# ------------------------------------------------------------------ the wording, on tiny frames
def _tiny(**tables) -> "FollowUp":
    from kam_analysis.deliverables.followup_story import FollowUp

    ka = pd.DataFrame({"account_id": ["A1", "A2"], "account_name": ["Alpha", "Beta"], "plan_segment": ["S", "S"],
                       "current_segment": ["S", "S"], "revenue_plan": [100_000.0, 50_000.0],
                       "revenue_now": [100_200.0, 50_100.0], "change": [0.002, 0.002], "outcome": ["stable"] * 2})
    return FollowUp(key_accounts=tables.pop("key_accounts", ka), currency="EUR", as_of=dt.date(2026, 6, 30),
                    actions_returned=True, inactive="Inactive accounts", **tables)


def test_names_keep_their_id_when_cut_and_owners_lose_their_role():
    from kam_analysis.deliverables.followup_story import person, short_name

    assert short_name("Kensington Department Store GmbH (C100290)", 38) == "Kensington Department Stor… (C100290)"
    assert len(short_name("Kensington Department Store GmbH (C100290)", 38)) <= 38
    assert short_name("Alpha", 38) == "Alpha"
    assert person("Luca Romano (Key account manager)") == "Luca Romano" and person("Head of sales") == "Head of sales"


def test_revenue_that_barely_moved_is_held_not_went_from_x_to_x():
    assert _tiny().revenue_sentence() == "Key-account revenue held at €150k"
    ka = _tiny().key_accounts.assign(revenue_now=[101_000.0, 51_000.0])  # +1.3%: both read €150k, then €152k
    assert _tiny(key_accounts=ka).revenue_sentence() == "Key-account revenue rose 1% to €152k (from €150k)"


def test_accounts_not_buying_at_the_plan_are_not_counted_as_moving():
    mig = pd.DataFrame({"plan_segment": ["S", "S", "S", "T", "Inactive accounts"],
                        "current_segment": ["S", "T", "Inactive accounts", "T", "Inactive accounts"],
                        "accounts": [6, 2, 1, 2, 90], "revenue_now": [1.0] * 5})
    f = _tiny(migration=mig)
    assert f.migration_headline() == ("2 of the 11 accounts buying at the plan moved segment and 1 stopped buying; "
                                      "the largest move: 2 from S to T")


def test_the_kpi_table_shows_every_target_then_the_main_kpis_and_counts_the_rest():
    kpis = [("retention_rate", 0.8), ("nps", 40.0)] + [(k, np.nan) for k in
                                                        ("revenue_12m", "active_accounts", "gini", "hhi", "orders_12m",
                                                         "average_order_value", "repeat_purchase_rate", "new_accounts")]
    t = pd.DataFrame({"kpi": [k for k, _ in kpis], "plan_value": 1.0, "target": [v for _, v in kpis], "actual": 1.0,
                      "change": 0.0, "status": ["off track", "met"] + ["no target"] * 8})
    rows, left = _tiny(kpis=t).kpi_rows_shown(6)
    assert list(rows["kpi"]) == ["retention_rate", "nps", "revenue_12m", "active_accounts", "average_order_value",
                                 "repeat_purchase_rate"]
    assert left == 4


@pytest.mark.render
def test_the_block_follows_the_segment_filter_in_chromium(followup_run):
    from conftest import require_tool

    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    q = followup_run.planted["quadrants"]
    url = build_html_dashboard(followup_run).resolve().as_uri()
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            rows = page.locator("#since-accounts tbody tr")
            assert rows.count() == 10 and rows.locator("visible=true").count() == 10
            page.select_option("#segment-filter", q[0])  # 7 committed key accounts are in it now
            assert rows.locator("visible=true").count() == 7
            assert f"7 of the 10 committed key accounts are in {q[0]} now" in page.inner_text("#since-accounts-note")
            page.set_viewport_size({"width": 390, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert errors == []
        finally:
            browser.close()


def test_a_follow_up_whose_plan_has_no_key_accounts_says_so_instead_of_a_section(first_run, tmp_path):
    import shutil

    shutil.copytree(first_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", first_run.params)
    run.write_table("plan_summary", pd.DataFrame({
        "metric": ["plan_as_of", "left_out_segments"], "label": ["Plan as of", "Left out"], "value": [np.nan] * 2,
        "unit": ["date", "text"], "note": ["", ""],
        "text": [PLAN_AS_OF.isoformat(), "the committed key accounts, the committed segments and the migration since"]}))
    slides = _deck(run)
    assert not any(t == "Since the last review" for _, t, _ in slides)
    page = " | ".join(x for _, t, texts in slides if t.startswith("Analyses not included") for x in texts)
    assert "Since the last review" in page and "the last review's plan has no record of its key accounts" in page


def test_a_plan_without_key_accounts_still_follows_its_kpis_and_actions(followup_run, tmp_path):
    import shutil

    shutil.copytree(followup_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", followup_run.params)
    ka = run.read_table("plan_key_accounts")
    run.write_table("plan_key_accounts", ka.iloc[0:0])
    since = _since(_deck(run))
    titles = [t for _, t, _ in since]
    assert titles[0] == "1 of 3 KPI targets met, 1 on track; account retention is off track at 71.0% against 80.0%"
    assert not any(t.startswith("Key-account revenue") for t in titles)
    assert any(t.startswith("5 of 12 committed actions are done") for t in titles)
    assert collect_dashboard_data(run)["followup"]["key_accounts"] == []
    page = build_html_dashboard(run).read_text()
    assert 'id="since"' in page and 'id="since-accounts"' not in page


def test_next_steps_lead_with_what_changes_without_repeating_its_sentences(followup_run, followup_deck):
    _, changes_title, changes = _since(followup_deck)[5]
    (_, title, steps), = [s for s in followup_deck if s[1].startswith(tuple(f"{n} next steps" for n in range(2, 8)))]
    body = " ".join(steps)
    assert title.endswith("starting with what changes since the last review: replace 2 lost key accounts")
    assert body.index("Since the last review: replace 2 lost key accounts") < body.index(
        "Since the last review: reassign 3 overdue actions")
    assert "stopped buying" in " ".join(changes) and "stopped buying" not in body  # the sentence stays on its page
    # retention is re-planned by the follow-up: no second step asks to close its gap
    assert body.count("Since the last review:") == 3  # the three most urgent; the page has them all
    # retention is re-planned by the follow-up: no step asks to close its gap again
    assert "close the gap on account retention" not in body
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.closing import s_next_steps
    from kam_analysis.deliverables.deck_story.followup import followup
    d = DeckData(followup_run)
    (spec,) = s_next_steps(d)
    n = len(followup(d).changes())
    assert n > 3
    assert f"The top 3 of {n} changes since the last review lead; What changes now lists every one." in spec.footnote


def test_what_changes_now_says_top_n_of_m_when_cut():
    ka = _tiny().key_accounts.assign(outcome=["lost", "declined"], revenue_now=[0.0, 10_000.0])
    f = _tiny(key_accounts=ka)
    every = f.changes()
    shown, total = f.changes_shown(limit=1)
    assert total == len(every) == 2 and shown == every[:1]
    assert f.next_steps() == ["replace 1 lost key account", "re-plan 1 declining key account"]


def test_the_changes_page_counts_what_it_leaves_out(followup_run, tmp_path):
    """Eight changes (a second KPI off track): the page lists seven and its footnote says "top 7 of 8"."""
    import shutil

    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.followup import followup, s_since_changes
    dest = tmp_path / "run"
    shutil.copytree(followup_run.dir, dest)
    run = Run(dest, followup_run.params)
    k = run.read_table("plan_kpis")
    k.loc[k["kpi"] == "average_order_value", ["actual", "status"]] = [850.0, "off track"]
    run.write_table("plan_kpis", k)
    d = DeckData(run)
    assert len(followup(d).changes()) == 8, [h for h, _ in followup(d).changes()]
    (spec,) = s_since_changes(d)
    assert spec.footnote.startswith("The top 7 of 8 changes, most urgent first")


# ------------------------------------------------------------------ the KPIs across reviews
def _history(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    from kam_analysis.metrics import kpi_unit
    return pd.DataFrame([{"run_id": f"r{d}", "run_date": d, "as_of_date": pd.Timestamp(d), "kpi": k, "label": kpi_label(k),
                          "value": v, "unit": kpi_unit(k), "current_run": d == "2026-06-30", "superseded": False,
                          "note": ""} for d, k, v in rows])


def test_a_follow_up_with_two_reviews_has_a_kpis_across_reviews_page(followup_run, tmp_path):
    import shutil

    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.followup import s_since_history
    dest = tmp_path / "run"
    shutil.copytree(followup_run.dir, dest)
    run = Run(dest, followup_run.params)
    run.write_table("kpi_history", _history([
        ("2025-12-31", "revenue_12m", 5.0e6), ("2026-06-30", "revenue_12m", 5.3e6),        # +6%
        ("2025-12-31", "active_accounts", 400.0), ("2026-06-30", "active_accounts", 460.0),  # +15%: moved most
        ("2025-12-31", "retention_rate", 0.75), ("2026-06-30", "retention_rate", 0.71)]))  # -4 pts: not comparable
    (spec,) = s_since_history(DeckData(run))
    assert spec.title == "Across the 2 reviews, active accounts moved most: 400 to 460 (+15.0%)", spec.title
    assert "rates in points" in spec.footnote
    slides = _deck(run)
    titles = [t for _, t, _ in _since(slides)]
    assert titles[2] == spec.title  # after the KPIs against target
    body = " ".join(_since(slides)[2][2])
    assert "31 Dec 2025" in body and "30 Jun 2026" in body and "-4.0 pts" in body
    # one review only (a follow-up whose history holds no earlier review): no page
    run.write_table("kpi_history", _history([("2026-06-30", "revenue_12m", 5.3e6)]))
    assert s_since_history(DeckData(run)) == []


def test_the_kpi_that_moved_most_is_a_level_before_a_rate():
    from kam_analysis.deliverables._kpi_history import largest_move
    t = [{"kpi": "revenue_12m", "label": "Revenue", "unit": "currency", "values": [100.0, None, 90.0]},
         {"kpi": "retention_rate", "label": "Retention", "unit": "share", "values": [0.5, 0.9]},
         {"kpi": "active_accounts", "label": "Active", "unit": "count", "values": [10.0, 10.5]}]
    m = largest_move(t)
    assert (m["kpi"], m["kind"]) == ("revenue_12m", "relative") and m["change"] == pytest.approx(-0.10)
    m = largest_move([t[1], {**t[2], "values": [10.0, 10.0]}])  # no level moved: the rate, in points
    assert (m["kpi"], m["kind"]) == ("retention_rate", "points") and m["change"] == pytest.approx(0.4)
    assert largest_move([{**t[0], "values": [None, 5.0]}]) is None


def test_a_change_that_rounds_to_nothing_has_no_minus_sign():
    from kam_analysis.deliverables.followup_story import _kpi_change
    assert _kpi_change({"change": -0.00004, "change_kind": "relative"}, "currency", "EUR") == "+0.0%"
    assert _kpi_change({"change": -0.0006, "change_kind": "relative"}, "currency", "EUR") == "-0.1%"
