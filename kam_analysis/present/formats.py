"""Every number and date a client reads, formatted once, in the client's currency.

One function per kind of figure — money, shares, percentage points, counts, scores,
ratios, dates and periods — used by the notebooks, the phases' sentences, every chart, the
deck, both workbooks and the HTML dashboard, so the same figure reads the same wherever it
appears. The units are the KPI registry's (``currency``, ``share``, ``count``, ``score``,
``ratio``, ``days``); :func:`fmt_value` dispatches on them. :func:`excel_number_format`
gives the Excel/PowerPoint number format that shows a value the way :func:`fmt_value`
writes it, and :func:`axis_formatter` the matplotlib tick formatter.

Missing values (None, NaN, infinities, text) are written ``n/a``, never ``nan``.
"""
from __future__ import annotations

import datetime as dt
import math

__all__ = [
    "CURRENCY_SYMBOLS", "NA", "currency_symbol", "is_num", "fmt_money", "fmt_share", "fmt_points", "fmt_count",
    "fmt_top", "fmt_score", "fmt_ratio", "fmt_days", "fmt_value", "fmt_change", "fmt_date", "fmt_period",
    "excel_number_format", "axis_formatter", "POINT_UNITS",
]

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}
NA = "n/a"
# a change in these units is a difference of two rates or scores: read in points, not percent
POINT_UNITS = frozenset({"share", "score"})


def currency_symbol(currency: str | None) -> str:
    """The symbol written before an amount: ``€``, ``$``, or the ISO code and a space."""
    if not currency:
        return ""
    return CURRENCY_SYMBOLS.get(currency, currency + " ")


def is_num(v) -> bool:
    """True for a finite number (not a bool, not None/NaN/inf, not text)."""
    try:
        return v is not None and not isinstance(v, bool) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt_money(v, currency: str = "EUR", *, signed: bool = False) -> str:
    """Money, compact: ``€12.3m``, ``€452k``, ``€4,520``, ``€1.2bn``; ``-€3k`` for a loss.

    Amounts of 10,000 and more are written in thousands (k), millions (m) or billions
    (bn); smaller ones in full, so a €6,641 account is never "€7k".
    """
    if not is_num(v):
        return NA
    v = float(v)
    s = currency_symbol(currency)
    a = abs(v)
    if a >= 999_950_000:
        body = f"{a / 1e9:.1f}bn"
    elif a >= 999_500:
        body = f"{a / 1e6:.1f}m"
    elif a >= 1e4:
        body = f"{a / 1e3:.0f}k"
    else:
        body = f"{a:,.0f}"
    sign = "-" if v < 0 and body.strip("0.,") else ("+" if signed and v > 0 else "")
    return f"{sign}{s}{body}"


def fmt_share(v, *, decimals: int = 1, signed: bool = False) -> str:
    """A share or rate stored as a fraction: 0.253 -> ``25.3%``."""
    if not is_num(v):
        return NA
    return f"{float(v):{'+' if signed else ''}.{decimals}%}"


def fmt_points(v, *, decimals: int = 1) -> str:
    """A difference between two shares (fractions), in percentage points: ``+1.2 pts``."""
    if not is_num(v):
        return NA
    return f"{float(v) * 100:+.{decimals}f} pts"


def fmt_count(v, *, signed: bool = False) -> str:
    """A whole number with thousands separators: ``1,071``."""
    if not is_num(v):
        return NA
    return f"{float(v):{'+' if signed else ''},.0f}"


def fmt_top(shown: int, total: int) -> str:
    """How much of a list is shown: ``top 8 of 10`` when only the first ``shown`` of ``total``
    are listed, ``all 10`` when every one is (a shortened list always says of how many)."""
    return f"all {fmt_count(total)}" if shown >= total else f"top {fmt_count(shown)} of {fmt_count(total)}"


def fmt_score(v, *, signed: bool = False) -> str:
    """A score (NPS, CSAT, maturity): one decimal, ``-12.5``."""
    if not is_num(v):
        return NA
    return f"{float(v):{'+' if signed else ''}.1f}"


def fmt_ratio(v, *, signed: bool = False) -> str:
    """A ratio (orders per account): two decimals, ``2.35``."""
    if not is_num(v):
        return NA
    return f"{float(v):{'+' if signed else ''},.2f}"


def fmt_days(v) -> str:
    """A duration in days: ``222 days``."""
    if not is_num(v):
        return NA
    n = float(v)
    return f"{n:,.0f} day{'' if round(n) == 1 else 's'}"


def fmt_value(v, unit: str | None, currency: str = "EUR", *, signed: bool = False) -> str:
    """Format ``v`` by its unit (``currency``, ``share``, ``count``, ``score``, ``ratio``, ``days``)."""
    unit = (unit or "").lower()
    if unit == "currency":
        return fmt_money(v, currency, signed=signed)
    if unit == "share":
        return fmt_share(v, signed=signed)
    if unit == "count":
        return fmt_count(v, signed=signed)
    if unit == "score":
        return fmt_score(v, signed=signed)
    if unit == "days":
        return fmt_days(v)
    if unit == "hours":
        return NA if not is_num(v) else f"{float(v):,.0f} h"
    return fmt_ratio(v, signed=signed)


def fmt_change(v, unit: str | None, currency: str = "EUR") -> str:
    """A change between two values of one KPI: points for shares and scores, else signed units."""
    if (unit or "").lower() == "share":
        return fmt_points(v)
    if (unit or "").lower() == "score":
        return NA if not is_num(v) else f"{float(v):+.1f} pts"
    return fmt_value(v, unit, currency, signed=True)


def fmt_date(d) -> str:
    """A date as the client reads it: ``4 Dec 2026``."""
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return NA
    try:
        t = d if isinstance(d, (dt.date, dt.datetime)) else dt.date.fromisoformat(str(d)[:10])
    except ValueError:
        return NA
    if hasattr(t, "to_pydatetime"):
        t = t.to_pydatetime()
    return f"{t.day} {t:%b %Y}"


def fmt_period(ts, period: str) -> str:
    """A period by its start: ``Q1 2024``, ``Jan 2024`` or ``2024``."""
    import pandas as pd

    t = pd.Timestamp(ts)
    if period == "quarter":
        return f"Q{(t.month - 1) // 3 + 1} {t.year}"
    if period == "month":
        return t.strftime("%b %Y")
    if period == "year":
        return str(t.year)
    return fmt_date(t)


def excel_number_format(unit: str, currency: str = "EUR", *, max_abs: float = 0.0, compact: bool = True) -> str:
    """The Excel/PowerPoint number format that shows a ``unit`` value as :func:`fmt_value` does.

    ``compact`` money (charts, tiles) scales like :func:`fmt_money` (€1.2m / €452k / €4,520);
    ``compact=False`` (workbook columns) shows the full amount with the symbol, negatives red.
    ``share1`` is a share with one decimal.
    """
    s = currency_symbol(currency).replace('"', "")
    if unit == "currency":
        if not compact:
            return f'"{s}"#,##0;[Red]-"{s}"#,##0'
        if max_abs >= 1e4:
            return f'[>=999500]"{s}"#,##0.0,,"m";[>=10000]"{s}"#,##0,"k";"{s}"#,##0'
        return f'"{s}"#,##0'
    if unit == "share":
        return "0%" if compact else "0.0%"
    if unit == "share1":
        return "0.0%"
    if unit == "points":
        return '+0.0" pts";-0.0" pts";0.0" pts"'
    if unit in ("count", "days"):
        return "#,##0"
    if unit == "score":
        return "0.0"
    if unit == "date":
        return "d mmm yyyy"
    return "0.00"


def axis_formatter(unit: str, currency: str = "EUR"):
    """A matplotlib tick formatter writing ticks as :func:`fmt_value` writes values."""
    import matplotlib.ticker as mticker

    if unit == "share":
        return mticker.FuncFormatter(lambda x, _pos=None: fmt_share(x, decimals=0))
    return mticker.FuncFormatter(lambda x, _pos=None: fmt_value(x, unit, currency))
