"""Cross-sell whitespace: which account could buy which category it does not buy yet, and what it is worth.

**The opportunity set** is defined once, by :func:`compute_whitespace`, and written as the
``whitespace`` table; every figure about whitespace — the headline, the recommendation,
the scenarios' cross-sell lever, the account plans, the deck — is a sum or a subset of
that table:

* accounts: every account with positive revenue in ``account_category``;
* categories: those the account has never bought;
* kept when the propensity is at least ``strategy.whitespace_min_propensity`` and the
  expected value is positive (an account with no revenue in the last twelve months has
  no wallet to grow, so nothing to gain), the best ``strategy.whitespace_top_n`` per
  account;
* value: ``expected_value`` = propensity x potential annual revenue.

Its size (the M of "top N of M") and total are :func:`summarise_whitespace`; its value by
segment, the scenarios' input, is :func:`whitespace_value_by_segment`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["compute_category_penetration", "compute_whitespace", "summarise_whitespace",
           "whitespace_value_by_segment"]


def _wallet(account_category: pd.DataFrame, *, account_col: str, category_col: str, revenue_col: str) -> pd.DataFrame:
    rev = account_category.astype({revenue_col: float}).pivot_table(index=account_col, columns=category_col, values=revenue_col,
                                       aggfunc="sum", fill_value=0.0).clip(lower=0)
    rev = rev[rev.sum(axis=1) > 0]
    rev.columns = [str(c) for c in rev.columns]
    return rev



def compute_category_penetration(account_category: pd.DataFrame, segments: pd.DataFrame, *,
                                 segment_col: str = "quadrant", account_col: str = "account_id",
                                 category_col: str = "category", revenue_col: str = "revenue") -> pd.DataFrame:
    """Share of buying accounts in each segment that buy each category.

    penetration(s, c) = accounts in s with revenue in c > 0 / accounts in s with any revenue.
    Columns: segment, category, accounts, buyers, penetration.
    """
    rev = _wallet(account_category, account_col=account_col, category_col=category_col, revenue_col=revenue_col)
    seg = segments.set_index(account_col)[segment_col].astype(str).reindex(rev.index)
    buys = (rev > 0).astype(int)
    buys["segment"] = seg.fillna("(no segment)").to_numpy()
    long = buys.groupby("segment").agg(["sum", "size"])
    out = []
    for c in rev.columns:
        part = long[c].rename(columns={"sum": "buyers", "size": "accounts"}).reset_index()
        part["category"] = c
        out.append(part)
    res = pd.concat(out, ignore_index=True)
    res["penetration"] = res["buyers"] / res["accounts"]
    return res[["segment", "category", "accounts", "buyers", "penetration"]]



def compute_whitespace(account_category: pd.DataFrame, *, segments: pd.DataFrame, account_summary: pd.DataFrame,
                       targets: list[str] | None = None, min_propensity: float = 0.3, top_n: int = 3,
                       min_peers: int = 5, segment_col: str = "quadrant", account_col: str = "account_id",
                       category_col: str = "category", revenue_col: str = "revenue",
                       value_col: str = "revenue_12m") -> pd.DataFrame:
    """Cross-sell whitespace: for each target account, the categories it does not buy
    that similar accounts do, with the expected annual value of each.

    For target account ``a`` and a category ``c`` it does not buy:

    * ``segment_penetration`` = share of the other buying accounts in ``a``'s segment
      that buy ``c``;
    * ``co_purchase_confidence`` = max over the categories ``b`` that ``a`` buys of
      P(c | b) = accounts buying b and c / accounts buying b (``driver_category`` = that
      b), and ``lift`` = P(c | b) / P(c);
    * ``propensity`` = max(segment_penetration, co_purchase_confidence) and ``basis``
      says which;
    * ``peer_share_of_wallet`` ``s`` = median share of ``c`` in the wallet of accounts in
      the segment that buy ``c`` (all buyers when fewer than ``min_peers``);
    * ``potential_value`` = R x s / (1 - s): the revenue that makes ``c`` a share ``s`` of
      the account's wallet, with R its last-12-month revenue; ``expected_value`` =
      propensity x potential_value.

    Opportunities with propensity >= ``min_propensity`` and a positive expected value
    are kept, the ``top_n`` per account by expected value (``rank`` 1 = best): this is the
    opportunity set (see the module docstring).

    Returns
    -------
    DataFrame
        account_id, segment, is_key, category, rank, segment_penetration, driver_category,
        co_purchase_confidence, lift, propensity, basis, peer_share_of_wallet,
        revenue_12m, potential_value, expected_value.
    """
    cols = ["account_id", "segment", "is_key", "category", "rank", "segment_penetration", "driver_category",
            "co_purchase_confidence", "lift", "propensity", "basis", "peer_share_of_wallet", "revenue_12m",
            "potential_value", "expected_value"]
    # no opportunity: an empty frame with typed columns, so filters such as ws[ws["is_key"]] still work
    empty = pd.DataFrame({c: pd.Series(dtype="bool" if c == "is_key" else "int64" if c == "rank" else "object"
                                       if c in ("account_id", "segment", "category", "driver_category", "basis")
                                       else "float64") for c in cols})
    rev = _wallet(account_category, account_col=account_col, category_col=category_col, revenue_col=revenue_col)
    if rev.empty or rev.shape[1] < 2:
        return empty
    cats = list(rev.columns)
    ids = rev.index.astype(str)
    n, k = rev.shape
    b = (rev.to_numpy() > 0)
    bf = b.astype(float)
    share = rev.to_numpy() / rev.to_numpy().sum(axis=1, keepdims=True)
    seg = segments.set_index(segments[account_col].astype(str))[segment_col].astype(str).reindex(ids)
    seg = seg.fillna("(no segment)").to_numpy()
    is_key_s = (segments.set_index(segments[account_col].astype(str))["is_key"].astype(bool).reindex(ids)
                .fillna(False).to_numpy() if "is_key" in segments else np.zeros(n, dtype=bool))
    seg_codes, seg_idx = np.unique(seg, return_inverse=True)
    # segment penetration among the *other* accounts of the segment (the account itself does not buy c)
    seg_n = np.bincount(seg_idx, minlength=len(seg_codes)).astype(float)
    seg_buyers = np.vstack([np.bincount(seg_idx, weights=bf[:, j], minlength=len(seg_codes)) for j in range(k)]).T
    others = seg_n[seg_idx] - 1
    seg_pen = np.where(others[:, None] > 0, seg_buyers[seg_idx] / np.where(others[:, None] > 0, others[:, None], 1), 0.0)
    # co-purchase: conf[b, c] = P(c | b); best driver among the categories the account buys
    co = bf.T @ bf
    n_b = np.diag(co)
    conf = np.where(n_b[:, None] > 0, co / np.where(n_b[:, None] > 0, n_b[:, None], 1), 0.0)
    p_c = bf.mean(axis=0)
    best = np.full((n, k), -1.0)
    driver = np.full((n, k), -1)
    for j in range(k):
        cand = np.where(b[:, j:j + 1], conf[j][None, :], -1.0)
        better = cand > best
        best = np.where(better, cand, best)
        driver = np.where(better, j, driver)
    cconf = np.clip(best, 0, None)
    lift = np.where(p_c[None, :] > 0, cconf / np.where(p_c > 0, p_c, 1)[None, :], np.nan)
    prop = np.maximum(seg_pen, cconf)
    # typical share of wallet of the category among buyers in the segment (all buyers when too few)
    med_all = np.array([np.median(share[b[:, j], j]) if b[:, j].any() else np.nan for j in range(k)])
    med_seg = np.full((len(seg_codes), k), np.nan)
    for si in range(len(seg_codes)):
        in_s = seg_idx == si
        for j in range(k):
            m = in_s & b[:, j]
            if m.sum() >= min_peers:
                med_seg[si, j] = np.median(share[m, j])
    s_wallet = np.where(np.isnan(med_seg[seg_idx]), med_all[None, :], med_seg[seg_idx])
    s_wallet = np.clip(np.nan_to_num(s_wallet, nan=0.0), 0, 0.9)
    value = account_summary.set_index(account_summary[account_col].astype(str))[value_col].reindex(ids)
    value = value.fillna(0.0).clip(lower=0).to_numpy(dtype=float)
    potential = value[:, None] * s_wallet / (1 - s_wallet)
    target = np.ones(n, dtype=bool) if targets is None else np.isin(ids, [str(t) for t in targets])
    keep = target[:, None] & ~b & (prop >= min_propensity) & (prop > 0) & (potential > 0)
    ai, cj = np.nonzero(keep)
    if not len(ai):
        return empty
    cat_arr = np.array(cats, dtype=object)
    drv = driver[ai, cj]
    out = pd.DataFrame({
        "account_id": ids[ai].to_numpy() if hasattr(ids[ai], "to_numpy") else ids[ai], "segment": seg[ai],
        "is_key": is_key_s[ai], "category": cat_arr[cj], "segment_penetration": seg_pen[ai, cj],
        "driver_category": np.where(drv >= 0, cat_arr[np.clip(drv, 0, None)], None),
        "co_purchase_confidence": cconf[ai, cj], "lift": np.where(drv >= 0, lift[ai, cj], np.nan),
        "propensity": prop[ai, cj], "peer_share_of_wallet": s_wallet[ai, cj], "revenue_12m": value[ai],
        "potential_value": potential[ai, cj]})
    out["expected_value"] = out["propensity"] * out["potential_value"]
    seg_based = out["segment_penetration"] >= out["co_purchase_confidence"]
    out["basis"] = np.where(
        seg_based,
        [f"{p:.0%} of {sg} accounts buy {c}" for p, sg, c in zip(out["segment_penetration"], out["segment"], out["category"])],
        [f"{p:.0%} of {d} buyers also buy {c} (lift {lf:.1f}x)" for p, d, c, lf in
         zip(out["co_purchase_confidence"], out["driver_category"], out["category"], out["lift"])])
    out = out.sort_values(["account_id", "expected_value", "category"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("account_id").cumcount() + 1
    out = out[out["rank"] <= top_n]
    return out[cols].reset_index(drop=True)


def summarise_whitespace(whitespace: pd.DataFrame, *, key_col: str = "is_key") -> dict[str, float]:
    """Size and value of the opportunity set (the ``whitespace`` table), overall and in key accounts.

    Returns
    -------
    dict
        ``opportunities`` (rows: the M of any "top N of M"), ``accounts`` (distinct
        accounts with an opportunity), ``expected_value`` (summed), and the same three for
        the selected key accounts (``key_opportunities``, ``key_accounts``,
        ``key_expected_value``; 0 without a ``key_col`` column).
    """
    key = (whitespace[whitespace[key_col].astype("boolean").fillna(False).astype(bool)] if key_col in whitespace
           else whitespace.iloc[0:0])
    return {"opportunities": len(whitespace), "accounts": int(whitespace["account_id"].nunique()),
            "expected_value": float(whitespace["expected_value"].sum()),
            "key_opportunities": len(key), "key_accounts": int(key["account_id"].nunique()),
            "key_expected_value": float(key["expected_value"].sum())}


def whitespace_value_by_segment(whitespace: pd.DataFrame, *, segment_col: str = "segment") -> dict[str, float]:
    """Expected value of the opportunity set by segment: the cross-sell lever's base in the scenarios."""
    return {str(k): float(v) for k, v in whitespace.groupby(segment_col)["expected_value"].sum().items()}
