"""Statistical process control: Shewhart control limits and signals for a KPI series."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["compute_spc"]


def compute_spc(series: pd.DataFrame, *, kind: str = "individuals", value_col: str = "value", n_col: str = "n",
                baseline_mask: pd.Series | np.ndarray | None = None, min_baseline: int = 6,
                run_length: int = 8, x_col: str = "period_start") -> pd.DataFrame:
    """Control limits and signals for one KPI series (Shewhart charts).

    Limits are estimated on the baseline periods (``baseline_mask``; e.g. pre-programme)
    when there are at least ``min_baseline`` of them, else on the whole series, and then
    applied to every period.

    * individuals (XmR) chart: centre = mean(x); MR-bar = mean |x_t - x_{t-1}|;
      limits = centre +/- 2.66 * MR-bar (2.66 = 3 / d2, d2 = 1.128 for n = 2);
    * p-chart (a share with denominator n_t), Laney's p' form: centre p-bar = sum(p_t n_t) /
      sum(n_t); sigma_t = sqrt(p-bar (1 - p-bar) / n_t); limits = p-bar +/- 3 sigma_t
      sigma_z, clipped to [0, 1], where sigma_z = mean |z_t - z_{t-1}| / 1.128 over the
      baseline periods' z_t = (p_t - p-bar) / sigma_t, floored at 1. With sigma_z = 1 this
      is the classic p-chart; with hundreds of thousands of accounts a period's binomial
      sigma is a few hundredths of a point, far below the quarter-to-quarter variation any
      real business has, so the classic limits would flag every period (Laney 2002,
      "Improved control charts for attributes", Quality Engineering 14(4)).

    A period signals when it lies outside the limits, or ends a run of ``run_length``
    consecutive points on the same side of the centre line (Western Electric rule 4).

    Returns
    -------
    DataFrame
        the input's ``x_col`` and ``value`` with ``center, ucl, lcl, signal, rule,
        limits_from`` (``"baseline"`` or ``"all periods"``).
    """
    if kind not in {"individuals", "p"}:
        raise ValueError(f"kind must be 'individuals' or 'p', got {kind!r}")
    df = series[[x_col, value_col] + ([n_col] if kind == "p" else [])].copy().reset_index(drop=True)
    df = df.rename(columns={value_col: "value"})
    ok = df["value"].notna() & np.isfinite(df["value"].astype(float))
    if kind == "p":
        ok &= df[n_col].fillna(0) > 0
    mask = (pd.Series(np.asarray(baseline_mask, dtype=bool)) if baseline_mask is not None
            else pd.Series(True, index=df.index)).reset_index(drop=True)
    use = ok & mask
    limits_from = "baseline"
    if use.sum() < min_baseline:
        use, limits_from = ok, "all periods"
    if kind == "individuals":
        x = df.loc[use, "value"].astype(float)
        center = float(x.mean()) if len(x) else np.nan
        mr = float(x.diff().abs().mean()) if len(x) > 1 else np.nan
        df["center"] = center
        df["ucl"] = center + 2.66 * mr
        df["lcl"] = center - 2.66 * mr
    else:
        n = df[n_col].astype(float)
        pbar = float((df.loc[use, "value"] * n[use]).sum() / n[use].sum()) if n[use].sum() else np.nan
        sd = np.sqrt(pbar * (1 - pbar) / n.where(n > 0))
        z = ((df.loc[use, "value"].astype(float) - pbar) / sd[use]).replace([np.inf, -np.inf], np.nan).dropna()
        sigma_z = float(z.diff().abs().mean() / 1.128) if len(z) > 1 else np.nan
        sigma_z = max(sigma_z, 1.0) if np.isfinite(sigma_z) else 1.0  # never narrower than the binomial p-chart
        df["center"] = pbar
        df["ucl"] = (pbar + 3 * sd * sigma_z).clip(upper=1.0)
        df["lcl"] = (pbar - 3 * sd * sigma_z).clip(lower=0.0)
    side = np.sign(df["value"] - df["center"]).where(ok, 0)
    run, runs = 0, []
    prev = 0
    for s in side:
        run = run + 1 if s != 0 and s == prev else (1 if s != 0 else 0)
        prev = s
        runs.append(run)
    beyond = ok & ((df["value"] > df["ucl"]) | (df["value"] < df["lcl"]))
    long_run = pd.Series(runs) >= run_length
    df["signal"] = beyond | long_run
    df["rule"] = np.where(beyond, "outside limits", np.where(long_run, f"run of {run_length}", ""))
    df["limits_from"] = limits_from
    return df
