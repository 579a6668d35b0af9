"""RFM: recency, frequency and monetary scores per account and the named segments they map to.

The mapping from (R, F) scores to names lives in ``templates/rfm_segments.yaml``
(``segmentation.rfm.segments_file``), checked when read so every score pair has a name.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from ..metrics import compute_revenue_shares

__all__ = ["load_rfm_segments", "compute_rfm", "compute_rfm_profiles"]


def load_rfm_segments(path: str | Path) -> dict:
    """Read and check the RFM segment mapping (``templates/rfm_segments.yaml``).

    Raises
    ------
    ParameterError
        The file is missing or malformed, or some R × F combination matches no rule.
    """
    from ..config import read_yaml_mapping

    path = Path(path)
    data = read_yaml_mapping(path, what="RFM segments file", setting="segmentation.rfm.segments_file")
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list) or not data["segments"]:
        raise ParameterError(f"RFM segments file {path} must have 'scale:' and a 'segments:' list of rules")
    scale = int(data.get("scale", 5))
    for i, rule in enumerate(data["segments"], 1):
        if not isinstance(rule, dict) or "name" not in rule:
            raise ParameterError(f"RFM segments file {path}: rule {i} has no 'name'")
        for k in ("recency", "frequency", "monetary"):
            r = rule.get(k, [1, scale])
            if not (isinstance(r, list) and len(r) == 2 and 1 <= r[0] <= r[1] <= scale):
                raise ParameterError(f"RFM segments file {path}: rule {rule['name']!r} has {k} {r!r}; "
                                     f"fix: give a range [min, max] within 1..{scale}")
    gaps = [(r, f) for r in range(1, scale + 1) for f in range(1, scale + 1)
            if not any(_rule_matches(rule, r, f, None, scale) for rule in data["segments"])]
    if gaps:
        raise ParameterError(f"RFM segments file {path} leaves {len(gaps)} (R, F) score pair(s) unnamed, e.g. "
                             f"{gaps[:5]}; fix: add rules that cover them")
    return {"scale": scale, "segments": data["segments"]}



def _rule_matches(rule, r, f, m, scale) -> bool:
    rr = rule.get("recency", [1, scale])
    fr = rule.get("frequency", [1, scale])
    ok = rr[0] <= r <= rr[1] and fr[0] <= f <= fr[1]
    if m is not None and "monetary" in rule:
        ok = ok and rule["monetary"][0] <= m <= rule["monetary"][1]
    return ok



def _quantile_score(values: pd.Series, bins: int, higher_is_better: bool) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    r = v.rank(method="average", ascending=higher_is_better, pct=True)  # best -> 1.0
    score = np.ceil(r * bins).clip(1, bins)
    return score.fillna(1).astype("int64")



def compute_rfm(features: pd.DataFrame, *, segments: dict, bins: int = 5, recency_column: str = "recency_days",
                frequency_column: str = "n_orders", monetary_column: str = "revenue",
                account_col: str = "account_id") -> pd.DataFrame:
    """RFM scores by quantile and the named segment of each account.

    Each score is ``ceil(percentile rank × bins)`` on 1..bins, with 5 (= ``bins``) the
    best: most recent (fewest days since last order), most orders, most revenue. Ties
    share their mean rank; accounts that never ordered score 1. The R and F scores are
    rescaled to the mapping's scale (``ceil(score × scale / bins)``) and the first rule
    of ``segments`` (:func:`load_rfm_segments`) that contains them names the segment.

    Returns ``account_id, r_score, f_score, m_score, rfm_score`` (e.g. "545"), ``rfm_segment``.
    """
    for c in (recency_column, frequency_column, monetary_column):
        if c not in features:
            raise ParameterError(f"segmentation.rfm: column {c!r} is not an account feature; "
                                 f"fix: choose one of {', '.join(sorted(features.columns))}")
    out = pd.DataFrame({account_col: features[account_col]})
    out["r_score"] = _quantile_score(features[recency_column], bins, higher_is_better=False)
    out["f_score"] = _quantile_score(features[frequency_column], bins, higher_is_better=True)
    out["m_score"] = _quantile_score(features[monetary_column], bins, higher_is_better=True)
    never = pd.to_numeric(features[recency_column], errors="coerce").isna()
    out.loc[never, ["r_score", "f_score", "m_score"]] = 1
    out["rfm_score"] = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    scale = segments["scale"]

    def rescale(s):
        return np.ceil(s * scale / bins).clip(1, scale).astype(int)

    r, f, m = rescale(out["r_score"]), rescale(out["f_score"]), rescale(out["m_score"])
    names = np.full(len(out), None, dtype=object)
    for rule in reversed(segments["segments"]):  # first matching rule wins
        hit = np.array([_rule_matches(rule, a, b, c, scale) for a, b, c in zip(r, f, m)], dtype=bool)
        names[hit] = rule["name"]
    out["rfm_segment"] = names
    return out



def compute_rfm_profiles(rfm: pd.DataFrame, features: pd.DataFrame, *, segments: dict,
                         account_col: str = "account_id") -> pd.DataFrame:
    """Per RFM segment: accounts, revenue (12m) and its share, mean R/F/M scores, description.

    Segments are listed in the order of the mapping file; empty segments are kept with
    0 accounts so the workbook always shows the full scheme.
    """
    df = rfm.merge(features[[account_col, "revenue_12m", "n_orders", "recency_days"]], on=account_col)
    order = [s["name"] for s in segments["segments"]]
    g = compute_revenue_shares(df, "rfm_segment", order=order, account_col=account_col).join(
        df.groupby("rfm_segment").agg(r_score=("r_score", "mean"), f_score=("f_score", "mean"),
                                      m_score=("m_score", "mean"), median_orders=("n_orders", "median"),
                                      median_recency_days=("recency_days", "median")))
    g["description"] = [s.get("description", "") for s in segments["segments"]]
    g.index.name = "rfm_segment"
    return g.reset_index()[["rfm_segment", "accounts", "account_share", "revenue_12m", "revenue_share", "r_score",
                            "f_score", "m_score", "median_orders", "median_recency_days", "description"]]
