"""The table catalogue: every table a run writes, with its phase and columns, declared once.

Phases talk only through the run folder's ``tables/``; the deck, the workbooks and the
dashboards read those tables and nothing else. This module is the contract between
them: for each table, the step that writes it, what one row is, a description, the
columns every reader may count on (``required``) and the columns written when the data
or the parameters support them (``optional``). :class:`~kam_analysis.data.runfolder.Run`
checks a table against it when the table is written (an undeclared table, a missing
required column or an undeclared column is a :class:`~kam_analysis.exceptions.RunError`)
and when a deliverable reads it. ``docs/tables.md`` is generated from it
(:func:`tables_markdown`).

The phases form a small DAG (:data:`PHASES`): re-running a phase re-runs every phase
after it (:func:`downstream`).

A new table: add a :class:`TableSpec` to :data:`TABLES`, then regenerate the page with
``python -m kam_analysis.data.tables > docs/tables.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from ..exceptions import RunError
from .contract import CONTRACT

__all__ = ["CONSULTANT_ONLY", "PHASES", "PREPARE", "Phase", "TABLES", "TableSpec", "check_columns", "downstream",
           "table_spec", "tables_markdown"]

#: the step before the notebooks that writes the account-level tables every phase reads
PREPARE = "prepare"


@dataclass(frozen=True)
class Phase:
    """One phase of the engagement: its notebook and the phases whose tables it reads.

    ``after``: phases that must have finished before it starts. ``waits``: phases whose
    tables only its later cells read; it may start beside them, and its notebook waits
    for them (:meth:`kam_analysis.data.runfolder.Run.wait_for`) before those cells.
    """

    name: str
    notebook: str
    title: str
    after: tuple[str, ...] = ()
    waits: tuple[str, ...] = ()

    @property
    def reads(self) -> tuple[str, ...]:
        """Every phase whose tables it reads: re-running one of them re-runs this one."""
        return self.after + self.waits


#: the phases in run order; ``after`` names the phases whose tables a phase reads (the
#: assessment and the segmentation read only the prepare step's tables, so they may run at once)
PHASES: dict[str, Phase] = {p.name: p for p in (
    Phase("assessment", "01_assessment.ipynb", "1 Assessment & benchmarking"),
    Phase("segmentation", "02_segmentation.ipynb", "2 Segmentation"),
    Phase("strategy", "03_strategy.ipynb", "3–4 Strategy & operational planning", after=("assessment", "segmentation")),
    Phase("review", "04_review.ipynb", "5 Review & optimisation", after=("assessment", "segmentation"),
          waits=("strategy",)),
)}


def downstream(phases: Iterable[str]) -> list[str]:
    """``phases`` and every phase that depends on them (directly or not), in run order.

    Raises
    ------
    RunError
        A name is not a phase.
    """
    wanted = set(phases)
    unknown = sorted(wanted - set(PHASES))
    if unknown:
        raise RunError(f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    out: list[str] = []
    for name, phase in PHASES.items():  # run order is a topological order
        if name in wanted or any(a in out for a in phase.reads):
            out.append(name)
    return out


@dataclass(frozen=True)
class TableSpec:
    """One table of the run folder.

    Attributes
    ----------
    name : str
        File name stem in ``tables/``.
    phase : str
        The step that writes it (``prepare`` or a phase of :data:`PHASES`).
    one_row_per : str
        What one row is.
    description : str
        What the table holds, for the docs and the run's table index.
    required : tuple of str
        Columns always written; every reader may count on them.
    optional : tuple of str
        Columns written only when the data or the parameters support them.
    written_when : str or None
        None when the phase always writes the table; else the condition under which it does.
    open_prefixes : tuple of str
        Besides ``required`` and ``optional``, columns whose name starts with one of these
        (one per criterion or feature the parameters choose).
    consultant_only : str or None
        None when a deliverable shows the table; else why only the consultant reads it
        (an intermediate table, or one the notebooks explain). ``tests/test_client_language.py``
        checks that every other table reaches a deliverable.
    """

    name: str
    phase: str
    one_row_per: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    written_when: str | None = None
    open_prefixes: tuple[str, ...] = ()
    consultant_only: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def conditional(self) -> bool:
        return self.written_when is not None


def _t(name: str, phase: str, one_row_per: str, description: str, *, required: str, optional: str = "",
       written_when: str | None = None, open_prefixes: tuple[str, ...] = ()) -> TableSpec:
    return TableSpec(name, phase, one_row_per, description, tuple(required.split()), tuple(optional.split()),
                     written_when, open_prefixes)


#: when the follow-up review's tables are written
_FOLLOWUP = "review.plan_run names an earlier run of the client (a follow-up review)"

#: the optional columns of the client's accounts file, carried into the account-level tables
_ACCOUNT_ATTRIBUTES = " ".join(c.name for c in CONTRACT["accounts"].columns if not c.required)

TABLES: dict[str, TableSpec] = {t.name: t for t in (
    # ------------------------------------------------------------------ prepare
    _t("account_category", "prepare", "account × category",
       "revenue and orders per account and product category (whole history)",
       required="account_id category revenue orders"),
    _t("account_period", "prepare", "account × period", "revenue, orders and gross margin per account and period",
       required="account_id period_start revenue orders gross_margin"),
    _t("account_summary", "prepare", "account",
       "the client's account attributes with first/last order, orders, revenue, margin, 12-month windows, "
       "recency, tenure, survey means and activity",
       required="account_id first_order_date last_order_date n_orders revenue gross_margin revenue_12m "
                "revenue_prev_12m orders_12m orders_prev_12m n_categories n_channels recency_days tenure_days "
                "active",
       optional=_ACCOUNT_ATTRIBUTES + " n_responses nps_mean csat_mean nps_latest last_survey_date"),
    _t("analysis_support", "prepare", "analysis",
       "what the run's data and inputs support: each analysis supported, supported with a caveat (in client "
       "words) or not supported, with the input that would unlock it and, for an analysis below its minimum "
       "size, the size it needs",
       required="analysis label status caveat unlock unlock_item",
       optional="minimum kpis"),
    _t("data_profile", "prepare", "profile item",
       "the data-capability profile: which inputs are present (sourced or illustrative benchmarks and their "
       "currency), history length, and the customer base's shape (live / dormant / lapsed, concentration, "
       "order value)",
       required="item group label present value unit detail"),
    # ------------------------------------------------------------------ assessment
    _t("account_kpis", PREPARE, "account",
       "one row per account: the inputs of every KPI (12-month windows, activity, profit, CLV, surveys)",
       required="account_id first_order_date last_order_date n_orders revenue_total gross_margin_total revenue_12m "
                "revenue_prev_12m orders_12m orders_prev_12m gross_margin_12m in_book_12m active active_at_start "
                "active_at_prev_start is_new_12m profit_12m clv_historical nps_12m csat_12m nps_prev_12m "
                "csat_prev_12m responded_12m",
       optional=_ACCOUNT_ATTRIBUTES + " value_tier"),
    _t("assessment_findings", "assessment", "finding", "headline messages of the assessment",
       required="rank topic finding"),
    _t("benchmark_gaps", "assessment", "KPI", "KPI vs benchmark and target, with RAG status",
       required="kpi label unit current benchmark target gap_to_benchmark gap_to_target status",
       optional="status_basis higher_is_better benchmark_illustrative benchmark_source note"),
    _t("cohort_retention", "assessment", "cohort × periods since first order",
       "acquisition cohort x periods since first order: retention and revenue retention",
       required="cohort period_index accounts retention",
       optional="cohort_label active_accounts revenue revenue_retention left_censored small_cohort"),
    _t("concentration_curve", "assessment", "account rank", "Pareto curve of revenue_12m",
       required="account_share revenue_share",
       optional="rank"),
    _t("concentration_summary", "assessment", "metric", "top10/top20 share, Gini, HHI, effective accounts",
       required="metric value",
       optional="n note"),
    _t("kpi_by_period", "assessment", "period",
       "revenue, orders, ordering accounts, AOV, growth and retention by period",
       required="period_start revenue orders ordering_accounts average_order_value orders_per_account revenue_growth "
                "revenue_growth_yoy period_end complete period_retention_rate period_churn_rate retention_base note",
       optional="gross_margin"),
    _t("kpi_by_segment", "assessment", "dimension × group × KPI",
       "dimension x group x KPI, with intervals and a test against the other groups",
       required="dimension group kpi label value unit ci_low ci_high n p_value distinguishable small_n note"),
    _t("kpi_comparisons", "assessment", "KPI",
       "last 12 months vs previous 12 months, with a test of the difference",
       required="kpi label unit current previous difference ci_low ci_high n_current n_previous p_value "
                "distinguishable note"),
    _t("kpi_headline", "assessment", "KPI", "headline KPIs, trailing 12 months, with intervals",
       required="kpi label value unit ci_low ci_high n note"),
    _t("whale_curve", "assessment", "account rank", "cumulative profit, accounts most to least profitable",
       required="account_share cumulative_profit",
       optional="rank cumulative_profit_share"),
    _t("capability_maturity", "assessment", "capability dimension", "capability score vs target by dimension",
       required="dimension score target gap",
       optional="stage below_target",
       written_when="the client gave a capability self-assessment"),
    _t("maturity_stage", "assessment", "run (one row)", "overall stage on the relationship ladder",
       required="overall_score overall_target stage stage_number stages target_stage description next_stage "
                "weakest_dimension largest_gap",
       written_when="the client gave a capability self-assessment"),
    _t("survey_coverage", "assessment", "group", "survey coverage by group",
       required="group ordering_accounts respondents coverage ci_low ci_high below_threshold",
       written_when="the client data has surveys"),
    # ------------------------------------------------------------------ segmentation
    _t("cluster_profiles", "segmentation", "behavioural cluster",
       "behavioural cluster -> size, revenue share, feature means and z-scores",
       required="cluster cluster_label accounts account_share revenue_12m revenue_share",
       open_prefixes=('mean_', 'z_')),
    _t("cluster_silhouette", "segmentation", "number of clusters k", "k -> mean silhouette; the chosen k",
       required="k silhouette chosen"),
    _t("clv_accounts", "segmentation", "account with an order",
       "account -> frequency, recency, T, monetary value, P(alive), expected purchases, CLV",
       required="account_id frequency recency T monetary_value p_alive expected_purchases expected_spend clv"),
    _t("clv_holdout", "segmentation", "calibration frequency group",
       "calibration/holdout check: actual vs predicted holdout purchases by calibration frequency",
       required="frequency_group accounts actual predicted error"),
    _t("clv_params", "segmentation", "model parameter",
       "BG/NBD and Gamma-Gamma parameter estimates and CLV settings",
       required="model parameter value"),
    _t("rfm_profiles", "segmentation", "RFM segment",
       "RFM segment -> accounts, revenue share, mean scores, description",
       required="rfm_segment accounts account_share revenue_12m revenue_share r_score f_score m_score "
                "median_orders median_recency_days description"),
    _t("score_components", "segmentation", "account",
       "account -> weighted contribution of every criterion to both scores",
       required="account_id selection_score_revenue_12m selection_score_revenue_change selection_score_value "
                "selection_score_growth selection_score relative_strength_tenure "
                "relative_strength_category_breadth relative_strength_order_regularity "
                "relative_strength_relationship relative_strength",
       open_prefixes=('selection_score_', 'relative_strength_')),
    _t("segment_overrides", "segmentation", "overridden account",
       "consultant quadrant overrides applied, with reason and source",
       required="account_id quadrant_model quadrant changed reason source"),
    _t("segment_profiles", "segmentation", "quadrant",
       "quadrant -> accounts, revenue and profit share, KPIs, behaviour, engagement intent",
       required="segment accounts revenue_12m revenue_share profit_share intent",
       optional="account_share key_accounts overridden gross_margin_12m profit_12m avg_revenue_12m avg_orders_12m "
                "median_recency_days avg_tenure_years avg_categories avg_order_regularity nps_mean avg_margin_rate "
                "clv_total avg_p_alive avg_stability avg_selection_score avg_relative_strength top_rfm_segment "
                "top_cluster"),
    _t("segmentation_settings", "segmentation", "setting",
       "the segmentation settings and thresholds used in this run",
       required="setting value"),
    _t("segments", "segmentation", "account",
       "account -> selection score, key flag, portfolio quadrant (model and after overrides), stability, "
       "RFM segment, cluster, CLV, P(alive)",
       required="account_id is_key attractiveness relative_strength quadrant",
       optional="selection_score quadrant_model override_reason rfm_segment cluster clv p_alive stability "
                "selection_rank score_value score_growth overridden r_score f_score m_score rfm_score "
                "cluster_label tier expected_purchases revenue_12m gross_margin_12m profit_12m currently_key "
                "score_strategic value_rank account_status warrants_key coverage_tier coverage_tier_key"),
    _t("selection_weights", "segmentation", "criterion",
       "criteria of both matrix axes: column, group, weight, weight used, status",
       required="axis criterion column group weight weight_used higher_is_better status"),
    _t("key_account_sizing", "segmentation", "figure",
       "how many key accounts value and capacity support: live and inactive accounts, the revenue an account "
       "needs to carry a dedicated manager or a pooled team, warranted key accounts, the managers' capacity, "
       "key accounts selected, the capacity gap and the managers it needs (docs/key_accounts.md)",
       required="metric label value unit note"),
    _t("coverage_tiers", "segmentation", "coverage tier",
       "coverage tier (key, growth, core, inactive; the client's names) -> accounts, revenue and the manager "
       "hours a year each account can carry",
       required="tier label accounts account_share revenue_12m revenue_share hours_per_account"),
    _t("tier_summary", "segmentation", "value tier",
       "value tier -> accounts and revenue (`metrics.compute_value_tier`, the one definition: the accounts that "
       "bought in the last 12 months ranked by that revenue and cut by `segmentation.tiers`; accounts without an "
       "order in 12 months form the last row, `No orders (12m)`, in no tier)",
       required="tier accounts revenue_12m revenue_share"),
    # ------------------------------------------------------------------ strategy
    _t("account_plan_actions", "strategy", "action",
       "account plan actions with a stable id (<account id>-<n>, the key of the returned actions file), owner, "
       "due date, KPI, trigger and measurable target",
       required="action_id account_id account_name action owner due_date kpi trigger", optional="target"),
    _t("account_plans", "strategy", "key account",
       "key account -> current state, situation, its own objective, whitespace, next action, KPIs to watch",
       required="account_id revenue_12m objective actions",
       optional="rank account_name segment account_manager revenue_prev_12m revenue_trend value value_basis clv "
                "p_alive nps_latest risk_score risk_band engagement_model contact_cadence whitespace "
                "whitespace_value opportunities n_actions next_action next_action_owner next_action_due "
                "kpis_to_watch owner situation target segment_objective"),
    _t("capacity_summary", "strategy", "metric",
       "capacity, hours needed, headcount for full coverage, optimiser vs revenue-rank rule",
       required="metric label value unit note"),
    _t("category_penetration", "strategy", "segment × category",
       "segment x category: share of buying accounts that buy the category",
       required="segment category accounts buyers penetration"),
    _t("churn_backtest", "strategy", "metric",
       "out-of-time back-test of the churn model: AUC, Brier, top-decile lift",
       required="metric label value unit note"),
    _t("churn_calibration", "strategy", "risk decile", "back-test: predicted vs observed churn by risk decile",
       required="decile accounts predicted observed"),
    _t("churn_drivers", "strategy", "driver",
       "churn driver -> odds ratio, confidence interval, p-value, plain-language interpretation",
       required="feature odds_ratio ci_low ci_high p_value interpretation",
       optional="label coef significant material direction"),
    _t("churn_model_status", "strategy", "run (one row)", "whether the data supported the churn model, and why not",
       required="analysis supported reason"),
    _t("churn_risk", "strategy", "account",
       "account -> churn risk score (next 12 months), band, revenue at risk, main driver",
       required="account_id risk_score risk_band revenue_at_risk",
       optional="segment active risk_rank revenue_12m main_driver note"),
    _t("coverage_by_segment", "strategy", "segment",
       "segment -> accounts covered, hours needed/allocated, value at stake",
       required="segment accounts covered hours_needed hours_allocated value_at_stake",
       optional="engagement_model uncovered coverage_rate value value_covered expected_gain_covered "
                "revenue_12m_uncovered"),
    _t("coverage_plan", "strategy", "account",
       "account -> playbook hours, value, expected gain, covered, assigned manager",
       required="account_id segment is_key engagement_model engagement_model_key hours_per_account expected_uplift "
                "value value_basis expected_gain revenue_12m covered hours_allocated account_manager "
                "assigned_manager status"),
    _t("programme_cost", "strategy", "cost item",
       "the programme's cost: manager time on key accounts, tools per year, one-off set-up; assumed = the "
       "documented default, not the client's figure",
       required="item label kind quantity unit_cost amount assumed parameter"),
    _t("business_case", "strategy", "scenario",
       "ROI and payback of each impact scenario over the programme years (impact ramps up, costs from day one)",
       required="scenario years profit_full_year running_cost_per_year setup_cost profit_over_horizon "
                "cost_over_horizon net_over_horizon roi payback_months assumed_costs",
       optional="benefit_basis whole_base_full_year programme_accounts programme_revenue_share"),
    _t("impact_by_lever", "strategy", "scenario × segment × lever", "scenario x segment x lever impact",
       required="scenario segment lever lever_value revenue_impact profit_impact"),
    _t("impact_scenarios", "strategy", "scenario", "low/base/high revenue and profit impact",
       required="scenario revenue_impact profit_impact",
       optional="multiplier weight revenue_12m revenue_impact_share gross_profit_impact programme_cost "
                "weighted_profit_impact cap_share capped"),
    _t("kpi_ownership", "strategy", "KPI", "KPI -> owner, review cadence, current, target",
       required="kpi label owner review source_table current target"),
    _t("lost_accounts", "strategy", "account lost in the last 12 months",
       "account that churned in the last 12 months -> last counted order, the day it churned, dormant or "
       "lapsed, revenue already lost (its net revenue in the 12 months up to its last order; metrics/lost.py)",
       required="account_id last_order_date churn_date days_since_last_order lifecycle revenue_lost_12m",
       optional="segment"),
    _t("manager_load", "strategy", "account manager",
       "manager -> hours assigned, utilisation, accounts (kept from current book)",
       required="manager capacity_hours hours_assigned utilisation accounts accounts_kept"),
    _t("operating_calendar", "strategy", "dated activity", "dated reviews and reports for the next 12 months",
       required="date activity frequency owner audience kpis phase"),
    _t("revenue_at_risk_by_segment", "strategy", "segment",
       "segment -> active and high-risk accounts, revenue at risk",
       required="segment accounts active_accounts high_risk_accounts mean_risk revenue_12m revenue_at_risk "
                "share_at_risk"),
    _t("revenue_lost", "strategy", "run (one row)",
       "revenue already lost to the accounts that churned in the last 12 months, how many (dormant and "
       "lapsed), the window of their last order and whether the history covers it (else a lower bound); apart "
       "from revenue at risk",
       required="accounts_lost_12m revenue_lost_12m dormant_accounts lapsed_accounts last_order_after "
                "last_order_until data_start history_complete note"),
    _t("segment_baseline", "strategy", "segment", "segment -> current retention, AOV, frequency, margin",
       required="segment accounts revenue_12m base_accounts retained retention_rate revenue_per_retained "
                "orders_12m buyers_12m average_order_value orders_per_account margin_rate note"),
    _t("segment_playbook", "strategy", "segment",
       "segment -> playbook (objective, engagement model, cadence, RACI, hours), accounts, revenue",
       required="segment accounts key_accounts revenue_12m revenue_share objective engagement_model "
                "engagement_model_key service_level contact_cadence investment_level kpi_focus responsible "
                "accountable consulted informed hours_per_account hours_needed expected_uplift",
       optional="engagement_mix cadence_mix"),
    _t("segment_targets", "strategy", "segment × lever", "segment x lever -> target value and its source",
       required="segment lever label value source current_kpi target_kpi"),
    _t("sensitivity", "strategy", "lever", "tornado: profit impact when one lever swings",
       required="lever label low_multiplier high_multiplier profit_low profit_base profit_high swing",
       optional="basis"),
    _t("strategy_headlines", "strategy", "finding", "the phase's findings as sentences",
       required="topic headline value unit source_table"),
    _t("whitespace", "strategy", "account × category opportunity",
       "account x category cross-sell opportunity: propensity, basis, expected value",
       required="account_id category expected_value",
       optional="segment is_key rank segment_penetration driver_category co_purchase_confidence lift propensity "
                "basis peer_share_of_wallet revenue_12m potential_value"),
    # ------------------------------------------------------------------ review
    _t("baseline_segments", "review", "account at the baseline date",
       "account segmentation recomputed as of the baseline date",
       required="account_id quadrant is_key tier revenue_12m",
       optional="attractiveness relative_strength value_rank"),
    _t("key_status_changes", "review", "account that changed key status",
       "accounts that fell out of / entered key status since the baseline",
       required="account_id account change baseline_segment current_segment revenue_baseline revenue_current"),
    _t("kpi_scorecard", "review", "segment × KPI",
       "segment x KPI (trailing 12 months) vs target and baseline, RAG status; retention and churn for "
       "All accounts only (today's segments would read 100%/0% by construction)",
       required="segment kpi value n baseline vs_baseline vs_baseline_kind target gap status status_basis"),
    _t("kpi_tracking", "review", "period × segment × KPI",
       "KPI by period and segment vs target and baseline, RAG status and trend; period retention for "
       "All accounts only",
       required="period_start segment kpi value n baseline vs_baseline vs_baseline_kind target status status_basis "
                "trend post_programme note"),
    _t("kpi_vs_target", "review", "KPI",
       "headline KPIs against target and the pre-programme baseline, with RAG status",
       required="kpi label unit current target gap status baseline vs_baseline vs_baseline_kind"),
    _t("kpi_history", "review", "run × KPI",
       "each headline KPI of this run and of the client's earlier successful runs (as-of date before this "
       "run's), as each run stored it in its own kpi_headline (never recomputed); this run's rows have no run id "
       "or date (current_run); superseded = a later run has the same as-of date; note = made by another "
       "kam-analysis version (definitions may differ)",
       required="run_id run_date as_of_date kpi label value unit current_run superseded note",
       optional="package_version"),
    _t("programme_event_study", "review", "period relative to the programme start",
       "event-study effects by period relative to the programme start",
       required="rel_period period_start coef ci_low ci_high"),
    _t("programme_impact", "review", "estimate (one row)",
       "difference-in-differences estimate of the programme's effect, with CI and sentence",
       required="supported estimate ci_low ci_high p_value sentence",
       optional="uplift uplift_ci_low uplift_ci_high confidence pretrend_p_value placebo_estimate placebo_p_value "
                "parallel_trends n_treated n_control n_obs n_pre_periods n_post_periods programme_start reason "
                "n_programme n_excluded_no_revenue n_excluded_partial_periods n_excluded_no_pre_history "
                "n_control_pool accounts_note"),
    _t("programme_trends", "review", "period × group",
       "mean log revenue of programme vs matched control accounts by period",
       required="period_start group mean_log_revenue accounts"),
    _t("recommendations", "review", "recommendation",
       "optimisation recommendations ranked by value, each with its evidence and a stable id from what it is "
       "about (REC-<kpi or rule>-<segment>, the key of the returned actions file)",
       required="rank recommendation evidence value",
       optional="rule value_basis segment kpi owner due_date recommendation_id accounts_touched cost_hours cost "
                "cost_overlap cost_assumed"),
    _t("segment_migration", "review", "baseline segment × current segment",
       "transition matrix baseline -> current segment: accounts and revenue",
       required="from_segment to_segment accounts revenue",
       optional="revenue_baseline revenue_change share_of_from moved",
       written_when="the baseline segmentation has the segment column"),
    _t("spc_limits", "review", "KPI × chart × period", "control-chart limits and signals for the main KPIs",
       required="kpi chart period_start value n center ucl lcl signal rule limits_from"),
    _t("playbook_cohorts", "review", "playbook segment × KPI",
       "each playbook segment's baseline members: KPIs now vs at baseline",
       required="segment kpi value n baseline vs_baseline vs_baseline_kind target gap status status_basis",
       written_when="the baseline segmentation has playbook segments"),
    # ------------------------------------------------------------------ review: the follow-up of a plan run
    _t("plan_summary", "review", "figure",
       "the follow-up review in figures: the plan run's date and as-of date, months since, key accounts, "
       "actions and recommendations committed, done and overdue, and what the follow-up leaves out",
       required="metric label value unit note", optional="text", written_when=_FOLLOWUP),
    _t("plan_kpis", "review", "KPI",
       "each headline KPI at the plan, its committed target and today's value from the same KPI engine; the "
       "change, the share of the gap closed against the share of the time elapsed, and the status (met, on "
       "track, off track, no target)",
       required="kpi plan_value target actual change status",
       optional="label unit trajectory gap_closed time_elapsed change_kind target_date note midpoint_value "
                "midpoint_date",
       written_when=_FOLLOWUP),
    _t("plan_key_accounts", "review", "key account committed in the plan",
       "each committed key account: its committed and current segment, trailing-12-month revenue at the plan "
       "and now, and the outcome (grown, stable, declined, lost; review.followup_* thresholds)",
       required="account_id account_name plan_segment current_segment revenue_plan revenue_now change outcome",
       optional="still_key account_status whitespace_plan whitespace_converted whitespace_categories "
                "last_order_date",
       written_when=_FOLLOWUP),
    _t("plan_segments", "review", "committed segment",
       "each segment of the committed segmentation, its members followed: accounts, accounts still buying, "
       "revenue at the plan and now, retention (share of the members that bought at the plan still buying)",
       required="segment accounts accounts_active revenue_plan revenue_now retention",
       optional="change key_accounts accounts_active_plan", written_when=_FOLLOWUP),
    _t("plan_migration", "review", "committed segment × current segment",
       "where the accounts of each committed segment are today (the plan run's segmentation, not today's "
       "criteria applied to the past): accounts and revenue now",
       required="plan_segment current_segment accounts revenue_now",
       optional="revenue_plan share_of_plan_segment moved", written_when=_FOLLOWUP),
    _t("plan_coverage", "review", "manager in the coverage plan",
       "coverage delivered against the plan: accounts and hours the plan gave each manager, and the accounts "
       "the new data names that manager for",
       required="manager accounts_planned accounts_delivered hours_planned",
       optional="delivery_rate status", written_when=_FOLLOWUP),
    _t("plan_actions", "review", "committed account-plan action",
       "each account-plan action of the plan with its status from the returned actions file (not reported when "
       "the file does not mention it) and whether it is overdue (due before the as-of date and not done)",
       required="action_id account_id account_name action owner due_date status status_date comment overdue",
       optional="kpi target source", written_when=_FOLLOWUP),
    _t("plan_recommendations", "review", "committed recommendation",
       "each recommendation of the plan run with its status from the returned actions file",
       required="recommendation_id title status",
       optional="rank owner due_date value value_basis status_date comment overdue source",
       written_when=_FOLLOWUP),
)}


def table_spec(name: str) -> TableSpec:
    """The catalogue entry of table ``name``.

    Raises
    ------
    RunError
        No step declares the table.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise RunError(f"table '{name}' is not declared in the table catalogue (kam_analysis/data/tables.py); "
                       "fix: declare it there with its phase, one-row-per and columns, or use a declared "
                       "name") from None


def check_columns(name: str, columns: Iterable[str]) -> TableSpec:
    """Check the columns of table ``name`` as written against its declaration; return the spec.

    Raises
    ------
    RunError
        The table is undeclared, lacks a required column or has a column it does not declare.
    """
    spec = table_spec(name)
    have = [str(c) for c in columns]
    missing = [c for c in spec.required if c not in have]
    if missing:
        raise RunError(f"table '{name}' written by phase {spec.phase} lacks required column(s) "
                       f"{', '.join(missing)}; fix: write them, or change the declaration in "
                       "kam_analysis/data/tables.py together with every reader")
    extra = [c for c in have if c not in spec.columns and not c.startswith(spec.open_prefixes)]
    if extra:
        raise RunError(f"table '{name}' written by phase {spec.phase} has column(s) {', '.join(extra)} that "
                       "kam_analysis/data/tables.py does not declare; fix: declare them there (required or "
                       "optional), or drop them")
    return spec


def _cols(cols: tuple[str, ...]) -> str:
    return ", ".join(cols) if cols else "–"


#: tables no deliverable shows, and why: the consultant reads them in the notebooks and the run folder
CONSULTANT_ONLY: dict[str, str] = {
    "account_category": "working table: revenue by account and category, read by the whitespace model",
    "account_kpis": "working table: per-account KPIs the segment baseline and recommendations read",
    "account_period": "working table: per-account period revenue, read by the KPI and impact models",
    "assessment_findings": "the assessment notebook's narrative; the deck words its own findings",
    "baseline_segments": "the segmentation at the baseline date, read by the migration analysis",
    "capacity_summary": "capacity figures; the deck's coverage slides show them from the coverage tables",
    "category_penetration": "working table of the whitespace heat map (the figure reaches the deck)",
    "churn_calibration": "model check by risk decile; the deck says the back-test quality in words",
    "clv_accounts": "per-account CLV model inputs; the workbook shows the CLV itself",
    "impact_by_lever": "scenario detail by segment and lever; the deck shows the scenarios and the tornado",
    "key_status_changes": "audit of accounts whose key-account flag changed; the notebook lists them",
    "kpi_by_segment": "the assessment's breakdowns; the dashboards show the review's segment scorecard",
    "kpi_comparisons": "working table of KPI comparisons the assessment notebook explains",
    "playbook_cohorts": "working table of the stalled-playbook recommendation rule",
    "programme_trends": "working table of the programme-impact notebook (trends before and after)",
    "revenue_at_risk_by_segment": "the churn risk by segment; the deck shows it by risk band and account",
    "score_components": "per-account parts of the selection score; the workbook shows the score",
    "segment_baseline": "inputs of the impact scenarios, explained in the strategy notebook",
    "strategy_headlines": "the strategy notebook's summary lines; the deck words its own titles",
    "survey_coverage": "survey reach behind the NPS figures; the data-quality notes cite it",
    "tier_summary": "value tiers; the deck uses them only when the concentration table is missing",
}
TABLES = {k: replace(v, consultant_only=CONSULTANT_ONLY[k]) if k in CONSULTANT_ONLY else v for k, v in TABLES.items()}


def tables_markdown() -> str:
    """The page ``docs/tables.md``, generated from :data:`TABLES` and :data:`PHASES`."""
    lines = [
        "# Run-folder tables: the contract between phases and deliverables",
        "",
        "<!-- generated from kam_analysis/data/tables.py by `python -m kam_analysis.data.tables > docs/tables.md`;"
        " edit the catalogue, not this page -->",
        "",
        "Phases talk only through `tables/` in the run folder (`Run.write_table` / `Run.read_table`).",
        "The deck, the workbooks and the dashboards read these tables and nothing else, so the names and",
        "columns below are an interface. The catalogue `kam_analysis/data/tables.py` declares them, and the",
        "run checks every table against it when it is written (an undeclared table, a missing *required*",
        "column or an undeclared column stops the run) and when a deliverable reads it",
        "(`run.read_table(name, columns=[...])` fails the run naming the deliverable, the table, the",
        "column and the phase). *Optional* columns are written when the client data or the parameters",
        "support them; a reader checks for them. A table with a *written when* condition may be absent;",
        "a reader asks for it with `run.read_table(name, missing_ok=True)`.",
        "Each phase explains every column in `docs/tables/<phase>.md`.",
        "",
        "Conventions: `account_id` is text; shares are fractions (0.25, not 25); money is in the client",
        "currency (`params.client.currency`); dates are datetimes; a value the data cannot support is",
        "NaN/None with the reason in a `note` column or in `analysis_support` — never a made-up number.",
        "",
        "## Phases",
        "",
        "Re-running a phase (`kam run --phase`) re-runs every phase that reads its tables; the tables of",
        "those phases are never copied from an earlier run. Phases that do not read each other's tables run",
        "at once (`execution.parallel_phases`); a phase whose later cells read another's tables starts beside",
        "it and waits for it before those cells (`Run.wait_for`).",
        "",
        "| phase | notebook | reads the tables of (and is re-run with) |",
        "|---|---|---|",
        f"| {PREPARE} | (the runner, before any notebook, on every run) | – |",
    ]
    for p in PHASES.values():
        lines.append(f"| {p.name} | `{p.notebook}` | {', '.join(p.reads) or PREPARE} |")
    titles = {PREPARE: "prepare (written by the runner before any notebook)",
              **{p.name: p.title for p in PHASES.values()}}
    for phase, title in titles.items():
        lines += ["", f"## {title}", "", "| table | one row per | description | required columns | "
                  "optional columns | written when | client sees it |", "|---|---|---|---|---|---|---|"]
        for t in TABLES.values():
            if t.phase != phase:
                continue
            optional = _cols(t.optional)
            if t.open_prefixes:
                named = " or ".join(f"{p}*" for p in t.open_prefixes)
                optional = (optional + "; " if t.optional else "") + f"one {named} per criterion or feature"
            lines.append(f"| `{t.name}` | {t.one_row_per} | {t.description} | {_cols(t.required)} | {optional} | "
                         f"{t.written_when or 'always'} | "
                         f"{'no: ' + t.consultant_only if t.consultant_only else 'yes'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates docs/tables.md
    print(tables_markdown(), end="")
