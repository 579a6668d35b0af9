"""Client words for the account features, model settings and parameters a deliverable shows.

A column or setting name is code; a client page shows :func:`label` of it. Names this
module does not list are shown with their underscores turned into spaces, so no
snake_case identifier reaches a client page even when a new feature is added (add it
here to give it a better name).
"""
from __future__ import annotations

import re

__all__ = ["COLUMN_LABELS", "INPUT_LABELS", "P_ALIVE", "client_words", "input_label", "label", "labels"]

#: the BG/NBD probability that an account is still buying, in words
P_ALIVE = "Chance still active"

COLUMN_LABELS: dict[str, str] = {
    "revenue": "Revenue",
    "revenue_12m": "Revenue, last 12 months",
    "log_revenue_12m": "Revenue, last 12 months (log)",
    "orders_12m": "Orders, last 12 months",
    "log_orders_12m": "Orders, last 12 months (log)",
    "n_orders": "Orders",
    "gross_margin": "Gross margin",
    "gross_margin_12m": "Gross margin, last 12 months",
    "margin_rate": "Gross margin rate",
    "clv": "Predicted lifetime value",
    "p_alive": P_ALIVE,
    "expected_purchases": "Expected orders",
    "revenue_change": "Revenue change on the previous year",
    "strategic_importance": "Strategic importance (client rating)",
    "nps": "NPS",
    "nps_mean": "Average NPS score (0-10)",
    "csat": "CSAT",
    "csat_mean": "Average CSAT (1-5)",
    "tenure": "Tenure",
    "tenure_days": "Tenure (days)",
    "recency_days": "Days since last order",
    "category_breadth": "Category breadth",
    "n_categories": "Categories bought",
    "n_channels": "Channels used",
    "order_regularity": "Order regularity",
    "log_likelihood": "Log-likelihood of the fit",
    "n_accounts": "Accounts in the fit",
    "horizon_months": "Horizon (months)",
    "annual_discount_rate": "Annual discount rate",
    "time_unit_days": "Model time unit (days)",
}


#: the client's input files in client words (the deck's data sources, the workbook's data quality)
INPUT_LABELS: dict[str, str] = {"transactions": "Orders", "accounts": "Customer master data",
                                "surveys": "Customer surveys", "capability": "KAM capability self-assessment"}


def input_label(name) -> str:
    """The client's words for one of its inputs (``transactions`` -> ``Orders``)."""
    return INPUT_LABELS.get(str(name), str(name).replace("_", " ").capitalize())


def label(name) -> str:
    """The client's words for a column, feature or setting name."""
    s = str(name)
    return COLUMN_LABELS.get(s, s.replace("_", " "))


def labels(text) -> str:
    """A comma-separated list of names (``"recency_days, n_orders"``) in the client's words."""
    return ", ".join(label(x.strip()) for x in str(text).split(",") if x.strip())


_PARAM_REF = re.compile(r"\s*\((?:[^()]*?\b[a-z_]+\.[a-z_.]+\b[^()]*)\)")
_SNAKE = re.compile(r"(?<![\w.@/-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/])")
_FILE = re.compile(r"(?:[\w./\\-]*[/\\])?[\w.-]+\.(?:csv|ya?ml|parquet|json|xlsx|xls)\b", re.I)


def client_words(text) -> str:
    """Consultant text made fit for a client page: a parenthesis naming a parameter key
    ("(data.capability)") is dropped, a snake_case name is said in words (:func:`label`) and a
    file path becomes "the client's file"."""
    if not isinstance(text, str):
        return text
    t = _PARAM_REF.sub("", text)
    t = _FILE.sub("the client's file", t)
    return _SNAKE.sub(lambda m: label(m.group(0)), t)
