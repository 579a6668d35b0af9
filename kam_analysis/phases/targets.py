"""Targets and scenarios: each segment's baseline, the levers' targets, and what reaching them is worth.

The levers (retention, order value, order frequency, cross-sell capture) get a target per
segment from the playbooks, the params' overrides or the benchmark gap; the impact of each
lever, the low/base/high scenarios and a tornado of their sensitivity follow from the
segment baseline. Cross-sell capture values the whitespace opportunity set
(:func:`kam_analysis.phases.whitespace.whitespace_value_by_segment`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, list_values
from ..metrics import compute_retention_by_group

__all__ = [
    "LEVERS",
    "compute_segment_baseline",
    "resolve_segment_targets",
    "compute_lever_impact",
    "compute_impact_scenarios",
    "compute_sensitivity",
    "OWN_HISTORY_SOURCE",
]


LEVERS = ("retention_pts", "aov_growth", "frequency_growth", "cross_sell_capture")



_LEVER_LABELS = {"retention_pts": "Retention (+points)", "aov_growth": "Average order value (+%)",
                 "frequency_growth": "Order frequency (+%)", "cross_sell_capture": "Cross-sell capture (% of whitespace)"}



def compute_segment_baseline(account_kpis: pd.DataFrame, segments: pd.DataFrame, *, segment_col: str = "quadrant",
                             account_col: str = "account_id", order: list[str] | None = None) -> pd.DataFrame:
    """Current KPIs per segment that the impact levers act on (trailing twelve months).

    Every figure is the metrics layer's, on the assessment's ``account_kpis`` (one row per
    account), so a segment's baseline is the headline KPI's definition on its accounts.

    Formulas
    --------
    * ``base_accounts`` = the segment's accounts active today: those whose retention over the
      next 12 months the retention lever acts on;
    * ``retention_rate`` = the **portfolio's** 12-month account retention (the headline rule,
      :func:`kam_analysis.metrics.compute_retention_by_group` over every account), the same for
      each segment: measured on today's segment members it would read 100% for every live
      quadrant by construction (they are today's active accounts), leaving the lever no room
      (see :data:`kam_analysis.metrics.SEGMENT_RETENTION_NOTE`); ``retained`` = base_accounts x
      that rate, rounded;
    * ``revenue_per_retained`` = last-12-month revenue of the segment's active accounts / their
      number (what a kept account brings a year);
    * ``average_order_value`` = revenue_12m / orders_12m;
    * ``orders_per_account`` = orders_12m / accounts with an order in the last 12 months;
    * ``margin_rate`` = gross_margin_12m / revenue_12m (the ``gross_margin_rate`` KPI per
      segment; 1 when the data has no margin, noted in ``note``).
    """
    df = segments[[account_col, segment_col]].merge(account_kpis, on=account_col, how="left")
    df[segment_col] = df[segment_col].astype(str)
    for c in ("active_at_start", "active"):
        df[c] = df[c].fillna(False).astype(bool)
    # the portfolio's rate over every account of the KPIs (not only those in ``segments``)
    every = account_kpis.assign(_portfolio="all")
    for c in ("active_at_start", "active"):
        every[c] = every[c].fillna(False).astype(bool)
    portfolio = compute_retention_by_group(every, by="_portfolio").iloc[0]
    rate = float(portfolio["retention_rate"]) if pd.notna(portfolio["retention_rate"]) else np.nan
    has_margin = "gross_margin_12m" in df and df["gross_margin_12m"].notna().any()
    df["_gm"] = df["gross_margin_12m"].fillna(0.0) if has_margin else 0.0
    df["_buyer"] = df["orders_12m"].fillna(0) > 0
    df["_active_rev"] = df["revenue_12m"].fillna(0.0).where(df["active"], 0.0)
    g = df.groupby(segment_col)
    out = pd.DataFrame({
        "accounts": g.size(), "revenue_12m": g["revenue_12m"].sum(), "orders_12m": g["orders_12m"].sum(),
        "buyers_12m": g["_buyer"].sum(), "gross_margin_12m": g["_gm"].sum(),
    })
    out["base_accounts"] = g["active"].sum()
    out["retention_rate"] = rate
    out["retained"] = (out["base_accounts"] * rate).round() if np.isfinite(rate) else 0
    out["revenue_per_retained"] = g["_active_rev"].sum() / out["base_accounts"].where(out["base_accounts"] > 0)
    order = [s for s in (order or []) if s in out.index] + [s for s in out.index if s not in (order or [])]
    out = out.reindex(order)
    out["average_order_value"] = out["revenue_12m"] / out["orders_12m"].where(out["orders_12m"] > 0)
    out["orders_per_account"] = out["orders_12m"] / out["buyers_12m"].where(out["buyers_12m"] > 0)
    if has_margin:
        out["margin_rate"] = (out["gross_margin_12m"] / out["revenue_12m"].where(out["revenue_12m"] > 0)).fillna(0.0)
        out["note"] = ""
    else:
        out["margin_rate"] = 1.0
        out["note"] = "no gross margin in the data: profit impact = revenue impact"
    for c in ("accounts", "orders_12m", "buyers_12m", "base_accounts", "retained"):
        out[c] = out[c].astype(int)
    return out.reset_index(names="segment")[
        ["segment", "accounts", "revenue_12m", "base_accounts", "retained", "retention_rate", "revenue_per_retained",
         "orders_12m", "buyers_12m", "average_order_value", "orders_per_account", "margin_rate", "note"]]


#: the source of a lever set from the client's own history (no targets)
OWN_HISTORY_SOURCE = "own history: {closure:.0%} of the gap to the client's top-quartile segment"


def _own_history_levers(baseline: pd.DataFrame, *, gap_closure: float) -> dict[tuple[str, str], tuple[float, str]]:
    """Levers from the client's own history: close ``gap_closure`` of each segment's gap to the
    top quartile (75th percentile) of the segments' current values of the same KPI."""
    out = {}
    src = OWN_HISTORY_SOURCE.format(closure=gap_closure)
    for lever, col in (("retention_pts", "retention_rate"), ("aov_growth", "average_order_value"),
                       ("frequency_growth", "orders_per_account")):
        vals = pd.to_numeric(baseline[col], errors="coerce")
        if vals.notna().sum() < 2:
            continue
        ref = float(vals.quantile(0.75))
        for seg, cur in zip(baseline["segment"], vals):
            if not np.isfinite(cur) or cur <= 0:
                continue
            gap = ref - cur if lever == "retention_pts" else ref / cur - 1
            out[(seg, lever)] = (gap_closure * max(gap, 0.0), src)
    return out


def resolve_segment_targets(baseline: pd.DataFrame, *, playbooks: dict, overrides: dict[str, dict[str, float]]
                            | None = None, benchmark_gaps: pd.DataFrame | None = None,
                            gap_closure: float = 0.5, own_history: bool = False) -> pd.DataFrame:
    """The lever value per segment, and where it comes from.

    With targets (``own_history`` False), priority: ``strategy.segment_targets`` in the
    params > the gap to a *sourced* benchmark (company level, from the ``benchmark_gaps``
    table when phase 1 wrote it; ``gap_closure`` of the gap is closed; an illustrative
    benchmark, or a money one in another currency, is never a target — see
    :mod:`kam_analysis.metrics.benchmarks`) > the playbook's default ``targets``. Levers:

    * ``retention_pts`` = closure x max(benchmark - current retention, 0);
    * ``aov_growth`` = closure x max(benchmark AOV / current AOV - 1, 0);
    * ``frequency_growth``, ``cross_sell_capture``: params or playbook only.

    Without client targets (``own_history`` True: no ``targets`` and no
    ``strategy.segment_targets``), levers come only from the client's own history:
    ``gap_closure`` of each segment's gap to the top-quartile segment value of retention,
    order value and order frequency (:data:`OWN_HISTORY_SOURCE`); no playbook default, no
    benchmark, and cross-sell capture is not counted (0).

    Returns
    -------
    DataFrame
        segment, lever, label, value, source, current_kpi, target_kpi (retention and AOV
        as levels; NaN otherwise).

    Raises
    ------
    ParameterError
        A target for a segment that does not exist, or an unknown lever.
    """
    books = playbooks["playbooks"]
    segs = list(baseline["segment"])
    for s, levers in (overrides or {}).items():
        if s not in segs and s not in books:
            raise ParameterError(f"strategy.segment_targets has targets for segment {s!r}, which does not exist "
                                 f"(segments: {', '.join(segs)}); fix: use one of those names")
        bad = [k for k in levers if k not in LEVERS]
        if bad:
            raise ParameterError(f"strategy.segment_targets[{s!r}] has unknown lever(s) {list_values(bad)}; "
                                 f"valid: {', '.join(LEVERS)}")
        for k, v in levers.items():
            if not isinstance(v, (int, float)) or not -1 <= v <= 1:
                raise ParameterError(f"strategy.segment_targets[{s!r}].{k} = {v!r} must be a share between -1 and 1 "
                                     "(0.03 = +3 points / +3%)")
    bench: dict[str, tuple[float, float]] = {}
    if not own_history and benchmark_gaps is not None and {"kpi", "current", "benchmark"} <= set(benchmark_gaps.columns):
        for _, r in benchmark_gaps.iterrows():
            illus = r.get("benchmark_illustrative")
            sourced = illus is not None and not (isinstance(illus, float) and np.isnan(illus)) and not bool(illus)
            # compute_benchmark_gaps leaves a money benchmark in another currency NaN
            if sourced and pd.notna(r["current"]) and pd.notna(r["benchmark"]):
                bench[str(r["kpi"])] = (float(r["current"]), float(r["benchmark"]))
    own = _own_history_levers(baseline, gap_closure=gap_closure) if own_history else {}
    rows = []
    for _, b in baseline.iterrows():
        s = b["segment"]
        for lever in LEVERS:
            src, val = None, None
            if lever in (overrides or {}).get(s, {}):
                val, src = float(overrides[s][lever]), "params (strategy.segment_targets)"
            elif own_history:
                val, src = own.get((s, lever), (0.0, "not counted without targets"))
            elif lever == "retention_pts" and "retention_rate" in bench:
                cur, bm = bench["retention_rate"]
                val, src = gap_closure * max(bm - cur, 0.0), f"benchmark gap x {gap_closure:.0%} (company level)"
            elif lever == "aov_growth" and "average_order_value" in bench and bench["average_order_value"][0] > 0:
                cur, bm = bench["average_order_value"]
                val, src = gap_closure * max(bm / cur - 1, 0.0), f"benchmark gap x {gap_closure:.0%} (company level)"
            else:
                val = float((books.get(s, {}).get("targets") or {}).get(lever, 0.0))
                src = "playbook default" if lever in (books.get(s, {}).get("targets") or {}) else "none (0)"
            cur_kpi = tgt_kpi = np.nan
            if lever == "retention_pts" and pd.notna(b["retention_rate"]):
                cur_kpi, tgt_kpi = b["retention_rate"], min(b["retention_rate"] + val, 1.0)
            elif lever == "aov_growth" and pd.notna(b["average_order_value"]):
                cur_kpi, tgt_kpi = b["average_order_value"], b["average_order_value"] * (1 + val)
            elif lever == "frequency_growth" and pd.notna(b["orders_per_account"]):
                cur_kpi, tgt_kpi = b["orders_per_account"], b["orders_per_account"] * (1 + val)
            rows.append({"segment": s, "lever": lever, "label": _LEVER_LABELS[lever], "value": val, "source": src,
                         "current_kpi": cur_kpi, "target_kpi": tgt_kpi})
    return pd.DataFrame(rows)



def compute_lever_impact(baseline: pd.DataFrame, levers: pd.DataFrame, *,
                         whitespace_value: dict[str, float] | None = None,
                         multipliers: dict[str, float] | None = None) -> pd.DataFrame:
    """Annual revenue and gross-profit impact of each lever in each segment.

    With lever value ``v`` scaled by ``multipliers[lever]`` (default 1):

    * retention: ``min(v, 1 - retention_rate) x base_accounts x revenue_per_retained``;
    * AOV and frequency: ``v x revenue_12m``;
    * cross-sell: ``v x whitespace value of the segment``;
    * gross profit = revenue impact x ``margin_rate`` of the segment.

    Levers add up (interactions are ignored, which slightly understates a combined plan).

    Returns
    -------
    DataFrame
        segment, lever, lever_value, revenue_impact, profit_impact.
    """
    b = baseline.set_index("segment")
    ws = whitespace_value or {}
    mult = multipliers or {}
    rows = []
    for _, r in levers.iterrows():
        s, lever = r["segment"], r["lever"]
        v = float(r["value"]) * float(mult.get(lever, 1.0))
        row = b.loc[s]
        if lever == "retention_pts":
            rr = row["retention_rate"]
            room = 1 - rr if pd.notna(rr) else 0.0
            rev = min(v, room) * row["base_accounts"] * (row["revenue_per_retained"] if pd.notna(row["revenue_per_retained"]) else 0.0)
        elif lever in ("aov_growth", "frequency_growth"):
            rev = v * row["revenue_12m"]
        elif lever == "cross_sell_capture":
            rev = v * float(ws.get(s, 0.0))
        else:
            raise ParameterError(f"unknown lever {lever!r}; valid: {', '.join(LEVERS)}")
        rows.append({"segment": s, "lever": lever, "lever_value": v, "revenue_impact": float(rev),
                     "profit_impact": float(rev) * float(row["margin_rate"])})
    return pd.DataFrame(rows, columns=["segment", "lever", "lever_value", "revenue_impact", "profit_impact"])



def _cap(imp: pd.DataFrame, cap_revenue: float | None) -> tuple[pd.DataFrame, bool]:
    """Scale every lever's impact down in proportion so the revenue impact is at most
    ``cap_revenue`` (None: no cap). Returns the frame and whether the cap bound."""
    total = float(imp["revenue_impact"].sum())
    if cap_revenue is None or total <= cap_revenue or total <= 0:
        return imp, False
    k = max(cap_revenue, 0.0) / total
    imp = imp.copy()
    imp["revenue_impact"] *= k
    imp["profit_impact"] *= k
    return imp, True


def compute_impact_scenarios(baseline: pd.DataFrame, levers: pd.DataFrame, *, whitespace_value: dict[str, float]
                             | None = None, multipliers: dict[str, float], weights: dict[str, float],
                             programme_cost: float = 0.0, cap_share: float | None = None
                             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Low / base / high impact of reaching the targets.

    Each scenario multiplies every lever by ``multipliers[scenario]``; ``profit_impact``
    = gross-profit impact - ``programme_cost`` (account-manager hours x cost per hour).
    ``weight`` is the scenario's probability weight (``strategy.scenario_weights``, sum
    1); ``weighted_profit_impact`` = weight x profit_impact, so the column sums to the
    expected impact. With ``cap_share`` (``strategy.impact_cap_share``, used when the
    client set no targets) a scenario's revenue impact is at most ``cap_share`` x
    last-12-month revenue: its levers are scaled down in proportion, and ``capped`` says
    whether the cap bound.

    Returns
    -------
    (DataFrame, DataFrame)
        ``impact_scenarios``: scenario, multiplier, weight, revenue_12m, revenue_impact,
        revenue_impact_share, gross_profit_impact, programme_cost, profit_impact,
        weighted_profit_impact, cap_share, capped; and ``impact_by_lever``: scenario,
        segment, lever, lever_value, revenue_impact, profit_impact.
    """
    if abs(sum(weights.values()) - 1) > 1e-6:
        raise ParameterError(f"strategy.scenario_weights must sum to 1, they sum to {sum(weights.values()):.3f}")
    if programme_cost < 0:
        raise ParameterError(f"programme cost {programme_cost} is negative; check strategy.cost_per_hour")
    rows, by_lever = [], []
    base_rev = float(baseline["revenue_12m"].sum())
    cap_rev = cap_share * max(base_rev, 0.0) if cap_share is not None else None
    for scen in ("low", "base", "high"):
        m = float(multipliers[scen])
        imp = compute_lever_impact(baseline, levers, whitespace_value=whitespace_value,
                                   multipliers={k: m for k in LEVERS})
        imp, capped = _cap(imp, cap_rev)
        imp.insert(0, "scenario", scen)
        by_lever.append(imp)
        rev, gp = imp["revenue_impact"].sum(), imp["profit_impact"].sum()
        rows.append({"scenario": scen, "multiplier": m, "weight": float(weights[scen]), "revenue_12m": base_rev,
                     "revenue_impact": rev, "revenue_impact_share": rev / base_rev if base_rev else np.nan,
                     "gross_profit_impact": gp, "programme_cost": float(programme_cost),
                     "profit_impact": gp - programme_cost, "weighted_profit_impact": float(weights[scen]) * (gp - programme_cost),
                     "cap_share": float(cap_share) if cap_share is not None else np.nan, "capped": capped})
    return pd.DataFrame(rows), pd.concat(by_lever, ignore_index=True)



def compute_sensitivity(baseline: pd.DataFrame, levers: pd.DataFrame, *, whitespace_value: dict[str, float]
                        | None = None, multipliers: dict[str, float], programme_cost: float = 0.0,
                        cap_share: float | None = None, programme_share=None) -> pd.DataFrame:
    """Tornado table: swing one lever from its low to its high multiplier, others at base
    (each total under the same cap as :func:`compute_impact_scenarios`).

    ``programme_share`` (segment -> share of the segment's 12-month revenue in the accounts the
    programme costs, :func:`~kam_analysis.phases.business_case.programme_revenue_share`): given,
    each total is the impact in those accounts only — per segment, its impact x its share — the
    base the business case credits, so the tornado swings the figure the ROI rests on; without
    it, the whole base.

    Returns
    -------
    DataFrame
        lever, label, low_multiplier, high_multiplier, profit_low, profit_base,
        profit_high, swing (= profit_high - profit_low), basis ("programme accounts" or
        "whole base"), sorted by swing (largest first).
    """
    share = pd.Series(programme_share, dtype=float) if programme_share is not None else None
    cap_rev = cap_share * max(float(baseline["revenue_12m"].sum()), 0.0) if cap_share is not None else None

    def total(mult):
        imp, _ = _cap(compute_lever_impact(baseline, levers, whitespace_value=whitespace_value, multipliers=mult),
                      cap_rev)
        if share is None:
            return imp["profit_impact"].sum() - programme_cost
        seg = imp.groupby("segment")["profit_impact"].sum()
        return float((seg * seg.index.map(share).fillna(0.0).to_numpy()).sum()) - programme_cost

    base_m = {k: multipliers["base"] for k in LEVERS}
    p_base = total(base_m)
    rows = []
    for lever in LEVERS:
        lo = total({**base_m, lever: multipliers["low"]})
        hi = total({**base_m, lever: multipliers["high"]})
        rows.append({"lever": lever, "label": _LEVER_LABELS[lever], "low_multiplier": multipliers["low"],
                     "high_multiplier": multipliers["high"], "profit_low": lo, "profit_base": p_base,
                     "profit_high": hi, "swing": hi - lo,
                     "basis": "whole base" if share is None else "programme accounts"})
    return pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
