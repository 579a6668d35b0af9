"""Assessment: benchmarks, gaps and RAG, capability maturity, data readiness, findings,
and the assessment notebook on a client that gave only a transactions file."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from kam_analysis import ParameterError
from kam_analysis.phases import assessment
from kam_analysis import metrics
from kam_analysis.metrics.engine import OrderSource
from kam_analysis.config import TEMPLATES_DIR

from conftest import write_demo_params


def _headline(**values) -> pd.DataFrame:
    rows = [{"kpi": k, "label": k, "value": v, "unit": metrics.KPI_DEFINITIONS[k].unit, "ci_low": np.nan,
             "ci_high": np.nan, "n": 100.0, "note": ""} for k, v in values.items()]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- RAG and gaps
@pytest.mark.parametrize("current,ref,hib,expected", [
    (0.85, 0.85, True, "green"),
    (0.81, 0.85, True, "green"),     # shortfall 4.7% <= 5%
    (0.80, 0.85, True, "amber"),     # 5.9%
    (0.73, 0.85, True, "amber"),     # 14.1%
    (0.72, 0.85, True, "red"),       # 15.3%
    (0.70, 0.85, True, "red"),       # 17.6%
    (0.21, 0.20, False, "green"),    # lower is better, 5% over
    (0.25, 0.20, False, "red"),      # 25% over
    (np.nan, 0.85, True, "n/a"),
    (0.5, 0.0, True, "n/a"),
])
def test_rag_status(current, ref, hib, expected):
    assert assessment.rag_status(current, ref, amber=0.05, red=0.15, higher_is_better=hib) == expected


def test_benchmark_gaps_by_hand():
    h = _headline(retention_rate=0.80, churn_rate=0.20, nps=20.0, revenue_12m=1e6)
    bm = pd.DataFrame({"kpi": ["retention_rate", "churn_rate"], "benchmark": [0.70, 0.25], "illustrative": [True, False],
                       "source": ["Illustrative placeholder", "Some survey 2024"], "reference": ["", ""]})
    g = assessment.compute_benchmark_gaps(h, benchmarks=bm, targets={"retention_rate": 0.85, "nps": 40},
                                          amber=0.05, red=0.15).set_index("kpi")
    assert list(g.index) == ["retention_rate", "churn_rate", "nps"]  # revenue_12m has neither
    assert g.at["retention_rate", "gap_to_target"] == pytest.approx(-0.05)
    assert g.at["retention_rate", "gap_to_benchmark"] == pytest.approx(0.10)
    assert g.at["retention_rate", "status"] == "amber" and g.at["retention_rate", "status_basis"] == "target"
    assert g.at["churn_rate", "status"] == "green" and g.at["churn_rate", "status_basis"] == "benchmark"
    assert g.at["nps", "status"] == "red" and np.isnan(g.at["nps", "benchmark"])
    assert bool(g.at["retention_rate", "benchmark_illustrative"]) is True


def test_illustrative_or_foreign_currency_benchmarks_never_rate_a_kpi():
    """An illustrative benchmark is a labelled reference: no status. A money benchmark in
    another currency (or an unstated one) is not compared at all; one in the client's
    currency, sourced, rates the KPI when there is no target."""
    h = _headline(retention_rate=0.50, average_order_value=100.0, nps=10.0, repeat_purchase_rate=0.30)
    bm = pd.DataFrame({"kpi": ["retention_rate", "average_order_value", "nps", "repeat_purchase_rate"],
                       "benchmark": [0.70, 400.0, 35.0, 0.60], "illustrative": [True, False, False, True],
                       "source": ["Illustrative placeholder", "Trade survey 2024", "NPS study 2023", "Illustrative"],
                       "reference": [""] * 4, "currency": [None, "EUR", None, None]})
    usd = assessment.compute_benchmark_gaps(h, benchmarks=bm, targets={}, amber=0.05, red=0.15,
                                            currency="USD").set_index("kpi")
    assert usd.at["retention_rate", "status"] == "not rated" and usd.at["retention_rate", "status_basis"] == "none"
    assert usd.at["retention_rate", "benchmark"] == pytest.approx(0.70)  # shown, labelled, not rated
    assert "illustrative" in usd.at["retention_rate", "note"]
    assert np.isnan(usd.at["average_order_value", "benchmark"])  # EUR value never set against USD orders
    assert np.isnan(usd.at["average_order_value", "gap_to_benchmark"])
    assert usd.at["average_order_value", "status"] == "not rated"
    assert "EUR" in usd.at["average_order_value", "note"] and "USD" in usd.at["average_order_value", "note"]
    assert usd.at["nps", "status"] == "red" and usd.at["nps", "status_basis"] == "benchmark"  # sourced, unitless
    eur = assessment.compute_benchmark_gaps(h, benchmarks=bm, targets={}, amber=0.05, red=0.15,
                                            currency="EUR").set_index("kpi")
    assert eur.at["average_order_value", "status"] == "red"  # 100 vs 400, same currency, sourced
    assert eur.at["average_order_value", "gap_to_benchmark"] == pytest.approx(-300.0)


def test_the_template_states_the_currency_of_its_money_benchmarks():
    bm = assessment.load_benchmarks(industry="online_retail", client_currency="USD",
                                    overrides={"orders_per_account": 3.0}).set_index("kpi")
    assert bm.at["average_order_value", "currency"] == "EUR"
    assert pd.isna(bm.at["retention_rate", "currency"])
    assert bm.at["orders_per_account", "illustrative"] == False  # noqa: E712 - the client's own figure


def test_unknown_target_is_a_parameter_error():
    h = _headline(retention_rate=0.8)
    with pytest.raises(ParameterError, match=r"targets names KPIs .*retention_rte.*fix: rename"):
        assessment.compute_benchmark_gaps(h, benchmarks=pd.DataFrame(columns=["kpi", "benchmark", "illustrative",
                                                                              "source", "reference"]),
                                          targets={"retention_rte": 0.85}, amber=0.05, red=0.15)


def test_benchmarks_file_every_value_is_sourced_or_illustrative():
    raw = yaml.safe_load((TEMPLATES_DIR / "benchmarks.yaml").read_text())
    assert "online_retail" in raw["industries"]
    for ind, spec in raw["industries"].items():
        for kpi, e in spec["kpis"].items():
            assert kpi in metrics.KPI_DEFINITIONS, f"{ind}.{kpi} is not a KPI"
            assert isinstance(e["value"], (int, float))
            assert e.get("illustrative") is True or e.get("source"), f"{ind}.{kpi} has no source"
            assert e.get("source"), f"{ind}.{kpi}: name the source or say 'Illustrative'"


def test_load_benchmarks_overrides_and_unknown_industry():
    bm = assessment.load_benchmarks(industry="online_retail", overrides={"nps": 50, "csat_mean": 4.2}).set_index("kpi")
    assert bm.at["nps", "benchmark"] == 50 and not bm.at["nps", "illustrative"]
    assert "overrides" in bm.at["nps", "source"]
    assert bm.at["csat_mean", "benchmark"] == 4.2
    assert bool(bm.at["retention_rate", "illustrative"]) is True
    with pytest.raises(ParameterError, match=r"Industry 'space_mining'.*online_retail.*fix"):
        assessment.load_benchmarks(industry="space_mining")


# --------------------------------------------------------------------------- maturity
def test_capability_maturity_and_stage_by_hand():
    ladder = assessment.load_maturity_ladder()
    assert list(ladder["stage"]) == ["exploratory", "basic", "cooperative", "interdependent", "integrated"]
    cap = pd.DataFrame({"dimension": ["Planning", "Insight", "Governance"], "score": [1.5, 2.5, 3.5],
                        "target": [3.0, 3.0, 4.0]})
    m = assessment.compute_capability_maturity(cap, ladder=ladder)
    assert list(m["gap"]) == [-1.5, -0.5, -0.5]
    assert list(m["stage"]) == ["exploratory", "basic", "interdependent"]
    s = assessment.compute_maturity_stage(m, ladder=ladder).iloc[0]
    assert s["overall_score"] == pytest.approx(2.5) and s["stage"] == "basic" and s["stage_number"] == 2
    assert s["target_stage"] == "cooperative"  # mean target 3.33
    assert s["next_stage"] == "cooperative"
    assert s["weakest_dimension"] == "Planning" and s["largest_gap"] == -1.5


def test_maturity_on_the_demo_recovers_the_generator(demo_run):
    from kam_analysis.data.demo import CAPABILITY

    ladder = assessment.load_maturity_ladder()
    m = assessment.compute_capability_maturity(demo_run.read_data("capability"), ladder=ladder)
    mean = np.mean([s for _, s, _ in CAPABILITY])
    s = assessment.compute_maturity_stage(m, ladder=ladder).iloc[0]
    assert s["overall_score"] == pytest.approx(mean)
    worst = min(CAPABILITY, key=lambda r: r[1] - r[2])
    assert s["weakest_dimension"] == worst[0]


# --------------------------------------------------------------------------- readiness and findings
def _tiny_acct(**kw):
    o = pd.DataFrame({"account_id": ["A", "A", "B"], "order_id": ["1", "2", "3"],
                      "order_date": pd.to_datetime(["2023-01-10", "2025-06-01", "2025-07-01"]),
                      "revenue": [10.0, 20.0, 30.0], "gross_margin": np.nan})
    return metrics.compute_account_kpis(o, as_of="2025-12-31", churn_days=180, **kw)


def test_findings_state_no_kpi_the_data_does_not_support():
    """The findings read the run's one support table (analysis_support) and the headline's own
    reliability notes: a survey KPI on too low a coverage, or of an analysis not supported, is no finding."""
    from kam_analysis.metrics.capability import unreliable_kpis

    s = pd.DataFrame({"account_id": ["A"], "survey_date": pd.to_datetime(["2025-10-01"]), "nps": [10.0],
                      "csat": [5.0]})
    a = _tiny_acct(surveys=s)  # 1 of 2 ordering accounts -> 50%
    h = metrics.compute_headline_kpis(a, survey_coverage_min=0.6)
    assert "unreliable: survey coverage 50% < 60%" in h.set_index("kpi").at["nps", "note"]
    why = unreliable_kpis(h)
    assert why["nps"].startswith("survey coverage 50% is below 60%") and set(why) == {"nps", "csat_top2"}
    f = assessment.compute_key_findings(h)
    assert "too little survey data" in f.set_index("topic").at["Customer experience", "finding"]
    ok = metrics.compute_headline_kpis(a, survey_coverage_min=0.4, min_denominator=1)
    assert unreliable_kpis(ok) == {}
    assert "NPS is +100" in assessment.compute_key_findings(ok).set_index("topic").at["Customer experience", "finding"]
    support = pd.DataFrame({"analysis": ["customer_experience", "kpi_baseline"], "label": [
        "Customer experience (NPS, satisfaction)", "KPI baseline"], "status": ["not_supported", "supported"],
        "kpis": ["nps, csat_top2, survey_coverage", "revenue_12m"]})
    f2 = assessment.compute_key_findings(ok, support=support).set_index("topic")
    assert "NPS is" not in f2.at["Customer experience", "finding"]
    assert f2.at["Data readiness", "finding"] == ("1 of 2 analyses are not supported on this data: customer "
                                                 "experience (NPS, satisfaction).")


def test_findings_are_built_from_the_tables(acct_demo):
    a, h = acct_demo
    f = assessment.compute_key_findings(h)
    first = f.iloc[0]["finding"]
    rev = h.set_index("kpi").at["revenue_12m", "value"]
    assert f"€{rev / 1e6:,.1f}m" in first
    assert list(f["rank"]) == list(range(1, len(f) + 1))


@pytest.fixture(scope="module")
def acct_demo(demo_run):
    a = metrics.compute_account_kpis(OrderSource.from_run(demo_run), as_of=demo_run.params.analysis.as_of_date,
                                  churn_days=180, accounts=demo_run.read_data("accounts"),
                                  surveys=demo_run.read_data("surveys"))
    return a, metrics.compute_headline_kpis(a, capability=demo_run.read_data("capability"))


def test_demo_headline_has_the_contract_kpis(acct_demo):
    _, h = acct_demo
    needed = {"revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate", "churn_rate",
              "average_order_value", "repeat_purchase_rate", "orders_per_account", "nps", "csat_top2", "csat_mean",
              "clv_historical", "profit_12m", "key_account_revenue_share", "top20_share", "gini"}
    assert needed <= set(h["kpi"])
    assert h.set_index("kpi").loc[list(needed), "value"].notna().all()
    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params" / "demo.yaml").read_text())
    assert set(params["targets"]) <= set(h["kpi"])


# --------------------------------------------------------------------------- transactions only, via kam run
def test_transactions_only_client_runs_and_says_what_is_missing(tmp_path):
    from kam_analysis import run_engagement

    path = write_demo_params(tmp_path, n_accounts=120, seed=3, name="Bare Client")
    raw = yaml.safe_load(path.read_text())
    for t in ("accounts", "surveys", "capability"):
        raw["data"].pop(t)
    raw["data"]["transactions"]["columns"].pop("gross_margin")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    res = run_engagement(path, phases=["assessment"], deliverables=False, progress=None)
    assert res.ok
    tables = res.run_dir / "tables"
    r = pd.read_parquet(tables / "analysis_support.parquet").set_index("analysis")
    for analysis in ("profitability", "customer_experience", "capability_maturity", "programme_impact",
                     "segment_breakdowns"):
        assert r.at[analysis, "status"] == "not_supported", analysis
    assert not (tables / "data_readiness.parquet").exists()  # one table decides
    h = pd.read_parquet(tables / "kpi_headline.parquet").set_index("kpi")
    assert np.isnan(h.at["profit_12m", "value"]) and "no gross margin" in h.at["profit_12m", "note"]
    assert np.isnan(h.at["nps", "value"])
    assert h.at["revenue_12m", "value"] > 0 and np.isfinite(h.at["retention_rate", "value"])
    assert "revenue-based" in h.at["clv_historical", "note"]
    # the executed notebook says it plainly
    nb = nbformat.read(res.run_dir / "notebooks" / "01_assessment.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "Not computed:** the transactions carry no gross margin" in text
    assert "Not assessed:** the client gave no capability self-assessment" in text
    assert "no survey data" in text


# --------------------------------------------------------------------------- charts
def test_every_assessment_chart_is_titled_and_labelled(acct_demo, demo_run):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from kam_analysis import charts

    a, h = acct_demo
    o = OrderSource.from_run(demo_run)
    T = demo_run.params.analysis.as_of_date
    period = metrics.compute_period_kpis(demo_run.read_table("account_period"), as_of=T, orders=o, churn_days=180)
    seg = metrics.compute_segment_kpis(a, dimensions=["segment"])
    ladder = assessment.load_maturity_ladder()
    gaps = assessment.compute_benchmark_gaps(h, benchmarks=assessment.load_benchmarks(industry="online_retail"),
                                             targets={"nps": 40}, amber=0.05, red=0.15)
    with charts.kam_style():
        fig = charts.plot_kpi_trends(period)
        axes = list(fig.axes)
        axes += [charts.plot_concentration_curve(metrics.compute_concentration_curve(a["revenue_12m"]),
                                                 summary=metrics.compute_concentration_summary(a["revenue_12m"])),
                 charts.plot_whale_curve(metrics.compute_whale_curve(a)),
                 charts.plot_cohort_heatmap(metrics.compute_cohort_retention(o, as_of=T)),
                 charts.plot_benchmark_gaps(gaps),
                 charts.plot_segment_kpi(seg, dimension="segment", kpi="retention_rate")]
        radar = charts.plot_maturity_radar(assessment.compute_capability_maturity(
            demo_run.read_data("capability"), ladder=ladder))
    for ax in axes:
        assert ax.get_title(), ax
        assert ax.get_xlabel() and (ax.get_ylabel() or ax.get_yticklabels()), ax.get_title()
    assert radar.get_title()
    plt.close("all")


def test_a_kpi_on_too_few_accounts_or_responses_is_not_rated():
    """The 8-account client's deck rated NPS red on 4 respondents (its own page said 4 are too few to state
    a score): a headline marked 'small base' gets no colour in either scorecard."""
    import pandas as pd

    from kam_analysis.phases.assessment import compute_benchmark_gaps
    from kam_analysis.phases.review import compute_kpi_vs_target

    head = pd.DataFrame({"kpi": ["nps", "retention_rate"], "label": ["NPS", "Retention"], "value": [-25.0, 0.9],
                         "unit": ["score", "share"], "n": [4, 300],
                         "note": ["small base (n=4 < 30)", ""]})
    bm = pd.DataFrame(columns=["kpi", "benchmark", "illustrative", "source", "currency"])
    gaps = compute_benchmark_gaps(head, benchmarks=bm, targets={"nps": 40, "retention_rate": 0.85},
                                  amber=0.05, red=0.15).set_index("kpi")
    assert gaps.at["nps", "status"] == "not rated"
    assert "4 accounts or responses (fewer than 30) are too few to rate" in gaps.at["nps", "note"]
    assert gaps.at["retention_rate", "status"] == "green"
    kvt = compute_kpi_vs_target(head, {"nps": 40, "retention_rate": 0.85}, amber=0.05, red=0.15).set_index("kpi")
    assert kvt.at["nps", "status"] == "not rated" and kvt.at["retention_rate", "status"] == "green"
