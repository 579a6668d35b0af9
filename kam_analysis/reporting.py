"""Notebook presentation helpers: formatted tables for a consultant to read."""
from __future__ import annotations

import pandas as pd

from .present.formats import fmt_money

__all__ = ["style_table", "validation_table"]


def style_table(df: pd.DataFrame, *, currency: str | None = None, money: list[str] = (), pct: list[str] = (),
                ints: list[str] = (), decimals: dict[str, int] | None = None, dates: list[str] = (),
                caption: str = ""):
    """A pandas Styler with number formats: money, percentages, integers, dates.

    Missing values show as an en dash, never as "nan".
    """
    fmt: dict = {}
    for c in money:
        fmt[c] = lambda v: fmt_money(v, currency or "")
    for c in pct:
        fmt[c] = "{:.1%}"
    for c in ints:
        fmt[c] = "{:,.0f}"
    for c, d in (decimals or {}).items():
        fmt[c] = "{:,.%df}" % d
    for c in dates:
        fmt[c] = lambda v: v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else v
    fmt = {k: v for k, v in fmt.items() if k in df.columns}
    st = df.style.format(fmt, na_rep="–").hide(axis="index")
    if caption:
        st = st.set_caption(caption)
    return st


def validation_table(run) -> pd.DataFrame:
    """Rows read/kept per table and every warning from validation, as a table."""
    v = run.validation()
    rows = [{"table": t, "rows read": s.get("rows_read"), "rows kept": s.get("rows_kept", s.get("rows_read"))}
            for t, s in v.get("stats", {}).items()]
    return pd.DataFrame(rows)
