"""Strategy and operational planning: playbooks per segment (phase 3/4 grows this)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from .exceptions import ParameterError

__all__ = ["load_playbooks", "compute_tier_playbook"]


def load_playbooks(path: str | Path) -> dict[str, dict]:
    """Read ``templates/playbooks.yaml`` (segment -> playbook fields)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"playbooks file {path} not found; fix: set strategy.playbooks in the params") from None
    if not isinstance(data, dict) or not isinstance(data.get("playbooks"), dict):
        raise ParameterError(f"playbooks file {path} must have a top-level 'playbooks:' mapping of segment -> fields")
    return data["playbooks"]


def compute_tier_playbook(segments: pd.DataFrame, account_summary: pd.DataFrame, playbooks: dict[str, dict], *,
                          segment_col: str = "tier") -> pd.DataFrame:
    """One row per segment: accounts, revenue share and the playbook that applies."""
    df = segments[["account_id", segment_col]].merge(
        account_summary[["account_id", "revenue_12m"]], on="account_id", how="left")
    g = df.groupby(segment_col, observed=True).agg(accounts=("account_id", "size"), revenue_12m=("revenue_12m", "sum"))
    g["revenue_share"] = g["revenue_12m"] / g["revenue_12m"].sum()
    missing = [s for s in g.index if str(s) not in playbooks]
    if missing:
        raise ParameterError(f"no playbook for segment(s) {missing}; fix: add them to the playbooks file")
    fields = ["objective", "engagement_model", "contact_cadence", "investment_level"]
    for f in fields:
        g[f] = [playbooks[str(s)].get(f, "") for s in g.index]
    return g.reset_index().rename(columns={segment_col: "segment"})
