"""Formats for money, shares, percentage points, counts and dates, in the client's currency."""
from __future__ import annotations

__all__ = ["CURRENCY_SYMBOLS", "currency_symbol"]

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}


def currency_symbol(currency: str | None) -> str:
    """The symbol written before an amount: "€", "$", or the ISO code and a space."""
    if not currency:
        return ""
    return CURRENCY_SYMBOLS.get(currency, currency + " ")
