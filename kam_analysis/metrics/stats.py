"""Intervals and estimators shared by the KPIs: Wilson, t, a clustered ratio, NPS."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["wilson_interval", "t_interval", "ratio_estimate", "compute_nps", "is_promoter", "is_detractor"]

#: the NPS bands, the one definition: promoters score 9-10, detractors 0-6 (7-8 are passives)
PROMOTER_MIN, DETRACTOR_MAX = 9, 6


def is_promoter(score):
    """A score (or array/Series of scores) of a promoter: 9-10. A missing score is neither."""
    return score >= PROMOTER_MIN


def is_detractor(score):
    """A score (or array/Series of scores) of a detractor: 0-6. A missing score is neither."""
    return score <= DETRACTOR_MAX


def _alpha(confidence: float) -> float:
    return 1.0 - confidence


def wilson_interval(k: float, n: float, confidence: float) -> tuple[float, float]:
    if n <= 0:
        return (np.nan, np.nan)
    from statsmodels.stats.proportion import proportion_confint  # imported on first use (about 1 s)
    lo, hi = proportion_confint(int(k), int(n), alpha=_alpha(confidence), method="wilson")
    return float(lo), float(hi)


def t_interval(x: pd.Series, confidence: float) -> tuple[float, float, float]:
    """Mean, CI low, CI high (t interval); NaN interval with fewer than 2 values."""
    x = pd.Series(x, dtype="float64").dropna()
    n = len(x)
    if n == 0:
        return np.nan, np.nan, np.nan
    m = float(x.mean())
    if n < 2:
        return m, np.nan, np.nan
    se = float(x.std(ddof=1)) / np.sqrt(n)
    from scipy import stats  # imported on first use (about 1 s)
    h = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return m, m - h, m + h


def ratio_estimate(num: pd.Series, den: pd.Series, confidence: float) -> tuple[float, float, float, float]:
    """Ratio of sums sum(num)/sum(den) over accounts, with a linearised CI.

    The variance treats accounts as the sampling units (orders of one account are not
    independent): ``var(R) = sum((num_i - R den_i)^2) / (n (n - 1) dbar^2)``.
    Returns ratio, ci_low, ci_high, standard error.
    """
    num = pd.Series(num, dtype="float64")
    den = pd.Series(den, dtype="float64")
    n = len(num)
    if n == 0 or den.sum() <= 0:
        return np.nan, np.nan, np.nan, np.nan
    r = float(num.sum() / den.sum())
    if n < 2:
        return r, np.nan, np.nan, np.nan
    resid = num - r * den
    se = float(np.sqrt((resid ** 2).sum() / (n * (n - 1))) / den.mean())
    from scipy import stats  # imported on first use (about 1 s)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return r, r - z * se, r + z * se, se


def compute_nps(scores: pd.Series, *, weights: pd.Series | None = None,
                confidence: float = 0.95) -> dict:
    """Net Promoter Score with a confidence interval.

    Formula
    -------
    ``NPS = 100 (p_P - p_D)`` with promoters scoring 9-10 and detractors 0-6 (7-8 are
    passives). The interval is ``NPS +/- z 100 sqrt((p_P + p_D - (p_P - p_D)^2) / n)``
    (normal approximation to the multinomial), clipped to [-100, 100]. With
    ``weights`` the shares are weighted (revenue-weighted NPS); no interval then.

    Returns
    -------
    dict
        ``value, ci_low, ci_high, n, promoters, passives, detractors`` (shares).
    """
    s = pd.Series(scores, dtype="float64")
    keep = s.notna()
    s = s[keep]
    n = int(len(s))
    if n == 0:
        return {"value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0,
                "promoters": np.nan, "passives": np.nan, "detractors": np.nan}
    prom = is_promoter(s).astype(float)
    det = is_detractor(s).astype(float)
    if weights is not None:
        w = pd.Series(weights, dtype="float64")[keep].clip(lower=0).fillna(0)
        if w.sum() <= 0:
            return {"value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n,
                    "promoters": np.nan, "passives": np.nan, "detractors": np.nan}
        pp, pd_ = float((w * prom).sum() / w.sum()), float((w * det).sum() / w.sum())
        return {"value": 100 * (pp - pd_), "ci_low": np.nan, "ci_high": np.nan, "n": n,
                "promoters": pp, "passives": 1 - pp - pd_, "detractors": pd_}
    pp, pd_ = float(prom.mean()), float(det.mean())
    value = 100 * (pp - pd_)
    se = 100 * np.sqrt(max(pp + pd_ - (pp - pd_) ** 2, 0.0) / n)
    from scipy import stats  # imported on first use (about 1 s)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    lo, hi = (max(value - z * se, -100.0), min(value + z * se, 100.0)) if n >= 2 else (np.nan, np.nan)
    return {"value": value, "ci_low": lo, "ci_high": hi, "n": n, "promoters": pp,
            "passives": 1 - pp - pd_, "detractors": pd_, "se": se}
