"""KPI labels and units the deck looks up (numbers are formatted by kam_analysis.present.formats)."""
from __future__ import annotations


__all__ = ["kpi_label", "KPI_LABELS", "KPI_UNITS"]

KPI_LABELS = {
    "revenue_12m": "Net revenue (12 months)",
    "active_accounts": "Active accounts",
    "retention_rate": "Account retention",
    "churn_rate": "Churn rate",
    "revenue_growth_yoy": "Revenue growth (YoY)",
    "average_order_value": "Average order value",
    "repeat_purchase_rate": "Repeat purchase rate",
    "orders_per_account": "Orders per account",
    "nps": "Net Promoter Score",
    "csat": "Customer satisfaction",
    "gross_margin_rate": "Gross margin rate",
    "net_revenue_retention": "Net revenue retention",
}


# units of KPIs a table may name without giving a unit (kpi_vs_target has no unit column)
KPI_UNITS = {"revenue_12m": "currency", "active_accounts": "count", "retention_rate": "share", "churn_rate": "share",
             "revenue_growth_yoy": "share", "average_order_value": "currency", "repeat_purchase_rate": "share",
             "orders_per_account": "ratio", "nps": "score", "csat": "score", "gross_margin_rate": "share",
             "net_revenue_retention": "share"}


def kpi_label(kpi: str, label=None) -> str:
    if isinstance(label, str) and label.strip():
        return label.strip()
    return KPI_LABELS.get(kpi, str(kpi).replace("_", " ").capitalize())
