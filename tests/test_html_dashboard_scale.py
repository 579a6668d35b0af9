"""The HTML dashboard at 200,000 accounts: aggregates and top-N lists, not every account.

A small review run is grown to 200,000 accounts (benchmarks/scale_run.py: its one-row-per-
account tables repeated with new ids); the page must stay under 5 MB with every section
populated, count every account on the portfolio matrix, and, in headless Chromium, run
without a JavaScript error and keep the segment filter driving every figure.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from _review_fixtures import build_review_run
from conftest import require_tool

from kam_analysis.data.runfolder import Run
from kam_analysis.deliverables import html_dashboard as hd
from kam_analysis.phases.review import ALL_ACCOUNTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from scale_run import scale_run  # noqa: E402

N = 200_000


@pytest.fixture(scope="module")
def big(demo_run, tmp_path_factory):
    small = build_review_run(demo_run, tmp_path_factory.mktemp("dash_small") / "run")
    run = Run(scale_run(small.dir, tmp_path_factory.mktemp("dash_big") / "run", N), small.params)
    path = hd.build_html_dashboard(run)
    return run, path, hd.collect_dashboard_data(run)


def test_matrix_points_small_is_every_account_and_big_is_bubbles_plus_counted_squares(monkeypatch):
    m = pd.DataFrame({"account_id": [f"A{i}" for i in range(10)], "name": [f"N{i}" for i in range(10)],
                      "segment": ["S1"] * 6 + ["S2"] * 4, "revenue_12m": [float(x) for x in range(10, 0, -1)],
                      "attractiveness": [0.0, 0.99, 1.0, 0.5, 0.51, 0.2, 0.3, 0.9, 0.1, 0.75],
                      "relative_strength": [0.0, 0.99, 1.0, 0.5, 0.49, 0.2, 0.3, 0.9, 0.1, 0.75],
                      "is_key": [False] * 9 + [True]})
    bubbles, squares, counts = hd.matrix_points(m)
    assert len(bubbles) == 10 and squares == [] and counts == {ALL_ACCOUNTS: 10, "S1": 6, "S2": 4}
    monkeypatch.setattr(hd, "MATRIX_POINTS", 4)
    monkeypatch.setattr(hd, "MATRIX_GRID", 2)
    bubbles, squares, counts = hd.matrix_points(m)
    # the two largest overall (A0, A1), the largest of each segment (A0, A6) and the key account A9
    assert sorted(b["name"] for b in bubbles) == ["N0", "N1", "N6", "N9"]
    # the other six counted by square: strength across (i), attractiveness up (j), 1.0 in the top square
    assert sorted((s["segment"], s["i"], s["j"], s["n"]) for s in squares) == [
        ("S1", 0, 0, 1), ("S1", 0, 1, 1), ("S1", 1, 1, 2), ("S2", 0, 0, 1), ("S2", 1, 1, 1)]
    assert sum(s["n"] for s in squares) + len(bubbles) == counts[ALL_ACCOUNTS]


def test_page_at_200k_accounts_is_small_with_every_section(big):
    run, path, data = big
    assert path.stat().st_size <= 5 * 2**20, f"{path.stat().st_size / 2**20:.1f} MB"
    seg = run.read_table("segments").dropna(subset=["attractiveness", "relative_strength"])
    assert len(seg) == N
    # every account is on the matrix: as a bubble or counted in a square, per segment
    assert len(data["matrix"]) <= 2 * hd.MATRIX_POINTS and data["matrix_density"]
    on_matrix = pd.concat([pd.Series([b["segment"] for b in data["matrix"]]),
                           pd.DataFrame(data["matrix_density"]).pipe(lambda d: d.loc[d.index.repeat(d["n"]), "segment"])])
    assert on_matrix.value_counts().to_dict() == seg["quadrant"].value_counts().to_dict()
    assert data["matrix_counts"][ALL_ACCOUNTS] == N
    for key in ("tiles", "trends", "at_risk", "scorecard", "recommendations", "segments"):
        assert data[key], key
    assert len(data["at_risk"]) <= data["at_risk_rows"] * (1 + len(data["segments"]))
    assert data["at_risk_counts"][ALL_ACCOUNTS] > len(data["at_risk"])


@pytest.mark.render
def test_page_at_200k_accounts_in_headless_chromium(big):
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    run, path, data = big
    url = path.resolve().as_uri()
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("#at-risk-table")
            assert errors == []
            # every section drawn (the RangeError used to stop the script before the at-risk list and scorecard)
            for sel in ("#tiles .tile", "#trends svg", "#matrix circle.pt.on", "#matrix rect.sq.on",
                        "#at-risk-table tr[data-segment]", "#scorecard-table tr", "#recs li"):
                assert page.locator(sel).count() > 0, sel
            assert page.locator("#lost").inner_text().strip() and page.locator("#impact").inner_text().strip()
            assert f"{N:,} live accounts shown" in page.locator("#matrix-note").inner_text()
            # the filter drives the matrix (bubbles and squares), the at-risk list, the tiles and the trends
            target = data["segments"][1]
            page.select_option("#segment-filter", target)
            segs = page.locator("#matrix .on").evaluate_all("es => es.map(e => e.dataset.segment)")
            assert segs and set(segs) == {target}
            n_on = sum(int(x) for x in page.locator("#matrix rect.sq.on").evaluate_all("es => es.map(e => e.dataset.n)"))
            assert n_on + page.locator("#matrix circle.pt.on").count() == data["matrix_counts"][target]
            assert f"{data['matrix_counts'][target]:,} live accounts shown" in page.locator("#matrix-note").inner_text()
            rows = page.locator("#at-risk-table tr[data-segment]").evaluate_all("rs => rs.map(r => r.dataset.segment)")
            assert rows and set(rows) == {target}
            assert target in page.locator("#trend-segment").inner_text()
            # each tile names the segment it shows, or says it is the all-accounts figure (retention is
            # never split by today's segments: it would read 100% by construction)
            tiles = page.locator("#tiles .tile").evaluate_all(
                "ts => ts.map(t => [t.dataset.kpi, t.querySelector('.label').innerText])")
            assert tiles and all(label.lower().endswith("all accounts" if kpi in data["all_accounts_only_kpis"]
                                                        else target.lower()) for kpi, label in tiles), tiles
            assert errors == []
        finally:
            browser.close()
