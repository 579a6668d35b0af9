"""The segmentation workbook: sheets, tables, formats, drop-down, and client strings never as formulas."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile

import openpyxl
import pandas as pd
import pytest

from kam_analysis import ParameterError
from kam_analysis.phases import overrides
from kam_analysis.phases import segmentation as sg
from kam_analysis.config import QuadrantOverride
from kam_analysis.exceptions import RunError
from kam_analysis.deliverables.workbook import WORKBOOK_SHEETS, build_segmentation_workbook
from kam_analysis.data.runfolder import Run
from kam_analysis.present.labels import P_ALIVE

from conftest import require_tool

PLANTED_NAMES = ['=HYPERLINK("http://example.com/x","click")', "+1", "@x", "-2+3", "=cmd|' /C calc'!A0"]


def _tiny_run(demo_run, tmp_path) -> Run:
    """A copy of the demo run whose client strings are formula-like, segmented and ready to build."""
    rd = tmp_path / "run"
    shutil.copytree(demo_run.dir, rd, ignore=shutil.ignore_patterns("deliverables", "private"))
    acc = pd.read_parquet(rd / "data" / "accounts.parquet")
    for i, name in enumerate(PLANTED_NAMES):
        acc.loc[i, "account_name"] = name
    acc.loc[0, "region"] = "=1+1"
    acc.to_parquet(rd / "data" / "accounts.parquet", index=False)
    params = demo_run.params.model_copy(deep=True)
    first = str(acc.loc[1, "account_id"])
    params.segmentation.overrides = [QuadrantOverride(account_id=first, quadrant="Status",
                                                      reason="=SUM(A1:A9) planted reason")]
    run = Run(rd, params)
    sg.write_segmentation_tables(run, sg.compute_segmentation(run))
    # the strategy's account plans (none here: the Account plans sheet says so) and the run's
    # capability profile, which the Data quality sheet reads
    from kam_analysis.data.tables import table_spec
    for name in ("account_plans", "account_plan_actions"):
        run.write_table(name, pd.DataFrame(columns=list(table_spec(name).required)))
    run.write_table("analysis_support", pd.DataFrame([
        {"analysis": "kpi_baseline", "label": "KPI baseline (revenue, orders, order value, accounts)",
         "status": "supported", "caveat": "", "unlock": "", "unlock_item": "", "minimum": "",
         "kpis": "revenue_12m, orders_12m"},
        {"analysis": "profitability", "label": "Account profitability and whale curve", "status": "not_supported",
         "caveat": "no cost to serve per account", "unlock": "The annual cost to serve each account",
         "unlock_item": "cost_to_serve", "minimum": "", "kpis": "profit_12m"}]))
    return run


@pytest.fixture(scope="module")
def built(demo_run, tmp_path_factory):
    run = _tiny_run(demo_run, tmp_path_factory.mktemp("wb"))
    path = build_segmentation_workbook(run)
    return run, path, openpyxl.load_workbook(path)


def test_sheets_and_properties(built):
    run, path, wb = built
    assert path.name == f"{run.params.slug}_segmentation.xlsx" and path.parent == run.deliverables_dir
    assert wb.sheetnames == [*WORKBOOK_SHEETS, "Chart data"]
    assert wb["Chart data"].sheet_state == "hidden"
    assert all(wb[s].sheet_state == "visible" for s in WORKBOOK_SHEETS)
    assert wb.properties.creator == run.params.engagement.consultant
    assert wb.properties.created == dt.datetime.combine(run.params.analysis.as_of_date, dt.time())


def test_accounts_table_formats_and_dropdown(built):
    run, _, wb = built
    seg = run.read_table("segments")
    ws = wb["Accounts"]
    table = ws.tables["Accounts"]
    header_row = 4
    headers = [c.value for c in ws[header_row]]
    last_col = openpyxl.utils.get_column_letter(len([h for h in headers if h is not None]))
    assert table.ref == f"A{header_row}:{last_col}{header_row + len(seg)}"
    assert ws.freeze_panes == f"C{header_row + 1}"
    col = {h: i + 1 for i, h in enumerate(headers)}
    for h in ("Account ID", "Account", "Selection score", "Quadrant", "Quadrant (data)", "Override reason",
              "Stability", "RFM segment", "Cluster", "Predicted CLV (EUR)", P_ALIVE, "Your override",
              "Your reason"):
        assert h in col, h
    r = header_row + 1
    assert ws.cell(r, col["Selection score"]).number_format == "0.000"
    assert ws.cell(r, col["Predicted CLV (EUR)"]).number_format == "#,##0;[Red]-#,##0"
    assert ws.cell(r, col[P_ALIVE]).number_format == "0%"
    assert ws.cell(r, col["Stability"]).number_format == "0%"
    assert ws.cell(r, col["Account ID"]).number_format == "@"
    # first row is the best selection score
    assert ws.cell(r, col["Selection score"]).value == pytest.approx(seg["selection_score"].max())
    # conditional formatting on scores, quadrant, RFM segment, cluster, CLV, P(alive)
    cf_cols = set()
    for rng in ws.conditional_formatting:
        cf_cols |= {re.match(r"[A-Z]+", str(c)).group() for c in str(rng.sqref).split()}
    letters = {h: openpyxl.utils.get_column_letter(i) for h, i in col.items()}
    for h in ("Selection score", "Quadrant", "RFM segment", "Cluster", "Predicted CLV (EUR)", P_ALIVE):
        assert letters[h] in cf_cols, h
    # override drop-down: a list validation on the whole 'Your override' column, fed by the quadrant names
    dvs = ws.data_validations.dataValidation
    assert len(dvs) == 1 and dvs[0].type == "list"
    ov = letters["Your override"]
    assert str(dvs[0].sqref) == f"{ov}{r}:{ov}{header_row + len(seg)}"
    ref = dvs[0].formula1
    m = re.match(r"'Weights & parameters'!\$A\$(\d+):\$A\$(\d+)", ref.lstrip("="))
    assert m, ref
    wp = wb["Weights & parameters"]
    assert [wp.cell(i, 1).value for i in range(int(m.group(1)), int(m.group(2)) + 1)] == \
        run.params.segmentation.quadrant_names.ordered()
    # the applied override shows with its reason
    reasons = [ws.cell(i, col["Override reason"]).value for i in range(r, header_row + len(seg) + 1)]
    assert "=SUM(A1:A9) planted reason" in reasons


def test_client_strings_are_text_never_formulas(built):
    run, path, wb = built
    values = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    values.add(cell.value)
    for name in PLANTED_NAMES:
        assert name in values, name  # written verbatim, as text
    assert "=1+1" in values
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any("<f>" in z.read(n).decode() or "<f " in z.read(n).decode() for n in sheets)


def test_summary_and_native_charts(built):
    run, path, wb = built
    prof = run.read_table("segment_profiles")
    ws = wb["Summary"]
    t = ws.tables["SegmentSummary"]
    # one row per segment: the four quadrants, then the inactive accounts (off the matrix)
    n = len(prof)
    assert n == 5 and prof["segment"].iloc[-1] == run.params.segmentation.key_accounts.tier_names.inactive
    assert int(re.search(r":[A-Z]+(\d+)$", t.ref).group(1)) - int(re.search(r"^[A-Z]+(\d+)", t.ref).group(1)) == n
    start = int(re.search(r"^[A-Z]+(\d+)", t.ref).group(1))
    assert [ws.cell(start + 1 + i, 1).value for i in range(n)] == prof["segment"].tolist()
    assert ws.cell(start + 1, 6).number_format == "0.0%"  # revenue share
    # an engagement intent longer than its column wraps in a row tall enough (it overprinted the next row)
    intent = [c.column for c in ws[start] if c.value == "Engagement intent"][0]
    width = ws.column_dimensions[openpyxl.utils.get_column_letter(intent)].width
    for i in range(n):
        text = str(ws.cell(start + 1 + i, intent).value or "")
        assert len(text) <= width or ws.row_dimensions[start + 1 + i].height >= 30, text
    assert any(len(str(ws.cell(start + 1 + i, intent).value or "")) > width for i in range(n))
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 5  # summary x2, matrix, clusters, CLV holdout
    for name in ("RFMSegments", "Clusters", "CLVParameters", "CLVHoldout", "Weights", "Settings", "OverridesLog"):
        assert any(name in w.tables for w in wb.worksheets), name


def test_pseudonymised_workbook_hides_names(built, tmp_path):
    src, _, _ = built
    rd = tmp_path / "pseudo"
    shutil.copytree(src.dir, rd, ignore=shutil.ignore_patterns("deliverables", "private"))
    params = src.params.model_copy(deep=True)
    params.output.pseudonymise = True
    run = Run(rd, params)
    wb = openpyxl.load_workbook(build_segmentation_workbook(run))
    real = set(run.read_data("accounts")["account_name"].astype(str))
    texts = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert not (real & texts)
    assert any(t.startswith("Account 0") for t in texts)


def test_no_segments_fails_naming_the_table_and_its_phase(demo_run, tmp_path):
    """No silent skip: a run without the segmentation's table says which table, which phase, and the fix."""
    rd = tmp_path / "empty"
    shutil.copytree(demo_run.dir, rd, ignore=shutil.ignore_patterns("deliverables", "private"))
    for p in (rd / "tables").glob("segments.*"):
        p.unlink()
    with pytest.raises(RunError, match=r"table 'segments', which phase segmentation did not write.*fix: run"):
        build_segmentation_workbook(Run(rd, demo_run.params))


@pytest.mark.render
def test_workbook_renders_through_libreoffice(built, tmp_path):
    soffice = require_tool("soffice")
    _, path, _ = built
    profile = f"-env:UserInstallation=file://{tmp_path / 'lo_profile'}"  # no clash with other soffice runs
    out = subprocess.run([soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                         capture_output=True, text=True, timeout=240)
    pdf = tmp_path / (path.stem + ".pdf")
    assert pdf.exists() and pdf.stat().st_size > 10_000, out.stderr


def test_returned_workbook_feeds_overrides(built, tmp_path):
    """The client picks a quadrant in 'Your override' and gives a reason; the next run reads them."""
    run, path, _ = built
    wb = openpyxl.load_workbook(path)
    ws = wb["Accounts"]
    headers = {c.value: c.column for c in ws[4]}
    ws.cell(5, headers["Your override"]).value = "Streamline"
    ws.cell(5, headers["Your reason"]).value = "Moving to a distributor next year"
    ws.cell(6, headers["Your override"]).value = "Star"  # no reason given
    returned = tmp_path / "returned.xlsx"
    wb.save(returned)
    ov = overrides.load_overrides(returned)
    assert ov["quadrant"].tolist() == ["Streamline", "Star"]
    assert ov.loc[0, "account_id"] == ws.cell(5, headers["Account ID"]).value
    assert ov.loc[0, "source"] == "workbook returned.xlsx, Accounts row 5"
    seg = run.read_table("segments")[["account_id", "quadrant_model"]]
    with pytest.raises(ParameterError,
                       match=r"1 override\(s\) have no reason \(workbook returned.xlsx, Accounts row 6\)"):
        overrides.apply_overrides(seg, ov, quadrant_names=run.params.segmentation.quadrant_names.ordered())
    out, log = overrides.apply_overrides(seg, ov.iloc[:1], quadrant_names=run.params.segmentation.quadrant_names.ordered())
    assert log["reason"].tolist() == ["Moving to a distributor next year"]


def test_data_quality_sheet_shows_what_the_run_supports(built):
    """The sheet reads the run's one support table (analysis_support), in client words."""
    from kam_analysis.metrics import kpi_label

    _, _, wb = built
    rows = [[c for c in r if c is not None] for r in wb["Data quality"].iter_rows(values_only=True)]
    prof = next(r for r in rows if r and r[0] == "Account profitability and whale curve")
    assert prof[1] == "Not supported" and "no cost to serve per account" in prof
    assert kpi_label("profit_12m") in prof and "The annual cost to serve each account" in prof
    base = next(r for r in rows if r and str(r[0]).startswith("KPI baseline"))
    assert base[1] == "Supported"


def test_data_quality_names_the_inputs_in_client_words_and_clv_counts_are_whole(built):
    """'Orders', not the table name 'transactions'; the CLV fit's account count and horizon read
    196,806 and 36, not 196,806.000 and 36.000."""
    from kam_analysis.present.labels import INPUT_LABELS

    run, _, wb = built
    ws = wb["Data quality"]
    t = ws.tables["RowsLoaded"]
    first, last = int(re.search(r"^[A-Z]+(\d+)", t.ref).group(1)), int(re.search(r":[A-Z]+(\d+)$", t.ref).group(1))
    names = [ws.cell(r, 1).value for r in range(first + 1, last + 1)]
    assert names and set(names) <= set(INPUT_LABELS.values()) and "Orders" in names
    clv = wb["CLV"]
    rows = {r[1].value: r[2] for r in clv.iter_rows(max_col=3) if r[1].value}
    params = run.read_table("clv_params")
    assert "n_accounts" in set(params["parameter"])
    assert rows["Accounts in the fit"].number_format == "#,##0"
    assert rows["Horizon (months)"].number_format == "#,##0"
    assert rows["Annual discount rate"].number_format == "0.0%"
    assert rows["Log-likelihood of the fit"].number_format == "#,##0.000"
