"""Number and label formatting for the deck: one place, so text and charts agree.

``fmt_value`` formats a number for text (titles, tiles, tables); ``chart_format`` gives
the Excel number format a native chart uses for the same unit. The consistency test
formats the run's table values with these same functions and looks for them in the deck.
"""
from __future__ import annotations

import math

import pandas as pd

from ..present.formats import CURRENCY_SYMBOLS

__all__ = ["fmt_value", "fmt_money", "fmt_share", "fmt_count", "fmt_points", "chart_format", "kpi_label",
           "period_label", "is_num", "KPI_LABELS", "KPI_UNITS"]

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


def is_num(v) -> bool:
    try:
        return v is not None and not isinstance(v, bool) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _sym(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, currency + " ")


def fmt_money(v, currency: str = "EUR", *, signed: bool = False) -> str:
    """€12.3m / €452k / €4,520 (and bn); n/a for a missing value."""
    if not is_num(v):
        return "n/a"
    v = float(v)
    s = _sym(currency)
    sign = "-" if v < 0 else ("+" if signed and v > 0 else "")
    a = abs(v)
    if a >= 1e9:
        body = f"{a / 1e9:.1f}bn"
    elif a >= 1e6:
        body = f"{a / 1e6:.1f}m"
    elif a >= 1e4:
        body = f"{a / 1e3:.0f}k"
    else:
        body = f"{a:,.0f}"
    return f"{sign}{s}{body}"


def fmt_share(v, *, decimals: int = 1, signed: bool = False) -> str:
    if not is_num(v):
        return "n/a"
    return f"{float(v):{'+' if signed else ''}.{decimals}%}"


def fmt_points(v) -> str:
    """A difference between two shares in percentage points."""
    if not is_num(v):
        return "n/a"
    return f"{float(v) * 100:+.1f} pts"


def fmt_count(v) -> str:
    return f"{float(v):,.0f}" if is_num(v) else "n/a"


def fmt_value(v, unit: str | None, currency: str = "EUR", *, signed: bool = False) -> str:
    """Format by the contract's units: currency, share, count, score, ratio."""
    unit = (unit or "").lower()
    if unit == "currency":
        return fmt_money(v, currency, signed=signed)
    if unit == "share":
        return fmt_share(v, signed=signed)
    if unit == "count":
        return fmt_count(v) if not signed or not is_num(v) else f"{float(v):+,.0f}"
    if not is_num(v):
        return "n/a"
    v = float(v)
    if unit == "score":
        return f"{v:{'+' if signed else ''}.1f}"
    return f"{v:{'+' if signed else ''},.2f}"


def chart_format(unit: str, currency: str = "EUR", *, max_abs: float = 0.0) -> str:
    """Excel number format for a chart's axis and labels in ``unit``."""
    s = _sym(currency).replace('"', "")
    if unit == "currency":
        # scale per value, as fmt_money does: €1.2m / €452k / €4,520 (negatives fall to the plain section)
        if max_abs >= 1e4:
            return f'[>=999500]"{s}"#,##0.0,,"m";[>=10000]"{s}"#,##0,"k";"{s}"#,##0'
        return f'"{s}"#,##0'
    if unit == "share":
        return "0%"
    if unit == "share1":
        return "0.0%"
    if unit == "count":
        return "#,##0"
    if unit == "score":
        return "0.0"
    return "0.00"


def kpi_label(kpi: str, label=None) -> str:
    if isinstance(label, str) and label.strip():
        return label.strip()
    return KPI_LABELS.get(kpi, str(kpi).replace("_", " ").capitalize())


def period_label(ts, period: str) -> str:
    """Q1 2024 / Jan 2024 / 2024 for a period start."""
    t = pd.Timestamp(ts)
    if period == "quarter":
        return f"Q{(t.month - 1) // 3 + 1} {t.year}"
    if period == "month":
        return t.strftime("%b %Y")
    if period == "year":
        return str(t.year)
    return t.strftime("%Y-%m-%d")
