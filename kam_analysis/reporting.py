"""Notebook presentation helpers: formatted tables for a consultant to read.

Client text (account, region, category and dimension names, the client's own name) is
data in the notebooks' rich output too: :class:`Markdown` escapes every ``<`` and ``>``
so no text can become HTML (a ``<script>`` in an account name would otherwise run when
the executed notebook is exported with ``jupyter nbconvert --to html``), and the tables'
Stylers escape their cells, headers and captions (:func:`kam_analysis.safety.escape_styler`).
"""
from __future__ import annotations

import pandas as pd
from IPython.display import Markdown as _IPythonMarkdown

from .present.formats import fmt_count, fmt_date, fmt_money, fmt_share
from .safety import escape_styler, safe_markdown

__all__ = ["Markdown", "style_table", "validation_table"]


class Markdown(_IPythonMarkdown):
    """IPython's Markdown display, with :func:`safe_markdown` applied to the text.

    The notebooks build their Markdown with f-strings holding client text; through this
    class none of it can become markup (the notebooks' own text uses none). Use it instead
    of ``IPython.display.Markdown`` in every notebook.
    """

    def __init__(self, data: str | None = None, *args, **kwargs):
        super().__init__(safe_markdown(data) if isinstance(data, str) else data, *args, **kwargs)


def style_table(df: pd.DataFrame, *, currency: str | None = None, money: list[str] = (), pct: list[str] = (),
                ints: list[str] = (), decimals: dict[str, int] | None = None, dates: list[str] = (),
                caption: str = ""):
    """A pandas Styler with number formats: money, percentages, integers, dates, each written as the
    deliverables write it (:mod:`kam_analysis.present.formats`).

    Missing values show as an en dash, never as "nan".
    """
    fmt: dict = {}
    for c in money:
        fmt[c] = lambda v: fmt_money(v, currency or "")
    for c in pct:
        fmt[c] = fmt_share
    for c in ints:
        fmt[c] = fmt_count
    for c, d in (decimals or {}).items():
        fmt[c] = "{:,.%df}" % d
    for c in dates:
        fmt[c] = lambda v: fmt_date(v) if hasattr(v, "strftime") else v
    fmt = {k: v for k, v in fmt.items() if k in df.columns}
    st = escape_styler(df, caption=caption).format(fmt, na_rep="–", escape="html").hide(axis="index")
    return st


def validation_table(run) -> pd.DataFrame:
    """Rows read/kept per table and every warning from validation, as a table."""
    v = run.validation()
    rows = [{"table": t, "rows read": s.get("rows_read"), "rows kept": s.get("rows_kept", s.get("rows_read"))}
            for t, s in v.get("stats", {}).items()]
    return pd.DataFrame(rows)
