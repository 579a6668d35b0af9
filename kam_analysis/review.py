"""Review and optimisation: KPIs against targets (phase 5 grows this)."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["rag_status", "compute_kpi_vs_target"]

LOWER_IS_BETTER = {"churn_rate", "cost_to_serve_share"}


def rag_status(current: float, target: float, *, amber: float, red: float, lower_is_better: bool = False) -> str:
    """Red/amber/green from the relative shortfall against target.

    shortfall = (target - current) / |target|  (reversed when lower is better);
    green if shortfall <= amber, amber if <= red, else red; "n/a" without data.
    """
    if current is None or target is None or not np.isfinite(current) or not np.isfinite(target) or target == 0:
        return "n/a"
    shortfall = (target - current) / abs(target)
    if lower_is_better:
        shortfall = -shortfall
    if shortfall <= amber:
        return "green"
    if shortfall <= red:
        return "amber"
    return "red"


def compute_kpi_vs_target(headline: pd.DataFrame, targets: dict[str, float], *, amber: float,
                          red: float) -> pd.DataFrame:
    """KPI, current value, target, gap (current - target) and RAG status, for KPIs with a target."""
    cur = headline.set_index("kpi")["value"]
    rows = []
    for kpi, target in targets.items():
        value = float(cur.get(kpi, np.nan))
        rows.append({"kpi": kpi, "current": value, "target": float(target), "gap": value - float(target),
                     "status": rag_status(value, float(target), amber=amber, red=red,
                                          lower_is_better=kpi in LOWER_IS_BETTER)})
    return pd.DataFrame(rows, columns=["kpi", "current", "target", "gap", "status"])
