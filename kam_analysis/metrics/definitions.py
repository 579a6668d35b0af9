"""The KPI registry: every KPI's name, label, unit, better-direction, data needs and formula, once.

Every table, notebook, deliverable and speaker note takes a KPI's words from here, and
``docs/kpi_dictionary.md`` embeds :func:`kpi_dictionary_markdown`.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KPI", "KPI_DEFINITIONS", "kpi_label", "kpi_dictionary_markdown"]


@dataclass(frozen=True)
class KPI:
    """One KPI's definition: the single source for labels, units, direction and formula."""

    name: str
    label: str
    unit: str  # currency / share / count / score / ratio
    higher_is_better: bool | None
    formula: str
    needs: str = "transactions"


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
    KPI("profit_12m", "Account profit after cost to serve, last 12 months", "currency", True,
        "sum over accounts with an order line in W of (gross margin in W - annual cost_to_serve)",
        "margin + cost_to_serve"),
    KPI("unprofitable_account_share", "Share of accounts that lose money", "share", False,
        "accounts with profit_12m < 0 / accounts with an order line in W", "margin + cost_to_serve"),
    KPI("clv_historical", "Historical customer lifetime value (mean per account)", "currency", True,
        "mean over accounts with a counted order of their cumulative gross margin to T (margin-based) "
        "or cumulative net revenue (revenue-based when the data has no margin); undiscounted"),
    KPI("nps", "Net Promoter Score", "score", True,
        "100 x (promoters (9-10) - detractors (0-6)) / respondents; latest response per account in W"),
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
    KPI("top10_share", "Revenue share of top 10% of accounts", "share", False,
        "revenue_12m of the ceil(0.1 n) largest accounts / revenue_12m, over the n accounts with "
        "revenue_12m > 0"),
    KPI("top20_share", "Revenue share of top 20% of accounts", "share", False,
        "as top10_share with ceil(0.2 n) accounts"),
    KPI("gini", "Gini coefficient of revenue", "ratio", False,
        "sum_i (2i - n - 1) x_(i) / (n sum x), x ascending, accounts with revenue_12m > 0"),
    KPI("hhi", "Herfindahl-Hirschman index of revenue", "ratio", False,
        "sum of squared revenue shares (0-1 scale; x 10,000 for the antitrust scale)"),
    KPI("kam_maturity_score", "KAM capability maturity (1-5)", "score", True,
        "mean self-assessed score over capability dimensions", "capability"),
]}


def kpi_label(kpi: str) -> str:
    """The display label of a KPI (the KPI key itself when it is not in the dictionary)."""
    d = KPI_DEFINITIONS.get(kpi)
    return d.label if d else kpi.replace("_", " ").capitalize()


def kpi_dictionary_markdown() -> str:
    """The KPI dictionary as a Markdown table (``docs/kpi_dictionary.md`` embeds it)."""
    lines = ["| kpi | label | unit | better | needs | formula |", "|---|---|---|---|---|---|"]
    for k in KPI_DEFINITIONS.values():
        better = {True: "higher", False: "lower", None: "-"}[k.higher_is_better]
        lines.append(f"| `{k.name}` | {k.label} | {k.unit} | {better} | {k.needs} | {k.formula} |")
    return "\n".join(lines)
