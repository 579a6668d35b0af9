"""Charts for the review phase: KPI tracking, control charts, programme impact, migration."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from ..present.formats import axis_formatter, fmt_count, fmt_share, fmt_value
from ._style import series_colors, money_axis, rag_color

__all__ = ["plot_kpi_tracking", "plot_spc", "plot_parallel_trends", "plot_migration_matrix",
           "plot_recommendations", "plot_scorecard"]

def _format_axis(ax, *, unit: str | None, currency: str | None) -> None:
    """Ticks as the deliverables write the KPI's unit (present.formats.axis_formatter)."""
    ax.yaxis.set_major_formatter(axis_formatter(unit or "count", currency or "EUR"))


def _date_axis(ax) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _programme_line(ax, programme_start) -> None:
    _date_axis(ax)
    if programme_start is not None:
        ax.axvline(pd.Timestamp(programme_start), color=series_colors()[5], ls=":", lw=1.2)
        ax.annotate("programme start", xy=(pd.Timestamp(programme_start), 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize=8, color=series_colors()[5])


def plot_kpi_tracking(tracking: pd.DataFrame, *, kpi: str, segments: list[str] | None = None, title: str = "",
                      ylabel: str = "", unit: str | None = None, currency: str | None = None,
                      programme_start=None, ax=None):
    """One KPI by period for each segment, with its target (dashed) and the programme start."""
    if ax is None:
        _, ax = plt.subplots()
    d = tracking[(tracking["kpi"] == kpi) & tracking["value"].notna()]
    if segments is not None:
        d = d[d["segment"].isin(segments)]
    order = list(dict.fromkeys(d["segment"]))
    sns.lineplot(data=d, x="period_start", y="value", hue="segment", hue_order=order, marker="o", ax=ax,
                 palette=series_colors()[: len(order)])
    tgt = d["target"].dropna()
    if len(tgt):
        ax.axhline(float(tgt.iloc[0]), color=rag_color("red"), ls="--", lw=1, label="target")
    _programme_line(ax, programme_start)
    ax.set_title(title or kpi.replace("_", " ").capitalize())
    ax.set_xlabel("Period")
    ax.set_ylabel(ylabel or kpi.replace("_", " "))
    _format_axis(ax, unit=unit, currency=currency)
    ax.legend(title="", fontsize=8, frameon=False, loc="best")
    return ax


def plot_spc(spc: pd.DataFrame, *, title: str, ylabel: str, unit: str | None = None, currency: str | None = None,
             programme_start=None, ax=None):
    """A control chart: the series, centre line, control limits and signalling points in red."""
    if ax is None:
        _, ax = plt.subplots()
    d = spc[spc["value"].notna() & spc["ucl"].notna()]
    x = d["period_start"]
    ax.plot(x, d["value"], marker="o", color=series_colors()[0], lw=1.5, label="actual")
    ax.step(x, d["center"], where="mid", color=series_colors()[1], lw=1.2, label="centre line")
    ax.step(x, d["ucl"], where="mid", color=series_colors()[4], lw=1, ls="--", label="control limits")
    ax.step(x, d["lcl"], where="mid", color=series_colors()[4], lw=1, ls="--")
    sig = d[d["signal"]]
    ax.scatter(sig["period_start"], sig["value"], color=series_colors()[4], s=60, zorder=5, label="signal")
    _programme_line(ax, programme_start)
    src = d["limits_from"].iloc[0] if len(d) else ""
    ax.set_title(title)
    ax.set_xlabel(f"Period (limits from {src} periods)" if src == "baseline" else f"Period (limits from {src})")
    ax.set_ylabel(ylabel)
    _format_axis(ax, unit=unit, currency=currency)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return ax


def plot_parallel_trends(trends: pd.DataFrame, event_study: pd.DataFrame, *, programme_start=None,
                         confidence: float = 0.95):
    """Two panels: mean log revenue of programme vs control accounts, and the event-study effects."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    ax = axes[0]
    t = trends.dropna(subset=["mean_log_revenue"])
    for i, (g, d) in enumerate(t.groupby("group", sort=True)):
        ax.plot(d["period_start"], d["mean_log_revenue"], marker="o", color=series_colors()[i], label=g)
    _programme_line(ax, programme_start)
    _date_axis(ax)
    ax.set_title("Programme vs matched control accounts")
    ax.set_xlabel("Period")
    ax.set_ylabel("Mean log revenue per active account")
    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:.2f}"))
    ax.legend(fontsize=8, frameon=False)
    ax = axes[1]
    e = event_study.dropna(subset=["coef"])
    if len(e):
        ax.axhline(0, color=series_colors()[5], lw=1)
        ax.axvline(-0.5, color=series_colors()[5], ls=":", lw=1.2)
        colors = [series_colors()[2] if r < 0 else series_colors()[1] for r in e["rel_period"]]
        ax.errorbar(e["rel_period"], e["coef"], yerr=[e["coef"] - e["ci_low"], e["ci_high"] - e["coef"]],
                    fmt="none", ecolor=series_colors()[5], elinewidth=1, capsize=2)
        ax.scatter(e["rel_period"], e["coef"], c=colors, s=40, zorder=3)
    ax.set_title(f"Difference by period vs the period before the start ({confidence:.0%} CI)")
    ax.set_xlabel("Periods since programme start")
    ax.set_ylabel("Effect on log revenue")
    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:+.2f}"))
    fig.tight_layout()
    return fig


def plot_migration_matrix(migration: pd.DataFrame, *, value: str = "accounts", title: str = "",
                          currency: str | None = None, ax=None):
    """Heatmap of the transition matrix (rows: baseline segment, columns: current segment)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    rows = list(dict.fromkeys(migration["from_segment"]))
    cols = list(dict.fromkeys(migration["to_segment"]))
    m = migration.pivot(index="from_segment", columns="to_segment", values=value).reindex(index=rows, columns=cols)
    m = m.fillna(0)
    if value == "accounts":
        annot = m.map(fmt_count)
    else:
        f = money_axis(currency or "EUR")
        annot = m.map(lambda v: f(v))
    sns.heatmap(m, annot=annot, fmt="", cmap=sns.light_palette(series_colors()[0], as_cmap=True), cbar=False, ax=ax,
                linewidths=0.5, linecolor="white")
    ax.set_title(title or f"Segment migration ({value})")
    ax.set_xlabel("Segment now")
    ax.set_ylabel("Segment at baseline")
    ax.tick_params(axis="x", rotation=20)
    ax.tick_params(axis="y", rotation=0)
    return ax


def plot_recommendations(recs: pd.DataFrame, *, currency: str = "EUR", top: int = 10, ax=None):
    """Horizontal bars of the recommendations' value, largest first."""
    d = recs.head(top).iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.5 * max(len(d), 2) + 1.2))
    labels = [f"{r}. {t[:70]}{'…' if len(t) > 70 else ''}" for r, t in zip(d["rank"], d["recommendation"])]
    ax.barh(labels, d["value"].astype(float), color=series_colors()[1])
    ax.xaxis.set_major_formatter(money_axis(currency))
    ax.set_title("Recommendations ranked by value at stake")
    ax.set_xlabel("Value at stake")
    ax.set_ylabel("")
    return ax


def plot_scorecard(scorecard: pd.DataFrame, *, kpis: list[str] | None = None, ax=None):
    """Segment x KPI status grid coloured red/amber/green, with each value written in."""
    d = scorecard if kpis is None else scorecard[scorecard["kpi"].isin(kpis)]
    segs = list(dict.fromkeys(d["segment"]))
    ks = list(dict.fromkeys(d["kpi"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(ks) + 2, 0.55 * len(segs) + 1.5))
    code = {"red": 0, "amber": 1, "green": 2, "n/a": 3}
    grid = d.pivot(index="segment", columns="kpi", values="status").reindex(index=segs, columns=ks).fillna("n/a")
    vals = d.pivot(index="segment", columns="kpi", values="value").reindex(index=segs, columns=ks)
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap([rag_color("red"), rag_color("amber"), rag_color("green"), rag_color("n/a")])

    units = dict(zip(d["kpi"], d["unit"])) if "unit" in d else {}

    def fmt(v, k):
        if not np.isfinite(v):
            return "–"
        unit = units.get(k) or ("share" if ("rate" in k or "growth" in k or "share" in k) else "count")
        return fmt_share(v, decimals=0) if unit == "share" else fmt_value(v, unit, "")

    annot = np.array([[fmt(vals.iloc[i, j], ks[j]) for j in range(len(ks))] for i in range(len(segs))])
    sns.heatmap(grid.map(code.get).astype(float), annot=annot, fmt="", cmap=cmap, vmin=-0.5, vmax=3.5, cbar=False,
                ax=ax, linewidths=1, linecolor="white", annot_kws={"color": "white", "weight": "bold"})
    ax.set_xticklabels([k.replace("_", " ") for k in ks], rotation=20, ha="right")
    ax.set_title("KPI status by segment (trailing 12 months)")
    ax.set_xlabel("")
    ax.set_ylabel("")
    return ax
