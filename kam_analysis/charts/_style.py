"""Figure style from the client's theme, plus the generic trend and bar charts.

Every chart takes its colours from the theme active inside ``with kam_style(params):``
(:mod:`kam_analysis.present.theme`: the client's brand colours, the RAG palette, the
quadrant colours) and its tick labels from :mod:`kam_analysis.present.formats`, so a
figure, the deck and the workbooks show a figure the same way.
"""
from __future__ import annotations

import contextlib

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from ..present.formats import axis_formatter
from ..present.theme import active_theme, hex_css, theme_for, use_theme

__all__ = ["kam_style", "series_colors", "rag_color", "money_axis", "plot_period_trend",
           "plot_segment_bars"]

def series_colors() -> list[str]:
    """Series colours of the active theme as ``#RRGGBB``: brand primary and accent first."""
    return [hex_css(c) for c in active_theme().series]


def rag_color(status) -> str:
    """``#RRGGBB`` of a RAG status in the active theme."""
    return hex_css(active_theme().rag(status))


def money_axis(currency: str | None):
    """Tick formatter for money in the client's currency (as every deliverable writes money)."""
    return axis_formatter("currency", currency or "EUR")


@contextlib.contextmanager
def kam_style(params=None):
    """Presentation-ready figures in the client's theme inside a ``with`` block.

    ``params`` (the run's parameters) brings the client's brand colours; without it the
    default theme is used.
    """
    theme = theme_for(params)
    with use_theme(theme), sns.axes_style("whitegrid"), plt.rc_context({
            "figure.figsize": (9, 4.5), "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 11,
            "axes.spines.top": False, "axes.spines.right": False, **theme.mpl_rc()}):
        yield theme


def plot_period_trend(data: pd.DataFrame, *, x: str = "period_start", y: str = "revenue", title: str = "",
                      ylabel: str = "", currency: str | None = None, ax=None):
    """Line chart of one KPI by period."""
    if ax is None:
        _, ax = plt.subplots()
    sns.lineplot(data=data, x=x, y=y, marker="o", ax=ax, color=series_colors()[0])
    ax.set_title(title or y.replace("_", " ").capitalize())
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y.replace("_", " "))
    if currency:
        ax.yaxis.set_major_formatter(money_axis(currency))
    return ax


def plot_segment_bars(data: pd.DataFrame, *, x: str, y: str, title: str = "", ylabel: str = "",
                      percent: bool = False, ax=None):
    """Bar chart of a value per segment."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    sns.barplot(data=data, x=x, y=y, ax=ax, color=series_colors()[1])
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y)
    if percent:
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    return ax
