"""Big sheets: rows streamed into the file at save time give the same workbook as openpyxl's cells,
and a portfolio beyond Excel's last row keeps the top accounts and says where the full list is."""
from __future__ import annotations

import datetime as dt
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl import Workbook
from openpyxl.styles import Alignment

from kam_analysis.deliverables import _xlsx_stream
from kam_analysis.deliverables._xlsx import save_workbook, stored_rows, write_frame, write_values
from kam_analysis.deliverables.workbook import build_segmentation_workbook

from test_workbook import _tiny_run


def _cells(ws, max_row=None):
    """Every cell's value, type and look (number format, alignment, font, fill) by coordinate."""
    out = {}
    for row in ws.iter_rows(max_row=max_row):
        for c in row:
            if c.value is None and not c.has_style:
                continue
            out[c.coordinate] = (c.value, c.data_type, c.number_format, c.alignment.horizontal,
                                 c.font.name, c.font.b, c.fill.fgColor.rgb)
    return out


def _same(a: dict, b: dict) -> None:
    """Equal cell by cell; numbers to 1e-14 (openpyxl writes floats to 16 digits, the streamed
    rows the exact shortest repr)."""
    assert a.keys() == b.keys(), sorted(a.keys() ^ b.keys())[:6]
    for k in a:
        if isinstance(a[k][0], float) and isinstance(b[k][0], float):
            assert a[k][0] == pytest.approx(b[k][0], rel=1e-14, abs=1e-300) and a[k][1:] == b[k][1:], (k, a[k], b[k])
        else:
            assert a[k] == b[k], (k, a[k], b[k])


def _mixed_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=n)
    x[::5] = np.nan
    x[7] = np.inf
    return pd.DataFrame({
        "id": [f"A{i:04d}" for i in range(n)],
        "text": ["=HYPERLINK(\"x\")", " lead space", "a\x01b & <c>", None, "+1\r\nx\ry", "Ünïcode · €"] * (n // 6)
                + ["x"] * (n % 6),
        "value": x, "count": np.arange(n, dtype=np.int64), "flag": [bool(i % 2) for i in range(n)],
        "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        "share": rng.uniform(size=n),
        "maybe": pd.array([True, None, False] * (n // 3) + [None] * (n % 3), dtype="boolean"),
        "whole": pd.array([1, None, 3] * (n // 3) + [None] * (n % 3), dtype="Int64"),
    })


def _build(tmp_path, name: str, frame: pd.DataFrame, *, center_col: int) -> openpyxl.Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "Big"
    last, _ = write_frame(ws, frame, start_row=3, formats={"value": "dec2", "count": "int", "when": "date",
                                                          "share": "pct", "id": "text"}, table="Big", stream=True)
    for r in stored_rows(ws, 4, last):  # a per-row style, as the Accounts sheet sets one
        ws.cell(r, center_col).alignment = Alignment(horizontal="center")
    grid = pd.DataFrame(np.where(np.arange(len(frame))[:, None] < [len(frame), len(frame) // 2],
                                 np.round(frame[["share", "share"]].to_numpy(), 4), np.nan))
    write_values(wb.create_sheet("Points"), grid, start_row=2, number_format="0.000")
    path = tmp_path / f"{name}.xlsx"
    save_workbook(wb, path, when=dt.date(2025, 6, 30))
    return path


def test_streamed_rows_equal_openpyxl_cells(tmp_path, monkeypatch):
    frame = _mixed_frame(60)
    whole = _build(tmp_path, "whole", frame, center_col=5)
    monkeypatch.setattr(_xlsx_stream, "MATERIALISED_ROWS", 7)
    streamed = _build(tmp_path, "streamed", frame, center_col=5)
    with zipfile.ZipFile(streamed) as z:  # the tail really was streamed: inline strings, no openpyxl cells
        assert 'r="A63"' in z.read("xl/worksheets/sheet1.xml").decode()
    a, b = openpyxl.load_workbook(whole), openpyxl.load_workbook(streamed)
    for sheet in ("Big", "Points"):
        _same(_cells(b[sheet]), _cells(a[sheet]))
    ws = b["Big"]
    assert ws.tables["Big"].ref == "A3:I63" and ws.max_row == 63
    # streamed rows (from row 11): text never a formula, control characters gone, spaces kept
    assert ws["B16"].value == '=HYPERLINK("x")' and ws["B16"].data_type == "s"
    assert ws["B18"].value == "ab & <c>" and ws["B17"].value == " lead space" and ws["B20"].value == "+1\r\nx\ry"
    assert ws["C11"].value is None and ws["C11"].number_format == "0.00"  # inf: an empty cell, formatted
    assert ws["F11"].value == dt.datetime(2024, 1, 8) and ws["E12"].value is False
    assert (ws["H13"].value, ws["H14"].value, ws["I13"].value, ws["I14"].value) == (True, None, 1, None)
    assert ws["E63"].alignment.horizontal == "center"  # the template row's per-row style reaches the tail


def test_rows_beyond_excel_are_refused(monkeypatch):
    monkeypatch.setattr(_xlsx_stream, "MATERIALISED_ROWS", 2)
    monkeypatch.setattr(_xlsx_stream, "EXCEL_MAX_ROWS", 10)
    with pytest.raises(ValueError, match="beyond Excel's 10 rows"):
        write_frame(Workbook().active, pd.DataFrame({"a": range(20)}), start_row=1, stream=True)


@pytest.fixture(scope="module")
def tiny(demo_run, tmp_path_factory):
    return _tiny_run(demo_run, tmp_path_factory.mktemp("wbscale"))


def test_segmentation_workbook_streamed_is_the_same_workbook(tiny, tmp_path, monkeypatch):
    whole = openpyxl.load_workbook(build_segmentation_workbook(tiny))
    monkeypatch.setattr(_xlsx_stream, "MATERIALISED_ROWS", 25)
    streamed = openpyxl.load_workbook(build_segmentation_workbook(tiny))
    n = len(tiny.read_table("segments"))
    assert n > 100
    assert streamed.sheetnames == whole.sheetnames
    for sheet in whole.sheetnames:  # every sheet: the Accounts and chart-data tails streamed, the others as they were
        _same(_cells(streamed[sheet]), _cells(whole[sheet]))
        a, b = whole[sheet], streamed[sheet]
        assert (b.max_row, b.freeze_panes, b.print_title_rows, b.print_title_cols, b.page_setup.paperSize) == (
            a.max_row, a.freeze_panes, a.print_title_rows, a.print_title_cols, a.page_setup.paperSize)
        assert {t.name: t.ref for t in b.tables.values()} == {t.name: t.ref for t in a.tables.values()}
        assert [str(r.sqref) for r in b.conditional_formatting] == [str(r.sqref) for r in a.conditional_formatting]
        assert [str(r.sqref) for r in b.data_validations.dataValidation] == [
            str(r.sqref) for r in a.data_validations.dataValidation]
        # (column widths are measured on the rows openpyxl holds: 2,000 normally, 25 here)
    acc = streamed["Accounts"]
    assert acc.max_row == 4 + n and acc.tables["Accounts"].ref.endswith(str(4 + n)) and acc.freeze_panes == "C5"


def test_beyond_excel_rows_the_top_accounts_and_a_full_csv(tiny, monkeypatch):
    monkeypatch.setattr(_xlsx_stream, "MATERIALISED_ROWS", 20)
    monkeypatch.setattr(_xlsx_stream, "EXCEL_MAX_ROWS", 104)  # room for 100 accounts under the title and header
    seg = tiny.read_table("segments")
    path = build_segmentation_workbook(tiny)
    wb = openpyxl.load_workbook(path)
    ws = wb["Accounts"]
    assert ws.max_row == 104 and ws.tables["Accounts"].ref.endswith("104")
    top = seg.sort_values("selection_rank", kind="stable").head(100)["account_id"].astype(str).tolist()
    assert [ws.cell(r, 1).value for r in range(5, 105)] == top
    csv = path.parent / f"{tiny.params.slug}_accounts.csv"
    full = pd.read_csv(csv, dtype={"Account ID": str})
    assert len(full) == len(seg) > 100 and "Your override" not in full and "Rank" in full
    assert full["Account ID"].tolist()[:100] == top
    for where in (ws["A2"].value, " ".join(str(c.value) for c in wb["README"]["A"] if c.value)):
        assert f"100 accounts with the best selection score of {len(seg):,}" in where
        assert f"the full list of {len(seg):,} accounts, with the same columns, is delivered as a data file" in where
        assert csv.name not in where and ".csv" not in where  # no file names on a client page
    # the points of the hidden chart sheet stop at Excel's last row too
    assert wb["Chart data"].max_row <= 104


def test_a_set_workbook_size_keeps_the_top_accounts_and_says_why(tiny, tmp_path):
    """output.workbook_accounts below the client's account count: the Accounts sheet keeps the
    best-scored ones, the full list goes to the data file, and the sheet says why in client words
    (the workbook's size, not Excel's row limit)."""
    from kam_analysis.data.runfolder import Run

    seg = tiny.read_table("segments")
    assert len(seg) > 100
    import shutil

    shutil.copytree(tiny.dir, tmp_path / "run", dirs_exist_ok=True)
    p = tiny.params.model_copy(update={"output": tiny.params.output.model_copy(update={"workbook_accounts": 100})})
    run = Run(tmp_path / "run", p)
    path = build_segmentation_workbook(run)
    wb = openpyxl.load_workbook(path)
    ws = wb["Accounts"]
    assert ws.max_row == 104
    top = seg.sort_values("selection_rank", kind="stable").head(100)["account_id"].astype(str).tolist()
    assert [ws.cell(r, 1).value for r in range(5, 105)] == top
    full = pd.read_csv(path.parent / f"{p.slug}_accounts.csv", dtype={"Account ID": str})
    assert len(full) == len(seg)
    for where in (ws["A2"].value, " ".join(str(c.value) for c in wb["README"]["A"] if c.value)):
        assert "the workbook keeps the best-scored accounts so it opens quickly and can be sent" in where
        assert "Excel sheet holds" not in where


@pytest.mark.render
def test_libreoffice_reads_the_streamed_rows(tiny, tmp_path, monkeypatch):
    import subprocess

    from conftest import require_tool

    soffice, pdftotext = require_tool("soffice"), require_tool("pdftotext")
    monkeypatch.setattr(_xlsx_stream, "MATERIALISED_ROWS", 25)
    path = build_segmentation_workbook(tiny)
    profile = f"-env:UserInstallation=file://{tmp_path / 'lo_profile'}"  # no clash with other soffice runs
    out = subprocess.run([soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                         capture_output=True, text=True, timeout=240)
    pdf = tmp_path / (path.stem + ".pdf")
    assert pdf.exists(), out.stderr
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=120).stdout
    wb = openpyxl.load_workbook(path)
    ws = wb["Accounts"]
    last = ws.max_row
    assert last > 4 + 25 + 50
    # accounts from the streamed tail, with the rank in the sheet's number format
    rank_col = [c.value for c in ws[4]].index("Rank") + 1
    ranked = 0
    for r in (4 + 26, 4 + 27, last - 1, last):
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(str(ws.cell(r, 1).value) + " ")), "")
        assert line, ws.cell(r, 1).value
        rank = ws.cell(r, rank_col).value
        if isinstance(rank, (int, float)):
            assert f" {rank:,.0f} " in line, line
            ranked += 1
    assert ranked >= 2


def test_a_large_quadrant_charts_its_largest_accounts_and_says_of_how_many(tiny, monkeypatch):
    """At 200,000 accounts the matrix chart drew 121,276 points as four solid blocks: a quadrant
    beyond the limit shows its largest accounts by revenue, and the sheet says so, of how many."""
    from kam_analysis.deliverables import _matrix_chart

    monkeypatch.setattr(_matrix_chart, "MATRIX_CHART_POINTS", 10)
    seg = tiny.read_table("segments")
    names = tiny.params.segmentation.quadrant_names.ordered()
    on = seg.dropna(subset=["relative_strength", "attractiveness"])
    on = on[on["quadrant"].isin(names)]
    assert on.groupby("quadrant").size().min() > 10  # every quadrant is cut
    wb = openpyxl.load_workbook(build_segmentation_workbook(tiny))
    data = wb["Chart data"]
    for k, q in enumerate(names):
        top = on[on["quadrant"] == q].sort_values(["revenue_12m", "account_id"], ascending=[False, True]).head(10)
        got = [(data.cell(r, 1 + 2 * k).value, data.cell(r, 2 + 2 * k).value) for r in range(3, 13)]
        assert got == [(round(x, 4), round(y, 4)) for x, y in zip(top["relative_strength"], top["attractiveness"])], q
        assert data.cell(13, 1 + 2 * k).value is None
    assert all(c.value is None for row in data.iter_rows(min_row=13) for c in row)
    notes = " ".join(str(c.value) for row in wb["Portfolio matrix"].iter_rows() for c in row if c.value)
    assert f"the 10 largest accounts of each quadrant by revenue (40 of {len(on):,})" in notes
    assert "every account is on the Accounts sheet" in notes
