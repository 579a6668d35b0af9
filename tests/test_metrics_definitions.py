"""The KPI registry (metrics.definitions): one entry per KPI, and the pages and deliverables built from it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kam_analysis import metrics
from kam_analysis.metrics.engine import OrderSource
from kam_analysis.metrics import definitions

ROOT = Path(__file__).resolve().parents[1]


def test_committed_kpi_dictionary_is_the_generated_one():
    doc = (ROOT / "docs" / "kpi_dictionary.md").read_text(encoding="utf-8")
    assert doc == metrics.render_kpi_dictionary(), (
        "docs/kpi_dictionary.md is stale; regenerate it: "
        "python -c \"from kam_analysis.metrics import write_kpi_dictionary as w; w()\"")


def test_write_kpi_dictionary_writes_every_kpi(tmp_path):
    page = metrics.write_kpi_dictionary(tmp_path / "d.md").read_text(encoding="utf-8")
    assert "{{KPI_TABLE}}" not in page
    for k in metrics.KPI_DEFINITIONS.values():
        assert f"| `{k.name}` | {k.label} |" in page


def test_every_headline_kpi_is_registered_with_a_valid_unit(demo_run):
    kpis = metrics.compute_account_kpis(OrderSource.from_run(demo_run), as_of=demo_run.params.analysis.as_of_date,
                                        churn_days=demo_run.params.analysis.churn_days,
                                        accounts=demo_run.read_data("accounts"))
    h = metrics.compute_headline_kpis(kpis)
    for r in h.itertuples():
        assert r.unit == metrics.kpi_unit(r.kpi) and r.label == metrics.kpi_label(r.kpi)
    assert all(k.unit in metrics.UNITS for k in metrics.KPI_DEFINITIONS.values())
    labels = [k.label for k in metrics.KPI_DEFINITIONS.values()]
    assert len(labels) == len(set(labels)), "two KPIs share a label"


def test_a_bad_unit_is_refused():
    with pytest.raises(ValueError, match=r"KPI 'x': unit 'percent' is not one of"):
        definitions.KPI("x", "X", "percent", True, "f")


def test_labels_prose_direction_and_format():
    assert metrics.kpi_label("retention_rate") == "Account retention, 12 months"
    assert metrics.kpi_label("retention_rate", short=True) == "Retention"
    assert metrics.kpi_label("period_retention_rate", short=True) == "Retention (period on period)"
    assert metrics.kpi_label("gini", short=True) == metrics.kpi_label("gini")  # no short label: the label
    assert metrics.kpi_prose("nps") == "NPS" and metrics.kpi_prose("gini") == "gini coefficient of revenue"
    assert {"churn_rate", "period_churn_rate", "top10_share", "unprofitable_account_share"} <= metrics.LOWER_IS_BETTER
    assert "retention_rate" not in metrics.LOWER_IS_BETTER
    assert not metrics.higher_is_better("churn_rate") and metrics.higher_is_better("revenue")
    assert metrics.higher_is_better("key_accounts")  # no direction: read as higher-is-better
    assert metrics.format_kpi(0.8872, "retention_rate") == "88.7%"
    assert metrics.format_kpi(1234567, "revenue_12m", "EUR") == metrics.format_kpi(1234567, "revenue", "EUR")
    assert "180 days" in metrics.kpi_explanation("retention_rate", churn_days=180)


def test_an_unregistered_kpi_names_the_registry():
    with pytest.raises(KeyError, match=r"KPI 'retention' is not in the KPI registry; fix: .*definitions.py"):
        metrics.kpi_unit("retention")


def test_change_vs_baseline_is_points_for_shares_and_scores_relative_for_money():
    # NPS 6.2 -> 9.9 is +3.7 points (not +60%); retention 0.736 -> 0.743 is +0.007 (0.7 pts)
    assert metrics.change_vs_baseline(9.9, 6.2, "nps") == (pytest.approx(3.7), "points")
    assert metrics.change_vs_baseline(0.743, 0.736, "retention_rate") == (pytest.approx(0.007), "points")
    assert metrics.change_vs_baseline(110.0, 100.0, "revenue_12m") == (pytest.approx(0.10), "relative")
    assert metrics.change_vs_baseline(5.0, 4.0, "active_accounts") == (pytest.approx(0.25), "relative")
    assert np.isnan(metrics.change_vs_baseline(5.0, 0.0, "revenue_12m")[0])
    ch, kind = metrics.change_vs_baseline(pd.Series([0.5, 0.6]), 0.5, "period_retention_rate")
    assert kind == "points" and list(ch) == pytest.approx([0.0, 0.1])


def test_short_labels_given_with_an_entry_are_kept():
    assert metrics.kpi_label("revenue", short=True) == "Net revenue"
    assert metrics.kpi_label("ordering_accounts", short=True) == "Ordering accounts"
    assert metrics.kpi_label("key_accounts_selected", short=True) == "Key accounts selected"
