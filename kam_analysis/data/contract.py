"""The data contract: the client tables, their columns, types and meaning.

Client files never arrive with these names: the parameter file maps each contract
column to the client's column (``data.<table>.columns``). A contract column that is
not mapped is looked up under its own name; an optional column that is absent is
simply not used (and the data-readiness table says what that costs).

This module is the single source of the contract; the README's data-contract section
is generated from the same definitions (``python -m kam_analysis.data.contract``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Column", "Table", "CONTRACT", "PLACEHOLDERS", "TOTAL_LABELS", "DATE_FLOOR", "contract_markdown"]

#: Cell values that mean "no value" in client exports; read as missing in every column
#: (compared trimmed and case-insensitively).
PLACEHOLDERS: tuple[str, ...] = ("", "n/a", "na", "#n/a", "-", "null", "none", "n.a.", "#null!", "nan")

#: Whole cell values that label a totals (or average) row (compared trimmed, case-insensitively,
#: with a trailing colon ignored): such a row is a footer of the export, never an account or order.
TOTAL_LABELS: tuple[str, ...] = ("total", "totals", "grand total", "sub total", "subtotal", "sum", "summe",
                                 "gesamt", "gesamtsumme", "total général", "totaal", "totale", "somme",
                                 "average", "avg", "mean")

#: Earliest plausible business date: an order or survey before it is an export error (an
#: empty spreadsheet date cell shows as 1899-12-30 or 1899-12-31, or 1900-01-00).
DATE_FLOOR = dt.date(1990, 1, 1)


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # "id" | "text" | "date" | "number" | "integer" | "bool"
    required: bool
    description: str
    min: float | None = None
    max: float | None = None
    earliest: dt.date | None = None  # dates only: earlier values are refused


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


TRANSACTIONS = Table(
    "transactions",
    True,
    "One row per order or order line; lines of one order are summed. Without an order id, an order is an "
    "account's lines on one date. Rows identical in every column are kept as repeat lines of their order "
    "(with a line id, copies of one line are dropped). Returns are negative amounts.",
    (
        Column("account_id", "id", True, "The customer account that placed the order."),
        Column("order_id", "id", False, "Order, invoice or receipt number; several lines may share one. "
               "Optional: without it an order is an account's lines on one date. Must belong to one account "
               "and one day (lines up to 31 days apart are tolerated)."),
        Column("order_date", "date", True, "Date of the order.", earliest=DATE_FLOOR),
        Column("net_revenue", "number", True, "Revenue net of discounts and tax, in the client currency."),
        Column("gross_margin", "number", False, "Gross margin of the line (revenue minus cost of goods)."),
        Column("cost", "number", False, "Cost of goods of the line; margin = net_revenue - cost when no margin is given."),
        Column("category", "text", False, "Product category."),
        Column("channel", "text", False, "Sales channel (web, mobile, store, trade, ...)."),
        Column("line_id", "id", False, "Line number within its order: rows repeating an order's line id with "
               "identical values are one line exported twice (the copy is dropped)."),
    ),
    key=("order_id", "line_id"),
)

ACCOUNTS = Table(
    "accounts",
    False,
    "One row per account. Derived from transactions when absent (ids only).",
    (
        Column("account_id", "id", True, "Account identifier, as in transactions."),
        Column("account_name", "text", False, "Display name."),
        Column("region", "text", False, "Region or country."),
        Column("segment", "text", False, "Client's own segment or industry of the account."),
        Column("acquisition_date", "date", False, "When the account was won (default: first order).",
               earliest=dt.date(1900, 1, 1)),
        Column("account_manager", "text", False, "Named account manager."),
        Column("strategic_importance", "number", False, "Client's strategic-importance rating, 1 (low) to 5 (high).", 1, 5),
        Column("cost_to_serve", "number", False, "Annual cost to serve the account (sales, service, logistics), client currency.", 0, None),
        Column("key_account", "bool", False, "Account is in the client's current key-account programme."),
    ),
    key=("account_id",),
)

SURVEYS = Table(
    "surveys",
    False,
    "One row per survey response.",
    (
        Column("account_id", "id", True, "Responding account."),
        Column("survey_date", "date", True, "Date of the response.", earliest=DATE_FLOOR),
        Column("nps", "integer", False, "Likelihood to recommend, a whole number 0-10.", 0, 10),
        Column("csat", "integer", False, "Satisfaction, a whole number 1-5.", 1, 5),
    ),
)

CAPABILITY = Table(
    "capability",
    False,
    "KAM capability self-assessment: one row per dimension.",
    (
        Column("dimension", "text", True, "Capability dimension (e.g. account planning, governance)."),
        Column("score", "number", True, "Self-assessed score, 1-5.", 1, 5),
        Column("target", "number", False, "Target score, 1-5.", 1, 5),
    ),
    key=("dimension",),
)

CONTRACT: dict[str, Table] = {t.name: t for t in (TRANSACTIONS, ACCOUNTS, SURVEYS, CAPABILITY)}


def contract_markdown() -> str:
    """The contract as Markdown tables (used in the README)."""
    out = []
    for t in CONTRACT.values():
        req = "required" if t.required else "optional"
        out.append(f"### `{t.name}` ({req})\n\n{t.description}\n")
        out.append("| column | type | required | meaning |\n|---|---|---|---|")
        for c in t.columns:
            rng = ""
            if c.min is not None or c.max is not None:
                rng = f" Range {c.min if c.min is not None else '-inf'} to {c.max if c.max is not None else 'inf'}."
            if c.earliest is not None:
                rng += f" Not before {c.earliest:%Y-%m-%d}."
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | {c.description}{rng} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(contract_markdown())
