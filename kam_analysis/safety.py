"""Treat client strings as data, never as code, in every output.

* Spreadsheet formula injection: a cell whose text begins with ``= + - @`` (or a tab /
  carriage return) is executed by Excel/LibreOffice when it comes from a CSV, and becomes
  a formula when written by a careless XLSX writer. :func:`neutralise_formula` prefixes
  such text with an apostrophe-free, visible-safe guard (a leading single quote in CSV,
  explicit string type in XLSX via :func:`safe_cell_value`).
* Control characters are removed and over-long strings truncated (:func:`clean_text`).
* Notebook rich output: Markdown holds no HTML (:func:`safe_markdown`) and table Stylers
  escape every cell, label and caption (:func:`escape_styler`), so a ``<script>`` in an
  account name stays text in JupyterLab and in ``jupyter nbconvert --to html``.
"""
from __future__ import annotations

import functools
import re

import numpy as np
from typing import Any

__all__ = [
    "FORMULA_PREFIXES",
    "clean_text",
    "neutralise_formula",
    "neutralise_frame_for_csv",
    "is_formula_like",
    "safe_markdown",
    "escape_styler",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NUMERIC = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def clean_text(value: Any, *, max_len: int | None = None) -> Any:
    """Remove control characters (keeping tab/newline) and truncate to ``max_len``.

    Non-strings are returned unchanged.
    """
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value)
    if max_len is not None and len(text) > max_len:
        text = text[: max(max_len - 1, 0)] + "…"
    return text


def is_formula_like(value: Any) -> bool:
    """True for a string that a spreadsheet would run as a formula.

    A plain signed number such as ``"-12.5"`` is not formula-like.
    """
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _NUMERIC.match(value.strip())
    )


def neutralise_formula(value: Any) -> Any:
    """Prefix formula-like text with ``'`` so a spreadsheet shows it as text."""
    if is_formula_like(value):
        return "'" + value
    return value


def _csv_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # A bare carriage return is not quoted by a CSV writer whose line end is "\n", so a
    # reader would start a new row there (and "=..." after it would be a formula).
    text = clean_text(value).replace("\r\n", "\n").replace("\r", "\n")
    return neutralise_formula(text)


def neutralise_frame_for_csv(df):
    """A copy of ``df`` whose text cells cannot run as formulas when the CSV is opened."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        s = out[col]
        # pandas 3 reads text as the "str" dtype, older pandas as object; categories hold text too
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            # each distinct value once (ids repeat across periods and categories)
            codes, uniques = pd.factorize(s.astype(object), use_na_sentinel=True)
            if len(uniques) == 0:
                continue
            fixed = np.array([_csv_text(v) for v in uniques], dtype=object)
            values = fixed.take(np.where(codes < 0, 0, codes))
            values[codes < 0] = None
            out[col] = pd.Series(values, index=out.index, dtype=object).where(codes >= 0, s.astype(object))
    # Column names are client-controlled too (e.g. categories pivoted into columns).
    out.columns = [_csv_text(str(c)) for c in out.columns]
    return out


def safe_markdown(text: str) -> str:
    """Markdown whose ``<`` and ``>`` are entities: it renders the same, but holds no HTML."""
    return str(text).replace("<", "&lt;").replace(">", "&gt;")


def escape_styler(frame, *, caption: str = ""):
    """A pandas Styler of ``frame`` whose cells, column and index labels and caption are
    escaped HTML text, now and after any later ``.format(...)``/``.format_index(...)``/
    ``.set_caption(...)`` (pandas' own Styler forgets the escaping of every column when a
    notebook later formats a few number columns).
    """
    st = _safe_styler_class()(frame, escape="html", na_rep="\u2013")
    st.format_index(axis=0).format_index(axis=1)
    if caption:
        st.set_caption(caption)
    return st


@functools.cache
def _safe_styler_class():
    import html

    from pandas.io.formats.style import Styler

    class SafeStyler(Styler):
        """A Styler that escapes client text as HTML by default (see :func:`escape_styler`)."""

        def format(self, formatter=None, subset=None, na_rep="\u2013", precision=None, decimal=".",
                   thousands=None, escape="html", hyperlinks=None):
            return super().format(formatter, subset=subset, na_rep=na_rep, precision=precision, decimal=decimal,
                                  thousands=thousands, escape=escape, hyperlinks=hyperlinks)

        def format_index(self, formatter=None, axis=0, level=None, na_rep=None, precision=None, decimal=".",
                         thousands=None, escape="html", hyperlinks=None):
            return super().format_index(formatter, axis=axis, level=level, na_rep=na_rep, precision=precision,
                                        decimal=decimal, thousands=thousands, escape=escape, hyperlinks=hyperlinks)

        def __repr__(self) -> str:
            # the plain-text view of the table (an object's default repr holds its memory
            # address, which made two runs' notebooks differ)
            return f"<table: {self.data.shape[0]:,} rows x {self.data.shape[1]:,} columns>"

        def set_caption(self, caption):
            return super().set_caption(html.escape(caption) if isinstance(caption, str) else caption)

    return SafeStyler
