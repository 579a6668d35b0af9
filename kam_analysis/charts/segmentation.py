"""Charts for the segmentation phase: portfolio matrix, score composition, RFM, clusters, CLV, stability.

Each takes the phase's tables (``segments``, ``cluster_profiles``, ``clv_holdout``...)
first and ``ax=None``; wrap calls in ``with kam_style():``. NaN never reaches a chart:
rows without a value are left out and the count left out is said in the subtitle.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from ..present.theme import MATRIX, active_theme, hex_css
from ._style import series_colors, money_axis

__all__ = [
    "quadrant_colors",
    "plot_portfolio_matrix",
    "plot_selection_composition",
    "plot_rfm_heatmap",
    "plot_cluster_profiles",
    "plot_clv_distribution",
    "plot_holdout_check",
    "plot_stability",
]

_GROUP_COLORS = {"score_value": series_colors()[0], "score_growth": series_colors()[1], "score_strategic": series_colors()[3]}


def quadrant_colors(names: list[str]) -> dict[str, str]:
    """Quadrant name -> ``#RRGGBB`` in the active theme, for names in matrix order."""
    return {q: hex_css(c) for q, c in active_theme().quadrant_colors(list(names)).items()}


def plot_portfolio_matrix(segments: pd.DataFrame, *, names: list[str], size_col: str = "revenue_12m",
                          x: str = MATRIX.x, y: str = MATRIX.y, quadrant_col: str = "quadrant",
                          x_threshold: float | None = None, y_threshold: float | None = None,
                          title: str = "KAM portfolio matrix", ax=None):
    """Bubble chart of the KAM portfolio matrix: relative strength × attractiveness, bubble = revenue.

    ``names`` in matrix order (high/high, high attr./low strength, low attr./high strength,
    low/low). Thresholds default to the medians (the split used when the params give none).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 7))
    df = segments[[x, y, size_col, quadrant_col]].dropna(subset=[x, y])
    xt = float(np.median(df[x])) if x_threshold is None else x_threshold
    yt = float(np.median(df[y])) if y_threshold is None else y_threshold
    size = df[size_col].fillna(0).clip(lower=0)
    s = 15 + 900 * np.sqrt(size / size.max()) if size.max() > 0 else np.full(len(df), 30.0)
    colors = quadrant_colors(names)
    for q in names:
        m = (df[quadrant_col] == q).to_numpy()
        ax.scatter(df.loc[m, x], df.loc[m, y], s=s[m], color=colors[q], alpha=0.55, edgecolor="white",
                   linewidth=0.6, label=f"{q} ({int(m.sum())})")
    ax.axvline(xt, color=series_colors()[5], lw=1, ls="--")
    ax.axhline(yt, color=series_colors()[5], lw=1, ls="--")
    lo_x, hi_x = 0.0, 1.0
    ax.set_xlim(lo_x - 0.02, hi_x + 0.02)
    ax.set_ylim(-0.02, 1.02)
    box = {"boxstyle": "round,pad=0.3", "fc": "white", "ec": "none", "alpha": 0.8}
    for q, (right, top) in zip(names, MATRIX.corners):
        px, py, ha = (0.98 if right else 0.02), (0.98 if top else 0.02), ("right" if right else "left")
        ax.text(px, py, q, transform=ax.transAxes, ha=ha, va="top" if py > 0.5 else "bottom", fontsize=12,
                fontweight="bold", color=colors[q], bbox=box)
    ax.set_xlabel(f"{MATRIX.x_title} (0-1)")
    ax.set_ylabel(f"{MATRIX.y_title} (0-1)")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False, markerscale=0.5,
              title=f"bubble size = {size_col.replace('_', ' ')}")
    ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%.1f"))
    ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%.1f"))
    return ax


def plot_selection_composition(segments: pd.DataFrame, *, labels: pd.Series | None = None, top: int = 15,
                               title: str = "Key-account selection score: composition of the top accounts",
                               ax=None):
    """Stacked horizontal bars: value / growth / strategic contributions of the top accounts.

    ``labels`` maps account_id -> display name (``run.account_display_names()``).
    """
    cols = [c for c in ("score_value", "score_growth", "score_strategic") if c in segments]
    df = segments.sort_values("selection_score", ascending=False, kind="stable").head(top)
    names = df["account_id"].map(labels) if labels is not None else df["account_id"]
    names = names.fillna(df["account_id"]).astype(str).str.slice(0, 32).to_numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.35 * len(df) + 1.5))
    left = np.zeros(len(df))
    ypos = np.arange(len(df))[::-1]
    for c in cols:
        v = df[c].fillna(0).to_numpy()
        ax.barh(ypos, v, left=left, color=_GROUP_COLORS[c], label=c.removeprefix("score_").capitalize())
        left += v
    ax.set_yticks(ypos, names)
    ax.set_xlabel("Selection score (0-1)")
    ax.set_xlim(0, max(1.0, left.max() * 1.05))
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%.1f"))
    return ax


def plot_rfm_heatmap(segments: pd.DataFrame, *, bins: int = 5, value: str = "accounts",
                     title: str = "RFM: accounts by recency and frequency score", ax=None):
    """Heatmap of accounts (or ``revenue_12m``) by R score (rows, 5 = most recent) × F score."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5.5))
    df = segments
    if value == "accounts":
        grid = pd.crosstab(df["r_score"], df["f_score"])
        fmt, cbar = "d", "Accounts"
    else:
        grid = df.pivot_table(index="r_score", columns="f_score", values=value, aggfunc="sum")
        fmt, cbar = ",.0f", value.replace("_", " ")
    grid = grid.reindex(index=range(bins, 0, -1), columns=range(1, bins + 1)).fillna(0)
    if fmt == "d":
        grid = grid.astype(int)
    sns.heatmap(grid, annot=True, fmt=fmt, cmap="Blues", ax=ax, cbar_kws={"label": cbar}, linewidths=0.5)
    ax.set_xlabel("Frequency score (5 = most orders)")
    ax.set_ylabel("Recency score (5 = most recent)")
    ax.set_title(title)
    return ax


def plot_cluster_profiles(cluster_profiles: pd.DataFrame, *, title: str = "Behavioural clusters: feature profile",
                          ax=None):
    """Heatmap of each cluster's mean z-score per feature (0 = the average account)."""
    from ..phases.segmentation import FEATURE_LABELS

    zc = [c for c in cluster_profiles.columns if c.startswith("z_")]
    if cluster_profiles.empty or not zc:
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 2))
        ax.text(0.5, 0.5, "Not clustered: the data does not support behavioural clusters\n"
                "(too few accounts, or no behaviour varies between them)", ha="center", va="center",
                fontsize=11, transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        return ax
    grid = cluster_profiles.set_index(
        cluster_profiles["cluster"].astype(str) + ". " + cluster_profiles["cluster_label"].astype(str)
        + " (" + cluster_profiles["accounts"].astype(int).astype(str) + ")")[zc]
    grid.columns = [FEATURE_LABELS.get(c[2:], (c[2:],))[0] for c in zc]
    grid = grid.fillna(0.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.7 * len(grid) + 2.5))
    lim = max(1.0, float(np.abs(grid.to_numpy()).max()))
    sns.heatmap(grid, annot=True, fmt=".1f", cmap="RdBu_r", center=0, vmin=-lim, vmax=lim, ax=ax,
                cbar_kws={"label": "mean z-score (sd from average)"}, linewidths=0.5)
    ax.set_xlabel("")
    ax.set_ylabel("Cluster (accounts)")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    for lab in ax.get_xticklabels():
        lab.set_ha("right")
    return ax


def plot_clv_distribution(segments: pd.DataFrame, *, names: list[str], currency: str = "EUR",
                          title: str = "Predicted CLV by portfolio quadrant", ax=None):
    """Box plot of predicted CLV per quadrant on a log scale.

    Accounts without a CLV, or with a CLV below 1 currency unit (lapsed accounts whose
    value rounds to nothing), are left out; the subtitle says how many.
    """
    df = segments[["quadrant", "clv"]].dropna()
    no_clv = len(segments) - len(df)
    below = int((df["clv"] < 1).sum())
    df = df[df["clv"] >= 1]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.8))
    order = [q for q in names if (df["quadrant"] == q).any()]
    sns.boxplot(data=df, x="quadrant", y="clv", order=order, hue="quadrant", hue_order=order,
                palette=quadrant_colors(names), ax=ax, showfliers=False, legend=False)
    # seaborn jitters with NumPy's global random state: seeded here (and restored), so the
    # same run gives the same figure and the kernel's other random draws are untouched
    state = np.random.get_state()
    np.random.seed(0)
    try:
        sns.stripplot(data=df, x="quadrant", y="clv", order=order, color=hex_css(active_theme().text), size=2, alpha=0.35, ax=ax)
    finally:
        np.random.set_state(state)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mticker.LogLocator(base=10))
    ax.yaxis.set_major_formatter(money_axis(currency))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel("")
    ax.set_ylabel("Predicted CLV (discounted, log scale)")
    notes = [f"{no_clv:,} without a CLV"] if no_clv else []
    notes += [f"{below:,} below 1 {currency}"] if below else []
    ax.set_title(title + (f"\n(not shown: {', '.join(notes)})" if notes else ""))
    return ax


def plot_holdout_check(clv_holdout: pd.DataFrame, *, title: str = "BG/NBD holdout check: purchases per account",
                       ax=None):
    """Grouped bars: mean actual vs predicted holdout purchases by calibration repeat frequency."""
    df = clv_holdout[~clv_holdout["frequency_group"].astype(str).str.startswith("all")]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    xpos = np.arange(len(df))
    ax.bar(xpos - 0.2, df["actual"], width=0.4, color=series_colors()[0], label="Actual")
    ax.bar(xpos + 0.2, df["predicted"], width=0.4, color=series_colors()[1], label="Predicted (BG/NBD)")
    ax.set_xticks(xpos, df["frequency_group"].astype(str))
    ax.set_xlabel("Repeat purchases in the calibration period")
    ax.set_ylabel("Mean purchases in the holdout")
    ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%.1f"))
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def plot_stability(segments: pd.DataFrame, *, names: list[str], robust: float = 0.8, fragile: float = 0.5,
                   title: str = "How robust is each quadrant assignment to the weights?", ax=None):
    """Stacked bars per quadrant: share of accounts robust (≥ robust), moderate, fragile (< fragile)."""
    df = segments[["quadrant_model", "stability"]].dropna()
    band = pd.cut(df["stability"], [-0.01, fragile, robust - 1e-9, 1.0],
                  labels=[f"Fragile (<{fragile:.0%})", "Moderate", f"Robust (≥{robust:.0%})"])
    tab = pd.crosstab(df["quadrant_model"], band, normalize="index").reindex(
        [q for q in names if q in set(df["quadrant_model"])]).fillna(0)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    left = np.zeros(len(tab))
    ypos = np.arange(len(tab))[::-1]
    for col, color in zip(list(tab.columns)[::-1], [series_colors()[1], series_colors()[3], series_colors()[4]]):
        v = tab[col].to_numpy()
        ax.barh(ypos, v, left=left, color=color, label=str(col))
        left += v
    ax.set_yticks(ypos, tab.index)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    ax.set_xlabel("Share of accounts (perturbed-weight draws keeping the quadrant)")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    return ax
