"""One engagement, four deliverables, one set of numbers.

Runs the real engagement on a small demo client and checks that the framework deck, the
segmentation workbook, the Excel KPI dashboard and the HTML dashboard show the numbers
of the run's tables: headline KPIs, key accounts and quadrant sizes.
"""
from __future__ import annotations

import html
import re

import pytest
from openpyxl import load_workbook
from pptx import Presentation

from conftest import write_demo_params
from kam_analysis.config import load_params
from kam_analysis.present.formats import fmt_money, fmt_share
from kam_analysis.data.runfolder import Run
from kam_analysis.runner import run_engagement

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engagement(tmp_path_factory):
    params = write_demo_params(tmp_path_factory.mktemp("consistency"), n_accounts=500, seed=5, name="Consistency Co")
    res = run_engagement(params, progress=None)
    assert res.ok
    d = {rec["name"]: res.run_dir / rec["path"] for rec in res.manifest["deliverables"]}
    assert set(d) == {"segmentation_workbook", "kpi_dashboard", "html_dashboard", "deck"}
    return Run(res.run_dir, load_params(params)), d


def _deck_text(path) -> str:
    prs = Presentation(path)
    parts = []
    for slide in prs.slides:
        for sh in slide.shapes:
            if sh.has_text_frame:
                parts.append(sh.text_frame.text)
            if getattr(sh, "has_table", False) and sh.has_table:
                parts += [c.text for row in sh.table.rows for c in row.cells]
    return "\n".join(parts)


def _xlsx_values(path) -> tuple[set[str], list[float]]:
    wb = load_workbook(path, read_only=True, data_only=True)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    return ({str(c) for c in cells},
            [float(c) for c in cells if isinstance(c, (int, float)) and not isinstance(c, bool)])


def _headline(run: Run) -> dict[str, float]:
    h = run.read_table("kpi_headline")
    return dict(zip(h["kpi"], h["value"]))


def test_deck_headline_numbers_are_the_tables(engagement):
    run, d = engagement
    h = _headline(run)
    text = _deck_text(d["deck"])
    cur = run.params.client.currency
    assert fmt_money(h["revenue_12m"], cur) in text
    assert fmt_share(h["retention_rate"]) in text
    assert fmt_share(h["revenue_growth_yoy"]) in text
    n_key = int(run.read_table("segments")["is_key"].sum())
    assert re.search(rf"\b{n_key}\b key accounts|\b{n_key} accounts selected", text)


def test_kpi_dashboard_tiles_are_the_headline_values(engagement):
    run, d = engagement
    h = _headline(run)
    _, numbers = _xlsx_values(d["kpi_dashboard"])
    for kpi in ("revenue_12m", "retention_rate", "average_order_value", "repeat_purchase_rate"):
        assert any(abs(x - h[kpi]) < 1e-9 * max(1, abs(h[kpi])) for x in numbers), kpi


def test_segmentation_workbook_holds_every_key_account_and_quadrant_size(engagement):
    run, d = engagement
    strings, numbers = _xlsx_values(d["segmentation_workbook"])
    segs = run.read_table("segments")
    names = run.account_display_names()
    key_names = {names[a] for a in segs.loc[segs["is_key"], "account_id"]}
    assert key_names and key_names <= strings
    for q, n in segs["quadrant"].value_counts().items():
        assert float(n) in numbers, f"{q}: {n} accounts"


def test_html_dashboard_shows_the_headline_values(engagement):
    run, d = engagement
    h = _headline(run)
    page = html.unescape(d["html_dashboard"].read_text(encoding="utf-8"))
    m = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    assert m, "the dashboard's data island is missing"
    blob = m.group(1)
    values = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", blob)]
    for kpi in ("retention_rate", "average_order_value", "revenue_growth_yoy"):
        assert any(abs(x - h[kpi]) < 1e-6 * max(1, abs(h[kpi])) for x in values), kpi
