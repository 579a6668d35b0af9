"""Client language: no internal name on any page a client reads.

Runs the demo engagement once and scans every client-facing text of its four
deliverables (tests/client_text.py: slide text and tables, not speaker notes; every cell
of both workbooks; the HTML dashboard's visible text and the strings its script shows)
for table names, parameter keys, snake_case identifiers, file names, run ids and
unexplained statistics. Method detail belongs in the speaker notes, in words.
"""
from __future__ import annotations

import pytest

from client_text import client_texts, internal_names, scan


@pytest.mark.parametrize("text, hit", [
    ("Source: KAM analysis (run tables: kpi_headline, segments)", "kpi_headline"),
    ("Playbooks from templates/playbooks.yaml", "playbooks.yaml"),
    ("see strategy.playbooks in the parameters", "strategy.playbooks"),
    ("Run: 20261204T094224Z-ecc43e", "20261204T094224Z-ecc43e"),
    ("Median P(alive): 94%", "P(alive)"),
    ("p-value", "p-value"),
    ("grey = no effect (p >= 0.05)", "p >= 0.0"),
    ("not produced in this run (table segments)", "segments"),
    ("Target: retention_rate", "retention_rate"),
])
def test_the_scan_finds_internal_names(text, hit):
    assert hit in internal_names(text)


@pytest.mark.parametrize("text", [
    "Net revenue of €6.3m over the last 12 months, up 4.6% year on year",
    "Retention 71.2% vs target 75.0% (-3.8 pts)",
    "Top 5 of 10 recommendations; owner: Head of Sales; by 31 Mar 2026",
    "Strategic accounts get a dedicated account team, e-mail follow-up and a 1-to-1 review",
    "The segments of the portfolio and the whitespace in each",
    "did not buy in the first 4 periods",
])
def test_the_scan_leaves_client_prose_alone(text):
    assert internal_names(text) == []


@pytest.fixture(scope="module")
def deliverables(language_co_run):
    res = language_co_run
    return {rec["name"]: res.run_dir / rec["path"] for rec in res.manifest["deliverables"]}


@pytest.mark.slow
def test_client_pages_show_no_internal_name(deliverables):
    texts = client_texts(deliverables)
    assert any(w.startswith("slide") for w, _ in texts) and any(w.startswith("html") for w, _ in texts)
    assert sum(".xlsx!" in w for w, _ in texts) > 100  # both workbooks were read
    found = scan(deliverables)
    assert not found, f"{len(found)} client texts show internal names:\n" + "\n".join(
        f"  {w}: {hits} in {t[:140]!r}" for w, t, hits in found[:40])


def test_accounts_of_one_name_are_told_apart_by_their_id(tmp_path):
    """Two accounts called the same get their id beside the name on every client page."""
    from data_helpers import write_params
    from kam_analysis.config import load_params
    from kam_analysis.data.prepare import prepare_run_data
    from kam_analysis.data.runfolder import Run

    accounts = "account_id,account_name\nA1,Dupont SA\nA2,Dupont SA\nA3,Martin\n"
    params = load_params(write_params(tmp_path, accounts=accounts,
                                      extra={"output": {"root": str(tmp_path / "out")}}))
    prepare_run_data(params, tmp_path / "run")
    names = Run(tmp_path / "run", params).account_display_names().to_dict()
    assert names == {"A1": "Dupont SA (A1)", "A2": "Dupont SA (A2)", "A3": "Martin"}


# --------------------------------------------------------------------------- the storyline
@pytest.mark.slow
def test_the_executive_summary_opens_with_decisions_with_value_cost_and_return(deliverables):
    from pptx import Presentation

    slides = list(Presentation(deliverables["deck"]).slides)
    titles = [s.shapes.title.text_frame.text if s.shapes.title is not None else "" for s in slides]
    agenda = titles.index("Agenda")
    first = slides[agenda + 1]
    assert "decision" in titles[agenda + 1].lower(), titles[agenda + 1]
    table = next(sh.table for sh in first.shapes if getattr(sh, "has_table", False) and sh.has_table)
    head = [c.text for c in table.rows[0].cells]
    assert head[:3] == ["Decision", "Value", "Cost"] and "Return" in head[3]
    rows = [[c.text for c in r.cells] for r in list(table.rows)[1:]]
    assert len(rows) == 3
    fund = rows[0]
    assert fund[0].startswith("1. Fund the KAM programme")
    # the demo gives no programme cost: the value is the data's, the cost and return are asked for, never assumed
    assert "€" in fund[1] and fund[2] == "Needs your cost figures" and "ROI" not in fund[3], fund
    text = "\n".join(sh.text_frame.text for sh in first.shapes if sh.has_text_frame)
    assert "Your cost of an account-manager hour" in text and "price the programme" in text
    assert "assumed" not in " ".join(fund) + text and "€60" not in text


@pytest.mark.slow
def test_the_deck_shows_three_to_five_recommendations_with_owner_and_says_of_how_many(deliverables):
    import json
    import re

    from openpyxl import load_workbook
    from pptx import Presentation

    run_dir = deliverables["deck"].parents[1]
    import pandas as pd
    m = len(pd.read_parquet(run_dir / "tables" / "recommendations.parquet"))
    shown, titles = [], []
    for s in Presentation(deliverables["deck"]).slides:
        for sh in s.shapes:
            if getattr(sh, "has_table", False) and sh.has_table and sh.table.cell(0, 1).text == "Recommendation":
                rows = [[c.text for c in r.cells] for r in list(sh.table.rows)]
                assert rows[0][2] == "Owner and timing"
                assert all(re.search(r", by \d{1,2} \w{3} \d{4}$", r[2]) for r in rows[1:]), rows
                shown += rows[1:]
                titles.append(s.shapes.title.text_frame.text)
    assert m >= 3 and 3 <= len(shown) <= 5
    if len(shown) < m:
        assert all(f"top {len(shown)} of {m}" in t for t in titles), titles
    ws = load_workbook(deliverables["kpi_dashboard"])["Recommendations"]
    head = [c.value for c in ws[4]]
    assert "Owner" in head and "Due by" in head
    assert sum(1 for r in ws.iter_rows(min_row=5, values_only=True) if r[0] is not None) == m
    page = deliverables["html_dashboard"].read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', page, re.S).group(1))
    assert data["recommendations_total"] == m == len(data["recommendations"])
    assert all(r.get("owner") for r in data["recommendations"])


@pytest.mark.slow
def test_every_key_account_has_its_own_plan_in_a_crm_ready_sheet(deliverables):
    import pandas as pd
    from openpyxl import load_workbook

    run_dir = deliverables["deck"].parents[1]
    plans = pd.read_parquet(run_dir / "tables" / "account_plans.parquet")
    segs = pd.read_parquet(run_dir / "tables" / "segments.parquet")
    assert len(plans) == int(segs["is_key"].sum())
    assert plans["situation"].str.split("; ").str[0].nunique() >= 3  # the demo plants several situations
    assert plans["objective"].nunique() > len(plans) // 2  # objectives are the accounts' own, not one text
    ws = load_workbook(deliverables["segmentation_workbook"])["Account plans"]
    head = [c.value for c in ws[1]]
    assert head[:2] == ["Account ID", "Account"] and {"Action", "Owner", "Due date", "Target"} <= set(head)
    assert not ws.merged_cells.ranges
    rows = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] is not None]
    per = pd.Series([r[0] for r in rows]).value_counts()
    assert len(per) == len(plans) and per.between(3, 5).all()


@pytest.mark.slow
def test_every_table_reaches_a_deliverable_or_is_documented_consultant_only(deliverables):
    """Build the deliverables again, recording every table they read: a table a phase wrote that
    no deliverable reads must say in the catalogue why only the consultant sees it."""
    from kam_analysis.config import load_params
    from kam_analysis.data.runfolder import Run
    from kam_analysis.data.tables import TABLES
    from kam_analysis.deliverables import build_deliverables

    run_dir = deliverables["deck"].parents[1]
    read: set[str] = set()
    orig = Run.read_table

    def spy(self, name, *a, **k):
        read.add(name)
        return orig(self, name, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(Run, "read_table", spy)
    try:
        params = load_params(run_dir.parents[1].parent / "params.yaml")
        recs = build_deliverables(run_dir, params)
    finally:
        mp.undo()
    assert all(r["status"] == "success" for r in recs), recs
    written = {p.stem for p in (run_dir / "tables").glob("*.parquet")}
    unseen = sorted(t for t in written - read if not TABLES[t].consultant_only)
    assert not unseen, f"tables no deliverable shows and the catalogue does not call consultant-only: {unseen}"
    shown_anyway = sorted(t for t in read & written if TABLES[t].consultant_only)
    assert not shown_anyway, f"tables marked consultant-only that a deliverable reads: {shown_anyway}"


@pytest.mark.slow
def test_kpi_intervals_stand_beside_the_kpis(deliverables):
    """The KPI dashboard's KPI-vs-target sheet and the deck's KPI tiles carry each KPI's interval."""
    import pandas as pd
    from openpyxl import load_workbook
    from pptx import Presentation

    from kam_analysis.present.formats import fmt_value

    run_dir = deliverables["deck"].parents[1]
    head = pd.read_parquet(run_dir / "tables" / "kpi_headline.parquet").set_index("kpi")
    ws = load_workbook(deliverables["kpi_dashboard"])["KPI vs target"]
    header = [c.value for c in ws[4]]
    lo = header.index("95% range, low")
    row = next(r for r in ws.iter_rows(min_row=5, values_only=True) if r[0] == head.loc["retention_rate", "label"])
    assert row[lo] == pytest.approx(head.loc["retention_rate", "ci_low"])
    want = (f"95% range {fmt_value(head.loc['retention_rate', 'ci_low'], 'share')}–"
            f"{fmt_value(head.loc['retention_rate', 'ci_high'], 'share')}")
    deck = "\n".join(sh.text_frame.text for s in Presentation(deliverables["deck"]).slides for sh in s.shapes
                     if sh.has_text_frame)
    assert want in deck


# --------------------------------------------------------------------------- one money style
def assert_one_money_style(deliverables: dict) -> None:
    """Every deliverable writes money in its own style (present.formats.DELIVERABLE_MONEY_STYLE)
    and only in it: no '€23k' beside '€9,713' on one deliverable."""
    from client_text import money_styles
    from kam_analysis.present.formats import money_style

    by_name = {"framework_deck": "deck", "dashboard": "html_dashboard"}
    found = money_styles(deliverables)
    assert found, "no deliverable read"
    for name, kinds in found.items():
        key = by_name.get(name, "segmentation_workbook" if name.endswith("segmentation") else name)
        want = money_style(key)
        other = "full" if want == "compact" else "compact"
        assert kinds[want], f"{name}: no money written {want}"  # the scan does read the figures
        assert not kinds[other], f"{name} writes money {want} but also {other}:\n" + "\n".join(
            f"  {w}: {t}" for w, t in kinds[other][:20])


def test_the_money_scan_tells_the_styles_apart():
    from client_text import MONEY, money_kind

    tokens = MONEY.findall("€23k and €9,713; $1.2m, £641, -€3.0k, €12,345.50 and €4520")
    assert [money_kind(t) for t in tokens] == ["compact", "full", "compact", None, "compact", "full", "full"]


@pytest.mark.slow
def test_each_deliverable_writes_money_in_one_style(deliverables):
    assert_one_money_style(deliverables)


@pytest.mark.slow
def test_each_recommendation_shows_its_own_cost_on_the_deck_and_in_the_kpi_workbook(deliverables):
    """Cost a year = manager hours of the accounts it touches x the cost of an hour + their tools share
    (phases.business_case.recommendation_costs). The demo gives no cost parameters, so no page states
    a euro cost: each says the manager hours it takes and that the cost needs the client's figures."""
    import pandas as pd
    from openpyxl import load_workbook
    from pptx import Presentation

    from kam_analysis.phases.business_case import recommendation_cost_text

    run_dir = deliverables["deck"].parents[1]
    recs = pd.read_parquet(run_dir / "tables" / "recommendations.parquet").sort_values("rank")
    assert recs["cost"].notna().all() and (recs["cost"] > 0).any() and recs["cost_assumed"].all()
    want = [recommendation_cost_text(c, h, a, "EUR") for c, h, a in zip(recs["cost"], recs["cost_hours"],
                                                                        recs["cost_assumed"])]
    assert all("needs your figures" in w and "€" not in w for w in want), want
    assert any(f"{round(h):,} of the plan's manager hours a year" in w for w, h in zip(want, recs["cost_hours"]) if h > 1), want
    deck_rows, decisions = [], []
    for s in Presentation(deliverables["deck"]).slides:
        for sh in s.shapes:
            if not (getattr(sh, "has_table", False) and sh.has_table):
                continue
            head = [c.text for c in sh.table.rows[0].cells]
            rows = [[c.text for c in r.cells] for r in list(sh.table.rows)[1:]]
            if head[1] == "Recommendation":
                assert head[-1] == "Cost a year"
                deck_rows += rows
            if head[:3] == ["Decision", "Value", "Cost"]:
                decisions += [r for r in rows if not r[0].startswith("1. Fund")]
    assert deck_rows and [r[-1] for r in deck_rows] == want[:len(deck_rows)]
    assert decisions and all(r[2] in want for r in decisions), decisions
    assert not any("manager time" in r[2] for r in decisions)
    ws = load_workbook(deliverables["kpi_dashboard"])["Recommendations"]
    head = [c.value for c in ws[4]]
    j, k = head.index("Cost a year"), head.index("Cost basis")
    body = [r for r in ws.iter_rows(min_row=5, values_only=True) if r[0] is not None]
    assert [r[j] for r in body] == [None] * len(recs)  # no figure at a cost the client has not given
    assert [r[k] for r in body] == want


@pytest.mark.slow
def test_control_charts_and_the_tornado_reach_both_dashboards(deliverables, tmp_path):
    """The KPI dashboard: a 'Control charts' sheet (every tracked KPI's values and limits, a native line
    chart each) and a 'Sensitivity' sheet (the tornado's levers, a native bar chart); the HTML: the same
    figures as inline SVG, drawn offline."""
    import json
    import re

    import pandas as pd
    from openpyxl import load_workbook

    from conftest import require_tool

    run_dir = deliverables["deck"].parents[1]
    spc = pd.read_parquet(run_dir / "tables" / "spc_limits.parquet")
    sens = pd.read_parquet(run_dir / "tables" / "sensitivity.parquet")
    sens = sens[sens["swing"].notna()].sort_values("swing", ascending=False, kind="stable")
    assert len(spc) and (sens["swing"] > 0).any()
    wb = load_workbook(deliverables["kpi_dashboard"])
    cc = wb["Control charts"]
    assert len(cc._charts) == spc["kpi"].nunique()
    first = spc[spc["kpi"] == spc["kpi"].iloc[0]].sort_values("period_start")
    values = [r[1] for r in cc.iter_rows(min_row=7, max_row=6 + len(first), values_only=True)]
    assert values == pytest.approx(first["value"].tolist())
    se = wb["Sensitivity"]
    assert len(se._charts) == 1
    body = [r for r in se.iter_rows(min_row=5, max_row=4 + len(sens), values_only=True)]
    assert [r[0] for r in body] == sens["label"].tolist()[::-1]  # widest on top of Excel's bar chart
    base = float(sens["profit_base"].iloc[0])
    assert [r[2] for r in body] == pytest.approx((sens["profit_high"] - base).tolist()[::-1])
    page = deliverables["html_dashboard"].read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', page, re.S).group(1))
    assert [c["kpi"] for c in data["control_charts"]] == list(dict.fromkeys(spc["kpi"]))
    assert [lv["label"] for lv in data["tornado"]["levers"]] == sens["label"].tolist()
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    url = deliverables["html_dashboard"].resolve().as_uri()
    requests, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("#tornado svg")
            assert page.locator("#control svg").count() == spc["kpi"].nunique()
            assert page.locator("#control circle.signal").count() == int(spc["signal"].astype(bool).sum())
            assert page.locator("#tornado rect.bar").count() == 2 * len(sens)
            assert errors == [] and requests == [url]
        finally:
            browser.close()


@pytest.mark.slow
def test_the_tornado_swings_the_base_the_business_case_credits(deliverables):
    """The tornado's base case is the business case's base-case benefit (the programme's accounts), not
    the whole base's scenario, and its note says so."""
    import pandas as pd
    from pptx import Presentation

    tables = deliverables["deck"].parents[1] / "tables"
    sens = pd.read_parquet(tables / "sensitivity.parquet")
    bc = pd.read_parquet(tables / "business_case.parquet").set_index("scenario")
    assert set(sens["basis"]) == {"programme accounts"}
    assert sens["profit_base"].iloc[0] == pytest.approx(bc.loc["base", "profit_full_year"])
    assert bc.loc["base", "profit_full_year"] < bc.loc["base", "whole_base_full_year"]  # not every account is costed
    notes = [sh.text_frame.text for s in Presentation(deliverables["deck"]).slides for sh in s.shapes
             if sh.has_text_frame and "one lever" not in sh.text_frame.text and "Each lever swung" in sh.text_frame.text]
    assert notes and all("the base the business case credits" in n for n in notes)
