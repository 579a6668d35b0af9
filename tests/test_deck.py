"""The framework deck: storyline from the tables present, template swap, consistency with the run's tables.

The phase tables other than the spine are written here as tiny hand-made frames that follow
docs/tables.md, so every slide type is exercised before the phases that write them exist.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pptx import Presentation
from pptx.util import Emu

from conftest import REPO, require_tool, write_demo_params
from kam_analysis.phases import assessment, review, segmentation, strategy
from kam_analysis import metrics
from kam_analysis import open_run
from kam_analysis.config import load_params
from kam_analysis.deliverables._pptx import fit_font_size
from kam_analysis.deliverables.deck import build_deck
from kam_analysis.present.formats import fmt_money, fmt_share, fmt_value
from kam_analysis.exceptions import ParameterError, RunError
from kam_analysis.data.runfolder import Run

ALT = REPO / "tests" / "data" / "alt_template.pptx"


CONTEXT = {
    "five_forces": {
        "rivalry": {"rating": "high", "note": "Many online boutiques compete on price for the same trade buyers"},
        "buyer_power": {"rating": 4, "note": "Department stores negotiate annual terms"},
        "supplier_power": {"rating": "low", "note": "Ateliers depend on the client's volume"},
        "new_entrants": {"rating": "medium", "note": "Marketplaces lower the entry cost"},
        "substitutes": {"rating": 2, "note": ""},
    },
    "pest": {"political": ["Post-Brexit customs friction for UK trade accounts"],
             "economic": ["Hospitality capex recovering", "Luxury demand softening in DACH"],
             "social": ["Shift to curated, sustainable interiors"],
             "technological": ["B2B e-commerce portals expected by trade buyers", "PIM and EDI integration"]},
    "most": {"mission": "Be the preferred home and lifestyle partner for Europe's leading boutiques and hotels",
             "objectives": ["Grow key-account revenue 15% a year", "Retain 90% of key accounts"],
             "strategies": ["Dedicated KAMs for strategic accounts", "Joint business plans"],
             "tactics": ["Quarterly business reviews", "Trade portal with reorder lists", "Hotel fit-out bundles"]},
    "gaps": [{"area": "Account planning", "current": "Ad hoc, in managers' heads",
              "desired": "Written plans for every key account", "action": "Plan template and quarterly review"},
             {"area": "Customer insight", "current": "NPS only", "desired": "Share-of-wallet estimates",
              "action": "Add wallet sizing to the QBR"}],
    "strengths": ["Loyal trade base with long tenure", "Strong brand in hospitality",
                  "=HYPERLINK(\"http://evil\") stays text\x07 with a control char"],
}


# ------------------------------------------------------------------------------- fixtures
def _spine_tables(run: Run) -> None:
    """The tables the spine notebooks write (same calls as notebooks/0*.ipynb)."""
    p = run.params
    summary = run.read_table("account_summary")
    run.write_table("kpi_by_period", metrics.compute_period_kpis(run.read_table("account_period")))
    inputs = assessment.load_inputs(run)
    account_kpis = metrics.compute_account_kpis(inputs["orders"], as_of=p.analysis.as_of_date,
                                             churn_days=p.analysis.churn_days, accounts=inputs["accounts"],
                                             surveys=inputs["surveys"])
    headline = metrics.compute_headline_kpis(account_kpis)
    run.write_table("kpi_headline", headline)
    tiers = segmentation.compute_value_tiers(summary, tiers=p.segmentation.tiers)
    matrix = segmentation.compute_portfolio_quadrants(summary, names=p.segmentation.quadrant_names,
                                                      key_account_share=p.segmentation.key_account_share)
    # the segmentation phase always writes RFM, CLV and stability; the deck may count on them
    segs = matrix.merge(tiers, on="account_id").assign(rfm_segment="Loyal", stability=1.0)
    segs["clv"] = segs["revenue_12m"] * 2.0
    run.write_table("segments", segs)
    ts = segs.groupby("tier", observed=True).agg(accounts=("account_id", "size"),
                                                 revenue_12m=("revenue_12m", "sum")).reset_index()
    ts["revenue_share"] = ts["revenue_12m"] / ts["revenue_12m"].sum()
    run.write_table("tier_summary", ts)
    plan = strategy.compute_segment_playbook(segs, summary, strategy.load_playbooks(
        p.strategy.playbooks, segments=p.segmentation.quadrant_names.ordered(),
        inactive=p.segmentation.key_accounts.tier_names.inactive))
    run.write_table("segment_playbook", plan)
    rag = p.thresholds.rag
    run.write_table("kpi_vs_target", review.compute_kpi_vs_target(headline, p.targets, amber=rag.amber, red=rag.red))


def _phase_tables(run: Run) -> None:
    """Tiny hand-made tables for every other contract table (docs/tables.md)."""
    segs = run.read_table("segments")
    ids = segs.sort_values("revenue_12m", ascending=False)["account_id"].tolist()
    n = len(segs)
    rng = np.random.default_rng(0)
    w = run.write_table
    w("benchmark_gaps", pd.DataFrame({
        "kpi": ["retention_rate", "average_order_value", "nps"], "label": ["Account retention", "Average order value", "NPS"],
        "unit": ["share", "currency", "score"], "current": [0.80, 977.0, 31.0], "benchmark": [0.82, 700.0, 35.0],
        "target": [0.85, 450.0, 40.0], "gap_to_benchmark": [-0.02, 277.0, -4.0], "gap_to_target": [-0.05, 527.0, -9.0],
        "status": ["amber", "green", "red"]}))
    share = np.linspace(0.01, 1, 100)
    w("concentration_curve", pd.DataFrame({"account_share": share, "revenue_share": 1 - (1 - share) ** 6}))
    w("concentration_summary", pd.DataFrame({"metric": ["top10_share", "top20_share", "gini", "hhi"],
                                             "value": [0.4686, 0.7379, 0.71, 0.012]}))
    w("whale_curve", pd.DataFrame({"account_share": share, "cumulative_profit": 1e6 * (1.6 * share - share ** 2 * 0.9)}))
    w("cohort_retention", pd.DataFrame([{"cohort": pd.Timestamp(2024, m, 1), "period_index": k, "accounts": 50,
                                         "retention": 1.0 if k == 0 else round(0.8 * 0.93 ** k, 3)}
                                        for m in (1, 4, 7, 10) for k in range(0, 6)]))
    w("capability_maturity", pd.DataFrame({"dimension": ["Account selection", "Account planning", "Customer insight",
                                                         "KAM roles & skills", "Performance measurement"],
                                           "score": [2.5, 2.0, 3.0, 2.5, 1.5], "target": [4.0, 4.0, 4.0, 4.0, 4.0],
                                           "gap": [1.5, 2.0, 1.0, 1.5, 2.5]}))
    segs = segs.assign(rfm_segment=rng.choice(["Champions", "Loyal", "At risk", "Hibernating"], n),
                       cluster=rng.integers(0, 4, n), clv=segs["revenue_12m"] * 2.5, p_alive=rng.uniform(0.3, 1, n),
                       stability=np.where(rng.uniform(size=n) < 0.8, 1.0, rng.uniform(0.4, 0.95, n)))
    w("segments", segs)
    q = segs.groupby("quadrant").agg(accounts=("account_id", "size"), revenue_12m=("revenue_12m", "sum")).reset_index()
    q["revenue_share"] = q["revenue_12m"] / q["revenue_12m"].sum()
    w("segment_profiles", q.rename(columns={"quadrant": "segment"}).assign(
        profit_share=q["revenue_share"], intent=["Invest to grow", "Develop", "Maintain", "Serve efficiently", "Win back"][: len(q)]))
    w("clv_params", pd.DataFrame({"model": ["bgnbd"] * 4, "parameter": ["r", "alpha", "a", "b"],
                                  "value": [0.243, 4.414, 0.793, 2.426]}))
    w("coverage_by_segment", pd.DataFrame({"segment": ["Strategic", "Star", "Status"], "accounts": [60, 90, 150],
                                           "covered": [60, 70, 40], "hours_needed": [2400, 1800, 900],
                                           "hours_allocated": [2400, 1400, 300], "value_at_stake": [0, 250000.0, 80000.0]}))
    w("churn_drivers", pd.DataFrame({"feature": ["detractor", "recency_days", "n_categories", "tenure_days"],
                                     "odds_ratio": [3.1, 1.8, 0.7, 0.95], "ci_low": [2.2, 1.4, 0.55, 0.8],
                                     "ci_high": [4.3, 2.3, 0.9, 1.1], "p_value": [0.0001, 0.001, 0.01, 0.5],
                                     "interpretation": ["Detractors are 3.1 times as likely to churn",
                                                        "Longer since last order raises churn odds",
                                                        "Broader buyers churn less", "Tenure has no clear effect"]}))
    w("churn_risk", pd.DataFrame({"account_id": ids[:30], "risk_score": np.linspace(0.9, 0.1, 30),
                                  "risk_band": ["high"] * 10 + ["medium"] * 10 + ["low"] * 10,
                                  "revenue_at_risk": np.linspace(40000, 1000, 30)}))
    an = run.params.analysis  # revenue already lost: the metric itself on the demo's orders
    orders = metrics.OrderSource.from_run(run)
    lapsed = metrics.compute_lost_accounts(orders, as_of=an.as_of_date, churn_days=an.churn_days, segments=segs)
    w("lost_accounts", lapsed)
    w("revenue_lost", metrics.compute_revenue_lost(lapsed, as_of=an.as_of_date, churn_days=an.churn_days,
                                                   data_start=orders.date_range()[0]))
    w("whitespace", pd.DataFrame({"account_id": ids[:14], "category": ["Footwear", "Fragrance"] * 7,
                                  "expected_value": np.linspace(30000, 4000, 14)}))
    _whitespace_heatmap(run)
    w("impact_scenarios", pd.DataFrame({"scenario": ["low", "base", "high"], "revenue_impact": [300000.0, 650000.0, 1.1e6],
                                        "profit_impact": [120000.0, 260000.0, 450000.0]}))
    w("account_plans", pd.DataFrame({"account_id": ids[:8], "revenue_12m": np.linspace(180000, 90000, 8),
                                     "objective": ["Grow share of wallet in footwear"] * 8,
                                     "actions": ["QBR in Q1; joint range review; trade portal onboarding"] * 8,
                                     "owner": ["Amelia Hart", "Jonas Weber"] * 4}))
    # the review phase estimates on log revenue and reports the uplift exp(beta) - 1 beside it
    w("programme_impact", pd.DataFrame({"supported": [True], "estimate": [np.log1p(0.139)],
                                        "ci_low": [np.log1p(0.081)], "ci_high": [np.log1p(0.197)],
                                        "uplift": [0.139], "uplift_ci_low": [0.081], "uplift_ci_high": [0.197],
                                        "confidence": [0.95], "parallel_trends": [True],
                                        "p_value": [0.0004], "sentence": [
                                            "Key accounts grew 13.9% more than comparable accounts after the programme "
                                            "started (95% CI 8.1% to 19.7%)."]}))
    w("segment_migration", pd.DataFrame({"from_segment": ["Strategic", "Strategic", "Star", "Star", "Status", "Streamline"],
                                         "to_segment": ["Strategic", "Star", "Star", "Strategic", "Status", "Streamline"],
                                         "accounts": [50, 8, 70, 12, 90, 160], "revenue": [1e6, 5e4, 4e5, 9e4, 1e5, 2e4]}))
    w("recommendations", pd.DataFrame({"rank": [1, 2, 3], "recommendation": [
        "Cover the 20 uncovered Star accounts with the pooled team", "Run a footwear cross-sell campaign for key accounts",
        "Win back detractor key accounts with executive sponsorship"],
        "evidence": ["coverage_by_segment: €250k value at stake", "whitespace: €240k expected value",
                     "churn_drivers: detractor odds ratio 3.1"], "value": [250000.0, 240000.0, 180000.0]}))


def _whitespace_heatmap(run: Run) -> None:
    """A seaborn heat map saved the way the strategy phase saves its figures (figures/whitespace_heatmap.png)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ws = run.read_table("whitespace")
    mat = ws.pivot_table(index="account_id", columns="category", values="expected_value", aggfunc="sum").fillna(0)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    sns.heatmap(mat, cmap="Blues", ax=ax, cbar_kws={"label": "Expected value (EUR)"})
    ax.set_title("Cross-sell whitespace: expected value by account and category")
    run.save_figure(fig, "whitespace_heatmap", dpi=200)
    plt.close(fig)


def _copy_run(src: Run, dst: Path, params) -> Run:
    shutil.copytree(src.dir, dst, dirs_exist_ok=True)
    return Run(dst, params)


@pytest.fixture(scope="module")
def full_run(demo_run, tmp_path_factory):
    """The demo run with the spine tables, every other contract table and consultant context."""
    tmp = tmp_path_factory.mktemp("deckfull")
    params = load_params(write_demo_params(tmp, extra={"context": CONTEXT}))
    run = _copy_run(demo_run, tmp / "run", params)
    _spine_tables(run)
    _phase_tables(run)
    return run


@pytest.fixture(scope="module")
def full_deck(full_run):
    return build_deck(full_run)


def _slides(path):
    prs = Presentation(str(path))
    return prs, list(prs.slides)


def _texts(slide) -> list[str]:
    out = []
    for sh in slide.shapes:
        if sh.has_text_frame:
            out.append(sh.text_frame.text)
        if sh.has_table:
            out += [c.text for r in sh.table.rows for c in r.cells]
    return out


def _title(slide) -> str:
    t = slide.shapes.title
    return t.text_frame.text if t is not None else ""


# ------------------------------------------------------------------------------- storyline
SECTION_ORDER = ["The KAM framework", "Market and organisational context", "Assessment & benchmarking",
                 "Segmentation", "Strategy & operating model", "Review & optimisation", "Next steps", "Appendix"]


def test_full_storyline_in_order_with_native_charts(full_deck):
    prs, slides = _slides(full_deck)
    layouts = [s.slide_layout.name for s in slides]
    sections = [_title(s) for s, lay in zip(slides, layouts) if lay == "Section"]
    assert sections == SECTION_ORDER
    assert layouts[0] == "Title" and _title(slides[1]) == "Agenda"
    titles = [_title(s) for s in slides]
    # context titles are messages from the content, not counts
    for expected in ("strongest forces", "External environment: economic",
                     "aims to grow key-account revenue 15% a year and retain 90% of key accounts",
                     "Account planning is the gap to close first: ad hoc, in managers' heads today",
                     "build on loyal trade base with long tenure and strong brand in hospitality", "already lost to"):
        assert any(expected.lower() in t.lower() for t in titles), expected
    kinds = {str(sh.chart.chart_type).split(".")[-1].split(" ")[0] for s in slides for sh in s.shapes if sh.has_chart}
    assert {"BUBBLE", "RADAR_MARKERS", "COLUMN_CLUSTERED", "BAR_CLUSTERED", "XY_SCATTER_LINES_NO_MARKERS"} <= kinds
    # every content slide has an action title, a number, and something on it besides the title
    for s, lay in zip(slides, layouts):
        if lay in ("Title", "Section"):
            continue
        assert _title(s).strip(), f"slide {slides.index(s) + 1} has no title"
        others = [sh for sh in s.shapes if sh != s.shapes.title and not (sh.is_placeholder and "Slide Number" in sh.name)
                  and sh.name != "Source"]
        assert len(others) >= 1, f"slide {slides.index(s) + 1} ({_title(s)}) is empty"
    # analytic slides carry a source line and speaker notes
    analytic = [s for s, lay in zip(slides, layouts) if lay in ("Chart", "Table", "Key Numbers")]
    for s in analytic:
        assert any(t.startswith(("Source:", "Note:")) for t in _texts(s)), _title(s)
        assert s.has_notes_slide and s.notes_slide.notes_text_frame.text.strip(), _title(s)


def test_core_properties_from_the_run_not_the_clock(full_run, full_deck):
    prs = Presentation(str(full_deck))
    as_of = full_run.params.analysis.as_of_date
    assert prs.core_properties.created.date() == as_of
    assert prs.core_properties.modified.date() == as_of


def test_no_nan_in_chart_data_and_client_text_is_clean(full_deck):
    prs, slides = _slides(full_deck)
    for s in slides:
        for sh in s.shapes:
            if sh.has_chart:
                for plot in sh.chart.plots:
                    for series in plot.series:
                        assert all(v is None or np.isfinite(v) for v in series.values)
                xml = sh.chart.part.blob.decode("utf-8")
                assert "NaN" not in xml and ">nan<" not in xml
        for t in _texts(s):
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", t)
    strengths = [t for s in slides for t in _texts(s) if "HYPERLINK" in t]
    assert strengths and all("\x07" not in t for t in strengths)


def test_shapes_stay_on_the_slide_and_titles_fit(full_deck):
    prs, slides = _slides(full_deck)
    W, H = prs.slide_width, prs.slide_height
    for i, s in enumerate(slides, 1):
        for sh in s.shapes:
            if sh.left is None:
                continue
            assert sh.left >= 0 and sh.top >= 0, (i, sh.name)
            assert sh.left + sh.width <= W + Emu(10) and sh.top + sh.height <= H + Emu(10), (i, sh.name)
        t = s.shapes.title
        if t is not None and t.text_frame.text:
            runs = t.text_frame.paragraphs[0].runs
            size = runs[0].font.size.pt if runs and runs[0].font.size else 24
            lay_title = next(p for p in s.slide_layout.placeholders if p.name == "Title")
            assert fit_font_size([t.text_frame.text], lay_title.width, lay_title.height, max_pt=size,
                                 min_pt=size, char_w=0.5, line_spacing=1.15) == size


# ------------------------------------------------------------------------------- consistency
def _chart_values(slides, title_part: str) -> dict[str, list]:
    for s in slides:
        if title_part.lower() in _title(s).lower():
            for sh in s.shapes:
                if sh.has_chart:
                    return {ser.name: list(ser.values) for ser in sh.chart.plots[0].series}
    raise AssertionError(f"no chart slide titled like {title_part!r}")


def test_headline_numbers_equal_the_run_tables(full_run, full_deck):
    prs, slides = _slides(full_deck)
    cur = full_run.params.client.currency
    all_text = "\n".join(t for s in slides for t in _texts(s))
    head = full_run.read_table("kpi_headline").set_index("kpi")
    # key-number tiles: the formatted table values
    kn = next(s for s in slides if s.slide_layout.name == "Key Numbers")
    tile_text = "\n".join(_texts(kn))
    for kpi in ("revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate", "average_order_value"):
        assert fmt_value(head.loc[kpi, "value"], head.loc[kpi, "unit"], cur) in tile_text, kpi
    # executive summary: revenue, key-account count and its revenue share
    assert "decision" in _title(slides[2]).lower()  # the summary opens with the decisions
    ex = "\n".join(_texts(slides[3]))
    assert fmt_money(head.loc["revenue_12m", "value"], cur) in ex
    segs = full_run.read_table("segments")
    key = segs[segs["is_key"]]
    assert f"{len(key):,}" in ex
    assert fmt_share(key["revenue_12m"].sum() / segs["revenue_12m"].sum()) in ex
    # native chart data equal the tables exactly
    kbp = full_run.read_table("kpi_by_period").sort_values("period_start").tail(16)
    assert _chart_values(slides, "year on year")["Net revenue"] == pytest.approx(kbp["revenue"].tolist())
    cap = full_run.read_table("capability_maturity")
    assert _chart_values(slides, "capability gap")["Current score"] == pytest.approx(cap["score"].tolist())
    imp = full_run.read_table("impact_scenarios")
    assert _chart_values(slides, "base case")["Revenue impact"] == pytest.approx(imp["revenue_impact"].tolist())
    # scorecard table from benchmark_gaps, RAG status per KPI
    bg = full_run.read_table("benchmark_gaps")
    for _, r in bg.iterrows():
        assert fmt_value(r["current"], r["unit"], cur) in all_text
        assert fmt_value(r["benchmark"], r["unit"], cur) in all_text
    # concentration and programme impact
    assert "73.8%" in all_text  # top20_share 0.7379 from concentration_summary
    assert "+13.9%" in all_text and "+8.1% to +19.7%" in all_text


# Deck vs segmentation workbook vs dashboards on a real run: tests/test_consistency.py


def test_content_stays_between_title_and_source_line(full_deck):
    """No drawn shape overlaps the title area or the source line of its layout."""
    prs, slides = _slides(full_deck)
    for i, s in enumerate(slides, 1):
        lay = {p.name: p for p in s.slide_layout.placeholders}
        if s.slide_layout.name in ("Title", "Section") or "Title" not in lay or "Source" not in lay:
            continue
        top = lay["Title"].top + lay["Title"].height
        bottom = lay["Source"].top
        for sh in s.shapes:
            if sh.is_placeholder:
                continue
            assert sh.top >= top and sh.top + sh.height <= bottom + Emu(2), (i, _title(s), sh.name)


def test_pseudonymised_deck_shows_no_real_account_names(full_run, tmp_path):
    params = full_run.params.model_copy(deep=True)
    params.output.pseudonymise = True
    run = _copy_run(full_run, tmp_path / "pseudo", params)
    _, slides = _slides(build_deck(run))
    text = "\n".join(t for s in slides for t in _texts(s))
    real = set(run.read_data("accounts")["account_name"].dropna())
    assert "Account 0" in text
    assert not any(name in text for name in real if len(name) > 6)


# ------------------------------------------------------------------------------- template swap
def test_second_template_builds_the_same_storyline(full_run, full_deck, tmp_path):
    alt_run = _copy_run(full_run, tmp_path / "alt", full_run.params)
    alt = build_deck(alt_run, template=ALT, filename="alt.pptx")
    _, a = _slides(full_deck)
    _, b = _slides(alt)
    assert [(s.slide_layout.name, _title(s)) for s in a] == [(s.slide_layout.name, _title(s)) for s in b]
    # a different look: the title placeholders sit elsewhere
    ta = next(p for p in a[3].slide_layout.placeholders if p.name == "Title")
    tb = next(p for p in b[3].slide_layout.placeholders if p.name == "Title")
    assert (ta.top, ta.height) != (tb.top, tb.height)


def test_template_without_a_required_layout_is_a_clear_error(full_run, tmp_path):
    prs = Presentation(str(REPO / "templates" / "kam_template.pptx"))
    chart = next(lay for lay in prs.slide_layouts if lay.name == "Chart")
    chart._element.cSld.set("name", "Graph")
    bad = tmp_path / "bad.pptx"
    prs.save(bad)
    with pytest.raises(ParameterError, match="no layout named 'Chart'.*fix: rename"):
        build_deck(full_run, template=bad)
    with pytest.raises(ParameterError, match="not found"):
        build_deck(full_run, template=tmp_path / "missing.pptx")


# ------------------------------------------------------------------------------- spine-only and thin data
def test_spine_only_run_skips_absent_sections_without_empty_slides(demo_run, tmp_path):
    params = load_params(write_demo_params(tmp_path, extra={"context": {}}))
    run = _copy_run(demo_run, tmp_path / "run", params)
    _spine_tables(run)
    _, slides = _slides(build_deck(run))
    titles = [_title(s) for s in slides]
    assert "Market and organisational context" not in titles  # no context in params
    assert not any("capability gap" in t for t in titles)
    assert "Analyses not included in this deck" in " ".join(titles)


def test_transactions_only_run_says_what_the_data_cannot_support(tmp_path):
    raw = yaml.safe_load((REPO / "params" / "demo.yaml").read_text())
    src = tmp_path / "data"
    raw["data"] = {"demo": {"seed": 3, "n_accounts": 200},
                   "transactions": {**raw["data"]["transactions"], "path": str(src / "orders.csv")},
                   "accounts": {**raw["data"]["accounts"], "path": str(src / "customers.csv")},
                   "surveys": {**raw["data"]["surveys"], "path": str(src / "nps_survey.csv")},
                   "capability": {**raw["data"]["capability"], "path": str(src / "kam_capability.csv")}}
    raw["output"] = {"root": str(tmp_path / "outputs")}
    gen = tmp_path / "gen.yaml"
    gen.write_text(yaml.safe_dump(raw))
    load_params(gen)
    from kam_analysis.data.prepare import ensure_demo_data

    ensure_demo_data(load_params(gen))  # writes the demo files
    orders = pd.read_csv(src / "orders.csv").drop(columns=["Gross Margin (EUR)"])
    orders.to_csv(src / "orders_only.csv", index=False)
    cols = {k: v for k, v in raw["data"]["transactions"]["columns"].items() if k != "gross_margin"}
    raw["data"] = {"transactions": {"path": str(src / "orders_only.csv"), "columns": cols}}
    raw.pop("context", None)
    p = tmp_path / "tx_only.yaml"
    p.write_text(yaml.safe_dump(raw))
    run = open_run(p, tmp_path / "run")
    _spine_tables(run)
    _, slides = _slides(build_deck(run))
    text = "\n".join(t for s in slides for t in _texts(s))
    titles = [_title(s) for s in slides]
    # the data-limits page is a data request: what to send, and what it unlocks
    limits = [s for s in slides if "data the client has not sent" in _title(s)]
    lt = "\n".join(t for s in limits for t in _texts(s))
    assert "What to send" in lt and "What it unlocks" in lt
    assert "Customer survey responses" in lt and "capability self-assessment" in lt and "Gross margin" in lt
    assert "Customer experience (NPS, satisfaction)" in lt and "KAM capability maturity" in lt
    for s in slides:
        if s.slide_layout.name not in ("Title", "Section"):
            assert len(list(s.shapes)) >= 2, _title(s)
    assert "Next steps" in titles and "provide the survey file" in text


# ------------------------------------------------------------------------------- helpers
def test_fit_font_size_shrinks_long_text_and_keeps_short_text():
    one_inch = 914400
    assert fit_font_size(["Short"], 4 * one_inch, one_inch, max_pt=18) == 18
    long = ["word " * 200]
    assert fit_font_size(long, 4 * one_inch, one_inch, max_pt=18, min_pt=6) < 10


def test_number_formats_by_unit():
    assert fmt_value(8957654.99, "currency", "EUR") == "€9.0m"
    assert fmt_value(45210, "currency", "GBP") == "£45k"
    assert fmt_value(977.27, "currency", "EUR") == "€977"
    assert fmt_value(0.8048, "share") == "80.5%"
    assert fmt_value(-0.0452, "share", signed=True) == "-4.5%"
    assert fmt_value(1071.0, "count") == "1,071"
    assert fmt_value(float("nan"), "share") == "n/a"
    assert fmt_value(31.0, "score") == "31.0"


@pytest.mark.render
def test_every_slide_renders_through_libreoffice(full_deck, tmp_path):
    soffice = require_tool("soffice")
    out = tmp_path / "pdf"
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(out), str(full_deck)],
                   check=True, capture_output=True, timeout=240)
    pdf = out / (full_deck.stem + ".pdf")
    assert pdf.exists()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert pages == len(Presentation(str(full_deck)).slides)


def test_a_table_unlike_the_contract_is_refused_when_written(full_run, tmp_path):
    run = _copy_run(full_run, tmp_path / "odd", full_run.params)
    with pytest.raises(RunError, match=r"table 'churn_drivers' written by phase strategy lacks required column"):
        run.write_table("churn_drivers", pd.DataFrame({"feature": ["x"], "odds_ratio": ["not a number"]}))


def test_programme_impact_without_uplift_is_not_read_as_a_percentage(full_run, tmp_path):
    run = _copy_run(full_run, tmp_path / "raw", full_run.params)
    run.write_table("programme_impact", pd.DataFrame({
        "supported": [True], "estimate": [0.1302], "ci_low": [0.078], "ci_high": [0.18], "p_value": [0.01],
        "sentence": ["Key accounts' log revenue rose 0.13 more than comparable accounts'"]}))
    _, slides = _slides(build_deck(run))
    s = next(s for s in slides if "programme effect is estimated at +0.13" in _title(s))
    text = "\n".join(_texts(s))
    assert "+0.13" in text and "+0.08 to +0.18" in text and "13.0%" not in text


def test_unsupported_programme_impact_is_a_reason_not_a_number(full_run, tmp_path):
    run = _copy_run(full_run, tmp_path / "nope", full_run.params)
    run.write_table("programme_impact", pd.DataFrame({
        "supported": [False], "estimate": [np.nan], "ci_low": [np.nan], "ci_high": [np.nan], "p_value": [np.nan],
        "sentence": ["The programme's impact cannot be estimated from this data: no programme start date."],
        "reason": ["no programme start date in the params"]}))
    _, slides = _slides(build_deck(run))
    titles = [_title(s) for s in slides]
    assert not any("programme effect" in t.lower() or "grew revenue an estimated" in t for t in titles)
    limits = [s for s in slides if "What to send" in "\n".join(_texts(s))]
    assert "no programme start date in the params" in "\n".join(t for s in limits for t in _texts(s))


def test_heatmap_figure_placed_at_print_resolution(full_run, full_deck):
    prs, slides = _slides(full_deck)
    s = next(s for s in slides if "largest whitespace" in _title(s))
    pics = [sh for sh in s.shapes if sh.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
    assert len(pics) == 1
    px_w, _ = pics[0].image.size
    assert px_w / (pics[0].width / 914400) >= 150  # dots per inch as placed
    ws = full_run.read_table("whitespace")
    top = ws.groupby("category")["expected_value"].sum().sort_values(ascending=False)
    assert fmt_money(top.iloc[0], "EUR") in _title(s) and top.index[0] in _title(s)


def test_same_run_gives_the_same_deck(full_run, full_deck, tmp_path):
    import zipfile

    again = build_deck(_copy_run(full_run, tmp_path / "again" / full_run.dir.name, full_run.params),
                              filename="again.pptx")

    def parts(path):
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist()}

    a, b = parts(full_deck), parts(again)
    assert a.keys() == b.keys()
    differ = [n for n in a if a[n] != b[n]]
    assert differ == [], differ



def test_context_params_are_validated_with_a_clear_message(tmp_path):
    bad = {"five_forces": {"rivalry": {"rating": 7, "note": "x"}}, "pest": {"economics": ["typo"]}}
    with pytest.raises(ParameterError, match=r"(?s)context\.five_forces\.rivalry\.rating.*1-5.*"
                                             r"unknown key 'context\.pest\.economics'.*Did you mean 'economic'"):
        load_params(write_demo_params(tmp_path, extra={"context": bad}))


def test_migration_counts_changes_among_baseline_accounts_only(full_run, full_deck, tmp_path):
    _, slides = _slides(full_deck)
    # fixture: 390 accounts at both dates, 50 + 70 + 90 + 160 stayed -> 20 moved
    assert any(_title(s).startswith("20 of 390 accounts (5%) changed segment") for s in slides)
    run = _copy_run(full_run, tmp_path / "mig", full_run.params)
    mig = run.read_table("segment_migration")
    new = pd.DataFrame({"from_segment": ["New since baseline"] * 2, "to_segment": ["Star", "Status"],
                        "accounts": [2, 1], "revenue": [1.0, 1.0]})
    run.write_table("segment_migration", pd.concat([mig, new], ignore_index=True))
    _, slides = _slides(build_deck(run))
    # the fixture's programme started on 1 July 2024 and no other baseline is set: migration is dated from it
    assert "20 of 390 accounts (5%) changed segment since the programme start (1 Jul 2024); 3 accounts are new or " \
        "re-entered" in [_title(s) for s in slides], [_title(s) for s in slides]


# ------------------------------------------------------------------------------- texts that fit, honest values
#: the sentence ProgrammeImpact writes on the demo (longer than a summary line)
LONG_IMPACT = ("Since the programme started on 1 July 2024, the 114 programme accounts have grown their revenue per "
               "active period by an estimated 25.8% more than 627 comparable accounts outside the programme (range "
               "+14.8% to +37.9%, 95% confidence); before the programme both groups moved in parallel, which "
               "supports the comparison.")


@pytest.fixture(scope="module")
def demo_like_deck(full_run, tmp_path_factory):
    """The full run with the demo's real-length texts, values with their basis and a lapsed band at €0."""
    run = _copy_run(full_run, tmp_path_factory.mktemp("demolike") / "run", full_run.params)
    run.write_table("programme_impact", pd.DataFrame({
        "supported": [True], "estimate": [np.log1p(0.258)], "ci_low": [np.log1p(0.148)],
        "ci_high": [np.log1p(0.379)], "uplift": [0.258205], "uplift_ci_low": [0.14829], "uplift_ci_high": [0.37864],
        "confidence": [0.95], "parallel_trends": [True], "p_value": [1e-6], "sentence": [LONG_IMPACT]}))
    # the top recommendation is not the largest summed kind: whitespace first, then two churn-risk values
    run.write_table("recommendations", pd.DataFrame({
        "rank": [1, 2, 3], "rule": ["whitespace", "segment_target_gap", "uncovered_high_risk"],
        "recommendation": [
            "Run a cross-sell push on the 20 largest whitespace opportunities, led by Footwear (€300,000 of the "
            "total)",
            "Lift NPS in the Star segment to target: put the playbook's NPS levers on the next business-review "
            "agenda",
            "Assign an account manager to the 12 high-churn-risk account(s) without one, starting with A, B, C"],
        "evidence": ["whitespace: top 20 of 140 opportunities, expected value €458,550; the category with the most "
                     "of it is Footwear with €300,000 in the top 20 of the opportunities by expected value",
                     "kpi_scorecard: Star NPS = 9.9 vs target 40.0 (status red)",
                     "churn_risk: 12 account(s) in risk band high; revenue at risk €44,666"],
        "value": [458550.0, 150000.0, 44666.0],
        "value_basis": ["expected cross-sell value", "revenue at risk of churn", "revenue at risk of churn"],
        "segment": ["", "Star", ""]}))
    risk = run.read_table("churn_risk")
    lapsed = pd.DataFrame({"account_id": ["zz1", "zz2"], "risk_score": [1.0, 1.0], "risk_band": ["lapsed"] * 2,
                           "revenue_at_risk": [0.0, 0.0]})
    run.write_table("churn_risk", pd.concat([risk, lapsed], ignore_index=True))
    prs, slides = _slides(build_deck(run))
    return run, slides


def _exec_summary(slides):
    return next(s for s in slides if s.has_notes_slide
                and s.notes_slide.notes_text_frame.text.startswith("Headline findings"))


def test_exec_summary_and_titles_are_never_cut(demo_like_deck):
    _, slides = demo_like_deck
    summary = _exec_summary(slides)
    texts = [t for t in _texts(summary) if t.strip()]
    assert len(texts) >= 8  # five numbers, five sentences (and the numbering)
    for t in texts + [_title(s) for s in slides]:
        assert "…" not in t and "..." not in t, t
        assert not t.rstrip().endswith(("(range", "(", ",", ";", ":")), t
    joined = "\n".join(texts)
    # the impact finding is composed from the table's numbers, CI included, not the long sentence cut short
    assert "+25.8%" in joined and "95% CI +14.8% to +37.9%" in joined and "range +14" not in joined
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.summary import _f_recommendation

    f = _f_recommendation(DeckData(demo_like_deck[0]))
    assert f.text == "expected cross-sell value behind the top recommendation: run a cross-sell push on the 20 " \
                     "largest whitespace opportunities."


def test_recommendation_values_are_not_summed_and_carry_their_basis(demo_like_deck):
    _, slides = demo_like_deck
    s = next(s for s in slides if _title(s).startswith("3 recommendations"))
    title = _title(s)
    assert "worth" not in title and fmt_money(458550 + 150000 + 44666, "EUR") not in title
    assert "the largest: run a cross-sell push" in title and f"({fmt_money(458550.0, 'EUR')} expected cross-sell " \
        "value)" in title
    text = "\n".join(_texts(s))
    assert "Value at stake" in text and text.count("revenue at risk of churn") >= 2
    assert "…" not in text and "by expected value" in text  # evidence shown whole, not cut mid-number


def test_revenue_at_risk_chart_leaves_out_empty_bands(demo_like_deck):
    _, slides = demo_like_deck
    s = next(s for s in slides if "of revenue is at risk" in _title(s))
    chart = next(sh.chart for sh in s.shapes if sh.has_chart)
    cats = list(chart.plots[0].categories)
    # the bands are ranks: each says the share of active accounts it holds (strategy.risk_band_shares)
    assert cats == ["High (riskiest 10%)", "Medium (next 20%)", "Low (other 70%)"]
    assert all(v > 0 for v in chart.plots[0].series[0].values)
    assert "lapsed" in "\n".join(_texts(s)).lower()  # the footnote says the band was left out


def test_impact_interval_across_zero_is_not_called_growth(full_run, tmp_path):
    """An estimate whose interval includes zero is no measured effect: neither the impact slide's
    title nor the executive-summary finding says programme accounts grew more."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.review import s_programme_impact
    from kam_analysis.deliverables.deck_story.summary import _f_impact

    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    run.write_table("programme_impact", pd.DataFrame({
        "supported": [True], "estimate": [np.log1p(0.057)], "ci_low": [np.log1p(-0.065)],
        "ci_high": [np.log1p(0.194)], "uplift": [0.057], "uplift_ci_low": [-0.065], "uplift_ci_high": [0.194],
        "confidence": [0.95], "p_value": [0.375], "n_treated": [49], "n_control": [271],
        "accounts_note": ["49 of the 72 accounts in the client's programme are in the estimate; left out: 23 that "
                          "did not buy before the programme, so have no history to be matched on."],
        "sentence": ["No measurable difference."]}))
    d = DeckData(run)
    (spec,) = s_programme_impact(d)
    assert spec.title == "No measurable programme effect yet: the estimate is +5.7% (95% interval -6.5% to +19.4%)"
    f = _f_impact(d)
    assert f.number == "+5.7%" and "not distinguishable from no effect (95% CI -6.5% to +19.4%)" in f.text
    assert "grew" not in spec.title and "more revenue growth" not in f.text


def test_impact_from_groups_already_diverging_is_not_read_as_a_result(full_run, tmp_path):
    """The comparison failed its pre-programme check (parallel_trends False): neither the slide's
    title nor the summary finding reads the estimate as an effect or as no effect."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.review import s_programme_impact
    from kam_analysis.deliverables.deck_story.summary import _f_impact

    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    run.write_table("programme_impact", pd.DataFrame({
        "supported": [True], "estimate": [np.log1p(-0.001)], "ci_low": [np.log1p(-0.004)],
        "ci_high": [np.log1p(0.002)], "uplift": [-0.001], "uplift_ci_low": [-0.004], "uplift_ci_high": [0.002],
        "confidence": [0.95], "p_value": [0.45], "parallel_trends": [False], "n_treated": [71097],
        "n_control": [371861], "sentence": ["x"]}))
    d = DeckData(run)
    (spec,) = s_programme_impact(d)
    assert spec.title.startswith("The programme's effect cannot be measured reliably yet")
    assert "No measurable programme effect" not in spec.title
    f = _f_impact(d)
    assert "not reliable yet" in f.text and "not distinguishable" not in f.text


def test_a_change_that_rounds_to_zero_is_held_steady():
    from kam_analysis.deliverables.deck_story.assessment import change_words

    assert change_words(0.24) == "rose 24%" and change_words(-0.02) == "fell 2%"
    assert change_words(-0.004) == "held steady" and change_words(0.0) == "held steady"


# ------------------------------------------------------------------------------- charts and titles a client reads
def test_every_bar_chart_starts_at_zero(full_deck):
    """A bar's length is its value: PowerPoint's automatic axis would start near the smallest bar."""
    from pptx.enum.chart import XL_CHART_TYPE

    bars = {XL_CHART_TYPE.BAR_CLUSTERED, XL_CHART_TYPE.BAR_STACKED, XL_CHART_TYPE.COLUMN_CLUSTERED,
            XL_CHART_TYPE.COLUMN_STACKED}
    _, slides = _slides(full_deck)
    charts = [sh.chart for s in slides for sh in s.shapes if sh.has_chart and sh.chart.chart_type in bars]
    assert len(charts) >= 3
    for ch in charts:
        vals = [v for p in ch.plots for s in p.series for v in s.values if v is not None]
        if vals and min(vals) >= 0:
            assert ch.value_axis.minimum_scale == 0, [s.name for p in ch.plots for s in p.series]


def test_bar_axis_bounds_always_include_zero():
    from kam_analysis.deliverables._pptx import bar_axis_bounds

    assert bar_axis_bounds([133_000, 156_000]) == (0.0, None)  # $133k is not drawn as a third of $156k
    assert bar_axis_bounds([0.646, 0.712], minimum=0.6) == (0.0, None)  # a caller's positive floor is lowered
    assert bar_axis_bounds([-5, -2]) == (None, 0.0)
    assert bar_axis_bounds([-5, 3]) == (None, None)
    assert bar_axis_bounds([None, float("nan")], minimum=1) == (1, None)


def test_a_change_between_equal_figures_reads_as_held_steady():
    from kam_analysis.deliverables.deck_story.assessment import moved_title

    assert moved_title("Revenue per quarter", "£6.4m", "£6.4m") == \
        "Revenue per quarter held steady at £6.4m over the period shown"
    assert "moved from £6.1m to £6.4m" in moved_title("Revenue per quarter", "£6.1m", "£6.4m")


def test_concentration_of_thousands_of_accounts_reads_as_equivalent_accounts():
    from kam_analysis.deliverables.deck_story.assessment import concentration_equivalent

    # 22,000 accounts: HHI 0.00044 would read "HHI 0.000"; 1 / HHI accounts is what a reader can picture
    assert concentration_equivalent({"hhi": 0.00044, "effective_accounts": 2279.47}) == \
        "Revenue as concentrated as if 2,279 accounts shared it equally"
    assert concentration_equivalent({"hhi": 0.25}) == "Revenue as concentrated as if 4 accounts shared it equally"
    assert concentration_equivalent({}) is None


def test_churn_model_not_supported_is_said_in_client_words(full_run, tmp_path):
    """The deck's reason is the analysis support's caveat; the model's cut-off dates go to the notes."""
    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    technical = ("churn model not supported: no account was active before the churn-model cut-off dates "
                 "(2 Jul 2023, 1 Oct 2023); the order history is too short for a horizon of 365 days")
    run.write_table("churn_model_status", pd.DataFrame([{"analysis": "Churn-risk model", "supported": False,
                                                          "reason": technical}]))
    why = "12 months of history are too few for a 12-month churn horizon"
    sup = run.read_table("analysis_support") if run.has_table("analysis_support") else pd.DataFrame(
        columns=["analysis", "label", "status", "caveat", "unlock", "unlock_item"])
    sup = pd.concat([sup[sup["analysis"] != "churn_model"], pd.DataFrame([{
        "analysis": "churn_model", "label": "Churn-risk model and revenue at risk", "status": "not_supported",
        "caveat": why, "unlock": "Order history going back further", "unlock_item": "history_months"}])])
    run.write_table("analysis_support", sup)
    _, slides = _slides(build_deck(run))
    text = "\n".join(t for s in slides for t in _texts(s))
    notes = "\n".join(s.notes_slide.notes_text_frame.text for s in slides if s.has_notes_slide)
    assert why in text and "cut-off" not in text and "['" not in text
    assert "2 Jul 2023" in notes


def test_coverage_title_says_what_capacity_leaves_out_or_carries(full_run, full_deck, tmp_path):
    # the fixture's plan covers 170 of 300 accounts and leaves €330k of value uncovered
    _, slides = _slides(full_deck)
    gap = [_title(s) for s in slides if "leaves 130 of 300 accounts" in _title(s)]
    assert gap and "€330k of value is at stake" in gap[0], [_title(s) for s in slides]
    s = next(s for s in slides if "leaves 130 of 300 accounts" in _title(s))
    assert "Coverage 57% of accounts" in "\n".join(_texts(s))
    # every account covered, manager time on two segments only: no '€0 at stake' headline
    run = _copy_run(full_run, tmp_path / "covered", full_run.params)
    run.write_table("coverage_by_segment", pd.DataFrame({
        "segment": ["Strategic", "Star", "Status"], "accounts": [60, 90, 150], "covered": [60, 90, 150],
        "hours_needed": [2400, 1800, 0], "hours_allocated": [2400, 1800, 0], "value_at_stake": [0.0, 0.0, 0.0]}))
    _, slides = _slides(build_deck(run))
    titles = [_title(s) for s in slides]
    assert "The team's capacity carries the plan: 4,200 manager hours a year, all on Strategic and Star accounts" \
        in titles, titles
    assert not any("€0" in t for t in titles)
    s = next(s for s in slides if _title(s).startswith("The team's capacity carries"))
    assert "Status: 150 accounts, served without manager time" in "\n".join(_texts(s))
    # no team capacity given (a transactions-only client): the plan sizes the need and claims no gap
    run = _copy_run(full_run, tmp_path / "nocap", full_run.params)
    prof = run.read_table("data_profile")
    prof.loc[prof["item"] == "managers", "present"] = False
    run.write_table("data_profile", prof)
    titles = [_title(s) for s in _slides(build_deck(run))[1]]
    # a gap too small for whole percents is not rounded away
    run2 = _copy_run(full_run, tmp_path / "tiny", full_run.params)
    run2.write_table("coverage_by_segment", pd.DataFrame({
        "segment": ["Strategic"], "accounts": [4009], "covered": [4003], "hours_needed": [60.0],
        "hours_allocated": [0.0], "value_at_stake": [1614.0]}))
    s = next(s for s in _slides(build_deck(run2))[1] if "leaves 6 of 4,009 accounts" in _title(s))
    assert "Coverage 99.9% of accounts" in "\n".join(_texts(s))
    assert "Full coverage needs 5,100 manager hours a year, on Strategic, Star and Status accounts; the team's " \
        "capacity is not known yet" in titles, [t for t in titles if "hours" in t or "capacity" in t]


def test_whale_title_never_reads_the_same_figure_twice(full_run, tmp_path):
    # peak €3.04m at 86% of accounts, total €3.0m: both print as €3.0m, so the title names what the tail gives back
    share = np.linspace(0.01, 1, 100)
    profit = np.where(share <= 0.86, 3.04e6 * share / 0.86, 3.04e6 - (share - 0.86) / 0.14 * 40_000)
    run = _copy_run(full_run, tmp_path / "whale", full_run.params)
    run.write_table("whale_curve", pd.DataFrame({"account_share": share, "cumulative_profit": profit}))
    titles = [_title(s) for s in _slides(build_deck(run))[1]]
    assert "Profit peaks at €3.0m with the most profitable 86% of accounts; the other 14% give back €40k" in titles, \
        [t for t in titles if "Profit" in t]


def test_phase_status_tells_a_small_base_from_missing_data(full_run, tmp_path):
    run = _copy_run(full_run, tmp_path / "small", full_run.params)
    sup = run.read_table("analysis_support")
    small = sup["analysis"].isin(["cohorts", "scenarios"])
    sup.loc[small, "status"] = "not_supported"
    sup.loc[small, "caveat"] = "only 8 live accounts: too few to compare"
    sup.loc[small, "minimum"] = "at least 20 live accounts"
    run.write_table("analysis_support", sup)
    _, slides = _slides(build_deck(run))
    s = next(s for s in slides if _title(s).startswith("All five KAM phases have run"))
    # cohorts (assessment) and the impact scenarios (strategy) are refused for the base's size, not for an input
    assert "2 need a larger customer base than the data holds" in "\n".join(_texts(s)), _title(s)
    assert _title(s) == "All five KAM phases have run; 2 of their 17 results need a larger customer base", _title(s)


def test_no_key_account_says_why_there_are_no_account_plans(full_run, tmp_path):
    """A large client whose accounts are all served by a tier: the appendix says there is no key
    account to plan for, not 'the data gave no result for it'."""
    from kam_analysis.data.tables import table_spec

    run = _copy_run(full_run, tmp_path / "nokey", full_run.params)
    run.write_table("account_plans", pd.DataFrame(columns=list(table_spec("account_plans").required)))
    run.write_table("segments", run.read_table("segments").assign(is_key=False))
    _, slides = _slides(build_deck(run))
    s = next(s for s in slides if _title(s) == "Analyses not included in this deck")
    text = "\n".join(_texts(s))
    # the demo gives no cost of a manager hour: the threshold is the default, and the reason says so
    assert ("no account reaches the default key-account threshold (1% of the live accounts' revenue); the "
            "client's cost of a manager hour would set it, so there is no key-account plan to write") in " ".join(
        text.split())
    assert "the data gave no result for it" not in text


def test_phase_status_title_agrees_in_number():
    """'1 of their 17 results waits', '3 ... wait': the title's verb follows its count."""
    from kam_analysis.deliverables.deck_story.context import phase_status_title

    assert phase_status_title(done=4, wait=1, n_small=0, n_all=17).endswith("1 of their 17 results waits for data the client has not sent")
    assert "3 of their 17 results wait for data" in phase_status_title(done=4, wait=3, n_small=0, n_all=17)
    assert phase_status_title(done=3, wait=0, n_small=1, n_all=17).endswith("1 of their 17 results needs a larger customer base")
    both = phase_status_title(done=2, wait=1, n_small=2, n_all=17)
    assert "1 waits for data" in both and "2 need a larger customer base" in both
    assert phase_status_title(done=5, wait=0, n_small=0, n_all=17) == "All five KAM phases have run; this deck reports each of them"


def test_no_manager_hours_draws_no_chart_or_table_of_zeros(full_run, tmp_path):
    """A plan that assigns no manager hours (no account's service model needs them): the coverage slide
    states it instead of charting zeros, and the per-manager table of 0% is left out."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    run = _copy_run(full_run, tmp_path / "nohours", full_run.params)
    run.write_table("coverage_by_segment", pd.DataFrame({
        "segment": ["Strategic", "Star"], "accounts": [60, 90], "covered": [60, 90],
        "hours_needed": [0.0, 0.0], "hours_allocated": [0.0, 0.0], "value_at_stake": [0.0, 0.0]}))
    load = pd.DataFrame({"manager": ["Amelia Hart", "Tom Jansen"], "capacity_hours": [1200.0, 1200.0],
                         "hours_assigned": [0.0, 0.0], "utilisation": [0.0, 0.0], "accounts": [0, 0],
                         "accounts_kept": [0, 0]})
    run.write_table("manager_load", load)
    _, slides = _slides(build_deck(run))
    s = next(s for s in slides if _title(s).startswith("No account needs dedicated manager time"))
    assert not any(sh.shape_type == MSO_SHAPE_TYPE.CHART or getattr(sh, "has_chart", False) for sh in s.shapes)
    text = "\n".join(_texts(s))
    assert "assigns no manager hours" in text
    assert f"{int(load['capacity_hours'].sum()):,} hours a year are not drawn on" in text
    assert not any("of the account managers' time" in _title(x) or "fully booked" in _title(x) for x in slides)


def test_a_shares_gap_to_target_is_in_points_on_the_review_page(full_run, tmp_path):
    """Retention 80.3% against a target of 85.0% is 4.7 points short: the review page says
    '-4.7 pts against target', as the assessment's KPI table does, never '-4.7%'."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.review import s_kpi_dashboard

    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    kvt = run.read_table("kpi_vs_target")
    row = kvt[kvt["kpi"] == "retention_rate"].index
    assert len(row)
    kvt.loc[row, ["current", "target", "gap", "status"]] = [0.803, 0.85, 0.803 - 0.85, "amber"]
    run.write_table("kpi_vs_target", kvt)
    path = build_deck(run)
    text = " ".join(sh.text_frame.text for s in Presentation(path).slides for sh in s.shapes if sh.has_text_frame)
    assert "-4.7 pts against target" in text and "-4.7% against target" not in text
    assert s_kpi_dashboard(DeckData(run))


def test_the_cohort_title_counts_the_client_s_periods(full_run):
    """'still orders 4 quarters later' (the run's period), not '4 periods later'."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.assessment import s_cohorts

    assert full_run.params.analysis.period == "quarter"
    (spec,) = s_cohorts(DeckData(full_run))
    assert re.search(r"still orders \d+ quarters? later$", spec.title), spec.title


def test_the_scenario_range_is_said_to_be_an_assumption(full_run):
    """Low/base/high multiply every lever by the engagement's multipliers (0.5/1/1.5 by default):
    the impact page says the range is an assumption, not a forecast range."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.strategy import s_impact

    specs = s_impact(DeckData(full_run))
    assert specs
    said = " ".join(f"{s.footnote or ''} {s.notes or ''}" for s in specs)
    assert "Low and high cases apply 0.5x and 1.5x the base case's improvement to every lever" in said
    assert "an assumption, not a forecast range" in said


def test_a_control_chart_title_says_which_way_the_signals_go(full_run, tmp_path):
    """Five periods above the centre line: the title says the KPI moved up (it read 'Net revenue: 5 periods
    outside normal variation'); a period on each side keeps the neutral wording."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.computed import s_control_charts

    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    periods = pd.date_range("2024-01-01", periods=8, freq="QS")
    values = [100.0, 101.0, 99.0, 100.0, 130.0, 131.0, 132.0, 133.0]
    base = pd.DataFrame({"kpi": "revenue", "chart": "x", "period_start": periods, "value": values, "n": 50,
                         "center": 100.0, "ucl": 110.0, "lcl": 90.0, "signal": [v > 110 for v in values],
                         "rule": "", "limits_from": "baseline"})
    run.write_table("spc_limits", base)
    (spec,) = [s for s in s_control_charts(DeckData(run)) if s.topic == "Control charts"][:1]
    assert " has moved up: 4 periods signal a real rise, the latest " in spec.title, spec.title
    mixed = base.assign(value=[100.0, 80.0, 99.0, 100.0, 101.0, 99.0, 100.0, 130.0],
                        signal=[False, True, False, False, False, False, False, True])
    run.write_table("spc_limits", mixed)
    (spec,) = [s for s in s_control_charts(DeckData(run)) if s.topic == "Control charts"][:1]
    assert ": 2 periods outside normal variation, the latest " in spec.title, spec.title


def test_the_next_steps_ask_for_the_costs_the_business_case_waits_on(full_run, tmp_path):
    """Without the client's costs no cost, return or payback is stated: sending them is a next step, first
    after the consultant's own; with every cost given it is not."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.closing import s_next_steps
    from kam_analysis.phases.business_case import compute_programme_cost

    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    plan = pd.DataFrame({"account_id": ["a"], "hours_per_account": [40.0], "hours_allocated": [40.0]})
    run.write_table("programme_cost", compute_programme_cost(plan, cost_per_hour=None, tools_cost_per_year=5000.0,
                                                             setup_cost=None))
    assert not run.params.engagement.next_steps  # the demo's: no consultant's own step comes first
    (spec,) = s_next_steps(DeckData(run))
    assert spec.title.endswith("starting with: send your cost figures, so the programme's cost and return can be "
                               "stated"), spec.title
    run.write_table("programme_cost", compute_programme_cost(plan, cost_per_hour=70.0, tools_cost_per_year=5000.0,
                                                             setup_cost=1000.0))
    (spec,) = s_next_steps(DeckData(run))
    assert "send your cost" not in spec.title


def test_the_coverage_page_says_how_many_covered_accounts_get_manager_time(full_run, tmp_path):
    """'Strategic: 345/345 covered' read as 345 accounts with a manager while 254 of them are served
    digitally: each segment with hours says how many of its accounts the plan gives manager time."""
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.strategy import s_coverage

    run = _copy_run(full_run, tmp_path / "run", full_run.params)
    ids = run.read_table("segments")["account_id"].astype(str).head(10).tolist()
    hours = [40.0 if i < 3 else 0.0 for i in range(len(ids))]
    plan = pd.DataFrame({"account_id": ids, "segment": "Strategic", "is_key": [h > 0 for h in hours],
                         "engagement_model": "", "engagement_model_key": "", "hours_per_account": hours,
                         "expected_uplift": 0.0, "value": 1.0, "value_basis": "revenue_12m", "expected_gain": 0.0,
                         "revenue_12m": 1.0, "covered": True, "hours_allocated": hours, "account_manager": None,
                         "assigned_manager": None, "status": "covered"})
    run.write_table("coverage_plan", plan)
    run.write_table("coverage_by_segment", pd.DataFrame({
        "segment": ["Strategic"], "accounts": [len(plan)], "covered": [len(plan)], "coverage_rate": [1.0],
        "hours_needed": [120.0], "hours_allocated": [120.0], "value_at_stake": [0.0]}))
    d = DeckData(run)
    if d.refusal("portfolio_matrix", ""):
        pytest.skip("this run's base is too small for segments: the page shows all accounts")
    from kam_analysis.deliverables._pptx import DeckTemplate
    from kam_analysis.deliverables.deck import _render, _style

    p = run.params
    deck = DeckTemplate(p.branding.template, style=_style(p), apply_colors=p.branding.apply_colors_to_template)
    for spec in s_coverage(d):
        _render(deck, spec)
    text = " ".join(t for slide in deck.prs.slides for t in _texts(slide))
    assert f"Strategic: {len(plan)}/{len(plan)} covered (3 with manager time), 120 of 120 hours" in text, text
