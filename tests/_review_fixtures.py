"""Helpers for the dashboard tests: a run folder with the review tables built by hand.

The tests make the upstream tables themselves, quickly: segments from simple ranks, a
churn-risk table from a fixed rule, a whitespace table; the coverage plan and revenue
already lost from the strategy's and the metrics' own functions; the review tables come
from kam_analysis.phases.review on them. Without the upstream tables (``with_upstream``
False) the dashboards must fail, naming the missing table.
Two accounts get hostile names to prove client strings stay text.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from kam_analysis.phases import migration, recommendations, review, strategy
from kam_analysis.metrics import (compute_account_kpis_as_of, compute_headline_kpis, compute_lost_accounts,
                                  compute_period_kpis, compute_revenue_lost, OrderSource)
from kam_analysis.data.runfolder import Run
from kam_analysis.data.tables import TABLES, table_spec

HOSTILE_SCRIPT = "<script>window.__pwned = 1</script>Evil & Co"
HOSTILE_END = "</script><b>bold</b> =SUM(A1) \u2028 Ltd"


def build_review_run(source: Run, dest: Path, *, with_upstream: bool = True) -> Run:
    """Copy ``source`` (a prepared demo run) to ``dest`` and add the tables the dashboards read."""
    shutil.copytree(source.dir, dest)
    run = Run(dest, source.params)
    p = run.params
    acc = run.read_data("accounts")
    summary = run.read_table("account_summary")
    top = summary.sort_values(["revenue_12m", "account_id"], ascending=[False, True])["account_id"].tolist()
    hostile = {top[0]: HOSTILE_SCRIPT, top[1]: HOSTILE_END}
    acc["account_name"] = [hostile.get(a, n) for a, n in zip(acc["account_id"], acc["account_name"])]
    acc.to_parquet(run.data_dir / "accounts.parquet", index=False)
    ap = run.read_table("account_period")
    run.write_table("kpi_by_period", compute_period_kpis(ap))
    account_kpis = compute_account_kpis_as_of(run, p.analysis.as_of_date)  # as the assessment writes it
    run.write_table("account_kpis", account_kpis)
    run.write_table("kpi_headline", compute_headline_kpis(account_kpis))
    if not with_upstream:
        return run
    names = p.segmentation.quadrant_names
    attr = summary["revenue_12m"].rank(pct=True)
    strength = summary["tenure_days"].fillna(0).rank(pct=True)
    quad = np.select([(attr > 0.5) & (strength > 0.5), attr > 0.5, strength > 0.5],
                     [names.high_attractiveness_high_strength, names.high_attractiveness_low_strength,
                      names.low_attractiveness_high_strength], names.low_attractiveness_low_strength)
    segments = pd.DataFrame({"account_id": summary["account_id"], "attractiveness": attr,
                             "relative_strength": strength, "quadrant": quad, "is_key": attr > 0.9})
    run.write_table("segments", segments)
    for name in ("key_account_sizing", "coverage_tiers"):  # no sizing here: the dashboards leave it out
        run.write_table(name, pd.DataFrame(columns=list(table_spec(name).required)))
    # churn risk: a fixed rule (recency), high band for the two hostile names
    score = (summary["recency_days"].fillna(999).clip(upper=720) / 720).to_numpy(dtype=float, copy=True)
    score[summary["account_id"].isin(hostile).to_numpy()] = 0.95
    band = np.where(score >= 0.6, "high", np.where(score >= 0.3, "medium", "low"))
    # like the strategy's churn_risk, it carries its own segment column
    risk = pd.DataFrame({"account_id": summary["account_id"], "segment": quad, "risk_score": score, "risk_band": band,
                         "revenue_at_risk": summary["revenue_12m"].to_numpy() * score})
    run.write_table("churn_risk", risk)
    # the strategy's coverage plan and revenue already lost, from the package's own functions
    st = p.strategy
    playbooks = strategy.load_playbooks(st.playbooks, segments=names.ordered(), overrides=st.playbook_overrides,
                                        engagement_hours=st.engagement_hours)
    managers, _ = strategy.resolve_capacity(acc, managers=st.managers, hours_per_manager=st.hours_per_manager,
                                            headcount=st.headcount, non_manager_labels=st.non_manager_labels)
    coverage = strategy.compute_coverage_plan(segments, summary, playbooks, managers=managers, order=names.ordered(),
                                              tolerance=st.load_balance_tolerance)
    run.write_table("coverage_plan", coverage["coverage_plan"])
    orders = OrderSource.from_run(run)  # as notebook 03 does
    lapsed = compute_lost_accounts(orders, as_of=p.analysis.as_of_date, churn_days=p.analysis.churn_days,
                                     segments=segments)
    run.write_table("lost_accounts", lapsed)
    run.write_table("revenue_lost", compute_revenue_lost(lapsed, as_of=p.analysis.as_of_date,
                                                         churn_days=p.analysis.churn_days,
                                                         data_start=orders.date_range()[0]))
    ws = run.read_table("account_category").groupby("category", as_index=False).head(3)
    run.write_table("whitespace", ws.assign(expected_value=ws["revenue"] * 0.1)[["account_id", "category",
                                                                                  "expected_value"]])
    # review tables, as the notebook writes them
    rag, an, rv = p.thresholds.rag, p.analysis, p.review
    base = compute_account_kpis_as_of(run, an.programme_start)
    kvt = review.compute_kpi_vs_target(run.read_table("kpi_headline"), p.targets, amber=rag.amber, red=rag.red,
                                       baseline=compute_headline_kpis(base))
    run.write_table("kpi_vs_target", kvt)
    pk = review.compute_period_segment_kpis(ap, segments, period=an.period, as_of=an.as_of_date, orders=orders,
                                            churn_days=an.churn_days)
    tracking = review.compute_kpi_tracking(pk, programme_start=an.programme_start, targets=p.targets,
                                           amber=rag.amber, red=rag.red, trend_window=4, flat_band=0.02)
    run.write_table("kpi_tracking", tracking)
    sc = review.compute_segment_scorecard(account_kpis, segments, targets=p.targets, amber=rag.amber, red=rag.red,
                                          baseline_kpis=base)
    run.write_table("kpi_scorecard", sc)
    impact = review.programme_impact_from_params(ap, summary, params=p)
    run.write_table("programme_impact", impact.summary())
    run.write_table("programme_event_study", impact.event_study_)
    mig = migration.compute_segment_migration(segments.assign(quadrant=np.roll(segments["quadrant"].to_numpy(), 1)),
                                           segments, current_revenue=summary)
    run.write_table("segment_migration", mig)
    recs, _ = recommendations.compute_run_recommendations(run, scorecard=sc, cohorts=None, accounts=account_kpis)
    run.write_table("recommendations", recs)
    from kam_analysis.phases.kpi_history import build_kpi_history

    run.write_table("kpi_history", build_kpi_history(run))  # no earlier run of this client: its first review
    assert rv.dashboard_at_risk_rows > 0
    # every other table the phases always write, with no rows: the deliverables read them strictly
    for spec in TABLES.values():
        if spec.phase in ("segmentation", "strategy") and not spec.conditional and not run.has_table(spec.name):
            run.write_table(spec.name, pd.DataFrame(columns=list(spec.required)))
    return run
