"""Account segmentation: value tiers (and, with phase 2, selection scoring, portfolio matrix, RFM, clusters)."""
from __future__ import annotations

import pandas as pd

__all__ = ["compute_value_tiers", "compute_portfolio_quadrants"]


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


def compute_portfolio_quadrants(account_summary: pd.DataFrame, *, names, key_account_share: float,
                                account_col: str = "account_id") -> pd.DataFrame:
    """A first, transparent KAM portfolio matrix.

    * attractiveness = percentile rank of last-12-month revenue;
    * relative strength = mean of the percentile ranks of tenure, category breadth and
      (where surveyed) NPS;
    * quadrant by the medians (0.5) of both axes, named by ``names`` (QuadrantNames);
    * ``is_key`` = the top ``key_account_share`` of accounts by attractiveness.

    Returns ``account_id, attractiveness, relative_strength, quadrant, is_key``.
    """
    s = account_summary
    attr = s["revenue_12m"].rank(pct=True, method="average")
    parts = [s["tenure_days"].fillna(0).rank(pct=True), s["n_categories"].rank(pct=True)]
    if "nps_mean" in s and s["nps_mean"].notna().any():
        parts.append(s["nps_mean"].rank(pct=True).fillna(0.5))
    strength = pd.concat(parts, axis=1).mean(axis=1)
    hi_a, hi_s = attr > 0.5, strength > 0.5
    quadrant = pd.Series(names.low_attractiveness_low_strength, index=s.index)
    quadrant[hi_a & hi_s] = names.high_attractiveness_high_strength
    quadrant[hi_a & ~hi_s] = names.high_attractiveness_low_strength
    quadrant[~hi_a & hi_s] = names.low_attractiveness_high_strength
    n_key = max(1, int(round(key_account_share * len(s))))
    order = pd.DataFrame({"a": attr, "id": s[account_col]}).sort_values(["a", "id"], ascending=[False, True])
    is_key = pd.Series(False, index=s.index)
    is_key[order.index[:n_key]] = True
    return pd.DataFrame({account_col: s[account_col], "attractiveness": attr, "relative_strength": strength,
                         "quadrant": quadrant, "is_key": is_key})
