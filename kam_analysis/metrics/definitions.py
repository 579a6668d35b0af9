"""The KPI registry: every KPI's name, labels, unit, better-direction, data needs and formula, once.

Every table, notebook, deliverable and speaker note takes a KPI's words and format from
here: :func:`kpi_label` (tables; ``short=True`` for tiles and legends), :func:`kpi_prose`
(inside a sentence), :func:`kpi_unit` and :func:`format_kpi` (the display format of its unit,
:func:`kam_analysis.present.formats.fmt_value`), :func:`higher_is_better` and
:func:`change_vs_baseline`. ``docs/kpi_dictionary.md`` is generated from it
(:func:`write_kpi_dictionary`; a test fails when the committed page is stale).

Units: ``currency`` (client currency), ``share`` (fraction 0-1), ``count``, ``score`` (NPS
-100..100, CSAT and maturity 1-5), ``ratio``, ``days``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..present.formats import POINT_UNITS, fmt_value

__all__ = ["KPI", "KPI_DEFINITIONS", "UNITS", "LOWER_IS_BETTER", "get_kpi", "kpi_label", "kpi_prose", "kpi_explanation", "kpi_unit",
           "higher_is_better", "format_kpi", "change_vs_baseline", "kpi_dictionary_markdown",
           "render_kpi_dictionary", "write_kpi_dictionary", "ALL_ACCOUNTS_ONLY_KPIS", "SEGMENT_RETENTION_NOTE",
           "target_applies_to_segment"]

#: the units a KPI may have (each has one display format in present.formats.fmt_value)
UNITS = ("currency", "share", "count", "score", "ratio", "days")


@dataclass(frozen=True)
class KPI:
    """One KPI's definition: the single source for its words, unit, direction and formula.

    Attributes
    ----------
    name : str
        The key used in every table (``kpi`` column, column names).
    label : str
        Full label for tables and the dictionary ("Net revenue, last 12 months").
    unit : str
        One of :data:`UNITS`; decides the display format and how a change is read.
    higher_is_better : bool or None
        Direction for status colours; None when neither is better (a count of key accounts).
    formula : str
        The definition, in the dictionary's notation (T, W, P).
    needs : str
        The data the KPI needs (``transactions``, ``margin``, ``surveys`` ...).
    short : str
        Label for tiles, chart legends and column heads ("Revenue (12m)"); the label when empty.
    prose : str
        How the KPI reads inside a sentence ("retention"); the label in lower case when empty.
    explain : str
        The definition in the client's words, for speaker notes and footnotes
        (``{churn_days}`` is filled in by :func:`kpi_explanation`); the formula when empty.
    """

    name: str
    label: str
    unit: str
    higher_is_better: bool | None
    formula: str
    needs: str = "transactions"
    short: str = ""
    prose: str = ""
    explain: str = ""

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"KPI {self.name!r}: unit {self.unit!r} is not one of {UNITS}")


KPI_DEFINITIONS: dict[str, KPI] = {k.name: k for k in [
    KPI("revenue_12m", "Net revenue, last 12 months", "currency", True,
        "sum of net revenue of every order line dated in W (refunds netted off)"),
    KPI("revenue_prev_12m", "Net revenue, previous 12 months", "currency", True,
        "sum of net revenue of every order line dated in P"),
    KPI("revenue_growth_yoy", "Revenue growth, year on year", "share", True,
        "revenue_12m / revenue_prev_12m - 1 (NaN when revenue_prev_12m <= 0 or history < 24 months)"),
    KPI("orders_12m", "Orders, last 12 months", "count", True,
        "number of orders dated in W with positive net revenue"),
    KPI("ordering_accounts_12m", "Ordering accounts, last 12 months", "count", True,
        "accounts with at least one counted order in W"),
    KPI("active_accounts", "Active accounts at the as-of date", "count", True,
        "accounts with a counted order in (T - churn_days, T]"),
    KPI("new_accounts_12m", "New accounts, last 12 months", "count", True,
        "accounts whose first counted order is in W"),
    KPI("retention_rate", "Account retention, 12 months", "share", True,
        "accounts active at T-12m that are still active at T / accounts active at T-12m (new and "
        "reactivated accounts excluded from the base)"),
    KPI("churn_rate", "Account churn, 12 months", "share", False,
        "1 - retention_rate: accounts active at T-12m with no counted order in (T - churn_days, T] / "
        "accounts active at T-12m"),
    KPI("period_retention_rate", "Account retention, period on period", "share", True,
        "accounts active at the day before the period starts that are still active at its end / accounts active "
        "the day before it starts (the retention rule over one period; not the 12-month retention_rate)"),
    KPI("period_churn_rate", "Account churn, period on period", "share", False,
        "1 - period_retention_rate"),
    KPI("average_order_value", "Average order value", "currency", True,
        "revenue_12m / orders_12m"),
    KPI("orders_per_account", "Orders per ordering account", "ratio", True,
        "orders_12m / ordering_accounts_12m"),
    KPI("repeat_purchase_rate", "Repeat purchase rate", "share", True,
        "accounts with 2+ counted orders in W / accounts with 1+ counted order in W"),
    KPI("gross_margin_12m", "Gross margin, last 12 months", "currency", True,
        "sum of gross margin (or net revenue - cost) of order lines in W", "margin"),
    KPI("gross_margin_rate", "Gross margin rate", "share", True,
        "gross_margin_12m / revenue_12m", "margin"),
    KPI("accounts_lost_12m", "Accounts lost in the last 12 months", "count", False,
        "accounts whose last counted order is in (T - 12 months - churn_days, T - churn_days]: churned at T but "
        "active at T - 12 months or later (the day they churned is in W); every dormant account and the lapsed ones "
        "whose last order is in (T - 12 months - churn_days, T - 12 months] (lifecycle_status); never-ordering "
        "accounts and earlier losses excluded (compute_lost_accounts)", short="Accounts lost (12m)",
        prose="accounts lost in the last 12 months"),
    KPI("revenue_lost_12m", "Revenue already lost to accounts that churned in the last 12 months", "currency",
        False,
        "sum over the accounts_lost_12m of the net revenue of their order lines dated in (last counted order - "
        "12 months, last counted order]; accounts active at T are not in it (their exposure is revenue at risk, "
        "churn probability x revenue_12m, strategy phase)", short="Revenue already lost",
        prose="revenue already lost"),
    KPI("profit_12m", "Account profit after cost to serve, last 12 months", "currency", True,
        "sum over accounts with an order line in W of (gross margin in W - annual cost_to_serve)",
        "margin + cost_to_serve"),
    KPI("unprofitable_account_share", "Share of accounts that lose money", "share", False,
        "accounts with profit_12m < 0 / accounts with an order line in W", "margin + cost_to_serve"),
    KPI("clv_historical", "Historical customer lifetime value (mean per account)", "currency", True,
        "mean over accounts with a counted order of their cumulative gross margin to T (margin-based) "
        "or cumulative net revenue (revenue-based when the data has no margin); undiscounted"),
    KPI("nps", "Net Promoter Score", "score", True,
        "100 x (promoters (9-10) - detractors (0-6)) / respondents; latest response per account in W", "surveys"),
    KPI("nps_revenue_weighted", "Net Promoter Score, revenue-weighted", "score", True,
        "100 x sum(w x [promoter - detractor]) / sum(w), w = max(revenue_12m, 0) of each respondent", "surveys"),
    KPI("csat_top2", "CSAT top-two-box", "share", True,
        "respondents scoring 4 or 5 (of 5) / respondents; latest response per account in W", "surveys"),
    KPI("csat_mean", "CSAT mean (1-5)", "score", True,
        "mean CSAT of the latest response per account in W", "surveys"),
    KPI("survey_coverage", "Survey coverage", "share", True,
        "ordering accounts in W with a survey response in W / ordering accounts in W", "surveys"),
    KPI("key_account_revenue_share", "Key-account share of revenue (client's programme)", "share", None,
        "revenue_12m of accounts flagged key_account / revenue_12m", "accounts.key_account"),
    KPI("key_accounts", "Key accounts (client's programme)", "count", None,
        "accounts flagged key_account", "accounts.key_account"),
    KPI("key_accounts_selected", "Key accounts selected by the scoring", "count", None,
        "accounts the selection scoring picks (segments.is_key)", "segmentation", short="Key accounts selected"),
    KPI("key_accounts_union", "Key accounts, selected or in the client's programme", "count", None,
        "accounts selected by the scoring or flagged key_account (compute_key_account_sets)",
        "segmentation + accounts.key_account", short="Key accounts (selected or programme)"),
    KPI("top10_share", "Revenue share of top 10% of accounts", "share", False,
        "revenue_12m of the 0.1 n largest accounts (nearest count, halves up, at least 1: top_count) / "
        "revenue_12m, over the n accounts with revenue_12m > 0"),
    KPI("top20_share", "Revenue share of top 20% of accounts", "share", False,
        "as top10_share with 0.2 n accounts"),
    KPI("gini", "Gini coefficient of revenue", "ratio", False,
        "sum_i (2i - n - 1) x_(i) / (n sum x), x ascending, accounts with revenue_12m > 0"),
    KPI("hhi", "Herfindahl-Hirschman index of revenue", "ratio", False,
        "sum of squared revenue shares (0-1 scale; x 10,000 for the antitrust scale)"),
    # account groups (kpi_by_segment)
    KPI("accounts", "Accounts", "count", None, "accounts in the group"),
    KPI("revenue_share", "Share of revenue, last 12 months", "share", None,
        "revenue_12m of the group / revenue_12m of all accounts (live and inactive; the groups add up to 100%)",
        short="Share of revenue"),
    # one period (kpi_by_period, kpi_tracking): month, quarter or year
    KPI("revenue", "Net revenue in the period", "currency", True,
        "sum of net revenue of the order lines dated in the period (refunds netted off)", short="Net revenue"),
    KPI("orders", "Orders in the period", "count", True,
        "orders dated in the period with positive net revenue", short="Orders"),
    KPI("ordering_accounts", "Ordering accounts in the period", "count", True,
        "accounts with at least one counted order in the period (not the active_accounts of the churn rule)",
        short="Ordering accounts"),
    KPI("revenue_per_account", "Revenue per ordering account in the period", "currency", True,
        "revenue / ordering_accounts of the period", short="Revenue per ordering account"),
    KPI("revenue_growth", "Revenue growth on the previous period", "share", True,
        "revenue / revenue of the previous period - 1", short="Growth vs previous period"),
    KPI("kam_maturity_score", "KAM capability maturity (1-5)", "score", True,
        "mean self-assessed score over capability dimensions", "capability"),
]}



_SHORT_PROSE = {
    "revenue_12m": ("Revenue (12m)", "revenue"),
    "revenue_growth_yoy": ("Revenue growth (YoY)", "year-on-year revenue growth"),
    "active_accounts": ("Active accounts", "active accounts"),
    "retention_rate": ("Retention", "retention"),
    "churn_rate": ("Churn rate", "churn"),
    "period_retention_rate": ("Retention (period on period)", "retention period on period"),
    "period_churn_rate": ("Churn (period on period)", "churn period on period"),
    "average_order_value": ("Average order value", "average order value"),
    "repeat_purchase_rate": ("Repeat purchase", "repeat purchase"),
    "orders_per_account": ("Orders per account", "orders per account"),
    "gross_margin_rate": ("Gross margin rate", "gross margin rate"),
    "nps": ("NPS", "NPS"),
    "nps_revenue_weighted": ("NPS (revenue-weighted)", "revenue-weighted NPS"),
    "csat_top2": ("CSAT top-two-box", "CSAT top-two-box"),
    "csat_mean": ("CSAT", "CSAT"),
}
_EXPLAIN = {
    "revenue_12m": "net revenue of the last 12 months, returns netted off",
    "revenue_growth_yoy": "net revenue of the last 12 months against the 12 months before, minus 1",
    "active_accounts": "accounts with an order in the last {churn_days} days",
    "retention_rate": "of the accounts active 12 months ago (an order in the {churn_days} days before), the share "
                      "still active today (an order in the last {churn_days} days); new and returning accounts are "
                      "not in the base",
    "churn_rate": "of the accounts active 12 months ago, the share with no order in the last {churn_days} days",
    "period_retention_rate": "of the accounts active the day before a period starts (an order in the {churn_days} "
                             "days before), the share still active at its end",
    "average_order_value": "net revenue of the last 12 months divided by the orders placed in them",
    "accounts_lost_12m": "accounts that churned in the last 12 months: no order in the last {churn_days} days, "
                         "but still an active customer 12 months ago or later",
    "revenue_lost_12m": "what the accounts that churned in the last 12 months bought in the 12 months up to "
                        "their last order (returns netted off): revenue already gone, apart from the revenue at risk of "
                        "accounts still active",
    "repeat_purchase_rate": "of the accounts that ordered in the last 12 months, the share that ordered twice or more",
    "nps": "share of promoters (9-10) minus share of detractors (0-6), latest answer of each account in the last "
           "12 months, on a -100 to 100 scale",
}
KPI_DEFINITIONS = {k: KPI(**{**d.__dict__, "short": _SHORT_PROSE.get(k, (d.short, d.prose))[0],
                             "prose": _SHORT_PROSE.get(k, (d.short, d.prose))[1],
                             "explain": _EXPLAIN.get(k, d.explain)})
                   for k, d in KPI_DEFINITIONS.items()}

#: KPIs where lower is better (churn, concentration, unprofitable share)
LOWER_IS_BETTER = frozenset(k for k, d in KPI_DEFINITIONS.items() if d.higher_is_better is False)

#: KPIs reported for all accounts only, never by the review's segments: the segments (quadrant,
#: tier, RFM segment, cluster ...) are drawn from today's data — the quadrants from today's
#: active accounts, the rest forming "Inactive accounts" — so a segment's retention (or churn)
#: would read 100% (0%) by construction, and earlier periods would be inflated by survivorship.
ALL_ACCOUNTS_ONLY_KPIS = frozenset({"retention_rate", "churn_rate", "period_retention_rate", "period_churn_rate"})

#: what a client page says where it would otherwise show a segment's retention
SEGMENT_RETENTION_NOTE = ("Retention is shown for all accounts only: segments are drawn from today's active accounts, "
                          "so a segment's retention would read 100% by construction.")


def get_kpi(kpi: str) -> KPI:
    """The registry entry of ``kpi``.

    Raises
    ------
    KeyError
        ``kpi`` is not in the registry; the message names it and where to add it.
    """
    try:
        return KPI_DEFINITIONS[kpi]
    except KeyError:
        raise KeyError(f"KPI {kpi!r} is not in the KPI registry; fix: use one of its names or add it to "
                       "KPI_DEFINITIONS in kam_analysis/metrics/definitions.py") from None


def kpi_label(kpi: str, *, short: bool = False) -> str:
    """The display label of a KPI (``short``: for tiles and legends); the key in words when unregistered."""
    d = KPI_DEFINITIONS.get(kpi)
    if d is None:
        return str(kpi).replace("_", " ").capitalize()
    return (d.short or d.label) if short else d.label


def kpi_prose(kpi: str) -> str:
    """How a KPI reads inside a sentence ("retention", "NPS")."""
    d = KPI_DEFINITIONS.get(kpi)
    if d is None:
        return str(kpi).replace("_", " ")
    return d.prose or d.label[:1].lower() + d.label[1:]


def kpi_explanation(kpi: str, *, churn_days: int) -> str:
    """A KPI's definition in the client's words (speaker notes), with the run's activity window."""
    d = get_kpi(kpi)
    return (d.explain or d.formula).format(churn_days=churn_days)


def kpi_unit(kpi: str) -> str:
    """The unit of a registered KPI (raises ``KeyError`` naming it when it is not registered)."""
    return get_kpi(kpi).unit


def target_applies_to_segment(kpi: str) -> bool:
    """Whether the client's target for a KPI (set for the whole portfolio) is also each
    segment's target.

    Only for rates and scores (share and score units: retention, growth, repeat purchase,
    NPS, CSAT), which every segment can be asked to reach. Currency, count and ratio KPIs
    (average order value, revenue, orders per account) scale with the segment's accounts:
    segments cut by value differ on them by construction, so a portfolio-wide order-value
    target would call every small-account segment 'red' and value the gap as if its orders
    could triple. A segment is measured on those against its own baseline instead.
    """
    from ..present.formats import POINT_UNITS

    return kpi in KPI_DEFINITIONS and kpi_unit(kpi) in POINT_UNITS


def higher_is_better(kpi: str) -> bool:
    """Direction of a KPI for status colours: the registry's; True for KPIs without a direction."""
    d = get_kpi(kpi)
    return True if d.higher_is_better is None else bool(d.higher_is_better)


def format_kpi(value, kpi: str, currency: str = "EUR", *, signed: bool = False, money: str = "compact") -> str:
    """A KPI value in its display format (its unit's, :func:`kam_analysis.present.formats.fmt_value`);
    ``money`` is the money style (compact or full)."""
    return fmt_value(value, kpi_unit(kpi), currency, signed=signed, money=money)


def change_vs_baseline(value, baseline, kpi: str):
    """Change of a KPI against its baseline, and its kind ("points" or "relative").

    * share and score KPIs (:data:`kam_analysis.present.formats.POINT_UNITS`: retention,
      growth, NPS, CSAT ...): ``value - baseline``, a difference in the KPI's own unit —
      points (NPS 6.2 -> 9.9 is +3.7; retention 0.736 -> 0.743 is +0.007, shown as +0.7
      pts). A relative change of a share or a score (NPS +60%) means nothing to a reader.
    * currency, count, ratio and days KPIs: ``value / baseline - 1``, a relative change
      (NaN when the baseline is 0).

    ``value`` may be a scalar or an array/Series; NaN where either side is missing.
    """
    if kpi_unit(kpi) in POINT_UNITS:
        return value - baseline, "points"
    if isinstance(baseline, (int, float, np.floating)) and (not np.isfinite(baseline) or baseline == 0):
        return value * np.nan, "relative"
    return value / baseline - 1, "relative"


def kpi_dictionary_markdown() -> str:
    """The registry as a Markdown table (the body of ``docs/kpi_dictionary.md``)."""
    lines = ["| kpi | label | short label | unit | better | needs | formula |", "|---|---|---|---|---|---|---|"]
    for k in KPI_DEFINITIONS.values():
        better = {True: "higher", False: "lower", None: "-"}[k.higher_is_better]
        lines.append(f"| `{k.name}` | {k.label} | {k.short or k.label} | {k.unit} | {better} | {k.needs} | "
                     f"{k.formula} |")
    return "\n".join(lines)


_DOC = Path(__file__).resolve().parents[2] / "docs" / "kpi_dictionary.md"
_TEMPLATE = Path(__file__).resolve().with_name("kpi_dictionary.md.in")
_MARK = "{{KPI_TABLE}}"


def render_kpi_dictionary() -> str:
    """The whole KPI dictionary page: the conventions (``metrics/kpi_dictionary.md.in``) and the table."""
    return _TEMPLATE.read_text(encoding="utf-8").replace(_MARK, kpi_dictionary_markdown())


def write_kpi_dictionary(path: str | Path | None = None) -> Path:
    """Write the generated KPI dictionary page (default ``docs/kpi_dictionary.md``) and return its path.

    Run ``python -c "from kam_analysis.metrics import write_kpi_dictionary as w; w()"`` after
    changing the registry; ``tests/test_metrics_definitions.py`` fails while the page is stale.
    """
    target = Path(path) if path else _DOC
    target.write_text(render_kpi_dictionary(), encoding="utf-8")
    return target
