"""What both dashboards say where the data supports less: the KPI tiles (KPIs against the
client's targets, or — when the client set none — the headline KPIs as the baseline, with no
status) and the programme-impact sentence when no programme is recorded."""
from __future__ import annotations

import pandas as pd

from ..metrics import kpi_label, kpi_unit

#: headline KPIs shown as baseline tiles when there are no targets, in this order
BASELINE_TILE_KPIS = ("revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate",
                      "average_order_value", "repeat_purchase_rate")

#: the tile status and note of a KPI without a target
BASELINE_STATUS = "baseline"
NO_TARGET_NOTE = ("No KPI targets were set: the tiles show today's values, the baseline the next review compares "
                  "against. Send the targets to rate them.")


def baseline_tiles(run) -> list[dict]:
    """Tiles of the headline KPIs (``kpi_headline``) with no target and status ``baseline``."""
    h = run.read_table("kpi_headline", columns=["kpi", "value"])
    h = h[h["kpi"].isin(BASELINE_TILE_KPIS) & h["value"].notna()]
    h = h.assign(_o=h["kpi"].map(BASELINE_TILE_KPIS.index)).sort_values("_o")
    return [{"kpi": r.kpi, "label": kpi_label(r.kpi, short=True), "unit": kpi_unit(r.kpi),
             "current": float(r.value) if pd.notna(r.value) else None, "target": None, "status": BASELINE_STATUS}
            for r in h.itertuples(index=False)]


def programme_sentence(run) -> str | None:
    """The dashboards' programme-impact text when the data records no programme (from the run's
    analysis support, in client words); None when there is a programme to estimate."""
    from ..metrics.capability import Capability

    cap = Capability.of(run)
    if cap.table is None or cap.supported("programme_impact"):
        return None
    why = cap.caveat("programme_impact")
    if "programme" not in why or "baseline" not in why:
        return None  # a programme exists, but too little history: the table's own sentence says so
    return why[:1].upper() + why[1:] + "."
