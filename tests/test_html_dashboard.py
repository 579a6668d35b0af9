"""Tests for the self-contained HTML dashboard, including a real headless-Chromium check."""
from __future__ import annotations

import json
import re
import shutil

import pytest
from _review_fixtures import HOSTILE_END, HOSTILE_SCRIPT, build_review_run
from conftest import require_tool

from kam_analysis.data.runfolder import Run
from kam_analysis.exceptions import RunError
from kam_analysis.phases import review
from kam_analysis.present.formats import fmt_date, fmt_money
from kam_analysis.deliverables.html_dashboard import (baseline_change_text, build_html_dashboard,
                                                      collect_dashboard_data, json_for_script, render_dashboard)


@pytest.fixture(scope="module")
def review_run(demo_run, tmp_path_factory):
    return build_review_run(demo_run, tmp_path_factory.mktemp("dash") / "run")


@pytest.fixture(scope="module")
def spine_run(demo_run, tmp_path_factory):
    return build_review_run(demo_run, tmp_path_factory.mktemp("spine") / "run", with_upstream=False)


def test_json_for_script_cannot_close_the_script_element():
    data = {"name": "</script><script>alert(1)</script><!-- & \u2028"}
    text = json_for_script(data)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_baseline_change_is_in_points_for_scores_and_shares():
    # NPS 6.2 -> 9.9 is +3.7 points, not "+59.7%"; retention 0.736 -> 0.743 is +0.7 pts; money relative
    assert baseline_change_text("nps", 9.9, 6.2) == "+3.7 pts vs baseline"
    assert baseline_change_text("retention_rate", 0.743, 0.736) == "+0.7 pts vs baseline"
    assert baseline_change_text("average_order_value", 420.0, 400.0) == "+5.0% vs baseline"
    assert baseline_change_text("nps", 9.9, float("nan")) is None


def test_tiles_and_recommendations_carry_the_readable_change_and_value_basis(review_run):
    data = collect_dashboard_data(review_run)
    kvt = review_run.read_table("kpi_vs_target").set_index("kpi")
    nps = next(t for t in data["tiles"] if t["kpi"] == "nps")
    assert nps["vs_baseline_text"] == f"{kvt.loc['nps', 'current'] - kvt.loc['nps', 'baseline']:+.1f} pts vs baseline"
    assert data["recommendations"] and all(r["value_basis"] for r in data["recommendations"])


def test_rendered_page_is_self_contained_and_escaped(review_run):
    html = render_dashboard(collect_dashboard_data(review_run))
    # no external resource of any kind
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, re.I)
    assert "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # exactly the two script elements of the template: hostile names did not add any
    assert len(re.findall(r"<script\b", html)) == 2
    assert HOSTILE_SCRIPT not in html and HOSTILE_END not in html


def test_client_name_with_markup_is_escaped_in_the_markup(review_run, tmp_path):
    data = collect_dashboard_data(review_run)
    data["client"] = "<b>Acme</b> & Sons"
    data["segments"] = data["segments"] + ['"><script>alert(1)</script>']
    html = render_dashboard(data)
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Sons" in html
    assert '<option value="&#34;&gt;&lt;script&gt;' in html
    assert len(re.findall(r"<script\b", html)) == 2


def test_a_missing_table_fails_loudly_naming_it_and_its_phase(spine_run):
    """A table the catalogue says its phase always writes is never a silent hole on the page."""
    with pytest.raises(RunError, match=r"table 'kpi_vs_target', which phase review did not write"):
        collect_dashboard_data(spine_run)


def test_revenue_already_lost_is_its_own_figure(review_run):
    data = collect_dashboard_data(review_run)
    lost = review_run.read_table("revenue_lost").iloc[0]
    shown = data["revenue_lost"]
    assert shown["revenue_lost_12m"] == lost["revenue_lost_12m"] and shown["accounts_lost_12m"] == lost["accounts_lost_12m"]
    assert shown["sentence"].startswith(fmt_money(lost["revenue_lost_12m"], "EUR")) or \
        shown["sentence"].startswith("At least") or shown["sentence"].startswith("No account")
    page = render_dashboard(data)
    assert 'id="lost"' in page and "Revenue already lost" in page


def _without_targets(run, dest):
    """A copy of ``run`` whose client set no KPI target (kpi_vs_target has no rows)."""
    shutil.copytree(run.dir, dest)
    copy = Run(dest, run.params)
    copy.write_table("kpi_vs_target", review.compute_kpi_vs_target(copy.read_table("kpi_headline"), {}, amber=0.05,
                                                                   red=0.15))
    return copy


def test_without_targets_the_tiles_show_the_baseline(review_run, tmp_path):
    data = collect_dashboard_data(_without_targets(review_run, tmp_path / "run"))
    # no targets: the headline KPIs as the baseline, no status, and a note in client words
    head = review_run.read_table("kpi_headline").set_index("kpi")["value"]
    assert data["tiles"] and {t["status"] for t in data["tiles"]} == {"baseline"}
    assert all(t["target"] is None and t["current"] == pytest.approx(head[t["kpi"]]) for t in data["tiles"])
    assert "baseline the next review" in data["tiles_note"] and "kpi_" not in data["tiles_note"]


@pytest.mark.render
def test_dashboard_in_headless_chromium(review_run, tmp_path):
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    path = build_html_dashboard(review_run)
    url = path.resolve().as_uri()
    errors, requests, dialogs = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-extensions",
            "--disable-component-update", "--disable-default-apps", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url)
            page.wait_for_selector("#at-risk-table")
            assert errors == []
            assert requests == [url], requests
            assert dialogs == [] and page.evaluate("window.__pwned === undefined")
            # tiles, trends, matrix
            assert page.locator("#tiles .tile").count() == len(review_run.read_table("kpi_vs_target"))
            nps_tile = page.locator('#tiles .tile[data-kpi="nps"]').inner_text()
            assert "pts vs baseline" in nps_tile and "% vs baseline" not in nps_tile
            recs_text = page.locator("#recs").inner_text()
            assert "revenue at risk of churn" in recs_text or "expected cross-sell value" in recs_text
            assert page.locator("#trends svg").count() >= 3
            n_all = page.locator("#matrix circle.pt.on").count()
            assert n_all == len(review_run.read_table("segments"))
            # the hostile names show as text, in the at-risk table
            table_text = page.locator("#at-risk-table").inner_text()
            assert "<script>window.__pwned = 1</script>Evil & Co" in table_text
            assert "</script><b>bold</b>" in table_text
            assert page.locator("#at-risk-table b").count() == 0
            # the KPI-by-segment cells are coloured only where the client set a target
            data = collect_dashboard_data(review_run)
            shown = {k["kpi"] for k in data["scorecard_kpis"]}
            rated = sum(r["status_basis"] == "target" and r["status"] in ("green", "amber", "red")
                        for r in data["scorecard"] if r["kpi"] in shown)
            baseline_only = sum(r["status_basis"] != "target" for r in data["scorecard"] if r["kpi"] in shown)
            assert baseline_only > 0  # the fixture has KPIs with no target: they stay uncoloured
            assert page.locator("#scorecard-table td[class*='rag-']").count() == rated
            # every x-axis label of the trend charts lies inside its chart (none cut off at the edge)
            overflow = page.evaluate("""() => Array.from(document.querySelectorAll('#trends svg')).flatMap(svg => {
                const box = svg.getBoundingClientRect();
                return Array.from(svg.querySelectorAll('text.x-label')).map(t => t.getBoundingClientRect())
                  .filter(r => r.left < box.left - 0.5 || r.right > box.right + 0.5).map(r => [r.left, r.right, box.right]);
            })""")
            assert page.locator("#trends text.x-label").count() >= 2 and overflow == []
            page.screenshot(path=str(tmp_path / "dashboard_all.png"), full_page=True)
            # the segment filter changes what is shown
            segments = page.locator("#segment-filter option").all_inner_texts()
            target = segments[1]
            rows_before = page.locator("#at-risk-table tr[data-segment]").count()
            page.select_option("#segment-filter", target)
            seg_rows = page.locator("#at-risk-table tr[data-segment]")
            assert set(seg_rows.evaluate_all("rs => rs.map(r => r.dataset.segment)")) == {target}
            n_seg = page.locator("#matrix circle.pt.on").count()
            expected = int((review_run.read_table("segments")["quadrant"] == target).sum())
            assert n_seg == expected < n_all
            assert target in page.locator("#trend-segment").inner_text()
            assert rows_before >= seg_rows.count()
            # ... the KPI tiles too: each shows the segment's own value — retention excepted: by today's
            # segment it would read 100% by construction, so its tile shows all accounts, labelled so
            tiles = page.locator("#tiles .tile").evaluate_all(
                "ts => ts.map(t => [t.dataset.kpi, t.querySelector('.label').textContent])")
            only = set(data["all_accounts_only_kpis"])
            assert tiles and all(t.lower().endswith("\u2014 " + target.lower()) for k, t in tiles if k not in only)
            ret = [t for k, t in tiles if k in only]
            assert ret and all(t.endswith("\u2014 all accounts") for t in ret), tiles
            assert page.locator('#tiles .tile[data-kpi="retention_rate"] .value').inner_text() not in ("100.0%",
                                                                                                      "0.0%")
            note = page.locator("#tiles-note").inner_text()
            assert "twelve months, all accounts" not in note and f"{target} accounts" in note
            assert data["segment_retention_note"] in note
            # the retention trend is the all-accounts one, labelled so, with the same note once
            assert (page.locator('#trends [data-kpi="period_retention_rate"] h3').inner_text()
                    .endswith("\u2014 all accounts"))
            assert data["segment_retention_note"] in page.locator("#trends").inner_text()
            assert data["segment_retention_note"] in page.locator("#scorecard").inner_text()
            # ... and the recommendations: the segment's own, then those on the whole portfolio
            recs = data["recommendations"]
            shown_recs = page.locator("#recs li").evaluate_all("ls => ls.map(l => l.dataset.segment)")
            assert sorted(shown_recs) == sorted(r["segment"] or "" for r in recs
                                                if (r["segment"] or "") in ("", target))
            assert len(shown_recs) < len(recs) or all(not r["segment"] or r["segment"] == target for r in recs)
            assert "recommendations concern " + target in page.locator("#recs-note").inner_text()
            page.screenshot(path=str(tmp_path / "dashboard_segment.png"), full_page=True)
            # on a phone (390 px) nothing is wider than the screen: wide tables scroll inside their box
            page.set_viewport_size({"width": 390, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert errors == [] and requests == [url]
        finally:
            browser.close()


def test_no_segment_carries_retention(review_run):
    """Today's segments are drawn from today's active accounts, so a segment's retention would
    read 100% (inactive: 0%) by construction: the page's data holds retention for all accounts only."""
    data = collect_dashboard_data(review_run)
    only = set(data["all_accounts_only_kpis"])
    assert {"retention_rate", "period_retention_rate"} <= only
    for rows in (data["scorecard"], data["trends"]):
        assert not [r for r in rows if r["kpi"] in only and r["segment"] != review.ALL_ACCOUNTS]
    assert any(r["kpi"] == "period_retention_rate" and r["segment"] == review.ALL_ACCOUNTS for r in data["trends"])
    assert any(r["kpi"] == "retention_rate" and r["segment"] == review.ALL_ACCOUNTS for r in data["scorecard"])
    assert len({r["segment"] for r in data["scorecard"]}) > 1  # the fixture has segments: the check bites


def test_pseudonymised_run_shows_no_account_names(review_run):
    from kam_analysis.data.runfolder import Run

    params = review_run.params.model_copy(deep=True)
    params.output.pseudonymise = True
    data = collect_dashboard_data(Run(review_run.dir, params))
    shown = [r["name"] for r in data["at_risk"]] + [m["name"] for m in data["matrix"]]
    assert shown and all(re.fullmatch(r"Account \d{4}", n) for n in shown)
    assert HOSTILE_SCRIPT not in json.dumps(data)


# --------------------------------------------------------------------------- what a thin client sees
def test_heading_speaks_of_targets_only_when_one_is_set(review_run, tmp_path):
    with_targets = collect_dashboard_data(review_run)
    assert with_targets["has_targets"] and "Headline KPIs against target" in render_dashboard(with_targets)
    data = collect_dashboard_data(_without_targets(review_run, tmp_path / "run"))
    page = render_dashboard(data)
    assert data["has_targets"] is False
    assert "Headline KPIs: the baseline" in page and "Headline KPIs against target" not in page


def test_at_risk_list_is_every_account_with_revenue_at_risk_largest_first(review_run):
    # one definition of an account at risk (revenue at risk > 0, every band), as the deck's total
    # and the KPI dashboard's sheet count it; the band is shown beside each account
    risk = review_run.read_table("churn_risk")
    at_risk = risk[risk["revenue_at_risk"].fillna(0) > 0]
    assert (at_risk["risk_band"] == "low").any()  # the fixture has low-band accounts with revenue at risk
    data = collect_dashboard_data(review_run)
    assert data["at_risk_counts"][data["all_label"]] == len(at_risk)
    shown = [r["revenue_at_risk"] for r in data["at_risk"]]
    assert shown and max(shown) == at_risk["revenue_at_risk"].max()
    # each band says it is a rank among the active accounts, not a level of risk
    assert {r["risk_band"] for r in data["at_risk"]} <= {"high (riskiest 10%)", "medium (next 20%)", "low (other 70%)"}
    assert any(r["risk_band"].startswith("low (") for r in data["at_risk"])


def test_without_a_churn_model_the_page_says_why_in_client_words(review_run, tmp_path):
    import pandas as pd

    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    run.write_table("churn_risk", pd.DataFrame(columns=["account_id", "risk_score", "risk_band", "revenue_at_risk"]))
    why = "12 months of history are too few for a 12-month churn horizon"
    run.write_table("analysis_support", pd.DataFrame([{
        "analysis": "churn_model", "label": "Churn-risk model and revenue at risk", "status": "not_supported",
        "caveat": why, "unlock": "Order history going back further (at least 24 months in total)",
        "unlock_item": "history_months"}]))
    data = collect_dashboard_data(run)
    assert data["at_risk"] == [] and why in data["at_risk_empty"]
    assert "order history going back further" in data["at_risk_empty"]
    page = render_dashboard(data)
    assert "strategy phase" not in page and "churn_risk" not in json.dumps(data["notes"])


def test_visible_page_text_has_no_internal_wording(review_run):
    page = render_dashboard(collect_dashboard_data(review_run))
    visible = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert "programme_start" not in visible  # a key of the page's data, never its text
    assert fmt_date(review_run.params.analysis.as_of_date) in visible  # dates as the deck writes them
    for bad in ("run-folder", "in the params", "strategy phase"):  # nor in a string the script shows
        assert bad not in page, bad


def test_trend_points_carry_a_period_label(review_run):
    data = collect_dashboard_data(review_run)
    assert data["trends"] and all(re.fullmatch(r"Q[1-4] \d{4}|[A-Z][a-z]{2} \d{4}|\d{4}", t["period_label"])
                                  for t in data["trends"])
