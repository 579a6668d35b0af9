"""Account segmentation: value tiers (and, with phase 2, selection scoring, portfolio matrix, RFM, clusters)."""
from __future__ import annotations

import pandas as pd

__all__ = ["compute_value_tiers"]


def compute_value_tiers(account_summary: pd.DataFrame, *, tiers: dict[str, float],
                        value_col: str = "revenue_12m", account_col: str = "account_id") -> pd.DataFrame:
    """Rank accounts by value and cut them into tiers by share of accounts.

    ``tiers`` maps tier name to share of accounts, top tier first (shares sum to 1).
    Ties are broken by account id so the result is deterministic. Returns
    ``account_id, value, value_rank, tier``.
    """
    df = account_summary[[account_col, value_col]].rename(columns={value_col: "value"})
    df = df.sort_values(["value", account_col], ascending=[False, True], kind="stable").reset_index(drop=True)
    df["value_rank"] = range(1, len(df) + 1)
    n = len(df)
    bounds, cum = [], 0.0
    for name, share in tiers.items():
        cum += share
        bounds.append((name, round(cum * n)))
    labels, start = [], 0
    for name, end in bounds:
        labels += [name] * (end - start)
        start = end
    labels += [bounds[-1][0]] * (n - len(labels))
    df["tier"] = pd.Categorical(labels[:n], categories=list(tiers), ordered=True)
    return df.rename(columns={"value": value_col})
