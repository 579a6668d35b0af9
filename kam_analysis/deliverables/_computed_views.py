"""What the KPI dashboard and the HTML dashboard show of the scenario sensitivity (tornado) and the
control charts of the tracked KPIs, read once from the run's tables, as the deck shows them
(``deck_story/computed.py``): the same levers, the same skip rules, the same words."""
from __future__ import annotations

import pandas as pd

from ..metrics import KPI_DEFINITIONS, kpi_label
from ..phases.business_case import PLAN_ACCOUNTS_CLAUSE
from ..present.formats import fmt_count, fmt_n, fmt_period, is_num

__all__ = ["tornado_view", "control_chart_views", "sensitivity_scope"]


def sensitivity_scope(t: pd.DataFrame) -> str:
    """What base the tornado swings, as its note says it: the programme's accounts (as the business
    case credits them) or the whole base."""
    if "basis" in t.columns and (t["basis"].astype(str) == "programme accounts").any():
        return (f" in the accounts {PLAN_ACCOUNTS_CLAUSE}, the base the business case credits "
                "(not the whole customer base)")
    return " across the whole customer base"


def _benefit_word(run) -> str:
    bc = run.read_table("business_case") if run.has_table("business_case") else None
    revenue = (bc is not None and "benefit_basis" in bc.columns
               and (bc["benefit_basis"].astype(str) == "revenue").any())
    return "revenue" if revenue else "profit"


def tornado_view(run) -> dict | None:
    """The tornado: each lever's yearly impact at its low and high value around the base case, widest
    first; None when there is nothing to show (no sensitivity, no lever moves the figure, or no targets
    and the cap binds in the base case, so every lever moves a figure held at the cap)."""
    sc = run.read_table("impact_scenarios") if run.has_table("impact_scenarios") else None
    if sc is not None and "capped" in sc.columns and sc.loc[sc["scenario"] == "base", "capped"].astype(bool).any():
        return None
    if not run.has_table("sensitivity"):
        return None
    t = run.read_table("sensitivity")
    if t.empty or not {"label", "profit_low", "profit_base", "profit_high", "swing"} <= set(t.columns):
        return None
    t = t[t["swing"].map(is_num)].sort_values("swing", ascending=False, kind="stable")
    if t.empty or not (t["swing"] > 0).any():
        return None
    word = _benefit_word(run)
    m = run.params.strategy.scenario_multipliers
    note = (t["note"].dropna().astype(str).iloc[0] if "note" in t.columns and t["note"].notna().any() else "")
    return {"word": word, "base": float(t["profit_base"].iloc[0]),
            "levers": [{"label": str(r["label"]), "low": float(r["profit_low"]), "high": float(r["profit_high"]),
                        "swing": float(r["swing"])} for _, r in t.iterrows()],
            "title": f"{word.capitalize()} impact a year, one lever at a time",
            "note": (f"Each lever swung from {m['low']:g}x to {m['high']:g}x its target, the others at the base "
                     f"case; bars show the change in the yearly {word} impact{sensitivity_scope(t)}."
                     + (f" {note}" if note else ""))}


def control_chart_views(run) -> list[dict]:
    """One control chart per tracked KPI with limits: its periods' values, centre line and limits,
    which periods signal a real change, and where the limits come from."""
    if not run.has_table("spc_limits"):
        return []
    t = run.read_table("spc_limits")
    if t.empty or not {"kpi", "period_start", "value", "center", "ucl", "lcl"} <= set(t.columns):
        return []
    p = run.params
    start = p.analysis.programme_start
    out = []
    for kpi, g in t.groupby("kpi", sort=False):
        g = g.sort_values("period_start")
        unit = KPI_DEFINITIONS[kpi].unit if kpi in KPI_DEFINITIONS else ("currency" if kpi == "revenue" else "ratio")
        label = kpi_label(kpi) if kpi in KPI_DEFINITIONS else str(kpi).replace("_", " ").capitalize()
        n_base = int((g["period_start"] < pd.Timestamp(start)).sum()) if start else 0
        signal = g["signal"].astype(bool) if "signal" in g else pd.Series(False, index=g.index)
        chart = str(g["chart"].iloc[0]) if "chart" in g and len(g) else "individuals"
        out.append({"kpi": str(kpi), "label": label, "unit": unit, "chart": chart,
                    "basis": (f"Limits from the {fmt_count(n_base)} periods before the programme" if n_base
                              else "Limits from the whole history (no programme start)"),
                    "signals": int(signal.sum()),
                    "signals_note": (f"{fmt_n(int(signal.sum()), 'period')} "
                                     f"{'signals' if int(signal.sum()) == 1 else 'signal'} a real change"
                                     if signal.any() else "no period signals a real change"),
                    "points": [{"period": fmt_period(r["period_start"], p.analysis.period),
                                "value": float(r["value"]) if is_num(r["value"]) else None,
                                "center": float(r["center"]) if is_num(r["center"]) else None,
                                "ucl": float(r["ucl"]) if is_num(r["ucl"]) else None,
                                "lcl": float(r["lcl"]) if is_num(r["lcl"]) else None,
                                "signal": bool(s)} for (_, r), s in zip(g.iterrows(), signal)]})
    return out
