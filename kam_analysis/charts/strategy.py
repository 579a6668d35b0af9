"""Charts for the strategy phase: capacity, churn drivers, whitespace, scenarios."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from ..present.theme import active_theme, hex_css, tint
from ._style import series_colors, money_axis

__all__ = [
    "plot_capacity_vs_demand",
    "plot_churn_drivers",
    "plot_risk_by_segment",
    "plot_whitespace_heatmap",
    "plot_impact_waterfall",
    "plot_tornado",
]


def _hours_formatter():
    return mticker.FuncFormatter(lambda x, _p=None: f"{x / 1e3:,.0f}k h" if abs(x) >= 1e3 else f"{x:,.0f} h")


def plot_capacity_vs_demand(coverage_by_segment: pd.DataFrame, *, capacity_hours: float | None = None,
                            segment: str = "segment", ax=None):
    """Grouped bars per segment: manager hours a full-coverage plan needs vs hours the
    optimised plan allocates; the title states total capacity."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    d = coverage_by_segment.fillna(0)
    x = np.arange(len(d))
    w = 0.38
    b1 = ax.bar(x - w / 2, d["hours_needed"], w, label="Hours needed (full coverage)", color=series_colors()[2])
    b2 = ax.bar(x + w / 2, d["hours_allocated"], w, label="Hours allocated (optimised plan)", color=series_colors()[0])
    for bars in (b1, b2):
        for b in bars:
            if b.get_height() > 0:
                ax.annotate(f"{b.get_height():,.0f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    for i, r in enumerate(d.itertuples()):
        ax.annotate(f"{r.covered:,} of {r.accounts:,} accounts covered", (i, 0), xytext=(0, -28),
                    textcoords="offset points", ha="center", fontsize=8, color=series_colors()[5])
    ax.set_xticks(x, d[segment])
    ax.yaxis.set_major_formatter(_hours_formatter())
    ax.set_ylabel("Account-manager hours per year")
    title = "Account-manager capacity vs demand by segment"
    if capacity_hours is not None:
        title += f"\n{capacity_hours:,.0f} h available, {d['hours_needed'].sum():,.0f} h needed for full coverage"
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper right")
    ax.margins(y=0.15)
    return ax


def _not_supported_panel(ax, title: str, note: str):
    """An empty chart saying plainly why nothing is drawn (no invented bars or points)."""
    import textwrap

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(note or "not supported by the data", 80)), ha="center", va="center",
            transform=ax.transAxes, fontsize=11, color=series_colors()[5])
    return ax


def plot_churn_drivers(drivers: pd.DataFrame, *, confidence: float = 0.95, note: str = "", ax=None):
    """Forest plot: odds ratio and confidence interval of each churn driver (log scale).

    Drivers whose interval excludes 1 are coloured (red = raises risk, teal = lowers).
    With no drivers (the churn model was not supported by the data) the panel states
    ``note`` instead."""
    if drivers.empty:
        return _not_supported_panel(ax, "What drives churn: churn-risk model not supported",
                                    note or "churn model not supported: no drivers estimated")
    d = drivers.sort_values("odds_ratio").reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.55 * len(d) + 1.6))
    y = np.arange(len(d))
    colors = [series_colors()[4] if (s and o > 1) else series_colors()[1] if s else series_colors()[5]
              for s, o in zip(d["material"] if "material" in d else d["significant"], d["odds_ratio"])]
    ax.hlines(y, d["ci_low"], d["ci_high"], color=colors, lw=2.5)
    ax.scatter(d["odds_ratio"], y, color=colors, s=60, zorder=3)
    ax.axvline(1, color=hex_css(active_theme().text), lw=1, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p=None: f"{v:g}×"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    lo, hi = float(d["ci_low"].min()), float(d["ci_high"].max())
    ticks = [t for t in (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10, 20, 50) if lo / 1.3 <= t <= hi * 1.3]
    if len(ticks) > 8:
        ticks = [t for t in ticks if t in (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 50)]
    ax.set_xticks(ticks)
    ax.set_yticks(y, d["label"])
    for yi, r in zip(y, d.itertuples()):
        ax.annotate(f"{r.odds_ratio:.2f}", (r.ci_high, yi), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_xlabel(f"Odds ratio of churning ({confidence:.0%} confidence interval; 1 = no effect)")
    ax.set_title("What drives churn: odds ratios from the churn-risk model")
    ax.grid(axis="y", visible=False)
    return ax


def plot_risk_by_segment(revenue_at_risk: pd.DataFrame, *, currency: str = "EUR", horizon_days: int = 365,
                         note: str = "", ax=None):
    """Bars of revenue at risk per segment, labelled with the share of segment revenue.
    With no rows (no account scored) the panel states ``note`` instead."""
    if revenue_at_risk.empty:
        return _not_supported_panel(ax, "Revenue at risk of churn by segment: not estimated",
                                    note or "no account has a churn-risk score")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    d = revenue_at_risk.fillna(0)
    bars = ax.bar(d["segment"], d["revenue_at_risk"], color=series_colors()[4])
    for b, s in zip(bars, d["share_at_risk"]):
        ax.annotate(f"{s:.0%} of revenue", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                    va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
    ax.yaxis.set_major_formatter(money_axis(currency))
    months = horizon_days / 30.44
    horizon = f"next {round(months)} months" if abs(months - round(months)) < 0.1 else f"next {horizon_days} days"
    ax.set_ylabel("Revenue at risk")
    ax.set_title(f"Revenue at risk of churn by segment ({horizon})")
    ax.margins(y=0.15)
    return ax


def plot_whitespace_heatmap(account_category: pd.DataFrame, whitespace: pd.DataFrame, *, accounts: list[str],
                            names: pd.Series | None = None, currency: str = "EUR", max_categories: int = 12, ax=None):
    """Account x category heatmap: share of wallet where the account buys (blue), and
    the expected value of each whitespace opportunity (boxed, accent) where it does not.
    With many categories only the ``max_categories`` with the most revenue plus
    opportunity value among the shown accounts are drawn."""
    rev = account_category.astype({"revenue": float}).pivot_table(index="account_id", columns="category",
                                                                  values="revenue", aggfunc="sum",
                                                                  fill_value=0.0).clip(lower=0)
    rev = rev.reindex(accounts).fillna(0.0)
    if rev.shape[1] > max_categories:
        ws_cat = (whitespace[whitespace["account_id"].isin(accounts)].groupby("category")["expected_value"].sum()
                  if len(whitespace) else pd.Series(dtype=float))
        weight = rev.sum().add(ws_cat, fill_value=0.0).sort_values(ascending=False)
        keep_cats = [c for c in rev.columns if c in set(weight.index[:max_categories])]
        rev_all = rev.sum(axis=1)
        rev = rev[keep_cats]
    else:
        rev_all = rev.sum(axis=1)
    share = rev.div(rev_all.replace(0, np.nan), axis=0).fillna(0.0)
    cats = list(share.columns)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 * len(cats) + 3.5, 0.42 * len(accounts) + 1.8))
    ax.imshow(share.to_numpy(), cmap="Blues", vmin=0, vmax=max(0.6, float(share.to_numpy().max())), aspect="auto")
    fmt = money_axis(currency)
    ws = whitespace.set_index(["account_id", "category"])["expected_value"] if len(whitespace) else pd.Series(dtype=float)
    for i, a in enumerate(accounts):
        for j, c in enumerate(cats):
            v = share.iat[i, j]
            if v > 0:
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.35 else hex_css(active_theme().primary))
            elif (a, c) in ws.index:
                ax.add_patch(plt.Rectangle((j - 0.46, i - 0.42), 0.92, 0.84, fill=True, facecolor=hex_css(tint(active_theme().highlight, 0.8)),
                                           edgecolor=series_colors()[3], lw=1.5))
                ax.text(j, i, f"+{fmt(ws[(a, c)])}", ha="center", va="center", fontsize=8, color=hex_css(active_theme().amber),
                        fontweight="bold")
    labels = [str(names.get(a, a)) if names is not None else str(a) for a in accounts]
    ax.set_xticks(range(len(cats)), cats, rotation=20, ha="right")
    ax.set_yticks(range(len(accounts)), labels)
    ax.set_xlabel("Product category (blue: share of the account's wallet; boxed: expected value of the opportunity)")
    ax.set_title("Cross-sell whitespace: top key accounts")
    ax.grid(False)
    return ax


def plot_impact_waterfall(impact_by_lever: pd.DataFrame, *, scenario: str = "base", value: str = "profit_impact",
                          currency: str = "EUR", labels: dict[str, str] | None = None, ax=None):
    """Waterfall of the impact by lever in one scenario, ending in the total."""
    d = impact_by_lever[impact_by_lever["scenario"] == scenario].groupby("lever", sort=False)[value].sum()
    short = {"retention_pts": "Retention", "aov_growth": "Order value", "frequency_growth": "Order frequency",
             "cross_sell_capture": "Cross-sell", **(labels or {})}
    names = [short.get(k, k.replace("_", " ").capitalize()) for k in d.index] + ["Total"]
    vals = list(d.to_numpy())
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    start = np.concatenate([[0], np.cumsum(vals)[:-1]])
    colors = [series_colors()[1] if v >= 0 else series_colors()[4] for v in vals]
    ax.bar(range(len(vals)), vals, bottom=start, color=colors)
    total = float(np.sum(vals))
    ax.bar(len(vals), total, color=series_colors()[0])
    for i, (b, v) in enumerate(zip(list(start) + [0], vals + [total])):
        ax.annotate(money_axis(currency)(v), (i, b + v), ha="center", va="bottom", fontsize=9,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(names)), names)
    ax.yaxis.set_major_formatter(money_axis(currency))
    what = "gross profit" if "profit" in value else "revenue"
    ax.set_ylabel(f"Annual {what} impact")
    ax.set_title(f"Impact of reaching the targets by lever ({scenario} scenario, {what})")
    ax.margins(y=0.12)
    return ax


def plot_tornado(sensitivity: pd.DataFrame, *, currency: str = "EUR", ax=None):
    """Tornado: profit impact when each lever moves from its low to its high assumption
    (others at base); the widest bar is the assumption that matters most."""
    d = sensitivity.sort_values("swing").reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.6 * len(d) + 1.8))
    base = float(d["profit_base"].iloc[0]) if len(d) else 0.0
    y = np.arange(len(d))
    ax.barh(y, d["profit_low"] - base, left=base, color=series_colors()[4], label="Low assumption")
    ax.barh(y, d["profit_high"] - base, left=base, color=series_colors()[1], label="High assumption")
    ax.axvline(base, color=hex_css(active_theme().text), lw=1)
    fmt = money_axis(currency)
    for yi, r in zip(y, d.itertuples()):
        ax.annotate(fmt(r.profit_low), (r.profit_low, yi), xytext=(-4, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=8)
        ax.annotate(fmt(r.profit_high), (r.profit_high, yi), xytext=(4, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=8)
    ax.set_yticks(y, d["label"])
    ax.xaxis.set_major_formatter(fmt)
    ax.set_xlabel(f"Annual profit impact (base case {fmt(base)})")
    ax.set_title("Sensitivity: which assumption matters most")
    ax.legend(frameon=False, loc="lower right")
    ax.margins(x=0.2)
    return ax
