"""Revenue concentration (Pareto curve, top shares, Gini, HHI) and the profit whale curve."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["compute_concentration_curve", "compute_concentration_summary", "compute_whale_curve", "top_count"]


def top_count(share: float, n: int) -> int:
    """How many of ``n`` ranked accounts "the top ``share``" is: ``share x n`` rounded to the
    nearest count, halves up, and at least one account for any positive share (capped at ``n``).
    The one count behind every "top 10% / top 20% of accounts" a page states: the concentration
    summary and the value tiers (cut at ``top_count`` of their cumulative shares). Nearest, not
    ceiling: 34% of 3 accounts is 1, not 2 (67%); halves up, not Python's round: 10% of 5 is 1."""
    n = int(n)
    if n <= 0 or share <= 0:
        return 0
    return min(n, max(1, int(np.floor(float(share) * n + 0.5 + 1e-9))))


def _positive_sorted(values: pd.Series) -> np.ndarray:
    x = pd.Series(values, dtype="float64").dropna().to_numpy()
    return np.sort(x[x > 0])[::-1]


def compute_concentration_curve(values: pd.Series, *, max_points: int = 1000) -> pd.DataFrame:
    """Pareto (Lorenz-type) curve: cumulative share of revenue by share of accounts, largest first.

    Over accounts with a positive value. Starts at (0, 0); at most ``max_points + 1``
    evenly spaced ranks are kept (always the first and last), so the table stays small
    for a large client.

    Returns ``rank, account_share, revenue_share``.
    """
    x = _positive_sorted(values)
    n = len(x)
    if n == 0:
        return pd.DataFrame({"rank": [0], "account_share": [0.0], "revenue_share": [0.0]})
    cum = np.concatenate([[0.0], np.cumsum(x) / x.sum()])
    ranks = np.arange(n + 1)
    if n > max_points:
        ranks = np.unique(np.round(np.linspace(0, n, max_points + 1)).astype(int))
    return pd.DataFrame({"rank": ranks, "account_share": ranks / n, "revenue_share": cum[ranks]})


def compute_concentration_summary(values: pd.Series) -> pd.DataFrame:
    """Concentration metrics of positive values (revenue_12m by account).

    Formulas (x sorted, n accounts with x > 0)
    ------------------------------------------
    * ``top10_share`` / ``top20_share`` = sum of the :func:`top_count` (``0.1 n`` / ``0.2 n``
      to the nearest count, halves up, at least 1) largest x / sum x;
    * ``gini`` = sum_i (2i - n - 1) x_(i) / (n sum x), x ascending (0 = equal, max (n-1)/n);
    * ``hhi`` = sum (x_i / sum x)^2 (0-1 scale; 1/n when all equal);
    * ``effective_accounts`` = 1 / hhi (the number of equal-sized accounts with the same HHI);
    * ``accounts_for_80pct`` = share of accounts that together make 80 % of revenue.

    Returns ``metric, value, n, note``.
    """
    x = _positive_sorted(values)
    n = len(x)
    excluded = int((pd.Series(values, dtype="float64").fillna(0) <= 0).sum())
    note = f"{excluded} accounts with no positive revenue excluded" if excluded else ""
    if n == 0:
        return pd.DataFrame({"metric": ["top10_share", "top20_share", "gini", "hhi", "effective_accounts",
                                        "accounts_for_80pct"], "value": np.nan, "n": 0, "note": "no revenue"})
    tot = x.sum()
    asc = x[::-1]
    i = np.arange(1, n + 1)
    gini = float(((2 * i - n - 1) * asc).sum() / (n * tot))
    s = x / tot
    hhi = float((s ** 2).sum())
    cum = np.cumsum(s)
    k80 = int(np.searchsorted(cum, 0.8 - 1e-12) + 1)
    rows = [("top10_share", x[: top_count(0.1, n)].sum() / tot),
            ("top20_share", x[: top_count(0.2, n)].sum() / tot),
            ("gini", gini), ("hhi", hhi), ("effective_accounts", 1 / hhi), ("accounts_for_80pct", k80 / n)]
    return pd.DataFrame({"metric": [r[0] for r in rows], "value": [float(r[1]) for r in rows], "n": n,
                         "note": note})


def compute_whale_curve(account_kpis: pd.DataFrame, *, profit_col: str = "profit_12m",
                        account_col: str = "account_id", max_points: int = 1000) -> pd.DataFrame:
    """Whale curve: cumulative profit with accounts ranked from most to least profitable.

    Over accounts with a non-missing profit (accounts with an order in W). The curve
    rises above 100 % of total profit and falls back as loss-making accounts are
    added; the peak shows how much profit the unprofitable tail destroys.

    Returns ``rank, account_share, cumulative_profit`` (currency) and
    ``cumulative_profit_share`` (cumulative / total profit; NaN when total <= 0);
    at most ``max_points + 1`` ranks, starting at (0, 0).
    """
    p = account_kpis[[account_col, profit_col]].dropna(subset=[profit_col])
    p = p.sort_values([profit_col, account_col], ascending=[False, True], kind="stable")
    x = p[profit_col].to_numpy(dtype="float64")
    n = len(x)
    if n == 0:
        return pd.DataFrame(columns=["rank", "account_share", "cumulative_profit", "cumulative_profit_share"])
    cum = np.concatenate([[0.0], np.cumsum(x)])
    ranks = np.arange(n + 1)
    if n > max_points:
        ranks = np.unique(np.round(np.linspace(0, n, max_points + 1)).astype(int))
    total = cum[-1]
    return pd.DataFrame({"rank": ranks, "account_share": ranks / n if n else 0.0, "cumulative_profit": cum[ranks],
                         "cumulative_profit_share": cum[ranks] / total if total > 0 else np.nan})
