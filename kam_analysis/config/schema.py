"""The parameter schema: one pydantic model per section of a client's parameter file."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..exceptions import ParameterError

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- data files
#: Backends a warehouse source may name; Snowflake and BigQuery go through the same Ibis layer
#: (docs/warehouses.md) once their Ibis extra is installed.
WAREHOUSE_BACKENDS = ("duckdb", "postgres", "pyspark", "snowflake", "bigquery")


class WarehouseSource(_Section):
    """A client table read from a database or Spark instead of a file (docs/warehouses.md).

    ``connection`` is the NAME of an environment variable holding the connection URL (or
    an entry of that name in the consultant's own ``~/.config/kam/connections.yaml``,
    outside the repository), never the URL or a password itself: the parameter file, the
    run's manifest, its logs and every message name the variable, not its value.
    """

    backend: Literal["duckdb", "postgres", "pyspark", "snowflake", "bigquery"] = Field(
        description="the engine that holds the table: duckdb, postgres, pyspark (Spark, Databricks), "
                    "snowflake or bigquery")
    table: str | None = Field(None, min_length=1, description="the table or view, e.g. sales.order_lines")
    query: str | None = Field(None, min_length=1, description="a SELECT run in the engine, instead of a table")
    connection: str | None = Field(
        None, description="NAME of the environment variable holding the connection URL (never the URL itself); "
                          "pyspark without one uses the running Spark session or local mode")
    key: list[str] = Field(default_factory=list, description="client columns that identify a row, named in "
                                                             "messages (default: the mapped ids)")

    @field_validator("connection")
    @classmethod
    def _a_name_not_a_secret(cls, v: str | None) -> str | None:
        # the value is never repeated in the message: it may be a URL holding a password
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", v):
            raise ValueError("give the NAME of an environment variable that holds the connection URL "
                             "(e.g. KAM_WAREHOUSE_URL), never the URL or a password: export "
                             "KAM_WAREHOUSE_URL='postgresql://user:password@host/db' in your shell and write "
                             "connection: KAM_WAREHOUSE_URL")
        return v

    @model_validator(mode="after")
    def _table_or_query(self) -> "WarehouseSource":
        if (self.table is None) == (self.query is None):
            raise ValueError("give either table (a table or view name) or query (a SELECT), not both or neither")
        if self.backend != "pyspark" and self.connection is None:
            raise ValueError(f"a {self.backend} source needs connection: the name of the environment variable "
                             "holding its URL")
        return self

    def label(self) -> str:
        """How messages name the source: the backend and the table, never the connection's value."""
        return f"{self.backend} table {self.table}" if self.table else f"{self.backend} query"


class FileSpec(_Section):
    """One client file, or a table in a database (``warehouse``), and how its columns map onto the
    data contract."""

    path: Path | None = Field(None, description="CSV, XLSX/XLS or Parquet file; relative to the params file")
    warehouse: WarehouseSource | None = Field(
        None, description="read the table from a database or Spark instead of a file (docs/warehouses.md)")
    sheet: str | int | None = Field(None, description="Excel sheet name or index (default: first sheet)")
    header_row: int | None = Field(
        None, ge=1, description="Excel/CSV: 1-based row holding the column names (default: detected)"
    )
    encoding: str | None = Field(None, description="CSV encoding (default: detected; utf-8, BOM, latin-1)")
    delimiter: str | None = Field(None, description="CSV delimiter (default: detected)")
    date_format: str | None = Field(
        None, description="strptime format for dates, e.g. '%d/%m/%Y' (default: ISO or detected)"
    )
    decimal: Literal[".", ","] = Field(".", description="decimal separator in numbers")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="contract column -> client column; unmapped contract columns use their own name",
    )

    @model_validator(mode="after")
    def _file_or_warehouse(self) -> "FileSpec":
        if (self.path is None) == (self.warehouse is None):
            raise ValueError("give either path (a client file) or warehouse (a database table), not both or neither")
        if self.warehouse is not None:
            given = sorted(k for k in ("sheet", "header_row", "encoding", "delimiter") if getattr(self, k) is not None)
            if given:
                raise ValueError(f"{', '.join(given)} describe a file; a warehouse source has typed columns")
        return self

    @property
    def source(self) -> str:
        """The file, or the warehouse table, as messages name it."""
        return str(self.path) if self.warehouse is None else self.warehouse.label()

    @property
    def source_name(self) -> str:
        """The file's name, or the warehouse table, for short mentions."""
        return Path(self.path).name if self.warehouse is None else self.warehouse.label()


class DemoSpec(_Section):
    """Generate a synthetic client into the data files when they are missing.

    ``profile`` picks the client: ``demo`` (Maison Demo, every input), ``consumer`` (a
    transactions-only US consumer retailer, no order id) or ``b2b`` (an invoice-only UK
    wholesaler); see :mod:`kam_analysis.data.demo_clients`. Unset values take the profile's
    defaults.
    """

    profile: Literal["demo", "consumer", "b2b"] = "demo"
    seed: int | None = Field(None, description="default: 42 (demo), 12 (consumer), 21 (b2b)")
    n_accounts: int | None = Field(None, ge=20, le=5_000_000,
                                   description="default: 2,000 (demo), 26,000 (consumer), 3,000 (b2b)")
    start: dt.date | None = Field(None, description="first day of history (default: the profile's)")
    end: dt.date | None = Field(None, description="last day of history (default: the profile's)")
    n_orders: int | None = Field(None, ge=1000, description="large-client mode (demo only): target order count")
    file_format: Literal["csv", "parquet"] = Field("csv", description="format of the orders file (demo only)")
    follow_up_months: int | None = Field(
        None, ge=1, le=24, description="demo only: make the data a later snapshot of the plan run (review.plan_run), "
                                       "this many months after its as-of date, with the plan's execution planted "
                                       "(kam_analysis.data.demo_followup); the plan run's accounts and seed are kept")

    @model_validator(mode="after")
    def _demo_only(self) -> "DemoSpec":
        if self.profile != "demo" and (self.n_orders is not None or self.file_format != "csv"
                                       or self.follow_up_months is not None):
            raise ValueError(f"data.demo.n_orders, file_format and follow_up_months apply to the demo profile only, "
                             f"not '{self.profile}'")
        return self


class DataSection(_Section):
    transactions: FileSpec
    accounts: FileSpec | None = None
    surveys: FileSpec | None = None
    capability: FileSpec | None = None
    demo: DemoSpec | None = Field(None, description="only for the demo client")


# --------------------------------------------------------------------------- sections
class ClientSection(_Section):
    name: str = Field(min_length=1, max_length=120)
    industry: str = Field("online_retail", description="key into templates/benchmarks.yaml")
    currency: str = Field("EUR", min_length=3, max_length=3)

    @field_validator("currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()


class EngagementSection(_Section):
    title: str = Field("Key Account Management Programme", min_length=1, max_length=120)
    consultant: str = Field("KAM Advisory", max_length=80)
    date: dt.date | None = Field(None, description="date printed on deliverables (default: as-of date)")
    next_steps: list[str] = Field(
        default_factory=list, max_length=6,
        description="the consultant's agreed next steps, shown first on the deck's next-steps slide")


class MinimumSizes(_Section):
    """The smallest customer base each analysis is run on: below it the analysis is *not
    supported* and no phase or deliverable shows it (``docs/data_capability.md``).

    Counts are **live** accounts (a counted order within the churn window at the as-of date),
    the accounts the analyses work on. The defaults are judgement, not statistics: the
    smallest base on which the result means something a partner could present.
    """

    portfolio_matrix_accounts: int = Field(
        20, ge=1, description="live accounts for the portfolio matrix, its segment profiles and weight stability "
                              "(four quadrants need about five accounts each)")
    key_account_accounts: int = Field(10, ge=1, description="live accounts to pick key accounts from")
    scenario_accounts: int = Field(
        20, ge=1, description="live accounts for impact scenarios and the business case (a few accounts give "
                              "figures of a few euros that are noise, not a case)")
    churn_accounts: int = Field(20, ge=1, description="live accounts for the churn-risk model (churners must "
                                                      "number more than a handful)")
    whitespace_accounts: int = Field(10, ge=1, description="live accounts for cross-sell whitespace (peers to "
                                                           "compare with)")
    cohort_months: float = Field(6.0, ge=0, description="months of orders for acquisition cohorts (two half-year "
                                                        "cohorts to compare)")
    cohort_accounts: int = Field(10, ge=1, description="accounts for acquisition cohorts")


class AnalysisSection(_Section):
    as_of_date: dt.date = Field(description="the analysis date; orders after it are excluded")
    programme_start: dt.date | None = Field(None, description="start of the KAM programme, if any")
    period: Literal["month", "quarter", "year"] = "quarter"
    churn_days: int = Field(180, ge=7, le=3650, description="no order for this many days = churned")
    history_start: dt.date | None = Field(None, description="ignore orders before this date")
    breakdown_by: list[str] = Field(
        default_factory=lambda: ["segment", "region", "account_manager", "key_account", "value_tier"],
        description="account attributes the KPIs are broken down by (absent ones are skipped; "
                    "value_tier = tiers of segmentation.tiers by last-12-month revenue)",
    )
    min_sizes: MinimumSizes = Field(default_factory=MinimumSizes,
                                    description="the smallest base each analysis is run on (live accounts)")

    @model_validator(mode="after")
    def _dates(self) -> "AnalysisSection":
        if self.programme_start and self.programme_start > self.as_of_date:
            raise ValueError(
                f"analysis.programme_start ({self.programme_start}) is after analysis.as_of_date "
                f"({self.as_of_date}); the programme must start on or before the as-of date"
            )
        if self.history_start and self.history_start >= self.as_of_date:
            raise ValueError("analysis.history_start must be before analysis.as_of_date")
        return self


class RAGThresholds(_Section):
    """Red/amber/green status from the relative shortfall against a target."""

    amber: float = Field(0.05, ge=0, le=1, description="shortfall above this share of target = amber")
    red: float = Field(0.15, ge=0, le=1, description="shortfall above this share of target = red")

    @model_validator(mode="after")
    def _order(self) -> "RAGThresholds":
        if self.red < self.amber:
            raise ValueError(f"thresholds.rag.red ({self.red}) must be >= thresholds.rag.amber ({self.amber})")
        return self


class ThresholdSection(_Section):
    rag: RAGThresholds = Field(default_factory=RAGThresholds)
    min_denominator: int = Field(30, ge=1, description="rates on fewer accounts/responses are flagged")
    survey_coverage_min: float = Field(0.3, ge=0, le=1, description="below this, NPS/CSAT flagged unreliable")
    confidence: float = Field(0.95, gt=0.5, lt=1)


class BenchmarkSection(_Section):
    file: Path | None = Field(None, description="benchmarks YAML (default: templates/benchmarks.yaml)")
    overrides: dict[str, float] = Field(default_factory=dict, description="KPI -> benchmark value")


class QuadrantNames(_Section):
    """Names of the four KAM portfolio-matrix quadrants (McDonald & Rogers)."""

    high_attractiveness_high_strength: str = "Strategic"
    high_attractiveness_low_strength: str = "Star"
    low_attractiveness_high_strength: str = "Status"
    low_attractiveness_low_strength: str = "Streamline"

    def ordered(self) -> list[str]:
        return [self.high_attractiveness_high_strength, self.high_attractiveness_low_strength,
                self.low_attractiveness_high_strength, self.low_attractiveness_low_strength]


class QuadrantIntents(_Section):
    """Recommended engagement intent per portfolio quadrant (input to the strategy phase)."""

    high_attractiveness_high_strength: str = ("Invest: partner for joint growth, with a dedicated manager where "
                                              "the account's value can carry one")
    high_attractiveness_low_strength: str = "Develop: build the relationship and share of wallet selectively"
    low_attractiveness_high_strength: str = "Maintain: protect the relationship at a lower cost to serve"
    low_attractiveness_low_strength: str = "Streamline: serve efficiently through digital and inside sales"


class Criterion(_Section):
    """One scoring criterion: an account-feature column, its group and weight."""

    column: str = Field(description="account feature (see segmentation.compute_account_features)")
    group: Literal["value", "growth", "strategic", "relationship"] = "value"
    weight: float = Field(ge=0, description="relative weight; weights are rescaled to sum to 1")
    higher_is_better: bool = True


def _default_selection() -> dict[str, "Criterion"]:
    return {
        "revenue_12m": Criterion(column="revenue_12m", group="value", weight=0.25),
        "gross_margin_12m": Criterion(column="gross_margin_12m", group="value", weight=0.15),
        "clv": Criterion(column="clv", group="value", weight=0.10),
        "revenue_change": Criterion(column="revenue_change", group="growth", weight=0.15),
        "expected_purchases": Criterion(column="expected_purchases", group="growth", weight=0.10),
        "strategic_importance": Criterion(column="strategic_importance", group="strategic", weight=0.25),
    }


def _default_strength() -> dict[str, "Criterion"]:
    return {
        "nps": Criterion(column="nps_mean", group="relationship", weight=0.25),
        "csat": Criterion(column="csat_mean", group="relationship", weight=0.15),
        "tenure": Criterion(column="tenure_days", group="relationship", weight=0.20),
        "category_breadth": Criterion(column="n_categories", group="relationship", weight=0.20),
        "order_regularity": Criterion(column="order_regularity", group="relationship", weight=0.20),
    }


class QuadrantOverride(_Section):
    account_id: str
    quadrant: str
    reason: str = Field(min_length=1)


class RFMSettings(_Section):
    bins: int = Field(5, ge=2, le=10, description="quantile bins per R, F and M score")
    recency_column: str = "recency_days"
    frequency_column: str = "n_orders"
    monetary_column: str = "revenue"
    segments_file: Path | None = Field(
        None, description="RFM segment mapping YAML, relative to the params file (default: templates/rfm_segments.yaml)")


class ClusterSettings(_Section):
    features: list[str] = Field(default_factory=lambda: [
        "log_revenue_12m", "log_orders_12m", "recency_days", "tenure_days", "n_categories", "n_channels",
        "margin_rate", "order_regularity"], description="account features, standardised before clustering")
    k_min: int = Field(3, ge=2, le=20)
    k_max: int = Field(8, ge=2, le=30)
    silhouette_sample: int = Field(5000, ge=100, description="accounts sampled to compute silhouette")

    @model_validator(mode="after")
    def _range(self) -> "ClusterSettings":
        if self.k_max < self.k_min:
            raise ValueError(f"segmentation.clusters.k_max ({self.k_max}) must be >= k_min ({self.k_min})")
        return self


class CLVSettings(_Section):
    horizon_months: int = Field(36, ge=1, le=240, description="CLV horizon")
    annual_discount_rate: float = Field(0.10, ge=0, le=1)
    holdout_weeks: int = Field(26, ge=0, le=260, description="holdout for the calibration check (0 = none)")
    time_unit_days: float = Field(7.0, gt=0, description="model time unit (7 = weeks, as published)")
    value_basis: Literal["revenue", "gross_margin"] = Field(
        "gross_margin", description="CLV in revenue, or in gross margin (revenue x the account's margin rate)")


class TierNames(_Section):
    """The coverage tiers as the client reads them (metrics.key_accounts.TIERS; docs/key_accounts.md)."""

    key: str = Field("Key accounts", min_length=1)  # a dedicated key account manager and a joint plan
    growth: str = Field("Growth accounts", min_length=1)  # a pooled account team
    core: str = Field("Core accounts", min_length=1)  # digital and inside sales, no manager hours
    inactive: str = Field("Inactive accounts", min_length=1)  # not live; also their group apart from the matrix


class KeyAccountSizing(_Section):
    """How many key accounts value and capacity support (docs/key_accounts.md)."""

    min_revenue_share: float = Field(0.01, gt=0, lt=1, description="without a cost per hour: the share of live "
                                     "revenue an account needs to carry a dedicated manager")
    max_cost_share: float = Field(0.10, gt=0, le=1, description="with strategy.cost_per_hour: the most an account's "
                                  "manager time may cost, as a share of its revenue")
    tier_names: TierNames = Field(default_factory=TierNames)
    inactive_intent: str = "Win back through digital campaigns; no account-manager time until they buy again"


class SegmentationSection(_Section):
    quadrant_names: QuadrantNames = Field(default_factory=QuadrantNames)
    quadrant_intents: QuadrantIntents = Field(default_factory=QuadrantIntents)
    key_account_share: float | None = Field(None, gt=0, lt=1, description="optional cap on the share of live "
                                            "accounts selected (value and capacity decide: key_accounts)")
    key_accounts: KeyAccountSizing = Field(default_factory=KeyAccountSizing)
    tiers: dict[str, float] = Field(
        default_factory=lambda: {"Top": 0.10, "Middle": 0.25, "Tail": 0.65},
        description="value tiers, top to bottom, as shares of accounts (must sum to 1)",
    )
    normalisation: Literal["percentile", "minmax"] = Field(
        "percentile", description="how each criterion is put on 0-1 before weighting")
    selection_criteria: dict[str, Criterion] = Field(
        default_factory=_default_selection, description="key-account selection score = account attractiveness")
    strength_criteria: dict[str, Criterion] = Field(
        default_factory=_default_strength, description="relative strength of the relationship")
    attractiveness_threshold: float | None = Field(
        None, ge=0, le=1, description="matrix split on attractiveness (default: the median score)")
    strength_threshold: float | None = Field(
        None, ge=0, le=1, description="matrix split on relative strength (default: the median score)")
    overrides_file: Path | None = Field(
        None, description="consultant overrides: a CSV (account_id, quadrant, reason) or the segmentation workbook "
        "returned with 'Your override' / 'Your reason' filled in; relative to the params file")
    overrides: list[QuadrantOverride] = Field(default_factory=list, description="inline consultant overrides")
    stability_draws: int = Field(500, ge=10, le=100_000, description="Monte Carlo draws of perturbed weights")
    stability_concentration: float = Field(
        20.0, gt=0, description="Dirichlet concentration of perturbed weights (higher = smaller perturbation)")
    seed: int = Field(2024, description="seed for stability draws and clustering")
    rfm: RFMSettings = Field(default_factory=RFMSettings)
    clusters: ClusterSettings = Field(default_factory=ClusterSettings)
    clv: CLVSettings = Field(default_factory=CLVSettings)

    @field_validator("tiers")
    @classmethod
    def _tiers_sum(cls, v: dict[str, float]) -> dict[str, float]:
        total = sum(v.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"segmentation.tiers shares must sum to 1, they sum to {total:.3f}")
        if any(s <= 0 for s in v.values()):
            raise ValueError("segmentation.tiers shares must be positive")
        return v

    @field_validator("selection_criteria", "strength_criteria")
    @classmethod
    def _weights(cls, v: dict[str, Criterion]) -> dict[str, Criterion]:
        if not v:
            raise ValueError("at least one criterion is needed")
        if sum(c.weight for c in v.values()) <= 0:
            raise ValueError("criteria weights must not all be zero")
        return v

    @model_validator(mode="after")
    def _names(self) -> "SegmentationSection":
        names = self.quadrant_names.ordered()
        if len(set(names)) != 4:
            raise ValueError(f"segmentation.quadrant_names must be four different names, got {names}")
        if (bad := self.key_accounts.tier_names.inactive) in names:
            raise ValueError(f"segmentation.key_accounts.tier_names.inactive ({bad!r}) is also a quadrant name; fix: "
                             "give the inactive group its own name")
        return self


#: what the business case assumes for a programme cost the client has not given (client currency);
#: every page that uses one says it is an assumption to replace
ASSUMED_PROGRAMME_COSTS: dict[str, float] = {"cost_per_hour": 60.0, "tools_cost_per_year": 20_000.0,
                                             "setup_cost": 50_000.0}


class StrategySection(_Section):
    """Phases 3-4: playbooks, coverage plan, churn model, whitespace, scenarios, account plans."""

    playbooks: Path | None = Field(None, description="playbooks YAML (default: templates/playbooks.yaml)")
    playbook_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="segment -> {playbook field: value}; overrides the playbooks file")
    # ---- coverage and capacity
    managers: dict[str, float] = Field(
        default_factory=dict,
        description="account manager -> hours per year for account work (default: the named managers "
                    "in the accounts table, each with hours_per_manager)")
    hours_per_manager: float = Field(1200.0, gt=0, le=3000,
                                     description="account-work hours per manager per year")
    headcount: int | None = Field(
        None, ge=0, description="managers available when neither managers nor the accounts table name any")
    non_manager_labels: list[str] = Field(
        default_factory=lambda: ["Digital desk", "Unassigned", "House account", "None", "n/a"],
        description="account_manager values that are not people (not counted as capacity)")
    engagement_hours: dict[str, float] = Field(
        default_factory=dict, description="engagement model -> hours per account per year (overrides the playbooks file)")
    load_balance_tolerance: float = Field(
        0.10, ge=0, le=1, description="a manager's utilisation may exceed the team average by this many points")
    # ---- churn model
    churn_horizon_days: int = Field(
        365, ge=30, le=730, description="churn = an active account places no order in this many days after the cut-off")
    churn_windows: int = Field(4, ge=1, le=12, description="quarterly cut-offs pooled to train the churn model")
    churn_features: list[str] = Field(
        default_factory=lambda: ["recency_months", "orders_12m_log2", "frequency_trend", "detractor", "no_survey",
                                 "tenure_years", "category_breadth"],
        description="features of the churn model (see kam_analysis.models.churn.FEATURES; key_account is available but "
                    "leaks when the client chose key accounts after the training cut-offs)")
    risk_band_shares: dict[str, float] = Field(
        default_factory=lambda: {"high": 0.10, "medium": 0.20},
        description="share of active accounts in the high and medium risk bands (by risk rank)")
    # ---- whitespace
    whitespace_min_propensity: float = Field(
        0.3, ge=0, le=1, description="recommend a category when this share of similar accounts buys it")
    whitespace_top_n: int = Field(3, ge=1, le=50, description="opportunities kept per account")
    # ---- targets and scenarios
    segment_targets: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="segment -> {retention_pts, aov_growth, frequency_growth, cross_sell_capture}")
    benchmark_gap_closure: float = Field(
        0.5, ge=0, le=1, description="share of a gap (to a sourced benchmark, or without targets to the client's "
                                     "own top-quartile segment) the plan closes when no target is given")
    impact_cap_share: float = Field(
        0.10, gt=0, le=1, description="without client targets, the impact scenarios' revenue impact is capped at "
                                      "this share of last-12-month revenue")
    scenario_multipliers: dict[str, float] = Field(
        default_factory=lambda: {"low": 0.5, "base": 1.0, "high": 1.5},
        description="low/base/high: multiplier applied to every lever")
    scenario_weights: dict[str, float] = Field(
        default_factory=lambda: {"low": 0.25, "base": 0.5, "high": 0.25},
        description="low/base/high probability weights for the expected impact (sum to 1)")
    # ---- programme cost and business case (None: the documented assumption, labelled as such on every page)
    cost_per_hour: float | None = Field(
        None, ge=0, description="fully loaded cost of an account-manager hour, in the client's currency; not given: "
                                f"the business case assumes {ASSUMED_PROGRAMME_COSTS['cost_per_hour']:,.0f} and says so")
    tools_cost_per_year: float | None = Field(
        None, ge=0, description="CRM seats, data and tools for the programme per year; not given: the business case "
                                f"assumes {ASSUMED_PROGRAMME_COSTS['tools_cost_per_year']:,.0f} and says so")
    setup_cost: float | None = Field(
        None, ge=0, description="one-off set-up (training, CRM configuration, account-plan workshops); not given: the "
                                f"business case assumes {ASSUMED_PROGRAMME_COSTS['setup_cost']:,.0f} and says so")
    ramp_up: list[float] = Field(
        default_factory=lambda: [0.4, 0.8, 1.0],
        description="share of the full-year impact realised in each programme year (its length is the business "
                    "case's horizon)")
    # ---- account plans
    top_n_account_plans: int = Field(
        10, ge=1, le=500, description="key accounts whose plan the deck shows (every key account gets a plan in "
                                      "the segmentation workbook)")
    plan_date: dt.date | None = Field(None, description="date account-plan actions count from (default: as-of date)")

    @field_validator("ramp_up")
    @classmethod
    def _ramp(cls, v: list[float]) -> list[float]:
        if not v or len(v) > 10 or any(not 0 <= x <= 1 for x in v):
            raise ValueError(f"ramp_up must list 1 to 10 shares between 0 and 1 (one per programme year), got {v}; "
                             "fix: e.g. [0.4, 0.8, 1.0]")
        return v

    @field_validator("managers", "engagement_hours")
    @classmethod
    def _positive_hours(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x >= 0}
        if bad:
            raise ValueError(f"hours must be zero or positive; got {bad}; fix: give each an annual number of hours")
        return v

    @field_validator("risk_band_shares")
    @classmethod
    def _bands(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != {"high", "medium"}:
            raise ValueError(f"risk_band_shares needs exactly the keys high and medium, got {sorted(v)}")
        if any(x <= 0 for x in v.values()) or sum(v.values()) >= 1:
            raise ValueError(f"risk_band_shares must be positive and sum to less than 1, got {v}")
        return v

    @field_validator("scenario_multipliers", "scenario_weights")
    @classmethod
    def _scenarios(cls, v: dict[str, float], info) -> dict[str, float]:
        if set(v) != {"low", "base", "high"}:
            raise ValueError(f"{info.field_name} needs exactly the keys low, base and high, got {sorted(v)}")
        if any(x < 0 for x in v.values()):
            raise ValueError(f"{info.field_name} must not be negative, got {v}")
        if info.field_name == "scenario_weights" and abs(sum(v.values()) - 1) > 1e-6:
            raise ValueError(f"scenario_weights must sum to 1, they sum to {sum(v.values()):.3f}; "
                             "fix: e.g. {low: 0.25, base: 0.5, high: 0.25}")
        if info.field_name == "scenario_multipliers" and not v["low"] <= v["base"] <= v["high"]:
            raise ValueError(f"scenario_multipliers must satisfy low <= base <= high, got {v}")
        return v


class ReviewSection(_Section):
    """Phase 5: KPI tracking, control charts, programme impact, migration, recommendations."""

    baseline_date: dt.date | None = Field(
        None, description="date of the baseline KPIs and segmentation (default: programme start, "
                          "else one year before the as-of date)")
    segment_column: str = Field("quadrant", description="column of the segments table tracked and migrated "
                                                        "(quadrant, tier, rfm_segment ...)")
    trend_window: int | None = Field(None, ge=1, description="periods compared for a KPI's trend "
                                                            "(default: one year of periods)")
    trend_flat_band: float = Field(0.02, ge=0, le=1, description="relative change within which a trend is 'flat'")
    spc_min_baseline: int = Field(6, ge=2, description="fewest pre-programme periods to set control limits on")
    spc_run_length: int = Field(8, ge=3, le=20, description="points on one side of the centre line that signal")
    did_control_ratio: int = Field(10, ge=1, le=100, description="matched control accounts per programme account")
    did_match_window_share: float = Field(
        0.5, ge=0, lt=1, description="share of pre-programme periods used only for matching (0 = match and "
                                     "estimate on the whole pre-period)")
    did_min_accounts: int = Field(30, ge=2, description="fewest treated and control accounts for an estimate "
                                                       "(cluster-robust errors need enough accounts per group)")
    did_min_pre_periods: int = Field(3, ge=2, description="fewest pre-programme periods in the estimation")
    did_min_post_periods: int = Field(2, ge=1, description="fewest periods since the programme start")
    did_drop_edge_periods: bool = Field(True, description="drop each account's partial first and last period")
    recommend_on_status: list[Literal["red", "amber"]] = Field(
        default_factory=lambda: ["red"], description="KPI statuses that trigger a target-gap recommendation")
    high_risk_bands: list[str] = Field(default_factory=lambda: ["high"],
                                       description="churn_risk bands counted as high risk")
    no_coverage_labels: list[str] = Field(
        default_factory=lambda: ["Digital desk", "Unassigned", "House account"],
        description="account_manager values meaning 'no dedicated manager' (besides empty)")
    whitespace_top_n: int = Field(20, ge=1, description="whitespace opportunities in the cross-sell recommendation")
    playbook_min_improvement: float = Field(
        0.0, ge=-1, le=1, description="a playbook segment growing by no more than this since baseline is flagged")
    dashboard_at_risk_rows: int = Field(25, ge=1, le=500, description="accounts in the dashboards' at-risk list")
    # ---- the follow-up review: measuring what an earlier run committed to (docs/followup.md)
    plan_run: str | None = Field(
        None, description="the earlier run of this client whose plan this review measures: its run folder (relative "
                          "to the params file), its run id (a folder name under outputs/<client>/), or 'latest' "
                          "(the client's most recent successful run with an earlier as-of date); empty: no "
                          "follow-up")
    actions_file: Path | None = Field(
        None, description="the returned actions file, CSV or XLSX (relative to the params file): action_id, status "
                          "(done, in progress, not started, dropped), status_date, comment; one row per action or "
                          "recommendation (its REC- id)")
    followup_grown: float = Field(
        0.10, ge=0, le=10, description="follow-up: a committed key account whose trailing-12-month revenue rose by "
                                       "more than this share since the plan has grown")
    followup_declined: float = Field(
        0.10, ge=0, le=1, description="follow-up: one whose revenue fell by more than this share has declined "
                                      "(within both bands: stable)")

    followup_target_months: int = Field(
        12, ge=1, le=60, description="follow-up: months the plan gives itself to reach its KPI targets (a KPI is on "
                                     "track when the share of its gap closed is at least the share of this time "
                                     "elapsed)")

    @field_validator("plan_run")
    @classmethod
    def _plan_run_text(cls, v: str | None) -> str | None:
        if v is None or not str(v).strip():
            return None
        v = str(v).strip()
        return "latest" if v.lower() == "latest" else v


class BrandingSection(_Section):
    template: Path | None = Field(None, description="deck template .pptx (default: templates/kam_template.pptx)")
    primary_color: str = "#0B2545"
    accent_color: str = "#13A89E"
    logo: Path | None = None
    apply_colors_to_template: bool = Field(
        True, description="write primary/accent colours into the template's theme (false: keep a firm's own theme)")
    confidentiality: str = Field("Confidential", max_length=60,
                                 description="marking printed on the deck's title slide ('' for none)")

    @field_validator("primary_color", "accent_color")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", v):
            raise ValueError(f"colour {v!r} must be a hex colour like '#0B2545'")
        return v.upper()


# --------------------------------------------------------------------------- qualitative context
class ForceRating(_Section):
    """One of Porter's five forces: how strong it is for the client, and why."""

    rating: Literal["low", "medium", "high"] | int = Field(
        description="low/medium/high, or 1 (weak) to 5 (strong)")
    note: str = Field("", max_length=300, description="one sentence of evidence")

    @field_validator("rating")
    @classmethod
    def _rating(cls, v):
        if isinstance(v, int) and not 1 <= v <= 5:
            raise ValueError(f"a force rating is low/medium/high or 1-5, got {v}")
        return v

    @property
    def level(self) -> str:
        """low / medium / high, whichever way the rating was given."""
        if isinstance(self.rating, str):
            return self.rating
        return "low" if self.rating <= 2 else "medium" if self.rating == 3 else "high"


class FiveForces(_Section):
    """Porter's five forces for the client's market (any may be left out)."""

    rivalry: ForceRating | None = None
    new_entrants: ForceRating | None = None
    substitutes: ForceRating | None = None
    buyer_power: ForceRating | None = None
    supplier_power: ForceRating | None = None


class PestSection(_Section):
    """PEST: external factors, a few short points each."""

    political: list[str] = Field(default_factory=list, max_length=6)
    economic: list[str] = Field(default_factory=list, max_length=6)
    social: list[str] = Field(default_factory=list, max_length=6)
    technological: list[str] = Field(default_factory=list, max_length=6)


class MostSection(_Section):
    """MOST: mission, objectives, strategies, tactics of the KAM programme."""

    mission: str | None = Field(None, max_length=400)
    objectives: list[str] = Field(default_factory=list, max_length=6)
    strategies: list[str] = Field(default_factory=list, max_length=6)
    tactics: list[str] = Field(default_factory=list, max_length=6)


class GapItem(_Section):
    """One row of the gap analysis: where the client is, where it wants to be, how to close it."""

    area: str = Field(min_length=1, max_length=80)
    current: str = Field("", max_length=200)
    desired: str = Field("", max_length=200)
    action: str = Field("", max_length=200)


class ContextSection(_Section):
    """The consultant's qualitative inputs, rendered as framework slides; all optional."""

    five_forces: FiveForces | None = None
    pest: PestSection | None = None
    most: MostSection | None = None
    gaps: list[GapItem] = Field(default_factory=list, max_length=12, description="gap analysis rows")
    strengths: list[str] = Field(default_factory=list, max_length=8, description="the client's KAM strengths")


class ExecutionSection(_Section):
    cell_timeout: int = Field(1800, ge=1, description="seconds a notebook cell may run")
    kernel: str = "python3"
    parallel_phases: int | None = Field(
        None, ge=1, le=4,
        description="phases that do not read each other's tables (assessment and segmentation) run at once, up "
                    "to this many; empty: 2 on a machine with 2 or more cores and up to "
                    f"{2_000_000:,} order lines, else 1 (each running phase's kernel holds its own data)")


class OutputSection(_Section):
    root: Path = Field(Path("outputs"), description="runs are written under <root>/<client-slug>/")
    pseudonymise: bool = Field(False, description="replace account names in client deliverables")
    workbook_accounts: int = Field(
        250_000, ge=100, le=1_048_000,
        description="most accounts the segmentation workbook's Accounts sheet lists (best selection score first); "
                    "above it the full list goes to a data file beside the workbook, so a million-account client's "
                    "workbook stays small enough to open and send (192 MB with every account)")


class Params(_Section):
    """Everything a run needs; one YAML file per client."""

    client: ClientSection
    engagement: EngagementSection = Field(default_factory=EngagementSection)
    data: DataSection
    analysis: AnalysisSection
    thresholds: ThresholdSection = Field(default_factory=ThresholdSection)
    targets: dict[str, float] = Field(default_factory=dict, description="KPI -> client target")
    benchmarks: BenchmarkSection = Field(default_factory=BenchmarkSection)
    segmentation: SegmentationSection = Field(default_factory=SegmentationSection)
    strategy: StrategySection = Field(default_factory=StrategySection)
    review: ReviewSection = Field(default_factory=ReviewSection)
    context: ContextSection = Field(
        default_factory=lambda: ContextSection(),
        description="qualitative inputs (five_forces, pest, most, gaps, strengths)")
    branding: BrandingSection = Field(default_factory=BrandingSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    output: OutputSection = Field(default_factory=OutputSection)

    # set by load_params, not by the file
    source_path: Path | None = Field(None, exclude=True)

    @property
    def slug(self) -> str:
        return client_slug(self.client.name)

    def resolved_dump(self) -> dict:
        """The params as JSON-safe data (paths absolute), for the manifest and notebooks."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- helpers
def client_slug(name: str) -> str:
    """A safe folder name for a client: lowercase ASCII letters, digits and hyphens.

    No path separators, no dots, never empty, at most 60 characters, so the run folder
    always stays inside the output root. A name with no Latin letters or digits (e.g. in
    Japanese) gets ``client-<hash>``, stable for the same name.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    if not slug and any(ch.isalnum() for ch in name):
        # a name in a non-Latin script: a stable, safe folder name from its hash
        import hashlib

        slug = "client-" + hashlib.sha256(name.strip().encode("utf-8")).hexdigest()[:10]
    if not slug:
        raise ParameterError(
            f"client.name {name!r} has no letters or digits to build a folder name from; "
            "fix: give the client a name with at least one letter or digit"
        )
    return slug


