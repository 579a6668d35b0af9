"""Charts for the assessment phase (phase 1).

Each function takes a run-folder table (``kpi_by_period``, ``concentration_curve``,
``whale_curve``, ``cohort_retention``, ``benchmark_gaps``, ``capability_maturity``,
``kpi_by_segment``) and returns the Axes (or the Figure for multi-panel charts).
Titles, axis labels and number formats are set; missing values are never drawn as
numbers (a period with no retention base is a gap in the line, not a zero).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from ..metrics import kpi_label
from ..present.formats import fmt_period
from ._style import series_colors, money_axis, rag_color

__all__ = [
    "plot_kpi_trends",
    "plot_concentration_curve",
    "plot_whale_curve",
    "plot_cohort_heatmap",
    "plot_cohort_retention",
    "plot_benchmark_gaps",
    "plot_maturity_radar",
    "plot_segment_kpi",
]

_PCT = mticker.PercentFormatter(1.0, decimals=0)


def _period_labels(dates: pd.Series, period: str) -> list[str]:
    return [fmt_period(x, period) for x in pd.to_datetime(dates)]


def plot_kpi_trends(kpi_by_period: pd.DataFrame, *, currency: str = "EUR", period: str = "quarter",
                    title: str = "KPI trends by period"):
    """Four panels: net revenue, ordering accounts, average order value, retention and churn.

    Partial periods (``complete = False``) are drawn hatched/open so nobody reads a
    short quarter as a fall.
    """
    d = kpi_by_period.copy()
    labels = _period_labels(d["period_start"], period)
    x = np.arange(len(d))
    complete = d["complete"].to_numpy() if "complete" in d else np.ones(len(d), dtype=bool)
    fig, axes = plt.subplots(2, 2, figsize=(13, 7.5))
    ax = axes[0, 0]
    bars = ax.bar(x, d["revenue"], color=[series_colors()[0] if c else "white" for c in complete],
                  edgecolor=series_colors()[0])
    for b, c in zip(bars, complete):
        if not c:
            b.set_hatch("//")
    ax.set_title(kpi_label("revenue", short=True))
    ax.set_ylabel(f"Net revenue ({currency})")
    ax.yaxis.set_major_formatter(money_axis(currency))
    ax = axes[0, 1]
    ax.plot(x, d["ordering_accounts"], marker="o", color=series_colors()[1])
    ax.set_title(kpi_label("ordering_accounts", short=True))
    ax.set_ylabel("Accounts with an order")
    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_ylim(bottom=0)
    ax = axes[1, 0]
    ax.plot(x, d["average_order_value"], marker="o", color=series_colors()[2])
    ax.set_title(kpi_label("average_order_value", short=True))
    ax.set_ylabel(f"Revenue per order ({currency})")
    ax.yaxis.set_major_formatter(money_axis(currency))
    ax.set_ylim(bottom=0)
    ax = axes[1, 1]
    ax.plot(x, d["period_retention_rate"], marker="o", color=series_colors()[0],
            label=kpi_label("period_retention_rate", short=True))
    ax.plot(x, d["period_churn_rate"], marker="o", color=series_colors()[4],
            label=kpi_label("period_churn_rate", short=True))
    ax.set_title("Account retention and churn, period on period")
    ax.set_ylabel("Share of accounts active at period start")
    ax.yaxis.set_major_formatter(_PCT)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="center right", frameon=False)
    step = max(1, len(x) // 8)
    for ax in axes.ravel():
        ax.set_xticks(x[::step], [labels[i] for i in range(0, len(x), step)])
        ax.set_xlabel("Period")
    fig.suptitle(title, fontsize=14, fontweight="bold", x=0.01, ha="left")
    fig.tight_layout()
    return fig


def plot_concentration_curve(curve: pd.DataFrame, *, summary: pd.DataFrame | None = None,
                             title: str = "Revenue concentration (Pareto curve)", ax=None):
    """Cumulative revenue share against cumulative account share, largest accounts first."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5))
    ax.plot(curve["account_share"], curve["revenue_share"], color=series_colors()[0], lw=2.2, label="Client")
    ax.plot([0, 1], [0, 1], ls="--", color=series_colors()[5], lw=1, label="Equal revenue per account")
    ax.fill_between(curve["account_share"], curve["revenue_share"], curve["account_share"], color=series_colors()[0],
                    alpha=0.08)
    if summary is not None:
        s = summary.set_index("metric")["value"]
        for q, key in ((0.2, "top20_share"), (0.1, "top10_share")):
            if key in s and np.isfinite(s[key]):
                ax.plot([q, q], [0, s[key]], ls=":", color=series_colors()[1])
                ax.plot([0, q], [s[key], s[key]], ls=":", color=series_colors()[1])
                ax.annotate(f"Top {q:.0%} of accounts: {s[key]:.0%} of revenue", (q, s[key]),
                            xytext=(12, -14 if q == 0.1 else -4), textcoords="offset points", fontsize=9,
                            color=series_colors()[0])
        if "gini" in s and np.isfinite(s["gini"]):
            ax.text(0.97, 0.05, f"Gini {s['gini']:.2f}", ha="right", transform=ax.transAxes, fontsize=10,
                    color=series_colors()[0], fontweight="bold")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(_PCT)
    ax.yaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Share of accounts (ranked by revenue, largest first)")
    ax.set_ylabel("Cumulative share of revenue, last 12 months")
    ax.set_title(title)
    ax.legend(loc="lower right", frameon=False, bbox_to_anchor=(1, 0.1))
    return ax


def plot_whale_curve(whale: pd.DataFrame, *, title: str = "Whale curve: cumulative profit after cost to serve",
                     ax=None):
    """Cumulative profit (share of total) with accounts ranked from most to least profitable."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5))
    w = whale.dropna(subset=["cumulative_profit_share"])
    ax.plot(w["account_share"], w["cumulative_profit_share"], color=series_colors()[0], lw=2.2)
    ax.axhline(1.0, ls="--", color=series_colors()[5], lw=1)
    if len(w):
        i = int(w["cumulative_profit_share"].to_numpy().argmax())
        peak, at = float(w["cumulative_profit_share"].iloc[i]), float(w["account_share"].iloc[i])
        ax.scatter([at], [peak], color=series_colors()[4], zorder=3)
        ax.annotate(f"Peak: {peak:.0%} of total profit\nfrom the top {at:.0%} of accounts; the rest\n"
                    f"give away {peak - 1:.0%} of total profit", (at, peak), xytext=(-40, -80),
                    textcoords="offset points", fontsize=9, ha="right",
                    arrowprops={"arrowstyle": "-", "color": series_colors()[5]})
        ax.text(0.01, 1.0, "100% = total profit", ha="left", va="bottom", fontsize=8, color=series_colors()[5],
                transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(_PCT)
    ax.yaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Share of accounts (most to least profitable)")
    ax.set_ylabel("Cumulative share of total profit")
    ax.set_title(title)
    return ax


def plot_cohort_heatmap(cohort_retention: pd.DataFrame, *, value: str = "retention", max_periods: int | None = 12,
                        title: str = "", ax=None):
    """Cohort x periods-since-acquisition heatmap of retention (or revenue retention)."""
    c = cohort_retention.copy()
    if max_periods is not None:
        c = c[c["period_index"] <= max_periods]
    lab = c["cohort_label"] + np.where(c["left_censored"], " (existing)", "")
    c = c.assign(label=lab)
    order = c.drop_duplicates("cohort").sort_values("cohort")["label"]
    m = c.pivot_table(index="label", columns="period_index", values=value, aggfunc="first").reindex(order)
    sizes = c.drop_duplicates("cohort").set_index("label")["accounts"].reindex(order)
    m.index = [f"{i}  (n={n:,})" for i, n in zip(m.index, sizes)]
    if ax is None:
        _, ax = plt.subplots(figsize=(min(3 + 0.65 * m.shape[1], 14), max(3, 0.42 * m.shape[0] + 1.5)))
    vmax = 1.0 if value == "retention" else max(1.0, float(np.nanpercentile(m.to_numpy(dtype=float), 95)))
    sns.heatmap(m, annot=True, fmt=".0%", cmap="Blues", vmin=0, vmax=vmax, cbar=False, ax=ax,
                annot_kws={"fontsize": 7.5}, linewidths=0.5, linecolor="white")
    ax.set_xlabel("Periods since first order")
    ax.set_ylabel("Acquisition cohort")
    ax.set_title(title or ("Share of each cohort still ordering" if value == "retention"
                           else "Cohort net revenue retention (revenue vs. first period)"))
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(False)
    return ax


def plot_cohort_retention(cohort_retention: pd.DataFrame, *, max_periods: int | None = 12):
    """Two stacked heatmaps (account retention, net revenue retention), sized to the number of cohorts."""
    n_coh = cohort_retention["cohort"].nunique()
    n_per = int(min(cohort_retention["period_index"].max() if len(cohort_retention) else 0,
                    max_periods if max_periods is not None else 10**6)) + 1
    width = min(3.5 + 0.8 * n_per, 14)
    height = 2 * (0.42 * n_coh + 1.4)
    fig, axes = plt.subplots(2, 1, figsize=(width, max(height, 5)))
    plot_cohort_heatmap(cohort_retention, value="retention", max_periods=max_periods, ax=axes[0])
    plot_cohort_heatmap(cohort_retention, value="revenue_retention", max_periods=max_periods, ax=axes[1])
    fig.tight_layout()
    return fig


def plot_benchmark_gaps(gaps: pd.DataFrame, *, title: str = "KPIs against target (or benchmark)", ax=None):
    """Each KPI as a share of its reference (the target, else the benchmark), coloured by RAG.

    100 % = on target. For lower-is-better KPIs the index is reference / current, so
    right of 100 % is always better.
    """
    g = gaps.copy()
    # only KPIs rated against a target or a sourced benchmark: an illustrative placeholder is no reference
    g = g[g["status_basis"].isin(["target", "benchmark"])] if "status_basis" in g else g
    ref = np.where(g["status_basis"] == "target", g["target"], g["benchmark"])
    cur = g["current"].astype(float)
    idx = np.where(g["higher_is_better"].astype(bool), cur / ref, ref / cur)
    g["index"] = idx
    g = g[np.isfinite(g["index"])].iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(g) + 1.6))
    labels = [f"{lab} (vs {basis})" for lab, basis in zip(g["label"], g["status_basis"])]
    ax.barh(labels, g["index"], color=[rag_color(s) for s in g["status"]])
    ax.axvline(1.0, color=series_colors()[0], lw=1.2)
    for y, v in enumerate(g["index"]):
        ax.text(v + 0.01, y, f"{v:.0%}", va="center", fontsize=8.5)
    ax.xaxis.set_major_formatter(_PCT)
    ax.set_xlabel("Current as % of reference (100% = on reference; right is better)")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.set_xlim(0, max(1.3, float(g["index"].max()) * 1.12) if len(g) else 1.3)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=rag_color(k), label=k) for k in ("green", "amber", "red")],
              loc="lower right", frameon=False, ncols=3, fontsize=8)
    if g.empty:
        ax.text(0.5, 0.5, "No KPI is rated: no targets are set and no sourced benchmark is available\n"
                "(illustrative benchmarks are shown for reference only)", transform=ax.transAxes, ha="center",
                va="center", fontsize=10, color=series_colors()[5])
    return ax


def plot_maturity_radar(maturity: pd.DataFrame, *, title: str = "KAM capability: self-assessment vs target",
                        ax=None):
    """Radar of capability scores (1-5) against targets by dimension."""
    m = maturity.reset_index(drop=True)
    n = len(m)
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    close = lambda v: np.concatenate([v, v[:1]])  # noqa: E731
    if ax is None:
        fig = plt.figure(figsize=(7.5, 7))
        ax = fig.add_subplot(projection="polar")
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    if m["target"].notna().any():
        ax.plot(close(ang), close(m["target"].fillna(0).to_numpy(float)), color=series_colors()[1], lw=2, ls="--",
                label="Target")
    ax.plot(close(ang), close(m["score"].to_numpy(float)), color=series_colors()[0], lw=2.2, label="Current score")
    ax.fill(close(ang), close(m["score"].to_numpy(float)), color=series_colors()[0], alpha=0.15)
    ax.set_xticks(ang, [d.replace(" & ", " &\n") if len(d) > 18 else d for d in m["dimension"]], fontsize=8.5)
    ax.set_ylim(0, 5)
    ax.set_yticks([1, 2, 3, 4, 5], ["1", "2", "3", "4", "5"], fontsize=8, color=series_colors()[5])
    ax.set_title(title, pad=34)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False, ncols=2)
    return ax


def plot_segment_kpi(kpi_by_segment: pd.DataFrame, *, dimension: str, kpi: str, currency: str | None = None,
                     title: str = "", ax=None):
    """One KPI by group of one dimension, with its interval.

    Groups whose difference from the rest is statistically distinguishable are marked
    ``*``; groups below the minimum base are drawn faded and labelled ``small n``.
    """
    d = kpi_by_segment[(kpi_by_segment["dimension"] == dimension) & (kpi_by_segment["kpi"] == kpi)]
    d = d[np.isfinite(d["value"].astype(float))].sort_values("value", ascending=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 0.5 * max(len(d), 2) + 1.6))
    colors = [series_colors()[2] if s else series_colors()[0] for s in d["small_n"]]
    y = np.arange(len(d))
    ax.barh(y, d["value"], color=colors)
    lo, hi = d["ci_low"].to_numpy(float), d["ci_high"].to_numpy(float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        v = d["value"].to_numpy(float)
        err = np.clip([v[ok] - lo[ok], hi[ok] - v[ok]], 0, None)  # Wilson bounds at 0/1 can round past the value
        ax.errorbar(v[ok], y[ok], xerr=err, fmt="none", ecolor=series_colors()[5], capsize=3)
    unit = d["unit"].iloc[0] if len(d) else ""
    labels = [f"{g}{' *' if dist else ''}{' (small n)' if s else ''}"
              for g, dist, s in zip(d["group"], d["distinguishable"], d["small_n"])]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    if unit == "share":
        ax.xaxis.set_major_formatter(_PCT)
    elif unit == "currency" and currency:
        ax.xaxis.set_major_formatter(money_axis(currency))
    label = d["label"].iloc[0] if len(d) else kpi
    ax.set_xlabel(label + ("" if unit != "currency" or not currency else f" ({currency})"))
    ax.set_ylabel("")
    ax.set_title(title or f"{label} by {dimension.replace('_', ' ')}")
    ax.annotate("* differs from the other groups beyond noise; whiskers show the interval", xy=(1.0, 0.0),
                xycoords="axes fraction", xytext=(0, -40), textcoords="offset points", ha="right", va="top",
                fontsize=7.5, color=series_colors()[5])
    if (d["value"] < 0).any():
        ax.axvline(0, color=series_colors()[5], lw=0.8)
    return ax
