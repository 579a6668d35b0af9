"""Account plans from the data: for each key account, its situation, its own objective and 3-5 actions.

An account's situation is read from its numbers (:func:`account_situations`, in order of
urgency): retention risk (high churn-risk band or revenue down more than 10 % on the year),
a service issue (latest NPS score 6 or below), whitespace (peer-based cross-sell potential
of at least 15 % of its revenue), growth headroom (revenue up 10 % or more) and relationship
strength (a promoter, NPS 9-10, not at high risk); "steady" when none applies. The first
situation sets the objective, worded with the account's own figures; each situation that
applies adds its actions, each with an owner, a due date and a measurable target, and the
segment's playbook actions fill the plan up to three; a plan has at most five actions.
""" 
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .coverage import compute_account_value
from .playbooks import playbook_text
from ..metrics.stats import is_detractor, is_promoter
from ..present.formats import fmt_money

__all__ = ["SITUATIONS", "account_situations", "action_ids", "build_account_plans"]

#: situation -> what it means, in order of urgency (the first that applies sets the objective)
SITUATIONS: dict[str, str] = {
    "retention_risk": "retention risk",
    "service_issue": "service issue",
    "whitespace": "whitespace",
    "growth_headroom": "growth headroom",
    "relationship_strength": "relationship strength",
    "steady": "steady",
}


def account_situations(*, risk_band, revenue_trend, nps_latest, whitespace_value, revenue_12m) -> list[str]:
    """The situations that apply to an account, most urgent first (never empty: "steady")."""
    def num(v):
        return v is not None and not (isinstance(v, float) and np.isnan(v))

    out = []
    if str(risk_band).lower() == "high" or (num(revenue_trend) and revenue_trend < -0.10):
        out.append("retention_risk")
    if num(nps_latest) and is_detractor(nps_latest):
        out.append("service_issue")
    if num(whitespace_value) and whitespace_value > 0 and whitespace_value >= 0.15 * max(float(revenue_12m or 0), 0):
        out.append("whitespace")
    if num(revenue_trend) and revenue_trend >= 0.10:
        out.append("growth_headroom")
    if num(nps_latest) and is_promoter(nps_latest) and str(risk_band).lower() != "high":
        out.append("relationship_strength")
    return out or ["steady"]


def action_ids(actions: pd.DataFrame, *, account_col: str = "account_id") -> pd.Series:
    """The stable id of each account-plan action: ``"<account_id>-<n>"``, n = 1, 2 ... in table order.

    Deterministic: the plan lists each account's actions by due date, so the same data and
    parameters give the same ids. The id is the key of the round trip with the client: the
    exported actions file carries it, and the follow-up review (:mod:`.followup`) matches the
    returned status on it. A plan run written before the ids existed gets the same ids
    from this function, as its actions are in the same order.
    """
    acc = actions[account_col].astype(str)
    n = acc.groupby(acc, sort=False).cumcount() + 1
    return (acc + "-" + n.astype(str)).rename("action_id")


def _owner(role_key: str, pb: dict, manager: str | None) -> str:
    raci = pb.get("raci") or {}
    role = raci.get(role_key, role_key.replace("_", " ").capitalize())
    if role_key == "responsible" and manager:
        return f"{manager} ({role})"
    return str(role)




def build_account_plans(segments: pd.DataFrame, account_summary: pd.DataFrame, *, playbooks: dict,
                        coverage_plan: pd.DataFrame | None = None, churn_risk: pd.DataFrame | None = None,
                        whitespace: pd.DataFrame | None = None, display_names: pd.Series | None = None,
                        top_n: int | None = None, plan_date: dt.date, currency: str = "EUR", segment_col: str = "quadrant",
                        account_col: str = "account_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """An account plan for every key account (the top ``top_n`` by value when given), from its data.

    Current state (revenue, trend, value, NPS, risk), its situation and its own objective
    (module docstring), the best whitespace opportunities, and 3-5 actions with owner, due
    date and a measurable target: triggered ones (``triggered_actions`` in the playbooks
    file) for the situations that apply, then the segment playbook's standard actions.

    Returns
    -------
    (DataFrame, DataFrame)
        ``account_plans``: rank, account_id, account_name, segment, account_manager,
        revenue_12m, revenue_prev_12m, revenue_trend, value, value_basis, clv and p_alive
        (NaN when the segmentation has none), nps_latest, risk_score, risk_band, situation, objective
        (the account's own), target (of the first action), segment_objective, engagement_model,
        contact_cadence, whitespace,
        whitespace_value, n_actions, next_action, next_action_owner, next_action_due,
        kpis_to_watch; ``account_plan_actions``: action_id (:func:`action_ids`), account_id,
        account_name, action, owner, due_date, kpi, trigger, target.
    """
    books = playbooks["playbooks"]
    trig_book = playbooks.get("triggered_actions") or {}
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
    key = key.sort_values(["value", account_col], ascending=[False, True], kind="stable")
    key = (key.head(top_n) if top_n is not None else key).copy()
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
        ws_value = float(ws["expected_value"].sum()) if len(ws) else 0.0
        rev = float(r["revenue_12m"]) if pd.notna(r["revenue_12m"]) else 0.0
        prev = float(r["revenue_prev_12m"]) if pd.notna(r["revenue_prev_12m"]) else np.nan
        trend, nps = r["revenue_trend"], r["nps_latest"]
        sits = account_situations(risk_band=r["risk_band"], revenue_trend=trend, nps_latest=nps,
                                  whitespace_value=ws_value, revenue_12m=rev)

        def money(v):
            return fmt_money(v, currency, style='full')

        acts = []

        def add(action, owner_key, due_days, kpi, trigger, target):
            acts.append({"account_id": r[account_col], "account_name": r["account_name"], "action": action,
                         "owner": _owner(owner_key, pb, mgr), "due_date": base + pd.Timedelta(days=int(due_days)),
                         "kpi": kpi, "trigger": trigger, "target": target})

        def trig(name, trigger, target, **fmt):
            if name in trig_book:
                t = trig_book[name]
                add(t["action"].format(**fmt) if fmt else t["action"], t["owner"], t["due_days"], t.get("kpi", ""),
                    trigger, target)

        hold = prev if np.isfinite(prev) and prev > rev else rev
        for sit in sits:
            if sit == "retention_risk":
                if str(r["risk_band"]).lower() == "high":
                    trig("high_risk", "high churn risk", "churn-risk band medium or low at the next quarterly score")
                if pd.notna(trend) and trend < -0.1:
                    trig("declining", f"revenue {trend:+.0%} year on year",
                         f"revenue back to {money(hold)} over the next 12 months")
            elif sit == "service_issue":
                trig("detractor", f"detractor (NPS score {nps:.0f})", "NPS score 7 or higher at the next survey")
            elif sit == "whitespace":
                for _, w in ws.head(2).iterrows():
                    trig("whitespace", w["basis"], f"first order in {w['category']} (expected "
                         f"{money(w['expected_value'])} a year)", category=w["category"], value=money(w["expected_value"]))
            elif sit == "growth_headroom":
                add("Agree a growth plan with the account's decision makers: volumes, range and service for the year",
                    "responsible", 45, "revenue_growth", f"revenue grew {trend:+.0%} last year",
                    f"revenue of {money(rev * 1.10)} or more over the next 12 months (+10%)")
            elif sit == "relationship_strength":
                add("Ask the promoter for a reference and hold a joint innovation session", "accountable", 60, "nps",
                    f"promoter (NPS score {nps:.0f})", "one reference or case study agreed")
        for a in pb.get("actions") or []:
            if len(acts) >= 3:
                break
            add(a["action"], a.get("owner", "responsible"), a.get("due_days", 90), ", ".join(
                str(k).replace("_", " ") for k in (pb.get("kpi_focus") or [])), "playbook",
                a.get("target") or f"done by the due date and revenue held at {money(hold)}")
        if len(acts) < 3:
            add("Review this account plan with the client and agree the targets", "responsible", 30, "",
                "plan review", "plan signed off by the client's decision maker")
        acts.sort(key=lambda x: x["due_date"])
        acts = acts[:5]
        actions += acts
        lead = sits[0]
        # every category of the account's whitespace, named as its value sums them (the whitespace pages
        # give each category's own value: "Footwear €35k" summed two categories)
        cats = [str(c) for c in ws["category"]] if len(ws) else []
        top_cat = cats[0] if len(cats) == 1 else (", ".join(cats[:-1]) + " and " + cats[-1]) if cats else ""
        objective = {
            "retention_risk": (f"Protect {money(hold)} of revenue: stop the decline"
                               + (f" ({trend:+.0%} on the year)" if pd.notna(trend) else "")
                               + " and bring the account back to low churn risk"),
            "service_issue": (f"Repair the relationship: fix the issue behind an NPS score of {nps:.0f}"
                              if pd.notna(nps) else "Repair the relationship") + " and reach 7 or more",
            "whitespace": f"Expand into {top_cat}: {money(ws_value)} a year of peer-based potential on {money(rev)}",
            "growth_headroom": (f"Grow with the account: up {trend:+.0%} last year; reach {money(rev * 1.10)}"
                                if pd.notna(trend) else "Grow with the account"),
            "relationship_strength": (f"Build on a promoter relationship (NPS {nps:.0f}) for a larger share of wallet"
                                      if pd.notna(nps) else "Build on a strong relationship"),
            "steady": f"{pb.get('objective', 'Keep the account')} — hold revenue at {money(rev)}",
        }[lead]
        kpis = list(dict.fromkeys([str(k).replace("_", " ") for k in (pb.get("kpi_focus") or [])]
                                  + ["risk score"] + (["category breadth"] if len(ws) else [])))
        plans.append({
            "rank": rank, "account_id": r[account_col], "account_name": r["account_name"], "segment": seg,
            "account_manager": mgr, "revenue_12m": r["revenue_12m"], "revenue_prev_12m": r["revenue_prev_12m"],
            "revenue_trend": r["revenue_trend"], "value": r["value"], "value_basis": r["value_basis"],
            "clv": r["clv"], "p_alive": r["p_alive"],
            "nps_latest": r["nps_latest"], "risk_score": r["risk_score"], "risk_band": r["risk_band"],
            "situation": "; ".join(SITUATIONS[x] for x in sits), "objective": objective,
            "target": acts[0]["target"] if acts else "",
            "segment_objective": pb.get("objective", ""),
            "engagement_model": (playbooks.get("engagement_models") or {}).get(pb.get("engagement_model"), {}).get(
                "label", pb.get("engagement_model", "")),
            "contact_cadence": playbook_text(pb.get("contact_cadence")),
            "whitespace": "; ".join(f"{w['category']} ({fmt_money(w['expected_value'], currency, style='full')})" for _, w in ws.iterrows())
            if len(ws) else "none above the propensity threshold",
            "whitespace_value": ws_value,
            "opportunities": "; ".join(f"{w['category']} ({fmt_money(w['expected_value'], currency, style='full')})"
                                       for _, w in ws.iterrows()) if len(ws) else "",
            "actions": "; ".join(f"{a['action']} ({a['owner'].split(' (')[0]}, by {a['due_date']:%d %b %Y})"
                                 for a in acts[:3]),
            "n_actions": len(acts), "next_action": acts[0]["action"] if acts else "",
            "next_action_owner": acts[0]["owner"] if acts else "",
            "next_action_due": acts[0]["due_date"] if acts else pd.NaT, "kpis_to_watch": ", ".join(kpis),
        })
    plan_cols = ["rank", "account_id", "account_name", "segment", "account_manager", "revenue_12m", "revenue_prev_12m",
                 "revenue_trend", "value", "value_basis", "clv", "p_alive", "nps_latest", "risk_score", "risk_band",
                 "situation", "objective", "target", "segment_objective",
                 "engagement_model", "contact_cadence", "whitespace", "whitespace_value", "opportunities", "actions",
                 "n_actions", "next_action",
                 "next_action_owner", "next_action_due", "kpis_to_watch"]
    act_cols = ["account_id", "account_name", "action", "owner", "due_date", "kpi", "trigger", "target"]
    acts_df = pd.DataFrame(actions, columns=act_cols)
    acts_df.insert(0, "action_id", action_ids(acts_df, account_col="account_id"))
    return pd.DataFrame(plans, columns=plan_cols), acts_df
