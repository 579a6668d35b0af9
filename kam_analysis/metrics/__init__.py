"""The metrics layer: every KPI and shared business definition, defined once.

Concept modules (each imports only lower layers and its siblings):

* :mod:`.definitions` - the KPI registry (label, unit, better-direction, data needs, formula);
* :mod:`.activity` - counted order, active / churned, recency, retention, new, reactivated;
* :mod:`.lost` - accounts that churned in the last 12 months and the revenue already lost with them;
* :mod:`.engine` - the run's orders kept in DuckDB (:class:`OrderSource`): only account and period rows leave it;
* :mod:`.account` - orders from the run and one row per account with every KPI's inputs;
* :mod:`.group` - KPIs of a group of accounts: headline, by segment, year on year;
* :mod:`.period` - KPIs by month / quarter / year;
* :mod:`.concentration`, :mod:`.cohorts`, :mod:`.stats` - concentration, acquisition
  cohorts, and the intervals shared by every KPI.

Notebooks use ``from kam_analysis import metrics`` and call ``metrics.compute_...``.
"""
from .account import NO_ORDERS_TIER, compute_account_kpis, compute_account_kpis_as_of, compute_value_tier, write_account_kpis
from .activity import (active_accounts_at, compute_retention, is_active, is_counted_order, last_counted_order,
                       period_starts, recency_days)
from .capability import Capability, lifecycle_status
from .cohorts import compute_cohort_retention
from .concentration import compute_concentration_curve, compute_concentration_summary, compute_whale_curve
from .engine import OrderSource
from .definitions import (ALL_ACCOUNTS_ONLY_KPIS, SEGMENT_RETENTION_NOTE, KPI, KPI_DEFINITIONS, LOWER_IS_BETTER, UNITS, change_vs_baseline, format_kpi, get_kpi,
                          higher_is_better, target_applies_to_segment, kpi_dictionary_markdown, kpi_explanation, kpi_label, kpi_prose,
                          kpi_unit,
                          render_kpi_dictionary, write_kpi_dictionary)
from .group import (SMALL_BASE, too_small_to_rate, compute_group_kpis, compute_revenue_shares, revenue_share, compute_retention_by_group, compute_headline_kpis, compute_kpi_comparisons, compute_segment_kpis,
                    compute_survey_coverage)
from .key_accounts import (TIERS, compute_key_account_sets, compute_key_account_sizing, in_programme, programme_by_tier,
                           value_per_hour_floor)
from .lost import (compute_lost_accounts, compute_revenue_lost, describe_lost_split, describe_revenue_lost,
                   lost_window)
from .period import compute_period_kpis, compute_period_retention
from .stats import compute_nps

__all__ = [
    "KPI", "KPI_DEFINITIONS", "ALL_ACCOUNTS_ONLY_KPIS", "SEGMENT_RETENTION_NOTE", "UNITS", "LOWER_IS_BETTER", "get_kpi", "kpi_label", "kpi_prose", "kpi_explanation", "kpi_unit",
    "higher_is_better", "target_applies_to_segment", "SMALL_BASE", "too_small_to_rate", "format_kpi", "change_vs_baseline", "kpi_dictionary_markdown", "render_kpi_dictionary",
    "write_kpi_dictionary",
    "is_counted_order", "last_counted_order", "recency_days", "is_active", "active_accounts_at",
    "compute_retention", "period_starts",
    "compute_account_kpis", "compute_account_kpis_as_of", "compute_value_tier", "write_account_kpis", "NO_ORDERS_TIER",
    "compute_group_kpis", "compute_revenue_shares", "revenue_share", "compute_retention_by_group", "compute_headline_kpis", "compute_segment_kpis", "compute_kpi_comparisons",
    "compute_survey_coverage", "compute_period_kpis", "compute_period_retention", "compute_nps",
    "compute_concentration_curve", "compute_concentration_summary", "compute_whale_curve",
    "compute_cohort_retention", "in_programme", "programme_by_tier", "compute_key_account_sets", "Capability", "lifecycle_status",
    "value_per_hour_floor", "compute_key_account_sizing", "TIERS",
    "OrderSource", "lost_window", "compute_lost_accounts", "compute_revenue_lost", "describe_revenue_lost", "describe_lost_split",
]
