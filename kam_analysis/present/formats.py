"""Every number and date a client reads, formatted once, in the client's currency.

One function per kind of figure — money, shares, percentage points, counts, scores,
ratios, dates and periods — used by the notebooks, the phases' sentences, every chart, the
deck, both workbooks and the HTML dashboard, so the same figure reads the same wherever it
appears. The units are the KPI registry's (``currency``, ``share``, ``count``, ``score``,
``ratio``, ``days``); :func:`fmt_value` dispatches on them. :func:`excel_number_format`
gives the Excel/PowerPoint number format that shows a value the way :func:`fmt_value`
writes it, and :func:`axis_formatter` the matplotlib tick formatter.

Missing values (None, NaN, infinities, text) are written ``n/a``, never ``nan``.

**One money style per deliverable** (:data:`DELIVERABLE_MONEY_STYLE`): the deck and the HTML
dashboard write money compact (``€9.7k``, ``€452k``, ``€1.2m``), both workbooks in full with a
thousands separator (``€9,713``, ``€1,204,566``), in their text as in their number formats.
The phases write money in their sentences in full (exact, ``style="full"``); a compact
deliverable rewrites every text it shows with :func:`compact_money`, so one page never
mixes ``€23k`` with ``€9,713``.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
import re

__all__ = [
    "CURRENCY_SYMBOLS", "NA", "currency_symbol", "is_num", "fmt_money", "fmt_share", "fmt_points", "fmt_count",
    "fmt_top", "fmt_score", "fmt_ratio", "fmt_days", "fmt_value", "fmt_change", "fmt_date", "fmt_period",
    "excel_number_format", "axis_formatter", "POINT_UNITS", "MONEY_STYLES", "DELIVERABLE_MONEY_STYLE",
    "money_style", "compact_money", "fmt_list", "fmt_n",
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


MONEY_STYLES = ("compact", "full")
#: how each deliverable (its manifest name) writes money: compact on the pages read at a glance,
#: full figures in the workbooks a client works in
DELIVERABLE_MONEY_STYLE = {
    "deck": "compact",
    "html_dashboard": "compact",
    "kpi_dashboard": "full",
    "segmentation_workbook": "full",
}


def money_style(deliverable: str) -> str:
    """The money style (``compact`` or ``full``) of a deliverable, by its manifest name."""
    return DELIVERABLE_MONEY_STYLE[deliverable]


def fmt_money(v, currency: str = "EUR", *, signed: bool = False, style: str = "compact") -> str:
    """Money in one of the two styles; ``-€3.0k`` for a loss.

    ``compact`` (deck, HTML): ``€1.2bn``, ``€12.3m``, ``€452k``, ``€9.7k`` (one decimal under
    €10k, so a €6,641 account is ``€6.6k``, never ``€7k``), ``€641`` under a thousand.
    ``full`` (workbooks, phase sentences): ``€1,204,566``, ``€9,713``, ``€641``.
    """
    if not is_num(v):
        return NA
    if style not in MONEY_STYLES:
        raise ValueError(f"money style {style!r}: expected one of {MONEY_STYLES}")
    v = float(v)
    s = currency_symbol(currency)
    a = abs(v)
    if style == "full":
        body = f"{a:,.0f}"
    elif a >= 999_950_000:
        body = f"{a / 1e9:.1f}bn"
    elif a >= 999_500:
        body = f"{a / 1e6:.1f}m"
    elif a >= 9_950:
        body = f"{a / 1e3:.0f}k"
    elif a >= 999.5:
        body = f"{a / 1e3:.1f}k"
    else:
        body = f"{a:,.0f}"
    sign = "-" if v < 0 and body.strip("0.,k") else ("+" if signed and v > 0 else "")
    return f"{sign}{s}{body}"


def _full_money_pattern(currency: str) -> "re.Pattern[str]":
    sym = re.escape(currency_symbol(currency))
    # a full figure: the symbol, digits in groups of three, no k/m/bn after it
    return re.compile(rf"{sym}(\d{{1,3}}(?:,\d{{3}})+|\d{{4,}})(?:\.\d+)?(?![\d,.]*\d|\s?(?:k|m|bn)\b|[kmb])")


def compact_money(text, currency: str = "EUR"):
    """``text`` with every full money figure in ``currency`` written compact (``€9,713`` ->
    ``€9.7k``), as a compact deliverable shows the phases' sentences; anything else unchanged."""
    if not isinstance(text, str) or not text:
        return text
    return _full_money_pattern(currency).sub(
        lambda m: fmt_money(float(m.group(0)[len(currency_symbol(currency)):].replace(",", "")), currency), text)


def fmt_list(items) -> str:
    """Items as a sentence: 'A', 'A and B', 'A, B and C' (empty items dropped)."""
    items = [str(x) for x in items if x]
    if len(items) <= 1:
        return items[0] if items else ""
    return ", ".join(items[:-1]) + " and " + items[-1]


def fmt_share(v, *, decimals: int = 1, signed: bool = False) -> str:
    """A share or rate stored as a fraction: 0.253 -> ``25.3%``.

    Halves round away from zero on the number's 15 significant digits, as Excel rounds a
    ``0.0%`` cell, so a workbook cell and the deck's text read the same: 345 of 2,000
    accounts (0.1725) is ``17.3%`` in both (Python's own ``{:.1%}`` writes ``17.2%``, from
    the binary 0.17249999...)."""
    if not is_num(v):
        return NA
    v = float(v)
    try:
        d = abs(Decimal(f"{v * 100:.15g}")).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # beyond Decimal's precision: no half to settle
        return f"{v:{'+' if signed else ''}.{decimals}%}"
    return f"{'-' if v < 0 else '+' if signed else ''}{d:f}%"


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


def fmt_n(n, one: str, many: str | None = None) -> str:
    """A count and its noun, singular or plural: ``1 period``, ``3 periods``, ``14,196 accounts``
    (never ``3 period(s)``)."""
    return f"{fmt_count(n)} {one if is_num(n) and float(n) == 1 else (many or one + 's')}"


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


def fmt_value(v, unit: str | None, currency: str = "EUR", *, signed: bool = False, money: str = "compact") -> str:
    """Format ``v`` by its unit (``currency``, ``share``, ``count``, ``score``, ``ratio``, ``days``);
    ``money`` is the money style (:data:`MONEY_STYLES`)."""
    unit = (unit or "").lower()
    if unit == "currency":
        return fmt_money(v, currency, signed=signed, style=money)
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

    ``compact`` money (the deck's charts) is in one scale chosen by ``max_abs``, the largest
    amount shown, as :func:`fmt_money` writes compact money: millions (``€1.2m``, ``€0.4m``)
    from €999,500, thousands (``€452k``) from €9,950, thousands with a decimal (``€9.7k``) from
    €999.50, else whole (``€641``), negatives with a minus and zero as ``€0`` (not ``€0k``), so a
    chart never shows ``€9,713``;
    ``compact=False`` (workbook columns) shows the full amount with the symbol, negatives red.
    ``share1`` is a share with one decimal.
    """
    s = currency_symbol(currency).replace('"', "")
    if unit == "currency":
        if not compact:
            return f'"{s}"#,##0;[Red]-"{s}"#,##0'
        body = ('#,##0.0,,"m"' if max_abs >= 999_500 else '#,##0,"k"' if max_abs >= 9_950
                else '#,##0.0,"k"' if max_abs >= 999.5 else "#,##0")
        return f'"{s}"{body};-"{s}"{body};"{s}"0'
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
