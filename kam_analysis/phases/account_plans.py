"""Account plans: one page per top key account — objective, whitespace, actions with owner and date."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .coverage import compute_account_value
from .playbooks import playbook_text
from ..present.formats import fmt_money

__all__ = ["build_account_plans"]


def _owner(role_key: str, pb: dict, manager: str | None) -> str:
    raci = pb.get("raci") or {}
    role = raci.get(role_key, role_key.replace("_", " ").capitalize())
    if role_key == "responsible" and manager:
        return f"{manager} ({role})"
    return str(role)




def build_account_plans(segments: pd.DataFrame, account_summary: pd.DataFrame, *, playbooks: dict,
                        coverage_plan: pd.DataFrame | None = None, churn_risk: pd.DataFrame | None = None,
                        whitespace: pd.DataFrame | None = None, display_names: pd.Series | None = None,
                        top_n: int = 10, plan_date: dt.date, currency: str = "EUR", segment_col: str = "quadrant",
                        account_col: str = "account_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """An account plan for each of the top ``top_n`` key accounts by value.

    Current state (revenue, trend, value, NPS, risk), the segment's objective and
    engagement model, the best whitespace opportunities, and actions with owners and due
    dates: the playbook's standard actions plus triggered ones (``triggered_actions`` in
    the playbooks file) when the account is high-risk, a detractor, declining or has
    whitespace.

    Returns
    -------
    (DataFrame, DataFrame)
        ``account_plans``: rank, account_id, account_name, segment, account_manager,
        revenue_12m, revenue_prev_12m, revenue_trend, value, value_basis, clv and p_alive
        (NaN when the segmentation has none), nps_latest, risk_score, risk_band, objective, engagement_model, contact_cadence, whitespace,
        whitespace_value, n_actions, next_action, next_action_owner, next_action_due,
        kpis_to_watch; ``account_plan_actions``: account_id, account_name, action, owner,
        due_date, kpi, trigger.
    """
    books = playbooks["playbooks"]
    trig = playbooks.get("triggered_actions") or {}
    value, _ = compute_account_value(segments, account_summary, account_col=account_col)
    extra = [c for c in ("is_key", "clv", "p_alive") if c in segments]
    df = segments[[account_col, segment_col, *extra]].merge(value, on=account_col)
    for c in ("clv", "p_alive"):
        if c not in df:
            df[c] = np.nan
    keep = [c for c in ("revenue_12m", "revenue_prev_12m", "nps_latest", "account_manager") if c in account_summary]
    df = df.merge(account_summary[[account_col, *keep]], on=account_col, how="left")
    for c in ("nps_latest", "account_manager"):
        if c not in df:
            df[c] = np.nan if c == "nps_latest" else None
    key = df[df["is_key"].astype(bool)] if "is_key" in df else df
    key = key.sort_values(["value", account_col], ascending=[False, True], kind="stable").head(top_n).copy()
    if coverage_plan is not None and "assigned_manager" in coverage_plan:
        am = coverage_plan.set_index("account_id")["assigned_manager"]
        key["account_manager"] = key[account_col].map(am).where(lambda s: s.notna(), key["account_manager"])
    if churn_risk is not None:
        cr = churn_risk.set_index("account_id")
        key["risk_score"] = key[account_col].map(cr["risk_score"])
        key["risk_band"] = key[account_col].map(cr["risk_band"]).fillna("not scored")
    else:
        key["risk_score"], key["risk_band"] = np.nan, "not scored"
    names = display_names if display_names is not None else pd.Series(dtype=object)
    key["account_name"] = key[account_col].map(names).where(lambda s: s.notna(), key[account_col])
    prev = key["revenue_prev_12m"].fillna(0.0)
    key["revenue_trend"] = np.where(prev > 0, key["revenue_12m"].fillna(0) / prev.where(prev > 0) - 1, np.nan)
    base = pd.Timestamp(plan_date)
    plans, actions = [], []
    for rank, (_, r) in enumerate(key.iterrows(), start=1):
        seg = str(r[segment_col])
        pb = books.get(seg, {})
        mgr = r["account_manager"] if isinstance(r["account_manager"], str) and r["account_manager"] else None
        ws = (whitespace[whitespace["account_id"] == r[account_col]].sort_values("rank")
              if whitespace is not None and len(whitespace) else pd.DataFrame())
        acts = []

        def add(action, owner_key, due_days, kpi, trigger):
            acts.append({"account_id": r[account_col], "account_name": r["account_name"], "action": action,
                         "owner": _owner(owner_key, pb, mgr), "due_date": base + pd.Timedelta(days=int(due_days)),
                         "kpi": kpi, "trigger": trigger})

        if r["risk_band"] == "high" and "high_risk" in trig:
            t = trig["high_risk"]
            add(t["action"], t["owner"], t["due_days"], t.get("kpi", ""), "high churn risk")
        if pd.notna(r["nps_latest"]) and r["nps_latest"] <= 6 and "detractor" in trig:
            t = trig["detractor"]
            add(t["action"], t["owner"], t["due_days"], t.get("kpi", ""), f"detractor (NPS score {r['nps_latest']:.0f})")
        if pd.notna(r["revenue_trend"]) and r["revenue_trend"] < -0.1 and "declining" in trig:
            t = trig["declining"]
            add(t["action"], t["owner"], t["due_days"], t.get("kpi", ""), f"revenue {r['revenue_trend']:+.0%} year on year")
        for a in pb.get("actions") or []:
            add(a["action"], a.get("owner", "responsible"), a.get("due_days", 90), ", ".join(
                str(k).replace("_", " ") for k in (pb.get("kpi_focus") or [])), "playbook")
        if len(ws) and "whitespace" in trig:
            t = trig["whitespace"]
            for _, w in ws.iterrows():
                add(t["action"].format(category=w["category"], value=fmt_money(w["expected_value"], currency)),
                    t["owner"], t["due_days"], t.get("kpi", ""), w["basis"])
        acts.sort(key=lambda x: x["due_date"])
        actions += acts
        kpis = list(dict.fromkeys([str(k).replace("_", " ") for k in (pb.get("kpi_focus") or [])]
                                  + ["risk score"] + (["category breadth"] if len(ws) else [])))
        plans.append({
            "rank": rank, "account_id": r[account_col], "account_name": r["account_name"], "segment": seg,
            "account_manager": mgr, "revenue_12m": r["revenue_12m"], "revenue_prev_12m": r["revenue_prev_12m"],
            "revenue_trend": r["revenue_trend"], "value": r["value"], "value_basis": r["value_basis"],
            "clv": r["clv"], "p_alive": r["p_alive"],
            "nps_latest": r["nps_latest"], "risk_score": r["risk_score"], "risk_band": r["risk_band"],
            "objective": pb.get("objective", ""), "engagement_model": (playbooks.get("engagement_models") or {}).get(pb.get("engagement_model"), {}).get(
                "label", pb.get("engagement_model", "")),
            "contact_cadence": playbook_text(pb.get("contact_cadence")),
            "whitespace": "; ".join(f"{w['category']} ({fmt_money(w['expected_value'], currency)})" for _, w in ws.iterrows())
            if len(ws) else "none above the propensity threshold",
            "whitespace_value": float(ws["expected_value"].sum()) if len(ws) else 0.0,
            "opportunities": "; ".join(f"{w['category']} ({fmt_money(w['expected_value'], currency)})"
                                       for _, w in ws.iterrows()) if len(ws) else "",
            "actions": "; ".join(f"{a['action']} ({a['owner'].split(' (')[0]}, by {a['due_date']:%d %b %Y})"
                                 for a in acts[:3]),
            "n_actions": len(acts), "next_action": acts[0]["action"] if acts else "",
            "next_action_owner": acts[0]["owner"] if acts else "",
            "next_action_due": acts[0]["due_date"] if acts else pd.NaT, "kpis_to_watch": ", ".join(kpis),
        })
    plan_cols = ["rank", "account_id", "account_name", "segment", "account_manager", "revenue_12m", "revenue_prev_12m",
                 "revenue_trend", "value", "value_basis", "clv", "p_alive", "nps_latest", "risk_score", "risk_band", "objective",
                 "engagement_model", "contact_cadence", "whitespace", "whitespace_value", "opportunities", "actions",
                 "n_actions", "next_action",
                 "next_action_owner", "next_action_due", "kpis_to_watch"]
    act_cols = ["account_id", "account_name", "action", "owner", "due_date", "kpi", "trigger"]
    return pd.DataFrame(plans, columns=plan_cols), pd.DataFrame(actions, columns=act_cols)
