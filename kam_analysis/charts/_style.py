"""Shared chart style, palette and formatters, plus the generic trend and bar charts."""
from __future__ import annotations

import contextlib

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

__all__ = ["kam_style", "PALETTE", "plot_period_trend", "plot_segment_bars", "currency_formatter"]

PALETTE = ["#0B2545", "#13A89E", "#8DA9C4", "#EEB902", "#C0392B", "#5D6D7E", "#7FB069"]


@contextlib.contextmanager
def kam_style():
    """Consistent, presentation-ready styling inside a ``with`` block."""
    with sns.axes_style("whitegrid"), plt.rc_context({
        "figure.figsize": (9, 4.5), "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 11,
        "axes.spines.top": False, "axes.spines.right": False, "font.family": "DejaVu Sans",
        "axes.prop_cycle": matplotlib.cycler(color=PALETTE)}):
        yield


def currency_formatter(currency: str = "EUR"):
    sym = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")

    def fmt(x, _pos=None):
        a = abs(x)
        if a >= 1e9:
            return f"{sym}{x / 1e9:.1f}bn"
        if a >= 1e6:
            return f"{sym}{x / 1e6:.1f}m"
        if a >= 1e3:
            return f"{sym}{x / 1e3:.0f}k"
        return f"{sym}{x:.0f}"

    return mticker.FuncFormatter(fmt)


def plot_period_trend(data: pd.DataFrame, *, x: str = "period_start", y: str = "revenue", title: str = "",
                      ylabel: str = "", currency: str | None = None, ax=None):
    """Line chart of one KPI by period."""
    if ax is None:
        _, ax = plt.subplots()
    sns.lineplot(data=data, x=x, y=y, marker="o", ax=ax, color=PALETTE[0])
    ax.set_title(title or y.replace("_", " ").capitalize())
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y.replace("_", " "))
    if currency:
        ax.yaxis.set_major_formatter(currency_formatter(currency))
    return ax


def plot_segment_bars(data: pd.DataFrame, *, x: str, y: str, title: str = "", ylabel: str = "",
                      percent: bool = False, ax=None):
    """Bar chart of a value per segment."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    sns.barplot(data=data, x=x, y=y, ax=ax, color=PALETTE[1])
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y)
    if percent:
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    return ax
