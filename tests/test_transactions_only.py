"""A transactions-only client end to end: what the deck and the run's tables may and may not say.

The client gives the demo's orders only — no accounts, surveys, capability or margin, no
targets, no programme (membership or start), no managers — as a first real extract does.
From the deck's text (slides and speaker notes) and the run's tables:

* no impact figure comes from an illustrative benchmark (or a playbook default), and none
  exceeds the stated cap on its share of revenue;
* every benchmark shown is labelled illustrative, and none rates a KPI; the euro order-value
  benchmark is never compared with the client's dollars;
* predictive CLV is there, in revenue, and says so;
* no programme claim: no programme effect, playbook gap or migration matrix; the review
  reports the baseline the next review will compare against;
* the phase-status slide ticks exactly the results the run produced, and the churn model is
  called back-tested only when it was;
* the dashboards show the baseline KPIs, not developer text, where the KPI tiles would be.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from pptx import Presentation

from kam_analysis.present.formats import fmt_money
from kam_analysis.runner import run_engagement
from test_capability import transactions_only_params

pytestmark = pytest.mark.slow


def _slide_text(slide) -> str:
    out = []
    for sh in slide.shapes:
        if sh.has_text_frame:
            out.append(sh.text_frame.text)
        if getattr(sh, "has_table", False) and sh.has_table:
            out += ["\t".join(c.text for c in row.cells) for row in sh.table.rows]
    return "\n".join(out)


def _title(slide) -> str:
    return slide.shapes.title.text if slide.shapes.title is not None else ""


@pytest.fixture(scope="module", params=["bare", "consumer", "b2b"])
def bare(request, tmp_path_factory, thin_client_runs):
    """A transactions-only client (USD, no targets, no programme), and the two demo profiles
    of real transactions-only extracts (consumer: USD, no order id; b2b: GBP invoices), which
    the thin-client tests have already run."""
    if request.param == "bare":
        res = run_engagement(transactions_only_params(tmp_path_factory.mktemp("bare")), progress=None)
    else:
        res = thin_client_runs(request.param)[0]
    run_dir = res.run_dir
    from kam_analysis.data.runfolder import Run
    from kam_analysis.config import Params
    import json

    run = Run(run_dir, Params.model_validate(json.loads((run_dir / "params.json").read_text())))
    prs = Presentation(run_dir / "deliverables" / "framework_deck.pptx")
    slides = list(prs.slides)
    return {"run": run, "slides": slides,
            "text": "\n".join(_slide_text(s) for s in slides),
            "notes": "\n".join(s.notes_slide.notes_text_frame.text for s in slides if s.has_notes_slide),
            "dir": run_dir}


def test_no_impact_figure_from_placeholders_and_none_beyond_the_cap(bare):
    run = bare["run"]
    cap = run.params.strategy.impact_cap_share
    targets = run.read_table("segment_targets")
    assert not targets["source"].str.contains("benchmark|playbook", case=False).any(), set(targets["source"])
    sc = run.read_table("impact_scenarios").set_index("scenario")
    revenue = float(sc["revenue_12m"].iloc[0])
    assert (sc["revenue_impact"] <= cap * revenue + 1e-6).all()
    assert (sc["cap_share"] == cap).all()
    # the deck states the base case and the cap, and no larger impact figure
    slide = next(s for s in bare["slides"] if "client's own best segments" in _title(s))
    assert fmt_money(sc.at["base", "revenue_impact"], run.params.client.currency) in _title(slide)
    assert f"{cap:.0%} of last-12-month revenue" in _slide_text(slide)
    assert "Profit impact" not in _slide_text(slide)  # no margin: no 'profit' that is only revenue renamed
    assert "Reaching the targets" not in bare["text"]
    head = run.read_table("strategy_headlines").set_index("topic")
    assert "capped at" in head.at["impact", "headline"]


def test_every_benchmark_shown_is_labelled_illustrative_and_rates_nothing(bare):
    run = bare["run"]
    gaps = run.read_table("benchmark_gaps")
    assert not (gaps["status_basis"] == "benchmark").any()
    assert set(gaps["status"]) <= {"not rated", "n/a"}
    # (no sourced benchmark: the gap-to-benchmark column, all dashes, is left out)
    card = next(s for s in bare["slides"] if "Benchmark" in _slide_text(s) and "\tCurrent\t" in _slide_text(s))
    assert "Gap to benchmark" not in _slide_text(card)
    rows = [r.split("\t") for r in _slide_text(card).splitlines() if "\t" in r][1:]
    shown = [r[2] for r in rows if r[2] not in ("–", "not compared")]
    assert shown and all(cell.endswith("(illustrative)") for cell in shown), shown
    assert all(r[-1] in ("not rated", "n/a") for r in rows)  # no RED/AMBER/GREEN against a placeholder
    assert "illustrative" in card.shapes.title.text.lower() or "illustrative" in _slide_text(card)
    # the euro order-value benchmark is never set against dollar orders
    gi = gaps.set_index("kpi")
    if "average_order_value" in gi.index:  # the industry's set has a euro order-value benchmark
        aov = gi.loc["average_order_value"]
        assert pd.isna(aov["benchmark"]) and "EUR" in aov["note"] and run.params.client.currency in aov["note"]
        assert next(r for r in rows if r[0] == "Average order value")[2] == "not compared"
    assert "€" not in "\n".join(_slide_text(s) for s in bare["slides"])  # no euro figure anywhere in the deck
    assert "against the industry benchmark" not in " ".join(run.read_table("assessment_findings")["finding"])


def test_predictive_clv_in_revenue_and_said_so(bare):
    run = bare["run"]
    seg = run.read_table("segments")
    ordered = run.read_table("account_summary").set_index("account_id")["n_orders"] > 0
    clv = seg.set_index("account_id")["clv"]
    assert clv[ordered.reindex(clv.index).fillna(False)].notna().mean() > 0.95
    settings = run.read_table("segmentation_settings").set_index("setting")["value"]
    assert settings["clv_value_basis"] == "revenue" and "not gross margin" in settings["clv_note"]
    assert re.search(r"lifetime value \(in revenue\)", bare["text"])


def test_no_programme_claims_without_a_programme(bare):
    run, text = bare["run"], bare["text"]
    assert not run.has_table("segment_migration") and not run.has_table("playbook_cohorts")
    assert not bool(run.read_table("programme_impact")["supported"].iloc[0])
    recs = run.read_table("recommendations")
    assert not recs["recommendation"].str.contains("playbook", case=False).any()
    for claim in ("playbook", "0 of 0 accounts", "changed segment since", "programme effect is",
                  "grew revenue an estimated", "Revisit the"):
        hits = [line for line in text.splitlines() if claim.lower() in line.lower()]
        assert not [h for h in hits if "playbook" not in claim or "short" in h.lower()], (claim, hits)
    assert any("sets the baseline the next review" in _title(s) for s in bare["slides"])


def _expected_ticks(run) -> dict[str, bool]:
    def rows(name):
        return run.has_table(name) and len(run.read_table(name)) > 0

    churn_ok = bool(run.read_table("churn_model_status")["supported"].iloc[0])
    return {"KPI baseline": rows("kpi_headline"),
            "KPIs rated": bool(run.read_table("benchmark_gaps")["status"].isin(["green", "amber", "red"]).any()),
            "Cohorts": rows("cohort_retention"), "Capability maturity": rows("capability_maturity"),
            "Account segments": rows("segments"), "Segment profiles": rows("segment_profiles"),
            "Predictive CLV": bool(run.read_table("segments")["clv"].notna().any()),
            "Playbooks": rows("segment_playbook"), "Churn drivers": rows("churn_drivers") and churn_ok,
            "Whitespace": rows("whitespace"), "Impact scenarios": rows("impact_scenarios"),
            "Coverage plan": rows("coverage_by_segment"), "Account plans": rows("account_plans"),
            "KPIs vs target": rows("kpi_vs_target"),
            "Programme impact": bool(run.read_table("programme_impact")["supported"].iloc[0]),
            "Migration": rows("segment_migration"), "Recommendations": rows("recommendations")}


def test_phase_status_ticks_equal_the_results_produced(bare):
    slide = next(s for s in bare["slides"] if "KAM phases" in _title(s))
    text = _slide_text(slide)
    ticked = {m.strip() for m in re.findall(r"✓ ([^\n]+)", text)}
    unticked = {m.strip() for m in re.findall(r"–  ([^\n]+)", text)}
    expected = _expected_ticks(bare["run"])
    assert ticked == {k for k, v in expected.items() if v}
    # every phase ran: the title counts the results that wait for data, not phases 'in progress'
    missing = sum(not v for v in expected.values())
    assert f"All five KAM phases have run; {missing} of their {len(expected)} results wait for data" in _title(slide)
    assert "in progress" not in text.lower() and "Next: phase" not in text
    assert unticked == {k for k, v in expected.items() if not v}
    assert {"KPIs rated", "KPIs vs target", "Programme impact", "Migration", "Capability maturity"} <= unticked


def test_churn_model_called_back_tested_only_when_it_was(bare):
    bt = bare["run"].read_table("churn_backtest")
    tested = len(bt) > 0 and bt.set_index("metric")["value"].notna().get("auc", False)
    assert ("back-tested on a later period" in bare["notes"]) == bool(tested)
    fitted = len(bare["run"].read_table("churn_drivers")) > 0
    assert ("not back-tested" in bare["notes"]) == (fitted and not tested)  # no model: nothing to call back-tested


def test_dashboards_show_the_baseline_not_developer_text(bare):
    wb = load_workbook(bare["dir"] / "deliverables" / "kpi_dashboard.xlsx")
    dash = " ".join(str(c.value) for row in wb["Dashboard"].iter_rows() for c in row if c.value)
    assert "No target set" in dash and "kpi_vs_target" not in dash and "in this run" not in dash
    html = (bare["dir"] / "deliverables" / "dashboard.html").read_text(encoding="utf-8")
    assert "baseline the next review" in html and "No kpi_vs_target" not in html
    # no programme: the programme section says so in client words, and there is no estimate sheet
    assert "No key-account programme is recorded" in html and "analysis.programme_start" not in html
    assert "No key-account programme is recorded" in dash and "Programme impact" not in wb.sheetnames


def test_client_pages_show_no_internal_name(bare):
    """The client-language scan (tests/test_client_language.py) on a client that sent only orders:
    the 'not included' and data-request pages must say what is missing in words too."""
    from client_text import scan

    found = scan({p.stem: p for p in (bare["dir"] / "deliverables").iterdir()})
    assert not found, "\n".join(f"{w}: {h} in {t[:140]!r}" for w, t, h in found[:30])
