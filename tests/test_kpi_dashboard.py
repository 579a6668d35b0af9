"""Tests for the Excel KPI dashboard."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from _review_fixtures import HOSTILE_END, build_review_run
from conftest import require_tool
from openpyxl import load_workbook

from kam_analysis.deliverables.kpi_dashboard import build_kpi_dashboard, header_footer_text
from kam_analysis.data.runfolder import Run
from kam_analysis.exceptions import RunError
from kam_analysis.metrics import kpi_unit
from kam_analysis.phases import review


@pytest.fixture(scope="module")
def review_run(demo_run, tmp_path_factory):
    return build_review_run(demo_run, tmp_path_factory.mktemp("xl") / "run")


@pytest.fixture(scope="module")
def workbook(review_run):
    path = build_kpi_dashboard(review_run)
    return path, load_workbook(path)


def test_sheets_and_one_page_summary(workbook, review_run):
    path, wb = workbook
    assert path.name == "kpi_dashboard.xlsx" and path.parent.name == "deliverables"
    assert wb.sheetnames[0] == "Dashboard"
    for name in ("KPI vs target", "Scorecard", "KPI tracking", "Trend data", "Programme impact", "Migration",
                 "Recommendations", "At-risk accounts", "About"):
        assert name in wb.sheetnames, name
    ws = wb["Dashboard"]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 1
    assert str(ws.print_area).startswith("'Dashboard'!$A$1:$N$")


def test_tiles_show_current_target_and_status(workbook, review_run):
    _, wb = workbook
    ws = wb["Dashboard"]
    kvt = review_run.read_table("kpi_vs_target")
    first = kvt.iloc[0]
    cells = {c.coordinate: c.value for row in ws.iter_rows(min_row=1, max_row=12) for c in row if c.value is not None}
    values = list(cells.values())
    assert first["status"].upper() in values
    assert any(isinstance(v, float) and abs(v - first["current"]) < 1e-9 for v in values)
    assert any(isinstance(v, float) and abs(v - first["target"]) < 1e-9 for v in values)


def test_native_charts_and_conditional_formatting(workbook):
    _, wb = workbook
    ws = wb["Dashboard"]
    assert len(ws._charts) == 3
    assert all(len(ch.series) >= 1 for ch in ws._charts)
    rules = [r for rng in ws.conditional_formatting for r in rng.rules]
    assert len(rules) == 3 and all(r.type == "expression" for r in rules)
    assert any('="red"' in r.formula[0] for r in rules)
    # the status grid the rules read is hidden, not printed
    hidden = [k for k, d in ws.column_dimensions.items() if d.hidden]
    assert hidden
    tracking = wb["KPI tracking"]
    assert tracking.tables and tracking.freeze_panes == "A5"
    assert any(r.type == "cellIs" for rng in tracking.conditional_formatting for r in rng.rules)


def test_client_text_is_never_a_formula(workbook):
    _, wb = workbook
    found = False
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    assert c.data_type == "s", (ws.title, c.coordinate)
                if isinstance(c.value, str) and HOSTILE_END[:9] in c.value:
                    found = True
                    assert c.data_type == "s"
    assert found  # the hostile account name reached the at-risk sheet, as text


def test_header_footer_ampersand_is_escaped():
    assert header_footer_text("Smith & Sons") == "Smith && Sons"


def test_spine_only_run_fails_naming_the_missing_table(demo_run, tmp_path):
    """A table its phase always writes is never replaced by a note: the build fails naming it."""
    run = build_review_run(demo_run, tmp_path / "spine", with_upstream=False)
    with pytest.raises(RunError, match=r"table 'kpi_vs_target', which phase review did not write"):
        build_kpi_dashboard(run)


def test_lost_accounts_sheet_shows_revenue_already_lost(workbook, review_run):
    path, _ = workbook
    ws = load_workbook(path)["Lost accounts"]
    lost = review_run.read_table("revenue_lost").iloc[0]
    cells = {r[0].value: r[1].value for r in ws.iter_rows(min_row=4, max_row=5)}
    assert cells["Revenue already lost to accounts that churned in the last 12 months"] == \
        pytest.approx(lost["revenue_lost_12m"], rel=1e-12)
    assert cells["Accounts lost in the last 12 months"] == lost["accounts_lost_12m"]


def test_without_targets_the_tiles_show_the_baseline(review_run, tmp_path):
    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    run.write_table("kpi_vs_target", review.compute_kpi_vs_target(run.read_table("kpi_headline"), {}, amber=0.05,
                                                                  red=0.15))
    wb = load_workbook(build_kpi_dashboard(run))
    dash = " ".join(str(c.value) for row in wb["Dashboard"].iter_rows() for c in row if c.value)
    # no targets: the headline KPIs as the baseline, never developer text where the tiles should be
    assert "kpi_" not in dash and "table" not in dash
    assert "No target set" in dash and "BASELINE" in dash and "baseline the next review" in dash


@pytest.mark.render
def test_dashboard_renders_in_libreoffice(workbook, tmp_path):
    soffice = require_tool("soffice")
    path, _ = workbook
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "kpi_dashboard.pdf"
    assert pdf.exists() and pdf.stat().st_size > 10_000


def _sheet_rows(ws):
    """(headers, rows as header -> cell) of a detail sheet (header row 4)."""
    headers = [c.value for c in ws[4]]
    rows = [dict(zip(headers, r)) for r in ws.iter_rows(min_row=5) if r[0].value is not None]
    return headers, rows


def test_detail_sheets_have_client_headers_and_kpi_labels(workbook):
    _, wb = workbook
    for name in ("KPI vs target", "Scorecard", "KPI tracking", "Recommendations", "At-risk accounts"):
        headers, rows = _sheet_rows(wb[name])
        assert rows, name
        for h in headers:  # no raw snake_case column names
            assert h and "_" not in h and h == h.strip(), (name, h)
        if "KPI" in headers:
            kpis = {r["KPI"].value for r in rows}
            assert not any("_" in k for k in kpis), (name, kpis)
    _, rows = _sheet_rows(wb["KPI vs target"])
    assert "Account retention, 12 months" in {r["KPI"].value for r in rows}
    assert "Change vs baseline" in [c.value for c in wb["Scorecard"][4]]


def test_detail_sheet_number_formats_follow_the_kpi_unit(workbook, review_run):
    _, wb = workbook
    _, rows = _sheet_rows(wb["KPI vs target"])
    by = {r["KPI"].value: r for r in rows}
    ret, rev = by["Account retention, 12 months"], by["Average order value"]
    assert ret["Current"].number_format == "0.0%" and "€" in rev["Current"].number_format
    assert "#,##0" in rev["Current"].number_format
    assert by["Net Promoter Score"]["Current"].number_format == "0.0"
    assert "pts" in by["Net Promoter Score"]["Change vs baseline"].number_format
    # changes vs baseline: retention in points (x100), order value (currency) relative
    kvt = review_run.read_table("kpi_vs_target").set_index("kpi")
    r = kvt.loc["retention_rate"]
    assert ret["Change vs baseline"].value == pytest.approx((r["current"] - r["baseline"]) * 100)
    assert "pts" in ret["Change vs baseline"].number_format
    assert rev["Change vs baseline"].number_format.startswith("+0.0%")
    assert ret["Gap to target"].value == pytest.approx((r["current"] - r["target"]) * 100)
    _, sc = _sheet_rows(wb["Scorecard"])
    nps = [x for x in sc if x["KPI"].value == "Net Promoter Score"]
    assert nps and all(x["Value"].number_format == "0.0" and "pts" in x["Change vs baseline"].number_format
                       for x in nps)
    cnt = [x for x in sc if x["KPI"].value == "Active accounts at the as-of date"]
    assert cnt and cnt[0]["Value"].number_format == "#,##0"
    money = [x for x in sc if x["KPI"].value == "Net revenue, last 12 months"]
    assert money and "€" in money[0]["Value"].number_format and money[0]["Change vs baseline"].number_format == \
        "+0.0%;-0.0%;0.0%"
    assert {x["Status against"].value for x in sc} <= {"Target", "Baseline", "–"}
    _, recs = _sheet_rows(wb["Recommendations"])
    assert all(x["What the value measures"].value for x in recs)
    assert "€" in recs[0]["Value at stake"].number_format


def _chart_titles(ws) -> list[str]:
    return ["".join(r.t for p in ch.title.tx.rich.p for r in (p.r or [])) for ch in ws._charts if ch.title is not None]


def test_order_value_chart_speaks_of_a_target_only_when_one_is_set(review_run, tmp_path):
    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    tr = run.read_table("kpi_tracking")
    run.write_table("kpi_tracking", tr.assign(target=float("nan")))  # the client set no target
    wb = load_workbook(build_kpi_dashboard(run))
    titles = _chart_titles(wb["Dashboard"])
    assert titles and not any("target" in t.lower() for t in titles), titles
    assert "AOV target" not in [c.value for c in wb["Trend data"][4]]
    # with an order-value target the chart and the trend data carry it
    run.write_table("kpi_tracking", tr.assign(target=[100.0 if k == "average_order_value" else float("nan")
                                                      for k in tr["kpi"]]))
    wb = load_workbook(build_kpi_dashboard(run))
    assert any("vs target" in t for t in _chart_titles(wb["Dashboard"]))
    assert "AOV target" in [c.value for c in wb["Trend data"][4]]


def test_an_undefined_period_kpi_is_blank_on_both_sheets(review_run, tmp_path):
    """Period retention has no value for a period with no accounts before it (a base of 0): KPI
    tracking shows it blank, with no '0' accounts beside it, as Trend data does."""
    from kam_analysis.metrics import kpi_label
    from kam_analysis.phases.review import ALL_ACCOUNTS

    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    tr = run.read_table("kpi_tracking")
    kpi = next(k for k in ("period_retention_rate", "average_order_value") if k in set(tr["kpi"]))
    first = tr["period_start"].min()
    undefined = (tr["kpi"] == kpi) & (tr["period_start"] == first)
    assert undefined.any()
    run.write_table("kpi_tracking", tr.assign(value=tr["value"].mask(undefined), n=tr["n"].mask(undefined, 0)))
    wb = load_workbook(build_kpi_dashboard(run))
    _, rows = _sheet_rows(wb["KPI tracking"])
    rows = [{k: c.value for k, c in r.items()} for r in rows]
    ret = [r for r in rows if r["KPI"] == kpi_label(kpi)]
    blank = [r for r in ret if r["Value"] is None]
    assert blank and all(r["Accounts"] is None for r in blank)
    assert all(r["Accounts"] is not None for r in ret if r["Value"] is not None)
    trend_head = [c.value for c in wb["Trend data"][4]]
    col = trend_head.index(kpi_label(kpi, short=True))
    trend = {r[0]: r[col] for r in wb["Trend data"].iter_rows(min_row=5, values_only=True) if r[0] is not None}
    compared = 0
    for r in ret:
        if r["Segment"] == ALL_ACCOUNTS and r["Period"] in trend:
            assert (r["Value"] is None) == (trend[r["Period"]] is None), r["Period"]
            compared += 1
    assert compared >= 2


def test_recommendations_sheet_names_the_segment_of_each(workbook, review_run):
    """Each recommendation's segment, as the HTML's segment filter reads it; one on the whole portfolio
    reads "All accounts"."""
    from kam_analysis.phases.review import ALL_ACCOUNTS

    _, wb = workbook
    headers, rows = _sheet_rows(wb["Recommendations"])
    assert "Segment" in headers
    recs = review_run.read_table("recommendations").sort_values("rank")
    assert len(rows) == len(recs)
    want = [s if isinstance(s, str) and s.strip() else ALL_ACCOUNTS for s in recs["segment"]]
    assert [r["Segment"].value for r in rows] == want
    assert len(set(want)) > 1  # the demo's recommendations concern different segments
    wide = headers.index("Recommendation") + 1
    assert wb["Recommendations"].column_dimensions[chr(64 + wide)].width == 70


def test_without_targets_kpi_vs_target_says_so_and_what_unlocks_it(review_run, tmp_path):
    """No targets: the sheet says plainly that none were given and what to send, with no empty table's
    '(none)' row; the statement is the run's own refusal of KPIs against target."""
    from kam_analysis.metrics.capability import Capability, compute_analysis_support

    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    run.write_table("kpi_vs_target", review.compute_kpi_vs_target(run.read_table("kpi_headline"), {}, amber=0.05,
                                                                  red=0.15))
    prof = run.read_table("data_profile")
    prof.loc[prof["item"] == "targets", "present"] = False  # the client set none
    run.write_table("analysis_support", compute_analysis_support(prof, run.params))
    ws = load_workbook(build_kpi_dashboard(run))["KPI vs target"]
    cells = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "(none)" not in cells and "KPI" not in cells and "Current" not in cells  # no table of nothing
    statement = Capability.of(run).statement("kpi_vs_target")
    assert statement in cells
    assert statement.startswith("No KPI targets were given") and "To unlock it, send: your KPI targets" in statement


def test_a_large_clients_amounts_and_counts_show_in_full(review_run, tmp_path):
    """At 200,000 accounts revenue runs to billions and the programme to tens of thousands of
    accounts: the segment table's full amounts fit their columns (no ###), the impact sheet's
    counts have separators, the revenue axis reads in millions."""
    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    sc = run.read_table("kpi_scorecard")
    money = sc["kpi"].map(lambda k: kpi_unit(k) == "currency")
    sc.loc[money, "value"] = sc.loc[money, "value"] * 10_000  # the demo's €0.3m becomes billions
    run.write_table("kpi_scorecard", sc)
    tr = run.read_table("kpi_tracking")
    rev = tr["kpi"] == "revenue"
    tr.loc[rev, "value"] = tr.loc[rev, "value"] * 10_000
    run.write_table("kpi_tracking", tr)
    imp = run.read_table("programme_impact")
    imp[["n_programme", "n_treated", "n_control", "n_obs"]] = [16_000, 14_196, 74_516, 596_966]
    run.write_table("programme_impact", imp)
    wb = load_workbook(build_kpi_dashboard(run))

    ws = wb["Dashboard"]
    big = [c for row in ws.iter_rows() for c in row
           if isinstance(c.value, (int, float)) and not isinstance(c.value, bool) and c.value >= 1e9]
    assert big, "no billion-sized amount on the dashboard"
    for c in big:  # the column holds the full amount and its symbol: '€2,609,270,083' is 14 characters
        shown = f"€{c.value:,.0f}"
        assert ws.column_dimensions[c.column_letter].width >= len(shown) + 1, (c.coordinate, shown)

    imp_ws = wb["Programme impact"]
    cells = {r[0].value: r[1] for r in imp_ws.iter_rows(min_row=5, max_col=2) if r[0].value}
    for label, n in (("Control accounts", 74_516), ("Programme accounts in the estimate", 14_196),
                     ("Accounts in the client's programme", 16_000), ("Account-periods", 596_966)):
        assert cells[label].value == n and cells[label].number_format == "#,##0", label
    # a label or a note longer than its column wraps in a row tall enough for it (LibreOffice grows none)
    measures = {}
    for r in imp_ws.iter_rows(min_row=5, max_col=2):  # the measure table: down to its first empty row
        if r[0].value is None:
            break
        measures[r[0].value] = r[1]
    assert len(measures) > 10
    for label, cell in measures.items():
        text = max((label, str(cell.value or "")), key=len)
        if len(text) > 60:
            assert imp_ws.row_dimensions[cell.row].height >= 30, label

    axes = [ch.y_axis.numFmt.formatCode for ch in ws._charts if "€" in str(ch.y_axis.numFmt)]
    assert len(axes) == 2 and '"m"' in axes[0], axes  # revenue by period in millions, not €2,600,000,000
    assert all("[Red]" not in f for f in axes)  # no axis in full amounts


def test_recommendation_costs_that_overlap_are_totalled_once(review_run, tmp_path):
    """Two recommendations on the same accounts count their hours twice: the sheet says so and gives
    the list's cost with each account counted once, not the column's sum."""
    from kam_analysis.present.formats import fmt_money

    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    recs = run.read_table("recommendations")
    assert "cost_overlap" in recs
    # planted: the second one touches the first one's accounts, a quarter of its cost already counted
    planted = recs.assign(cost=1000.0, cost_overlap=[0.0, 250.0] + [0.0] * (len(recs) - 2), cost_assumed=False)
    run.write_table("recommendations", planted)
    sub = load_workbook(build_kpi_dashboard(run))["Recommendations"]["A3"].value  # under the subtitle
    cur = run.params.client.currency
    total, summed = 1000.0 * len(recs) - 250.0, 1000.0 * len(recs)
    assert (f"Costs overlap where recommendations touch the same accounts: together they cost "
            f"{fmt_money(total, cur, style='full')} a year, each account counted once, not the "
            f"{fmt_money(summed, cur, style='full')} the cost column adds up to.") == sub
    run.write_table("recommendations", planted.assign(cost_overlap=0.0))  # nothing shared: nothing to say
    assert load_workbook(build_kpi_dashboard(run))["Recommendations"]["A3"].value is None


def test_about_sheet_shows_each_target_in_its_kpis_unit(workbook, review_run):
    from kam_analysis.metrics import kpi_label

    _, wb = workbook
    cells = {r[0].value: r[1] for r in wb["About"].iter_rows(min_row=5, max_col=2) if r[0].value}
    targets = review_run.params.targets
    assert any(kpi_unit(k) == "share" for k in targets)
    for k, v in targets.items():
        c = cells[f"Target: {kpi_label(k)}"]
        assert c.value == pytest.approx(v)
        unit = kpi_unit(k)
        assert ("%" in c.number_format) == (unit == "share"), (k, c.number_format)
        assert ("€" in c.number_format) == (unit == "currency"), (k, c.number_format)


def test_control_chart_notes_count_their_periods_in_words(workbook, review_run, tmp_path):
    """'3 periods signal', '1 period signals', never '3 period(s)': one note for the workbook and the HTML."""
    from kam_analysis.deliverables._computed_views import control_chart_views

    shutil.copytree(review_run.dir, tmp_path / "run")
    run = Run(tmp_path / "run", review_run.params)
    import pandas as pd

    first, second = "revenue", "average_order_value"
    periods = pd.date_range("2024-01-01", periods=6, freq="QS")
    spc = pd.DataFrame([{"kpi": k, "chart": "individuals", "period_start": t, "value": 100.0 + i, "n": 1,
                         "center": 100.0, "ucl": 110.0, "lcl": 90.0, "rule": "", "limits_from": "baseline",
                         "signal": i < (1 if k == first else 3)}  # one signal on the first KPI, three on the second
                        for k in (first, second) for i, t in enumerate(periods)])
    run.write_table("spc_limits", spc)
    notes = {v["kpi"]: v["signals_note"] for v in control_chart_views(run)}
    assert notes[first] == "1 period signals a real change" and notes[second] == "3 periods signal a real change"
    ws = load_workbook(build_kpi_dashboard(run))["Control charts"]
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "(s)" not in text and notes[first] in text and notes[second] in text


def test_no_segment_shows_retention(workbook, review_run):
    """Today's segments are drawn from today's active accounts, so a segment's retention would read
    100% (inactive: 0%) by construction: the tracking and scorecard sheets hold it for all accounts
    only and say why once; the dashboard's segment grid leaves those cells blank with the same note."""
    from kam_analysis.metrics import ALL_ACCOUNTS_ONLY_KPIS, SEGMENT_RETENTION_NOTE, kpi_label

    _, wb = workbook
    labels = {kpi_label(k) for k in ALL_ACCOUNTS_ONLY_KPIS}
    for name in ("KPI tracking", "Scorecard"):
        _, rows = _sheet_rows(wb[name])
        assert len({r["Segment"].value for r in rows}) > 1, name  # the fixture has segments: the check bites
        ret = [r for r in rows if r["KPI"].value in labels]
        assert ret and {r["Segment"].value for r in ret} == {review.ALL_ACCOUNTS}, name
        assert SEGMENT_RETENTION_NOTE in wb[name]["A2"].value, name
    dash = [str(c.value) for row in wb["Dashboard"].iter_rows() for c in row if c.value]
    assert SEGMENT_RETENTION_NOTE in dash
